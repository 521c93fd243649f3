// test_sevir.c: the SEVIR source end to end on files written here with
// libhdf5 in the real layout (vil uint8 (N, 384, 384, 49), `id` S10 strings;
// one contiguous file as the public files are, two chunked ones) and a
// CATALOG.csv with its 21 columns in a shuffled order, an extra index column,
// quoted fields and rows of all five image types. Covers the catalog record,
// filters, both split schemes, windows and stride, resizing (goldens from
// F.interpolate), the 255 mask, raw statistics and their rank shares, and one
// forked child per kind of bad input, each of which must exit with status 1
// and a message naming the file and the problem.
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/config.h"
#include "golden.h"
#include "harness.h"
#include "io/sevir_catalog.h"
#include "io/sevir_h5.h"
#include "io/sevir_resize.h"
#include "io/sevir_source.h"
#include "io/source.h"

enum { L = 384, NT = 49 };
enum { CONTIG = 0, CHUNKED = 1, LZF = 2 };

static char root[256];  // temp SEVIR folder: CATALOG.csv and data/

static int contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

// ---- the fixture ----
typedef struct ev_t {
  const char *id;
  int file;          // into files[]
  int index;         // file_index
  const char *time;  // time_utc
  double pct;        // pct_missing
  int missing;       // frames hold 255 pixels
  int all5;          // catalog rows for all five image types
} ev_t;

static const char *const files[] = {
    "vil/2018/SEVIR_VIL_STORMEVENTS_2018_0101_0630.h5",  // contiguous, as the public files
    "vil/2019/SEVIR_VIL_STORMEVENTS_2019_0101_0630.h5",  // chunked (1, 128, 128, 49)
    "vil/2019/SEVIR_VIL_RANDOMEVENTS_2019_0701_1231.h5", // chunked
};
static const int file_layout[] = {CONTIG, CHUNKED, CHUNKED};
enum { NFILES = 3, NPERFILE = 3 };

// Event g is at files[ev[g].file][ev[g].index]; its codes are code_at(g, ...).
static const ev_t ev[] = {
    {"S100", 0, 0, "2018-03-01 12:00:00", 0.0, 0, 1},
    {"R200", 0, 1, "2018-05-05 10:30:00", 0.5, 1, 1},
    {"S101", 0, 2, "2018-06-20 18:05:00", 0.0, 0, 1},
    {"S300", 1, 0, "2019-02-01 00:00:00", 0.0, 0, 1},
    {"R301", 1, 1, "2019-06-01 00:00:00", 0.0, 0, 0},  // on the official boundary: train
    {"S302", 1, 2, "2019-05-31 23:55:00", 0.0, 0, 0},
    {"S400", 2, 0, "2019-07-10 06:00:00", 0.0, 0, 1},
    {"R401", 2, 1, "2019-08-15 21:00:00", 1.5, 1, 0},
    {"S500", 2, 2, "2019-09-01 00:00:00", 0.0, 0, 0},  // listed twice in the catalog: dropped
};
enum { NEV = sizeof(ev) / sizeof(ev[0]) };

static uint8_t code_at(int g, int y, int x, int t) {
  if (ev[g].missing && (y * 3 + x + t * 7) % 29 == 0) return 255;
  return (uint8_t)((g * 37 + y * 5 + x * 3 + t * 11) % 255);
}

// Writes files[fi] in the SEVIR layout: `vil` (N, h, w, T) uint8 first (so it
// starts early in the file, as in the public files), then `id` S10 NULLPAD.
static void write_vil_file(const char *path, int fi, int layout, int h, int w) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  VP_ASSERT(f >= 0);
  hsize_t dims[4] = {NPERFILE, (hsize_t)h, (hsize_t)w, NT};
  hid_t sp = H5Screate_simple(4, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (layout != CONTIG) {
    hsize_t cd[4] = {1, (hsize_t)(h < 128 ? h : 128), (hsize_t)(w < 128 ? w : 128), NT};
    VP_ASSERT(H5Pset_chunk(dcpl, 4, cd) >= 0);
  }
  if (layout == LZF) VP_ASSERT(H5Pset_filter(dcpl, 32000, H5Z_FLAG_OPTIONAL, 0, NULL) >= 0);
  hid_t d = H5Dcreate2(f, "vil", H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  VP_ASSERT(d >= 0);
  uint8_t *buf = vp_malloc((size_t)h * w * NT);
  char ids[NPERFILE][10];
  memset(ids, 0, sizeof ids);
  for (int g = 0; g < NEV; g++) {
    if (ev[g].file != fi) continue;
    memcpy(ids[ev[g].index], ev[g].id, strlen(ev[g].id));
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int t = 0; t < NT; t++) buf[((size_t)y * w + x) * NT + t] = code_at(g, y, x, t);
    hsize_t start[4] = {(hsize_t)ev[g].index, 0, 0, 0}, count[4] = {1, (hsize_t)h, (hsize_t)w, NT};
    hid_t fsp = H5Dget_space(d), msp = H5Screate_simple(4, count, NULL);
    VP_ASSERT(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) >= 0);
    VP_ASSERT(H5Dwrite(d, H5T_NATIVE_UCHAR, msp, fsp, H5P_DEFAULT, buf) >= 0);
    H5Sclose(fsp);
    H5Sclose(msp);
  }
  free(buf);
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 10);
  H5Tset_strpad(st, H5T_STR_NULLPAD);
  hsize_t n = NPERFILE;
  hid_t isp = H5Screate_simple(1, &n, NULL);
  hid_t di = H5Dcreate2(f, "id", st, isp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  VP_ASSERT(di >= 0 && H5Dwrite(di, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) >= 0);
  H5Dclose(di);
  H5Sclose(isp);
  H5Tclose(st);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  VP_ASSERT(H5Fclose(f) >= 0);
}

// The catalog columns in a shuffled order, with a pandas index column first.
static const char *const header_order[] = {
    "pct_missing", "id",       "time_utc",   "img_type", "file_name", "file_index", "minute_offsets",
    "episode_id",  "event_id", "event_type", "proj",     "llcrnrlat", "llcrnrlon",  "urcrnrlat",
    "urcrnrlon",   "size_x",   "size_y",     "height_m", "width_m",   "data_min",   "data_max"};

