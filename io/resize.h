// resize.h: image resizing for data loading, channel-last (H, W, C) float.
// The modes reproduce torch.nn.functional.interpolate so that data prepared
// here matches what the PyTorch reference pipelines feed their models:
//   RESIZE_NEAREST   mode='nearest': src = floor(dst * in / out)
//   RESIZE_BILINEAR  mode='bilinear', align_corners=False, antialias=False
//   RESIZE_AREA      mode='area' (adaptive average pooling)
#ifndef VP_IO_RESIZE_H
#define VP_IO_RESIZE_H

#include <stdint.h>

typedef enum { RESIZE_NEAREST = 0, RESIZE_BILINEAR = 1, RESIZE_AREA = 2 } vp_resize_mode;

// src (h, w, c) -> dst (H, W, c).
void resize_image(const float *src, int64_t h, int64_t w, int64_t c, float *dst, int64_t H, int64_t W,
                  vp_resize_mode mode);
// Parses "nearest" / "bilinear" / "area"; returns -1 on anything else.
int resize_mode_parse(const char *s);

#endif
