// test_tiny_ddpm.c: the small conditional DDPM (src/models/tiny_ddpm.c) and
// the trainer's model interface (src/train/model.h):
//   - the whole denoiser + noising + eps loss against a PyTorch ADM UNet
//     (tools/golden/g_diffusion.py): parameter names and order, loss, and the
//     gradients of every parameter and of both inputs, fast and reference kernels;
//   - initial state (zero-initialised output: eps_hat = 0), frame packing;
//   - configs/test/tiny_ddpm.yaml through model_create, and the loss of a
//     batch equal to the mean of the losses of its halves (same draws per
//     sample, so data-parallel ranks agree);
//   - EDM preconditioning: c_skip x + c_out UNet(c_in x) with the same weights;
//   - a short training run with a fixed seed: the loss falls, and DDIM
//     predictions on held-out clips beat copying the last context frame.
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include "cli/cli.h"
#include "core/kernel_mode.h"
#include "core/params.h"
#include "core/tape.h"
#include "diffusion/ddpm_loss.h"
#include "golden.h"
#include "harness.h"
#include "io/loader.h"
#include "io/sampler.h"
#include "io/source.h"
#include "models/tiny_ddpm.h"
#include "ops/ops.h"
#include "train/adamw.h"
#include "train/ema.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/model.h"

// ---------------------------------------------------------------- golden
// A variable-length string attribute (h5py's str) of /<group>.
static char *read_str_attr(const char *group, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/diffusion.h5", golden_dir());
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) vp_die("cannot open %s", path);
  hid_t a = H5Aopen_by_name(f, group, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) vp_die("%s: no attribute %s on /%s; regenerate the goldens", path, name, group);
  hid_t mt = H5Tcopy(H5T_C_S1);
  H5Tset_size(mt, H5T_VARIABLE);
  H5Tset_cset(mt, H5T_CSET_UTF8);
  char *s = NULL;
  if (H5Aread(a, mt, &s) < 0 || !s) vp_die("%s: cannot read attribute %s of /%s", path, name, group);
  char *out = vp_strdup(s);
  H5free_memory(s);
  H5Tclose(mt);
  H5Aclose(a);
  H5Fclose(f);
  return out;
}

static tiny_ddpm_cfg golden_cfg(golden *g, const char *cas) {
  tiny_ddpm_cfg c = {0};
  c.ctx_frames = (int)golden_attr_int(g, cas, "Tc");
  c.fut_frames = (int)golden_attr_int(g, cas, "K");
  c.channels = (int)golden_attr_int(g, cas, "C");
  c.width = (int)golden_attr_int(g, cas, "width");
  c.nlevels = (int)golden_attr_int(g, cas, "nlevels");
  for (int l = 0; l < c.nlevels; l++) {
    char key[16];
    snprintf(key, sizeof key, "mult%d", l);
    c.mult[l] = (int)golden_attr_int(g, cas, key);
  }
  c.num_res_blocks = (int)golden_attr_int(g, cas, "nrb");
  c.attn_levels = (unsigned)golden_attr_int(g, cas, "attn_mask");
  c.heads = (int)golden_attr_int(g, cas, "heads");
  c.groups = (int)golden_attr_int(g, cas, "groups");
  return c;
}

