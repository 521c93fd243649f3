// era5.c: the era5 clip source: gridded NetCDF fields (ERA5-Land from the
// old or new CDS, or any CF variable (time, lat, lon)) as clips of
// data.frames time steps, one VP_MOD_FIELD modality per variable.
//
// What it does, in order (the per-file work is in era5_file.c):
//   files     data.path is a file, a directory (its *.nc / *.nc4 files) or a
//             glob pattern. Files are ordered by their first time value and
//             concatenated; overlapping times, another calendar or another
//             grid in one file is an error naming both files.
//   variables data.modalities lists them ([]: every gridded variable of the
//             first file by name, in its order, at most VP_MAX_MOD); each is a
//             1-channel VP_MOD_FIELD modality named after the variable, with a
//             mask when the variable declares missing values (_FillValue,
//             missing_value, or a floating type, whose NaN is missing).
//   grid      normalised: rows north to south, longitudes increasing in
//             [-180, 180) (data.era5.lon_range = 180) or [0, 360) (360).
//             data.era5.crop is a [lat_min, lat_max, lon_min, lon_max] box in
//             degrees (cells whose centres lie inside), data.era5.crop_index
//             a [row0, row1, col0, col1) box of the normalised grid.
//   split     by time: the first train_fraction of the steps is train, the
//             next val_fraction val, the rest test (SyncVP: 80 / 20).
//   clips     windows of data.frames steps starting every data.era5.stride
//             steps inside the split (never straddling its boundary).
//   values    physical (unpacked in double), then min-max normalised to
//             norm_range with bounds from the train split's valid values
//             (norm: data, so every split uses the same bounds) or given
//             ones; missing cells (fill / NaN) become 0 with mask 0; frames
//             are resized to data.size with a masked resize (values averaged
//             over valid cells only, a cell valid when at least half of its
//             footprint is).
//             Values beyond the bounds are not clipped (test data may exceed
//             the train split's range).
//   all-NaN   a clip in which a variable has no valid cell at all is an
//             error naming the variable, the time steps and the file.
//   stats     raw_stats (`vpcast data stats`): physical values in the crop
//             box, before normalisation and resizing, at every time step
//             that some clip of the split covers; rank r of n takes the r-th
//             of n contiguous, disjoint shares of those steps.
// Reads: the split's cropped fields are read into memory at open when they
// fit in data.era5.cache_mb (default 1 GiB; then every all-missing clip is
// found at open, and no NetCDF call happens after it), else every clip reads
// its hyperslab (window x crop box) with nc_get_vara; files stay open.
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "core/config.h"
#include "io/era5_file.h"
#include "io/resize.h"
#include "io/source.h"

const vp_option opts_data_era5[] = {
    {.key = "data.era5.stride", .type = OPT_INT, .def = "1", .range = "[1, 2^31)",
     .help = "time steps between the first frames of consecutive clips (clips stay inside their split)"},
    {.key = "data.era5.train_fraction", .type = OPT_FLOAT, .def = "0.8", .range = "(0, 1]",
     .help = "leading fraction of the time steps (in time order) forming the train split (SyncVP: 0.8)"},
    {.key = "data.era5.val_fraction", .type = OPT_FLOAT, .def = "0", .range = "[0, 1)",
     .help = "fraction of the time steps after the train ones forming the val split; the rest is test"},
    {.key = "data.era5.crop", .type = OPT_FLOAT_LIST, .def = "[]",
     .help = "[lat_min, lat_max, lon_min, lon_max] in degrees: grid cells whose centres lie in the box ([]: all)"},
    {.key = "data.era5.crop_index", .type = OPT_INT_LIST, .def = "[]", .range = "[0, 2^31)",
     .help = "[row0, row1, col0, col1): rows from the north, columns from the west of the normalised grid"},
    {.key = "data.era5.lon_range", .type = OPT_ENUM, .def = "180", .choices = "180|360",
     .help = "longitudes normalised to [-180, 180) or [0, 360); crop longitudes are in the same range"},
    {.key = "data.era5.resize", .type = OPT_ENUM, .def = "bilinear", .choices = "bilinear|area|nearest",
     .help = "resizing of the crop to data.size (F.interpolate modes; missing cells are left out)"},
    {.key = "data.era5.norm", .type = OPT_ENUM, .def = "data", .choices = "data|bounds|none",
     .help = "min-max bounds per variable: from the train split's valid values, from data.era5.bounds, or none"},
    {.key = "data.era5.bounds", .type = OPT_FLOAT_LIST, .def = "[]",
     .help = "[min, max] per variable in physical units, in data.modalities order (norm: bounds)"},
    {.key = "data.era5.norm_range", .type = OPT_FLOAT_LIST, .def = "[-1, 1]", .len = 2,
     .help = "[lo, hi] that each variable's [min, max] maps to; missing cells are 0"},
    {.key = "data.era5.cache_mb", .type = OPT_INT, .def = "1024", .range = "[0, 2^40)",
     .help = "read the split's cropped fields into memory once when they fit in this many MiB (0: never)"},
    {.key = "data.era5.chunk_cache_mb", .type = OPT_INT, .def = "32", .range = "[0, 65536]",
     .help = "HDF5 chunk cache per variable of each NetCDF4 file, in MiB"},
    OPT_END,
};

