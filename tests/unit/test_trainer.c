// test_trainer.c: the training loop on one rank, in-process, on the small
// conditional DDPM (model.name = tiny_ddpm, synthetic RGB-D clips, 8x8):
//   - the learning-rate schedules (warm-up, cosine and linear decay to
//     eta_min at the last step);
//   - gradient accumulation: 1, 2 and 3 micro-steps per step give the same
//     parameters (1e-5 relative) and the loss falls;
//   - exact resume: 8 steps straight == 4 + resume + 4, bit for bit
//     (params, EMA, AdamW moments, state); log.jsonl reads as one run;
//   - preemption: SIGUSR1 raised inside step 3 -> status 42 at step 3 with a
//     checkpoint; resuming finishes bit-identical to an uninterrupted run;
//   - the NaN guard: poisoned steps are skipped (no update, counted in the
//     checkpoint state), and K poisoned steps in a row end the run (status 1);
//   - retention (newest K + every M-th), refusals (--resume never over an
//     existing run, another global batch, a missing file, a batch size that
//     the micro-steps do not divide).
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "ckpt/ckpt_dir.h"
#include "cli/cli.h"
#include "core/check.h"
#include "dist/comm.h"
#include "harness.h"
#include "ops/elem.h"
#include "train/model.h"
#include "train/trainer.h"

static char g_dir[256];
static vp_comm g_comm;

static char *path_of(const char *name) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
  return vp_strdup(buf);
}

// A bound config: the small model, plus key=value pairs (NULL-terminated).
static vp_config *make_cfg(const char *out, ...) {
  static const char *base[] = {
      "data.source=synth", "data.frames=3", "data.size=[8, 8]", "data.modalities=[rgb, depth]",
      "data.synth.clips=40", "data.prefetch=1", "model.name=tiny_ddpm", "model.channels=8",
      "model.channel_mult=[1, 2]", "model.tiny_ddpm.context_frames=2", "model.tiny_ddpm.attn_levels=[1]",
      "model.tiny_ddpm.heads=2", "model.tiny_ddpm.groups=4", "diffusion.timesteps=50", "diffusion.sample_steps=10", "train.batch_size=6",
      "train.lr=2e-3", "train.warmup_steps=1", "train.ema_decay=0.9", "train.log_every=2", "train.ckpt_every=4",
      "seed=5", NULL};
  vp_config *cfg = cfg_new();
  for (int i = 0; base[i]; i++) {
    char k[128];
    const char *eq = strchr(base[i], '=');
    snprintf(k, sizeof k, "%.*s", (int)(eq - base[i]), base[i]);
    cfg_set(cfg, k, eq + 1, NULL, 0);
  }
  cfg_set(cfg, "out", out, NULL, 0);
  va_list ap;
  va_start(ap, out);
  const char *kv;
  while ((kv = va_arg(ap, const char *)) != NULL) {
    char k[128];
    const char *eq = strchr(kv, '=');
    snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
    cfg_set(cfg, k, eq + 1, NULL, 0);
  }
  va_end(ap);
  vp_err err;
  err_init(&err);
  if (cfg_bind(cfg, opts_train, &err)) {
    err_print(&err, stderr);
    vp_die("test config does not bind");
  }
  return cfg;
}

// ---- a model wrapper that injects faults into forward_loss

typedef struct faulty {
  vp_model *inner;
  int64_t nan_from, nan_to;  // steps [from, to) get a NaN loss
  int64_t signal_at;         // raise SIGUSR1 in this step (-1: never)
} faulty;

static vp_tensor *faulty_loss(vp_model *m, vp_ctx *ctx, const vp_model_batch *b) {
  faulty *f = m->impl;
  vp_tensor *loss = f->inner->forward_loss(f->inner, ctx, b);
  if ((int64_t)b->step == f->signal_at) raise(SIGUSR1);
  if ((int64_t)b->step >= f->nan_from && (int64_t)b->step < f->nan_to) loss = op_scale(ctx, loss, NAN);
  return loss;
}

static void faulty_free(vp_model *m) { (void)m; }

typedef struct run {
  vp_train_result res;
  float *params;  // final parameters (malloc'd copy)
  size_t numel;
} run;

