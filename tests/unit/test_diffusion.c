// test_diffusion.c: src/diffusion/: the three schedules (the specs' check
// values and an independent NumPy/PyTorch computation), the timestep and noise
// draws (indexing, determinism, independence from the batch, distribution),
// the eps loss (PyTorch goldens and finite differences), the DDIM sampler
// (PyTorch goldens with injected noise, time pairs, rng noise by sample
// index), the diffusion.* config keys, and bad inputs.
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <omp.h>

#include "core/config.h"
#include "core/rng.h"
#include "diffusion/ddim.h"
#include "diffusion/ddpm_loss.h"
#include "diffusion/diffusion.h"
#include "diffusion/schedule.h"
#include "golden.h"
#include "harness.h"
#include "ops/ops.h"

// |got - want| <= tol * |want| (tol relative, for the spec's printed digits).
static void check_val(const char *what, double got, double want, double tol) {
  th_check(fabs(got - want) <= tol * fabs(want), "%s = %.9g, expected %.9g (rel tol %.0e)", what, got, want, tol);
}

// ---------------------------------------------------------------- schedules
static void test_schedule_spec_values(void) {
  vp_schedule s;
  // SyncVP (models-syncvp-pvdm.md section 4).
  schedule_init_sqrt_linear(&s, 1000, 0.0015, 0.0195);
  check_val("sqrt_linear beta_0", s.betas[0], 0.0015, 1e-12);
  check_val("sqrt_linear beta_499", s.betas[499], 0.007945, 2e-4);
  check_val("sqrt_linear beta_999", s.betas[999], 0.0195, 1e-12);
  check_val("sqrt_linear alphabar_9", s.alphas_cumprod[9], 0.98475, 1e-5);
  check_val("sqrt_linear alphabar_499", s.alphas_cumprod[499], 0.11584, 1e-4);
  check_val("sqrt_linear alphabar_999", s.alphas_cumprod[999], 1.423e-4, 1e-3);
  schedule_free(&s);
  // PredLDM (models-predldm-rvd.md, check values).
  schedule_init_linear(&s, 1000, 1e-4, 0.02);
  check_val("linear alphabar_0", s.alphas_cumprod[0], 0.999900, 1e-6);
  check_val("linear alphabar_499", s.alphas_cumprod[499], 0.078587, 1e-5);
  check_val("linear alphabar_999", s.alphas_cumprod[999], 4.035830e-05, 1e-6);
  check_val("linear posterior variance 1", s.posterior_variance[1], 5.453188e-05, 1e-6);
  th_check(s.posterior_variance[0] == 0.0, "linear posterior variance 0 = %g, expected 0", s.posterior_variance[0]);
  schedule_free(&s);
  // RVD.
  schedule_init_cosine(&s, 1600, 0.008, 0.999);
  check_val("cosine beta_0", s.betas[0], 2.523360e-05, 1e-6);
  check_val("cosine beta_1", s.betas[1], 2.713107e-05, 1e-6);
  check_val("cosine beta_799", s.betas[799], 1.968489e-03, 1e-6);
  th_check(s.betas[1599] == 0.999, "cosine beta_1599 = %.17g, expected 0.999 (clipped)", s.betas[1599]);
  check_val("cosine alphabar_0", s.alphas_cumprod[0], 0.99997477, 1e-7);
  check_val("cosine alphabar_799", s.alphas_cumprod[799], 0.493844, 1e-5);
  check_val("cosine alphabar_1598", s.alphas_cumprod[1598], 9.487375e-07, 1e-6);
  check_val("cosine alphabar_1599", s.alphas_cumprod[1599], 9.487375e-10, 1e-6);
  th_check(s.posterior_variance[0] == 0.0, "cosine posterior variance 0 = %g", s.posterior_variance[0]);
  check_val("cosine posterior variance 1", s.posterior_variance[1], 1.307415e-05, 1e-6);
  // Internal consistency of the derived tables, every kind.
  for (int k = 0; k < 3; k++) {
    vp_schedule q;
    if (k == 0) schedule_init_sqrt_linear(&q, 1000, 0.0015, 0.0195);
    else if (k == 1) schedule_init_linear(&q, 1000, 1e-4, 0.02);
    else schedule_init_cosine(&q, 1600, 0.008, 0.999);
    int ok = q.kind == (vp_sched_kind)k;
    for (int t = 0; t < q.T; t++) {
      ok &= q.betas[t] > 0 && q.betas[t] < 1;
      ok &= t == 0 ? q.alphas_cumprod_prev[0] == 1.0 : q.alphas_cumprod_prev[t] == q.alphas_cumprod[t - 1];
      ok &= t == 0 || q.alphas_cumprod[t] < q.alphas_cumprod[t - 1];
      ok &= fabs(q.sqrt_ac[t] * q.sqrt_ac[t] - q.alphas_cumprod[t]) <= 1e-15;
      ok &= fabs(q.sqrt_1m_ac[t] * q.sqrt_1m_ac[t] + q.alphas_cumprod[t] - 1.0) <= 1e-15;
    }
    th_check(ok, "%s schedule: tables inconsistent", schedule_kind_name(q.kind));
    schedule_free(&q);
  }
  schedule_free(&s);
  vp_sched_kind k;
  th_check(schedule_kind_parse("cosine", &k) == 0 && k == VP_SCHED_COSINE && schedule_kind_parse("sqrt_linear", &k) == 0 &&
               k == VP_SCHED_SQRT_LINEAR && schedule_kind_parse("linear", &k) == 0 && k == VP_SCHED_LINEAR &&
               schedule_kind_parse("quadratic", &k) == -1,
           "schedule_kind_parse");
}

