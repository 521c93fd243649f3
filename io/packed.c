// packed.c: `data.source: packed`: clips from packed HDF5 files written by
// `vpcast data pack` / `vpcast data synth` (layout: packed_write.h; which files,
// splits and windows: packed.h).
//
// Normalisation (physical = raw * scale + offset, from the file):
//   rgb, field  [vmin, vmax] of the file -> data.packed.rgb_range (default [-1, 1])
//   depth       [vmin, depth_max] -> data.packed.depth_range (default [-1, 1]);
//               depth_max = data.packed.depth_max, or the file's vmax when 0;
//               raw == invalid gives 0 with mask 0
//   semantic    the class id, as a float (1 channel)
// These defaults are the /127.5 - 1 convention of the video models and
// match data.source: synth, so a synth file and the synth source agree.
// Decoding is a lookup table per modality (256 or 65536 floats).
#include "io/packed.h"

#include <dirent.h>
#include <glob.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "io/hdf5_lock.h"
#include "io/packed_write.h"

const vp_option opts_data_packed[] = {
    {.key = "data.packed.stride", .type = OPT_INT, .def = "0", .range = "[0, 4096]",
     .help = "packed source: frames between window starts inside a stored clip (0: data.frames)"},
    {.key = "data.packed.rgb_range", .type = OPT_FLOAT_LIST, .def = "[-1, 1]", .len = 2,
     .help = "packed source: [lo, hi] that rgb (and field) [vmin, vmax] maps to, e.g. [0, 1]"},
    {.key = "data.packed.depth_range", .type = OPT_FLOAT_LIST, .def = "[-1, 1]", .len = 2,
     .help = "packed source: [lo, hi] that depth [vmin, depth_max] maps to"},
    {.key = "data.packed.depth_max", .type = OPT_FLOAT, .def = "0", .range = "[0, inf)",
     .help = "packed source: physical depth mapped to the top of depth_range (0: the file's vmax)"},
    OPT_END,
};

typedef struct pk_mod {
  char name[32];
  vp_mod_kind kind;
  int C;
  packed_dtype dtype;
  double scale, offset, vmin, vmax;
  int has_invalid;
  int64_t invalid;
  char file_kind[16];
  float a, b;            // normalised = raw * a + b (computed in float, as the synth source does)
} pk_mod;

typedef struct pk_file {
  char path[4096];
  hid_t file;
  hid_t ds[VP_MAX_MOD];  // per selected modality
  int direct[VP_MAX_MOD];  // chunks stored unfiltered in host byte order: read them whole, as they are
  int64_t n;             // clips stored
  uint8_t *split;        // (n,)
  char **ids;            // (n,)
} pk_file;

typedef struct pk_src {
  int nfiles;
  pk_file *f;
  int64_t nsel;          // selected clips
  int32_t *sel_file;     // (nsel,)
  int64_t *sel_clip;     // (nsel,)
  int Tst;               // frames per stored clip
  int frames, stride, wpc;
  pk_mod mod[VP_MAX_MOD];
  void *raw;             // one window of one modality, raw
} pk_src;

// ---- HDF5 helpers; every failure names the file ----

static VP_NORETURN void h5die(const char *path, const char *what) {
  char m[512];
  packed_h5_error(m, sizeof m);
  vp_die("packed file %s: %s%s%s", path, what, m[0] ? ": " : "", m);
}

// A string attribute (fixed or variable length) of obj into buf; 0, or -1 if absent.
static int attr_str(const char *path, hid_t obj, const char *name, char *buf, size_t n) {
  buf[0] = 0;
  if (H5Aexists(obj, name) <= 0) return -1;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) h5die(path, "cannot open an attribute");
  hid_t t = H5Aget_type(a);
  if (t < 0 || H5Tget_class(t) != H5T_STRING) {
    char w[128];
    snprintf(w, sizeof w, "attribute '%s' is not a string", name);
    h5die(path, w);
  }
  // Memory types copy the file's so the character sets match (HDF5 does not convert them).
  if (H5Tis_variable_str(t) > 0) {
    hid_t mt = H5Tcopy(t);
    char *s = NULL;
    if (H5Aread(a, mt, &s) < 0) h5die(path, "cannot read a string attribute");
    snprintf(buf, n, "%s", s ? s : "");
    H5free_memory(s);
    H5Tclose(mt);
  } else {
    size_t sz = H5Tget_size(t);
    char *s = vp_calloc(sz + 1, 1);
    hid_t mt = H5Tcopy(t);
    H5Tset_size(mt, sz + 1);
    H5Tset_strpad(mt, H5T_STR_NULLTERM);
    if (H5Aread(a, mt, s) < 0) h5die(path, "cannot read a string attribute");
    snprintf(buf, n, "%s", s);
    free(s);
    H5Tclose(mt);
  }
  H5Tclose(t);
  H5Aclose(a);
  return 0;
}

