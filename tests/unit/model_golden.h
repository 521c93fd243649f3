// model_golden.h: shared by test_lpips.c and test_i3d.c (static functions;
// included, not compiled on its own).
// The network goldens (tools/golden/g_lpips_i3d.py -> lpips_i3d.h5) do not
// store the weights or the large inputs: they store a manifest per tensor
// (name, shape, Philox sample, offset, scale, checksums of the values in the
// converter's HDF5), and the tensors are redrawn here with the project's RNG:
//   x[e] = (float)(offset + scale * (int(w_e >> 8) - 2^23))   (in double)
// where w_e is word e of (seed, VP_STREAM_TEST, step 0, sample). rng_uniform
// returns (w_e >> 8) * 2^-24 exactly, so the integer is recovered from it.
// Checksums matching proves that the C and NumPy generators agree and that
// the converter's file holds these values under these names and shapes.
#ifndef VP_TEST_MODEL_GOLDEN_H
#define VP_TEST_MODEL_GOLDEN_H

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "core/params.h"
#include "core/rng.h"
#include "golden.h"
#include "harness.h"

#define MG_FILE "lpips_i3d.h5"

typedef struct {
  int n;
  uint64_t seed;
  char (*names)[64];
  int64_t *ndim;
  int64_t (*shape)[6];
  int64_t *sample;
  double *offset, *scale;
  double (*checksum)[4];
} mg_manifest;

static hid_t mg_open(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", golden_dir(), MG_FILE);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    vp_die("cannot open golden file %s; regenerate with /usr/bin/python3 tools/golden/make_golden.py "
           "--only g_lpips_i3d --out %s", path, golden_dir());
  return f;
}

static void mg_read_ds(hid_t f, const char *group, const char *name, hid_t type, void *dst) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", group, name);
  hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
  if (ds < 0 || H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
    vp_die("golden %s: cannot read %s; regenerate the goldens", MG_FILE, path);
  H5Dclose(ds);
}

static void mg_read(hid_t f, const char *group, mg_manifest *m) {
  memset(m, 0, sizeof *m);
  char path[256];
  snprintf(path, sizeof path, "%s/names", group);
  hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
  if (ds < 0) vp_die("golden %s has no manifest %s; regenerate the goldens", MG_FILE, path);
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  m->n = (int)dims[0];
  m->names = vp_calloc((size_t)m->n, sizeof *m->names);
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 64);
  H5Tset_strpad(st, H5T_STR_NULLPAD);
  if (H5Dread(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->names) < 0)
    vp_die("golden %s: cannot read %s", MG_FILE, path);
  H5Tclose(st);
  H5Dclose(ds);
  for (int i = 0; i < m->n; i++) m->names[i][63] = 0;
  m->ndim = vp_malloc((size_t)m->n * sizeof *m->ndim);
  m->shape = vp_malloc((size_t)m->n * sizeof *m->shape);
  m->sample = vp_malloc((size_t)m->n * sizeof *m->sample);
  m->offset = vp_malloc((size_t)m->n * sizeof *m->offset);
  m->scale = vp_malloc((size_t)m->n * sizeof *m->scale);
  m->checksum = vp_malloc((size_t)m->n * sizeof *m->checksum);
  mg_read_ds(f, group, "ndim", H5T_NATIVE_INT64, m->ndim);
  mg_read_ds(f, group, "shape", H5T_NATIVE_INT64, m->shape);
  mg_read_ds(f, group, "sample", H5T_NATIVE_INT64, m->sample);
  mg_read_ds(f, group, "offset", H5T_NATIVE_DOUBLE, m->offset);
  mg_read_ds(f, group, "scale", H5T_NATIVE_DOUBLE, m->scale);
  mg_read_ds(f, group, "checksum", H5T_NATIVE_DOUBLE, m->checksum);
  hid_t a = H5Aopen_by_name(f, group, "seed", H5P_DEFAULT, H5P_DEFAULT);
  long long seed = 0;
  if (a < 0 || H5Aread(a, H5T_NATIVE_LLONG, &seed) < 0)
    vp_die("golden %s: %s has no seed attribute", MG_FILE, group);
  H5Aclose(a);
  m->seed = (uint64_t)seed;
}

static void mg_free(mg_manifest *m) {
  free(m->names);
  free(m->ndim);
  free(m->shape);
  free(m->sample);
  free(m->offset);
  free(m->scale);
  free(m->checksum);
  memset(m, 0, sizeof *m);
}

static int64_t mg_numel(const mg_manifest *m, int i) {
  int64_t n = 1;
  for (int d = 0; d < m->ndim[i]; d++) n *= m->shape[i][d];
  return n;
}

