// trainer.c: the data-parallel training loop (see trainer.h).
#include "train/trainer.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "ckpt/ckpt_dir.h"
#include "core/check.h"
#include "core/tape.h"
#include "dist/allreduce.h"
#include "dist/failure.h"
#include "io/crc32c.h"
#include "io/loader.h"
#include "io/sampler.h"
#include "train/adamw.h"
#include "train/ema.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/preempt.h"

#define PATH_LEN 4096

typedef struct trainer {
  const vp_config *cfg;
  const vp_comm *comm;
  vp_model *model;
  vp_params *p;
  vp_source *src;
  vp_sampler smp;
  vp_loader *ld;
  vp_ctx ctx;
  vp_adamw opt;
  vp_ema ema;
  int has_ema;
  vp_allreduce *ar;
  char *config_text;           // effective config (YAML), stored in checkpoints
  int64_t G, A, micro, total;  // global batch, micro-steps, clips per micro-batch, train.steps
  int64_t step, start_step;
  int64_t nan_in_row, nan_skipped, nan_limit, skipped_run;
  double max_norm, timeout, ckpt_timeout;
  char out[PATH_LEN], dir[PATH_LEN], log_path[PATH_LEN];
  FILE *log;                   // rank 0
  int lock_fd;
  // progress since the last log line
  double loss_sum;             // sum of micro-batch mean losses, this rank
  int64_t loss_n;
  double gnorm_sum;
  int64_t gnorm_n, clipped, skipped_iv;
  double t_prev, ckpt_s_iv;
  int64_t step_prev;
  int have_prev;
  double first_step_s, last_loss;
  char last_ckpt[PATH_LEN];
  int64_t last_ckpt_step;
} trainer;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------- learning rate

double trainer_lr(const vp_config *cfg, int64_t step) {
  const double L = cfg_float(cfg, "train.lr"), eta = cfg_float(cfg, "train.eta_min");
  const int64_t W = cfg_int(cfg, "train.warmup_steps"), N = cfg_int(cfg, "train.steps");
  const char *kind = cfg_str(cfg, "train.lr_schedule");
  vp_lr_schedule s;
  if (strcmp(kind, "cosine") == 0) {
    s = W > 0 ? lr_warmup_cosine(L, W, 0.0, N - W > 0 ? N - W : 1, eta) : lr_cosine(L, N, eta);
    s.hold_after = 1;
    return lr_at(&s, step);
  }
  if (strcmp(kind, "warmup_linear") == 0) {
    if (step < W) {
      s = lr_warmup(L, W, 0.0);
      return lr_at(&s, step);
    }
    const double frac = N > W ? fmin(1.0, (double)(step - W) / (double)(N - W)) : 1.0;
    return L + (eta - L) * frac;
  }
  s = W > 0 ? lr_warmup(L, W, 0.0) : lr_constant(L);
  return lr_at(&s, step);
}

// ---------------------------------------------------------------- small helpers

