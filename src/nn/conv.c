// conv.c: the convolution modules (see conv.h).
#include "nn/conv.h"

#include <string.h>

#include "core/check.h"
#include "nn/init.h"
#include "ops/conv.h"

static void conv_common(nn_conv *m, vp_params *p, const char *prefix, nn_conv_kind kind, int64_t ci,
                        int64_t co, int ndim, const int64_t *wshape, int flags) {
  VP_ASSERT(ci > 0 && co > 0);
  memset(m, 0, sizeof(*m));
  m->kind = kind;
  m->ci = ci;
  m->co = co;
  m->zero_init = (flags & NN_ZERO_INIT) != 0;
  m->w = params_add(p, ndim, wshape, "%s.weight", prefix);
  m->b = (flags & NN_BIAS) ? params_add(p, 1, (int64_t[]){co}, "%s.bias", prefix) : NULL;
}

void nn_conv1d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co, int k,
                       int stride, int pad, int flags) {
  conv_common(m, p, prefix, NN_CONV1D, ci, co, 3, (int64_t[]){co, ci, k}, flags);
  m->stride = stride;
  m->pad = pad;
}

void nn_conv2d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co, int k,
                       int stride, int pad, int flags) {
  conv_common(m, p, prefix, NN_CONV2D, ci, co, 4, (int64_t[]){co, ci, k, k}, flags);
  m->stride = stride;
  m->pad = pad;
}

void nn_conv_transpose2d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co,
                                 int k, int stride, int pad, int flags) {
  conv_common(m, p, prefix, NN_CONV_TRANSPOSE2D, ci, co, 4, (int64_t[]){ci, co, k, k}, flags);
  m->stride = stride;
  m->pad = pad;
}

void nn_conv3d_declare(nn_conv *m, vp_params *p, const char *prefix, int64_t ci, int64_t co,
                       const int k[3], const int stride[3], const int pad[6], int flags) {
  conv_common(m, p, prefix, NN_CONV3D, ci, co, 5, (int64_t[]){co, ci, k[0], k[1], k[2]}, flags);
  memcpy(m->stride3, stride, sizeof(m->stride3));
  memcpy(m->pad3, pad, sizeof(m->pad3));
}

void nn_conv_init(const nn_conv *m, const vp_params *p, uint64_t seed) {
  nn_init_weight_bias(p, m->w, m->b, seed, m->zero_init);
}

vp_tensor *nn_conv_fwd(vp_ctx *ctx, const nn_conv *m, vp_tensor *x) {
  switch (m->kind) {
    case NN_CONV1D: return op_conv1d(ctx, x, m->w, m->b, m->stride, m->pad);
    case NN_CONV2D: return op_conv2d(ctx, x, m->w, m->b, m->stride, m->pad);
    case NN_CONV_TRANSPOSE2D: return op_conv_transpose2d(ctx, x, m->w, m->b, m->stride, m->pad);
    case NN_CONV3D: return op_conv3d(ctx, x, m->w, m->b, m->stride3, m->pad3);
  }
  vp_die_at(__FILE__, __LINE__, "conv: unknown kind %d", (int)m->kind);
}
