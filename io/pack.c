// pack.c: raw Cityscapes / SYNTHIA / BAIR trees -> packed HDF5 clip files (see pack.h).
#include "io/pack.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/check.h"
#include "io/packed_write.h"
#include "io/png.h"
#include "io/resize.h"
#include "io/tfrecord.h"

enum { FMT_CITYSCAPES, FMT_SYNTHIA, FMT_BAIR };
enum { ERRN = 10240 };  // room for two full paths and the message

// ---- small helpers: paths, directory listings ----

static char *path_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = vp_malloc(n);
  snprintf(p, n, "%s/%s", a, b);
  return p;
}

static char *path_fmt(const char *fmt, ...) VP_PRINTF(1, 2);
static char *path_fmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = vp_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && strcmp(s + n - k, suf) == 0;
}

// Natural order: runs of digits compare as numbers, so traj_256 < traj_10240.
static int natcmp(const char *a, const char *b) {
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      while (*a == '0') a++;
      while (*b == '0') b++;
      size_t na = 0, nb = 0;
      while (isdigit((unsigned char)a[na])) na++;
      while (isdigit((unsigned char)b[nb])) nb++;
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

typedef struct strlist {
  int n, cap;
  char **s;
} strlist;

static void sl_push(strlist *l, char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->s = vp_realloc(l->s, (size_t)l->cap * sizeof(char *));
  }
  l->s[l->n++] = s;
}

static void sl_free(strlist *l) {
  for (int i = 0; i < l->n; i++) free(l->s[i]);
  free(l->s);
  memset(l, 0, sizeof *l);
}

// Entries of dir (not . or ..) that are directories (want_dirs) or files
// ending in suffix, in natural order. Dies when dir cannot be read.
static strlist list_dir(const char *dir, int want_dirs, const char *suffix) {
  strlist l = {0};
  DIR *d = opendir(dir);
  if (!d) vp_die("cannot read folder %s: %s", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char *full = path_join(dir, e->d_name);
    int dir_entry = is_dir(full);
    free(full);
    if (want_dirs ? dir_entry : (!dir_entry && (!suffix || ends_with(e->d_name, suffix))))
      sl_push(&l, vp_strdup(e->d_name));
  }
  closedir(d);
  if (l.n) qsort(l.s, (size_t)l.n, sizeof(char *), cmp_nat);
  return l;
}

// ---- the clip list ----

typedef struct pk_seq {
  int split;
  char *name;            // clip ids are "<name>/<first frame>"
  int nframes;
  char *dir0, *dir1;     // folders of modality 0 / 1 frames (PNG formats)
  const char *suf0, *suf1;
  char **stem;           // (nframes,) frame file = dir/stem + suffix
  int file;              // BAIR: index into the file list
  int64_t offset, record;
} pk_seq;

typedef struct pk_unit {
  int seq, t0;
} pk_unit;

typedef struct pk_list {
  int fmt;
  int nseq, capseq;
  pk_seq *seq;
  strlist files;         // BAIR: tfrecord paths
  int *file_split;
  int64_t nunits, capunits;
  pk_unit *unit;
  int bair_frames;       // frames per BAIR record (from the first record)
  int depth_bits;        // bit depth of the BAIR depth PNGs (from the first one)
} pk_list;

static pk_seq *push_seq(pk_list *L) {
  if (L->nseq == L->capseq) {
    L->capseq = L->capseq ? 2 * L->capseq : 64;
    L->seq = vp_realloc(L->seq, (size_t)L->capseq * sizeof(pk_seq));
  }
  pk_seq *s = &L->seq[L->nseq++];
  memset(s, 0, sizeof *s);
  return s;
}

static void free_list(pk_list *L) {
  for (int i = 0; i < L->nseq; i++) {
    pk_seq *s = &L->seq[i];
    free(s->name);
    free(s->dir0);
    free(s->dir1);
    if (s->stem)
      for (int t = 0; t < s->nframes; t++) free(s->stem[t]);
    free(s->stem);
  }
  free(L->seq);
  sl_free(&L->files);
  free(L->file_split);
  free(L->unit);
}

// Cuts every sequence into clips of T frames.
static void make_units(pk_list *L, int T) {
  for (int i = 0; i < L->nseq; i++)
    for (int t0 = 0; t0 + T <= L->seq[i].nframes; t0 += T) {
      if (L->nunits == L->capunits) {
        L->capunits = L->capunits ? 2 * L->capunits : 256;
        L->unit = vp_realloc(L->unit, (size_t)L->capunits * sizeof(pk_unit));
      }
      L->unit[L->nunits++] = (pk_unit){i, t0};
    }
}

