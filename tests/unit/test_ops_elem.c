// test_ops_elem.c: broadcasting add/sub/mul/div, scale, add_scalar and clamp
// against PyTorch goldens, finite differences, and fast-vs-reference kernels
// on bigger broadcast shapes.
#include <math.h>
#include <string.h>

#include "core/kernel_mode.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/elem.h"
#include "ops/elem.h"

typedef vp_tensor *(*binop_fn)(vp_ctx *, vp_tensor *, vp_tensor *);
static vp_tensor *f_bin(vp_ctx *c, vp_tensor **in, void *a) { return ((binop_fn *)a)[0](c, in[0], in[1]); }
static vp_tensor *f_self(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_mul(c, in[0], in[0]); }
static vp_tensor *f_scale(vp_ctx *c, vp_tensor **in, void *a) { return op_scale(c, in[0], *(float *)a); }
static vp_tensor *f_add_scalar(vp_ctx *c, vp_tensor **in, void *a) { return op_add_scalar(c, in[0], *(float *)a); }
static vp_tensor *f_clamp(vp_ctx *c, vp_tensor **in, void *a) {
  float *b = a;
  return op_clamp(c, in[0], b[0], b[1]);
}

// Same names as tools/golden/g_elem.py.
static const char *ADD_PAT[] = {"same", "chw", "bc11", "row_col", "bias", "one", "zerodim",
                                "zerodim_a", "zerodim_both", "six", "lead", NULL};
static const char *SUB_PAT[] = {"same", "chw", "row_col", "zerodim", NULL};
static const char *MUL_PAT[] = {"same", "chw", "bc11", "row_col", "bias", "zerodim", "six", "lead", NULL};
static const char *DIV_PAT[] = {"same", "chw", "bc11", "row_col", "bias", "six", NULL};

static void golden_tests(void) {
  golden *g = golden_open("elem");
  const char *ab[] = {"a", "b"}, *x[] = {"x"};
  struct { const char *name; binop_fn fn; const char **pat; } ops[] = {
      {"add", op_add, ADD_PAT}, {"sub", op_sub, SUB_PAT}, {"mul", op_mul, MUL_PAT}, {"div", op_div, DIV_PAT}};
  for (int o = 0; o < 4; o++)
    for (const char **p = ops[o].pat; *p; p++) {
      char cas[64];
      snprintf(cas, sizeof cas, "%s_%s", ops[o].name, *p);
      golden_run_case(g, cas, f_bin, &ops[o].fn, ab, 2, 1e-5, 1e-4);
    }
  binop_fn mul = op_mul, dv = op_div;
  golden_run_case(g, "mul_chw_gb", f_bin, &mul, ab, 2, 1e-5, 1e-4);
  golden_run_case(g, "div_bias_ga", f_bin, &dv, ab, 2, 1e-5, 1e-4);
  golden_run_case(g, "div_chw_gb", f_bin, &dv, ab, 2, 1e-5, 1e-4);
  golden_run_case(g, "mul_self", f_self, NULL, x, 1, 1e-5, 1e-4);
  float s = (float)golden_attr_double(g, "scale", "s");
  golden_run_case(g, "scale", f_scale, &s, x, 1, 1e-5, 1e-4);
  float t = (float)golden_attr_double(g, "add_scalar", "s");
  golden_run_case(g, "add_scalar", f_add_scalar, &t, x, 1, 1e-5, 1e-4);
  const char *cl[] = {"clamp", "clamp_0d"};
  for (int i = 0; i < 2; i++) {
    float b[2] = {(float)golden_attr_double(g, cl[i], "lo"), (float)golden_attr_double(g, cl[i], "hi")};
    golden_run_case(g, cl[i], f_clamp, b, x, 1, 1e-5, 1e-4);
  }
  golden_close(g);
}

static vp_tensor *rand_tensor(vp_ctx *ctx, int nd, const int64_t *s, uint64_t seed, float lo, float hi) {
  vp_tensor *t = tensor_new(ctx, nd, s);
  th_fill_uniform(t->data, tensor_numel(t), seed, lo, hi);
  t->requires_grad = 1;
  return t;
}

