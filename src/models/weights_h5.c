// weights_h5.c: named float32 tensors in an HDF5 file <-> a vp_params store
// (see weights_h5.h).
#include "models/weights_h5.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "io/hdf5_lock.h"

struct weights_h5 {
  hid_t file;
  char *path, *what, *how;
};

// HDF5 prints its own error stack on every failed call unless told not to;
// vpcast reports failures itself, so the printing is switched off around our
// calls and the caller's setting restored afterwards.
typedef struct {
  H5E_auto2_t fn;
  void *data;
} h5_quiet;

static h5_quiet quiet_begin(void) {
  io_hdf5_lock();
  h5_quiet q;
  if (H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data) < 0) {
    q.fn = NULL;
    q.data = NULL;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  return q;
}

static void quiet_end(h5_quiet q) {
  H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
  io_hdf5_unlock();
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (k < n) snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
  return buf;
}

weights_h5 *weights_h5_open(const char *path, const char *what, const char *how) {
  if (!path || !*path)
    vp_die("no file given for the %s; make one with %s and point the config at it", what, how);
  if (access(path, R_OK) != 0)
    vp_die("%s file '%s' cannot be read (%s); make it with %s", what, path, strerror(errno), how);
  h5_quiet q = quiet_begin();
  htri_t is = H5Fis_hdf5(path);
  hid_t file = is > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
  quiet_end(q);
  if (file < 0)
    vp_die("%s file '%s' is not a readable HDF5 file; make it with %s", what, path, how);
  weights_h5 *f = vp_calloc(1, sizeof(*f));
  f->file = file;
  f->path = vp_strdup(path);
  f->what = vp_strdup(what);
  f->how = vp_strdup(how);
  return f;
}

void weights_h5_close(weights_h5 *f) {
  if (!f) return;
  h5_quiet q = quiet_begin();
  herr_t rc = H5Fclose(f->file);
  quiet_end(q);
  if (rc < 0) vp_die("closing the %s file '%s' failed", f->what, f->path);
  free(f->path);
  free(f->what);
  free(f->how);
  free(f);
}

const char *weights_h5_path(const weights_h5 *f) { return f->path; }

int weights_h5_has(weights_h5 *f, const char *name) {
  h5_quiet q = quiet_begin();
  // H5Lexists on a name with '/' would walk groups; tensor names never have one.
  htri_t e = strchr(name, '/') ? 0 : H5Lexists(f->file, name, H5P_DEFAULT);
  int ds = 0;
  if (e > 0) {
    hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);  // fails on a group of that name
    ds = d >= 0;
    if (d >= 0) H5Dclose(d);
  }
  quiet_end(q);
  return ds;
}

void weights_h5_read(weights_h5 *f, const char *name, int ndim, const int64_t *shape, float *dst) {
  char want[160], got[160];
  if (!weights_h5_has(f, name))
    vp_die("%s file '%s' has no tensor '%s'; is it a file made by %s?", f->what, f->path, name,
           f->how);
  h5_quiet q = quiet_begin();
  hid_t ds = H5Dopen2(f->file, name, H5P_DEFAULT);
  hid_t sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
  hid_t ty = ds >= 0 ? H5Dget_type(ds) : H5I_INVALID_HID;
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t dims[H5S_MAX_RANK];
  int64_t found[H5S_MAX_RANK];
  if (nd >= 0 && H5Sget_simple_extent_dims(sp, dims, NULL) < 0) nd = -1;
  H5T_class_t cls = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
  quiet_end(q);
  if (nd < 0 || cls == H5T_NO_CLASS)
    vp_die("%s file '%s': cannot read the header of tensor '%s'; the file may be damaged, "
           "make it again with %s", f->what, f->path, name, f->how);
  if (cls != H5T_FLOAT)
    vp_die("%s file '%s': tensor '%s' is not floating point; make the file again with %s", f->what,
           f->path, name, f->how);
  int same = nd == ndim;
  for (int i = 0; i < nd; i++) {
    found[i] = (int64_t)dims[i];
    if (same && found[i] != shape[i]) same = 0;
  }
  if (!same)
    vp_die("%s file '%s': tensor '%s' has shape %s, expected %s; the file was made for another "
           "network or by another converter (make it with %s)", f->what, f->path, name,
           shape_str(nd, found, got, sizeof got), shape_str(ndim, shape, want, sizeof want), f->how);
  q = quiet_begin();
  herr_t rc = H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
  H5Tclose(ty);
  H5Sclose(sp);
  H5Dclose(ds);
  quiet_end(q);
  if (rc < 0)
    vp_die("%s file '%s': reading tensor '%s' failed; the file may be truncated, make it again "
           "with %s", f->what, f->path, name, f->how);
}

