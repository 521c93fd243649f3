// rotary_tables.c: PVDM's frame and axial rotary tables (see rotary_tables.h).
#include "nn/rotary_tables.h"

#include <math.h>
#include <stdlib.h>

#include "core/check.h"

void rotary_frame_fill(int64_t n, int dim, float *cos, float *sin) {
  if (dim <= 0 || dim % 2) vp_die("rotary: frame table needs an even head dim, got %d", dim);
  int half = dim / 2;
  float *inv = vp_malloc((size_t)half * sizeof(float));
  // 1 / (10000 ** (arange(0, dim, 2).float() / dim)), all in float32.
  for (int k = 0; k < half; k++) inv[k] = 1.f / powf(10000.f, (float)(2 * k) / (float)dim);
  for (int64_t t = 0; t < n; t++) {
    for (int k = 0; k < half; k++) {
      float a = (float)t * inv[k];
      float s = sinf(a), c = cosf(a);
      sin[t * dim + k] = sin[t * dim + half + k] = s;
      cos[t * dim + k] = cos[t * dim + half + k] = c;
    }
  }
  free(inv);
}

// torch.linspace(-1, 1, steps=n) in float32: the first half counts up from
// start, the second half down from end (PyTorch's CPU kernel), so both ends
// are exact.
static float linspace_at(int64_t n, int64_t i) {
  if (n == 1) return -1.f;
  float step = 2.f / (float)(n - 1);
  return i < n / 2 ? -1.f + step * (float)i : 1.f - step * (float)(n - 1 - i);
}

void rotary_axial_fill(int64_t h, int64_t w, int dim, float *cos, float *sin) {
  if (dim < 8 || dim % 4) vp_die("rotary: axial table needs a head dim that is a multiple of 4 (>= 8), got %d", dim);
  int ns = dim / 4;
  float *scale = vp_malloc((size_t)ns * sizeof(float));
  // torch.logspace(0, log(5)/log(2), ns, base=2): end held in float, the
  // exponent stepped in double from the nearer end, the power rounded once.
  float end = (float)(log(10.0 / 2) / log(2.0));
  double step = (double)end / (double)(ns - 1);
  for (int j = 0; j < ns; j++) {
    double e = j < ns / 2 ? step * j : (double)end - step * (ns - 1 - j);
    scale[j] = (float)pow(2.0, e);
  }
  const float pi = (float)3.14159265358979323846;  // math.pi, as a float32 operand
  for (int64_t i = 0; i < h; i++) {
    float yi = linspace_at(h, i);
    for (int64_t jw = 0; jw < w; jw++) {
      float xj = linspace_at(w, jw);
      float *srow = sin + (i * w + jw) * dim, *crow = cos + (i * w + jw) * dim;
      for (int j = 0; j < ns; j++) {
        float ar = yi * scale[j] * pi, ac = xj * scale[j] * pi;
        float sr = sinf(ar), cr = cosf(ar), sc = sinf(ac), cc = cosf(ac);
        srow[2 * j] = srow[2 * j + 1] = sr;
        crow[2 * j] = crow[2 * j + 1] = cr;
        srow[2 * ns + 2 * j] = srow[2 * ns + 2 * j + 1] = sc;
        crow[2 * ns + 2 * j] = crow[2 * ns + 2 * j + 1] = cc;
      }
    }
  }
  free(scale);
}

rotary_tables rotary_frame(vp_ctx *ctx, int64_t n, int dim) {
  rotary_tables t;
  t.cos = tensor_newv(ctx, 2, n, (int64_t)dim);
  t.sin = tensor_newv(ctx, 2, n, (int64_t)dim);
  rotary_frame_fill(n, dim, t.cos->data, t.sin->data);
  return t;
}

rotary_tables rotary_axial(vp_ctx *ctx, int64_t h, int64_t w, int dim) {
  rotary_tables t;
  t.cos = tensor_newv(ctx, 2, h * w, (int64_t)dim);
  t.sin = tensor_newv(ctx, 2, h * w, (int64_t)dim);
  rotary_axial_fill(h, w, dim, t.cos->data, t.sin->data);
  return t;
}
