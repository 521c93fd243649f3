// sevir_h5.c: SEVIR raster files through libhdf5 (see sevir_h5.h).
#include "io/sevir_h5.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"

// ---- errors ----
typedef struct errwalk {
  char *buf;
  size_t n;
  int got;
} errwalk;

static herr_t errwalk_cb(unsigned k, const H5E_error2_t *e, void *data) {
  errwalk *w = data;
  // Upward walks start at the most specific error: that one says what is
  // wrong with the file ("truncated file", "file signature not found").
  if (k == 0 && e->desc && e->desc[0]) {
    snprintf(w->buf, w->n, "%s", e->desc);
    w->got = 1;
  }
  return 0;
}

const char *sevir_h5_errmsg(char *buf, size_t n) {
  errwalk w = {buf, n, 0};
  buf[0] = 0;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, errwalk_cb, &w);
  H5Eclear2(H5E_DEFAULT);
  if (!w.got) snprintf(buf, n, "no message from HDF5");
  return buf;
}

void sevir_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

const char *sevir_h5_filter_name(int id) {
  switch (id) {
    case 32000: return "LZF, h5py's built-in compressor";
    case 32001: return "Blosc";
    case 32004: return "LZ4";
    case 32008: return "Bitshuffle";
    case 32013: return "ZFP";
    case 32015: return "Zstandard";
    case 307: return "BZip2";
    case H5Z_FILTER_SZIP: return "SZIP";
    default: return NULL;
  }
}

// Closing read-only handles cannot lose data, so a failed close is reported
// and reading goes on. (Handles released on the way to vp_die() are not
// checked: the process is ending with the real error.)
#define H5_CLOSE(call, path)                                                          \
  do {                                                                                \
    if ((call) < 0) {                                                                 \
      char m_[256];                                                                   \
      vp_warn("SEVIR file %s: %s failed: %s", (path), #call, sevir_h5_errmsg(m_, sizeof m_)); \
    }                                                                                 \
  } while (0)

// ---- handles ----
void sevir_h5_init(sevir_h5 *h, const char *dataset, int max_open) {
  memset(h, 0, sizeof(*h));
  snprintf(h->dataset, sizeof(h->dataset), "%s", dataset);
  h->max_open = max_open > 0 ? max_open : 1;
}

int sevir_h5_add(sevir_h5 *h, const char *path, const char *origin) {
  for (int i = 0; i < h->nfiles; i++)
    if (strcmp(h->f[i].path, path) == 0) return i;
  if (h->nfiles == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 16;
    h->f = vp_realloc(h->f, (size_t)h->cap * sizeof(*h->f));
  }
  sevir_h5_file *f = &h->f[h->nfiles];
  memset(f, 0, sizeof(*f));
  f->path = vp_strdup(path);
  f->origin = vp_strdup(origin);
  f->hid_file = f->hid_dset = -1;
  return h->nfiles++;
}

static void file_close(sevir_h5 *h, sevir_h5_file *f) {
  if (f->hid_file < 0) return;
  H5_CLOSE(H5Dclose((hid_t)f->hid_dset), f->path);
  H5_CLOSE(H5Fclose((hid_t)f->hid_file), f->path);
  f->hid_file = f->hid_dset = -1;
  h->nopen--;
}

void sevir_h5_close_all(sevir_h5 *h) {
  for (int i = 0; i < h->nfiles; i++) file_close(h, &h->f[i]);
}

void sevir_h5_free(sevir_h5 *h) {
  sevir_h5_close_all(h);
  for (int i = 0; i < h->nfiles; i++) {
    free(h->f[i].path);
    free(h->f[i].origin);
  }
  free(h->f);
  memset(h, 0, sizeof(*h));
}

// Smallest prime >= n (the chunk cache's hash table wants a prime slot count).
static size_t next_prime(size_t n) {
  for (;; n++) {
    int prime = n > 1;
    for (size_t d = 2; d * d <= n && prime; d++) prime = n % d != 0;
    if (prime) return n;
  }
}

// Refuses a dataset whose filter pipeline needs a filter this HDF5 lacks.
static void check_filters(sevir_h5 *h, sevir_h5_file *f, hid_t dcpl) {
  char msg[256];
  int nf = H5Pget_nfilters(dcpl);
  if (nf < 0)
    vp_die("SEVIR file %s: cannot read the filter pipeline of dataset '%s': %s", f->path, h->dataset,
           sevir_h5_errmsg(msg, sizeof msg));
  for (int k = 0; k < nf; k++) {
    unsigned flags = 0, cfg = 0;
    size_t ncd = 0;
    char fname[64] = "";
    H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)k, &flags, &ncd, NULL, sizeof fname, fname, &cfg);
    if (id < 0)
      vp_die("SEVIR file %s: cannot read filter %d of dataset '%s': %s", f->path, k, h->dataset,
             sevir_h5_errmsg(msg, sizeof msg));
    htri_t avail = H5Zfilter_avail(id);
    H5Eclear2(H5E_DEFAULT);  // a failed plugin search leaves messages behind
    if (avail > 0) continue;
    const char *known = sevir_h5_filter_name((int)id);
    vp_die("SEVIR file %s: dataset '%s' is stored with HDF5 filter %d (%s), which this HDF5 library "
           "does not have, so its data cannot be decoded. Either install the filter plugin and "
           "point HDF5_PLUGIN_PATH at its folder (for LZF on Debian/Ubuntu: apt-get install "
           "hdf5-plugin-lzf), or re-save the file without the filter where it is available: "
           "h5repack -f NONE %s %s.nofilter.h5 (h5py can also rewrite it: it has LZF built in)",
           f->path, h->dataset, (int)id, known ? known : (fname[0] ? fname : "unknown filter"), f->path,
           f->path);
  }
}

