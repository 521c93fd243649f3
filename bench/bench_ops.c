// bench_ops.c: forward and backward timings of the hot ops at the shapes of
// the SyncVP UNet and autoencoder. A benchmark, not a test: it asserts
// nothing. bench/compare_torch.py runs it beside PyTorch on the same shapes
// and thread count and prints the ratios.
//
//   bench_ops [--json] [--threads N] [--reps R] [--case NAME]
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/rng.h"
#include "core/tape.h"
#include "ops/ops.h"

typedef struct {
  vp_tensor *in[4];
  int nin;
} bench_inputs;

typedef vp_tensor *(*bench_fn)(vp_ctx *ctx, bench_inputs *b);
typedef void (*bench_setup)(vp_ctx *ctx, bench_inputs *b);

static vp_tensor *randn(vp_ctx *ctx, int ndim, const int64_t *shape, float scale, int id) {
  vp_tensor *t = tensor_new(ctx, ndim, shape);
  int64_t n = tensor_numel(t);
  rng_normal(1234, VP_STREAM_TEST, 0, (uint64_t)id, 0, t->data, n);
  for (int64_t i = 0; i < n; i++) t->data[i] *= scale;
  t->requires_grad = 1;
  return t;
}
#define SHAPE(...) (int64_t[]){__VA_ARGS__}, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)
static vp_tensor *randn_s(vp_ctx *ctx, const int64_t *shape, size_t nd, float scale, int id) {
  return randn(ctx, (int)nd, shape, scale, id);
}
#define RANDN(ctx, scale, id, ...) randn_s(ctx, SHAPE(__VA_ARGS__), scale, id)

// conv3x3_256_32: B=4, 256->256, 32x32, pad 1
static void s_conv256(vp_ctx *c, bench_inputs *b) {
  b->in[0] = RANDN(c, 1.f, 1, 4, 256, 32, 32);
  b->in[1] = RANDN(c, 0.02f, 2, 256, 256, 3, 3);
  b->in[2] = RANDN(c, 0.02f, 3, 256);
  b->nin = 3;
}
static void s_conv512(vp_ctx *c, bench_inputs *b) {
  b->in[0] = RANDN(c, 1.f, 1, 4, 512, 16, 16);
  b->in[1] = RANDN(c, 0.02f, 2, 512, 512, 3, 3);
  b->in[2] = RANDN(c, 0.02f, 3, 512);
  b->nin = 3;
}
static vp_tensor *f_conv(vp_ctx *c, bench_inputs *b) { return op_conv2d(c, b->in[0], b->in[1], b->in[2], 1, 1); }

static void s_gn(vp_ctx *c, bench_inputs *b) {
  b->in[0] = RANDN(c, 1.f, 1, 4, 256, 32, 32);
  b->in[1] = RANDN(c, 1.f, 2, 256);
  b->in[2] = RANDN(c, 1.f, 3, 256);
  b->nin = 3;
}
static vp_tensor *f_gn(vp_ctx *c, bench_inputs *b) { return op_group_norm(c, b->in[0], 32, b->in[1], b->in[2], 1e-5f); }

static void s_attn(vp_ctx *c, bench_inputs *b) {
  b->in[0] = RANDN(c, 1.f, 1, 4, 8, 1536, 32);
  b->in[1] = RANDN(c, 1.f, 2, 4, 8, 1536, 32);
  b->in[2] = RANDN(c, 1.f, 3, 4, 8, 1536, 32);
  b->nin = 3;
}
static vp_tensor *f_attn(vp_ctx *c, bench_inputs *b) {
  return op_attention(c, b->in[0], b->in[1], b->in[2], NULL, 0.17677669529663687f);  // 1/sqrt(32)
}

static void s_linear(vp_ctx *c, bench_inputs *b) {
  b->in[0] = RANDN(c, 1.f, 1, 8192, 192);
  b->in[1] = RANDN(c, 0.07f, 2, 1536, 192);
  b->in[2] = RANDN(c, 0.07f, 3, 1536);
  b->nin = 3;
}
static vp_tensor *f_linear(vp_ctx *c, bench_inputs *b) { return op_linear(c, b->in[0], b->in[1], b->in[2]); }

