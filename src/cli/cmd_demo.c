// cmd_demo.c: `vpcast demo`: the whole runtime end to end on built-in data.
// Makes synthetic RGB + depth clips (the synth source), trains the small
// conditional DDPM (models/tiny_ddpm.c: an ADM UNet that denoises the change
// of the future frames from the last context frame, given the context
// frames, with EDM preconditioning) with AdamW, warm-up + cosine learning
// rate, gradient clipping and an EMA of the weights, on the CPU; then samples
// the future frames of held-out clips with DDIM from the EMA weights,
// compares them with copying the last context frame, and writes a PNG grid
// (context | truth | prediction; RGB above depth) and summary.json.
// The data path is the trainer's: config -> source -> sampler -> loader ->
// model->forward_loss, with global sample indices driving every draw.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/params.h"
#include "core/tape.h"
#include "io/loader.h"
#include "io/png.h"
#include "io/sampler.h"
#include "io/source.h"
#include "models/tiny_ddpm.h"
#include "train/adamw.h"
#include "train/ema.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/model.h"

const vp_option opts_demo[] = {
    {.key = "out", .type = OPT_STRING, .def = "vpcast-demo", .flag = "--out", .metavar = "DIR",
     .help = "directory for demo.png and summary.json (created if missing)"},
    {.key = "steps", .type = OPT_INT, .def = "1500", .range = "[1, 1000000]", .flag = "--steps",
     .metavar = "N", .help = "training steps"},
    {.key = "seed", .type = OPT_INT, .def = "1", .range = "[0, 2^56)", .flag = "--seed", .metavar = "S",
     .help = "seed for data, initialisation, batch order and diffusion noise"},
    {.key = "size", .type = OPT_INT, .def = "32", .range = "[8, 256]", .flag = "--size", .metavar = "PX",
     .help = "frame height and width (multiple of 2)"},
    {.key = "batch", .type = OPT_INT, .def = "8", .range = "[1, 1024]", .flag = "--batch", .metavar = "B",
     .help = "clips per step"},
    {.key = "width", .type = OPT_INT, .def = "16", .range = "[8, 512]", .flag = "--width", .metavar = "C",
     .help = "base channels of the denoiser (multiple of 8)"},
    {.key = "context", .type = OPT_INT, .def = "2", .range = "[1, 8]", .flag = "--context", .metavar = "TC",
     .help = "context frames the prediction is conditioned on"},
    {.key = "horizon", .type = OPT_INT, .def = "2", .range = "[1, 8]", .flag = "--horizon", .metavar = "K",
     .help = "future frames predicted (denoised jointly)"},
    {.key = "train_clips", .type = OPT_INT, .def = "4096", .range = "[1, 2^31)", .help = "training clips"},
    {.key = "test_clips", .type = OPT_INT, .def = "64", .range = "[1, 100000]", .help = "held-out clips"},
    {.key = "lr", .type = OPT_FLOAT, .def = "2e-3", .range = "(0, 1]", .flag = "--lr", .help = "peak learning rate"},
    {.key = "ema", .type = OPT_FLOAT, .def = "0.99", .range = "[0, 1)",
     .help = "EMA decay of the weights used for sampling (0: sample with the trained weights)"},
    {.key = "sample_steps", .type = OPT_INT, .def = "10", .range = "[1, 1000]", .flag = "--sample-steps",
     .metavar = "N", .help = "DDIM steps per prediction (SyncVP: 100)"},
    {.key = "eta", .type = OPT_FLOAT, .def = "1", .range = "[0, 1]", .flag = "--eta",
     .help = "DDIM eta (0: deterministic; 1: as SyncVP samples)"},
    OPT_END,
};

// ---------------------------------------------------------------- helpers
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint8_t to_u8(float v) {  // [-1, 1] -> [0, 255]
  float u = (v + 1.f) * 127.5f;
  return (uint8_t)(u < 0.f ? 0.f : u > 255.f ? 255.f : u + 0.5f);
}

