// test_optim.c: AdamW, gradient clipping, EMA and LR schedules against
// PyTorch goldens (tools/golden/g_optim.py), closed forms and bad inputs.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/check.h"
#include "core/params.h"
#include "golden.h"
#include "harness.h"
#include "train/adamw.h"
#include "train/ema.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"

// ---------------------------------------------------------------- helpers

// Runs fn(arg) in a child process; 1 if it exited non-zero (vp_die). fn must
// not enter an OpenMP parallel region (unsafe after fork).
static int dies(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(0);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return 0;
  return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Declare p0..p{n-1} with the shapes of <grp>/p<i>/<ds> and allocate; returns
// nothing but fills p (initialised, data zero).
static void params_from_golden(golden *g, vp_params *p, const char *grp, int n, const char *ds) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  params_init(p);
  for (int i = 0; i < n; i++) {
    vp_tensor *t = golden_tensor(g, &ctx, "%s/p%d/%s", grp, i, ds);
    params_add(p, t->ndim, t->shape, "p%d", i);
  }
  params_alloc(p);
  ctx_free(&ctx);
}

// Copy <grp>/p<i>/<ds> (row `row` of a stacked dataset when row >= 0) into
// the flat buffer dst (vp_params layout).
static void load_flat(golden *g, const vp_params *p, float *dst, const char *grp, const char *ds,
                      int row) {
  for (int i = 0; i < p->n; i++) {
    int64_t n, numel = tensor_numel(p->t[i]);
    float *buf = golden_read(g, &n, "%s/p%d/%s", grp, i, ds);
    int64_t at = row >= 0 ? (int64_t)row * numel : 0;
    VP_ASSERT(at + numel <= n);
    memcpy(dst + p->offset[i], buf + at, (size_t)numel * sizeof(float));
    free(buf);
  }
}

static vp_lr_schedule sched_from_golden(golden *g, const char *grp) {
  vp_lr_schedule s;
  memset(&s, 0, sizeof(s));
  s.kind = (vp_lr_kind)golden_attr_int(g, grp, "kind");
  s.base_lr = golden_attr_double(g, grp, "base_lr");
  s.warmup_steps = golden_attr_int(g, grp, "warmup_steps");
  s.warmup_start = golden_attr_double(g, grp, "warmup_start");
  s.cosine_steps = golden_attr_int(g, grp, "cosine_steps");
  s.eta_min = golden_attr_double(g, grp, "eta_min");
  return s;
}

// ---------------------------------------------------------------- AdamW

