// norm.h: GroupNorm and LayerNorm modules that own their parameters.
// Parameters (when affine): <prefix>.weight and <prefix>.bias, (C) or (D).
#ifndef VP_NN_NORM_H
#define VP_NN_NORM_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"

typedef struct nn_norm {
  vp_tensor *w, *b;  // NULL without affine
  int groups;        // GroupNorm groups; 0 = LayerNorm over the last dim
  int64_t c;         // channels (GroupNorm) or the normalised size (LayerNorm)
  float eps;
} nn_norm;

// nn.GroupNorm(groups, c, eps): x (B, c, *). ADM's normalization() is (32, c, 1e-5).
void nn_group_norm_declare(nn_norm *m, vp_params *p, const char *prefix, int groups, int64_t c,
                           float eps, int affine);
// nn.LayerNorm(d, eps): x (..., d).
void nn_layer_norm_declare(nn_norm *m, vp_params *p, const char *prefix, int64_t d, float eps,
                           int affine);
// PyTorch's default: weight 1, bias 0.
void nn_norm_init(const nn_norm *m);
vp_tensor *nn_norm_fwd(vp_ctx *ctx, const nn_norm *m, vp_tensor *x);

#endif
