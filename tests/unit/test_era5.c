// test_era5.c: the era5 NetCDF source read back through every path: files in
// both real CDS layouts written with libnetcdf (io/era5_synth.c), every
// NetCDF3 flavour (classic, 64-bit offset, CDF5; fixed or record time), and
// generic CF files written here, compared cell by cell with the generating
// function at independently computed grid coordinates: int16 unpacking with
// per-file scale/offset, fill -> mask, NaN -> mask, missing_value, _Unsigned,
// the expver merge (and its preference for final data), latitude order,
// longitude wrap in both conventions, calendars and time units, several
// files concatenated in time order (directory, glob, mixed layouts), crop by
// box and by index (also across the 0 meridian), masked resize in the three
// modes, windows with stride, the train/val/test split, normalisation from
// the data and from given bounds, the cache against per-clip reads, raw
// statistics with rank shares, and `vpcast data stats` on 1 and 2 ranks.
// Bad input is in test_era5_bad.c.
#define _GNU_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/config.h"
#include "harness.h"
#include "io/era5_file.h"
#include "io/era5_nc3.h"
#include "io/era5_synth.h"
#include "io/resize.h"
#include "io/source.h"

static char g_dir[256];

static const char *tmp_path(const char *name) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
  return buf[k];
}

// A config of opts_data from key/value pairs (NULL-terminated); dies on a bind error.
static vp_config *make_cfg(const char *k0, ...) {
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "data.source", "era5", NULL, 0);
  va_list ap;
  va_start(ap, k0);
  for (const char *k = k0; k; k = va_arg(ap, const char *)) cfg_set(cfg, k, va_arg(ap, const char *), NULL, 0);
  va_end(ap);
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_data, &err)) {
    err_print(&err, stderr);
    vp_die("test config does not bind");
  }
  return cfg;
}

// ---- the truth: what a reader must return ----

typedef struct truth {
  int nfiles;                 // in time order
  era5_synth_opts o[4];
  double scale[4][ERA5_SYNTH_MAX_VARS];
  int64_t fbeg[5];
  int64_t nlat, nlon;
  double lat[2048], lon[2048];  // normalised grid, computed here by sorting
} truth;

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

// Normalised grid of file 0: latitudes sorted north to south, longitudes
// wrapped into the range and sorted ascending (the reader rotates instead).
static void truth_grid(truth *tr, int lon360) {
  const era5_synth_opts *o = &tr->o[0];
  tr->nlat = o->nlat;
  tr->nlon = o->nlon;
  for (int64_t i = 0; i < o->nlat; i++) tr->lat[i] = -(o->lat0 + (double)i * o->dlat);
  qsort(tr->lat, (size_t)o->nlat, sizeof(double), cmp_dbl);
  for (int64_t i = 0; i < o->nlat; i++) tr->lat[i] = -tr->lat[i];
  double base = lon360 ? 0 : -180;
  for (int64_t j = 0; j < o->nlon; j++) {
    double x = fmod(o->lon0 + (double)j * o->dlon - base, 360.0);
    tr->lon[j] = (x < 0 ? x + 360 : x) + base;
  }
  qsort(tr->lon, (size_t)o->nlon, sizeof(double), cmp_dbl);
}

static void truth_add(truth *tr, const char *path, const era5_synth_opts *o) {
  int f = tr->nfiles++;
  tr->o[f] = *o;
  era5_synth_write(path, o, tr->scale[f], NULL);
  tr->fbeg[f + 1] = tr->fbeg[f] + o->nt;
}

// Expected physical value of variable v at global step g, normalised cell
// (i, j); NaN when missing. *tol gets the allowed error.
static double truth_value(const truth *tr, int v, int64_t g, int64_t i, int64_t j, double *tol) {
  int f = 0;
  while (g >= tr->fbeg[f + 1]) f++;
  const era5_synth_opts *o = &tr->o[f];
  int64_t t = g - tr->fbeg[f];
  double lat = tr->lat[i], lon = tr->lon[j];
  if ((o->sea && era5_synth_is_sea(lat, lon)) || (v == 0 && t >= o->nan_from && t < o->nan_to)) return NAN;
  double x = era5_synth_value(o->vars[v], era5_synth_time(o, t), lat, lon);
  // One float32 ulp (two, for the sin/cos of a wrapped longitude), plus half a
  // quantum for packed data.
  *tol = 2.5e-7 * fabs(x) + (o->layout == ERA5_SYNTH_LEGACY ? 0.5 * tr->scale[f][v] * 1.001 : 0);
  return x;
}

// Clip i (norm none, no resize) against the truth for crop rows/cols
// starting at (r0, c0); returns the number of mismatches (first few printed).
static int check_clip(const char *what, vp_source *s, const truth *tr, int64_t i, int64_t g0, int64_t r0,
                      int64_t c0) {
  vp_clip *c = clip_alloc(s);
  source_read(s, i, c);
  int bad = 0;
  int64_t nmiss = 0, nval = 0;
  for (int v = 0; v < s->nmod; v++)
    for (int t = 0; t < s->T; t++)
      for (int y = 0; y < s->H; y++)
        for (int x = 0; x < s->W; x++) {
          double tol = 0, want = truth_value(tr, v, g0 + t, r0 + y, c0 + x, &tol);
          size_t k = ((size_t)t * s->H + y) * s->W + x;
          float got = c->data[v][k];
          int m = c->mask[v] ? c->mask[v][k] : 1;
          int ok = isnan(want) ? (m == 0 && got == 0.0f) : (m == 1 && fabs(got - want) <= tol);
          nmiss += isnan(want);
          nval += !isnan(want);
          if (!ok && bad++ < 4)
            fprintf(stderr, "  %s: clip %lld var %d t %d (%d, %d): got %.9g mask %d, want %.9g (tol %.3g)\n", what,
                    (long long)i, v, t, y, x, got, m, want, tol);
        }
  clip_free(c);
  th_check(bad == 0, "%s: clip %lld matches the generating function (%d mismatches)", what, (long long)i, bad);
  return bad + (nval == 0);
}

// ---- layouts ----

