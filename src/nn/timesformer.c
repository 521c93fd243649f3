// timesformer.c: PVDM's divided space-time TimeSformer block (see timesformer.h).
#include "nn/timesformer.h"

#include <math.h>

#include "core/check.h"
#include "nn/name.h"
#include "ops/ops.h"

static void attn_declare(tsf_attn *a, vp_params *p, const char *prefix, int64_t dim, int64_t inner) {
  char s[NN_NAME_MAX];
  nn_linear_declare(&a->to_qkv, p, nn_name(s, "%s.fn.to_qkv", prefix), dim, 3 * inner, 0);
  nn_linear_declare(&a->to_out, p, nn_name(s, "%s.fn.to_out.0", prefix), inner, dim, NN_BIAS);
  nn_layer_norm_declare(&a->norm, p, nn_name(s, "%s.norm", prefix), dim, 1e-5f, 1);
}

void tsf_block_declare(tsf_block *m, vp_params *p, const char *prefix, int64_t dim, int heads, int dim_head) {
  VP_ASSERT(dim > 0 && heads > 0 && dim_head > 0);
  char s[NN_NAME_MAX];
  int64_t inner = (int64_t)heads * dim_head;
  m->dim = dim;
  m->heads = heads;
  m->dim_head = dim_head;
  attn_declare(&m->time, p, nn_name(s, "%s.0", prefix), dim, inner);
  attn_declare(&m->space, p, nn_name(s, "%s.1", prefix), dim, inner);
  nn_linear_declare(&m->ff_in, p, nn_name(s, "%s.2.fn.net.0", prefix), dim, 8 * dim, NN_BIAS);
  nn_linear_declare(&m->ff_out, p, nn_name(s, "%s.2.fn.net.3", prefix), 4 * dim, dim, NN_BIAS);
  nn_layer_norm_declare(&m->ff_norm, p, nn_name(s, "%s.2.norm", prefix), dim, 1e-5f, 1);
}

void tsf_block_init(const tsf_block *m, const vp_params *p, uint64_t seed) {
  const tsf_attn *as[2] = {&m->time, &m->space};
  for (int i = 0; i < 2; i++) {
    nn_linear_init(&as[i]->to_qkv, p, seed);
    nn_linear_init(&as[i]->to_out, p, seed);
    nn_norm_init(&as[i]->norm);
  }
  nn_linear_init(&m->ff_in, p, seed);
  nn_linear_init(&m->ff_out, p, seed);
  nn_norm_init(&m->ff_norm);
}

// One attention sub-layer on the normalised tokens xn (B, f*n, dim).
// time = 1: sequences over f per (b, h, position); 0: over n per (b, h, frame).
static vp_tensor *attn_fwd(vp_ctx *ctx, const tsf_block *m, const tsf_attn *a, vp_tensor *xn, int64_t f,
                           int64_t n, int time, const rotary_tables *rot) {
  int64_t B = xn->shape[0], H = m->heads, d = m->dim_head;
  vp_tensor *qkv = nn_linear_fwd(ctx, &a->to_qkv, xn);  // (B, f*n, 3*H*d)
  qkv = op_reshape(ctx, qkv, 6, (int64_t[]){B, f, n, 3, H, d});
  // time: (3, B, H, n, f, d); space: (3, B, f, H, n, d). Sequences are the
  // second-to-last axis; the batch order does not change the result.
  qkv = op_permute(ctx, qkv, time ? (int[]){3, 0, 4, 2, 1, 5} : (int[]){3, 0, 1, 4, 2, 5});
  vp_tensor *t[3];
  op_split(ctx, qkv, 0, (int64_t[]){1, 1, 1}, 3, t);
  int64_t L = time ? f : n;
  int64_t shape4[4] = {B, (time ? n : f) * H, L, d};
  for (int i = 0; i < 3; i++) t[i] = op_reshape(ctx, t[i], 4, shape4);
  if (rot) {
    char s1[64];
    if (rot->cos->ndim != 2 || rot->cos->shape[0] != L || rot->cos->shape[1] != d)
      vp_die("timesformer: rotary table %s, expected (%lld, %lld)", tensor_shape_str(rot->cos, s1, sizeof s1),
             (long long)L, (long long)d);
    t[0] = op_rotary(ctx, t[0], rot->cos, rot->sin);
    t[1] = op_rotary(ctx, t[1], rot->cos, rot->sin);
  }
  // The reference multiplies q by dim_head^-0.5 before the rotary; the
  // rotary is linear, so scaling the scores instead is the same product.
  vp_tensor *o = op_attention(ctx, t[0], t[1], t[2], NULL, (float)(1.0 / sqrt((double)d)));  // (B, S*H, L, d)
  if (time) {  // (B, H, n, f, d) -> (B, f, n, H, d)
    o = op_reshape(ctx, o, 5, (int64_t[]){B, H, n, f, d});
    o = op_permute(ctx, o, (int[]){0, 3, 2, 1, 4});
  } else {     // (B, f, H, n, d) -> (B, f, n, H, d)
    o = op_reshape(ctx, o, 5, (int64_t[]){B, f, H, n, d});
    o = op_permute(ctx, o, (int[]){0, 1, 3, 2, 4});
  }
  o = op_reshape(ctx, o, 3, (int64_t[]){B, f * n, H * d});
  return nn_linear_fwd(ctx, &a->to_out, o);
}

vp_tensor *tsf_block_fwd(vp_ctx *ctx, const tsf_block *m, vp_tensor *x, int64_t f, int64_t h, int64_t w,
                         const rotary_tables *frame, const rotary_tables *axial) {
  char s[64];
  int64_t n = h * w;
  if (x->ndim != 3 || x->shape[1] != f * n || x->shape[2] != m->dim)
    vp_die("timesformer: input %s, expected (B, %lld*%lld*%lld, %lld)", tensor_shape_str(x, s, sizeof s),
           (long long)f, (long long)h, (long long)w, (long long)m->dim);
  x = op_add(ctx, x, attn_fwd(ctx, m, &m->time, nn_norm_fwd(ctx, &m->time.norm, x), f, n, 1, frame));
  x = op_add(ctx, x, attn_fwd(ctx, m, &m->space, nn_norm_fwd(ctx, &m->space.norm, x), f, n, 0, axial));
  vp_tensor *y = nn_linear_fwd(ctx, &m->ff_in, nn_norm_fwd(ctx, &m->ff_norm, x));
  y = nn_linear_fwd(ctx, &m->ff_out, op_geglu(ctx, y));
  return op_add(ctx, x, y);
}
