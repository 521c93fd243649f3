// test_ops_norm.c: group norm and layer norm against PyTorch goldens
// (tools/golden/g_norm.py), finite differences, fast-vs-reference kernels on
// larger shapes (including a badly centred input), and bad-input errors.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/norm.h"
#include "ops/norm.h"

// ---------------------------------------------------------------- helpers

// Runs fn(arg) in a child process; 1 if it exited non-zero (vp_die).
static int dies(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(0);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return 0;
  return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

typedef struct {
  int kind, affine, groups;
  float eps;
} norm_arg;

static vp_tensor *f_norm(vp_ctx *c, vp_tensor **in, void *arg) {
  norm_arg *a = arg;
  vp_tensor *w = a->affine ? in[1] : NULL, *b = a->affine ? in[2] : NULL;
  if (a->kind == 0) return op_group_norm(c, in[0], a->groups, w, b, a->eps);
  return op_layer_norm(c, in[0], w, b, a->eps);
}

static void golden_case(golden *g, const char *cas) {
  norm_arg a;
  a.kind = (int)golden_attr_int(g, cas, "kind");
  a.affine = (int)golden_attr_int(g, cas, "affine");
  a.groups = (int)golden_attr_int(g, cas, "groups");
  a.eps = (float)golden_attr_double(g, cas, "eps");
  const char *names[] = {"x", "w", "b"};
  golden_run_case(g, cas, f_norm, &a, names, a.affine ? 3 : 1, 1e-5, 1e-4);
}

static vp_tensor *rand_tensor(vp_ctx *c, int nd, const int64_t *shape, uint64_t seed, float lo, float hi) {
  vp_tensor *t = tensor_new(c, nd, shape);
  th_fill_uniform(t->data, tensor_numel(t), seed, lo, hi);
  return t;
}

static float *rand_buf(int64_t n, uint64_t seed, float lo, float hi) {
  float *p = vp_malloc((size_t)n * sizeof(float));
  th_fill_uniform(p, n, seed, lo, hi);
  return p;
}

// Fast vs reference group norm kernels, forward and backward, on (B, C, S).
static void compare_group_norm(const char *what, int64_t B, int64_t C, int64_t S, int64_t G,
                               float offset, int affine) {
  int64_t n = B * C * S;
  float *x = rand_buf(n, 11, offset - 2.f, offset + 2.f), *dy = rand_buf(n, 12, -1, 1);
  float *w = affine ? rand_buf(C, 13, 0.5f, 1.5f) : NULL, *b = affine ? rand_buf(C, 14, -1, 1) : NULL;
  float *y[2], *m[2], *r[2], *dx[2], *dw[2], *db[2];
  for (int k = 0; k < 2; k++) {
    y[k] = vp_malloc((size_t)n * sizeof(float));
    m[k] = vp_malloc((size_t)(B * G) * sizeof(float));
    r[k] = vp_malloc((size_t)(B * G) * sizeof(float));
    dx[k] = rand_buf(n, 15, -1, 1);  // the kernels accumulate onto what is there
    dw[k] = rand_buf(C, 16, -1, 1);
    db[k] = rand_buf(C, 17, -1, 1);
  }
  cpu_group_norm_fwd_ref(x, w, b, y[0], m[0], r[0], B, C, S, G, 1e-5f);
  cpu_group_norm_fwd(x, w, b, y[1], m[1], r[1], B, C, S, G, 1e-5f);
  cpu_group_norm_bwd_ref(x, w, m[0], r[0], dy, dx[0], affine ? dw[0] : NULL, affine ? db[0] : NULL, B, C, S, G);
  cpu_group_norm_bwd(x, w, m[0], r[0], dy, dx[1], affine ? dw[1] : NULL, affine ? db[1] : NULL, B, C, S, G, 0);
  // dx_fresh: the fast kernel must write every element of an uninitialised dx
  float *dxz = vp_calloc((size_t)n, sizeof(float)), *dxn = vp_malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; i++) dxn[i] = NAN;
  cpu_group_norm_bwd_ref(x, w, m[0], r[0], dy, dxz, NULL, NULL, B, C, S, G);
  cpu_group_norm_bwd(x, w, m[0], r[0], dy, dxn, NULL, NULL, B, C, S, G, 1);
  char s[160];
  snprintf(s, sizeof s, "%s fast (fresh dx) vs ref dx", what);
  th_check_rel(s, dxn, dxz, n, 1e-5);
  free(dxz);
  free(dxn);
  snprintf(s, sizeof s, "%s fast vs ref y", what);
  th_check_rel(s, y[1], y[0], n, 1e-6);
  snprintf(s, sizeof s, "%s fast vs ref mean", what);
  th_check_rel(s, m[1], m[0], B * G, 1e-6);
  snprintf(s, sizeof s, "%s fast vs ref rstd", what);
  th_check_rel(s, r[1], r[0], B * G, 1e-5);
  snprintf(s, sizeof s, "%s fast vs ref dx", what);
  th_check_rel(s, dx[1], dx[0], n, 1e-5);
  snprintf(s, sizeof s, "%s fast vs ref dw", what);
  th_check_rel(s, dw[1], dw[0], C, 1e-5);
  snprintf(s, sizeof s, "%s fast vs ref db", what);
  th_check_rel(s, db[1], db[0], C, 1e-5);
  for (int k = 0; k < 2; k++) {
    free(y[k]); free(m[k]); free(r[k]); free(dx[k]); free(dw[k]); free(db[k]);
  }
  free(x); free(dy); free(w); free(b);
}