// The layout and format e5_file_open detects for path.
static void check_layout(const char *path, const char *layout, const char *format) {
  e5_file f;
  char names[VP_MAX_MOD][E5_NAME];
  int n = 0;
  e5_file_open(&f, path, names, &n, 0, 0);
  th_check(!strcmp(f.layout, layout) && !strcmp(f.format, format), "%s detected as %s, %s (got %s, %s)", path, layout,
           format, f.layout, f.format);
  e5_file_close(&f);
}

static void test_legacy(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 12, 9, 13);
  truth_add(&tr, tmp_path("legacy.nc"), &o);
  truth_grid(&tr, 0);
  vp_config *cfg = make_cfg("data.path", tmp_path("legacy.nc"), "data.frames", "4", "data.size", "[9, 13]",
                            "data.era5.train_fraction", "1", "data.era5.norm", "none", NULL);
  vp_source *s = source_open(cfg);
  th_check(s->nmod == 2 && !strcmp(s->mod[0].name, "t2m") && !strcmp(s->mod[1].name, "sp") &&
               s->mod[0].kind == VP_MOD_FIELD && s->mod[0].channels == 1 && s->mod[0].has_mask &&
               s->mod[1].has_mask,
           "legacy: variables t2m, sp as 1-channel masked fields (data.modalities = [])");
  th_check(source_count(s) == 9, "legacy: 12 steps, 4 frames, stride 1 -> 9 clips (%lld)", (long long)source_count(s));
  check_clip("legacy", s, &tr, 0, 0, 0, 0);
  check_clip("legacy", s, &tr, 8, 8, 0, 0);
  // The packing really differs per variable and file, and the fill exists.
  th_check(tr.scale[0][0] != tr.scale[0][1] && tr.scale[0][0] > 0, "legacy: per-variable scale_factor");
  check_layout(tmp_path("legacy.nc"), "legacy CDS", "NetCDF3 64-bit offset");
  // The file is what the spec says: NetCDF3 64-bit offset, short, -32767 fill.
  int nc, vid, fmt;
  nc_type t;
  short fill = 0;
  int ok = nc_open(tmp_path("legacy.nc"), NC_NOWRITE, &nc) == NC_NOERR;
  ok = ok && nc_inq_format(nc, &fmt) == NC_NOERR && nc_inq_varid(nc, "t2m", &vid) == NC_NOERR &&
       nc_inq_vartype(nc, vid, &t) == NC_NOERR && nc_get_att_short(nc, vid, "_FillValue", &fill) == NC_NOERR;
  th_check(ok && fmt == NC_FORMAT_64BIT_OFFSET && t == NC_SHORT && fill == -32767,
           "legacy file: 64-bit offset NetCDF3, short t2m, _FillValue -32767");
  if (ok) nc_close(nc);
  source_close(s);
  cfg_free(cfg);
}

// Every NetCDF3 flavour, fixed or record time: read back, and no false
// alarm from the truncation check (which parses the header).
static void test_nc3_flavours(void) {
  const int fmts[3] = {1, 0, 5};
  for (int fi = 0; fi < 3; fi++)
    for (int unl = 0; unl < 2; unl++) {
      truth tr = {0};
      era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 5, 6, 7);
      o.nc3_format = fmts[fi], o.unlimited_time = unl, o.nvars = unl ? 2 : 1;
      truth_add(&tr, tmp_path("flavour.nc"), &o);
      truth_grid(&tr, 0);
      vp_config *cfg = make_cfg("data.path", tmp_path("flavour.nc"), "data.frames", "5", "data.size", "[6, 7]",
                                "data.era5.train_fraction", "1", "data.era5.norm", "none", NULL);
      vp_source *s = source_open(cfg);
      char what[64];
      snprintf(what, sizeof what, "NetCDF3 %s, %s time", fmts[fi] == 1 ? "classic" : fmts[fi] == 5 ? "CDF5" : "64-bit offset",
               unl ? "record" : "fixed");
      check_clip(what, s, &tr, 0, 0, 0, 0);
      source_close(s);
      cfg_free(cfg);
    }
  // A single record variable (its records are not padded): no false alarm.
  int nc, d, v;
  short x[3] = {1, 2, 3};
  size_t st = 0, n = 3;
  int ok = nc_create(tmp_path("onerec.nc"), NC_CLOBBER, &nc) == NC_NOERR && nc_def_dim(nc, "r", NC_UNLIMITED, &d) == NC_NOERR &&
           nc_def_var(nc, "x", NC_SHORT, 1, &d, &v) == NC_NOERR && nc_enddef(nc) == NC_NOERR &&
           nc_put_vara_short(nc, v, &st, &n, x) == NC_NOERR && nc_close(nc) == NC_NOERR;
  if (ok) e5_nc3_check_size(tmp_path("onerec.nc"));  // dies on a false alarm
  th_check(ok, "single short record variable passes the size check");
}

