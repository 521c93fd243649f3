// attention.h: CPU kernels for scaled dot-product attention, per (batch, head):
//   out = softmax(q k^T * scale + mask) v
// Layouts (row-major, bh = batch * heads):
//   q (bh, lq, d), k (bh, lk, d), v (bh, lk, dv), out (bh, lq, dv)
//   mask: NULL, (lq, lk) shared by every (batch, head), or (bh, lq, lk)
// Masked rows: an entry of -inf removes that key exactly (its probability is
// 0). A row whose scores are all -inf attends to nothing: its output row is 0
// and it passes no gradient to q, k or v (PyTorch's softmax would give NaN).
// NaN in the inputs or mask propagates to the output. Backward kernels
// accumulate (+=) into gq / gk / gv; any of them may be NULL (not needed).
#ifndef VP_KERNELS_CPU_ATTENTION_H
#define VP_KERNELS_CPU_ATTENTION_H

#include <stdint.h>

typedef struct cpu_attn_shape {
  int64_t bh;         // batch * heads
  int64_t lq, lk;     // query and key lengths (lk >= 1)
  int64_t d, dv;      // head dim of q / k and of v
  float scale;        // multiplies q k^T before the mask is added
  int mask_per_head;  // mask is (bh, lq, lk) rather than (lq, lk)
} cpu_attn_shape;

// Reference: materialises the probabilities probs (bh, lq, lk), accumulating
// in double. Backward reads them back.
void cpu_attention_fwd_ref(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                           const float *mask, float *out, float *probs);
void cpu_attention_bwd_ref(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                           const float *probs, const float *gout, float *gq, float *gk, float *gv);

// Fused (FlashAttention-style): a block of query rows at a time, scores for
// the block only, exact softmax over the full key row. Keeps per row only
// lse (bh, lq) = log sum exp of the masked, scaled scores (+inf for a fully
// masked row); lse may be NULL when no backward follows. Backward recomputes
// the probabilities block by block from lse.
void cpu_attention_fwd(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *mask, float *out, float *lse);
void cpu_attention_bwd(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *mask, const float *lse, const float *gout, float *gq,
                       float *gk, float *gv);
// Testing hook: the widest instruction set the fused kernels may use, so that
// every code path can be checked on one machine: 2 AVX-512 (the default; each
// level falls back to the next the CPU has), 1 AVX2 + FMA, 0 portable loops.
void cpu_attention_limit_isa(int level);

#endif
