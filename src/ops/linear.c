// linear.c: linear, matmul and batched matmul, forward and backward.
#include "ops/linear.h"

#include <string.h>

#include "core/check.h"
#include "core/tape.h"
#include "kernels/cpu/gemm.h"

static int64_t rows_of(const vp_tensor *x) { return tensor_numel(x) / x->shape[x->ndim - 1]; }

// ---------------------------------------------------------------- linear
static void linear_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *x = n->in[0], *w = n->in[1], *y = n->out;
  int64_t M = rows_of(x), In = w->shape[1], Out = w->shape[0];
  float *gx = node_in_grad(ctx, n, 0), *gw = node_in_grad(ctx, n, 1);
  float *gb = n->nin > 2 ? node_in_grad(ctx, n, 2) : NULL;
  // gx (M, In) += gy (M, Out) @ w (Out, In)
  if (gx) cpu_gemm(0, 0, M, In, Out, 1.f, y->grad, Out, w->data, In, 1.f, gx, In);
  // gw (Out, In) += gy^T (Out, M) @ x (M, In)
  if (gw) cpu_gemm(1, 0, Out, In, M, 1.f, y->grad, Out, x->data, In, 1.f, gw, In);
  if (gb) {
    for (int64_t i = 0; i < M; i++) {
      const float *g = y->grad + i * Out;
      for (int64_t o = 0; o < Out; o++) gb[o] += g[o];
    }
  }
}
static const vp_opdef OP_LINEAR = {"linear", {linear_backward, NULL}};

vp_tensor *op_linear(vp_ctx *ctx, vp_tensor *x, vp_tensor *w, vp_tensor *b) {
  char s1[64], s2[64];
  if (w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1] || (b && (b->ndim != 1 || b->shape[0] != w->shape[0])))
    vp_die("linear: input %s does not match weight %s%s%s", tensor_shape_str(x, s1, 64),
           tensor_shape_str(w, s2, 64), w->name ? " " : "", w->name ? w->name : "");
  int64_t shape[VP_MAXDIM];
  memcpy(shape, x->shape, sizeof(shape));
  shape[x->ndim - 1] = w->shape[0];
  vp_tensor *y = tensor_new(ctx, x->ndim, shape);
  int64_t M = rows_of(x), In = w->shape[1], Out = w->shape[0];
  if (b) {
    for (int64_t i = 0; i < M; i++) memcpy(y->data + i * Out, b->data, (size_t)Out * sizeof(float));
  }
  cpu_gemm(0, 1, M, Out, In, 1.f, x->data, In, w->data, In, b ? 1.f : 0.f, y->data, Out);
  vp_tensor *in[3] = {x, w, b};
  tape_record(ctx, &OP_LINEAR, y, in, b ? 3 : 2);
  return y;
}

// ---------------------------------------------------------------- bmm
// iarg: 0 batch, 1 M, 2 N, 3 K, 4 ta, 5 tb
static void bmm_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
  int64_t Bt = n->iarg[0], M = n->iarg[1], N = n->iarg[2], K = n->iarg[3];
  int ta = (int)n->iarg[4], tb = (int)n->iarg[5];
  float *ga = node_in_grad(ctx, n, 0), *gb = node_in_grad(ctx, n, 1);
  int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if (ga) {
    if (!ta)  // ga (M,K) += gc (M,N) @ op(b)^T
      cpu_gemm_batched(0, !tb, Bt, M, K, N, 1.f, c->grad, N, M * N, b->data, ldb, K * N, 1.f, ga, lda, M * K);
    else      // ga (K,M) += op(b) (K,N) @ gc^T (N,M)
      cpu_gemm_batched(tb, 1, Bt, K, M, N, 1.f, b->data, ldb, K * N, c->grad, N, M * N, 1.f, ga, lda, M * K);
  }
  if (gb) {
    if (!tb)  // gb (K,N) += op(a)^T (K,M) @ gc (M,N)
      cpu_gemm_batched(!ta, 0, Bt, K, N, M, 1.f, a->data, lda, M * K, c->grad, N, M * N, 1.f, gb, ldb, K * N);
    else      // gb (N,K) += gc^T (N,M) @ op(a) (M,K)
      cpu_gemm_batched(1, ta, Bt, N, K, M, 1.f, c->grad, N, M * N, a->data, lda, M * K, 1.f, gb, ldb, K * N);
  }
}
static const vp_opdef OP_BMM = {"bmm", {bmm_backward, NULL}};