static void s_ln(vp_ctx *c, bench_inputs *b) {
  b->in[0] = RANDN(c, 1.f, 1, 8192, 192);
  b->in[1] = RANDN(c, 1.f, 2, 192);
  b->in[2] = RANDN(c, 1.f, 3, 192);
  b->nin = 3;
}
static vp_tensor *f_ln(vp_ctx *c, bench_inputs *b) { return op_layer_norm(c, b->in[0], b->in[1], b->in[2], 1e-5f); }

typedef struct {
  const char *name;
  bench_setup setup;
  bench_fn fn;
} bench_case;

static const bench_case CASES[] = {
    {"conv3x3_256_32", s_conv256, f_conv},  {"conv3x3_512_16", s_conv512, f_conv},
    {"groupnorm_256_32", s_gn, f_gn},       {"attn_1536_d32", s_attn, f_attn},
    {"linear_192_1536", s_linear, f_linear}, {"layernorm_192", s_ln, f_ln},
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(void) {
  printf("usage: bench_ops [--json] [--threads N] [--reps R] [--case NAME]\n"
         "Times forward and backward (median of R reps after one warm-up) of:\n");
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) printf("  %s\n", CASES[i].name);
}

int main(int argc, char **argv) {
  int json = 0, threads = 2, reps = 10;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--case") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(); return 0; }
    else { fprintf(stderr, "bench_ops: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (threads < 1 || reps < 1) vp_die("bench_ops: --threads and --reps must be >= 1");
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  kernel_mode_init_from_env();
  double *fw = vp_malloc(sizeof(double) * (size_t)reps), *bw = vp_malloc(sizeof(double) * (size_t)reps);
  int ran = 0;
  for (size_t ci = 0; ci < sizeof(CASES) / sizeof(CASES[0]); ci++) {
    const bench_case *bc = &CASES[ci];
    if (only && strcmp(only, bc->name)) continue;
    ran++;
    // Inputs live in their own context so resetting the activations between
    // reps keeps them.
    vp_ctx inctx, ctx;
    ctx_init(&inctx, (size_t)64 << 20);
    ctx_init(&ctx, (size_t)256 << 20);
    ctx_set_training(&ctx, 1);
    bench_inputs in;
    bc->setup(&inctx, &in);
    for (int r = -1; r < reps; r++) {
      for (int k = 0; k < in.nin; k++) in.in[k]->grad = NULL;
      double t0 = now_ms();
      vp_tensor *y = bc->fn(&ctx, &in);
      double t1 = now_ms();
      int64_t n = tensor_numel(y);
      float *g = arena_alloc(&ctx.act, (size_t)n * sizeof(float));
      for (int64_t i = 0; i < n; i++) g[i] = 1.0f;
      double t2 = now_ms();
      tape_backward_from(&ctx, y, g);
      double t3 = now_ms();
      if (r >= 0) {
        fw[r] = t1 - t0;
        bw[r] = t3 - t2;
      }
      ctx_reset(&ctx);
    }
    qsort(fw, (size_t)reps, sizeof(double), cmp_d);
    qsort(bw, (size_t)reps, sizeof(double), cmp_d);
    double f = fw[reps / 2], b = bw[reps / 2];
    if (json)
      printf("{\"name\": \"%s\", \"fwd_ms\": %.4f, \"bwd_ms\": %.4f, \"threads\": %d, \"reps\": %d}\n",
             bc->name, f, b, threads, reps);
    else
      printf("%-20s fwd %9.3f ms  bwd %9.3f ms  (threads %d, median of %d)\n", bc->name, f, b, threads, reps);
    fflush(stdout);
    ctx_free(&inctx);
    ctx_free(&ctx);
  }
  free(fw);
  free(bw);
  if (only && !ran) vp_die("bench_ops: no case named '%s' (see --help)", only);
  return 0;
}