// Every stored entry within 2e-6 relative (the golden is float64 rounded to
// float32); elementwise, so the tiny alphā at the end count as much as the rest.
static void check_rel_each(const char *what, const double *got, const float *idx, const float *ref, int64_t n) {
  double worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < n; i++) {
    double g = got[(int64_t)idx[i]], r = ref[i];
    double e = r == 0 ? fabs(g) : fabs(g - r) / fabs(r);
    if (e > worst) worst = e, at = (int64_t)idx[i];
  }
  th_check(worst <= 2e-6, "%s: worst relative error %.3e at entry %lld", what, worst, (long long)at);
}

static void test_schedule_golden(golden *g) {
  const char *cases[] = {"sched_sqrt_linear", "sched_linear", "sched_cosine", "sched_sqrt_linear_t50"};
  for (int c = 0; c < 4; c++) {
    vp_schedule s;
    int T = (int)golden_attr_int(g, cases[c], "T");
    if (c == 0) schedule_init_sqrt_linear(&s, T, 0.0015, 0.0195);
    else if (c == 1) schedule_init_linear(&s, T, 1e-4, 0.02);
    else if (c == 2) schedule_init_cosine(&s, T, 0.008, 0.999);
    else schedule_init_sqrt_linear(&s, T, 0.001, 0.05);
    int64_t n, n2;
    float *idx = golden_read(g, &n, "%s/out/index", cases[c]);
    const char *names[3] = {"betas", "alphas_cumprod", "posterior_variance"};
    const double *tabs[3] = {s.betas, s.alphas_cumprod, s.posterior_variance};
    for (int k = 0; k < 3; k++) {
      float *ref = golden_read(g, &n2, "%s/out/%s", cases[c], names[k]);
      char what[128];
      snprintf(what, sizeof what, "%s %s vs PyTorch/NumPy", cases[c], names[k]);
      VP_ASSERT(n2 == n);
      check_rel_each(what, tabs[k], idx, ref, n);
      free(ref);
    }
    free(idx);
    schedule_free(&s);
  }
}

