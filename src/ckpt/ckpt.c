// ckpt.c: writing, reading and verifying checkpoint files (see ckpt.h).
#include "ckpt/ckpt.h"

#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "io/crc32c.h"
#include "io/hdf5_lock.h"

#define CKPT_MAXDIM 8

static const char *const GROUPS[] = {"params", "ema", "optim/m", "optim/v"};
static const char *const META_INT_ATTRS[] = {"version", "step", "world_size", "threads", "ema", "params", "numel"};
static const char *const META_STR_ATTRS[] = {"format", "model", "stage", "git", "device", "config"};
static const char *const STATE_ATTRS[] = {"data_epoch", "data_cursor", "seed", "lr_step", "optim_t",
                                          "ema_updates", "nan_in_row", "nan_skipped", "global_batch",
                                          "grad_accum"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// ---------------------------------------------------------------- HDF5 plumbing
// HDF5 prints its error stack on every failed call unless told not to; the
// checkpoint code reports failures itself, with the path and what to do.
// Every HDF5 call here runs between quiet_begin and quiet_end, which also
// hold the process-wide HDF5 lock.
typedef struct {
  H5E_auto2_t fn;
  void *data;
} h5_quiet;

static h5_quiet quiet_begin(void) {
  io_hdf5_lock();
  h5_quiet q = {NULL, NULL};
  if (H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data) < 0) q.fn = NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  return q;
}

static void quiet_end(h5_quiet q) {
  H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
  io_hdf5_unlock();
}

_Noreturn static void write_fail(const char *path, const char *call) {
  vp_die("writing checkpoint '%s' failed (%s); check free space and permissions of the output "
         "directory (the previous checkpoint and LATEST are untouched)",
         path, call);
}

#define WCHECK(call)                                 \
  do {                                               \
    if ((call) < 0) write_fail(path, #call);         \
  } while (0)

static hid_t vlen_str_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) return -1;
  return t;
}

static herr_t attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *val) {
  hid_t sp = H5Screate(H5S_SCALAR);
  if (sp < 0) return -1;
  hid_t a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, val);
  if (a >= 0 && H5Aclose(a) < 0) rc = -1;
  H5Sclose(sp);
  return rc;
}

static herr_t attr_str(hid_t loc, const char *name, const char *s) {
  hid_t t = vlen_str_type();
  if (t < 0) return -1;
  herr_t rc = attr_write(loc, name, t, t, &s);
  H5Tclose(t);
  return rc;
}