static void adamw_golden(golden *g, const char *cas) {
  char grp[128];
  snprintf(grp, sizeof grp, "adamw/%s", cas);
  int np = (int)golden_attr_int(g, grp, "nparam"), nsteps = (int)golden_attr_int(g, grp, "nsteps");
  vp_params p;
  params_from_golden(g, &p, grp, np, "init");
  load_flat(g, &p, p.data, grp, "init", -1);
  vp_adamw o;
  adamw_init(&o, &p, golden_attr_double(g, grp, "beta1"), golden_attr_double(g, grp, "beta2"),
             golden_attr_double(g, grp, "eps"), golden_attr_double(g, grp, "wd"));
  char pg[160];
  for (int i = 0; i < np; i++) {
    snprintf(pg, sizeof pg, "%s/p%d", grp, i);
    adamw_set_decay(&o, i, (int)golden_attr_int(g, pg, "decay"));
  }
  vp_lr_schedule sch = sched_from_golden(g, grp);
  lr_schedule_check(&sch);
  int64_t nlr;
  float *lr_ref = golden_read(g, &nlr, "%s/lr", grp);
  VP_ASSERT(nlr == nsteps);
  float *init = vp_malloc(p.numel * sizeof(float));
  memcpy(init, p.data, p.numel * sizeof(float));
  double lr_err = 0;
  for (int k = 0; k < nsteps; k++) {
    double lr = lr_at(&sch, o.t);  // resume needs only the step count
    lr_err = fmax(lr_err, fabs(lr - lr_ref[k]) / sch.base_lr);
    load_flat(g, &p, p.grad, grp, "grads", k);
    adamw_step(&o, &p, lr);
  }
  th_check(lr_err <= 1e-6, "adamw %s: lr_at vs torch scheduler max error %.2e (of base lr)", cas, lr_err);
  th_check(o.t == nsteps, "adamw %s: t = %lld after %d steps", cas, (long long)o.t, nsteps);
  float *ref = vp_malloc(p.numel * sizeof(float));
  char what[128];
  const char *ds[] = {"final", "final64"};
  float *dg = vp_malloc(p.numel * sizeof(float)), *dr = vp_malloc(p.numel * sizeof(float));
  for (size_t k = 0; k < p.numel; k++) dg[k] = p.data[k] - init[k];
  for (int j = 0; j < 2; j++) {
    load_flat(g, &p, ref, grp, ds[j], -1);
    snprintf(what, sizeof what, "adamw %s params vs torch %s", cas, j ? "float64" : "float32");
    th_check_rel(what, p.data, ref, (int64_t)p.numel, 1e-5);
  }
  // The update itself (final - init), a far stricter test than the params:
  // against torch's float32 run it should agree to rounding; against float64
  // it carries the float32 rounding of p at every step (~ulp(p) / |update|).
  load_flat(g, &p, ref, grp, "final", -1);
  for (size_t k = 0; k < p.numel; k++) dr[k] = ref[k] - init[k];
  snprintf(what, sizeof what, "adamw %s update vs torch float32", cas);
  th_check_rel(what, dg, dr, (int64_t)p.numel, 1e-5);
  load_flat(g, &p, dr, grp, "delta64", -1);
  snprintf(what, sizeof what, "adamw %s update vs torch float64", cas);
  th_check_rel(what, dg, dr, (int64_t)p.numel, 2e-4);
  free(dg);
  free(dr);
  load_flat(g, &p, ref, grp, "m", -1);
  snprintf(what, sizeof what, "adamw %s exp_avg", cas);
  th_check_rel(what, o.m, ref, (int64_t)p.numel, 1e-5);
  load_flat(g, &p, ref, grp, "v", -1);
  snprintf(what, sizeof what, "adamw %s exp_avg_sq", cas);
  th_check_rel(what, o.v, ref, (int64_t)p.numel, 1e-5);
  // Per parameter too, so that a small tensor's error is not hidden by a big one.
  for (int i = 0; i < np; i++) {
    int64_t n = tensor_numel(p.t[i]);
    load_flat(g, &p, ref, grp, "final", -1);
    snprintf(what, sizeof what, "adamw %s p%d", cas, i);
    th_check_rel(what, p.t[i]->data, ref + p.offset[i], n, 1e-5);
  }
  free(ref);
  free(init);
  free(lr_ref);
  adamw_free(&o);
  params_free(&p);
}

// The golden "nodecay" case excludes exactly the rank <= 1 tensors.
static void adamw_mask_pred(golden *g) {
  vp_params p;
  params_from_golden(g, &p, "adamw/nodecay", 4, "init");
  vp_adamw o;
  adamw_init(&o, &p, 0.9, 0.999, 1e-8, 0.1);
  int nex = adamw_exclude_decay(&o, &p, adamw_pred_rank_le1, NULL);
  int same = 1;
  char pg[64];
  for (int i = 0; i < 4; i++) {
    snprintf(pg, sizeof pg, "adamw/nodecay/p%d", i);
    same &= o.decay[i] == (uint8_t)golden_attr_int(g, pg, "decay");
  }
  th_check(same && nex == 2, "adamw_pred_rank_le1 mask differs from the golden (excluded %d)", nex);
  th_check(adamw_exclude_decay(&o, &p, adamw_pred_rank_le1, NULL) == 0,
           "adamw_exclude_decay counts only newly excluded parameters");
  adamw_free(&o);
  params_free(&p);
  // Name predicate.
  vp_params q;
  params_init(&q);
  int64_t s2[2] = {3, 3}, s1[1] = {3};
  params_add(&q, 2, s2, "enc.conv.weight");
  params_add(&q, 1, s1, "enc.conv.bias");
  params_add(&q, 1, s1, "enc.norm1.weight");
  params_add(&q, 2, s2, "bias_proj.weight");
  params_alloc(&q);
  adamw_init(&o, &q, 0.9, 0.999, 1e-8, 0.1);
  adamw_exclude_decay(&o, &q, adamw_pred_bias_or_norm, NULL);
  th_check(o.decay[0] == 1 && o.decay[1] == 0 && o.decay[2] == 0 && o.decay[3] == 1,
           "adamw_pred_bias_or_norm mask %d%d%d%d, want 1001", o.decay[0], o.decay[1], o.decay[2],
           o.decay[3]);
  adamw_free(&o);
  params_free(&q);
}

