// grad_clip.c: global-norm gradient clipping (see grad_clip.h).
#include "train/grad_clip.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

// Elements per partial sum. Fixed, so the summation order (and the result)
// does not depend on the number of threads.
#define SUMSQ_BLOCK 16384

// One block in double with 8 independent accumulators (breaks the add
// latency chain; the order is still fixed).
static double block_sumsq(const float *g, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++) a[j] += (double)g[k + j] * (double)g[k + j];
  for (; k < n; k++) a[0] += (double)g[k] * (double)g[k];
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

double grad_sumsq(const float *g, size_t n) {
  int64_t nb = ((int64_t)n + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
  if (nb <= 1) return block_sumsq(g, (int64_t)n);
  double *part = vp_malloc((size_t)nb * sizeof(double));
  int64_t total = (int64_t)n;
#pragma omp parallel for schedule(static) default(none) shared(g, part, nb, total)
  for (int64_t b = 0; b < nb; b++) {
    int64_t lo = b * SUMSQ_BLOCK, hi = lo + SUMSQ_BLOCK < total ? lo + SUMSQ_BLOCK : total;
    part[b] = block_sumsq(g + lo, hi - lo);
  }
  double s = 0;
  for (int64_t b = 0; b < nb; b++) s += part[b];
  free(part);
  return s;
}

void grad_scale(float *g, size_t n, float coef) {
  int64_t total = (int64_t)n;
#pragma omp parallel for schedule(static) default(none) shared(g, total, coef)
  for (int64_t k = 0; k < total; k++) g[k] *= coef;
}

vp_clip_result grad_clip_norm(float *g, size_t n, double max_norm) {
  vp_clip_result r = {.norm = sqrt(grad_sumsq(g, n)), .coef = 1.0, .clipped = 0, .finite = 1};
  if (!isfinite(r.norm)) {
    r.finite = 0;
    return r;
  }
  if (!(max_norm > 0)) return r;
  // torch: clip_coef = max_norm / (total_norm + 1e-6) on a float32 tensor.
  float total = (float)r.norm;
  float coef = (float)max_norm / (total + 1e-6f);
  if (coef < 1.0f) {
    grad_scale(g, n, coef);
    r.coef = coef;
    r.clipped = 1;
  }
  return r;
}

vp_clip_result grad_clip_params(vp_params *p, double max_norm) {
  VP_ASSERT(p->grad != NULL);
  return grad_clip_norm(p->grad, p->numel, max_norm);
}