// ---------------------------------------------------------------- draws
static void test_draws(void) {
  const uint64_t seed = 1234, step = 17;
  const int T = 1000;
  const int64_t n = 37, B = 3;
  int64_t sample[3] = {5, 900000000001LL, 6};
  int32_t t[3], t2[3];
  float *eps = vp_malloc(sizeof(float) * B * n), *eps2 = vp_malloc(sizeof(float) * B * n);
  float *ref = vp_malloc(sizeof(float) * n);
  ddpm_draw(seed, step, sample, B, T, n, t, eps);
  // The documented indexing.
  int ok = 1;
  for (int64_t b = 0; b < B; b++) {
    uint32_t w = rng_u32(seed, VP_STREAM_TIMESTEP, step, (uint64_t)sample[b], 0);
    ok &= t[b] == (int32_t)(((uint64_t)w * T) >> 32) && t[b] >= 0 && t[b] < T;
    rng_normal(seed, VP_STREAM_NOISE, step, (uint64_t)sample[b], 0, ref, n);
    ok &= memcmp(ref, eps + b * n, sizeof(float) * n) == 0;
  }
  th_check(ok, "ddpm_draw: t and eps follow (seed, stream, step, sample, element) as documented");
  // Same (seed, step, sample) -> same draws, whatever the batch around it:
  // sample 6 alone equals row 2 of the batch (what makes ranks agree).
  ddpm_draw(seed, step, sample, B, T, n, t2, eps2);
  th_check(memcmp(t, t2, sizeof t) == 0 && memcmp(eps, eps2, sizeof(float) * B * n) == 0, "ddpm_draw: deterministic");
  int32_t t1;
  ddpm_draw(seed, step, &sample[2], 1, T, n, &t1, ref);
  th_check(t1 == t[2] && memcmp(ref, eps + 2 * n, sizeof(float) * n) == 0,
           "ddpm_draw: a sample draws the same alone as inside a batch");
  // Outputs may be skipped.
  ddpm_draw(seed, step, sample, B, T, n, NULL, eps2);
  th_check(memcmp(eps, eps2, sizeof(float) * B * n) == 0, "ddpm_draw: eps without t");
  ddpm_draw(seed, step, sample, B, T, n, t2, NULL);
  th_check(memcmp(t, t2, sizeof t) == 0, "ddpm_draw: t without eps");
  // Different sample, step or seed -> different noise.
  int64_t other[3] = {5, 7, 8};
  ddpm_draw(seed, step, other, B, T, n, t2, eps2);
  th_check(memcmp(eps, eps2, sizeof(float) * n) == 0 && memcmp(eps + n, eps2 + n, sizeof(float) * n) != 0 &&
               memcmp(eps + 2 * n, eps2 + 2 * n, sizeof(float) * n) != 0,
           "ddpm_draw: a different sample index draws different noise");
  ddpm_draw(seed, step + 1, sample, B, T, n, t2, eps2);
  th_check(memcmp(eps, eps2, sizeof(float) * n) != 0, "ddpm_draw: a different step draws different noise");
  ddpm_draw(seed + 1, step, sample, B, T, n, t2, eps2);
  th_check(memcmp(eps, eps2, sizeof(float) * n) != 0, "ddpm_draw: a different seed draws different noise");
  free(eps);
  free(eps2);
  free(ref);

  // Distribution: t uniform on 0..T-1, eps standard normal.
  const int64_t N = 20000, m = 8;
  int64_t *smp = vp_malloc(sizeof(int64_t) * N);
  int32_t *tt = vp_malloc(sizeof(int32_t) * N);
  float *e = vp_malloc(sizeof(float) * N * m);
  for (int64_t i = 0; i < N; i++) smp[i] = i;
  ddpm_draw(seed, 0, smp, N, T, m, tt, e);
  double mean = 0, var = 0, em = 0, ev = 0;
  int tmin = T, tmax = -1;
  int64_t low = 0;
  for (int64_t i = 0; i < N; i++) {
    mean += tt[i];
    tmin = tt[i] < tmin ? tt[i] : tmin;
    tmax = tt[i] > tmax ? tt[i] : tmax;
    low += tt[i] < 100;
  }
  mean /= (double)N;
  for (int64_t i = 0; i < N; i++) var += (tt[i] - mean) * (tt[i] - mean);
  var /= (double)N;
  for (int64_t i = 0; i < N * m; i++) em += e[i];
  em /= (double)(N * m);
  for (int64_t i = 0; i < N * m; i++) ev += (e[i] - em) * (e[i] - em);
  ev /= (double)(N * m);
  // Uniform on 0..999: mean 499.5 (sd of the mean 2.0), variance 83333.25, 10% below 100.
  th_check(fabs(mean - 499.5) < 10 && fabs(var / 83333.25 - 1) < 0.03 && tmin == 0 && tmax == T - 1 &&
               fabs((double)low / N - 0.1) < 0.01,
           "ddpm_draw: t looks uniform on [0, %d): mean %.2f, var %.1f, min %d, max %d, P(t<100) %.4f", T, mean, var,
           tmin, tmax, (double)low / N);
  th_check(fabs(em) < 0.01 && fabs(ev - 1) < 0.02, "ddpm_draw: eps looks standard normal: mean %.4f var %.4f", em, ev);
  free(smp);
  free(tt);
  free(e);
}

