// test_packed.c: the packed clip writer (io/packed_write.c) and reader
// (data.source: packed, io/packed.c) on their own: normalisation of every
// modality kind, invalid values and masks (also multi-channel), windows and
// strides, split selection, modality selection and order, compressed files,
// file lists / folders / shard sets, and the errors for files the reader
// must refuse (unknown format or version, missing datasets, mismatched
// shapes or encodings, bad config values).
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "harness.h"
#include "io/packed.h"
#include "io/packed_write.h"
#include "io/source.h"

static char tmp[256];

static const char *P(const char *name) {
  static char b[8][600];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(b[k], sizeof b[k], "%s/%s", tmp, name);
  return b[k];
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

enum { T = 5, H = 3, W = 4, NCLIP = 7 };

// Raw values of the test file: rgb u8 (3 ch), dist u16 field (2 ch, invalid
// 65535), seg u8 semantic, dep u16 depth (invalid 0).
static uint8_t v_rgb(int c, int t, int p, int ch) { return (uint8_t)(c * 31 + t * 7 + p * 3 + ch * 50); }
static uint16_t v_dist(int c, int t, int p, int ch) {
  return (c + t + p + ch) % 5 == 0 ? 65535 : (uint16_t)(1000 * c + 100 * t + 10 * p + ch);
}
static uint8_t v_seg(int c, int t, int p) { return (uint8_t)((c + t + p) % 6); }
static uint16_t v_dep(int c, int t, int p) { return (c * 3 + t + p) % 4 == 0 ? 0 : (uint16_t)(50 + c + t + p); }
static int split_of(int c) {
  return c == 2 || c == 5 ? PACKED_SPLIT_VAL : c == 6 ? PACKED_SPLIT_TEST : PACKED_SPLIT_TRAIN;
}

static void set_mod(packed_modality *m, const char *name, vp_mod_kind kind, int ch, packed_dtype dt, double scale,
                    double offset, int has_inv, int64_t inv, double vmin, double vmax) {
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
}

static packed_info test_info(int compress) {
  packed_info in;
  memset(&in, 0, sizeof in);
  snprintf(in.dataset, sizeof in.dataset, "test");
  in.T = T;
  in.H = H;
  in.W = W;
  in.nmod = 4;
  in.compress = compress;
  in.shard_count = 1;
  set_mod(&in.mod[0], "rgb", VP_MOD_RGB, 3, PACKED_U8, 1.0, 0.0, 0, 0, 0, 255);
  set_mod(&in.mod[1], "dist", VP_MOD_FIELD, 2, PACKED_U16, 0.01, -5.0, 1, 65535, -5.0, 95.0);
  set_mod(&in.mod[2], "seg", VP_MOD_SEMANTIC, 1, PACKED_U8, 1.0, 0.0, 0, 0, 0, 5);
  set_mod(&in.mod[3], "dep", VP_MOD_DEPTH, 1, PACKED_U16, 0.5, 0.0, 1, 0, 0, 1000);
  return in;
}

// Writes clips [c0, c1) of the test data.
static void write_test(const char *path, int compress, int c0, int c1) {
  packed_info in = test_info(compress);
  packed_writer *w = packed_writer_create(path, &in);
  uint8_t rgb[T * H * W * 3], seg[T * H * W];
  uint16_t dist[T * H * W * 2], dep[T * H * W];
  for (int c = c0; c < c1; c++) {
    for (int t = 0; t < T; t++)
      for (int p = 0; p < H * W; p++) {
        int k = t * H * W + p;
        for (int ch = 0; ch < 3; ch++) rgb[k * 3 + ch] = v_rgb(c, t, p, ch);
        for (int ch = 0; ch < 2; ch++) dist[k * 2 + ch] = v_dist(c, t, p, ch);
        seg[k] = v_seg(c, t, p);
        dep[k] = v_dep(c, t, p);
      }
    char id[32];
    snprintf(id, sizeof id, "clip%d", c);
    const void *data[4] = {rgb, dist, seg, dep};
    packed_writer_append(w, id, split_of(c), data);
  }
  th_check(packed_writer_count(w) == c1 - c0, "writer count");
  packed_writer_close(w);
}

static vp_config *make_cfg(const char *path, va_list ap) {
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "data.source", "packed", NULL, 0);
  cfg_set(cfg, "data.path", path, NULL, 0);
  const char *kv;
  while ((kv = va_arg(ap, const char *)) != NULL) {
    char k[128];
    const char *eq = strchr(kv, '=');
    snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
    cfg_set(cfg, k, eq + 1, NULL, 0);
  }
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_data, &err)) {
    err_print(&err, stderr);
    vp_die("test: bad config");
  }
  return cfg;
}