static void lru_make_room(sevir_h5 *h) {
  while (h->nopen >= h->max_open) {
    sevir_h5_file *old = NULL;
    for (int i = 0; i < h->nfiles; i++)
      if (h->f[i].hid_file >= 0 && (!old || h->f[i].stamp < old->stamp)) old = &h->f[i];
    VP_ASSERT(old != NULL);
    file_close(h, old);
  }
}

// Opens file i (file + dataset handles), inspecting it the first time.
static sevir_h5_file *file_open(sevir_h5 *h, int i) {
  sevir_h5_file *f = &h->f[i];
  f->stamp = ++h->clock;
  if (f->hid_file >= 0) return f;
  sevir_h5_quiet();
  char msg[256];
  struct stat st;
  if (stat(f->path, &st) != 0)
    vp_die("SEVIR file %s (%s) cannot be read: %s. Check data.path / data.sevir.data_dir: catalog "
           "file names are relative to the data folder (the bucket's data/, e.g. "
           "data/vil/2019/SEVIR_VIL_STORMEVENTS_2019_0101_0630.h5)", f->path, f->origin, strerror(errno));
  if (!S_ISREG(st.st_mode)) vp_die("SEVIR file %s (%s) is not a regular file", f->path, f->origin);
  lru_make_room(h);

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) vp_die("H5Pcreate(H5P_FILE_ACCESS) failed: %s", sevir_h5_errmsg(msg, sizeof msg));
#if H5_VERSION_GE(1, 10, 7)
  if (H5Pset_file_locking(fapl, 0, 1) < 0)
    vp_die("H5Pset_file_locking failed: %s", sevir_h5_errmsg(msg, sizeof msg));
