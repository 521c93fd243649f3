// rotary.c: rotary position embedding, forward and backward (gradient for x only).
#include "ops/rotary.h"

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/rotary.h"

// saved: 0 cos, 1 sin
static void rotary_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *x = n->in[0], *y = n->out, *c = n->saved[0], *s = n->saved[1];
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  const int64_t L = c->shape[0], D = c->shape[1], N = tensor_numel(x) / (L * D);
  if (vp_use_ref_kernels)
    cpu_rotary_bwd_ref(y->grad, c->data, s->data, gx, N, L, D);
  else
    cpu_rotary_bwd(y->grad, c->data, s->data, gx, N, L, D);
}
static const vp_opdef OP_ROTARY = {"rotary", {rotary_backward, NULL}};

vp_tensor *op_rotary(vp_ctx *ctx, vp_tensor *x, vp_tensor *cos, vp_tensor *sin) {
  char s1[64], s2[64], s3[64];
  if (x->ndim < 2 || cos->ndim != 2 || !tensor_same_shape(cos, sin) ||
      x->shape[x->ndim - 2] != cos->shape[0] || x->shape[x->ndim - 1] != cos->shape[1] ||
      cos->shape[1] % 2 != 0)
    vp_die("rotary: need x (..., L, D) with D even and cos, sin (L, D), got x %s, cos %s, sin %s",
           tensor_shape_str(x, s1, 64), tensor_shape_str(cos, s2, 64), tensor_shape_str(sin, s3, 64));
  if (cos->requires_grad || sin->requires_grad)
    vp_die("rotary: the cos / sin tables %s get no gradient but require one; build them from "
           "tensors that need no gradient", tensor_shape_str(cos, s2, 64));
  const int64_t L = cos->shape[0], D = cos->shape[1], N = tensor_numel(x) / (L * D);
  vp_tensor *y = tensor_new(ctx, x->ndim, x->shape);
  if (vp_use_ref_kernels)
    cpu_rotary_fwd_ref(x->data, cos->data, sin->data, y->data, N, L, D);
  else
    cpu_rotary_fwd(x->data, cos->data, sin->data, y->data, N, L, D);
  vp_tensor *in[1] = {x};
  vp_node *n = tape_record(ctx, &OP_ROTARY, y, in, 1);
  if (n) {
    n->saved[0] = cos;
    n->saved[1] = sin;
  }
  return y;
}
