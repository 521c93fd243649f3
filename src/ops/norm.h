// norm.h: normalisation layers as differentiable ops (statistics in fp32,
// biased variance, as PyTorch).
#ifndef VP_OPS_NORM_H
#define VP_OPS_NORM_H

#include "core/tensor.h"

// x (B, C, *) with C % groups == 0; w, b (C) or NULL (no affine).
vp_tensor *op_group_norm(vp_ctx *ctx, vp_tensor *x, int groups, vp_tensor *w, vp_tensor *b,
                         float eps);
// Normalise over the last dim; x (..., D); w, b (D) or NULL (no affine).
vp_tensor *op_layer_norm(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, float eps);

#endif