static vp_source *open_packed(const char *path, ...) {
  va_list ap;
  va_start(ap, path);
  vp_config *cfg = make_cfg(path, ap);
  va_end(ap);
  vp_source *s = source_open(cfg);
  cfg_free(cfg);
  return s;
}

// ---- children for the error cases ----

typedef struct child_args {
  const char *path;
  const char *kv[6];
} child_args;

static void child_open(void *arg) {
  child_args *a = arg;
  source_close(open_packed(a->path, a->kv[0], a->kv[1], a->kv[2], a->kv[3], a->kv[4], a->kv[5]));
}

static int in_child(void (*fn)(void *), void *arg, char *out, size_t n) {
  fflush(stdout);
  fflush(stderr);
  int pfd[2];
  if (pipe(pfd) != 0) vp_die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    dup2(pfd[1], 2);
    alarm(60);
    fn(arg);
    _exit(0);
  }
  close(pfd[1]);
  size_t got = 0;
  ssize_t r;
  while (got + 1 < n && (r = read(pfd[0], out + got, n - 1 - got)) > 0) got += (size_t)r;
  out[got] = 0;
  close(pfd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The open must fail with status 1 and a message holding both needles.
static void expect_open_error(const char *what, const char *path, const char *n1, const char *n2, ...) {
  child_args a = {.path = path};
  va_list ap;
  va_start(ap, n2);
  for (int i = 0; i < 5; i++) {
    a.kv[i] = va_arg(ap, const char *);
    if (!a.kv[i]) break;
  }
  va_end(ap);
  char msg[4096];
  int rc = in_child(child_open, &a, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "vpcast: error:") && strstr(msg, n1) && (!n2 || strstr(msg, n2)),
           "%s: exit 1 naming '%s'%s%s (exit %d): %s", what, n1, n2 ? " and " : "", n2 ? n2 : "", rc, msg);
}

static void child_dies(void *arg) {
  (void)arg;
  packed_info in = test_info(0);
  packed_writer *w = packed_writer_create(P("dies.h5"), &in);
  (void)w;
  vp_die("simulated failure while packing");
}

// ---- tests ----

static void check_values(const char *what, vp_source *s, int want_split, int frames, int stride) {
  vp_clip *c = clip_alloc(s);
  int clips[NCLIP], nc = 0;
  for (int k = 0; k < NCLIP; k++)
    if (want_split < 0 || split_of(k) == want_split) clips[nc++] = k;
  const int wpc = (T - frames) / stride + 1;
  th_check(source_count(s) == nc * wpc && s->T == frames, "%s: %d clips x %d windows", what, nc, wpc);
  int ok = 1, okm = 1, okid = 1;
  for (int64_t i = 0; i < source_count(s); i++) {
    source_read(s, i, c);
    int k = clips[i / wpc], t0;
    char want[32];
    snprintf(want, sizeof want, "clip%d", k);
    okid &= strcmp(packed_source_clip_id(s, i, &t0), want) == 0 && t0 == (int)(i % wpc) * stride &&
            packed_source_clip_split(s, i) == split_of(k);
    for (int t = 0; t < frames; t++)
      for (int p = 0; p < H * W; p++) {
        int q = t * H * W + p, tt = t0 + t;
        for (int ch = 0; ch < 3; ch++) ok &= fabsf(c->data[0][q * 3 + ch] - v_rgb(k, tt, p, ch) / 255.f) < 1e-6f;
        // dist: field, physical raw * 0.01 - 5 in [-5, 95] -> [0, 1]; 65535 invalid.
        int valid = 1;
        for (int ch = 0; ch < 2; ch++) {
          uint16_t r = v_dist(k, tt, p, ch);
          float want_v = r == 65535 ? 0.f : (float)((r * 0.01 - 5.0 + 5.0) / 100.0);
          ok &= fabsf(c->data[1][q * 2 + ch] - want_v) < 1e-6f;
          valid &= r != 65535;
        }
        okm &= c->mask[1][q] == valid;
        ok &= c->data[2][q] == (float)v_seg(k, tt, p);
        uint16_t d = v_dep(k, tt, p);
        ok &= fabsf(c->data[3][q] - (d ? (float)(-1.0 + 2.0 * d * 0.5 / 100.0) : 0.f)) < 1e-6f;
        okm &= c->mask[3][q] == (d != 0);
      }
  }
  th_check(okid, "%s: ids, window starts and splits", what);
  th_check(ok, "%s: values (rgb [0,1], field [vmin,vmax]->[0,1], class ids, depth / depth_max -> [-1,1])", what);
  th_check(okm, "%s: masks (a multi-channel pixel is valid when no channel is invalid)", what);
  clip_free(c);
}

