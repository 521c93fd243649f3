// test_pack.c: `vpcast data pack` end to end. Writes small Cityscapes,
// SYNTHIA-SEQS and BAIR source trees in their real layouts with the real
// libraries (libpng 8/16-bit PNGs; TFRecord framing with masked CRC32C and
// tf.train.Example records), packs them, and reads them back through
// data.source: packed, checking every pixel against the generator: centre
// crop, resize (bilinear = area = 2x2 mean at 2x; nearest for labels), the
// disparity mask and its masked resize, clip windows and strides, splits,
// clip ids, raw statistics, and that shards packed by 3 "ranks" hold the same
// clips as a one-rank pack. Bad input (one case each) runs the vpcast binary
// ($VP_BIN) or a forked child and checks the exit status, that the message
// names the file and the problem, and that no partial output is left.
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
#include "io/pack.h"
#include "io/packed.h"
#include "io/packed_write.h"
#include "io/png.h"
#include "io/resize.h"
#include "io/source.h"
#include "io/tfrecord.h"

static char tmp[256];

static char *P(const char *fmt, ...) {
  static char buf[8][1200];
  static int k = 0;
  k = (k + 1) % 8;
  char rel[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, rel);
  return buf[k];
}

static void mkdirs(const char *path) {
  char b[4096];
  snprintf(b, sizeof b, "%s", path);
  for (char *s = b + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      mkdir(b, 0755);
      *s = '/';
    }
  mkdir(b, 0755);
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

// ---- opening a packed source from key=value pairs ----

static vp_source *open_packed(const char *path, ...) {
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "data.source", "packed", NULL, 0);
  cfg_set(cfg, "data.path", path, NULL, 0);
  va_list ap;
  va_start(ap, path);
  const char *kv;
  while ((kv = va_arg(ap, const char *)) != NULL) {
    char k[128];
    const char *eq = strchr(kv, '=');
    snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
    cfg_set(cfg, k, eq + 1, NULL, 0);
  }
  va_end(ap);
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_data, &err)) {
    err_print(&err, stderr);
    vp_die("test: bad config");
  }
  vp_source *s = source_open(cfg);
  cfg_free(cfg);
  return s;
}

// Runs fn(arg) in a child; returns its exit status (-1: killed) and its stderr in out.
static int in_child(void (*fn)(void *), void *arg, char *out, size_t n) {
  fflush(stdout);
  fflush(stderr);
  int pfd[2];
  if (pipe(pfd) != 0) vp_die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    dup2(pfd[1], 2);
    dup2(pfd[1], 1);
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

// Runs `vpcast data pack ARGS` with a time limit; returns the exit status.
static int run_vpcast(const char *args, char *out, size_t n) {
  const char *bin = getenv("VP_BIN");
  if (!bin || !*bin) {
    snprintf(out, n, "VP_BIN is not set (ctest sets it to the vpcast binary)");
    return -2;
  }
  // Open MPI's own allocations at init are never freed; in a sanitizer build
  // LeakSanitizer would fail every run for them, so they (only) are suppressed.
  static char supp[1200];
  if (!supp[0]) {
    snprintf(supp, sizeof supp, "%s/lsan_mpi.supp", tmp);
    FILE *f = fopen(supp, "w");
    if (!f) vp_die("test: cannot write %s", supp);
    fputs("leak:libmpi.so\nleak:libopen-rte.so\nleak:libopen-pal.so\nleak:libhwloc.so\nleak:libpmix.so\n"
          "leak:libevent\nleak:mca_\nleak:libopenblas\nleak:MPI_Init_thread\nleak:ompi_mpi_init\n"
          "leak:ompi_mpi_finalize\nleak:orte_init\n", f);
    fclose(f);
  }
  char cmd[4096];
  // An isolated singleton skips starting an MPI daemon for each one-process run.
  snprintf(cmd, sizeof cmd,
           "LSAN_OPTIONS=suppressions=%s ASAN_OPTIONS=fast_unwind_on_malloc=0 OMPI_MCA_ess_singleton_isolated=1 "
           "timeout 120 %s data pack %s 2>&1", supp, bin, args);
  FILE *f = popen(cmd, "r");
  if (!f) vp_die("popen");
  size_t got = fread(out, 1, n - 1, f);
  out[got] = 0;
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// ---- Cityscapes ----

enum { CW = 24, CH = 12 };  // 2:1 like 2048x1024; the centre crop is columns 6..17

static uint8_t cs_rgb(int sid, int frame, int y, int x, int c) {
  return (uint8_t)((sid * 37 + frame * 11 + y * 5 + x * 3 + c * 70) & 255);
}

// Disparity raw p (0 = invalid), kept below 4096 so float resizing is exact.
static uint16_t cs_disp(int sid, int frame, int y, int x) {
  if ((y * 7 + x * 3 + frame * 5 + sid) % 9 == 0) return 0;
  return (uint16_t)(1 + (frame * 131 + y * 17 + x * 29 + sid * 1000) % 4000);
}

typedef struct cs_snip {
  const char *split, *city;
  int seq, first, n, sid;
} cs_snip;

static const cs_snip cs_snips[] = {
    {"train", "aachen", 0, 0, 6, 0},  {"train", "aachen", 0, 10, 6, 1},
    {"train", "bochum", 3, 100, 7, 2},  // 7 frames: the 7th is left over with --frames 3
    {"val", "frankfurt", 0, 294, 6, 3},
};
enum { CS_NSNIP = 4 };

static void write_cityscapes(const char *root) {
  for (int s = 0; s < CS_NSNIP; s++) {
    const cs_snip *q = &cs_snips[s];
    char d0[2048], d1[2048];
    snprintf(d0, sizeof d0, "%s/leftImg8bit_sequence/%s/%s", root, q->split, q->city);
    snprintf(d1, sizeof d1, "%s/disparity_sequence/%s/%s", root, q->split, q->city);
    mkdirs(d0);
    mkdirs(d1);
    for (int f = q->first; f < q->first + q->n; f++) {
      uint8_t rgb[CH * CW * 3];
      uint16_t dp[CH * CW];
      for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) {
          for (int c = 0; c < 3; c++) rgb[(y * CW + x) * 3 + c] = cs_rgb(q->sid, f, y, x, c);
          dp[y * CW + x] = cs_disp(q->sid, f, y, x);
        }
      char p[4200];
      snprintf(p, sizeof p, "%s/%s_%06d_%06d_leftImg8bit.png", d0, q->city, q->seq, f);
      png_write_rgb8(p, CW, CH, rgb);
      snprintf(p, sizeof p, "%s/%s_%06d_%06d_disparity.png", d1, q->city, q->seq, f);
      png_write_gray16(p, CW, CH, dp);
    }
  }
  // Not frames: skipped (a misnamed PNG with a warning), without breaking the pack.
  FILE *f = fopen(P("cs/leftImg8bit_sequence/train/aachen/README.txt"), "w");
  if (f) fclose(f);
  uint8_t px[3] = {1, 2, 3};
  png_write_rgb8(P("cs/leftImg8bit_sequence/train/aachen/aachen_preview_leftImg8bit.png"), 1, 1, px);
}

static void pack(const char *fmt, const char *src, const char *out, int size, int frames, int mode,
                 const char *camera, const char *depth, int rank, int nranks) {
  pack_opts o = {.format = fmt, .src = src, .out = out, .size = size, .frames = frames, .split = "train",
                 .camera = camera, .depth = depth, .depth_scale = 0.5, .resize = mode, .rank = rank,
                 .nranks = nranks};
  pack_result r;
  pack_run(&o, &r);
  th_check(!exists(r.path), "%s appears only when committed", r.path);
  pack_commit(&r);
}

// Expected normalised rgb (range [0, 1]) of crop pixel (y, x) at output size S
// from a (CH, CW) frame: 2x2 means at S = 6, the pixel itself at S = 12.
static float cs_rgb_expect(int sid, int f, int S, int y, int x, int c) {
  int x0 = (CW - CH) / 2;
  if (S == CH) return cs_rgb(sid, f, y, x + x0, c) / 255.f;
  float s = 0;
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) s += cs_rgb(sid, f, 2 * y + dy, x0 + 2 * x + dx, c);
  return rintf(s / 4) / 255.f;
}

