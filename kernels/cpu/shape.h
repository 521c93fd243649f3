// shape.h: CPU kernels for the copying shape ops: permute, column-window
// copies (concat, slice, split) and constant padding.
#ifndef VP_KERNELS_CPU_SHAPE_H
#define VP_KERNELS_CPU_SHAPE_H

#include <stdint.h>

// y = x.permute(perm): x has shape xs (nd <= 6 dims), y has shape
// ys[i] = xs[perm[i]]. accumulate adds into y (the backward is the inverse
// permutation of gy accumulated into gx).
void cpu_permute_ref(int nd, const int64_t *xs, const int *perm, const float *x, float *y,
                     int accumulate);
// Fast: size-1 dims dropped and dims that stay neighbours merged; then a flat
// copy, a copy of contiguous rows (e.g. (B,H,L,D) -> (B,L,H,D)) or a blocked
// 2-D transpose per batch (e.g. (B,C,N) -> (B,N,C)). OpenMP over blocks.
void cpu_permute(int nd, const int64_t *xs, const int *perm, const float *x, float *y,
                 int accumulate);

// Column window copy between two row-major matrices with the same number of
// rows: y[r, yoff + j] (=|+=) x[r, xoff + j] for r < rows, j < w, where x has
// xcols columns and y ycols. Concat writes each input into a window of the
// output; slice reads a window of the input; their backwards swap the roles
// and accumulate.
void cpu_copy_cols_ref(int64_t rows, int64_t w, const float *x, int64_t xcols, int64_t xoff,
                       float *y, int64_t ycols, int64_t yoff, int accumulate);
void cpu_copy_cols(int64_t rows, int64_t w, const float *x, int64_t xcols, int64_t xoff,
                   float *y, int64_t ycols, int64_t yoff, int accumulate);

// Constant pad: x (shape xs, nd >= 1 dims) is placed at offset lo[d] in y
// (shape ys, ys[d] >= xs[d] + lo[d]); everything else is value.
void cpu_pad_fwd_ref(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys,
                     const float *x, float value, float *y);
void cpu_pad_fwd(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys, const float *x,
                 float value, float *y);
// gx += the window of gy that x occupies.
void cpu_pad_bwd_ref(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys,
                     const float *gy, float *gx);
void cpu_pad_bwd(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys, const float *gy,
                 float *gx);

#endif