static void test_new_layout(void) {
  // Latitude stored south to north, longitudes 350 .. 359.75, 0 .. 9.75.
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 10, 7, 80);
  o.lat0 = 50.0, o.dlat = 0.25, o.lon0 = 350.0, o.lon_wrap360 = 1, o.chunk_t = 4;
  for (int lon360 = 0; lon360 < 2; lon360++) {
    truth tr = {0};
    truth_add(&tr, tmp_path("new.nc"), &o);
    truth_grid(&tr, lon360);
    vp_config *cfg = make_cfg("data.path", tmp_path("new.nc"), "data.frames", "3", "data.size", "[7, 80]",
                              "data.era5.train_fraction", "1", "data.era5.norm", "none", "data.modalities", "[sp, t2m]",
                              "data.era5.lon_range", lon360 ? "360" : "180", NULL);
    vp_source *s = source_open(cfg);
    th_check(s->nmod == 2 && !strcmp(s->mod[0].name, "sp") && !strcmp(s->mod[1].name, "t2m"),
             "new: data.modalities picks and orders the variables");
    // The truth's variable order follows the file's vars[]: swap for the check.
    tr.o[0].vars[0] = "sp", tr.o[0].vars[1] = "t2m";
    char what[64];
    snprintf(what, sizeof what, "new layout, lon_range %s", lon360 ? "360" : "180");
    check_clip(what, s, &tr, 0, 0, 0, 0);
    check_clip(what, s, &tr, 7, 7, 0, 0);
    th_check(lon360 ? tr.lon[0] == 0.0 && tr.lon[79] == 359.75 : tr.lon[0] == -10.0 && tr.lon[79] == 9.75,
             "new: normalised longitudes in range (%g .. %g)", tr.lon[0], tr.lon[79]);
    source_close(s);
    cfg_free(cfg);
  }
  // The file is NetCDF4 with zlib + shuffle, float, NaN fill, int64 valid_time, string expver.
  int nc, vid, shuffle = 0, deflate = 0, level = 0, tv;
  nc_type t, tt, et;
  int ok = nc_open(tmp_path("new.nc"), NC_NOWRITE, &nc) == NC_NOERR;
  ok = ok && nc_inq_varid(nc, "t2m", &vid) == NC_NOERR && nc_inq_vartype(nc, vid, &t) == NC_NOERR &&
       nc_inq_var_deflate(nc, vid, &shuffle, &deflate, &level) == NC_NOERR &&
       nc_inq_varid(nc, "valid_time", &tv) == NC_NOERR && nc_inq_vartype(nc, tv, &tt) == NC_NOERR &&
       nc_inq_varid(nc, "expver", &tv) == NC_NOERR && nc_inq_vartype(nc, tv, &et) == NC_NOERR;
  th_check(ok && t == NC_FLOAT && shuffle && deflate && level == 1 && tt == NC_INT64 && et == NC_STRING,
           "new file: float t2m with zlib 1 + shuffle, int64 valid_time, string expver");
  check_layout(tmp_path("new.nc"), "new CDS", "NetCDF4");
  if (ok) nc_close(nc);
}

static void test_expver(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 10, 6, 8);
  // Also south-to-north rows and longitudes 355 .. 359.75, 0 .. 0.75: the
  // 4-D reads are flipped and come in two column runs.
  o.expver = 1, o.expver_split = 6, o.lat0 = 56.0, o.dlat = 0.25, o.lon0 = 355.0, o.lon_wrap360 = 1;
  truth_add(&tr, tmp_path("expver.nc"), &o);
  truth_grid(&tr, 0);
  vp_config *cfg = make_cfg("data.path", tmp_path("expver.nc"), "data.frames", "10", "data.size", "[6, 8]",
                            "data.era5.train_fraction", "1", "data.era5.norm", "none", NULL);
  vp_source *s = source_open(cfg);
  th_check(s->nmod == 2, "expver: the 4-D variables are fields (%d)", s->nmod);
  check_clip("expver merge", s, &tr, 0, 0, 0, 0);
  // Raw slices: step 2 holds its values in expver 1 only, step 8 in expver 5 only.
  int nc, vid;
  short a[2], b[2];
  size_t st2[4] = {2, 0, 0, 0}, st8[4] = {8, 0, 0, 0}, cn[4] = {1, 2, 1, 1};
  // A land cell for the check.
  int64_t ii = 0, jj = 0;
  for (; ii < 6; ii++) {
    for (jj = 0; jj < 8 && era5_synth_is_sea(o.lat0 + o.dlat * ii, o.lon0 + o.dlon * jj); jj++) {}
    if (jj < 8) break;
  }
  st2[2] = st8[2] = (size_t)ii, st2[3] = st8[3] = (size_t)jj;
  int ok = nc_open(tmp_path("expver.nc"), NC_NOWRITE, &nc) == NC_NOERR && nc_inq_varid(nc, "t2m", &vid) == NC_NOERR &&
           nc_get_vara_short(nc, vid, st2, cn, a) == NC_NOERR && nc_get_vara_short(nc, vid, st8, cn, b) == NC_NOERR;
  th_check(ok && ii < 6 && a[0] != -32767 && a[1] == -32767 && b[0] == -32767 && b[1] != -32767,
           "expver file: each step valid in one slice only");
  if (ok) nc_close(nc);
  source_close(s);
  cfg_free(cfg);

  // Where both slices hold a value, final data (expver 1) wins, whatever the
  // slice order: here expver = {5, 1}.
  int dt, de, dy, dx, vt, ve, vy, vx, vv;
  const char *p = tmp_path("expver2.nc");
  ok = nc_create(p, NC_CLOBBER | NC_64BIT_OFFSET, &nc) == NC_NOERR;
  ok &= nc_def_dim(nc, "time", 2, &dt) == NC_NOERR && nc_def_dim(nc, "expver", 2, &de) == NC_NOERR &&
        nc_def_dim(nc, "latitude", 1, &dy) == NC_NOERR && nc_def_dim(nc, "longitude", 2, &dx) == NC_NOERR;
  ok &= nc_def_var(nc, "time", NC_INT, 1, &dt, &vt) == NC_NOERR &&
        nc_put_att_text(nc, vt, "units", 30, "hours since 1900-01-01 00:00:0") == NC_NOERR;
  ok &= nc_def_var(nc, "expver", NC_INT, 1, &de, &ve) == NC_NOERR;
  ok &= nc_def_var(nc, "latitude", NC_FLOAT, 1, &dy, &vy) == NC_NOERR &&
        nc_put_att_text(nc, vy, "units", 13, "degrees_north") == NC_NOERR;
  ok &= nc_def_var(nc, "longitude", NC_FLOAT, 1, &dx, &vx) == NC_NOERR &&
        nc_put_att_text(nc, vx, "units", 12, "degrees_east") == NC_NOERR;
  int d4[4] = {dt, de, dy, dx};
  short fill = -32767;
  ok &= nc_def_var(nc, "t2m", NC_SHORT, 4, d4, &vv) == NC_NOERR &&
        nc_put_att_short(nc, vv, "_FillValue", NC_SHORT, 1, &fill) == NC_NOERR && nc_enddef(nc) == NC_NOERR;
  int tv[2] = {1044552, 1044553}, ev[2] = {5, 1};
  float la = 50, lo[2] = {0, 1};
  // [time][expver][lat][lon]: step 0 both valid, step 1 only ERA5T (5).
  short val[2][2][1][2] = {{{{100, 101}}, {{200, 201}}}, {{{300, 301}}, {{-32767, -32767}}}};
  ok &= nc_put_var_int(nc, vt, tv) == NC_NOERR && nc_put_var_int(nc, ve, ev) == NC_NOERR &&
        nc_put_var_float(nc, vy, &la) == NC_NOERR && nc_put_var_float(nc, vx, lo) == NC_NOERR &&
        nc_put_var_short(nc, vv, &val[0][0][0][0]) == NC_NOERR && nc_close(nc) == NC_NOERR;
  vp_config *c2 = make_cfg("data.path", p, "data.frames", "2", "data.size", "[1, 2]", "data.era5.train_fraction", "1",
                           "data.era5.norm", "none", NULL);
  vp_source *s2 = source_open(c2);
  vp_clip *cl = clip_alloc(s2);
  source_read(s2, 0, cl);
  th_check(ok && cl->data[0][0] == 200 && cl->data[0][1] == 201 && cl->data[0][2] == 300 && cl->data[0][3] == 301,
           "expver merge prefers expver 1 over 5 where both hold a value (%g %g %g %g)", cl->data[0][0],
           cl->data[0][1], cl->data[0][2], cl->data[0][3]);
  clip_free(cl);
  source_close(s2);
  cfg_free(c2);
}