// Tile of frame f (4, S, S) (RGB, depth) at (row, col) of the grid: RGB in
// the row's top half, depth (grey) in the bottom half.
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

// The run's config, built as a `vpcast train` config would be written, so
// the demo exercises the same source, sampler, loader and model code.
static vp_config *demo_config(const char *split, int64_t clips, int frames, int size, int width, int context,
                              uint64_t seed, int sample_steps, double eta) {
  char buf[64];
  vp_config *cfg = cfg_new();
  cfg_set(cfg, "out", "demo", NULL, 0);
  cfg_set(cfg, "model.name", "tiny_ddpm", NULL, 0);
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
  cfg_set(cfg, "seed", buf, NULL, 0);
  cfg_set(cfg, "data.synth.seed", buf, NULL, 0);
  cfg_set(cfg, "data.source", "synth", NULL, 0);
  cfg_set(cfg, "data.split", split, NULL, 0);
  cfg_set(cfg, "data.modalities", "[rgb, depth]", NULL, 0);
  snprintf(buf, sizeof buf, "%lld", (long long)clips);
  cfg_set(cfg, "data.synth.clips", buf, NULL, 0);
  snprintf(buf, sizeof buf, "%d", frames);
  cfg_set(cfg, "data.frames", buf, NULL, 0);
  snprintf(buf, sizeof buf, "[%d, %d]", size, size);
  cfg_set(cfg, "data.size", buf, NULL, 0);
  snprintf(buf, sizeof buf, "%d", width);
  cfg_set(cfg, "model.channels", buf, NULL, 0);
  cfg_set(cfg, "model.channel_mult", "[1, 2]", NULL, 0);
  snprintf(buf, sizeof buf, "%d", context);
  cfg_set(cfg, "model.tiny_ddpm.context_frames", buf, NULL, 0);
  // Diffuse the change from the last context frame, with EDM's
  // preconditioning around the ADM UNet (models/tiny_ddpm.h): what lets a
  // small model learn in minutes on a CPU.
  cfg_set(cfg, "model.tiny_ddpm.residual", "true", NULL, 0);
  cfg_set(cfg, "model.tiny_ddpm.precond", "edm", NULL, 0);
  cfg_set(cfg, "model.tiny_ddpm.sigma_data", "0.2", NULL, 0);
  cfg_set(cfg, "diffusion.clip_x0", "2", NULL, 0);
  snprintf(buf, sizeof buf, "%d", sample_steps);
  cfg_set(cfg, "diffusion.sample_steps", buf, NULL, 0);
  snprintf(buf, sizeof buf, "%.17g", eta);
  cfg_set(cfg, "diffusion.eta", buf, NULL, 0);
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_train, &err) != 0) {
    err_print(&err, stderr);
    vp_die("demo: internal config did not bind (please report this as a bug)");
  }
  return cfg;
}

