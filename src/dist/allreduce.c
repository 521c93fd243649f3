// allreduce.c: bucketed gradient all-reduce over MPI or NCCL, launched from
// a tape hook during backward (see allreduce.h).
#include "dist/allreduce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "core/tape.h"
#include "dist/failure.h"
#include "dist/mpi_check.h"
#include "train/grad_clip.h"
#ifdef VP_HAVE_NCCL
#include "dist/nccl_comm.h"
#endif

struct vp_allreduce {
  const vp_comm *comm;
  float *buf;
  size_t n, bucket;
  int nb;                // buckets
  int next;              // next bucket to launch this round
  int ndone;             // buckets known complete (MPI: prefix of launched ones)
  int in_round;
  float scale;
  vp_device device;
  int64_t *first_use;    // (nb) lowest tape node touching the bucket; INT64_MAX: none
  vp_ctx *watched;       // ctx whose tape hook is installed
  int poll_tick;
  vp_allreduce_stats st;
#ifdef VP_HAVE_MPI
  MPI_Comm grad_comm;    // a duplicate of MPI_COMM_WORLD for gradient traffic
  MPI_Request *req;      // (nb)
#endif
#ifdef VP_HAVE_NCCL
  vp_nccl *nccl;
#endif
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void allreduce_bucket_range(const vp_allreduce *a, int b, size_t *start, size_t *end) {
  VP_ASSERT(b >= 0 && b < a->nb);
  // Bucket 0 ends the buffer.
  size_t hi = a->n - (size_t)b * a->bucket;
  *end = hi;
  *start = hi > a->bucket ? hi - a->bucket : 0;
}

vp_allreduce *allreduce_create(const vp_comm *c, float *buf, size_t n, size_t bucket_elems, vp_device device) {
  VP_ASSERT(bucket_elems >= 1);
  vp_allreduce *a = vp_calloc(1, sizeof(*a));
  a->comm = c;
  a->buf = buf;
  a->n = n;
  a->bucket = bucket_elems < ((size_t)1 << 28) ? bucket_elems : ((size_t)1 << 28);
  a->nb = n ? (int)((n + a->bucket - 1) / a->bucket) : 0;
  a->device = device;
  a->first_use = vp_malloc((size_t)(a->nb ? a->nb : 1) * sizeof(int64_t));
  if (device == VP_CUDA) {
#ifdef VP_HAVE_NCCL
    unsigned char id[NCCL_ID_BYTES];
    memset(id, 0, sizeof id);
    if (c->rank == 0) nccl_comm_unique_id(id);
    comm_bcast(c, id, sizeof id, 0);
    a->nccl = nccl_comm_open(id, c->rank, c->size, c->local_rank, NULL);
#else
    vp_die("gradients on the GPU need NCCL, but this vpcast was built without CUDA/NCCL; rebuild with "
           "-DVP_CUDA=ON or train on the CPU");
#endif
  } else if (c->size > 1) {
#ifdef VP_HAVE_MPI
    CHECK_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &a->grad_comm));
    CHECK_MPI(MPI_Comm_set_errhandler(a->grad_comm, MPI_ERRORS_RETURN));
    a->req = vp_malloc((size_t)(a->nb ? a->nb : 1) * sizeof(MPI_Request));
    for (int b = 0; b < a->nb; b++) a->req[b] = MPI_REQUEST_NULL;
#endif
  }
  return a;
}

void allreduce_free(vp_allreduce *a) {
  if (!a) return;
  VP_ASSERT(!a->in_round);
#ifdef VP_HAVE_NCCL
  if (a->nccl) nccl_comm_close(a->nccl);
#endif
#ifdef VP_HAVE_MPI
  if (a->req) {
    CHECK_MPI(MPI_Comm_free(&a->grad_comm));
    free(a->req);
  }
#endif
  free(a->first_use);
  free(a);
}

int allreduce_nbuckets(const vp_allreduce *a) { return a->nb; }

vp_allreduce_stats allreduce_stats(const vp_allreduce *a) { return a->st; }

void allreduce_begin(vp_allreduce *a, float scale) {
  VP_ASSERT(!a->in_round);
  a->in_round = 1;
  a->scale = scale;
  a->next = 0;
  a->ndone = 0;
  for (int b = 0; b < a->nb; b++) a->first_use[b] = -1;  // not final
}

static void launch(vp_allreduce *a, int b) {
  size_t s, e;
  allreduce_bucket_range(a, b, &s, &e);
  if (a->comm->size == 1) return;  // nothing to exchange
#ifdef VP_HAVE_NCCL
  if (a->nccl) {
    nccl_comm_allreduce_sum(a->nccl, a->buf + s, e - s, a->scale);
    return;
  }
#endif
#ifdef VP_HAVE_MPI
  CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, a->buf + s, (int)(e - s), MPI_FLOAT, MPI_SUM, a->grad_comm, &a->req[b]));
