// bench_allreduce.c: the data-parallel communication of vpcast, measured.
// A benchmark, not a test: it asserts nothing.
//
// 1. Bus bandwidth of the bucketed gradient all-reduce (dist/allreduce.h:
//    MPI_Iallreduce per bucket, all launched back to back, then waited for)
//    against one MPI_Allreduce of the whole buffer, for buffers of 1 MB to
//    512 MB:
//        mpirun -np 2 bench/bench_allreduce [--sizes 1,4,16,64,256,512]
//                                           [--bucket-mb 25] [--iters N]
//    bus bandwidth = 2 (n - 1) / n * bytes / time (the nccl-tests
//    convention: what each link carries in a ring all-reduce); the median
//    of N timed rounds after one warm-up round.
// 2. Weak scaling of the trainer (train/trainer.h) on the tiny DDPM:
//        bench/bench_allreduce --trainer configs/test/tiny_ddpm.yaml [--clips-per-rank 4] [--steps 40]
//        mpirun -np 2 bench/bench_allreduce --trainer configs/test/tiny_ddpm.yaml ...
//    Each rank trains the same number of clips per step (global batch =
//    clips-per-rank x ranks), one OpenMP thread per rank, no prefetch thread
//    (data.prefetch = 0), so "one core each". Reports ms/step (mean over the
//    steps after the first 10); efficiency = ms/step at 1 rank / ms/step at
//    R ranks, computed by the reader from the two runs.
// Results go to stdout (rank 0) as one JSON object per line.
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "dist/allreduce.h"
#include "dist/comm.h"
#include "io/source.h"
#include "train/model.h"
#include "train/trainer.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof(double), cmp_d);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

// ---------------------------------------------------------------- bandwidth

static void bench_bandwidth(const vp_comm *c, const double *sizes_mb, int nsizes, double bucket_mb, int iters) {
  for (int s = 0; s < nsizes; s++) {
    const size_t n = (size_t)(sizes_mb[s] * 1048576.0 / 4.0);
    float *buf = vp_calloc(n, sizeof(float));
    // Touch every page once so the first timed round does not pay for faults.
    for (size_t i = 0; i < n; i += 1024) buf[i] = 0.0f;
    const size_t bucket = (size_t)(bucket_mb * 1048576.0 / 4.0);
    vp_allreduce *ar = allreduce_create(c, buf, n, bucket ? bucket : 1, VP_CPU);
    double *t_one = vp_malloc((size_t)iters * sizeof(double)), *t_bkt = vp_malloc((size_t)iters * sizeof(double));
    for (int it = -1; it < iters; it++) {
      // One buffer, one MPI_Allreduce (in chunks of 2^28 floats, as comm.c).
      comm_barrier(c);
      double t0 = now_s();
      comm_allreduce_sum_f32(c, buf, n);
      double t1 = now_s();
      // The same buffer in buckets, launched back to back.
      comm_barrier(c);
      double t2 = now_s();
      allreduce_begin(ar, 1.0f);
      for (int b = 0; b < allreduce_nbuckets(ar); b++) allreduce_ready(ar, b);
      allreduce_end(ar);
      double t3 = now_s();
      // The slowest rank decides.
      double t[2] = {t1 - t0, t3 - t2};
      comm_allreduce_max_f64(c, t, 2);
      if (it >= 0) {
        t_one[it] = t[0];
        t_bkt[it] = t[1];
      }
    }
    const double bytes = (double)n * 4.0, f = 2.0 * (c->size - 1) / c->size;
    const double m_one = median(t_one, iters), m_bkt = median(t_bkt, iters);
    if (c->rank == 0) {
      printf("{\"bench\": \"allreduce\", \"ranks\": %d, \"mb\": %g, \"buckets\": %d, \"bucket_mb\": %g, "
             "\"iters\": %d, \"mpi_allreduce_ms\": %.3f, \"mpi_allreduce_busbw_gbs\": %.3f, "
             "\"bucketed_ms\": %.3f, \"bucketed_busbw_gbs\": %.3f}\n",
             c->size, sizes_mb[s], allreduce_nbuckets(ar), bucket_mb, iters, m_one * 1e3, f * bytes / m_one / 1e9,
             m_bkt * 1e3, f * bytes / m_bkt / 1e9);
      fflush(stdout);
    }
    allreduce_free(ar);
    free(t_one);
    free(t_bkt);
    free(buf);
  }
}

// ---------------------------------------------------------------- trainer weak scaling

