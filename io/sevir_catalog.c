// sevir_catalog.c: parsing CATALOG.csv into typed rows (see sevir_catalog.h).
#include "io/sevir_catalog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/check.h"
#include "io/csv.h"

const char *const sevir_columns[SEVIR_NCOLS] = {
    "id",        "file_name", "file_index", "img_type",  "time_utc", "minute_offsets", "episode_id",
    "event_id",  "event_type", "llcrnrlat", "llcrnrlon", "urcrnrlat", "urcrnrlon",    "proj",
    "size_x",    "size_y",    "height_m",   "width_m",   "data_min", "data_max",       "pct_missing"};

enum {
  C_ID, C_FILE_NAME, C_FILE_INDEX, C_IMG_TYPE, C_TIME_UTC, C_MINUTE_OFFSETS, C_EPISODE_ID, C_EVENT_ID,
  C_EVENT_TYPE, C_LLCRNRLAT, C_LLCRNRLON, C_URCRNRLAT, C_URCRNRLON, C_PROJ, C_SIZE_X, C_SIZE_Y,
  C_HEIGHT_M, C_WIDTH_M, C_DATA_MIN, C_DATA_MAX, C_PCT_MISSING
};

// ---- string pool: bump allocation in blocks, strings interned ----
// About 75k rows share a handful of file names, image types, event types and
// one proj string; interning keeps the catalog near the size of the ids.
typedef struct pool_block {
  struct pool_block *next;
  size_t used, cap;
  char data[];
} pool_block;

typedef struct sevir_pool {
  pool_block *head;
  const char **slot;   // open-addressing table of interned strings
  size_t nslot, nused;
} sevir_pool;

static void *pool_alloc(sevir_pool *p, size_t n, size_t align) {
  pool_block *b = p->head;
  size_t off = b ? (b->used + align - 1) / align * align : 0;
  if (!b || off + n > b->cap) {
    size_t cap = n > (1 << 20) ? n : (1 << 20);
    b = vp_malloc(sizeof(pool_block) + cap);
    b->next = p->head;
    b->used = 0;
    b->cap = cap;
    p->head = b;
    off = 0;
  }
  b->used = off + n;
  return b->data + off;
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static const char *pool_intern(sevir_pool *p, const char *s) {
  if (2 * (p->nused + 1) > p->nslot) {
    size_t n = p->nslot ? p->nslot * 2 : 1024;
    const char **slot = vp_calloc(n, sizeof(*slot));
    for (size_t i = 0; i < p->nslot; i++) {
      if (!p->slot[i]) continue;
      size_t j = hash_str(p->slot[i]) & (n - 1);
      while (slot[j]) j = (j + 1) & (n - 1);
      slot[j] = p->slot[i];
    }
    free(p->slot);
    p->slot = slot;
    p->nslot = n;
  }
  size_t j = hash_str(s) & (p->nslot - 1);
  while (p->slot[j]) {
    if (strcmp(p->slot[j], s) == 0) return p->slot[j];
    j = (j + 1) & (p->nslot - 1);
  }
  size_t len = strlen(s) + 1;
  char *copy = pool_alloc(p, len, 1);
  memcpy(copy, s, len);
  p->slot[j] = copy;
  p->nused++;
  return copy;
}

static void pool_free(sevir_pool *p) {
  if (!p) return;
  while (p->head) {
    pool_block *b = p->head;
    p->head = b->next;
    free(b);
  }
  free(p->slot);
  free(p);
}

// ---- times ----
// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (the
// era / day-of-era decomposition: 400-year eras of 146097 days, years
// starting in March so the leap day ends the year).
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char **s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*s)[i])) return -1;
    v = v * 10 + ((*s)[i] - '0');
  }
  *s += n;
  *out = v;
  return 0;
}

int sevir_parse_time(const char *s, int64_t *t) {
  int Y, M, D, h = 0, mi = 0, se = 0;
  while (*s == ' ') s++;
  if (digits(&s, 4, &Y) || *s++ != '-' || digits(&s, 2, &M) || *s++ != '-' || digits(&s, 2, &D))
    return -1;
  if ((*s == ' ' || *s == 'T') && isdigit((unsigned char)s[1])) {
    s++;
    if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi)) return -1;
    if (*s == ':') {
      s++;
      if (digits(&s, 2, &se)) return -1;
      if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) return -1;
        while (isdigit((unsigned char)*s)) s++;
      }
    }
  }
  if (*s == 'Z') s++;
  else if (strncmp(s, "+00:00", 6) == 0) s += 6;
  while (*s == ' ') s++;
  if (*s) return -1;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
      mi > 59 || se > 60)
    return -1;
  *t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + se;
  return 0;
}

