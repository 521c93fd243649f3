// golden.c: HDF5 reader for golden files (see golden.h).
#include "golden.h"

#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

struct golden {
  hid_t file;
  char path[1024];
};

const char *golden_dir(void) {
  const char *d = getenv("VP_GOLDEN_DIR");
  if (d && *d) return d;
  d = getenv("VP_GOLDEN_DEFAULT");
  if (d && *d) return d;
  return "tests/golden";
}

golden *golden_open(const char *module) {
  golden *g = vp_calloc(1, sizeof(*g));
  snprintf(g->path, sizeof(g->path), "%s/%s.h5", golden_dir(), module);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  g->file = H5Fopen(g->path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (g->file < 0)
    vp_die("cannot open golden file %s; regenerate with "
           "/usr/bin/python3 tools/golden/make_golden.py --out %s", g->path, golden_dir());
  return g;
}

void golden_close(golden *g) {
  H5Fclose(g->file);
  free(g);
}

int golden_has(golden *g, const char *path) {
  return H5Lexists(g->file, path, H5P_DEFAULT) > 0;
}

static float *read_ds(golden *g, const char *path, int *ndim, int64_t *shape, int64_t *numel) {
  hid_t ds = H5Dopen2(g->file, path, H5P_DEFAULT);
  if (ds < 0) vp_die("golden file %s has no dataset %s; regenerate the goldens", g->path, path);
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[VP_MAXDIM];
  int nd = H5Sget_simple_extent_ndims(sp);
  if (nd < 0 || nd > VP_MAXDIM) vp_die("golden %s:%s has rank %d", g->path, path, nd);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  int64_t n = 1;
  for (int i = 0; i < nd; i++) {
    shape[i] = (int64_t)dims[i];
    n *= (int64_t)dims[i];
  }
  float *buf = vp_malloc((size_t)(n ? n : 1) * sizeof(float));
  if (n && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    vp_die("cannot read golden %s:%s", g->path, path);
  H5Sclose(sp);
  H5Dclose(ds);
  *ndim = nd;
  *numel = n;
  return buf;
}

vp_tensor *golden_tensor(golden *g, vp_ctx *ctx, const char *fmt, ...) {
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof(path), fmt, ap);
  va_end(ap);
  int nd;
  int64_t shape[VP_MAXDIM], n;
  float *buf = read_ds(g, path, &nd, shape, &n);
  vp_tensor *t = tensor_from(ctx, nd, shape, buf);
  free(buf);
  return t;
}

float *golden_read(golden *g, int64_t *numel, const char *fmt, ...) {
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof(path), fmt, ap);
  va_end(ap);
  int nd;
  int64_t shape[VP_MAXDIM];
  return read_ds(g, path, &nd, shape, numel);
}

static hid_t open_attr(golden *g, const char *group, const char *name) {
  hid_t a = H5Aopen_by_name(g->file, group, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) vp_die("golden %s: group %s has no attribute %s", g->path, group, name);
  return a;
}

int64_t golden_attr_int(golden *g, const char *group, const char *name) {
  hid_t a = open_attr(g, group, name);
  long long v = 0;
  H5Aread(a, H5T_NATIVE_LLONG, &v);
  H5Aclose(a);
  return (int64_t)v;
}

double golden_attr_double(golden *g, const char *group, const char *name) {
  hid_t a = open_attr(g, group, name);
  double v = 0;
  H5Aread(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  return v;
}

typedef struct {
  char **names;
  int n, cap;
} name_list;

static herr_t collect(hid_t loc, const char *name, const H5L_info_t *info, void *op) {
  (void)loc;
  (void)info;
  name_list *l = op;
  if (l->n + 2 > l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->names = vp_realloc(l->names, (size_t)l->cap * sizeof(char *));
  }
  l->names[l->n++] = vp_strdup(name);
  l->names[l->n] = NULL;
  return 0;
}

char **golden_cases(golden *g) {
  name_list l = {0};
  l.names = vp_calloc(1, sizeof(char *));
  l.cap = 1;
  H5Literate(g->file, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &l);
  return l.names;
}

#include "core/kernel_mode.h"

static int run_case_once(golden *g, const char *cas, th_fn f, void *arg, const char *const *names,
                         int nin, double tol_out, double tol_grad, const char *mode) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  vp_tensor *in[16];
  VP_ASSERT(nin <= 16);
  char path[512], what[600];
  for (int i = 0; i < nin; i++) {
    in[i] = golden_tensor(g, &ctx, "%s/in/%s", cas, names[i]);
    snprintf(path, sizeof(path), "%s/grad/%s", cas, names[i]);
    in[i]->requires_grad = golden_has(g, path);
  }
  vp_tensor *y = f(&ctx, in, arg);
  int64_t n;
  float *ref = golden_read(g, &n, "%s/out/y", cas);
  int ok = 1;
  snprintf(what, sizeof(what), "%s [%s] forward", cas, mode);
  if (n != tensor_numel(y)) {
    th_check(0, "%s: %lld elements, golden has %lld", what, (long long)tensor_numel(y), (long long)n);
    ok = 0;
  } else {
    ok &= th_check_rel(what, y->data, ref, n, tol_out);
  }
  free(ref);
  snprintf(path, sizeof(path), "%s/gout/y", cas);
  if (ok && golden_has(g, path)) {
    float *gout = golden_read(g, &n, "%s", path);
    tape_backward_from(&ctx, y, gout);
    free(gout);
    for (int i = 0; i < nin; i++) {
      if (!in[i]->requires_grad) continue;
      float *gref = golden_read(g, &n, "%s/grad/%s", cas, names[i]);
      snprintf(what, sizeof(what), "%s [%s] grad %s", cas, mode, names[i]);
      float *got = in[i]->grad ? in[i]->grad : tensor_grad(&ctx, in[i]);
      ok &= th_check_rel(what, got, gref, n, tol_grad);
      free(gref);
    }
  }
  ctx_free(&ctx);
  return ok;
}

int golden_run_case(golden *g, const char *cas, th_fn f, void *arg, const char *const *names,
                    int nin, double tol_out, double tol_grad) {
  int saved = vp_use_ref_kernels;
  kernel_mode_set_ref(0);
  int ok = run_case_once(g, cas, f, arg, names, nin, tol_out, tol_grad, "fast");
  kernel_mode_set_ref(1);
  ok &= run_case_once(g, cas, f, arg, names, nin, tol_out, tol_grad, "ref");
  kernel_mode_set_ref(saved);
  return ok;
}