static void compare_layer_norm(const char *what, int64_t M, int64_t D, float offset, int affine) {
  int64_t n = M * D;
  float *x = rand_buf(n, 21, offset - 2.f, offset + 2.f), *dy = rand_buf(n, 22, -1, 1);
  float *w = affine ? rand_buf(D, 23, 0.5f, 1.5f) : NULL, *b = affine ? rand_buf(D, 24, -1, 1) : NULL;
  float *y[2], *m[2], *r[2], *dx[2], *dw[2], *db[2];
  for (int k = 0; k < 2; k++) {
    y[k] = vp_malloc((size_t)n * sizeof(float));
    m[k] = vp_malloc((size_t)M * sizeof(float));
    r[k] = vp_malloc((size_t)M * sizeof(float));
    dx[k] = rand_buf(n, 25, -1, 1);
    dw[k] = rand_buf(D, 26, -1, 1);
    db[k] = rand_buf(D, 27, -1, 1);
  }
  cpu_layer_norm_fwd_ref(x, w, b, y[0], m[0], r[0], M, D, 1e-5f);
  cpu_layer_norm_fwd(x, w, b, y[1], m[1], r[1], M, D, 1e-5f);
  cpu_layer_norm_bwd_ref(x, w, m[0], r[0], dy, dx[0], affine ? dw[0] : NULL, affine ? db[0] : NULL, M, D);
  cpu_layer_norm_bwd(x, w, m[0], r[0], dy, dx[1], affine ? dw[1] : NULL, affine ? db[1] : NULL, M, D, 0);
  float *dxz = vp_calloc((size_t)n, sizeof(float)), *dxn = vp_malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; i++) dxn[i] = NAN;
  cpu_layer_norm_bwd_ref(x, w, m[0], r[0], dy, dxz, NULL, NULL, M, D);
  cpu_layer_norm_bwd(x, w, m[0], r[0], dy, dxn, NULL, NULL, M, D, 1);
  char s[160];
  snprintf(s, sizeof s, "%s fast (fresh dx) vs ref dx", what);
  th_check_rel(s, dxn, dxz, n, 1e-5);
  free(dxz);
  free(dxn);
  snprintf(s, sizeof s, "%s fast vs ref y", what);
  th_check_rel(s, y[1], y[0], n, 1e-6);
  snprintf(s, sizeof s, "%s fast vs ref mean", what);
  th_check_rel(s, m[1], m[0], M, 1e-6);
  snprintf(s, sizeof s, "%s fast vs ref rstd", what);
  th_check_rel(s, r[1], r[0], M, 1e-5);
  snprintf(s, sizeof s, "%s fast vs ref dx", what);
  th_check_rel(s, dx[1], dx[0], n, 1e-5);
  snprintf(s, sizeof s, "%s fast vs ref dw", what);
  th_check_rel(s, dw[1], dw[0], D, 1e-5);
  snprintf(s, sizeof s, "%s fast vs ref db", what);
  th_check_rel(s, db[1], db[0], D, 1e-5);
  for (int k = 0; k < 2; k++) {
    free(y[k]); free(m[k]); free(r[k]); free(dx[k]); free(dw[k]); free(db[k]);
  }
  free(x); free(dy); free(w); free(b);
}