static double mean_ms_per_step(const char *log_path, int64_t skip_until) {
  FILE *f = fopen(log_path, "r");
  if (!f) vp_die("cannot read %s: %s", log_path, strerror(errno));
  char line[4096];
  double sum = 0;
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "{\"step\": ", 9) != 0) continue;
    long long step = strtoll(line + 9, NULL, 10);
    char *p = strstr(line, "\"ms_per_step\": ");
    if (!p || step <= skip_until) continue;
    sum += strtod(p + 15, NULL);
    n++;
  }
  fclose(f);
  return n ? sum / n : NAN;
}

static void bench_trainer(const vp_comm *c, const char *yaml, int clips_per_rank, int steps) {
  char out[512];
  snprintf(out, sizeof out, "%s/vpcast-bench-allreduce-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", c->size);
  if (c->rank == 0) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    if (system(cmd) != 0) vp_warn("could not clear %s", out);
  }
  comm_barrier(c);
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  cfg_load_yaml(cfg, yaml, &err);
  char v[64];
  cfg_set(cfg, "out", out, NULL, 0);
  snprintf(v, sizeof v, "%d", clips_per_rank * c->size);
  cfg_set(cfg, "train.batch_size", v, NULL, 0);
  snprintf(v, sizeof v, "%d", steps);
  cfg_set(cfg, "train.steps", v, NULL, 0);
  cfg_set(cfg, "train.warmup_steps", "1", NULL, 0);
  cfg_set(cfg, "train.log_every", "5", NULL, 0);
  cfg_set(cfg, "train.ckpt_every", "1000000", NULL, 0);
  cfg_set(cfg, "data.prefetch", "0", NULL, 0);
  cfg_set(cfg, "resume", "never", NULL, 0);
  if (!err.n) cfg_bind(cfg, opts_train, &err);
  if (err.n) {
    err_print(&err, stderr);
    exit(2);
  }
  vp_source *src = source_open(cfg);
  vp_model *model = model_create(cfg, src);
  vp_train_result r = trainer_run(cfg, c, model, src);
  if (r.status != 0) vp_die("the trainer ended with status %d", r.status);
  if (c->rank == 0) {
    char log[600];
    snprintf(log, sizeof log, "%s/log.jsonl", out);
    double ms = mean_ms_per_step(log, 10);
    printf("{\"bench\": \"trainer_weak_scaling\", \"ranks\": %d, \"threads_per_rank\": %d, \"clips_per_rank\": %d, "
           "\"global_batch\": %d, \"params\": %zu, \"steps\": %d, \"ms_per_step\": %.2f, \"clips_per_s\": %.1f}\n",
           c->size, omp_get_max_threads(), clips_per_rank, clips_per_rank * c->size, model->params->numel, steps, ms,
           1e3 * clips_per_rank * c->size / ms);
    fflush(stdout);
  }
  model_free(model);
  source_close(src);
  cfg_free(cfg);
}

int main(int argc, char **argv) {
  vp_comm c;
  comm_init(&c, &argc, &argv);
  double sizes[32] = {1, 4, 16, 64, 256, 512};
  int nsizes = 6, iters = 5, clips_per_rank = 4, steps = 40;
  double bucket_mb = 25;
  const char *trainer_yaml = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      nsizes = 0;
      for (char *tok = strtok(argv[++i], ","); tok && nsizes < 32; tok = strtok(NULL, ",")) sizes[nsizes++] = atof(tok);
    } else if (!strcmp(argv[i], "--bucket-mb") && i + 1 < argc) {
      bucket_mb = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--trainer") && i + 1 < argc) {
      trainer_yaml = argv[++i];
    } else if (!strcmp(argv[i], "--clips-per-rank") && i + 1 < argc) {
      clips_per_rank = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
      steps = atoi(argv[++i]);
    } else {
      fprintf(stderr,
              "usage: bench_allreduce [--sizes MB,MB,...] [--bucket-mb MB] [--iters N]\n"
              "       bench_allreduce --trainer CONFIG [--clips-per-rank N] [--steps N]\n");
      return 2;
    }
  }
  if (iters < 1 || bucket_mb <= 0 || clips_per_rank < 1 || steps < 12) {
    fprintf(stderr, "bench_allreduce: --iters >= 1, --bucket-mb > 0, --clips-per-rank >= 1, --steps >= 12\n");
    return 2;
  }
  if (trainer_yaml)
    bench_trainer(&c, trainer_yaml, clips_per_rank, steps);
  else if (c.size < 2)
    fprintf(stderr, "bench_allreduce: the bandwidth part needs ranks: mpirun -np 2 %s\n", argv[0]);
  else
    bench_bandwidth(&c, sizes, nsizes, bucket_mb, iters);
  comm_finalize(&c);
  return 0;
}