static void golden_case(golden *g, const char *cas) {
  tiny_ddpm_cfg c = golden_cfg(g, cas);
  vp_params p;
  params_init(&p);
  tiny_ddpm m;
  tiny_ddpm_declare(&m, &p, c);
  params_alloc(&p);
  // Names and sizes, in state_dict order.
  char *names = read_str_attr(cas, "param_names");
  int64_t nn;
  float *numel = golden_read(g, &nn, "%s/out/param_numel", cas);
  int ok = nn == p.n && (int64_t)p.numel == golden_attr_int(g, cas, "nparams");
  char *save = NULL, *tok = strtok_r(names, "\n", &save);
  for (int i = 0; ok && i < p.n; i++, tok = strtok_r(NULL, "\n", &save)) {
    ok &= tok && strcmp(tok, p.t[i]->name) == 0 && (int64_t)numel[i] == tensor_numel(p.t[i]);
    if (!ok) th_check(0, "%s: parameter %d is %s (%lld), PyTorch has %s (%lld)", cas, i, p.t[i]->name,
                      (long long)tensor_numel(p.t[i]), tok ? tok : "(none)", (long long)numel[i]);
  }
  th_check(ok && tok == NULL, "%s: %d parameters (%zu values) with ADM's state_dict names in order", cas, p.n, p.numel);
  free(names);
  free(numel);

  vp_schedule s;
  schedule_init_sqrt_linear(&s, (int)golden_attr_int(g, cas, "T"), 0.0015, 0.0195);
  int64_t np;
  float *flat = golden_read(g, &np, "%s/in/params", cas), *gp = golden_read(g, &np, "%s/grad/params", cas);
  VP_ASSERT(np == (int64_t)p.numel);
  for (int mode = 0; mode < 2; mode++) {
    kernel_mode_set_ref(mode);
    memcpy(p.data, flat, sizeof(float) * p.numel);
    params_zero_grad(&p);
    vp_ctx ctx;
    ctx_init(&ctx, 1 << 22);
    ctx_set_training(&ctx, 1);
    vp_tensor *x0 = golden_tensor(g, &ctx, "%s/in/x0", cas), *cond = golden_tensor(g, &ctx, "%s/in/cond", cas);
    vp_tensor *eps = golden_tensor(g, &ctx, "%s/in/eps", cas), *tf = golden_tensor(g, &ctx, "%s/in/t", cas);
    x0->requires_grad = cond->requires_grad = 1;
    const int64_t B = x0->shape[0];
    int32_t t[16];
    VP_ASSERT(B <= 16);
    for (int64_t b = 0; b < B; b++) t[b] = (int32_t)tf->data[b];
    vp_tensor *x_t = ddpm_q_sample(&ctx, &s, x0, eps, t);
    vp_tensor *loss = ddpm_loss(&ctx, tiny_ddpm_eps(&ctx, &m, &s, x_t, cond, tf->data), eps, VP_DDPM_MSE);
    int64_t n1;
    float *y = golden_read(g, &n1, "%s/out/y", cas), *gout = golden_read(g, &n1, "%s/gout/y", cas);
    char what[160];
    const char *mn = mode ? "ref" : "fast";
    snprintf(what, sizeof what, "%s [%s] loss", cas, mn);
    th_check_rel(what, loss->data, y, 1, 1e-5);
    tape_backward_from(&ctx, loss, gout);
    snprintf(what, sizeof what, "%s [%s] grad of every parameter", cas, mn);
    th_check_rel(what, p.grad, gp, np, 1e-4);
    const char *in_names[2] = {"x0", "cond"};
    vp_tensor *ins[2] = {x0, cond};
    for (int i = 0; i < 2; i++) {
      int64_t ng;
      float *gr = golden_read(g, &ng, "%s/grad/%s", cas, in_names[i]);
      snprintf(what, sizeof what, "%s [%s] grad %s", cas, mn, in_names[i]);
      VP_ASSERT(ng == tensor_numel(ins[i]));
      th_check_rel(what, ins[i]->grad, gr, ng, 1e-4);
      free(gr);
    }
    free(y);
    free(gout);
    ctx_free(&ctx);
  }
  kernel_mode_set_ref(0);
  free(flat);
  free(gp);
  schedule_free(&s);
  params_free(&p);
}

// ---------------------------------------------------------------- packing, init
static void test_frames(void) {
  // Two modalities (3 + 1 channels), 2 clips of 3 frames, 2 x 3 pixels;
  // value = code of (clip, frame, y, x, modality, channel).
  enum { N = 2, T = 3, H = 2, W = 3 };
  float rgb[N * T * H * W * 3], dep[N * T * H * W];
  for (int i = 0; i < N; i++)
    for (int t = 0; t < T; t++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          int px = ((i * T + t) * H + y) * W + x;
          for (int c = 0; c < 3; c++) rgb[px * 3 + c] = (float)(10000 * i + 1000 * t + 100 * y + 10 * x + c);
          dep[px] = (float)(10000 * i + 1000 * t + 100 * y + 10 * x + 5);
        }
  vp_batch b = {.n = N, .T = T, .H = H, .W = W, .nmod = 2, .channels = {3, 1}, .data = {rgb, dep}};
  float out[N * 2 * 4 * H * W];
  tiny_ddpm_frames(&b, 1, 2, out);  // frames 1 and 2 -> (N, 2*4, H, W)
  int ok = 1;
  for (int i = 0; i < N; i++)
    for (int t = 0; t < 2; t++)
      for (int c = 0; c < 4; c++)
        for (int y = 0; y < H; y++)
          for (int x = 0; x < W; x++) {
            float want = (float)(10000 * i + 1000 * (t + 1) + 100 * y + 10 * x + (c < 3 ? c : 5));
            ok &= out[(((i * 2 + t) * 4 + c) * H + y) * W + x] == want;
          }
  th_check(ok, "tiny_ddpm_frames: channel-last modalities -> frame-major channel-first stack");
}