// Which of train/val/test to pack: wanted[s] = 1. Dies on an unknown name.
static void parse_splits(const char *list, int *wanted) {
  for (int s = 0; s < PACKED_NSPLIT; s++) wanted[s] = !list || !list[0];
  if (!list || !list[0]) return;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    while (*tok == ' ') tok++;
    int s = packed_split_parse(tok);
    if (s < 0) vp_die("--splits: '%s' is not a split; use a comma-separated list of train, val, test", tok);
    wanted[s] = 1;
  }
}

// The split folders present under dir, in train, val, test order, that were asked for.
static int split_dirs(const char *dir, const char *splits, int *present) {
  int wanted[PACKED_NSPLIT], n = 0;
  parse_splits(splits, wanted);
  for (int s = 0; s < PACKED_NSPLIT; s++) {
    char *p = path_join(dir, packed_split_name(s));
    present[s] = is_dir(p);
    if (wanted[s] && !present[s] && splits && splits[0])
      vp_die("--splits asks for %s, but %s is not a folder", packed_split_name(s), p);
    present[s] = present[s] && wanted[s];
    n += present[s];
    free(p);
  }
  return n;
}

// Parses "<city>_<seq>_<frame>" (the stem without _leftImg8bit.png).
static int parse_cs_stem(const char *stem, char *prefix, size_t pn, long *seq, long *frame) {
  const char *u2 = strrchr(stem, '_');
  if (!u2 || u2 == stem) return -1;
  const char *u1 = u2 - 1;
  while (u1 > stem && *u1 != '_') u1--;
  if (*u1 != '_' || u1 == stem) return -1;
  char *e;
  *seq = strtol(u1 + 1, &e, 10);
  if (e != u2 || u2 - u1 - 1 < 1) return -1;
  *frame = strtol(u2 + 1, &e, 10);
  if (*e || !u2[1]) return -1;
  snprintf(prefix, pn, "%.*s", (int)(u1 - stem), stem);
  return 0;
}

static void scan_cityscapes(pk_list *L, const pack_opts *o) {
  char *rgb_root = path_join(o->src, "leftImg8bit_sequence");
  char *disp_root = path_join(o->src, "disparity_sequence");
  if (!is_dir(rgb_root))
    vp_die("%s is not a folder: --src must be the Cityscapes root holding leftImg8bit_sequence/ and "
           "disparity_sequence/", rgb_root);
  if (!is_dir(disp_root))
    vp_die("%s is not a folder: the disparity modality is missing (unpack disparity_sequence_trainvaltest.zip "
           "next to leftImg8bit_sequence/)", disp_root);
  int present[PACKED_NSPLIT];
  if (split_dirs(rgb_root, o->splits, present) == 0)
    vp_die("no train, val or test folder in %s", rgb_root);
  const char *suf = "_leftImg8bit.png";
  for (int s = 0; s < PACKED_NSPLIT; s++) {
    if (!present[s]) continue;
    char *sdir = path_join(rgb_root, packed_split_name(s));
    strlist cities = list_dir(sdir, 1, NULL);
    for (int c = 0; c < cities.n; c++) {
      char *cdir = path_join(sdir, cities.s[c]);
      strlist files = list_dir(cdir, 0, suf);
      pk_seq *cur = NULL;
      char cur_prefix[256] = "";
      long cur_seq = -1, last_frame = -2;
      int cap = 0;
      for (int f = 0; f < files.n; f++) {
        char stem[512], prefix[256];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(files.s[f]) - strlen(suf)), files.s[f]);
        long seq, frame;
        if (parse_cs_stem(stem, prefix, sizeof prefix, &seq, &frame) != 0) {
          if (o->rank == 0)  // every rank scans the same tree; one warning is enough
            vp_warn("ignoring %s/%s: not named <city>_<seq>_<frame>_leftImg8bit.png", cdir, files.s[f]);
          continue;
        }
        if (!cur || strcmp(prefix, cur_prefix) != 0 || seq != cur_seq || frame != last_frame + 1) {
          cur = push_seq(L);
          cur->split = s;
          cur->name = vp_strdup(stem);
          cur->dir0 = vp_strdup(cdir);
          cur->dir1 = path_fmt("%s/%s/%s", disp_root, packed_split_name(s), cities.s[c]);
          cur->suf0 = "_leftImg8bit.png";
          cur->suf1 = "_disparity.png";
          snprintf(cur_prefix, sizeof cur_prefix, "%s", prefix);
          cur_seq = seq;
          cap = 0;
        }
        if (cur->nframes == cap) {
          cap = cap ? 2 * cap : 32;
          cur->stem = vp_realloc(cur->stem, (size_t)cap * sizeof(char *));
        }
        cur->stem[cur->nframes++] = vp_strdup(stem);
        last_frame = frame;
      }
      sl_free(&files);
      free(cdir);
    }
    sl_free(&cities);
    free(sdir);
  }
  free(rgb_root);
  free(disp_root);
}

