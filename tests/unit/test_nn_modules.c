// test_nn_modules.c: the composite modules of src/nn/ (ADM ResBlock, ADM
// AttentionBlock, PVDM TimeSformer block, rotary tables), each checked as a
// whole against PyTorch goldens (tools/golden/g_modules.py): forward output,
// gradients of the inputs and of every parameter, parameter names and count.
// Also: the rotary tables at the real sizes, initialisation statistics and
// determinism, the zero-init identities, and finite differences.
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <omp.h>

#include "core/kernel_mode.h"
#include "core/params.h"
#include "golden.h"
#include "harness.h"
#include "nn/attn_block.h"
#include "nn/init.h"
#include "nn/resblock.h"
#include "nn/rotary_tables.h"
#include "nn/timesformer.h"

// ---------------------------------------------------------------- golden runner
// The module under test, behind one signature: in[] are the data inputs.
typedef vp_tensor *(*mod_fn)(vp_ctx *ctx, const void *mod, vp_tensor **in, void *arg);

static void load_params(golden *g, const char *cas, vp_params *p) {
  for (int i = 0; i < p->n; i++) {
    vp_tensor *t = p->t[i];
    int64_t n;
    float *v = golden_read(g, &n, "%s/in/%s", cas, t->name);
    VP_ASSERT(n == tensor_numel(t));
    memcpy(t->data, v, (size_t)n * sizeof(float));
    free(v);
  }
}

static int run_once(golden *g, const char *cas, vp_params *p, mod_fn f, const void *mod, void *arg,
                    const char *const *names, int nin, const char *mode) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  load_params(g, cas, p);
  params_zero_grad(p);
  vp_tensor *in[8];
  VP_ASSERT(nin <= 8);
  char path[512], what[600];
  for (int i = 0; i < nin; i++) {
    in[i] = golden_tensor(g, &ctx, "%s/in/%s", cas, names[i]);
    snprintf(path, sizeof path, "%s/grad/%s", cas, names[i]);
    in[i]->requires_grad = golden_has(g, path);
  }
  vp_tensor *y = f(&ctx, mod, in, arg);
  int64_t n;
  float *ref = golden_read(g, &n, "%s/out/y", cas);
  snprintf(what, sizeof what, "%s [%s] forward", cas, mode);
  int ok = n == tensor_numel(y);
  if (!ok) th_check(0, "%s: %lld elements, golden has %lld", what, (long long)tensor_numel(y), (long long)n);
  else ok = th_check_rel(what, y->data, ref, n, 1e-5);
  free(ref);
  if (ok) {
    float *gout = golden_read(g, &n, "%s/gout/y", cas);
    tape_backward_from(&ctx, y, gout);
    free(gout);
    for (int i = 0; i < nin; i++) {
      if (!in[i]->requires_grad) continue;
      float *gref = golden_read(g, &n, "%s/grad/%s", cas, names[i]);
      snprintf(what, sizeof what, "%s [%s] grad %s", cas, mode, names[i]);
      ok &= th_check_rel(what, in[i]->grad ? in[i]->grad : tensor_grad(&ctx, in[i]), gref, n, 1e-4);
      free(gref);
    }
    for (int i = 0; i < p->n; i++) {
      vp_tensor *t = p->t[i];
      float *gref = golden_read(g, &n, "%s/grad/%s", cas, t->name);
      snprintf(what, sizeof what, "%s [%s] grad %s", cas, mode, t->name);
      ok &= th_check_rel(what, t->grad, gref, n, 1e-4);
      free(gref);
    }
  }
  ctx_free(&ctx);
  return ok;
}

