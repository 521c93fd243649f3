// norm.c: the GroupNorm / LayerNorm modules (see norm.h).
#include "nn/norm.h"

#include "core/check.h"
#include "nn/init.h"
#include "ops/norm.h"

static void norm_affine(nn_norm *m, vp_params *p, const char *prefix, int affine) {
  if (affine) {
    m->w = params_add(p, 1, (int64_t[]){m->c}, "%s.weight", prefix);
    m->b = params_add(p, 1, (int64_t[]){m->c}, "%s.bias", prefix);
  } else {
    m->w = m->b = NULL;
  }
}

void nn_group_norm_declare(nn_norm *m, vp_params *p, const char *prefix, int groups, int64_t c,
                           float eps, int affine) {
  if (groups <= 0 || c % groups != 0)
    vp_die("GroupNorm '%s': %lld channels are not divisible into %d groups", prefix, (long long)c, groups);
  m->groups = groups;
  m->c = c;
  m->eps = eps;
  norm_affine(m, p, prefix, affine);
}

void nn_layer_norm_declare(nn_norm *m, vp_params *p, const char *prefix, int64_t d, float eps,
                           int affine) {
  VP_ASSERT(d > 0);
  m->groups = 0;
  m->c = d;
  m->eps = eps;
  norm_affine(m, p, prefix, affine);
}

void nn_norm_init(const nn_norm *m) {
  if (m->w) nn_init_const(m->w, 1.f);
  if (m->b) nn_init_const(m->b, 0.f);
}

vp_tensor *nn_norm_fwd(vp_ctx *ctx, const nn_norm *m, vp_tensor *x) {
  if (m->groups > 0) return op_group_norm(ctx, x, m->groups, m->w, m->b, m->eps);
  return op_layer_norm(ctx, x, m->w, m->b, m->eps);
}
