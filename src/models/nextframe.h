// nextframe.h: a small conditional frame predictor for RGB + depth video.
// Given Tc context frames (RGB and depth stacked on channels) and a horizon
// k >= 1, it predicts frame Tc-1+k as the last context frame plus a learned
// residual. It is a 2-level ADM-style UNet whose ResBlocks take the horizon
// as their embedding (sinusoid -> MLP, like a diffusion timestep). This is
// the model `vpcast demo` trains; it exercises the runtime end to end.
#ifndef VP_MODELS_NEXTFRAME_H
#define VP_MODELS_NEXTFRAME_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/resblock.h"

typedef struct nextframe_cfg {
  int ctx_frames;   // Tc
  int channels;     // per frame: 4 (RGB + depth)
  int width;        // C: base channels (multiple of groups)
  int groups;       // GroupNorm groups
} nextframe_cfg;

typedef struct nextframe {
  nextframe_cfg cfg;
  nn_linear emb0, emb1;        // time_embed.0, time_embed.2
  nn_conv in_conv;             // input_conv
  resblock down, enc, mid, up, dec;
  nn_norm out_norm;            // out.0
  nn_conv out_conv;            // out.2 (zero-init)
} nextframe;

void nextframe_declare(nextframe *m, vp_params *p, nextframe_cfg cfg);
void nextframe_init(const nextframe *m, const vp_params *p, uint64_t seed);
// ctx (B, Tc*channels, H, W) in [-1, 1], horizon[B] >= 1 -> (B, channels, H, W).
// H and W must be even.
vp_tensor *nextframe_fwd(vp_ctx *ctx, const nextframe *m, vp_tensor *x, const float *horizon);

#endif
