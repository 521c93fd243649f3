// nccl_comm.h: the NCCL side of the gradient all-reduce, for device
// (CUDA) gradient buffers. Implemented in kernels/cuda/nccl_allreduce.cu and
// compiled whenever the CUDA backend is (VP_HAVE_NCCL); dist/allreduce.c
// drives it. The NCCL unique id travels over MPI: rank 0 makes it, the
// caller broadcasts its NCCL_ID_BYTES bytes, every rank opens the
// communicator on the GPU of its local rank.
//
// Ordering: allreduce calls enqueue on the communicator's own stream after
// an event recorded on the compute stream, so the host never blocks and the
// reduction of a bucket overlaps the backward of the layers below it.
// Errors: every NCCL / CUDA call is checked; nccl_comm_wait polls
// ncclCommGetAsyncError and, past the deadline or on an asynchronous error
// (a peer died, a network failure), aborts the communicator and returns
// non-zero with a message so the caller can end every rank.
#ifndef VP_DIST_NCCL_COMM_H
#define VP_DIST_NCCL_COMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NCCL_ID_BYTES 128  // sizeof(ncclUniqueId)

typedef struct vp_nccl vp_nccl;

// Rank 0: a fresh unique id (NCCL_ID_BYTES bytes) to broadcast.
void nccl_comm_unique_id(void *id);
// Opens the communicator (collective over all ranks, after the id reached
// every rank) on device `device`; compute_stream is the stream gradients are
// produced on (NULL: the default stream).
vp_nccl *nccl_comm_open(const void *id, int rank, int world, int device, void *compute_stream);
void nccl_comm_close(vp_nccl *c);
// Enqueue an in-place sum over ranks of scale * dev_buf[0..n) (device
// memory; ncclRedOpCreatePreMulSum when scale != 1), ordered after the work
// queued on the compute stream so far.
void nccl_comm_allreduce_sum(vp_nccl *c, float *dev_buf, size_t n, float scale);
// dev_buf[0..n) *= scale on `stream` (NULL: the default stream); for a
// world of one, where no reduction runs.
void nccl_comm_scale(float *dev_buf, size_t n, float scale, void *stream);
// Waits for every enqueued reduction, for at most timeout_s seconds. Returns
// 0 when done; non-zero (with why filled) after aborting the communicator
// on an asynchronous NCCL error or the timeout.
int nccl_comm_wait(vp_nccl *c, double timeout_s, char *why, size_t why_len);
// 1 when every enqueued reduction has completed (no blocking).
int nccl_comm_done(vp_nccl *c);

#ifdef __cplusplus
}
#endif

#endif
