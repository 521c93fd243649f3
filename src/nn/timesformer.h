// timesformer.h: one divided space-time block of PVDM's TimeSformer
// (models/autoencoder/vit_modules.py: an entry of TimeSformerEncoder/Decoder
// .layers, a ModuleList [time attention, space attention, feed-forward]).
//
// Tokens x (B, f*h*w, dim) are ordered (frame, row, col): 'b (f n) d'.
//   x = x + time_attn(LN(x))    each spatial position attends over the f frames,
//                               frame rotary on q and k ('(b n) f d')
//   x = x + space_attn(LN(x))   each frame attends over its h*w tokens,
//                               axial 2-D rotary on q and k ('(b f) n d')
//   x = x + ff(LN(x))           Linear(dim, 8dim), GEGLU (erf GELU), Linear(4dim, dim)
// Attention: q, k, v = chunk(to_qkv(x), 3) (bias-free, dim -> 3 * heads * dim_head),
// heads split as '(h d)', q scaled by dim_head^-0.5 and rotated, softmax over
// keys, to_out Linear(heads * dim_head, dim) with bias. Dropout is 0.
//
// Parameter names (below the prefix, e.g. "encoder.layers.3"), in
// state_dict order (PreNorm registers fn before norm):
//   0.fn.to_qkv.weight 0.fn.to_out.0.{weight,bias} 0.norm.{weight,bias}   time
//   1.fn.to_qkv.weight 1.fn.to_out.0.{weight,bias} 1.norm.{weight,bias}   space
//   2.fn.net.0.{weight,bias} 2.fn.net.3.{weight,bias} 2.norm.{weight,bias} feed-forward
#ifndef VP_NN_TIMESFORMER_H
#define VP_NN_TIMESFORMER_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/rotary_tables.h"

typedef struct tsf_attn {
  nn_linear to_qkv;  // (3 * heads * dim_head, dim), no bias
  nn_linear to_out;  // (dim, heads * dim_head) + bias
  nn_norm norm;      // LayerNorm(dim)
} tsf_attn;

typedef struct tsf_block {
  int64_t dim;
  int heads, dim_head;
  tsf_attn time, space;
  nn_linear ff_in;   // 2.fn.net.0: dim -> 8 dim
  nn_linear ff_out;  // 2.fn.net.3: 4 dim -> dim
  nn_norm ff_norm;
} tsf_block;

// PVDM: heads 8, dim_head 64.
void tsf_block_declare(tsf_block *m, vp_params *p, const char *prefix, int64_t dim, int heads, int dim_head);
void tsf_block_init(const tsf_block *m, const vp_params *p, uint64_t seed);
// x (B, f*h*w, dim) -> same. frame: rotary_frame(ctx, f, dim_head);
// axial: rotary_axial(ctx, h, w, dim_head). Either may be NULL (no rotary).
vp_tensor *tsf_block_fwd(vp_ctx *ctx, const tsf_block *m, vp_tensor *x, int64_t f, int64_t h, int64_t w,
                         const rotary_tables *frame, const rotary_tables *axial);

#endif