static void scan_synthia(pk_list *L, const pack_opts *o, int split) {
  const char *cam = o->camera && o->camera[0] ? o->camera : "Stereo_Left/Omni_F";
  strlist seqdirs = {0};
  char *rgb_here = path_join(o->src, "RGB");
  if (is_dir(rgb_here)) {
    sl_push(&seqdirs, vp_strdup(o->src));
  } else {
    strlist sub = list_dir(o->src, 1, NULL);
    for (int i = 0; i < sub.n; i++) {
      char *d = path_join(o->src, sub.s[i]);
      char *r = path_join(d, "RGB");
      if (is_dir(r))
        sl_push(&seqdirs, d);
      else
        free(d);
      free(r);
    }
    sl_free(&sub);
  }
  free(rgb_here);
  if (seqdirs.n == 0)
    vp_die("no SYNTHIA sequence in %s: expected %s/RGB/%s/ or %s/<SYNTHIA-SEQS-..>/RGB/%s/", o->src, o->src,
           cam, o->src, cam);
  for (int i = 0; i < seqdirs.n; i++) {
    char *rgbdir = path_fmt("%s/RGB/%s", seqdirs.s[i], cam);
    if (!is_dir(rgbdir))
      vp_die("%s is not a folder: the sequence has no RGB frames for camera %s (set --camera)", rgbdir, cam);
    char *labdir = path_fmt("%s/GT/LABELS/%s", seqdirs.s[i], cam);
    if (!is_dir(labdir))
      vp_die("%s is not a folder: the semantic labels (GT/LABELS) of this sequence are missing", labdir);
    strlist files = list_dir(rgbdir, 0, ".png");
    pk_seq *s = push_seq(L);
    s->split = split;
    const char *base = strrchr(seqdirs.s[i], '/');
    s->name = vp_strdup(base && base[1] ? base + 1 : seqdirs.s[i]);
    s->dir0 = rgbdir;
    s->dir1 = labdir;
    s->suf0 = s->suf1 = "";
    s->nframes = files.n;
    s->stem = files.s;  // takes the names
    files.s = NULL;
  }
  sl_free(&seqdirs);
}

static char *bair_feature(int i, const char *cam) { return path_fmt("%d/image_%s/encoded", i, cam); }

static const char *bair_camera(const pack_opts *o) { return o->camera && o->camera[0] ? o->camera : "aux1"; }

// The file name without folders and without ".tfrecords".
static char *tfr_stem(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  size_t n = strlen(b);
  if (ends_with(b, ".tfrecords")) n -= strlen(".tfrecords");
  else if (ends_with(b, ".tfrecord")) n -= strlen(".tfrecord");
  return path_fmt("%.*s", (int)n, b);
}