static void offsets_str(char *buf, size_t n, int first) {
  buf[0] = 0;
  for (int t = 0; t < NT; t++) {
    size_t L = strlen(buf);
    snprintf(buf + L, n - L, "%s%d", t ? ":" : "", first + 5 * t);
  }
}

// One catalog row; value(col) supplies the text of each column (already quoted where needed).
static void put_row(FILE *f, int rowno, const char *vals[SEVIR_NCOLS]) {
  fprintf(f, "%d", rowno);
  for (int k = 0; k < SEVIR_NCOLS; k++) {
    int c = -1;
    for (int q = 0; q < SEVIR_NCOLS; q++)
      if (strcmp(sevir_columns[q], header_order[k]) == 0) c = q;
    fprintf(f, ",%s", vals[c]);
  }
  fputs("\r\n", f);
}

static const char *event_type_of(int g) {
  // Quoted fields: an embedded comma and doubled quotes, and an embedded line break.
  if (g == 0) return "\"Thunderstorm Wind, \"\"gusty\"\"\"";
  if (g == 3) return "\"Hail\nand Rain\"";
  return ev[g].id[0] == 'S' ? "Flash Flood" : "";
}

static void write_catalog(const char *path) {
  FILE *f = fopen(path, "w");
  VP_ASSERT(f != NULL);
  fputs(",", f);  // pandas' unnamed index column
  for (int k = 0; k < SEVIR_NCOLS; k++) fprintf(f, "%s%s", header_order[k], k + 1 < SEVIR_NCOLS ? "," : "\r\n");
  const char *types[5] = {"vis", "ir069", "ir107", "vil", "lght"};
  int rowno = 0;
  for (int g = 0; g < NEV; g++) {
    for (int ty = 0; ty < 5; ty++) {
      int vil = strcmp(types[ty], "vil") == 0;
      if (!vil && !ev[g].all5) continue;
      char fname[128], idx[16], pct[32], offs[512], epi[32], evid[32];
      if (vil) snprintf(fname, sizeof fname, "%s", files[ev[g].file]);
      else snprintf(fname, sizeof fname, "%s/2019/SEVIR_%s_NOT_WRITTEN.h5", types[ty], types[ty]);
      snprintf(idx, sizeof idx, "%d", vil ? ev[g].index : 7);
      snprintf(pct, sizeof pct, "%g", vil ? ev[g].pct : 0.0);
      if (strcmp(types[ty], "lght") == 0) snprintf(offs, sizeof offs, "nan");
      else offsets_str(offs, sizeof offs, vil ? -119 : -120);
      snprintf(epi, sizeof epi, ev[g].id[0] == 'S' ? "%d.0" : "", 140000 + g);
      snprintf(evid, sizeof evid, ev[g].id[0] == 'S' ? "%d.0" : "", 850000 + g);
      const char *vals[SEVIR_NCOLS] = {
          ev[g].id, fname, idx, types[ty], ev[g].time, offs, epi, evid, event_type_of(g),
          "33.5", "-101.25", "36.75", "-96.5",
          "\"+proj=laea +lat_0=38 +lon_0=-98 +units=m +a=6370997.0 +ellps=sphere \"",
          vil ? "384" : "192", vil ? "384.0" : "192", "384000.0", "384000.0", "0.0", "12.5", pct};
      put_row(f, rowno++, vals);
      // S500 is listed twice (a duplicated id, as in the real catalog).
      if (vil && strcmp(ev[g].id, "S500") == 0) put_row(f, rowno++, vals);
    }
  }
  VP_ASSERT(fclose(f) == 0);
}

static void make_fixture(void) {
  snprintf(root, sizeof root, "/tmp/vp_sevir_XXXXXX");
  VP_ASSERT(mkdtemp(root) != NULL);
  char p[512];
  const char *dirs[] = {"data", "data/vil", "data/vil/2018", "data/vil/2019"};
  for (int k = 0; k < 4; k++) {
    snprintf(p, sizeof p, "%s/%s", root, dirs[k]);
    VP_ASSERT(mkdir(p, 0755) == 0);
  }
  for (int fi = 0; fi < NFILES; fi++) {
    snprintf(p, sizeof p, "%s/data/%s", root, files[fi]);
    write_vil_file(p, fi, file_layout[fi], L, L);
  }
  snprintf(p, sizeof p, "%s/CATALOG.csv", root);
  write_catalog(p);
}

static void rm_rf(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) printf("  (could not remove %s)\n", dir);
}

// ---- configs ----
// A bound data config: data.source = sevir, data.path = root, then
// "key=value" overrides (NULL-terminated).
static vp_config *make_cfg(const char *first, ...) {
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "data.source", "sevir", NULL, 0);
  cfg_set(cfg, "data.path", root, NULL, 0);
  va_list ap;
  va_start(ap, first);
  for (const char *kv = first; kv; kv = va_arg(ap, const char *)) {
    char key[128];
    const char *eq = strchr(kv, '=');
    VP_ASSERT(eq && (size_t)(eq - kv) < sizeof key);
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    cfg_set(cfg, key, eq + 1, NULL, 0);
  }
  va_end(ap);
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_data, &err)) {
    err_print(&err, stdout);
    VP_ASSERT(0);
  }
  return cfg;
}

static int find_ev(const char *id) {
  for (int g = 0; g < NEV; g++)
    if (strcmp(ev[g].id, id) == 0) return g;
  return -1;
}

// The ids of the events of a source, joined by ',' (in the source's order).
static void ids_of(vp_source *s, char *buf, size_t n) {
  buf[0] = 0;
  int64_t nw = sevir_source_windows(s);
  for (int64_t e = 0; e < sevir_source_events(s); e++) {
    sevir_clip_info ci;
    sevir_source_clip_info(s, e * nw, &ci);
    size_t Lb = strlen(buf);
    snprintf(buf + Lb, n - Lb, "%s%s", e ? "," : "", ci.id);
  }
}

static void expect_split(const char *what, const char *want, const char *a, const char *b, const char *c,
                         const char *d) {
  vp_config *cfg = make_cfg(a, b, c, d, NULL);
  vp_source *s = source_open(cfg);
  char got[512];
  ids_of(s, got, sizeof got);
  th_check(strcmp(got, want) == 0, "%s: events [%s], want [%s]", what, got, want);
  source_close(s);
  cfg_free(cfg);
}

