// test_metrics_crps.c: ensemble CRPS (src/eval/crps.c), standard and fair,
// against the spec's table (properscoring's own test cases), properscoring's
// CDF integral and WeatherBench2's rank formula re-derived in
// tools/ref_metrics.py (goldens), the deterministic quantile ensembles of the
// spec, and the Gaussian closed form through iid ensembles.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/crps.h"
#include "harness.h"
#include "metrics_testutil.h"

static const double PI = 3.14159265358979323846;

static void one(double y, const double *x, int m, double *c, double *f) {
  float xf[16];
  double buf[16];
  for (int i = 0; i < m; i++) xf[i] = (float)x[i];
  VP_ASSERT(crps_element(xf, m, 1, (float)y, buf, c, f));
}

static void test_spec_table(void) {
  struct {
    double y;
    double x[4];
    int m;
    double std, fair;
  } rows[] = {
      {0, {0, 1}, 2, 0.25, 0.0},        {2, {0, 1}, 2, 1.25, 1.0},
      {0, {-1, 1}, 2, 0.5, 0.0},        {0, {0, 0, 1}, 3, 1.0 / 9, 0.0},
      {1, {0, 0, 1}, 3, 4.0 / 9, 1.0 / 3}, {0, {-1, 0, 0, 1}, 4, 0.125, 0.0},
      {3, {1, 2, 4, 8}, 4, 0.8125, 1.0 / 3},
  };
  for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
    double c, f;
    one(rows[k].y, rows[k].x, rows[k].m, &c, &f);
    th_check(fabs(c - rows[k].std) < 1e-12 && fabs(f - rows[k].fair) < 1e-12,
             "spec row %zu (y %g, m %d): crps %.15g (want %.15g), fair %.15g (want %.15g)", k, rows[k].y,
             rows[k].m, c, rows[k].std, f, rows[k].fair);
    // Member order must not matter.
    double rev[4];
    for (int i = 0; i < rows[k].m; i++) rev[i] = rows[k].x[rows[k].m - 1 - i];
    double c2, f2;
    one(rows[k].y, rev, rows[k].m, &c2, &f2);
    th_check(c2 == c && f2 == f, "spec row %zu: independent of member order", k);
  }
  // m = 1: the absolute error; the fair estimator is undefined.
  double x1 = 0.7, c, f;
  one(0.2, &x1, 1, &c, &f);
  th_check(fabs(c - 0.5) < 1e-7 && isnan(f), "m = 1: crps = |x - y| = %.9g, fair NaN (%g)", c, f);
  one(0.0, (double[]){0.0}, 1, &c, &f);
  th_check(c == 0.0, "y = 0, members [0]: 0");
  // A non-finite member or observation: the element is skipped.
  float xn[2] = {NAN, 1.f};
  double buf[2];
  th_check(!crps_element(xn, 2, 1, 0.f, buf, &c, &f), "a NaN member skips the element");
  float xo[2] = {0.f, 1.f};
  th_check(!crps_element(xo, 2, 1, NAN, buf, &c, &f), "a NaN observation skips the element");
  th_check(!crps_element(xo, 2, 1, INFINITY, buf, &c, &f), "an infinite observation skips the element");
}