void sevir_format_time(int64_t t, char *buf, size_t n) {
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t sec = t - days * 86400, y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(buf, n, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)y, m, d, (int)(sec / 3600),
           (int)(sec / 60 % 60), (int)(sec % 60));
}

// ---- fields ----
static int is_missing(const char *s) {
  return s[0] == 0 || strcasecmp(s, "nan") == 0 || strcasecmp(s, "na") == 0;
}

static int parse_double(const char *s, double *v) {
  if (is_missing(s)) {
    *v = NAN;
    return 0;
  }
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  while (*end == ' ') end++;
  return (end == s || *end || errno == ERANGE) ? -1 : 0;
}

// Integers as pandas writes them: "75", or "75.0" when the column had NaNs.
static int parse_int(const char *s, int64_t *v) {
  if (is_missing(s)) {
    *v = -1;
    return 0;
  }
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end != s && *end == 0 && errno == 0) {
    *v = x;
    return 0;
  }
  double d;
  if (parse_double(s, &d) || !(fabs(d) < 9e15) || d != floor(d)) return -1;
  *v = (int64_t)d;
  return 0;
}

static int fail(char *err, size_t errn, const char *fmt, ...) VP_PRINTF(3, 4);
static int fail(char *err, size_t errn, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errn, fmt, ap);
  va_end(ap);
  return -1;
}

// minute_offsets: "-120:-115:...:120" (49 values), or NaN.
static int parse_offsets(sevir_pool *p, const char *s, sevir_row *r) {
  r->n_offsets = 0;
  r->minute_offsets = NULL;
  if (is_missing(s)) return 0;
  int n = 1;
  for (const char *q = s; *q; q++) n += *q == ':';
  int32_t *o = pool_alloc(p, (size_t)n * sizeof(int32_t), sizeof(int32_t));
  const char *q = s;
  for (int i = 0; i < n; i++) {
    char *end;
    errno = 0;
    long v = strtol(q, &end, 10);
    if (end == q || errno || v < -100000 || v > 100000 || (*end != ':' && *end != 0)) return -1;
    o[i] = (int32_t)v;
    q = *end ? end + 1 : end;
  }
  r->n_offsets = n;
  r->minute_offsets = o;
  return 0;
}

void sevir_catalog_free(sevir_catalog *c) {
  if (!c) return;
  free(c->path);
  free(c->rows);
  pool_free(c->pool);
  free(c);
}

