// test_metrics_pixel.c: MSE / MAE / PSNR / masked L1, L2 kernels
// (src/eval/pixel.c) against the spec's numbers and conventions, the sample
// reduction (mean / best-of-N) and the JSON number format (metric.c).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metric.h"
#include "eval/pixel.h"
#include "harness.h"

static void test_spec_numbers(void) {
  float X[1024], Y[1024];
  for (int i = 0; i < 32; i++) {
    for (int j = 0; j < 32; j++) {
      double x = nearbyint(128.0 + 100.0 * sin(i / 3.0) * cos(j / 4.0));
      double y = x + (double)((31 * i + 17 * j) % 21) - 10.0;
      X[i * 32 + j] = (float)x;
      Y[i * 32 + j] = (float)(y < 0 ? 0 : y > 255 ? 255 : y);
    }
  }
  double sse, sae;
  pixel_sums(Y, X, 1024, &sse, &sae);
  const double mse = sse / 1024, mae = sae / 1024, psnr = psnr_from_mse(mse, 255.0);
  th_check(mse == 36.7138671875 && mae == 5.2392578125, "spec pair: MSE %.10f, MAE %.10f", mse, mae);
  th_check(fabs(psnr - 32.482502283460754) < 1e-12, "spec pair: PSNR %.15f dB", psnr);
  // All-0 against all-1 on [0, 1]: 0 dB; a perfect frame: capped at 100 dB.
  th_check(psnr_from_mse(1.0, 1.0) == 0.0, "PSNR of all-0 vs all-1: 0 dB");
  th_check(psnr_from_mse(0.0, 1.0) == 100.0 && psnr_from_mse(0.0, 255.0) == 100.0 &&
               psnr_from_mse(1e-11, 1.0) == 100.0,
           "MSE <= 1e-10 L^2: 100 dB (common_metrics)");
  // The convention example: frame MSEs 0.01 and 0.0001.
  double per_frame = 0.5 * (psnr_from_mse(0.01, 1.0) + psnr_from_mse(0.0001, 1.0));
  double global = psnr_from_mse(0.5 * (0.01 + 0.0001), 1.0);
  th_check(fabs(per_frame - 30.0) < 1e-12 && fabs(global - 22.967) < 1e-3,
           "mean of per-frame PSNR %.6f (30), PSNR of the mean MSE %.4f (22.967)", per_frame, global);
}

static void test_masked(void) {
  enum { NPIX = 50, C = 3 };
  float p[NPIX * C], t[NPIX * C];
  uint8_t mask[NPIX];
  th_fill_uniform(p, NPIX * C, 3, -2.f, 2.f);
  th_fill_uniform(t, NPIX * C, 4, -2.f, 2.f);
  for (int i = 0; i < NPIX; i++) mask[i] = (uint8_t)(i % 3 != 0);
  t[7] = NAN;
  p[20] = INFINITY;
  double s1, s2, w1 = 0, w2 = 0;
  int64_t n, wn = 0;
  pixel_masked_sums(p, t, mask, NPIX, C, &s1, &s2, &n);
  for (int i = 0; i < NPIX; i++) {
    if (!mask[i]) continue;
    for (int c = 0; c < C; c++) {
      int k = i * C + c;
      if (k == 7 || k == 20) continue;
      double d = (double)p[k] - t[k];
      w1 += fabs(d);
      w2 += d * d;
      wn++;
    }
  }
  th_check(n == wn && fabs(s1 - w1) < 1e-12 && fabs(s2 - w2) < 1e-12,
           "masked sums skip masked and non-finite cells (count %lld vs %lld)", (long long)n, (long long)wn);
  pixel_masked_sums(p, t, NULL, NPIX, C, &s1, &s2, &n);
  th_check(n == NPIX * C - 2, "no mask: every finite cell (%lld)", (long long)n);
}

static void test_reduce_and_json(void) {
  const double v[4] = {0.5, 0.25, 0.75, 0.5};
  th_check(metric_reduce_samples(v, 4, 0, 0) == 0.5, "mean over samples");
  th_check(metric_reduce_samples(v, 4, 1, 0) == 0.25 && metric_reduce_samples(v, 4, 1, 1) == 0.75,
           "best of N: min (lower is better), max (higher is better)");
  const double w[3] = {NAN, 2.0, 1.0};
  th_check(metric_reduce_samples(w, 3, 1, 0) == 1.0 && metric_reduce_samples(w, 3, 1, 1) == 2.0,
           "a NaN sample never wins");
  char buf[64];
  const double vals[] = {0.1, 1.0 / 3.0, 36.7138671875, 1e-300, -2.5e17, 0.9744992245610057};
  int ok = 1;
  for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
    json_format_double(vals[i], buf, sizeof(buf));
    ok &= strtod(buf, NULL) == vals[i];
  }
  json_format_double(0.1, buf, sizeof(buf));
  ok &= !strcmp(buf, "0.10000000000000001") || !strcmp(buf, "0.1");
  th_check(ok && strlen(buf) <= 4, "JSON numbers read back exactly and are short (0.1 -> %s)", buf);
  json_format_double(NAN, buf, sizeof(buf));
  th_check(!strcmp(buf, "null"), "NaN -> null");
  json_format_double(INFINITY, buf, sizeof(buf));
  th_check(!strcmp(buf, "null"), "Inf -> null");
}

int main(void) {
  test_spec_numbers();
  test_masked();
  test_reduce_and_json();
  return th_summary();
}