// Expected raw disparity after the masked resize (0 = invalid).
static uint16_t cs_disp_expect(int sid, int f, int S, int y, int x) {
  int x0 = (CW - CH) / 2;
  if (S == CH) return cs_disp(sid, f, y, x + x0);
  long sum = 0;
  int cnt = 0;
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) {
      uint16_t p = cs_disp(sid, f, 2 * y + dy, x0 + 2 * x + dx);
      if (p) sum += p - 1, cnt++;
    }
  if (cnt < 2) return 0;
  return (uint16_t)rint((double)sum / cnt + 1);
}

// The snippets' clips in pack order for --frames T: (snippet, first frame offset).
static int cs_clips(const char *split, int T, int *snip, int *t0) {
  int n = 0;
  for (int s = 0; s < CS_NSNIP; s++) {
    if (split && strcmp(split, cs_snips[s].split) != 0) continue;
    for (int k = 0; k + T <= cs_snips[s].n; k += T) {
      snip[n] = s;
      t0[n++] = k;
    }
  }
  return n;
}

static void check_cityscapes_file(const char *path, int S, const char *what) {
  const double dmax = 20.0;
  int snip[32], t0[32];
  for (int sp = 0; sp < 2; sp++) {
    const char *split = sp ? "val" : "train";
    char sk[64];
    snprintf(sk, sizeof sk, "data.split=%s", split);
    vp_source *s = open_packed(path, sk, "data.frames=2", "data.packed.stride=1", "data.packed.rgb_range=[0, 1]",
                               "data.packed.depth_range=[0, 1]", "data.packed.depth_max=20", NULL);
    int nc = cs_clips(split, 3, snip, t0);
    th_check(s->nmod == 2 && strcmp(s->mod[0].name, "rgb") == 0 && strcmp(s->mod[1].name, "depth") == 0 &&
                 s->mod[1].has_mask && !s->mod[0].has_mask && s->mod[1].kind == VP_MOD_DEPTH,
             "%s: modalities rgb + masked depth", what);
    th_check(source_count(s) == 2 * nc && s->T == 2 && s->H == S && s->W == S,
             "%s %s: %d clips x 2 windows of 2 frames (got %lld, %dx%dx%d)", what, split, nc,
             (long long)source_count(s), s->T, s->H, s->W);
    vp_clip *c = clip_alloc(s);
    int ok_rgb = 1, ok_dep = 1, ok_mask = 1, ok_id = 1;
    for (int64_t i = 0; i < source_count(s); i++) {
      source_read(s, i, c);
      const cs_snip *q = &cs_snips[snip[i / 2]];
      int w0;
      const char *id = packed_source_clip_id(s, i, &w0);
      char want[128];
      snprintf(want, sizeof want, "%s_%06d_%06d/%d", q->city, q->seq, q->first, t0[i / 2]);
      ok_id &= strcmp(id, want) == 0 && w0 == (int)(i % 2) && packed_source_clip_split(s, i) == sp;
      for (int t = 0; t < 2; t++) {
        int f = q->first + t0[i / 2] + w0 + t;
        for (int y = 0; y < S; y++)
          for (int x = 0; x < S; x++) {
            size_t px = ((size_t)t * S + y) * S + x;
            for (int ch = 0; ch < 3; ch++)
              ok_rgb &= fabsf(c->data[0][px * 3 + ch] - cs_rgb_expect(q->sid, f, S, y, x, ch)) < 1e-6f;
            uint16_t p = cs_disp_expect(q->sid, f, S, y, x);
            float want_d = p ? (float)(((p - 1) / 256.0) / dmax) : 0.f;
            ok_dep &= fabsf(c->data[1][px] - want_d) < 1e-6f;
            ok_mask &= c->mask[1][px] == (p != 0);
          }
      }
    }
    th_check(ok_id, "%s %s: clip ids, windows and splits", what, split);
    th_check(ok_rgb, "%s %s: rgb = centre crop%s", what, split, S == CH ? "" : " + 2x2 mean");
    th_check(ok_dep, "%s %s: disparity (p - 1) / 256 / depth_max%s", what, split, S == CH ? "" : ", masked resize");
    th_check(ok_mask, "%s %s: mask 0 exactly where p = 0", what, split);
    clip_free(c);
    source_close(s);
  }
}

