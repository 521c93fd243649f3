// ddim.c: the DDIM sampler (see ddim.h).
#include "diffusion/ddim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

void ddim_times(int T, int steps, int *times) {
  if (steps < 1 || steps > T) vp_die("ddim: sampling steps must be in [1, %d] (the schedule's T), got %d", T, steps);
  // linspace(-1, T-1, S+1)[j] = -1 + T j / S, truncated toward zero; it is
  // >= 0 for j >= 1 (S <= T), where truncation is floor.
  for (int j = 0; j <= steps; j++) {
    int v = j == 0 ? -1 : (int)(((int64_t)T * j) / steps) - 1;
    times[steps - j] = v;
  }
}

void ddim_rng_noise(int64_t k, float *z, int64_t B, int64_t n, void *arg) {
  const ddim_rng *r = arg;
  for (int64_t b = 0; b < B; b++) {
    VP_ASSERT(r->sample[b] >= 0);
    rng_normal(r->seed, VP_STREAM_SAMPLING, (uint64_t)k, (uint64_t)r->sample[b], 0, z + b * n, n);
  }
}

double ddim_sigma(const vp_schedule *s, double eta, int time, int time_next) {
  if (time_next < 0) return 0.0;
  double a = s->alphas_cumprod[time], an = s->alphas_cumprod[time_next];
  return eta * sqrt((1.0 - a / an) * (1.0 - an) / (1.0 - a));
}

void ddim_step(const vp_schedule *s, const ddim_cfg *cfg, int time, int time_next, float *x,
               const float *eps, const float *z, int64_t B, int64_t n) {
  VP_ASSERT(time >= 0 && time < s->T && time_next < time);
  const double a = s->alphas_cumprod[time], sa = sqrt(a), s1a = sqrt(1.0 - a);
  const double clip = cfg->clip_x0;
  const int last = time_next < 0;
  double san = 0, c = 0, sigma = 0;
  if (!last) {
    const double an = s->alphas_cumprod[time_next];
    sigma = ddim_sigma(s, cfg->eta, time, time_next);
    double c2 = 1.0 - an - sigma * sigma;
    san = sqrt(an);
    c = c2 > 0 ? sqrt(c2) : 0.0;  // c2 < 0 only by rounding when eta > 1
  }
  if (sigma > 0 && !z) vp_die("ddim: step %d -> %d has sigma %g but no noise was given", time, time_next, sigma);
  const int64_t N = B * n;
#pragma omp parallel for schedule(static) if (N > 65536)
  for (int64_t i = 0; i < N; i++) {
    double e = eps[i];
    double x0 = ((double)x[i] - s1a * e) / sa;
    if (clip > 0) x0 = x0 < -clip ? -clip : x0 > clip ? clip : x0;
    if (last) {
      x[i] = (float)x0;
    } else {
      double v = san * x0 + c * e;
      if (sigma > 0) v += sigma * (double)z[i];
      x[i] = (float)v;
    }
  }
}

void ddim_sample(vp_ctx *ctx, const vp_schedule *s, const ddim_cfg *cfg, ddim_eps_fn eps_fn,
                 void *eps_arg, ddim_noise_fn noise, void *noise_arg, int ndim, const int64_t *shape,
                 float *x) {
  VP_ASSERT(ndim >= 1 && ndim <= VP_MAXDIM);
  if (!(cfg->eta >= 0.0) || !(cfg->clip_x0 >= 0.0))
    vp_die("ddim: eta (%g) and the x0 clamp (%g) must be >= 0", cfg->eta, cfg->clip_x0);
  const int64_t B = shape[0];
  int64_t n = 1;
  for (int d = 1; d < ndim; d++) n *= shape[d];
  const int S = cfg->steps;
  int *times = vp_malloc(sizeof(int) * (size_t)(S + 1));
  ddim_times(s->T, S, times);
  float *z = vp_malloc(sizeof(float) * (size_t)(B * n));
  float *tb = vp_malloc(sizeof(float) * (size_t)B);
  noise(0, x, B, n, noise_arg);
  ctx_set_training(ctx, 0);
  for (int i = 0; i < S; i++) {
    const int t = times[i], tn = times[i + 1];
    for (int64_t b = 0; b < B; b++) tb[b] = (float)t;
    vp_tensor *xt = tensor_from(ctx, ndim, shape, x);
    vp_tensor *e = eps_fn(ctx, xt, tb, eps_arg);
    if (tensor_numel(e) != B * n) {
      char s1[64], s2[64];
      vp_die("ddim: the model returned %s for an input %s", tensor_shape_str(e, s1, sizeof s1),
             tensor_shape_str(xt, s2, sizeof s2));
    }
    const int noisy = tn >= 0 && ddim_sigma(s, cfg->eta, t, tn) > 0;
    if (noisy) noise(i + 1, z, B, n, noise_arg);
    ddim_step(s, cfg, t, tn, x, e->data, noisy ? z : NULL, B, n);
    ctx_reset(ctx);
  }
  free(tb);
  free(z);
  free(times);
}
