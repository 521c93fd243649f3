// lpips_metric.c: the `lpips` metric family on the LPIPS network
// (models/lpips.h, AlexNet v0.1, non-spatial). Per frame, inputs mapped from
// [0, L] to [-1, 1] (the package's normalize=False convention) and
// 1-channel frames repeated to RGB (as common_metrics and MCVD do); per
// sample, the mean over frames; per clip, the mean or the best (min) over
// samples (SyncVP's lpips_best). Reported raw, not x1000.
#include <math.h>
#include <stdlib.h>

#include "core/check.h"
#include "eval/metric.h"
#include "models/lpips.h"

// AlexNet's two stride-2 max pools after the stride-4 conv need >= 31 pixels.
#define LPIPS_MIN_SIDE 31

static const char *const lpips_keys[] = {"lpips", NULL};

static int64_t lpips_nstats(const metric_env *e) {
  (void)e;
  return 1;
}

static const char *lpips_check(const metric_env *e, unsigned want, char *buf, size_t n) {
  (void)want;
  if (e->C != 3 && e->C != 1) {
    snprintf(buf, n, "lpips needs RGB (C = 3) or grey (C = 1) frames; these have C = %lld", (long long)e->C);
    return buf;
  }
  if (e->H < LPIPS_MIN_SIDE || e->W < LPIPS_MIN_SIDE) {
    snprintf(buf, n, "lpips needs frames of at least %dx%d (AlexNet's pooling); these are %lldx%lld",
             LPIPS_MIN_SIDE, LPIPS_MIN_SIDE, (long long)e->H, (long long)e->W);
    return buf;
  }
  return NULL;
}

// Frames (T, H, W, C) in [0, L] -> (T, 3, H, W) in [-1, 1].
static void to_lpips_input(const float *src, int64_t T, int64_t H, int64_t W, int64_t C, double L,
                           float *dst) {
  const int64_t HW = H * W;
  const float k = (float)(2.0 / L);
  for (int64_t t = 0; t < T; t++)
    for (int64_t c = 0; c < 3; c++)
      for (int64_t p = 0; p < HW; p++)
        dst[(t * 3 + c) * HW + p] = src[(t * HW + p) * C + (C == 3 ? c : 0)] * k - 1.f;
}

static void lpips_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  const int64_t S = e->S, T = e->T, H = e->H, W = e->W, n = T * 3 * H * W;
  float *y = vp_malloc((size_t)(2 * n + T) * sizeof(float));
  float *x = y + n, *d = x + n;
  double *per_sample = vp_malloc((size_t)S * sizeof(double));
  to_lpips_input(clip->target, T, H, W, e->C, e->L, y);
  for (int64_t s = 0; s < S; s++) {
    to_lpips_input(clip->pred + s * T * H * W * e->C, T, H, W, e->C, e->L, x);
    lpips_distance(e->lpips, e->ctx, x, y, T, H, W, d);
    double acc = 0.0;
    for (int64_t t = 0; t < T; t++) acc += (double)d[t];
    per_sample[s] = acc / (double)T;
  }
  row[0] = metric_reduce_samples(per_sample, S, e->best, 0);
  free(per_sample);
  free(y);
}

static void lpips_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  (void)want;
  double acc = 0.0;
  for (int64_t i = 0; i < e->N; i++) acc += rows[i];
  json_num(j, "lpips", e->N ? acc / (double)e->N : NAN);
}

const metric_family metric_lpips = {
    .name = "lpips", .keys = lpips_keys, .nstats = lpips_nstats, .check = lpips_check,
    .accumulate = lpips_accumulate, .finalize = lpips_finalize, .needs_finite = 1,
};
