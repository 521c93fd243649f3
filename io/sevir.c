// sevir.c: the SEVIR clip source (data.source = sevir): storm events of the
// Storm EVent ImagRy dataset as clips of VIL radar mosaics.
//
// Layout (the public s3://sevir bucket): <data.path>/CATALOG.csv and
// <data.path>/data/<img_type>/<year>/SEVIR_<TYPE>_..._<MMDD>_<MMDD>.h5; the
// catalog's file_name is relative to that data/ folder (data.sevir.catalog and
// data.sevir.data_dir override both places). Each HDF5 file holds `vil`
// (N, 384, 384, 49) uint8 (layout N,H,W,T) and `id` (N,) strings; an event is
// hf[img_type][file_index] (io/sevir_h5.h).
//
// Events. The catalog rows of data.sevir.img_type (only vil is decoded) are
// grouped by event id; the split is chosen by data.sevir.split_scheme:
//   official  neurips-2020-sevir's nowcast split: train = time_utc <= 2019-06-01
//             00:00:00 < test (the generators keep start < time_utc <= end);
//             data.sevir.val_start adds Earthformer's val split
//             (val_start, test_start] and ends train at val_start. Default
//             filter pct_missing == 0, as both codes do.
//   predldm   PredLDM's SEVIR_challenge: events with all five image types
//             (vis, ir069, ir107, vil, lght) in the whole catalog, sorted by
//             id, split by position: train [0, floor(0.6 n)), val
//             [floor(0.6 n), floor(0.8 n)), test [floor(0.8 n), n). The
//             positions are taken before any filter, so the slices are
//             PredLDM's; filters then drop events inside a slice. No
//             pct_missing filter by default (PredLDM has none).
// data.split = all takes every event. Then: pct_missing <= max, date range
// (date_start < time_utc <= date_end), and ids with more than one remaining
// row of the image type are dropped (a known SEVIR catalog bug; the
// reference generators drop them too). Events are ordered by id.
//
// Clips. Each event gives windows of data.frames frames starting at 0,
// stride, 2 stride, ... that fit in its 49 frames (frames 25 and stride 12
// give the nowcast windows 0, 12, 24; a stride of at least 49 - frames + 1
// gives PredLDM's one window, frames 0..19 for frames 20). Clip i is window
// i % windows of event i / windows.
//
// Values. VIL codes 0..254 become code / 255 in [0, 254/255] (Earthformer's
// "01" scaling and PredLDM's ToTensor); 255 = missing becomes value 0 and
// mask 0. Frames are resized to data.size with data.sevir.resize (default
// bilinear_aa = PredLDM's PIL bilinear; see io/sevir_resize.h); a resized
// pixel is valid when no missing pixel contributes to it, and its value is 0
// when it is not. data.sevir.mask_missing = false keeps PredLDM's quirk
// instead: 255 -> 1.0 and no mask.
//
// Raw stats (vpcast data stats) are over the codes themselves: 0..254 valid,
// 255 invalid, of every frame some window of the split uses (all 49 when the
// windows cover the event), at the file's resolution; rank r of R takes the
// events [r n / R, (r+1) n / R).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "io/sevir_catalog.h"
#include "io/sevir_h5.h"
#include "io/sevir_resize.h"
#include "io/sevir_source.h"
#include "io/source.h"

