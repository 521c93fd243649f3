// harness.c: pass/fail counting, relative errors, finite-difference checks.
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

int th_passed = 0, th_failed = 0;

void th_check(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (ok) {
    th_passed++;
  } else {
    th_failed++;
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
  }
  va_end(ap);
}

double th_rel_err(const float *got, const float *ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)got[i] - (double)ref[i];
    if (isnan(got[i]) || isinf(got[i])) return INFINITY;
    num += d * d;
    den += (double)ref[i] * ref[i];
  }
  if (den < 1e-30) return sqrt(num);
  return sqrt(num / den);
}

int th_check_rel(const char *what, const float *got, const float *ref, int64_t n, double tol) {
  double e = th_rel_err(got, ref, n);
  int ok = e <= tol;
  th_check(ok, "%s: relative error %.3e > %.1e", what, e, tol);
  if (getenv("VP_TEST_VERBOSE")) printf("  %-48s rel err %.3e (tol %.0e)\n", what, e, tol);
  return ok;
}

int th_summary(void) {
  printf("%d passed, %d failed\n", th_passed, th_failed);
  return th_failed ? 1 : 0;
}

void th_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  for (int64_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    double u = (double)(s >> 11) / 9007199254740992.0;
    x[i] = lo + (hi - lo) * (float)u;
  }
}

// sum(out * r) in double.
static double weighted_sum(const vp_tensor *out, const float *r) {
  double s = 0;
  int64_t n = tensor_numel(out);
  for (int64_t i = 0; i < n; i++) s += (double)out->data[i] * r[i];
  return s;
}

double th_gradcheck(const char *what, th_fn f, void *arg, vp_tensor **in, int nin,
                    float eps, int max_probe, double tol) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  for (int i = 0; i < nin; i++) in[i]->grad = NULL;
  vp_tensor *out = f(&ctx, in, arg);
  int64_t nout = tensor_numel(out);
  float *r = vp_malloc((size_t)nout * sizeof(float));
  th_fill_uniform(r, nout, 77, -1.f, 1.f);
  tape_backward_from(&ctx, out, r);
  // Copy analytic grads out before the arena is reused.
  float **ga = vp_calloc((size_t)nin, sizeof(float *));
  for (int i = 0; i < nin; i++) {
    if (!in[i]->requires_grad) continue;
    int64_t n = tensor_numel(in[i]);
    ga[i] = vp_calloc((size_t)n, sizeof(float));
    if (in[i]->grad) memcpy(ga[i], in[i]->grad, (size_t)n * sizeof(float));
  }
  ctx_set_training(&ctx, 0);
  double worst = 0;
  for (int i = 0; i < nin; i++) {
    if (!ga[i]) continue;
    int64_t n = tensor_numel(in[i]);
    int64_t step = n > max_probe ? n / max_probe : 1;
    for (int64_t j = 0; j < n; j += step) {
      float x0 = in[i]->data[j];
      in[i]->data[j] = x0 + eps;
      ctx_reset(&ctx);
      double fp = weighted_sum(f(&ctx, in, arg), r);
      in[i]->data[j] = x0 - eps;
      ctx_reset(&ctx);
      double fm = weighted_sum(f(&ctx, in, arg), r);
      in[i]->data[j] = x0;
      double num = (fp - fm) / (2.0 * eps);
      double err = fabs(num - ga[i][j]) / fmax(1.0, fabs(num));
      if (err > worst) worst = err;
    }
    free(ga[i]);
  }
  free(ga);
  free(r);
  for (int i = 0; i < nin; i++) in[i]->grad = NULL;
  ctx_free(&ctx);
  th_check(worst <= tol, "%s: finite-difference gradient error %.3e > %.1e", what, worst, tol);
  if (getenv("VP_TEST_VERBOSE")) printf("  %-48s fd err %.3e (tol %.0e)\n", what, worst, tol);
  return worst;
}