#endif
  // A sieve buffer of one VIL event: a contiguous event is then read in one
  // request even when a window selects every other run of T bytes.
  if (H5Pset_sieve_buf_size(fapl, (size_t)8 << 20) < 0)
    vp_die("H5Pset_sieve_buf_size failed: %s", sevir_h5_errmsg(msg, sizeof msg));
  hid_t fid = H5Fopen(f->path, H5F_ACC_RDONLY, fapl);
  // Every HDF5 call clears the error stack: take the message first.
  if (fid < 0) sevir_h5_errmsg(msg, sizeof msg);
  H5_CLOSE(H5Pclose(fapl), f->path);
  if (fid < 0)
    vp_die("SEVIR file %s (%s) cannot be opened as HDF5: %s. The file is truncated or corrupt "
           "(%lld bytes on disk); download it again", f->path, f->origin, msg, (long long)st.st_size);

  if (!f->inspected) {
    // First open: check the dataset and size the chunk cache from its layout.
    htri_t ex = H5Lexists(fid, h->dataset, H5P_DEFAULT);
    if (ex <= 0) {
      const char *why = ex < 0 ? sevir_h5_errmsg(msg, sizeof msg) : "no such dataset";
      H5Fclose(fid);
      vp_die("SEVIR file %s (%s) has no dataset '%s' (%s): the catalog's img_type and the file do "
             "not match, or the file is corrupt", f->path, f->origin, h->dataset, why);
    }
    hid_t d = H5Dopen2(fid, h->dataset, H5P_DEFAULT);
    if (d < 0) {
      sevir_h5_errmsg(msg, sizeof msg);
      H5Fclose(fid);
      vp_die("SEVIR file %s (%s): cannot open dataset '%s': %s. The file is corrupt; download it "
             "again", f->path, f->origin, h->dataset, msg);
    }
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    if (sp < 0 || ty < 0 || dcpl < 0)
      vp_die("SEVIR file %s: cannot read the shape, type or layout of dataset '%s': %s", f->path,
             h->dataset, sevir_h5_errmsg(msg, sizeof msg));
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd != 4)
      vp_die("SEVIR file %s: dataset '%s' has %d dimensions; SEVIR rasters are (N, H, W, T) "
             "(events, rows, columns, frames)", f->path, h->dataset, nd);
    if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
      vp_die("SEVIR file %s: cannot read the shape of dataset '%s': %s", f->path, h->dataset,
             sevir_h5_errmsg(msg, sizeof msg));
    if (H5Tget_class(ty) != H5T_INTEGER || H5Tget_size(ty) != 1 || H5Tget_sign(ty) != H5T_SGN_NONE)
      vp_die("SEVIR file %s: dataset '%s' is not 8-bit unsigned integers (class %d, %zu bytes); "
             "SEVIR VIL is stored as uint8 codes 0..254 with 255 = missing", f->path, h->dataset,
             (int)H5Tget_class(ty), H5Tget_size(ty));
    f->n = (int64_t)dims[0];
    f->h = (int64_t)dims[1];
    f->w = (int64_t)dims[2];
    f->t = (int64_t)dims[3];
    if (f->h < 1 || f->w < 1 || f->t < 1)
      vp_die("SEVIR file %s: dataset '%s' has an empty frame shape (%lld, %lld, %lld, %lld)", f->path,
             h->dataset, (long long)f->n, (long long)f->h, (long long)f->w, (long long)f->t);
    check_filters(h, f, dcpl);
    H5D_layout_t lay = H5Pget_layout(dcpl);
    if (lay < 0)
      vp_die("SEVIR file %s: cannot read the layout of dataset '%s': %s", f->path, h->dataset,
             sevir_h5_errmsg(msg, sizeof msg));
    f->chunked = lay == H5D_CHUNKED;
    f->cache_bytes = 0;
    f->cache_slots = 0;
    if (f->chunked) {
      hsize_t cd[4];
      if (H5Pget_chunk(dcpl, 4, cd) != 4)
        vp_die("SEVIR file %s: cannot read the chunk shape of dataset '%s': %s", f->path, h->dataset,
               sevir_h5_errmsg(msg, sizeof msg));
      // Chunks one event (1, H, W, T) touches, and their bytes.
      size_t nch = 1, chunk_bytes = 1;
      for (int k = 0; k < 4; k++) {
        chunk_bytes *= (size_t)cd[k];
        if (k > 0) nch *= (size_t)((dims[k] + cd[k] - 1) / cd[k]);
      }
      size_t bytes = nch * chunk_bytes;
      const size_t cap = (size_t)1 << 30;  // a pathological chunking must not take all memory
      f->cache_bytes = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : (bytes > cap ? cap : bytes);
      f->cache_slots = next_prime(nch * 100 > 521 ? nch * 100 : 521);
    }
    H5_CLOSE(H5Pclose(dcpl), f->path);
    H5_CLOSE(H5Tclose(ty), f->path);
    H5_CLOSE(H5Sclose(sp), f->path);
    H5_CLOSE(H5Dclose(d), f->path);
    f->inspected = 1;
  }
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  if (dapl < 0) vp_die("H5Pcreate(H5P_DATASET_ACCESS) failed: %s", sevir_h5_errmsg(msg, sizeof msg));
  // w0 = 1: a chunk read completely is evicted first; an event's chunks are
  // all read completely by one hyperslab read.
  if (f->chunked && H5Pset_chunk_cache(dapl, f->cache_slots, f->cache_bytes, 1.0) < 0)
    vp_die("H5Pset_chunk_cache failed: %s", sevir_h5_errmsg(msg, sizeof msg));
  hid_t did = H5Dopen2(fid, h->dataset, dapl);
  H5_CLOSE(H5Pclose(dapl), f->path);
  if (did < 0) {
    sevir_h5_errmsg(msg, sizeof msg);
    H5Fclose(fid);
    vp_die("SEVIR file %s (%s): cannot open dataset '%s': %s", f->path, f->origin, h->dataset, msg);
  }
  f->hid_file = fid;
  f->hid_dset = did;
  h->nopen++;
  return f;
}