const vp_option opts_data_sevir[] = {
    {.key = "data.sevir.catalog", .type = OPT_STRING, .def = "",
     .help = "SEVIR catalog CSV (default: <data.path>/CATALOG.csv)"},
    {.key = "data.sevir.data_dir", .type = OPT_STRING, .def = "",
     .help = "folder the catalog's file_name values are relative to (default: <data.path>/data)"},
    {.key = "data.sevir.img_type", .type = OPT_STRING, .def = "vil",
     .help = "SEVIR image type to read (the catalog's img_type; vil is the one decoded)"},
    {.key = "data.sevir.split_scheme", .type = OPT_ENUM, .def = "official", .choices = "official|predldm",
     .help = "official: by date (train <= test_start < test); predldm: ids with all 5 types, sorted, 60/20/20"},
    {.key = "data.sevir.test_start", .type = OPT_STRING, .def = "2019-06-01",
     .help = "official split: test = time_utc after this, train (and val) up to it"},
    {.key = "data.sevir.val_start", .type = OPT_STRING, .def = "",
     .help = "official split: val = (val_start, test_start], train up to val_start; '' = no val "
             "(Earthformer: 2019-01-01)"},
    {.key = "data.sevir.max_pct_missing", .type = OPT_FLOAT, .def = "-1", .range = "[-1, 100]",
     .help = "keep events with pct_missing <= this; -1: scheme default (official 0, predldm 100 = all)"},
    {.key = "data.sevir.date_start", .type = OPT_STRING, .def = "",
     .help = "keep events with time_utc after this (YYYY-MM-DD[ HH:MM:SS]); '' = no bound"},
    {.key = "data.sevir.date_end", .type = OPT_STRING, .def = "",
     .help = "keep events with time_utc up to and including this; '' = no bound"},
    {.key = "data.sevir.stride", .type = OPT_INT, .def = "12", .range = "[1, 4096]",
     .help = "frames between window starts within an event (>= 49 - frames + 1: one window per event)"},
    {.key = "data.sevir.resize", .type = OPT_ENUM, .def = "bilinear_aa", .choices = SEVIR_RESIZE_CHOICES,
     .help = "resize to data.size: bilinear_aa (PIL, PredLDM), area, bilinear, nearest, max (SEVIR-LR)"},
    {.key = "data.sevir.mask_missing", .type = OPT_BOOL, .def = "true",
     .help = "255 = missing -> value 0, mask 0; false: PredLDM's 255 -> 1.0 and no mask"},
    {.key = "data.sevir.check_ids", .type = OPT_BOOL, .def = "true",
     .help = "check that each file's id[file_index] is the catalog's event id"},
    {.key = "data.sevir.max_open_files", .type = OPT_INT, .def = "16", .range = "[1, 4096]",
     .help = "HDF5 files kept open at once (the least recently used is closed first)"},
    OPT_END,
};

#define SEVIR_MISSING 255
#define SEVIR_IDLEN 64

typedef struct sevir_event {
  const char *id;       // into idblob
  int file;             // sevir_h5 file number
  int64_t index;        // file_index
  int64_t time_utc;
  int64_t line;         // catalog line
} sevir_event;

typedef struct sevir_src {
  sevir_h5 h5;
  char *catalog;
  int64_t nev;
  sevir_event *ev;
  char *idblob;
  int64_t T;            // frames per event in the files (49)
  int64_t frames, stride, nwin;
  int64_t fh, fw;       // largest frame in the files (buffers)
  sevir_resize_mode mode;
  int mask_missing;
  uint8_t *used;        // (T,) frames some window uses (raw stats)
  uint8_t *raw;         // (fh, fw, max(T, frames))
  int64_t nused;        // frames with used[t]
  float lut[256];       // code -> value
  float *planes;        // (frames, fh*fw) decoded values of the window
  int64_t *miss;        // (frames,) missing pixels per frame
  float *inv, *tmp, *rs;  // (fh*fw), (fh*max(fw, W)), (H*W)
} sevir_src;

static sevir_src *impl(vp_source *s) {
  VP_ASSERT(s && s->kind && strcmp(s->kind, "sevir") == 0);
  return s->impl;
}

// ---- config helpers ----
static int64_t cfg_time(const vp_config *cfg, const char *key, int64_t dflt) {
  const char *v = cfg_str(cfg, key);
  if (!v[0]) return dflt;
  int64_t t;
  char src[256];
  if (sevir_parse_time(v, &t))
    vp_die("%s = '%s' (%s) is not a date: use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)", key, v,
           cfg_source(cfg, key, src, sizeof src));
  return t;
}

