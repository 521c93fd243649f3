// pool.c: max / average pooling and nearest x2 upsampling kernels (see pool.h).
#include "kernels/cpu/pool.h"

#include <math.h>

static int64_t vol3(const int64_t d[3]) { return d[0] * d[1] * d[2]; }

// Maximum of window (ot, oh, ow) of one plane xp; *arg gets the flat index of
// the winning cell in xp, or -1 when a padding cell wins.
static float window_max(const cpu_pool_geom *g, const float *xp, int64_t ot, int64_t oh,
                        int64_t ow, float pad_value, int64_t *arg) {
  const int64_t T = g->in[0], H = g->in[1], W = g->in[2];
  float best = 0.f;
  int64_t best_i = -1;
  int have = 0;
  for (int64_t dt = 0; dt < g->k[0]; dt++) {
    const int64_t it = ot * g->stride[0] - g->pad[0] + dt;
    for (int64_t dh = 0; dh < g->k[1]; dh++) {
      const int64_t ih = oh * g->stride[1] - g->pad[1] + dh;
      for (int64_t dw = 0; dw < g->k[2]; dw++) {
        const int64_t iw = ow * g->stride[2] - g->pad[2] + dw;
        const int inside = it >= 0 && it < T && ih >= 0 && ih < H && iw >= 0 && iw < W;
        const int64_t i = inside ? (it * H + ih) * W + iw : -1;
        const float v = inside ? xp[i] : pad_value;
        // Strict '>' keeps the first maximum; a NaN wins, as in PyTorch.
        if (!have || v > best || isnan(v)) {
          best = v;
          best_i = i;
          have = 1;
        }
      }
    }
  }
  *arg = best_i;
  return best;
}

void cpu_maxpool3d_fwd(const cpu_pool_geom *g, const float *x, float pad_value, float *y) {
  const int64_t Nin = vol3(g->in), N = vol3(g->out), Ho = g->out[1], Wo = g->out[2];
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g->planes; p++) {
    const float *xp = x + p * Nin;
    float *yp = y + p * N;
    for (int64_t ot = 0; ot < g->out[0]; ot++)
      for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow++) {
          int64_t arg;
          yp[(ot * Ho + oh) * Wo + ow] = window_max(g, xp, ot, oh, ow, pad_value, &arg);
        }
  }
}

void cpu_maxpool3d_bwd(const cpu_pool_geom *g, const float *x, float pad_value, const float *dy,
                       float *dx) {
  const int64_t Nin = vol3(g->in), N = vol3(g->out), Ho = g->out[1], Wo = g->out[2];
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g->planes; p++) {
    const float *xp = x + p * Nin;
    const float *dyp = dy + p * N;
    float *dxp = dx + p * Nin;
    for (int64_t ot = 0; ot < g->out[0]; ot++)
      for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow++) {
          int64_t arg;
          window_max(g, xp, ot, oh, ow, pad_value, &arg);
          if (arg >= 0) dxp[arg] += dyp[(ot * Ho + oh) * Wo + ow];
        }
  }
}

// Window (ot, oh, ow) clipped to the input: [lo[a], hi[a]) per axis.
static void window_clip(const cpu_pool_geom *g, const int64_t o[3], int64_t lo[3], int64_t hi[3]) {
  for (int a = 0; a < 3; a++) {
    int64_t s = o[a] * g->stride[a] - g->pad[a], e = s + g->k[a];
    lo[a] = s < 0 ? 0 : s;
    hi[a] = e > g->in[a] ? g->in[a] : e;
  }
}

static int64_t window_divisor(const cpu_pool_geom *g, int count_pad, const int64_t lo[3],
                              const int64_t hi[3]) {
  if (count_pad) return vol3(g->k);
  return (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
}

void cpu_avgpool3d_fwd(const cpu_pool_geom *g, const float *x, int count_pad, float *y) {
  const int64_t H = g->in[1], W = g->in[2], Nin = vol3(g->in), N = vol3(g->out);
  const int64_t Ho = g->out[1], Wo = g->out[2];
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g->planes; p++) {
    const float *xp = x + p * Nin;
    float *yp = y + p * N;
    int64_t o[3], lo[3], hi[3];
    for (o[0] = 0; o[0] < g->out[0]; o[0]++)
      for (o[1] = 0; o[1] < Ho; o[1]++)
        for (o[2] = 0; o[2] < Wo; o[2]++) {
          window_clip(g, o, lo, hi);
          double acc = 0.0;
          for (int64_t t = lo[0]; t < hi[0]; t++)
            for (int64_t h = lo[1]; h < hi[1]; h++)
              for (int64_t w = lo[2]; w < hi[2]; w++) acc += xp[(t * H + h) * W + w];
          yp[(o[0] * Ho + o[1]) * Wo + o[2]] = (float)(acc / (double)window_divisor(g, count_pad, lo, hi));
        }
  }
}

void cpu_avgpool3d_bwd(const cpu_pool_geom *g, int count_pad, const float *dy, float *dx) {
  const int64_t H = g->in[1], W = g->in[2], Nin = vol3(g->in), N = vol3(g->out);
  const int64_t Ho = g->out[1], Wo = g->out[2];
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g->planes; p++) {
    const float *dyp = dy + p * N;
    float *dxp = dx + p * Nin;
    int64_t o[3], lo[3], hi[3];
    for (o[0] = 0; o[0] < g->out[0]; o[0]++)
      for (o[1] = 0; o[1] < Ho; o[1]++)
        for (o[2] = 0; o[2] < Wo; o[2]++) {
          window_clip(g, o, lo, hi);
          const float d = dyp[(o[0] * Ho + o[1]) * Wo + o[2]] /
                          (float)window_divisor(g, count_pad, lo, hi);
          for (int64_t t = lo[0]; t < hi[0]; t++)
            for (int64_t h = lo[1]; h < hi[1]; h++)
              for (int64_t w = lo[2]; w < hi[2]; w++) dxp[(t * H + h) * W + w] += d;
        }
  }
}

void cpu_upsample2x_fwd(int64_t P, int64_t H, int64_t W, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < P; p++)
    for (int64_t h = 0; h < H; h++) {
      const float *src = x + (p * H + h) * W;
      float *d0 = y + (p * 2 * H + 2 * h) * 2 * W, *d1 = d0 + 2 * W;
      for (int64_t w = 0; w < W; w++) d0[2 * w] = d0[2 * w + 1] = src[w];
      for (int64_t w = 0; w < 2 * W; w++) d1[w] = d0[w];
    }
}

void cpu_upsample2x_bwd(int64_t P, int64_t H, int64_t W, const float *dy, float *dx) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < P; p++)
    for (int64_t h = 0; h < H; h++) {
      const float *s0 = dy + (p * 2 * H + 2 * h) * 2 * W, *s1 = s0 + 2 * W;
      float *dst = dx + (p * H + h) * W;
      for (int64_t w = 0; w < W; w++) dst[w] += (s0[2 * w] + s0[2 * w + 1]) + (s1[2 * w] + s1[2 * w + 1]);
    }
}
