// act.c: activation and softmax front-ends and their tape nodes.
// Each op's backward needs either its input (SiLU, GELU, GEGLU, ReLU) or its
// output (tanh, sigmoid, softmax); both stay alive on the tape, so nothing
// extra is saved.
#include "ops/act.h"

#include <string.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/act.h"

static vp_tensor *like(vp_ctx *ctx, const vp_tensor *x) { return tensor_new(ctx, x->ndim, x->shape); }

static vp_node *record1(vp_ctx *ctx, const vp_opdef *op, vp_tensor *y, vp_tensor *x) {
  vp_tensor *in[1] = {x};
  return tape_record(ctx, op, y, in, 1);
}

// Rows of the last dim (0 rows for an empty tensor).
static int64_t rows_of(const vp_tensor *x) {
  int64_t D = x->ndim ? x->shape[x->ndim - 1] : 1;
  return D ? tensor_numel(x) / D : 0;
}

// ---------------------------------------------------------------- SiLU
static void silu_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0];
  if (vp_use_ref_kernels)
    cpu_silu_bwd_ref(x->data, n->out->grad, gx, tensor_numel(x));
  else
    cpu_silu_bwd(x->data, n->out->grad, gx, tensor_numel(x));
}
static const vp_opdef OP_SILU = {"silu", {silu_backward, NULL}};

vp_tensor *op_silu(vp_ctx *ctx, vp_tensor *x) {
  vp_tensor *y = like(ctx, x);
  if (vp_use_ref_kernels)
    cpu_silu_fwd_ref(x->data, y->data, tensor_numel(x));
  else
    cpu_silu_fwd(x->data, y->data, tensor_numel(x));
  record1(ctx, &OP_SILU, y, x);
  return y;
}

// ---------------------------------------------------------------- GELU
// iarg: 0 approx_tanh
static void gelu_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0];
  int approx = (int)n->iarg[0];
  if (vp_use_ref_kernels)
    cpu_gelu_bwd_ref(x->data, n->out->grad, gx, tensor_numel(x), approx);
  else
    cpu_gelu_bwd(x->data, n->out->grad, gx, tensor_numel(x), approx);
}
static const vp_opdef OP_GELU = {"gelu", {gelu_backward, NULL}};

vp_tensor *op_gelu(vp_ctx *ctx, vp_tensor *x, int approx_tanh) {
  approx_tanh = approx_tanh != 0;
  vp_tensor *y = like(ctx, x);
  if (vp_use_ref_kernels)
    cpu_gelu_fwd_ref(x->data, y->data, tensor_numel(x), approx_tanh);
  else
    cpu_gelu_fwd(x->data, y->data, tensor_numel(x), approx_tanh);
  vp_node *n = record1(ctx, &OP_GELU, y, x);
  if (n) n->iarg[0] = approx_tanh;
  return y;
}

// ---------------------------------------------------------------- GEGLU
static void geglu_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0], *y = n->out;
  int64_t D = y->shape[y->ndim - 1], M = rows_of(y);
  if (vp_use_ref_kernels)
    cpu_geglu_bwd_ref(x->data, y->grad, gx, M, D);
  else
    cpu_geglu_bwd(x->data, y->grad, gx, M, D);
}
static const vp_opdef OP_GEGLU = {"geglu", {geglu_backward, NULL}};

vp_tensor *op_geglu(vp_ctx *ctx, vp_tensor *x) {
  char s1[64];
  if (x->ndim < 1 || x->shape[x->ndim - 1] % 2 != 0)
    vp_die("geglu: the last dim of input %s must be even (value and gate halves)",
           tensor_shape_str(x, s1, 64));
  int64_t shape[VP_MAXDIM];
  memcpy(shape, x->shape, sizeof(shape));
  shape[x->ndim - 1] /= 2;
  vp_tensor *y = tensor_new(ctx, x->ndim, shape);
  int64_t D = shape[x->ndim - 1], M = rows_of(y);
  if (vp_use_ref_kernels)
    cpu_geglu_fwd_ref(x->data, y->data, M, D);
  else
    cpu_geglu_fwd(x->data, y->data, M, D);
  record1(ctx, &OP_GEGLU, y, x);
  return y;
}