static const char *signal_name(int sig) {
  switch (sig) {
    case SIGUSR1: return "SIGUSR1";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

static void fmt_duration(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0) s = 0;
  long long t = (long long)(s + 0.5);
  snprintf(buf, n, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
}

// JSON number: shortest round-trip form is overkill for a log; 9 digits
// read back as the same float. Non-finite -> null.
static void json_num(FILE *f, const char *key, double x) {
  if (isfinite(x))
    fprintf(f, ", \"%s\": %.9g", key, x);
  else
    fprintf(f, ", \"%s\": null", key);
}

static void json_str(FILE *f, const char *key, const char *s) {
  fprintf(f, ", \"%s\": \"", key);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void log_flush(trainer *T) {
  if (fflush(T->log) != 0) vp_die("writing '%s' failed: %s", T->log_path, strerror(errno));
}

// Step of a log.jsonl record, or -1.
static int64_t record_step(const char *line) {
  const char *p = strstr(line, "\"step\": ");
  return p ? strtoll(p + 8, NULL, 10) : -1;
}

// On resume, records past the checkpoint's step belong to steps that will
// be trained again: drop them, so the log reads as one uninterrupted run.
// The file is rewritten through a temporary file and a rename.
static void log_truncate_after(const char *path, int64_t step) {
  FILE *in = fopen(path, "r");
  if (!in) return;
  char tmp[PATH_LEN + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *out = fopen(tmp, "w");
  if (!out) vp_die("cannot write '%s': %s", tmp, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, in)) > 0) {
    int64_t s = record_step(line);
    if (s > step) continue;
    if (fwrite(line, 1, (size_t)len, out) != (size_t)len) vp_die("writing '%s' failed: %s", tmp, strerror(errno));
  }
  free(line);
  fclose(in);
  if (fclose(out) != 0) vp_die("writing '%s' failed: %s", tmp, strerror(errno));
  if (rename(tmp, path) != 0) vp_die("renaming '%s' failed: %s", tmp, strerror(errno));
}

// "a.b: value" lines of a YAML text written by cfg_dump_yaml (nested
// mappings, two-space indent), for telling the user what changed.
static char **yaml_flatten(const char *text, int *n) {
  char **out = NULL;
  int cap = 0;
  *n = 0;
  char path[16][128];
  int indent[16], depth = 0;
  const char *p = text;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), p);
    p += len + (e ? 1 : 0);
    int ind = 0;
    while (line[ind] == ' ') ind++;
    if (!line[ind] || line[ind] == '#') continue;
    char *colon = strchr(line + ind, ':');
    if (!colon) continue;
    while (depth > 0 && indent[depth - 1] >= ind) depth--;
    *colon = 0;
    const char *val = colon + 1;
    while (*val == ' ') val++;
    if (!*val) {  // a parent mapping
      if (depth < 16) {
        snprintf(path[depth], sizeof path[depth], "%s", line + ind);
        indent[depth++] = ind;
      }
      continue;
    }
    char full[1536] = "";
    for (int d = 0; d < depth; d++) {
      strncat(full, path[d], sizeof full - strlen(full) - 1);
      strncat(full, ".", sizeof full - strlen(full) - 1);
    }
    strncat(full, line + ind, sizeof full - strlen(full) - 1);
    strncat(full, ": ", sizeof full - strlen(full) - 1);
    strncat(full, val, sizeof full - strlen(full) - 1);
    if (*n == cap) out = vp_realloc(out, (size_t)(cap = cap ? 2 * cap : 64) * sizeof(char *));
    out[(*n)++] = vp_strdup(full);
  }
  return out;
}

static int line_in(char **lines, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (strcmp(lines[i], s) == 0) return 1;
  return 0;
}

// Warns (rank 0) about config keys whose values differ from the checkpoint's.
static void warn_config_changes(const char *saved, const char *now, const char *path) {
  int na = 0, nb = 0;
  char **a = yaml_flatten(saved, &na), **b = yaml_flatten(now, &nb);
  int shown = 0;
  for (int i = 0; i < nb; i++) {
    if (line_in(a, na, b[i])) continue;
    const char *key_end = strstr(b[i], ": ");
    size_t klen = key_end ? (size_t)(key_end - b[i]) : strlen(b[i]);
    const char *old = "(not set)";
    for (int k = 0; k < na; k++)
      if (strncmp(a[k], b[i], klen) == 0 && strncmp(a[k] + klen, ": ", 2) == 0) old = a[k] + klen + 2;
    if (!shown++) vp_warn("the config differs from the one checkpoint '%s' was trained with:", path);
    fprintf(stderr, "vpcast:   %.*s: %s -> %s\n", (int)klen, b[i], old, key_end ? key_end + 2 : "");
  }
  for (int i = 0; i < na; i++) free(a[i]);
  for (int i = 0; i < nb; i++) free(b[i]);
  free(a);
  free(b);
}

// ---------------------------------------------------------------- rank agreement

