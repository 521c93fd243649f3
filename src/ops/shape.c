// shape.c: reshape, permute, concat, slice/split and constant pad, forward
// and backward. Only reshape is a view; the others copy (tensors are always
// contiguous, see docs/design.md).
#include "ops/shape.h"

#include <string.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/elem.h"
#include "kernels/cpu/shape.h"

static int64_t prod(const int64_t *s, int from, int to) {
  int64_t p = 1;
  for (int d = from; d < to; d++) p *= s[d];
  return p;
}

// dim in [-nd, nd) -> [0, nd), else an error naming the op and the shape.
static int norm_dim(const char *op, const vp_tensor *x, int dim) {
  char s[96];
  if (dim < -x->ndim || dim >= x->ndim)
    vp_die("%s: dim %d is out of range for a tensor of shape %s", op, dim,
           tensor_shape_str(x, s, sizeof s));
  return dim < 0 ? dim + x->ndim : dim;
}

// ---------------------------------------------------------------- reshape
// The output shares x's data but has its own gradient buffer, so backward
// only adds that buffer into x's gradient.
static void reshape_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  int64_t N = tensor_numel(n->out);
  if (vp_use_ref_kernels) cpu_affine_bwd_ref(N, 1.f, n->out->grad, gx);
  else cpu_affine_bwd(N, 1.f, n->out->grad, gx);
}
static const vp_opdef OP_RESHAPE = {"reshape", {reshape_backward, NULL}};

vp_tensor *op_reshape(vp_ctx *ctx, vp_tensor *x, int ndim, const int64_t *shape) {
  char s[96];
  if (ndim < 0 || ndim > VP_MAXDIM)
    vp_die("reshape: target rank %d is outside 0..%d (input %s)", ndim, VP_MAXDIM,
           tensor_shape_str(x, s, sizeof s));
  int64_t sh[VP_MAXDIM], known = 1, n = tensor_numel(x);
  int infer = -1;
  for (int d = 0; d < ndim; d++) {
    sh[d] = shape[d];
    if (shape[d] == -1) {
      if (infer >= 0) vp_die("reshape: more than one -1 in the target shape (input %s)",
                             tensor_shape_str(x, s, sizeof s));
      infer = d;
    } else if (shape[d] < 0) {
      vp_die("reshape: target dim %d is %lld (input %s)", d, (long long)shape[d],
             tensor_shape_str(x, s, sizeof s));
    } else {
      known *= shape[d];
    }
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      vp_die("reshape: cannot infer dim %d: %lld elements of %s do not divide by %lld", infer,
             (long long)n, tensor_shape_str(x, s, sizeof s), (long long)known);
    sh[infer] = n / known;
    known *= sh[infer];
  }
  vp_tensor *y = arena_calloc(&ctx->act, sizeof(vp_tensor));
  y->ndim = ndim;
  memcpy(y->shape, sh, (size_t)ndim * sizeof(int64_t));
  if (known != n) {
    char s2[96];
    vp_die("reshape: input %s has %lld elements but the target %s has %lld",
           tensor_shape_str(x, s, sizeof s), (long long)n, tensor_shape_str(y, s2, sizeof s2),
           (long long)known);
  }
  y->data = x->data;
  y->dtype = x->dtype;
  y->device = x->device;
  tape_record(ctx, &OP_RESHAPE, y, &x, 1);
  return y;
}

// ---------------------------------------------------------------- permute
// iarg[0..nd): perm
static void permute_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *y = n->out;
  int inv[VP_MAXDIM];
  for (int i = 0; i < y->ndim; i++) inv[n->iarg[i]] = i;
  // gy has y's shape; permuting it by the inverse gives x's layout.
  if (vp_use_ref_kernels) cpu_permute_ref(y->ndim, y->shape, inv, y->grad, gx, 1);
  else cpu_permute(y->ndim, y->shape, inv, y->grad, gx, 1);
}
static const vp_opdef OP_PERMUTE = {"permute", {permute_backward, NULL}};