enum { NORM_DATA = 0, NORM_BOUNDS = 1, NORM_NONE = 2 };

typedef struct era5 {
  int nfiles;
  e5_file *files;            // in time order
  int64_t *fbeg;             // (nfiles + 1) global index of each file's first step
  int64_t N;                 // time steps in all files
  int nvar;
  int64_t nlat, nlon;        // normalised grid
  int64_t r0, c0, h, w;      // crop box in the normalised grid
  int T, H, W;
  vp_resize_mode mode;
  char split[16];
  int64_t a, b;              // the split's steps [a, b)
  int64_t ntrain;            // train steps [0, ntrain): normalisation bounds
  int64_t stride, nclips;
  int norm;
  double vmin[VP_MAX_MOD], vmax[VP_MAX_MOD], lo, hi;
  int64_t cache_mb;
  float *cache[VP_MAX_MOD];  // (b - a, h, w) physical, NaN = missing; NULL: read per clip
  float *frames;             // (T, h, w) one variable of one clip
  float *vbuf, *mbuf;        // (h, w) value - min with 0 where missing; validity as 0 / 1
  float *rv, *rm;            // (H, W) the two resized
} era5;

// ---- time steps across files ----

static int file_of(const era5 *e, int64_t g) {
  int lo = 0, hi = e->nfiles - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (e->fbeg[mid] <= g) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static const char *step_str(const era5 *e, int64_t g, char *buf, size_t n) {
  const e5_file *f = &e->files[file_of(e, g)];
  char t[128];
  snprintf(buf, n, "%s (%s)", e5_file_time_str(f, g - e->fbeg[file_of(e, g)], t, sizeof t), f->path);
  return buf;
}

// Variable v, global steps [g0, g0 + n), crop box -> out (n, h, w), from the files.
static void read_files(era5 *e, int v, int64_t g0, int64_t n, float *out) {
  while (n > 0) {
    int fi = file_of(e, g0);
    int64_t local = g0 - e->fbeg[fi], k = e->fbeg[fi + 1] - g0 < n ? e->fbeg[fi + 1] - g0 : n;
    e5_file_read(&e->files[fi], v, local, k, e->r0, e->h, e->c0, e->w, out);
    out += k * e->h * e->w;
    g0 += k;
    n -= k;
  }
}

// Steps per piece when streaming a range: about 64 MiB of floats.
static int64_t piece_steps(const era5 *e) {
  int64_t p = (64 << 20) / (4 * e->h * e->w);
  return p < 1 ? 1 : p;
}

// ---- normalisation bounds and the cache (at open) ----

static void scan_minmax(const float *x, int64_t n, double *mn, double *mx) {
  float a = INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i])) {
      a = x[i] < a ? x[i] : a;
      b = x[i] > b ? x[i] : b;
    }
  if (a < *mn) *mn = a;
  if (b > *mx) *mx = b;
}

static void die_all_missing(const era5 *e, int v, int64_t i) {
  char s0[512], s1[512];
  int64_t g0 = e->a + i * e->stride;
  vp_die("era5: variable %s has no valid value in clip %lld of the %s split (time steps %s to %s): every cell of "
         "the crop box is missing (fill or NaN) in all %d frames; move data.era5.crop over land or remove those "
         "time steps from the files",
         e->files[0].var[v].name, (long long)i, e->split, step_str(e, g0, s0, sizeof s0),
         step_str(e, g0 + e->T - 1, s1, sizeof s1), e->T);
}

