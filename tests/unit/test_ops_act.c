// test_ops_act.c: activations and softmax against PyTorch goldens
// (tools/golden/g_act.py), finite differences, fast-vs-reference kernels on a
// wide range of inputs (tails included), and bad-input errors.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/act.h"
#include "ops/act.h"

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

static vp_tensor *f_silu(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_silu(c, in[0]); }
static vp_tensor *f_gelu(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_gelu(c, in[0], 0); }
static vp_tensor *f_gelu_tanh(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_gelu(c, in[0], 1); }
static vp_tensor *f_geglu(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_geglu(c, in[0]); }
static vp_tensor *f_relu(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_relu(c, in[0]); }
static vp_tensor *f_leaky(vp_ctx *c, vp_tensor **in, void *a) { return op_leaky_relu(c, in[0], *(float *)a); }
static vp_tensor *f_tanh(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_tanh(c, in[0]); }
static vp_tensor *f_sigmoid(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_sigmoid(c, in[0]); }
static vp_tensor *f_softmax(vp_ctx *c, vp_tensor **in, void *a) { (void)a; return op_softmax(c, in[0]); }

static float *rand_buf(int64_t n, uint64_t seed, float lo, float hi) {
  float *p = vp_malloc((size_t)n * sizeof(float));
  th_fill_uniform(p, n, seed, lo, hi);
  return p;
}

// Largest elementwise |got - ref| / max(|ref|, floor).
static double max_rel(const float *got, const float *ref, int64_t n, double floor) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - ref[i]) / fmax(fabs((double)ref[i]), floor);
    if (!(e <= worst)) worst = e;  // NaN counts as worst
  }
  return worst;
}

typedef void (*fwd_fn)(const float *, float *, int64_t);
typedef void (*bwd_fn)(const float *, const float *, float *, int64_t);

// Elementwise fast vs reference on x spread over [-lim, lim] (tails included):
// forward elementwise relative to max(|ref|, 1e-3) and as an L2 error;
// backward relative to max(|ref|, 1), since derivatives cross zero where
// both kernels can only be absolutely accurate.
static void compare_unary(const char *what, fwd_fn ff, fwd_fn fr, bwd_fn bf, bwd_fn br, int bwd_from_y,
                          float lim, double tol) {
  int64_t n = 100003;  // odd: exercises the vector tails; large: exercises OpenMP
  float *x = rand_buf(n, 41, -lim, lim), *dy = rand_buf(n, 42, -1, 1);
  float *yf = vp_malloc((size_t)n * sizeof(float)), *yr = vp_malloc((size_t)n * sizeof(float));
  float *gf = vp_calloc((size_t)n, sizeof(float)), *gr = vp_calloc((size_t)n, sizeof(float));
  ff(x, yf, n);
  fr(x, yr, n);
  char s[160];
  double e = max_rel(yf, yr, n, 1e-3);
  th_check(e <= tol, "%s forward fast vs ref: max elementwise error %.3e > %.0e", what, e, tol);
  snprintf(s, sizeof s, "%s forward fast vs ref (L2)", what);
  th_check_rel(s, yf, yr, n, 1e-6);
  if (bf) {
    bf(bwd_from_y ? yr : x, dy, gf, n);
    (br ? br : bf)(bwd_from_y ? yr : x, dy, gr, n);
    e = max_rel(gf, gr, n, 1.0);
    th_check(e <= tol, "%s backward fast vs ref: max elementwise error %.3e > %.0e", what, e, tol);
  }
  free(x); free(dy); free(yf); free(yr); free(gf); free(gr);
}

static void gelu_fwd_f(const float *x, float *y, int64_t n) { cpu_gelu_fwd(x, y, n, 0); }
static void gelu_fwd_r(const float *x, float *y, int64_t n) { cpu_gelu_fwd_ref(x, y, n, 0); }
static void gelu_bwd_f(const float *x, const float *g, float *d, int64_t n) { cpu_gelu_bwd(x, g, d, n, 0); }
static void gelu_bwd_r(const float *x, const float *g, float *d, int64_t n) { cpu_gelu_bwd_ref(x, g, d, n, 0); }
static void gelut_fwd_f(const float *x, float *y, int64_t n) { cpu_gelu_fwd(x, y, n, 1); }
static void gelut_fwd_r(const float *x, float *y, int64_t n) { cpu_gelu_fwd_ref(x, y, n, 1); }
static void gelut_bwd_f(const float *x, const float *g, float *d, int64_t n) { cpu_gelu_bwd(x, g, d, n, 1); }
static void gelut_bwd_r(const float *x, const float *g, float *d, int64_t n) { cpu_gelu_bwd_ref(x, g, d, n, 1); }

static void compare_rows(const char *what, int64_t M, int64_t D, float lim, int geglu) {
  int64_t nin = M * D * (geglu ? 2 : 1), nout = M * D;
  float *x = rand_buf(nin, 51, -lim, lim), *dy = rand_buf(nout, 52, -1, 1);
  float *yf = vp_malloc((size_t)nout * sizeof(float)), *yr = vp_malloc((size_t)nout * sizeof(float));
  float *gf = vp_calloc((size_t)nin, sizeof(float)), *gr = vp_calloc((size_t)nin, sizeof(float));
  if (geglu) {
    cpu_geglu_fwd(x, yf, M, D);
    cpu_geglu_fwd_ref(x, yr, M, D);
    cpu_geglu_bwd(x, dy, gf, M, D);
    cpu_geglu_bwd_ref(x, dy, gr, M, D);
  } else {
    cpu_softmax_fwd(x, yf, M, D);
    cpu_softmax_fwd_ref(x, yr, M, D);
    cpu_softmax_bwd(yr, dy, gf, M, D);
    cpu_softmax_bwd_ref(yr, dy, gr, M, D);
  }
  char s[160];
  snprintf(s, sizeof s, "%s forward fast vs ref", what);
  th_check_rel(s, yf, yr, nout, 1e-6);
  snprintf(s, sizeof s, "%s backward fast vs ref", what);
  th_check_rel(s, gf, gr, nin, 1e-6);
  free(x); free(dy); free(yf); free(yr); free(gf); free(gr);
}