// A generic CF file: tas(time, lat, lon) float with missing_value, lat
// increasing, a global 0..350 longitude, "days since" on a noleap calendar;
// and q(time, lat, lon) short with _Unsigned, scale_factor, _FillValue -1s.
static void test_generic_cf(void) {
  const char *p = tmp_path("cf.nc");
  int nc, dt, dy, dx, vt, vy, vx, vtas, vq;
  int ok = 1;
  ok &= nc_create(p, NC_CLOBBER | NC_NETCDF4, &nc) == NC_NOERR;
  ok &= nc_def_dim(nc, "time", NC_UNLIMITED, &dt) == NC_NOERR;
  ok &= nc_def_dim(nc, "lat", 5, &dy) == NC_NOERR;
  ok &= nc_def_dim(nc, "lon", 36, &dx) == NC_NOERR;
  ok &= nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vt) == NC_NOERR;
  ok &= nc_put_att_text(nc, vt, "units", 30, "days since 2001-02-27 00:00:00") == NC_NOERR;
  ok &= nc_put_att_text(nc, vt, "calendar", 6, "noleap") == NC_NOERR;
  ok &= nc_def_var(nc, "lat", NC_FLOAT, 1, &dy, &vy) == NC_NOERR;
  ok &= nc_put_att_text(nc, vy, "units", 13, "degrees_north") == NC_NOERR;
  ok &= nc_def_var(nc, "lon", NC_FLOAT, 1, &dx, &vx) == NC_NOERR;
  ok &= nc_put_att_text(nc, vx, "units", 12, "degrees_east") == NC_NOERR;
  int dims[3] = {dt, dy, dx};
  ok &= nc_def_var(nc, "tas", NC_FLOAT, 3, dims, &vtas) == NC_NOERR;
  float mv = 1e20f;
  ok &= nc_put_att_float(nc, vtas, "missing_value", NC_FLOAT, 1, &mv) == NC_NOERR;
  ok &= nc_def_var(nc, "q", NC_SHORT, 3, dims, &vq) == NC_NOERR;
  short qf = -1;
  float qs = 0.5f;
  ok &= nc_put_att_text(nc, vq, "_Unsigned", 4, "true") == NC_NOERR;
  ok &= nc_put_att_float(nc, vq, "scale_factor", NC_FLOAT, 1, &qs) == NC_NOERR;
  ok &= nc_put_att_short(nc, vq, "_FillValue", NC_SHORT, 1, &qf) == NC_NOERR;
  ok &= nc_enddef(nc) == NC_NOERR;
  double tv[4] = {0, 1, 2, 3};  // Feb 27, Feb 28, Mar 1 (noleap), Mar 2
  float lat[5] = {-20, -10, 0, 10, 20}, lon[36];
  for (int j = 0; j < 36; j++) lon[j] = 10.0f * j;
  size_t s0 = 0, n4 = 4;
  ok &= nc_put_vara_double(nc, vt, &s0, &n4, tv) == NC_NOERR;
  ok &= nc_put_var_float(nc, vy, lat) == NC_NOERR;
  ok &= nc_put_var_float(nc, vx, lon) == NC_NOERR;
  float tas[4][5][36];
  unsigned short q[4][5][36];
  for (int t = 0; t < 4; t++)
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 36; j++) {
        tas[t][i][j] = (i + j) % 7 == 0 ? 1e20f : 250.0f + t + 0.5f * i + 0.25f * j;
        q[t][i][j] = (i * 3 + j) % 11 == 0 ? 65535 : (unsigned short)(40000 + 100 * t + 10 * i + j);
      }
  size_t st[3] = {0, 0, 0}, cn[3] = {4, 5, 36};
  ok &= nc_put_vara_float(nc, vtas, st, cn, &tas[0][0][0]) == NC_NOERR;
  ok &= nc_put_vara_short(nc, vq, st, cn, (const short *)&q[0][0][0]) == NC_NOERR;
  ok &= nc_close(nc) == NC_NOERR;
  th_check(ok, "generic CF file written");
  vp_config *cfg = make_cfg("data.path", p, "data.frames", "4", "data.size", "[5, 36]", "data.era5.train_fraction",
                            "1", "data.era5.norm", "none", NULL);
  vp_source *s = source_open(cfg);
  vp_clip *c = clip_alloc(s);
  source_read(s, 0, c);
  int bad = 0;
  for (int t = 0; t < 4; t++)
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 36; j++) {
        // Normalised: row 0 = 20N (file row 4); column 0 = -180 (file column 18).
        int fi = 4 - i, fj = (j + 18) % 36;
        size_t k = ((size_t)t * 5 + i) * 36 + j;
        float w1 = tas[t][fi][fj];
        double w2 = q[t][fi][fj] == 65535 ? NAN : 0.5 * q[t][fi][fj];
        int ok1 = w1 == 1e20f ? c->mask[0][k] == 0 && c->data[0][k] == 0 : c->mask[0][k] && c->data[0][k] == w1;
        int ok2 = isnan(w2) ? c->mask[1][k] == 0 : c->mask[1][k] && fabs(c->data[1][k] - w2) < 1e-3;
        bad += !ok1 + !ok2;
      }
  th_check(s->nmod == 2 && !strcmp(s->mod[0].name, "tas") && !strcmp(s->mod[1].name, "q") && bad == 0,
           "generic CF: missing_value, _Unsigned + scale_factor + _FillValue -1s, lat flip, 0..360 wrap (%d bad)", bad);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);
  check_layout(p, "CF", "NetCDF4");
  // Time units on the noleap calendar: Feb 28 -> Mar 1 is one day.
  double u, o1, o2;
  th_check(e5_parse_time_units("days since 2001-02-28", E5_CAL_NOLEAP, &u, &o1) == 0 &&
               e5_parse_time_units("days since 2001-03-01", E5_CAL_NOLEAP, &u, &o2) == 0 && o2 - o1 == 86400 &&
               e5_parse_time_units("days since 2000-02-28", E5_CAL_STANDARD, &u, &o1) == 0 &&
               e5_parse_time_units("days since 2000-03-01", E5_CAL_STANDARD, &u, &o2) == 0 && o2 - o1 == 2 * 86400 &&
               e5_parse_time_units("days since 2000-02-30", E5_CAL_360_DAY, &u, &o1) == 0 &&
               e5_parse_time_units("days since 2000-03-01", E5_CAL_360_DAY, &u, &o2) == 0 && o2 - o1 == 86400,
           "calendars: noleap, standard (leap 2000), 360_day");
  th_check(e5_parse_time_units("hours since 1900-01-01 00:00:00.0", E5_CAL_STANDARD, &u, &o1) == 0 && u == 3600 &&
               o1 == -2208988800.0 && e5_parse_time_units("seconds since 1970-01-01", E5_CAL_STANDARD, &u, &o2) == 0 &&
               o2 == 0 && e5_parse_time_units("minutes since 1970-01-01T06:00:00Z", E5_CAL_STANDARD, &u, &o2) == 0 &&
               o2 == 21600 && u == 60 && e5_parse_time_units("months since 1970-01-01", E5_CAL_STANDARD, &u, &o2) < 0 &&
               e5_parse_time_units("hours after 1970-01-01", E5_CAL_STANDARD, &u, &o2) < 0,
           "time units: the two CDS forms, minutes with T/Z, months and junk refused");
}

