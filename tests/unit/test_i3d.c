// test_i3d.c: the I3D network of FVD end to end against the PyTorch
// re-implementation in tools/golden/g_lpips_i3d.py: random weights in
// VideoGPT's i3d_pretrained_400.pt layout, converted by tools/convert_i3d.py,
// redrawn here (model_golden.h), written as an HDF5 weight file, loaded by
// i3d_load (BatchNorm folded, eps 1e-3). Cases: a preprocessed clip of an odd
// size (i3d_forward_raw), two small clips through the whole pipeline
// (i3d_logits: resize to 224, crop, scale), i3d_preprocess alone, and the
// error paths (missing file, foreign file, clip sizes the network cannot take).
#include "kernels/cpu/pool_extra.h"
#include "model_golden.h"
#include "models/i3d.h"
#include "models/weights_h5.h"

static char g_weights[512];

static void check_raw(i3d_model *m, hid_t f, golden *g) {
  mg_manifest in;
  mg_read(f, "i3d_raw/inputs", &in);
  int64_t nx;
  float *x = mg_tensor(&in, "x", &nx);
  const int64_t *s = in.shape[mg_find(&in, "x")];  // (1, 3, T, H, W)
  float logits[I3D_CLASSES];
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  i3d_forward_raw(m, &ctx, x, s[2], s[3], s[4], logits);
  int64_t n;
  float *ref = golden_read(g, &n, "i3d_raw/out/logits");
  VP_ASSERT(n == I3D_CLASSES);
  th_check_rel("i3d_forward_raw 17x197x211", logits, ref, n, 1e-4);
  ctx_free(&ctx);
  free(ref);
  free(x);
  mg_free(&in);
}

static void check_video(i3d_model *m, hid_t f, golden *g) {
  mg_manifest in;
  mg_read(f, "i3d_video/inputs", &in);
  int64_t nv;
  float *video = mg_tensor(&in, "video", &nv);
  const int64_t *s = in.shape[mg_find(&in, "video")];  // (n, T, H, W, 3)
  const int64_t n = s[0], T = s[1], H = s[2], W = s[3], R = I3D_RESOLUTION;

  // The preprocessed clip 0: checksums of all of it, and a subsample.
  float *pre = vp_malloc((size_t)(3 * T * R * R) * sizeof(float));
  i3d_preprocess(video, T, H, W, R, pre);
  int64_t nsub, nck;
  float *sub_ref = golden_read(g, &nsub, "i3d_video/out/pre_sub");  // [:, ::3, ::8, ::8]
  float *ck = golden_read(g, &nck, "i3d_video/out/pre_checksum");
  const int64_t Ts = (T + 2) / 3, Rs = (R + 7) / 8;
  VP_ASSERT(nsub == 3 * Ts * Rs * Rs && nck == 4);
  float *sub = vp_malloc((size_t)nsub * sizeof(float));
  for (int64_t c = 0; c < 3; c++)
    for (int64_t t = 0; t < Ts; t++)
      for (int64_t y = 0; y < Rs; y++)
        for (int64_t x = 0; x < Rs; x++)
          sub[((c * Ts + t) * Rs + y) * Rs + x] = pre[((c * T + 3 * t) * R + 8 * y) * R + 8 * x];
  th_check_rel("i3d_preprocess 24x32 -> 224 (subsample)", sub, sub_ref, nsub, 1e-5);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < 3 * T * R * R; i++) {
    sum += pre[i];
    sq += (double)pre[i] * pre[i];
  }
  th_check(fabs(sum - ck[0]) <= 1e-5 * ck[3] && fabs(sq - ck[2]) <= 1e-5 * ck[2],
           "i3d_preprocess 24x32 -> 224: sum %.8g vs %.8g, sum of squares %.8g vs %.8g", sum, ck[0], sq,
           ck[2]);

  float *logits = vp_malloc((size_t)(n * I3D_CLASSES) * sizeof(float));
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  i3d_logits(m, &ctx, video, n, T, H, W, logits);
  int64_t nl;
  float *ref = golden_read(g, &nl, "i3d_video/out/logits");
  VP_ASSERT(nl == n * I3D_CLASSES);
  char what[96];
  for (int64_t i = 0; i < n; i++) {
    snprintf(what, sizeof what, "i3d_logits clip %lld of 10x24x32", (long long)i);
    th_check_rel(what, logits + i * I3D_CLASSES, ref + i * I3D_CLASSES, I3D_CLASSES, 1e-4);
  }
  ctx_free(&ctx);
  free(ref);
  free(logits);
  free(sub);
  free(sub_ref);
  free(ck);
  free(pre);
  free(video);
  mg_free(&in);
}

static void check_preprocess(golden *g, const char *cas) {
  int64_t ny;
  float *ref = golden_read(g, &ny, "%s/out/y", cas);
  const int64_t res = golden_attr_int(g, cas, "res");
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  vp_tensor *v = golden_tensor(g, &ctx, "%s/in/video", cas);  // (T, H, W, 3)
  const float *video = v->data;
  const int64_t T = v->shape[0], H = v->shape[1], W = v->shape[2];
  VP_ASSERT(ny == 3 * T * res * res);
  float *y = vp_malloc((size_t)ny * sizeof(float));
  i3d_preprocess(video, T, H, W, res, y);
  char what[96];
  snprintf(what, sizeof what, "i3d_preprocess %s (%lldx%lld -> %lld)", cas, (long long)H, (long long)W,
           (long long)res);
  th_check_rel(what, y, ref, ny, 1e-5);
  ctx_free(&ctx);
  free(y);
  free(ref);
}

