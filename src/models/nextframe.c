// nextframe.c: the demo's conditional frame predictor (see nextframe.h).
#include "models/nextframe.h"

#include "core/check.h"
#include "ops/ops.h"

void nextframe_declare(nextframe *m, vp_params *p, nextframe_cfg cfg) {
  m->cfg = cfg;
  const int64_t C = cfg.width, E = 4 * cfg.width, Cin = (int64_t)cfg.ctx_frames * cfg.channels;
  VP_ASSERT(C % cfg.groups == 0);
  nn_linear_declare(&m->emb0, p, "time_embed.0", C, E, NN_BIAS);
  nn_linear_declare(&m->emb1, p, "time_embed.2", E, E, NN_BIAS);
  nn_conv2d_declare(&m->in_conv, p, "input_conv", Cin, C, 3, 1, 1, NN_BIAS);
  resblock_declare(&m->down, p, "down", C, C, E, cfg.groups, 1, RESBLOCK_DOWN);
  resblock_declare(&m->enc, p, "enc", C, 2 * C, E, cfg.groups, 1, RESBLOCK_SAME);
  resblock_declare(&m->mid, p, "mid", 2 * C, 2 * C, E, cfg.groups, 1, RESBLOCK_SAME);
  resblock_declare(&m->up, p, "up", 2 * C, C, E, cfg.groups, 1, RESBLOCK_UP);
  resblock_declare(&m->dec, p, "dec", 2 * C, C, E, cfg.groups, 1, RESBLOCK_SAME);
  nn_group_norm_declare(&m->out_norm, p, "out.0", cfg.groups, C, 1e-5f, 1);
  nn_conv2d_declare(&m->out_conv, p, "out.2", C, cfg.channels, 3, 1, 1, NN_BIAS | NN_ZERO_INIT);
}

void nextframe_init(const nextframe *m, const vp_params *p, uint64_t seed) {
  nn_linear_init(&m->emb0, p, seed);
  nn_linear_init(&m->emb1, p, seed);
  nn_conv_init(&m->in_conv, p, seed);
  resblock_init(&m->down, p, seed);
  resblock_init(&m->enc, p, seed);
  resblock_init(&m->mid, p, seed);
  resblock_init(&m->up, p, seed);
  resblock_init(&m->dec, p, seed);
  nn_norm_init(&m->out_norm);
  nn_conv_init(&m->out_conv, p, seed);
}

vp_tensor *nextframe_fwd(vp_ctx *ctx, const nextframe *m, vp_tensor *x, const float *horizon) {
  const int64_t B = x->shape[0];
  // Horizon embedding: sinusoid (B, C) -> Linear, SiLU, Linear -> (B, 4C).
  vp_tensor *e = op_timestep_embedding(ctx, horizon, B, m->cfg.width, VP_EMB_COS_SIN, 10000.0);
  e = nn_linear_fwd(ctx, &m->emb1, op_silu(ctx, nn_linear_fwd(ctx, &m->emb0, e)));
  vp_tensor *h0 = nn_conv_fwd(ctx, &m->in_conv, x);   // (B, C, H, W)
  vp_tensor *h = resblock_fwd(ctx, &m->down, h0, e);  // (B, C, H/2, W/2)
  h = resblock_fwd(ctx, &m->enc, h, e);               // (B, 2C, H/2, W/2)
  h = resblock_fwd(ctx, &m->mid, h, e);
  h = resblock_fwd(ctx, &m->up, h, e);                // (B, C, H, W)
  vp_tensor *cat[2] = {h, h0};
  h = resblock_fwd(ctx, &m->dec, op_concat(ctx, cat, 2, 1), e);
  h = nn_conv_fwd(ctx, &m->out_conv, op_silu(ctx, nn_norm_fwd(ctx, &m->out_norm, h)));
  // Residual on the last context frame: predicting "what changes" is easier.
  const int64_t Cf = m->cfg.channels;
  vp_tensor *last = op_slice(ctx, x, 1, (int64_t)(m->cfg.ctx_frames - 1) * Cf, Cf);
  return op_add(ctx, last, h);
}