// At open (in the thread that opens the source, so that with the cache no
// NetCDF call happens later): the cache, and the normalisation bounds.
static void prepare(era5 *e) {
  int64_t px = e->h * e->w, n = e->b - e->a;
  if ((double)e->nvar * (double)n * (double)px * 4.0 <= (double)e->cache_mb * 1048576.0)
    for (int v = 0; v < e->nvar; v++) {
      e->cache[v] = vp_malloc((size_t)(n * px) * sizeof(float));
      for (int64_t t = 0, p = piece_steps(e); t < n; t += p)
        read_files(e, v, e->a + t, n - t < p ? n - t : p, e->cache[v] + t * px);
    }
  if (e->norm == NORM_DATA && e->ntrain == 0)
    vp_die("era5: data.era5.norm = data takes its bounds from the train split, which is empty (train_fraction "
           "of %lld time steps); give data.era5.bounds with data.era5.norm = bounds",
           (long long)e->N);
  if (e->norm == NORM_DATA) {
    int from_cache = e->cache[0] && e->a == 0 && e->b == e->ntrain;
    float *buf = from_cache ? NULL : vp_malloc((size_t)(piece_steps(e) * px) * sizeof(float));
    for (int v = 0; v < e->nvar; v++) {
      double mn = INFINITY, mx = -INFINITY;
      if (from_cache)
        scan_minmax(e->cache[v], e->ntrain * px, &mn, &mx);
      else
        for (int64_t t = 0, p = piece_steps(e); t < e->ntrain; t += p) {
          int64_t k = e->ntrain - t < p ? e->ntrain - t : p;
          read_files(e, v, t, k, buf);
          scan_minmax(buf, k * px, &mn, &mx);
        }
      if (!(mx >= mn)) {
        char s0[512], s1[512];
        vp_die("era5: variable %s has no valid value in the train split (steps %s to %s) inside the crop box "
               "(rows [%lld, %lld), columns [%lld, %lld)): every cell is missing (fill or NaN); move the crop "
               "box over land, or set data.era5.norm = bounds",
               e->files[0].var[v].name, step_str(e, 0, s0, sizeof s0), step_str(e, e->ntrain - 1, s1, sizeof s1),
               (long long)e->r0, (long long)(e->r0 + e->h), (long long)e->c0, (long long)(e->c0 + e->w));
      }
      if (mx == mn)
        vp_warn("era5: variable %s is constant (%g) over the train split; it normalises to the middle of "
                "data.era5.norm_range", e->files[0].var[v].name, mn);
      e->vmin[v] = mn;
      e->vmax[v] = mx;
    }
    free(buf);
  }
  // With the cache, an all-missing clip is found now rather than in the
  // middle of training (after the bounds, whose message is clearer when the
  // whole crop box is sea).
  if (e->cache[0]) {
    int64_t *valid = vp_malloc((size_t)n * sizeof(int64_t));
    for (int v = 0; v < e->nvar; v++) {
      for (int64_t t = 0; t < n; t++) {
        const float *x = e->cache[v] + t * px;
        int64_t c = 0;
        for (int64_t k = 0; k < px; k++) c += !isnan(x[k]);
        valid[t] = c;
      }
      for (int64_t i = 0; i < e->nclips; i++) {
        int64_t c = 0;
        for (int64_t t = 0; t < e->T; t++) c += valid[i * e->stride + t];
        if (c == 0) die_all_missing(e, v, i);
      }
    }
    free(valid);
  }
}

// ---- the source ----

static int64_t era5_count(vp_source *s) { return ((era5 *)s->impl)->nclips; }

