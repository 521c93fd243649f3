// reduce.h: CPU kernels for sums over axes and the mean losses.
// A reduction is described by two shapes of the same rank nd: the input xs
// and the reduced shape rs, where rs[d] is xs[d] (kept) or 1 (summed over).
// This one form serves op_sum / op_mean (any axes, keepdim or not: the data
// layout is the same) and the gradient of a broadcast input in elem.c.
#ifndef VP_KERNELS_CPU_REDUCE_H
#define VP_KERNELS_CPU_REDUCE_H

#include <stdint.h>

// y (shape rs) = (accumulate ? y : 0) + alpha * sum of x over the reduced dims.
void cpu_sum_fwd_ref(int nd, const int64_t *xs, const float *x, const int64_t *rs, float *y,
                     float alpha, int accumulate);
// Fast: dims collapsed into kept / summed runs; OpenMP over output elements
// (summed run innermost) or over column blocks and row chunks (kept run
// innermost, e.g. a bias gradient).
void cpu_sum_fwd(int nd, const int64_t *xs, const float *x, const int64_t *rs, float *y,
                 float alpha, int accumulate);
// Same with the sum taken of x * w, where w has x's shape (a broadcast
// operand's gradient without forming the product first). w NULL: cpu_sum_fwd.
void cpu_sum_prod_fwd(int nd, const int64_t *xs, const float *x, const float *w,
                      const int64_t *rs, float *y, float alpha, int accumulate);
// gx (shape xs) += alpha * gy (shape rs) broadcast back over the reduced dims.
void cpu_sum_bwd_ref(int nd, const int64_t *xs, float *gx, const int64_t *rs, const float *gy,
                     float alpha);
void cpu_sum_bwd(int nd, const int64_t *xs, float *gx, const int64_t *rs, const float *gy,
                 float alpha);

// mean((x - y)^2) and mean(|x - y|) over n elements (accumulated in double).
float cpu_mse_fwd_ref(int64_t n, const float *x, const float *y);
float cpu_mse_fwd(int64_t n, const float *x, const float *y);
float cpu_l1_fwd_ref(int64_t n, const float *x, const float *y);
float cpu_l1_fwd(int64_t n, const float *x, const float *y);
// g is d(loss) upstream. gx += g * dl/dx, gy += g * dl/dy (= -dl/dx); either
// may be NULL. sign(0) = 0 for L1.
void cpu_mse_bwd_ref(int64_t n, const float *x, const float *y, float g, float *gx, float *gy);
void cpu_mse_bwd(int64_t n, const float *x, const float *y, float g, float *gx, float *gy);
void cpu_l1_bwd_ref(int64_t n, const float *x, const float *y, float g, float *gx, float *gy);
void cpu_l1_bwd(int64_t n, const float *x, const float *y, float g, float *gx, float *gy);

#endif
