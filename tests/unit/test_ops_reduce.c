// test_ops_reduce.c: sum / mean over axes and the MSE / L1 losses against
// PyTorch goldens, finite differences, fast-vs-reference kernels, 0-dim loss
// outputs driving tape_backward, and bad-input errors.
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/kernel_mode.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/reduce.h"
#include "ops/elem.h"
#include "ops/reduce.h"

typedef struct {
  int mean, naxes, keepdim;
  int axes[VP_MAXDIM];
} red_arg;

static vp_tensor *f_reduce(vp_ctx *c, vp_tensor **in, void *a) {
  red_arg *r = a;
  return (r->mean ? op_mean : op_sum)(c, in[0], r->axes, r->naxes, r->keepdim);
}
static vp_tensor *f_mse(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_mse_loss(c, in[0], in[1]); }
static vp_tensor *f_l1(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_l1_loss(c, in[0], in[1]); }

// Same names as tools/golden/g_reduce.py.
static const char *REDUCTIONS[] = {"d1_keep", "d02", "last", "d13_keep", "hw_keep", "bhw",
                                   "all", "all_keep", "all_listed", "size1", "six", "vec", NULL};

static void golden_tests(void) {
  golden *g = golden_open("reduce");
  const char *x[] = {"x"}, *xy[] = {"x", "y"};
  for (const char **p = REDUCTIONS; *p; p++)
    for (int mean = 0; mean < 2; mean++) {
      char cas[64], at[16];
      snprintf(cas, sizeof cas, "%s_%s", mean ? "mean" : "sum", *p);
      red_arg r = {mean, (int)golden_attr_int(g, cas, "naxes"), (int)golden_attr_int(g, cas, "keepdim"), {0}};
      for (int i = 0; i < r.naxes; i++) {
        snprintf(at, sizeof at, "ax%d", i);
        r.axes[i] = (int)golden_attr_int(g, cas, at);
      }
      golden_run_case(g, cas, f_reduce, &r, x, 1, 1e-5, 1e-4);
    }
  const char *mse[] = {"mse", "mse_gx", "mse_0d"}, *l1[] = {"l1", "l1_gx", "l1_0d"};
  for (int i = 0; i < 3; i++) {
    golden_run_case(g, mse[i], f_mse, NULL, xy, 2, 1e-5, 1e-4);
    golden_run_case(g, l1[i], f_l1, NULL, xy, 2, 1e-5, 1e-4);
  }
  golden_close(g);
}

static vp_tensor *rand_tensor(vp_ctx *ctx, int nd, const int64_t *s, uint64_t seed) {
  vp_tensor *t = tensor_new(ctx, nd, s);
  th_fill_uniform(t->data, tensor_numel(t), seed, -1.f, 1.f);
  t->requires_grad = 1;
  return t;
}

static void fd_tests(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t s[4] = {2, 3, 2, 2};
  vp_tensor *x = rand_tensor(&ctx, 4, s, 1);
  red_arg r[] = {{0, 2, 0, {0, -1}}, {1, 1, 1, {1}}, {1, 0, 0, {0}}, {0, 0, 1, {0}}};
  for (int i = 0; i < 4; i++) {
    char what[32];
    snprintf(what, sizeof what, "%s fd %d", r[i].mean ? "mean" : "sum", i);
    th_gradcheck(what, f_reduce, &r[i], &x, 1, 1e-2f, 64, 1e-2);
  }
  vp_tensor *xy[2] = {rand_tensor(&ctx, 4, s, 2), rand_tensor(&ctx, 4, s, 3)};
  th_gradcheck("mse fd", f_mse, NULL, xy, 2, 1e-2f, 64, 1e-2);
  // L1 is smooth away from x == y; the random inputs differ by far more than eps.
  th_gradcheck("l1 fd", f_l1, NULL, xy, 2, 1e-3f, 64, 1e-2);
  ctx_free(&ctx);
}

