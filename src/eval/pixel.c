// pixel.c: pixel-error kernels and the `mse` / `mae` / `psnr` and
// `masked_l1` / `masked_l2` metric families (conventions in pixel.h).
#include "eval/pixel.h"

#include <math.h>
#include <stdlib.h>

#include "core/check.h"
#include "eval/metric.h"

void pixel_sums(const float *p, const float *t, int64_t n, double *sse, double *sae) {
  double s2 = 0.0, s1 = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)p[i] - (double)t[i];
    s2 += d * d;
    s1 += fabs(d);
  }
  *sse = s2;
  *sae = s1;
}

double psnr_from_mse(double mse, double L) {
  if (mse <= 1e-10 * L * L) return 100.0;
  return 10.0 * log10(L * L / mse);
}

void pixel_masked_sums(const float *p, const float *t, const uint8_t *mask, int64_t npix,
                       int64_t C, double *sae, double *sse, int64_t *count) {
  double s1 = 0.0, s2 = 0.0;
  int64_t n = 0;
  for (int64_t i = 0; i < npix; i++) {
    if (mask && !mask[i]) continue;
    for (int64_t c = 0; c < C; c++) {
      double a = (double)p[i * C + c], b = (double)t[i * C + c];
      if (!isfinite(a) || !isfinite(b)) continue;
      double d = a - b;
      s1 += fabs(d);
      s2 += d * d;
      n++;
    }
  }
  *sae = s1;
  *sse = s2;
  *count = n;
}

// ---- mse / mae / psnr: per sample, means over frames; per clip, the mean
// or the best over samples (min MSE, min MAE, max PSNR, chosen
// independently) ----

static const char *const pixel_keys[] = {"mse", "mae", "psnr", NULL};

static int64_t pixel_nstats(const metric_env *e) {
  (void)e;
  return 3;
}

static void pixel_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  const int64_t S = e->S, T = e->T, fsz = e->H * e->W * e->C;
  double *sse = vp_malloc((size_t)(2 * S * T + 3 * S) * sizeof(double));
  double *sae = sse + S * T, *mse = sae + S * T, *mae = mse + S, *psnr = mae + S;
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < S * T; f++)
    pixel_sums(clip->pred + f * fsz, clip->target + (f % T) * fsz, fsz, &sse[f], &sae[f]);
  for (int64_t s = 0; s < S; s++) {
    double a2 = 0.0, a1 = 0.0, ap = 0.0;
    for (int64_t t = 0; t < T; t++) {
      a2 += sse[s * T + t];
      a1 += sae[s * T + t];
      ap += psnr_from_mse(sse[s * T + t] / (double)fsz, e->L);
    }
    mse[s] = a2 / (double)(T * fsz);
    mae[s] = a1 / (double)(T * fsz);
    psnr[s] = ap / (double)T;
  }
  row[0] = metric_reduce_samples(mse, S, e->best, 0);
  row[1] = metric_reduce_samples(mae, S, e->best, 0);
  row[2] = metric_reduce_samples(psnr, S, e->best, 1);
  free(sse);
}

static void pixel_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  for (int k = 0; k < 3; k++) {
    if (!(want & (1u << k))) continue;
    double acc = 0.0;
    for (int64_t i = 0; i < e->N; i++) acc += rows[i * 3 + k];
    json_num(j, pixel_keys[k], e->N ? acc / (double)e->N : NAN);
  }
}

const metric_family metric_pixel = {
    .name = "pixel", .keys = pixel_keys, .nstats = pixel_nstats,
    .accumulate = pixel_accumulate, .finalize = pixel_finalize, .needs_finite = 1,
};

// ---- masked_l1 / masked_l2: pooled sums and counts of valid cells. Mean
// mode pools every sample; best mode keeps, per clip and per metric, the
// sample with the lowest mean ----

static const char *const masked_keys[] = {"masked_l1", "masked_l2", NULL};

static int64_t masked_nstats(const metric_env *e) {
  (void)e;
  return 4;  // l1 sum, l1 count, l2 sum, l2 count
}

static void masked_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  const int64_t S = e->S, T = e->T, npix = e->H * e->W, fsz = npix * e->C;
  double *s1 = vp_malloc((size_t)(2 * S * T) * sizeof(double));
  double *s2 = s1 + S * T;
  int64_t *cnt = vp_malloc((size_t)(S * T) * sizeof(int64_t));
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < S * T; f++) {
    const int64_t t = f % T;
    pixel_masked_sums(clip->pred + f * fsz, clip->target + t * fsz,
                      clip->mask ? clip->mask + t * npix : NULL, npix, e->C, &s1[f], &s2[f], &cnt[f]);
  }
  double b1 = 0, c1 = 0, b2 = 0, c2 = 0;  // chosen sums and counts
  int have1 = 0, have2 = 0;
  for (int64_t s = 0; s < S; s++) {
    double a1 = 0.0, a2 = 0.0;
    int64_t n = 0;
    for (int64_t t = 0; t < T; t++) {
      a1 += s1[s * T + t];
      a2 += s2[s * T + t];
      n += cnt[s * T + t];
    }
    if (!e->best) {
      b1 += a1;
      b2 += a2;
      c1 += (double)n;
      c2 += (double)n;
    } else if (n > 0) {
      if (!have1 || a1 / (double)n < b1 / c1) {
        b1 = a1;
        c1 = (double)n;
        have1 = 1;
      }
      if (!have2 || a2 / (double)n < b2 / c2) {
        b2 = a2;
        c2 = (double)n;
        have2 = 1;
      }
    }
  }
  row[0] = b1;
  row[1] = c1;
  row[2] = b2;
  row[3] = c2;
  free(cnt);
  free(s1);
}

static void masked_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  for (int k = 0; k < 2; k++) {
    if (!(want & (1u << k))) continue;
    double sum = 0.0, cnt = 0.0;
    for (int64_t i = 0; i < e->N; i++) {
      sum += rows[i * 4 + 2 * k];
      cnt += rows[i * 4 + 2 * k + 1];
    }
    json_num(j, masked_keys[k], cnt > 0 ? sum / cnt : NAN);
  }
}

const metric_family metric_masked = {
    .name = "masked", .keys = masked_keys, .nstats = masked_nstats,
    .accumulate = masked_accumulate, .finalize = masked_finalize, .needs_finite = 0,
};