// Checks the parameter set against the golden (every name there, same total
// count as the PyTorch module), then runs fast and reference kernels.
static void run_module_case(golden *g, const char *cas, vp_params *p, mod_fn f, const void *mod, void *arg,
                            const char *const *names, int nin) {
  int64_t want = golden_attr_int(g, cas, "nparams");
  th_check((int64_t)p->numel == want, "%s: %zu parameters, PyTorch has %lld", cas, p->numel, (long long)want);
  char path[512];
  int named = 1;
  for (int i = 0; i < p->n; i++) {
    snprintf(path, sizeof path, "%s/in/%s", cas, p->t[i]->name);
    if (!golden_has(g, path)) {
      th_check(0, "%s: parameter %s is not a PyTorch state_dict key", cas, p->t[i]->name);
      named = 0;
    }
  }
  if (!named || (int64_t)p->numel != want) return;
  int saved = vp_use_ref_kernels;
  kernel_mode_set_ref(0);
  run_once(g, cas, p, f, mod, arg, names, nin, "fast");
  kernel_mode_set_ref(1);
  run_once(g, cas, p, f, mod, arg, names, nin, "ref");
  kernel_mode_set_ref(saved);
}

// ---------------------------------------------------------------- module adapters
static vp_tensor *f_resblock(vp_ctx *ctx, const void *mod, vp_tensor **in, void *arg) {
  (void)arg;
  return resblock_fwd(ctx, mod, in[0], in[1]);
}
static vp_tensor *f_attn(vp_ctx *ctx, const void *mod, vp_tensor **in, void *arg) {
  (void)arg;
  return attn_block_fwd(ctx, mod, in[0]);
}
typedef struct { int64_t f, h, w; } tsf_dims;
static vp_tensor *f_tsf(vp_ctx *ctx, const void *mod, vp_tensor **in, void *arg) {
  const tsf_block *m = mod;
  tsf_dims *d = arg;
  rotary_tables fr = rotary_frame(ctx, d->f, m->dim_head), ax = rotary_axial(ctx, d->h, d->w, m->dim_head);
  return tsf_block_fwd(ctx, m, in[0], d->f, d->h, d->w, &fr, &ax);
}

static void golden_resblocks(golden *g) {
  const char *cases[] = {"rb_ss_skip", "rb_ss_up", "rb_ss_down_skip", "rb_noss"};
  const char *names[] = {"x", "emb"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *c = cases[i];
    vp_params p;
    params_init(&p);
    resblock m;
    resblock_declare(&m, &p, "diffusion_model.input_blocks.1.0", golden_attr_int(g, c, "ci"),
                     golden_attr_int(g, c, "co"), golden_attr_int(g, c, "emb"), (int)golden_attr_int(g, c, "groups"),
                     (int)golden_attr_int(g, c, "scale_shift"), (resblock_updown)golden_attr_int(g, c, "updown"));
    params_alloc(&p);
    run_module_case(g, c, &p, f_resblock, &m, NULL, names, 2);
    params_free(&p);
  }
}

static void golden_attention(golden *g) {
  const char *cases[] = {"attn_2d", "attn_2d_nonsq", "attn_1d"};
  const char *names[] = {"x"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *c = cases[i];
    vp_params p;
    params_init(&p);
    attn_block m;
    const char *prefix = strcmp(c, "attn_1d") == 0 ? "diffusion_model.input_attns.1" : "diffusion_model.input_blocks.1.1";
    attn_block_declare(&m, &p, prefix, golden_attr_int(g, c, "C"), (int)golden_attr_int(g, c, "heads"),
                       (int)golden_attr_int(g, c, "groups"));
    params_alloc(&p);
    run_module_case(g, c, &p, f_attn, &m, NULL, names, 1);
    params_free(&p);
  }
}

static void golden_timesformer(golden *g) {
  const char *cases[] = {"tsf_block", "tsf_block_nonsq"};
  const char *names[] = {"x"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *c = cases[i];
    vp_params p;
    params_init(&p);
    tsf_block m;
    tsf_block_declare(&m, &p, "encoder.layers.0", golden_attr_int(g, c, "dim"), (int)golden_attr_int(g, c, "heads"),
                      (int)golden_attr_int(g, c, "dim_head"));
    params_alloc(&p);
    tsf_dims d = {golden_attr_int(g, c, "T"), golden_attr_int(g, c, "h"), golden_attr_int(g, c, "w")};
    run_module_case(g, c, &p, f_tsf, &m, &d, names, 1);
    params_free(&p);
  }
}

// ---------------------------------------------------------------- rotary tables
static double max_abs_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
  return m;
}