static void fast_vs_ref(void) {
  struct { int nd; int64_t xs[6], rs[6]; } P[] = {
      {4, {8, 64, 32, 32}, {1, 64, 1, 1}},      // per-channel (bias / norm gradient)
      {4, {8, 64, 32, 32}, {8, 64, 1, 1}},      // over H, W
      {3, {16, 512, 96}, {1, 1, 96}},           // bias over (B, N, C)
      {3, {2, 4096, 40}, {2, 1, 40}},
      {2, {3, 300000}, {3, 1}},                 // few long rows: split across threads
      {1, {500000}, {1}},                       // everything
      {6, {3, 4, 5, 6, 7, 8}, {3, 1, 5, 1, 7, 1}},
      {6, {3, 4, 5, 6, 7, 8}, {1, 4, 1, 6, 1, 8}},
      {3, {50, 60, 70}, {50, 60, 70}},          // nothing reduced
      {2, {40000, 2}, {1, 2}},                  // short kept rows, many reduced rows
  };
  int np = (int)(sizeof P / sizeof P[0]);
  for (int p = 0; p < np; p++) {
    int nd = P[p].nd;
    int64_t n = 1, ny = 1;
    for (int d = 0; d < nd; d++) { n *= P[p].xs[d]; ny *= P[p].rs[d]; }
    float *x = malloc((size_t)n * 4), *y1 = malloc((size_t)ny * 4), *y2 = malloc((size_t)ny * 4);
    float *gx1 = calloc((size_t)n, 4), *gx2 = calloc((size_t)n, 4);
    // Mostly positive, so that the sums are well conditioned.
    th_fill_uniform(x, n, 60 + p, -0.5f, 1.5f);
    char what[64];
    cpu_sum_fwd_ref(nd, P[p].xs, x, P[p].rs, y1, 0.5f, 0);
    cpu_sum_fwd(nd, P[p].xs, x, P[p].rs, y2, 0.5f, 0);
    snprintf(what, sizeof what, "sum fast vs ref %d", p);
    th_check_rel(what, y2, y1, ny, 1e-6);
    cpu_sum_fwd_ref(nd, P[p].xs, x, P[p].rs, y1, -1.f, 1);
    cpu_sum_fwd(nd, P[p].xs, x, P[p].rs, y2, -1.f, 1);
    snprintf(what, sizeof what, "sum+= fast vs ref %d", p);
    th_check_rel(what, y2, y1, ny, 1e-5);
    th_fill_uniform(y1, ny, 70 + p, -1, 1);
    cpu_sum_bwd_ref(nd, P[p].xs, gx1, P[p].rs, y1, 0.25f);
    cpu_sum_bwd(nd, P[p].xs, gx2, P[p].rs, y1, 0.25f);
    snprintf(what, sizeof what, "sum bwd fast vs ref %d", p);
    th_check_rel(what, gx2, gx1, n, 1e-7);
    free(x); free(y1); free(y2); free(gx1); free(gx2);
  }
  int64_t n = 300007;
  float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
  float *g[4];
  for (int i = 0; i < 4; i++) g[i] = calloc((size_t)n, 4);
  th_fill_uniform(x, n, 80, -1, 1);
  th_fill_uniform(y, n, 81, -1, 1);
  for (int64_t i = 0; i < n; i += 5) y[i] = x[i];
  float a = cpu_mse_fwd_ref(n, x, y), b = cpu_mse_fwd(n, x, y);
  th_check(fabsf(a - b) <= 1e-6f * fabsf(a), "mse fast vs ref: %g vs %g", a, b);
  a = cpu_l1_fwd_ref(n, x, y);
  b = cpu_l1_fwd(n, x, y);
  th_check(fabsf(a - b) <= 1e-6f * fabsf(a), "l1 fast vs ref: %g vs %g", a, b);
  cpu_mse_bwd_ref(n, x, y, 0.7f, g[0], g[1]);
  cpu_mse_bwd(n, x, y, 0.7f, g[2], g[3]);
  th_check_rel("mse bwd gx fast vs ref", g[2], g[0], n, 1e-7);
  th_check_rel("mse bwd gy fast vs ref", g[3], g[1], n, 1e-7);
  for (int i = 0; i < 4; i++) memset(g[i], 0, (size_t)n * 4);
  cpu_l1_bwd_ref(n, x, y, 0.7f, g[0], g[1]);
  cpu_l1_bwd(n, x, y, 0.7f, g[2], g[3]);
  th_check_rel("l1 bwd gx fast vs ref", g[2], g[0], n, 1e-7);
  th_check_rel("l1 bwd gy fast vs ref", g[3], g[1], n, 1e-7);
  th_check(g[2][5] == 0.f && g[2][6] != 0.f, "l1 gradient is 0 where x == y");
  for (int i = 0; i < 4; i++) free(g[i]);
  free(x); free(y);
}

