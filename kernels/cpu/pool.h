// pool.h: CPU pooling and nearest-upsampling kernels, forward and backward.
// Pools work on independent planes x (P, T, H, W), P = batch * channels; a
// 2-D pool is a 3-D one with T = kt = 1. Each window is a plain loop, and the
// loops over planes run in parallel (OpenMP), so one kernel per op serves as
// both the reference and the fast path: there is nothing to gain from a
// second implementation that would not also be harder to check.
#ifndef VP_KERNELS_CPU_POOL_H
#define VP_KERNELS_CPU_POOL_H

#include <stdint.h>

typedef struct cpu_pool_geom {
  int64_t planes;     // P
  int64_t in[3];      // (T, H, W)
  int64_t out[3];     // (To, Ho, Wo)
  int64_t k[3];       // (kt, kh, kw)
  int64_t stride[3];  // (st, sh, sw)
  int64_t pad[3];     // leading padding (front, top, left); trailing is implied by out
} cpu_pool_geom;

// Max over each window, where cells outside x hold pad_value. Ties go to the
// first cell in (t, h, w) scan order, as in PyTorch's pooling of an
// explicitly padded tensor.
void cpu_maxpool3d_fwd(const cpu_pool_geom *g, const float *x, float pad_value, float *y);
// dx += dy routed to each window's maximum (found again from x); a window
// whose maximum is a padding cell passes nothing on.
void cpu_maxpool3d_bwd(const cpu_pool_geom *g, const float *x, float pad_value, const float *dy,
                       float *dx);
// Mean over each window with zero padding; count_pad = 1 divides by the
// whole window, 0 by the number of cells inside x.
void cpu_avgpool3d_fwd(const cpu_pool_geom *g, const float *x, int count_pad, float *y);
void cpu_avgpool3d_bwd(const cpu_pool_geom *g, int count_pad, const float *dy, float *dx);
// Nearest-neighbour x2 of planes x (P, H, W) -> y (P, 2H, 2W); backward sums
// each 2x2 block of dy into dx.
void cpu_upsample2x_fwd(int64_t P, int64_t H, int64_t W, const float *x, float *y);
void cpu_upsample2x_bwd(int64_t P, int64_t H, int64_t W, const float *dy, float *dx);

#endif