// The separable max pool I3D runs on against the generic window kernel:
// every window / stride / 'SAME'-style padding the network uses, plus odd ones.
static void check_separable_pool(void) {
  struct { int64_t P, in[3], k[3], s[3], lo[3], hi[3]; float pad; } c[] = {
      {5, {4, 9, 11}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 0.f},         // inception b3
      {3, {5, 12, 13}, {1, 3, 3}, {1, 2, 2}, {0, 0, 1}, {0, 1, 1}, 0.f},        // 2a / 3a
      {4, {5, 13, 7}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 0.f},         // 4a, odd sizes
      {2, {4, 14, 14}, {3, 3, 3}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, -INFINITY},  // 4a, even
      {3, {3, 7, 9}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 0.f},          // 5a
      {2, {1, 15, 17}, {1, 3, 3}, {1, 2, 2}, {0, 0, 0}, {0, 0, 0}, -INFINITY},  // AlexNet
      {2, {6, 5, 8}, {2, 4, 3}, {3, 1, 2}, {1, 2, 0}, {0, 2, 2}, -2.f},         // anything
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    cpu_pool_geom g;
    g.planes = c[i].P;
    int64_t nin = c[i].P, nout = c[i].P;
    for (int a = 0; a < 3; a++) {
      g.in[a] = c[i].in[a];
      g.k[a] = c[i].k[a];
      g.stride[a] = c[i].s[a];
      g.pad[a] = c[i].lo[a];
      g.out[a] = (c[i].in[a] + c[i].lo[a] + c[i].hi[a] - c[i].k[a]) / c[i].s[a] + 1;
      nin *= g.in[a];
      nout *= g.out[a];
    }
    float *x = vp_malloc((size_t)nin * sizeof(float)), *y = vp_malloc((size_t)nout * sizeof(float)),
          *ref = vp_malloc((size_t)nout * sizeof(float));
    th_fill_uniform(x, nin, 100 + i, -1.f, 1.f);
    cpu_maxpool3d_fwd(&g, x, c[i].pad, ref);
    cpu_maxpool3d_fwd_separable(&g, x, c[i].pad, y);
    th_check(memcmp(y, ref, (size_t)nout * sizeof(float)) == 0,
             "separable max pool case %zu equals cpu_maxpool3d_fwd exactly", i);
    free(x);
    free(y);
    free(ref);
  }
}

// ---------------------------------------------------------------- errors
static void die_load(void *path) { i3d_load(path); }

typedef struct {
  const char *path;
  int64_t T, H, W;
  int raw;
} bad_clip;

static void die_clip(void *arg) {
  bad_clip *b = arg;
  i3d_model *m = i3d_load(b->path);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  float *x = vp_calloc((size_t)(3 * b->T * b->H * b->W), sizeof(float)), logits[I3D_CLASSES];
  if (b->raw)
    i3d_forward_raw(m, &ctx, x, b->T, b->H, b->W, logits);
  else
    i3d_logits(m, &ctx, x, 1, b->T, b->H, b->W, logits);
}

static void check_errors(void) {
  mg_expect_die("missing weight file", die_load, "/nonexistent/i3d_400.h5", "/nonexistent/i3d_400.h5",
                "tools/convert_i3d.py");
  // An LPIPS weight file is an HDF5 file of the wrong network.
  char lp[512];
  mg_tmp("lpips_only.h5", lp, sizeof lp);
  vp_params p;
  params_init(&p);
  const int64_t s[4] = {1, 64, 1, 1};
  params_add(&p, 4, s, "lin0.model.1.weight");
  params_alloc(&p);
  weights_h5_save_params(lp, &p, NULL);
  params_free(&p);
  mg_expect_die("LPIPS file given as I3D weights", die_load, lp, "Conv3d_1a_7x7", "convert_i3d.py");
  bad_clip b1 = {g_weights, 16, 64, 64, 1}, b2 = {g_weights, 8, 224, 224, 1}, b3 = {g_weights, 8, 32, 32, 0};
  mg_expect_die("raw clip of 64x64", die_clip, &b1, "193 to 224", NULL);
  mg_expect_die("raw clip of 8 frames", die_clip, &b2, "8 frames", NULL);
  mg_expect_die("video of 8 frames", die_clip, &b3, "8 frames", "at least 9");
}

int main(void) {
  hid_t f = mg_open();
  golden *g = golden_open("lpips_i3d");
  const char *pre[] = {"pre_up_wide", "pre_up_tall", "pre_down", "pre_square"};
  for (int i = 0; i < 4; i++) check_preprocess(g, pre[i]);
  check_separable_pool();

  mg_manifest w;
  mg_read(f, "i3d_weights", &w);
  vp_params p;
  mg_params(&w, &p);
  th_check(w.n == 287 && (int64_t)p.numel == 12711824,
           "I3D: 287 tensors, 12711824 floats in the converted file (got %d, %zu)", w.n, p.numel);
  mg_tmp("i3d.h5", g_weights, sizeof g_weights);
  weights_h5_save_params(g_weights, &p, "vpcast-i3d-kinetics400");
  params_free(&p);
  mg_free(&w);

  i3d_model *m = i3d_load(g_weights);
  check_raw(m, f, g);
  check_video(m, f, g);
  i3d_free(m);

  check_errors();
  golden_close(g);
  H5Fclose(f);
  const char *tmp[] = {"i3d.h5", "lpips_only.h5"};
  mg_tmp_cleanup(tmp, 2);
  return th_summary();
}
