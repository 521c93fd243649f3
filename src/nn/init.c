// init.c: PyTorch-default initialisation from the Philox RNG (see init.h).
#include "nn/init.h"

#include <math.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

int nn_param_index(const vp_params *p, const vp_tensor *t) {
  for (int i = 0; i < p->n; i++)
    if (p->t[i] == t) return i;
  vp_die_at(__FILE__, __LINE__, "init: tensor '%s' is not a parameter of this store",
            t->name ? t->name : "(unnamed)");
}

int64_t nn_fan_in(const vp_tensor *w) {
  VP_ASSERT(w->ndim >= 2);
  int64_t f = w->shape[1];
  for (int i = 2; i < w->ndim; i++) f *= w->shape[i];
  return f;
}

void nn_init_uniform(const vp_params *p, vp_tensor *t, uint64_t seed, float lo, float hi) {
  VP_ASSERT(t->data != NULL);  // after params_alloc
  int64_t n = tensor_numel(t);
  rng_uniform(seed, VP_STREAM_INIT, 0, (uint64_t)nn_param_index(p, t), 0, t->data, n);
  for (int64_t i = 0; i < n; i++) t->data[i] = lo + (hi - lo) * t->data[i];
}

void nn_init_normal(const vp_params *p, vp_tensor *t, uint64_t seed, float mean, float std) {
  VP_ASSERT(t->data != NULL);
  int64_t n = tensor_numel(t);
  rng_normal(seed, VP_STREAM_INIT, 0, (uint64_t)nn_param_index(p, t), 0, t->data, n);
  for (int64_t i = 0; i < n; i++) t->data[i] = mean + std * t->data[i];
}

void nn_init_const(vp_tensor *t, float v) {
  VP_ASSERT(t->data != NULL);
  int64_t n = tensor_numel(t);
  for (int64_t i = 0; i < n; i++) t->data[i] = v;
}

void nn_init_weight_bias(const vp_params *p, vp_tensor *w, vp_tensor *b, uint64_t seed, int zero) {
  if (zero) {
    nn_init_const(w, 0.f);
    if (b) nn_init_const(b, 0.f);
    return;
  }
  // kaiming_uniform(a=sqrt(5)): gain sqrt(2/(1+5)), bound = gain*sqrt(3/fan_in) = 1/sqrt(fan_in).
  float bound = (float)(1.0 / sqrt((double)nn_fan_in(w)));
  nn_init_uniform(p, w, seed, -bound, bound);
  if (b) nn_init_uniform(p, b, seed, -bound, bound);
}
