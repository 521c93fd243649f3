// pool_extra.h: a fast max-pool forward for inference networks (I3D).
// The max over a (kt, kh, kw) box is the max over kt planes of the max over
// kh rows of the max over kw columns, so a 3-D max pool is three 1-D pools,
// one axis at a time: k_t + k_h + k_w comparisons per output instead of
// k_t k_h k_w, in branch-free loops the compiler vectorises. The values are
// those of cpu_maxpool3d_fwd (kernels/cpu/pool.h) for finite inputs; NaN
// inputs are not propagated reliably (an inference-only kernel: a NaN clip
// makes every later convolution output NaN anyway). No backward: training
// uses op_max_pool3d.
#ifndef VP_KERNELS_CPU_POOL_EXTRA_H
#define VP_KERNELS_CPU_POOL_EXTRA_H

#include "kernels/cpu/pool.h"

// y (P, To, Ho, Wo) = max pool of x (P, T, H, W), cells outside x holding
// pad_value; geometry as in cpu_pool_geom (trailing padding implied by out).
void cpu_maxpool3d_fwd_separable(const cpu_pool_geom *g, const float *x, float pad_value, float *y);

#endif