int cmd_demo(const cli_invocation *inv) {
  vp_config *opt;
  int rc = cli_load_config(inv, NULL, opts_demo, &opt);
  if (rc) return rc;
  const char *out = cfg_str(opt, "out");
  const int steps = (int)cfg_int(opt, "steps"), S = (int)cfg_int(opt, "size"), B = (int)cfg_int(opt, "batch");
  const int width = (int)cfg_int(opt, "width"), Tc = (int)cfg_int(opt, "context"), K = (int)cfg_int(opt, "horizon");
  const int64_t ntrain = cfg_int(opt, "train_clips"), ntest = cfg_int(opt, "test_clips");
  const uint64_t seed = (uint64_t)cfg_int(opt, "seed");
  const double lr = cfg_float(opt, "lr"), ema_decay = cfg_float(opt, "ema");
  if (S % 2 != 0 || width % 8 != 0) {
    fprintf(stderr, "vpcast: error: demo: --size must be even and --width a multiple of 8 (got %d, %d)\n", S, width);
    cfg_free(opt);
    return CLI_EXIT_USAGE;
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST)
    vp_die("demo: cannot create output directory %s: %s", out, strerror(errno));

  // ---- data and model
  const int sample_steps = (int)cfg_int(opt, "sample_steps");
  const double eta = cfg_float(opt, "eta");
  vp_config *cfg = demo_config("train", ntrain, Tc + K, S, width, Tc, seed, sample_steps, eta);
  vp_source *src = source_open(cfg);
  vp_model *model = model_create(cfg, src);
  vp_params *params = model->params;
  vp_sampler smp;
  sampler_init(&smp, source_count(src), B, 0, 1, seed, 1);
  vp_loader *ld = loader_open(src, &smp, B, 1);

  vp_adamw opt_state;
  adamw_init(&opt_state, params, 0.9, 0.999, 1e-8, 0.0);
  vp_ema ema;
  if (ema_decay > 0) ema_init(&ema, params, ema_decay, 1);
  int64_t warm = steps / 20 > 0 ? steps / 20 : 1;
  vp_lr_schedule sched = lr_warmup_cosine(lr, warm, 0.0, steps - warm > 0 ? steps - warm : 1, lr * 0.05);
  printf("vpcast demo: %zu-parameter conditional DDPM (ADM UNet), %d context -> %d future frames of %dx%d RGB + depth\n",
         params->numel, Tc, K, S, S);
  printf("training %d steps x %d clips on the CPU (%s)\n", steps, B, out);
  fflush(stdout);

  vp_ctx ctx;
  ctx_init(&ctx, (size_t)64 << 20);
  double t0 = now_s(), avg_loss = -1, first_loss = -1;
  for (int step = 0; step < steps; step++) {
    vp_model_batch mb = {.data = loader_next(ld), .step = (uint64_t)step};
    ctx_set_training(&ctx, 1);
    vp_tensor *loss = model->forward_loss(model, &ctx, &mb);
    tape_backward(&ctx, loss);
    vp_clip_result cr = grad_clip_params(params, 1.0);
    if (cr.finite) adamw_step(&opt_state, params, lr_at(&sched, step));
    params_zero_grad(params);
    if (ema_decay > 0) ema_update(&ema, params);
    float l = loss->data[0];
    ctx_reset(&ctx);
    if (!isfinite(l)) vp_die("demo: the loss became %f at step %d; try a smaller --lr", l, step);
    // Averages over 50 steps: the diffusion loss is noisy from step to step.
    avg_loss = avg_loss < 0 ? l : 0.98 * avg_loss + 0.02 * l;
    if (first_loss < 0) first_loss = l;
    if ((step + 1) % 50 == 0 || step + 1 == steps) {
      double el = now_s() - t0;
      printf("step %5d/%d  loss %.4f  grad norm %.3f  lr %.2e  %.1f ms/step  ETA %.0f s\n", step + 1, steps,
             avg_loss, cr.norm, lr_at(&sched, step), 1e3 * el / (step + 1), el / (step + 1) * (steps - step - 1));
      fflush(stdout);
    }
  }
  double train_s = now_s() - t0;
  loader_close(ld);
  sampler_free(&smp);
  source_close(src);

  // ---- held-out clips: the synth test split, never seen in training
  vp_config *tcfg = demo_config("test", ntest, Tc + K, S, width, Tc, seed, sample_steps, eta);
  vp_source *tsrc = source_open(tcfg);
  const int64_t EB = ntest < 8 ? ntest : 8;
  vp_sampler tsmp;
  sampler_init(&tsmp, ntest, EB, 0, 1, seed, 0);
  vp_loader *tld = loader_open(tsrc, &tsmp, EB, 0);
  if (ema_decay > 0) ema_swap(&ema, params);  // sample with the EMA weights
  const tiny_ddpm *net = tiny_ddpm_model_net(model);
  const vp_diffusion *diff = tiny_ddpm_model_diffusion(model);
  const int64_t F = 4 * (int64_t)S * S;  // one frame: RGB + depth
  float *cond = vp_malloc(sizeof(float) * (size_t)(EB * Tc * F)), *truth = vp_malloc(sizeof(float) * (size_t)(EB * K * F));
  float *pred = vp_malloc(sizeof(float) * (size_t)(EB * K * F));
  int show = ntest < 4 ? (int)ntest : 4;
  const int cols = Tc + 2 * K;
  float *shown = vp_calloc((size_t)(show * cols) * (size_t)F, sizeof(float));
  double mse_model = 0, mse_copy = 0, t1 = now_s();
  int64_t done = 0;
  while (done < ntest) {
    const vp_batch *b = loader_next(tld);
    tiny_ddpm_frames(b, 0, Tc, cond);
    tiny_ddpm_frames(b, Tc, K, truth);
    tiny_ddpm_sample(&ctx, net, diff, cond, b->n, S, S, b->clip, seed, pred);
    for (int64_t i = 0; i < b->n && done < ntest; i++, done++) {
      const float *last = cond + (i * Tc + Tc - 1) * F;
      for (int k = 0; k < K; k++) {
        const float *tr = truth + (i * K + k) * F, *pr = pred + (i * K + k) * F;
        for (int64_t j = 0; j < F; j++) {
          double a = pr[j] - tr[j], c = last[j] - tr[j];
          mse_model += a * a;
          mse_copy += c * c;
        }
      }
      if (done < show) {
        float *row = shown + done * cols * F;
        memcpy(row, cond + i * Tc * F, sizeof(float) * (size_t)(Tc * F));
        memcpy(row + Tc * F, truth + i * K * F, sizeof(float) * (size_t)(K * F));
        memcpy(row + (Tc + K) * F, pred + i * K * F, sizeof(float) * (size_t)(K * F));
      }
    }
  }
  double sample_s = now_s() - t1;
  double n = (double)ntest * K * (double)F;
  // Data are in [-1, 1]; report MSE on the [0, 1] scale (divide by 4).
  mse_model /= 4 * n;
  mse_copy /= 4 * n;

  const int scale = S < 64 ? 3 : 1, gap = 6, ts = S * scale;
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
  fprintf(f, "{\"model\": \"tiny_ddpm\", \"steps\": %d, \"params\": %zu, \"first_loss\": %.6f, \"final_loss\": %.6f, "
             "\"test_clips\": %lld, \"sample_steps\": %d, \"eta\": %g, \"test_mse\": %.6f, \"copy_last_mse\": %.6f, "
             "\"train_seconds\": %.1f, \"sample_seconds\": %.1f}\n",
          steps, params->numel, first_loss, avg_loss, (long long)ntest, diff->ddim.steps, diff->ddim.eta, mse_model,
          mse_copy, train_s, sample_s);
  if (fclose(f) != 0) vp_die("demo: cannot write %s: %s", js, strerror(errno));
  printf("held-out MSE over %lld clips x %d future frames (DDIM, %d steps, eta %g, %.1f s): model %.5f, "
         "copy-last-frame %.5f (model / copy-last = %.3f)\n",
         (long long)ntest, K, diff->ddim.steps, diff->ddim.eta, sample_s, mse_model, mse_copy,
         mse_model / (mse_copy > 0 ? mse_copy : 1e-12));
  printf("wrote %s (rows: clips, RGB above depth; columns: %d context | %d truth | %d predicted)\n", png, Tc, K, K);

  free(img);
  free(shown);
  free(cond);
  free(truth);
  free(pred);
  loader_close(tld);
  sampler_free(&tsmp);
  source_close(tsrc);
  cfg_free(tcfg);
  ctx_free(&ctx);
  if (ema_decay > 0) ema_free(&ema);
  adamw_free(&opt_state);
  model_free(model);
  cfg_free(cfg);
  cfg_free(opt);
  return CLI_EXIT_OK;
}
