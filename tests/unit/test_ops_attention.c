// test_ops_attention.c: scaled dot-product attention and rotary embedding
// against PyTorch goldens, finite differences, the fused kernels (AVX-512,
// AVX2 and portable) against the reference on bigger shapes, the fully masked
// row contract, NaN propagation, and bad inputs.
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/attention.h"
#include "ops/attention.h"
#include "ops/rotary.h"

typedef struct {
  float scale;
  int has_mask;
} attn_arg;

static vp_tensor *f_attn(vp_ctx *c, vp_tensor **in, void *a) {
  const attn_arg *p = a;
  return op_attention(c, in[0], in[1], in[2], p->has_mask ? in[3] : NULL, p->scale);
}
// Self-attention on one tensor: q, k and v share one gradient buffer.
static vp_tensor *f_self(vp_ctx *c, vp_tensor **in, void *a) {
  (void)a;
  return op_attention(c, in[0], in[0], in[0], NULL, 0.6f);
}
static vp_tensor *f_rot(vp_ctx *c, vp_tensor **in, void *a) {
  (void)a;
  return op_rotary(c, in[0], in[1], in[2]);
}

static vp_tensor *rand_tensor(vp_ctx *ctx, int nd, const int64_t *shape, uint64_t seed, float lo, float hi) {
  vp_tensor *t = tensor_new(ctx, nd, shape);
  th_fill_uniform(t->data, tensor_numel(t), seed, lo, hi);
  return t;
}

static void golden_cases_run(void) {
  golden *g = golden_open("attention");
  const char *qkv[] = {"q", "k", "v", "mask"}, *rot[] = {"x", "cos", "sin"};
  const char *attn_cases[] = {"attn_basic", "attn_lq_lk_dv", "attn_mask2d", "attn_mask4d",
                              "attn_causal", "attn_inf4d", "attn_tiles"};
  for (size_t i = 0; i < sizeof(attn_cases) / sizeof(*attn_cases); i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/in/mask", attn_cases[i]);
    attn_arg a = {(float)golden_attr_double(g, attn_cases[i], "scale"), golden_has(g, path)};
    golden_run_case(g, attn_cases[i], f_attn, &a, qkv, a.has_mask ? 4 : 3, 1e-5, 1e-4);
  }
  const char *rot_cases[] = {"rot_random", "rot_2d", "rot_pvdm"};
  for (size_t i = 0; i < sizeof(rot_cases) / sizeof(*rot_cases); i++)
    golden_run_case(g, rot_cases[i], f_rot, NULL, rot, 3, 1e-5, 1e-4);
  golden_close(g);
}

// Finite differences on tiny shapes, in both kernel modes.
static void fd_checks(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t sq[4] = {1, 2, 3, 5}, sk[4] = {1, 2, 4, 5}, sv[4] = {1, 2, 4, 3}, sm[2] = {3, 4};
  vp_tensor *q = rand_tensor(&ctx, 4, sq, 11, -1, 1), *k = rand_tensor(&ctx, 4, sk, 12, -1, 1),
            *v = rand_tensor(&ctx, 4, sv, 13, -1, 1), *m = rand_tensor(&ctx, 2, sm, 14, -2, 2);
  vp_tensor *causal = tensor_zeros(&ctx, 2, sm);
  for (int i = 0; i < 3; i++)
    for (int j = i + 2; j < 4; j++) causal->data[i * 4 + j] = -INFINITY;
  q->requires_grad = k->requires_grad = v->requires_grad = 1;
  vp_tensor *in[4] = {q, k, v, m};
  attn_arg a0 = {0.7f, 0}, a1 = {0.45f, 1};
  for (int ref = 0; ref < 2; ref++) {
    kernel_mode_set_ref(ref);
    char what[64];
    snprintf(what, sizeof what, "attention fd [%s]", ref ? "ref" : "fast");
    th_gradcheck(what, f_attn, &a0, in, 3, 1e-2f, 64, 1e-2);
    snprintf(what, sizeof what, "attention mask fd [%s]", ref ? "ref" : "fast");
    th_gradcheck(what, f_attn, &a1, in, 4, 1e-2f, 64, 1e-2);
    in[3] = causal;
    snprintf(what, sizeof what, "attention -inf mask fd [%s]", ref ? "ref" : "fast");
    th_gradcheck(what, f_attn, &a1, in, 4, 1e-2f, 64, 1e-2);
    in[3] = m;
    snprintf(what, sizeof what, "attention q = k = v fd [%s]", ref ? "ref" : "fast");
    th_gradcheck(what, f_self, NULL, in, 1, 1e-2f, 64, 1e-2);
  }
  int64_t sx[3] = {2, 3, 6}, st[2] = {3, 6};
  vp_tensor *x = rand_tensor(&ctx, 3, sx, 15, -1, 1), *c = rand_tensor(&ctx, 2, st, 16, -1, 1),
            *s = rand_tensor(&ctx, 2, st, 17, -1, 1);
  x->requires_grad = 1;
  vp_tensor *rin[3] = {x, c, s};
  for (int ref = 0; ref < 2; ref++) {
    kernel_mode_set_ref(ref);
    th_gradcheck(ref ? "rotary fd [ref]" : "rotary fd [fast]", f_rot, NULL, rin, 3, 1e-2f, 64, 1e-2);
  }
  kernel_mode_set_ref(0);
  ctx_free(&ctx);
}

