// attention.h: multi-head scaled dot-product attention and rotary embedding.
#ifndef VP_OPS_ATTENTION_H
#define VP_OPS_ATTENTION_H

#include "core/tensor.h"

// softmax(q k^T * scale + mask) v, per (batch, head).
// q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv) -> (B, H, Lq, Dv).
// mask: NULL, or additive float, (Lq, Lk) or (B, H, Lq, Lk); no gradient.
// Fast path is fused (no Lq x Lk matrix per head is kept beyond one row
// block); the reference materialises the scores.
vp_tensor *op_attention(vp_ctx *ctx, vp_tensor *q, vp_tensor *k, vp_tensor *v, vp_tensor *mask,
                        float scale);
// Rotary embedding with given tables: x (..., L, D), cos and sin (L, D), no
// gradient through the tables. out = x * cos + rot(x) * sin where rot acts
// on interleaved pairs: (x[2i], x[2i+1]) -> (-x[2i+1], x[2i]).
vp_tensor *op_rotary(vp_ctx *ctx, vp_tensor *x, vp_tensor *cos, vp_tensor *sin);

#endif
