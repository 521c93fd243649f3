// reduce.h: sums and means over axes, and the losses built on them.
#ifndef VP_OPS_REDUCE_H
#define VP_OPS_REDUCE_H

#include "core/tensor.h"

// Sum / mean over the listed axes (negative = from the end; each at most
// once). keepdim keeps them as size 1. naxes = 0 reduces over every axis:
// a 0-dim tensor, or all size-1 dims with keepdim.
vp_tensor *op_sum(vp_ctx *ctx, vp_tensor *x, const int *axes, int naxes, int keepdim);
vp_tensor *op_mean(vp_ctx *ctx, vp_tensor *x, const int *axes, int naxes, int keepdim);
// mean((x - y)^2) and mean(|x - y|) over all elements -> 0-dim tensor.
// Both inputs may need gradients. d|u|/du at u = 0 is 0 (PyTorch's sign()).
vp_tensor *op_mse_loss(vp_ctx *ctx, vp_tensor *x, vp_tensor *y);
vp_tensor *op_l1_loss(vp_ctx *ctx, vp_tensor *x, vp_tensor *y);

#endif