static int mg_find(const mg_manifest *m, const char *name) {
  for (int i = 0; i < m->n; i++)
    if (strcmp(m->names[i], name) == 0) return i;
  vp_die("golden manifest has no tensor '%s'", name);
}

// Redraws tensor i into out and checks it against the golden's checksums.
static int mg_fill(const mg_manifest *m, int i, float *out) {
  const int64_t n = mg_numel(m, i);
  rng_uniform(m->seed, VP_STREAM_TEST, 0, (uint64_t)m->sample[i], 0, out, n);
  double s = 0, sw = 0, sq = 0, sa = 0;
  for (int64_t e = 0; e < n; e++) {
    const int64_t v = (int64_t)(out[e] * 16777216.0f) - ((int64_t)1 << 23);
    out[e] = (float)(m->offset[i] + m->scale[i] * (double)v);
    const double x = out[e];
    s += x;
    sw += x * (double)(e % 7 + 1);
    sq += x * x;
    sa += fabs(x);
  }
  const double *c = m->checksum[i];
  const double tol = 1e-9 * (c[3] * 7.0 + 1e-30);
  int ok = fabs(s - c[0]) <= tol && fabs(sw - c[1]) <= tol && fabs(sq - c[2]) <= 1e-9 * c[2] &&
           fabs(sa - c[3]) <= tol;
  if (!ok)
    th_check(0, "redrawn tensor '%s' differs from the golden's (sum %.10g vs %.10g, sumsq %.10g vs "
             "%.10g): the C and NumPy generators disagree", m->names[i], s, c[0], sq, c[2]);
  return ok;
}

// Every tensor of m, redrawn, in a parameter store under the manifest's names.
static int mg_params(const mg_manifest *m, vp_params *p) {
  params_init(p);
  for (int i = 0; i < m->n; i++) params_add(p, (int)m->ndim[i], m->shape[i], "%s", m->names[i]);
  params_alloc(p);
  int ok = 1;
  for (int i = 0; i < m->n; i++) ok &= mg_fill(m, i, p->t[i]->data);
  th_check(ok, "all %d tensors redrawn with matching checksums", m->n);
  return ok;
}

// One redrawn tensor (malloc'd).
static float *mg_tensor(const mg_manifest *m, const char *name, int64_t *numel) {
  int i = mg_find(m, name);
  *numel = mg_numel(m, i);
  float *x = vp_malloc((size_t)*numel * sizeof(float));
  mg_fill(m, i, x);
  return x;
}

// ---------------------------------------------------------------- temp files
static char mg_tmpdir[256];

static const char *mg_tmp(const char *name, char *buf, size_t n) {
  if (!mg_tmpdir[0]) {
    snprintf(mg_tmpdir, sizeof mg_tmpdir, "/tmp/vp_models_XXXXXX");
    if (!mkdtemp(mg_tmpdir)) vp_die("mkdtemp failed: %s", strerror(errno));
  }
  snprintf(buf, n, "%s/%s", mg_tmpdir, name);
  return buf;
}

static void mg_tmp_cleanup(const char *const *names, int n) {
  char buf[512];
  for (int i = 0; i < n; i++) unlink(mg_tmp(names[i], buf, sizeof buf));
  if (mg_tmpdir[0]) rmdir(mg_tmpdir);
}

// ---------------------------------------------------------------- expected errors
// Runs fn(arg) in a child; it must exit with status 1 (vp_die) and its stderr
// must contain every non-NULL needle.
typedef void (*mg_die_fn)(void *arg);

static void mg_expect_die(const char *what, mg_die_fn fn, void *arg, const char *n1, const char *n2) {
  int fd[2];
  if (pipe(fd) != 0) {
    th_check(0, "%s: pipe failed", what);
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    th_check(0, "%s: fork failed", what);
    return;
  }
  if (pid == 0) {
    close(fd[0]);
    if (dup2(fd[1], 2) < 0) _exit(3);
    alarm(60);
    fn(arg);
    _exit(0);
  }
  close(fd[1]);
  char msg[4096];
  size_t len = 0;
  ssize_t r;
  while ((r = read(fd[0], msg + len, sizeof msg - 1 - len)) > 0) len += (size_t)r;
  msg[len] = 0;
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 1 && (!n1 || strstr(msg, n1)) && (!n2 || strstr(msg, n2));
  th_check(ok, "%s: expected exit 1 with a message naming '%s'%s%s, got status %d and: %s", what,
           n1 ? n1 : "", n2 ? " and " : "", n2 ? n2 : "", st, msg);
  if (ok && getenv("VP_TEST_VERBOSE")) printf("  %s -> %s", what, msg);
}

#endif
