// attention.c: multi-head scaled dot-product attention, forward and backward.
// Fast mode saves only the per-row log-sum-exp (B, H, Lq) and recomputes the
// probabilities in backward; reference mode saves the full probabilities
// (B, H, Lq, Lk). Backward follows whatever its forward saved.
#include "ops/attention.h"

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/tape.h"
#include "kernels/cpu/attention.h"

// saved: 0 lse (fast) or probs (reference), 1 mask (or NULL)
// iarg: 0 saved probs (reference forward), 1 mask per (batch, head)
// farg: 0 scale
static void attention_backward(vp_ctx *ctx, vp_node *n) {
  vp_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *y = n->out;
  cpu_attn_shape s = {.bh = q->shape[0] * q->shape[1], .lq = q->shape[2], .lk = k->shape[2],
                      .d = q->shape[3], .dv = v->shape[3], .scale = n->farg[0],
                      .mask_per_head = (int)n->iarg[1]};
  float *gq = node_in_grad(ctx, n, 0), *gk = node_in_grad(ctx, n, 1), *gv = node_in_grad(ctx, n, 2);
  const float *mask = n->saved[1] ? n->saved[1]->data : NULL;
  if (n->iarg[0])
    cpu_attention_bwd_ref(&s, q->data, k->data, v->data, n->saved[0]->data, y->grad, gq, gk, gv);
  else
    cpu_attention_bwd(&s, q->data, k->data, v->data, mask, n->saved[0]->data, y->grad, gq, gk, gv);
}
static const vp_opdef OP_ATTENTION = {"attention", {attention_backward, NULL}};

vp_tensor *op_attention(vp_ctx *ctx, vp_tensor *q, vp_tensor *k, vp_tensor *v, vp_tensor *mask,
                        float scale) {
  char s1[64], s2[64], s3[64], s4[64];
  if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k->shape[0] != q->shape[0] ||
      v->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] || v->shape[1] != q->shape[1] ||
      k->shape[3] != q->shape[3] || v->shape[2] != k->shape[2] || k->shape[2] < 1)
    vp_die("attention: need q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv) with Lk >= 1, "
           "got q %s, k %s, v %s", tensor_shape_str(q, s1, 64), tensor_shape_str(k, s2, 64),
           tensor_shape_str(v, s3, 64));
  const int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], Lk = k->shape[2];
  int per_head = 0;
  if (mask) {
    if (mask->ndim == 2 && mask->shape[0] == Lq && mask->shape[1] == Lk) {
      per_head = 0;
    } else if (mask->ndim == 4 && mask->shape[0] == B && mask->shape[1] == H &&
               mask->shape[2] == Lq && mask->shape[3] == Lk) {
      per_head = 1;
    } else {
      vp_die("attention: mask %s must be (Lq, Lk) or (B, H, Lq, Lk) for q %s and k %s",
             tensor_shape_str(mask, s4, 64), tensor_shape_str(q, s1, 64), tensor_shape_str(k, s2, 64));
    }
    if (mask->requires_grad)
      vp_die("attention: the mask %s gets no gradient but requires one; build it from tensors "
             "that need no gradient", tensor_shape_str(mask, s4, 64));
  }
  cpu_attn_shape s = {.bh = B * H, .lq = Lq, .lk = Lk, .d = q->shape[3], .dv = v->shape[3],
                      .scale = scale, .mask_per_head = per_head};
  vp_tensor *y = tensor_newv(ctx, 4, B, H, Lq, s.dv);
  vp_tensor *in[3] = {q, k, v};
  const int ref = vp_use_ref_kernels;
  vp_tensor *saved = NULL;
  if (ref) {
    saved = tensor_newv(ctx, 4, B, H, Lq, Lk);  // the reference needs its probabilities either way
    cpu_attention_fwd_ref(&s, q->data, k->data, v->data, mask ? mask->data : NULL, y->data, saved->data);
  } else {
    if (tape_wants(ctx, in, 3)) saved = tensor_newv(ctx, 3, B, H, Lq);
    cpu_attention_fwd(&s, q->data, k->data, v->data, mask ? mask->data : NULL, y->data,
                      saved ? saved->data : NULL);
  }
  vp_node *n = tape_record(ctx, &OP_ATTENTION, y, in, 3);
  if (n) {
    n->saved[0] = saved;
    n->saved[1] = mask;
    n->iarg[0] = ref;
    n->iarg[1] = per_head;
    n->farg[0] = scale;
  }
  return y;
}
