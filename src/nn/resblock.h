// resblock.h: the ADM residual block with timestep embedding (guided-diffusion
// / LDM openaimodel.py ResBlock, as used by PVDM/SyncVP models/ddpm), on 2-D
// planes (B, C, H, W).
//
//   h = in_layers(x)           GroupNorm(ci), SiLU, conv3x3 ci->co
//       (up/down: GN+SiLU, then nearest x2 / avg-pool 2x2 on h and on x, then the conv)
//   e = emb_layers(emb)        SiLU, Linear(E, 2co) (co without scale-shift)
//   scale-shift: h = GN(h) * (1 + scale) + shift, with (scale, shift) = split(e)
//   otherwise:   h = GN(h + e)
//   h = conv3x3(dropout(SiLU(h)))   (dropout p = 0; this conv is zero-initialised)
//   out = skip(x) + h          skip: identity if ci == co, else conv1x1
//
// Parameter names (PyTorch state_dict keys, below the prefix):
//   in_layers.0.{weight,bias}  in_layers.2.{weight,bias}  emb_layers.1.{weight,bias}
//   out_layers.0.{weight,bias} out_layers.3.{weight,bias} [skip_connection.{weight,bias}]
#ifndef VP_NN_RESBLOCK_H
#define VP_NN_RESBLOCK_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/norm.h"

typedef enum { RESBLOCK_SAME = 0, RESBLOCK_UP = 1, RESBLOCK_DOWN = -1 } resblock_updown;

typedef struct resblock {
  int64_t ci, co, emb;
  int scale_shift;          // use_scale_shift_norm
  resblock_updown updown;
  nn_norm in_norm;          // in_layers.0
  nn_conv in_conv;          // in_layers.2
  nn_linear emb_lin;        // emb_layers.1
  nn_norm out_norm;         // out_layers.0
  nn_conv out_conv;         // out_layers.3 (zero-init)
  int has_skip;             // ci != co
  nn_conv skip;             // skip_connection (1x1)
} resblock;

// groups: ADM's GroupNorm32 uses 32 (eps 1e-5).
void resblock_declare(resblock *m, vp_params *p, const char *prefix, int64_t ci, int64_t co,
                      int64_t emb, int groups, int scale_shift, resblock_updown updown);
void resblock_init(const resblock *m, const vp_params *p, uint64_t seed);

// emb (B, E) -> emb_layers(emb), (B, 2co) or (B, co). Computed once when the
// block runs on several planes with the same embedding.
vp_tensor *resblock_emb(vp_ctx *ctx, const resblock *m, vp_tensor *emb);
// x (B, ci, H, W), e from resblock_emb -> (B, co, H', W'), H' = 2H (up), H/2 (down), H.
vp_tensor *resblock_fwd_emb(vp_ctx *ctx, const resblock *m, vp_tensor *x, vp_tensor *e);
// Both steps: x (B, ci, H, W), emb (B, E).
vp_tensor *resblock_fwd(vp_ctx *ctx, const resblock *m, vp_tensor *x, vp_tensor *emb);

#endif
