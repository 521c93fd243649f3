// embed.c: sinusoidal timestep embeddings (see embed.h).
// The timesteps are data, not activations, so nothing is recorded on the tape.
// Work is n * dim transcendental calls, tiny next to any layer that follows,
// so there is one plain kernel in double and no fast twin.
#include "ops/embed.h"

#include <math.h>

#include "core/check.h"

vp_tensor *op_timestep_embedding(vp_ctx *ctx, const float *t, int64_t n, int dim,
                                 vp_emb_order order, double max_period) {
  if (n < 0 || dim < 1)
    vp_die("timestep_embedding: need n >= 0 timesteps and dim >= 1, got n = %lld, dim = %d",
           (long long)n, dim);
  if (!(max_period > 0.0))
    vp_die("timestep_embedding: max_period must be > 0, got %g", max_period);
  if (order != VP_EMB_COS_SIN && order != VP_EMB_SIN_COS)
    vp_die("timestep_embedding: unknown order %d (want VP_EMB_COS_SIN or VP_EMB_SIN_COS)", (int)order);
  if (n > 0 && !t) vp_die("timestep_embedding: %lld timesteps but no data", (long long)n);
  vp_tensor *y = tensor_newv(ctx, 2, n, (int64_t)dim);  // (n, dim)
  int64_t half = dim / 2;
  // The cos block starts at 0 for COS_SIN and at half for SIN_COS.
  int64_t cos_at = order == VP_EMB_COS_SIN ? 0 : half, sin_at = half - cos_at;
  double lmp = log(max_period);
  for (int64_t i = 0; i < n; i++) {
    float *yi = y->data + i * dim;
    for (int64_t k = 0; k < half; k++) {
      double arg = (double)t[i] * exp(-lmp * (double)k / (double)half);
      yi[cos_at + k] = (float)cos(arg);
      yi[sin_at + k] = (float)sin(arg);
    }
    if (dim % 2) yi[dim - 1] = 0.f;
  }
  return y;
}
