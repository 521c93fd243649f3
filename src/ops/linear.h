// linear.h: matrix products as differentiable ops.
#ifndef VP_OPS_LINEAR_H
#define VP_OPS_LINEAR_H

#include "core/tensor.h"

// y = x @ w^T + b.  x (..., In), w (Out, In), b (Out) or NULL -> y (..., Out)
vp_tensor *op_linear(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b);
// c = a @ b.  a (..., M, K), b (K, N) -> (..., M, N)
vp_tensor *op_matmul(vp_ctx *ctx, vp_tensor *a, vp_tensor *b);
// Batched, with optional transposes of the last two dims:
// a (B, M, K) or (B, K, M) if ta; b (B, K, N) or (B, N, K) if tb -> (B, M, N).
// Leading dims beyond one batch dim are flattened: a and b must agree on them.
vp_tensor *op_bmm(vp_ctx *ctx, vp_tensor *a, vp_tensor *b, int ta, int tb);

#endif