// Every rank must hold the same parameters and optimizer state (same
// gradients, same arithmetic). A CRC of each buffer, all-gathered, proves
// it before a checkpoint captures rank 0's copy as everyone's.
static void check_ranks_agree(trainer *T, const char *when) {
  if (T->comm->size == 1) return;
  const size_t bytes = T->p->numel * sizeof(float);
  int64_t mine[4] = {crc32c(T->p->data, bytes), crc32c(T->opt.m, bytes), crc32c(T->opt.v, bytes),
                     T->has_ema ? crc32c(T->ema.shadow, bytes) : 0};
  int64_t *all = vp_malloc((size_t)T->comm->size * 4 * sizeof(int64_t));
  comm_allgather_i64(T->comm, mine, 4, all);
  static const char *what[4] = {"parameters", "AdamW first moments", "AdamW second moments", "EMA weights"};
  for (int r = 1; r < T->comm->size; r++)
    for (int k = 0; k < 4; k++)
      if (all[4 * r + k] != all[k]) {
        if (T->comm->rank == 0)
          fprintf(stderr,
                  "vpcast: error: the ranks diverged %s step %" PRId64 ": the %s of rank %d differ from rank "
                  "0's (crc32c %08llx vs %08llx); every rank must run the same vpcast build, config and "
                  "data (please report this if they do)\n",
                  when, T->step, what[k], r, (unsigned long long)all[4 * r + k], (unsigned long long)all[k]);
        fflush(stderr);
        free(all);
        comm_abort(T->comm, 1);
      }
  free(all);
}

// ---------------------------------------------------------------- checkpoints

typedef struct write_args {
  trainer *T;
  vp_sampler_state ds;
} write_args;

static void write_tmp(const char *tmp, void *arg) {
  write_args *w = arg;
  trainer *T = w->T;
  vp_ckpt_meta meta;
  memset(&meta, 0, sizeof meta);
  meta.step = T->step;
  meta.world_size = T->comm->size;
  meta.threads = omp_get_max_threads();
  meta.has_ema = T->has_ema;
  snprintf(meta.model, sizeof meta.model, "%s", T->model->name);
  snprintf(meta.stage, sizeof meta.stage, "%s", cfg_str(T->cfg, "train.stage"));
  snprintf(meta.git, sizeof meta.git, "%s", VP_GIT_HASH);
  snprintf(meta.device, sizeof meta.device, "cpu");
  meta.config = T->config_text;
  vp_ckpt_state st = {
      .data_epoch = w->ds.epoch,
      .data_cursor = w->ds.cursor,
      .seed = (uint64_t)cfg_int(T->cfg, "seed"),
      .lr_step = T->step,
      .optim_t = T->opt.t,
      .ema_updates = T->has_ema ? T->ema.num_updates : 0,
      .nan_in_row = T->nan_in_row,
      .nan_skipped = T->nan_skipped,
      .global_batch = T->G,
      .grad_accum = T->A,
  };
  vp_ckpt_buffers b = {T->p->data, T->has_ema ? T->ema.shadow : NULL, T->opt.m, T->opt.v};
  ckpt_write(tmp, &meta, &st, T->p, &b);
}

// Collective: every rank checks agreement and waits while rank 0 commits.
static void save_checkpoint(trainer *T, const char *why) {
  check_ranks_agree(T, "at");
  const double t0 = now_s();
  if (T->comm->rank == 0) {
    write_args w = {T, loader_state(T->ld)};
    ckpt_dir_commit(T->dir, T->step, write_tmp, &w, T->last_ckpt, sizeof T->last_ckpt);
    const int removed = ckpt_dir_prune(T->dir, T->step, (int)cfg_int(T->cfg, "train.ckpt_keep"),
                                       cfg_int(T->cfg, "train.ckpt_keep_every"));
    const double dt = now_s() - t0;
    printf("checkpoint %s (step %" PRId64 ", %s, %.2f s)\n", T->last_ckpt, T->step, why, dt);
    fflush(stdout);
    fprintf(T->log, "{\"event\": \"checkpoint\", \"step\": %" PRId64, T->step);
    json_str(T->log, "path", T->last_ckpt);
    json_str(T->log, "reason", why);
    json_num(T->log, "seconds", dt);
    fprintf(T->log, ", \"pruned\": %d}\n", removed);
    log_flush(T);
  }
  // The other ranks wait here while rank 0 writes: a longer deadline.
  const double old = failure_set_timeout(T->ckpt_timeout);
  comm_barrier(T->comm);
  failure_set_timeout(old);
  T->last_ckpt_step = T->step;
  T->ckpt_s_iv += now_s() - t0;
}

// What rank 0 decided about resuming, broadcast to all.
typedef struct resume_plan {
  int status;            // 0 go on, else the exit status (rank 0 printed why)
  int resume;            // 1: load `path`
  int ckpt_ema;          // the checkpoint holds EMA weights
  int64_t step;
  vp_ckpt_state st;
  char path[PATH_LEN];
} resume_plan;