static sevir_catalog *parse_csv(vp_csv *csv, char *err, size_t errn) {
  sevir_catalog *cat = vp_calloc(1, sizeof(*cat));
  cat->path = vp_strdup(csv->name);
  cat->pool = vp_calloc(1, sizeof(sevir_pool));
  const char *name = csv->name;
  int col[SEVIR_NCOLS];  // CSV field index of each column
  int rc = csv_next(csv, err, errn);
  if (rc < 0) goto bad;
  if (rc == 0) {
    fail(err, errn, "%s: empty file: a SEVIR catalog starts with a header row naming its 21 columns "
                    "(id, file_name, file_index, img_type, time_utc, ...)", name);
    goto bad;
  }
  int nhead = csv->nfields;
  for (int k = 0; k < SEVIR_NCOLS; k++) col[k] = -1;
  for (int f = 0; f < nhead; f++) {
    char *h = csv->field[f];
    while (*h == ' ') h++;
    size_t L = strlen(h);
    while (L && h[L - 1] == ' ') h[--L] = 0;
    for (int k = 0; k < SEVIR_NCOLS; k++) {
      if (strcmp(h, sevir_columns[k]) != 0) continue;
      if (col[k] >= 0) {
        fail(err, errn, "%s:%lld: the header names column '%s' twice (fields %d and %d)", name,
             (long long)csv->rec_line, h, col[k] + 1, f + 1);
        goto bad;
      }
      col[k] = f;
    }
  }
  char missing[512] = "";
  int nmissing = 0;
  for (int k = 0; k < SEVIR_NCOLS; k++) {
    if (col[k] >= 0) continue;
    size_t L = strlen(missing);
    snprintf(missing + L, sizeof(missing) - L, "%s%s", nmissing ? ", " : "", sevir_columns[k]);
    nmissing++;
  }
  if (nmissing) {
    fail(err, errn, "%s:%lld: the header lacks %d of the 21 SEVIR catalog columns: %s (is this the "
                    "SEVIR CATALOG.csv? get it with: aws s3 cp --no-sign-request "
                    "s3://sevir/CATALOG.csv .)", name, (long long)csv->rec_line, nmissing, missing);
    goto bad;
  }

  int64_t cap = 0;
  sevir_pool *p = cat->pool;
  while ((rc = csv_next(csv, err, errn)) == 1) {
    int64_t ln = csv->rec_line;
    if (csv->nfields != nhead) {
      fail(err, errn, "%s:%lld: %d fields, but the header has %d (a field holding a comma must be "
                      "quoted)", name, (long long)ln, csv->nfields, nhead);
      goto bad;
    }
    if (cat->n == cap) {
      cap = cap ? cap * 2 : 1024;
      cat->rows = vp_realloc(cat->rows, (size_t)cap * sizeof(sevir_row));
    }
    sevir_row *r = &cat->rows[cat->n];
    memset(r, 0, sizeof(*r));
    r->line = ln;
    char **F = csv->field;
#define FIELD(k) F[col[k]]
#define BAD(k, what)                                                                              \
  do {                                                                                            \
    fail(err, errn, "%s:%lld: column %s = '%s' is not %s", name, (long long)ln, sevir_columns[k], \
         FIELD(k), what);                                                                         \
    goto bad;                                                                                     \
  } while (0)
    static const int required[] = {C_ID, C_FILE_NAME, C_IMG_TYPE, C_TIME_UTC};
    for (size_t q = 0; q < sizeof(required) / sizeof(required[0]); q++)
      if (FIELD(required[q])[0] == 0) {
        fail(err, errn, "%s:%lld: column %s is empty; every catalog row needs id, file_name, "
                        "img_type and time_utc", name, (long long)ln, sevir_columns[required[q]]);
        goto bad;
      }
    r->id = pool_intern(p, FIELD(C_ID));
    r->file_name = pool_intern(p, FIELD(C_FILE_NAME));
    r->img_type = pool_intern(p, FIELD(C_IMG_TYPE));
    r->event_type = pool_intern(p, FIELD(C_EVENT_TYPE));
    r->proj = pool_intern(p, FIELD(C_PROJ));
    if (parse_int(FIELD(C_FILE_INDEX), &r->file_index) || r->file_index < -1)
      BAD(C_FILE_INDEX, "a row index (an integer >= 0)");
    if (sevir_parse_time(FIELD(C_TIME_UTC), &r->time_utc)) BAD(C_TIME_UTC, "a time YYYY-MM-DD HH:MM:SS");
    if (parse_offsets(p, FIELD(C_MINUTE_OFFSETS), r))
      BAD(C_MINUTE_OFFSETS, "a colon-separated list of integer minutes (e.g. -120:-115:...:120)");
    if (parse_int(FIELD(C_SIZE_X), &r->size_x)) BAD(C_SIZE_X, "an integer");
    if (parse_int(FIELD(C_SIZE_Y), &r->size_y)) BAD(C_SIZE_Y, "an integer");
    struct {
      int k;
      double *v;
    } dbl[] = {{C_EPISODE_ID, &r->episode_id}, {C_EVENT_ID, &r->event_id},
               {C_LLCRNRLAT, &r->llcrnrlat},   {C_LLCRNRLON, &r->llcrnrlon},
               {C_URCRNRLAT, &r->urcrnrlat},   {C_URCRNRLON, &r->urcrnrlon},
               {C_HEIGHT_M, &r->height_m},     {C_WIDTH_M, &r->width_m},
               {C_DATA_MIN, &r->data_min},     {C_DATA_MAX, &r->data_max},
               {C_PCT_MISSING, &r->pct_missing}};
    for (size_t q = 0; q < sizeof(dbl) / sizeof(dbl[0]); q++)
      if (parse_double(FIELD(dbl[q].k), dbl[q].v)) BAD(dbl[q].k, "a number");
#undef BAD
#undef FIELD
    cat->n++;
  }
  if (rc < 0) goto bad;
  return cat;
bad:
  sevir_catalog_free(cat);
  return NULL;
}

sevir_catalog *sevir_catalog_load(const char *path, char *err, size_t errn) {
  vp_csv *csv = csv_open(path, err, errn);
  if (!csv) return NULL;
  sevir_catalog *c = parse_csv(csv, err, errn);
  csv_close(csv);
  return c;
}

sevir_catalog *sevir_catalog_parse(const char *text, size_t len, const char *name, char *err,
                                   size_t errn) {
  vp_csv *csv = csv_from_text(text, len, name);
  sevir_catalog *c = parse_csv(csv, err, errn);
  csv_close(csv);
  return c;
}