static int attr_num(const char *path, hid_t obj, const char *name, hid_t mt, void *out) {
  if (H5Aexists(obj, name) <= 0) return -1;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0 || H5Aread(a, mt, out) < 0) {
    char w[128];
    snprintf(w, sizeof w, "cannot read numeric attribute '%s'", name);
    h5die(path, w);
  }
  H5Aclose(a);
  return 0;
}

static int64_t need_i64(const char *path, hid_t obj, const char *where, const char *name) {
  int64_t v;
  if (attr_num(path, obj, name, H5T_NATIVE_INT64, &v) != 0)
    vp_die("packed file %s: attribute %s of %s is missing; the file is damaged or not written by vpcast",
           path, name, where);
  return v;
}

static double need_f64(const char *path, hid_t obj, const char *where, const char *name) {
  double v;
  if (attr_num(path, obj, name, H5T_NATIVE_DOUBLE, &v) != 0)
    vp_die("packed file %s: attribute %s of %s is missing; the file is damaged or not written by vpcast",
           path, name, where);
  return v;
}

// ---- which files ----

static int natcmp(const char *a, const char *b) {
  while (*a && *b) {
    if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
      while (*a == '0') a++;
      while (*b == '0') b++;
      size_t na = 0, nb = 0;
      while (a[na] >= '0' && a[na] <= '9') na++;
      while (b[nb] >= '0' && b[nb] <= '9') nb++;
      if (na != nb) return na < nb ? -1 : 1;
      int c = strncmp(a, b, na);
      if (c) return c;
      a += na;
      b += nb;
    } else {
      if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
      a++;
      b++;
    }
  }
  return *a ? 1 : *b ? -1 : 0;
}

static int cmp_nat(const void *x, const void *y) { return natcmp(*(char *const *)x, *(char *const *)y); }

static void add_path(char ***v, int *n, const char *p) {
  *v = vp_realloc(*v, (size_t)(*n + 1) * sizeof(char *));
  (*v)[(*n)++] = vp_strdup(p);
}

// data.path -> the list of files (see packed.h).
static char **resolve_paths(const char *dp, int *nout) {
  char **v = NULL;
  int n = 0;
  struct stat st;
  if (!dp[0]) vp_die("data.source = packed needs data.path (a packed .h5 file, its shards, or a folder)");
  if (strchr(dp, ',')) {
    char *buf = vp_strdup(dp);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
      while (*tok == ' ') tok++;
      if (!*tok) continue;
      if (stat(tok, &st) != 0 || !S_ISREG(st.st_mode))
        vp_die("data.path: %s (in the list %s) is not a file: %s", tok, dp, strerror(errno ? errno : ENOENT));
      add_path(&v, &n, tok);
    }
    free(buf);
  } else if (stat(dp, &st) == 0 && S_ISDIR(st.st_mode)) {
    DIR *d = opendir(dp);
    if (!d) vp_die("data.path: cannot read folder %s: %s", dp, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      size_t k = strlen(e->d_name);
      if (e->d_name[0] == '.' || k < 4 || strcmp(e->d_name + k - 3, ".h5") != 0) continue;
      char *p = vp_malloc(strlen(dp) + k + 2);
      sprintf(p, "%s/%s", dp, e->d_name);
      add_path(&v, &n, p);
      free(p);
    }
    closedir(d);
    if (n == 0) vp_die("data.path: folder %s holds no .h5 files", dp);
    qsort(v, (size_t)n, sizeof(char *), cmp_nat);
  } else if (stat(dp, &st) == 0) {
    add_path(&v, &n, dp);
  } else {
    // FILE.h5 written by several ranks: FILE-RRRRR-of-NNNNN.h5
    size_t k = strlen(dp);
    if (k > 3 && strcmp(dp + k - 3, ".h5") == 0) k -= 3;
    char pat[4200];
    snprintf(pat, sizeof pat, "%.*s-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].h5", (int)k, dp);
    glob_t g;
    int rc = glob(pat, 0, NULL, &g);
    if (rc != 0 || g.gl_pathc == 0) {
      if (rc == 0) globfree(&g);
      vp_die("data.path: %s does not exist (nor shards %.*s-00000-of-NNNNN.h5); write it with "
             "'vpcast data pack' or 'vpcast data synth'", dp, (int)k, dp);
    }
    int of = -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
      int o = atoi(g.gl_pathv[i] + strlen(g.gl_pathv[i]) - 8);
      if (of >= 0 && o != of)
        vp_die("data.path: %s matches shards of two packs (%s and %s, of %d and %d shards); remove the "
               "stale set or name a file", dp, g.gl_pathv[0], g.gl_pathv[i], of, o);
      of = o;
    }
    char *p = vp_malloc(k + 32);
    for (int r = 0; r < of; r++) {
      sprintf(p, "%.*s-%05d-of-%05d.h5", (int)k, dp, r, of);
      if (stat(p, &st) != 0) vp_die("data.path: shard %s of %s is missing (%d shards expected)", p, dp, of);
      add_path(&v, &n, p);
    }
    free(p);
    globfree(&g);
  }
  *nout = n;
  return v;
}

