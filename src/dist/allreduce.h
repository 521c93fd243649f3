// allreduce.h: bucketed all-reduce of the flat gradient buffer, started
// during backward as buckets become final.
//
// Buckets. The flat buffer (vp_params.grad, parameters in declaration
// order) is cut into fixed-size element ranges from its END: bucket 0 is the
// last `bucket` elements, bucket 1 the range before it, ..., the last bucket
// the (shorter) head. Parameters are declared in forward order, so backward
// finishes them roughly from the end of the buffer; bucket boundaries depend
// only on the buffer size and the bucket size, never on the model's layers.
//
// When a bucket is final. allreduce_watch_backward() looks at the tape
// before tape_backward runs: for each bucket, the lowest tape node that
// reads a parameter with an element in the bucket. Backward walks the tape
// from the end, so once it has run that node nothing writes the bucket any
// more. A tape hook (core/tape.h) launches, after each node, every bucket
// that has become final -- in bucket order, so every rank starts the same
// collectives in the same order, which MPI and NCCL require -- and lets MPI
// make progress on the ones in flight. Buckets no node touches are final at
// once. allreduce_end() launches what is left and waits.
//
// Backends. MPI (CPU buffers): MPI_Iallreduce (sum, in place) per bucket on
// a duplicate of MPI_COMM_WORLD, so gradient traffic never interleaves with
// other collectives. NCCL (CUDA buffers, builds with VP_HAVE_NCCL): one
// ncclAllReduce per bucket on NCCL's stream, with the unique id broadcast
// over MPI (dist/nccl_comm.h).
//
// Determinism. For a fixed world size and bucket size, each bucket is
// reduced by the same algorithm in the same order on every run (the MPI and
// NCCL algorithm choice depends only on the rank count and message size),
// so the sums are bit-identical run to run and on every rank. The bucket
// size is part of that: exact resume needs the same dist.bucket_mb.
//
// Gradient accumulation: call allreduce_begin/_watch_backward/_end only on
// the last micro-step; earlier micro-steps accumulate locally with no
// communication. The result is the SUM over ranks times the `scale` given to
// allreduce_begin (the trainer passes 1 / (ranks x micro-steps)).
#ifndef VP_DIST_ALLREDUCE_H
#define VP_DIST_ALLREDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/options.h"
#include "core/params.h"
#include "core/tensor.h"
#include "dist/comm.h"

typedef struct vp_allreduce vp_allreduce;

typedef struct vp_allreduce_stats {
  int64_t rounds;          // allreduce_end calls
  int64_t launched_early;  // buckets launched during backward (before allreduce_end)
  int64_t launched_late;   // buckets launched by allreduce_end
  double wait_s;           // time spent blocked in allreduce_end
} vp_allreduce_stats;

// Plans buckets of bucket_elems floats over buf[n] (bucket_elems >= 1; it
// is capped at 2^28). device VP_CPU uses MPI, VP_CUDA uses NCCL (an error in
// builds without NCCL). Collective (NCCL: the id broadcast).
vp_allreduce *allreduce_create(const vp_comm *c, float *buf, size_t n, size_t bucket_elems, vp_device device);
void allreduce_free(vp_allreduce *a);
int allreduce_nbuckets(const vp_allreduce *a);
// [start, end) element range of bucket b.
void allreduce_bucket_range(const vp_allreduce *a, int b, size_t *start, size_t *end);

// Starts a round: nothing launched yet. The result will be multiplied by
// scale (1: plain sum).
void allreduce_begin(vp_allreduce *a, float scale);
// Bucket b is final: launches it and every bucket before it that is final
// too, in order (buckets after the first non-final one wait).
void allreduce_ready(vp_allreduce *a, int b);
// Lets the library progress the reductions in flight (MPI), cheap.
void allreduce_poll(vp_allreduce *a);
// Installs the tape hook on ctx for the next tape_backward: buckets of
// p->grad (which must be the buffer given to allreduce_create) are launched
// as backward finishes them. Removed by allreduce_end.
void allreduce_watch_backward(vp_allreduce *a, vp_ctx *ctx, const vp_params *p);
// Launches the remaining buckets and waits for all. After it, buf holds
// scale * (sum over ranks) on every rank (MPI: the sum, then one multiply;
// NCCL: a pre-multiplied sum).
void allreduce_end(vp_allreduce *a);

vp_allreduce_stats allreduce_stats(const vp_allreduce *a);

// The dist.* config keys (opts_dist.c): bucket_mb, timeout, ckpt_timeout.
extern const vp_option opts_dist[];

#endif