static void era5_read(vp_source *s, int64_t i, vp_clip *out) {
  era5 *e = s->impl;
  VP_ASSERT(i >= 0 && i < e->nclips && out->T == e->T && out->H == e->H && out->W == e->W);
  int64_t g0 = e->a + i * e->stride, px = e->h * e->w, PX = (int64_t)e->H * e->W;
  int resize = e->h != e->H || e->w != e->W;
  for (int v = 0; v < e->nvar; v++) {
    const float *fr = e->cache[v] ? e->cache[v] + (g0 - e->a) * px : e->frames;
    if (!e->cache[v]) read_files(e, v, g0, e->T, e->frames);
    // y = (x - mn) * a + lo: the affine min-max map (identity for norm none).
    float a = 1.0f, lo = 0.0f, mn = 0.0f;
    if (e->norm != NORM_NONE) {
      double span = e->vmax[v] - e->vmin[v];
      a = span > 0 ? (float)((e->hi - e->lo) / span) : 0.0f;
      lo = span > 0 ? (float)e->lo : (float)(0.5 * (e->lo + e->hi));
      mn = (float)e->vmin[v];
    }
    float *dst = out->data[v];
    uint8_t *msk = out->mask[v];
    int64_t nvalid = 0;
    for (int64_t t = 0; t < e->T; t++) {
      const float *x = fr + t * px;
      float *y = dst + t * PX;
      uint8_t *m = msk ? msk + t * PX : NULL;
      int64_t nv = 0;
      if (!resize) {
        int32_t nv32 = 0;
        for (int64_t k = 0; k < px; k++) {
          int ok = !isnan(x[k]);
          float yv = (x[k] - mn) * a + lo;  // computed either way: the loop vectorises
          y[k] = ok ? yv : 0.0f;
          nv32 += ok;
        }
        nv = nv32;
        if (m)
          for (int64_t k = 0; k < px; k++) m[k] = (uint8_t)!isnan(x[k]);
        nvalid += nv;
        continue;
      }
      // Resize x - mn, then scale: the map is affine and resize weights sum
      // to one, so they commute, and x - mn keeps float precision (sp is
      // about 1e5 Pa but spans a few hundred). Missing cells: masked resize
      // of (value * mask) and mask; a cell is valid when at least half its
      // footprint is, and holds the mean of the valid values there.
      float *restrict vb = e->vbuf, *restrict mb = e->mbuf, *restrict rv = e->rv, *restrict rm = e->rm;
      int32_t nv32 = 0;  // a 32-bit count and an unconditional subtraction: the loop vectorises
      for (int64_t k = 0; k < px; k++) {
        int ok = !isnan(x[k]);
        float d = x[k] - mn;
        vb[k] = ok ? d : 0.0f;
        mb[k] = (float)ok;
        nv32 += ok;
      }
      nv = nv32;
      nvalid += nv;
      resize_image(vb, e->h, e->w, 1, rv, e->H, e->W, e->mode);
      if (nv == px) {
        for (int64_t k = 0; k < PX; k++) y[k] = rv[k] * a + lo;
        if (m) memset(m, 1, (size_t)PX);
        continue;
      }
      resize_image(mb, e->h, e->w, 1, rm, e->H, e->W, e->mode);
      for (int64_t k = 0; k < PX; k++) {
        float q = rv[k] / rm[k] * a + lo;  // inf / NaN where rm is 0, not selected
        y[k] = rm[k] >= 0.5f ? q : 0.0f;
      }
      if (m)
        for (int64_t k = 0; k < PX; k++) m[k] = (uint8_t)(rm[k] >= 0.5f);
    }
    if (nvalid == 0) die_all_missing(e, v, i);
  }
}

// Steps of [a, b) that some clip covers, for raw statistics.
static int64_t covered_steps(const era5 *e, int64_t *out) {
  int64_t n = 0;
  for (int64_t t = e->a; t < e->b; t++) {
    int64_t d = t - e->a, khi = d / e->stride, klo = d - e->T + 1 <= 0 ? 0 : (d - e->T + 1 + e->stride - 1) / e->stride;
    if (khi > e->nclips - 1) khi = e->nclips - 1;
    if (klo <= khi) out[n++] = t;
  }
  return n;
}

static void era5_raw_stats(vp_source *s, int rank, int nranks, vp_raw_stats *st) {
  era5 *e = s->impl;
  VP_ASSERT(nranks >= 1 && rank >= 0 && rank < nranks);
  int64_t *steps = vp_malloc((size_t)(e->b - e->a) * sizeof(int64_t));
  int64_t n = covered_steps(e, steps), px = e->h * e->w;
  int64_t lo = n * rank / nranks, hi = n * (rank + 1) / nranks, p = piece_steps(e);
  if (p > hi - lo) p = hi - lo;
  float *buf = e->cache[0] || p == 0 ? NULL : vp_malloc((size_t)(p * px) * sizeof(float));
  for (int v = 0; v < e->nvar; v++)
    for (int64_t k = lo; k < hi;) {
      // A run of consecutive steps, at most one piece long.
      int64_t k1 = k + 1;
      while (k1 < hi && k1 - k < p && steps[k1] == steps[k1 - 1] + 1) k1++;
      int64_t g0 = steps[k], len = k1 - k;
      const float *x = buf;
      if (e->cache[v])
        x = e->cache[v] + (g0 - e->a) * px;
      else
        read_files(e, v, g0, len, buf);
      vp_raw_stats *r = &st[v];
      for (int64_t q = 0; q < len * px; q++) {
        if (isnan(x[q])) continue;
        double d = x[q];
        r->min = d < r->min ? d : r->min;
        r->max = d > r->max ? d : r->max;
        r->sum += d;
        r->valid++;
      }
      r->total += len * px;
      k = k1;
    }
  free(buf);
  free(steps);
}

