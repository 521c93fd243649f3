// shape.h: shape ops: reshape, permute, concat, slice/split, constant pad.
// Tensors are always contiguous, so permute/concat/slice/pad copy; reshape
// shares the data and copies only the gradient.
#ifndef VP_OPS_SHAPE_H
#define VP_OPS_SHAPE_H

#include "core/tensor.h"

// One entry of shape may be -1 (inferred).
vp_tensor *op_reshape(vp_ctx *ctx, vp_tensor *x, int ndim, const int64_t *shape);
// out.shape[i] = x.shape[perm[i]]  (torch.permute)
vp_tensor *op_permute(vp_ctx *ctx, vp_tensor *x, const int *perm);
// Concatenate n (<= 8) tensors along dim; other dims must agree.
vp_tensor *op_concat(vp_ctx *ctx, vp_tensor *const *xs, int n, int dim);
// x.narrow(dim, start, len)
vp_tensor *op_slice(vp_ctx *ctx, vp_tensor *x, int dim, int64_t start, int64_t len);
// torch.split with explicit sizes: n outputs written to out[].
void op_split(vp_ctx *ctx, vp_tensor *x, int dim, const int64_t *sizes, int n, vp_tensor **out);
// F.pad(x, pads, value=value): pads has 2*npad entries, (lo, hi) for the last
// dim first, then the one before, ...; negative entries are not supported.
vp_tensor *op_pad(vp_ctx *ctx, vp_tensor *x, const int64_t *pads, int npad, float value);

#endif
