// elem.h: broadcasting arithmetic and pointwise ops as differentiable ops.
// Broadcasting follows NumPy/PyTorch: shapes are right-aligned and a dim of
// size 1 (or a missing leading dim) stretches. The gradient of a broadcast
// input is summed over the stretched dims.
#ifndef VP_OPS_ELEM_H
#define VP_OPS_ELEM_H

#include "core/tensor.h"

vp_tensor *op_add(vp_ctx *ctx, vp_tensor *a, vp_tensor *b);
vp_tensor *op_sub(vp_ctx *ctx, vp_tensor *a, vp_tensor *b);
vp_tensor *op_mul(vp_ctx *ctx, vp_tensor *a, vp_tensor *b);
vp_tensor *op_div(vp_ctx *ctx, vp_tensor *a, vp_tensor *b);
// x * s
vp_tensor *op_scale(vp_ctx *ctx, vp_tensor *x, float s);
// x + s
vp_tensor *op_add_scalar(vp_ctx *ctx, vp_tensor *x, float s);
// min(max(x, lo), hi); gradient passes where lo <= x <= hi (PyTorch's rule).
vp_tensor *op_clamp(vp_ctx *ctx, vp_tensor *x, float lo, float hi);

#endif
