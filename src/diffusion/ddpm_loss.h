// ddpm_loss.h: the epsilon-prediction training objective of DDPM.
//   t ~ U{0..T-1} per sample, eps ~ N(0, I),
//   x_t = sqrt(alphā_t) x_0 + sqrt(1 - alphā_t) eps,
//   loss = mean over every element of the batch of (eps_hat - eps)^2
//          (l1: |eps_hat - eps|, RVD's choice).
// With equal-sized samples the mean over all elements equals SyncVP's "MSE
// over (C, N) per sample, averaged over the batch".
//
// The draws are pure functions of (seed, step, global sample index, element),
// so a sample draws the same t and eps on any number of ranks and under any
// micro-batching:
//   t[b]      = (rng_u32(seed, VP_STREAM_TIMESTEP, step, sample[b], 0) * T) >> 32
//               (multiply-shift: uniform on 0..T-1 up to a bias below T / 2^32)
//   eps[b][e] = rng_normal(seed, VP_STREAM_NOISE, step, sample[b], element e)
// where e runs over the n elements of one sample in row-major order.
#ifndef VP_DIFFUSION_DDPM_LOSS_H
#define VP_DIFFUSION_DDPM_LOSS_H

#include <stdint.h>

#include "core/tensor.h"
#include "diffusion/schedule.h"

typedef enum { VP_DDPM_MSE = 0, VP_DDPM_L1 = 1 } vp_ddpm_loss_kind;

// Timesteps t[B] in [0, T) and noise eps (B, n) of samples sample[B] at
// optimizer step `step`. Either output may be NULL.
void ddpm_draw(uint64_t seed, uint64_t step, const int64_t *sample, int64_t B, int T, int64_t n,
               int32_t *t, float *eps);

// x_t = sqrt(alphā_t) x0 + sqrt(1 - alphā_t) eps as a differentiable op
// (gradients reach x0 and eps when they need them; RVD trains through x0).
// x0, eps: (B, ...) of the same shape; t[B] in [0, T). The coefficients are
// the double tables rounded to float, as the references' float32 buffers.
vp_tensor *ddpm_q_sample(vp_ctx *ctx, const vp_schedule *s, vp_tensor *x0, vp_tensor *eps,
                         const int32_t *t);

// mean((eps_hat - eps)^2) or mean(|eps_hat - eps|) -> 0-dim tensor.
vp_tensor *ddpm_loss(vp_ctx *ctx, vp_tensor *eps_hat, vp_tensor *eps, vp_ddpm_loss_kind kind);

// "mse", "l1"; parse returns 0 on a known name, -1 otherwise.
const char *ddpm_loss_kind_name(vp_ddpm_loss_kind k);
int ddpm_loss_kind_parse(const char *name, vp_ddpm_loss_kind *k);

#endif
