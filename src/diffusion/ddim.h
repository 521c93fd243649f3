// ddim.h: the DDIM sampler (Song et al.) as SyncVP runs it (its
// denoising-diffusion-pytorch style `ddim_sample`).
//
// Times: the integer parts of linspace(-1, T-1, S+1) in reverse, paired as
// (times[i], times[i+1]), i = 0..S-1; for T = 1000, S = 100 that is
// 999 -> 989 -> ... -> 9 -> -1. The values are computed exactly,
// times[S - j] = floor(T j / S) - 1, which is what the float linspace means.
// One step from x at time t to t' (a = alphā_t, a' = alphā_t'):
//   eps   = model(x, t)
//   x0    = (x - sqrt(1 - a) eps) / sqrt(a), clamped to [-clip, clip] when
//           clip > 0 (eps is not recomputed after the clamp)
//   if t' < 0 (the last step): the output is x0
//   sigma = eta sqrt((1 - a / a') (1 - a') / (1 - a)),  c = sqrt(1 - a' - sigma^2)
//   x'    = sqrt(a') x0 + c eps + sigma z
// eta = 0 is deterministic DDIM; eta = 1 is what SyncVP samples with.
// Scalars are formed in double, elements are updated in double from float
// and stored as float.
//
// Randomness: x_T is noise step k = 0 and the z of step i is noise step
// k = i + 1 (drawn only when sigma > 0). The default noise (ddim_rng_noise)
// is rng_normal(seed, VP_STREAM_SAMPLING, k, sample[b], element e), so a
// sample's trajectory depends only on its sample index, never on the batch
// it was sampled in or the number of ranks. Tests inject their own noise.
#ifndef VP_DIFFUSION_DDIM_H
#define VP_DIFFUSION_DDIM_H

#include <stdint.h>

#include "core/tensor.h"
#include "diffusion/schedule.h"

typedef struct ddim_cfg {
  int steps;       // S, 1 <= S <= T
  double eta;      // >= 0
  double clip_x0;  // clamp x0 to [-clip_x0, clip_x0]; 0: no clamp
} ddim_cfg;

// times[0..S]: T-1 = times[0] > times[1] > ... > times[S] = -1.
void ddim_times(int T, int steps, int *times);

// The model: eps_hat for x (B, ...) at timesteps t[B] (floats holding
// integers, what the timestep embedding takes). Returns a tensor of x's shape
// allocated in ctx (any tensor with the right numel is accepted).
typedef vp_tensor *(*ddim_eps_fn)(vp_ctx *ctx, vp_tensor *x, const float *t, void *arg);
// Fills z (B, n) with the normal noise of noise step k.
typedef void (*ddim_noise_fn)(int64_t k, float *z, int64_t B, int64_t n, void *arg);

// The default noise; arg is a ddim_rng.
typedef struct ddim_rng {
  uint64_t seed;
  const int64_t *sample;  // (B) sample index of each batch row
} ddim_rng;
void ddim_rng_noise(int64_t k, float *z, int64_t B, int64_t n, void *arg);

// Samples x (B, n) (n elements per sample; x's shape as given to eps_fn is
// shape[0..ndim), with shape[0] = B): draws x_T with noise(0), runs the S
// steps and leaves the sample x_0 in x. ctx is scratch: it is put in
// inference mode and reset after every model call, so eps_fn must keep its
// conditioning outside it (in arg) and build its tensors anew each call.
void ddim_sample(vp_ctx *ctx, const vp_schedule *s, const ddim_cfg *cfg, ddim_eps_fn eps_fn,
                 void *eps_arg, ddim_noise_fn noise, void *noise_arg, int ndim, const int64_t *shape,
                 float *x);

// One step on plain arrays (what ddim_sample does after the model call):
// x (B, n) at times t = time, t' = time_next (-1: last), eps (B, n) the
// model's prediction, z (B, n) the step's noise (may be NULL when sigma = 0
// or time_next < 0). x is updated in place.
void ddim_step(const vp_schedule *s, const ddim_cfg *cfg, int time, int time_next, float *x,
               const float *eps, const float *z, int64_t B, int64_t n);
// sigma of the step t -> t' (0 when t' < 0).
double ddim_sigma(const vp_schedule *s, double eta, int time, int time_next);

#endif
