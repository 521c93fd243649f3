// init.h: parameter initialisation, PyTorch's defaults drawn from Philox.
// Every draw uses stream VP_STREAM_INIT, step 0 and sample = the parameter's
// index in its store, so a model's initial weights depend only on the seed
// and the declaration order, never on the thread count or on what else was
// drawn before. The values differ from PyTorch's CPU generator (a different
// RNG); the distributions are the same.
#ifndef VP_NN_INIT_H
#define VP_NN_INIT_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"

// Position of t in p's declaration order (the RNG sample index); dies if t
// is not one of p's parameters.
int nn_param_index(const vp_params *p, const vp_tensor *t);

// torch.nn.init's fan_in: shape[1] * prod(shape[2:]). For a ConvTranspose
// weight (Ci, Co, k...) that is Co * prod(k), which is what PyTorch uses too.
int64_t nn_fan_in(const vp_tensor *w);

// U(lo, hi) and N(mean, std^2), drawn as described above.
void nn_init_uniform(const vp_params *p, vp_tensor *t, uint64_t seed, float lo, float hi);
void nn_init_normal(const vp_params *p, vp_tensor *t, uint64_t seed, float mean, float std);
void nn_init_const(vp_tensor *t, float v);

// PyTorch's Linear / Conv reset_parameters(): kaiming_uniform(a = sqrt(5)),
// which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for the weight, and the same
// bound for the bias (b may be NULL). zero = 1 gives zeros for both, as
// ADM's zero_module() does.
void nn_init_weight_bias(const vp_params *p, vp_tensor *w, vp_tensor *b, uint64_t seed, int zero);

#endif