static void test_cityscapes(void) {
  char src[1200];
  snprintf(src, sizeof src, "%s", P("cs"));
  write_cityscapes(src);
  pack("cityscapes", src, P("cs12.h5"), 12, 3, RESIZE_BILINEAR, NULL, NULL, 0, 1);
  check_cityscapes_file(P("cs12.h5"), 12, "cityscapes crop only");
  pack("cityscapes", src, P("cs6b.h5"), 6, 3, RESIZE_BILINEAR, NULL, NULL, 0, 1);
  check_cityscapes_file(P("cs6b.h5"), 6, "cityscapes bilinear 2x");
  pack("cityscapes", src, P("cs6a.h5"), 6, 3, RESIZE_AREA, NULL, NULL, 0, 1);
  check_cityscapes_file(P("cs6a.h5"), 6, "cityscapes area 2x");

  // The stored attributes say how to decode.
  hid_t f = H5Fopen(P("cs12.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, "modalities/depth", H5P_DEFAULT);
  double scale = 0, off = 0;
  int64_t inv = -1, hasinv = 0, nclips = 0;
  hid_t a = H5Aopen(g, "scale", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &scale);
  H5Aclose(a);
  a = H5Aopen(g, "offset", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &off);
  H5Aclose(a);
  a = H5Aopen(g, "invalid", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_INT64, &inv);
  H5Aclose(a);
  a = H5Aopen(g, "has_invalid", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_INT64, &hasinv);
  H5Aclose(a);
  a = H5Aopen(f, "clips", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_INT64, &nclips);
  H5Aclose(a);
  hid_t ds = H5Dopen2(f, "modalities/rgb/frames", H5P_DEFAULT);
  hid_t dcpl = H5Dget_create_plist(ds);
  hsize_t chunk[5];
  H5Pget_chunk(dcpl, 5, chunk);
  H5Pclose(dcpl);
  H5Dclose(ds);
  H5Gclose(g);
  H5Fclose(f);
  th_check(scale == 1.0 / 256 && off == -1.0 / 256 && inv == 0 && hasinv == 1 && nclips == 8,
           "depth attributes: scale 1/256, offset -1/256, invalid 0; 8 clips");
  th_check(chunk[0] == 1 && chunk[1] == 3 && chunk[2] == 12 && chunk[3] == 12 && chunk[4] == 3,
           "one clip per chunk");

  // All splits at once, default normalisation ([-1, 1]) and stride (= frames).
  vp_source *s = open_packed(P("cs12.h5"), "data.split=all", "data.frames=3", NULL);
  th_check(source_count(s) == 8, "split all: 8 clips (%lld)", (long long)source_count(s));
  vp_clip *c = clip_alloc(s);
  source_read(s, 7, c);  // frankfurt, frames 297..299
  int ok = 1;
  for (int y = 0; y < 12; y++)
    for (int x = 0; x < 12; x++) ok &= fabsf(c->data[0][((2 * 12 + y) * 12 + x) * 3 + 1] -
                                             (cs_rgb(3, 299, y, x + 6, 1) / 127.5f - 1.f)) < 1e-6f;
  th_check(ok && strcmp(packed_source_clip_id(s, 7, NULL), "frankfurt_000000_000294/3") == 0,
           "default rgb range [-1, 1]; last clip is val");
  // Raw statistics: physical disparity over valid pixels of the frames the split uses.
  vp_raw_stats st[2], parts[2];
  raw_stats_init(st, 2);
  s->ops->raw_stats(s, 0, 1, st);
  raw_stats_init(parts, 2);
  for (int r = 0; r < 3; r++) s->ops->raw_stats(s, r, 3, parts);
  double mn = 1e30, mx = -1e30, sum = 0;
  int64_t valid = 0, total = 0;
  int snip[32], t0[32];
  int nc = cs_clips(NULL, 3, snip, t0);
  for (int k = 0; k < nc; k++)
    for (int t = 0; t < 3; t++)
      for (int y = 0; y < 12; y++)
        for (int x = 0; x < 12; x++) {
          uint16_t p = cs_disp(cs_snips[snip[k]].sid, cs_snips[snip[k]].first + t0[k] + t, y, x + 6);
          total++;
          if (!p) continue;
          double d = (p - 1) / 256.0;
          valid++;
          sum += d;
          mn = d < mn ? d : mn;
          mx = d > mx ? d : mx;
        }
  th_check(st[1].valid == valid && st[1].total == total && st[1].min == mn && st[1].max == mx &&
               fabs(st[1].sum - sum) < 1e-6 * sum, "depth raw stats: valid %lld/%lld, min %g, max %g",
           (long long)st[1].valid, (long long)st[1].total, st[1].min, st[1].max);
  th_check(parts[1].valid == st[1].valid && parts[1].total == st[1].total && parts[1].min == st[1].min &&
               parts[1].max == st[1].max && fabs(parts[1].sum - st[1].sum) < 1e-9 * st[1].sum &&
               parts[0].valid == st[0].valid && parts[0].total == 8 * 3 * 144 * 3,
           "raw stats over 3 rank shares add up to the whole");
  clip_free(c);
  source_close(s);

  // Shards: three "ranks" pack disjoint blocks; FILE.h5 then names the set.
  mkdirs(P("shards"));
  for (int r = 0; r < 3; r++)
    pack("cityscapes", src, P("shards/csx.h5"), 12, 3, RESIZE_BILINEAR, NULL, NULL, r, 3);
  th_check(!exists(P("shards/csx.h5")) && exists(P("shards/csx-00000-of-00003.h5")) &&
               exists(P("shards/csx-00002-of-00003.h5")), "shard files FILE-RRRRR-of-00003.h5");
  vp_source *a1 = open_packed(P("cs12.h5"), "data.split=all", "data.frames=3", NULL);
  vp_source *a3 = open_packed(P("shards/csx.h5"), "data.split=all", "data.frames=3", NULL);
  vp_source *d3 = open_packed(P("shards"), "data.split=train", "data.frames=3", "data.modalities=[depth]", NULL);
  int same = source_count(a1) == source_count(a3) && packed_source_nfiles(a3) == 3;
  vp_clip *c1 = clip_alloc(a1), *c3 = clip_alloc(a3);
  for (int64_t i = 0; same && i < source_count(a1); i++) {
    source_read(a1, i, c1);
    source_read(a3, i, c3);
    same = strcmp(packed_source_clip_id(a1, i, NULL), packed_source_clip_id(a3, i, NULL)) == 0 &&
           memcmp(c1->data[0], c3->data[0], 3 * 144 * 3 * sizeof(float)) == 0 &&
           memcmp(c1->data[1], c3->data[1], 3 * 144 * sizeof(float)) == 0 &&
           memcmp(c1->mask[1], c3->mask[1], 3 * 144) == 0;
  }
  th_check(same, "3 shards hold the same clips, in the same order, as the 1-rank pack");
  th_check(d3->nmod == 1 && strcmp(d3->mod[0].name, "depth") == 0 && source_count(d3) == 6 &&
               packed_source_nfiles(d3) == 3, "a folder of shards; data.modalities selects depth");
  clip_free(c1);
  clip_free(c3);
  source_close(a1);
  source_close(a3);
  source_close(d3);
}

// ---- SYNTHIA ----

enum { SW = 20, SH = 12 };  // crop columns 4..15

static uint8_t sy_rgb(int q, int f, int y, int x, int c) { return (uint8_t)(q * 90 + f * 13 + y * 7 + x * 2 + c * 40); }
static uint16_t sy_class(int q, int f, int y, int x) { return (uint16_t)((q + f + y / 2 + x / 3) % 16); }

static void write_synthia(const char *root, const char *seq, int q, int nframes) {
  char d0[2048], d1[2048];
  snprintf(d0, sizeof d0, "%s/%s/RGB/Stereo_Left/Omni_F", root, seq);
  snprintf(d1, sizeof d1, "%s/%s/GT/LABELS/Stereo_Left/Omni_F", root, seq);
  mkdirs(d0);
  mkdirs(d1);
  for (int f = 0; f < nframes; f++) {
    uint8_t rgb[SH * SW * 3];
    uint16_t lab[SH * SW * 3];
    for (int y = 0; y < SH; y++)
      for (int x = 0; x < SW; x++) {
        for (int c = 0; c < 3; c++) rgb[(y * SW + x) * 3 + c] = sy_rgb(q, f, y, x, c);
        lab[(y * SW + x) * 3] = sy_class(q, f, y, x);
        lab[(y * SW + x) * 3 + 1] = (uint16_t)(40000 + y * SW + x);  // instance id
        lab[(y * SW + x) * 3 + 2] = 0;
      }
    char p[4200];
    snprintf(p, sizeof p, "%s/%06d.png", d0, f);
    png_write_rgb8(p, SW, SH, rgb);
    snprintf(p, sizeof p, "%s/%06d.png", d1, f);
    png_write_rgb16(p, SW, SH, lab);
  }
}

static void test_synthia(void) {
  char src[1200];
  snprintf(src, sizeof src, "%s", P("synthia"));
  write_synthia(src, "SYNTHIA-SEQS-01-SPRING", 0, 7);
  write_synthia(src, "SYNTHIA-SEQS-02-FOG", 1, 3);
  pack("synthia", src, P("sy.h5"), 6, 3, RESIZE_AREA, NULL, NULL, 0, 1);
  vp_source *s = open_packed(P("sy.h5"), "data.frames=3", "data.packed.rgb_range=[0, 1]", NULL);
  th_check(source_count(s) == 3 && s->nmod == 2 && strcmp(s->mod[1].name, "semantic") == 0 &&
               s->mod[1].kind == VP_MOD_SEMANTIC && !s->mod[1].has_mask,
           "synthia: 2 + 1 clips, rgb + semantic (%lld)", (long long)source_count(s));
  vp_clip *c = clip_alloc(s);
  const int q_of[3] = {0, 0, 1}, f0_of[3] = {0, 3, 0};
  const char *id_of[3] = {"SYNTHIA-SEQS-01-SPRING/0", "SYNTHIA-SEQS-01-SPRING/3", "SYNTHIA-SEQS-02-FOG/0"};
  int ok_rgb = 1, ok_lab = 1, ok_id = 1;
  for (int i = 0; i < 3; i++) {
    source_read(s, i, c);
    ok_id &= strcmp(packed_source_clip_id(s, i, NULL), id_of[i]) == 0 && packed_source_clip_split(s, i) == 0;
    for (int t = 0; t < 3; t++)
      for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++) {
          size_t px = ((size_t)t * 6 + y) * 6 + x;
          int f = f0_of[i] + t;
          for (int ch = 0; ch < 3; ch++) {
            float sum = 0;
            for (int dy = 0; dy < 2; dy++)
              for (int dx = 0; dx < 2; dx++) sum += sy_rgb(q_of[i], f, 2 * y + dy, 4 + 2 * x + dx, ch);
            ok_rgb &= fabsf(c->data[0][px * 3 + ch] - rintf(sum / 4) / 255.f) < 1e-6f;
          }
          // Nearest: output (y, x) takes crop pixel (2y, 2x); ids stay ids.
          ok_lab &= c->data[1][px] == (float)sy_class(q_of[i], f, 2 * y, 4 + 2 * x);
        }
  }
  th_check(ok_id, "synthia clip ids (the 7th frame of SPRING is left over)");
  th_check(ok_rgb, "synthia rgb: crop 12x12 of 20x12, area resize to 6");
  th_check(ok_lab, "synthia labels: class from channel 0, nearest resize");
  vp_raw_stats st[2];
  raw_stats_init(st, 2);
  s->ops->raw_stats(s, 0, 1, st);
  // Expected from the generator over the stored (nearest-resized) pixels.
  double smin = 99, smax = -1, ssum = 0;
  for (int i = 0; i < 3; i++)
    for (int t = 0; t < 3; t++)
      for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++) {
          double v = sy_class(q_of[i], f0_of[i] + t, 2 * y, 4 + 2 * x);
          smin = v < smin ? v : smin;
          smax = v > smax ? v : smax;
          ssum += v;
        }
  th_check(st[1].min == smin && st[1].max == smax && st[1].sum == ssum && st[1].valid == st[1].total &&
               st[1].total == 3 * 3 * 36, "semantic stats: min %g max %g sum %g, all valid", st[1].min, st[1].max,
           st[1].sum);
  clip_free(c);
  source_close(s);
}