// ---------------------------------------------------------------- eps loss
typedef struct loss_arg {
  vp_schedule *s;
  vp_ddpm_loss_kind kind;
  int T;
} loss_arg;

// in: x0 (B, n), eps (B, n), t (B) as floats, W (n, n), v (n):
// eps_hat = x_t W^T + (t / T) v, the golden's analytic model.
static vp_tensor *f_loss(vp_ctx *ctx, vp_tensor **in, void *arg) {
  loss_arg *a = arg;
  vp_tensor *x0 = in[0], *eps = in[1], *tf = in[2], *W = in[3], *v = in[4];
  const int64_t B = x0->shape[0];
  int32_t t[16];
  VP_ASSERT(B <= 16);
  vp_tensor *tc = tensor_newv(ctx, 2, B, (int64_t)1);
  for (int64_t b = 0; b < B; b++) {
    t[b] = (int32_t)tf->data[b];
    tc->data[b] = tf->data[b] / (float)a->T;
  }
  vp_tensor *x_t = ddpm_q_sample(ctx, a->s, x0, eps, t);
  vp_tensor *e = op_add(ctx, op_linear(ctx, x_t, W, NULL), op_mul(ctx, tc, v));
  return ddpm_loss(ctx, e, eps, a->kind);
}

typedef struct q_arg {
  vp_schedule *s;
  const int32_t *t;
} q_arg;

static vp_tensor *f_q_sample(vp_ctx *ctx, vp_tensor **in, void *arg) {
  q_arg *a = arg;
  return ddpm_q_sample(ctx, a->s, in[0], in[1], a->t);
}