// ---- several files ----

static void test_multifile(void) {
  // Three new-layout files of 6 hourly steps each, named out of time order,
  // in a directory; then the same via a glob; then a legacy + new mix.
  char dir[512];
  snprintf(dir, sizeof dir, "%s/multi", g_dir);
  if (mkdir(dir, 0700) != 0) vp_die("mkdir %s", dir);
  truth tr = {0};
  const char *names[3] = {"c.nc", "a.nc", "b.nc"};  // time order c, a, b
  for (int f = 0; f < 3; f++) {
    era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 6, 6, 10);
    o.t0 += f * 6 * 3600;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, names[f]);
    truth_add(&tr, p, &o);
  }
  truth_grid(&tr, 0);
  for (int mode = 0; mode < 2; mode++) {
    char pat[600];
    snprintf(pat, sizeof pat, "%s/%s", dir, mode ? "?.nc" : "");
    vp_config *cfg = make_cfg("data.path", mode ? pat : dir, "data.frames", "4", "data.size", "[6, 10]",
                              "data.era5.train_fraction", "1", "data.era5.norm", "none", "data.era5.stride", "2", NULL);
    vp_source *s = source_open(cfg);
    th_check(source_count(s) == 8, "multi-file (%s): 18 steps, 4 frames, stride 2 -> 8 clips (%lld)",
             mode ? "glob" : "directory", (long long)source_count(s));
    for (int64_t i = 0; i < source_count(s); i++) check_clip(mode ? "multi glob" : "multi dir", s, &tr, i, 2 * i, 0, 0);
    source_close(s);
    cfg_free(cfg);
  }
  // Mixed layouts: a legacy file (hours since 1900) followed by a new one.
  truth mx = {0};
  era5_synth_opts a = era5_synth_defaults(ERA5_SYNTH_LEGACY, 5, 6, 10);
  era5_synth_opts b = era5_synth_defaults(ERA5_SYNTH_NEW, 5, 6, 10);
  b.t0 += 5 * 3600;
  truth_add(&mx, tmp_path("mix_1.nc"), &a);
  truth_add(&mx, tmp_path("mix_2.nc"), &b);
  truth_grid(&mx, 0);
  vp_config *cfg = make_cfg("data.path", tmp_path("mix_*.nc"), "data.frames", "10", "data.size", "[6, 10]",
                            "data.era5.train_fraction", "1", "data.era5.norm", "none", NULL);
  vp_source *s = source_open(cfg);
  th_check(source_count(s) == 1, "mixed legacy + new files concatenate");
  check_clip("legacy + new", s, &mx, 0, 0, 0, 0);
  source_close(s);
  cfg_free(cfg);
}

// ---- crop, resize ----