// ---- tests ----
static void test_catalog_record(void) {
  char p[512], err[1024] = "";
  snprintf(p, sizeof p, "%s/CATALOG.csv", root);
  sevir_catalog *cat = sevir_catalog_load(p, err, sizeof err);
  th_check(cat != NULL, "catalog loads: %s", err);
  if (!cat) return;
  int want_rows = 0;
  for (int g = 0; g < NEV; g++) want_rows += ev[g].all5 ? 5 : 1;
  want_rows += 1;  // S500's duplicate
  th_check(cat->n == want_rows, "catalog rows %lld, want %d", (long long)cat->n, want_rows);
  // Row 0: S100 vis; find S100 vil and S100 lght and check every column.
  const sevir_row *vil = NULL, *lght = NULL, *r200 = NULL;
  for (int64_t r = 0; r < cat->n; r++) {
    const sevir_row *x = &cat->rows[r];
    if (!strcmp(x->id, "S100") && !strcmp(x->img_type, "vil")) vil = x;
    if (!strcmp(x->id, "S100") && !strcmp(x->img_type, "lght")) lght = x;
    if (!strcmp(x->id, "R200") && !strcmp(x->img_type, "vil")) r200 = x;
  }
  th_check(vil && lght && r200, "rows found");
  if (!vil || !lght || !r200) {
    sevir_catalog_free(cat);
    return;
  }
  int64_t t;
  sevir_parse_time("2018-03-01 12:00:00", &t);
  th_check(!strcmp(vil->file_name, files[0]) && vil->file_index == 0 && vil->time_utc == t,
           "file_name, file_index, time_utc");
  th_check(t == 1519905600, "2018-03-01 12:00:00 is 1519905600 s after 1970 (%lld)", (long long)t);
  int offs_ok = vil->n_offsets == NT;
  for (int k = 0; offs_ok && k < NT; k++) offs_ok = vil->minute_offsets[k] == -119 + 5 * k;
  th_check(offs_ok, "minute_offsets: 49 values -119..121 (%d)", vil->n_offsets);
  th_check(lght->n_offsets == 0 && lght->minute_offsets == NULL, "lght minute_offsets NaN -> none");
  th_check(vil->episode_id == 140000.0 && vil->event_id == 850000.0, "episode_id / event_id");
  th_check(isnan(r200->episode_id) && isnan(r200->event_id) && r200->event_type[0] == 0,
           "random event: empty ids are NaN, event_type empty");
  th_check(!strcmp(vil->event_type, "Thunderstorm Wind, \"gusty\""), "quoted event_type: [%s]", vil->event_type);
  th_check(vil->llcrnrlat == 33.5 && vil->llcrnrlon == -101.25 && vil->urcrnrlat == 36.75 &&
               vil->urcrnrlon == -96.5, "corner coordinates");
  th_check(!strcmp(vil->proj, "+proj=laea +lat_0=38 +lon_0=-98 +units=m +a=6370997.0 +ellps=sphere "),
           "proj (quoted) [%s]", vil->proj);
  th_check(vil->size_x == 384 && vil->size_y == 384 && lght->size_x == 192, "size_x, size_y (384.0 -> 384)");
  th_check(vil->height_m == 384000.0 && vil->width_m == 384000.0 && vil->data_min == 0.0 &&
               vil->data_max == 12.5 && r200->pct_missing == 0.5, "height_m, width_m, data_min/max, pct_missing");
  th_check(vil->proj == lght->proj && vil->file_name != lght->file_name, "strings are interned");
  for (int64_t r = 0; r < cat->n; r++)
    if (!strcmp(cat->rows[r].id, "S300") && !strcmp(cat->rows[r].img_type, "vil"))
      th_check(!strcmp(cat->rows[r].event_type, "Hail\nand Rain"), "embedded line break in a quoted field");
  // Rows after the multi-line field keep their own line numbers.
  int64_t maxline = 0;
  for (int64_t r = 0; r < cat->n; r++) maxline = cat->rows[r].line > maxline ? cat->rows[r].line : maxline;
  int multiline = 0;
  for (int g = 0; g < NEV; g++) multiline += ev[g].all5 && g == 3 ? 5 : (g == 3);
  th_check(maxline == want_rows + 1 + multiline, "last row at line %lld (header + rows + %d extra lines)",
           (long long)maxline, multiline);
  sevir_catalog_free(cat);

  // Times.
  const char *good[] = {"2019-06-01", "2019-06-01 00:00", "2019-06-01T00:00:00", "2019-06-01 00:00:00.250",
                        "2019-06-01T00:00:00Z", "2019-06-01 00:00:00+00:00"};
  int tok = 1;
  for (int k = 0; k < 6; k++) tok &= sevir_parse_time(good[k], &t) == 0 && t == 1559347200;
  th_check(tok, "date forms parse to 2019-06-01 00:00:00 = 1559347200");
  const char *badt[] = {"2019-13-01", "2019-02-29", "19-06-01", "2019-06-01 25:00:00", "2019/06/01", "x"};
  int tbad = 1;
  for (int k = 0; k < 6; k++) tbad &= sevir_parse_time(badt[k], &t) != 0;
  th_check(tbad, "impossible or malformed dates are refused");
  th_check(sevir_parse_time("2020-02-29 23:59:59", &t) == 0, "leap day");
  char buf[32];
  sevir_format_time(t, buf, sizeof buf);
  th_check(!strcmp(buf, "2020-02-29 23:59:59"), "format_time round trip [%s]", buf);
  sevir_parse_time("1969-12-31 23:00:00", &t);
  sevir_format_time(t, buf, sizeof buf);
  th_check(t == -3600 && !strcmp(buf, "1969-12-31 23:00:00"), "times before 1970 [%s]", buf);
}

static void expect_catalog_error(const char *what, const char *text, const char *frag1, const char *frag2) {
  char err[1024] = "";
  sevir_catalog *c = sevir_catalog_parse(text, strlen(text), "cat.csv", err, sizeof err);
  th_check(!c && contains(err, frag1) && contains(err, frag2), "%s -> '%s'", what, err);
  sevir_catalog_free(c);
}

