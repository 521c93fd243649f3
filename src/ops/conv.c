// conv.c: conv1d / conv2d / conv3d and conv_transpose2d ops, forward and
// backward. All of them run on the 3-D kernels of kernels/cpu/conv.h: lower
// ranks get unit leading axes, and a transposed convolution is the input
// gradient of the convolution that maps its output back to its input.
#include "ops/conv.h"

#include <string.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/conv.h"

// Node attributes (iarg): 0..2 stride (t, h, w), 3..5 leading pad (t, h, w),
// 6 spatial rank (1, 2 or 3). The rest of the geometry comes from the
// tensors' shapes.
enum { A_STRIDE = 0, A_PAD = 3, A_RANK = 6 };

// The last `rank` dims of t as (T, H, W), with unit leading axes.
static void spatial3(const vp_tensor *t, int rank, int64_t d[3]) {
  for (int a = 0; a < 3; a++) d[a] = a < 3 - rank ? 1 : t->shape[t->ndim - 3 + a];
}

// Geometry of the convolution from x (B, Ci, ...) to y (B, Co, ...) with
// weight w (Co, Ci, k...).
static cpu_conv_geom geom_make(const vp_tensor *x, const vp_tensor *w, const vp_tensor *y, int rank,
                               const int64_t stride[3], const int64_t pad[3]) {
  cpu_conv_geom g;
  g.B = x->shape[0];
  g.Ci = x->shape[1];
  g.Co = y->shape[1];
  spatial3(x, rank, g.in);
  spatial3(y, rank, g.out);
  spatial3(w, rank, g.k);
  for (int a = 0; a < 3; a++) {
    g.stride[a] = stride[a];
    g.pad[a] = pad[a];
  }
  return g;
}

static void node_set_geom(vp_node *n, int rank, const int64_t stride[3], const int64_t pad[3]) {
  for (int a = 0; a < 3; a++) {
    n->iarg[A_STRIDE + a] = stride[a];
    n->iarg[A_PAD + a] = pad[a];
  }
  n->iarg[A_RANK] = rank;
}

// ---------------------------------------------------------------- convolution
static void conv_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *x = n->in[0], *w = n->in[1], *y = n->out;
  int rank = (int)n->iarg[A_RANK];
  cpu_conv_geom g = geom_make(x, w, y, rank, &n->iarg[A_STRIDE], &n->iarg[A_PAD]);
  float *gx = node_in_grad(ctx, n, 0), *gw = node_in_grad(ctx, n, 1);
  float *gb = n->nin > 2 ? node_in_grad(ctx, n, 2) : NULL;
  if (vp_use_ref_kernels)
    cpu_conv_bwd_ref(&g, x->data, w->data, y->grad, gx, gw, gb);
  else
    cpu_conv_bwd(&g, x->data, w->data, y->grad, gx, gw, gb);
}
static const vp_opdef OP_CONV1D = {"conv1d", {conv_backward, NULL}};
static const vp_opdef OP_CONV2D = {"conv2d", {conv_backward, NULL}};
static const vp_opdef OP_CONV3D = {"conv3d", {conv_backward, NULL}};

// Shared front-end. stride[3] and pad[6] are in 3-D form (unit / zero on the
// axes a lower rank lacks); pad is (lo, hi) per axis.
static vp_tensor *conv_nd(vp_ctx *ctx, const vp_opdef *op, int rank, vp_tensor *x, vp_tensor *w,
                          vp_tensor *b, const int stride[3], const int pad[6]) {
  char s1[64], s2[64], s3[64];
  const char *name = op->name;
  if (x->ndim != rank + 2 || w->ndim != rank + 2 || w->shape[1] != x->shape[1] ||
      (b && (b->ndim != 1 || b->shape[0] != w->shape[0])))
    vp_die("%s: input %s, weight %s%s%s and bias %s do not match (want x (B, Ci, ...), "
           "w (Co, Ci, k...), b (Co))", name, tensor_shape_str(x, s1, 64), tensor_shape_str(w, s2, 64),
           w->name ? " " : "", w->name ? w->name : "", b ? tensor_shape_str(b, s3, 64) : "none");
  int64_t shape[VP_MAXDIM] = {x->shape[0], w->shape[0]};
  int64_t st[3], lo[3];
  for (int a = 3 - rank; a < 3; a++) {
    int64_t n = x->shape[x->ndim - 3 + a], k = w->shape[w->ndim - 3 + a];
    if (stride[a] < 1 || pad[2 * a] < 0 || pad[2 * a + 1] < 0)
      vp_die("%s: stride %d and padding (%d, %d) must be >= 1 and >= 0", name, stride[a], pad[2 * a],
             pad[2 * a + 1]);
    if (n + pad[2 * a] + pad[2 * a + 1] < k)
      vp_die("%s: kernel %s is larger than the padded input %s", name, tensor_shape_str(w, s2, 64),
             tensor_shape_str(x, s1, 64));
    shape[2 + a - (3 - rank)] = (n + pad[2 * a] + pad[2 * a + 1] - k) / stride[a] + 1;
  }
  for (int a = 0; a < 3; a++) {
    st[a] = stride[a];
    lo[a] = pad[2 * a];
  }
  vp_tensor *y = tensor_new(ctx, rank + 2, shape);
  cpu_conv_geom g = geom_make(x, w, y, rank, st, lo);
  if (vp_use_ref_kernels)
    cpu_conv_fwd_ref(&g, x->data, w->data, b ? b->data : NULL, y->data, 0);
  else
    cpu_conv_fwd(&g, x->data, w->data, b ? b->data : NULL, y->data, 0);
  vp_tensor *in[3] = {x, w, b};
  vp_node *n = tape_record(ctx, op, y, in, b ? 3 : 2);
  if (n) node_set_geom(n, rank, st, lo);
  return y;
}