// Tables agree with PyTorch's float32 ones to a few ulps of the angle
// (measured: 6e-8, one ulp of the values).
#define ROT_TOL 1e-6

static void check_table(golden *g, const char *what, const char *ds, const float *got, int64_t n) {
  int64_t m;
  float *ref = golden_read(g, &m, "rotary/%s", ds);
  if (m != n) {
    th_check(0, "%s: %lld values, golden has %lld", what, (long long)n, (long long)m);
  } else {
    double e = max_abs_diff(got, ref, n);
    th_check(e <= ROT_TOL, "%s: max |diff| %.3e > %.0e", what, e, ROT_TOL);
    if (getenv("VP_TEST_VERBOSE")) printf("  %-48s max |diff| %.3e\n", what, e);
  }
  free(ref);
}

static void test_rotary(golden *g) {
  int dim = (int)golden_attr_int(g, "rotary", "dim");
  int64_t T = golden_attr_int(g, "rotary", "T"), h = golden_attr_int(g, "rotary", "h"),
          w = golden_attr_int(g, "rotary", "w");
  th_check(dim == 64 && T == 8 && h == 32 && w == 32, "rotary golden at the real sizes");
  float *c = vp_malloc((size_t)(h * w * dim) * sizeof(float)), *s = vp_malloc((size_t)(h * w * dim) * sizeof(float));
  rotary_frame_fill(T, dim, c, s);
  check_table(g, "frame rotary cos (T 8, dim 64)", "frame_cos", c, T * dim);
  check_table(g, "frame rotary sin (T 8, dim 64)", "frame_sin", s, T * dim);
  rotary_axial_fill(h, w, dim, c, s);
  int64_t nr;
  float *rows = golden_read(g, &nr, "rotary/axial_rows");
  float *cs = vp_malloc((size_t)(nr * dim) * sizeof(float)), *ss = vp_malloc((size_t)(nr * dim) * sizeof(float));
  for (int64_t i = 0; i < nr; i++) {
    int64_t r = (int64_t)rows[i];
    VP_ASSERT(r >= 0 && r < h * w);
    memcpy(cs + i * dim, c + r * dim, (size_t)dim * sizeof(float));
    memcpy(ss + i * dim, s + r * dim, (size_t)dim * sizeof(float));
  }
  check_table(g, "axial rotary cos (32x32, dim 64)", "axial_cos", cs, nr * dim);
  check_table(g, "axial rotary sin (32x32, dim 64)", "axial_sin", ss, nr * dim);
  rotary_axial_fill(3, 5, 16, c, s);
  check_table(g, "axial rotary cos (3x5, dim 16)", "axial_3x5_d16_cos", c, 15 * 16);
  check_table(g, "axial rotary sin (3x5, dim 16)", "axial_3x5_d16_sin", s, 15 * 16);
  rotary_frame_fill(5, 16, c, s);
  check_table(g, "frame rotary cos (T 5, dim 16)", "frame_5_d16_cos", c, 5 * 16);
  check_table(g, "frame rotary sin (T 5, dim 16)", "frame_5_d16_sin", s, 5 * 16);
  // Structure, independent of PyTorch: frame rows are [a | a]; axial rows
  // have equal pairs; row 0 of the frame table is angle 0.
  rotary_frame_fill(T, dim, c, s);
  int ok = 1;
  for (int64_t t = 0; t < T; t++)
    for (int k = 0; k < dim / 2; k++) ok &= c[t * dim + k] == c[t * dim + dim / 2 + k];
  for (int k = 0; k < dim; k++) ok &= c[k] == 1.f && s[k] == 0.f;
  th_check(ok, "frame rotary: rows are [angles | angles], frame 0 is the identity");
  free(rows);
  free(cs);
  free(ss);
  free(c);
  free(s);
}

// ---------------------------------------------------------------- initialisation
typedef struct { double mean, var, lo, hi; } stats;
static stats stats_of(const vp_tensor *t) {
  int64_t n = tensor_numel(t);
  stats s = {0, 0, INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++) {
    s.mean += t->data[i];
    s.lo = fmin(s.lo, t->data[i]);
    s.hi = fmax(s.hi, t->data[i]);
  }
  s.mean /= (double)n;
  for (int64_t i = 0; i < n; i++) s.var += (t->data[i] - s.mean) * (t->data[i] - s.mean);
  s.var /= (double)n;
  return s;
}