// Forward + backward of op_attention in one kernel mode; copies out, grads.
typedef struct {
  float *y, *gq, *gk, *gv;
} attn_result;

static attn_result run_attn(int ref, vp_tensor *q0, vp_tensor *k0, vp_tensor *v0, vp_tensor *mask0,
                            float scale, uint64_t gseed) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 24);
  ctx_set_training(&ctx, 1);
  kernel_mode_set_ref(ref);
  vp_tensor *q = tensor_from(&ctx, 4, q0->shape, q0->data), *k = tensor_from(&ctx, 4, k0->shape, k0->data),
            *v = tensor_from(&ctx, 4, v0->shape, v0->data);
  vp_tensor *mask = mask0 ? tensor_from(&ctx, mask0->ndim, mask0->shape, mask0->data) : NULL;
  q->requires_grad = k->requires_grad = v->requires_grad = 1;
  vp_tensor *y = op_attention(&ctx, q, k, v, mask, scale);
  int64_t ny = tensor_numel(y);
  float *g = vp_malloc((size_t)ny * sizeof(float));
  th_fill_uniform(g, ny, gseed, -1, 1);
  tape_backward_from(&ctx, y, g);
  free(g);
  attn_result r;
  r.y = vp_malloc((size_t)ny * sizeof(float));
  memcpy(r.y, y->data, (size_t)ny * sizeof(float));
  vp_tensor *t[3] = {q, k, v};
  float **dst[3] = {&r.gq, &r.gk, &r.gv};
  for (int i = 0; i < 3; i++) {
    int64_t n = tensor_numel(t[i]);
    *dst[i] = vp_malloc((size_t)n * sizeof(float));
    memcpy(*dst[i], tensor_grad(&ctx, t[i]), (size_t)n * sizeof(float));
  }
  ctx_free(&ctx);
  kernel_mode_set_ref(0);
  return r;
}

static void free_result(attn_result *r) {
  free(r->y);
  free(r->gq);
  free(r->gk);
  free(r->gv);
}