// Closed forms: the first step moves each element by -lr * g / (|g| + eps)
// (~ -lr * sign(g)) after the decay factor (1 - lr * wd); a zero gradient on
// an undecayed parameter never moves it; bias corrections make the step size
// independent of the betas on step 1.
static void adamw_analytic(void) {
  vp_params p;
  params_init(&p);
  int64_t sa[2] = {17, 9}, sb[1] = {33};
  params_add(&p, 2, sa, "w");
  params_add(&p, 1, sb, "b");
  params_alloc(&p);
  th_fill_uniform(p.data, (int64_t)p.numel, 11, -2, 2);
  th_fill_uniform(p.grad, (int64_t)p.numel, 12, -1, 1);
  for (size_t k = 0; k < p.numel; k += 7) p.grad[k] = 0;
  for (int wdcase = 0; wdcase < 2; wdcase++) {
    double lr = 1e-3, wd = wdcase ? 0.05 : 0.0, eps = 1e-8;
    float *x0 = vp_malloc(p.numel * sizeof(float));
    memcpy(x0, p.data, p.numel * sizeof(float));
    vp_adamw o;
    adamw_init(&o, &p, 0.5, 0.9, eps, wd);
    adamw_step(&o, &p, lr);
    double worst = 0;
    for (size_t k = 0; k < p.numel; k++) {
      double g = p.grad[k], x = x0[k] * (1.0 - lr * wd);
      double want = x - lr * g / (fabs(g) + eps);
      worst = fmax(worst, fabs(p.data[k] - want) / lr);
    }
    th_check(worst <= 1e-3, "adamw first step (wd %g): |dx - (-lr g/(|g|+eps))| up to %.2e lr", wd, worst);
    memcpy(p.data, x0, p.numel * sizeof(float));
    free(x0);
    adamw_free(&o);
  }
  // Undecayed parameter with zero gradient: bit-identical after 5 steps;
  // decayed one with zero gradient shrinks by (1 - lr wd)^5.
  params_zero_grad(&p);
  float x0 = p.t[0]->data[3], b0 = p.t[1]->data[5];
  vp_adamw o;
  adamw_init(&o, &p, 0.9, 0.999, 1e-8, 0.1);
  adamw_set_decay(&o, 1, 0);
  for (int k = 0; k < 5; k++) adamw_step(&o, &p, 1e-2);
  th_check(p.t[1]->data[5] == b0, "adamw: excluded parameter with zero grad moved (%g -> %g)", b0,
           p.t[1]->data[5]);
  double want = x0 * pow(1 - 1e-2 * 0.1, 5);
  th_check(fabs(p.t[0]->data[3] - want) <= 1e-6 * fabs(want), "adamw: zero-grad decay %g, want %g",
           p.t[0]->data[3], want);
  adamw_free(&o);
  params_free(&p);
}

