// norm.h: group norm and layer norm kernels, forward and backward.
// Biased variance and rstd = 1 / sqrt(var + eps), as PyTorch. The forward
// writes the per-group / per-row mean and rstd, which the backward reuses.
// w and b may be NULL (scale 1, shift 0). Backward kernels accumulate (+=)
// into dx, dw, db; any of them may be NULL (that gradient is not needed).
// The fast backward kernels take dx_fresh: 1 means dx is uninitialised and is
// written (=) rather than accumulated, which saves zero-filling it and reading
// it back when the front-end allocates x's gradient itself.
#ifndef VP_KERNELS_CPU_NORM_H
#define VP_KERNELS_CPU_NORM_H

#include <stdint.h>

// x, y (B, C, S) with S the product of the spatial dims; G groups of C/G
// channels; w, b (C); mean, rstd (B, G).
void cpu_group_norm_fwd_ref(const float *x, const float *w, const float *b, float *y, float *mean,
                            float *rstd, int64_t B, int64_t C, int64_t S, int64_t G, float eps);
void cpu_group_norm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                        float *rstd, int64_t B, int64_t C, int64_t S, int64_t G, float eps);
void cpu_group_norm_bwd_ref(const float *x, const float *w, const float *mean, const float *rstd,
                            const float *dy, float *dx, float *dw, float *db, int64_t B, int64_t C,
                            int64_t S, int64_t G);
void cpu_group_norm_bwd(const float *x, const float *w, const float *mean, const float *rstd,
                        const float *dy, float *dx, float *dw, float *db, int64_t B, int64_t C,
                        int64_t S, int64_t G, int dx_fresh);

// x, y (M, D), normalised over D; w, b (D); mean, rstd (M).
void cpu_layer_norm_fwd_ref(const float *x, const float *w, const float *b, float *y, float *mean,
                            float *rstd, int64_t M, int64_t D, float eps);
void cpu_layer_norm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                        float *rstd, int64_t M, int64_t D, float eps);
void cpu_layer_norm_bwd_ref(const float *x, const float *w, const float *mean, const float *rstd,
                            const float *dy, float *dx, float *dw, float *db, int64_t M, int64_t D);
void cpu_layer_norm_bwd(const float *x, const float *w, const float *mean, const float *rstd,
                        const float *dy, float *dx, float *dw, float *db, int64_t M, int64_t D,
                        int dx_fresh);

#endif