// ---- opening ----

static void read_clip_table(pk_file *F) {
  const char *p = F->path;
  if (H5Lexists(F->file, "clips", H5P_DEFAULT) <= 0 || H5Lexists(F->file, "clips/split", H5P_DEFAULT) <= 0 ||
      H5Lexists(F->file, "clips/id", H5P_DEFAULT) <= 0)
    vp_die("packed file %s: dataset /clips/split or /clips/id is missing; the file is damaged or was "
           "not closed (repack it)", p);
  F->split = vp_malloc((size_t)F->n + 1);
  F->ids = vp_calloc((size_t)F->n + 1, sizeof(char *));
  hid_t ds = H5Dopen2(F->file, "clips/split", H5P_DEFAULT);
  if (ds < 0) h5die(p, "cannot open /clips/split");
  hid_t sp = H5Dget_space(ds);
  hsize_t d = 0;
  if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &d, NULL) < 0 || (int64_t)d != F->n)
    vp_die("packed file %s: /clips/split has %llu entries for %" PRId64 " clips", p, (unsigned long long)d, F->n);
  if (F->n && H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, F->split) < 0)
    h5die(p, "cannot read /clips/split");
  H5Sclose(sp);
  H5Dclose(ds);
  for (int64_t i = 0; i < F->n; i++)
    if (F->split[i] >= PACKED_NSPLIT)
      vp_die("packed file %s: clip %" PRId64 " has split code %d (0 train, 1 val, 2 test)", p, i, F->split[i]);
  ds = H5Dopen2(F->file, "clips/id", H5P_DEFAULT);
  if (ds < 0) h5die(p, "cannot open /clips/id");
  sp = H5Dget_space(ds);
  if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &d, NULL) < 0 || (int64_t)d != F->n)
    vp_die("packed file %s: /clips/id has %llu entries for %" PRId64 " clips", p, (unsigned long long)d, F->n);
  // Read with the file's own string type (its character set must match).
  hid_t mt = H5Dget_type(ds);
  if (mt < 0 || H5Tget_class(mt) != H5T_STRING || H5Tis_variable_str(mt) <= 0)
    vp_die("packed file %s: /clips/id must hold variable-length strings", p);
  char **tmp = vp_calloc((size_t)F->n + 1, sizeof(char *));
  if (F->n && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0) h5die(p, "cannot read /clips/id");
  for (int64_t i = 0; i < F->n; i++) F->ids[i] = vp_strdup(tmp[i] ? tmp[i] : "");
  if (F->n) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mt, sp, H5P_DEFAULT, tmp);
#else
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
#endif
  }
  free(tmp);
  H5Tclose(mt);
  H5Sclose(sp);
  H5Dclose(ds);
}

