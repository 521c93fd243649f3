// embed.h: sinusoidal timestep embeddings (no gradient: t is data).
#ifndef VP_OPS_EMBED_H
#define VP_OPS_EMBED_H

#include <stdint.h>

#include "core/tensor.h"

typedef enum { VP_EMB_COS_SIN = 0, VP_EMB_SIN_COS = 1 } vp_emb_order;

// t[n] -> (n, dim). half = dim/2, freq_k = exp(-ln(max_period) * k / half),
// args = t * freq; out = [cos(args) | sin(args)] (COS_SIN, ADM/PVDM) or
// [sin | cos] (SIN_COS); an odd dim gets a zero last column.
// Computed in double, stored as float.
vp_tensor *op_timestep_embedding(vp_ctx *ctx, const float *t, int64_t n, int dim,
                                 vp_emb_order order, double max_period);

#endif