// ---- BAIR ----

static uint8_t bair_px(int file, int rec, int f, int k, int cam) {
  return (uint8_t)(file * 50 + rec * 17 + f * 5 + k * 3 + cam * 100);
}

static uint16_t bair_depth(int file, int rec, int f, int y, int x) {
  if ((x + y + f) % 11 == 0) return 0;
  return (uint16_t)(100 + file * 1000 + rec * 100 + f * 3 + y + x);
}

typedef struct bair_file {
  const char *split, *stem;
  int nrec;
} bair_file;

// Pack order: train then test, and traj_<a> in natural order (256 before 1024).
static const bair_file bair_files[] = {
    {"train", "traj_0_to_255", 2}, {"train", "traj_256_to_511", 1}, {"train", "traj_1024_to_1279", 1},
    {"test", "traj_0_to_255", 2},
};
enum { BAIR_NFILE = 4, BAIR_T = 30 };

static void write_bair(const char *root, const char *depth_root) {
  for (int fi = 0; fi < BAIR_NFILE; fi++) {
    const bair_file *bf = &bair_files[fi];
    char dir[2048], p[4200];
    snprintf(dir, sizeof dir, "%s/softmotion30_44k/%s", root, bf->split);
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/%s.tfrecords", dir, bf->stem);
    tfr_writer *w = tfr_writer_open(p);
    for (int r = 0; r < bf->nrec; r++) {
      tfx_builder b = {0};
      uint8_t img[12288];
      for (int f = 0; f < BAIR_T; f++) {
        char name[64];
        for (int cam = 0; cam < 2; cam++) {
          for (int k = 0; k < 12288; k++) img[k] = bair_px(fi, r, f, k, cam);
          snprintf(name, sizeof name, "%d/image_%s/encoded", f, cam ? "main" : "aux1");
          tfx_add_bytes(&b, name, img, sizeof img);
        }
        float act[4] = {(float)f, 0.5f, -1.f, 2.f}, pos[3] = {0.1f, 0.2f, (float)r};
        snprintf(name, sizeof name, "%d/action", f);
        tfx_add_floats(&b, name, act, 4);
        snprintf(name, sizeof name, "%d/endeffector_pos", f);
        tfx_add_floats(&b, name, pos, 3);
        if (depth_root) {
          char dd[3000];
          snprintf(dd, sizeof dd, "%s/%s/%s/%d", depth_root, bf->split, bf->stem, r + 1);
          mkdirs(dd);
          uint16_t dep[64 * 64];
          for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) dep[y * 64 + x] = bair_depth(fi, r, f, y, x);
          snprintf(p, sizeof p, "%s/%d.png", dd, f);
          png_write_gray16(p, 64, 64, dep);
        }
      }
      size_t len;
      const uint8_t *ser = tfx_builder_finish(&b, &len);
      tfr_write(w, ser, len);
      tfx_builder_free(&b);
    }
    tfr_writer_close(w);
  }
}