// A bigger store with mixed decay against a plain double-precision loop, and
// thread-count independence (the update is elementwise, so bit-identical).
static void adamw_big(void) {
  vp_params p;
  params_init(&p);
  for (int i = 0; i < 40; i++) {
    int64_t s2[2] = {64 + i, 97}, s1[1] = {64 + i};
    params_add(&p, 2, s2, "blk%d.weight", i);
    params_add(&p, 1, s1, "blk%d.bias", i);
  }
  params_alloc(&p);
  size_t n = p.numel;
  th_fill_uniform(p.data, (int64_t)n, 21, -1, 1);
  float *x0 = vp_malloc(n * sizeof(float)), *g = vp_malloc(3 * n * sizeof(float));
  memcpy(x0, p.data, n * sizeof(float));
  th_fill_uniform(g, (int64_t)(3 * n), 22, -1, 1);
  const double b1 = 0.5, b2 = 0.9, eps = 1e-8, wd = 0.01, lrs[3] = {1e-3, 2e-3, 5e-4};
  // Double reference.
  double *x = vp_malloc(n * sizeof(double)), *m = vp_calloc(n, sizeof(double)),
         *v = vp_calloc(n, sizeof(double));
  uint8_t *dec = vp_malloc(n);
  for (int i = 0; i < p.n; i++)
    memset(dec + p.offset[i], p.t[i]->ndim > 1, (size_t)tensor_numel(p.t[i]));
  for (size_t k = 0; k < n; k++) x[k] = x0[k];
  for (int t = 1; t <= 3; t++)
    for (size_t k = 0; k < n; k++) {
      double gk = g[(size_t)(t - 1) * n + k], lr = lrs[t - 1];
      if (dec[k]) x[k] *= 1 - lr * wd;
      m[k] = b1 * m[k] + (1 - b1) * gk;
      v[k] = b2 * v[k] + (1 - b2) * gk * gk;
      x[k] -= lr / (1 - pow(b1, t)) * m[k] / (sqrt(v[k]) / sqrt(1 - pow(b2, t)) + eps);
    }
  float *xr = vp_malloc(n * sizeof(float)), *res[2];
  for (size_t k = 0; k < n; k++) xr[k] = (float)x[k];
  int maxt = omp_get_max_threads();
  for (int run = 0; run < 2; run++) {
    omp_set_num_threads(run ? maxt : 1);
    memcpy(p.data, x0, n * sizeof(float));
    vp_adamw o;
    adamw_init(&o, &p, b1, b2, eps, wd);
    adamw_exclude_decay(&o, &p, adamw_pred_rank_le1, NULL);
    for (int t = 0; t < 3; t++) {
      memcpy(p.grad, g + (size_t)t * n, n * sizeof(float));
      adamw_step(&o, &p, lrs[t]);
    }
    res[run] = vp_malloc(n * sizeof(float));
    memcpy(res[run], p.data, n * sizeof(float));
    adamw_free(&o);
  }
  omp_set_num_threads(maxt);
  th_check_rel("adamw big store vs double loop", res[1], xr, (int64_t)n, 1e-6);
  th_check(memcmp(res[0], res[1], n * sizeof(float)) == 0, "adamw: 1 thread and %d threads differ", maxt);
  free(res[0]);
  free(res[1]);
  free(xr);
  free(x);
  free(m);
  free(v);
  free(dec);
  free(x0);
  free(g);
  params_free(&p);
}

// Throughput on a 16M-parameter store (printed, not checked); an AdamW step
// moves 28 bytes per parameter (read x g m v, write x m v).
static void adamw_timing(void) {
  vp_params p;
  params_init(&p);
  int64_t s[1] = {1 << 24};
  params_add(&p, 1, s, "w");
  params_alloc(&p);
  th_fill_uniform(p.grad, (int64_t)p.numel, 5, -1, 1);
  vp_adamw o;
  adamw_init(&o, &p, 0.9, 0.999, 1e-8, 0.01);
  adamw_step(&o, &p, 1e-3);
  double t0 = now_s();
  for (int k = 0; k < 5; k++) adamw_step(&o, &p, 1e-3);
  double dt = (now_s() - t0) / 5;
  vp_clip_result r = {0};
  double t1 = now_s();
  for (int k = 0; k < 5; k++) r = grad_clip_params(&p, 1e30);
  double dc = (now_s() - t1) / 5;
  printf("  adamw step: %.1f ms for %zu params (%.2f GB/s), clip norm: %.1f ms (%d threads, norm %.1f)\n",
         dt * 1e3, p.numel, 28.0 * (double)p.numel / dt / 1e9, dc * 1e3, omp_get_max_threads(), r.norm);
  adamw_free(&o);
  params_free(&p);
}

static void die_adamw_neg_lr(void *arg) {
  vp_params *p = arg;
  vp_adamw o;
  adamw_init(&o, p, 0.9, 0.999, 1e-8, 0.0);
  adamw_step(&o, p, -1e-3);
}
static void die_adamw_nan_lr(void *arg) {
  vp_params *p = arg;
  vp_adamw o;
  adamw_init(&o, p, 0.9, 0.999, 1e-8, 0.0);
  adamw_step(&o, p, NAN);
}
static void die_adamw_beta(void *arg) {
  vp_adamw o;
  adamw_init(&o, arg, 1.0, 0.999, 1e-8, 0.0);
}
static void die_adamw_wd(void *arg) {
  vp_adamw o;
  adamw_init(&o, arg, 0.9, 0.999, 1e-8, -0.1);
}
// No adamw_step here: an OpenMP region in a forked child of a process that
// already ran one can hang in libgomp.
static void ok_adamw(void *arg) {
  vp_adamw o;
  adamw_init(&o, arg, 0.9, 0.999, 1e-8, 0.0);
  adamw_free(&o);
}

