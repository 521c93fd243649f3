// lpips.h: LPIPS (Zhang et al. 2018), AlexNet variant v0.1, as the `lpips`
// package computes it: the input scaling layer, AlexNet's five ReLU feature
// maps, channel-unit-normalised differences squared, the learned 1x1 linear
// heads, spatial mean, summed over layers. Weights come from an HDF5 file
// made by tools/convert_lpips.py (torchvision AlexNet + the package's
// alex.pth linear heads); nothing is downloaded.
#ifndef VP_MODELS_LPIPS_H
#define VP_MODELS_LPIPS_H

#include <stdint.h>

#include "core/tensor.h"

typedef struct lpips_model lpips_model;

// Loads the weights; on a missing or malformed file dies with a message that
// names the file and how to make it (tools/convert_lpips.py).
lpips_model *lpips_load(const char *path);
void lpips_free(lpips_model *m);
// x, y: n images (n, 3, H, W) with values in [-1, 1] (the package's
// normalize=False convention) -> out[n] distances. Runs in inference mode in
// ctx (reset before returning).
// H and W must be at least 31 (AlexNet's two 3x3/2 pools).
void lpips_distance(lpips_model *m, vp_ctx *ctx, const float *x, const float *y, int64_t n,
                    int64_t H, int64_t W, float *out);
// Same, also writing each layer's term (n, 5) (out[i] is their sum), as the
// package's retPerLayer=True returns them. layers may be NULL.
#define LPIPS_LAYERS 5
void lpips_distance_layers(lpips_model *m, vp_ctx *ctx, const float *x, const float *y, int64_t n,
                           int64_t H, int64_t W, float *out, float *layers);

#endif