static void path_join(char *out, size_t n, const char *dir, const char *name) {
  size_t L = strlen(dir);
  int r = snprintf(out, n, "%s%s%s", dir, (L && dir[L - 1] != '/') ? "/" : "", name);
  if (r < 0 || (size_t)r >= n) vp_die("path too long: %s/%s", dir, name);
}

static const char *const known_types[] = {"vis", "ir069", "ir107", "vil", "lght"};
enum { NTYPES = 5 };

static int type_index(const char *t) {
  for (int k = 0; k < NTYPES; k++)
    if (strcmp(t, known_types[k]) == 0) return k;
  return -1;
}

static int cmp_row(const void *a, const void *b) {
  const sevir_row *x = *(const sevir_row *const *)a, *y = *(const sevir_row *const *)b;
  int c = strcmp(x->id, y->id);
  if (c) return c;
  return (x->line > y->line) - (x->line < y->line);
}

// ---- event selection ----
typedef struct select_stats {
  int64_t type_rows, type_ids, eligible, in_split, after_pct, after_dates, dup_ids;
} select_stats;

// Picks the events of the split from the catalog (see the file comment).
// Returns them in id order; *n gets the count.
static sevir_row **select_events(const sevir_catalog *cat, const vp_config *cfg, const char *img_type,
                                 const char *split, int64_t *n, select_stats *ss) {
  memset(ss, 0, sizeof(*ss));
  int predldm = strcmp(cfg_str(cfg, "data.sevir.split_scheme"), "predldm") == 0;
  double maxpct = cfg_float(cfg, "data.sevir.max_pct_missing");
  if (maxpct < 0) maxpct = predldm ? 100.0 : 0.0;
  int64_t d0 = cfg_time(cfg, "data.sevir.date_start", INT64_MIN);
  int64_t d1 = cfg_time(cfg, "data.sevir.date_end", INT64_MAX);
  int64_t test_start = cfg_time(cfg, "data.sevir.test_start", INT64_MAX);
  int64_t val_start = cfg_time(cfg, "data.sevir.val_start", INT64_MIN);
  int has_val = cfg_str(cfg, "data.sevir.val_start")[0] != 0;
  int sp_train = strcmp(split, "train") == 0, sp_val = strcmp(split, "val") == 0;
  int sp_test = strcmp(split, "test") == 0, sp_all = strcmp(split, "all") == 0;
  char src[256];
  if (!predldm && has_val && val_start >= test_start)
    vp_die("data.sevir.val_start = %s (%s) must come before data.sevir.test_start = %s",
           cfg_str(cfg, "data.sevir.val_start"), cfg_source(cfg, "data.sevir.val_start", src, sizeof src),
           cfg_str(cfg, "data.sevir.test_start"));
  if (!predldm && sp_val && !has_val)
    vp_die("data.split = val: the official SEVIR split has no val part (neurips-2020-sevir trains on "
           "everything up to data.sevir.test_start); set data.sevir.val_start (Earthformer uses "
           "2019-01-01) or use data.sevir.split_scheme = predldm");

  // Group the rows by id (sorted, so ids come out in byte order, as pandas
  // groupby sorts them).
  sevir_row **byid = vp_malloc((size_t)(cat->n ? cat->n : 1) * sizeof(*byid));
  for (int64_t r = 0; r < cat->n; r++) byid[r] = &cat->rows[r];
  qsort(byid, (size_t)cat->n, sizeof(*byid), cmp_row);
  // Groups eligible for the scheme, as [start, end) ranges into byid.
  int64_t ng = 0;
  int64_t *gs = vp_malloc((size_t)(cat->n + 1) * sizeof(int64_t));
  int64_t *ge = vp_malloc((size_t)(cat->n + 1) * sizeof(int64_t));
  for (int64_t a = 0; a < cat->n;) {
    int64_t b = a;
    unsigned types = 0;
    int target = 0;
    while (b < cat->n && strcmp(byid[b]->id, byid[a]->id) == 0) {
      int k = type_index(byid[b]->img_type);
      if (k >= 0) types |= 1u << k;
      if (strcmp(byid[b]->img_type, img_type) == 0) target++;
      b++;
    }
    ss->type_rows += target;
    ss->type_ids += target > 0;
    int eligible = predldm ? types == (1u << NTYPES) - 1 : target > 0;
    ss->eligible += eligible;
    if (eligible) {
      gs[ng] = a;
      ge[ng] = b;
      ng++;
    }
    a = b;
  }
  int64_t g0 = 0, g1 = ng;
  if (predldm && !sp_all) {
    // math.floor(n * 0.6) etc. in double, as PredLDM computes the bounds.
    int64_t b6 = (int64_t)floor((double)ng * 0.6), b8 = (int64_t)floor((double)ng * 0.8);
    g0 = sp_train ? 0 : sp_val ? b6 : b8;
    g1 = sp_train ? b6 : sp_val ? b8 : ng;
  }
  sevir_row **out = vp_malloc((size_t)(ng ? ng : 1) * sizeof(*out));
  int64_t nout = 0;
  for (int64_t g = g0; g < g1; g++) {
    sevir_row *keep = NULL;
    int kept = 0, in_split = 0, after_pct = 0;
    for (int64_t r = gs[g]; r < ge[g]; r++) {
      sevir_row *row = byid[r];
      if (strcmp(row->img_type, img_type) != 0) continue;
      if (!predldm && !sp_all) {
        int64_t t = row->time_utc;
        int in = sp_test ? t > test_start
                 : sp_val ? (t > val_start && t <= test_start)
                          : t <= (has_val ? val_start : test_start);
        if (!in) continue;
      }
      in_split = 1;
      // NaN pct_missing passes only when nothing is filtered.
      if (!(maxpct >= 100.0 || row->pct_missing <= maxpct)) continue;
      after_pct = 1;
      if (!(row->time_utc > d0 && row->time_utc <= d1)) continue;
      keep = row;
      kept++;
    }
    ss->in_split += in_split;
    ss->after_pct += after_pct;
    ss->after_dates += kept > 0;
    if (kept > 1) ss->dup_ids++;
    else if (kept == 1) out[nout++] = keep;
  }
  free(gs);
  free(ge);
  free(byid);
  *n = nout;
  return out;
}