static void test_bair(void) {
  char src[1200], dep[1200];
  snprintf(src, sizeof src, "%s", P("bair"));
  snprintf(dep, sizeof dep, "%s", P("bair_depth"));
  write_bair(src, dep);
  pack("bair", src, P("bair.h5"), 0, 10, RESIZE_BILINEAR, NULL, dep, 0, 1);
  pack("bair", src, P("bair_main.h5"), 0, 30, RESIZE_BILINEAR, "main", NULL, 0, 1);
  for (int sp = 0; sp < 2; sp++) {
    vp_source *s = open_packed(P("bair.h5"), sp ? "data.split=test" : "data.split=train", "data.frames=10",
                               "data.packed.rgb_range=[0, 1]", "data.packed.depth_range=[0, 1]",
                               "data.packed.depth_max=1000", NULL);
    int nrec = sp ? 2 : 4;
    th_check(source_count(s) == nrec * 3 && s->H == 64 && s->nmod == 2 && s->mod[1].has_mask,
             "bair %s: %d records x 3 clips of 10 frames, 64x64, rgb + depth (%lld)", sp ? "test" : "train",
             nrec, (long long)source_count(s));
    vp_clip *c = clip_alloc(s);
    int ok_rgb = 1, ok_dep = 1, ok_id = 1;
    for (int64_t i = 0; i < source_count(s); i++) {
      int rec_g = (int)(i / 3), fi = 0, r = rec_g;
      if (sp) fi = 3;
      else
        while (r >= bair_files[fi].nrec) r -= bair_files[fi++].nrec;
      source_read(s, i, c);
      char want[64];
      snprintf(want, sizeof want, "%s/%d/%d", bair_files[fi].stem, r + 1, (int)(i % 3) * 10);
      ok_id &= strcmp(packed_source_clip_id(s, i, NULL), want) == 0;
      for (int t = 0; t < 10; t++) {
        int f = (int)(i % 3) * 10 + t;
        for (int k = 0; k < 12288; k++)
          ok_rgb &= fabsf(c->data[0][t * 12288 + k] - bair_px(fi, r, f, k, 0) / 255.f) < 1e-6f;
        for (int y = 0; y < 64; y++)
          for (int x = 0; x < 64; x++) {
            uint16_t d = bair_depth(fi, r, f, y, x);
            size_t px = ((size_t)t * 64 + y) * 64 + x;
            ok_dep &= c->mask[1][px] == (d != 0) && fabsf(c->data[1][px] - (d ? d * 0.5f / 1000.f : 0.f)) < 1e-6f;
          }
      }
    }
    th_check(ok_id, "bair %s: ids <tfrecord stem>/<record from 1>/<first frame>, natural file order",
             sp ? "test" : "train");
    th_check(ok_rgb, "bair %s: rgb = the raw image_aux1 bytes", sp ? "test" : "train");
    th_check(ok_dep, "bair %s: depth PNGs (raw x depth_scale 0.5) with mask", sp ? "test" : "train");
    clip_free(c);
    source_close(s);
  }
  vp_source *s = open_packed(P("bair_main.h5"), "data.split=train", "data.frames=30", "data.modalities=[rgb]",
                             "data.packed.rgb_range=[0, 1]", NULL);
  vp_clip *c = clip_alloc(s);
  source_read(s, 2, c);  // traj_256_to_511 record 1
  int ok = source_count(s) == 4 && s->nmod == 1;
  for (int t = 0; ok && t < 30; t++)
    for (int k = 0; k < 12288; k++) ok &= fabsf(c->data[0][t * 12288 + k] - bair_px(1, 0, t, k, 1) / 255.f) < 1e-6f;
  th_check(ok, "bair --camera main reads image_main, 30-frame clips");
  clip_free(c);
  source_close(s);
  // Resize at pack time: 64 -> 32 by bilinear = 2x2 mean.
  pack("bair", src, P("bair32.h5"), 32, 30, RESIZE_BILINEAR, NULL, NULL, 0, 1);
  s = open_packed(P("bair32.h5"), "data.split=test", "data.frames=30", "data.packed.rgb_range=[0, 255]", NULL);
  c = clip_alloc(s);
  source_read(s, 1, c);
  ok = s->H == 32;
  for (int y = 0; ok && y < 32; y++)
    for (int x = 0; x < 32; x++) {
      float sum = 0;
      for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) sum += bair_px(3, 1, 0, ((2 * y + dy) * 64 + 2 * x + dx) * 3, 0);
      ok &= fabsf(c->data[0][(y * 32 + x) * 3] - rintf(sum / 4)) < 1e-4f;
    }
  th_check(ok, "bair --size 32: bilinear 2x downscale");
  clip_free(c);
  source_close(s);
}