static void test_catalog_errors(void) {
  const char *hdr = "id,file_name,file_index,img_type,time_utc,minute_offsets,episode_id,event_id,event_type,"
                    "llcrnrlat,llcrnrlon,urcrnrlat,urcrnrlon,proj,size_x,size_y,height_m,width_m,data_min,"
                    "data_max,pct_missing\n";
  char t[2048];
  const char *row = "S1,vil/a.h5,0,vil,2019-01-01 00:00:00,-120:-115,1.0,2.0,Hail,1,2,3,4,p,384,384,1,1,0,1,0\n";
  snprintf(t, sizeof t, "%s%s", hdr, row);
  char err[512];
  sevir_catalog *c = sevir_catalog_parse(t, strlen(t), "ok.csv", err, sizeof err);
  th_check(c && c->n == 1 && c->rows[0].n_offsets == 2, "minimal catalog parses");
  sevir_catalog_free(c);
  expect_catalog_error("empty", "", "cat.csv", "empty file");
  expect_catalog_error("missing column", "id,file_name,file_index,img_type,time_utc\nS1,a,0,vil,2019-01-01\n",
                       "cat.csv:1:", "lacks 16 of the 21 SEVIR catalog columns: minute_offsets, episode_id");
  snprintf(t, sizeof t, "%s%s", hdr, "S1,vil/a.h5,0,vil,2019-01-01,x,1,2,Hail,1,2,3,4,p,384,384,1,1,0,1\n");
  expect_catalog_error("wrong column count", t, "cat.csv:2:", "20 fields, but the header has 21");
  snprintf(t, sizeof t, "%s%s", hdr, "S1,vil/a.h5,zero,vil,2019-01-01,,1,2,Hail,1,2,3,4,p,384,384,1,1,0,1,0\n");
  expect_catalog_error("bad integer", t, "cat.csv:2:", "column file_index = 'zero' is not");
  snprintf(t, sizeof t, "%s%s", hdr, "S1,vil/a.h5,0,vil,yesterday,,1,2,Hail,1,2,3,4,p,384,384,1,1,0,1,0\n");
  expect_catalog_error("bad time", t, "cat.csv:2:", "column time_utc = 'yesterday'");
  snprintf(t, sizeof t, "%s%s", hdr, "S1,vil/a.h5,0,vil,2019-01-01,,1,2,Hail,1,2,3,4,p,384,384,1,1,0,1,lots\n");
  expect_catalog_error("bad float", t, "cat.csv:2:", "column pct_missing = 'lots' is not a number");
  snprintf(t, sizeof t, "%s%s", hdr, "S1,vil/a.h5,0,vil,2019-01-01,-120:x,1,2,Hail,1,2,3,4,p,384,384,1,1,0,1,0\n");
  expect_catalog_error("bad minute_offsets", t, "cat.csv:2:", "minute_offsets");
  snprintf(t, sizeof t, "%s%s", hdr, ",vil/a.h5,0,vil,2019-01-01,,1,2,Hail,1,2,3,4,p,384,384,1,1,0,1,0\n");
  expect_catalog_error("empty id", t, "cat.csv:2:", "column id is empty");
  snprintf(t, sizeof t, "%s%s", hdr, "S1,vil/a.h5,0,vil,2019-01-01,,1,2,\"Hail,1,2,3,4,p,384,384,1,1,0,1,0\n");
  expect_catalog_error("unterminated quote", t, "cat.csv:2:", "unterminated quoted field 9");
  expect_catalog_error("duplicate column", "id,id\n", "cat.csv:1:", "names column 'id' twice");
}

static void test_splits(void) {
  // Official: train <= 2019-06-01 00:00:00 < test; pct_missing == 0 by default;
  // S500 (two vil rows) is never an event.
  expect_split("official train", "R301,S100,S101,S300,S302", "data.split=train", "data.frames=4",
               "data.size=[8, 8]", NULL);
  expect_split("official test", "S400", "data.split=test", "data.frames=4", "data.size=[8, 8]", NULL);
  expect_split("official train, pct_missing <= 1", "R200,R301,S100,S101,S300,S302", "data.split=train",
               "data.sevir.max_pct_missing=1", "data.size=[8, 8]", NULL);
  expect_split("official test, no pct filter", "R401,S400", "data.split=test",
               "data.sevir.max_pct_missing=100", "data.size=[8, 8]", NULL);
  expect_split("official with val_start: train", "S100,S101", "data.split=train",
               "data.sevir.val_start=2019-01-01", "data.size=[8, 8]", NULL);
  expect_split("official with val_start: val", "R301,S300,S302", "data.split=val",
               "data.sevir.val_start=2019-01-01", "data.size=[8, 8]", NULL);
  expect_split("moved test_start", "R301,S400", "data.split=test", "data.sevir.test_start=2019-05-31 23:55:00",
               "data.size=[8, 8]", NULL);
  expect_split("date range (start, end]", "R200,S101", "data.split=all", "data.sevir.date_start=2018-03-01 12:00:00",
               "data.sevir.date_end=2018-12-31", "data.sevir.max_pct_missing=100");
  // PredLDM: ids with all five types, sorted: R200 S100 S101 S300 S400 ->
  // train [0, 3), val [3, 4), test [4, 5); no pct filter.
  expect_split("predldm train", "R200,S100,S101", "data.split=train", "data.sevir.split_scheme=predldm",
               "data.size=[8, 8]", NULL);
  expect_split("predldm val", "S300", "data.split=val", "data.sevir.split_scheme=predldm", "data.size=[8, 8]", NULL);
  expect_split("predldm test", "S400", "data.split=test", "data.sevir.split_scheme=predldm", "data.size=[8, 8]", NULL);
  expect_split("predldm train with pct filter 0 (positions kept)", "S100,S101", "data.split=train",
               "data.sevir.split_scheme=predldm", "data.sevir.max_pct_missing=0", "data.size=[8, 8]");
}