// Positive values keep the finite differences of a / b smooth.
static void fd_tests(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  struct { int na; int64_t sa[4]; int nb; int64_t sb[4]; } pat[] = {
      {4, {2, 3, 2, 2}, 3, {3, 1, 1}},
      {4, {2, 3, 1, 1}, 4, {2, 3, 2, 2}},
      {1, {4}, 2, {3, 1}},
      {2, {2, 3}, 0, {0}},
  };
  binop_fn fns[4] = {op_add, op_sub, op_mul, op_div};
  const char *names[4] = {"add", "sub", "mul", "div"};
  for (int p = 0; p < 4; p++)
    for (int o = 0; o < 4; o++) {
      vp_tensor *in[2] = {rand_tensor(&ctx, pat[p].na, pat[p].sa, 10 + p, 0.5f, 1.5f),
                          rand_tensor(&ctx, pat[p].nb, pat[p].sb, 20 + p, 0.5f, 1.5f)};
      char what[64];
      snprintf(what, sizeof what, "%s pattern %d fd", names[o], p);
      th_gradcheck(what, f_bin, &fns[o], in, 2, 1e-2f, 64, 1e-2);
    }
  int64_t s[3] = {2, 3, 4};
  vp_tensor *x = rand_tensor(&ctx, 3, s, 5, -1.f, 1.f);
  float sc = 0.3f, b[2] = {-0.4f, 0.6f};
  th_gradcheck("scale fd", f_scale, &sc, &x, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("add_scalar fd", f_add_scalar, &sc, &x, 1, 1e-2f, 64, 1e-2);
  // Keep values away from the clamp bounds (the kink).
  for (int64_t i = 0; i < 24; i++)
    if (fabsf(x->data[i] - b[0]) < 0.05f || fabsf(x->data[i] - b[1]) < 0.05f) x->data[i] += 0.1f;
  th_gradcheck("clamp fd", f_clamp, b, &x, 1, 1e-2f, 64, 1e-2);
  ctx_free(&ctx);
}

// Fast kernels vs references on shapes big enough for the OpenMP paths.
static void fast_vs_ref(void) {
  struct { int nd; int64_t ys[6], as[6], bs[6]; } pat[] = {
      {4, {4, 32, 24, 40}, {4, 32, 24, 40}, {4, 32, 24, 40}},
      {4, {4, 32, 24, 40}, {4, 32, 24, 40}, {1, 32, 1, 1}},
      {4, {4, 32, 24, 40}, {4, 32, 1, 1}, {4, 32, 24, 40}},
      {3, {8, 500, 64}, {8, 500, 64}, {1, 1, 64}},
      {2, {300, 257}, {1, 257}, {300, 1}},
      {3, {2, 70000, 3}, {2, 70000, 1}, {1, 1, 3}},
      {6, {3, 4, 5, 6, 7, 8}, {3, 1, 5, 1, 7, 1}, {1, 4, 1, 6, 1, 8}},
      {2, {5000, 20}, {5000, 20}, {1, 1}},
  };
  int np = (int)(sizeof pat / sizeof pat[0]);
  for (int p = 0; p < np; p++) {
    int nd = pat[p].nd;
    int64_t n = 1, na = 1, nb = 1;
    for (int d = 0; d < nd; d++) { n *= pat[p].ys[d]; na *= pat[p].as[d]; nb *= pat[p].bs[d]; }
    float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4), *y = malloc((size_t)n * 4),
          *gy = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4), *y2 = malloc((size_t)n * 4);
    float *ga1 = calloc((size_t)na, 4), *ga2 = calloc((size_t)na, 4), *gb1 = calloc((size_t)nb, 4),
          *gb2 = calloc((size_t)nb, 4);
    // Mostly positive values: long sums of zero-mean terms cancel, and the
    // comparison would then measure the conditioning, not the kernels.
    th_fill_uniform(a, na, 31 + p, -0.25f, 1.25f);
    th_fill_uniform(b, nb, 41 + p, 0.5f, 1.5f);
    th_fill_uniform(gy, n, 51 + p, -0.5f, 1.5f);
    for (int op = VP_BIN_ADD; op <= VP_BIN_DIV; op++) {
      char what[80];
      cpu_binary_fwd_ref(op, nd, pat[p].ys, y1, a, pat[p].as, b, pat[p].bs, 1.f, 0);
      cpu_binary_fwd(op, nd, pat[p].ys, y2, a, pat[p].as, b, pat[p].bs, 1.f, 0);
      snprintf(what, sizeof what, "fast vs ref fwd op %d pattern %d", op, p);
      th_check_rel(what, y2, y1, n, 1e-6);
      // accumulate with a scale
      memcpy(y, y1, (size_t)n * 4);
      cpu_binary_fwd_ref(op, nd, pat[p].ys, y1, a, pat[p].as, b, pat[p].bs, -0.5f, 1);
      cpu_binary_fwd(op, nd, pat[p].ys, y, a, pat[p].as, b, pat[p].bs, -0.5f, 1);
      snprintf(what, sizeof what, "fast vs ref fwd+= op %d pattern %d", op, p);
      th_check_rel(what, y, y1, n, 1e-6);
      cpu_binary_fwd_ref(op, nd, pat[p].ys, y, a, pat[p].as, b, pat[p].bs, 1.f, 0);
      memset(ga1, 0, (size_t)na * 4); memset(ga2, 0, (size_t)na * 4);
      memset(gb1, 0, (size_t)nb * 4); memset(gb2, 0, (size_t)nb * 4);
      cpu_binary_bwd_ref(op, nd, pat[p].ys, y, gy, a, pat[p].as, ga1, b, pat[p].bs, gb1);
      cpu_binary_bwd(op, nd, pat[p].ys, y, gy, a, pat[p].as, ga2, b, pat[p].bs, gb2);
      snprintf(what, sizeof what, "fast vs ref bwd ga op %d pattern %d", op, p);
      th_check_rel(what, ga2, ga1, na, 1e-5);
      snprintf(what, sizeof what, "fast vs ref bwd gb op %d pattern %d", op, p);
      th_check_rel(what, gb2, gb1, nb, 1e-5);
    }
    free(a); free(b); free(y); free(gy); free(y1); free(y2);
    free(ga1); free(ga2); free(gb1); free(gb2);
  }
  // Pointwise kernels.
  int64_t n = 100003;
  float *x = malloc((size_t)n * 4), *g = malloc((size_t)n * 4), *r1 = malloc((size_t)n * 4),
        *r2 = malloc((size_t)n * 4);
  th_fill_uniform(x, n, 3, -2, 2);
  th_fill_uniform(g, n, 4, -1, 1);
  x[7] = -1.f;  // on a bound
  cpu_clamp_fwd_ref(n, x, -1.f, 1.f, r1);
  cpu_clamp_fwd(n, x, -1.f, 1.f, r2);
  th_check_rel("clamp fwd fast vs ref", r2, r1, n, 0);
  memset(r1, 0, (size_t)n * 4); memset(r2, 0, (size_t)n * 4);
  cpu_clamp_bwd_ref(n, x, -1.f, 1.f, g, r1);
  cpu_clamp_bwd(n, x, -1.f, 1.f, g, r2);
  th_check_rel("clamp bwd fast vs ref", r2, r1, n, 0);
  th_check(r2[7] == g[7], "clamp passes the gradient at x == lo");
  cpu_affine_fwd_ref(n, x, 0.7f, -0.2f, r1);
  cpu_affine_fwd(n, x, 0.7f, -0.2f, r2);
  th_check_rel("affine fwd fast vs ref", r2, r1, n, 1e-7);
  free(x); free(g); free(r1); free(r2);
}

