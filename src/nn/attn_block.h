// attn_block.h: the ADM AttentionBlock with the legacy head split
// (guided-diffusion QKVAttentionLegacy), as used by PVDM/SyncVP per plane
// (2-D) and as AttentionBlock1D over the packed (B, C, N) sequence. Both are
// this one module: the input (B, C, *spatial) is flattened to (B, C, N).
//
//   qkv = Conv1d(C, 3C, 1)(GroupNorm(C)(x))           (B, 3C, N)
//   per head h the channels [h*3ch, (h+1)*3ch) are [q (ch) | k (ch) | v (ch)], ch = C/heads
//   a = softmax over keys of (q * ch^-1/4)^T (k * ch^-1/4), out = v a^T
//   out = x + Conv1d(C, C, 1)(out)                     (proj_out, zero-initialised)
//
// Parameter names (below the prefix): norm.{weight,bias}, qkv.{weight,bias}
// with weight (3C, C, 1), proj_out.{weight,bias} with weight (C, C, 1).
#ifndef VP_NN_ATTN_BLOCK_H
#define VP_NN_ATTN_BLOCK_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"
#include "nn/conv.h"
#include "nn/norm.h"

typedef struct attn_block {
  int64_t c;
  int heads;
  nn_norm norm;
  nn_conv qkv;
  nn_conv proj_out;  // zero-init
} attn_block;

// groups: ADM's GroupNorm32 uses 32 (eps 1e-5).
void attn_block_declare(attn_block *m, vp_params *p, const char *prefix, int64_t c, int heads, int groups);
void attn_block_init(const attn_block *m, const vp_params *p, uint64_t seed);
// x (B, C, *) with at least one spatial dim -> same shape.
vp_tensor *attn_block_fwd(vp_ctx *ctx, const attn_block *m, vp_tensor *x);

#endif