static void test_loss(golden *g) {
  vp_schedule s;
  schedule_init_sqrt_linear(&s, 1000, 0.0015, 0.0195);
  const char *names[] = {"x0", "eps", "t", "W", "v"};
  loss_arg mse = {&s, VP_DDPM_MSE, 1000}, l1 = {&s, VP_DDPM_L1, 1000};
  golden_run_case(g, "loss_mse", f_loss, &mse, names, 5, 1e-5, 1e-4);
  golden_run_case(g, "loss_l1", f_loss, &l1, names, 5, 1e-5, 1e-4);

  // Finite differences of the noising w.r.t. both inputs (4-D, broadcast coefficients).
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  vp_tensor *x0 = tensor_newv(&ctx, 4, (int64_t)3, (int64_t)2, (int64_t)3, (int64_t)2);
  vp_tensor *eps = tensor_newv(&ctx, 4, (int64_t)3, (int64_t)2, (int64_t)3, (int64_t)2);
  th_fill_uniform(x0->data, 36, 3, -1, 1);
  th_fill_uniform(eps->data, 36, 4, -2, 2);
  x0->requires_grad = eps->requires_grad = 1;
  int32_t t[3] = {0, 500, 999};
  q_arg qa = {&s, t};
  vp_tensor *in[2] = {x0, eps};
  th_gradcheck("ddpm_q_sample fd", f_q_sample, &qa, in, 2, 1e-2f, 64, 1e-3);
  // Values: row b is sqrt(ab) x0 + sqrt(1 - ab) eps with float coefficients.
  ctx_set_training(&ctx, 0);
  vp_tensor *xt = ddpm_q_sample(&ctx, &s, x0, eps, t);
  double worst = 0;
  for (int b = 0; b < 3; b++)
    for (int i = 0; i < 12; i++) {
      double want = (double)(float)s.sqrt_ac[t[b]] * x0->data[b * 12 + i] +
                    (double)(float)s.sqrt_1m_ac[t[b]] * eps->data[b * 12 + i];
      worst = fmax(worst, fabs(xt->data[b * 12 + i] - want));
    }
  th_check(worst < 1e-6, "ddpm_q_sample values: worst abs error %.3e", worst);
  ctx_free(&ctx);
  vp_ddpm_loss_kind k;
  th_check(ddpm_loss_kind_parse("l1", &k) == 0 && k == VP_DDPM_L1 && ddpm_loss_kind_parse("mse", &k) == 0 &&
               k == VP_DDPM_MSE && ddpm_loss_kind_parse("huber", &k) == -1 && strcmp(ddpm_loss_kind_name(VP_DDPM_L1), "l1") == 0,
           "ddpm loss kind names");
  schedule_free(&s);
}

// ---------------------------------------------------------------- DDIM
typedef struct analytic {
  const float *a, *u;  // (n) each
  int64_t n;
  int T;
  int calls;
} analytic;

// eps = tanh(a * x + (t / T) u), elementwise per sample: the golden's model.
static vp_tensor *analytic_eps(vp_ctx *ctx, vp_tensor *x, const float *t, void *arg) {
  analytic *m = arg;
  vp_tensor *e = tensor_new(ctx, x->ndim, x->shape);
  const int64_t B = x->shape[0];
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < m->n; i++) {
      double v = (double)m->a[i] * x->data[b * m->n + i] + ((double)t[b] / m->T) * m->u[i];
      e->data[b * m->n + i] = (float)tanh(v);
    }
  m->calls++;
  return e;
}

typedef struct injected {
  const float *xT, *z;  // (B, n), (S, B, n)
  int64_t Bn;
  int S;
  int max_k;
} injected;

static void injected_noise(int64_t k, float *z, int64_t B, int64_t n, void *arg) {
  injected *in = arg;
  VP_ASSERT(B * n == in->Bn && k >= 0 && k <= in->S);
  memcpy(z, k == 0 ? in->xT : in->z + (k - 1) * in->Bn, sizeof(float) * (size_t)in->Bn);
  if (k > in->max_k) in->max_k = (int)k;
}

