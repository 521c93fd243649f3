// sevir_resize.h: the resizing modes the SEVIR source offers for one-channel
// (H, W) float frames. Three come from io/resize.h (F.interpolate's nearest,
// bilinear and area); two are the ones SEVIR pipelines in the literature use:
//   bilinear_aa  PIL's Image.resize(..., BILINEAR), which PredLDM applies to
//                each VIL frame (384 -> 128): a triangle filter whose support
//                widens with the downscale factor (antialiasing), the same
//                weights as F.interpolate(mode='bilinear', antialias=True).
//                PIL computes on uint8 and rounds after each pass; here the
//                arithmetic is float, so values differ from PredLDM's PNGs by
//                at most about one code (1/255).
//   max          block maximum over the adaptive-pooling window
//                [floor(i*in/out), ceil((i+1)*in/out)), which is
//                skimage block_reduce(..., np.max) for integer factors: the
//                SEVIR-LR preprocessing of Earthformer / PreDiff (384 -> 128).
#ifndef VP_IO_SEVIR_RESIZE_H
#define VP_IO_SEVIR_RESIZE_H

#include <stdint.h>

typedef enum {
  SEVIR_RESIZE_BILINEAR_AA = 0,
  SEVIR_RESIZE_AREA,
  SEVIR_RESIZE_BILINEAR,
  SEVIR_RESIZE_NEAREST,
  SEVIR_RESIZE_MAX
} sevir_resize_mode;

// The choices string of the data.sevir.resize option, in enum order.
#define SEVIR_RESIZE_CHOICES "bilinear_aa|area|bilinear|nearest|max"

// src (h, w) -> dst (H, W). tmp needs h * W floats (bilinear_aa's
// intermediate); it may be NULL for the other modes.
void sevir_resize(const float *src, int64_t h, int64_t w, float *dst, int64_t H, int64_t W,
                  sevir_resize_mode mode, float *tmp);
// Separate passes, exposed for tests.
void sevir_resize_bilinear_aa(const float *src, int64_t h, int64_t w, float *dst, int64_t H,
                              int64_t W, float *tmp);
void sevir_resize_max(const float *src, int64_t h, int64_t w, float *dst, int64_t H, int64_t W);

#endif