// Expected clip values at full resolution for event g, frame t.
static void check_clip_full(void) {
  vp_config *cfg = make_cfg("data.split=all", "data.frames=25", "data.size=[384, 384]",
                            "data.sevir.max_pct_missing=100", NULL);
  vp_source *s = source_open(cfg);
  th_check(s->T == 25 && s->H == L && s->W == L && s->nmod == 1 && !strcmp(s->mod[0].name, "vil") &&
               s->mod[0].channels == 1 && s->mod[0].has_mask, "source shape and modality");
  int64_t nw = sevir_source_windows(s), ne = sevir_source_events(s);
  th_check(nw == 3 && ne == NEV - 1 && source_count(s) == ne * nw,
           "frames 25 stride 12: 3 windows (0, 12, 24) per event, %lld events, %lld clips", (long long)ne,
           (long long)source_count(s));
  vp_clip *c = clip_alloc(s);
  int64_t nbad = 0, nmiss = 0;
  // Every window of R200 (missing pixels, contiguous file) and of S300 (chunked).
  for (int64_t i = 0; i < source_count(s); i++) {
    sevir_clip_info ci;
    sevir_source_clip_info(s, i, &ci);
    int g = find_ev(ci.id);
    if (strcmp(ci.id, "R200") && strcmp(ci.id, "S300") && strcmp(ci.id, "R401")) continue;
    th_check(ci.t0 == (i % 3) * 12 && ci.file_index == ev[g].index, "clip %lld: %s t0 %lld", (long long)i,
             ci.id, (long long)ci.t0);
    source_read(s, i, c);
    for (int t = 0; t < 25; t++)
      for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++) {
          uint8_t code = code_at(g, y, x, (int)ci.t0 + t);
          size_t q = ((size_t)t * L + y) * L + x;
          float want = code == 255 ? 0.f : (float)code / 255.f;
          uint8_t wm = code != 255;
          nmiss += !wm;
          if (c->data[0][q] != want || c->mask[0][q] != wm) nbad++;
        }
  }
  th_check(nbad == 0 && nmiss > 0, "values code/255, 255 -> value 0 and mask 0 (%lld wrong, %lld missing)",
           (long long)nbad, (long long)nmiss);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);

  // PredLDM's quirk: no mask, 255 -> 1.0; one window per event (stride 49).
  cfg = make_cfg("data.split=all", "data.frames=20", "data.size=[384, 384]", "data.sevir.stride=49",
                 "data.sevir.mask_missing=false", "data.sevir.max_pct_missing=100", NULL);
  s = source_open(cfg);
  th_check(sevir_source_windows(s) == 1 && !s->mod[0].has_mask, "stride 49: one window; mask_missing off");
  c = clip_alloc(s);
  int g = find_ev("R200");
  int64_t i = 0;
  for (; i < source_count(s); i++) {
    sevir_clip_info ci;
    sevir_source_clip_info(s, i, &ci);
    if (!strcmp(ci.id, "R200")) break;
  }
  source_read(s, i, c);
  nbad = 0;
  for (int t = 0; t < 20; t++)
    for (int y = 0; y < L; y++)
      for (int x = 0; x < L; x++)
        nbad += c->data[0][((size_t)t * L + y) * L + x] != (float)code_at(g, y, x, t) / 255.f;
  th_check(nbad == 0 && c->mask[0] == NULL, "mask_missing = false: 255 -> 1.0, frames 0..19 (%lld wrong)",
           (long long)nbad);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);

  // Windows with a stride that leaves frames out: frames 10, stride 15 -> starts 0, 15, 30.
  cfg = make_cfg("data.split=train", "data.frames=10", "data.sevir.stride=15", "data.size=[8, 8]", NULL);
  s = source_open(cfg);
  int ok = sevir_source_windows(s) == 3;
  for (int64_t k = 0; k < 6; k++) {
    sevir_clip_info ci;
    sevir_source_clip_info(s, k, &ci);
    ok &= ci.t0 == (k % 3) * 15 && ci.event == k / 3;
  }
  th_check(ok, "frames 10 stride 15: windows at 0, 15, 30");
  source_close(s);
  cfg_free(cfg);
}

// Resized clips equal sevir_resize of the expected full frames, with the
// mask rule: a resized pixel is valid iff no missing pixel has weight in it.
static void check_clip_resized(const char *mode, int H, int W) {
  char m[64], sz[64];
  snprintf(m, sizeof m, "data.sevir.resize=%s", mode);
  snprintf(sz, sizeof sz, "data.size=[%d, %d]", H, W);
  vp_config *cfg = make_cfg("data.split=all", "data.frames=3", sz, m, "data.sevir.max_pct_missing=100", NULL);
  vp_source *s = source_open(cfg);
  vp_clip *c = clip_alloc(s);
  int64_t i = 0;
  sevir_clip_info ci;
  for (; i < source_count(s); i++) {
    sevir_source_clip_info(s, i, &ci);
    if (!strcmp(ci.id, "R200") && ci.t0 == 12) break;
  }
  source_read(s, i, c);
  int g = find_ev("R200");
  float *full = vp_malloc(L * L * sizeof(float)), *inv = vp_malloc(L * L * sizeof(float));
  float *tmp = vp_malloc(L * (L > W ? L : W) * sizeof(float));
  float *want = vp_malloc((size_t)H * W * sizeof(float)), *winv = vp_malloc((size_t)H * W * sizeof(float));
  double err = 0;
  int64_t mask_bad = 0, invalid = 0, nonzero_masked = 0;
  for (int t = 0; t < 3; t++) {
    for (int y = 0; y < L; y++)
      for (int x = 0; x < L; x++) {
        uint8_t code = code_at(g, y, x, 12 + t);
        full[y * L + x] = code == 255 ? 0.f : code / 255.f;
        inv[y * L + x] = code == 255;
      }
    sevir_resize_mode md = strcmp(mode, "bilinear_aa") == 0 ? SEVIR_RESIZE_BILINEAR_AA
                           : strcmp(mode, "max") == 0       ? SEVIR_RESIZE_MAX
                           : strcmp(mode, "area") == 0      ? SEVIR_RESIZE_AREA
                           : strcmp(mode, "nearest") == 0   ? SEVIR_RESIZE_NEAREST
                                                            : SEVIR_RESIZE_BILINEAR;
    sevir_resize(full, L, L, want, H, W, md, tmp);
    sevir_resize(inv, L, L, winv, H, W, md, tmp);
    for (int q = 0; q < H * W; q++) {
      int valid = winv[q] == 0.f;
      float got = c->data[0][t * H * W + q];
      uint8_t gm = c->mask[0][t * H * W + q];
      mask_bad += gm != valid;
      invalid += !valid;
      if (valid) err = fmax(err, fabs(got - want[q]));
      else nonzero_masked += got != 0.f;
    }
  }
  th_check(err < 1e-6 && mask_bad == 0 && invalid > 0 && nonzero_masked == 0,
           "resize %s 384 -> %dx%d: max err %.2g, %lld mask errors, %lld invalid, %lld masked non-zero", mode, H, W,
           err, (long long)mask_bad, (long long)invalid, (long long)nonzero_masked);
  free(full);
  free(inv);
  free(tmp);
  free(want);
  free(winv);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);
}