static void era5_close(vp_source *s) {
  era5 *e = s->impl;
  for (int f = 0; f < e->nfiles; f++) e5_file_close(&e->files[f]);
  for (int v = 0; v < e->nvar; v++) free(e->cache[v]);
  free(e->files);
  free(e->fbeg);
  free(e->frames);
  free(e->vbuf);
  free(e->mbuf);
  free(e->rv);
  free(e->rm);
  free(e);
  free(s);
}

static const vp_source_ops era5_ops = {era5_count, era5_read, era5_raw_stats, era5_close};

// ---- opening ----

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

// The files data.path names: a file, a directory's *.nc / *.nc4, or a glob.
static char **list_files(const char *path, int *n) {
  char **out = NULL;
  *n = 0;
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    DIR *d = opendir(path);
    if (!d) vp_die("data.path = %s: cannot list the directory: %s", path, strerror(errno));
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
      if (!has_suffix(de->d_name, ".nc") && !has_suffix(de->d_name, ".nc4")) continue;
      size_t len = strlen(path) + strlen(de->d_name) + 2;
      char *p = vp_malloc(len);
      snprintf(p, len, "%s/%s", path, de->d_name);
      if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        free(p);
        continue;
      }
      out = vp_realloc(out, (size_t)(*n + 1) * sizeof(char *));
      out[(*n)++] = p;
    }
    closedir(d);
    if (*n == 0) vp_die("data.path = %s: the directory holds no *.nc or *.nc4 files", path);
  } else if (strpbrk(path, "*?[")) {
    glob_t g;
    int st = glob(path, 0, NULL, &g);
    if (st == GLOB_NOMATCH) vp_die("data.path = %s: no file matches the pattern", path);
    if (st != 0) vp_die("data.path = %s: cannot expand the pattern (glob error %d)", path, st);
    for (size_t k = 0; k < g.gl_pathc; k++) {
      out = vp_realloc(out, (size_t)(*n + 1) * sizeof(char *));
      out[(*n)++] = vp_strdup(g.gl_pathv[k]);
    }
    globfree(&g);
  } else {
    out = vp_malloc(sizeof(char *));
    out[(*n)++] = vp_strdup(path);
  }
  qsort(out, (size_t)*n, sizeof(char *), cmp_str);
  return out;
}

static int cmp_file_time(const void *a, const void *b) {
  double x = ((const e5_file *)a)->t[0], y = ((const e5_file *)b)->t[0];
  return x < y ? -1 : x > y;
}

// Same grid (after normalisation) in every file, else an error naming both.
static void check_grid(const e5_file *a, const e5_file *b) {
  if (a->nlat != b->nlat || a->nlon != b->nlon)
    vp_die("era5: %s has a %lld x %lld (latitude x longitude) grid but %s has %lld x %lld: all files must share "
           "one grid",
           b->path, (long long)b->nlat, (long long)b->nlon, a->path, (long long)a->nlat, (long long)a->nlon);
  for (int64_t i = 0; i < a->nlat; i++)
    if (fabs(a->lat[i] - b->lat[i]) > 1e-4)
      vp_die("era5: %s and %s have different grids: latitude of row %lld is %g in one and %g in the other",
             a->path, b->path, (long long)i, a->lat[i], b->lat[i]);
  for (int64_t j = 0; j < a->nlon; j++)
    if (fabs(a->lon[j] - b->lon[j]) > 1e-4)
      vp_die("era5: %s and %s have different grids: longitude of column %lld is %g in one and %g in the other",
             a->path, b->path, (long long)j, a->lon[j], b->lon[j]);
}

// Indices [lo, hi) of the monotonic coordinate x[n] inside [a, b] (-1: none).
static void box_range(const double *x, int64_t n, double a, double b, int64_t *lo, int64_t *hi) {
  const double tol = 1e-4;  // degrees: legacy CDS coordinates are float (35.1 is 35.0999985)
  *lo = -1;
  *hi = -1;
  for (int64_t i = 0; i < n; i++)
    if (x[i] >= a - tol && x[i] <= b + tol) {
      if (*lo < 0) *lo = i;
      *hi = i + 1;
    }
}