static void test_crop(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 6, 20, 30);  // 58 .. 53.25 N, -10 .. -2.75 E
  truth_add(&tr, tmp_path("crop.nc"), &o);
  truth_grid(&tr, 0);
  // Box 54.5 .. 56 N, -8 .. -5.5 E: rows 8..14 (56 -> 54.5), columns 8..18.
  vp_config *cfg = make_cfg("data.path", tmp_path("crop.nc"), "data.frames", "2", "data.size", "[7, 11]",
                            "data.era5.train_fraction", "1", "data.era5.norm", "none", "data.era5.crop",
                            "[54.5, 56, -8, -5.5]", NULL);
  vp_source *s = source_open(cfg);
  check_clip("crop box", s, &tr, 3, 3, 8, 8);
  vp_config *cfg2 = make_cfg("data.path", tmp_path("crop.nc"), "data.frames", "2", "data.size", "[7, 11]",
                             "data.era5.train_fraction", "1", "data.era5.norm", "none", "data.era5.crop_index",
                             "[8, 15, 8, 19]", NULL);
  vp_source *s2 = source_open(cfg2);
  check_clip("crop index", s2, &tr, 3, 3, 8, 8);
  source_close(s);
  source_close(s2);
  cfg_free(cfg);
  cfg_free(cfg2);
  // A box across the 0 meridian of a 0..360 file (two column runs per read).
  truth tw = {0};
  era5_synth_opts w = era5_synth_defaults(ERA5_SYNTH_NEW, 4, 5, 1440);  // global 0.25 degree
  w.lon0 = 0.0, w.lat0 = 52.0, w.chunk_t = 2;
  truth_add(&tw, tmp_path("global.nc"), &w);
  truth_grid(&tw, 0);
  vp_config *cfg3 = make_cfg("data.path", tmp_path("global.nc"), "data.frames", "2", "data.size", "[5, 17]",
                             "data.era5.train_fraction", "1", "data.era5.norm", "none", "data.era5.crop",
                             "[51, 52, -2, 2]", NULL);
  vp_source *s3 = source_open(cfg3);
  th_check(tw.lon[712] == -2.0, "global grid: -2 E is normalised column 712");
  check_clip("crop across the meridian", s3, &tw, 1, 1, 0, 712);
  source_close(s3);
  cfg_free(cfg3);
}

static void test_resize(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 4, 8, 12);
  truth_add(&tr, tmp_path("resize.nc"), &o);
  truth_grid(&tr, 0);
  const char *modes[3] = {"area", "bilinear", "nearest"};
  for (int mi = 0; mi < 3; mi++) {
    vp_config *full = make_cfg("data.path", tmp_path("resize.nc"), "data.frames", "2", "data.size", "[8, 12]",
                               "data.era5.train_fraction", "1", NULL);
    vp_config *small = make_cfg("data.path", tmp_path("resize.nc"), "data.frames", "2", "data.size", "[4, 6]",
                                "data.era5.train_fraction", "1", "data.era5.resize", modes[mi], NULL);
    vp_source *sf = source_open(full), *ss = source_open(small);
    vp_clip *cf = clip_alloc(sf), *cs = clip_alloc(ss);
    source_read(sf, 1, cf);
    source_read(ss, 1, cs);
    // Reference: resize (value * mask, mask) of the full-size clip and divide.
    int bad = 0;
    for (int v = 0; v < 2; v++)
      for (int t = 0; t < 2; t++) {
        float pair[8 * 12 * 2], rp[4 * 6 * 2];
        for (int k = 0; k < 96; k++) {
          pair[2 * k] = cf->data[v][t * 96 + k] * cf->mask[v][t * 96 + k];
          pair[2 * k + 1] = cf->mask[v][t * 96 + k];
        }
        resize_image(pair, 8, 12, 2, rp, 4, 6, (vp_resize_mode)resize_mode_parse(modes[mi]));
        for (int k = 0; k < 24; k++) {
          int m = rp[2 * k + 1] >= 0.5f;
          float want = m ? rp[2 * k] / rp[2 * k + 1] : 0.0f;
          float got = cs->data[v][t * 24 + k];
          if ((cs->mask[v][t * 24 + k] != m || fabsf(got - want) > 1e-5f) && bad < 3) fprintf(stderr, "  v%d t%d k%d: got %.8g m%d want %.8g m%d (mm %.8g)\n", v, t, k, got, cs->mask[v][t * 24 + k], want, m, rp[2 * k + 1]);
          bad += cs->mask[v][t * 24 + k] != m || fabsf(got - want) > 1e-5f;
        }
      }
    // In area mode, check one cell by hand: the mean of the valid cells of its 2x2 block.
    if (mi == 0) {
      int kk = 0, ok = 1;
      for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++, kk++) {
          double sum = 0;
          int n = 0;
          for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
              int k = (2 * y + dy) * 12 + 2 * x + dx;
              if (cf->mask[0][96 + k]) sum += cf->data[0][96 + k], n++;
            }
          int m = n >= 2;
          ok &= cs->mask[0][24 + kk] == m && (!m || fabs(cs->data[0][24 + kk] - sum / n) < 1e-5);
        }
      th_check(ok, "area resize: mean of the valid cells, valid when at least half are");
    }
    th_check(bad == 0, "resize %s: masked resize of the full-size clip (%d bad)", modes[mi], bad);
    clip_free(cf);
    clip_free(cs);
    source_close(sf);
    source_close(ss);
    cfg_free(full);
    cfg_free(small);
  }
}

// ---- windows, split, normalisation ----

static void test_split_windows(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 20, 5, 6);
  truth_add(&tr, tmp_path("split.nc"), &o);
  truth_grid(&tr, 0);
  const char *p = tmp_path("split.nc");
  // 20 steps, 0.8 -> train [0, 16), test [16, 20); frames 3, stride 2.
  vp_config *c1 = make_cfg("data.path", p, "data.frames", "3", "data.size", "[5, 6]", "data.era5.stride", "2",
                           "data.era5.norm", "none", NULL);
  vp_config *c2 = make_cfg("data.path", p, "data.frames", "3", "data.size", "[5, 6]", "data.era5.stride", "2",
                           "data.era5.norm", "none", "data.split", "test", NULL);
  vp_source *tr_s = source_open(c1), *te_s = source_open(c2);
  th_check(source_count(tr_s) == 7 && source_count(te_s) == 1,
           "split 0.8 of 20: train clips 7 (starts 0..12), test 1 (start 16); got %lld, %lld",
           (long long)source_count(tr_s), (long long)source_count(te_s));
  check_clip("train window", tr_s, &tr, 6, 12, 0, 0);  // last train clip: steps 12..14 < 16
  check_clip("test window", te_s, &tr, 0, 16, 0, 0);
  source_close(tr_s);
  source_close(te_s);
  cfg_free(c1);
  cfg_free(c2);
  // train 0.5 / val 0.25 / test 0.25 of 20: [0, 10), [10, 15), [15, 20).
  vp_config *c3 = make_cfg("data.path", p, "data.frames", "5", "data.size", "[5, 6]", "data.era5.train_fraction",
                           "0.5", "data.era5.val_fraction", "0.25", "data.era5.norm", "none", "data.split", "val", NULL);
  vp_source *va = source_open(c3);
  th_check(source_count(va) == 1, "val split: one clip of 5 in 5 steps");
  check_clip("val window", va, &tr, 0, 10, 0, 0);
  source_close(va);
  cfg_free(c3);
}

