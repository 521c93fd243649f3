// pool.h: pooling and upsampling as differentiable ops.
#ifndef VP_OPS_POOL_H
#define VP_OPS_POOL_H

#include "core/tensor.h"

// x (B, C, H, W) -> (B, C, (H-k)/s + 1, (W-k)/s + 1), no padding (ADM downsample: k=s=2)
vp_tensor *op_avg_pool2d(vp_ctx *ctx, vp_tensor *x, int k, int stride);
// x (B, C, T, H, W); k[3], stride[3] = (t, h, w); pad[6] = (front, back, top,
// bottom, left, right). Padded cells hold pad_value (TF uses -inf; the
// pytorch-i3d port used by FVD code pads with 0).
// Output size per axis: (n + lo + hi - k)/s + 1.
vp_tensor *op_max_pool3d(vp_ctx *ctx, vp_tensor *x, const int k[3], const int stride[3],
                         const int pad[6], float pad_value);
// Average over the window; count_pad = 0 divides by the number of real
// (unpadded) cells, as TF's 'SAME' average pooling does; 1 divides by the
// full window, as PyTorch's count_include_pad=True does.
vp_tensor *op_avg_pool3d(vp_ctx *ctx, vp_tensor *x, const int k[3], const int stride[3],
                         const int pad[6], int count_pad);
// Nearest-neighbour x2 on the last two dims: (..., H, W) -> (..., 2H, 2W)
vp_tensor *op_upsample_nearest2x(vp_ctx *ctx, vp_tensor *x);

#endif
