// tape.c: recording and replaying ops for reverse-mode autodiff (see tape.h).
#include "core/tape.h"

#include <string.h>

#include "core/check.h"

int tape_wants(vp_ctx *ctx, vp_tensor *const *in, int nin) {
  if (!ctx->training || !ctx->tape) return 0;
  for (int i = 0; i < nin; i++)
    if (in[i] && in[i]->requires_grad) return 1;
  return 0;
}

vp_node *tape_record(vp_ctx *ctx, const vp_opdef *op, vp_tensor *out,
                     vp_tensor *const *in, int nin) {
  VP_ASSERT(nin <= VP_MAXIN);
  if (!tape_wants(ctx, in, nin)) return NULL;
  vp_tape *tp = ctx->tape;
  if (tp->n == tp->cap) {
    tp->cap = tp->cap ? tp->cap * 2 : 256;
    tp->nodes = vp_realloc(tp->nodes, (size_t)tp->cap * sizeof(vp_node *));
  }
  vp_node *node = arena_calloc(&ctx->act, sizeof(vp_node));
  node->op = op;
  node->out = out;
  node->nin = nin;
  for (int i = 0; i < nin; i++) node->in[i] = in[i];
  out->requires_grad = 1;
  tp->nodes[tp->n++] = node;
  return node;
}

float *node_in_grad(vp_ctx *ctx, vp_node *node, int i) {
  vp_tensor *t = node->in[i];
  if (!t || !t->requires_grad) return NULL;
  return tensor_grad(ctx, t);
}

static void run_backward(vp_ctx *ctx) {
  vp_tape *tp = ctx->tape;
  for (int64_t i = tp->n - 1; i >= 0; i--) {
    vp_node *node = tp->nodes[i];
    if (node->out->grad) {  // else nothing flowed into this op's output
      vp_backward_fn fn = node->op->backward[ctx->device];
      if (!fn)
        vp_die("op '%s' has no backward on this device; train on the CPU or "
               "build with the device kernels", node->op->name);
      fn(ctx, node);
    }
    if (tp->on_node_done) tp->on_node_done(tp->on_node_done_arg, i);
  }
}

void tape_backward(vp_ctx *ctx, vp_tensor *loss) {
  VP_ASSERT(tensor_numel(loss) == 1);
  if (!loss->requires_grad) return;
  tensor_grad(ctx, loss)[0] += 1.0f;
  run_backward(ctx);
}

void tape_backward_from(vp_ctx *ctx, vp_tensor *out, const float *gout) {
  if (!out->requires_grad) return;
  int64_t n = tensor_numel(out);
  if (!out->grad) {
    // First gradient of out: a copy, rather than zero-fill then add.
    out->grad = arena_alloc(&ctx->act, (size_t)n * sizeof(float));
    memcpy(out->grad, gout, (size_t)n * sizeof(float));
  } else {
    float *g = out->grad;
    for (int64_t i = 0; i < n; i++) g[i] += gout[i];
  }
  run_backward(ctx);
}