// Min and max of the valid truth values of variable v over steps [g0, g1).
static void truth_minmax(const truth *tr, int v, int64_t g0, int64_t g1, double *mn, double *mx) {
  *mn = INFINITY, *mx = -INFINITY;
  for (int64_t g = g0; g < g1; g++)
    for (int64_t i = 0; i < tr->nlat; i++)
      for (int64_t j = 0; j < tr->nlon; j++) {
        double tol, x = truth_value(tr, v, g, i, j, &tol);
        if (isnan(x)) continue;
        float f = (float)x;  // the reader's values are float32
        *mn = f < *mn ? f : *mn, *mx = f > *mx ? f : *mx;
      }
}

static void test_norm(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 10, 5, 6);
  truth_add(&tr, tmp_path("norm.nc"), &o);
  truth_grid(&tr, 0);
  const char *p = tmp_path("norm.nc");
  double mn[2], mx[2];
  for (int v = 0; v < 2; v++) truth_minmax(&tr, v, 0, 8, &mn[v], &mx[v]);  // train = steps [0, 8)
  for (int split = 0; split < 2; split++)
    for (int cache = 0; cache < 2; cache++) {
      vp_config *c = make_cfg("data.path", p, "data.frames", "2", "data.size", "[5, 6]", "data.split",
                              split ? "test" : "train", "data.era5.cache_mb", cache ? "1024" : "0", NULL);
      vp_source *s = source_open(c);
      vp_clip *cl = clip_alloc(s);
      int64_t g0 = split ? 8 : 3;
      source_read(s, split ? 0 : 3, cl);
      int bad = 0;
      double lo = INFINITY, hi = -INFINITY;
      for (int v = 0; v < 2; v++)
        for (int k = 0; k < 2 * 30; k++) {
          double tol, x = truth_value(&tr, v, g0 + k / 30, (k % 30) / 6, k % 6, &tol);
          double want = isnan(x) ? 0 : -1 + 2 * ((float)x - mn[v]) / (mx[v] - mn[v]);
          bad += fabs(cl->data[v][k] - want) > 1e-5;
          if (!isnan(x)) lo = fmin(lo, cl->data[v][k]), hi = fmax(hi, cl->data[v][k]);
        }
      th_check(bad == 0, "norm from the train split's data (%s split, cache %d): (x - min) / (max - min) * 2 - 1 "
               "(%d bad)", split ? "test" : "train", cache, bad);
      th_check(lo >= -1.0001 || split, "train values lie in [-1, 1] (%g .. %g)", lo, hi);
      clip_free(cl);
      source_close(s);
      cfg_free(c);
    }
  // Given bounds and another range.
  vp_config *c = make_cfg("data.path", p, "data.frames", "2", "data.size", "[5, 6]", "data.era5.norm", "bounds",
                          "data.era5.bounds", "[250, 300, 90000, 110000]", "data.era5.norm_range", "[0, 1]", NULL);
  vp_source *s = source_open(c);
  vp_clip *cl = clip_alloc(s);
  source_read(s, 0, cl);
  int bad = 0;
  for (int v = 0; v < 2; v++)
    for (int k = 0; k < 60; k++) {
      double tol, x = truth_value(&tr, v, k / 30, (k % 30) / 6, k % 6, &tol);
      double want = isnan(x) ? 0 : v == 0 ? ((float)x - 250) / 50 : ((float)x - 90000) / 20000;
      bad += fabs(cl->data[v][k] - want) > 1e-5 || cl->mask[v][k] != !isnan(x);
    }
  th_check(bad == 0, "norm from given bounds into [0, 1] (%d bad)", bad);
  clip_free(cl);
  source_close(s);
  cfg_free(c);
}

// ---- cache against per-clip reads; raw statistics ----

