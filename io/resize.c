// resize.c: nearest, bilinear and area resizing matching F.interpolate.
#include "io/resize.h"

#include <string.h>

#include "core/check.h"

static void resize_nearest(const float *src, int64_t h, int64_t w, int64_t c, float *dst, int64_t H,
                           int64_t W) {
  // PyTorch's legacy 'nearest': scale = in / out (as float), src = floor(dst * scale).
  const float sy = (float)h / (float)H, sx = (float)w / (float)W;
  for (int64_t y = 0; y < H; y++) {
    int64_t iy = (int64_t)((float)y * sy);
    if (iy > h - 1) iy = h - 1;
    for (int64_t x = 0; x < W; x++) {
      int64_t ix = (int64_t)((float)x * sx);
      if (ix > w - 1) ix = w - 1;
      memcpy(dst + (y * W + x) * c, src + (iy * w + ix) * c, (size_t)c * sizeof(float));
    }
  }
}

// Source coordinate of output index d for align_corners=False, clamped at 0
// as PyTorch's area_pixel_compute_source_index does.
static float src_coord(int64_t d, float scale) {
  float s = ((float)d + 0.5f) * scale - 0.5f;
  return s < 0.f ? 0.f : s;
}

static void resize_bilinear(const float *src, int64_t h, int64_t w, int64_t c, float *dst, int64_t H,
                            int64_t W) {
  const float sy = (float)h / (float)H, sx = (float)w / (float)W;
  for (int64_t y = 0; y < H; y++) {
    float fy = src_coord(y, sy);
    int64_t y0 = (int64_t)fy, y1 = y0 + (y0 < h - 1);
    float ly = fy - (float)y0, hy = 1.f - ly;
    for (int64_t x = 0; x < W; x++) {
      float fx = src_coord(x, sx);
      int64_t x0 = (int64_t)fx, x1 = x0 + (x0 < w - 1);
      float lx = fx - (float)x0, hx = 1.f - lx;
      const float *a = src + (y0 * w + x0) * c, *b = src + (y0 * w + x1) * c;
      const float *d = src + (y1 * w + x0) * c, *e = src + (y1 * w + x1) * c;
      float *o = dst + (y * W + x) * c;
      for (int64_t k = 0; k < c; k++) o[k] = hy * (hx * a[k] + lx * b[k]) + ly * (hx * d[k] + lx * e[k]);
    }
  }
}

static void resize_area(const float *src, int64_t h, int64_t w, int64_t c, float *dst, int64_t H,
                        int64_t W) {
  // adaptive_avg_pool2d: window [floor(i*in/out), ceil((i+1)*in/out)).
  for (int64_t y = 0; y < H; y++) {
    int64_t ys = (y * h) / H, ye = ((y + 1) * h + H - 1) / H;
    for (int64_t x = 0; x < W; x++) {
      int64_t xs = (x * w) / W, xe = ((x + 1) * w + W - 1) / W;
      float *o = dst + (y * W + x) * c;
      for (int64_t k = 0; k < c; k++) {
        double s = 0;
        for (int64_t iy = ys; iy < ye; iy++)
          for (int64_t ix = xs; ix < xe; ix++) s += src[(iy * w + ix) * c + k];
        o[k] = (float)(s / (double)((ye - ys) * (xe - xs)));
      }
    }
  }
}

void resize_image(const float *src, int64_t h, int64_t w, int64_t c, float *dst, int64_t H, int64_t W,
                  vp_resize_mode mode) {
  VP_ASSERT(h > 0 && w > 0 && H > 0 && W > 0 && c > 0);
  if (h == H && w == W) {
    memcpy(dst, src, (size_t)(h * w * c) * sizeof(float));
    return;
  }
  switch (mode) {
    case RESIZE_NEAREST: resize_nearest(src, h, w, c, dst, H, W); break;
    case RESIZE_BILINEAR: resize_bilinear(src, h, w, c, dst, H, W); break;
    case RESIZE_AREA: resize_area(src, h, w, c, dst, H, W); break;
    default: VP_ASSERT(0);
  }
}

int resize_mode_parse(const char *s) {
  if (!strcmp(s, "nearest")) return RESIZE_NEAREST;
  if (!strcmp(s, "bilinear")) return RESIZE_BILINEAR;
  if (!strcmp(s, "area")) return RESIZE_AREA;
  return -1;
}