static resume_plan plan_resume(trainer *T) {
  resume_plan rp;
  memset(&rp, 0, sizeof rp);
  const char *mode = cfg_str(T->cfg, "resume");
  if (!mode[0]) mode = "auto";
  char latest[PATH_LEN] = "";
  const int has_latest = ckpt_dir_latest(T->dir, latest, sizeof latest);
  if (strcmp(mode, "never") == 0) {
    if (has_latest) {
      fprintf(stderr,
              "vpcast: error: --resume never, but '%s' already holds checkpoints of a run (LATEST: %s); "
              "continue it with --resume auto, or choose another --out (or delete that directory)\n",
              T->dir, latest);
      rp.status = 2;
    }
    return rp;
  }
  if (strcmp(mode, "auto") == 0) {
    if (!has_latest) return rp;
    snprintf(rp.path, sizeof rp.path, "%s", latest);
  } else {
    snprintf(rp.path, sizeof rp.path, "%s", mode);
    if (access(rp.path, R_OK) != 0) {
      fprintf(stderr, "vpcast: error: --resume %s: %s; give a checkpoint file, 'auto' or 'never'\n", mode,
              strerror(errno));
      rp.status = 2;
      return rp;
    }
  }
  vp_ckpt_meta meta;
  ckpt_read_header(rp.path, &meta, &rp.st);
  rp.resume = 1;
  rp.step = meta.step;
  rp.ckpt_ema = meta.has_ema;
  if (meta.world_size != T->comm->size) {
    fprintf(stderr,
            "vpcast: error: checkpoint '%s' was written by a run of %d ranks, but this run has %d; exact "
            "resume needs the same world size: launch %d ranks (mpirun -np %d / srun -n %d)\n",
            rp.path, meta.world_size, T->comm->size, meta.world_size, meta.world_size, meta.world_size);
    rp.status = 2;
  } else if (strcmp(meta.model, T->model->name) != 0) {
    fprintf(stderr, "vpcast: error: checkpoint '%s' holds a %s model, but model.name is %s\n", rp.path, meta.model,
            T->model->name);
    rp.status = 2;
  } else if (rp.st.global_batch != T->G) {
    fprintf(stderr,
            "vpcast: error: checkpoint '%s' was trained with train.batch_size = %" PRId64 ", this run has %" PRId64
            "; the data order depends on it: set train.batch_size=%" PRId64 " to resume\n",
            rp.path, rp.st.global_batch, T->G, rp.st.global_batch);
    rp.status = 2;
  } else {
    if (meta.threads != omp_get_max_threads())
      vp_warn("checkpoint '%s' was written with %d OpenMP threads per rank, this run has %d: results will not "
              "be bit-identical to an uninterrupted run (set OMP_NUM_THREADS=%d)",
              rp.path, meta.threads, omp_get_max_threads(), meta.threads);
    if (rp.st.grad_accum != T->A)
      vp_warn("checkpoint '%s' was trained with train.grad_accum = %" PRId64 ", this run has %" PRId64
              ": the same data, but not bit-identical sums",
              rp.path, rp.st.grad_accum, T->A);
    if (strcmp(meta.git, VP_GIT_HASH) != 0)
      vp_warn("checkpoint '%s' was written by vpcast %s, this is %s: kernels may round differently", rp.path,
              meta.git, VP_GIT_HASH);
    if (meta.has_ema != T->has_ema)
      vp_warn("checkpoint '%s' %s EMA weights but train.ema_decay %s", rp.path, meta.has_ema ? "has" : "has no",
              T->has_ema ? "asks for them: the EMA restarts from the loaded weights" : "= 0: they are dropped");
    warn_config_changes(meta.config ? meta.config : "", T->config_text, rp.path);
  }
  ckpt_meta_free(&meta);
  return rp;
}

