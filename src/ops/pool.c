// pool.c: avg_pool2d, max_pool3d, avg_pool3d and nearest x2 upsampling ops,
// forward and backward. The pools run on the 3-D kernels of
// kernels/cpu/pool.h (a 2-D pool has a unit time axis).
#include "ops/pool.h"

#include <string.h>

#include "core/check.h"
#include "core/tape.h"
#include "kernels/cpu/pool.h"

// Node attributes (iarg): 0..2 kernel, 3..5 stride, 6..8 leading pad (t, h, w),
// 9 count_pad (avg); farg 0: pad_value (max). The plane count and sizes come
// from the tensors' shapes.
enum { A_K = 0, A_STRIDE = 3, A_PAD = 6, A_COUNT_PAD = 9 };

// Geometry for x (..., T, H, W) -> y of the same leading dims; rank 2 pools
// have a unit T axis.
static cpu_pool_geom geom_make(const vp_tensor *x, const vp_tensor *y, int rank, const int64_t k[3],
                               const int64_t stride[3], const int64_t pad[3]) {
  cpu_pool_geom g;
  g.planes = 1;
  for (int i = 0; i < x->ndim - rank; i++) g.planes *= x->shape[i];
  for (int a = 0; a < 3; a++) {
    int d = x->ndim - 3 + a;
    g.in[a] = a < 3 - rank ? 1 : x->shape[d];
    g.out[a] = a < 3 - rank ? 1 : y->shape[d];
    g.k[a] = k[a];
    g.stride[a] = stride[a];
    g.pad[a] = pad[a];
  }
  return g;
}

static cpu_pool_geom geom_from_node(const vp_node *n, int rank) {
  return geom_make(n->in[0], n->out, rank, &n->iarg[A_K], &n->iarg[A_STRIDE], &n->iarg[A_PAD]);
}

static void node_set_geom(vp_node *n, const int64_t k[3], const int64_t stride[3], const int64_t pad[3]) {
  for (int a = 0; a < 3; a++) {
    n->iarg[A_K + a] = k[a];
    n->iarg[A_STRIDE + a] = stride[a];
    n->iarg[A_PAD + a] = pad[a];
  }
}

// Checks a 3-D pool's arguments and allocates its output.
static vp_tensor *pool3d_out(vp_ctx *ctx, const char *name, const vp_tensor *x, const int k[3],
                             const int stride[3], const int pad[6]) {
  char s1[64];
  if (x->ndim != 5) vp_die("%s: input %s must be (B, C, T, H, W)", name, tensor_shape_str(x, s1, 64));
  int64_t shape[5] = {x->shape[0], x->shape[1]};
  for (int a = 0; a < 3; a++) {
    int64_t n = x->shape[2 + a];
    int lo = pad[2 * a], hi = pad[2 * a + 1];
    // A pad as wide as the window would allow windows with no input cell.
    if (k[a] < 1 || stride[a] < 1 || lo < 0 || hi < 0 || lo >= k[a] || hi >= k[a])
      vp_die("%s: axis %d has kernel %d, stride %d, padding (%d, %d); need kernel, stride >= 1 "
             "and 0 <= padding < kernel", name, a, k[a], stride[a], lo, hi);
    if (n + lo + hi < k[a])
      vp_die("%s: kernel %d is larger than axis %d of the padded input %s", name, k[a], a,
             tensor_shape_str(x, s1, 64));
    shape[2 + a] = (n + lo + hi - k[a]) / stride[a] + 1;
  }
  return tensor_new(ctx, 5, shape);
}

// ---------------------------------------------------------------- max
static void max_pool3d_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  cpu_pool_geom g = geom_from_node(n, 3);
  cpu_maxpool3d_bwd(&g, n->in[0]->data, n->farg[0], n->out->grad, gx);
}
static const vp_opdef OP_MAX_POOL3D = {"max_pool3d", {max_pool3d_backward, NULL}};

vp_tensor *op_max_pool3d(vp_ctx *ctx, vp_tensor *x, const int k[3], const int stride[3],
                         const int pad[6], float pad_value) {
  vp_tensor *y = pool3d_out(ctx, "max_pool3d", x, k, stride, pad);
  const int64_t kk[3] = {k[0], k[1], k[2]}, st[3] = {stride[0], stride[1], stride[2]};
  const int64_t lo[3] = {pad[0], pad[2], pad[4]};
  cpu_pool_geom g = geom_make(x, y, 3, kk, st, lo);
  cpu_maxpool3d_fwd(&g, x->data, pad_value, y->data);
  vp_node *n = tape_record(ctx, &OP_MAX_POOL3D, y, &x, 1);
  if (n) {
    node_set_geom(n, kk, st, lo);
    n->farg[0] = pad_value;
  }
  return y;
}

