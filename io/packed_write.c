// packed_write.c: the packed HDF5 clip writer (layout in packed_write.h).
#include "io/packed_write.h"

#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "io/hdf5_lock.h"

static const char *const split_names[PACKED_NSPLIT] = {"train", "val", "test"};
static const char *const kind_names[] = {"rgb", "depth", "semantic", "field"};

const char *packed_split_name(int split) {
  return split >= 0 && split < PACKED_NSPLIT ? split_names[split] : "?";
}

int packed_split_parse(const char *name) {
  for (int i = 0; i < PACKED_NSPLIT; i++)
    if (strcmp(name, split_names[i]) == 0) return i;
  return -1;
}

const char *packed_kind_name(vp_mod_kind kind) {
  return (int)kind >= 0 && (int)kind < 4 ? kind_names[kind] : "?";
}

int packed_kind_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, kind_names[i]) == 0) return i;
  return -1;
}

// ---- HDF5 error text ----

typedef struct h5_walk {
  char *buf;
  size_t n;
  int done;
} h5_walk;

static herr_t h5_walk_cb(unsigned k, const H5E_error2_t *e, void *data) {
  h5_walk *w = data;
  (void)k;
  if (w->done) return 0;
  char minor[256] = "";
  H5Eget_msg(e->min_num, NULL, minor, sizeof minor);
  snprintf(w->buf, w->n, "%s%s%s", e->desc ? e->desc : "", minor[0] ? ": " : "", minor);
  w->done = 1;
  return 0;
}

const char *packed_h5_error(char *buf, size_t n) {
  h5_walk w = {buf, n, 0};
  buf[0] = 0;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, h5_walk_cb, &w);
  return buf;
}

// ---- temporary files removed when the process dies ----

#define MAX_LIVE 16
static char *volatile live_tmp[MAX_LIVE];

// Slots are cleared before their string is freed, so a signal handler
// reading the table never sees a freed path.
static void remove_live_tmp(void) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (live_tmp[i]) {
      char *p = live_tmp[i];
      live_tmp[i] = NULL;
      remove(p);
      free(p);
    }
}

static void live_add(const char *tmp) {
  static int registered = 0;
  if (!registered) {
    if (atexit(remove_live_tmp) != 0) vp_die("cannot register the temporary-file cleanup (atexit)");
    registered = 1;
  }
  for (int i = 0; i < MAX_LIVE; i++)
    if (!live_tmp[i]) {
      char *p = vp_strdup(tmp);
      live_tmp[i] = p;
      return;
    }
  vp_die("more than %d packed files open for writing at once", MAX_LIVE);
}

static void live_remove(const char *tmp) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (live_tmp[i] && strcmp(live_tmp[i], tmp) == 0) {
      char *p = live_tmp[i];
      live_tmp[i] = NULL;
      free(p);
    }
}

// ---- the writer ----

struct packed_writer {
  char path[4096], tmp[4096];
  packed_info info;
  hid_t file;
  hid_t ds[VP_MAX_MOD];
  int64_t n;
  char **ids;        // (n,)
  uint8_t *splits;   // (n,)
  int64_t cap;
  int finished;      // the temporary file is complete and closed
};

#define PW_CHECK(call, w, what)                                                               \
  do {                                                                                       \
    if ((call) < 0) {                                                                        \
      char m_[512];                                                                          \
      vp_die("cannot write packed file %s: %s failed (%s); check the disk space and that "    \
             "the directory is writable", (w)->path, what, packed_h5_error(m_, sizeof m_)); \
    }                                                                                        \
  } while (0)