// ---------------------------------------------------------------- ReLU / leaky ReLU
// farg: 0 slope (0 for ReLU). One kernel serves as reference and fast path.
static void leaky_relu_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  cpu_leaky_relu_bwd(n->in[0]->data, n->out->grad, gx, tensor_numel(n->in[0]), n->farg[0]);
}
static const vp_opdef OP_RELU = {"relu", {leaky_relu_backward, NULL}};
static const vp_opdef OP_LEAKY_RELU = {"leaky_relu", {leaky_relu_backward, NULL}};

static vp_tensor *leaky_relu(vp_ctx *ctx, vp_tensor *x, float slope, const vp_opdef *op) {
  vp_tensor *y = like(ctx, x);
  cpu_leaky_relu_fwd(x->data, y->data, tensor_numel(x), slope);
  vp_node *n = record1(ctx, op, y, x);
  if (n) n->farg[0] = slope;
  return y;
}
vp_tensor *op_relu(vp_ctx *ctx, vp_tensor *x) { return leaky_relu(ctx, x, 0.f, &OP_RELU); }
vp_tensor *op_leaky_relu(vp_ctx *ctx, vp_tensor *x, float slope) {
  return leaky_relu(ctx, x, slope, &OP_LEAKY_RELU);
}

// ---------------------------------------------------------------- tanh / sigmoid
static void tanh_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (gx) cpu_tanh_bwd(n->out->data, n->out->grad, gx, tensor_numel(n->out));
}
static const vp_opdef OP_TANH = {"tanh", {tanh_backward, NULL}};

vp_tensor *op_tanh(vp_ctx *ctx, vp_tensor *x) {
  vp_tensor *y = like(ctx, x);
  if (vp_use_ref_kernels)
    cpu_tanh_fwd_ref(x->data, y->data, tensor_numel(x));
  else
    cpu_tanh_fwd(x->data, y->data, tensor_numel(x));
  record1(ctx, &OP_TANH, y, x);
  return y;
}

static void sigmoid_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (gx) cpu_sigmoid_bwd(n->out->data, n->out->grad, gx, tensor_numel(n->out));
}
static const vp_opdef OP_SIGMOID = {"sigmoid", {sigmoid_backward, NULL}};

vp_tensor *op_sigmoid(vp_ctx *ctx, vp_tensor *x) {
  vp_tensor *y = like(ctx, x);
  if (vp_use_ref_kernels)
    cpu_sigmoid_fwd_ref(x->data, y->data, tensor_numel(x));
  else
    cpu_sigmoid_fwd(x->data, y->data, tensor_numel(x));
  record1(ctx, &OP_SIGMOID, y, x);
  return y;
}

// ---------------------------------------------------------------- softmax
static void softmax_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *y = n->out;
  int64_t D = y->shape[y->ndim - 1], M = rows_of(y);
  if (vp_use_ref_kernels)
    cpu_softmax_bwd_ref(y->data, y->grad, gx, M, D);
  else
    cpu_softmax_bwd(y->data, y->grad, gx, M, D);
}
static const vp_opdef OP_SOFTMAX = {"softmax", {softmax_backward, NULL}};

vp_tensor *op_softmax(vp_ctx *ctx, vp_tensor *x) {
  char s1[64];
  if (x->ndim < 1) vp_die("softmax: input %s has no last dim", tensor_shape_str(x, s1, 64));
  vp_tensor *y = like(ctx, x);
  int64_t D = x->shape[x->ndim - 1], M = rows_of(x);
  if (vp_use_ref_kernels)
    cpu_softmax_fwd_ref(x->data, y->data, M, D);
  else
    cpu_softmax_fwd(x->data, y->data, M, D);
  record1(ctx, &OP_SOFTMAX, y, x);
  return y;
}