// Trains with cfg; faults as given (nan_from == nan_to: none).
static run train(vp_config *cfg, int64_t nan_from, int64_t nan_to, int64_t signal_at) {
  vp_source *src = source_open(cfg);
  vp_model *inner = model_create(cfg, src);
  faulty f = {inner, nan_from, nan_to, signal_at};
  vp_model wrap = *inner;
  wrap.impl = &f;
  wrap.forward_loss = faulty_loss;
  wrap.free = faulty_free;
  run r;
  r.res = trainer_run(cfg, &g_comm, &wrap, src);
  r.numel = inner->params->numel;
  r.params = vp_malloc(r.numel * sizeof(float));
  memcpy(r.params, inner->params->data, r.numel * sizeof(float));
  model_free(inner);
  source_close(src);
  return r;
}

static int files_equal(const char *a, const char *b) {
  // Tensors and state through the checkpoint reader (HDF5 files themselves
  // may differ in internal addresses, never in content).
  char why[512];
  vp_ckpt_file *fa = ckpt_open(a, why, sizeof why), *fb = ckpt_open(b, why, sizeof why);
  if (!fa || !fb) {
    ckpt_close(fa);
    ckpt_close(fb);
    return 0;
  }
  int same = 1;
  const char *groups[] = {"params", "ema", "optim/m", "optim/v"};
  for (int g = 0; g < 4 && same; g++) {
    int na = 0, nb = 0;
    char **an = ckpt_names(fa, groups[g], &na), **bn = ckpt_names(fb, groups[g], &nb);
    same = na == nb && na > 0;
    for (int i = 0; same && i < na; i++) {
      int da, db;
      int64_t sa[8], sb[8];
      float *xa = NULL, *xb = NULL;
      same = strcmp(an[i], bn[i]) == 0 && ckpt_read_dataset(fa, groups[g], an[i], &da, sa, &xa, NULL, why, sizeof why) == 0 &&
             ckpt_read_dataset(fb, groups[g], bn[i], &db, sb, &xb, NULL, why, sizeof why) == 0 && da == db;
      int64_t n = 1;
      for (int d = 0; same && d < da; d++) same = sa[d] == sb[d], n *= sa[d];
      if (same) same = memcmp(xa, xb, (size_t)n * sizeof(float)) == 0;
      free(xa);
      free(xb);
    }
    ckpt_names_free(an, na);
    ckpt_names_free(bn, nb);
  }
  ckpt_close(fa);
  ckpt_close(fb);
  vp_ckpt_meta ma, mb;
  vp_ckpt_state s1, s2;
  ckpt_read_header(a, &ma, &s1);
  ckpt_read_header(b, &mb, &s2);
  same = same && ma.step == mb.step && memcmp(&s1, &s2, sizeof s1) == 0;
  ckpt_meta_free(&ma);
  ckpt_meta_free(&mb);
  return same;
}

// ---------------------------------------------------------------- tests

static void test_lr(void) {
  char *out = path_of("lr");
  vp_config *c = make_cfg(out, "train.steps=100", "train.lr=1.0", "train.warmup_steps=10", "train.eta_min=0.1",
                          "train.lr_schedule=cosine", NULL);
  th_check(trainer_lr(c, 0) == 0.0 && fabs(trainer_lr(c, 5) - 0.5) < 1e-12 && trainer_lr(c, 10) == 1.0,
           "warm-up from 0 to lr");
  th_check(fabs(trainer_lr(c, 55) - 0.55) < 1e-12 && fabs(trainer_lr(c, 100) - 0.1) < 1e-12 &&
               fabs(trainer_lr(c, 150) - 0.1) < 1e-12,
           "cosine: half way 0.55, eta_min at the last step and after (%g %g)", trainer_lr(c, 55), trainer_lr(c, 100));
  cfg_free(c);
  c = make_cfg(out, "train.steps=100", "train.lr=1.0", "train.warmup_steps=10", "train.eta_min=0.1",
               "train.lr_schedule=warmup_linear", NULL);
  th_check(fabs(trainer_lr(c, 55) - 0.55) < 1e-12 && fabs(trainer_lr(c, 100) - 0.1) < 1e-12 &&
               fabs(trainer_lr(c, 3) - 0.3) < 1e-12,
           "warmup_linear");
  cfg_free(c);
  c = make_cfg(out, "train.steps=100", "train.lr=0.5", "train.lr_schedule=constant", "train.warmup_steps=0", NULL);
  th_check(trainer_lr(c, 0) == 0.5 && trainer_lr(c, 99) == 0.5, "constant without warm-up");
  cfg_free(c);
  free(out);
}

