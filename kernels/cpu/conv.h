// conv.h: CPU convolution kernels, forward and backward.
// One 3-D kernel set serves conv1d, conv2d, conv3d and conv_transpose2d: a
// 1-D or 2-D convolution is a 3-D one with unit leading axes, and a transposed
// convolution is the input-gradient of the convolution that maps its output
// back to its input. Layouts (row-major, PyTorch's):
//   x (B, Ci, T, H, W), w (Co, Ci, kt, kh, kw), b (Co), y (B, Co, To, Ho, Wo)
// Padding is zero padding given by its leading amount per axis; the trailing
// amount is implied by the output size, so asymmetric ('SAME') padding needs
// nothing more.
//
// The fast path lowers the convolution to matrix products (im2col / vol2col +
// gemm): for each image, cols (Ci*kt*kh*kw, To*Ho*Wo) holds the input patch
// of every output position, so y_b = w (Co, K) @ cols, and backward is
// dw += dy_b @ cols^T and dcols = w^T @ dy_b followed by col2im. Pointwise
// convolutions multiply the input as it is stored. 3x3 stride-1 2-D
// convolutions (the bulk of a UNet) use Winograd F(2x2, 3x3) instead, which
// needs 2.25x fewer multiplications. Work is shared by an OpenMP team whose
// threads each call a single-threaded OpenBLAS (see conv.c for why), and
// columns / transformed tiles live in a scratch buffer of the calling thread
// that is reused across calls (see cpu_conv_scratch_free).
#ifndef VP_KERNELS_CPU_CONV_H
#define VP_KERNELS_CPU_CONV_H

#include <stdint.h>

typedef struct cpu_conv_geom {
  int64_t B, Ci, Co;
  int64_t in[3];      // (T, H, W) of x
  int64_t out[3];     // (To, Ho, Wo) of y
  int64_t k[3];       // (kt, kh, kw)
  int64_t stride[3];  // (st, sh, sw)
  int64_t pad[3];     // leading zero padding (front, top, left)
} cpu_conv_geom;

// y = conv(x, w) + b (b may be NULL); accumulate != 0 adds into y instead.
void cpu_conv_fwd_ref(const cpu_conv_geom *g, const float *x, const float *w, const float *b,
                      float *y, int accumulate);
void cpu_conv_fwd(const cpu_conv_geom *g, const float *x, const float *w, const float *b,
                  float *y, int accumulate);
// Gradients of sum(y * dy), accumulated (+=) into dx, dw, db; each may be NULL
// to skip it (x is only read when dw is wanted, w only when dx is).
void cpu_conv_bwd_ref(const cpu_conv_geom *g, const float *x, const float *w, const float *dy,
                      float *dx, float *dw, float *db);
void cpu_conv_bwd(const cpu_conv_geom *g, const float *x, const float *w, const float *dy,
                  float *dx, float *dw, float *db);
// Per-channel bias of y (B, C, N): y += b, and its gradient db += sum dy.
void cpu_conv_bias_fwd(int64_t B, int64_t C, int64_t N, const float *b, float *y);
void cpu_conv_bias_bwd(int64_t B, int64_t C, int64_t N, const float *dy, float *db);
// Release the calling thread's im2col scratch buffer (it is otherwise kept
// for the next call, sized to the largest convolution seen).
void cpu_conv_scratch_free(void);
// Cap on the floats of one column chunk (default 8M = 32 MB; <= 0 restores
// it). Output rows are split into chunks under the cap; tests lower it to
// exercise the chunking on small shapes.
void cpu_conv_set_chunk_floats(int64_t n);
// Winograd path on (1, default) or off (im2col for every shape); for tests
// and benchmarks.
void cpu_conv_set_winograd(int on);

#endif
