// tape.h: reverse-mode autodiff by recording ops on a tape.
// In training mode, every op whose output needs a gradient appends a node:
// the op, its inputs, its output, tensors it saved (norm statistics, softmax
// probabilities) and its integer / float attributes. tape_backward() walks the
// nodes in reverse and calls each op's backward kernel, which accumulates into
// the inputs' gradients. Shared weights (a module applied three times)
// accumulate naturally because gradients are always added, never assigned.
#ifndef VP_TAPE_H
#define VP_TAPE_H

#include "core/tensor.h"

#define VP_MAXIN 8
#define VP_MAXSAVED 4
#define VP_MAXIARG 16
#define VP_MAXFARG 4

struct vp_node;

typedef void (*vp_backward_fn)(vp_ctx *ctx, struct vp_node *node);

// One row of the op table: an op's name and its backward per device.
// (Forward is the op's front-end function; it dispatches on ctx->device.)
typedef struct vp_opdef {
  const char *name;
  vp_backward_fn backward[2];  // [VP_CPU], [VP_CUDA]
} vp_opdef;

typedef struct vp_node {
  const vp_opdef *op;
  vp_tensor *out;
  vp_tensor *in[VP_MAXIN];
  int nin;
  vp_tensor *saved[VP_MAXSAVED];
  int64_t iarg[VP_MAXIARG];
  float farg[VP_MAXFARG];
} vp_node;

typedef struct vp_tape {
  vp_node **nodes;
  int64_t n, cap;
  // Optional: called after backward has visited node i (i runs from n-1
  // down to 0, including nodes skipped for lack of a gradient). The
  // data-parallel all-reduce uses it to start reducing gradients that are
  // final (dist/allreduce.h). NULL: no call.
  void (*on_node_done)(void *arg, int64_t i);
  void *on_node_done_arg;
} vp_tape;

// Should an op with these inputs record a node? (training and any input needs grad)
int tape_wants(vp_ctx *ctx, vp_tensor *const *in, int nin);
// Append a node for out = op(in...). Marks out->requires_grad. Returns the
// node so the op can fill saved tensors and attributes. Returns NULL (and
// records nothing) when no input needs a gradient or ctx is not training.
vp_node *tape_record(vp_ctx *ctx, const vp_opdef *op, vp_tensor *out,
                     vp_tensor *const *in, int nin);
// Seed d(loss)/d(loss) = 1 (loss must have one element) and run backward.
void tape_backward(vp_ctx *ctx, vp_tensor *loss);
// Run backward from out with an upstream gradient gout (same shape as out):
// the gradient of sum(out * gout). Used by golden tests.
void tape_backward_from(vp_ctx *ctx, vp_tensor *out, const float *gout);

// Gradient of node input i if it needs one, else NULL (callers skip it).
float *node_in_grad(vp_ctx *ctx, vp_node *node, int i);

#endif