static void test_ddim_golden(golden *g) {
  const char *cases[] = {"ddim_syncvp", "ddim_eta0", "ddim_linear_eta05", "ddim_cosine", "ddim_full", "ddim_odd"};
  const char *scheds[] = {"sqrt_linear", "sqrt_linear", "linear", "cosine", "sqrt_linear", "sqrt_linear"};
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  for (int c = 0; c < 6; c++) {
    const char *cas = cases[c];
    const int T = (int)golden_attr_int(g, cas, "T"), S = (int)golden_attr_int(g, cas, "S");
    ddim_cfg cfg = {.steps = S, .eta = golden_attr_double(g, cas, "eta"), .clip_x0 = golden_attr_double(g, cas, "clip")};
    vp_schedule s;
    if (strcmp(scheds[c], "linear") == 0) schedule_init_linear(&s, T, 1e-4, 0.02);
    else if (strcmp(scheds[c], "cosine") == 0) schedule_init_cosine(&s, T, 0.008, 0.999);
    else schedule_init_sqrt_linear(&s, T, 0.0015, 0.0195);
    int64_t nx, nz, na, nu, ny, nt;
    float *xT = golden_read(g, &nx, "%s/in/xT", cas), *z = golden_read(g, &nz, "%s/in/z", cas);
    float *a = golden_read(g, &na, "%s/in/a", cas), *u = golden_read(g, &nu, "%s/in/u", cas);
    float *y = golden_read(g, &ny, "%s/out/y", cas), *tref = golden_read(g, &nt, "%s/out/times", cas);
    // Time pairs: the integer linspace rule.
    int *times = vp_malloc(sizeof(int) * (size_t)(S + 1));
    ddim_times(T, S, times);
    int ok = nt == S + 1;
    for (int i = 0; ok && i <= S; i++) ok &= times[i] == (int)tref[i];
    th_check(ok, "%s: DDIM times match torch.linspace(-1, T-1, S+1).int() reversed", cas);
    const int64_t B = nx / na, n = na;
    analytic m = {.a = a, .u = u, .n = n, .T = T};
    injected inj = {.xT = xT, .z = z, .Bn = B * n, .S = S};
    float *x = vp_malloc(sizeof(float) * (size_t)(B * n));
    ddim_sample(&ctx, &s, &cfg, analytic_eps, &m, injected_noise, &inj, 2, (int64_t[]){B, n}, x);
    char what[128];
    snprintf(what, sizeof what, "%s: DDIM sample vs PyTorch (eta %g, clip %g, %d steps)", cas, cfg.eta, cfg.clip_x0, S);
    th_check_rel(what, x, y, ny, 1e-5);
    th_check(m.calls == S, "%s: %d model calls, expected %d", cas, m.calls, S);
    // The last noise drawn is that of the second-to-last step (the last outputs x0); none when eta = 0.
    th_check(inj.max_k == (cfg.eta > 0 ? S - 1 : 0), "%s: noise steps drawn up to %d", cas, inj.max_k);
    free(x);
    free(times);
    free(xT);
    free(z);
    free(a);
    free(u);
    free(y);
    free(tref);
    schedule_free(&s);
  }
  ctx_free(&ctx);
}