// ---- the source ----
static int64_t sevir_count(vp_source *s) {
  sevir_src *p = impl(s);
  return p->nev * p->nwin;
}

// raw (hw, nt) codes, time innermost as in the file -> planes (nt, hw) of
// values, in blocks of pixels so that reads and writes both stay in cache
// (a frame-at-a-time pass would stride through the whole event per frame).
// miss[t] counts the missing pixels of frame t.
static void event_decode(const uint8_t *raw, int64_t hw, int64_t nt, const float *lut, float *planes,
                         int64_t *miss) {
  enum { BLK = 256 };
  for (int64_t t = 0; t < nt; t++) miss[t] = 0;
  for (int64_t q0 = 0; q0 < hw; q0 += BLK) {
    int64_t q1 = q0 + BLK < hw ? q0 + BLK : hw;
    for (int64_t t = 0; t < nt; t++) {
      float *o = planes + t * hw;
      const uint8_t *r = raw + t;
      int64_t m = 0;
      for (int64_t q = q0; q < q1; q++) {
        uint8_t c = r[q * nt];
        m += c == SEVIR_MISSING;
        o[q] = lut[c];
      }
      miss[t] += m;
    }
  }
}

static void sevir_read(vp_source *s, int64_t i, vp_clip *out) {
  sevir_src *p = impl(s);
  if (i < 0 || i >= p->nev * p->nwin)
    vp_die("SEVIR clip %lld requested, the split has %lld clips", (long long)i, (long long)(p->nev * p->nwin));
  const sevir_event *e = &p->ev[i / p->nwin];
  int64_t t0 = (i % p->nwin) * p->stride, nt = p->frames;
  sevir_h5_read(&p->h5, e->file, e->index, t0, nt, p->raw);
  const sevir_h5_file *f = &p->h5.f[e->file];
  int64_t h = f->h, w = f->w, H = s->H, W = s->W, hw = h * w, HW = H * W;
  VP_ASSERT(out->T == s->T && out->H == s->H && out->W == s->W && out->nmod == 1);
  event_decode(p->raw, hw, nt, p->lut, p->planes, p->miss);
  for (int64_t t = 0; t < nt; t++) {
    float *dst = out->data[0] + t * HW;
    sevir_resize(p->planes + t * hw, h, w, dst, H, W, p->mode, p->tmp);
    if (!p->mask_missing) continue;
    uint8_t *m = out->mask[0] + t * HW;
    if (!p->miss[t]) {
      memset(m, 1, (size_t)HW);
      continue;
    }
    // A resized pixel is valid when no missing pixel has weight in it (the
    // resized missing indicator is exactly 0: every mode has weights >= 0).
    for (int64_t q = 0; q < hw; q++) p->inv[q] = p->raw[q * nt + t] == SEVIR_MISSING;
    sevir_resize(p->inv, h, w, p->rs, H, W, p->mode, p->tmp);
    for (int64_t q = 0; q < HW; q++) {
      m[q] = p->rs[q] <= 0.f;
      if (!m[q]) dst[q] = 0.f;
    }
  }
}

