// tiny_ddpm.h: a small conditional DDPM that predicts the next frames of a
// video from the previous ones: the model `vpcast demo` and the trainer tests
// train (model.name: tiny_ddpm).
//
// Frames of all modalities are stacked on channels, frame-major: a clip of
// T frames with C channels per frame (e.g. RGB + depth, C = 4) becomes
// (T*C, H, W), channel t*C + c. The first Tc frames are the condition, the
// next K frames the target x0 (both in the data's [-1, 1] scale).
//
// Denoiser: guided-diffusion's UNetModel (ADM) at a small size, with its
// state_dict names:
//   time_embed.{0,2}     sinusoid(t) [cos | sin] of dim W -> Linear(W, 4W), SiLU, Linear(4W, 4W)
//   input_blocks.0.0     conv3x3 over [x_t (K*C) | condition (Tc*C)] -> W
//   input_blocks.k       per level l: num_res_blocks x (ResBlock -> W*mult[l] [, AttentionBlock]),
//                        then (all but the last level) a ResBlock with down=True
//   middle_block.{0,1,2} ResBlock, AttentionBlock, ResBlock
//   output_blocks.k      per level, reversed: num_res_blocks + 1 x (ResBlock over
//                        [h | skip] [, AttentionBlock]), the last of a level > 0
//                        ending with a ResBlock with up=True
//   out.{0,2}            GroupNorm, SiLU, conv3x3 W -> K*C (zero-initialised): eps_hat
// ResBlocks use scale-shift norm; attention runs at the levels in attn_levels
// (the low resolutions) and in the middle block.
// Training: the DDPM eps loss of diffusion/ddpm_loss.h with the process of
// diffusion/diffusion.h; sampling: DDIM (diffusion/ddim.h).
//
// Residual mode (cfg.residual, RVD's parameterisation y0 = (x - mu) / sigma
// with mu = the last condition frame and sigma = 1): the process diffuses
// y0 = target frame - last condition frame instead of the frames, and a
// prediction is clamp(last + y0_sample, -1, 1). Most of a video does not
// change between frames, so y0 is mostly zero and the denoiser learns what
// moves from far fewer steps; y0 lies in [-2, 2] (sample with clip_x0 = 2).
//
// EDM preconditioning (cfg.precond, Karras et al. 2022, Table 1, rewritten
// for an eps-predicting VP model): with a = alphā_t, sd = cfg.sigma_data and
// v = 1 - a + a sd^2,
//   eps_hat = c_skip x_t + c_out UNet(c_in x_t, cond, t),
//   c_in = 1 / sqrt(v),  c_skip = sqrt(1 - a) / v,  c_out = -sd sqrt(a) / sqrt(v).
// This is EDM's D = c_skip x~ + c_out F(c_in x~) with x~ = x_t / sqrt(a) and
// sigma^2 = (1 - a) / a, turned into eps_hat = (x~ - D) / sigma. The skip term
// is the linear least-squares eps for data of variance sd^2, so the UNet only
// learns the correction and its target has unit scale at every t; the loss
// is still the plain eps MSE. An unconditioned ADM UNet must first learn to
// pass x_t through to its output to 1e-3 (eps_hat ~ x_t at high noise),
// which a small model trained for a few hundred steps does not.
#ifndef VP_MODELS_TINY_DDPM_H
#define VP_MODELS_TINY_DDPM_H

#include <stdint.h>

#include "core/config.h"
#include "core/options.h"
#include "core/params.h"
#include "core/tensor.h"
#include "diffusion/diffusion.h"
#include "io/loader.h"
#include "io/source.h"
#include "nn/attn_block.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/resblock.h"

#define TINY_DDPM_MAX_LEVELS 4
#define TINY_DDPM_MAX_RES 4
#define TINY_DDPM_MAX_BLOCKS (TINY_DDPM_MAX_LEVELS * (TINY_DDPM_MAX_RES + 1))

typedef struct tiny_ddpm_cfg {
  int ctx_frames;       // Tc: condition frames
  int fut_frames;       // K: predicted frames
  int channels;         // C: channels per frame, all modalities
  int width;            // W: model_channels
  int nlevels;          // len(channel_mult)
  int mult[TINY_DDPM_MAX_LEVELS];
  int num_res_blocks;
  unsigned attn_levels; // bit l: attention blocks at level l
  int heads;
  int groups;           // GroupNorm groups (ADM: 32)
  int residual;         // diffuse the change from the last condition frame
  int precond;          // TINY_DDPM_PRECOND_*
  float sigma_data;     // EDM's sigma_data (std of the diffused target)
} tiny_ddpm_cfg;

