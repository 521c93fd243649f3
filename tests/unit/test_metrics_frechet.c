// test_metrics_frechet.c: Fréchet distance (src/eval/frechet.c) against the
// spec's numbers, the diagonal-Gaussian closed form, SciPy sqrtm (goldens,
// 1e-8 relative), and the rank / thread split of the statistics (bitwise).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/frechet.h"
#include "harness.h"
#include "metrics_testutil.h"

static double fd_rows(const double *a, int64_t na, const double *b, int64_t nb, int64_t D) {
  frechet_stats sa, sb;
  frechet_stats_init(&sa, D);
  frechet_stats_init(&sb, D);
  frechet_stats_compute(&sa, a, na, NULL);
  frechet_stats_compute(&sb, b, nb, NULL);
  double r = frechet_distance_stats(&sa, &sb);
  frechet_stats_free(&sa);
  frechet_stats_free(&sb);
  return r;
}

static void test_spec_numbers(void) {
  const double A[] = {0, 0, 1, 0, 0, 1, 2, 3}, B[] = {1, 1, 2, 2, 0, 1, 1, -1, 3, 0};
  double fd = fd_rows(A, 4, B, 5, 2);
  th_check(fabs(fd - 1.1743824432542525) < 1e-12, "spec A vs B (n - 1 covariance): %.16f", fd);
  const double Ap[] = {1, 0, -1, 0, 0, 1, 0, -1};
  double Bp[8];
  for (int i = 0; i < 8; i++) Bp[i] = 2 * Ap[i];
  fd = fd_rows(Ap, 4, Bp, 4, 2);
  th_check(fabs(fd - 4.0 / 3.0) < 1e-12, "spec A' vs 2 A': %.16f (4/3)", fd);
  // Diagonal Gaussians: FD = Σ(mu1 - mu2)^2 + Σ(sigma1 - sigma2)^2.
  enum { D = 5 };
  double mu1[D], mu2[D], c1[D * D] = {0}, c2[D * D] = {0}, want = 0.0;
  for (int i = 0; i < D; i++) {
    mu1[i] = 0.3 * i;
    mu2[i] = 1.0 - 0.2 * i;
    double s1 = 0.5 + i, s2 = 2.0 / (1 + i);
    c1[i * D + i] = s1 * s1;
    c2[i * D + i] = s2 * s2;
    want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (s1 - s2) * (s1 - s2);
  }
  fd = frechet_distance(mu1, c1, mu2, c2, D);
  th_check(fabs(fd - want) < 1e-12 * want, "diagonal Gaussians: %.15g vs closed form %.15g", fd, want);
  th_check(fabs(frechet_distance(mu1, c1, mu1, c1, D)) < 1e-12, "a Gaussian against itself: 0");
}

static void test_scipy_goldens(void) {
  hid_t f = mt_open();
  const char *cases[] = {"d8", "d32", "d3"};
  for (int k = 0; k < 3; k++) {
    char p[64];
    int64_t da[8], db[8], na, nb;
    snprintf(p, sizeof(p), "frechet/%s/a", cases[k]);
    float *a = mt_f32(f, p, da, &na);
    snprintf(p, sizeof(p), "frechet/%s/b", cases[k]);
    float *b = mt_f32(f, p, db, &nb);
    snprintf(p, sizeof(p), "frechet/%s", cases[k]);
    const double want = mt_attr(f, p, "fd");
    double *ad = malloc((size_t)na * sizeof(double)), *bd = malloc((size_t)nb * sizeof(double));
    for (int64_t i = 0; i < na; i++) ad[i] = a[i];
    for (int64_t i = 0; i < nb; i++) bd[i] = b[i];
    double got = fd_rows(ad, da[0], bd, db[0], da[1]);
    th_check(fabs(got - want) <= 1e-8 * fabs(want), "%s (n %lld / %lld, D %lld): FD %.15g vs SciPy sqrtm %.15g (rel %.2g)",
             cases[k], (long long)da[0], (long long)db[0], (long long)da[1], got, want, fabs(got - want) / fabs(want));
    free(ad);
    free(bd);
    free(a);
    free(b);
  }
  H5Fclose(f);
}