static void test_roundtrip(void) {
  write_test(P("a.h5"), 0, 0, NCLIP);
  write_test(P("z.h5"), 6, 0, NCLIP);
  th_check(exists(P("a.h5")) && !exists(P("a.h5.tmp")), "file in place");
  const char *cfgs[][3] = {{"data.split=train", "data.frames=5", "data.packed.stride=0"},
                           {"data.split=val", "data.frames=2", "data.packed.stride=1"},
                           {"data.split=all", "data.frames=2", "data.packed.stride=2"},
                           {"data.split=test", "data.frames=3", "data.packed.stride=0"}};
  const int want_split[] = {PACKED_SPLIT_TRAIN, PACKED_SPLIT_VAL, -1, PACKED_SPLIT_TEST};
  const int frames[] = {5, 2, 2, 3}, stride[] = {5, 1, 2, 3};
  for (int f = 0; f < 2; f++)
    for (int k = 0; k < 4; k++) {
      vp_source *s = open_packed(P(f ? "z.h5" : "a.h5"), cfgs[k][0], cfgs[k][1], cfgs[k][2],
                                 "data.packed.rgb_range=[0, 1]", "data.packed.depth_max=100", NULL);
      char what[96];
      snprintf(what, sizeof what, "%s %s %s %s", f ? "deflate" : "plain", cfgs[k][0], cfgs[k][1], cfgs[k][2]);
      th_check(s->nmod == 4 && s->mod[1].kind == VP_MOD_FIELD && s->mod[1].channels == 2 && s->mod[1].has_mask &&
                   s->mod[3].has_mask && !s->mod[2].has_mask && s->H == H && s->W == W, "%s: modalities", what);
      check_values(what, s, want_split[k], frames[k], stride[k]);
      source_close(s);
    }
  // data.modalities: a subset, in the asked order.
  vp_source *s = open_packed(P("a.h5"), "data.modalities=[dep, rgb]", "data.frames=5", NULL);
  vp_clip *c = clip_alloc(s);
  source_read(s, 0, c);
  th_check(s->nmod == 2 && strcmp(s->mod[0].name, "dep") == 0 && s->mod[0].channels == 1 && c->mask[0] &&
               !c->mask[1] && fabsf(c->data[1][0] - (v_rgb(0, 0, 0, 0) / 127.5f - 1.f)) < 1e-6f &&
               fabsf(c->data[0][1] - (float)(-1.0 + 2.0 * v_dep(0, 0, 1) * 0.5 / 1000.0)) < 1e-6f,
           "modality subset in order; default ranges [-1, 1], depth_max = the file's vmax");
  clip_free(c);
  // Raw statistics: physical units over valid values of the frames windows use.
  vp_raw_stats st[2], sh[2];
  raw_stats_init(st, 2);
  s->ops->raw_stats(s, 0, 1, st);
  raw_stats_init(sh, 2);
  for (int r = 0; r < 4; r++) s->ops->raw_stats(s, r, 4, sh);
  double mn = 1e9, mx = -1e9, sum = 0;
  int64_t valid = 0, total = 0;
  for (int k = 0; k < NCLIP; k++)
    if (split_of(k) == PACKED_SPLIT_TRAIN)
      for (int t = 0; t < T; t++)
        for (int p = 0; p < H * W; p++) {
          uint16_t d = v_dep(k, t, p);
          total++;
          if (!d) continue;
          valid++;
          sum += d * 0.5;
          mn = fmin(mn, d * 0.5);
          mx = fmax(mx, d * 0.5);
        }
  th_check(st[0].valid == valid && st[0].total == total && st[0].min == mn && st[0].max == mx && st[0].sum == sum,
           "depth raw stats in physical units (valid %lld of %lld)", (long long)st[0].valid, (long long)st[0].total);
  th_check(sh[0].valid == st[0].valid && sh[0].sum == st[0].sum && sh[1].total == st[1].total &&
               st[1].total == 4LL * T * H * W * 3, "4 rank shares add up to the whole");
  source_close(s);
  // A window of 2 with stride 2 in 5 frames uses frames 0..3 only.
  s = open_packed(P("a.h5"), "data.modalities=[rgb]", "data.frames=2", "data.packed.stride=2", NULL);
  raw_stats_init(st, 1);
  s->ops->raw_stats(s, 0, 1, st);
  th_check(st[0].total == 4LL * 4 * H * W * 3, "stats cover the frames the windows use (%lld)", (long long)st[0].total);
  source_close(s);

  // Several files: a comma list and a folder, concatenated in order.
  mkdir(P("dir"), 0755);
  write_test(P("dir/part-2.h5"), 0, 4, NCLIP);
  write_test(P("dir/part-10.h5"), 1, 0, 0);  // an empty shard
  write_test(P("dir/part-1.h5"), 0, 0, 4);
  char list[1400];
  snprintf(list, sizeof list, "%s,%s", P("dir/part-1.h5"), P("dir/part-2.h5"));
  const char *paths[2] = {list, P("dir")};
  for (int k = 0; k < 2; k++) {
    s = open_packed(paths[k], "data.split=all", "data.frames=2", "data.packed.stride=1", "data.packed.rgb_range=[0, 1]",
                    "data.packed.depth_max=100", NULL);
    th_check(packed_source_nfiles(s) == (k ? 3 : 2) &&
                 strstr(packed_source_file(s, k ? 2 : 1), k ? "part-10.h5" : "part-2.h5"),
             "%s: files in natural order", k ? "folder" : "list");
    check_values(k ? "folder" : "list", s, -1, 2, 1);
    source_close(s);
  }
  // The atexit cleanup: a writer that dies leaves neither file nor temporary.
  char msg[2048];
  int rc = in_child(child_dies, NULL, msg, sizeof msg);
  char cmd[800], out[64] = "";
  snprintf(cmd, sizeof cmd, "ls %s* 2>/dev/null | wc -l", P("dies.h5"));
  FILE *pf = popen(cmd, "r");
  if (pf) {
    if (!fgets(out, sizeof out, pf)) out[0] = 0;
    pclose(pf);
  }
  th_check(rc == 1 && atoi(out) == 0, "a writer that dies removes its temporary (exit %d, %s files left)", rc, out);
  // abort leaves the final name alone.
  packed_info in = test_info(0);
  packed_writer *w = packed_writer_create(P("a.h5"), &in);
  packed_writer_abort(w);
  s = open_packed(P("a.h5"), "data.split=all", "data.frames=5", NULL);
  th_check(source_count(s) == NCLIP, "abort keeps the earlier file");
  source_close(s);
}