// Statistics of a badly centred input (mean 1e4, spread 1) against values
// computed here in double, for both kernels.
static void check_offset_stats(void) {
  int64_t M = 3, D = 5000;
  float *x = rand_buf(M * D, 31, 1e4f - 1.f, 1e4f + 1.f), *y = vp_malloc((size_t)(M * D) * sizeof(float));
  float m[3], r[3];
  for (int fast = 0; fast < 2; fast++) {
    if (fast)
      cpu_layer_norm_fwd(x, NULL, NULL, y, m, r, M, D, 0.f);
    else
      cpu_layer_norm_fwd_ref(x, NULL, NULL, y, m, r, M, D, 0.f);
    for (int64_t i = 0; i < M; i++) {
      double mu = 0, v = 0;
      for (int64_t j = 0; j < D; j++) mu += x[i * D + j];
      mu /= (double)D;
      for (int64_t j = 0; j < D; j++) v += (x[i * D + j] - mu) * (x[i * D + j] - mu);
      v /= (double)D;
      double want = 1.0 / sqrt(v);
      th_check(fabs(r[i] - want) <= 1e-5 * want && fabs(m[i] - mu) <= 1e-6 * fabs(mu),
               "layer_norm %s offset stats row %lld: mean %.9g rstd %.9g, want %.9g %.9g",
               fast ? "fast" : "ref", (long long)i, (double)m[i], (double)r[i], mu, want);
    }
  }
  free(x);
  free(y);
}

// An input feeding two norm nodes: the first backward allocates its gradient
// (the fast path writes it fresh), the second must add onto it. Compared with
// the two single-use gradients summed, in both kernel modes.
static void check_two_uses(int kind) {
  vp_ctx ctx, inctx;  // inputs live in their own context: ctx is reset between runs
  ctx_init(&ctx, 1 << 22);
  ctx_init(&inctx, 1 << 16);
  ctx_set_training(&ctx, 1);
  int64_t shape[3] = {2, 8, 37}, n = 2 * 8 * 37;
  vp_tensor *x = tensor_new(&inctx, 3, shape), *w = tensor_new(&inctx, 1, (int64_t[]){kind ? 37 : 8});
  th_fill_uniform(x->data, n, 61, -2, 2);
  th_fill_uniform(w->data, tensor_numel(w), 62, 0.5f, 1.5f);
  x->requires_grad = 1;
  float *g1 = rand_buf(n, 63, -1, 1), *g2 = rand_buf(n, 64, -1, 1), *want = vp_calloc((size_t)n, sizeof(float));
  for (int mode = 0; mode < 2; mode++) {
    kernel_mode_set_ref(mode);
    // single uses
    for (int k = 0; k < 2; k++) {
      ctx_reset(&ctx);
      x->grad = NULL;
      vp_tensor *y = kind ? op_layer_norm(&ctx, x, w, NULL, 1e-5f) : op_group_norm(&ctx, x, 4, w, NULL, 1e-5f);
      tape_backward_from(&ctx, y, k ? g2 : g1);
      for (int64_t i = 0; i < n; i++) want[i] = (k ? want[i] : 0.f) + x->grad[i];
    }
    // two uses on one tape
    ctx_reset(&ctx);
    x->grad = NULL;
    vp_tensor *y1 = kind ? op_layer_norm(&ctx, x, w, NULL, 1e-5f) : op_group_norm(&ctx, x, 4, w, NULL, 1e-5f);
    vp_tensor *y2 = kind ? op_layer_norm(&ctx, x, w, NULL, 1e-5f) : op_group_norm(&ctx, x, 4, w, NULL, 1e-5f);
    memcpy(tensor_grad(&ctx, y1), g1, (size_t)n * sizeof(float));
    tape_backward_from(&ctx, y2, g2);
    char s[96];
    snprintf(s, sizeof s, "%s two uses of one input [%s]", kind ? "layer_norm" : "group_norm", mode ? "ref" : "fast");
    th_check_rel(s, x->grad, want, n, 1e-6);
  }
  kernel_mode_set_ref(0);
  free(g1);
  free(g2);
  free(want);
  ctx_free(&ctx);
  ctx_free(&inctx);
}

// ---------------------------------------------------------------- bad inputs

static void bad_groups(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  vp_tensor *x = tensor_zeros(&c, 3, (int64_t[]){2, 6, 4});
  op_group_norm(&c, x, 4, NULL, NULL, 1e-5f);  // 4 does not divide 6
}
static void bad_gn_weight(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  vp_tensor *x = tensor_zeros(&c, 3, (int64_t[]){2, 6, 4}), *w = tensor_zeros(&c, 1, (int64_t[]){4});
  op_group_norm(&c, x, 3, w, NULL, 1e-5f);
}
static void bad_gn_rank(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  vp_tensor *x = tensor_zeros(&c, 1, (int64_t[]){6});
  op_group_norm(&c, x, 1, NULL, NULL, 1e-5f);
}
static void bad_ln_bias(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  vp_tensor *x = tensor_zeros(&c, 2, (int64_t[]){3, 8}), *b = tensor_zeros(&c, 1, (int64_t[]){3});
  op_layer_norm(&c, x, NULL, b, 1e-5f);
}
static void good_gn(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  vp_tensor *x = tensor_zeros(&c, 3, (int64_t[]){2, 6, 4}), *w = tensor_zeros(&c, 1, (int64_t[]){6});
  op_group_norm(&c, x, 3, w, w, 1e-5f);
  ctx_free(&c);
}