vp_tensor *op_conv1d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, int stride, int pad) {
  const int st[3] = {1, 1, stride}, pd[6] = {0, 0, 0, 0, pad, pad};
  return conv_nd(ctx, &OP_CONV1D, 1, x, w, b, st, pd);
}

vp_tensor *op_conv2d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, int stride, int pad) {
  const int st[3] = {1, stride, stride}, pd[6] = {0, 0, pad, pad, pad, pad};
  return conv_nd(ctx, &OP_CONV2D, 2, x, w, b, st, pd);
}

vp_tensor *op_conv3d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, const int stride[3],
                     const int pad[6]) {
  return conv_nd(ctx, &OP_CONV3D, 3, x, w, b, stride, pad);
}

void conv_same_pad(int64_t n, int k, int s, int *lo, int *hi) {
  int64_t out = (n + s - 1) / s;  // ceil(n / s)
  int64_t total = (out - 1) * s + k - n;
  if (total < 0) total = 0;
  *lo = (int)(total / 2);
  *hi = (int)(total - total / 2);
}

// ---------------------------------------------------------------- transposed
// y = conv_transpose(x, w) is the x-gradient of the convolution c from
// y-shaped inputs to x-shaped outputs with the same weight w (Ci, Co, k, k)
// read as (out = Ci, in = Co). So forward runs c's input-gradient kernel,
// and backward runs c forward (for gx) and c's weight gradient with the
// roles of input and output-gradient taken by gy and x.
static cpu_conv_geom convt_geom(const vp_tensor *x, const vp_tensor *w, const vp_tensor *y,
                                const int64_t stride[3], const int64_t pad[3]) {
  return geom_make(y, w, x, 2, stride, pad);
}

static void convt_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *x = n->in[0], *w = n->in[1], *y = n->out;
  cpu_conv_geom g = convt_geom(x, w, y, &n->iarg[A_STRIDE], &n->iarg[A_PAD]);
  float *gx = node_in_grad(ctx, n, 0), *gw = node_in_grad(ctx, n, 1);
  float *gb = n->nin > 2 ? node_in_grad(ctx, n, 2) : NULL;
  int ref = vp_use_ref_kernels;
  if (gx) (ref ? cpu_conv_fwd_ref : cpu_conv_fwd)(&g, y->grad, w->data, NULL, gx, 1);
  if (gw) (ref ? cpu_conv_bwd_ref : cpu_conv_bwd)(&g, y->grad, NULL, x->data, NULL, gw, NULL);
  if (gb) cpu_conv_bias_bwd(y->shape[0], y->shape[1], y->shape[2] * y->shape[3], y->grad, gb);
}
static const vp_opdef OP_CONVT2D = {"conv_transpose2d", {convt_backward, NULL}};

vp_tensor *op_conv_transpose2d(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, int stride,
                               int pad) {
  char s1[64], s2[64], s3[64];
  if (x->ndim != 4 || w->ndim != 4 || w->shape[0] != x->shape[1] ||
      (b && (b->ndim != 1 || b->shape[0] != w->shape[1])))
    vp_die("conv_transpose2d: input %s, weight %s%s%s and bias %s do not match (want x (B, Ci, H, W), "
           "w (Ci, Co, kh, kw), b (Co))", tensor_shape_str(x, s1, 64), tensor_shape_str(w, s2, 64),
           w->name ? " " : "", w->name ? w->name : "", b ? tensor_shape_str(b, s3, 64) : "none");
  if (stride < 1 || pad < 0) vp_die("conv_transpose2d: stride %d must be >= 1 and padding %d >= 0", stride, pad);
  int64_t shape[4] = {x->shape[0], w->shape[1], (x->shape[2] - 1) * stride - 2 * pad + w->shape[2],
                      (x->shape[3] - 1) * stride - 2 * pad + w->shape[3]};
  if (shape[2] < 1 || shape[3] < 1)
    vp_die("conv_transpose2d: padding %d leaves no output for input %s and weight %s", pad,
           tensor_shape_str(x, s1, 64), tensor_shape_str(w, s2, 64));
  vp_tensor *y = tensor_zeros(ctx, 4, shape);
  const int64_t st[3] = {1, stride, stride}, lo[3] = {0, pad, pad};
  cpu_conv_geom g = convt_geom(x, w, y, st, lo);
  if (vp_use_ref_kernels)
    cpu_conv_bwd_ref(&g, NULL, w->data, x->data, y->data, NULL, NULL);
  else
    cpu_conv_bwd(&g, NULL, w->data, x->data, y->data, NULL, NULL);
  if (b) cpu_conv_bias_fwd(shape[0], shape[1], shape[2] * shape[3], b->data, y->data);
  vp_tensor *in[3] = {x, w, b};
  vp_node *n = tape_record(ctx, &OP_CONVT2D, y, in, b ? 3 : 2);
  if (n) node_set_geom(n, 2, st, lo);
  return y;
}
