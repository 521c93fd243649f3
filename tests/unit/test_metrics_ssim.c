// test_metrics_ssim.c: SSIM (src/eval/ssim.c) against the spec's published
// numbers, scikit-image (goldens made by tools/golden/g_metrics.py), the
// SyncVP procedure, and the plain 2-D reference; thread-count invariance.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernel_mode.h"
#include "eval/ssim.h"
#include "harness.h"
#include "metrics_testutil.h"

// The spec's deterministic 32x32 pair (metrics.md §7).
static void spec_pair(float *X, float *Y) {
  for (int i = 0; i < 32; i++) {
    for (int j = 0; j < 32; j++) {
      double x = nearbyint(128.0 + 100.0 * sin(i / 3.0) * cos(j / 4.0));  // round half even
      double y = x + (double)((31 * i + 17 * j) % 21) - 10.0;
      X[i * 32 + j] = (float)x;
      Y[i * 32 + j] = (float)(y < 0 ? 0 : y > 255 ? 255 : y);
    }
  }
}

static void test_spec_numbers(void) {
  float X[1024], Y[1024], Xs[1024], Ys[1024];
  spec_pair(X, Y);
  th_check(X[5 * 32 + 0] == 228 && X[5 * 32 + 7] == 110 && Y[5 * 32 + 3] == 208 && X[7] == 128,
           "spec pair reproduced (X[5][0]=%g X[5][7]=%g Y[5][3]=%g)", X[160], X[167], Y[163]);
  const double A = 0.9744992245610057, C = 0.9816014559279596;
  double f = ssim_plane(X, Y, 32, 32, 1, 255.0), r = ssim_plane_ref(X, Y, 32, 32, 1, 255.0);
  th_check(fabs(f - A) < 1e-12, "spec variant A (fast): %.16f vs %.16f", f, A);
  th_check(fabs(r - A) < 1e-12, "spec variant A (ref): %.16f vs %.16f", r, A);
  for (int i = 0; i < 1024; i++) {
    Xs[i] = X[i] / 255.f;
    Ys[i] = Y[i] / 255.f;
  }
  // x / 255 in float32 then L = 1: same up to the float32 rounding of x / 255.
  double f1 = ssim_plane(Xs, Ys, 32, 32, 1, 1.0);
  th_check(fabs(f1 - 0.9744992245610031) < 1e-7, "spec variant A on x/255, L = 1: %.16f", f1);
  // Variant C: SyncVP zero padding on x / 255 without the min-max step.
  ssim_norm n255 = {0.0, 255.0};
  double c = ssim_plane_syncvp(X, Y, 32, 32, 1, n255, n255), cr = ssim_plane_syncvp_ref(X, Y, 32, 32, 1, n255, n255);
  th_check(fabs(c - C) < 1e-12, "spec variant C (fast): %.16f vs %.16f", c, C);
  th_check(fabs(cr - C) < 1e-12, "spec variant C (ref): %.16f vs %.16f", cr, C);
  // Identical images.
  th_check(fabs(ssim_plane(X, X, 32, 32, 1, 255.0) - 1.0) < 1e-14, "identical images: 1");
  ssim_norm nx = ssim_minmax(X, 1024);
  th_check(fabs(ssim_plane_syncvp(X, X, 32, 32, 1, nx, nx) - 1.0) < 1e-14, "identical images (syncvp): 1");
  // Constant images: (2ab + C1) / (a^2 + b^2 + C1).
  float z[256], o[256], o255[256];
  for (int i = 0; i < 256; i++) {
    z[i] = 0.f;
    o[i] = 1.f;
    o255[i] = 255.f;
  }
  const double K = 9.999000099990e-05;
  double k1 = ssim_plane(z, o, 16, 16, 1, 1.0), k2 = ssim_plane(z, o255, 16, 16, 1, 255.0);
  th_check(fabs(k1 - K) < 1e-15 && fabs(k2 - K) < 1e-15, "all-0 vs all-1 (L=1): %.15g; 0 vs 255: %.15g", k1, k2);
  th_check(isnan(ssim_plane(z, o, 10, 10, 1, 1.0)), "a 10x10 plane has no valid 11x11 window: NaN");
  th_check(!isnan(ssim_plane_syncvp(z, o, 10, 10, 1, nx, nx)), "syncvp pads: 10x10 is fine");
}