int main(void) {
  golden *g = golden_open("norm");
  const char *cases[] = {"gn_1d", "gn_2d", "gn_3d", "gn_noaffine", "gn_groups1", "gn_instance",
                         "gn_nospatial", "gn_chunks_offset", "gn_grad_wb", "gn_grad_x",
                         "ln_2d", "ln_3d", "ln_noaffine", "ln_1d", "ln_long_offset",
                         "ln_grad_wb", "ln_grad_x"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) golden_case(g, cases[i]);
  golden_close(g);

  // Finite differences on tiny shapes (independent of the goldens).
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  vp_tensor *x = rand_tensor(&ctx, 3, (int64_t[]){2, 4, 3}, 1, -1, 1);
  vp_tensor *w = rand_tensor(&ctx, 1, (int64_t[]){4}, 2, 0.5f, 1.5f), *b = rand_tensor(&ctx, 1, (int64_t[]){4}, 3, -1, 1);
  x->requires_grad = w->requires_grad = b->requires_grad = 1;
  vp_tensor *in[3] = {x, w, b};
  norm_arg gn = {0, 1, 2, 1e-5f}, gn_na = {0, 0, 2, 1e-5f};
  th_gradcheck("group_norm fd", f_norm, &gn, in, 3, 1e-2f, 64, 1e-2);
  th_gradcheck("group_norm no affine fd", f_norm, &gn_na, in, 1, 1e-2f, 64, 1e-2);
  vp_tensor *xl = rand_tensor(&ctx, 2, (int64_t[]){3, 5}, 4, -1, 1);
  vp_tensor *wl = rand_tensor(&ctx, 1, (int64_t[]){5}, 5, 0.5f, 1.5f), *bl = rand_tensor(&ctx, 1, (int64_t[]){5}, 6, -1, 1);
  xl->requires_grad = wl->requires_grad = bl->requires_grad = 1;
  vp_tensor *inl[3] = {xl, wl, bl};
  norm_arg ln = {1, 1, 0, 1e-5f}, ln_na = {1, 0, 0, 1e-5f};
  th_gradcheck("layer_norm fd", f_norm, &ln, inl, 3, 1e-2f, 64, 1e-2);
  th_gradcheck("layer_norm no affine fd", f_norm, &ln_na, inl, 1, 1e-2f, 64, 1e-2);

  // Inference mode records nothing.
  vp_ctx inf;
  ctx_init(&inf, 1 << 16);
  vp_tensor *yi = op_group_norm(&inf, x, 2, w, b, 1e-5f);
  th_check(inf.tape->n == 0 && !yi->requires_grad, "group_norm: inference mode recorded a node");
  ctx_free(&inf);
  ctx_free(&ctx);

  // Fast vs reference kernels on benchmark-like shapes and awkward sizes.
  compare_group_norm("group_norm (4,64,16x16) g8", 4, 64, 256, 8, 0.f, 1);
  compare_group_norm("group_norm (2,6,3000) g3 offset", 2, 6, 3000, 3, 50.f, 1);  // groups over several chunks
  compare_group_norm("group_norm (3,10,37) g5 no affine", 3, 10, 37, 5, 0.f, 0);
  compare_group_norm("group_norm (1,4,1) g1", 1, 4, 1, 1, 0.f, 1);
  compare_layer_norm("layer_norm (300,192)", 300, 192, 0.f, 1);
  compare_layer_norm("layer_norm (5,2500) offset", 5, 2500, -40.f, 1);
  compare_layer_norm("layer_norm (257,33) no affine", 257, 33, 0.f, 0);
  check_offset_stats();
  check_two_uses(0);
  check_two_uses(1);

  th_check(dies(bad_groups, NULL), "group_norm: groups not dividing C was accepted");
  th_check(dies(bad_gn_weight, NULL), "group_norm: wrong weight shape was accepted");
  th_check(dies(bad_gn_rank, NULL), "group_norm: 1-D input was accepted");
  th_check(dies(bad_ln_bias, NULL), "layer_norm: wrong bias shape was accepted");
  th_check(!dies(good_gn, NULL), "group_norm: valid input was rejected");
  return th_summary();
}
