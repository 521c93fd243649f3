// rotary.h: CPU kernels for rotary position embedding with given tables.
//   out = x * cos + rot(x) * sin, rot on interleaved pairs:
//   (x[2i], x[2i+1]) -> (-x[2i+1], x[2i])
// x and out are (n, l, d) with n every leading dim flattened; cos and sin are
// (l, d), d even. Backward accumulates (+=) into gx; the tables get no gradient.
#ifndef VP_KERNELS_CPU_ROTARY_H
#define VP_KERNELS_CPU_ROTARY_H

#include <stdint.h>

void cpu_rotary_fwd_ref(const float *x, const float *cos, const float *sin, float *out, int64_t n,
                        int64_t l, int64_t d);
void cpu_rotary_bwd_ref(const float *gout, const float *cos, const float *sin, float *gx,
                        int64_t n, int64_t l, int64_t d);
// Same arithmetic, threaded over rows with a vectorisable inner loop.
void cpu_rotary_fwd(const float *x, const float *cos, const float *sin, float *out, int64_t n,
                    int64_t l, int64_t d);
void cpu_rotary_bwd(const float *gout, const float *cos, const float *sin, float *gx, int64_t n,
                    int64_t l, int64_t d);

#endif