#endif
}

void allreduce_ready(vp_allreduce *a, int b) {
  VP_ASSERT(a->in_round && b >= 0 && b < a->nb);
  // Mark b final (first_use INT64_MAX: at or above any tape position), then
  // launch the final prefix.
  a->first_use[b] = INT64_MAX;
  while (a->next < a->nb && a->first_use[a->next] == INT64_MAX) {
    launch(a, a->next++);
    a->st.launched_early++;
  }
}

void allreduce_poll(vp_allreduce *a) {
#ifdef VP_HAVE_MPI
  if (!a->req || a->ndone >= a->next) return;
  // MPI's nonblocking collectives advance only inside MPI calls: one test
  // of the oldest bucket in flight keeps the pipeline moving.
  int flag = 0;
  CHECK_MPI(MPI_Test(&a->req[a->ndone], &flag, MPI_STATUS_IGNORE));
  if (flag) a->ndone++;
#else
  (void)a;
#endif
}

// ---- the tape hook

static void on_node_done(void *arg, int64_t i) {
  vp_allreduce *a = arg;
  // Every bucket whose lowest touching node is at or above i is final now
  // (first_use: that node; -1 before watch_backward: never final here).
  while (a->next < a->nb && a->first_use[a->next] >= i) {
    launch(a, a->next++);
    a->st.launched_early++;
  }
  if ((++a->poll_tick & 7) == 0) allreduce_poll(a);
}

void allreduce_watch_backward(vp_allreduce *a, vp_ctx *ctx, const vp_params *p) {
  VP_ASSERT(a->in_round && p->grad == a->buf && p->numel == a->n);
  const vp_tape *tp = ctx->tape;
  const float *base = p->data;
  for (int b = 0; b < a->nb; b++) a->first_use[b] = INT64_MAX;
  // The lowest node reading any element of each bucket. A parameter tensor
  // lives inside the flat data buffer, so its element range is its offset.
  for (int64_t i = 0; i < tp->n; i++) {
    const vp_node *node = tp->nodes[i];
    for (int k = 0; k < node->nin; k++) {
      const vp_tensor *t = node->in[k];
      if (!t || !t->is_param || t->data < base || t->data >= base + p->numel) continue;
      size_t s = (size_t)(t->data - base), e = s + (size_t)tensor_numel(t);
      if (e <= s) continue;
      // Buckets count from the end: element x lies in bucket (n - 1 - x) / bucket.
      int b_lo = (int)((a->n - e) / a->bucket), b_hi = (int)((a->n - 1 - s) / a->bucket);
      for (int b = b_lo; b <= b_hi; b++)
        if (a->first_use[b] > i) a->first_use[b] = i;
    }
  }
  // Buckets no node touches hold no gradient this step: final already.
  for (int b = 0; b < a->nb; b++)
    if (a->first_use[b] == INT64_MAX) a->first_use[b] = tp->n;
  a->watched = ctx;
  ctx->tape->on_node_done = on_node_done;
  ctx->tape->on_node_done_arg = a;
  a->poll_tick = 0;
  on_node_done(a, tp->n);  // launch the untouched prefix now
}

void allreduce_end(vp_allreduce *a) {
  VP_ASSERT(a->in_round);
  if (a->watched) {
    a->watched->tape->on_node_done = NULL;
    a->watched->tape->on_node_done_arg = NULL;
    a->watched = NULL;
  }
  while (a->next < a->nb) {
    launch(a, a->next++);
    a->st.launched_late++;
  }
  const double t0 = now_s();
  int scaled = 0;
  if (a->comm->size > 1) {
    failure_enter("gradient all-reduce");
#ifdef VP_HAVE_NCCL
    if (a->nccl) {
      char why[512];
      if (nccl_comm_wait(a->nccl, failure_get_timeout(), why, sizeof why)) {
        fprintf(stderr, "vpcast: error: rank %d: %s\n", a->comm->rank, why);
        comm_abort(a->comm, 1);
      }
      scaled = 1;  // NCCL's pre-multiplied sum
    }
#endif
#ifdef VP_HAVE_MPI
    if (a->req && a->nb > 0) CHECK_MPI(MPI_Waitall(a->nb, a->req, MPI_STATUSES_IGNORE));
#endif
    failure_leave();
  }
  a->st.wait_s += now_s() - t0;
  a->st.rounds++;
  a->in_round = 0;
  if (a->scale != 1.0f && !scaled) {
    if (a->device == VP_CUDA) {
#ifdef VP_HAVE_NCCL
      nccl_comm_scale(a->buf, a->n, a->scale, NULL);
#endif
    } else {
      grad_scale(a->buf, a->n, a->scale);
    }
  }
}