static void adamw_bad(void) {
  vp_params p;
  params_init(&p);
  int64_t s[1] = {4};
  params_add(&p, 1, s, "w");
  params_alloc(&p);
  th_check(dies(die_adamw_neg_lr, &p), "adamw: negative lr accepted");
  th_check(dies(die_adamw_nan_lr, &p), "adamw: NaN lr accepted");
  th_check(dies(die_adamw_beta, &p), "adamw: beta1 = 1 accepted");
  th_check(dies(die_adamw_wd, &p), "adamw: negative weight decay accepted");
  th_check(!dies(ok_adamw, &p), "adamw: valid settings rejected");
  params_free(&p);
}

// ---------------------------------------------------------------- clipping

static void clip_golden(golden *g, const char *cas, int expect_clip) {
  char grp[128], what[128];
  snprintf(grp, sizeof grp, "clip/%s", cas);
  int np = (int)golden_attr_int(g, grp, "nparam");
  vp_params p;
  params_from_golden(g, &p, grp, np, "grad");
  load_flat(g, &p, p.grad, grp, "grad", -1);
  float *before = vp_malloc(p.numel * sizeof(float)), *ref = vp_malloc(p.numel * sizeof(float));
  memcpy(before, p.grad, p.numel * sizeof(float));
  vp_clip_result r = grad_clip_params(&p, golden_attr_double(g, grp, "max_norm"));
  int64_t n1;
  float *norm = golden_read(g, &n1, "%s/norm", grp);
  th_check(fabs(r.norm - norm[0]) <= 1e-6 * norm[0], "clip %s: norm %.9g, torch %.9g", cas, r.norm,
           (double)norm[0]);
  th_check(r.finite && r.clipped == expect_clip, "clip %s: finite %d clipped %d (want %d)", cas,
           r.finite, r.clipped, expect_clip);
  load_flat(g, &p, ref, grp, "clipped", -1);
  snprintf(what, sizeof what, "clip %s grads", cas);
  th_check_rel(what, p.grad, ref, (int64_t)p.numel, 1e-6);
  if (!expect_clip)
    th_check(memcmp(before, p.grad, p.numel * sizeof(float)) == 0, "clip %s: grads changed", cas);
  // The clipped norm is max_norm (up to the 1e-6 guard).
  if (expect_clip) {
    double after = sqrt(grad_sumsq(p.grad, p.numel)), mx = golden_attr_double(g, grp, "max_norm");
    th_check(fabs(after - mx) <= 1e-5 * mx, "clip %s: norm after clipping %.9g, want %g", cas, after, mx);
  }
  free(norm);
  free(before);
  free(ref);
  params_free(&p);
}

static void clip_analytic(void) {
  float g[2] = {3, 4};
  vp_clip_result r = grad_clip_norm(g, 2, 1.0);
  th_check(r.norm == 5.0 && r.clipped && fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[1] - 0.8f) < 1e-6f,
           "clip (3,4) to 1: norm %g -> (%g, %g)", r.norm, g[0], g[1]);
  float h[2] = {3, 4};
  r = grad_clip_norm(h, 2, 10.0);
  th_check(!r.clipped && r.coef == 1.0 && h[0] == 3 && h[1] == 4, "clip (3,4) to 10 changed it");
  r = grad_clip_norm(h, 2, 0.0);
  th_check(r.norm == 5.0 && !r.clipped && h[0] == 3, "clip max_norm 0 must only measure");
  r = grad_clip_norm(h, 0, 1.0);
  th_check(r.norm == 0.0 && r.finite && !r.clipped, "clip of an empty buffer");
  // Squares beyond float range: the double accumulation keeps it finite.
  float big[3] = {3e20f, 4e20f, 0};
  r = grad_clip_norm(big, 3, 1.0);
  th_check(r.finite && fabs(r.norm - 5e20) <= 1e-6 * 5e20 && fabsf(big[0] - 0.6f) < 1e-6f,
           "clip of 1e20-sized grads: norm %g finite %d", r.norm, r.finite);
  // Non-finite gradients are reported and left alone.
  float bad[4] = {1, NAN, 2, 3}, inf[3] = {1, -INFINITY, 2};
  r = grad_clip_norm(bad, 4, 1.0);
  th_check(!r.finite && isnan(r.norm) && !r.clipped && bad[0] == 1 && bad[3] == 3,
           "clip: NaN gradient not reported (finite %d norm %g)", r.finite, r.norm);
  r = grad_clip_norm(inf, 3, 1.0);
  th_check(!r.finite && isinf(r.norm) && !r.clipped && inf[0] == 1 && inf[2] == 2,
           "clip: Inf gradient not reported (finite %d norm %g)", r.finite, r.norm);
  // Deterministic for any thread count, and a NaN deep in a big buffer.
  size_t n = 3000001;
  float *x = vp_malloc(n * sizeof(float));
  th_fill_uniform(x, (int64_t)n, 9, -1, 1);
  int maxt = omp_get_max_threads();
  omp_set_num_threads(1);
  double s1 = grad_sumsq(x, n);
  omp_set_num_threads(maxt);
  double s2 = grad_sumsq(x, n), naive = 0;
  for (size_t k = 0; k < n; k++) naive += (double)x[k] * x[k];
  th_check(s1 == s2, "grad_sumsq: 1 thread %.17g, %d threads %.17g", s1, maxt, s2);
  th_check(fabs(s2 - naive) <= 1e-12 * naive, "grad_sumsq %.17g vs naive %.17g", s2, naive);
  x[n - 2] = NAN;
  r = grad_clip_norm(x, n, 1.0);
  th_check(!r.finite && x[0] != 0 && !isnan(x[n - 3]), "clip: NaN at the end of a big buffer");
  free(x);
}

