// attn_block.c: the ADM AttentionBlock, legacy qkv order (see attn_block.h).
#include "nn/attn_block.h"

#include <math.h>

#include "core/check.h"
#include "nn/name.h"
#include "ops/ops.h"

void attn_block_declare(attn_block *m, vp_params *p, const char *prefix, int64_t c, int heads, int groups) {
  if (heads <= 0 || c % heads != 0)
    vp_die("attention block '%s': %lld channels do not split into %d heads", prefix, (long long)c, heads);
  char s[NN_NAME_MAX];
  m->c = c;
  m->heads = heads;
  nn_group_norm_declare(&m->norm, p, nn_name(s, "%s.norm", prefix), groups, c, 1e-5f, 1);
  nn_conv1d_declare(&m->qkv, p, nn_name(s, "%s.qkv", prefix), c, 3 * c, 1, 1, 0, NN_BIAS);
  nn_conv1d_declare(&m->proj_out, p, nn_name(s, "%s.proj_out", prefix), c, c, 1, 1, 0,
                    NN_BIAS | NN_ZERO_INIT);
}

void attn_block_init(const attn_block *m, const vp_params *p, uint64_t seed) {
  nn_norm_init(&m->norm);
  nn_conv_init(&m->qkv, p, seed);
  nn_conv_init(&m->proj_out, p, seed);
}

vp_tensor *attn_block_fwd(vp_ctx *ctx, const attn_block *m, vp_tensor *x) {
  char s[64];
  if (x->ndim < 3 || x->shape[1] != m->c)
    vp_die("attention block: input %s, expected (B, %lld, ...)", tensor_shape_str(x, s, sizeof s), (long long)m->c);
  int64_t B = x->shape[0], C = m->c, H = m->heads, ch = C / H, N = tensor_numel(x) / (B * C);
  vp_tensor *xf = op_reshape(ctx, x, 3, (int64_t[]){B, C, N});
  vp_tensor *qkv = nn_conv_fwd(ctx, &m->qkv, nn_norm_fwd(ctx, &m->norm, xf));  // (B, 3C, N)
  // (B, H, 3ch, N) -> (B, H, N, 3ch), then [q | k | v] along the last dim.
  qkv = op_reshape(ctx, qkv, 4, (int64_t[]){B, H, 3 * ch, N});
  qkv = op_permute(ctx, qkv, (int[]){0, 1, 3, 2});
  vp_tensor *t[3];
  op_split(ctx, qkv, 3, (int64_t[]){ch, ch, ch}, 3, t);
  // The reference scales q and k by ch^-1/4 each; one scale of ch^-1/2 on
  // the scores is the same product.
  vp_tensor *a = op_attention(ctx, t[0], t[1], t[2], NULL, (float)(1.0 / sqrt((double)ch)));  // (B, H, N, ch)
  a = op_reshape(ctx, op_permute(ctx, a, (int[]){0, 1, 3, 2}), 3, (int64_t[]){B, C, N});
  vp_tensor *y = op_add(ctx, xf, nn_conv_fwd(ctx, &m->proj_out, a));
  return op_reshape(ctx, y, x->ndim, x->shape);
}