static void scan_bair(pk_list *L, const pack_opts *o, int split_label) {
  char *base = path_join(o->src, "softmotion30_44k");
  if (!is_dir(base)) {
    free(base);
    base = vp_strdup(o->src);
  }
  if (!is_dir(base)) vp_die("%s is not a folder (--src of a BAIR pack)", base);
  int present[PACKED_NSPLIT];
  int nsplit = split_dirs(base, o->splits, present);
  strlist files = {0};
  int *fsplit = NULL, cap = 0;
  for (int s = 0; s < PACKED_NSPLIT + 1; s++) {
    // s < NSPLIT: split folders; s == NSPLIT: a flat folder of TFRecords
    if (s < PACKED_NSPLIT ? !present[s] : nsplit > 0) continue;
    char *dir = s < PACKED_NSPLIT ? path_join(base, packed_split_name(s)) : vp_strdup(base);
    strlist fl = list_dir(dir, 0, NULL);
    for (int i = 0; i < fl.n; i++) {
      if (!ends_with(fl.s[i], ".tfrecords") && !ends_with(fl.s[i], ".tfrecord")) continue;
      sl_push(&files, path_join(dir, fl.s[i]));
      if (files.n > cap) {
        cap = 2 * files.n;
        fsplit = vp_realloc(fsplit, (size_t)cap * sizeof(int));
      }
      fsplit[files.n - 1] = s < PACKED_NSPLIT ? s : split_label;
    }
    sl_free(&fl);
    free(dir);
  }
  if (files.n == 0)
    vp_die("no .tfrecords files in %s (expected softmotion30_44k/{train,test}/traj_<a>_to_<b>.tfrecords)", base);
  free(base);
  L->files = files;
  L->file_split = fsplit;
  const char *cam = bair_camera(o);
  char err[ERRN];
  for (int f = 0; f < files.n; f++) {
    int64_t *off = NULL, n = 0;
    if (tfr_scan(files.s[f], &off, &n, err, sizeof err) != 0) vp_die("%s", err);
    char *stem = tfr_stem(files.s[f]);
    for (int64_t r = 0; r < n; r++) {
      pk_seq *s = push_seq(L);
      s->split = fsplit[f];
      s->name = path_fmt("%s/%lld", stem, (long long)(r + 1));
      s->file = f;
      s->offset = off[r];
      s->record = r;
    }
    free(stem);
    free(off);
  }
  if (L->nseq == 0) vp_die("the TFRecord files under %s hold no records", o->src);
  // Frames per record, from the first record (BAIR: 30).
  tfr_reader *r = tfr_open(files.s[L->seq[0].file], err, sizeof err);
  if (!r) vp_die("%s", err);
  const uint8_t *data;
  size_t len;
  if (tfr_next(r, &data, &len, err, sizeof err) != 1) vp_die("%s", err);
  tfx_example ex;
  if (tfx_parse(data, len, &ex, err, sizeof err) != 0)
    vp_die("%s, record 0: %s", files.s[L->seq[0].file], err);
  int nf = 0;
  for (;; nf++) {
    char *name = bair_feature(nf, cam);
    const tfx_feature *ft = tfx_find(&ex, name);
    free(name);
    if (!ft) break;
  }
  if (nf == 0) {
    char have[256] = "";
    for (int i = 0; i < ex.n && i < 4; i++)
      snprintf(have + strlen(have), sizeof have - strlen(have), "%s'%.*s'", i ? ", " : "",
               (int)(ex.f[i].name_len < 60 ? ex.f[i].name_len : 60), (const char *)ex.f[i].name);
    vp_die("%s, record 0: no feature '0/image_%s/encoded' (features: %s%s); is this a BAIR file, and is "
           "--camera right (aux1 or main)?", files.s[L->seq[0].file], cam, have[0] ? have : "none",
           ex.n > 4 ? ", ..." : "");
  }
  tfx_free(&ex);
  tfr_close(r);
  L->bair_frames = nf;
  for (int i = 0; i < L->nseq; i++) L->seq[i].nframes = nf;
}

// ---- frame conversion ----

void pack_crop_resize_u8(const uint8_t *src, int h, int w, int c, int S, int mode, uint8_t *dst) {
  int s = h < w ? h : w, y0 = (h - s) / 2, x0 = (w - s) / 2;
  if (s == S) {  // crop only: copy rows
    for (int y = 0; y < S; y++)
      memcpy(dst + (size_t)y * S * c, src + ((size_t)(y0 + y) * w + x0) * c, (size_t)S * c);
    return;
  }
  float *crop = vp_malloc((size_t)s * s * c * sizeof(float));
  float *out = vp_malloc((size_t)S * S * c * sizeof(float));
  for (int y = 0; y < s; y++) {
    const uint8_t *row = src + ((size_t)(y0 + y) * w + x0) * c;
    float *cr = crop + (size_t)y * s * c;
    for (int i = 0; i < s * c; i++) cr[i] = (float)row[i];
  }
  resize_image(crop, s, s, c, out, S, S, (vp_resize_mode)mode);
  for (size_t i = 0; i < (size_t)S * S * c; i++) {
    float v = rintf(out[i]);
    dst[i] = (uint8_t)(v < 0.f ? 0.f : v > 255.f ? 255.f : v);
  }
  free(crop);
  free(out);
}