// Reads modality `name` of file F into md (first file) or checks that it
// matches md (later files); opens its frames dataset as F->ds[m].
static void open_modality(pk_file *F, int first, const char *name, int m, pk_mod *md, int T, int H, int W,
                          const char *first_path) {
  const char *p = F->path;
  char grp[96], dsn[128];
  snprintf(grp, sizeof grp, "modalities/%s", name);
  snprintf(dsn, sizeof dsn, "modalities/%s/frames", name);
  if (H5Lexists(F->file, "modalities", H5P_DEFAULT) <= 0 || H5Lexists(F->file, grp, H5P_DEFAULT) <= 0 ||
      H5Lexists(F->file, dsn, H5P_DEFAULT) <= 0)
    vp_die("packed file %s: dataset /%s is missing; the file is damaged or was not written by vpcast", p, dsn);
  hid_t g = H5Gopen2(F->file, grp, H5P_DEFAULT);
  if (g < 0) h5die(p, "cannot open a modality group");
  pk_mod t;
  memset(&t, 0, sizeof t);
  snprintf(t.name, sizeof t.name, "%s", name);
  char where[128];
  snprintf(where, sizeof where, "/%s", grp);
  if (attr_str(p, g, "kind", t.file_kind, sizeof t.file_kind) != 0)
    vp_die("packed file %s: attribute kind of %s is missing", p, where);
  int kind = packed_kind_parse(t.file_kind);
  if (kind < 0) vp_die("packed file %s: %s has kind '%s' (rgb, depth, semantic, field)", p, where, t.file_kind);
  t.kind = (vp_mod_kind)kind;
  t.scale = need_f64(p, g, where, "scale");
  t.offset = need_f64(p, g, where, "offset");
  t.vmin = need_f64(p, g, where, "vmin");
  t.vmax = need_f64(p, g, where, "vmax");
  t.has_invalid = need_i64(p, g, where, "has_invalid") != 0;
  t.invalid = need_i64(p, g, where, "invalid");
  H5Gclose(g);

  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  hid_t ds = H5Dopen2(F->file, dsn, dapl);
  if (ds < 0) h5die(p, "cannot open a frames dataset");
  hid_t sp = H5Dget_space(ds);
  hsize_t d[5];
  if (H5Sget_simple_extent_ndims(sp) != 5)
    vp_die("packed file %s: /%s must have 5 dimensions (N, T, H, W, C)", p, dsn);
  H5Sget_simple_extent_dims(sp, d, NULL);
  H5Sclose(sp);
  if ((int64_t)d[0] != F->n || (int)d[1] != T || (int)d[2] != H || (int)d[3] != W || d[4] < 1)
    vp_die("packed file %s: /%s is (%llu, %llu, %llu, %llu, %llu), but the file says %" PRId64
           " clips of %dx%dx%d", p, dsn, (unsigned long long)d[0], (unsigned long long)d[1],
           (unsigned long long)d[2], (unsigned long long)d[3], (unsigned long long)d[4], F->n, T, H, W);
  t.C = (int)d[4];
  hid_t ty = H5Dget_type(ds);
  size_t tsz = H5Tget_size(ty);
  if (H5Tget_class(ty) != H5T_INTEGER || H5Tget_sign(ty) != H5T_SGN_NONE || (tsz != 1 && tsz != 2))
    vp_die("packed file %s: /%s must be uint8 or uint16", p, dsn);
  t.dtype = tsz == 1 ? PACKED_U8 : PACKED_U16;
  const int one = 1;
  const int host_order = tsz == 1 || H5Tget_order(ty) == (*(const char *)&one ? H5T_ORDER_LE : H5T_ORDER_BE);
  H5Tclose(ty);
  // Unfiltered chunks are read straight into our buffer; a chunk cache only
  // pays when a compressed clip is read window by window.
  hid_t dcpl = H5Dget_create_plist(ds);
  int nfilt = H5Pget_nfilters(dcpl);
  H5Pclose(dcpl);
  H5Dclose(ds);
  size_t chunk = (size_t)T * H * W * t.C * tsz;
  if (H5Pset_chunk_cache(dapl, 521, nfilt > 0 ? 2 * chunk + 1 : 0, 1.0) < 0) h5die(p, "H5Pset_chunk_cache");
  F->ds[m] = H5Dopen2(F->file, dsn, dapl);
  if (F->ds[m] < 0) h5die(p, "cannot open a frames dataset");
  F->direct[m] = nfilt == 0 && host_order;
  H5Pclose(dapl);

  if (first) {
    *md = t;
  } else if (md->kind != t.kind || md->C != t.C || md->dtype != t.dtype || md->scale != t.scale ||
             md->offset != t.offset || md->has_invalid != t.has_invalid || md->invalid != t.invalid ||
             md->vmin != t.vmin || md->vmax != t.vmax) {
    vp_die("packed files %s and %s encode modality %s differently (kind, channels, type, scale, offset, "
           "invalid value or range); read them separately", first_path, p, name);
  }
}

