// ema.h: exponential moving average of the parameters (the EMA weights that
// diffusion models sample with). Semantics are LDM's LitEma
// (ldm/modules/ema.py), which SyncVP uses, reproduced in its float32
// arithmetic. With d = (float)decay and n = num_updates:
//   warm-up form (LitEma use_num_updates=True; n starts at 0):
//     n   = n + 1                                   (incremented first)
//     d_n = min(d, (float)(1 + n) / (float)(10 + n))   (float32 division)
//   fixed form (use_num_updates=False; n stays -1):
//     d_n = d
//   then, per element in float32:
//     one_minus = 1 - d_n
//     shadow    = shadow - one_minus * (shadow - param)
// i.e. shadow = d_n * shadow + (1 - d_n) * param up to rounding. The shadow
// starts as a copy of the parameters (LitEma clones them at construction).
// The shadow buffer has the vp_params layout, so a checkpoint stores
// /ema/<name> by the store's offsets, plus num_updates.
#ifndef VP_EMA_H
#define VP_EMA_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"

typedef struct vp_ema {
  double decay;          // target decay d in [0, 1]
  int64_t num_updates;   // LitEma's counter: >= 0 with warm-up, -1 without
  size_t numel;          // == vp_params.numel
  float *shadow;         // (numel) averaged parameters, vp_params layout
} vp_ema;

// Copy p->data into a new shadow. warmup selects the (1 + n) / (10 + n) form.
// Dies if decay is outside [0, 1].
void ema_init(vp_ema *e, const vp_params *p, double decay, int warmup);
void ema_free(vp_ema *e);
// The decay d_n of the update whose incremented counter is n (n >= 1: the
// first warm-up update uses n = 1, d_1 = min(d, 2/11)), or d when n < 0
// (fixed form). Pure.
float ema_decay_for(double decay, int64_t n);
// One EMA update from p->data (OpenMP); returns the d_n it used.
float ema_update(vp_ema *e, const vp_params *p);
// Write the shadow into p->data (LitEma.copy_to).
void ema_copy_to(const vp_ema *e, vp_params *p);
// Exchange shadow and p->data: evaluate with the EMA weights, then swap back
// (LitEma's store / copy_to / restore without a third buffer).
void ema_swap(vp_ema *e, vp_params *p);

#endif
