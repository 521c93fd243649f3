// test_allreduce.c: the bucketed gradient all-reduce (dist/allreduce.h).
// Run as a unit test (one process) it checks the bucket plan and then runs
// itself under `mpirun -np 2` and `-np 3`; under mpirun, each rank:
//   - builds a small graph on the tape: linear layers, one weight applied
//     twice (its gradient is final only after the EARLIER of its two nodes
//     has run backward), biases, and a parameter no node reads;
//   - for bucket sizes from 1 element to more than the whole buffer, runs
//     backward with the all-reduce hook installed and checks the result
//     against the mean of the ranks' gradients computed without it (an
//     early launch of a bucket whose gradient was not final would miss
//     part of the sum), that every bucket was launched during backward, that
//     all ranks hold bit-identical results, and that a second round gives
//     the same bits (a deterministic reduction order).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/params.h"
#include "core/tape.h"
#include "dist/allreduce.h"
#include "dist/comm.h"
#include "harness.h"
#include "io/crc32c.h"
#include "ops/act.h"
#include "ops/linear.h"
#include "ops/reduce.h"

typedef struct net {
  vp_params p;
  vp_tensor *w1, *b1, *w2, *w3, *w4, *unused;
} net;

static void net_build(net *n) {
  params_init(&n->p);
  n->w1 = params_add(&n->p, 2, (int64_t[]){16, 8}, "l1.weight");
  n->b1 = params_add(&n->p, 1, (int64_t[]){16}, "l1.bias");
  n->w2 = params_add(&n->p, 2, (int64_t[]){8, 16}, "l2.weight");
  n->unused = params_add(&n->p, 1, (int64_t[]){300}, "unused");
  n->w3 = params_add(&n->p, 2, (int64_t[]){8, 8}, "shared.weight");
  n->w4 = params_add(&n->p, 2, (int64_t[]){4, 8}, "head.weight");
  params_alloc(&n->p);
  th_fill_uniform(n->p.data, (int64_t)n->p.numel, 99, -0.5f, 0.5f);
}

// loss = mean(head(shared(tanh(shared(tanh(l2(silu(l1(x)))))))^2), x from the rank.
static vp_tensor *net_loss(vp_ctx *ctx, net *n, int rank) {
  vp_tensor *x = tensor_newv(ctx, 2, (int64_t)5, (int64_t)8);
  th_fill_uniform(x->data, 40, 1000 + (uint64_t)rank, -1, 1);
  vp_tensor *h = op_silu(ctx, op_linear(ctx, x, n->w1, n->b1));
  h = op_tanh(ctx, op_linear(ctx, h, n->w2, NULL));
  h = op_tanh(ctx, op_linear(ctx, h, n->w3, NULL));
  h = op_linear(ctx, h, n->w3, NULL);
  vp_tensor *y = op_linear(ctx, h, n->w4, NULL);
  vp_tensor *zero = tensor_zeros(ctx, 2, y->shape);
  return op_mse_loss(ctx, y, zero);
}