static void set_attr_i64(const char *path, const char *obj, const char *name, int64_t v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
  hid_t a = H5Aopen(o, name, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  H5Oclose(o);
  H5Fclose(f);
}

static void copy(const char *a, const char *b) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "cp %s %s", a, b);
  if (system(cmd) != 0) vp_die("test: %s failed", cmd);
}

static void test_errors(void) {
  char a[600];
  snprintf(a, sizeof a, "%s", P("a.h5"));
  expect_open_error("data.frames longer than the stored clips", a, "data.frames = 6", "longer than the 5 frames",
                    "data.frames=6", NULL);
  expect_open_error("data.size differs", a, "data.size = [8, 8]", "holds 3x4 frames", "data.size=[8, 8]",
                    "data.frames=2", NULL);
  expect_open_error("unknown split", a, "data.split = valid", "train, val, test", "data.split=valid",
                    "data.frames=2", NULL);
  expect_open_error("unknown modality", a, "no modality 'depth'", "rgb, dist, seg, dep", "data.modalities=[depth]",
                    "data.frames=2", NULL);
  expect_open_error("modality twice", a, "'rgb' is listed twice", NULL, "data.modalities=[rgb, rgb]", "data.frames=2",
                    NULL);
  // An empty split.
  write_test(P("trainonly.h5"), 0, 0, 2);
  expect_open_error("no clips of the split", P("trainonly.h5"), "no clips of split 'test'", "train 2, val 0, test 0",
                    "data.split=test", "data.frames=2", NULL);
  // Unknown version and format, missing datasets and attributes.
  const char *v = P("v9.h5");
  copy(a, v);
  set_attr_i64(v, "/", "version", 9);
  expect_open_error("unknown version", v, "format version 9", "reads version 1", "data.frames=2", NULL);
  const char *nf = P("noformat.h5");
  copy(a, nf);
  hid_t f = H5Fopen(nf, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete(f, "format");
  H5Fclose(f);
  expect_open_error("no format attribute", nf, "not a vpcast packed clip file", NULL, "data.frames=2", NULL);
  const char *md = P("nodset.h5");
  copy(a, md);
  f = H5Fopen(md, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "modalities/dist/frames", H5P_DEFAULT);
  H5Fclose(f);
  expect_open_error("missing frames dataset", md, "/modalities/dist/frames is missing", NULL, "data.frames=2", NULL);
  const char *mc = P("noclips.h5");
  copy(a, mc);
  f = H5Fopen(mc, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "clips/split", H5P_DEFAULT);
  H5Fclose(f);
  expect_open_error("missing clip table", mc, "/clips/split", "missing", "data.frames=2", NULL);
  const char *ms = P("noscale.h5");
  copy(a, ms);
  f = H5Fopen(ms, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, "modalities/dep", H5P_DEFAULT);
  H5Adelete(g, "scale");
  H5Gclose(g);
  H5Fclose(f);
  expect_open_error("missing attribute", ms, "attribute scale of /modalities/dep is missing", NULL, "data.frames=2",
                    NULL);
  // Files that cannot be read together.
  packed_info in = test_info(0);
  in.T = 4;
  packed_writer *w = packed_writer_create(P("t4.h5"), &in);
  packed_writer_close(w);
  char list[1400];
  snprintf(list, sizeof list, "%s,%s", a, P("t4.h5"));
  expect_open_error("files with different shapes", list, "different shapes", "t4.h5", "data.frames=2", NULL);
  in = test_info(0);
  in.mod[3].scale = 0.25;
  w = packed_writer_create(P("scale.h5"), &in);
  packed_writer_close(w);
  snprintf(list, sizeof list, "%s,%s", a, P("scale.h5"));
  expect_open_error("files with different encodings", list, "encode modality dep differently", "scale.h5",
                    "data.frames=2", NULL);
  snprintf(list, sizeof list, "%s,%s", a, P("gone.h5"));
  expect_open_error("missing file in a list", list, "gone.h5", "is not a file", "data.frames=2", NULL);
  // A degenerate depth range needs depth_max.
  in = test_info(0);
  in.mod[3].vmax = 0;
  w = packed_writer_create(P("vmax0.h5"), &in);
  static uint8_t zeros[T * H * W * 3 * 2];
  const void *zd[4] = {zeros, zeros, zeros, zeros};
  packed_writer_append(w, "x", 0, zd);
  packed_writer_close(w);
  expect_open_error("zero depth range", P("vmax0.h5"), "range [0, 0]", "depth_max", "data.frames=2", NULL);
  // Shard sets: two sets under one name are refused.
  write_test(P("s-00000-of-00001.h5"), 0, 0, 3);
  write_test(P("s-00000-of-00002.h5"), 0, 0, 3);
  write_test(P("s-00001-of-00002.h5"), 0, 3, 5);
  expect_open_error("two shard sets", P("s.h5"), "two packs", "remove the stale set", "data.frames=2", NULL);
  remove(P("s-00000-of-00001.h5"));
  vp_source *s = open_packed(P("s.h5"), "data.split=all", "data.frames=5", NULL);
  th_check(source_count(s) == 5 && packed_source_nfiles(s) == 2, "a shard set by its name");
  source_close(s);
}

int main(void) {
  snprintf(tmp, sizeof tmp, "/tmp/vp_packed_XXXXXX");
  if (!mkdtemp(tmp)) vp_die("mkdtemp failed");
  test_roundtrip();
  test_errors();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmp);
  return th_summary();
}