static void sevir_raw_stats(vp_source *s, int rank, int nranks, vp_raw_stats *st) {
  sevir_src *p = impl(s);
  VP_ASSERT(nranks > 0 && rank >= 0 && rank < nranks);
  int64_t e0 = p->nev * rank / nranks, e1 = p->nev * (rank + 1) / nranks;
  int64_t hist[256];
  memset(hist, 0, sizeof hist);
  for (int64_t e = e0; e < e1; e++) {
    const sevir_event *ev = &p->ev[e];
    sevir_h5_read(&p->h5, ev->file, ev->index, 0, p->T, p->raw);
    const sevir_h5_file *f = &p->h5.f[ev->file];
    int64_t hw = f->h * f->w;
    if (p->nused == p->T) {
      // Every frame is used: one linear pass, four histograms so that runs of
      // equal codes do not serialise on one counter.
      int64_t h4[4][256];
      memset(h4, 0, sizeof h4);
      int64_t n = hw * p->T, k = 0;
      for (; k + 4 <= n; k += 4) {
        h4[0][p->raw[k]]++;
        h4[1][p->raw[k + 1]]++;
        h4[2][p->raw[k + 2]]++;
        h4[3][p->raw[k + 3]]++;
      }
      for (; k < n; k++) h4[0][p->raw[k]]++;
      for (int c = 0; c < 256; c++) hist[c] += h4[0][c] + h4[1][c] + h4[2][c] + h4[3][c];
    } else {
      for (int64_t q = 0; q < hw; q++) {
        const uint8_t *px = p->raw + q * p->T;
        for (int64_t t = 0; t < p->T; t++)
          if (p->used[t]) hist[px[t]]++;
      }
    }
  }
  // Codes are the raw values: min / max / sum follow from the histogram.
  vp_raw_stats *r = &st[0];
  for (int c = 0; c < 256; c++) {
    if (!hist[c]) continue;
    r->total += hist[c];
    if (c == SEVIR_MISSING) continue;
    r->valid += hist[c];
    r->sum += (double)c * (double)hist[c];
    if (c < r->min) r->min = c;
    if (c > r->max) r->max = c;
  }
}

static void sevir_close(vp_source *s) {
  sevir_src *p = s->impl;
  sevir_h5_free(&p->h5);
  free(p->catalog);
  free(p->ev);
  free(p->idblob);
  free(p->used);
  free(p->raw);
  free(p->planes);
  free(p->miss);
  free(p->inv);
  free(p->tmp);
  free(p->rs);
  free(p);
  free(s);
}