static int ranked(vp_comm *c) {
  net n;
  net_build(&n);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  const size_t N = n.p.numel;
  // Reference: this rank's gradient, then the mean over ranks in double.
  params_zero_grad(&n.p);
  tape_backward(&ctx, net_loss(&ctx, &n, c->rank));
  double *ref = vp_malloc(N * sizeof(double));
  for (size_t i = 0; i < N; i++) ref[i] = n.p.grad[i];
  comm_allreduce_sum_f64(c, ref, N);
  float *reff = vp_malloc(N * sizeof(float));
  for (size_t i = 0; i < N; i++) reff[i] = (float)(ref[i] / c->size);
  ctx_reset(&ctx);

  const size_t buckets[] = {1, 3, 64, 200, N - 1, N, 4 * N};
  float *first = vp_malloc(N * sizeof(float));
  for (size_t k = 0; k < sizeof buckets / sizeof buckets[0]; k++) {
    vp_allreduce *ar = allreduce_create(c, n.p.grad, N, buckets[k], VP_CPU);
    for (int round = 0; round < 2; round++) {
      params_zero_grad(&n.p);
      vp_tensor *loss = net_loss(&ctx, &n, c->rank);
      allreduce_begin(ar, 1.0f / (float)c->size);
      allreduce_watch_backward(ar, &ctx, &n.p);
      tape_backward(&ctx, loss);
      allreduce_end(ar);
      ctx_reset(&ctx);
      char what[96];
      snprintf(what, sizeof what, "rank %d bucket %zu round %d: mean of the ranks' gradients", c->rank, buckets[k],
               round);
      th_check_rel(what, n.p.grad, reff, (int64_t)N, 1e-6);
      int64_t crc = crc32c(n.p.grad, N * sizeof(float)), all[8];
      comm_allgather_i64(c, &crc, 1, all);
      int same = 1;
      for (int r = 0; r < c->size; r++) same &= all[r] == all[0];
      th_check(same, "bucket %zu: bit-identical on every rank", buckets[k]);
      if (round == 0)
        memcpy(first, n.p.grad, N * sizeof(float));
      else
        th_check(memcmp(first, n.p.grad, N * sizeof(float)) == 0, "bucket %zu: same bits in a second round",
                 buckets[k]);
    }
    vp_allreduce_stats st = allreduce_stats(ar);
    th_check(st.rounds == 2 && st.launched_late == 0 && st.launched_early == 2 * allreduce_nbuckets(ar),
             "bucket %zu: all %d buckets launched during backward (%lld early, %lld late)", buckets[k],
             allreduce_nbuckets(ar), (long long)st.launched_early, (long long)st.launched_late);
    allreduce_free(ar);
  }
  free(first);
  free(ref);
  free(reff);
  ctx_free(&ctx);
  params_free(&n.p);
  int bad = th_failed;
  comm_allreduce_max_i32(c, &bad, 1);
  return bad;
}

// One process: the plan, then the same checks under mpirun.
static void single(const char *self) {
  vp_comm c;
  memset(&c, 0, sizeof c);
  c.size = 1;
  float buf[10] = {0};
  vp_allreduce *ar = allreduce_create(&c, buf, 10, 4, VP_CPU);
  size_t s, e;
  th_check(allreduce_nbuckets(ar) == 3, "10 elements in buckets of 4: 3 buckets");
  allreduce_bucket_range(ar, 0, &s, &e);
  th_check(s == 6 && e == 10, "bucket 0 ends the buffer [%zu, %zu)", s, e);
  allreduce_bucket_range(ar, 2, &s, &e);
  th_check(s == 0 && e == 2, "the last bucket is the head [%zu, %zu)", s, e);
  // Manual readiness: buckets launch in order only.
  allreduce_begin(ar, 0.5f);
  for (int i = 0; i < 10; i++) buf[i] = 2.0f;
  allreduce_ready(ar, 1);
  th_check(allreduce_stats(ar).launched_early == 0, "bucket 1 waits for bucket 0");
  allreduce_ready(ar, 0);
  th_check(allreduce_stats(ar).launched_early == 2, "buckets 0 and 1 launch together");
  allreduce_end(ar);
  th_check(buf[0] == 1.0f && buf[9] == 1.0f && allreduce_stats(ar).launched_late == 1, "world of one: scaled only");
  allreduce_free(ar);

#ifndef VP_HAVE_MPI
  printf("built without MPI: the multi-rank part is skipped\n");
  return;
#endif
  if (system("command -v mpirun >/dev/null 2>&1") != 0) {
    printf("mpirun not found: the multi-rank part is skipped\n");
    return;
  }
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  setenv("OMP_NUM_THREADS", "1", 1);
  for (int np = 2; np <= 3; np++) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mpirun --oversubscribe -np %d '%s' --ranked", np, self);
    int rc = system(cmd);
    th_check(rc == 0, "under mpirun -np %d (status %d)", np, rc);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--ranked") == 0) {
    vp_comm c;
    comm_init(&c, &argc, &argv);
    int bad = ranked(&c);
    if (c.rank == 0) printf("%d ranks: %s\n", c.size, bad ? "FAILED" : "all checks passed");
    comm_finalize(&c);
    return bad ? 1 : 0;
  }
  single(argv[0]);
  return th_summary();
}