// ---------------------------------------------------------------- EMA

static void ema_golden(golden *g, const char *cas) {
  char grp[128], what[128];
  snprintf(grp, sizeof grp, "ema/%s", cas);
  int np = (int)golden_attr_int(g, grp, "nparam"), nu = (int)golden_attr_int(g, grp, "nupdates");
  int warm = (int)golden_attr_int(g, grp, "warmup");
  vp_params p;
  params_from_golden(g, &p, grp, np, "init");
  load_flat(g, &p, p.data, grp, "init", -1);
  vp_ema e;
  ema_init(&e, &p, golden_attr_double(g, grp, "decay"), warm);
  int64_t nd;
  float *decays = golden_read(g, &nd, "%s/decays", grp);
  int dec_ok = 1;
  for (int k = 0; k < nu; k++) {
    load_flat(g, &p, p.data, grp, "seq", k);
    float d = ema_update(&e, &p);
    if (d != decays[k]) {
      dec_ok = 0;
      th_check(0, "ema %s: update %d decay %.9g, LitEma %.9g", cas, k + 1, d, decays[k]);
    }
  }
  th_check(dec_ok, "ema %s decays", cas);
  th_check(e.num_updates == (warm ? nu : -1), "ema %s: num_updates %lld", cas, (long long)e.num_updates);
  float *ref = vp_malloc(p.numel * sizeof(float));
  load_flat(g, &p, ref, grp, "shadow", -1);
  snprintf(what, sizeof what, "ema %s shadow", cas);
  th_check_rel(what, e.shadow, ref, (int64_t)p.numel, 1e-6);
  free(ref);
  free(decays);
  ema_free(&e);
  params_free(&p);
}