enum { TINY_DDPM_PRECOND_NONE = 0, TINY_DDPM_PRECOND_EDM = 1 };

typedef struct tiny_ddpm_block {
  resblock res;
  int has_attn;
  attn_block attn;
  int has_up;           // output blocks: a ResBlock(up) ends the level
  resblock up;
} tiny_ddpm_block;

typedef struct tiny_ddpm {
  tiny_ddpm_cfg cfg;
  nn_linear emb0, emb1;                      // time_embed.0, time_embed.2
  nn_conv in_conv;                           // input_blocks.0.0
  int nin;
  tiny_ddpm_block in[TINY_DDPM_MAX_BLOCKS];  // input_blocks.1 .. nin
  int64_t in_ch[TINY_DDPM_MAX_BLOCKS + 1];   // channels of each skip (input_blocks.0 .. nin)
  resblock mid0, mid2;                       // middle_block.0, .2
  attn_block mid1;                           // middle_block.1
  int nout;
  tiny_ddpm_block out[TINY_DDPM_MAX_BLOCKS]; // output_blocks.0 .. nout-1
  nn_norm out_norm;                          // out.0
  nn_conv out_conv;                          // out.2 (zero-init)
} tiny_ddpm;

// Declares every parameter of the denoiser in state_dict order. A cfg that
// does not fit (channels not divisible by groups or heads, too many levels)
// ends the program with a message.
void tiny_ddpm_declare(tiny_ddpm *m, vp_params *p, tiny_ddpm_cfg cfg);
void tiny_ddpm_init(const tiny_ddpm *m, const vp_params *p, uint64_t seed);
// Frame height and width must be multiples of this (2^(levels-1)).
int tiny_ddpm_size_multiple(const tiny_ddpm_cfg *cfg);

// eps_hat (B, K*C, H, W) for x_t (B, K*C, H, W) at timesteps t[B] (integers
// in [0, T)) given the condition frames cond (B, Tc*C, H, W). s is the
// schedule (needed by the EDM preconditioning; may be NULL without it).
vp_tensor *tiny_ddpm_eps(vp_ctx *ctx, const tiny_ddpm *m, const vp_schedule *s, vp_tensor *x_t,
                         vp_tensor *cond, const float *t);

// The training loss of a batch: x0 (B, K*C, H, W) the target frames, cond
// (B, Tc*C, H, W); t and eps drawn by ddpm_draw(seed, step, sample[B])
// (eps has the shape of x0: element e of sample b is element e of its
// (K*C, H, W) block). In residual mode the diffused target is x0 minus the
// last condition frame. Returns the 0-dim loss on ctx's tape.
vp_tensor *tiny_ddpm_loss(vp_ctx *ctx, const tiny_ddpm *m, const vp_diffusion *d, vp_tensor *x0,
                          vp_tensor *cond, const int64_t *sample, uint64_t seed, uint64_t step);

// DDIM predictions out (B, K*C, H, W) for cond (B, Tc*C, H, W) (plain
// arrays), with the sampler settings of d and noise from
// (seed, VP_STREAM_SAMPLING, noise step, sample[b]); in residual mode the
// sampled change is added to the last condition frame and clamped to
// [-1, 1]. ctx is scratch (reset after every denoiser call; see ddim_sample).
void tiny_ddpm_sample(vp_ctx *ctx, const tiny_ddpm *m, const vp_diffusion *d, const float *cond,
                      int64_t B, int H, int W, const int64_t *sample, uint64_t seed, float *out);

// Frames [t0, t0 + nt) of every clip of a loader batch, all modalities
// stacked frame-major on channels: out (n, nt*C, H, W), C = sum of the
// modalities' channels.
void tiny_ddpm_frames(const vp_batch *b, int t0, int nt, float *out);

// model.name = tiny_ddpm: model.channels, model.channel_mult and the
// model.tiny_ddpm.* keys below, the diffusion.* keys, and the clip shape and
// modalities of src (data.frames = context_frames + predicted frames).
// Frames of src must be more than context_frames; the rest are predicted.
struct vp_model *tiny_ddpm_model_create(const vp_config *cfg, const vp_source *src);
// The denoiser and the diffusion process inside a model made by
// tiny_ddpm_model_create (for sampling with its, or its EMA, weights).
const tiny_ddpm *tiny_ddpm_model_net(const struct vp_model *m);
const vp_diffusion *tiny_ddpm_model_diffusion(const struct vp_model *m);
extern const vp_option opts_model_tiny_ddpm[];

#endif