static herr_t attr_i64(hid_t loc, const char *name, int64_t v) {
  return attr_write(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static herr_t attr_u64(hid_t loc, const char *name, uint64_t v) {
  return attr_write(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

// Reads an integer attribute (any integer type) as int64; -1 on failure.
static int attr_read_i64(hid_t loc, const char *name, int64_t *v) {
  if (H5Aexists(loc, name) <= 0) return -1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t t = H5Aget_type(a);
  int rc = -1;
  if (t >= 0 && H5Tget_class(t) == H5T_INTEGER) {
    if (H5Tget_sign(t) == H5T_SGN_NONE) {
      uint64_t u = 0;
      if (H5Aread(a, H5T_NATIVE_UINT64, &u) >= 0) {
        *v = (int64_t)u;
        rc = 0;
      }
    } else if (H5Aread(a, H5T_NATIVE_INT64, v) >= 0) {
      rc = 0;
    }
  }
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

static int attr_read_u64(hid_t loc, const char *name, uint64_t *v) {
  int64_t x = 0;
  if (attr_read_i64(loc, name, &x)) return -1;
  *v = (uint64_t)x;
  return 0;
}

// Reads a string attribute (variable or fixed length) into a malloc'd
// string; NULL on failure.
static char *attr_read_str(hid_t loc, const char *name) {
  if (H5Aexists(loc, name) <= 0) return NULL;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t t = H5Aget_type(a);
  char *out = NULL;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
    if (H5Tis_variable_str(t) > 0) {
      hid_t mt = vlen_str_type();
      char *s = NULL;
      if (mt >= 0 && H5Aread(a, mt, &s) >= 0 && s) {
        out = vp_strdup(s);
        H5free_memory(s);
      }
      if (mt >= 0) H5Tclose(mt);
    } else {
      size_t n = H5Tget_size(t);
      out = vp_calloc(n + 1, 1);
      if (H5Aread(a, t, out) < 0) {
        free(out);
        out = NULL;
      }
    }
  }
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return out;
}

static void copy_str(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

// ---------------------------------------------------------------- writing

static void write_group(const char *path, hid_t file, const char *group, const vp_params *p, const float *buf) {
  hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
  WCHECK(g);
  for (int i = 0; i < p->n; i++) {
    const vp_tensor *t = p->t[i];
    VP_ASSERT(strchr(t->name, '/') == NULL);  // HDF5 would read '/' as a group
    hsize_t dims[VP_MAXDIM];
    for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
    hid_t sp = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    WCHECK(sp);
    hid_t ds = H5Dcreate2(g, t->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    WCHECK(ds);
    const float *x = buf + p->offset[i];
    const size_t n = (size_t)tensor_numel(t);
    WCHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x));
    WCHECK(attr_u64(ds, "crc32c", crc32c(x, n * sizeof(float))));
    WCHECK(H5Dclose(ds));
    WCHECK(H5Sclose(sp));
  }
  WCHECK(H5Gclose(g));
}

static void make_group(const char *path, hid_t file, const char *name) {
  hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  WCHECK(g);
  WCHECK(H5Gclose(g));
}

void ckpt_write(const char *path, const vp_ckpt_meta *meta, const vp_ckpt_state *st, const vp_params *p,
                const vp_ckpt_buffers *b) {
  h5_quiet q = quiet_begin();
  // The 1.8 object format: readable by every HDF5 since 1.8 (h5py
  // included), and attributes larger than 64 KiB (a long config) go to
  // dense storage instead of failing.
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  WCHECK(fapl);
  WCHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18));
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  WCHECK(file);
  WCHECK(H5Pclose(fapl));

  make_group(path, file, "meta");
  hid_t g = H5Gopen2(file, "meta", H5P_DEFAULT);
  WCHECK(g);
  WCHECK(attr_str(g, "format", CKPT_FORMAT));
  WCHECK(attr_i64(g, "version", CKPT_VERSION));
  WCHECK(attr_i64(g, "step", meta->step));
  WCHECK(attr_i64(g, "world_size", meta->world_size));
  WCHECK(attr_str(g, "model", meta->model));
  WCHECK(attr_str(g, "stage", meta->stage));
  WCHECK(attr_str(g, "git", meta->git));
  WCHECK(attr_str(g, "config", meta->config ? meta->config : ""));
  WCHECK(attr_i64(g, "threads", meta->threads));
  WCHECK(attr_str(g, "device", meta->device));
  WCHECK(attr_i64(g, "ema", b->ema ? 1 : 0));
  WCHECK(attr_i64(g, "params", p->n));
  WCHECK(attr_i64(g, "numel", (int64_t)p->numel));
  WCHECK(H5Gclose(g));

  make_group(path, file, "params");
  if (b->ema) make_group(path, file, "ema");
  make_group(path, file, "optim");
  make_group(path, file, "optim/m");
  make_group(path, file, "optim/v");
  write_group(path, file, "params", p, b->params);
  if (b->ema) write_group(path, file, "ema", p, b->ema);
  write_group(path, file, "optim/m", p, b->m);
  write_group(path, file, "optim/v", p, b->v);

  make_group(path, file, "state");
  g = H5Gopen2(file, "state", H5P_DEFAULT);
  WCHECK(g);
  WCHECK(attr_i64(g, "data_epoch", st->data_epoch));
  WCHECK(attr_i64(g, "data_cursor", st->data_cursor));
  WCHECK(attr_u64(g, "seed", st->seed));
  WCHECK(attr_i64(g, "lr_step", st->lr_step));
  WCHECK(attr_i64(g, "optim_t", st->optim_t));
  WCHECK(attr_i64(g, "ema_updates", st->ema_updates));
  WCHECK(attr_i64(g, "nan_in_row", st->nan_in_row));
  WCHECK(attr_i64(g, "nan_skipped", st->nan_skipped));
  WCHECK(attr_i64(g, "global_batch", st->global_batch));
  WCHECK(attr_i64(g, "grad_accum", st->grad_accum));
  WCHECK(H5Gclose(g));
  WCHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
  WCHECK(H5Fclose(file));
  quiet_end(q);

  // HDF5 leaves durability to the OS: without fsync a crash after the
  // rename could publish a file whose blocks never reached the disk.
  int fd = open(path, O_RDONLY);
  if (fd < 0 || fsync(fd) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    vp_die("fsync of checkpoint '%s' failed: %s; check the file system", path, strerror(e));
  }
  CHECK_SYS(close(fd), "closing the checkpoint after fsync");
}

// ---------------------------------------------------------------- generic reading

struct vp_ckpt_file {
  hid_t file;
  char *path;
};

vp_ckpt_file *ckpt_open(const char *path, char *why, size_t why_len) {
  if (access(path, R_OK) != 0) {
    snprintf(why, why_len, "cannot read '%s': %s", path, strerror(errno));
    return NULL;
  }
  h5_quiet q = quiet_begin();
  htri_t is = H5Fis_hdf5(path);
  hid_t file = is > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
  quiet_end(q);
  if (file < 0) {
    snprintf(why, why_len, "'%s' is not a readable HDF5 file (truncated or not a checkpoint)", path);
    return NULL;
  }
  vp_ckpt_file *f = vp_calloc(1, sizeof(*f));
  f->file = file;
  f->path = vp_strdup(path);
  return f;
}

void ckpt_close(vp_ckpt_file *f) {
  if (!f) return;
  h5_quiet q = quiet_begin();
  H5Fclose(f->file);
  quiet_end(q);
  free(f->path);
  free(f);
}

typedef struct {
  char **names;
  int n, cap;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
  (void)g;
  (void)info;
  name_list *l = arg;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->names = vp_realloc(l->names, (size_t)l->cap * sizeof(char *));
  }
  l->names[l->n++] = vp_strdup(name);
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char **ckpt_names(vp_ckpt_file *f, const char *group, int *n) {
  h5_quiet q = quiet_begin();
  name_list l = {NULL, 0, 0};
  *n = -1;
  if (H5Lexists(f->file, group, H5P_DEFAULT) > 0) {  // < 0 too when a parent group is missing
    hid_t g = H5Gopen2(f->file, group, H5P_DEFAULT);
    if (g >= 0) {
      hsize_t idx = 0;
      if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &l) >= 0) *n = l.n;
      H5Gclose(g);
    }
  }
  quiet_end(q);
  if (*n < 0) {
    ckpt_names_free(l.names, l.n);
    return NULL;
  }
  qsort(l.names, (size_t)l.n, sizeof(char *), cmp_str);
  return l.names;
}

