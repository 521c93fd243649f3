// elem.c: broadcasting add/sub/mul/div, scale, add_scalar and clamp, forward
// and backward.
#include "ops/elem.h"

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/elem.h"

// ---------------------------------------------------------------- broadcast
// Shapes of a, b and the output, right-aligned and padded with leading 1s to
// the output rank nd.
typedef struct {
  int nd;
  int64_t ys[VP_MAXDIM], as[VP_MAXDIM], bs[VP_MAXDIM];
} bcast_shapes;

static void pad_shape(const vp_tensor *t, int nd, int64_t *s) {
  int lead = nd - t->ndim;
  for (int d = 0; d < nd; d++) s[d] = d < lead ? 1 : t->shape[d - lead];
}

static void bcast_resolve(const char *op, const vp_tensor *a, const vp_tensor *b, bcast_shapes *S) {
  S->nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  pad_shape(a, S->nd, S->as);
  pad_shape(b, S->nd, S->bs);
  for (int d = 0; d < S->nd; d++) {
    int64_t x = S->as[d], y = S->bs[d];
    if (x != y && x != 1 && y != 1) {
      char s1[96], s2[96];
      vp_die("%s: shapes %s and %s do not broadcast (dim %d of the output: %lld vs %lld)", op,
             tensor_shape_str(a, s1, sizeof s1), tensor_shape_str(b, s2, sizeof s2), d,
             (long long)x, (long long)y);
    }
    S->ys[d] = x == 1 ? y : x;
  }
}

// iarg[0]: vp_binop
static void binary_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
  bcast_shapes S;
  bcast_resolve(n->op->name, a, b, &S);
  float *ga = node_in_grad(ctx, n, 0), *gb = node_in_grad(ctx, n, 1);
  if (!ga && !gb) return;
  vp_binop op = (vp_binop)n->iarg[0];
  if (vp_use_ref_kernels)
    cpu_binary_bwd_ref(op, S.nd, S.ys, y->data, y->grad, a->data, S.as, ga, b->data, S.bs, gb);
  else
    cpu_binary_bwd(op, S.nd, S.ys, y->data, y->grad, a->data, S.as, ga, b->data, S.bs, gb);
}
static const vp_opdef OP_ADD = {"add", {binary_backward, NULL}};
static const vp_opdef OP_SUB = {"sub", {binary_backward, NULL}};
static const vp_opdef OP_MUL = {"mul", {binary_backward, NULL}};
static const vp_opdef OP_DIV = {"div", {binary_backward, NULL}};

static vp_tensor *binary(vp_ctx *ctx, const vp_opdef *def, vp_binop op, vp_tensor *a, vp_tensor *b) {
  bcast_shapes S;
  bcast_resolve(def->name, a, b, &S);
  vp_tensor *y = tensor_new(ctx, S.nd, S.ys);
  if (vp_use_ref_kernels)
    cpu_binary_fwd_ref(op, S.nd, S.ys, y->data, a->data, S.as, b->data, S.bs, 1.f, 0);
  else
    cpu_binary_fwd(op, S.nd, S.ys, y->data, a->data, S.as, b->data, S.bs, 1.f, 0);
  vp_tensor *in[2] = {a, b};
  vp_node *n = tape_record(ctx, def, y, in, 2);
  if (n) n->iarg[0] = op;
  return y;
}

vp_tensor *op_add(vp_ctx *ctx, vp_tensor *a, vp_tensor *b) { return binary(ctx, &OP_ADD, VP_BIN_ADD, a, b); }
vp_tensor *op_sub(vp_ctx *ctx, vp_tensor *a, vp_tensor *b) { return binary(ctx, &OP_SUB, VP_BIN_SUB, a, b); }
vp_tensor *op_mul(vp_ctx *ctx, vp_tensor *a, vp_tensor *b) { return binary(ctx, &OP_MUL, VP_BIN_MUL, a, b); }
vp_tensor *op_div(vp_ctx *ctx, vp_tensor *a, vp_tensor *b) { return binary(ctx, &OP_DIV, VP_BIN_DIV, a, b); }

// ---------------------------------------------------------------- scale / add_scalar
static vp_tensor *like(vp_ctx *ctx, const vp_tensor *x) { return tensor_new(ctx, x->ndim, x->shape); }

// farg[0]: the factor on x (1 for add_scalar)
static void affine_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  int64_t N = tensor_numel(n->out);
  if (vp_use_ref_kernels) cpu_affine_bwd_ref(N, n->farg[0], n->out->grad, gx);
  else cpu_affine_bwd(N, n->farg[0], n->out->grad, gx);
}
static const vp_opdef OP_SCALE = {"scale", {affine_backward, NULL}};
static const vp_opdef OP_ADD_SCALAR = {"add_scalar", {affine_backward, NULL}};

static vp_tensor *affine(vp_ctx *ctx, const vp_opdef *def, vp_tensor *x, float s, float t) {
  vp_tensor *y = like(ctx, x);
  int64_t N = tensor_numel(x);
  if (vp_use_ref_kernels) cpu_affine_fwd_ref(N, x->data, s, t, y->data);
  else cpu_affine_fwd(N, x->data, s, t, y->data);
  vp_node *n = tape_record(ctx, def, y, &x, 1);
  if (n) n->farg[0] = s;
  return y;
}

vp_tensor *op_scale(vp_ctx *ctx, vp_tensor *x, float s) { return affine(ctx, &OP_SCALE, x, s, 0.f); }
vp_tensor *op_add_scalar(vp_ctx *ctx, vp_tensor *x, float s) { return affine(ctx, &OP_ADD_SCALAR, x, 1.f, s); }

// ---------------------------------------------------------------- clamp
// farg: 0 lo, 1 hi
static void clamp_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0];
  int64_t N = tensor_numel(x);
  if (vp_use_ref_kernels) cpu_clamp_bwd_ref(N, x->data, n->farg[0], n->farg[1], n->out->grad, gx);
  else cpu_clamp_bwd(N, x->data, n->farg[0], n->farg[1], n->out->grad, gx);
}
static const vp_opdef OP_CLAMP = {"clamp", {clamp_backward, NULL}};

vp_tensor *op_clamp(vp_ctx *ctx, vp_tensor *x, float lo, float hi) {
  if (!(lo <= hi)) vp_die("clamp: lower bound %g is above upper bound %g", (double)lo, (double)hi);
  vp_tensor *y = like(ctx, x);
  int64_t N = tensor_numel(x);
  if (vp_use_ref_kernels) cpu_clamp_fwd_ref(N, x->data, lo, hi, y->data);
  else cpu_clamp_fwd(N, x->data, lo, hi, y->data);
  vp_node *n = tape_record(ctx, &OP_CLAMP, y, &x, 1);
  if (n) {
    n->farg[0] = lo;
    n->farg[1] = hi;
  }
  return y;
}