static void test_resize_goldens(void) {
  golden *gd = golden_open("sevir_resize");
  char **cases = golden_cases(gd);
  int n = 0;
  for (char **cs = cases; *cs; cs++, n++) {
    vp_ctx ctx;
    ctx_init(&ctx, 1 << 16);
    vp_tensor *x = golden_tensor(gd, &ctx, "%s/in/x", *cs);
    int64_t H = golden_attr_int(gd, *cs, "H"), W = golden_attr_int(gd, *cs, "W"), ny;
    float *ref = golden_read(gd, &ny, "%s/out/y", *cs);
    int64_t h = x->shape[2], w = x->shape[3];
    float *y = vp_malloc((size_t)ny * sizeof(float)), *tmp = vp_malloc((size_t)(h * (w > W ? w : W)) * sizeof(float));
    int is_max = strncmp(*cs, "max", 3) == 0;
    th_check(ny == H * W, "%s: output size", *cs);
    sevir_resize(x->data, h, w, y, H, W, is_max ? SEVIR_RESIZE_MAX : SEVIR_RESIZE_BILINEAR_AA, tmp);
    th_check_rel(*cs, y, ref, ny, 1e-6);
    free(y);
    free(tmp);
    free(ref);
    ctx_free(&ctx);
    free(*cs);
  }
  free(cases);
  golden_close(gd);
  th_check(n == 8, "all 8 sevir_resize golden cases ran (%d)", n);
}

// Raw statistics: codes of every frame some window uses, 255 invalid; rank
// shares add up to the whole.
static void test_raw_stats(void) {
  // frames 10 stride 15: windows 0..9, 15..24, 30..39 -> 30 of 49 frames used.
  vp_config *cfg = make_cfg("data.split=all", "data.frames=10", "data.sevir.stride=15", "data.size=[8, 8]",
                            "data.sevir.max_pct_missing=100", NULL);
  vp_source *s = source_open(cfg);
  double wmin = INFINITY, wmax = -INFINITY, wsum = 0;
  int64_t wvalid = 0, wtotal = 0;
  for (int64_t e = 0; e < sevir_source_events(s); e++) {
    sevir_clip_info ci;
    sevir_source_clip_info(s, e * sevir_source_windows(s), &ci);
    int g = find_ev(ci.id);
    for (int t = 0; t < NT; t++) {
      if (t >= 40 || t % 15 >= 10) continue;  // windows start at 0, 15, 30
      for (int y = 0; y < L; y++)
        for (int x = 0; x < L; x++) {
          uint8_t code = code_at(g, y, x, t);
          wtotal++;
          if (code == 255) continue;
          wvalid++;
          wsum += code;
          wmin = fmin(wmin, code);
          wmax = fmax(wmax, code);
        }
    }
  }
  vp_raw_stats st;
  raw_stats_init(&st, 1);
  s->ops->raw_stats(s, 0, 1, &st);
  th_check(st.total == wtotal && st.valid == wvalid && st.sum == wsum && st.min == wmin && st.max == wmax,
           "raw stats: total %lld/%lld valid %lld/%lld sum %.0f/%.0f min %g/%g max %g/%g", (long long)st.total,
           (long long)wtotal, (long long)st.valid, (long long)wvalid, st.sum, wsum, st.min, wmin, st.max, wmax);
  th_check(wvalid < wtotal && wtotal == (int64_t)(NEV - 1) * 30 * L * L, "the fixture has missing values; 30 frames used");
  vp_raw_stats sum3 = {INFINITY, -INFINITY, 0, 0, 0};
  for (int r = 0; r < 3; r++) {
    vp_raw_stats part;
    raw_stats_init(&part, 1);
    s->ops->raw_stats(s, r, 3, &part);
    sum3.min = fmin(sum3.min, part.min);
    sum3.max = fmax(sum3.max, part.max);
    sum3.sum += part.sum;
    sum3.valid += part.valid;
    sum3.total += part.total;
  }
  th_check(sum3.total == st.total && sum3.valid == st.valid && sum3.sum == st.sum && sum3.min == st.min &&
               sum3.max == st.max, "3 rank shares add up to the whole");
  source_close(s);
  cfg_free(cfg);
}

// LRU: with one open file at a time, reading across files still works.
static void test_lru(void) {
  vp_config *cfg = make_cfg("data.split=all", "data.frames=2", "data.size=[16, 16]", "data.sevir.max_open_files=1",
                            "data.sevir.max_pct_missing=100", "data.sevir.resize=area", NULL);
  vp_source *s = source_open(cfg);
  vp_config *cfg2 = make_cfg("data.split=all", "data.frames=2", "data.size=[16, 16]",
                             "data.sevir.max_pct_missing=100", "data.sevir.resize=area", NULL);
  vp_source *s2 = source_open(cfg2);
  vp_clip *a = clip_alloc(s), *b = clip_alloc(s2);
  int same = source_count(s) == source_count(s2);
  for (int64_t i = source_count(s) - 1; same && i >= 0; i -= 2) {
    source_read(s, i, a);
    source_read(s2, i, b);
    same &= !memcmp(a->data[0], b->data[0], 2 * 16 * 16 * sizeof(float));
  }
  th_check(same, "max_open_files = 1 reads the same clips as the default");
  clip_free(a);
  clip_free(b);
  source_close(s);
  source_close(s2);
  cfg_free(cfg);
  cfg_free(cfg2);
}

// ---- bad input: each in a forked child ----
typedef void (*child_fn)(const char *arg);

// Runs fn(arg) in a child with stderr captured; returns the exit status
// (-signal when killed) and the message in out.
static int run_child(child_fn fn, const char *arg, char *out, size_t n) {
  int fd[2];
  VP_ASSERT(pipe(fd) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  VP_ASSERT(pid >= 0);
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], 2);
    alarm(60);  // a hang is a failure too
    fn(arg);
    _exit(0);
  }
  close(fd[1]);
  size_t len = 0;
  ssize_t got;
  while ((got = read(fd[0], out + len, n - 1 - len)) > 0) len += (size_t)got;
  out[len] = 0;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Opens the source with "key=value;key=value" overrides on top of a root
