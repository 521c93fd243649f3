// ema.c: LitEma-style exponential moving average (see ema.h).
#include "train/ema.h"

#include <stdlib.h>
#include <string.h>

void ema_init(vp_ema *e, const vp_params *p, double decay, int warmup) {
  VP_ASSERT(p->data != NULL);  // params_alloc (and initialise) first
  if (!(decay >= 0 && decay <= 1)) vp_die("ema: decay %g must be in [0, 1]", decay);
  memset(e, 0, sizeof(*e));
  e->decay = decay;
  e->num_updates = warmup ? 0 : -1;
  e->numel = p->numel;
  e->shadow = vp_malloc(p->numel * sizeof(float));
  memcpy(e->shadow, p->data, p->numel * sizeof(float));
}

void ema_free(vp_ema *e) {
  free(e->shadow);
  memset(e, 0, sizeof(*e));
}

float ema_decay_for(double decay, int64_t n) {
  float d = (float)decay;  // LitEma's float32 'decay' buffer
  if (n < 0) return d;
  // (1 + n) / (10 + n) on int tensors is a float32 true division; Python's
  // min(decay, x) keeps decay unless x is smaller.
  float w = (float)(1 + n) / (float)(10 + n);
  return w < d ? w : d;
}

float ema_update(vp_ema *e, const vp_params *p) {
  VP_ASSERT(p->numel == e->numel && p->data != NULL);
  if (e->num_updates >= 0) e->num_updates++;
  float d = ema_decay_for(e->decay, e->num_updates);
  float one_minus = 1.0f - d;
  float *s = e->shadow;
  const float *x = p->data;
  int64_t n = (int64_t)e->numel;
#pragma omp parallel for schedule(static) default(none) shared(s, x, n, one_minus)
  for (int64_t k = 0; k < n; k++) s[k] -= one_minus * (s[k] - x[k]);
  return d;
}

void ema_copy_to(const vp_ema *e, vp_params *p) {
  VP_ASSERT(p->numel == e->numel && p->data != NULL);
  memcpy(p->data, e->shadow, e->numel * sizeof(float));
}

void ema_swap(vp_ema *e, vp_params *p) {
  VP_ASSERT(p->numel == e->numel && p->data != NULL);
  float *s = e->shadow, *x = p->data;
  int64_t n = (int64_t)e->numel;
#pragma omp parallel for schedule(static) default(none) shared(s, x, n)
  for (int64_t k = 0; k < n; k++) {
    float t = s[k];
    s[k] = x[k];
    x[k] = t;
  }
}
