// cmd_demo.c: `vpcast demo`: the whole runtime end to end on built-in data.
// Makes synthetic RGB + depth clips (io/synth.c), trains the small
// conditional frame predictor (models/nextframe.c) with AdamW, a warm-up +
// cosine schedule and gradient clipping on the CPU, then predicts the future
// frames of held-out clips, compares with the copy-the-last-frame baseline,
// and writes a PNG grid (context | truth | prediction, RGB and depth rows).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/params.h"
#include "core/rng.h"
#include "core/tape.h"
#include "io/png.h"
#include "io/synth.h"
#include "models/nextframe.h"
#include "ops/ops.h"
#include "train/adamw.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"

const vp_option opts_demo[] = {
    {.key = "out", .type = OPT_STRING, .def = "vpcast-demo", .flag = "--out", .metavar = "DIR",
     .help = "directory for demo.png and summary.json (created if missing)"},
    {.key = "steps", .type = OPT_INT, .def = "600", .range = "[1, 1000000]", .flag = "--steps",
     .metavar = "N", .help = "training steps"},
    {.key = "seed", .type = OPT_INT, .def = "1", .range = "[0, 2^56)", .flag = "--seed", .metavar = "S",
     .help = "seed for data, initialisation and batch order"},
    {.key = "size", .type = OPT_INT, .def = "32", .range = "[8, 256]", .flag = "--size", .metavar = "PX",
     .help = "frame height and width (multiple of 4)"},
    {.key = "batch", .type = OPT_INT, .def = "8", .range = "[1, 1024]", .flag = "--batch", .metavar = "B",
     .help = "clips per step"},
    {.key = "width", .type = OPT_INT, .def = "32", .range = "[8, 512]", .flag = "--width", .metavar = "C",
     .help = "base channels of the model (multiple of 8)"},
    {.key = "horizon", .type = OPT_INT, .def = "4", .range = "[1, 16]", .flag = "--horizon",
     .metavar = "K", .help = "future frames predicted from 2 context frames"},
    {.key = "train_clips", .type = OPT_INT, .def = "2048", .range = "[1, 2^31)", .help = "training clips"},
    {.key = "test_clips", .type = OPT_INT, .def = "64", .range = "[1, 100000]", .help = "held-out clips"},
    {.key = "lr", .type = OPT_FLOAT, .def = "2e-3", .range = "(0, 1]", .flag = "--lr", .help = "peak learning rate"},
    OPT_END,
};

enum { CTX = 2, CH = 4 };  // context frames; channels per frame (RGB + depth)

typedef struct demo_data {
  synth_cfg sc;
  uint64_t seed;
  float *rgb, *dep;  // scratch for one clip: (T, H, W, 3), (T, H, W)
} demo_data;

// Frame t of clip i as (CH, H, W) in [-1, 1] at dst.
static void frame_to_chw(const demo_data *d, int t, float *dst) {
  const int64_t HW = (int64_t)d->sc.height * d->sc.width;
  const float *rgb = d->rgb + t * HW * 3, *dep = d->dep + t * HW;
  for (int64_t p = 0; p < HW; p++) {
    for (int c = 0; c < 3; c++) dst[c * HW + p] = 2.f * rgb[p * 3 + c] - 1.f;
    dst[3 * HW + p] = 2.f * dep[p] - 1.f;
  }
}