vp_tensor *op_permute(vp_ctx *ctx, vp_tensor *x, const int *perm) {
  int nd = x->ndim, seen[VP_MAXDIM] = {0};
  int64_t ys[VP_MAXDIM];
  for (int i = 0; i < nd; i++) {
    if (perm[i] < 0 || perm[i] >= nd || seen[perm[i]]++) {
      char s[96], p[64];
      size_t k = 0;
      for (int j = 0; j < nd && k < sizeof p; j++)
        k += (size_t)snprintf(p + k, sizeof p - k, j ? ", %d" : "%d", perm[j]);
      vp_die("permute: (%s) is not a permutation of the %d dims of %s", p, nd,
             tensor_shape_str(x, s, sizeof s));
    }
    ys[i] = x->shape[perm[i]];
  }
  vp_tensor *y = tensor_new(ctx, nd, ys);
  if (vp_use_ref_kernels) cpu_permute_ref(nd, x->shape, perm, x->data, y->data, 0);
  else cpu_permute(nd, x->shape, perm, x->data, y->data, 0);
  vp_node *n = tape_record(ctx, &OP_PERMUTE, y, &x, 1);
  if (n)
    for (int i = 0; i < nd; i++) n->iarg[i] = perm[i];
  return y;
}

// ---------------------------------------------------------------- column windows
// Concat and slice both see their tensors as (outer, cols) matrices, where
// outer is the product of the dims before dim and a tensor's cols is its
// size along dim times the product of the dims after it.
static void copy_cols(int64_t rows, int64_t w, const float *x, int64_t xcols, int64_t xoff,
                      float *y, int64_t ycols, int64_t yoff, int accumulate) {
  if (vp_use_ref_kernels) cpu_copy_cols_ref(rows, w, x, xcols, xoff, y, ycols, yoff, accumulate);
  else cpu_copy_cols(rows, w, x, xcols, xoff, y, ycols, yoff, accumulate);
}

// ---------------------------------------------------------------- concat
// iarg[0]: dim
static void concat_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *y = n->out;
  int dim = (int)n->iarg[0];
  int64_t outer = prod(y->shape, 0, dim), post = prod(y->shape, dim + 1, y->ndim);
  int64_t W = y->shape[dim] * post, off = 0;
  for (int i = 0; i < n->nin; i++) {
    int64_t w = n->in[i]->shape[dim] * post;
    float *gx = node_in_grad(ctx, n, i);
    if (gx) copy_cols(outer, w, y->grad, W, off, gx, w, 0, 1);
    off += w;
  }
}
static const vp_opdef OP_CONCAT = {"concat", {concat_backward, NULL}};

vp_tensor *op_concat(vp_ctx *ctx, vp_tensor *const *xs, int n, int dim) {
  char s1[96], s2[96];
  if (n < 1 || n > VP_MAXIN) vp_die("concat: %d inputs; 1 to %d are supported", n, VP_MAXIN);
  const vp_tensor *x0 = xs[0];
  if (x0->ndim == 0) vp_die("concat: cannot concatenate 0-dim tensors");
  dim = norm_dim("concat", x0, dim);
  int64_t ys[VP_MAXDIM];
  memcpy(ys, x0->shape, sizeof ys);
  ys[dim] = 0;
  for (int i = 0; i < n; i++) {
    const vp_tensor *x = xs[i];
    int ok = x->ndim == x0->ndim;
    for (int d = 0; ok && d < x0->ndim; d++) ok = d == dim || x->shape[d] == x0->shape[d];
    if (!ok)
      vp_die("concat: input %d has shape %s but input 0 has %s; all dims except %d must agree", i,
             tensor_shape_str(x, s1, sizeof s1), tensor_shape_str(x0, s2, sizeof s2), dim);
    ys[dim] += x->shape[dim];
  }
  vp_tensor *y = tensor_new(ctx, x0->ndim, ys);
  int64_t outer = prod(ys, 0, dim), post = prod(ys, dim + 1, x0->ndim), W = ys[dim] * post, off = 0;
  for (int i = 0; i < n; i++) {
    int64_t w = xs[i]->shape[dim] * post;
    copy_cols(outer, w, xs[i]->data, w, 0, y->data, W, off, 0);
    off += w;
  }
  vp_node *nd = tape_record(ctx, &OP_CONCAT, y, xs, n);
  if (nd) nd->iarg[0] = dim;
  return y;
}

// ---------------------------------------------------------------- slice / split
// iarg: 0 dim, 1 start
static void slice_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0], *y = n->out;
  int dim = (int)n->iarg[0];
  int64_t outer = prod(x->shape, 0, dim), post = prod(x->shape, dim + 1, x->ndim);
  int64_t w = y->shape[dim] * post;
  copy_cols(outer, w, y->grad, w, 0, gx, x->shape[dim] * post, n->iarg[1] * post, 1);
}
static const vp_opdef OP_SLICE = {"slice", {slice_backward, NULL}};