// U(-b, b): bounds, mean within 5 standard errors, variance b^2/3 within 10%
// (only for tensors big enough for the moments to mean something).
static void check_uniform(const vp_tensor *t, double b) {
  stats s = stats_of(t);
  int64_t n = tensor_numel(t);
  int ok = s.lo >= -b && s.hi < b;
  if (n >= 1000) {
    double sd = b / sqrt(3.0);
    ok &= fabs(s.mean) <= 5 * sd / sqrt((double)n);
    ok &= fabs(s.var / (sd * sd) - 1) <= 0.1;
    ok &= s.hi > 0.9 * b && s.lo < -0.9 * b;
  }
  th_check(ok, "init %s: U(+-%.4g) expected, got [%.4g, %.4g] mean %.3g var %.3g", t->name, b, s.lo, s.hi,
           s.mean, s.var);
}

static void check_const(const vp_tensor *t, float v) {
  int64_t n = tensor_numel(t);
  int ok = 1;
  for (int64_t i = 0; i < n; i++) ok &= t->data[i] == v;
  th_check(ok, "init %s: all %g", t->name, (double)v);
}

static void test_init(void) {
  vp_params p;
  params_init(&p);
  resblock rb;
  attn_block ab;
  tsf_block tb;
  resblock_declare(&rb, &p, "rb", 64, 128, 256, 32, 1, RESBLOCK_SAME);
  attn_block_declare(&ab, &p, "attn", 128, 8, 32);
  tsf_block_declare(&tb, &p, "tsf", 96, 4, 32);
  params_alloc(&p);
  resblock_init(&rb, &p, 1234);
  attn_block_init(&ab, &p, 1234);
  tsf_block_init(&tb, &p, 1234);
  check_const(rb.in_norm.w, 1.f);
  check_const(rb.in_norm.b, 0.f);
  check_uniform(rb.in_conv.w, 1.0 / sqrt(64.0 * 9));
  check_uniform(rb.in_conv.b, 1.0 / sqrt(64.0 * 9));
  check_uniform(rb.emb_lin.w, 1.0 / sqrt(256.0));
  check_uniform(rb.emb_lin.b, 1.0 / sqrt(256.0));
  check_const(rb.out_conv.w, 0.f);
  check_const(rb.out_conv.b, 0.f);
  check_uniform(rb.skip.w, 1.0 / sqrt(64.0));
  check_uniform(ab.qkv.w, 1.0 / sqrt(128.0));
  check_const(ab.proj_out.w, 0.f);
  check_const(ab.proj_out.b, 0.f);
  check_uniform(tb.time.to_qkv.w, 1.0 / sqrt(96.0));
  check_uniform(tb.space.to_out.w, 1.0 / sqrt(128.0));
  check_uniform(tb.ff_out.w, 1.0 / sqrt(4 * 96.0));
  check_uniform(tb.ff_in.b, 1.0 / sqrt(96.0));
  check_const(tb.ff_norm.w, 1.f);
  th_check(nn_fan_in(rb.in_conv.w) == 64 * 9, "fan_in of a conv3x3 weight");
  // Two tensors of the same shape and bound draw different values (their own samples).
  th_check(memcmp(tb.time.to_qkv.w->data, tb.space.to_qkv.w->data,
                  (size_t)tensor_numel(tb.time.to_qkv.w) * sizeof(float)) != 0,
           "init: each parameter draws its own numbers");

  // Deterministic, and independent of the thread count: re-init with one
  // thread must give the same bits; another seed must not.
  float *a = vp_malloc(p.numel * sizeof(float));
  memcpy(a, p.data, p.numel * sizeof(float));
  int nt = omp_get_max_threads();
  omp_set_num_threads(1);
  memset(p.data, 0, p.numel * sizeof(float));
  resblock_init(&rb, &p, 1234);
  attn_block_init(&ab, &p, 1234);
  tsf_block_init(&tb, &p, 1234);
  omp_set_num_threads(nt);
  th_check(memcmp(a, p.data, p.numel * sizeof(float)) == 0, "init: same seed, one thread: same values");
  resblock_init(&rb, &p, 1235);
  th_check(memcmp(a + (rb.in_conv.w->data - p.data), rb.in_conv.w->data,
                  (size_t)tensor_numel(rb.in_conv.w) * sizeof(float)) != 0,
           "init: another seed gives other values");
  free(a);
  params_free(&p);
}