static void test_goldens(void) {
  hid_t f = mt_open();
  const int ms[] = {1, 2, 3, 7, 10, 40};
  for (int k = 0; k < 6; k++) {
    char p[96];
    int64_t d[8], n;
    snprintf(p, sizeof(p), "crps/m%d/x", ms[k]);
    float *x = mt_f32(f, p, d, &n);
    snprintf(p, sizeof(p), "crps/m%d/y", ms[k]);
    float *y = mt_f32(f, p, NULL, NULL);
    snprintf(p, sizeof(p), "crps/m%d/integral", ms[k]);
    double *ri = mt_f64(f, p, NULL, NULL);
    snprintf(p, sizeof(p), "crps/m%d/pairwise_fair", ms[k]);
    double *rp = mt_f64(f, p, NULL, NULL);
    snprintf(p, sizeof(p), "crps/m%d/wb2", ms[k]);
    double *rw = mt_f64(f, p, NULL, NULL);
    const int64_t E = d[0], m = d[1];
    double *buf = malloc((size_t)m * sizeof(double));
    double ws = 0, wf = 0, ww = 0;
    for (int64_t e = 0; e < E; e++) {
      double c, fr;
      // Members with a stride, as the evaluator reads them across samples.
      float *xs = malloc((size_t)(m * 3) * sizeof(float));
      for (int64_t i = 0; i < m; i++) xs[i * 3] = x[e * m + i];
      VP_ASSERT(crps_element(xs, m, 3, y[e], buf, &c, &fr));
      free(xs);
      ws = fmax(ws, fabs(c - ri[e]));
      if (m > 1) {
        wf = fmax(wf, fabs(fr - rp[e]));
        ww = fmax(ww, fabs(fr - rw[e]));
      } else {
        wf = fmax(wf, isnan(fr) ? 0.0 : INFINITY);
      }
    }
    th_check(ws < 1e-9, "m = %lld: crps vs properscoring integral, worst %.3g (tol 1e-9)", (long long)m, ws);
    th_check(wf < 1e-9 && ww < 1e-9, "m = %lld: crps_fair vs pairwise %.3g, vs WeatherBench2 ranks %.3g",
             (long long)m, wf, ww);
    free(buf);
    free(x);
    free(y);
    free(ri);
    free(rp);
    free(rw);
  }
  // Deterministic quantile ensembles x_i = Phi^-1((i - 0.5) / m) at y = 0.
  const struct {
    int m;
    double std, fair;
  } q[] = {{10, 0.239095959, 0.179734208}, {100, 0.233762651, 0.228085331}, {1000, 0.233695765, 0.233131188}};
  for (int k = 0; k < 3; k++) {
    char p[64];
    int64_t n;
    snprintf(p, sizeof(p), "crps_quantile/m%d/x", q[k].m);
    double *x = mt_f64(f, p, NULL, &n);
    snprintf(p, sizeof(p), "crps_quantile/m%d", q[k].m);
    double gi = mt_attr(f, p, "integral"), gf = mt_attr(f, p, "fair");
    crps_sort(x, n);
    double c, fr;
    crps_sorted(x, n, 0.0, &c, &fr);
    th_check(fabs(c - q[k].std) < 1e-9 && fabs(fr - q[k].fair) < 1e-9,
             "quantile ensemble m = %d: crps %.10f (spec %.9f), fair %.10f (spec %.9f)", q[k].m, c, q[k].std, fr,
             q[k].fair);
    th_check(fabs(c - gi) < 1e-12 && fabs(fr - gf) < 1e-12, "quantile ensemble m = %d vs references: %.3g, %.3g",
             q[k].m, fabs(c - gi), fabs(fr - gf));
    free(x);
  }
  H5Fclose(f);
}

// iid N(0, 1) members and observations: the fair estimator is unbiased for
// the CRPS of the N(0, 1) forecast, whose mean over y ~ N(0, 1) is
// E|X - Y| - E|X - X'| / 2 = 2/sqrt(pi) - 1/sqrt(pi) = 1/sqrt(pi); the
// standard one is biased up by E|X - X'| / (2m) = 1 / (m sqrt(pi)) (spec §4).
static void test_iid_closed_form(void) {
  const int m = 5;
  const int64_t E = 400000;
  float *x = malloc((size_t)(E * m) * sizeof(float)), *y = malloc((size_t)E * sizeof(float));
  rng_normal(77, VP_STREAM_TEST, 0, 1, 0, x, E * m);
  rng_normal(77, VP_STREAM_TEST, 0, 2, 0, y, E);
  double buf[5], sc = 0, sf = 0, sf2 = 0;
  for (int64_t e = 0; e < E; e++) {
    double c, f;
    crps_element(x + e * m, m, 1, y[e], buf, &c, &f);
    sc += c;
    sf += f;
    sf2 += f * f;
  }
  const double mc = sc / E, mf = sf / E, se = sqrt((sf2 / E - mf * mf) / E);
  const double truth = 1.0 / sqrt(PI);  // E_y crps_gaussian(0, 1, y), y ~ N(0, 1)
  const double bias = 1.0 / (m * sqrt(PI));
  th_check(fabs(mf - truth) < 4 * se, "iid N(0,1), m = %d: mean fair CRPS %.5f vs closed form %.5f (4 SE = %.5f)", m,
           mf, truth, 4 * se);
  th_check(fabs(mc - (truth + bias)) < 4 * se, "iid N(0,1), m = %d: mean crps %.5f vs closed form + 1/(m sqrt pi) %.5f",
           m, mc, truth + bias);
  // The Gaussian closed form at y = 0 against a fine quantile ensemble (spec: 0.233694977255).
  const int mq = 20000;
  double *q = malloc((size_t)mq * sizeof(double));
  for (int i = 0; i < mq; i++) {
    // Phi^-1 by bisection on erfc: slow, plain and exact enough.
    double p = (i + 0.5) / mq, lo = -10, hi = 10;
    for (int it = 0; it < 200; it++) {
      double mid = 0.5 * (lo + hi);
      if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid; else hi = mid;
    }
    q[i] = 0.5 * (lo + hi);
  }
  double c, f;
  crps_sorted(q, mq, 0.0, &c, &f);
  // The standard estimator of a quantile ensemble converges like 1/m^2 (spec
  // table: 6.8e-5 at m = 100, 7.9e-7 at m = 1000).
  th_check(fabs(c - 0.233694977255) < 1e-8,
           "CRPS of a 20000-quantile N(0,1) ensemble at y = 0: %.12f (closed form 0.233694977255)", c);
  free(q);
  free(x);
  free(y);
}