static tiny_ddpm_cfg small_cfg(void) {
  return (tiny_ddpm_cfg){.ctx_frames = 2, .fut_frames = 2, .channels = 4, .width = 16, .nlevels = 2,
                         .mult = {1, 2}, .num_res_blocks = 1, .attn_levels = 2, .heads = 4, .groups = 8,
                         .residual = 1};
}

static void test_init(void) {
  vp_params p1, p2, p3;
  tiny_ddpm m1, m2, m3;
  params_init(&p1);
  params_init(&p2);
  params_init(&p3);
  tiny_ddpm_declare(&m1, &p1, small_cfg());
  tiny_ddpm_declare(&m2, &p2, small_cfg());
  tiny_ddpm_declare(&m3, &p3, small_cfg());
  params_alloc(&p1);
  params_alloc(&p2);
  params_alloc(&p3);
  tiny_ddpm_init(&m1, &p1, 5);
  tiny_ddpm_init(&m2, &p2, 5);
  tiny_ddpm_init(&m3, &p3, 6);
  th_check(memcmp(p1.data, p2.data, sizeof(float) * p1.numel) == 0, "tiny_ddpm_init: same seed, same weights");
  th_check(memcmp(p1.data, p3.data, sizeof(float) * p1.numel) != 0, "tiny_ddpm_init: another seed, other weights");
  th_check(strcmp(p1.t[0]->name, "time_embed.0.weight") == 0 && strcmp(p1.t[p1.n - 1]->name, "out.2.bias") == 0,
           "tiny_ddpm: names run from time_embed.0.weight to out.2.bias");
  // ADM zero-initialises the output conv: eps_hat starts at exactly 0.
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 22);
  vp_tensor *x = tensor_newv(&ctx, 4, (int64_t)2, (int64_t)8, (int64_t)8, (int64_t)8);
  vp_tensor *c = tensor_newv(&ctx, 4, (int64_t)2, (int64_t)8, (int64_t)8, (int64_t)8);
  th_fill_uniform(x->data, tensor_numel(x), 1, -1, 1);
  th_fill_uniform(c->data, tensor_numel(c), 2, -1, 1);
  float t[2] = {0, 999};
  vp_tensor *e = tiny_ddpm_eps(&ctx, &m1, NULL, x, c, t);
  int zero = e->shape[1] == 8 && tensor_numel(e) == tensor_numel(x);
  for (int64_t i = 0; i < tensor_numel(e); i++) zero &= e->data[i] == 0.f;
  th_check(zero, "tiny_ddpm: the initial eps prediction is 0 (zero-initialised out.2)");
  ctx_free(&ctx);
  params_free(&p1);
  params_free(&p2);
  params_free(&p3);
}

// ---------------------------------------------------------------- config, vp_model
// configs/test/tiny_ddpm.yaml of this source tree (CMake compiles with absolute paths).
static const char *config_path(void) {
  static char path[2048];
  const char *f = __FILE__, *at = strstr(f, "tests/unit/");
  VP_ASSERT(at != NULL);
  snprintf(path, sizeof path, "%.*sconfigs/test/tiny_ddpm.yaml", (int)(at - f), f);
  return path;
}

// The config file plus key=value overrides, bound to `vpcast train`'s table.
static vp_config *load_config(const char *const *over, int nover) {
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  cfg_load_yaml(cfg, config_path(), &err);
  cfg_set(cfg, "out", "/nonexistent/unused", NULL, 0);
  for (int i = 0; i < nover; i++) {
    char key[128];
    const char *eq = strchr(over[i], '=');
    VP_ASSERT(eq != NULL);
    snprintf(key, sizeof key, "%.*s", (int)(eq - over[i]), over[i]);
    cfg_set(cfg, key, eq + 1, NULL, 0);
  }
  cfg_bind(cfg, opts_train, &err);
  if (err.n == 0) train_options_check(cfg, &err);
  if (err.n) err_print(&err, stderr);
  th_check(err.n == 0, "%s binds to vpcast train's options (%d errors)", config_path(), err.n);
  return err.n ? NULL : cfg;
}

