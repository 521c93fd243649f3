// reduce.c: sum / mean over axes and the MSE / L1 losses, forward and backward.
#include "ops/reduce.h"

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/reduce.h"

// ---------------------------------------------------------------- sum / mean
// iarg[0]: bitmask of reduced dims; farg[0]: scale (1 or 1/count)
static void sum_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0];
  int64_t rs[VP_MAXDIM];
  for (int d = 0; d < x->ndim; d++) rs[d] = (n->iarg[0] >> d) & 1 ? 1 : x->shape[d];
  if (vp_use_ref_kernels) cpu_sum_bwd_ref(x->ndim, x->shape, gx, rs, n->out->grad, n->farg[0]);
  else cpu_sum_bwd(x->ndim, x->shape, gx, rs, n->out->grad, n->farg[0]);
}
static const vp_opdef OP_SUM = {"sum", {sum_backward, NULL}};
static const vp_opdef OP_MEAN = {"mean", {sum_backward, NULL}};

static vp_tensor *reduce(vp_ctx *ctx, const vp_opdef *def, int mean, vp_tensor *x, const int *axes,
                         int naxes, int keepdim) {
  char s[96];
  int nd = x->ndim, mask = 0;
  if (naxes < 0 || naxes > VP_MAXDIM) vp_die("%s: %d axes", def->name, naxes);
  if (naxes == 0) {
    mask = (1 << nd) - 1;
  } else {
    for (int i = 0; i < naxes; i++) {
      int a = axes[i];
      if (a < -nd || a >= nd)
        vp_die("%s: axis %d is out of range for a tensor of shape %s", def->name, a,
               tensor_shape_str(x, s, sizeof s));
      if (a < 0) a += nd;
      if (mask & (1 << a))
        vp_die("%s: axis %d is listed twice (shape %s)", def->name, a, tensor_shape_str(x, s, sizeof s));
      mask |= 1 << a;
    }
  }
  int64_t rs[VP_MAXDIM], ys[VP_MAXDIM], count = 1;
  int ynd = 0;
  for (int d = 0; d < nd; d++) {
    int red = (mask >> d) & 1;
    rs[d] = red ? 1 : x->shape[d];
    if (red) count *= x->shape[d];
    if (!red || keepdim) ys[ynd++] = rs[d];
  }
  vp_tensor *y = tensor_new(ctx, ynd, ys);
  float alpha = mean ? 1.f / (float)count : 1.f;
  if (vp_use_ref_kernels) cpu_sum_fwd_ref(nd, x->shape, x->data, rs, y->data, alpha, 0);
  else cpu_sum_fwd(nd, x->shape, x->data, rs, y->data, alpha, 0);
  vp_node *n = tape_record(ctx, def, y, &x, 1);
  if (n) {
    n->iarg[0] = mask;
    n->farg[0] = alpha;
  }
  return y;
}

vp_tensor *op_sum(vp_ctx *ctx, vp_tensor *x, const int *axes, int naxes, int keepdim) {
  return reduce(ctx, &OP_SUM, 0, x, axes, naxes, keepdim);
}

vp_tensor *op_mean(vp_ctx *ctx, vp_tensor *x, const int *axes, int naxes, int keepdim) {
  return reduce(ctx, &OP_MEAN, 1, x, axes, naxes, keepdim);
}

// ---------------------------------------------------------------- losses
static void check_pair(const char *op, const vp_tensor *x, const vp_tensor *y) {
  if (!tensor_same_shape(x, y)) {
    char s1[96], s2[96];
    vp_die("%s: prediction %s and target %s must have the same shape", op,
           tensor_shape_str(x, s1, sizeof s1), tensor_shape_str(y, s2, sizeof s2));
  }
}

static void mse_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0), *gy = node_in_grad(ctx, n, 1);
  if (!gx && !gy) return;
  vp_tensor *x = n->in[0], *y = n->in[1];
  int64_t N = tensor_numel(x);
  if (vp_use_ref_kernels) cpu_mse_bwd_ref(N, x->data, y->data, n->out->grad[0], gx, gy);
  else cpu_mse_bwd(N, x->data, y->data, n->out->grad[0], gx, gy);
}
static const vp_opdef OP_MSE = {"mse_loss", {mse_backward, NULL}};

static void l1_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0), *gy = node_in_grad(ctx, n, 1);
  if (!gx && !gy) return;
  vp_tensor *x = n->in[0], *y = n->in[1];
  int64_t N = tensor_numel(x);
  if (vp_use_ref_kernels) cpu_l1_bwd_ref(N, x->data, y->data, n->out->grad[0], gx, gy);
  else cpu_l1_bwd(N, x->data, y->data, n->out->grad[0], gx, gy);
}
static const vp_opdef OP_L1 = {"l1_loss", {l1_backward, NULL}};

vp_tensor *op_mse_loss(vp_ctx *ctx, vp_tensor *x, vp_tensor *y) {
  check_pair("mse_loss", x, y);
  vp_tensor *l = tensor_new(ctx, 0, NULL);  // 0-dim
  int64_t N = tensor_numel(x);
  l->data[0] = vp_use_ref_kernels ? cpu_mse_fwd_ref(N, x->data, y->data) : cpu_mse_fwd(N, x->data, y->data);
  vp_tensor *in[2] = {x, y};
  tape_record(ctx, &OP_MSE, l, in, 2);
  return l;
}

vp_tensor *op_l1_loss(vp_ctx *ctx, vp_tensor *x, vp_tensor *y) {
  check_pair("l1_loss", x, y);
  vp_tensor *l = tensor_new(ctx, 0, NULL);
  int64_t N = tensor_numel(x);
  l->data[0] = vp_use_ref_kernels ? cpu_l1_fwd_ref(N, x->data, y->data) : cpu_l1_fwd(N, x->data, y->data);
  vp_tensor *in[2] = {x, y};
  tape_record(ctx, &OP_L1, l, in, 2);
  return l;
}
