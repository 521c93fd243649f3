// metrics_testutil.h: shared helpers of the test_metrics_*.c tests: reading
// the float64 expected values and float32 inputs of tests/golden/metrics.h5
// (tools/golden/g_metrics.py), which golden.h's float32 reader would round.
#ifndef VP_METRICS_TESTUTIL_H
#define VP_METRICS_TESTUTIL_H

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/check.h"
#include "golden.h"

static inline hid_t mt_open(void) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/metrics.h5", golden_dir());
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    vp_die("cannot open golden file %s; regenerate with /usr/bin/python3 tools/golden/make_golden.py "
           "--only g_metrics", path);
  return f;
}

// Whole dataset converted to mem type mt; dims (up to 8) and element count out.
static inline void *mt_read(hid_t f, const char *path, hid_t mt, size_t esz, int64_t *dims, int *nd,
                            int64_t *numel) {
  hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
  if (ds < 0) vp_die("golden metrics.h5 has no dataset %s; regenerate the goldens", path);
  hid_t sp = H5Dget_space(ds);
  hsize_t d[8];
  int n = H5Sget_simple_extent_ndims(sp);
  H5Sget_simple_extent_dims(sp, d, NULL);
  int64_t tot = 1;
  for (int i = 0; i < n; i++) {
    if (dims) dims[i] = (int64_t)d[i];
    tot *= (int64_t)d[i];
  }
  void *buf = vp_malloc((size_t)(tot ? tot : 1) * esz);
  if (tot && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) vp_die("cannot read %s", path);
  H5Sclose(sp);
  H5Dclose(ds);
  if (nd) *nd = n;
  if (numel) *numel = tot;
  return buf;
}

static inline float *mt_f32(hid_t f, const char *path, int64_t *dims, int64_t *numel) {
  return mt_read(f, path, H5T_NATIVE_FLOAT, sizeof(float), dims, NULL, numel);
}
static inline double *mt_f64(hid_t f, const char *path, int64_t *dims, int64_t *numel) {
  return mt_read(f, path, H5T_NATIVE_DOUBLE, sizeof(double), dims, NULL, numel);
}
static inline int64_t *mt_i64(hid_t f, const char *path, int64_t *numel) {
  return mt_read(f, path, H5T_NATIVE_INT64, sizeof(int64_t), NULL, NULL, numel);
}

static inline double mt_attr(hid_t f, const char *obj, const char *name) {
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) vp_die("golden metrics.h5: %s has no attribute %s", obj, name);
  double v = NAN;
  H5Aread(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  return v;
}

static inline int mt_has_attr(hid_t f, const char *obj, const char *name) {
  return H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0;
}

// |got - want| <= tol * max(1, |want|), NaN equal to NaN.
static inline int mt_close(double got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

#endif