// The view of clips [k0, k0 + n) of a batch, as a batch.
static vp_batch batch_part(const vp_batch *b, int64_t k0, int64_t n) {
  vp_batch p = *b;
  const int64_t px = (int64_t)b->T * b->H * b->W;
  p.n = n;
  for (int m = 0; m < b->nmod; m++) {
    p.data[m] = b->data[m] + k0 * px * b->channels[m];
    p.mask[m] = b->mask[m] ? b->mask[m] + k0 * px : NULL;
  }
  p.clip = b->clip + k0;
  p.sample = b->sample + k0;
  return p;
}

static double loss_and_grad(vp_model *m, const vp_batch *b, uint64_t step, float scale) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 22);
  ctx_set_training(&ctx, 1);
  vp_model_batch mb = {.data = b, .step = step};
  vp_tensor *loss = m->forward_loss(m, &ctx, &mb);
  double l = loss->data[0];
  tape_backward_from(&ctx, loss, &scale);
  ctx_free(&ctx);
  return l;
}

static void test_model_interface(void) {
  vp_config *cfg = load_config(NULL, 0);
  if (!cfg) return;
  vp_source *src = source_open(cfg);
  vp_model *m = model_create(cfg, src);
  const tiny_ddpm *net = tiny_ddpm_model_net(m);
  th_check(strcmp(m->name, "tiny_ddpm") == 0 && m->seed == 1 && net->cfg.ctx_frames == 2 && net->cfg.fut_frames == 2 &&
               net->cfg.channels == 4 && net->cfg.width == 16 && net->cfg.residual == 1 &&
               tiny_ddpm_model_diffusion(m)->ddim.clip_x0 == 2.0,
           "model_create: tiny_ddpm from the config (2 + 2 frames of RGB + depth, width 16)");
  vp_sampler smp;
  sampler_init(&smp, source_count(src), 4, 0, 1, 1, 1);
  vp_loader *ld = loader_open(src, &smp, 4, 0);
  const vp_batch *b = loader_next(ld);
  vp_params *p = m->params;
  float *g_full = vp_malloc(sizeof(float) * p->numel);
  params_zero_grad(p);
  double full = loss_and_grad(m, b, 3, 1.f);
  memcpy(g_full, p->grad, sizeof(float) * p->numel);
  double again = loss_and_grad(m, b, 3, 0.f);
  th_check(full == again, "forward_loss: deterministic for the same batch and step (%.9g vs %.9g)", full, again);
  double other = loss_and_grad(m, b, 4, 0.f);
  th_check(full != other, "forward_loss: another step draws other timesteps and noise");
  th_check(full > 0 && full < 2, "forward_loss: initial loss %.4f in (0, 2)", full);
  // Halves with half the weight each sum to the full batch: each sample draws
  // its own t and eps, whichever rank or micro-batch holds it.
  params_zero_grad(p);
  vp_batch h0 = batch_part(b, 0, 2), h1 = batch_part(b, 2, 2);
  double l0 = loss_and_grad(m, &h0, 3, 0.5f), l1 = loss_and_grad(m, &h1, 3, 0.5f);
  th_check(fabs(0.5 * (l0 + l1) - full) <= 1e-6 * fabs(full), "forward_loss: full batch %.9g = mean of halves %.9g",
           full, 0.5 * (l0 + l1));
  th_check_rel("forward_loss: gradient of the batch = mean of the halves' gradients", p->grad, g_full,
               (int64_t)p->numel, 1e-5);
  params_zero_grad(p);
  free(g_full);
  loader_close(ld);
  sampler_free(&smp);
  model_free(m);
  source_close(src);
  cfg_free(cfg);
}