vp_tensor *op_bmm(vp_ctx *ctx, vp_tensor *a, vp_tensor *b, int ta, int tb) {
  char s1[64], s2[64];
  if (a->ndim < 3 || a->ndim != b->ndim) vp_die("bmm: need two tensors of the same rank >= 3, got %s and %s",
                                                 tensor_shape_str(a, s1, 64), tensor_shape_str(b, s2, 64));
  int nd = a->ndim;
  int64_t Bt = 1;
  for (int i = 0; i < nd - 2; i++) {
    if (a->shape[i] != b->shape[i]) vp_die("bmm: batch dims differ: %s vs %s", tensor_shape_str(a, s1, 64), tensor_shape_str(b, s2, 64));
    Bt *= a->shape[i];
  }
  int64_t M = ta ? a->shape[nd - 1] : a->shape[nd - 2], K = ta ? a->shape[nd - 2] : a->shape[nd - 1];
  int64_t Kb = tb ? b->shape[nd - 1] : b->shape[nd - 2], N = tb ? b->shape[nd - 2] : b->shape[nd - 1];
  if (K != Kb) vp_die("bmm: inner dims differ: %s vs %s", tensor_shape_str(a, s1, 64), tensor_shape_str(b, s2, 64));
  int64_t shape[VP_MAXDIM];
  memcpy(shape, a->shape, sizeof(shape));
  shape[nd - 2] = M;
  shape[nd - 1] = N;
  vp_tensor *c = tensor_new(ctx, nd, shape);
  cpu_gemm_batched(ta, tb, Bt, M, N, K, 1.f, a->data, ta ? M : K, M * K, b->data, tb ? K : N, K * N, 0.f,
                   c->data, N, M * N);
  vp_tensor *in[2] = {a, b};
  vp_node *n = tape_record(ctx, &OP_BMM, c, in, 2);
  if (n) {
    n->iarg[0] = Bt; n->iarg[1] = M; n->iarg[2] = N; n->iarg[3] = K;
    n->iarg[4] = ta; n->iarg[5] = tb;
  }
  return c;
}

// ---------------------------------------------------------------- matmul
// a (..., M, K) @ b (K, N): the same product as a linear layer with w = b^T.
static void matmul_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
  int64_t M = rows_of(a), K = b->shape[0], N = b->shape[1];
  float *ga = node_in_grad(ctx, n, 0), *gb = node_in_grad(ctx, n, 1);
  if (ga) cpu_gemm(0, 1, M, K, N, 1.f, c->grad, N, b->data, N, 1.f, ga, K);
  if (gb) cpu_gemm(1, 0, K, N, M, 1.f, a->data, K, c->grad, N, 1.f, gb, N);
}
static const vp_opdef OP_MATMUL = {"matmul", {matmul_backward, NULL}};

vp_tensor *op_matmul(vp_ctx *ctx, vp_tensor *a, vp_tensor *b) {
  char s1[64], s2[64];
  if (b->ndim != 2 || a->shape[a->ndim - 1] != b->shape[0])
    vp_die("matmul: shapes %s and %s do not match", tensor_shape_str(a, s1, 64), tensor_shape_str(b, s2, 64));
  int64_t shape[VP_MAXDIM];
  memcpy(shape, a->shape, sizeof(shape));
  shape[a->ndim - 1] = b->shape[1];
  vp_tensor *c = tensor_new(ctx, a->ndim, shape);
  int64_t M = rows_of(a), K = b->shape[0], N = b->shape[1];
  cpu_gemm(0, 0, M, N, K, 1.f, a->data, K, b->data, N, 0.f, c->data, N);
  vp_tensor *in[2] = {a, b};
  tape_record(ctx, &OP_MATMUL, c, in, 2);
  return c;
}
