// adamw.c: AdamW on flat buffers (see adamw.h for the exact update).
#include "train/adamw.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void adamw_init(vp_adamw *o, const vp_params *p, double beta1, double beta2, double eps,
                double weight_decay) {
  VP_ASSERT(p->data != NULL && p->grad != NULL);  // params_alloc first
  if (!(beta1 >= 0 && beta1 < 1)) vp_die("adamw: beta1 %g must be in [0, 1)", beta1);
  if (!(beta2 >= 0 && beta2 < 1)) vp_die("adamw: beta2 %g must be in [0, 1)", beta2);
  if (!(eps >= 0 && isfinite(eps))) vp_die("adamw: eps %g must be finite and >= 0", eps);
  if (!(weight_decay >= 0 && isfinite(weight_decay)))
    vp_die("adamw: weight_decay %g must be finite and >= 0", weight_decay);
  memset(o, 0, sizeof(*o));
  o->beta1 = beta1;
  o->beta2 = beta2;
  o->eps = eps;
  o->weight_decay = weight_decay;
  o->numel = p->numel;
  o->nparam = p->n;
  o->m = vp_calloc(p->numel, sizeof(float));
  o->v = vp_calloc(p->numel, sizeof(float));
  o->decay = vp_malloc((size_t)(p->n ? p->n : 1));
  memset(o->decay, 1, (size_t)p->n);
}

void adamw_free(vp_adamw *o) {
  free(o->m);
  free(o->v);
  free(o->decay);
  memset(o, 0, sizeof(*o));
}

void adamw_set_decay(vp_adamw *o, int i, int on) {
  VP_ASSERT(i >= 0 && i < o->nparam);
  o->decay[i] = on ? 1 : 0;
}

int adamw_exclude_decay(vp_adamw *o, const vp_params *p, vp_param_pred pred, void *arg) {
  VP_ASSERT(p->n == o->nparam);
  int n = 0;
  for (int i = 0; i < p->n; i++)
    if (pred(p->t[i], arg)) {
      n += o->decay[i];
      o->decay[i] = 0;
    }
  return n;
}

int adamw_pred_rank_le1(const vp_tensor *t, void *arg) { return t->ndim <= 1; }

int adamw_pred_bias_or_norm(const vp_tensor *t, void *arg) {
  if (!t->name) return 0;
  size_t n = strlen(t->name);
  if (n >= 5 && strcmp(t->name + n - 5, ".bias") == 0) return 1;
  if (strcmp(t->name, "bias") == 0) return 1;
  return strstr(t->name, "norm") != NULL;
}

// Step scalars, formed in double as PyTorch's Python code does, then rounded
// to float32 the way ATen casts a Python scalar for a float32 kernel.
typedef struct {
  float wd_mul;       // 1 - lr * wd
  float b1, omb1;     // beta1, 1 - beta1
  float b2, omb2;     // beta2, 1 - beta2
  float bc2_sqrt;     // sqrt(1 - beta2^t)
  float eps;
  float neg_step;     // -lr / (1 - beta1^t)
} adamw_scalars;

// Elements [b, e) of the flat buffers. Each line is one ATen op of
// _single_tensor_adamw, in its order.
static void adamw_range(float *restrict x, const float *restrict g, float *restrict m,
                        float *restrict v, int64_t b, int64_t e, const adamw_scalars *sp,
                        float wd_mul) {
  const adamw_scalars s = *sp;
  for (int64_t k = b; k < e; k++) {
    float gk = g[k];
    float xk = x[k] * wd_mul;                      // param.mul_(1 - lr*wd)
    float mk = m[k] * s.b1 + s.omb1 * gk;          // exp_avg.mul_(b1).add_(g, alpha=1-b1)
    float vk = v[k] * s.b2 + s.omb2 * gk * gk;     // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
    float den = sqrtf(vk) / s.bc2_sqrt + s.eps;    // (v.sqrt() / bc2_sqrt).add_(eps)
    x[k] = xk + s.neg_step * mk / den;             // param.addcdiv_(m, denom, value=-step_size)
    m[k] = mk;
    v[k] = vk;
  }
}

void adamw_step(vp_adamw *o, vp_params *p, double lr) {
  VP_ASSERT(p->numel == o->numel && p->n == o->nparam && p->data && p->grad);
  if (!(lr >= 0 && isfinite(lr))) vp_die("adamw: learning rate %g must be finite and >= 0", lr);
  o->t++;
  double step = (double)o->t;
  double bc1 = 1.0 - pow(o->beta1, step);
  double bc2 = 1.0 - pow(o->beta2, step);
  adamw_scalars s = {
      .wd_mul = (float)(1.0 - lr * o->weight_decay),
      .b1 = (float)o->beta1,
      .omb1 = (float)(1.0 - o->beta1),
      .b2 = (float)o->beta2,
      .omb2 = (float)(1.0 - o->beta2),
      .bc2_sqrt = (float)sqrt(bc2),
      .eps = (float)o->eps,
      .neg_step = (float)(-(lr / bc1)),
  };
  float *x = p->data, *m = o->m, *v = o->v;
  const float *g = p->grad;
  const uint8_t *decay = o->decay;
  const size_t *off = p->offset;
  int n = p->n;
  int64_t numel = (int64_t)p->numel;
  // One parallel region; the parameters are walked in runs that share the
  // decay flag (one run when every parameter decays), each split evenly
  // across the threads with no barrier between runs.
#pragma omp parallel default(none) shared(x, g, m, v, s, decay, off, n, numel)
  {
    for (int i = 0; i < n;) {
      int j = i + 1;
      while (j < n && decay[j] == decay[i]) j++;
      int64_t b = (int64_t)off[i], e = j < n ? (int64_t)off[j] : numel;
      // Static split of the run (what "omp for schedule(static)" does),
      // spelled out so the kernel stays a plain function. GCC vectorizes it
      // only under -fno-math-errno (sqrtf may set errno), ~2x faster.
      int nt = omp_get_num_threads(), id = omp_get_thread_num();
      int64_t len = e - b, lo = b + len * id / nt, hi = b + len * (id + 1) / nt;
      adamw_range(x, g, m, v, lo, hi, &s, decay[i] ? s.wd_mul : 1.0f);
      i = j;
    }
  }
}
