// test_era5_bad.c: bad input to the era5 source, one test per case. Each
// case runs source_open() (and clip reads) in a forked child with stderr
// captured, and must end with a non-zero exit (never a signal or a hang: the
// child has an alarm) and a message that names the file (or the config key)
// and the problem: a missing file, a wrong variable name, truncated NetCDF3
// (by half, by a few bytes, inside the header, CDF5 records) and NetCDF4
// files, garbage bytes, a corrupt header, a corrupt compressed chunk, an
// unavailable HDF5 filter (LZF), mismatched grids and overlapping times
// across files, an all-NaN window (at open with the cache, at read without),
// an all-sea crop, every kind of bad crop, bad bounds / splits / paths, a
// 4-D variable with a level, and a time axis that does not increase. A gap
// in the time axis is a warning, checked here too.
#define _GNU_SOURCE
#include <fcntl.h>
#include <hdf5.h>
#include <netcdf.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/config.h"
#include "harness.h"
#include "io/era5_synth.h"
#include "io/source.h"

static char g_dir[256];

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
  return buf[k];
}

#define MAX_KV 16
#define OPEN_ONLY (-2)  // job.clip: open and close only

// What the child does: bind the key/value config, open the source, read clip
// `clip` (every clip when clip is -1, none for OPEN_ONLY), close.
typedef struct job {
  const char *kv[2 * MAX_KV + 1];
  int64_t clip;
} job;

static void run_job(const job *j) {
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "data.source", "era5", NULL, 0);
  for (int k = 0; j->kv[k]; k += 2) cfg_set(cfg, j->kv[k], j->kv[k + 1], NULL, 0);
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_data, &err)) {
    err_print(&err, stderr);
    exit(2);
  }
  vp_source *s = source_open(cfg);
  vp_clip *c = clip_alloc(s);
  for (int64_t i = j->clip < 0 ? 0 : j->clip; j->clip != OPEN_ONLY && i < source_count(s) && (j->clip < 0 || i == j->clip); i++)
    source_read(s, i, c);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);
}

// Runs the job in a child; the run must fail (or, with want_ok, succeed)
// with every needle in stderr.
static void expect_run(const char *what, const job *j, int want_ok, const char *n1, const char *n2,
                       const char *n3) {
  char errf[600];
  snprintf(errf, sizeof errf, "%s/stderr.txt", g_dir);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(errf, "w", stderr)) _exit(99);
    setvbuf(stderr, NULL, _IONBF, 0);
    alarm(60);  // a hang becomes SIGALRM, which the parent reports
    run_job(j);
    _exit(0);
  }
  int status = 0;
  int waited = pid > 0 && waitpid(pid, &status, 0) == pid;
  char msg[8192] = "";
  FILE *f = fopen(errf, "r");
  if (f) {
    size_t n = fread(msg, 1, sizeof msg - 1, f);
    msg[n] = 0;
    fclose(f);
  }
  int exited = waited && WIFEXITED(status), code = exited ? WEXITSTATUS(status) : -1;
  int sig = waited && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  int ok = exited && (want_ok ? code == 0 : code != 0 && strstr(msg, "vpcast: error") != NULL) &&
           (!n1 || strstr(msg, n1)) && (!n2 || strstr(msg, n2)) && (!n3 || strstr(msg, n3));
  th_check(ok, "%s: expected %s with '%s' '%s' '%s'; got %s %d, stderr:\n%s", what,
           want_ok ? "success" : "a non-zero exit", n1 ? n1 : "", n2 ? n2 : "", n3 ? n3 : "",
           sig ? "signal" : "exit", sig ? sig : code, msg);
  if (getenv("VP_TEST_VERBOSE")) printf("  %-28s exit %d: %s", what, code, msg);
}

static void expect_fail(const char *what, const job *j, const char *n1, const char *n2, const char *n3) {
  expect_run(what, j, 0, n1, n2, n3);
}

