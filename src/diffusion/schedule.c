// schedule.c: the diffusion noise schedules (see schedule.h).
#include "diffusion/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

static void alloc_tables(vp_schedule *s, vp_sched_kind kind, int T) {
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  s->T = T;
  s->betas = vp_malloc(sizeof(double) * (size_t)T);
  s->alphas_cumprod = vp_malloc(sizeof(double) * (size_t)T);
  s->alphas_cumprod_prev = vp_malloc(sizeof(double) * (size_t)T);
  s->sqrt_ac = vp_malloc(sizeof(double) * (size_t)T);
  s->sqrt_1m_ac = vp_malloc(sizeof(double) * (size_t)T);
  s->posterior_variance = vp_malloc(sizeof(double) * (size_t)T);
}

// Everything that follows from the betas, the same for every kind.
static void derive_tables(vp_schedule *s) {
  double ac = 1.0;
  for (int t = 0; t < s->T; t++) {
    double prev = ac;
    ac *= 1.0 - s->betas[t];
    s->alphas_cumprod[t] = ac;
    s->alphas_cumprod_prev[t] = prev;
    s->sqrt_ac[t] = sqrt(ac);
    s->sqrt_1m_ac[t] = sqrt(1.0 - ac);
    s->posterior_variance[t] = s->betas[t] * (1.0 - prev) / (1.0 - ac);
  }
}

static void check_betas(const char *what, int T, int Tmin, double b0, double b1) {
  if (T < Tmin) vp_die("%s schedule: need at least %d steps, got T = %d", what, Tmin, T);
  if (!(b0 > 0.0) || !(b1 >= b0) || !(b1 < 1.0))
    vp_die("%s schedule: need 0 < beta_start <= beta_end < 1, got %g and %g", what, b0, b1);
}

// linspace(a, b, T)[t] in double: a + (b - a) t / (T - 1), exact at both ends.
static double lin(double a, double b, int t, int T) {
  return t == T - 1 ? b : a + (b - a) * (double)t / (double)(T - 1);
}

void schedule_init_linear(vp_schedule *s, int T, double b0, double b1) {
  check_betas("linear", T, 2, b0, b1);
  alloc_tables(s, VP_SCHED_LINEAR, T);
  for (int t = 0; t < T; t++) s->betas[t] = lin(b0, b1, t, T);
  derive_tables(s);
}

void schedule_init_sqrt_linear(vp_schedule *s, int T, double b0, double b1) {
  check_betas("sqrt_linear", T, 2, b0, b1);
  alloc_tables(s, VP_SCHED_SQRT_LINEAR, T);
  for (int t = 0; t < T; t++) {
    double r = lin(sqrt(b0), sqrt(b1), t, T);
    s->betas[t] = r * r;
  }
  derive_tables(s);
}

void schedule_init_cosine(vp_schedule *s, int T, double cos_s, double max_beta) {
  if (T < 1) vp_die("cosine schedule: need at least 1 step, got T = %d", T);
  if (!(cos_s > 0.0) || !(max_beta > 0.0) || !(max_beta <= 1.0))
    vp_die("cosine schedule: need s > 0 and 0 < max_beta <= 1, got s = %g, max_beta = %g", cos_s, max_beta);
  alloc_tables(s, VP_SCHED_COSINE, T);
  const double half_pi = 0.5 * acos(-1.0);
  double f0 = cos(cos_s / (1.0 + cos_s) * half_pi);
  f0 *= f0;
  double prev = 1.0;  // f(0) / f(0)
  for (int i = 0; i < T; i++) {
    double c = cos(((double)(i + 1) / (double)T + cos_s) / (1.0 + cos_s) * half_pi);
    double next = c * c / f0;
    double b = 1.0 - next / prev;
    s->betas[i] = b < max_beta ? b : max_beta;
    prev = next;
  }
  derive_tables(s);
}

void schedule_free(vp_schedule *s) {
  free(s->betas);
  free(s->alphas_cumprod);
  free(s->alphas_cumprod_prev);
  free(s->sqrt_ac);
  free(s->sqrt_1m_ac);
  free(s->posterior_variance);
  memset(s, 0, sizeof(*s));
}

static const char *const kind_names[] = {"sqrt_linear", "linear", "cosine"};

const char *schedule_kind_name(vp_sched_kind k) {
  VP_ASSERT((int)k >= 0 && (int)k < 3);
  return kind_names[k];
}

int schedule_kind_parse(const char *name, vp_sched_kind *k) {
  for (int i = 0; i < 3; i++)
    if (strcmp(name, kind_names[i]) == 0) {
      *k = (vp_sched_kind)i;
      return 0;
    }
  return -1;
}