// The affine map raw -> normalised value of a modality.
static void set_norm(pk_mod *md, const vp_config *cfg, const char *path) {
  int n = 0;
  const double *rr = cfg_float_list(cfg, "data.packed.rgb_range", &n);
  const double *dr = cfg_float_list(cfg, "data.packed.depth_range", &n);
  if (md->kind == VP_MOD_SEMANTIC) {  // class ids stay ids
    md->a = (float)md->scale;
    md->b = (float)md->offset;
    return;
  }
  double lo = rr[0], hi = rr[1], vmin = md->vmin, vmax = md->vmax;
  if (md->kind == VP_MOD_DEPTH) {
    lo = dr[0];
    hi = dr[1];
    double dm = cfg_float(cfg, "data.packed.depth_max");
    if (dm > 0) vmax = dm;
  }
  if (!(vmax > vmin))
    vp_die("packed file %s: modality %s has the range [%g, %g]; set data.packed.depth_max above %g or "
           "repack", path, md->name, vmin, vmax, vmin);
  // [vmin, vmax] -> [lo, hi] of physical = raw * scale + offset.
  md->a = (float)((hi - lo) * md->scale / (vmax - vmin));
  md->b = (float)((hi - lo) * (md->offset - vmin) / (vmax - vmin) + lo);
}

static void pk_file_close(pk_file *F, int nmod) {
  for (int m = 0; m < nmod; m++)
    if (F->ds[m] > 0) H5Dclose(F->ds[m]);
  if (F->file > 0) H5Fclose(F->file);
  for (int64_t i = 0; i < F->n; i++) free(F->ids[i]);
  free(F->ids);
  free(F->split);
}

// ---- reading ----

static int64_t pk_count(vp_source *s) {
  pk_src *p = s->impl;
  return p->nsel * p->wpc;
}

// Frames [t0, t0 + nt) of stored clip k of file F, modality m, raw, into buf.
static void read_raw(vp_source *s, const pk_file *F, int m, int64_t k, int t0, int nt, void *buf) {
  pk_src *p = s->impl;
  const pk_mod *md = &p->mod[m];
  if (F->direct[m] && t0 == 0 && nt == p->Tst) {
    // A whole clip is one chunk: skip HDF5's selection and conversion machinery.
    hsize_t off[5] = {(hsize_t)k, 0, 0, 0, 0};
    uint32_t filters = 0;
    if (H5Dread_chunk(F->ds[m], H5P_DEFAULT, off, &filters, buf) >= 0) return;
    // (a chunk never written, say): the general path reads it or explains
  }
  hid_t fs = H5Dget_space(F->ds[m]);
  hsize_t start[5] = {(hsize_t)k, (hsize_t)t0, 0, 0, 0};
  hsize_t cnt[5] = {1, (hsize_t)nt, (hsize_t)s->H, (hsize_t)s->W, (hsize_t)md->C};
  if (fs < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0)
    h5die(F->path, "cannot select a clip");
  hid_t ms = H5Screate_simple(5, cnt, NULL);
  hid_t mt = md->dtype == PACKED_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_UINT16;
  if (H5Dread(F->ds[m], mt, ms, fs, H5P_DEFAULT, buf) < 0) {
    char what[160];
    snprintf(what, sizeof what, "cannot read clip %" PRId64 " of /modalities/%s/frames (truncated or "
             "corrupt file?)", k, md->name);
    h5die(F->path, what);
  }
  H5Sclose(ms);
  H5Sclose(fs);
}

// raw (px, C) -> out (px, C) normalised; invalid raw values give 0, and mask
// (px) is 1 where no channel of the pixel is invalid. Plain loops the
// compiler vectorises: this runs for every value the trainer sees.
static void decode(const pk_mod *md, const void *raw, size_t px, float *out, uint8_t *mask) {
  const size_t n = px * (size_t)md->C, C = (size_t)md->C;
  const float a = md->a, b = md->b;
  if (md->dtype == PACKED_U8) {
    const uint8_t *r = raw;
    for (size_t k = 0; k < n; k++) out[k] = (float)r[k] * a + b;
  } else {
    const uint16_t *r = raw;
    for (size_t k = 0; k < n; k++) out[k] = (float)r[k] * a + b;
  }
  if (!md->has_invalid) return;
  const int64_t inv = md->invalid;
  if (C == 1) {
    if (md->dtype == PACKED_U8) {
      const uint8_t *r = raw;
      for (size_t k = 0; k < n; k++) {
        mask[k] = r[k] != inv;
        out[k] = r[k] != inv ? out[k] : 0.0f;
      }
    } else {
      const uint16_t *r = raw;
      for (size_t k = 0; k < n; k++) {
        mask[k] = r[k] != inv;
        out[k] = r[k] != inv ? out[k] : 0.0f;
      }
    }
    return;
  }
  for (size_t k = 0; k < px; k++) {
    uint8_t ok = 1;
    for (size_t ch = 0; ch < C; ch++) {
      int64_t v = md->dtype == PACKED_U8 ? ((const uint8_t *)raw)[k * C + ch] : ((const uint16_t *)raw)[k * C + ch];
      if (v == inv) {
        ok = 0;
        out[k * C + ch] = 0.0f;
      }
    }
    mask[k] = ok;
  }
}