void pack_crop_resize_masked_u16(const uint16_t *src, int h, int w, int S, int mode, double scale,
                                 double offset, uint16_t invalid, uint16_t *dst) {
  int s = h < w ? h : w, y0 = (h - s) / 2, x0 = (w - s) / 2;
  if (s == S) {
    for (int y = 0; y < S; y++) memcpy(dst + (size_t)y * S, src + (size_t)(y0 + y) * w + x0, (size_t)S * 2);
    return;
  }
  // Channels: value * valid, valid; both resized with the same weights.
  float *crop = vp_malloc((size_t)s * s * 2 * sizeof(float));
  float *out = vp_malloc((size_t)S * S * 2 * sizeof(float));
  for (int y = 0; y < s; y++)
    for (int x = 0; x < s; x++) {
      uint16_t r = src[(size_t)(y0 + y) * w + x0 + x];
      int ok = r != invalid;
      crop[((size_t)y * s + x) * 2] = ok ? (float)(r * scale + offset) : 0.f;
      crop[((size_t)y * s + x) * 2 + 1] = (float)ok;
    }
  resize_image(crop, s, s, 2, out, S, S, (vp_resize_mode)mode);
  for (size_t i = 0; i < (size_t)S * S; i++) {
    float vm = out[2 * i], m = out[2 * i + 1];
    if (m < 0.5f) {
      dst[i] = invalid;
      continue;
    }
    double raw = rint(((double)vm / m - offset) / scale);
    raw = raw < 0 ? 0 : raw > 65535 ? 65535 : raw;
    uint16_t q = (uint16_t)raw;
    if (q == invalid) q = invalid < 65535 ? (uint16_t)(invalid + 1) : (uint16_t)(invalid - 1);
    dst[i] = q;
  }
  free(crop);
  free(out);
}

// ---- packing one clip ----

typedef struct pk_ctx {
  const pack_opts *o;
  pk_list *L;
  int T, S;
  double aux_scale, aux_offset;
  tfr_reader *tfr;       // BAIR: the open file
  int tfr_file;
} pk_ctx;

static void frame_path(const pk_seq *s, int mod, int t, char *buf, size_t n) {
  if (snprintf(buf, n, "%s/%s%s", mod ? s->dir1 : s->dir0, s->stem[t], mod ? s->suf1 : s->suf0) >= (int)n)
    vp_die("path too long under %s", mod ? s->dir1 : s->dir0);
}

// Checks that image (w, h) has the reference size; else writes the error.
static int size_check(char *err, const char *path, int w, int h, const char *ref_path, int rw, int rh) {
  if (w == rw && h == rh) return 0;
  snprintf(err, ERRN, "wrong image size: %s is %dx%d, but %s is %dx%d (all frames of a sequence and "
           "all its modalities must have one size)", path, w, h, ref_path, rw, rh);
  return -1;
}

// Frame t (of the sequence) into rgb (S, S, 3) and aux (S, S) of a PNG
// format; the reference size comes from the sequence's first frame.
static int png_frame(const pk_ctx *C, const pk_seq *s, int t, const char *ref_path, int rw, int rh,
                     uint8_t *rgb, void *aux, char *err) {
  char p0[4096], p1[4096];
  frame_path(s, 0, t, p0, sizeof p0);
  frame_path(s, 1, t, p1, sizeof p1);
  vp_png_image im, ax;
  if (png_try_read_rgb8(p0, &im, err, ERRN) != 0) return -1;
  if (size_check(err, p0, im.width, im.height, ref_path, rw, rh) != 0) {
    vp_png_image_free(&im);
    return -1;
  }
  pack_crop_resize_u8(im.data, im.height, im.width, 3, C->S, C->o->resize, rgb);
  vp_png_image_free(&im);
  int rc = C->L->fmt == FMT_CITYSCAPES ? png_try_read_gray16(p1, 0, &ax, err, ERRN)
                                       : png_try_read_chan16(p1, 0, &ax, err, ERRN);
  if (rc != 0) return -1;
  if (size_check(err, p1, ax.width, ax.height, p0, rw, rh) != 0) {
    vp_png_image_free(&ax);
    return -1;
  }
  if (C->L->fmt == FMT_CITYSCAPES) {
    pack_crop_resize_masked_u16(ax.data, ax.height, ax.width, C->S, C->o->resize, C->aux_scale,
                                C->aux_offset, 0, aux);
  } else {  // SYNTHIA class ids: nearest neighbour, uint8
    const uint16_t *lab = ax.data;
    size_t npx = (size_t)ax.width * ax.height;
    uint8_t *ids = vp_malloc(npx);
    for (size_t i = 0; i < npx; i++) {
      if (lab[i] > 255) {
        snprintf(err, ERRN, "%s: class id %u at pixel (%zu, %zu) does not fit the 8-bit semantic map "
                 "(SYNTHIA ids are 0..15); is this a GT/LABELS file?", p1, lab[i], i % (size_t)ax.width,
                 i / (size_t)ax.width);
        free(ids);
        vp_png_image_free(&ax);
        return -1;
      }
      ids[i] = (uint8_t)lab[i];
    }
    pack_crop_resize_u8(ids, ax.height, ax.width, 1, C->S, RESIZE_NEAREST, aux);
    free(ids);
  }
  vp_png_image_free(&ax);
  return 0;
}