// The sorting network sorts; the block kernel equals the per-element
// reference bit for bit, skipping the same masked and non-finite elements.
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void test_network_and_rows(void) {
  int ok = 1;
  static int lo[1024], hi[1024];
  for (int m = 1; m <= 64 && ok; m++) {
    const int nc = crps_network(m, lo, hi);
    ok &= nc == crps_network(m, NULL, NULL) && nc <= 12 * 64;
    for (int trial = 0; trial < 20 && ok; trial++) {
      float r[64];
      double v[64], w[64];
      th_fill_uniform(r, m, (uint64_t)(m * 100 + trial), -3.f, 3.f);
      for (int i = 0; i < m; i++) v[i] = w[i] = trial % 3 == 0 ? nearbyint(r[i]) : r[i];  // ties too
      for (int c = 0; c < nc; c++) {
        ok &= lo[c] < hi[c] && hi[c] < m;
        double a = v[lo[c]], b = v[hi[c]];
        v[lo[c]] = a < b ? a : b;
        v[hi[c]] = a < b ? b : a;
      }
      qsort(w, (size_t)m, sizeof(double), cmp_d);
      for (int i = 0; i < m; i++) ok &= v[i] == w[i];  // == : -0 and +0 tie in either order
    }
  }
  th_check(ok, "Batcher networks sort every size 1..64 (random values and ties)");
  const int ms[] = {1, 2, 3, 5, 10, 17, 64, 65};
  for (int k = 0; k < 8; k++) {
    const int64_t m = ms[k], W = 37, C = 3, n = W * C, stride = n + 5;
    float *x = malloc((size_t)(m * stride) * sizeof(float)), y[111];
    uint8_t mask[37];
    th_fill_uniform(x, m * stride, (uint64_t)(7 + k), 0.f, 1.f);
    th_fill_uniform(y, n, (uint64_t)(70 + k), 0.f, 1.f);
    for (int i = 0; i < W; i++) mask[i] = (uint8_t)(i % 5 != 1);
    y[4] = NAN;
    y[8] = INFINITY;
    x[(m - 1) * stride + 20] = NAN;
    x[0 * stride + 30] = -INFINITY;
    double a1 = 0, b1 = 0, a2 = 0, b2 = 0;
    int64_t n1 = 0, n2 = 0;
    crps_row(x, m, stride, y, mask, C, n, &a1, &b1, &n1);
    crps_row_ref(x, m, stride, y, mask, C, n, &a2, &b2, &n2);
    int64_t want = 0;
    for (int64_t e = 0; e < n; e++) want += mask[e / C] && e != 4 && e != 8 && e != 20 && e != 30;
    th_check(n1 == n2 && n1 == want && a1 == a2 && (m == 1 ? isnan(b1) && isnan(b2) : b1 == b2),
             "m = %lld: block kernel %.17g / %.17g (%lld) vs reference %.17g / %.17g (%lld), want %lld elements",
             (long long)m, a1, b1, (long long)n1, a2, b2, (long long)n2, (long long)want);
    free(x);
  }
}

int main(void) {
  test_network_and_rows();
  test_spec_table();
  test_goldens();
  test_iid_closed_form();
  return th_summary();
}