// A job over one data.path with extra key/value pairs.
static job mkjob(const char *path, int64_t clip, ...) {
  job j;
  memset(&j, 0, sizeof j);
  j.clip = clip;
  int k = 0;
  j.kv[k++] = "data.path", j.kv[k++] = path;
  j.kv[k++] = "data.frames", j.kv[k++] = "4";
  j.kv[k++] = "data.size", j.kv[k++] = "[8, 8]";
  va_list ap;
  va_start(ap, clip);
  for (const char *key; (key = va_arg(ap, const char *)) != NULL && k < 2 * MAX_KV - 1;)
    j.kv[k++] = key, j.kv[k++] = va_arg(ap, const char *);
  va_end(ap);
  return j;
}

static void write_file(const char *name, era5_synth_layout layout, int64_t nt, int64_t nlat, int64_t nlon,
                       int64_t t0_shift) {
  era5_synth_opts o = era5_synth_defaults(layout, nt, nlat, nlon);
  o.t0 += t0_shift;
  era5_synth_write(tmp_path(name), &o, NULL, NULL);
}

static void truncate_half(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0 || truncate(path, sb.st_size / 2) != 0) vp_die("truncate %s", path);
}

// ---- one test per case ----

static void test_missing_file(void) {
  job j = mkjob(tmp_path("nope.nc"), 0, NULL);
  expect_fail("missing file", &j, "nope.nc", "cannot open", "No such file");
}

static void test_wrong_variable(void) {
  write_file("good.nc", ERA5_SYNTH_NEW, 12, 8, 8, 0);
  job j = mkjob(tmp_path("good.nc"), 0, "data.modalities", "[t2n]", NULL);
  expect_fail("wrong variable name", &j, "good.nc", "no variable 't2n'", "did you mean 't2m'");
}

static void test_truncated_legacy(void) {
  write_file("trunc3.nc", ERA5_SYNTH_LEGACY, 40, 16, 16, 0);
  truncate_half(tmp_path("trunc3.nc"));
  job j = mkjob(tmp_path("trunc3.nc"), -1, "data.era5.cache_mb", "0", "data.era5.norm", "none", NULL);
  expect_fail("truncated NetCDF3", &j, "trunc3.nc", "truncated", NULL);
  // Cut short by a few bytes only: the last values of the last variable are gone.
  write_file("trunc3b.nc", ERA5_SYNTH_LEGACY, 40, 16, 16, 0);
  struct stat sb;
  if (stat(tmp_path("trunc3b.nc"), &sb) != 0 || truncate(tmp_path("trunc3b.nc"), sb.st_size - 6) != 0)
    vp_die("truncate");
  job k = mkjob(tmp_path("trunc3b.nc"), -1, NULL);
  expect_fail("NetCDF3 short by 6 bytes", &k, "trunc3b.nc", "truncated", NULL);
  // CDF5 with a record time dimension, 5 bytes short (the last 2 were record padding).
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 6, 5, 5);
  o.nc3_format = 5, o.unlimited_time = 1;
  era5_synth_write(tmp_path("trunc5.nc"), &o, NULL, NULL);
  if (stat(tmp_path("trunc5.nc"), &sb) != 0 || truncate(tmp_path("trunc5.nc"), sb.st_size - 5) != 0)
    vp_die("truncate");
  job m = mkjob(tmp_path("trunc5.nc"), -1, "data.frames", "2", NULL);
  expect_fail("CDF5 record file 5 bytes short", &m, "trunc5.nc", "truncated", NULL);
  // Cut inside the header.
  write_file("trunc3c.nc", ERA5_SYNTH_LEGACY, 4, 4, 4, 0);
  if (truncate(tmp_path("trunc3c.nc"), 100) != 0) vp_die("truncate");
  job l = mkjob(tmp_path("trunc3c.nc"), -1, NULL);
  expect_fail("NetCDF3 cut inside its header", &l, "trunc3c.nc", NULL, NULL);
}