static void pack_png_unit(pk_ctx *C, const pk_unit *u, uint8_t *rgb, void *aux) {
  const pk_seq *s = &C->L->seq[u->seq];
  char ref_path[4096], err0[ERRN];
  frame_path(s, 0, 0, ref_path, sizeof ref_path);
  vp_png_image hd;
  if (png_try_read_header(ref_path, &hd, err0, sizeof err0) != 0) vp_die("%s", err0);
  const int T = C->T, S = C->S, rw = hd.width, rh = hd.height;
  const size_t aux_px = (size_t)S * S * (C->L->fmt == FMT_CITYSCAPES ? 2 : 1);
  char *errs = vp_calloc((size_t)T, ERRN);
  int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
  for (int t = 0; t < T; t++)
    if (png_frame(C, s, u->t0 + t, ref_path, rw, rh, rgb + (size_t)t * S * S * 3, (uint8_t *)aux + t * aux_px,
                  errs + (size_t)t * ERRN) != 0)
      failed = 1;
  if (failed)
    for (int t = 0; t < T; t++)
      if (errs[(size_t)t * ERRN]) vp_die("%s", errs + (size_t)t * ERRN);
  free(errs);
}

static void pack_bair_unit(pk_ctx *C, const pk_unit *u, uint8_t *rgb, uint16_t *dep) {
  const pk_seq *s = &C->L->seq[u->seq];
  const char *fpath = C->L->files.s[s->file];
  char err[ERRN];
  if (C->tfr_file != s->file) {
    tfr_close(C->tfr);
    C->tfr = tfr_open(fpath, err, sizeof err);
    if (!C->tfr) vp_die("%s", err);
    C->tfr_file = s->file;
  }
  if (tfr_seek(C->tfr, s->offset, s->record, err, sizeof err) != 0) vp_die("%s", err);
  const uint8_t *data;
  size_t len;
  int rc = tfr_next(C->tfr, &data, &len, err, sizeof err);
  if (rc == 0)
    vp_die("%s: record %lld is missing (the file changed since it was scanned?)", fpath, (long long)s->record);
  if (rc < 0) vp_die("%s", err);
  tfx_example ex;
  if (tfx_parse(data, len, &ex, err, sizeof err) != 0) vp_die("%s, record %lld: %s", fpath, (long long)s->record, err);
  const char *cam = bair_camera(C->o);
  const int T = C->T, S = C->S;
  const uint8_t *img[4096];
  VP_ASSERT(T <= 4096);
  for (int t = 0; t < T; t++) {
    char *name = bair_feature(u->t0 + t, cam);
    const tfx_feature *f = tfx_find(&ex, name);
    if (!f) vp_die("%s, record %lld: feature '%s' is missing (the first record has %d frames)", fpath,
                   (long long)s->record, name, C->L->bair_frames);
    size_t n = 0;
    int64_t cnt = tfx_bytes(f, 0, &img[t], &n);
    if (cnt < 1)
      vp_die("%s, record %lld: feature '%s' is not a bytes list with one value (%s)", fpath,
             (long long)s->record, name, cnt < 0 ? "wrong kind or malformed" : "empty");
    if (n != 64 * 64 * 3)
      vp_die("%s, record %lld: feature '%s' has %zu bytes; BAIR frames are raw 64x64x3 uint8 (12288 bytes)",
             fpath, (long long)s->record, name, n);
    free(name);
  }
  char *errs = dep ? vp_calloc((size_t)T, ERRN) : NULL;
  char *stem = dep ? tfr_stem(fpath) : NULL;
  int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
  for (int t = 0; t < T; t++) {
    pack_crop_resize_u8(img[t], 64, 64, 3, S, C->o->resize, rgb + (size_t)t * S * S * 3);
    if (!dep) continue;
    char *p = path_fmt("%s/%s/%s/%lld/%d.png", C->o->depth, packed_split_name(s->split), stem,
                       (long long)(s->record + 1), u->t0 + t);
    vp_png_image d;
    char *e = errs + (size_t)t * ERRN;
    if (png_try_read_gray16(p, 1, &d, e, ERRN) != 0) {
      failed = 1;
    } else {
      if (d.bit_depth != C->L->depth_bits) {
        snprintf(e, ERRN, "%s is %d-bit, but the first depth PNG is %d-bit: one bit depth for all, please",
                 p, d.bit_depth, C->L->depth_bits);
        failed = 1;
      } else {
        pack_crop_resize_masked_u16(d.data, d.height, d.width, S, C->o->resize, 1.0, 0.0, 0,
                                    dep + (size_t)t * S * S);
      }
      vp_png_image_free(&d);
    }
    free(p);
  }
  if (failed)
    for (int t = 0; t < T; t++)
      if (errs[(size_t)t * ERRN]) vp_die("%s", errs + (size_t)t * ERRN);
  free(errs);
  free(stem);
  tfx_free(&ex);
}