// ---------------------------------------------------------------- average
// Shared by avg_pool2d (rank 2) and avg_pool3d (rank 3).
static void avg_pool_backward(vp_ctx *ctx, vp_node *n, int rank) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  cpu_pool_geom g = geom_from_node(n, rank);
  cpu_avgpool3d_bwd(&g, (int)n->iarg[A_COUNT_PAD], n->out->grad, gx);
}
static void avg_pool2d_backward(vp_ctx *ctx, vp_node *n) { avg_pool_backward(ctx, n, 2); }
static void avg_pool3d_backward(vp_ctx *ctx, vp_node *n) { avg_pool_backward(ctx, n, 3); }
static const vp_opdef OP_AVG_POOL2D = {"avg_pool2d", {avg_pool2d_backward, NULL}};
static const vp_opdef OP_AVG_POOL3D = {"avg_pool3d", {avg_pool3d_backward, NULL}};

static vp_tensor *avg_pool_run(vp_ctx *ctx, const vp_opdef *op, int rank, vp_tensor *x, vp_tensor *y,
                               const int64_t k[3], const int64_t st[3], const int64_t lo[3],
                               int count_pad) {
  cpu_pool_geom g = geom_make(x, y, rank, k, st, lo);
  cpu_avgpool3d_fwd(&g, x->data, count_pad, y->data);
  vp_node *n = tape_record(ctx, op, y, &x, 1);
  if (n) {
    node_set_geom(n, k, st, lo);
    n->iarg[A_COUNT_PAD] = count_pad;
  }
  return y;
}

vp_tensor *op_avg_pool2d(vp_ctx *ctx, vp_tensor *x, int k, int stride) {
  char s1[64];
  if (x->ndim != 4 || k < 1 || stride < 1 || x->shape[2] < k || x->shape[3] < k)
    vp_die("avg_pool2d: input %s must be (B, C, H, W) with H, W >= kernel %d, and stride %d >= 1",
           tensor_shape_str(x, s1, 64), k, stride);
  int64_t shape[4] = {x->shape[0], x->shape[1], (x->shape[2] - k) / stride + 1,
                      (x->shape[3] - k) / stride + 1};
  vp_tensor *y = tensor_new(ctx, 4, shape);
  const int64_t kk[3] = {1, k, k}, st[3] = {1, stride, stride}, lo[3] = {0, 0, 0};
  return avg_pool_run(ctx, &OP_AVG_POOL2D, 2, x, y, kk, st, lo, 1);
}

vp_tensor *op_avg_pool3d(vp_ctx *ctx, vp_tensor *x, const int k[3], const int stride[3],
                         const int pad[6], int count_pad) {
  vp_tensor *y = pool3d_out(ctx, "avg_pool3d", x, k, stride, pad);
  const int64_t kk[3] = {k[0], k[1], k[2]}, st[3] = {stride[0], stride[1], stride[2]};
  const int64_t lo[3] = {pad[0], pad[2], pad[4]};
  return avg_pool_run(ctx, &OP_AVG_POOL3D, 3, x, y, kk, st, lo, count_pad != 0);
}

// ---------------------------------------------------------------- upsample
static void upsample_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  const vp_tensor *x = n->in[0];
  int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
  if (H * W > 0) cpu_upsample2x_bwd(tensor_numel(x) / (H * W), H, W, n->out->grad, gx);
}
static const vp_opdef OP_UPSAMPLE2X = {"upsample_nearest2x", {upsample_backward, NULL}};

vp_tensor *op_upsample_nearest2x(vp_ctx *ctx, vp_tensor *x) {
  char s1[64];
  if (x->ndim < 2) vp_die("upsample_nearest2x: input %s needs at least 2 dims (..., H, W)",
                          tensor_shape_str(x, s1, 64));
  int64_t shape[VP_MAXDIM];
  memcpy(shape, x->shape, sizeof(shape));
  int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
  shape[x->ndim - 2] = 2 * H;
  shape[x->ndim - 1] = 2 * W;
  vp_tensor *y = tensor_new(ctx, x->ndim, shape);
  if (H * W > 0) cpu_upsample2x_fwd(tensor_numel(x) / (H * W), H, W, x->data, y->data);
  tape_record(ctx, &OP_UPSAMPLE2X, y, &x, 1);
  return y;
}