static void test_truncated_netcdf4(void) {
  write_file("trunc4.nc", ERA5_SYNTH_NEW, 40, 16, 16, 0);
  truncate_half(tmp_path("trunc4.nc"));
  job j = mkjob(tmp_path("trunc4.nc"), -1, "data.era5.cache_mb", "0", "data.era5.norm", "none", NULL);
  expect_fail("truncated NetCDF4", &j, "trunc4.nc", "truncated", NULL);
  // Only the tail is gone: the last chunks cannot be read.
  write_file("trunc4b.nc", ERA5_SYNTH_NEW, 40, 16, 16, 0);
  struct stat sb;
  if (stat(tmp_path("trunc4b.nc"), &sb) != 0 || truncate(tmp_path("trunc4b.nc"), sb.st_size * 9 / 10) != 0)
    vp_die("truncate");
  job k = mkjob(tmp_path("trunc4b.nc"), -1, "data.era5.norm", "none", NULL);
  expect_fail("NetCDF4 missing its tail", &k, "trunc4b.nc", "truncated", NULL);
}

static void test_garbage(void) {
  const char *p = tmp_path("garbage.nc");
  FILE *f = fopen(p, "wb");
  if (!f) vp_die("cannot write %s", p);
  uint32_t s = 12345;
  for (int k = 0; k < 8192; k++) {
    s = s * 1664525u + 1013904223u;
    fputc((int)(s >> 24), f);
  }
  fclose(f);
  job j = mkjob(p, 0, NULL);
  expect_fail("corrupt NetCDF (garbage)", &j, "garbage.nc", "not NetCDF", NULL);
}

static void test_corrupt_chunk(void) {
  // A NetCDF4 file with bytes in its compressed data overwritten.
  write_file("badchunk.nc", ERA5_SYNTH_NEW, 48, 24, 24, 0);
  struct stat sb;
  int fd = open(tmp_path("badchunk.nc"), O_WRONLY);
  unsigned char junk[512];
  for (int k = 0; k < 512; k++) junk[k] = (unsigned char)(k * 97 + 13);
  if (fd < 0 || fstat(fd, &sb) != 0 || pwrite(fd, junk, sizeof junk, sb.st_size / 2) != (ssize_t)sizeof junk)
    vp_die("pwrite");
  close(fd);
  job j = mkjob(tmp_path("badchunk.nc"), -1, "data.era5.cache_mb", "0", NULL);
  expect_fail("corrupt NetCDF4 chunk", &j, "badchunk.nc", "HDF error", NULL);
}

// A stand-in for LZF (HDF5 filter 32000): an identity filter, registered
// only in the child that writes the file, so the reader does not have it.
static size_t fake_lzf(unsigned int flags, size_t nparams, const unsigned int *params, size_t nbytes,
                       size_t *buf_size, void **buf) {
  (void)flags, (void)nparams, (void)params, (void)buf_size, (void)buf;
  return nbytes;
}