// ---- the whole run ----

void pack_shard_path(const char *out, int rank, int nranks, char *buf, size_t n) {
  if (nranks <= 1) {
    if (snprintf(buf, n, "%s", out) >= (int)n) vp_die("output path too long: %s", out);
    return;
  }
  size_t k = strlen(out);
  if (ends_with(out, ".h5")) k -= 3;
  if (snprintf(buf, n, "%.*s-%05d-of-%05d.h5", (int)k, out, rank, nranks) >= (int)n)
    vp_die("output path too long: %s", out);
}

static int format_parse(const char *f) {
  if (strcmp(f, "cityscapes") == 0) return FMT_CITYSCAPES;
  if (strcmp(f, "synthia") == 0) return FMT_SYNTHIA;
  if (strcmp(f, "bair") == 0) return FMT_BAIR;
  vp_die("--format %s: not a packable dataset (cityscapes, synthia, bair)", f);
}

static void set_mod(packed_modality *m, const char *name, vp_mod_kind kind, int ch, packed_dtype dt,
                    double scale, double offset, int has_inv, int64_t inv, double vmin, double vmax,
                    const char *units) {
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  m->kind = kind;
  m->channels = ch;
  m->dtype = dt;
  m->scale = scale;
  m->offset = offset;
  m->has_invalid = has_inv;
  m->invalid = inv;
  m->vmin = vmin;
  m->vmax = vmax;
  snprintf(m->units, sizeof m->units, "%s", units);
}

