// elem.h: CPU kernels for broadcasting binary arithmetic and pointwise ops.
// Broadcast shapes are passed padded to the same rank nd (leading 1s added):
// ys is the output shape and as[d] / bs[d] are either ys[d] or 1 (stretched).
// nd may be 0 (a single element).
#ifndef VP_KERNELS_CPU_ELEM_H
#define VP_KERNELS_CPU_ELEM_H

#include <stdint.h>

typedef enum {
  VP_BIN_ADD = 0,
  VP_BIN_SUB = 1,
  VP_BIN_MUL = 2,
  VP_BIN_DIV = 3,
  VP_BIN_COPY_A = 4,  // a alone (b unused, may be NULL): a broadcast copy
} vp_binop;

// y[i] = (accumulate ? y[i] : 0) + alpha * (a[ia] op b[ib]), i over ys.
void cpu_binary_fwd_ref(vp_binop op, int nd, const int64_t *ys, float *y, const float *a,
                        const int64_t *as, const float *b, const int64_t *bs, float alpha,
                        int accumulate);
// Same, fast: contiguous same-shape loop, else dims collapsed into rows with
// an OpenMP loop over row blocks.
void cpu_binary_fwd(vp_binop op, int nd, const int64_t *ys, float *y, const float *a,
                    const int64_t *as, const float *b, const int64_t *bs, float alpha,
                    int accumulate);

// Backward of y = a op b (op in ADD..DIV): ga += d/da, gb += d/db, each summed
// over its stretched dims; ga or gb NULL is skipped. y is the forward output
// (division uses it). The reference is one loop over y.
void cpu_binary_bwd_ref(vp_binop op, int nd, const int64_t *ys, const float *y, const float *gy,
                        const float *a, const int64_t *as, float *ga, const float *b,
                        const int64_t *bs, float *gb);
// Fast: elementwise where an input has the full shape; a fused sum of
// products (cpu_sum_prod_fwd) where the other factor has the full shape;
// otherwise the term is formed in a temporary of numel(ys) floats (freed
// before returning) and summed over the stretched dims.
void cpu_binary_bwd(vp_binop op, int nd, const int64_t *ys, const float *y, const float *gy,
                    const float *a, const int64_t *as, float *ga, const float *b,
                    const int64_t *bs, float *gb);

// y = x * s + t (scale and add_scalar); backward gx += s * gy.
void cpu_affine_fwd_ref(int64_t n, const float *x, float s, float t, float *y);
void cpu_affine_fwd(int64_t n, const float *x, float s, float t, float *y);
void cpu_affine_bwd_ref(int64_t n, float s, const float *gy, float *gx);
void cpu_affine_bwd(int64_t n, float s, const float *gy, float *gx);

// y = min(max(x, lo), hi) (NaN propagates); gx += gy where lo <= x <= hi.
void cpu_clamp_fwd_ref(int64_t n, const float *x, float lo, float hi, float *y);
void cpu_clamp_fwd(int64_t n, const float *x, float lo, float hi, float *y);
void cpu_clamp_bwd_ref(int64_t n, const float *x, float lo, float hi, const float *gy, float *gx);
void cpu_clamp_bwd(int64_t n, const float *x, float lo, float hi, const float *gy, float *gx);

#endif