static void test_missing_filter(void) {
  const char *p = tmp_path("lzf.nc");
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    const H5Z_class2_t cls = {H5Z_CLASS_T_VERS, (H5Z_filter_t)32000, 1, 1, "lzf (test stand-in)", NULL, NULL,
                              fake_lzf};
    int nc, dt, dy, dx, vt, vy, vx, vv;
    int ok = H5Zregister(&cls) >= 0 && nc_create(p, NC_CLOBBER | NC_NETCDF4, &nc) == NC_NOERR;
    ok = ok && nc_def_dim(nc, "time", 4, &dt) == NC_NOERR && nc_def_dim(nc, "latitude", 3, &dy) == NC_NOERR &&
         nc_def_dim(nc, "longitude", 3, &dx) == NC_NOERR;
    ok = ok && nc_def_var(nc, "time", NC_INT64, 1, &dt, &vt) == NC_NOERR &&
         nc_put_att_text(nc, vt, "units", 24, "seconds since 1970-01-01") == NC_NOERR;
    ok = ok && nc_def_var(nc, "latitude", NC_DOUBLE, 1, &dy, &vy) == NC_NOERR &&
         nc_put_att_text(nc, vy, "units", 13, "degrees_north") == NC_NOERR;
    ok = ok && nc_def_var(nc, "longitude", NC_DOUBLE, 1, &dx, &vx) == NC_NOERR &&
         nc_put_att_text(nc, vx, "units", 12, "degrees_east") == NC_NOERR;
    int d3[3] = {dt, dy, dx};
    size_t chunk[3] = {2, 3, 3};
    ok = ok && nc_def_var(nc, "t2m", NC_FLOAT, 3, d3, &vv) == NC_NOERR &&
         nc_def_var_chunking(nc, vv, NC_CHUNKED, chunk) == NC_NOERR &&
         nc_def_var_filter(nc, vv, 32000, 0, NULL) == NC_NOERR && nc_enddef(nc) == NC_NOERR;
    long long tv[4] = {0, 3600, 7200, 10800};
    double c3[3] = {50, 49, 48}, l3[3] = {0, 1, 2};
    float x[36];
    for (int k = 0; k < 36; k++) x[k] = 280.0f + (float)k;
    ok = ok && nc_put_var_longlong(nc, vt, tv) == NC_NOERR && nc_put_var_double(nc, vy, c3) == NC_NOERR &&
         nc_put_var_double(nc, vx, l3) == NC_NOERR && nc_put_var_float(nc, vv, x) == NC_NOERR &&
         nc_close(nc) == NC_NOERR;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  th_check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "a NetCDF4 file with filter 32000 written (in a child that has the filter)");
  job j = mkjob(p, -1, "data.frames", "2", "data.era5.norm", "none", NULL);
  expect_fail("unavailable HDF5 filter (LZF)", &j, "lzf.nc", "variable t2m is compressed with HDF5 filter 32000 (LZF)", "HDF5_PLUGIN_PATH");
}

static void test_corrupt_header(void) {
  // A real NetCDF3 file whose header after the magic is overwritten.
  write_file("badhdr.nc", ERA5_SYNTH_LEGACY, 8, 8, 8, 0);
  int fd = open(tmp_path("badhdr.nc"), O_WRONLY);
  unsigned char junk[60];
  for (int k = 0; k < 60; k++) junk[k] = (unsigned char)(0xA5 ^ (k * 37));
  if (fd < 0 || pwrite(fd, junk, sizeof junk, 4) != (ssize_t)sizeof junk) vp_die("pwrite");
  close(fd);
  job j = mkjob(tmp_path("badhdr.nc"), 0, NULL);
  expect_fail("corrupt NetCDF header", &j, "badhdr.nc", "opening as NetCDF", NULL);
}

static void test_mismatched_shapes(void) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/mismatch", g_dir);
  if (mkdir(dir, 0700) != 0) vp_die("mkdir %s", dir);
  write_file("mismatch/a.nc", ERA5_SYNTH_NEW, 6, 8, 8, 0);
  write_file("mismatch/b.nc", ERA5_SYNTH_NEW, 6, 8, 9, 6 * 3600);
  job j = mkjob(dir, 0, NULL);
  expect_fail("mismatched grids across files", &j, "mismatch/a.nc", "mismatch/b.nc", "8 x 9");
}

static void test_overlapping_files(void) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/overlap", g_dir);
  if (mkdir(dir, 0700) != 0) vp_die("mkdir %s", dir);
  write_file("overlap/a.nc", ERA5_SYNTH_NEW, 6, 8, 8, 0);
  write_file("overlap/b.nc", ERA5_SYNTH_LEGACY, 6, 8, 8, 3);  // hours: starts inside a.nc
  job j = mkjob(dir, 0, NULL);
  expect_fail("files overlapping in time", &j, "overlap/a.nc", "overlap/b.nc", "overlap in time");
}

