// rotary.h: rotary position embedding (as PVDM's rotary_embedding_torch uses it).
#ifndef VP_OPS_ROTARY_H
#define VP_OPS_ROTARY_H

#include "core/tensor.h"

// Rotary embedding with given tables: x (..., L, D), cos and sin (L, D), D
// even, no gradient through the tables (they must not require one).
// out = x * cos + rot(x) * sin where rot acts on interleaved pairs:
// (x[2i], x[2i+1]) -> (-x[2i+1], x[2i]).
vp_tensor *op_rotary(vp_ctx *ctx, vp_tensor *x, vp_tensor *cos, vp_tensor *sin);

#endif