// Closed-form spot checks that do not depend on either kernel.
static void check_values(void) {
  float x[6] = {-100.f, -5.f, 0.f, 1e-4f, 3.f, 100.f}, y[6];
  cpu_sigmoid_fwd(x, y, 6);
  th_check(y[0] >= 0.f && y[0] < 1e-37f && fabsf(y[2] - 0.5f) < 1e-7f && y[5] == 1.f,
           "sigmoid tails: %g %g %g", (double)y[0], (double)y[2], (double)y[5]);
  cpu_tanh_fwd(x, y, 6);
  th_check(y[0] == -1.f && y[2] == 0.f && fabs(y[3] - tanh((double)x[3])) < 1e-11 && y[5] == 1.f,
           "tanh: %g %g %.9g %g", (double)y[0], (double)y[2], (double)y[3], (double)y[5]);
  cpu_gelu_fwd(x, y, 6, 0);
  th_check(fabs(y[1] - (-5.0 * 0.5 * erfc(5.0 / sqrt(2.0)))) < 3e-6 * 1.44e-6 && y[5] == 100.f && y[0] == 0.f,
           "gelu tails: %g %g %g", (double)y[0], (double)y[1], (double)y[5]);
  float big[3] = {1000.f, 1000.f, -1000.f}, p[3];
  cpu_softmax_fwd(big, p, 1, 3);
  th_check(fabsf(p[0] - 0.5f) < 1e-7f && fabsf(p[1] - 0.5f) < 1e-7f && p[2] == 0.f,
           "softmax of large logits: %g %g %g", (double)p[0], (double)p[1], (double)p[2]);
}

static void bad_geglu(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  op_geglu(&c, tensor_zeros(&c, 2, (int64_t[]){3, 5}));  // odd last dim
}
static void good_geglu(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  vp_tensor *y = op_geglu(&c, tensor_zeros(&c, 2, (int64_t[]){3, 6}));
  int ok = y->ndim == 2 && y->shape[0] == 3 && y->shape[1] == 3;
  ctx_free(&c);
  if (!ok) exit(1);
}

int main(void) {
  golden *g = golden_open("act");
  const char *x[] = {"x"};
  golden_run_case(g, "silu", f_silu, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "gelu_erf", f_gelu, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "gelu_tanh", f_gelu_tanh, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "geglu", f_geglu, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "geglu_2d", f_geglu, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "relu", f_relu, NULL, x, 1, 1e-5, 1e-4);
  float slope = (float)golden_attr_double(g, "leaky_relu", "slope");
  golden_run_case(g, "leaky_relu", f_leaky, &slope, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "tanh", f_tanh, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "sigmoid", f_sigmoid, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "softmax", f_softmax, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "softmax_3d", f_softmax, NULL, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "softmax_large", f_softmax, NULL, x, 1, 1e-5, 1e-4);
  golden_close(g);

  // Finite differences on tiny shapes (points away from ReLU's kink).
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  vp_tensor *t = tensor_newv(&ctx, 2, (int64_t)3, (int64_t)8);
  th_fill_uniform(t->data, 24, 7, -3, 3);
  for (int i = 0; i < 24; i++)
    if (fabsf(t->data[i]) < 0.1f) t->data[i] = 0.5f;
  t->requires_grad = 1;
  vp_tensor *in[1] = {t};
  float lslope = 0.1f;
  th_gradcheck("silu fd", f_silu, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("gelu fd", f_gelu, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("gelu tanh fd", f_gelu_tanh, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("geglu fd", f_geglu, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("relu fd", f_relu, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("leaky_relu fd", f_leaky, &lslope, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("tanh fd", f_tanh, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("sigmoid fd", f_sigmoid, NULL, in, 1, 1e-2f, 64, 1e-2);
  th_gradcheck("softmax fd", f_softmax, NULL, in, 1, 1e-2f, 64, 1e-2);
  ctx_free(&ctx);

  // Fast vs reference kernels over the whole useful range.
  compare_unary("silu", cpu_silu_fwd, cpu_silu_fwd_ref, cpu_silu_bwd, cpu_silu_bwd_ref, 0, 30.f, 2e-6);
  compare_unary("gelu", gelu_fwd_f, gelu_fwd_r, gelu_bwd_f, gelu_bwd_r, 0, 8.f, 2e-6);
  compare_unary("gelu tanh", gelut_fwd_f, gelut_fwd_r, gelut_bwd_f, gelut_bwd_r, 0, 8.f, 2e-6);
  compare_unary("tanh", cpu_tanh_fwd, cpu_tanh_fwd_ref, NULL, NULL, 1, 6.f, 2e-6);
  compare_unary("tanh small", cpu_tanh_fwd, cpu_tanh_fwd_ref, NULL, NULL, 1, 0.7f, 2e-6);
  compare_unary("sigmoid", cpu_sigmoid_fwd, cpu_sigmoid_fwd_ref, NULL, NULL, 1, 30.f, 2e-6);
  compare_rows("softmax (1000,77)", 1000, 77, 20.f, 0);
  compare_rows("geglu (500,130)", 500, 130, 6.f, 1);
  check_values();

  th_check(dies(bad_geglu, NULL), "geglu: odd last dim was accepted");
  th_check(!dies(good_geglu, NULL), "geglu: valid input was rejected");
  return th_summary();
}