static int all_finite(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

// The fused kernels at every instruction-set level (AVX-512, AVX2, portable;
// a level the CPU lacks falls back to the next) against the reference.
// mask_kind: 0 none, 1 (Lq, Lk) causal, 2 (B, H, Lq, Lk) random
// with -inf entries and one fully masked row per (batch, head).
static void fast_vs_ref(const char *name, int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t D,
                        int64_t Dv, int mask_kind) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 22);
  int64_t sq[4] = {B, H, Lq, D}, sk[4] = {B, H, Lk, D}, sv[4] = {B, H, Lk, Dv};
  vp_tensor *q = rand_tensor(&ctx, 4, sq, 21, -2, 2), *k = rand_tensor(&ctx, 4, sk, 22, -2, 2),
            *v = rand_tensor(&ctx, 4, sv, 23, -1, 1), *mask = NULL;
  const int64_t dead_row = Lq / 3;  // fully masked in mask kind 2
  if (mask_kind == 1) {
    int64_t sm[2] = {Lq, Lk};
    mask = tensor_zeros(&ctx, 2, sm);
    for (int64_t i = 0; i < Lq; i++)
      for (int64_t j = i + 1; j < Lk; j++) mask->data[i * Lk + j] = -INFINITY;
  } else if (mask_kind == 2) {
    int64_t sm[4] = {B, H, Lq, Lk};
    mask = rand_tensor(&ctx, 4, sm, 24, -3, 3);
    float *u = vp_malloc((size_t)tensor_numel(mask) * sizeof(float));
    th_fill_uniform(u, tensor_numel(mask), 25, 0, 1);
    for (int64_t e = 0; e < tensor_numel(mask); e++) {
      const int64_t i = (e / Lk) % Lq;
      if (u[e] < 0.4f || i == dead_row) mask->data[e] = -INFINITY;
    }
    free(u);
  }
  const float scale = 1.0f / sqrtf((float)D);
  attn_result ref = run_attn(1, q, k, v, mask, scale, 31);
  for (int level = 2; level >= 0; level--) {
    cpu_attention_limit_isa(level);
    attn_result f = run_attn(0, q, k, v, mask, scale, 31);
    char what[160];
    const char *mode = level == 2 ? "avx512" : level == 1 ? "avx2" : "portable";
    snprintf(what, sizeof what, "%s fast[%s] vs ref: out", name, mode);
    th_check_rel(what, f.y, ref.y, B * H * Lq * Dv, 1e-5);
    snprintf(what, sizeof what, "%s fast[%s] vs ref: grad q", name, mode);
    th_check_rel(what, f.gq, ref.gq, B * H * Lq * D, 1e-4);
    snprintf(what, sizeof what, "%s fast[%s] vs ref: grad k", name, mode);
    th_check_rel(what, f.gk, ref.gk, B * H * Lk * D, 1e-4);
    snprintf(what, sizeof what, "%s fast[%s] vs ref: grad v", name, mode);
    th_check_rel(what, f.gv, ref.gv, B * H * Lk * Dv, 1e-4);
    int finite = all_finite(f.y, B * H * Lq * Dv) && all_finite(f.gq, B * H * Lq * D) &&
                 all_finite(f.gk, B * H * Lk * D) && all_finite(f.gv, B * H * Lk * Dv);
    th_check(finite, "%s fast[%s]: non-finite output or gradient", name, mode);
    if (mask_kind == 2) {
      // The fully masked row: output exactly 0 and no gradient into q.
      int zero = 1;
      for (int64_t b = 0; b < B * H; b++) {
        for (int64_t c = 0; c < Dv; c++) zero &= f.y[(b * Lq + dead_row) * Dv + c] == 0.0f;
        for (int64_t c = 0; c < D; c++) zero &= f.gq[(b * Lq + dead_row) * D + c] == 0.0f;
      }
      th_check(zero, "%s fast[%s]: fully masked row is not zero", name, mode);
    }
    free_result(&f);
  }
  cpu_attention_limit_isa(2);
  if (mask_kind == 2) {
    int zero = 1;
    for (int64_t b = 0; b < B * H; b++)
      for (int64_t c = 0; c < Dv; c++) zero &= ref.y[(b * Lq + dead_row) * Dv + c] == 0.0f;
    th_check(zero, "%s ref: fully masked row is not zero", name);
  }
  free_result(&ref);
  ctx_free(&ctx);
}

// NaN in a query row must reach the output, in every mode (including a row
// that is otherwise fully masked, which must not hide it behind a zero row).
static void nan_propagates(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t sq[4] = {1, 1, 3, 4}, sm[2] = {3, 5}, sk[4] = {1, 1, 5, 4};
  vp_tensor *q = rand_tensor(&ctx, 4, sq, 41, -1, 1), *k = rand_tensor(&ctx, 4, sk, 42, -1, 1),
            *v = rand_tensor(&ctx, 4, sk, 43, -1, 1), *m = tensor_zeros(&ctx, 2, sm);
  q->data[0] = NAN;  // row 0
  for (int j = 0; j < 5; j++) m->data[0 * 5 + j] = m->data[1 * 5 + j] = -INFINITY;  // rows 0, 1 masked
  for (int mode = 0; mode < 4; mode++) {  // fast at isa levels 2, 1, 0; reference
    kernel_mode_set_ref(mode == 3);
    cpu_attention_limit_isa(2 - mode);
    vp_tensor *y = op_attention(&ctx, q, k, v, m, 0.5f);
    int ok = isnan(y->data[0]) && y->data[4] == 0.0f && isfinite(y->data[8]);
    th_check(ok, "attention NaN handling [mode %d]: row 0 %g (want NaN), row 1 %g (want 0), row 2 %g",
             mode, y->data[0], y->data[4], y->data[8]);
  }
  kernel_mode_set_ref(0);
  cpu_attention_limit_isa(2);
  ctx_free(&ctx);
}