static const vp_source_ops sevir_ops = {sevir_count, sevir_read, sevir_raw_stats, sevir_close};

vp_source *sevir_source_open(const vp_config *cfg) {
  sevir_h5_quiet();
  char src[256], err[1024];
  const char *root = cfg_str(cfg, "data.path");
  const char *catalog_opt = cfg_str(cfg, "data.sevir.catalog");
  const char *ddir_opt = cfg_str(cfg, "data.sevir.data_dir");
  if (!root[0] && (!catalog_opt[0] || !ddir_opt[0]))
    vp_die("data.source = sevir needs data.path (the SEVIR folder holding CATALOG.csv and data/), "
           "or both data.sevir.catalog and data.sevir.data_dir");
  char catalog[4096], ddir[4096];
  if (catalog_opt[0]) snprintf(catalog, sizeof catalog, "%s", catalog_opt);
  else path_join(catalog, sizeof catalog, root, "CATALOG.csv");
  if (ddir_opt[0]) snprintf(ddir, sizeof ddir, "%s", ddir_opt);
  else path_join(ddir, sizeof ddir, root, "data");

  const char *img_type = cfg_str(cfg, "data.sevir.img_type");
  if (type_index(img_type) < 0)
    vp_die("data.sevir.img_type = '%s' (%s) is not a SEVIR image type (vis, ir069, ir107, vil, lght; "
           "catalog %s)", img_type, cfg_source(cfg, "data.sevir.img_type", src, sizeof src), catalog);
  if (strcmp(img_type, "vil") != 0)
    vp_die("data.sevir.img_type = %s (%s): only vil (uint8 radar VIL, 255 = missing) is decoded by "
           "this reader; %s needs its own decoding (int16 satellite data or lightning flashes)",
           img_type, cfg_source(cfg, "data.sevir.img_type", src, sizeof src), img_type);
  const char *split = cfg_str(cfg, "data.split");
  if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test") && strcmp(split, "all"))
    vp_die("data.split = '%s' (%s): SEVIR splits are train, val, test and all", split,
           cfg_source(cfg, "data.split", src, sizeof src));
  int nmods = 0;
  char *const *mods = cfg_str_list(cfg, "data.modalities", &nmods);
  for (int k = 0; k < nmods; k++)
    if (strcmp(mods[k], img_type) != 0)
      vp_die("data.modalities lists '%s' (%s): the SEVIR source gives one modality, '%s'", mods[k],
             cfg_source(cfg, "data.modalities", src, sizeof src), img_type);
  int64_t frames = cfg_int(cfg, "data.frames");
  int nsz = 0;
  const int64_t *size = cfg_int_list(cfg, "data.size", &nsz);
  VP_ASSERT(nsz == 2);

  struct stat st;
  if (stat(catalog, &st) != 0)
    vp_die("cannot read the SEVIR catalog %s: %s. %s (get it with: aws s3 cp --no-sign-request "
           "s3://sevir/CATALOG.csv %s)", catalog, strerror(errno),
           catalog_opt[0] ? "Check data.sevir.catalog" : "Put CATALOG.csv in data.path or set data.sevir.catalog",
           catalog);
  sevir_catalog *cat = sevir_catalog_load(catalog, err, sizeof err);
  if (!cat) vp_die("cannot read the SEVIR catalog: %s", err);
  select_stats ss;
  int64_t nev = 0;
  sevir_row **rows = select_events(cat, cfg, img_type, split, &nev, &ss);
  if (ss.type_rows == 0) {
    char types[256] = "";
    for (int64_t r = 0; r < cat->n && strlen(types) < 200; r++)
      if (!strstr(types, cat->rows[r].img_type)) {
        size_t L = strlen(types);
        snprintf(types + L, sizeof types - L, "%s%s", L ? ", " : "", cat->rows[r].img_type);
      }
    vp_die("SEVIR catalog %s has no rows with img_type = %s (%lld rows; types present: %s)", catalog,
           img_type, (long long)cat->n, types[0] ? types : "none");
  }
  if (nev == 0)
    vp_die("no SEVIR events left for data.split = %s (scheme %s) in %s: %lld %s events in the catalog, "
           "%lld eligible for the scheme%s, %lld in the split, %lld with pct_missing <= the maximum, "
           "%lld in the date range, %lld dropped as duplicated ids. Check data.sevir.split_scheme, "
           "test_start / val_start, max_pct_missing and date_start / date_end", split,
           cfg_str(cfg, "data.sevir.split_scheme"), catalog, (long long)ss.type_ids, img_type,
           (long long)ss.eligible,
           strcmp(cfg_str(cfg, "data.sevir.split_scheme"), "predldm") == 0
               ? " (predldm: ids with rows of all five image types vis, ir069, ir107, vil, lght)"
               : "",
           (long long)ss.in_split, (long long)ss.after_pct, (long long)ss.after_dates, (long long)ss.dup_ids);

  sevir_src *p = vp_calloc(1, sizeof(*p));
  p->catalog = vp_strdup(catalog);
  p->nev = nev;
  p->ev = vp_calloc((size_t)nev, sizeof(sevir_event));
  size_t idbytes = 0;
  for (int64_t e = 0; e < nev; e++) idbytes += strlen(rows[e]->id) + 1;
  p->idblob = vp_malloc(idbytes);
  sevir_h5_init(&p->h5, img_type, (int)cfg_int(cfg, "data.sevir.max_open_files"));
  char *idp = p->idblob;
  for (int64_t e = 0; e < nev; e++) {
    const sevir_row *r = rows[e];
    sevir_event *ev = &p->ev[e];
    size_t L = strlen(r->id) + 1;
    memcpy(idp, r->id, L);
    ev->id = idp;
    idp += L;
    if (r->file_index < 0)
      vp_die("SEVIR catalog %s line %lld: event %s has no file_index", catalog, (long long)r->line, r->id);
    ev->index = r->file_index;
    ev->time_utc = r->time_utc;
    ev->line = r->line;
    char path[8192], origin[8192];
    path_join(path, sizeof path, ddir, r->file_name);
    snprintf(origin, sizeof origin, "file_name of event %s at %s line %lld", r->id, catalog, (long long)r->line);
    ev->file = sevir_h5_add(&p->h5, path, origin);
  }
  free(rows);
  sevir_catalog_free(cat);

  // Check every file the split uses now, so a bad file stops the run before
  // training starts rather than hours into it.
  p->T = -1;
  for (int i = 0; i < p->h5.nfiles; i++) {
    sevir_h5_inspect(&p->h5, i);
    const sevir_h5_file *f = &p->h5.f[i];
    if (p->T < 0) p->T = f->t;
    if (f->t != p->T)
      vp_die("SEVIR file %s has %lld frames per event but %s has %lld; all files of one image type "
             "must agree", f->path, (long long)f->t, p->h5.f[0].path, (long long)p->T);
    if (f->h > p->fh) p->fh = f->h;
    if (f->w > p->fw) p->fw = f->w;
  }
  for (int64_t e = 0; e < nev; e++) {
    const sevir_event *ev = &p->ev[e];
    const sevir_h5_file *f = &p->h5.f[ev->file];
    if (ev->index >= f->n)
      vp_die("SEVIR catalog %s line %lld: event %s has file_index %lld, but %s holds %lld events in "
             "dataset '%s' (file_index 0..%lld): the catalog and the data files do not belong "
             "together (a partial or different download?)", catalog, (long long)ev->line, ev->id,
             (long long)ev->index, f->path, (long long)f->n, img_type, (long long)f->n - 1);
  }
  if (cfg_bool(cfg, "data.sevir.check_ids")) {
    for (int i = 0; i < p->h5.nfiles; i++) {
      const sevir_h5_file *f = &p->h5.f[i];
      char *ids = vp_malloc((size_t)(f->n ? f->n : 1) * SEVIR_IDLEN);
      if (sevir_h5_read_ids(&p->h5, i, ids, SEVIR_IDLEN) == 0) {
        for (int64_t e = 0; e < nev; e++) {
          const sevir_event *ev = &p->ev[e];
          if (ev->file != i || strcmp(ids + ev->index * SEVIR_IDLEN, ev->id) == 0) continue;
          vp_die("SEVIR catalog %s line %lld: event %s is file_index %lld of %s, but the file's "
                 "id[%lld] is '%s': the catalog does not describe this file (set "
                 "data.sevir.check_ids = false to read it anyway)", catalog, (long long)ev->line,
                 ev->id, (long long)ev->index, f->path, (long long)ev->index, ids + ev->index * SEVIR_IDLEN);
        }
      }
      free(ids);
    }
  }
  if (frames > p->T)
    vp_die("data.frames = %lld (%s) is longer than a SEVIR event (%lld frames in %s)", (long long)frames,
           cfg_source(cfg, "data.frames", src, sizeof src), (long long)p->T, p->h5.f[0].path);
  p->frames = frames;
  p->stride = cfg_int(cfg, "data.sevir.stride");
  p->nwin = (p->T - frames) / p->stride + 1;
  p->used = vp_calloc((size_t)p->T, 1);
  for (int64_t w = 0; w < p->nwin; w++)
    for (int64_t t = 0; t < frames; t++) p->used[w * p->stride + t] = 1;
  for (int64_t t = 0; t < p->T; t++) p->nused += p->used[t];
  p->mode = (sevir_resize_mode)cfg_enum(cfg, "data.sevir.resize");
  p->mask_missing = cfg_bool(cfg, "data.sevir.mask_missing");
  int64_t H = size[0], W = size[1];
  size_t fpx = (size_t)(p->fh * p->fw);
  p->raw = vp_malloc(fpx * (size_t)p->T);
  p->planes = vp_malloc(fpx * (size_t)frames * sizeof(float));
  p->miss = vp_malloc((size_t)frames * sizeof(int64_t));
  p->inv = vp_malloc(fpx * sizeof(float));
  for (int c = 0; c < 256; c++)
    p->lut[c] = (c == SEVIR_MISSING && p->mask_missing) ? 0.f : (float)c / 255.f;
  p->tmp = vp_malloc((size_t)p->fh * (size_t)(p->fw > W ? p->fw : W) * sizeof(float));
  p->rs = vp_malloc((size_t)(H * W) * sizeof(float));

  vp_source *s = vp_calloc(1, sizeof(*s));
  s->ops = &sevir_ops;
  s->kind = "sevir";
  s->T = (int)frames;
  s->H = (int)H;
  s->W = (int)W;
  s->nmod = 1;
  snprintf(s->mod[0].name, sizeof s->mod[0].name, "%s", img_type);
  s->mod[0].kind = VP_MOD_FIELD;
  s->mod[0].channels = 1;
  s->mod[0].has_mask = p->mask_missing;
  s->impl = p;
  return s;
}

void sevir_source_clip_info(vp_source *s, int64_t i, sevir_clip_info *out) {
  sevir_src *p = impl(s);
  VP_ASSERT(i >= 0 && i < p->nev * p->nwin);
  const sevir_event *e = &p->ev[i / p->nwin];
  out->id = e->id;
  out->time_utc = e->time_utc;
  out->path = p->h5.f[e->file].path;
  out->file_index = e->index;
  out->t0 = (i % p->nwin) * p->stride;
  out->event = i / p->nwin;
  out->catalog_line = e->line;
}

int64_t sevir_source_events(vp_source *s) { return impl(s)->nev; }
int64_t sevir_source_windows(vp_source *s) { return impl(s)->nwin; }
