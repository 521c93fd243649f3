// grad_clip.h: gradient clipping by global 2-norm, and the NaN/Inf report.
// Semantics are torch.nn.utils.clip_grad_norm_(params, max_norm) (1.13,
// norm_type 2) over all gradients as one vector:
//   total = sqrt(sum g^2)                       (accumulated in double)
//   coef  = max_norm / (total + 1e-6)           (float32, as torch computes it)
//   g     = g * coef      only when coef < 1    (torch multiplies by
//                                               min(coef, 1), the same thing)
// and the pre-clip total is returned for logging. Departures, both on
// purpose: a non-finite total (a NaN or Inf gradient) leaves the gradients
// untouched and is reported (torch would scale them all by NaN); the trainer
// skips the step. max_norm <= 0 only measures (config "clip: 0" = off).
//
// The sum of squares is taken in fixed blocks whose partial sums are added in
// order, so the norm is bit-identical for any thread count.
#ifndef VP_GRAD_CLIP_H
#define VP_GRAD_CLIP_H

#include <stddef.h>

#include "core/params.h"

typedef struct vp_clip_result {
  double norm;   // total 2-norm before clipping (inf or nan when not finite)
  double coef;   // factor the gradients were multiplied by (1 when untouched)
  int clipped;   // 1 when the gradients were scaled
  int finite;    // 0 when norm is inf or nan: gradients untouched, skip the step
} vp_clip_result;

// sum(g[i]^2) in double, deterministic (see above). Exposed so a sharded
// caller can all-reduce partial sums before taking the root.
double grad_sumsq(const float *g, size_t n);
// Clip n gradients (one flat buffer) to global norm max_norm.
vp_clip_result grad_clip_norm(float *g, size_t n, double max_norm);
// Same on the store's flat gradient buffer.
vp_clip_result grad_clip_params(vp_params *p, double max_norm);
// Multiply n gradients by coef (OpenMP).
void grad_scale(float *g, size_t n, float coef);

#endif