void sevir_h5_inspect(sevir_h5 *h, int i) { (void)file_open(h, i); }

void sevir_h5_read(sevir_h5 *h, int i, int64_t index, int64_t t0, int64_t nt, uint8_t *out) {
  sevir_h5_quiet();
  sevir_h5_file *f = file_open(h, i);
  char msg[256];
  if (index < 0 || index >= f->n || t0 < 0 || nt < 1 || t0 + nt > f->t)
    vp_die("SEVIR file %s: event %lld frames [%lld, %lld) lie outside dataset '%s' of shape "
           "(%lld, %lld, %lld, %lld)", f->path, (long long)index, (long long)t0, (long long)(t0 + nt),
           h->dataset, (long long)f->n, (long long)f->h, (long long)f->w, (long long)f->t);
  hsize_t start[4] = {(hsize_t)index, 0, 0, (hsize_t)t0};
  hsize_t count[4] = {1, (hsize_t)f->h, (hsize_t)f->w, (hsize_t)nt};
  hid_t fsp = H5Dget_space((hid_t)f->hid_dset);
  if (fsp < 0 || H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
    vp_die("SEVIR file %s: selecting event %lld of dataset '%s' failed: %s", f->path, (long long)index,
           h->dataset, sevir_h5_errmsg(msg, sizeof msg));
  hid_t msp = H5Screate_simple(4, count, NULL);
  if (msp < 0) vp_die("H5Screate_simple failed: %s", sevir_h5_errmsg(msg, sizeof msg));
  herr_t rc = H5Dread((hid_t)f->hid_dset, H5T_NATIVE_UCHAR, msp, fsp, H5P_DEFAULT, out);
  if (rc < 0) sevir_h5_errmsg(msg, sizeof msg);  // before the next call clears the stack
  H5_CLOSE(H5Sclose(msp), f->path);
  H5_CLOSE(H5Sclose(fsp), f->path);
  if (rc < 0)
    vp_die("SEVIR file %s (%s): reading event %lld (frames %lld..%lld) of dataset '%s' failed: %s. "
           "The file is truncated or corrupt; download it again", f->path, f->origin, (long long)index,
           (long long)t0, (long long)(t0 + nt - 1), h->dataset, msg);
}

int sevir_h5_read_ids(sevir_h5 *h, int i, char *ids, size_t idlen) {
  sevir_h5_quiet();
  sevir_h5_file *f = file_open(h, i);
  char msg[256];
  hid_t fid = (hid_t)f->hid_file;
  if (H5Lexists(fid, "id", H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  hid_t d = H5Dopen2(fid, "id", H5P_DEFAULT);
  if (d < 0)
    vp_die("SEVIR file %s: cannot open dataset 'id': %s", f->path, sevir_h5_errmsg(msg, sizeof msg));
  hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
  if (ty < 0 || sp < 0)
    vp_die("SEVIR file %s: cannot read the type of dataset 'id': %s", f->path,
           sevir_h5_errmsg(msg, sizeof msg));
  int ok = H5Tget_class(ty) == H5T_STRING && H5Sget_simple_extent_ndims(sp) == 1;
  hsize_t n = 0;
  if (ok && H5Sget_simple_extent_dims(sp, &n, NULL) < 0)
    vp_die("SEVIR file %s: cannot read the shape of dataset 'id': %s", f->path, sevir_h5_errmsg(msg, sizeof msg));
  if (!ok || (int64_t)n != f->n) {
    H5_CLOSE(H5Sclose(sp), f->path);
    H5_CLOSE(H5Tclose(ty), f->path);
    H5_CLOSE(H5Dclose(d), f->path);
    if (!ok) return -1;
    vp_die("SEVIR file %s: dataset 'id' has %lld entries but '%s' has %lld events; the file is "
           "inconsistent", f->path, (long long)n, h->dataset, (long long)f->n);
  }
  memset(ids, 0, (size_t)n * idlen);
  htri_t vlen = H5Tis_variable_str(ty);
  if (vlen > 0) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    char **s = vp_calloc(n ? n : 1, sizeof(char *));
    if (mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) < 0)
      vp_die("SEVIR file %s: reading dataset 'id' failed: %s", f->path, sevir_h5_errmsg(msg, sizeof msg));
    for (hsize_t k = 0; k < n; k++) snprintf(ids + k * idlen, idlen, "%s", s[k] ? s[k] : "");
    if (H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, s) < 0)
      vp_die("H5Dvlen_reclaim failed: %s", sevir_h5_errmsg(msg, sizeof msg));
    free(s);
    H5_CLOSE(H5Tclose(mt), f->path);
  } else {
    size_t sz = H5Tget_size(ty);
    if (sz == 0) vp_die("SEVIR file %s: dataset 'id' has zero-length strings", f->path);
    hid_t mt = H5Tcopy(ty);
    char *raw = vp_malloc((size_t)(n ? n : 1) * sz);
    if (mt < 0 || H5Tset_cset(mt, H5T_CSET_ASCII) < 0 ||
        H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
      vp_die("SEVIR file %s: reading dataset 'id' failed: %s", f->path, sevir_h5_errmsg(msg, sizeof msg));
    for (hsize_t k = 0; k < n; k++) {
      size_t L = 0;
      const char *s = raw + k * sz;
      while (L < sz && s[L]) L++;
      if (L > idlen - 1) L = idlen - 1;
      memcpy(ids + k * idlen, s, L);
    }
    free(raw);
    H5_CLOSE(H5Tclose(mt), f->path);
  }
  // Space padding (H5T_STR_SPACEPAD) is not part of the id.
  for (hsize_t k = 0; k < n; k++) {
    char *s = ids + k * idlen;
    size_t L = strlen(s);
    while (L && s[L - 1] == ' ') s[--L] = 0;
  }
  H5_CLOSE(H5Sclose(sp), f->path);
  H5_CLOSE(H5Tclose(ty), f->path);
  H5_CLOSE(H5Dclose(d), f->path);
  return 0;
}