// Rank 0 reads the tensors; every rank receives them, so all ranks start
// from the same bits without needing the file.
static void load_checkpoint(trainer *T, const resume_plan *rp) {
  const int ema_in = T->has_ema && rp->ckpt_ema;
  if (T->comm->rank == 0) {
    vp_ckpt_buffers b = {T->p->data, ema_in ? T->ema.shadow : NULL, T->opt.m, T->opt.v};
    ckpt_read_tensors(rp->path, T->p, &b);
  }
  const size_t bytes = T->p->numel * sizeof(float);
  comm_bcast(T->comm, T->p->data, bytes, 0);
  comm_bcast(T->comm, T->opt.m, bytes, 0);
  comm_bcast(T->comm, T->opt.v, bytes, 0);
  if (ema_in) comm_bcast(T->comm, T->ema.shadow, bytes, 0);
  if (T->has_ema && !rp->ckpt_ema) memcpy(T->ema.shadow, T->p->data, bytes);
  T->opt.t = rp->st.optim_t;
  if (T->has_ema) T->ema.num_updates = rp->ckpt_ema ? rp->st.ema_updates : (cfg_bool(T->cfg, "train.ema_warmup") ? 0 : -1);
  T->step = rp->step;
  T->nan_in_row = rp->st.nan_in_row;
  T->nan_skipped = rp->st.nan_skipped;
  if ((uint64_t)cfg_int(T->cfg, "seed") != rp->st.seed && T->comm->rank == 0)
    vp_warn("checkpoint '%s' was trained with seed %" PRIu64 ", this run has seed %lld: the data order and noise "
            "change from here on",
            rp->path, rp->st.seed, (long long)cfg_int(T->cfg, "seed"));
}

// ---------------------------------------------------------------- one step

// Returns 1 when the update was applied, 0 when the NaN guard skipped it.
static int train_step(trainer *T, vp_clip_result *clip_out) {
  vp_params *p = T->p;
  const int world = T->comm->size;
  params_zero_grad(p);
  for (int64_t mi = 0; mi < T->A; mi++) {
    const vp_batch *b = loader_next(T->ld);
    ctx_reset(&T->ctx);
    vp_model_batch mb = {.data = b, .step = (uint64_t)T->step};
    vp_tensor *loss = T->model->forward_loss(T->model, &T->ctx, &mb);
    VP_ASSERT(tensor_numel(loss) == 1);
    T->loss_sum += (double)loss->data[0];
    T->loss_n++;
    T->last_loss = (double)loss->data[0];
    const int last = mi == T->A - 1;
    // Only the last micro-step communicates (no_sync for the others).
    if (last && world > 1) {
      allreduce_begin(T->ar, 1.0f / (float)(world * T->A));
      allreduce_watch_backward(T->ar, &T->ctx, p);
    }
    tape_backward(&T->ctx, loss);
    if (last && world > 1) allreduce_end(T->ar);
  }
  if (world == 1 && T->A > 1) grad_scale(p->grad, p->numel, 1.0f / (float)T->A);
  vp_clip_result c = grad_clip_params(p, T->max_norm);
  *clip_out = c;
  if (!c.finite) return 0;
  adamw_step(&T->opt, p, trainer_lr(T->cfg, T->step));
  if (T->has_ema) ema_update(&T->ema, p);
  return 1;
}

static void log_progress(trainer *T, double lr) {
  // Loss: mean over the interval's micro-batches of every rank.
  double red[2] = {T->loss_sum, (double)T->loss_n};
  comm_allreduce_sum_f64(T->comm, red, 2);
  T->last_loss = red[1] > 0 ? red[0] / red[1] : NAN;
  if (T->comm->rank == 0) {
    const double now = now_s();
    double per_step;
    if (T->have_prev && T->step > T->step_prev)
      per_step = (now - T->t_prev - T->ckpt_s_iv) / (double)(T->step - T->step_prev);
    else
      per_step = T->first_step_s;
    const double gnorm = T->gnorm_n ? T->gnorm_sum / (double)T->gnorm_n : NAN;
    const double clips_s = per_step > 0 ? (double)T->G / per_step : 0;
    const double eta = per_step * (double)(T->total - T->step);
    char etab[32];
    fmt_duration(eta, etab, sizeof etab);
    int w = 1;
    for (int64_t x = T->total; x >= 10; x /= 10) w++;
    printf("step %*" PRId64 "/%" PRId64 " | loss %.6f | grad norm %.4f | lr %.2e | %.1f ms/step | %.1f clips/s | "
           "ETA %s%s\n",
           w, T->step, T->total, T->last_loss, gnorm, lr, per_step * 1e3, clips_s, etab,
           T->skipped_iv ? " | skipped (non-finite)" : "");
    fflush(stdout);
    fprintf(T->log, "{\"step\": %" PRId64, T->step);
    json_num(T->log, "loss", T->last_loss);
    json_num(T->log, "grad_norm", gnorm);
    json_num(T->log, "lr", lr);
    json_num(T->log, "ms_per_step", per_step * 1e3);
    json_num(T->log, "clips_per_s", clips_s);
    json_num(T->log, "eta_s", eta);
    fprintf(T->log, ", \"clipped\": %" PRId64 ", \"skipped\": %" PRId64 "}\n", T->clipped, T->skipped_iv);
    log_flush(T);
    T->t_prev = now;
    T->step_prev = T->step;
    T->have_prev = 1;
  }
  T->loss_sum = 0;
  T->loss_n = 0;
  T->gnorm_sum = 0;
  T->gnorm_n = T->clipped = T->skipped_iv = 0;
  T->ckpt_s_iv = 0;
}