// Zero-initialised output layers make fresh blocks exact identities (ADM's
// design): attention returns x, an identity-skip ResBlock returns x.
static void test_zero_init_identity(void) {
  vp_params p;
  params_init(&p);
  resblock rb;
  attn_block ab;
  resblock_declare(&rb, &p, "rb", 32, 32, 16, 32, 1, RESBLOCK_SAME);
  attn_block_declare(&ab, &p, "attn", 32, 4, 32);
  params_alloc(&p);
  resblock_init(&rb, &p, 7);
  attn_block_init(&ab, &p, 7);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  vp_tensor *x = tensor_newv(&ctx, 4, (int64_t)2, (int64_t)32, (int64_t)3, (int64_t)5);
  vp_tensor *emb = tensor_newv(&ctx, 2, (int64_t)2, (int64_t)16);
  th_fill_uniform(x->data, tensor_numel(x), 11, -2, 2);
  th_fill_uniform(emb->data, tensor_numel(emb), 12, -2, 2);
  vp_tensor *y = attn_block_fwd(&ctx, &ab, x);
  th_check(tensor_same_shape(x, y) && max_abs_diff(x->data, y->data, tensor_numel(x)) == 0,
           "fresh attention block is the identity");
  y = resblock_fwd(&ctx, &rb, x, emb);
  th_check(tensor_same_shape(x, y) && max_abs_diff(x->data, y->data, tensor_numel(x)) == 0,
           "fresh identity-skip ResBlock is the identity");
  ctx_free(&ctx);
  params_free(&p);
}

// ---------------------------------------------------------------- finite differences
// Parameters get random values (not the init, whose zero layers would hide
// the inner gradients); the data inputs are probed.
static void fill_params(vp_params *p, uint64_t seed) {
  for (int i = 0; i < p->n; i++) {
    vp_tensor *t = p->t[i];
    double b = t->ndim >= 2 ? 1.0 / sqrt((double)nn_fan_in(t)) : 0.3;
    th_fill_uniform(t->data, tensor_numel(t), seed + (uint64_t)i, (float)-b, (float)b);
    if (t->ndim == 1 && strstr(t->name, "norm") && strstr(t->name, "weight"))
      for (int64_t j = 0; j < tensor_numel(t); j++) t->data[j] += 1.f;
  }
}

typedef struct { const void *mod; tsf_dims d; } fd_arg;
static vp_tensor *fd_resblock(vp_ctx *ctx, vp_tensor **in, void *a) {
  return resblock_fwd(ctx, ((fd_arg *)a)->mod, in[0], in[1]);
}
static vp_tensor *fd_attn(vp_ctx *ctx, vp_tensor **in, void *a) { return attn_block_fwd(ctx, ((fd_arg *)a)->mod, in[0]); }
static vp_tensor *fd_tsf(vp_ctx *ctx, vp_tensor **in, void *a) {
  fd_arg *f = a;
  return f_tsf(ctx, f->mod, in, &f->d);
}