void pack_run(const pack_opts *o, pack_result *res) {
  memset(res, 0, sizeof *res);
  pk_list L;
  memset(&L, 0, sizeof L);
  L.fmt = format_parse(o->format);
  const int T = o->frames > 0 ? o->frames : 30;
  const int S = o->size > 0 ? o->size : (L.fmt == FMT_BAIR ? 64 : 128);
  const char *label = o->split && o->split[0] ? o->split : "train";
  int split_label = packed_split_parse(label);
  if (split_label < 0) vp_die("--split %s: use train, val or test", label);
  if (o->depth && o->depth[0] && L.fmt != FMT_BAIR)
    vp_die("--depth is for BAIR only (Cityscapes brings its disparity, SYNTHIA its labels)");
  if (!is_dir(o->src)) vp_die("--src %s is not a folder", o->src);

  if (L.fmt == FMT_CITYSCAPES) scan_cityscapes(&L, o);
  else if (L.fmt == FMT_SYNTHIA) scan_synthia(&L, o, split_label);
  else scan_bair(&L, o, split_label);
  make_units(&L, T);
  if (L.nunits == 0)
    vp_die("no clip of %d frames in %s: %d sequence(s) found, all shorter than --frames %d", T, o->src,
           L.nseq, T);

  packed_info info;
  memset(&info, 0, sizeof info);
  snprintf(info.dataset, sizeof info.dataset, "%s", o->format);
  snprintf(info.source, sizeof info.source, "%s", o->src);
  info.T = T;
  info.H = info.W = S;
  info.compress = o->compress;
  info.shard_index = o->rank;
  info.shard_count = o->nranks;
  set_mod(&info.mod[0], "rgb", VP_MOD_RGB, 3, PACKED_U8, 1.0, 0.0, 0, 0, 0.0, 255.0, "8-bit intensity");
  info.nmod = 1;
  pk_ctx C = {.o = o, .L = &L, .T = T, .S = S, .tfr_file = -1};
  const int has_depth = L.fmt == FMT_BAIR && o->depth && o->depth[0];
  if (L.fmt == FMT_CITYSCAPES) {
    C.aux_scale = 1.0 / 256;
    C.aux_offset = -1.0 / 256;
    set_mod(&info.mod[1], "depth", VP_MOD_DEPTH, 1, PACKED_U16, C.aux_scale, C.aux_offset, 1, 0, 0.0,
            65534.0 / 256, "disparity px");
    info.nmod = 2;
  } else if (L.fmt == FMT_SYNTHIA) {
    set_mod(&info.mod[1], "semantic", VP_MOD_SEMANTIC, 1, PACKED_U8, 1.0, 0.0, 0, 0, 0.0, 15.0, "class id");
    info.nmod = 2;
  } else if (has_depth) {
    if (!is_dir(o->depth)) vp_die("--depth %s is not a folder", o->depth);
    // The bit depth of the first depth PNG sets the nominal range.
    const pk_seq *s0 = &L.seq[L.unit[0].seq];
    char *stem = tfr_stem(L.files.s[s0->file]);
    char *p = path_fmt("%s/%s/%s/%lld/%d.png", o->depth, packed_split_name(s0->split), stem,
                       (long long)(s0->record + 1), L.unit[0].t0);
    vp_png_image hd;
    char err[ERRN];
    if (png_try_read_header(p, &hd, err, sizeof err) != 0)
      vp_die("%s (depth PNGs are named DEPTH/<split>/<tfrecord stem>/<record, from 1>/<frame>.png)", err);
    L.depth_bits = hd.bit_depth < 8 ? 8 : hd.bit_depth;
    free(p);
    free(stem);
    double sc = o->depth_scale > 0 ? o->depth_scale : 1.0;
    set_mod(&info.mod[1], "depth", VP_MOD_DEPTH, 1, PACKED_U16, sc, 0.0, 1, 0, 0.0,
            ((1 << L.depth_bits) - 1) * sc, "depth");
    info.nmod = 2;
  }

  // This rank's contiguous block of the clip list.
  const int64_t N = L.nunits;
  const int64_t lo = N * o->rank / o->nranks, hi = N * (o->rank + 1) / o->nranks;
  res->total = N;
  res->first = lo;
  res->count = hi - lo;
  pack_shard_path(o->out, o->rank, o->nranks, res->path, sizeof res->path);
  packed_writer *w = packed_writer_create(res->path, &info);
  uint8_t *rgb = vp_malloc((size_t)T * S * S * 3);
  void *aux = vp_malloc((size_t)T * S * S * 2);
  time_t last = time(NULL);
  for (int64_t i = lo; i < hi; i++) {
    const pk_unit *u = &L.unit[i];
    if (L.fmt == FMT_BAIR)
      pack_bair_unit(&C, u, rgb, has_depth ? aux : NULL);
    else
      pack_png_unit(&C, u, rgb, aux);
    char id[600];
    snprintf(id, sizeof id, "%s/%d", L.seq[u->seq].name, u->t0);
    const void *data[2] = {rgb, aux};
    packed_writer_append(w, id, L.seq[u->seq].split, data);
    if (o->verbose && o->rank == 0 && time(NULL) - last >= 10) {
      last = time(NULL);
      fprintf(stderr, "vpcast: packed %lld of %lld clips on rank 0\n", (long long)(i - lo + 1),
              (long long)(hi - lo));
    }
  }
  packed_writer_finish(w);
  res->pending = w;
  tfr_close(C.tfr);
  free(rgb);
  free(aux);
  free_list(&L);
}

void pack_commit(pack_result *res) {
  VP_ASSERT(res->pending);
  packed_writer_commit(res->pending);
  res->pending = NULL;
}