static void pk_read(vp_source *s, int64_t i, vp_clip *out) {
  pk_src *p = s->impl;
  if (i < 0 || i >= pk_count(s))
    vp_die("packed source: clip %" PRId64 " out of range (%" PRId64 " clips)", i, pk_count(s));
  const int64_t c = i / p->wpc;
  const int t0 = (int)(i % p->wpc) * p->stride;
  const pk_file *F = &p->f[p->sel_file[c]];
  const size_t px = (size_t)s->T * s->H * s->W;
  for (int m = 0; m < s->nmod; m++) {
    io_hdf5_lock();
    read_raw(s, F, m, p->sel_clip[c], t0, s->T, p->raw);
    io_hdf5_unlock();
    decode(&p->mod[m], p->raw, px, out->data[m], out->mask[m]);
  }
}

// Statistics from a histogram of raw values: exact, and independent of how
// the clips are split over ranks.
static void pk_raw_stats(vp_source *s, int rank, int nranks, vp_raw_stats *st) {
  pk_src *p = s->impl;
  VP_ASSERT(nranks >= 1 && rank >= 0 && rank < nranks);
  const int64_t lo = p->nsel * rank / nranks, hi = p->nsel * (rank + 1) / nranks;
  const int used = (p->wpc - 1) * p->stride + p->frames;  // frames any window covers
  const size_t px = (size_t)used * s->H * s->W;
  size_t cmax = 1;
  for (int m = 0; m < s->nmod; m++)
    if ((size_t)p->mod[m].C > cmax) cmax = (size_t)p->mod[m].C;
  void *buf = vp_malloc(px * cmax * 2);
  int64_t *hist = vp_calloc(65536, sizeof(int64_t));
  io_hdf5_lock();
  for (int m = 0; m < s->nmod; m++) {
    const pk_mod *md = &p->mod[m];
    const size_t n = px * (size_t)md->C;
    memset(hist, 0, 65536 * sizeof(int64_t));
    for (int64_t c = lo; c < hi; c++) {
      read_raw(s, &p->f[p->sel_file[c]], m, p->sel_clip[c], 0, used, buf);
      if (md->dtype == PACKED_U8)
        for (size_t k = 0; k < n; k++) hist[((const uint8_t *)buf)[k]]++;
      else
        for (size_t k = 0; k < n; k++) hist[((const uint16_t *)buf)[k]]++;
    }
    for (int r = 0; r < 65536; r++) {
      if (!hist[r]) continue;
      st[m].total += hist[r];
      if (md->has_invalid && r == md->invalid) continue;
      double phys = (double)r * md->scale + md->offset;
      st[m].valid += hist[r];
      st[m].sum += phys * (double)hist[r];
      if (phys < st[m].min) st[m].min = phys;
      if (phys > st[m].max) st[m].max = phys;
    }
  }
  io_hdf5_unlock();
  free(hist);
  free(buf);
}

static void pk_close(vp_source *s) {
  pk_src *p = s->impl;
  io_hdf5_lock();
  for (int k = 0; k < p->nfiles; k++) pk_file_close(&p->f[k], s->nmod);
  io_hdf5_unlock();
  free(p->f);
  free(p->sel_file);
  free(p->sel_clip);
  free(p->raw);
  free(p);
  free(s);
}

static const vp_source_ops packed_ops = {pk_count, pk_read, pk_raw_stats, pk_close};

static pk_src *impl_of(vp_source *s) {
  if (!s || strcmp(s->kind, "packed") != 0) vp_die("internal: not a packed source");
  return s->impl;
}

const char *packed_source_clip_id(vp_source *s, int64_t i, int *t0) {
  pk_src *p = impl_of(s);
  VP_ASSERT(i >= 0 && i < pk_count(s));
  int64_t c = i / p->wpc;
  if (t0) *t0 = (int)(i % p->wpc) * p->stride;
  return p->f[p->sel_file[c]].ids[p->sel_clip[c]];
}