// ---- bad input ----

static int no_output_left(const char *out) {
  char cmd[2400], buf[64] = "";
  snprintf(cmd, sizeof cmd, "ls %s.tmp* 2>/dev/null | wc -l", out);
  FILE *f = popen(cmd, "r");
  if (f) {
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    pclose(f);
  }
  return atoi(buf) == 0;
}

// One CLI case: pack must exit 1 with a message holding every needle, and leave no output.
static void bad_pack(const char *what, const char *args, const char *out, const char *n1, const char *n2) {
  char msg[8192];
  int rc = run_vpcast(args, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "vpcast: error:") && strstr(msg, n1) && (!n2 || strstr(msg, n2)),
           "%s: exit 1 with a message naming '%s'%s%s (exit %d): %s", what, n1, n2 ? " and " : "", n2 ? n2 : "",
           rc, msg);
  th_check(!exists(out) && no_output_left(out), "%s: no output and no temporary left", what);
}

static void copy_tree(const char *from, const char *to) {
  char cmd[4800];
  snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", to, from, to);
  if (system(cmd) != 0) vp_die("test: %s failed", cmd);
}

static void damage(const char *path, long at, int truncate) {
  FILE *f = fopen(path, "r+b");
  if (!f) vp_die("test: cannot open %s", path);
  if (truncate) {
    if (ftruncate(fileno(f), at) != 0) vp_die("truncate");
  } else {
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    fputc(c ^ 0x5a, f);
  }
  fclose(f);
}