void ckpt_names_free(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

// Opens group/name and checks it is a float dataset; fills its shape.
static hid_t open_dataset(vp_ckpt_file *f, const char *group, const char *name, int *ndim, int64_t *shape,
                          char *why, size_t why_len) {
  char full[1024];
  snprintf(full, sizeof full, "%s/%s", group, name);
  if (H5Lexists(f->file, full, H5P_DEFAULT) <= 0) {  // < 0 when a parent group is missing
    snprintf(why, why_len, "/%s is missing", full);
    return -1;
  }
  hid_t ds = H5Dopen2(f->file, full, H5P_DEFAULT);
  if (ds < 0) {
    snprintf(why, why_len, "/%s cannot be opened as a dataset", full);
    return -1;
  }
  hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
  int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 4;
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  if (ok && (nd < 0 || nd > CKPT_MAXDIM)) ok = 0;
  if (ok) {
    hsize_t dims[CKPT_MAXDIM];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *ndim = nd;
    for (int d = 0; d < nd; d++) shape[d] = (int64_t)dims[d];
  }
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  if (!ok) {
    snprintf(why, why_len, "/%s is not a float32 dataset of at most %d dims", full, CKPT_MAXDIM);
    H5Dclose(ds);
    return -1;
  }
  return ds;
}

static int64_t numel_of(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

// Reads ds into dst (numel floats) and checks the stored crc32c.
static int read_checked(hid_t ds, const char *group, const char *name, float *dst, int64_t numel, int64_t *crc,
                        char *why, size_t why_len) {
  if (numel > 0 && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
    snprintf(why, why_len, "/%s/%s cannot be read (the file is damaged)", group, name);
    return -1;
  }
  int64_t stored = -1;
  if (attr_read_i64(ds, "crc32c", &stored) != 0) stored = -1;
  if (crc) *crc = stored;
  if (stored < 0) {
    snprintf(why, why_len, "/%s/%s has no crc32c attribute", group, name);
    return -1;
  }
  uint32_t c = crc32c(dst, (size_t)numel * sizeof(float));
  if ((uint32_t)stored != c) {
    snprintf(why, why_len, "/%s/%s fails its checksum (crc32c %08x stored, %08x read): the file is damaged",
             group, name, (unsigned)stored, (unsigned)c);
    return -1;
  }
  return 0;
}

int ckpt_read_dataset(vp_ckpt_file *f, const char *group, const char *name, int *ndim, int64_t *shape,
                      float **data, int64_t *crc, char *why, size_t why_len) {
  h5_quiet q = quiet_begin();
  hid_t ds = open_dataset(f, group, name, ndim, shape, why, why_len);
  int rc = ds < 0 ? -1 : 0;
  if (rc == 0 && data) {
    int64_t n = numel_of(*ndim, shape);
    *data = vp_malloc((size_t)(n ? n : 1) * sizeof(float));
    rc = read_checked(ds, group, name, *data, n, crc, why, why_len);
    if (rc) {
      free(*data);
      *data = NULL;
    }
  } else if (rc == 0 && crc) {
    if (attr_read_i64(ds, "crc32c", crc) != 0) *crc = -1;
  }
  if (ds >= 0) H5Dclose(ds);
  quiet_end(q);
  return rc;
}

// ---------------------------------------------------------------- header

void ckpt_meta_free(vp_ckpt_meta *meta) {
  free(meta->config);
  meta->config = NULL;
}

void ckpt_read_header(const char *path, vp_ckpt_meta *meta, vp_ckpt_state *st) {
  char why[1024];
  memset(meta, 0, sizeof(*meta));
  memset(st, 0, sizeof(*st));
  vp_ckpt_file *f = ckpt_open(path, why, sizeof why);
  if (!f) vp_die("checkpoint: %s", why);
  h5_quiet q = quiet_begin();
  hid_t g = H5Lexists(f->file, "meta", H5P_DEFAULT) > 0 ? H5Gopen2(f->file, "meta", H5P_DEFAULT) : -1;
  char *fmt = g >= 0 ? attr_read_str(g, "format") : NULL;
  int64_t version = 0;
  int bad = !fmt || strcmp(fmt, CKPT_FORMAT) != 0 || attr_read_i64(g, "version", &version) != 0;
  free(fmt);
  if (bad) {
    if (g >= 0) H5Gclose(g);
    quiet_end(q);
    ckpt_close(f);
    vp_die("'%s' is not a vpcast checkpoint (no /meta format \"%s\"); give a file from <out>/ckpt/", path,
           CKPT_FORMAT);
  }
  if (version > CKPT_VERSION || version < 1) {
    H5Gclose(g);
    quiet_end(q);
    ckpt_close(f);
    vp_die("checkpoint '%s' has format version %" PRId64 "; this vpcast reads version %d; use the vpcast "
           "that wrote it (or a newer one)",
           path, version, CKPT_VERSION);
  }
  int64_t x = 0;
  int missing = 0;
  const char *what = "";
#define GET_I(name, dst)                                 \
  do {                                                   \
    if (attr_read_i64(g, name, &x) == 0)                 \
      dst = x;                                           \
    else if (!missing++)                                 \
      what = "/meta " name;                              \
  } while (0)
  GET_I("step", meta->step);
  GET_I("world_size", meta->world_size);
  GET_I("threads", meta->threads);
  GET_I("ema", meta->has_ema);
  char *s;
#define GET_S(name, dst)                                 \
  do {                                                   \
    s = attr_read_str(g, name);                          \
    if (s)                                               \
      copy_str(dst, sizeof dst, s);                      \
    else if (!missing++)                                 \
      what = "/meta " name;                              \
    free(s);                                             \
  } while (0)
  GET_S("model", meta->model);
  GET_S("stage", meta->stage);
  GET_S("git", meta->git);
  GET_S("device", meta->device);
  meta->config = attr_read_str(g, "config");
  if (!meta->config && !missing++) what = "/meta config";
  H5Gclose(g);
  g = H5Lexists(f->file, "state", H5P_DEFAULT) > 0 ? H5Gopen2(f->file, "state", H5P_DEFAULT) : -1;
  if (g < 0) {
    if (!missing++) what = "/state";
  } else {
#define GET_G(name, dst)                                 \
  do {                                                   \
    if (attr_read_i64(g, name, &x) == 0)                 \
      dst = x;                                           \
    else if (!missing++)                                 \
      what = "/state " name;                             \
  } while (0)
    GET_G("data_epoch", st->data_epoch);
    GET_G("data_cursor", st->data_cursor);
    if (attr_read_u64(g, "seed", &st->seed) != 0 && !missing++) what = "/state seed";
    GET_G("lr_step", st->lr_step);
    GET_G("optim_t", st->optim_t);
    GET_G("ema_updates", st->ema_updates);
    GET_G("nan_in_row", st->nan_in_row);
    GET_G("nan_skipped", st->nan_skipped);
    GET_G("global_batch", st->global_batch);
    GET_G("grad_accum", st->grad_accum);
    H5Gclose(g);
  }
#undef GET_I
#undef GET_S
#undef GET_G
  quiet_end(q);
  ckpt_close(f);
  if (missing) {
    ckpt_meta_free(meta);
    vp_die("checkpoint '%s' is incomplete: %s is missing; check it with 'vpcast ckpt info %s'", path, what,
           path);
  }
}

// ---------------------------------------------------------------- tensors

void ckpt_read_tensors(const char *path, const vp_params *p, const vp_ckpt_buffers *b) {
  char why[1024];
  vp_ckpt_file *f = ckpt_open(path, why, sizeof why);
  if (!f) vp_die("checkpoint: %s", why);
  float *dst[4] = {b->params, b->ema, b->m, b->v};
  for (int gi = 0; gi < 4; gi++) {
    if (!dst[gi]) continue;
    const char *group = GROUPS[gi];
    int n = 0;
    char **names = ckpt_names(f, group, &n);
    if (n < 0)
      vp_die("checkpoint '%s' has no /%s group%s", path, group,
             gi == 1 ? " (it was written without EMA: train.ema_decay = 0)" : "");
    // Every stored name must be a parameter of the model.
    for (int k = 0; k < n; k++)
      if (!params_find(p, names[k]))
        vp_die("checkpoint '%s' holds /%s/%s, which model has no parameter of that name; it was written "
               "by another model or model config",
               path, group, names[k]);
    ckpt_names_free(names, n);
    for (int i = 0; i < p->n; i++) {
      const vp_tensor *t = p->t[i];
      int ndim = 0;
      int64_t shape[CKPT_MAXDIM];
      h5_quiet q = quiet_begin();
      hid_t ds = open_dataset(f, group, t->name, &ndim, shape, why, sizeof why);
      int rc = ds < 0 ? -1 : 0;
      if (rc == 0) {
        int same = ndim == t->ndim;
        for (int d = 0; same && d < ndim; d++) same = shape[d] == t->shape[d];
        if (!same) {
          char a[128], s2[128];
          size_t k = (size_t)snprintf(a, sizeof a, "(");
          for (int d = 0; d < ndim; d++) k += (size_t)snprintf(a + k, sizeof a - k, d ? ", %lld" : "%lld", (long long)shape[d]);
          snprintf(a + k, sizeof a - k, ")");
          snprintf(why, sizeof why, "/%s/%s has shape %s but the model's parameter is %s", group, t->name, a,
                   tensor_shape_str(t, s2, sizeof s2));
          rc = -1;
        }
      }
      if (rc == 0)
        rc = read_checked(ds, group, t->name, dst[gi] + p->offset[i], tensor_numel(t), NULL, why, sizeof why);
      if (ds >= 0) H5Dclose(ds);
      quiet_end(q);
      if (rc) vp_die("checkpoint '%s': %s", path, why);
    }
  }
  ckpt_close(f);
}

// ---------------------------------------------------------------- verification

#define PROBLEM(...)                       \
  do {                                     \
    problems++;                            \
    if (out) {                             \
      fprintf(out, "problem: ");           \
      fprintf(out, __VA_ARGS__);           \
      fputc('\n', out);                    \
    }                                      \
  } while (0)

int ckpt_verify(const char *path, FILE *out, int64_t *tensors, int64_t *numel) {
  int problems = 0;
  *tensors = 0;
  *numel = 0;
  char why[1024];
  vp_ckpt_file *f = ckpt_open(path, why, sizeof why);
  if (!f) {
    PROBLEM("%s", why);
    return problems;
  }
  int64_t has_ema = 0;
  {
    h5_quiet q = quiet_begin();
    hid_t g = H5Lexists(f->file, "meta", H5P_DEFAULT) > 0 ? H5Gopen2(f->file, "meta", H5P_DEFAULT) : -1;
    if (g < 0) {
      PROBLEM("/meta is missing");
    } else {
      for (int i = 0; i < COUNT(META_STR_ATTRS); i++) {
        char *s = attr_read_str(g, META_STR_ATTRS[i]);
        if (!s) PROBLEM("/meta attribute '%s' is missing", META_STR_ATTRS[i]);
        if (s && i == 0 && strcmp(s, CKPT_FORMAT) != 0) PROBLEM("/meta format is \"%s\", not \"%s\"", s, CKPT_FORMAT);
        free(s);
      }
      for (int i = 0; i < COUNT(META_INT_ATTRS); i++) {
        int64_t x;
        if (attr_read_i64(g, META_INT_ATTRS[i], &x) != 0) PROBLEM("/meta attribute '%s' is missing", META_INT_ATTRS[i]);
        if (i == 0 && attr_read_i64(g, "version", &x) == 0 && (x < 1 || x > CKPT_VERSION))
          PROBLEM("/meta version %" PRId64 " is not one this vpcast reads (1..%d)", x, CKPT_VERSION);
      }
      if (attr_read_i64(g, "ema", &has_ema) != 0) has_ema = H5Lexists(f->file, "ema", H5P_DEFAULT) > 0;
      H5Gclose(g);
    }
    g = H5Lexists(f->file, "state", H5P_DEFAULT) > 0 ? H5Gopen2(f->file, "state", H5P_DEFAULT) : -1;
    if (g < 0) {
      PROBLEM("/state is missing");
    } else {
      for (int i = 0; i < COUNT(STATE_ATTRS); i++) {
        int64_t x;
        if (attr_read_i64(g, STATE_ATTRS[i], &x) != 0) PROBLEM("/state attribute '%s' is missing", STATE_ATTRS[i]);
      }
      H5Gclose(g);
    }
    quiet_end(q);
  }
  int np = 0;
  char **pn = ckpt_names(f, "params", &np);
  if (np < 0) {
    PROBLEM("/params is missing");
    ckpt_close(f);
    return problems;
  }
  int64_t meta_params = -1, meta_numel = -1;
  for (int gi = 0; gi < 4; gi++) {
    const char *group = GROUPS[gi];
    if (gi == 1 && !has_ema) continue;
    int n = 0;
    char **names = gi == 0 ? pn : ckpt_names(f, group, &n);
    if (gi == 0) n = np;
    if (n < 0) {
      PROBLEM("/%s is missing", group);
      continue;
    }
    // Same names as /params (both sorted).
    if (gi > 0) {
      int i = 0, k = 0;
      while (i < np || k < n) {
        int c = i >= np ? 1 : k >= n ? -1 : strcmp(pn[i], names[k]);
        if (c < 0) {
          PROBLEM("/%s/%s is missing", group, pn[i]);
          i++;
        } else if (c > 0) {
          PROBLEM("/%s/%s has no /params/%s", group, names[k], names[k]);
          k++;
        } else {
          i++;
          k++;
        }
      }
    }
    for (int k = 0; k < n; k++) {
      int ndim = 0, pdim = 0;
      int64_t shape[CKPT_MAXDIM], pshape[CKPT_MAXDIM];
      float *data = NULL;
      if (ckpt_read_dataset(f, group, names[k], &ndim, shape, &data, NULL, why, sizeof why) != 0) {
        PROBLEM("%s", why);
        continue;
      }
      free(data);
      if (gi == 0) {
        (*tensors)++;
        *numel += numel_of(ndim, shape);
      } else if (ckpt_read_dataset(f, "params", names[k], &pdim, pshape, NULL, NULL, why, sizeof why) == 0) {
        int same = pdim == ndim;
        for (int d = 0; same && d < ndim; d++) same = pshape[d] == shape[d];
        if (!same) PROBLEM("/%s/%s does not have the shape of /params/%s", group, names[k], names[k]);
      }
    }
    if (gi > 0) ckpt_names_free(names, n);
  }
  ckpt_names_free(pn, np);
  {
    h5_quiet q = quiet_begin();
    hid_t g = H5Lexists(f->file, "meta", H5P_DEFAULT) > 0 ? H5Gopen2(f->file, "meta", H5P_DEFAULT) : -1;
    if (g >= 0) {
      if (attr_read_i64(g, "params", &meta_params) != 0) meta_params = -1;
      if (attr_read_i64(g, "numel", &meta_numel) != 0) meta_numel = -1;
      H5Gclose(g);
    }
    quiet_end(q);
  }
  if (meta_params >= 0 && meta_params != *tensors)
    PROBLEM("/meta says %" PRId64 " parameter tensors but /params holds %" PRId64, meta_params, *tensors);
  if (meta_numel >= 0 && meta_numel != *numel)
    PROBLEM("/meta says %" PRId64 " parameters but /params holds %" PRId64, meta_numel, *numel);
  ckpt_close(f);
  return problems;
}