// Fills x (B, CTX*CH, H, W) and target (B, CH, H, W) for clips idx[] at horizons k[].
static void make_batch(demo_data *d, const uint64_t *idx, const float *k, int B, float *x, float *y) {
  const int64_t F = (int64_t)CH * d->sc.height * d->sc.width;
  for (int b = 0; b < B; b++) {
    synth_clip(&d->sc, d->seed, idx[b], d->rgb, d->dep, NULL);
    for (int t = 0; t < CTX; t++) frame_to_chw(d, t, x + ((int64_t)b * CTX + t) * F);
    frame_to_chw(d, CTX - 1 + (int)k[b], y + (int64_t)b * F);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint8_t to_u8(float v) {  // [-1, 1] -> [0, 255]
  float u = (v + 1.f) * 127.5f;
  return (uint8_t)(u < 0.f ? 0.f : u > 255.f ? 255.f : u + 0.5f);
}

// Tile (CH, S, S) frame at (row, col) of the grid: RGB in the row's top
// half, depth (grey) in the bottom half.
static void put_tile(uint8_t *img, int gw, int S, int scale, int gap, int row, int col, const float *f) {
  const int64_t HW = (int64_t)S * S;
  int ts = S * scale;
  for (int half = 0; half < 2; half++) {
    int y0 = gap + row * (2 * ts + 2 * gap) + half * (ts + gap / 2), x0 = gap + col * (ts + gap);
    for (int y = 0; y < ts; y++)
      for (int x = 0; x < ts; x++) {
        int64_t p = (int64_t)(y / scale) * S + x / scale;
        uint8_t *o = img + ((int64_t)(y0 + y) * gw + x0 + x) * 3;
        for (int c = 0; c < 3; c++) o[c] = to_u8(half == 0 ? f[c * HW + p] : f[3 * HW + p]);
      }
  }
}

int cmd_demo(const cli_invocation *inv) {
  vp_config *cfg;
  int rc = cli_load_config(inv, NULL, opts_demo, &cfg);
  if (rc) return rc;
  const char *out = cfg_str(cfg, "out");
  const int steps = (int)cfg_int(cfg, "steps"), S = (int)cfg_int(cfg, "size"), B = (int)cfg_int(cfg, "batch");
  const int width = (int)cfg_int(cfg, "width"), K = (int)cfg_int(cfg, "horizon");
  const int64_t ntrain = cfg_int(cfg, "train_clips"), ntest = cfg_int(cfg, "test_clips");
  const uint64_t seed = (uint64_t)cfg_int(cfg, "seed");
  const double lr = cfg_float(cfg, "lr");
  if (S % 4 != 0 || width % 8 != 0) {
    fprintf(stderr, "vpcast: error: demo: --size must be a multiple of 4 and --width of 8 (got %d, %d)\n", S, width);
    cfg_free(cfg);
    return CLI_EXIT_USAGE;
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST)
    vp_die("demo: cannot create output directory %s: %s", out, strerror(errno));

  demo_data d = {.sc = synth_default_cfg(CTX + K, S), .seed = seed};
  d.rgb = vp_malloc(sizeof(float) * 3 * (size_t)(CTX + K) * S * S);
  d.dep = vp_malloc(sizeof(float) * (size_t)(CTX + K) * S * S);

  vp_params params;
  params_init(&params);
  nextframe model;
  nextframe_declare(&model, &params, (nextframe_cfg){.ctx_frames = CTX, .channels = CH, .width = width, .groups = 8});
  params_alloc(&params);
  nextframe_init(&model, &params, seed);
  vp_adamw opt;
  adamw_init(&opt, &params, 0.9, 0.999, 1e-8, 0.0);
  int64_t warm = steps / 20 > 0 ? steps / 20 : 1;
  vp_lr_schedule sched = lr_warmup_cosine(lr, warm, 0.0, steps - warm > 0 ? steps - warm : 1, lr * 0.02);
  printf("vpcast demo: %lld-parameter frame predictor, %d context -> %d future frames of %dx%d RGB + depth\n",
         (long long)params.numel, CTX, K, S, S);
  printf("training %d steps x %d clips on the CPU (%s)\n", steps, B, out);

  vp_ctx ctx;
  ctx_init(&ctx, (size_t)64 << 20);
  const int64_t F = (int64_t)CH * S * S;
  float *xb = vp_malloc(sizeof(float) * (size_t)(B * CTX * F)), *yb = vp_malloc(sizeof(float) * (size_t)(B * F));
  float *kb = vp_malloc(sizeof(float) * (size_t)B);
  uint64_t *ib = vp_malloc(sizeof(uint64_t) * (size_t)B);
  double t0 = now_s(), ema_loss = -1, first_loss = -1;
  for (int step = 0; step < steps; step++) {
    for (int b = 0; b < B; b++) {
      ib[b] = rng_u32(seed, VP_STREAM_DATA, (uint64_t)step, (uint64_t)b, 0) % (uint64_t)ntrain;
      kb[b] = (float)(1 + rng_u32(seed, VP_STREAM_AUG, (uint64_t)step, (uint64_t)b, 0) % (uint32_t)K);
    }
    make_batch(&d, ib, kb, B, xb, yb);
    ctx_set_training(&ctx, 1);
    vp_tensor *x = tensor_from(&ctx, 4, (int64_t[]){B, CTX * CH, S, S}, xb);
    vp_tensor *y = tensor_from(&ctx, 4, (int64_t[]){B, CH, S, S}, yb);
    vp_tensor *loss = op_mse_loss(&ctx, nextframe_fwd(&ctx, &model, x, kb), y);
    tape_backward(&ctx, loss);
    vp_clip_result cr = grad_clip_params(&params, 1.0);
    if (cr.finite) adamw_step(&opt, &params, lr_at(&sched, step));
    params_zero_grad(&params);
    float l = loss->data[0];
    ctx_reset(&ctx);
    if (!isfinite(l)) vp_die("demo: the loss became %f at step %d; try a smaller --lr", l, step);
    ema_loss = ema_loss < 0 ? l : 0.95 * ema_loss + 0.05 * l;
    if (first_loss < 0) first_loss = l;
    if ((step + 1) % 50 == 0 || step + 1 == steps) {
      double el = now_s() - t0;
      printf("step %5d/%d  loss %.5f  grad norm %.3f  lr %.2e  %.1f ms/step  ETA %.0f s\n", step + 1, steps,
             ema_loss, cr.norm, lr_at(&sched, step), 1e3 * el / (step + 1), el / (step + 1) * (steps - step - 1));
      fflush(stdout);
    }
  }
  double train_s = now_s() - t0;

  // Held-out clips: indices after the training range.
  ctx_set_training(&ctx, 0);
  double mse_model = 0, mse_copy = 0;
  int show = ntest < 4 ? (int)ntest : 4;
  float *shown = vp_calloc((size_t)(show * (CTX + 2 * K)) * (size_t)F, sizeof(float));
  for (int64_t i = 0; i < ntest; i++) {
    for (int k = 1; k <= K; k++) {
      uint64_t idx = (uint64_t)(ntrain + i);
      float kf = (float)k;
      make_batch(&d, &idx, &kf, 1, xb, yb);
      vp_tensor *x = tensor_from(&ctx, 4, (int64_t[]){1, CTX * CH, S, S}, xb);
      vp_tensor *p = nextframe_fwd(&ctx, &model, x, &kf);
      const float *last = xb + (CTX - 1) * F;
      for (int64_t j = 0; j < F; j++) {
        double a = p->data[j] - yb[j], c = last[j] - yb[j];
        mse_model += a * a;
        mse_copy += c * c;
      }
      if (i < show) {
        float *row = shown + i * (CTX + 2 * K) * F;
        if (k == 1) memcpy(row, xb, sizeof(float) * (size_t)(CTX * F));
        memcpy(row + (CTX + k - 1) * F, yb, sizeof(float) * (size_t)F);
        memcpy(row + (CTX + K + k - 1) * F, p->data, sizeof(float) * (size_t)F);
      }
      ctx_reset(&ctx);
    }
  }
  double n = (double)ntest * K * (double)F;
  // Data were scaled to [-1, 1]; report MSE on the [0, 1] scale (divide by 4).
  mse_model /= 4 * n;
  mse_copy /= 4 * n;

  const int scale = S < 64 ? 3 : 1, gap = 6, ts = S * scale, cols = CTX + 2 * K;
  const int gw = gap + cols * (ts + gap), gh = gap + show * (2 * ts + 2 * gap);
  uint8_t *img = vp_malloc((size_t)gw * gh * 3);
  memset(img, 255, (size_t)gw * gh * 3);
  for (int i = 0; i < show; i++)
    for (int c = 0; c < cols; c++) put_tile(img, gw, S, scale, gap, i, c, shown + ((int64_t)i * cols + c) * F);
  char png[4096], js[4096];
  snprintf(png, sizeof(png), "%s/demo.png", out);
  png_write_rgb8(png, gw, gh, img);
  snprintf(js, sizeof(js), "%s/summary.json", out);
  FILE *f = fopen(js, "w");
  if (!f) vp_die("demo: cannot write %s: %s", js, strerror(errno));
  fprintf(f, "{\"steps\": %d, \"params\": %zu, \"first_loss\": %.6f, \"final_loss\": %.6f, "
             "\"test_mse\": %.6f, \"copy_last_mse\": %.6f, \"train_seconds\": %.1f}\n",
          steps, params.numel, first_loss, ema_loss, mse_model, mse_copy, train_s);
  if (fclose(f) != 0) vp_die("demo: cannot write %s: %s", js, strerror(errno));
  printf("held-out MSE over %lld clips x %d horizons: model %.5f, copy-last-frame %.5f (%.1fx lower)\n",
         (long long)ntest, K, mse_model, mse_copy, mse_copy / (mse_model > 0 ? mse_model : 1e-12));
  printf("wrote %s (rows: clips, RGB above depth; columns: %d context | %d truth | %d predicted)\n", png, CTX, K, K);

  free(img);
  free(shown);
  free(xb);
  free(yb);
  free(kb);
  free(ib);
  free(d.rgb);
  free(d.dep);
  ctx_free(&ctx);
  adamw_free(&opt);
  params_free(&params);
  cfg_free(cfg);
  return CLI_EXIT_OK;
}