static long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void open_quiet(void *path) { source_close(open_packed(path, "data.frames=2", NULL)); }

static void test_bad_input(void) {
  char args[4096];
  char out[1200];
  snprintf(out, sizeof out, "%s", P("bad.h5"));
  // Cityscapes: truncated PNG, corrupt PNG, missing disparity, wrong size.
  copy_tree(P("cs"), P("csbad"));
  char f[1200];
  snprintf(f, sizeof f, "%s", P("csbad/leftImg8bit_sequence/train/bochum/bochum_000003_000102_leftImg8bit.png"));
  damage(f, file_size(f) / 2, 1);
  snprintf(args, sizeof args, "--format cityscapes --src %s --out %s --size 12 --frames 3", P("csbad"), out);
  bad_pack("truncated PNG", args, out, f, "truncated");
  copy_tree(P("cs"), P("csbad"));
  snprintf(f, sizeof f, "%s", P("csbad/disparity_sequence/val/frankfurt/frankfurt_000000_000296_disparity.png"));
  damage(f, file_size(f) / 2, 0);
  bad_pack("corrupt PNG", args, out, f, "IDAT");
  copy_tree(P("cs"), P("csbad"));
  snprintf(f, sizeof f, "%s", P("csbad/disparity_sequence/train/aachen/aachen_000000_000011_disparity.png"));
  remove(f);
  bad_pack("missing modality file", args, out, f, "No such file");
  copy_tree(P("cs"), P("csbad"));
  snprintf(f, sizeof f, "%s", P("csbad/leftImg8bit_sequence/train/aachen/aachen_000000_000004_leftImg8bit.png"));
  uint8_t small[10 * 20 * 3] = {0};
  png_write_rgb8(f, 20, 10, small);
  bad_pack("wrong image size within a sequence", args, out, f, "wrong image size");
  copy_tree(P("cs"), P("csbad"));
  snprintf(f, sizeof f, "%s", P("csbad/disparity_sequence/train/aachen/aachen_000000_000001_disparity.png"));
  uint16_t dsmall[12 * 12] = {0};
  png_write_gray16(f, 12, 12, dsmall);  // disparity of another size than its RGB frame
  bad_pack("disparity size differs from rgb", args, out, f, "wrong image size");
  snprintf(args, sizeof args, "--format cityscapes --src %s --out %s", P("synthia"), out);
  bad_pack("not a Cityscapes root", args, out, "leftImg8bit_sequence", NULL);
  // SYNTHIA: a missing label file.
  copy_tree(P("synthia"), P("sybad"));
  snprintf(f, sizeof f, "%s", P("sybad/SYNTHIA-SEQS-02-FOG/GT/LABELS/Stereo_Left/Omni_F/000001.png"));
  remove(f);
  snprintf(args, sizeof args, "--format synthia --src %s --out %s --size 6 --frames 3", P("sybad"), out);
  bad_pack("missing SYNTHIA label", args, out, f, "No such file");

  // BAIR: bad length CRC, bad data CRC, truncated file, wrong camera.
  copy_tree(P("bair"), P("bbad"));
  snprintf(f, sizeof f, "%s", P("bbad/softmotion30_44k/train/traj_256_to_511.tfrecords"));
  damage(f, 9, 0);
  snprintf(args, sizeof args, "--format bair --src %s --out %s --frames 10", P("bbad"), out);
  bad_pack("TFRecord with a bad length CRC", args, out, f, "length CRC mismatch");
  copy_tree(P("bair"), P("bbad"));
  snprintf(f, sizeof f, "%s", P("bbad/softmotion30_44k/test/traj_0_to_255.tfrecords"));
  damage(f, file_size(f) - 5000, 0);
  bad_pack("TFRecord with a bad data CRC", args, out, f, "data CRC mismatch");
  copy_tree(P("bair"), P("bbad"));
  snprintf(f, sizeof f, "%s", P("bbad/softmotion30_44k/train/traj_0_to_255.tfrecords"));
  damage(f, file_size(f) - 100, 1);
  bad_pack("truncated TFRecord", args, out, f, "truncated");
  snprintf(args, sizeof args, "--format bair --src %s --out %s --camera side", P("bair"), out);
  bad_pack("BAIR camera that does not exist", args, out, "0/image_side/encoded", NULL);
  snprintf(args, sizeof args, "--format bair --src %s --out %s --depth %s", P("bair"), out, P("nodepth"));
  bad_pack("missing depth folder", args, out, "nodepth", NULL);

  // A failed pack leaves an earlier good file under the final name untouched.
  char msg[8192];
  snprintf(args, sizeof args, "--format synthia --src %s --out %s --size 6 --frames 3", P("synthia"), out);
  int rc = run_vpcast(args, msg, sizeof msg);
  th_check(rc == 0 && exists(out), "vpcast data pack synthia succeeds (exit %d): %s", rc, msg);
  long before = file_size(out);
  snprintf(args, sizeof args, "--format synthia --src %s --out %s --size 6 --frames 3", P("sybad"), out);
  run_vpcast(args, msg, sizeof msg);
  vp_source *s = open_packed(out, "data.frames=3", NULL);
  th_check(file_size(out) == before && source_count(s) == 3 && no_output_left(out),
           "a failed pack keeps the earlier file and removes its temporary");
  source_close(s);

  // Packed files: unknown version, missing dataset, not HDF5, truncated, missing.
  const char *pv = P("version.h5");
  copy_tree(P("sy.h5"), pv);
  hid_t h = H5Fopen(pv, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = H5Aopen(h, "version", H5P_DEFAULT);
  int64_t v2 = 2;
  H5Awrite(a, H5T_NATIVE_INT64, &v2);
  H5Aclose(a);
  H5Fclose(h);
  rc = in_child(open_quiet, (void *)pv, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, pv) && strstr(msg, "version 2") && strstr(msg, "reads version 1"),
           "packed file of unknown version (exit %d): %s", rc, msg);
  const char *pm = P("missing_ds.h5");
  copy_tree(P("sy.h5"), pm);
  h = H5Fopen(pm, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(h, "modalities/semantic/frames", H5P_DEFAULT);
  H5Fclose(h);
  rc = in_child(open_quiet, (void *)pm, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, pm) && strstr(msg, "/modalities/semantic/frames is missing"),
           "packed file with a missing dataset (exit %d): %s", rc, msg);
  const char *pt = P("text.h5");
  FILE *ft = fopen(pt, "w");
  fputs("not hdf5\n", ft);
  fclose(ft);
  rc = in_child(open_quiet, (void *)pt, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, pt) && strstr(msg, "cannot open packed file"), "not an HDF5 file (exit %d): %s",
           rc, msg);
  const char *ptr = P("trunc.h5");
  copy_tree(P("cs12.h5"), ptr);
  damage(ptr, file_size(ptr) / 2, 1);
  rc = in_child(open_quiet, (void *)ptr, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, ptr), "truncated packed file (exit %d): %s", rc, msg);
  rc = in_child(open_quiet, (void *)P("nothere.h5"), msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "nothere.h5") && strstr(msg, "does not exist"), "missing packed file: %s", msg);
  // A shard set with one shard missing.
  remove(P("shards/csx-00001-of-00003.h5"));
  rc = in_child(open_quiet, (void *)P("shards/csx.h5"), msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "csx-00001-of-00003.h5") && strstr(msg, "missing"), "missing shard: %s", msg);
}