static void test_cache_and_stats(void) {
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 30, 9, 11);
  truth_add(&tr, tmp_path("stats.nc"), &o);
  truth_grid(&tr, 0);
  const char *p = tmp_path("stats.nc");
  // Train [0, 24) (0.8 of 30); frames 3, stride 5: clips at 0, 5, 10, 15, 20
  // cover steps 0-2, 5-7, 10-12, 15-17, 20-22 (steps 3, 4, 8, ... unused).
  vp_config *ca = make_cfg("data.path", p, "data.frames", "3", "data.size", "[4, 5]", "data.era5.stride", "5",
                           "data.era5.crop_index", "[1, 8, 2, 10]", "data.era5.resize", "area", NULL);
  vp_config *cb = make_cfg("data.path", p, "data.frames", "3", "data.size", "[4, 5]", "data.era5.stride", "5",
                           "data.era5.crop_index", "[1, 8, 2, 10]", "data.era5.resize", "area", "data.era5.cache_mb",
                           "0", NULL);
  vp_source *sa = source_open(ca), *sb = source_open(cb);
  th_check(source_count(sa) == 5 && source_count(sb) == 5, "stride 5: 5 clips");
  vp_clip *x = clip_alloc(sa), *y = clip_alloc(sb);
  int same = 1;
  for (int64_t i = 0; i < 5; i++) {
    source_read(sa, i, x);
    source_read(sb, i, y);
    for (int v = 0; v < 2; v++)
      same &= !memcmp(x->data[v], y->data[v], 3 * 20 * sizeof(float)) && !memcmp(x->mask[v], y->mask[v], 3 * 20);
  }
  th_check(same, "cached and per-clip reads give identical clips");
  clip_free(x);
  clip_free(y);
  // Raw statistics: over the covered steps, crop box, physical values.
  for (int v = 0; v < 2; v++) {
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    int64_t valid = 0, total = 0;
    for (int64_t g = 0; g < 24; g++) {
      if (g % 5 > 2) continue;
      for (int64_t i = 1; i < 8; i++)
        for (int64_t j = 2; j < 10; j++) {
          double tol, val = truth_value(&tr, v, g, i, j, &tol);
          total++;
          if (isnan(val)) continue;
          valid++, sum += val, mn = fmin(mn, val), mx = fmax(mx, val);
        }
    }
    double tol = 0.5 * tr.scale[0][v] * 1.001 + 2.5e-7 * mx;
    for (int nr = 1; nr <= 3; nr++) {
      vp_raw_stats all;
      raw_stats_init(&all, 1);
      int64_t parts = 0;
      int agree = 1;
      for (int r = 0; r < nr; r++) {
        vp_raw_stats st[2], st2[2];
        raw_stats_init(st, 2);
        raw_stats_init(st2, 2);
        sa->ops->raw_stats(sa, r, nr, st);   // from the cache (filled by the reads above)
        sb->ops->raw_stats(sb, r, nr, st2);  // from the files
        agree &= st[v].valid == st2[v].valid && st[v].sum == st2[v].sum && st[v].min == st2[v].min &&
                 st[v].max == st2[v].max && st[v].total == st2[v].total;
        all.min = fmin(all.min, st[v].min), all.max = fmax(all.max, st[v].max);
        all.sum += st[v].sum, all.valid += st[v].valid, all.total += st[v].total;
        parts += st[v].total > 0;
      }
      th_check(agree, "raw stats: the cache and the files agree (%d ranks)", nr);
      th_check(all.total == total && all.valid == valid && fabs(all.min - mn) <= tol && fabs(all.max - mx) <= tol &&
                   fabs(all.sum / all.valid - sum / valid) <= tol && parts == nr,
               "raw stats of %s over %d rank(s): total %lld/%lld valid %lld/%lld min %.6f/%.6f max %.6f/%.6f", v ? "sp" : "t2m", nr,
               (long long)all.total, (long long)total, (long long)all.valid, (long long)valid, all.min, mn, all.max, mx);
    }
  }
  source_close(sa);
  source_close(sb);
  cfg_free(ca);
  cfg_free(cb);
}

// Runs cmd, returns its stdout (malloc'd) or NULL when it fails.
static char *run_capture(const char *cmd) {
  FILE *f = popen(cmd, "r");
  if (!f) return NULL;
  char *buf = vp_calloc(1, 65536);
  size_t n = fread(buf, 1, 65535, f);
  buf[n] = 0;
  if (pclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

// `vpcast data stats` on an era5 config: the counts match the truth, and
// 2 ranks print the same line as 1.
static void test_cli_stats(void) {
  const char *bin = getenv("VP_BIN");
  if (!bin) {
    printf("  (VP_BIN unset: vpcast data stats not checked)\n");
    return;
  }
  truth tr = {0};
  era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_LEGACY, 20, 9, 12);
  truth_add(&tr, tmp_path("cli.nc"), &o);
  truth_grid(&tr, 0);
  char yaml[1024];
  snprintf(yaml, sizeof yaml,
           "data:\n  source: era5\n  path: %s\n  frames: 3\n  size: [4, 4]\n  split: test\n"
           "  era5: {stride: 2, train_fraction: 0.5}\n",
           tmp_path("cli.nc"));
  FILE *f = fopen(tmp_path("cli.yaml"), "w");
  if (!f || fputs(yaml, f) < 0 || fclose(f) != 0) vp_die("cannot write %s", tmp_path("cli.yaml"));
  char cmd[2048];
  // Under the sanitizer build, MPI's own leaks would fail the run: not ours to check here.
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=detect_leaks=0 '%s' data stats '%s' 2>/dev/null", bin, tmp_path("cli.yaml"));
  char *one = run_capture(cmd);
  // Test split [10, 20): clips at 10, 12, 14, 16 cover steps 10..18 (9 steps).
  int64_t valid = 0, total = 0;
  for (int64_t g = 10; g < 19; g++)
    for (int64_t i = 0; i < 9; i++)
      for (int64_t j = 0; j < 12; j++) {
        double tol;
        total++;
        valid += !isnan(truth_value(&tr, 0, g, i, j, &tol));
      }
  char want[128];
  snprintf(want, sizeof want, "\"valid_fraction\": %.17g", (double)valid / (double)total);
  int ok = one && strstr(one, "\"clips\": 4") && strstr(one, "\"name\": \"t2m\"") && strstr(one, "\"name\": \"sp\"");
  double vf = -1;
  const char *p = one ? strstr(one, "\"valid_fraction\": ") : NULL;
  if (p) vf = atof(p + 19);
  th_check(ok && fabs(vf - (double)valid / (double)total) < 1e-12, "vpcast data stats on era5: 4 clips, t2m and sp, %s; got: %s",
           want, one ? one : "(failed)");
  if (system("command -v mpirun > /dev/null 2>&1") == 0) {
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
             "mpirun --oversubscribe -np 2 "
             "'%s' data stats '%s' 2>/dev/null",
             bin, tmp_path("cli.yaml"));
    char *two = run_capture(cmd);
    th_check(one && two && !strcmp(one, two), "data stats: the same output on 2 ranks as on 1:\n%s%s", one ? one : "",
             two ? two : "(failed)");
    free(two);
  }
  free(one);
}

static void rm_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

int main(void) {
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/vp_era5_XXXXXX", base);
  if (!mkdtemp(g_dir)) vp_die("mkdtemp %s: %s", g_dir, strerror(errno));
  test_legacy();
  test_nc3_flavours();
  test_new_layout();
  test_expver();
  test_generic_cf();
  test_multifile();
  test_crop();
  test_resize();
  test_split_windows();
  test_norm();
  test_cache_and_stats();
  test_cli_stats();
  rm_tree(g_dir);
  return th_summary();
}