// Collects root-level names that p does not declare.
typedef struct {
  const vp_params *p;
  int n_unknown;
  char first[3][128];
} unknown_scan;

static herr_t scan_link(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)g;
  (void)info;
  unknown_scan *s = data;
  if (!params_find(s->p, name)) {
    if (s->n_unknown < 3) snprintf(s->first[s->n_unknown], sizeof s->first[0], "%s", name);
    s->n_unknown++;
  }
  return 0;
}

void weights_h5_load_params(weights_h5 *f, vp_params *p, int strict) {
  VP_ASSERT(p->data != NULL);
  for (int i = 0; i < p->n; i++) {
    vp_tensor *t = p->t[i];
    weights_h5_read(f, t->name, t->ndim, t->shape, t->data);
  }
  if (!strict) return;
  unknown_scan s = {p, 0, {{0}}};
  h5_quiet q = quiet_begin();
  hsize_t idx = 0;
  herr_t rc = H5Literate(f->file, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, scan_link, &s);
  quiet_end(q);
  if (rc < 0)
    vp_die("%s file '%s': cannot list its tensors; make it again with %s", f->what, f->path, f->how);
  if (s.n_unknown)
    vp_die("%s file '%s' has %d tensor(s) this network does not use (e.g. '%s'%s%s%s%s); it was "
           "made for another network; make it with %s", f->what, f->path, s.n_unknown, s.first[0],
           s.n_unknown > 1 ? ", '" : "", s.n_unknown > 1 ? s.first[1] : "",
           s.n_unknown > 1 ? "'" : "", s.n_unknown > 2 ? ", ..." : "", f->how);
}

void weights_h5_save_params(const char *path, const vp_params *p, const char *format) {
  VP_ASSERT(p->data != NULL);
  h5_quiet q = quiet_begin();
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) {
    quiet_end(q);
    vp_die("cannot create weight file '%s' (check the directory exists and is writable)", path);
  }
  int ok = 1;
  for (int i = 0; i < p->n && ok; i++) {
    const vp_tensor *t = p->t[i];
    hsize_t dims[VP_MAXDIM];
    for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
    hid_t sp = H5Screate_simple(t->ndim, dims, NULL);
    hid_t ds = sp >= 0 ? H5Dcreate2(file, t->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT)
                       : H5I_INVALID_HID;
    ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) >= 0;
    if (ds >= 0) H5Dclose(ds);
    if (sp >= 0) H5Sclose(sp);
  }
  if (ok && format) {
    hid_t st = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate(H5S_SCALAR);
    ok = st >= 0 && sp >= 0 && H5Tset_size(st, strlen(format)) >= 0;
    hid_t at = ok ? H5Acreate2(file, "format", st, sp, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    ok = at >= 0 && H5Awrite(at, st, format) >= 0;
    if (at >= 0) H5Aclose(at);
    if (sp >= 0) H5Sclose(sp);
    if (st >= 0) H5Tclose(st);
  }
  herr_t rc = H5Fclose(file);
  quiet_end(q);
  if (!ok || rc < 0) vp_die("writing weight file '%s' failed (disk full?)", path);
}