static void test_ddim_rng(void) {
  // SyncVP's 100 steps.
  int times[101];
  ddim_times(1000, 100, times);
  int ok = times[0] == 999 && times[100] == -1;
  for (int i = 0; i < 100; i++) ok &= times[i] == 999 - 10 * i;
  th_check(ok, "ddim_times(1000, 100) = 999, 989, ..., 9, -1");
  ddim_times(1000, 1, times);
  th_check(times[0] == 999 && times[1] == -1, "ddim_times(1000, 1) = 999, -1");

  // rng noise: a sample's trajectory depends on its sample index only.
  vp_schedule s;
  schedule_init_sqrt_linear(&s, 1000, 0.0015, 0.0195);
  ddim_cfg cfg = {.steps = 20, .eta = 1.0, .clip_x0 = 1.0};
  const int64_t n = 6;
  float a[6], u[6];
  th_fill_uniform(a, n, 11, 0.2f, 1.5f);
  th_fill_uniform(u, n, 12, -1, 1);
  analytic m = {.a = a, .u = u, .n = n, .T = 1000};
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t smp[3] = {4, 99, 12345};
  float x3[18], x1[6], y3[18];
  ddim_rng r3 = {.seed = 5, .sample = smp};
  ddim_sample(&ctx, &s, &cfg, analytic_eps, &m, ddim_rng_noise, &r3, 2, (int64_t[]){3, n}, x3);
  ddim_sample(&ctx, &s, &cfg, analytic_eps, &m, ddim_rng_noise, &r3, 2, (int64_t[]){3, n}, y3);
  th_check(memcmp(x3, y3, sizeof x3) == 0, "ddim_sample: deterministic for a given seed and sample indices");
  ddim_rng r1 = {.seed = 5, .sample = &smp[1]};
  ddim_sample(&ctx, &s, &cfg, analytic_eps, &m, ddim_rng_noise, &r1, 2, (int64_t[]){1, n}, x1);
  th_check(memcmp(x1, x3 + n, sizeof x1) == 0, "ddim_sample: a sample alone equals the same sample in a batch");
  th_check(memcmp(x3, x3 + n, sizeof(float) * n) != 0, "ddim_sample: different samples differ");
  ddim_rng r5 = {.seed = 6, .sample = smp};
  ddim_sample(&ctx, &s, &cfg, analytic_eps, &m, ddim_rng_noise, &r5, 2, (int64_t[]){3, n}, y3);
  th_check(memcmp(x3, y3, sizeof x3) != 0, "ddim_sample: a different seed differs");
  // ddim_rng_noise is the documented draw.
  float z[6], ref[6];
  ddim_rng_noise(7, z, 1, n, &r1);
  rng_normal(5, VP_STREAM_SAMPLING, 7, 99, 0, ref, n);
  th_check(memcmp(z, ref, sizeof z) == 0, "ddim_rng_noise = rng_normal(seed, SAMPLING, k, sample)");
  // With clip, every output is within [-1, 1].
  ok = 1;
  for (int i = 0; i < 18; i++) ok &= x3[i] >= -1.f && x3[i] <= 1.f;
  th_check(ok, "ddim_sample: x0 clamp keeps the output in [-1, 1]");
  // sigma: 0 at eta 0 and at the last step; the DDPM posterior std at eta 1 with one-step pairs.
  th_check(ddim_sigma(&s, 0.0, 500, 499) == 0.0 && ddim_sigma(&s, 1.0, 9, -1) == 0.0, "ddim_sigma zero cases");
  check_val("ddim_sigma(eta 1, t -> t-1)^2 = posterior variance", pow(ddim_sigma(&s, 1.0, 500, 499), 2),
            s.posterior_variance[500], 1e-9);
  ctx_free(&ctx);
  schedule_free(&s);
}

// ---------------------------------------------------------------- config
static vp_config *bind(const char *yaml, vp_err *err) {
  vp_config *cfg = cfg_new();
  err_init(err);
  cfg_load_yaml_string(cfg, yaml, "test.yaml", err);
  cfg_bind(cfg, opts_diffusion, err);
  return cfg;
}

static void test_config(void) {
  vp_err err;
  vp_config *cfg = bind("", &err);
  th_check(err.n == 0, "diffusion config: defaults bind (%d errors)", err.n);
  vp_diffusion d;
  diffusion_from_config(&d, cfg);
  th_check(d.sched.kind == VP_SCHED_SQRT_LINEAR && d.sched.T == 1000 && d.sched.betas[0] == 0.0015 &&
               fabs(d.sched.betas[999] - 0.0195) < 1e-15 && d.loss == VP_DDPM_MSE && d.ddim.steps == 100 &&
               d.ddim.eta == 1.0 && d.ddim.clip_x0 == 1.0,
           "diffusion config: defaults are SyncVP's process");
  diffusion_free(&d);
  cfg_free(cfg);
  cfg = bind("diffusion:\n  schedule: linear\n", &err);
  diffusion_from_config(&d, cfg);
  th_check(err.n == 0 && d.sched.kind == VP_SCHED_LINEAR && d.sched.betas[0] == 1e-4 && d.sched.betas[999] == 0.02,
           "diffusion config: linear takes PredLDM's betas by default");
  diffusion_free(&d);
  cfg_free(cfg);
  cfg = bind("diffusion:\n  schedule: cosine\n  timesteps: 1600\n  loss: l1\n  sample_steps: 1600\n  eta: 0\n  clip_x0: 2\n",
             &err);
  diffusion_from_config(&d, cfg);
  th_check(err.n == 0 && d.sched.kind == VP_SCHED_COSINE && d.sched.T == 1600 && d.loss == VP_DDPM_L1 &&
               d.ddim.steps == 1600 && d.ddim.eta == 0 && d.ddim.clip_x0 == 2 &&
               fabs(d.sched.betas[0] - 2.523360e-05) < 1e-10,
           "diffusion config: RVD's cosine process");
  diffusion_free(&d);
  cfg_free(cfg);
  cfg = bind("diffusion:\n  schedule: quadratic\n  loss: huber\n", &err);
  th_check(err.n == 2, "diffusion config: unknown schedule and loss are both reported (%d errors)", err.n);
  cfg_free(cfg);
}

