// conv.h: convolutions as differentiable ops (PyTorch weight layouts).
// Bias may be NULL everywhere. Shapes are checked; a mismatch is a vp_die()
// naming both shapes.
#ifndef VP_OPS_CONV_H
#define VP_OPS_CONV_H

#include "core/tensor.h"

// x (B, Ci, L), w (Co, Ci, K), b (Co) -> (B, Co, (L + 2p - K)/s + 1)
vp_tensor *op_conv1d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, int stride, int pad);
// x (B, Ci, H, W), w (Co, Ci, kh, kw), b (Co) -> (B, Co, Ho, Wo), symmetric padding
vp_tensor *op_conv2d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, int stride, int pad);
// x (B, Ci, H, W), w (Ci, Co, kh, kw) (PyTorch ConvTranspose2d layout), b (Co)
// -> (B, Co, (H-1)*s - 2p + kh, (W-1)*s - 2p + kw)
vp_tensor *op_conv_transpose2d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, int stride,
                               int pad);
// x (B, Ci, T, H, W), w (Co, Ci, kt, kh, kw), b (Co); stride[3] = (st, sh, sw);
// pad[6] = (front, back, top, bottom, left, right), asymmetric (TF 'SAME').
vp_tensor *op_conv3d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, const int stride[3],
                     const int pad[6]);
// TF 'SAME' padding for one axis: total = max((ceil(n/s)-1)*s + k - n, 0),
// lo = total/2, hi = total - lo.
void conv_same_pad(int64_t n, int k, int s, int *lo, int *hi);

#endif
