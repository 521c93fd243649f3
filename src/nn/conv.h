// conv.h: convolution modules that own their parameters (PyTorch layouts).
// Parameters: <prefix>.weight and, with NN_BIAS, <prefix>.bias (co).
//   Conv1d          weight (co, ci, k)
//   Conv2d          weight (co, ci, k, k)
//   ConvTranspose2d weight (ci, co, k, k)
//   Conv3d          weight (co, ci, kt, kh, kw)
#ifndef VP_NN_CONV_H
#define VP_NN_CONV_H

#include <stdint.h>

#include "core/params.h"
#include "core/tensor.h"
#include "nn/linear.h"  // NN_BIAS, NN_ZERO_INIT

typedef enum { NN_CONV1D = 0, NN_CONV2D, NN_CONV_TRANSPOSE2D, NN_CONV3D } nn_conv_kind;

typedef struct nn_conv {
  vp_tensor *w, *b;
  nn_conv_kind kind;
  int64_t ci, co;
  int stride, pad;                // 1-D / 2-D / transposed (symmetric)
  int stride3[3], pad3[6];        // 3-D: (t, h, w); (front, back, top, bottom, left, right)
  int zero_init;
} nn_conv;

void nn_conv1d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co, int k,
                       int stride, int pad, int flags);
void nn_conv2d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co, int k,
                       int stride, int pad, int flags);
void nn_conv_transpose2d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co,
                                 int k, int stride, int pad, int flags);
void nn_conv3d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co,
                       const int k[3], const int stride[3], const int pad[6], int flags);
// PyTorch's default (U(+-1/sqrt(fan_in)) for weight and bias), or zeros.
void nn_conv_init(const nn_conv *m, const vp_params *p, uint64_t seed);
// x (B, ci, L) / (B, ci, H, W) / (B, ci, T, H, W) -> (B, co, ...)
vp_tensor *nn_conv_fwd(vp_ctx *ctx, const nn_conv *m, vp_tensor *x);

#endif