// given as the first item, and reads every clip and the raw stats.
static void child_open(const char *arg) {
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", arg);
  char *save = NULL, *dir = strtok_r(buf, ";", &save);
  snprintf(root, sizeof root, "%s", dir);
  const char *kv[6] = {0};
  for (int k = 0; k < 5; k++) kv[k] = strtok_r(NULL, ";", &save);
  vp_config *cfg = make_cfg("data.size=[8, 8]", "data.frames=2", "data.sevir.stride=47",
                            kv[0] ? kv[0] : "data.split=all", kv[1], kv[2], kv[3], kv[4], NULL);
  vp_source *s = source_open(cfg);
  vp_clip *c = clip_alloc(s);
  for (int64_t i = 0; i < source_count(s); i++) source_read(s, i, c);
  vp_raw_stats st;
  raw_stats_init(&st, 1);
  s->ops->raw_stats(s, 0, 1, &st);
  clip_free(c);
  source_close(s);
  cfg_free(cfg);
}

// A small SEVIR folder: one file (layout, h x w) with events S100..., a
// catalog from text (NULL: a matching one), optional changes by the caller.
static void make_small(char *dir, size_t n, int layout, const char *catalog_text) {
  snprintf(dir, n, "/tmp/vp_sevir_bad_XXXXXX");
  VP_ASSERT(mkdtemp(dir) != NULL);
  char p[512];
  snprintf(p, sizeof p, "%s/data", dir);
  VP_ASSERT(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/data/vil", dir);
  VP_ASSERT(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/data/vil/2018", dir);
  VP_ASSERT(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/data/%s", dir, files[0]);
  write_vil_file(p, 0, layout, 48, 48);
  snprintf(p, sizeof p, "%s/CATALOG.csv", dir);
  FILE *f = fopen(p, "w");
  VP_ASSERT(f);
  if (catalog_text) fputs(catalog_text, f);
  else {
    fprintf(f, "id,file_name,file_index,img_type,time_utc,minute_offsets,episode_id,event_id,event_type,"
               "llcrnrlat,llcrnrlon,urcrnrlat,urcrnrlon,proj,size_x,size_y,height_m,width_m,data_min,"
               "data_max,pct_missing\n");
    for (int g = 0; g < NEV; g++)
      if (ev[g].file == 0)
        fprintf(f, "%s,%s,%d,vil,%s,,,,,,,,,,48,48,,,,,0\n", ev[g].id, files[0], ev[g].index, ev[g].time);
  }
  VP_ASSERT(fclose(f) == 0);
}

static void expect_bad(const char *what, const char *arg, const char *f1, const char *f2, const char *f3) {
  char out[8192];
  int rc = run_child(child_open, arg, out, sizeof out);
  if (getenv("VP_TEST_SHOW_ERRORS")) printf("  [%s] %s", what, out);
  th_check(rc == 1 && contains(out, "vpcast: error:") && contains(out, f1) && contains(out, f2) &&
               (!f3 || contains(out, f3)),
           "%s: exit %d, message:\n    %s", what, rc, out);
}

static void truncate_to(const char *path, double frac) {
  struct stat st;
  VP_ASSERT(stat(path, &st) == 0);
  VP_ASSERT(truncate(path, (off_t)(st.st_size * frac)) == 0);
}

static void test_bad_input(void) {
  char dir[256], arg[1024], p[512], f0[512];
  const char *hdr = "id,file_name,file_index,img_type,time_utc,minute_offsets,episode_id,event_id,event_type,"
                    "llcrnrlat,llcrnrlon,urcrnrlat,urcrnrlon,proj,size_x,size_y,height_m,width_m,data_min,"
                    "data_max,pct_missing\n";
  char cat[4096];

  // The small fixture itself is fine.
  make_small(dir, sizeof dir, CONTIG, NULL);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  char out[8192];
  int rc = run_child(child_open, arg, out, sizeof out);
  th_check(rc == 0, "small fixture opens and reads (exit %d): %s", rc, out);

  // Missing catalog.
  snprintf(p, sizeof p, "%s/CATALOG.csv", dir);
  VP_ASSERT(remove(p) == 0);
  expect_bad("missing catalog", arg, p, "No such file", "s3://sevir/CATALOG.csv");
  rm_rf(dir);

  // Missing HDF5 file.
  make_small(dir, sizeof dir, CONTIG, NULL);
  snprintf(f0, sizeof f0, "%s/data/%s", dir, files[0]);
  VP_ASSERT(remove(f0) == 0);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("missing HDF5 file", arg, f0, "No such file", "file_name of event");
  rm_rf(dir);

  // A catalog row pointing past the end of its file (file_index 5 of 3).
  snprintf(cat, sizeof cat, "%sS100,%s,0,vil,2018-03-01 12:00:00,,,,,,,,,,48,48,,,,,0\n"
                            "S101,%s,5,vil,2018-06-20 18:05:00,,,,,,,,,,48,48,,,,,0\n", hdr, files[0], files[0]);
  make_small(dir, sizeof dir, CONTIG, cat);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("file_index past the end", arg, "CATALOG.csv line 3", "file_index 5", "holds 3 events");
  rm_rf(dir);

  // Truncated HDF5 (contiguous and chunked).
  for (int layout = CONTIG; layout <= CHUNKED; layout++) {
    make_small(dir, sizeof dir, layout, NULL);
    snprintf(f0, sizeof f0, "%s/data/%s", dir, files[0]);
    truncate_to(f0, 0.6);
    snprintf(arg, sizeof arg, "%s;data.split=all", dir);
    expect_bad(layout == CONTIG ? "truncated HDF5 (contiguous)" : "truncated HDF5 (chunked)", arg, f0,
               "truncated file: eof", "download it again");
    rm_rf(dir);
  }

  // Corrupt HDF5: the superblock overwritten (not HDF5 any more); the root
  // group's object header scrambled (open fails); the first chunk address in
  // the chunk index (v1 B-tree node of type 1, "TREE\1") pointed past the end
  // of the file, which only a read notices. (Scrambled B-tree keys are not
  // an error for HDF5: the chunks read as fill values.)
  for (int variant = 0; variant < 3; variant++) {
    make_small(dir, sizeof dir, CHUNKED, NULL);
    snprintf(f0, sizeof f0, "%s/data/%s", dir, files[0]);
    off_t at = variant == 0 ? 0 : 96;
    if (variant == 2) {
      FILE *rf = fopen(f0, "rb");
      VP_ASSERT(rf);
      static uint8_t img[1 << 20];
      size_t nb = fread(img, 1, sizeof img, rf);
      fclose(rf);
      at = -1;
      for (size_t k = 0; k + 5 < nb && at < 0; k++)
        // signature, type, level, entries (8 bytes), two sibling addresses
        // (16), the first key (chunk size, filter mask, 5 offsets: 48), then
        // the first child's address.
        if (!memcmp(img + k, "TREE\1", 5)) at = (off_t)k + 8 + 16 + 48;
      th_check(at > 0, "chunk B-tree found in the test file");
      if (at < 0) {
        rm_rf(dir);
        continue;
      }
    }
    int fd = open(f0, O_WRONLY);
    VP_ASSERT(fd >= 0);
    uint8_t junk[1024];
    for (int k = 0; k < 1024; k++) junk[k] = (uint8_t)(k * 73 + 41);
    if (variant == 2) {
      uint64_t far = (uint64_t)1 << 40;  // little-endian address 1 TiB into a 300 KB file
      memcpy(junk, &far, 8);
    }
    VP_ASSERT(pwrite(fd, junk, variant == 0 ? 64 : variant == 1 ? 1024 : 8, at) > 0);
    close(fd);
    snprintf(arg, sizeof arg, "%s;data.split=all", dir);
    const char *name[] = {"corrupt HDF5 (superblock)", "corrupt HDF5 (object header)", "corrupt HDF5 (chunk index)"};
    const char *frag[] = {"file signature not found", "cannot be opened as HDF5", "reading event"};
    expect_bad(name[variant], arg, f0, frag[variant], variant == 2 ? "truncated or corrupt" : NULL);
    rm_rf(dir);
  }

  // A dataset with a filter this HDF5 lacks (LZF, as h5py writes).
  make_small(dir, sizeof dir, LZF, NULL);
  snprintf(f0, sizeof f0, "%s/data/%s", dir, files[0]);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("LZF filter", arg, f0, "filter 32000 (LZF", "h5repack -f NONE");
  rm_rf(dir);

  // Malformed CSV: unterminated quote; wrong column count.
  snprintf(cat, sizeof cat, "%sS100,%s,0,vil,2018-03-01 12:00:00,,,,\"Hail,,,,,48,48,,,,,0\n", hdr, files[0]);
  make_small(dir, sizeof dir, CONTIG, cat);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("unterminated quote in the catalog", arg, "CATALOG.csv:2:", "unterminated quoted field 9", NULL);
  rm_rf(dir);
  snprintf(cat, sizeof cat, "%sS100,%s,0,vil,2018-03-01 12:00:00,,,,Hail, wind,,,,,,48,48,,,,,0\n", hdr, files[0]);
  make_small(dir, sizeof dir, CONTIG, cat);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("wrong column count in the catalog", arg, "CATALOG.csv:2:", "22 fields, but the header has 21", NULL);

  // Unknown img_type; a known one with no rows; an id that does not match the file.
  snprintf(arg, sizeof arg, "%s;data.split=all;data.sevir.img_type=vill", dir);
  expect_bad("unknown img_type", arg, "img_type = 'vill'", "not a SEVIR image type", "CATALOG.csv");
  rm_rf(dir);
  make_small(dir, sizeof dir, CONTIG, NULL);
  snprintf(arg, sizeof arg, "%s;data.split=all;data.sevir.img_type=ir069", dir);
  expect_bad("img_type not decoded", arg, "img_type = ir069", "only vil", NULL);
  snprintf(arg, sizeof arg, "%s;data.split=test", dir);
  expect_bad("empty split", arg, "no SEVIR events left for data.split = test", "CATALOG.csv", NULL);
  snprintf(arg, sizeof arg, "%s;data.split=val", dir);
  expect_bad("official split has no val", arg, "no val part", "data.sevir.val_start", NULL);
  snprintf(arg, sizeof arg, "%s;data.split=all;data.sevir.date_start=June", dir);
  expect_bad("bad date option", arg, "data.sevir.date_start = 'June'", "not a date", NULL);
  snprintf(arg, sizeof arg, "%s;data.split=all;data.frames=50", dir);
  expect_bad("frames longer than an event", arg, "data.frames = 50", "49 frames", NULL);
  rm_rf(dir);
  snprintf(cat, sizeof cat, "%sS999,%s,0,vil,2018-03-01 12:00:00,,,,,,,,,,48,48,,,,,0\n", hdr, files[0]);
  make_small(dir, sizeof dir, CONTIG, cat);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("catalog id differs from the file's id", arg, "event S999", "id[0] is 'S100'", NULL);
  snprintf(arg, sizeof arg, "%s;data.split=all;data.sevir.check_ids=false", dir);
  rc = run_child(child_open, arg, out, sizeof out);
  th_check(rc == 0, "check_ids = false reads it anyway (exit %d)", rc);
  rm_rf(dir);
  // Not an HDF5 file at all (a text file with the right name).
  make_small(dir, sizeof dir, CONTIG, NULL);
  snprintf(f0, sizeof f0, "%s/data/%s", dir, files[0]);
  FILE *tf = fopen(f0, "w");
  VP_ASSERT(tf);
  fputs("<html>403 Forbidden</html>\n", tf);
  fclose(tf);
  snprintf(arg, sizeof arg, "%s;data.split=all", dir);
  expect_bad("not an HDF5 file", arg, f0, "cannot be opened as HDF5", NULL);
  rm_rf(dir);
}

int main(void) {
  // No filter plugins: the LZF test must not find one installed on the machine.
  char plugdir[] = "/tmp/vp_sevir_noplugins_XXXXXX";
  VP_ASSERT(mkdtemp(plugdir) != NULL);
  setenv("HDF5_PLUGIN_PATH", plugdir, 1);
  sevir_h5_quiet();
  make_fixture();
  test_catalog_record();
  test_catalog_errors();
  test_splits();
  check_clip_full();
  check_clip_resized("bilinear_aa", 128, 128);
  check_clip_resized("max", 128, 96);
  check_clip_resized("area", 96, 96);
  check_clip_resized("nearest", 100, 77);
  check_clip_resized("bilinear", 64, 64);
  test_resize_goldens();
  test_raw_stats();
  test_lru();
  test_bad_input();
  rm_rf(root);
  rmdir(plugdir);
  return th_summary();
}
