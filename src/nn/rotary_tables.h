// rotary_tables.h: the sin/cos tables of PVDM's rotary embeddings
// (vit_modules.py RotaryEmbedding and AxialRotaryEmbedding), consumed by
// op_rotary, which rotates interleaved pairs (x[2i], x[2i+1]).
//
// Frame rotary (time attention), dim = head dim:
//   inv_k = 10000^(-2k/dim), k < dim/2; angle(n, k) = n * inv_k, n = frame index.
//   Row n is [angles(0..dim/2-1), angles(0..dim/2-1)]: concatenated, not
//   interleaved, so the two elements of a rotated pair use different
//   frequencies. This is the reference's behaviour and is kept on purpose.
// Axial 2-D rotary (space attention), tokens in row-major (h, w) order:
//   s_j = 2^(j * log2(5) / (dim/4 - 1)), j < dim/4 (logspace(0, log2 5, dim/4, base 2));
//   row angles r_j = linspace(-1, 1, h)[i] * s_j * pi, column angles c_j likewise;
//   row (i, j) is [r_0, r_0, r_1, r_1, ..., c_0, c_0, ...]: [rows | cols],
//   every value twice side by side.
// The arithmetic follows the reference's float32 steps (linspace, pow,
// products in float), so the tables agree with PyTorch's to about an ulp.
#ifndef VP_NN_ROTARY_TABLES_H
#define VP_NN_ROTARY_TABLES_H

#include <stdint.h>

#include "core/tensor.h"

typedef struct rotary_tables {
  vp_tensor *cos, *sin;  // (L, dim), no gradient
} rotary_tables;

// Plain fills: cos and sin are (n, dim) / (h * w, dim) arrays. dim must be
// even (frame) or a multiple of 4 and >= 8 (axial).
void rotary_frame_fill(int64_t n, int dim, float *cos, float *sin);
void rotary_axial_fill(int64_t h, int64_t w, int dim, float *cos, float *sin);

// The same tables as tensors in ctx's activation arena (alive until ctx_reset,
// so they outlive the backward pass that needs them).
rotary_tables rotary_frame(vp_ctx *ctx, int64_t n, int dim);
rotary_tables rotary_axial(vp_ctx *ctx, int64_t h, int64_t w, int dim);

#endif