// ---------------------------------------------------------------- EDM preconditioning
// eps_hat(edm) = c_skip x + c_out eps_hat(plain)(c_in x), the same weights.
static void test_precond(void) {
  tiny_ddpm_cfg c = small_cfg();
  vp_params p1, p2;
  tiny_ddpm plain, edm;
  params_init(&p1);
  params_init(&p2);
  tiny_ddpm_declare(&plain, &p1, c);
  c.precond = TINY_DDPM_PRECOND_EDM;
  c.sigma_data = 0.3f;
  tiny_ddpm_declare(&edm, &p2, c);
  params_alloc(&p1);
  params_alloc(&p2);
  th_fill_uniform(p1.data, (int64_t)p1.numel, 9, -0.3f, 0.3f);  // the zero-init layers too
  memcpy(p2.data, p1.data, sizeof(float) * p1.numel);
  vp_schedule s;
  schedule_init_sqrt_linear(&s, 1000, 0.0015, 0.0195);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 22);
  const int64_t B = 3, n = 8 * 8 * 8;
  vp_tensor *x = tensor_newv(&ctx, 4, B, (int64_t)8, (int64_t)8, (int64_t)8);
  vp_tensor *cd = tensor_newv(&ctx, 4, B, (int64_t)8, (int64_t)8, (int64_t)8);
  th_fill_uniform(x->data, tensor_numel(x), 1, -1, 1);
  th_fill_uniform(cd->data, tensor_numel(cd), 2, -1, 1);
  float t[3] = {0, 400, 999};
  vp_tensor *e = tiny_ddpm_eps(&ctx, &edm, &s, x, cd, t);
  vp_tensor *xs = tensor_newv(&ctx, 4, B, (int64_t)8, (int64_t)8, (int64_t)8);
  float *want = vp_malloc(sizeof(float) * (size_t)(B * n));
  for (int64_t b = 0; b < B; b++) {
    double a = s.alphas_cumprod[(int)t[b]], v = 1 - a + a * 0.09;
    for (int64_t i = 0; i < n; i++) xs->data[b * n + i] = (float)(x->data[b * n + i] / sqrt(v));
  }
  vp_tensor *u = tiny_ddpm_eps(&ctx, &plain, NULL, xs, cd, t);
  for (int64_t b = 0; b < B; b++) {
    double a = s.alphas_cumprod[(int)t[b]], v = 1 - a + a * 0.09;
    for (int64_t i = 0; i < n; i++)
      want[b * n + i] = (float)(sqrt(1 - a) / v * x->data[b * n + i] - 0.3 * sqrt(a) / sqrt(v) * u->data[b * n + i]);
  }
  th_check_rel("EDM preconditioning: c_skip x + c_out UNet(c_in x)", e->data, want, B * n, 1e-5);
  free(want);
  ctx_free(&ctx);
  schedule_free(&s);
  params_free(&p1);
  params_free(&p2);
}

// ---------------------------------------------------------------- training
// Sanitizer builds (-O0, instrumented) run the kernels ~15x slower: there the
// training run is cut to its first SHORT_STEPS steps, which is enough for the
// memory checks; the quality claims are checked by the optimised build.
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#define SHORT_STEPS 60

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Mean eps loss over the first `nb` batches of 8 clips of a split, with the
// draws of step 0: the same t and noise whenever it is called.
static double split_loss(vp_model *m, const char *split, int nb) {
  vp_config *cfg = load_config((const char *[]){split}, 1);
  vp_source *src = source_open(cfg);
  vp_sampler smp;
  sampler_init(&smp, source_count(src), 8, 0, 1, m->seed, 0);
  vp_loader *ld = loader_open(src, &smp, 8, 0);
  vp_ctx ctx;
  ctx_init(&ctx, (size_t)16 << 20);
  ctx_set_training(&ctx, 0);
  double sum = 0;
  for (int i = 0; i < nb; i++) {
    vp_model_batch mb = {.data = loader_next(ld), .step = 0};
    sum += m->forward_loss(m, &ctx, &mb)->data[0];
    ctx_reset(&ctx);
  }
  ctx_free(&ctx);
  loader_close(ld);
  sampler_free(&smp);
  source_close(src);
  cfg_free(cfg);
  return sum / nb;
}