static void attr_str(packed_writer *w, hid_t obj, const char *name, const char *val) {
  hid_t t = H5Tcopy(H5T_C_S1);
  PW_CHECK(t, w, "H5Tcopy");
  PW_CHECK(H5Tset_size(t, strlen(val) ? strlen(val) : 1), w, "H5Tset_size");
  PW_CHECK(H5Tset_strpad(t, H5T_STR_NULLTERM), w, "H5Tset_strpad");
  PW_CHECK(H5Tset_cset(t, H5T_CSET_UTF8), w, "H5Tset_cset");  // h5py reads str, not bytes
  hid_t sp = H5Screate(H5S_SCALAR);
  PW_CHECK(sp, w, "H5Screate");
  hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  PW_CHECK(a, w, name);
  PW_CHECK(H5Awrite(a, t, val), w, name);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

static void attr_num(packed_writer *w, hid_t obj, const char *name, hid_t file_type, hid_t mem_type,
                     const void *val) {
  hid_t sp = H5Screate(H5S_SCALAR);
  PW_CHECK(sp, w, "H5Screate");
  hid_t a = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
  PW_CHECK(a, w, name);
  PW_CHECK(H5Awrite(a, mem_type, val), w, name);
  H5Aclose(a);
  H5Sclose(sp);
}

static void attr_i64(packed_writer *w, hid_t obj, const char *name, int64_t v) {
  attr_num(w, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static void attr_f64(packed_writer *w, hid_t obj, const char *name, double v) {
  attr_num(w, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static void check_info(const char *path, const packed_info *in) {
  if (in->T < 1 || in->H < 1 || in->W < 1)
    vp_die("packed file %s: clip shape %dx%dx%d must be positive", path, in->T, in->H, in->W);
  if (in->nmod < 1 || in->nmod > VP_MAX_MOD)
    vp_die("packed file %s: %d modalities (1 to %d allowed)", path, in->nmod, VP_MAX_MOD);
  if (in->compress < 0 || in->compress > 9)
    vp_die("packed file %s: deflate level %d (0 to 9 allowed)", path, in->compress);
  for (int m = 0; m < in->nmod; m++) {
    const packed_modality *md = &in->mod[m];
    if (!md->name[0] || strchr(md->name, '/') || strchr(md->name, ','))
      vp_die("packed file %s: modality name '%s' must be non-empty without '/' or ','", path, md->name);
    if (md->channels < 1) vp_die("packed file %s: modality %s has %d channels", path, md->name, md->channels);
    if (md->dtype != PACKED_U8 && md->dtype != PACKED_U16)
      vp_die("packed file %s: modality %s has an unknown raw type", path, md->name);
    for (int k = 0; k < m; k++)
      if (strcmp(in->mod[k].name, md->name) == 0) vp_die("packed file %s: modality %s twice", path, md->name);
  }
}

packed_writer *packed_writer_create(const char *path, const packed_info *info) {
  check_info(path, info);
  packed_writer *w = vp_calloc(1, sizeof(*w));
  if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
      snprintf(w->tmp, sizeof w->tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof w->tmp)
    vp_die("packed file path too long: %s", path);
  w->info = *info;
  io_hdf5_lock();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  live_add(w->tmp);
  w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (w->file < 0) {
    char m[512];
    vp_die("cannot create %s (for %s): %s; check that the directory exists and is writable", w->tmp,
           path, packed_h5_error(m, sizeof m));
  }
  const packed_info *in = &w->info;
  attr_str(w, w->file, "format", PACKED_FORMAT);
  attr_i64(w, w->file, "version", PACKED_VERSION);
  attr_str(w, w->file, "dataset", in->dataset[0] ? in->dataset : "unknown");
  attr_str(w, w->file, "source", in->source);
  char mods[VP_MAX_MOD * 33] = "";
  for (int m = 0; m < in->nmod; m++) {
    if (m) strcat(mods, ",");
    strcat(mods, in->mod[m].name);
  }
  attr_str(w, w->file, "modalities", mods);
  attr_i64(w, w->file, "frames", in->T);
  attr_i64(w, w->file, "height", in->H);
  attr_i64(w, w->file, "width", in->W);
  attr_i64(w, w->file, "shard_index", in->shard_index);
  attr_i64(w, w->file, "shard_count", in->shard_count > 0 ? in->shard_count : 1);
  attr_str(w, w->file, "created_by", "vpcast " VP_VERSION " (" VP_GIT_HASH ")");

  hid_t g = H5Gcreate2(w->file, "modalities", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PW_CHECK(g, w, "creating /modalities");
  for (int m = 0; m < in->nmod; m++) {
    const packed_modality *md = &in->mod[m];
    hid_t gm = H5Gcreate2(g, md->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    PW_CHECK(gm, w, "creating a modality group");
    hsize_t dims[5] = {0, (hsize_t)in->T, (hsize_t)in->H, (hsize_t)in->W, (hsize_t)md->channels};
    hsize_t maxd[5] = {H5S_UNLIMITED, dims[1], dims[2], dims[3], dims[4]};
    hsize_t chunk[5] = {1, dims[1], dims[2], dims[3], dims[4]};
    uint64_t chunk_bytes = (uint64_t)in->T * in->H * in->W * md->channels * md->dtype;
    if (chunk_bytes >= ((uint64_t)1 << 32))
      vp_die("packed file %s: one %s clip is %llu bytes, over HDF5's 4 GiB chunk limit; use fewer "
             "--frames or a smaller --size", path, md->name, (unsigned long long)chunk_bytes);
    hid_t sp = H5Screate_simple(5, dims, maxd);
    PW_CHECK(sp, w, "H5Screate_simple");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    PW_CHECK(dcpl, w, "H5Pcreate");
    PW_CHECK(H5Pset_chunk(dcpl, 5, chunk), w, "H5Pset_chunk");
    if (in->compress > 0) {
      if (md->dtype == PACKED_U16) PW_CHECK(H5Pset_shuffle(dcpl), w, "H5Pset_shuffle");
      PW_CHECK(H5Pset_deflate(dcpl, (unsigned)in->compress), w, "H5Pset_deflate");
    }
    hid_t t = md->dtype == PACKED_U8 ? H5T_STD_U8LE : H5T_STD_U16LE;
    w->ds[m] = H5Dcreate2(gm, "frames", t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    PW_CHECK(w->ds[m], w, "creating a frames dataset");
    attr_str(w, gm, "kind", packed_kind_name(md->kind));
    attr_i64(w, gm, "channels", md->channels);
    attr_f64(w, gm, "scale", md->scale);
    attr_f64(w, gm, "offset", md->offset);
    attr_i64(w, gm, "has_invalid", md->has_invalid ? 1 : 0);
    attr_i64(w, gm, "invalid", md->has_invalid ? md->invalid : 0);
    attr_f64(w, gm, "vmin", md->vmin);
    attr_f64(w, gm, "vmax", md->vmax);
    attr_str(w, gm, "units", md->units);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Gclose(gm);
  }
  H5Gclose(g);
  io_hdf5_unlock();
  return w;
}

void packed_writer_append(packed_writer *w, const char *id, int split, const void *const *data) {
  VP_ASSERT(split >= 0 && split < PACKED_NSPLIT);
  const packed_info *in = &w->info;
  io_hdf5_lock();
  for (int m = 0; m < in->nmod; m++) {
    hsize_t dims[5] = {(hsize_t)w->n + 1, (hsize_t)in->T, (hsize_t)in->H, (hsize_t)in->W,
                       (hsize_t)in->mod[m].channels};
    PW_CHECK(H5Dset_extent(w->ds[m], dims), w, "extending a frames dataset");
    hid_t fs = H5Dget_space(w->ds[m]);
    PW_CHECK(fs, w, "H5Dget_space");
    hsize_t start[5] = {(hsize_t)w->n, 0, 0, 0, 0}, count[5] = {1, dims[1], dims[2], dims[3], dims[4]};
    PW_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), w, "selecting a clip");
    hid_t ms = H5Screate_simple(5, count, NULL);
    PW_CHECK(ms, w, "H5Screate_simple");
    hid_t mt = in->mod[m].dtype == PACKED_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_UINT16;
    PW_CHECK(H5Dwrite(w->ds[m], mt, ms, fs, H5P_DEFAULT, data[m]), w, "writing a clip");
    H5Sclose(ms);
    H5Sclose(fs);
  }
  io_hdf5_unlock();
  if (w->n == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 64;
    w->ids = vp_realloc(w->ids, (size_t)w->cap * sizeof(char *));
    w->splits = vp_realloc(w->splits, (size_t)w->cap);
  }
  w->ids[w->n] = vp_strdup(id ? id : "");
  w->splits[w->n] = (uint8_t)split;
  w->n++;
}

int64_t packed_writer_count(const packed_writer *w) { return w->n; }

static void write_clip_table(packed_writer *w) {
  hid_t g = H5Gcreate2(w->file, "clips", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PW_CHECK(g, w, "creating /clips");
  hsize_t n = (hsize_t)w->n;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  PW_CHECK(sp, w, "H5Screate_simple");
  hid_t st = H5Tcopy(H5T_C_S1);
  PW_CHECK(st, w, "H5Tcopy");
  PW_CHECK(H5Tset_size(st, H5T_VARIABLE), w, "H5Tset_size");
  PW_CHECK(H5Tset_cset(st, H5T_CSET_UTF8), w, "H5Tset_cset");
  hid_t ds = H5Dcreate2(g, "id", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PW_CHECK(ds, w, "creating /clips/id");
  if (n) PW_CHECK(H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->ids), w, "writing /clips/id");
  H5Dclose(ds);
  ds = H5Dcreate2(g, "split", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PW_CHECK(ds, w, "creating /clips/split");
  if (n) PW_CHECK(H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->splits), w,
                 "writing /clips/split");
  attr_str(w, ds, "names", "train,val,test");
  H5Dclose(ds);
  H5Tclose(st);
  H5Sclose(sp);
  H5Gclose(g);
}

static void free_writer(packed_writer *w) {
  for (int64_t i = 0; i < w->n; i++) free(w->ids[i]);
  free(w->ids);
  free(w->splits);
  free(w);
}

// fsync a file or directory by path; failures to sync are reported.
static void sync_path(const char *p, int dir) {
  int fd = open(p, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) vp_die("cannot open %s to sync it: %s", p, strerror(errno));
  if (fsync(fd) != 0 && !dir) vp_die("cannot fsync %s: %s; is the disk full?", p, strerror(errno));
  close(fd);
}

void packed_writer_finish(packed_writer *w) {
  VP_ASSERT(!w->finished);
  io_hdf5_lock();
  write_clip_table(w);
  attr_i64(w, w->file, "clips", w->n);
  for (int m = 0; m < w->info.nmod; m++) PW_CHECK(H5Dclose(w->ds[m]), w, "closing a frames dataset");
  PW_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), w, "H5Fflush");
  PW_CHECK(H5Fclose(w->file), w, "H5Fclose");
  io_hdf5_unlock();
  sync_path(w->tmp, 0);
  w->finished = 1;
}

void packed_writer_commit(packed_writer *w) {
  VP_ASSERT(w->finished);
  if (rename(w->tmp, w->path) != 0)
    vp_die("cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
  live_remove(w->tmp);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", w->path);
  sync_path(dirname(dir), 1);
  free_writer(w);
}

void packed_writer_close(packed_writer *w) {
  packed_writer_finish(w);
  packed_writer_commit(w);
}

void packed_writer_abort(packed_writer *w) {
  if (!w->finished) {
    io_hdf5_lock();
    for (int m = 0; m < w->info.nmod; m++) H5Dclose(w->ds[m]);
    H5Fclose(w->file);
    io_hdf5_unlock();
  }
  remove(w->tmp);
  live_remove(w->tmp);
  free_writer(w);
}

// Only async-signal-safe calls here: unlink, signal, raise.
static void on_signal(int sig) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (live_tmp[i]) unlink(live_tmp[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

void packed_write_cleanup_on_signals(void) {
  const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
  for (int k = 0; k < 3; k++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sigs[k], &sa, NULL) != 0) vp_die("sigaction failed: %s", strerror(errno));
  }
}