static void test_accumulation(void) {
  char *o1 = path_of("acc1"), *o2 = path_of("acc2"), *o3 = path_of("acc3");
  vp_config *c1 = make_cfg(o1, "train.steps=6", "train.grad_accum=1", NULL);
  vp_config *c2 = make_cfg(o2, "train.steps=6", "train.grad_accum=2", NULL);
  vp_config *c3 = make_cfg(o3, "train.steps=6", "train.grad_accum=3", NULL);
  run r1 = train(c1, 0, 0, -1), r2 = train(c2, 0, 0, -1), r3 = train(c3, 0, 0, -1);
  th_check(r1.res.status == 0 && r1.res.step == 6 && r2.res.status == 0 && r3.res.status == 0, "runs finish");
  th_check_rel("2 micro-steps == 1", r2.params, r1.params, (int64_t)r1.numel, 1e-5);
  th_check_rel("3 micro-steps == 1", r3.params, r1.params, (int64_t)r1.numel, 1e-5);
  // The log: loss falls from the first record to the last.
  char log[1100];
  snprintf(log, sizeof log, "%s/log.jsonl", o1);
  FILE *f = fopen(log, "r");
  char line[1024];
  double first = NAN, last = NAN;
  int records = 0;
  while (f && fgets(line, sizeof line, f)) {
    char *p = strstr(line, "\"loss\": ");
    if (!p) continue;
    double l = strtod(p + 8, NULL);
    if (isnan(first)) first = l;
    last = l;
    records++;
  }
  if (f) fclose(f);
  th_check(records == 3 && last < first, "log.jsonl: %d loss records, %g -> %g", records, first, last);
  free(r1.params);
  free(r2.params);
  free(r3.params);
  cfg_free(c1);
  cfg_free(c2);
  cfg_free(c3);
  free(o1);
  free(o2);
  free(o3);
}

static void test_resume_and_preempt(void) {
  char *oa = path_of("straight"), *ob = path_of("resumed"), *oc = path_of("preempted");
  vp_config *ca = make_cfg(oa, "train.steps=8", NULL);
  run a = train(ca, 0, 0, -1);
  th_check(a.res.status == 0 && a.res.step == 8, "straight run: status %d step %" PRId64, a.res.status, a.res.step);

  vp_config *cb1 = make_cfg(ob, "train.steps=4", NULL);
  run b1 = train(cb1, 0, 0, -1);
  vp_config *cb2 = make_cfg(ob, "train.steps=8", NULL);
  run b2 = train(cb2, 0, 0, -1);
  th_check(b1.res.step == 4 && b2.res.start_step == 4 && b2.res.step == 8, "4 + resume + 4 (started at %" PRId64 ")",
           b2.res.start_step);
  th_check(memcmp(a.params, b2.params, a.numel * sizeof(float)) == 0, "resumed params bit-identical");
  th_check(files_equal(a.res.ckpt, b2.res.ckpt), "resumed checkpoint bit-identical (params, EMA, moments, state)");
  // The resumed log holds each step once.
  char log[1100];
  snprintf(log, sizeof log, "%s/log.jsonl", ob);
  FILE *f = fopen(log, "r");
  char line[1024];
  int64_t prev = 0;
  int ordered = 1, steps = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "{\"step\": ", 9) != 0) continue;
    int64_t s = strtoll(line + 9, NULL, 10);
    ordered &= s > prev;
    prev = s;
    steps++;
  }
  if (f) fclose(f);
  th_check(ordered && steps == 4 && prev == 8, "resumed log.jsonl: %d step records in order", steps);

  // Preempted inside step 3 (0-based step index 2): the step completes,
  // a checkpoint is written, status 42.
  vp_config *cc = make_cfg(oc, "train.steps=8", NULL);
  run c1 = train(cc, 0, 0, 2);
  th_check(c1.res.status == 42 && c1.res.step == 3, "preempted: status %d at step %" PRId64, c1.res.status,
           c1.res.step);
  char dir[1100], latest[2048];
  snprintf(dir, sizeof dir, "%s/ckpt", oc);
  th_check(ckpt_dir_latest(dir, latest, sizeof latest) && ckpt_step_of_name(latest) == 3, "LATEST is step 3");
  run c2 = train(cc, 0, 0, -1);
  th_check(c2.res.status == 0 && c2.res.start_step == 3 && c2.res.step == 8, "resume after preemption");
  th_check(files_equal(a.res.ckpt, c2.res.ckpt), "preempted + resumed == straight, bit for bit");

  // Refusals (rank 0 prints why; status 2).
  vp_config *cn = make_cfg(oa, "train.steps=8", "resume=never", NULL);
  run n = train(cn, 0, 0, -1);
  th_check(n.res.status == 2, "--resume never over an existing run refused (%d)", n.res.status);
  vp_config *cg = make_cfg(oa, "train.steps=10", "train.batch_size=4", NULL);
  run g = train(cg, 0, 0, -1);
  th_check(g.res.status == 2, "another global batch refused (%d)", g.res.status);
  vp_config *cm = make_cfg(oa, "train.steps=10", "resume=/nonexistent/step_00000001.h5", NULL);
  run m = train(cm, 0, 0, -1);
  th_check(m.res.status == 2, "a missing checkpoint refused (%d)", m.res.status);
  vp_config *cd = make_cfg(oa, "train.steps=10", "train.batch_size=6", "train.grad_accum=4", NULL);
  run d = train(cd, 0, 0, -1);
  th_check(d.res.status == 2, "batch 6 with 4 micro-steps refused (%d)", d.res.status);
  // Already done: nothing to train, status 0.
  run done = train(ca, 0, 0, -1);
  th_check(done.res.status == 0 && done.res.start_step == 8 && done.res.step == 8, "finished run: nothing to do");

  run *all[] = {&a, &b1, &b2, &c1, &c2, &n, &g, &m, &d, &done};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->params);
  vp_config *cfgs[] = {ca, cb1, cb2, cc, cn, cg, cm, cd};
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) cfg_free(cfgs[i]);
  free(oa);
  free(ob);
  free(oc);
}