static void setup_crop(era5 *e, const vp_config *cfg) {
  char src[512], l[256];
  int nc, ni;
  const double *c = cfg_float_list(cfg, "data.era5.crop", &nc);
  const int64_t *ix = cfg_int_list(cfg, "data.era5.crop_index", &ni);
  const e5_file *f = &e->files[0];
  e->r0 = 0, e->c0 = 0, e->h = e->nlat, e->w = e->nlon;
  if (nc && ni)
    vp_die("data.era5.crop (%s) and data.era5.crop_index (%s) are both set; use one of them",
           cfg_source(cfg, "data.era5.crop", src, sizeof src), cfg_source(cfg, "data.era5.crop_index", l, sizeof l));
  if (ni) {
    cfg_source(cfg, "data.era5.crop_index", src, sizeof src);
    if (ni != 4)
      vp_die("data.era5.crop_index (%s) has %d values; expected [row0, row1, col0, col1]", src, ni);
    snprintf(l, sizeof l, "[%lld, %lld, %lld, %lld]", (long long)ix[0], (long long)ix[1], (long long)ix[2],
             (long long)ix[3]);
    if (ix[0] >= ix[1] || ix[2] >= ix[3])
      vp_die("data.era5.crop_index = %s (%s) is an empty or inverted box: it needs row0 < row1 and col0 < col1 "
             "(half-open [row0, row1, col0, col1))", l, src);
    if (ix[1] > e->nlat || ix[3] > e->nlon)
      vp_die("data.era5.crop_index = %s (%s) lies outside the grid of %s, which has %lld rows and %lld columns",
             l, src, f->path, (long long)e->nlat, (long long)e->nlon);
    e->r0 = ix[0], e->h = ix[1] - ix[0], e->c0 = ix[2], e->w = ix[3] - ix[2];
  }
  if (nc) {
    cfg_source(cfg, "data.era5.crop", src, sizeof src);
    if (nc != 4) vp_die("data.era5.crop (%s) has %d values; expected [lat_min, lat_max, lon_min, lon_max]", src, nc);
    snprintf(l, sizeof l, "[%g, %g, %g, %g]", c[0], c[1], c[2], c[3]);
    if (!(c[0] < c[1]) || !(c[2] < c[3]))
      vp_die("data.era5.crop = %s (%s) is an empty or inverted box: it needs lat_min < lat_max and lon_min < "
             "lon_max, in the order [lat_min, lat_max, lon_min, lon_max]", l, src);
    // The grid's extent, with half a cell of slack at each edge.
    double la0 = f->lat[e->nlat - 1], la1 = f->lat[0], lo0 = f->lon[0], lo1 = f->lon[e->nlon - 1];
    double hy = e->nlat > 1 ? 0.5 * (la1 - la0) / (double)(e->nlat - 1) : 0.5;
    double hx = e->nlon > 1 ? 0.5 * (lo1 - lo0) / (double)(e->nlon - 1) : 0.5;
    if (c[0] < la0 - hy - 1e-9 || c[1] > la1 + hy + 1e-9 || c[2] < lo0 - hx - 1e-9 || c[3] > lo1 + hx + 1e-9)
      vp_die("data.era5.crop = %s (%s) lies outside the grid of %s, which covers latitudes [%g, %g] and "
             "longitudes [%g, %g] (data.era5.lon_range = %s)",
             l, src, f->path, la0, la1, lo0, lo1, cfg_str(cfg, "data.era5.lon_range"));
    int64_t r0, r1, c0, c1;
    box_range(f->lat, e->nlat, c[0], c[1], &r0, &r1);
    box_range(f->lon, e->nlon, c[2], c[3], &c0, &c1);
    if (r0 < 0 || c0 < 0)
      vp_die("data.era5.crop = %s (%s) contains no grid cell centre of %s (grid spacing about %g x %g degrees)", l,
             src, f->path, 2 * hy, 2 * hx);
    e->r0 = r0, e->h = r1 - r0, e->c0 = c0, e->w = c1 - c0;
  }
}