static void test_time_gap(void) {
  // Not an error, but a warning naming both files: clips may span the gap.
  char dir[600];
  snprintf(dir, sizeof dir, "%s/gap", g_dir);
  if (mkdir(dir, 0700) != 0) vp_die("mkdir %s", dir);
  write_file("gap/a.nc", ERA5_SYNTH_NEW, 6, 8, 8, 0);
  write_file("gap/b.nc", ERA5_SYNTH_NEW, 6, 8, 8, 12 * 3600);
  job j = mkjob(dir, -1, NULL);
  expect_run("gap between files", &j, 1, "warning: era5: 1 gap(s) in the time axis", "gap/a.nc", "gap/b.nc");
}

static void test_all_nan_window(void) {
  // t2m is NaN everywhere in steps [4, 8): clip 4 (steps 4..7) has no valid value.
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 16, 8, 8);
  o.nan_from = 4, o.nan_to = 8;
  era5_synth_write(tmp_path("nanwin.nc"), &o, NULL, NULL);
  // Cached (the default here): found at open, before any clip is read.
  job j = mkjob(tmp_path("nanwin.nc"), OPEN_ONLY, NULL);
  expect_fail("all-NaN window, at open", &j, "nanwin.nc", "variable t2m has no valid value in clip 4",
              "1551412800 seconds");
  // Read per clip: found when clip 4 is read.
  job k = mkjob(tmp_path("nanwin.nc"), 4, "data.era5.cache_mb", "0", NULL);
  expect_fail("all-NaN window, at read", &k, "nanwin.nc", "variable t2m has no valid value in clip 4",
              "1551412800 seconds");
  // The clip before it reads fine (one valid frame is enough): run it directly.
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "data.source", "era5", NULL, 0);
  cfg_set(cfg, "data.path", tmp_path("nanwin.nc"), NULL, 0);
  cfg_set(cfg, "data.frames", "4", NULL, 0);
  cfg_set(cfg, "data.era5.cache_mb", "0", NULL, 0);
  vp_err err;
  err_init(&err);
  th_check(cfg_bind(cfg, opts_data, &err) == 0, "config binds");
  vp_source *s = source_open(cfg);
  vp_clip *c = clip_alloc(s);
  source_read(s, 3, c);
  int nvalid = 0;
  for (int q = 0; q < 4 * 64 * 64; q++) nvalid += c->mask[0][q];
  th_check(nvalid > 0 && nvalid < 64 * 64, "a window with one valid frame reads (%d valid cells)", nvalid);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);
}

static void test_all_sea_crop(void) {
  // The crop box lies in a sea blob: nothing to normalise with.
  write_file("sea.nc", ERA5_SYNTH_LEGACY, 12, 9, 30, 0);
  job j = mkjob(tmp_path("sea.nc"), 0, "data.era5.crop_index", "[3, 6, 5, 10]", NULL);
  expect_fail("all-sea crop box", &j, "sea.nc", "no valid value in the train split", "crop box");
}

