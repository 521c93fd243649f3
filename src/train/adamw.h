// adamw.h: AdamW over the flat parameter buffers of a vp_params store.
// Semantics are torch.optim.AdamW (1.13, amsgrad=False, the single-tensor
// path). For every element, at optimizer step t (t counted from 1, stored in
// the state), with lr given per step by the schedule:
//   p   = p * (1 - lr * wd)              decoupled weight decay, first (wd = 0
//                                        for parameters excluded from decay)
//   m   = beta1 * m + (1 - beta1) * g
//   v   = beta2 * v + (1 - beta2) * g * g
//   bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t                      (double)
//   denom = sqrt(v) / sqrt(bc2) + eps
//   p   = p - (lr / bc1) * m / denom
// Scalars are formed in double (as Python does) and the element arithmetic is
// float32 in PyTorch's operation order, so results track torch's float32
// AdamW to a few ulps.
//
// m and v are one contiguous buffer each, laid out exactly like
// vp_params.data: parameter i occupies [offset[i], offset[i] + numel(i)), so a
// checkpoint stores /optim/m/<name> and /optim/v/<name> by the store's offsets.
//
// Unlike PyTorch, which skips parameters whose .grad is None, every parameter
// in the store is stepped (its gradient buffer always exists; zero means no
// signal, but weight decay and the moment decay still apply). Keep frozen
// parameters out of the store that the optimizer sees.
#ifndef VP_ADAMW_H
#define VP_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"

typedef struct vp_adamw {
  double beta1, beta2, eps, weight_decay;
  int64_t t;        // completed steps (PyTorch state['step']); 0 before the first
  size_t numel;     // == vp_params.numel
  float *m, *v;     // (numel) first and second moments, vp_params layout
  int nparam;
  uint8_t *decay;   // (nparam) 1: parameter i gets weight decay (default: all)
} vp_adamw;

// Zero moments, t = 0, all parameters decayed (PyTorch's default). p must be
// allocated (params_alloc). Dies naming the bad value on betas outside
// [0, 1), eps < 0 or weight_decay < 0.
void adamw_init(vp_adamw *o, const vp_params *p, double beta1, double beta2, double eps,
                double weight_decay);
void adamw_free(vp_adamw *o);

// Per-parameter weight-decay switch (i in declaration order).
void adamw_set_decay(vp_adamw *o, int i, int on);
// Exclude from weight decay every parameter for which pred(tensor, arg) is
// nonzero; returns how many were excluded by this call.
typedef int (*vp_param_pred)(const vp_tensor *t, void *arg);
int adamw_exclude_decay(vp_adamw *o, const vp_params *p, vp_param_pred pred, void *arg);
// Predicates for the usual recipes: tensors of rank <= 1 (biases, norm
// scales and shifts) and names ending with ".bias" or containing "norm".
int adamw_pred_rank_le1(const vp_tensor *t, void *arg);
int adamw_pred_bias_or_norm(const vp_tensor *t, void *arg);

// One AdamW step with learning rate lr on p->data from p->grad; increments t.
// OpenMP-parallel over the flat buffers. Dies if lr is negative or not finite.
void adamw_step(vp_adamw *o, vp_params *p, double lr);

#endif