static void setup_split(era5 *e, const vp_config *cfg) {
  char src[512];
  double tf = cfg_float(cfg, "data.era5.train_fraction"), vf = cfg_float(cfg, "data.era5.val_fraction");
  if (tf + vf > 1.0 + 1e-12)
    vp_die("data.era5.train_fraction (%g) + data.era5.val_fraction (%g) exceed 1", tf, vf);
  int64_t ntr = (int64_t)floor(tf * (double)e->N + 1e-9), nva = (int64_t)floor(vf * (double)e->N + 1e-9);
  if (ntr + nva > e->N) nva = e->N - ntr;
  e->ntrain = ntr;
  const char *sp = cfg_str(cfg, "data.split");
  snprintf(e->split, sizeof e->split, "%s", sp);
  if (!strcmp(sp, "train"))
    e->a = 0, e->b = ntr;
  else if (!strcmp(sp, "val")) {
    if (nva == 0)
      vp_die("data.split = val (%s), but the era5 source has no val split: set data.era5.val_fraction > 0",
             cfg_source(cfg, "data.split", src, sizeof src));
    e->a = ntr, e->b = ntr + nva;
  } else if (!strcmp(sp, "test"))
    e->a = ntr + nva, e->b = e->N;
  else
    vp_die("data.split = %s (%s): the era5 source has the splits train, val and test", sp,
           cfg_source(cfg, "data.split", src, sizeof src));
  int64_t n = e->b - e->a;
  if (n < e->T)
    vp_die("era5: the %s split has %lld time steps (steps [%lld, %lld) of %lld in %d file(s) from %s) but a clip "
           "needs data.frames = %d; use fewer frames, more files or other split fractions",
           e->split, (long long)n, (long long)e->a, (long long)e->b, (long long)e->N, e->nfiles, e->files[0].path,
           e->T);
  e->stride = cfg_int(cfg, "data.era5.stride");
  e->nclips = (n - e->T) / e->stride + 1;
}