// Direct semantic checks that do not depend on PyTorch.
static void misc_tests(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  // (4,) + (3, 1) -> (3, 4): y[i][j] = a[j] + b[i]
  float av[4] = {1, 2, 3, 4}, bv[3] = {10, 20, 30};
  int64_t s4 = 4, s31[2] = {3, 1};
  vp_tensor *a = tensor_from(&ctx, 1, &s4, av), *b = tensor_from(&ctx, 2, s31, bv);
  a->requires_grad = b->requires_grad = 1;
  vp_tensor *y = op_add(&ctx, a, b);
  th_check(y->ndim == 2 && y->shape[0] == 3 && y->shape[1] == 4, "(4,) + (3,1) has shape (3, 4)");
  th_check(y->data[1 * 4 + 2] == 23.f, "(4,) + (3,1) values");
  float ones[12];
  for (int i = 0; i < 12; i++) ones[i] = 1.f;
  tape_backward_from(&ctx, y, ones);
  th_check(a->grad[0] == 3.f && b->grad[0] == 4.f, "broadcast grads are summed over stretched dims");
  // 0-dim op 0-dim -> 0-dim, and it can seed tape_backward.
  vp_tensor *u = tensor_new(&ctx, 0, NULL), *v = tensor_new(&ctx, 0, NULL);
  u->data[0] = 3.f;
  v->data[0] = 2.f;
  u->requires_grad = v->requires_grad = 1;
  vp_tensor *q = op_div(&ctx, u, v);
  th_check(q->ndim == 0 && q->data[0] == 1.5f, "0-dim / 0-dim is 0-dim");
  tape_backward(&ctx, q);
  th_check(fabsf(u->grad[0] - 0.5f) < 1e-7f && fabsf(v->grad[0] + 0.75f) < 1e-7f, "0-dim div grads");
  // Inference mode records nothing.
  ctx_set_training(&ctx, 0);
  vp_tensor *z = op_mul(&ctx, a, b);
  th_check(!z->requires_grad, "no tape in inference mode");
  ctx_free(&ctx);
}

int main(void) {
  golden_tests();
  fd_tests();
  fast_vs_ref();
  misc_tests();
  return th_summary();
}