vp_tensor *op_slice(vp_ctx *ctx, vp_tensor *x, int dim, int64_t start, int64_t len) {
  char s[96];
  if (x->ndim == 0) vp_die("slice: cannot slice a 0-dim tensor");
  dim = norm_dim("slice", x, dim);
  int64_t size = x->shape[dim];
  if (start < 0) start += size;  // torch.narrow accepts a negative start
  if (start < 0 || len < 0 || start + len > size)
    vp_die("slice: [%lld, %lld) along dim %d is outside %s", (long long)start,
           (long long)(start + len), dim, tensor_shape_str(x, s, sizeof s));
  int64_t ys[VP_MAXDIM];
  memcpy(ys, x->shape, sizeof ys);
  ys[dim] = len;
  vp_tensor *y = tensor_new(ctx, x->ndim, ys);
  int64_t outer = prod(x->shape, 0, dim), post = prod(x->shape, dim + 1, x->ndim);
  copy_cols(outer, len * post, x->data, size * post, start * post, y->data, len * post, 0, 0);
  vp_node *n = tape_record(ctx, &OP_SLICE, y, &x, 1);
  if (n) {
    n->iarg[0] = dim;
    n->iarg[1] = start;
  }
  return y;
}

// Each piece is its own slice node, so backward needs nothing special when
// only some of the pieces receive gradients.
void op_split(vp_ctx *ctx, vp_tensor *x, int dim, const int64_t *sizes, int n, vp_tensor **out) {
  char s[96];
  if (x->ndim == 0) vp_die("split: cannot split a 0-dim tensor");
  dim = norm_dim("split", x, dim);
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    if (sizes[i] < 0) vp_die("split: size %d is %lld", i, (long long)sizes[i]);
    total += sizes[i];
  }
  if (n < 1 || total != x->shape[dim])
    vp_die("split: sizes add up to %lld but dim %d of %s is %lld", (long long)total, dim,
           tensor_shape_str(x, s, sizeof s), (long long)x->shape[dim]);
  int64_t start = 0;
  for (int i = 0; i < n; i++) {
    out[i] = op_slice(ctx, x, dim, start, sizes[i]);
    start += sizes[i];
  }
}

// ---------------------------------------------------------------- pad
// iarg[0..nd): low padding per dim (high padding follows from the shapes)
static void pad_backward(vp_ctx *ctx, vp_node *n) {
  float *gx = node_in_grad(ctx, n, 0);
  if (!gx) return;
  vp_tensor *x = n->in[0], *y = n->out;
  if (x->ndim == 0) {  // nothing was padded
    gx[0] += y->grad[0];
    return;
  }
  if (vp_use_ref_kernels) cpu_pad_bwd_ref(x->ndim, x->shape, n->iarg, y->shape, y->grad, gx);
  else cpu_pad_bwd(x->ndim, x->shape, n->iarg, y->shape, y->grad, gx);
}
static const vp_opdef OP_PAD = {"pad", {pad_backward, NULL}};

vp_tensor *op_pad(vp_ctx *ctx, vp_tensor *x, const int64_t *pads, int npad, float value) {
  char s[96];
  int nd = x->ndim;
  if (npad < 0 || npad > nd)
    vp_die("pad: %d (lo, hi) pairs for a tensor of shape %s; at most one pair per dim", npad,
           tensor_shape_str(x, s, sizeof s));
  int64_t lo[VP_MAXDIM] = {0}, ys[VP_MAXDIM];
  memcpy(ys, x->shape, sizeof ys);
  for (int k = 0; k < npad; k++) {
    int d = nd - 1 - k;
    if (pads[2 * k] < 0 || pads[2 * k + 1] < 0)
      vp_die("pad: negative padding (%lld, %lld) for dim %d of %s is not supported",
             (long long)pads[2 * k], (long long)pads[2 * k + 1], d, tensor_shape_str(x, s, sizeof s));
    lo[d] = pads[2 * k];
    ys[d] = x->shape[d] + pads[2 * k] + pads[2 * k + 1];
  }
  vp_tensor *y = tensor_new(ctx, nd, ys);
  if (nd == 0) {
    y->data[0] = x->data[0];
  } else if (vp_use_ref_kernels) {
    cpu_pad_fwd_ref(nd, x->shape, lo, ys, x->data, value, y->data);
  } else {
    cpu_pad_fwd(nd, x->shape, lo, ys, x->data, value, y->data);
  }
  vp_node *n = tape_record(ctx, &OP_PAD, y, &x, 1);
  if (n)
    for (int d = 0; d < nd; d++) n->iarg[d] = lo[d];
  return y;
}
