// test_ops_linear.c: linear / matmul / bmm against PyTorch goldens and
// finite differences.
#include "golden.h"
#include "harness.h"
#include "ops/linear.h"

static vp_tensor *f_linear(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_linear(c, in[0], in[1], in[2]); }
static vp_tensor *f_linear_nb(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_linear(c, in[0], in[1], NULL); }
static vp_tensor *f_matmul(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_matmul(c, in[0], in[1]); }
static vp_tensor *f_bmm(vp_ctx *c, vp_tensor **in, void *a) {
  int *t = a;
  return op_bmm(c, in[0], in[1], t[0], t[1]);
}

int main(void) {
  golden *g = golden_open("linear");
  const char *xwb[] = {"x", "w", "b"}, *ab[] = {"a", "b"};
  golden_run_case(g, "linear_bias", f_linear, NULL, xwb, 3, 1e-5, 1e-4);
  golden_run_case(g, "linear_nobias", f_linear_nb, NULL, xwb, 2, 1e-5, 1e-4);
  golden_run_case(g, "matmul", f_matmul, NULL, ab, 2, 1e-5, 1e-4);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      char cas[32];
      snprintf(cas, sizeof cas, "bmm_t%d%d", ta, tb);
      int t[2] = {ta, tb};
      golden_run_case(g, cas, f_bmm, t, ab, 2, 1e-5, 1e-4);
    }
  golden_close(g);

  // Finite differences on tiny shapes (independent of the goldens).
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  vp_tensor *x = tensor_newv(&ctx, 2, (int64_t)3, (int64_t)4), *w = tensor_newv(&ctx, 2, (int64_t)5, (int64_t)4),
            *b = tensor_newv(&ctx, 1, (int64_t)5);
  th_fill_uniform(x->data, 12, 1, -1, 1);
  th_fill_uniform(w->data, 20, 2, -1, 1);
  th_fill_uniform(b->data, 5, 3, -1, 1);
  x->requires_grad = w->requires_grad = b->requires_grad = 1;
  vp_tensor *in[3] = {x, w, b};
  th_gradcheck("linear fd", f_linear, NULL, in, 3, 1e-2f, 64, 1e-2);
  vp_tensor *a3 = tensor_newv(&ctx, 3, (int64_t)2, (int64_t)3, (int64_t)4), *b3 = tensor_newv(&ctx, 3, (int64_t)2, (int64_t)3, (int64_t)4);
  th_fill_uniform(a3->data, 24, 4, -1, 1);
  th_fill_uniform(b3->data, 24, 5, -1, 1);
  a3->requires_grad = b3->requires_grad = 1;
  vp_tensor *in2[2] = {a3, b3};
  int t01[2] = {0, 1}, t10[2] = {1, 0};
  th_gradcheck("bmm_t01 fd", f_bmm, t01, in2, 2, 1e-2f, 64, 1e-2);
  th_gradcheck("bmm_t10 fd", f_bmm, t10, in2, 2, 1e-2f, 64, 1e-2);
  ctx_free(&ctx);
  return th_summary();
}
