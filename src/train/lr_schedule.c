// lr_schedule.c: closed-form learning-rate schedules (see lr_schedule.h).
#include "train/lr_schedule.h"

#include <math.h>
#include <string.h>

#include "core/check.h"

// M_PI is XSI, not C11.
static const double kPi = 3.14159265358979323846;

vp_lr_schedule lr_constant(double base_lr) {
  vp_lr_schedule s;
  memset(&s, 0, sizeof(s));
  s.kind = VP_LR_CONSTANT;
  s.base_lr = base_lr;
  return s;
}

vp_lr_schedule lr_warmup(double base_lr, int64_t warmup_steps, double warmup_start) {
  vp_lr_schedule s = lr_constant(base_lr);
  s.kind = VP_LR_WARMUP;
  s.warmup_steps = warmup_steps;
  s.warmup_start = warmup_start;
  return s;
}

vp_lr_schedule lr_cosine(double base_lr, int64_t cosine_steps, double eta_min) {
  vp_lr_schedule s = lr_constant(base_lr);
  s.kind = VP_LR_COSINE;
  s.cosine_steps = cosine_steps;
  s.eta_min = eta_min;
  return s;
}

vp_lr_schedule lr_warmup_cosine(double base_lr, int64_t warmup_steps, double warmup_start,
                                int64_t cosine_steps, double eta_min) {
  vp_lr_schedule s = lr_cosine(base_lr, cosine_steps, eta_min);
  s.kind = VP_LR_WARMUP_COSINE;
  s.warmup_steps = warmup_steps;
  s.warmup_start = warmup_start;
  return s;
}

const char *lr_kind_name(vp_lr_kind k) {
  switch (k) {
    case VP_LR_CONSTANT: return "constant";
    case VP_LR_WARMUP: return "warmup";
    case VP_LR_COSINE: return "cosine";
    case VP_LR_WARMUP_COSINE: return "warmup_cosine";
  }
  return "unknown";
}

int lr_kind_parse(const char *name, vp_lr_kind *k) {
  for (int i = VP_LR_CONSTANT; i <= VP_LR_WARMUP_COSINE; i++)
    if (strcmp(name, lr_kind_name((vp_lr_kind)i)) == 0) {
      *k = (vp_lr_kind)i;
      return 0;
    }
  return -1;
}

void lr_schedule_check(const vp_lr_schedule *s) {
  const char *kn = lr_kind_name(s->kind);
  int kind = (int)s->kind;
  if (kind < (int)VP_LR_CONSTANT || kind > (int)VP_LR_WARMUP_COSINE)
    vp_die("lr schedule: unknown kind %d; use constant, warmup, cosine or warmup_cosine", (int)s->kind);
  if (!isfinite(s->base_lr) || s->base_lr < 0)
    vp_die("lr schedule %s: base lr %g must be finite and >= 0", kn, s->base_lr);
  if (s->kind == VP_LR_WARMUP || s->kind == VP_LR_WARMUP_COSINE) {
    if (s->warmup_steps < 0)
      vp_die("lr schedule %s: warmup_steps %lld must be >= 0", kn, (long long)s->warmup_steps);
    if (!(s->warmup_start >= 0 && s->warmup_start <= 1))
      vp_die("lr schedule %s: warmup start factor %g must be in [0, 1]", kn, s->warmup_start);
  }
  if (s->kind == VP_LR_COSINE || s->kind == VP_LR_WARMUP_COSINE) {
    if (s->cosine_steps < 1)
      vp_die("lr schedule %s: cosine_steps (T_max) %lld must be >= 1", kn, (long long)s->cosine_steps);
    if (!isfinite(s->eta_min) || s->eta_min < 0)
      vp_die("lr schedule %s: eta_min %g must be finite and >= 0", kn, s->eta_min);
  }
}

static double warmup_lr(const vp_lr_schedule *s, int64_t step) {
  if (s->warmup_steps <= 0) return s->base_lr;
  int64_t k = step < s->warmup_steps ? step : s->warmup_steps;
  // Same operation order as LinearLR._get_closed_form_lr.
  double f = s->warmup_start;
  return s->base_lr * (f + (1.0 - f) * (double)k / (double)s->warmup_steps);
}

static double cosine_lr(const vp_lr_schedule *s, int64_t t) {
  if (s->hold_after && t >= s->cosine_steps) return s->eta_min;
  return s->eta_min +
         (s->base_lr - s->eta_min) * (1.0 + cos(kPi * (double)t / (double)s->cosine_steps)) / 2.0;
}

double lr_at(const vp_lr_schedule *s, int64_t step) {
  VP_ASSERT(step >= 0);
  switch (s->kind) {
    case VP_LR_CONSTANT: return s->base_lr;
    case VP_LR_WARMUP: return warmup_lr(s, step);
    case VP_LR_COSINE: return cosine_lr(s, step);
    case VP_LR_WARMUP_COSINE:
      return step < s->warmup_steps ? warmup_lr(s, step) : cosine_lr(s, step - s->warmup_steps);
  }
  vp_die("lr schedule: unknown kind %d", (int)s->kind);
}