static void test_skimage_goldens(void) {
  hid_t f = mt_open();
  const char *cases[] = {"rgb16", "grey255", "min11", "wide"};
  for (int k = 0; k < 4; k++) {
    char p[128];
    int64_t d[8], n;
    snprintf(p, sizeof(p), "ssim/%s/x", cases[k]);
    float *x = mt_f32(f, p, d, &n);
    snprintf(p, sizeof(p), "ssim/%s/y", cases[k]);
    float *y = mt_f32(f, p, NULL, NULL);
    snprintf(p, sizeof(p), "ssim/%s", cases[k]);
    const double L = mt_attr(f, p, "L");
    snprintf(p, sizeof(p), "ssim/%s/skimage", cases[k]);
    double *sk = mt_f64(f, p, NULL, NULL);
    snprintf(p, sizeof(p), "ssim/%s/syncvp", cases[k]);
    double *sv = mt_f64(f, p, NULL, NULL);
    const int64_t T = d[0], H = d[1], W = d[2], C = d[3];
    double *v = malloc((size_t)(T * C) * sizeof(double));
    ssim_norm *nx = malloc((size_t)T * sizeof(ssim_norm)), *ny = malloc((size_t)T * sizeof(ssim_norm));
    for (int ref = 0; ref < 2; ref++) {
      kernel_mode_set_ref(ref);
      ssim_frames(x, y, T, T, H, W, C, L, SSIM_STANDARD, NULL, NULL, v);
      double worst = 0.0;
      for (int64_t t = 0; t < T; t++) {
        double m = 0.0;
        for (int64_t c = 0; c < C; c++) m += v[t * C + c];
        worst = fmax(worst, fabs(m / (double)C - sk[t]));
      }
      th_check(worst < 1e-6, "%s [%s]: |SSIM - skimage| = %.3g (tol 1e-6)", cases[k], ref ? "ref" : "fast", worst);
      // SyncVP: per-video min-max normalisation, zero padding.
      ssim_norm a = ssim_minmax(x, n), b = ssim_minmax(y, n);
      for (int64_t t = 0; t < T; t++) {
        nx[t] = a;
        ny[t] = b;
      }
      ssim_frames(x, y, T, T, H, W, C, L, SSIM_SYNCVP, nx, ny, v);
      worst = 0.0;
      for (int64_t t = 0; t < T; t++) {
        double m = 0.0;
        for (int64_t c = 0; c < C; c++) m += v[t * C + c];
        worst = fmax(worst, fabs(m / (double)C - sv[t]));
      }
      th_check(worst < 1e-9, "%s [%s]: |SSIM syncvp - reference| = %.3g", cases[k], ref ? "ref" : "fast", worst);
    }
    kernel_mode_set_ref(0);
    free(nx);
    free(ny);
    free(v);
    free(sk);
    free(sv);
    free(x);
    free(y);
  }
  H5Fclose(f);
}

// Fast separable kernel against the direct 2-D reference on a bigger random
// shape; the result must not depend on the thread count.
static void test_fast_vs_ref(void) {
  const int64_t T = 3, H = 45, W = 61, C = 3, n = T * H * W * C;
  float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
  th_fill_uniform(x, n, 11, 0.f, 4.f);
  th_fill_uniform(y, n, 12, -0.5f, 0.5f);
  for (int64_t i = 0; i < n; i++) y[i] = fminf(4.f, fmaxf(0.f, x[i] + y[i]));
  double v1[9], v2[9], v3[9], vstd[9];
  ssim_norm nx[3], ny[3];
  for (int mode = 0; mode < 2; mode++) {
    for (int t = 0; t < 3; t++) {
      nx[t] = ssim_minmax(x + t * H * W * C, H * W * C);
      ny[t] = ssim_minmax(y + t * H * W * C, H * W * C);
    }
    kernel_mode_set_ref(1);
    ssim_frames(x, y, T, T, H, W, C, 4.0, (ssim_mode)mode, nx, ny, v1);
    kernel_mode_set_ref(0);
    ssim_frames(x, y, T, T, H, W, C, 4.0, (ssim_mode)mode, nx, ny, v2);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ssim_frames(x, y, T, T, H, W, C, 4.0, (ssim_mode)mode, nx, ny, v3);
    omp_set_num_threads(saved);
    double worst = 0.0;
    for (int i = 0; i < 9; i++) worst = fmax(worst, fabs(v1[i] - v2[i]));
    th_check(worst < 1e-12, "%s: fast vs reference on 45x61x3: %.3g", mode ? "syncvp" : "standard", worst);
    th_check(memcmp(v2, v3, sizeof(v2)) == 0, "%s: identical on 1 and %d threads", mode ? "syncvp" : "standard", saved);
    if (mode == 0) memcpy(vstd, v2, sizeof(v2));
  }
  // A target repeated for several samples: frame f of x against frame f % T of y.
  float *x2 = malloc((size_t)(2 * n) * sizeof(float));
  memcpy(x2, y, (size_t)n * sizeof(float));
  memcpy(x2 + n, x, (size_t)n * sizeof(float));
  double v4[18];
  ssim_frames(x2, y, 2 * T, T, H, W, C, 4.0, SSIM_STANDARD, NULL, NULL, v4);
  int ok = 1;
  for (int i = 0; i < 9; i++) ok &= fabs(v4[i] - 1.0) < 1e-14 && v4[9 + i] == vstd[i] ? 1 : 0;
  th_check(ok, "samples compared with the repeated target frames");
  free(x2);
  free(x);
  free(y);
}

int main(void) {
  test_spec_numbers();
  test_skimage_goldens();
  test_fast_vs_ref();
  return th_summary();
}
