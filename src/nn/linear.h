// linear.h: nn.Linear as a module that owns its parameters.
// Parameters: <prefix>.weight (out, in) and, with NN_BIAS, <prefix>.bias (out).
#ifndef VP_NN_LINEAR_H
#define VP_NN_LINEAR_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"

// Flags shared by the thin wrappers (linear, conv).
enum {
  NN_BIAS = 1,       // the layer has a bias
  NN_ZERO_INIT = 2,  // initialise weight and bias to zero (ADM zero_module)
};

typedef struct nn_linear {
  vp_tensor *w, *b;  // (out, in), (out) or NULL
  int64_t in, out;
  int zero_init;
} nn_linear;

void nn_linear_declare(nn_linear *m, vp_params *p, const char *prefix, int64_t in, int64_t out, int flags);
// PyTorch's default (U(+-1/sqrt(in)) for both), or zeros with NN_ZERO_INIT.
void nn_linear_init(const nn_linear *m, const vp_params *p, uint64_t seed);
// x (..., in) -> (..., out)
vp_tensor *nn_linear_fwd(vp_ctx *ctx, const nn_linear *m, vp_tensor *x);

#endif