static void ema_analytic(void) {
  th_check(ema_decay_for(0.9999, 1) == 2.0f / 11.0f, "ema: first warm-up decay %.9g, want 2/11",
           ema_decay_for(0.9999, 1));
  th_check(ema_decay_for(0.5, 8) == 0.5f && ema_decay_for(0.5, 7) == 8.0f / 17.0f &&
               ema_decay_for(0.5, 1000) == 0.5f,
           "ema: warm-up cap");
  th_check(ema_decay_for(0.9, -1) == 0.9f, "ema: fixed decay");
  vp_params p;
  params_init(&p);
  int64_t s[1] = {257};
  params_add(&p, 1, s, "w");
  params_alloc(&p);
  th_fill_uniform(p.data, 257, 3, -1, 1);
  float *s0 = vp_malloc(257 * sizeof(float));
  memcpy(s0, p.data, 257 * sizeof(float));
  vp_ema e;
  ema_init(&e, &p, 0.9, 0);
  th_check(memcmp(e.shadow, p.data, 257 * sizeof(float)) == 0, "ema: shadow starts as the params");
  // Constant target c: shadow_n = c + d^n (s0 - c), for the fixed form.
  for (int k = 0; k < 257; k++) p.data[k] = 0.25f;
  for (int n = 0; n < 20; n++) ema_update(&e, &p);
  double worst = 0, dn = pow(0.9f, 20);
  for (int k = 0; k < 257; k++) worst = fmax(worst, fabs(e.shadow[k] - (0.25 + dn * (s0[k] - 0.25))));
  th_check(worst <= 1e-6, "ema fixed closed form: max error %.2e", worst);
  // Warm-up form: product of (d_n) over the updates.
  ema_free(&e);
  memcpy(p.data, s0, 257 * sizeof(float));
  ema_init(&e, &p, 0.999, 1);
  for (int k = 0; k < 257; k++) p.data[k] = -1.0f;
  double prod = 1;
  for (int n = 1; n <= 30; n++) prod *= ema_update(&e, &p);
  worst = 0;
  for (int k = 0; k < 257; k++) worst = fmax(worst, fabs(e.shadow[k] - (-1.0 + prod * (s0[k] + 1.0))));
  th_check(worst <= 1e-6, "ema warm-up closed form: max error %.2e", worst);
  // swap twice is the identity; copy_to writes the shadow.
  float *sh = vp_malloc(257 * sizeof(float));
  memcpy(sh, e.shadow, 257 * sizeof(float));
  ema_swap(&e, &p);
  int ok = memcmp(p.data, sh, 257 * sizeof(float)) == 0 && e.shadow[0] == -1.0f;
  ema_swap(&e, &p);
  ok &= memcmp(e.shadow, sh, 257 * sizeof(float)) == 0 && p.data[0] == -1.0f;
  ema_copy_to(&e, &p);
  ok &= memcmp(p.data, sh, 257 * sizeof(float)) == 0;
  th_check(ok, "ema swap / copy_to");
  ema_free(&e);
  // decay 0 (fixed) follows the params exactly; decay 1 never moves.
  ema_init(&e, &p, 0.0, 0);
  th_fill_uniform(p.data, 257, 4, -1, 1);
  ema_update(&e, &p);
  // s - 1 * (s - p) is p up to one rounding (as in LitEma).
  th_check_rel("ema decay 0 follows the params", e.shadow, p.data, 257, 1e-7);
  ema_free(&e);
  memcpy(sh, p.data, 257 * sizeof(float));
  ema_init(&e, &p, 1.0, 0);
  th_fill_uniform(p.data, 257, 5, -1, 1);
  ema_update(&e, &p);
  th_check(memcmp(e.shadow, sh, 257 * sizeof(float)) == 0, "ema decay 1 must not move");
  ema_free(&e);
  free(sh);
  free(s0);
  params_free(&p);
}

static void die_ema_decay(void *arg) {
  vp_ema e;
  ema_init(&e, arg, 1.5, 1);
}

// ---------------------------------------------------------------- LR

static void lr_golden(golden *g, const char *cas) {
  char grp[128];
  snprintf(grp, sizeof grp, "lr/%s", cas);
  vp_lr_schedule s = sched_from_golden(g, grp);
  lr_schedule_check(&s);
  int nsteps = (int)golden_attr_int(g, grp, "nsteps");
  int64_t n;
  float *ref = golden_read(g, &n, "%s/lr", grp);
  VP_ASSERT(n == nsteps + 1);
  double worst = 0;
  int at = 0;
  for (int k = 0; k <= nsteps; k++) {
    double e = fabs(lr_at(&s, k) - ref[k]);
    if (e > worst) worst = e, at = k;
  }
  // Stored as float32: rounding alone is ~6e-8 of base lr.
  th_check(worst <= 1e-6 * s.base_lr, "lr %s: max |lr_at - torch| %.3e at step %d (base %g)", cas,
           worst, at, s.base_lr);
  free(ref);
}

