// sevir_resize.c: PIL-style antialiased bilinear and block-max resizing of
// one-channel frames (see sevir_resize.h).
#include "io/sevir_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/resize.h"

// Filter taps of one output index along an axis of length in -> out, as PIL
// computes them: the triangle filter 1-|x| is stretched by the downscale
// factor (never shrunk when upscaling), centred on the output pixel's centre
// mapped into the input ((i + 0.5) * in / out), cut to the input, and
// normalised to sum 1.
typedef struct taps {
  int64_t lo;     // first input index
  int n;          // taps
  float *w;       // (n,)
} taps;

static taps *taps_build(int64_t in, int64_t out, float **wbuf) {
  double scale = (double)in / (double)out;
  double fs = scale > 1.0 ? scale : 1.0;
  double support = 1.0 * fs;  // the triangle's support is 1 at unit scale
  int maxn = (int)ceil(support) * 2 + 1;
  taps *t = vp_malloc((size_t)out * sizeof(taps));
  float *w = vp_malloc((size_t)out * (size_t)maxn * sizeof(float));
  for (int64_t i = 0; i < out; i++) {
    double center = ((double)i + 0.5) * scale;
    // (int64_t) truncates like PIL's (int) cast; negative values are clamped anyway.
    int64_t lo = (int64_t)(center - support + 0.5), hi = (int64_t)(center + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    int n = (int)(hi - lo);
    if (n > maxn) n = maxn;
    float *wi = w + i * maxn;
    double sum = 0, ww[64 + 1];
    double *wd = n <= 64 ? ww : vp_malloc((size_t)n * sizeof(double));
    for (int k = 0; k < n; k++) {
      double x = ((double)(lo + k) - center + 0.5) / fs;
      double v = fabs(x) < 1.0 ? 1.0 - fabs(x) : 0.0;
      wd[k] = v;
      sum += v;
    }
    for (int k = 0; k < n; k++) wi[k] = (float)(sum != 0 ? wd[k] / sum : 0);
    if (wd != ww) free(wd);
    t[i].lo = lo;
    t[i].n = n;
    t[i].w = wi;
  }
  *wbuf = w;
  return t;
}

void sevir_resize_bilinear_aa(const float *src, int64_t h, int64_t w, float *dst, int64_t H,
                              int64_t W, float *tmp) {
  float *wx, *wy;
  taps *tx = taps_build(w, W, &wx), *ty = taps_build(h, H, &wy);
  // Horizontal pass: (h, w) -> (h, W).
  for (int64_t y = 0; y < h; y++) {
    const float *row = src + y * w;
    float *o = tmp + y * W;
    for (int64_t x = 0; x < W; x++) {
      const taps *t = &tx[x];
      float s = 0;
      for (int k = 0; k < t->n; k++) s += t->w[k] * row[t->lo + k];
      o[x] = s;
    }
  }
  // Vertical pass: (h, W) -> (H, W), rows of weights applied to whole rows.
  for (int64_t y = 0; y < H; y++) {
    const taps *t = &ty[y];
    float *o = dst + y * W;
    for (int64_t x = 0; x < W; x++) o[x] = 0;
    for (int k = 0; k < t->n; k++) {
      const float *row = tmp + (t->lo + k) * W;
      float wk = t->w[k];
      for (int64_t x = 0; x < W; x++) o[x] += wk * row[x];
    }
  }
  free(tx);
  free(ty);
  free(wx);
  free(wy);
}

void sevir_resize_max(const float *src, int64_t h, int64_t w, float *dst, int64_t H, int64_t W) {
  for (int64_t y = 0; y < H; y++) {
    int64_t ys = (y * h) / H, ye = ((y + 1) * h + H - 1) / H;
    for (int64_t x = 0; x < W; x++) {
      int64_t xs = (x * w) / W, xe = ((x + 1) * w + W - 1) / W;
      float m = -INFINITY;
      for (int64_t iy = ys; iy < ye; iy++)
        for (int64_t ix = xs; ix < xe; ix++) m = src[iy * w + ix] > m ? src[iy * w + ix] : m;
      dst[y * W + x] = m;
    }
  }
}

void sevir_resize(const float *src, int64_t h, int64_t w, float *dst, int64_t H, int64_t W,
                  sevir_resize_mode mode, float *tmp) {
  if (h == H && w == W) {
    memcpy(dst, src, (size_t)(h * w) * sizeof(float));
    return;
  }
  switch (mode) {
    case SEVIR_RESIZE_BILINEAR_AA:
      VP_ASSERT(tmp != NULL);
      sevir_resize_bilinear_aa(src, h, w, dst, H, W, tmp);
      return;
    case SEVIR_RESIZE_MAX: sevir_resize_max(src, h, w, dst, H, W); return;
    case SEVIR_RESIZE_AREA: resize_image(src, h, w, 1, dst, H, W, RESIZE_AREA); return;
    case SEVIR_RESIZE_BILINEAR: resize_image(src, h, w, 1, dst, H, W, RESIZE_BILINEAR); return;
    case SEVIR_RESIZE_NEAREST: resize_image(src, h, w, 1, dst, H, W, RESIZE_NEAREST); return;
  }
  VP_ASSERT(0);
}