static void test_nan_guard(void) {
  char *o = path_of("nan"), *o2 = path_of("nan_abort");
  // Steps 2 and 3 (0-based) have NaN losses: skipped, counted.
  vp_config *c = make_cfg(o, "train.steps=6", "train.ckpt_every=100", NULL);
  run r = train(c, 2, 4, -1);
  th_check(r.res.status == 0 && r.res.step == 6 && r.res.skipped == 2, "2 steps skipped (status %d, skipped %" PRId64 ")",
           r.res.status, r.res.skipped);
  int finite = 1;
  for (size_t i = 0; i < r.numel; i++) finite &= isfinite(r.params[i]);
  th_check(finite, "parameters stay finite");
  vp_ckpt_meta m;
  vp_ckpt_state s;
  ckpt_read_header(r.res.ckpt, &m, &s);
  th_check(s.nan_skipped == 2 && s.nan_in_row == 0 && s.optim_t == 4 && s.ema_updates == 4 && s.lr_step == 6,
           "state: skipped %" PRId64 ", AdamW t %" PRId64 ", ema %" PRId64, s.nan_skipped, s.optim_t, s.ema_updates);
  ckpt_meta_free(&m);
  // Every step from 1 on poisoned, limit 3: the run ends at step 4.
  vp_config *c2 = make_cfg(o2, "train.steps=10", "train.nan_limit=3", NULL);
  run r2 = train(c2, 1, 100, -1);
  th_check(r2.res.status == 1 && r2.res.step == 4 && r2.res.skipped == 3, "3 in a row end the run (status %d at step %" PRId64 ")",
           r2.res.status, r2.res.step);
  free(r.params);
  free(r2.params);
  cfg_free(c);
  cfg_free(c2);
  free(o);
  free(o2);
}

static void test_retention(void) {
  char *o = path_of("keep");
  vp_config *c = make_cfg(o, "train.steps=7", "train.ckpt_every=1", "train.ckpt_keep=2", "train.ckpt_keep_every=3",
                          "train.ema_decay=0", NULL);
  run r = train(c, 0, 0, -1);
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/ckpt", o);
  int n = 0;
  int64_t *steps = ckpt_dir_list(dir, &n);
  th_check(r.res.status == 0 && n == 3 && steps[0] == 3 && steps[1] == 6 && steps[2] == 7,
           "kept steps 3, 6, 7 (%d files)", n);
  int64_t t, numel;
  th_check(ckpt_verify(r.res.ckpt, stderr, &t, &numel) == 0 && numel == (int64_t)r.numel, "final checkpoint complete (no EMA)");
  free(steps);
  free(r.params);
  cfg_free(c);
  free(o);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/vpcast-test-trainer.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_dir)) vp_die("mkdtemp %s: %s", g_dir, strerror(errno));
  comm_init(&g_comm, NULL, NULL);
  // One thread: on a busy shared machine (CI, other tests running) spinning
  // OpenMP / OpenBLAS teams stall for seconds; nothing here depends on the
  // thread count.
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
  test_lr();
  test_accumulation();
  test_resume_and_preempt();
  test_nan_guard();
  test_retention();
  comm_finalize(&g_comm);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) vp_warn("could not remove %s", g_dir);
  return th_summary();
}
