// pool_extra.c: separable max pooling (see pool_extra.h).
#include "kernels/cpu/pool_extra.h"

#include <omp.h>
#include <string.h>

#include "core/check.h"

static inline float maxf(float a, float b) { return b > a ? b : a; }

// out[o] = max_{d < k} row[o*s - lo + d] over n inputs, pad outside; buf
// holds the padded row (lo + n + k floats at least).
static void pool_row(const float *row, int64_t n, int64_t no, int64_t k, int64_t s, int64_t lo,
                     float pad, float *buf, float *out) {
  const int64_t len = (no - 1) * s + k;  // padded cells the windows touch
  for (int64_t i = 0; i < len; i++) {
    const int64_t src = i - lo;
    buf[i] = src >= 0 && src < n ? row[src] : pad;
  }
  if (s == 1) {
    for (int64_t o = 0; o < no; o++) out[o] = buf[o];
    for (int64_t d = 1; d < k; d++)
      for (int64_t o = 0; o < no; o++) out[o] = maxf(out[o], buf[o + d]);
  } else {
    for (int64_t o = 0; o < no; o++) {
      float m = buf[o * s];
      for (int64_t d = 1; d < k; d++) m = maxf(m, buf[o * s + d]);
      out[o] = m;
    }
  }
}

// dst[no][len] from src[n][len]: dst[o] = elementwise max of the rows
// src[o*s - lo + d], d < k, a padding row being all pad.
static void pool_rows(const float *src, int64_t n, int64_t no, int64_t len, int64_t k, int64_t s,
                      int64_t lo, float pad, float *dst) {
  for (int64_t o = 0; o < no; o++) {
    float *d = dst + o * len;
    int first = 1;
    for (int64_t t = 0; t < k; t++) {
      const int64_t i = o * s - lo + t;
      if (i < 0 || i >= n) {
        if (first)
          for (int64_t e = 0; e < len; e++) d[e] = pad;
        else
          for (int64_t e = 0; e < len; e++) d[e] = maxf(d[e], pad);
      } else {
        const float *r = src + i * len;
        if (first)
          memcpy(d, r, (size_t)len * sizeof(float));
        else
          for (int64_t e = 0; e < len; e++) d[e] = maxf(d[e], r[e]);
      }
      first = 0;
    }
  }
}

void cpu_maxpool3d_fwd_separable(const cpu_pool_geom *g, const float *x, float pad_value, float *y) {
  const int64_t T = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t To = g->out[0], Ho = g->out[1], Wo = g->out[2];
  const int64_t rowbuf = g->pad[2] + W + g->k[2] + (Wo - 1) * g->stride[2] + 1;
  const int64_t per_thread = rowbuf + T * H * Wo + T * Ho * Wo;
  float *scratch = vp_malloc((size_t)(per_thread * omp_get_max_threads()) * sizeof(float));
#pragma omp parallel if (g->planes > 1)
  {
    float *buf = scratch + (int64_t)omp_get_thread_num() * per_thread;
    float *a = buf + rowbuf;     // (T, H, Wo): pooled along W
    float *b = a + T * H * Wo;   // (T, Ho, Wo): then along H
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g->planes; p++) {
      const float *xp = x + p * T * H * W;
      for (int64_t r = 0; r < T * H; r++)
        pool_row(xp + r * W, W, Wo, g->k[2], g->stride[2], g->pad[2], pad_value, buf, a + r * Wo);
      for (int64_t t = 0; t < T; t++)
        pool_rows(a + t * H * Wo, H, Ho, Wo, g->k[1], g->stride[1], g->pad[1], pad_value,
                  b + t * Ho * Wo);
      pool_rows(b, T, To, Ho * Wo, g->k[0], g->stride[0], g->pad[0], pad_value, y + p * To * Ho * Wo);
    }
  }
  free(scratch);
}