// A 0-dim loss seeds tape_backward directly, through a small graph.
static void loss_backward_test(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  int64_t s[2] = {3, 4};
  vp_tensor *x = rand_tensor(&ctx, 2, s, 11), *t = rand_tensor(&ctx, 2, s, 12);
  t->requires_grad = 0;
  vp_tensor *l = op_add(&ctx, op_mse_loss(&ctx, x, t), op_scale(&ctx, op_l1_loss(&ctx, x, t), 0.5f));
  th_check(l->ndim == 0 && tensor_numel(l) == 1, "loss is 0-dim");
  double want = 0;
  for (int i = 0; i < 12; i++) {
    double d = (double)x->data[i] - t->data[i];
    want += d * d / 12 + 0.5 * fabs(d) / 12;
  }
  th_check(fabs(l->data[0] - want) < 1e-6, "loss value %g vs %g", l->data[0], want);
  tape_backward(&ctx, l);
  int ok = x->grad != NULL && t->grad == NULL;
  for (int i = 0; ok && i < 12; i++) {
    double d = (double)x->data[i] - t->data[i];
    double gw = 2 * d / 12 + 0.5 * (d > 0 ? 1 : d < 0 ? -1 : 0) / 12;
    ok = fabs(x->grad[i] - gw) < 1e-6;
  }
  th_check(ok, "tape_backward from a 0-dim loss");
  ctx_free(&ctx);
  // mean over everything -> 0-dim, then backward (a fresh tape)
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  x = rand_tensor(&ctx, 2, s, 13);
  vp_tensor *m = op_mean(&ctx, x, NULL, 0, 0);
  th_check(m->ndim == 0, "mean over all axes is 0-dim");
  tape_backward(&ctx, m);
  th_check(x->grad && fabsf(x->grad[7] - 1.f / 12) < 1e-7f, "mean backward spreads 1/n");
  ctx_free(&ctx);
}

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

static void bad_call(void *arg) {
  int k = *(int *)arg;
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t s[3] = {2, 3, 4}, s2[3] = {2, 4, 3};
  vp_tensor *x = tensor_zeros(&ctx, 3, s), *y = tensor_zeros(&ctx, 3, s2);
  int ax_big[1] = {3}, ax_twice[2] = {1, -2};
  switch (k) {
    case 0: op_sum(&ctx, x, ax_big, 1, 0); break;
    case 1: op_mean(&ctx, x, ax_twice, 2, 0); break;
    case 2: op_mse_loss(&ctx, x, y); break;
    case 3: op_l1_loss(&ctx, x, y); break;
  }
  ctx_free(&ctx);
}

int main(void) {
  golden_tests();
  fd_tests();
  fast_vs_ref();
  loss_backward_test();
  const char *bad[] = {"axis out of range", "axis twice", "mse shape mismatch", "l1 shape mismatch"};
  for (int k = 0; k < 4; k++) th_check(dies(bad_call, &k), "bad input is an error: %s", bad[k]);
  return th_summary();
}
