// act.h: elementwise activations and softmax as differentiable ops.
#ifndef VP_OPS_ACT_H
#define VP_OPS_ACT_H

#include "core/tensor.h"

vp_tensor *op_silu(vp_ctx *ctx, vp_tensor *x);
// approx_tanh = 0: x * Phi(x) with erf (PyTorch default); 1: the tanh form.
vp_tensor *op_gelu(vp_ctx *ctx, vp_tensor *x, int approx_tanh);
// x (..., 2D) split along the last dim into (a, g) -> a * gelu_erf(g), (..., D)
vp_tensor *op_geglu(vp_ctx *ctx, vp_tensor *x);
vp_tensor *op_relu(vp_ctx *ctx, vp_tensor *x);
vp_tensor *op_leaky_relu(vp_ctx *ctx, vp_tensor *x, float slope);
vp_tensor *op_tanh(vp_ctx *ctx, vp_tensor *x);
vp_tensor *op_sigmoid(vp_ctx *ctx, vp_tensor *x);
// Softmax over the last dim (max-subtracted).
vp_tensor *op_softmax(vp_ctx *ctx, vp_tensor *x);

#endif