// configs/test/tiny_ddpm.yaml for train.steps steps, single process, with
// the trainer's recipe (AdamW, warm-up + cosine lr, clipping, EMA), then DDIM
// predictions for held-out clips (the synth test split) from the EMA weights.
static void test_training(void) {
  vp_config *cfg = load_config(NULL, 0);
  if (!cfg) return;
  // One thread: the run is the same on every machine, and at this size
  // spinning OpenMP workers on a busy machine cost more than they give.
  const int nthreads = omp_get_max_threads();
  omp_set_num_threads(1);
  const int steps = (int)cfg_int(cfg, "train.steps"), B = (int)cfg_int(cfg, "train.batch_size");
  const int warm = (int)cfg_int(cfg, "train.warmup_steps");
  const double lr = cfg_float(cfg, "train.lr"), eta_min = cfg_float(cfg, "train.eta_min");
  int nb = 0;
  const double *betas = cfg_float_list(cfg, "train.betas", &nb);
  vp_source *src = source_open(cfg);
  vp_model *m = model_create(cfg, src);
  vp_params *p = m->params;
  vp_sampler smp;
  sampler_init(&smp, source_count(src), B, 0, 1, m->seed, 1);
  vp_loader *ld = loader_open(src, &smp, B, 0);
  vp_adamw opt;
  adamw_init(&opt, p, betas[0], betas[1], cfg_float(cfg, "train.eps"), cfg_float(cfg, "train.weight_decay"));
  vp_ema ema;
  ema_init(&ema, p, cfg_float(cfg, "train.ema_decay"), cfg_bool(cfg, "train.ema_warmup"));
  vp_lr_schedule sched = lr_warmup_cosine(lr, warm, 0.0, steps - warm, eta_min);
  const double held0 = split_loss(m, "data.split=val", 4);
  vp_ctx ctx;
  ctx_init(&ctx, (size_t)16 << 20);
  double t0 = now_s(), first = 0, last = 0;
  const int run = SANITIZED ? SHORT_STEPS : steps, win = SANITIZED ? 10 : 50;
  int finite = 1;
  for (int step = 0; step < run; step++) {
    vp_model_batch mb = {.data = loader_next(ld), .step = (uint64_t)step};
    ctx_set_training(&ctx, 1);
    vp_tensor *loss = m->forward_loss(m, &ctx, &mb);
    tape_backward(&ctx, loss);
    vp_clip_result cr = grad_clip_params(p, cfg_float(cfg, "train.grad_clip"));
    finite &= cr.finite && isfinite(loss->data[0]);
    if (cr.finite) adamw_step(&opt, p, lr_at(&sched, step));
    params_zero_grad(p);
    ema_update(&ema, p);
    if (step < win) first += loss->data[0] / win;
    if (step >= run - win) last += loss->data[0] / win;
    ctx_reset(&ctx);
  }
  double train_s = now_s() - t0;
  th_check(finite, "training: every loss and gradient finite");
  const double held1 = split_loss(m, "data.split=val", 4);
  if (SANITIZED) {
    th_check(held1 < held0, "training (sanitizer build, %d steps): the validation loss falls from %.4f to %.4f", run,
             held0, held1);
  } else {
    th_check(last < first, "training: the loss falls (mean of the first %d steps %.4f, of the last %d %.4f)", win,
             first, win, last);
    th_check(held1 < 0.8 * held0, "training: the loss on 32 validation clips (fixed draws) falls from %.4f to %.4f",
             held0, held1);
  }
  loader_close(ld);
  sampler_free(&smp);

  // Held-out clips: the test split, which shares no clip with training.
  vp_config *tcfg = load_config((const char *[]){"data.split=test", "data.synth.clips=64"}, 2);
  vp_source *tsrc = source_open(tcfg);
  const int64_t NT = source_count(tsrc), EB = 8;
  vp_sampler tsmp;
  sampler_init(&tsmp, NT, EB, 0, 1, m->seed, 0);
  vp_loader *tld = loader_open(tsrc, &tsmp, EB, 0);
  ema_swap(&ema, p);
  const tiny_ddpm *net = tiny_ddpm_model_net(m);
  const vp_diffusion *d = tiny_ddpm_model_diffusion(m);
  const int Tc = net->cfg.ctx_frames, K = net->cfg.fut_frames, H = tsrc->H, W = tsrc->W;
  const int64_t F = (int64_t)net->cfg.channels * H * W;
  float *cond = vp_malloc(sizeof(float) * (size_t)(EB * Tc * F)), *truth = vp_malloc(sizeof(float) * (size_t)(EB * K * F));
  float *pred = vp_malloc(sizeof(float) * (size_t)(EB * K * F));
  double mse = 0, copy = 0, t1 = now_s();
  for (int64_t done = 0; done < NT; done += EB) {
    const vp_batch *b = loader_next(tld);
    tiny_ddpm_frames(b, 0, Tc, cond);
    tiny_ddpm_frames(b, Tc, K, truth);
    tiny_ddpm_sample(&ctx, net, d, cond, b->n, H, W, b->clip, m->seed, pred);
    for (int64_t i = 0; i < b->n; i++)
      for (int k = 0; k < K; k++)
        for (int64_t j = 0; j < F; j++) {
          double tr = truth[(i * K + k) * F + j];
          double e = pred[(i * K + k) * F + j] - tr, c = cond[(i * Tc + Tc - 1) * F + j] - tr;
          mse += e * e;
          copy += c * c;
        }
  }
  mse /= (double)NT * K * F;
  copy /= (double)NT * K * F;
  double sample_s = now_s() - t1;
  if (!SANITIZED)
    th_check(mse < copy, "DDIM predictions (%d steps, eta %g) beat copying the last frame on %lld held-out clips: "
             "MSE %.5f vs %.5f", d->ddim.steps, d->ddim.eta, (long long)NT, mse, copy);
  printf("tiny_ddpm: %d steps in %.1f s (%.1f ms/step), training loss %.4f -> %.4f, validation loss %.4f -> %.4f; "
         "held-out MSE ([-1, 1] scale) %.5f, copy-last %.5f (ratio %.3f); sampling %.1f s\n",
         run, train_s, 1e3 * train_s / run, first, last, held0, held1, mse, copy, mse / copy, sample_s);
  if (SANITIZED) printf("sanitizer build: %d of %d steps, the comparison with copy-last is left to the optimised build\n",
                        run, steps);
  free(cond);
  free(truth);
  free(pred);
  loader_close(tld);
  sampler_free(&tsmp);
  source_close(tsrc);
  cfg_free(tcfg);
  ctx_free(&ctx);
  ema_free(&ema);
  adamw_free(&opt);
  model_free(m);
  source_close(src);
  cfg_free(cfg);
  omp_set_num_threads(nthreads);
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

static void create_with(const char *const *over, int n) {
  vp_config *cfg = load_config(over, n);
  if (!cfg) _exit(3);
  vp_source *src = source_open(cfg);
  model_create(cfg, src);
}
static void bad_context(void) { create_with((const char *[]){"model.tiny_ddpm.context_frames=4"}, 1); }
static void bad_name(void) { create_with((const char *[]){"model.name=tri_unett"}, 1); }
static void bad_size(void) { create_with((const char *[]){"data.size=[15, 16]"}, 1); }
static void bad_groups(void) { create_with((const char *[]){"model.tiny_ddpm.groups=7"}, 1); }
static void bad_attn(void) { create_with((const char *[]){"model.tiny_ddpm.attn_levels=[2]"}, 1); }
static void bad_batch(void) {
  vp_config *cfg = load_config((const char *[]){"data.frames=5"}, 1);
  vp_source *src = source_open(cfg);
  vp_config *cfg4 = load_config(NULL, 0);
  vp_source *src4 = source_open(cfg4);
  vp_model *m = model_create(cfg4, src4);  // built for 4 frames
  vp_sampler smp;
  sampler_init(&smp, source_count(src), 2, 0, 1, 1, 0);
  vp_loader *ld = loader_open(src, &smp, 2, 0);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  vp_model_batch mb = {.data = loader_next(ld), .step = 0};
  m->forward_loss(m, &ctx, &mb);
}

static void test_bad_input(void) {
  expect_die("no frame left to predict", bad_context, "model.tiny_ddpm.context_frames = 4");
  expect_die("unknown model", bad_name, "model.name = tri_unett (command line): no such model");
  expect_die("odd frame size", bad_size, "needs multiples of 2");
  expect_die("groups do not divide the channels", bad_groups, "not divisible into 7 GroupNorm groups");
  expect_die("attention at a missing level", bad_attn, "names level 2, but model.channel_mult has 2 levels");
  expect_die("batch of the wrong shape", bad_batch, "a batch of 5 frames x 4 channels");
}

// Runs one part and reports its time (the training run dominates).
static void timed(const char *name, void (*fn)(void)) {
  double t0 = now_s();
  fn();
  printf("  %-24s %.1f s\n", name, now_s() - t0);
  fflush(stdout);
}

static void test_goldens(void) {
  golden *g = golden_open("diffusion");
  golden_case(g, "tiny_ddpm_2lvl");
  golden_case(g, "tiny_ddpm_3lvl_nrb2");
  golden_close(g);
}

int main(void) {
  // First, while no OpenMP or BLAS thread pool exists yet (the death tests fork).
  timed("bad input", test_bad_input);
  timed("PyTorch goldens", test_goldens);
  timed("frames, init", test_frames);
  test_init();
  timed("EDM preconditioning", test_precond);
  timed("model interface", test_model_interface);
  timed("training", test_training);
  return th_summary();
}