static void lr_analytic(void) {
  vp_lr_schedule c = lr_cosine(1e-3, 100, 1e-5);
  th_check(lr_at(&c, 0) == 1e-3, "cosine lr(0) %g", lr_at(&c, 0));
  th_check(fabs(lr_at(&c, 100) - 1e-5) <= 1e-18, "cosine lr(T) %.17g, want eta_min", lr_at(&c, 100));
  th_check(fabs(lr_at(&c, 50) - (1e-3 + 1e-5) / 2) <= 1e-18, "cosine lr(T/2) %.17g", lr_at(&c, 50));
  th_check(fabs(lr_at(&c, 200) - 1e-3) <= 1e-18, "cosine lr(2T) %.17g: PyTorch is periodic", lr_at(&c, 200));
  th_check(lr_at(&c, 101) > lr_at(&c, 100), "cosine rises after T (PyTorch)");
  c.hold_after = 1;
  th_check(lr_at(&c, 101) == 1e-5 && lr_at(&c, 12345) == 1e-5, "cosine hold_after keeps eta_min");
  int mono = 1;
  for (int k = 1; k <= 100; k++) mono &= lr_at(&c, k) <= lr_at(&c, k - 1);
  th_check(mono, "cosine is non-increasing on [0, T]");
  vp_lr_schedule w = lr_warmup(2e-4, 10, 0.0);
  th_check(lr_at(&w, 0) == 0 && fabs(lr_at(&w, 5) - 1e-4) < 1e-18 && lr_at(&w, 10) == 2e-4 &&
               lr_at(&w, 1000) == 2e-4,
           "warmup from 0: %g %g %g", lr_at(&w, 0), lr_at(&w, 5), lr_at(&w, 10));
  w.warmup_start = 0.5;
  th_check(lr_at(&w, 0) == 1e-4, "warmup start factor: lr(0) %g", lr_at(&w, 0));
  w.warmup_steps = 0;
  th_check(lr_at(&w, 0) == 2e-4, "warmup of 0 steps is constant");
  vp_lr_schedule wc = lr_warmup_cosine(1e-3, 10, 0.1, 90, 0);
  th_check(fabs(lr_at(&wc, 9) - 1e-3 * (0.1 + 0.9 * 0.9)) < 1e-18 && lr_at(&wc, 10) == 1e-3 &&
               fabs(lr_at(&wc, 100)) < 1e-18,
           "warmup_cosine: %g %g %g", lr_at(&wc, 9), lr_at(&wc, 10), lr_at(&wc, 100));
  vp_lr_schedule k = lr_constant(3e-4);
  th_check(lr_at(&k, 0) == 3e-4 && lr_at(&k, 1 << 30) == 3e-4, "constant lr");
  vp_lr_kind kind;
  int ok = 1;
  for (int i = 0; i < 4; i++)
    ok &= lr_kind_parse(lr_kind_name((vp_lr_kind)i), &kind) == 0 && kind == (vp_lr_kind)i;
  th_check(ok && lr_kind_parse("linear", &kind) == -1, "lr kind names");
}

static void die_lr_t0(void *a) {
  vp_lr_schedule s = lr_cosine(1e-3, 0, 0);
  lr_schedule_check(&s);
}
static void die_lr_f(void *a) {
  vp_lr_schedule s = lr_warmup(1e-3, 10, 1.5);
  lr_schedule_check(&s);
}
static void die_lr_neg(void *a) {
  vp_lr_schedule s = lr_constant(-1e-3);
  lr_schedule_check(&s);
}
static void die_lr_nan_eta(void *a) {
  vp_lr_schedule s = lr_warmup_cosine(1e-3, 10, 0, 5, NAN);
  lr_schedule_check(&s);
}
static void ok_lr(void *a) {
  vp_lr_schedule s = lr_warmup_cosine(1e-3, 10, 0, 5, 0);
  lr_schedule_check(&s);
}

// ---------------------------------------------------------------- main

int main(void) {
  golden *g = golden_open("optim");
  adamw_golden(g, "syncvp");
  adamw_golden(g, "nodecay");
  adamw_golden(g, "warmup0");
  adamw_mask_pred(g);
  clip_golden(g, "active", 1);
  clip_golden(g, "inactive", 0);
  ema_golden(g, "warmup");
  ema_golden(g, "warmup_cap");
  ema_golden(g, "fixed");
  const char *lrc[] = {"constant", "warmup", "warmup0", "cosine", "cosine_long", "warmup_cosine",
                       "warmup0_cosine"};
  for (size_t i = 0; i < sizeof lrc / sizeof *lrc; i++) lr_golden(g, lrc[i]);
  golden_close(g);

  adamw_analytic();
  adamw_big();
  adamw_bad();
  clip_analytic();
  ema_analytic();
  lr_analytic();
  vp_params p;
  params_init(&p);
  int64_t s[1] = {4};
  params_add(&p, 1, s, "w");
  params_alloc(&p);
  th_check(dies(die_ema_decay, &p), "ema: decay 1.5 accepted");
  params_free(&p);
  th_check(dies(die_lr_t0, NULL), "lr: cosine T_max 0 accepted");
  th_check(dies(die_lr_f, NULL), "lr: warmup start factor 1.5 accepted");
  th_check(dies(die_lr_neg, NULL), "lr: negative base lr accepted");
  th_check(dies(die_lr_nan_eta, NULL), "lr: NaN eta_min accepted");
  th_check(!dies(ok_lr, NULL), "lr: valid schedule rejected");
  adamw_timing();
  return th_summary();
}