static void test_bad_crops(void) {
  write_file("grid.nc", ERA5_SYNTH_NEW, 12, 9, 13, 0);  // 58 .. 56 N, -10 .. -7 E
  const char *p = tmp_path("grid.nc");
  job a = mkjob(p, 0, "data.era5.crop", "[40, 45, -10, -8]", NULL);
  expect_fail("crop outside the grid", &a, "grid.nc", "lies outside the grid", "latitudes [56, 58]");
  job b = mkjob(p, 0, "data.era5.crop", "[57, 57, -10, -8]", NULL);
  expect_fail("crop empty box", &b, "data.era5.crop = [57, 57, -10, -8]", "empty or inverted", NULL);
  job c = mkjob(p, 0, "data.era5.crop", "[58, 56.5, -10, -8]", NULL);
  expect_fail("crop inverted box", &c, "data.era5.crop = [58, 56.5, -10, -8]", "empty or inverted", NULL);
  job d = mkjob(p, 0, "data.era5.crop", "[57, 58, -8, -10]", NULL);
  expect_fail("crop inverted longitudes", &d, "data.era5.crop", "lon_min < lon_max", NULL);
  job e = mkjob(p, 0, "data.era5.crop", "[57.05, 57.2, -9, -8]", NULL);
  expect_fail("crop between cell centres", &e, "grid.nc", "contains no grid cell centre", NULL);
  job f = mkjob(p, 0, "data.era5.crop_index", "[0, 10, 0, 4]", NULL);
  expect_fail("crop_index outside the grid", &f, "grid.nc", "9 rows and 13 columns", NULL);
  job g = mkjob(p, 0, "data.era5.crop_index", "[5, 2, 0, 4]", NULL);
  expect_fail("crop_index inverted", &g, "data.era5.crop_index = [5, 2, 0, 4]", "empty or inverted", NULL);
  job h = mkjob(p, 0, "data.era5.crop_index", "[0, 4, 0]", NULL);
  expect_fail("crop_index wrong length", &h, "data.era5.crop_index", "has 3 values", NULL);
  job i = mkjob(p, 0, "data.era5.crop_index", "[0, 4, 0, 4]", "data.era5.crop", "[57, 58, -10, -8]", NULL);
  expect_fail("crop and crop_index", &i, "both set", NULL, NULL);
  job k = mkjob(p, 0, "data.era5.crop", "[57, 58, 170, 190]", NULL);
  expect_fail("crop past 180 with lon_range 180", &k, "lies outside the grid", "lon_range = 180", NULL);
}

static void test_bad_config(void) {
  const char *p = tmp_path("grid.nc");
  job a = mkjob(p, 0, "data.era5.norm", "bounds", "data.era5.bounds", "[250, 300]", NULL);
  expect_fail("bounds of the wrong length", &a, "data.era5.bounds", "2 variable(s)", "t2m, sp");
  job b = mkjob(p, 0, "data.era5.norm", "bounds", "data.era5.bounds", "[250, 300, 9e4, 8e4]", NULL);
  expect_fail("inverted bounds", &b, "bounds of sp", "min must be below max", NULL);
  job c = mkjob(p, 0, "data.split", "test", "data.frames", "5", NULL);
  expect_fail("split shorter than a clip", &c, "test split has 3 time steps", "data.frames = 5", "grid.nc");
  job d = mkjob(p, 0, "data.split", "val", NULL);
  expect_fail("val split without val_fraction", &d, "data.era5.val_fraction", NULL, NULL);
  job e = mkjob(p, 0, "data.split", "training", NULL);
  expect_fail("unknown split", &e, "data.split = training", "train, val and test", NULL);
  char empty[600];
  snprintf(empty, sizeof empty, "%s/empty", g_dir);
  if (mkdir(empty, 0700) != 0) vp_die("mkdir %s", empty);
  job f = mkjob(empty, 0, NULL);
  expect_fail("directory without files", &f, empty, "no *.nc", NULL);
  job g = mkjob(tmp_path("*.nope"), 0, NULL);
  expect_fail("pattern without a match", &g, "*.nope", "no file matches", NULL);
}