static void setup_norm(era5 *e, const vp_config *cfg) {
  char src[512];
  int nr, nb;
  const double *r = cfg_float_list(cfg, "data.era5.norm_range", &nr);
  e->lo = r[0];
  e->hi = r[1];
  if (!(e->lo < e->hi))
    vp_die("data.era5.norm_range = [%g, %g] (%s) must have lo < hi", e->lo, e->hi,
           cfg_source(cfg, "data.era5.norm_range", src, sizeof src));
  e->norm = cfg_enum(cfg, "data.era5.norm");
  const double *bd = cfg_float_list(cfg, "data.era5.bounds", &nb);
  cfg_source(cfg, "data.era5.bounds", src, sizeof src);
  if (e->norm != NORM_BOUNDS) {
    if (nb) vp_warn("data.era5.bounds (%s) is ignored: data.era5.norm is %s", src, cfg_str(cfg, "data.era5.norm"));
    return;
  }
  if (nb != 2 * e->nvar)
    vp_die("data.era5.bounds (%s) has %d values but %d variable(s) are read (%s%s%s%s%s%s%s): give [min, max] for "
           "each, in that order",
           src, nb, e->nvar, e->files[0].var[0].name, e->nvar > 1 ? ", " : "", e->nvar > 1 ? e->files[0].var[1].name : "",
           e->nvar > 2 ? ", " : "", e->nvar > 2 ? e->files[0].var[2].name : "", e->nvar > 3 ? ", " : "",
           e->nvar > 3 ? e->files[0].var[3].name : "");
  for (int v = 0; v < e->nvar; v++) {
    if (!(bd[2 * v] < bd[2 * v + 1]))
      vp_die("data.era5.bounds (%s): the bounds of %s are [%g, %g]; min must be below max", src,
             e->files[0].var[v].name, bd[2 * v], bd[2 * v + 1]);
    e->vmin[v] = bd[2 * v];
    e->vmax[v] = bd[2 * v + 1];
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

// A warning when the steps are unevenly spaced (a missing month between files):
// clips then span the gap.
static void check_spacing(const era5 *e) {
  if (e->N < 3) return;
  double *d = vp_malloc((size_t)(e->N - 1) * sizeof(double)), *srt = vp_malloc((size_t)(e->N - 1) * sizeof(double));
  int64_t k = 0;
  double prev = e->files[0].t[0];
  for (int f = 0; f < e->nfiles; f++)
    for (int64_t i = (f == 0); i < e->files[f].nt; i++) d[k++] = e->files[f].t[i] - prev, prev = e->files[f].t[i];
  memcpy(srt, d, (size_t)k * sizeof(double));
  qsort(srt, (size_t)k, sizeof(double), cmp_double);
  double med = srt[k / 2];
  int64_t gaps = 0, first = -1;
  for (int64_t i = 0; i < k; i++)
    if (d[i] > 1.5 * med) gaps++, first = first < 0 ? i : first;
  if (gaps) {
    char s0[512], s1[512];
    vp_warn("era5: %lld gap(s) in the time axis (steps are usually %g s apart); the first is between %s and %s. "
            "Clips may span a gap",
            (long long)gaps, med, step_str(e, first, s0, sizeof s0), step_str(e, first + 1, s1, sizeof s1));
  }
  free(d);
  free(srt);
}

vp_source *era5_source_open(const vp_config *cfg) {
  era5 *e = vp_calloc(1, sizeof *e);
  const char *path = cfg_str(cfg, "data.path");
  if (!path[0]) vp_die("data.source = era5 reads NetCDF files: set data.path to a file, a directory or a pattern");
  int nmods;
  char *const *mods = cfg_str_list(cfg, "data.modalities", &nmods);
  if (nmods > VP_MAX_MOD) vp_die("data.modalities lists %d variables; the era5 source reads at most %d", nmods, VP_MAX_MOD);
  char names[VP_MAX_MOD][E5_NAME];
  for (int k = 0; k < nmods; k++) {
    if (strlen(mods[k]) >= E5_NAME)
      vp_die("data.modalities: variable name '%s' is longer than %d characters", mods[k], E5_NAME - 1);
    snprintf(names[k], E5_NAME, "%s", mods[k]);
    for (int q = 0; q < k; q++)
      if (!strcmp(mods[q], mods[k])) vp_die("data.modalities lists the variable '%s' twice", mods[k]);
  }
  int lon360 = cfg_enum(cfg, "data.era5.lon_range") == 1;
  size_t chunk_cache = (size_t)cfg_int(cfg, "data.era5.chunk_cache_mb") << 20;
  char **paths = list_files(path, &e->nfiles);
  e->files = vp_calloc((size_t)e->nfiles, sizeof(e5_file));
  int nvar = nmods;
  for (int f = 0; f < e->nfiles; f++) {
    int n = nvar;  // the first file fixes the variables when data.modalities is []
    e5_file_open(&e->files[f], paths[f], names, &n, lon360, chunk_cache);
    nvar = n;
    free(paths[f]);
  }
  free(paths);
  e->nvar = nvar;
  qsort(e->files, (size_t)e->nfiles, sizeof(e5_file), cmp_file_time);
  e->fbeg = vp_malloc((size_t)(e->nfiles + 1) * sizeof(int64_t));
  e->fbeg[0] = 0;
  for (int f = 0; f < e->nfiles; f++) {
    const e5_file *a = &e->files[f];
    e->fbeg[f + 1] = e->fbeg[f] + a->nt;
    if (f == 0) continue;
    const e5_file *p = &e->files[f - 1];
    if (a->cal != p->cal)
      vp_die("era5: %s and %s use different calendars; files must share one", p->path, a->path);
    if (p->t[p->nt - 1] >= a->t[0]) {
      char s0[256], s1[256];
      vp_die("era5: %s and %s overlap in time: the first ends at %s, the second starts at %s; remove the "
             "duplicate time steps or one of the files",
             p->path, a->path, e5_file_time_str(p, p->nt - 1, s0, sizeof s0), e5_file_time_str(a, 0, s1, sizeof s1));
    }
    check_grid(&e->files[0], a);
  }
  e->N = e->fbeg[e->nfiles];
  e->nlat = e->files[0].nlat;
  e->nlon = e->files[0].nlon;
  int nsz;
  const int64_t *size = cfg_int_list(cfg, "data.size", &nsz);
  e->T = (int)cfg_int(cfg, "data.frames");
  e->H = (int)size[0];
  e->W = (int)size[1];
  e->mode = (vp_resize_mode)resize_mode_parse(cfg_str(cfg, "data.era5.resize"));
  e->cache_mb = cfg_int(cfg, "data.era5.cache_mb");
  setup_crop(e, cfg);
  setup_split(e, cfg);
  setup_norm(e, cfg);
  check_spacing(e);
  e->frames = vp_malloc((size_t)(e->T * e->h * e->w) * sizeof(float));
  e->vbuf = vp_malloc((size_t)(e->h * e->w) * sizeof(float));
  e->mbuf = vp_malloc((size_t)(e->h * e->w) * sizeof(float));
  e->rv = vp_malloc((size_t)((int64_t)e->H * e->W) * sizeof(float));
  e->rm = vp_malloc((size_t)((int64_t)e->H * e->W) * sizeof(float));
  prepare(e);

  vp_source *s = vp_calloc(1, sizeof *s);
  s->ops = &era5_ops;
  s->kind = "era5";
  s->T = e->T;
  s->H = e->H;
  s->W = e->W;
  s->nmod = e->nvar;
  for (int v = 0; v < e->nvar; v++) {
    vp_modality *m = &s->mod[v];
    snprintf(m->name, sizeof m->name, "%s", e->files[0].var[v].name);
    m->kind = VP_MOD_FIELD;
    m->channels = 1;
    for (int f = 0; f < e->nfiles; f++) m->has_mask |= e->files[f].var[v].can_miss;
  }
  s->impl = e;
  return s;
}