// Modes for tests/mpi/test_pack_mpi.sh:
//   test_pack --write-trees DIR     writes DIR/cs, DIR/synthia, DIR/bair (+ bair_depth)
//   test_pack --compare A B T       exit 0 when packed paths A and B hold the same
//                                   clips (ids, splits, every value and mask), T frames each
static int compare_packed(const char *a, const char *b, const char *frames) {
  char fk[64];
  snprintf(fk, sizeof fk, "data.frames=%s", frames);
  vp_source *sa = open_packed(a, "data.split=all", fk, NULL), *sb = open_packed(b, "data.split=all", fk, NULL);
  int same = source_count(sa) == source_count(sb) && sa->nmod == sb->nmod && sa->H == sb->H;
  vp_clip *ca = clip_alloc(sa), *cb = clip_alloc(sb);
  const size_t px = (size_t)sa->T * sa->H * sa->W;
  for (int64_t i = 0; same && i < source_count(sa); i++) {
    source_read(sa, i, ca);
    source_read(sb, i, cb);
    same = strcmp(packed_source_clip_id(sa, i, NULL), packed_source_clip_id(sb, i, NULL)) == 0 &&
           packed_source_clip_split(sa, i) == packed_source_clip_split(sb, i);
    for (int m = 0; same && m < sa->nmod; m++) {
      same = memcmp(ca->data[m], cb->data[m], px * (size_t)sa->mod[m].channels * sizeof(float)) == 0;
      if (same && ca->mask[m]) same = cb->mask[m] && memcmp(ca->mask[m], cb->mask[m], px) == 0;
    }
    if (!same) fprintf(stderr, "clip %lld differs (%s vs %s)\n", (long long)i, packed_source_clip_id(sa, i, NULL),
                       packed_source_clip_id(sb, i, NULL));
  }
  printf("%s: %lld clips in %d file(s) vs %lld clips in %d file(s)\n", same ? "same" : "DIFFERENT",
         (long long)source_count(sa), packed_source_nfiles(sa), (long long)source_count(sb), packed_source_nfiles(sb));
  clip_free(ca);
  clip_free(cb);
  source_close(sa);
  source_close(sb);
  return same ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-trees") == 0) {
    snprintf(tmp, sizeof tmp, "%s", argv[2]);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s", P("cs"));
    write_cityscapes(a);
    snprintf(a, sizeof a, "%s", P("synthia"));
    write_synthia(a, "SYNTHIA-SEQS-01-SPRING", 0, 7);
    write_synthia(a, "SYNTHIA-SEQS-02-FOG", 1, 3);
    snprintf(a, sizeof a, "%s", P("bair"));
    snprintf(b, sizeof b, "%s", P("bair_depth"));
    write_bair(a, b);
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "--compare") == 0) return compare_packed(argv[2], argv[3], argv[4]);
  if (argc != 1) {
    fprintf(stderr, "usage: test_pack [--write-trees DIR | --compare A B FRAMES]\n");
    return 2;
  }
  snprintf(tmp, sizeof tmp, "/tmp/vp_pack_XXXXXX");
  if (!mkdtemp(tmp)) vp_die("mkdtemp failed");
  test_cityscapes();
  test_synthia();
  test_bair();
  test_bad_input();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmp);
  return th_summary();
}