static void test_finite_differences(void) {
  vp_params p;
  params_init(&p);
  resblock rb;
  attn_block ab;
  tsf_block tb;
  resblock_declare(&rb, &p, "rb", 4, 8, 6, 2, 1, RESBLOCK_DOWN);
  attn_block_declare(&ab, &p, "attn", 8, 2, 4);
  tsf_block_declare(&tb, &p, "tsf", 8, 2, 8);
  params_alloc(&p);
  fill_params(&p, 100);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  vp_tensor *x = tensor_newv(&ctx, 4, (int64_t)2, (int64_t)4, (int64_t)4, (int64_t)2);
  vp_tensor *emb = tensor_newv(&ctx, 2, (int64_t)2, (int64_t)6);
  th_fill_uniform(x->data, tensor_numel(x), 21, -1, 1);
  th_fill_uniform(emb->data, tensor_numel(emb), 22, -1, 1);
  x->requires_grad = emb->requires_grad = 1;
  fd_arg a = {&rb, {0, 0, 0}};
  vp_tensor *in[2] = {x, emb};
  th_gradcheck("resblock down fd (x, emb)", fd_resblock, &a, in, 2, 1e-2f, 64, 2e-2);
  vp_tensor *xa = tensor_newv(&ctx, 3, (int64_t)1, (int64_t)8, (int64_t)6);
  th_fill_uniform(xa->data, tensor_numel(xa), 23, -1, 1);
  xa->requires_grad = 1;
  a.mod = &ab;
  th_gradcheck("attention block fd (x)", fd_attn, &a, &xa, 1, 1e-2f, 48, 2e-2);
  vp_tensor *xt = tensor_newv(&ctx, 3, (int64_t)1, (int64_t)(2 * 2 * 3), (int64_t)8);
  th_fill_uniform(xt->data, tensor_numel(xt), 24, -1, 1);
  xt->requires_grad = 1;
  a.mod = &tb;
  a.d = (tsf_dims){2, 2, 3};
  th_gradcheck("timesformer block fd (x)", fd_tsf, &a, &xt, 1, 1e-2f, 96, 2e-2);
  ctx_free(&ctx);
  params_free(&p);
}

// ---------------------------------------------------------------- bad input
// Runs fn in a child process; it must exit with status 1 (vp_die) and print
// a message containing want.
static void expect_die(const char *what, void (*fn)(void), const char *want) {
  int fd[2];
  if (pipe(fd) != 0) { th_check(0, "%s: pipe failed", what); return; }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) { th_check(0, "%s: fork failed", what); return; }
  if (pid == 0) {
    dup2(fd[1], 2);
    close(fd[0]);
    fn();
    _exit(0);
  }
  close(fd[1]);
  char msg[1024];
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

static void bad_resblock_channels(void) {
  vp_params p;
  params_init(&p);
  resblock m;
  resblock_declare(&m, &p, "rb", 8, 8, 4, 4, 1, RESBLOCK_SAME);
  params_alloc(&p);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  resblock_fwd(&ctx, &m, tensor_zeros(&ctx, 4, (int64_t[]){1, 6, 2, 2}), tensor_zeros(&ctx, 2, (int64_t[]){1, 4}));
}
static void bad_attn_heads(void) {
  vp_params p;
  params_init(&p);
  attn_block m;
  attn_block_declare(&m, &p, "attn", 12, 5, 4);
}
static void bad_groups(void) {
  vp_params p;
  params_init(&p);
  attn_block m;
  attn_block_declare(&m, &p, "attn", 12, 3, 8);
}
static void bad_tsf_tokens(void) {
  vp_params p;
  params_init(&p);
  tsf_block m;
  tsf_block_declare(&m, &p, "tsf", 8, 2, 8);
  params_alloc(&p);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  tsf_block_fwd(&ctx, &m, tensor_zeros(&ctx, 3, (int64_t[]){1, 10, 8}), 2, 2, 3, NULL, NULL);
}
static void bad_rotary_dim(void) {
  float c[64], s[64];
  rotary_axial_fill(2, 2, 10, c, s);
}

static void test_bad_inputs(void) {
  expect_die("resblock: wrong input channels", bad_resblock_channels, "(1, 6, 2, 2)");
  expect_die("attention: heads do not divide channels", bad_attn_heads, "5 heads");
  expect_die("GroupNorm: groups do not divide channels", bad_groups, "8 groups");
  expect_die("timesformer: token count", bad_tsf_tokens, "(1, 10, 8)");
  expect_die("rotary: axial head dim", bad_rotary_dim, "multiple of 4");
}

int main(void) {
  golden *g = golden_open("modules");
  golden_resblocks(g);
  golden_attention(g);
  golden_timesformer(g);
  test_rotary(g);
  golden_close(g);
  test_init();
  test_zero_init_identity();
  test_finite_differences();
  test_bad_inputs();
  return th_summary();
}