// ---------------------------------------------------------------- the run

static void print_banner(trainer *T, const resume_plan *rp) {
  const vp_comm *c = T->comm;
  int nb = T->ar ? allreduce_nbuckets(T->ar) : 0;
  printf("vpcast train: %s, %d parameter tensors, %zu parameters (%.1f MB)\n", T->model->name, T->p->n,
         T->p->numel, (double)T->p->numel * 4.0 / 1e6);
  char who[96];
  if (strcmp(c->launcher, "none") == 0)
    snprintf(who, sizeof who, "no launcher");
  else
    snprintf(who, sizeof who, "%s, %d node%s", c->launcher, c->nodes, c->nodes == 1 ? "" : "s");
  printf("  ranks: %d (%s) x %d OpenMP threads; global batch %" PRId64 " = %d rank%s x %" PRId64
         " micro-steps x %" PRId64 " clips\n",
         c->size, who, omp_get_max_threads(), T->G, c->size, c->size == 1 ? "" : "s", T->A, T->micro);
  if (c->size > 1)
    printf("  gradient all-reduce: %d bucket%s of up to %.2f MB (MPI)\n", nb, nb == 1 ? "" : "s",
           cfg_float(T->cfg, "dist.bucket_mb"));
  printf("  data: %s, %lld clips; steps %" PRId64 "; out %s\n", T->src->kind, (long long)source_count(T->src),
         T->total, T->out);
  if (rp->resume)
    printf("  resuming from %s (step %" PRId64 ")\n", rp->path, rp->step);
  fflush(stdout);
}

