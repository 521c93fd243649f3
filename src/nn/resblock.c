// resblock.c: the ADM ResBlock (see resblock.h).
#include "nn/resblock.h"

#include "core/check.h"
#include "nn/name.h"
#include "ops/ops.h"

void resblock_declare(resblock *m, vp_params *p, const char *prefix, int64_t ci, int64_t co,
                      int64_t emb, int groups, int scale_shift, resblock_updown updown) {
  char s[NN_NAME_MAX];
  m->ci = ci;
  m->co = co;
  m->emb = emb;
  m->scale_shift = scale_shift != 0;
  m->updown = updown;
  // Declared in state_dict order.
  nn_group_norm_declare(&m->in_norm, p, nn_name(s, "%s.in_layers.0", prefix), groups, ci, 1e-5f, 1);
  nn_conv2d_declare(&m->in_conv, p, nn_name(s, "%s.in_layers.2", prefix), ci, co, 3, 1, 1, NN_BIAS);
  nn_linear_declare(&m->emb_lin, p, nn_name(s, "%s.emb_layers.1", prefix), emb,
                    m->scale_shift ? 2 * co : co, NN_BIAS);
  nn_group_norm_declare(&m->out_norm, p, nn_name(s, "%s.out_layers.0", prefix), groups, co, 1e-5f, 1);
  nn_conv2d_declare(&m->out_conv, p, nn_name(s, "%s.out_layers.3", prefix), co, co, 3, 1, 1,
                    NN_BIAS | NN_ZERO_INIT);
  m->has_skip = ci != co;
  if (m->has_skip)
    nn_conv2d_declare(&m->skip, p, nn_name(s, "%s.skip_connection", prefix), ci, co, 1, 1, 0, NN_BIAS);
}

void resblock_init(const resblock *m, const vp_params *p, uint64_t seed) {
  nn_norm_init(&m->in_norm);
  nn_conv_init(&m->in_conv, p, seed);
  nn_linear_init(&m->emb_lin, p, seed);
  nn_norm_init(&m->out_norm);
  nn_conv_init(&m->out_conv, p, seed);
  if (m->has_skip) nn_conv_init(&m->skip, p, seed);
}

vp_tensor *resblock_emb(vp_ctx *ctx, const resblock *m, vp_tensor *emb) {
  char s[64];
  if (emb->ndim != 2 || emb->shape[1] != m->emb)
    vp_die("resblock: embedding %s, expected (B, %lld)", tensor_shape_str(emb, s, sizeof s), (long long)m->emb);
  return nn_linear_fwd(ctx, &m->emb_lin, op_silu(ctx, emb));
}

static vp_tensor *updown(vp_ctx *ctx, const resblock *m, vp_tensor *t) {
  if (m->updown == RESBLOCK_UP) return op_upsample_nearest2x(ctx, t);
  if (m->updown == RESBLOCK_DOWN) return op_avg_pool2d(ctx, t, 2, 2);
  return t;
}

vp_tensor *resblock_fwd_emb(vp_ctx *ctx, const resblock *m, vp_tensor *x, vp_tensor *e) {
  char s1[64], s2[64];
  int64_t ne = m->scale_shift ? 2 * m->co : m->co;
  if (x->ndim != 4 || x->shape[1] != m->ci || e->ndim != 2 || e->shape[0] != x->shape[0] || e->shape[1] != ne)
    vp_die("resblock: input %s / embedding output %s do not match the block (ci %lld, co %lld)",
           tensor_shape_str(x, s1, sizeof s1), tensor_shape_str(e, s2, sizeof s2), (long long)m->ci,
           (long long)m->co);
  int64_t B = x->shape[0];
  // (B, ci, H, W) -> (B, co, H', W')
  vp_tensor *h = op_silu(ctx, nn_norm_fwd(ctx, &m->in_norm, x));
  h = updown(ctx, m, h);
  x = updown(ctx, m, x);
  h = nn_conv_fwd(ctx, &m->in_conv, h);
  // e (B, ne) broadcast over the plane as (B, ne, 1, 1)
  vp_tensor *e4 = op_reshape(ctx, e, 4, (int64_t[]){B, ne, 1, 1});
  if (m->scale_shift) {
    vp_tensor *ss[2];
    op_split(ctx, e4, 1, (int64_t[]){m->co, m->co}, 2, ss);
    h = nn_norm_fwd(ctx, &m->out_norm, h);
    h = op_add(ctx, op_mul(ctx, h, op_add_scalar(ctx, ss[0], 1.f)), ss[1]);
  } else {
    h = nn_norm_fwd(ctx, &m->out_norm, op_add(ctx, h, e4));
  }
  h = nn_conv_fwd(ctx, &m->out_conv, op_silu(ctx, h));
  vp_tensor *skip = m->has_skip ? nn_conv_fwd(ctx, &m->skip, x) : x;
  return op_add(ctx, skip, h);
}

vp_tensor *resblock_fwd(vp_ctx *ctx, const resblock *m, vp_tensor *x, vp_tensor *emb) {
  return resblock_fwd_emb(ctx, m, x, resblock_emb(ctx, m, emb));
}