// Files that are NetCDF but not gridded fields as expected.
static void test_bad_structure(void) {
  int nc, dt, dz, dy, dx, vt, vy, vx, vz, v;
  const char *p = tmp_path("level.nc");
  int ok = nc_create(p, NC_CLOBBER, &nc) == NC_NOERR;
  ok &= nc_def_dim(nc, "time", 3, &dt) == NC_NOERR && nc_def_dim(nc, "level", 2, &dz) == NC_NOERR &&
        nc_def_dim(nc, "lat", 4, &dy) == NC_NOERR && nc_def_dim(nc, "lon", 4, &dx) == NC_NOERR;
  ok &= nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vt) == NC_NOERR &&
        nc_put_att_text(nc, vt, "units", 20, "hours since 2000-1-1") == NC_NOERR;
  ok &= nc_def_var(nc, "level", NC_INT, 1, &dz, &vz) == NC_NOERR;
  ok &= nc_def_var(nc, "lat", NC_FLOAT, 1, &dy, &vy) == NC_NOERR &&
        nc_put_att_text(nc, vy, "units", 13, "degrees_north") == NC_NOERR;
  ok &= nc_def_var(nc, "lon", NC_FLOAT, 1, &dx, &vx) == NC_NOERR &&
        nc_put_att_text(nc, vx, "units", 12, "degrees_east") == NC_NOERR;
  int dims[4] = {dt, dz, dy, dx};
  ok &= nc_def_var(nc, "z", NC_FLOAT, 4, dims, &v) == NC_NOERR;
  ok &= nc_enddef(nc) == NC_NOERR;
  // Time goes backwards at index 2.
  double tv[3] = {0, 1, 1}, c4[4] = {0, 1, 2, 3};
  ok &= nc_put_var_double(nc, vt, tv) == NC_NOERR && nc_put_var_double(nc, vy, c4) == NC_NOERR &&
        nc_put_var_double(nc, vx, c4) == NC_NOERR;
  ok &= nc_close(nc) == NC_NOERR;
  th_check(ok, "level file written");
  job a = mkjob(p, 0, "data.modalities", "[z]", NULL);
  expect_fail("4-D variable with a level", &a, "level.nc", "variable z has 4 dimensions (time, level, lat, lon)",
              NULL);
  job b = mkjob(p, 0, NULL);
  expect_fail("no gridded variable", &b, "level.nc", "no gridded variable", NULL);

  const char *q = tmp_path("badtime.nc");
  ok = nc_create(q, NC_CLOBBER, &nc) == NC_NOERR;
  ok &= nc_def_dim(nc, "time", 3, &dt) == NC_NOERR && nc_def_dim(nc, "lat", 4, &dy) == NC_NOERR &&
        nc_def_dim(nc, "lon", 4, &dx) == NC_NOERR;
  ok &= nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vt) == NC_NOERR &&
        nc_put_att_text(nc, vt, "units", 20, "hours since 2000-1-1") == NC_NOERR;
  ok &= nc_def_var(nc, "lat", NC_FLOAT, 1, &dy, &vy) == NC_NOERR &&
        nc_put_att_text(nc, vy, "units", 13, "degrees_north") == NC_NOERR;
  ok &= nc_def_var(nc, "lon", NC_FLOAT, 1, &dx, &vx) == NC_NOERR &&
        nc_put_att_text(nc, vx, "units", 12, "degrees_east") == NC_NOERR;
  int d3[3] = {dt, dy, dx};
  ok &= nc_def_var(nc, "u", NC_FLOAT, 3, d3, &v) == NC_NOERR;
  ok &= nc_enddef(nc) == NC_NOERR;
  ok &= nc_put_var_double(nc, vt, tv) == NC_NOERR && nc_put_var_double(nc, vy, c4) == NC_NOERR &&
        nc_put_var_double(nc, vx, c4) == NC_NOERR;
  ok &= nc_close(nc) == NC_NOERR;
  th_check(ok, "badtime file written");
  job c = mkjob(q, 0, "data.frames", "2", NULL);
  expect_fail("time not increasing", &c, "badtime.nc", "does not increase at index 2", NULL);
}

int main(void) {
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/vp_era5bad_XXXXXX", base);
  if (!mkdtemp(g_dir)) vp_die("mkdtemp %s: %s", g_dir, strerror(errno));
  test_missing_file();
  test_wrong_variable();
  test_truncated_legacy();
  test_truncated_netcdf4();
  test_garbage();
  test_corrupt_header();
  test_corrupt_chunk();
  test_missing_filter();
  test_mismatched_shapes();
  test_overlapping_files();
  test_time_gap();
  test_all_nan_window();
  test_all_sea_crop();
  test_bad_crops();
  test_bad_config();
  test_bad_structure();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_dir);
  return th_summary();
}
