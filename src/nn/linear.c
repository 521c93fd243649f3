// linear.c: the nn.Linear module (see linear.h).
#include "nn/linear.h"

#include "core/check.h"
#include "nn/init.h"
#include "ops/linear.h"

void nn_linear_declare(nn_linear *m, vp_params *p, const char *prefix, int64_t in, int64_t out, int flags) {
  VP_ASSERT(in > 0 && out > 0);
  m->in = in;
  m->out = out;
  m->zero_init = (flags & NN_ZERO_INIT) != 0;
  m->w = params_add(p, 2, (int64_t[]){out, in}, "%s.weight", prefix);
  m->b = (flags & NN_BIAS) ? params_add(p, 1, (int64_t[]){out}, "%s.bias", prefix) : NULL;
}

void nn_linear_init(const nn_linear *m, const vp_params *p, uint64_t seed) {
  nn_init_weight_bias(p, m->w, m->b, seed, m->zero_init);
}

vp_tensor *nn_linear_fwd(vp_ctx *ctx, const nn_linear *m, vp_tensor *x) {
  return op_linear(ctx, x, m->w, m->b);
}