// Rotary fast vs reference on a bigger shape.
static void rotary_fast_vs_ref(void) {
  int64_t sx[4] = {3, 4, 33, 64}, st[2] = {33, 64}, n = 3 * 4 * 33 * 64;
  float *y[2], *gx[2], *g = vp_malloc((size_t)n * sizeof(float));
  th_fill_uniform(g, n, 54, -1, 1);
  for (int ref = 0; ref < 2; ref++) {
    vp_ctx ctx;
    ctx_init(&ctx, 1 << 22);
    ctx_set_training(&ctx, 1);
    kernel_mode_set_ref(ref);
    vp_tensor *x = rand_tensor(&ctx, 4, sx, 51, -1, 1), *c = rand_tensor(&ctx, 2, st, 52, -1, 1),
              *s = rand_tensor(&ctx, 2, st, 53, -1, 1);
    x->requires_grad = 1;
    vp_tensor *out = op_rotary(&ctx, x, c, s);
    tape_backward_from(&ctx, out, g);
    y[ref] = vp_malloc((size_t)n * sizeof(float));
    gx[ref] = vp_malloc((size_t)n * sizeof(float));
    memcpy(y[ref], out->data, (size_t)n * sizeof(float));
    memcpy(gx[ref], x->grad, (size_t)n * sizeof(float));
    ctx_free(&ctx);
  }
  kernel_mode_set_ref(0);
  th_check_rel("rotary fast vs ref: out", y[0], y[1], n, 1e-6);
  th_check_rel("rotary fast vs ref: grad x", gx[0], gx[1], n, 1e-6);
  for (int i = 0; i < 2; i++) {
    free(y[i]);
    free(gx[i]);
  }
  free(g);
}

// Bad inputs must stop with an error (exit status 1), checked in a child.
static void expect_die(const char *what, void (*fn)(void)) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    th_check(0, "%s: fork failed", what);
    return;
  }
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(3);
    fn();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  th_check(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: expected an error exit", what);
}

static void bad_call(int which) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  int64_t s4[4] = {1, 2, 3, 4}, s4b[4] = {1, 2, 3, 5}, sm[2] = {3, 4}, st[2] = {3, 5};
  vp_tensor *a = tensor_zeros(&ctx, 4, s4), *b = tensor_zeros(&ctx, 4, s4b);
  vp_tensor *m = tensor_zeros(&ctx, 2, sm), *t = tensor_zeros(&ctx, 2, st);
  switch (which) {
    case 0: op_attention(&ctx, a, b, a, NULL, 1.0f); break;  // q, k head dims differ
    case 1: op_attention(&ctx, a, a, a, m, 1.0f); break;     // mask (3, 4) for Lk = 3
    case 2: m->shape[1] = 3; m->requires_grad = 1; op_attention(&ctx, a, a, a, m, 1.0f); break;
    case 3: op_rotary(&ctx, b, t, t); break;                 // odd D
    case 4: op_rotary(&ctx, a, t, t); break;                 // table (3, 5) for D = 4
  }
}
static void bad0(void) { bad_call(0); }
static void bad1(void) { bad_call(1); }
static void bad2(void) { bad_call(2); }
static void bad3(void) { bad_call(3); }
static void bad4(void) { bad_call(4); }

int main(void) {
  golden_cases_run();
  fd_checks();
  fast_vs_ref("no mask", 2, 3, 150, 170, 24, 40, 0);
  fast_vs_ref("causal 2d", 1, 2, 200, 200, 32, 32, 1);
  fast_vs_ref("-inf 4d", 2, 2, 97, 61, 17, 9, 2);
  fast_vs_ref("one head", 1, 1, 300, 90, 8, 16, 1);  // splits a head's query blocks over threads
  nan_propagates();
  rotary_fast_vs_ref();
  expect_die("attention head dims differ", bad0);
  expect_die("attention mask shape", bad1);
  expect_die("attention mask requires grad", bad2);
  expect_die("rotary odd D", bad3);
  expect_die("rotary table shape", bad4);
  return th_summary();
}
