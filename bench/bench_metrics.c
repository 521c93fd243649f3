// bench_metrics.c: throughput of the evaluation metrics in frames per second
// at 128x128 RGB: SSIM (the fast separable kernel, and the plain 2-D
// reference for scale), CRPS with S = 10 members per pixel (the metric
// family's per-clip path), and LPIPS (AlexNet v0.1, when --lpips-weights is
// given). A benchmark, not a test: it asserts nothing. bench/compare_metrics.py
// runs it beside scikit-image / NumPy / PyTorch on the same data sizes and
// thread count and prints the ratios.
//
//   bench_metrics [--json] [--threads N] [--reps R] [--frames F] [--size S]
//                 [--lpips-weights FILE]
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/blas_core.h"
#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/rng.h"
#include "eval/metric.h"
#include "eval/ssim.h"
#include "models/lpips.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *arg);

// Seconds of the fastest of reps runs after one warm-up: on a shared machine
// the minimum is the run least disturbed by other processes.
static double time_best(bench_fn f, void *arg, int reps) {
  f(arg);
  double *t = vp_malloc((size_t)reps * sizeof(double));
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    f(arg);
    t[r] = now_s() - t0;
  }
  qsort(t, (size_t)reps, sizeof(double), cmp_d);
  double m = t[0];
  free(t);
  return m;
}

typedef struct {
  int64_t F, H, W, C, S;
  float *x, *y;       // (F, H, W, C) in [0, 1]
  float *members;     // (S, F, H, W, C)
  double *out;
  lpips_model *lpips;
  vp_ctx *ctx;
  float *lx, *ly, *ld;  // (F, 3, H, W) in [-1, 1], distances
} bench_data;

static void run_ssim(void *arg) {
  bench_data *d = arg;
  ssim_frames(d->x, d->y, d->F, d->F, d->H, d->W, d->C, 1.0, SSIM_STANDARD, NULL, NULL, d->out);
}

static void run_ssim_ref(void *arg) {
  int saved = vp_use_ref_kernels;
  kernel_mode_set_ref(1);
  run_ssim(arg);
  kernel_mode_set_ref(saved);
}

static void run_crps(void *arg) {
  bench_data *d = arg;
  metric_env env = {.N = 1, .S = d->S, .T = d->F, .H = d->H, .W = d->W, .C = d->C, .L = 1.0};
  metric_clip clip = {.index = 0, .target = d->y, .pred = d->members, .mask = NULL};
  double row[3];
  metric_crps.accumulate(&env, &clip, row);
  d->out[0] = row[0];
}

static void run_lpips(void *arg) {
  bench_data *d = arg;
  lpips_distance(d->lpips, d->ctx, d->lx, d->ly, d->F, d->H, d->W, d->ld);
}

static void usage(void) {
  printf("usage: bench_metrics [--json] [--threads N] [--reps R] [--frames F] [--size S] "
         "[--lpips-weights FILE]\n");
}

static void report(int json, const char *name, double sec, int64_t frames, int threads, int reps, const char *note) {
  const double fps = (double)frames / sec;
  if (json)
    printf("{\"name\": \"%s\", \"frames_per_s\": %.3f, \"ms\": %.4f, \"frames\": %lld, \"threads\": %d, "
           "\"reps\": %d}\n", name, fps, 1e3 * sec, (long long)frames, threads, reps);
  else
    printf("%-10s %10.1f frames/s  (%lld frames in %.3f ms, threads %d, best of %d)%s\n", name, fps,
           (long long)frames, 1e3 * sec, threads, reps, note);
}

int main(int argc, char **argv) {
  blas_core_select(argc, argv);
  int json = 0, threads = 2, reps = 9;
  int64_t F = 32, size = 128;
  const char *lpips_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--frames") && i + 1 < argc) F = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--lpips-weights") && i + 1 < argc) lpips_path = argv[++i];
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(); return 0; }
    else { fprintf(stderr, "bench_metrics: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (threads < 1 || reps < 1 || F < 1 || size < 31) vp_die("bench_metrics: bad --threads/--reps/--frames/--size");
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);

  bench_data d = {.F = F, .H = size, .W = size, .C = 3, .S = 10};
  const int64_t n = F * size * size * 3;
  d.x = vp_malloc((size_t)n * sizeof(float));
  d.y = vp_malloc((size_t)n * sizeof(float));
  d.members = vp_malloc((size_t)(d.S * n) * sizeof(float));
  d.out = vp_malloc((size_t)(F * 3) * sizeof(double));
  rng_uniform(1, VP_STREAM_TEST, 0, 1, 0, d.x, n);
  rng_uniform(1, VP_STREAM_TEST, 0, 2, 0, d.y, n);
  rng_uniform(1, VP_STREAM_TEST, 0, 3, 0, d.members, d.S * n);
  for (int64_t i = 0; i < n; i++) d.y[i] = 0.7f * d.x[i] + 0.3f * d.y[i];  // correlated pair

  report(json, "ssim", time_best(run_ssim, &d, reps), F, threads, reps, "");
  report(json, "ssim_ref", time_best(run_ssim_ref, &d, reps > 2 ? 2 : reps), F, threads,
         reps > 2 ? 2 : reps, "  (plain 2-D reference)");
  report(json, "crps_s10", time_best(run_crps, &d, reps), F, threads, reps, "");
  if (lpips_path) {
    vp_ctx ctx;
    ctx_init(&ctx, (size_t)64 << 20);
    ctx_set_training(&ctx, 0);
    d.ctx = &ctx;
    d.lpips = lpips_load(lpips_path);
    const int64_t HW = size * size;
    d.lx = vp_malloc((size_t)n * sizeof(float));
    d.ly = vp_malloc((size_t)n * sizeof(float));
    d.ld = vp_malloc((size_t)F * sizeof(float));
    for (int64_t f = 0; f < F; f++)
      for (int64_t c = 0; c < 3; c++)
        for (int64_t p = 0; p < HW; p++) {
          d.lx[(f * 3 + c) * HW + p] = 2.f * d.x[(f * HW + p) * 3 + c] - 1.f;
          d.ly[(f * 3 + c) * HW + p] = 2.f * d.y[(f * HW + p) * 3 + c] - 1.f;
        }
    report(json, "lpips", time_best(run_lpips, &d, reps), F, threads, reps, "");
    lpips_free(d.lpips);
    ctx_free(&ctx);
    free(d.lx);
    free(d.ly);
    free(d.ld);
  } else if (!json) {
    printf("lpips      skipped (pass --lpips-weights FILE)\n");
  }
  free(d.x);
  free(d.y);
  free(d.members);
  free(d.out);
  return 0;
}
