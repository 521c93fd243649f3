// attention.h: multi-head scaled dot-product attention (rotary embedding: ops/rotary.h).
#ifndef VP_OPS_ATTENTION_H
#define VP_OPS_ATTENTION_H

#include "core/tensor.h"

// softmax(q k^T * scale + mask) v, per (batch, head).
// q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv) -> (B, H, Lq, Dv).
// mask: NULL, or additive float, (Lq, Lk) or (B, H, Lq, Lk); no gradient
// (a mask that requires one is an error). A -inf entry removes that key
// exactly. A query row whose masked scores are all -inf attends to nothing:
// its output row is 0 and it passes no gradient (where PyTorch's softmax
// would give NaN). NaN in the inputs or the mask propagates to the output.
// Fast path is fused (no Lq x Lk matrix per head is kept beyond one row
// block); the reference materialises the scores.
vp_tensor *op_attention(vp_ctx *ctx, vp_tensor *q, vp_tensor *k, vp_tensor *v, vp_tensor *mask,
                        float scale);

#endif