// The D x D statistics split by rows (as ranks do) and summed, and computed
// on 1 and 2 threads, must equal the whole computation bit for bit.
static void test_split(void) {
  const int64_t n = 300, D = 37;
  float *xf = malloc((size_t)(n * D) * sizeof(float));
  rng_normal(5, VP_STREAM_TEST, 0, 0, 0, xf, n * D);
  double *x = malloc((size_t)(n * D) * sizeof(double));
  for (int64_t i = 0; i < n * D; i++) x[i] = 3.0 + xf[i] * (1.0 + (double)(i % D) / D);
  frechet_stats whole, part, sum;
  frechet_stats_init(&whole, D);
  frechet_stats_init(&part, D);
  frechet_stats_init(&sum, D);
  frechet_stats_compute(&whole, x, n, NULL);
  for (int size = 2; size <= 3; size++) {
    memset(sum.sxx, 0, (size_t)(D * D) * sizeof(double));
    int64_t prev = 0;
    int ordered = 1;
    for (int r = 0; r < size; r++) {
      int64_t i0 = frechet_split_row(D, r, size), i1 = frechet_split_row(D, r + 1, size);
      ordered &= i0 == prev && i1 >= i0;
      prev = i1;
      frechet_stats_rows(&part, x, n, i0, i1);
      for (int64_t i = 0; i < D * D; i++) sum.sxx[i] += part.sxx[i];
    }
    th_check(ordered && prev == D, "%d ranks: the row ranges tile [0, D)", size);
    th_check(memcmp(sum.sxx, whole.sxx, (size_t)(D * D) * sizeof(double)) == 0 &&
                 memcmp(part.sum, whole.sum, (size_t)D * sizeof(double)) == 0,
             "%d ranks: split statistics identical to the whole", size);
  }
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  frechet_stats_compute(&part, x, n, NULL);
  omp_set_num_threads(saved);
  th_check(memcmp(part.sxx, whole.sxx, (size_t)(D * D) * sizeof(double)) == 0, "1 and %d threads: identical", saved);
  // Shifted moments recover the two-pass covariance.
  double *mu = malloc((size_t)D * sizeof(double)), *cov = malloc((size_t)(D * D) * sizeof(double));
  frechet_mean_cov(&whole, mu, cov);
  double worst = 0.0;
  for (int64_t i = 0; i < D; i++) {
    double m = 0;
    for (int64_t r = 0; r < n; r++) m += x[r * D + i];
    m /= n;
    worst = fmax(worst, fabs(mu[i] - m));
    for (int64_t j = 0; j < D; j += 7) {
      double mj = 0, c = 0;
      for (int64_t r = 0; r < n; r++) mj += x[r * D + j];
      mj /= n;
      for (int64_t r = 0; r < n; r++) c += (x[r * D + i] - m) * (x[r * D + j] - mj);
      worst = fmax(worst, fabs(cov[i * D + j] - c / (n - 1)));
    }
  }
  th_check(worst < 1e-12, "mean / covariance vs two-pass: %.3g", worst);
  // Rank-deficient (n < D): a set against itself is 0, not sqrt(noise) terms.
  double fd = fd_rows(x, 6, x, 6, D);
  th_check(fabs(fd) < 1e-9, "n = 6 < D = %lld: FD of a set with itself %.3g", (long long)D, fd);
  free(mu);
  free(cov);
  frechet_stats_free(&whole);
  frechet_stats_free(&part);
  frechet_stats_free(&sum);
  free(x);
  free(xf);
}

int main(void) {
  test_spec_numbers();
  test_scipy_goldens();
  test_split();
  return th_summary();
}