int packed_source_clip_split(vp_source *s, int64_t i) {
  pk_src *p = impl_of(s);
  VP_ASSERT(i >= 0 && i < pk_count(s));
  int64_t c = i / p->wpc;
  return p->f[p->sel_file[c]].split[p->sel_clip[c]];
}

int packed_source_nfiles(vp_source *s) { return impl_of(s)->nfiles; }

const char *packed_source_file(vp_source *s, int k) {
  pk_src *p = impl_of(s);
  VP_ASSERT(k >= 0 && k < p->nfiles);
  return p->f[k].path;
}

vp_source *packed_source_open(const vp_config *cfg) {
  char where[512];
  int nfiles = 0;
  char **paths = resolve_paths(cfg_str(cfg, "data.path"), &nfiles);
  const char *split = cfg_str(cfg, "data.split");
  int want_split = strcmp(split, "all") == 0 ? -1 : packed_split_parse(split);
  if (want_split < 0 && strcmp(split, "all") != 0)
    vp_die("data.split = %s (%s): packed files have the splits train, val, test (or 'all')", split,
           cfg_source(cfg, "data.split", where, sizeof where));
  int nm = 0;
  char *const *names = cfg_str_list(cfg, "data.modalities", &nm);
  if (nm > VP_MAX_MOD)
    vp_die("data.modalities (%s): %d modalities, at most %d", cfg_source(cfg, "data.modalities", where, sizeof where),
           nm, VP_MAX_MOD);

  pk_src *p = vp_calloc(1, sizeof(*p));
  vp_source *s = vp_calloc(1, sizeof(*s));
  s->ops = &packed_ops;
  s->kind = "packed";
  s->impl = p;
  p->nfiles = nfiles;
  p->f = vp_calloc((size_t)nfiles, sizeof(pk_file));
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  io_hdf5_lock();
  int H = 0, W = 0;
  char sel_names[VP_MAX_MOD][32];
  int64_t per_split[PACKED_NSPLIT] = {0};
  for (int k = 0; k < nfiles; k++) {
    pk_file *F = &p->f[k];
    snprintf(F->path, sizeof F->path, "%s", paths[k]);
    const char *path = F->path;
    F->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (F->file < 0) {
      char m[512];
      packed_h5_error(m, sizeof m);
      vp_die("cannot open packed file %s: %s; is it an HDF5 file (truncated, or still being written)?", path,
             m[0] ? m : "not an HDF5 file");
    }
    char fmt[64];
    if (attr_str(path, F->file, "format", fmt, sizeof fmt) != 0 || strcmp(fmt, PACKED_FORMAT) != 0)
      vp_die("%s is not a vpcast packed clip file (root attribute format = '%s', expected '%s'); write one "
             "with 'vpcast data pack' or 'vpcast data synth'", path, fmt, PACKED_FORMAT);
    int64_t version = 0;
    if (attr_num(path, F->file, "version", H5T_NATIVE_INT64, &version) != 0)
      vp_die("packed file %s has no version attribute; the file is damaged", path);
    if (version != PACKED_VERSION)
      vp_die("packed file %s has format version %" PRId64 ", but this vpcast reads version %d; repack the "
             "data with this vpcast ('vpcast data pack') or use the vpcast that wrote it", path, version,
             PACKED_VERSION);
    int T = (int)need_i64(path, F->file, "/", "frames");
    int h = (int)need_i64(path, F->file, "/", "height");
    int w = (int)need_i64(path, F->file, "/", "width");
    if (T < 1 || h < 1 || w < 1) vp_die("packed file %s: clip shape %dx%dx%d", path, T, h, w);
    if (k == 0) {
      p->Tst = T;
      H = h;
      W = w;
    } else if (T != p->Tst || h != H || w != W) {
      vp_die("packed files %s and %s hold clips of different shapes (%dx%dx%d and %dx%dx%d frames x H x W)",
             paths[0], path, p->Tst, H, W, T, h, w);
    }
    char mods[VP_MAX_MOD * 33 + 64];
    if (attr_str(path, F->file, "modalities", mods, sizeof mods) != 0 || !mods[0])
      vp_die("packed file %s has no modalities attribute; the file is damaged", path);
    // Modalities: the file's, in its order, or those data.modalities names.
    char have[VP_MAX_MOD][32];
    int nh = 0;
    for (char *tok = strtok(mods, ","); tok && nh < VP_MAX_MOD; tok = strtok(NULL, ","))
      snprintf(have[nh++], 32, "%s", tok);
    if (k == 0) {
      if (nm == 0) {
        s->nmod = nh;
        for (int m = 0; m < nh; m++) snprintf(sel_names[m], 32, "%s", have[m]);
      } else {
        s->nmod = nm;
        for (int m = 0; m < nm; m++) snprintf(sel_names[m], 32, "%.31s", names[m]);
      }
    }
    for (int m = 0; m < s->nmod; m++) {
      int found = 0;
      for (int j = 0; j < nh; j++) found |= strcmp(have[j], sel_names[m]) == 0;
      if (!found) {
        char list[VP_MAX_MOD * 34] = "";
        for (int j = 0; j < nh; j++)
          snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", have[j]);
        vp_die("packed file %s has no modality '%s' (it has %s); fix data.modalities (%s)", path, sel_names[m],
               list, cfg_source(cfg, "data.modalities", where, sizeof where));
      }
      for (int j = 0; j < m; j++)
        if (strcmp(sel_names[j], sel_names[m]) == 0)
          vp_die("data.modalities (%s): '%s' is listed twice", cfg_source(cfg, "data.modalities", where, sizeof where),
                 sel_names[m]);
    }
    F->n = need_i64(path, F->file, "/", "clips");
    if (F->n < 0) vp_die("packed file %s: clips = %" PRId64, path, F->n);
    for (int m = 0; m < s->nmod; m++)
      open_modality(F, k == 0, sel_names[m], m, &p->mod[m], p->Tst, H, W, paths[0]);
    read_clip_table(F);
    for (int64_t i = 0; i < F->n; i++) {
      per_split[F->split[i]]++;
      if (want_split < 0 || F->split[i] == want_split) p->nsel++;
    }
  }
  io_hdf5_unlock();

  if (p->nsel == 0)
    vp_die("data.path %s holds no clips of split '%s' (train %" PRId64 ", val %" PRId64 ", test %" PRId64
           "); set data.split", cfg_str(cfg, "data.path"), split, per_split[0], per_split[1], per_split[2]);
  p->sel_file = vp_malloc((size_t)p->nsel * sizeof(int32_t));
  p->sel_clip = vp_malloc((size_t)p->nsel * sizeof(int64_t));
  int64_t j = 0;
  for (int k = 0; k < nfiles; k++)
    for (int64_t i = 0; i < p->f[k].n; i++)
      if (want_split < 0 || p->f[k].split[i] == want_split) {
        p->sel_file[j] = k;
        p->sel_clip[j++] = i;
      }

  p->frames = (int)cfg_int(cfg, "data.frames");
  if (p->frames > p->Tst)
    vp_die("data.frames = %d (%s) is longer than the %d frames of each clip in %s; lower data.frames or "
           "repack with --frames %d", p->frames, cfg_source(cfg, "data.frames", where, sizeof where), p->Tst,
           paths[0], p->frames);
  p->stride = (int)cfg_int(cfg, "data.packed.stride");
  if (p->stride == 0) p->stride = p->frames;
  p->wpc = (p->Tst - p->frames) / p->stride + 1;
  int n = 0;
  const int64_t *size = cfg_int_list(cfg, "data.size", &n);
  if (cfg_is_set(cfg, "data.size") && (size[0] != H || size[1] != W))
    vp_die("data.size = [%" PRId64 ", %" PRId64 "] (%s), but %s holds %dx%d frames: packed clips are resized "
           "once, when packed; repack with --size or drop data.size", size[0], size[1],
           cfg_source(cfg, "data.size", where, sizeof where), paths[0], H, W);
  s->T = p->frames;
  s->H = H;
  s->W = W;
  size_t cmax = 1;
  for (int m = 0; m < s->nmod; m++) {
    pk_mod *md = &p->mod[m];
    set_norm(md, cfg, paths[0]);
    vp_modality *vm = &s->mod[m];
    snprintf(vm->name, sizeof vm->name, "%s", md->name);
    vm->kind = md->kind;
    vm->channels = md->C;
    vm->has_mask = md->has_invalid;
    if ((size_t)md->C > cmax) cmax = (size_t)md->C;
  }
  p->raw = vp_malloc((size_t)s->T * H * W * cmax * 2);
  for (int k = 0; k < nfiles; k++) free(paths[k]);
  free(paths);
  return s;
}
