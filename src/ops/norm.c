// norm.c: group norm and layer norm front-ends and their tape nodes.
// The forward saves the per-group / per-row mean and rstd (B, G) / (M) for the
// backward, as PyTorch does.
#include "ops/norm.h"

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/norm.h"

// An optional affine parameter must be a vector of n.
static void check_affine(const char *op, const char *what, const vp_tensor *p, const vp_tensor *x, int64_t n) {
  char s1[64], s2[64];
  if (p && (p->ndim != 1 || p->shape[0] != n))
    vp_die("%s: %s %s%s%s does not match input %s (want (%lld))", op, what, tensor_shape_str(p, s1, 64),
           p->name ? " " : "", p->name ? p->name : "", tensor_shape_str(x, s2, 64), (long long)n);
}

static const float *data_or_null(const vp_tensor *t) { return t ? t->data : NULL; }

// Gradient of input i for a fast kernel that can write it whole: when the
// input has no gradient buffer yet, allocate it uninitialised (where
// tensor_grad would, minus the zero fill) and set *fresh, so the kernel writes
// instead of accumulating onto zeros. Saves a fill and a read of x's size.
static float *in_grad_maybe_fresh(vp_ctx *ctx, vp_node *n, int i, int *fresh) {
  vp_tensor *t = n->in[i];
  *fresh = 0;
  if (!t || !t->requires_grad) return NULL;
  if (!t->grad) {
    t->grad = arena_alloc(&ctx->act, (size_t)tensor_numel(t) * sizeof(float));
    *fresh = 1;
  }
  return t->grad;
}

// ---------------------------------------------------------------- group norm
// in: x, w, b (w, b may be NULL); saved: mean, rstd (B, G); iarg: B, C, S, G
static void group_norm_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *x = n->in[0], *w = n->in[1], *y = n->out;
  float *gw = node_in_grad(ctx, n, 1), *gb = node_in_grad(ctx, n, 2);
  int64_t B = n->iarg[0], C = n->iarg[1], S = n->iarg[2], G = n->iarg[3];
  const float *mean = n->saved[0]->data, *rstd = n->saved[1]->data;
  if (vp_use_ref_kernels) {
    cpu_group_norm_bwd_ref(x->data, data_or_null(w), mean, rstd, y->grad, node_in_grad(ctx, n, 0), gw, gb,
                           B, C, S, G);
  } else {
    int fresh;
    float *gx = in_grad_maybe_fresh(ctx, n, 0, &fresh);
    cpu_group_norm_bwd(x->data, data_or_null(w), mean, rstd, y->grad, gx, gw, gb, B, C, S, G, fresh);
  }
}
static const vp_opdef OP_GROUP_NORM = {"group_norm", {group_norm_backward, NULL}};

vp_tensor *op_group_norm(vp_ctx *ctx, vp_tensor *x, int groups, vp_tensor *w, vp_tensor *b,
                         float eps) {
  char s1[64];
  if (x->ndim < 2)
    vp_die("group_norm: input %s needs at least 2 dims (B, C, *)", tensor_shape_str(x, s1, 64));
  int64_t B = x->shape[0], C = x->shape[1], S = 1;
  for (int i = 2; i < x->ndim; i++) S *= x->shape[i];
  if (groups <= 0 || C % groups != 0)
    vp_die("group_norm: %d groups do not divide the %lld channels of input %s", groups, (long long)C,
           tensor_shape_str(x, s1, 64));
  if (!(eps >= 0.f)) vp_die("group_norm: eps must be >= 0, got %g", (double)eps);
  check_affine("group_norm", "weight", w, x, C);
  check_affine("group_norm", "bias", b, x, C);
  int64_t G = groups;
  vp_tensor *y = tensor_new(ctx, x->ndim, x->shape);
  vp_tensor *mean = tensor_newv(ctx, 2, B, G), *rstd = tensor_newv(ctx, 2, B, G);
  if (vp_use_ref_kernels)
    cpu_group_norm_fwd_ref(x->data, data_or_null(w), data_or_null(b), y->data, mean->data, rstd->data,
                           B, C, S, G, eps);
  else
    cpu_group_norm_fwd(x->data, data_or_null(w), data_or_null(b), y->data, mean->data, rstd->data, B,
                       C, S, G, eps);
  vp_tensor *in[3] = {x, w, b};
  vp_node *n = tape_record(ctx, &OP_GROUP_NORM, y, in, 3);
  if (n) {
    n->saved[0] = mean;
    n->saved[1] = rstd;
    n->iarg[0] = B; n->iarg[1] = C; n->iarg[2] = S; n->iarg[3] = G;
  }
  return y;
}

// ---------------------------------------------------------------- layer norm
// in: x, w, b (w, b may be NULL); saved: mean, rstd (M); iarg: M, D
static void layer_norm_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *x = n->in[0], *w = n->in[1], *y = n->out;
  float *gw = node_in_grad(ctx, n, 1), *gb = node_in_grad(ctx, n, 2);
  int64_t M = n->iarg[0], D = n->iarg[1];
  const float *mean = n->saved[0]->data, *rstd = n->saved[1]->data;
  if (vp_use_ref_kernels) {
    cpu_layer_norm_bwd_ref(x->data, data_or_null(w), mean, rstd, y->grad, node_in_grad(ctx, n, 0), gw, gb,
                           M, D);
  } else {
    int fresh;
    float *gx = in_grad_maybe_fresh(ctx, n, 0, &fresh);
    cpu_layer_norm_bwd(x->data, data_or_null(w), mean, rstd, y->grad, gx, gw, gb, M, D, fresh);
  }
}
static const vp_opdef OP_LAYER_NORM = {"layer_norm", {layer_norm_backward, NULL}};

vp_tensor *op_layer_norm(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b, float eps) {
  char s1[64];
  if (x->ndim < 1 || x->shape[x->ndim - 1] == 0)
    vp_die("layer_norm: input %s needs a non-empty last dim", tensor_shape_str(x, s1, 64));
  if (!(eps >= 0.f)) vp_die("layer_norm: eps must be >= 0, got %g", (double)eps);
  int64_t D = x->shape[x->ndim - 1], M = tensor_numel(x) / D;
  check_affine("layer_norm", "weight", w, x, D);
  check_affine("layer_norm", "bias", b, x, D);
  vp_tensor *y = tensor_new(ctx, x->ndim, x->shape);
  vp_tensor *mean = tensor_newv(ctx, 1, M), *rstd = tensor_newv(ctx, 1, M);
  if (vp_use_ref_kernels)
    cpu_layer_norm_fwd_ref(x->data, data_or_null(w), data_or_null(b), y->data, mean->data, rstd->data,
                           M, D, eps);
  else
    cpu_layer_norm_fwd(x->data, data_or_null(w), data_or_null(b), y->data, mean->data, rstd->data, M,
                       D, eps);
  vp_tensor *in[3] = {x, w, b};
  vp_node *n = tape_record(ctx, &OP_LAYER_NORM, y, in, 3);
  if (n) {
    n->saved[0] = mean;
    n->saved[1] = rstd;
    n->iarg[0] = M; n->iarg[1] = D;
  }
  return y;
}