vp_train_result trainer_run(const vp_config *cfg, const vp_comm *comm, vp_model *model, vp_source *src) {
  vp_train_result res;
  memset(&res, 0, sizeof res);
  trainer *T = vp_calloc(1, sizeof(*T));
  T->cfg = cfg;
  T->comm = comm;
  T->model = model;
  T->p = model->params;
  T->src = src;
  T->lock_fd = -1;
  T->last_ckpt_step = -1;
  T->G = cfg_int(cfg, "train.batch_size");
  T->A = cfg_int(cfg, "train.grad_accum");
  T->total = cfg_int(cfg, "train.steps");
  T->nan_limit = cfg_int(cfg, "train.nan_limit");
  T->max_norm = cfg_float(cfg, "train.grad_clip");
  T->timeout = cfg_float(cfg, "dist.timeout");
  T->ckpt_timeout = cfg_float(cfg, "dist.ckpt_timeout");
  if (strlen(cfg_str(cfg, "out")) > PATH_LEN - 64) vp_die("out = '%s' is too long a path", cfg_str(cfg, "out"));
  snprintf(T->out, sizeof T->out, "%s", cfg_str(cfg, "out"));
  ckpt_dir_of(T->out, T->dir, sizeof T->dir);
  snprintf(T->log_path, sizeof T->log_path, "%.*s/log.jsonl", PATH_LEN - 64, T->out);
  T->config_text = cfg_dump_yaml(cfg);

  T->has_ema = cfg_float(cfg, "train.ema_decay") > 0;
  failure_start(comm, T->timeout);
  preempt_install();

  // Refusals that are the user's to fix are decided on rank 0 and shared,
  // so every rank exits with the same status and one message.
  resume_plan rp;
  memset(&rp, 0, sizeof rp);
  const int64_t per_rank = T->G / comm->size;
  if (T->G % ((int64_t)comm->size * T->A) != 0) {
    if (comm->rank == 0)
      fprintf(stderr,
              "vpcast: error: train.batch_size = %" PRId64 " must be a multiple of the number of ranks (%d) "
              "times train.grad_accum (%" PRId64 "); e.g. train.batch_size=%" PRId64 "\n",
              T->G, comm->size, T->A, (int64_t)comm->size * T->A * (T->G / ((int64_t)comm->size * T->A) + 1));
    rp.status = 2;  // every rank computed the same
  } else {
    if (comm->rank == 0) {
      ckpt_mkdirs(T->dir);
      T->lock_fd = ckpt_lock_out(T->out);
      const int cleaned = ckpt_dir_clean(T->dir);
      if (cleaned)
        printf("removed %d temporary file%s of an interrupted checkpoint\n", cleaned, cleaned == 1 ? "" : "s");
      rp = plan_resume(T);
    }
    comm_bcast(comm, &rp, sizeof rp, 0);
  }
  if (rp.status != 0) {
    res.status = rp.status;
    goto done;
  }
  T->micro = per_rank / T->A;

  ctx_init(&T->ctx, (size_t)64 << 20);
  ctx_set_training(&T->ctx, 1);
  int nbetas = 0;
  const double *betas = cfg_float_list(cfg, "train.betas", &nbetas);
  VP_ASSERT(nbetas == 2);
  adamw_init(&T->opt, T->p, betas[0], betas[1], cfg_float(cfg, "train.eps"), cfg_float(cfg, "train.weight_decay"));
  if (T->has_ema) ema_init(&T->ema, T->p, cfg_float(cfg, "train.ema_decay"), cfg_bool(cfg, "train.ema_warmup"));
  if (comm->size > 1) {
    double mb = cfg_float(cfg, "dist.bucket_mb");
    size_t elems = (size_t)(mb * 1048576.0 / 4.0);
    T->ar = allreduce_create(comm, T->p->grad, T->p->numel, elems ? elems : 1, VP_CPU);
  }
  sampler_init(&T->smp, source_count(src), T->G, comm->rank, comm->size, (uint64_t)cfg_int(cfg, "seed"), 1);
  if (rp.resume) {
    load_checkpoint(T, &rp);
    sampler_state_set(&T->smp, (vp_sampler_state){rp.st.data_epoch, rp.st.data_cursor});
  }
  T->start_step = T->step;
  res.start_step = T->step;
  check_ranks_agree(T, "before");

  if (comm->rank == 0) {
    if (rp.resume)
      log_truncate_after(T->log_path, T->step);
    else
      remove(T->log_path);
    T->log = fopen(T->log_path, "a");
    if (!T->log) vp_die("cannot open '%s': %s; check --out", T->log_path, strerror(errno));
    print_banner(T, &rp);
    fprintf(T->log, "{\"event\": \"start\", \"step\": %" PRId64 ", \"world_size\": %d, \"threads\": %d", T->step,
            comm->size, omp_get_max_threads());
    json_str(T->log, "model", model->name);
    json_str(T->log, "resumed_from", rp.resume ? rp.path : "");
    fprintf(T->log, "}\n");
    log_flush(T);
  }
  if (T->step >= T->total) {
    if (comm->rank == 0) printf("already at step %" PRId64 " of %" PRId64 ": nothing to train\n", T->step, T->total);
    res.status = 0;
    goto done;
  }

  T->ld = loader_open(src, &T->smp, T->micro, (int)cfg_int(cfg, "data.prefetch"));
  const int64_t log_every = cfg_int(cfg, "train.log_every"), ckpt_every = cfg_int(cfg, "train.ckpt_every");
  int preempted = 0;
  while (T->step < T->total) {
    failure_set_step(T->step);
    const double t0 = now_s();
    const double lr = trainer_lr(cfg, T->step);
    vp_clip_result c;
    const int applied = train_step(T, &c);
    T->step++;
    if (applied) {
      T->nan_in_row = 0;
      T->gnorm_sum += c.norm;
      T->gnorm_n++;
      T->clipped += c.clipped;
    } else {
      T->nan_in_row++;
      T->nan_skipped++;
      T->skipped_run++;
      T->skipped_iv++;
      if (comm->rank == 0) {
        vp_warn("step %" PRId64 ": the gradient is not finite (norm %g); update skipped (%" PRId64
                " in a row, train.nan_limit = %" PRId64 ")",
                T->step, c.norm, T->nan_in_row, T->nan_limit);
        fprintf(T->log, "{\"event\": \"nan_skip\", \"step\": %" PRId64 ", \"in_row\": %" PRId64 "}\n", T->step,
                T->nan_in_row);
        log_flush(T);
      }
      if (T->nan_in_row >= T->nan_limit) {
        if (comm->rank == 0)
          fprintf(stderr,
                  "vpcast: error: %" PRId64 " steps in a row had non-finite gradients (step %" PRId64
                  "); stopping. Lower train.lr, check the data for NaN/inf, or raise train.nan_limit; the "
                  "last checkpoint is %s\n",
                  T->nan_in_row, T->step, T->last_ckpt[0] ? T->last_ckpt : "(none yet)");
        res.status = 1;
        goto done;
      }
    }
    if (!T->have_prev && T->step == T->start_step + 1) {
      // The first step (allocation, page faults) is not typical: intervals start after it.
      T->first_step_s = now_s() - t0;
      T->t_prev = now_s();
      T->step_prev = T->step;
      T->have_prev = 1;
    }
    if (T->step % log_every == 0 || T->step == T->total) log_progress(T, lr);

    // Preemption: any rank's signal stops every rank at this boundary.
    // [signal, highest signalled rank + 1, -(lowest signalled rank)]: one MAX.
    const int got = preempt_pending();
    int flag[3] = {got ? preempt_signal() : 0, got ? comm->rank + 1 : 0, got ? -comm->rank : INT_MIN};
    comm_allreduce_max_i32(comm, flag, 3);
    // A signal during the last step changes nothing: the run is complete.
    preempted = flag[0] != 0 && T->step < T->total;
    if (preempted || T->step % ckpt_every == 0 || T->step == T->total)
      save_checkpoint(T, preempted ? "preempted" : T->step == T->total ? "final" : "periodic");
    if (preempted) {
      if (comm->rank == 0) {
        char to[48];
        if (-flag[2] == flag[1] - 1)
          snprintf(to, sizeof to, "rank %d", flag[1] - 1);
        else
          snprintf(to, sizeof to, "ranks %d..%d", -flag[2], flag[1] - 1);
        printf("preempted by %s (delivered to %s) at step %" PRId64 " of %" PRId64
               ": checkpoint written, exiting with status 42 (resume with --resume auto)\n",
               signal_name(flag[0]), to, T->step, T->total);
        fprintf(T->log, "{\"event\": \"preempted\", \"step\": %" PRId64 ", \"rank\": %d}\n", T->step, flag[1] - 1);
        log_flush(T);
      }
      break;
    }
  }
  res.status = preempted ? 42 : 0;
  if (!preempted && comm->rank == 0) {
    fprintf(T->log, "{\"event\": \"done\", \"step\": %" PRId64 "}\n", T->step);
    log_flush(T);
  }

done:
  res.step = T->step;
  res.skipped = T->skipped_run;
  res.last_loss = T->last_loss;
  snprintf(res.ckpt, sizeof res.ckpt, "%s", T->last_ckpt);
  if (T->ld) loader_close(T->ld);
  if (T->smp.perm || T->smp.n) sampler_free(&T->smp);
  if (T->ar) {
    if (comm->rank == 0 && res.status == 0 && T->step > T->start_step) {
      vp_allreduce_stats s = allreduce_stats(T->ar);
      printf("gradient all-reduce: %" PRId64 " rounds, %" PRId64 " of %" PRId64
             " buckets started during backward, %.1f ms waiting per step\n",
             s.rounds, s.launched_early, s.launched_early + s.launched_late,
             s.rounds ? 1e3 * s.wait_s / (double)s.rounds : 0.0);
    }
    allreduce_free(T->ar);
  }
  if (T->opt.m) adamw_free(&T->opt);
  if (T->ema.shadow) ema_free(&T->ema);
  if (T->ctx.tape) ctx_free(&T->ctx);
  if (T->log) fclose(T->log);
  ckpt_unlock_out(T->lock_fd);
  preempt_uninstall();
  failure_stop();
  free(T->config_text);
  free(T);
  fflush(stdout);
  return res;
}