// ---------------------------------------------------------------- bad input
static void expect_die(const char *what, void (*fn)(void), const char *want) {
  int fd[2];
  if (pipe(fd) != 0) {
    th_check(0, "%s: pipe failed", what);
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    th_check(0, "%s: fork failed", what);
    return;
  }
  if (pid == 0) {
    // libgomp's thread pool does not survive fork(): the child runs its
    // parallel regions on one thread.
    omp_set_num_threads(1);
    dup2(fd[1], 2);
    close(fd[0]);
    fn();
    _exit(0);
  }
  close(fd[1]);
  char msg[2048];
  size_t n = 0;
  ssize_t r;
  while (n + 1 < sizeof msg && (r = read(fd[0], msg + n, sizeof msg - 1 - n)) > 0) n += (size_t)r;
  msg[n] = 0;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  th_check(WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(msg, want) != NULL,
           "%s: expected an error mentioning '%s', got status %d, message '%s'", what, want, status, msg);
}

static void bad_betas(void) {
  vp_schedule s;
  schedule_init_linear(&s, 1000, 0.02, 1e-4);
}
static void bad_cosine(void) {
  vp_schedule s;
  schedule_init_cosine(&s, 1600, 0.0, 0.999);
}
static void bad_ddim_steps(void) {
  int times[2000];
  ddim_times(1000, 1001, times);
}
static void bad_q_sample(void) {
  vp_schedule s;
  schedule_init_sqrt_linear(&s, 1000, 0.0015, 0.0195);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  vp_tensor *x = tensor_newv(&ctx, 2, (int64_t)2, (int64_t)3), *e = tensor_newv(&ctx, 2, (int64_t)2, (int64_t)3);
  int32_t t[2] = {0, 1000};
  ddpm_q_sample(&ctx, &s, x, e, t);
}
static void bad_config_steps(void) {
  vp_err err;
  vp_config *cfg = bind("diffusion:\n  timesteps: 50\n  sample_steps: 100\n", &err);
  vp_diffusion d;
  diffusion_from_config(&d, cfg);
}
static void bad_config_betas(void) {
  vp_err err;
  vp_config *cfg = bind("diffusion:\n  beta_start: 0.03\n", &err);
  vp_diffusion d;
  diffusion_from_config(&d, cfg);
}

static void test_bad_input(void) {
  expect_die("linear schedule beta_start > beta_end", bad_betas, "beta_start <= beta_end");
  expect_die("cosine schedule s = 0", bad_cosine, "s > 0");
  expect_die("more DDIM steps than T", bad_ddim_steps, "sampling steps must be in [1, 1000]");
  expect_die("timestep out of range", bad_q_sample, "timestep 1000 outside [0, 1000)");
  expect_die("config sample_steps > timesteps", bad_config_steps, "diffusion.sample_steps = 100 (test.yaml:3)");
  expect_die("config beta_start > beta_end", bad_config_betas, "diffusion.beta_start = 0.03 (test.yaml:2)");
}

int main(void) {
  golden *g = golden_open("diffusion");
  test_schedule_spec_values();
  test_schedule_golden(g);
  test_draws();
  test_loss(g);
  test_ddim_golden(g);
  test_ddim_rng();
  test_config();
  test_bad_input();
  golden_close(g);
  return th_summary();
}
