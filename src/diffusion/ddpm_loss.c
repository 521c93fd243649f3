// ddpm_loss.c: timestep and noise draws, forward noising, eps loss (see ddpm_loss.h).
#include "diffusion/ddpm_loss.h"

#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "ops/ops.h"

void ddpm_draw(uint64_t seed, uint64_t step, const int64_t *sample, int64_t B, int T, int64_t n,
               int32_t *t, float *eps) {
  VP_ASSERT(T >= 1 && B >= 0 && n >= 0);
  for (int64_t b = 0; b < B; b++) {
    VP_ASSERT(sample[b] >= 0);
    if (t) {
      uint32_t w = rng_u32(seed, VP_STREAM_TIMESTEP, step, (uint64_t)sample[b], 0);
      t[b] = (int32_t)(((uint64_t)w * (uint64_t)T) >> 32);
    }
    if (eps) rng_normal(seed, VP_STREAM_NOISE, step, (uint64_t)sample[b], 0, eps + b * n, n);
  }
}

vp_tensor *ddpm_q_sample(vp_ctx *ctx, const vp_schedule *s, vp_tensor *x0, vp_tensor *eps,
                         const int32_t *t) {
  char s1[64], s2[64];
  if (!tensor_same_shape(x0, eps) || x0->ndim < 1)
    vp_die("ddpm_q_sample: x0 %s and eps %s must have the same shape (B, ...)",
           tensor_shape_str(x0, s1, sizeof s1), tensor_shape_str(eps, s2, sizeof s2));
  const int64_t B = x0->shape[0];
  // Per-sample coefficients as (B, 1, ..., 1) tensors that broadcast.
  int64_t cs[VP_MAXDIM];
  cs[0] = B;
  for (int d = 1; d < x0->ndim; d++) cs[d] = 1;
  vp_tensor *ca = tensor_new(ctx, x0->ndim, cs), *cb = tensor_new(ctx, x0->ndim, cs);
  for (int64_t b = 0; b < B; b++) {
    if (t[b] < 0 || t[b] >= s->T) vp_die("ddpm_q_sample: timestep %d outside [0, %d)", (int)t[b], s->T);
    ca->data[b] = (float)s->sqrt_ac[t[b]];
    cb->data[b] = (float)s->sqrt_1m_ac[t[b]];
  }
  return op_add(ctx, op_mul(ctx, x0, ca), op_mul(ctx, eps, cb));
}

vp_tensor *ddpm_loss(vp_ctx *ctx, vp_tensor *eps_hat, vp_tensor *eps, vp_ddpm_loss_kind kind) {
  char s1[64], s2[64];
  if (!tensor_same_shape(eps_hat, eps))
    vp_die("ddpm_loss: prediction %s and noise %s differ in shape", tensor_shape_str(eps_hat, s1, sizeof s1),
           tensor_shape_str(eps, s2, sizeof s2));
  return kind == VP_DDPM_L1 ? op_l1_loss(ctx, eps_hat, eps) : op_mse_loss(ctx, eps_hat, eps);
}

const char *ddpm_loss_kind_name(vp_ddpm_loss_kind k) { return k == VP_DDPM_L1 ? "l1" : "mse"; }

int ddpm_loss_kind_parse(const char *name, vp_ddpm_loss_kind *k) {
  if (strcmp(name, "mse") == 0) *k = VP_DDPM_MSE;
  else if (strcmp(name, "l1") == 0) *k = VP_DDPM_L1;
  else return -1;
  return 0;
}
