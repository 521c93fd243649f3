// nccl_allreduce.cu: the NCCL communicator behind the bucketed gradient
// all-reduce on GPUs (see src/dist/nccl_comm.h). Built whenever CUDA is on;
// the id exchange over MPI and the bucket logic live in dist/allreduce.c.
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/nccl_comm.h"

static_assert(sizeof(ncclUniqueId) == NCCL_ID_BYTES, "NCCL_ID_BYTES must equal sizeof(ncclUniqueId)");

// One check per library, as everywhere in vpcast: the call, its message and
// what to do; then exit(1) (the failure watchdog of the other ranks ends them).
#define CHECK_CUDA(call)                                                                     \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      fprintf(stderr, "vpcast: error at %s:%d: %s failed: %s; check the GPU and driver "     \
                      "(nvidia-smi) and that CUDA_VISIBLE_DEVICES gives this rank a GPU\n",  \
              __FILE__, __LINE__, #call, cudaGetErrorString(e_));                            \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

#define CHECK_NCCL(call)                                                                     \
  do {                                                                                       \
    ncclResult_t r_ = (call);                                                                \
    if (r_ != ncclSuccess) {                                                                 \
      fprintf(stderr, "vpcast: error at %s:%d: %s failed: %s; run with NCCL_DEBUG=INFO to "  \
                      "see the transport and the failing peer\n",                             \
              __FILE__, __LINE__, #call, ncclGetErrorString(r_));                            \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

struct vp_nccl {
  ncclComm_t comm;
  cudaStream_t stream;          // NCCL's own stream
  cudaStream_t compute;         // where gradients are produced
  cudaEvent_t ready;            // recorded on compute, waited on by stream
  cudaEvent_t done;             // recorded on stream after the last reduction
  int pending;                  // reductions enqueued since the last wait
};

extern "C" void nccl_comm_unique_id(void *id) {
  ncclUniqueId u;
  CHECK_NCCL(ncclGetUniqueId(&u));
  memcpy(id, &u, sizeof u);
}

extern "C" vp_nccl *nccl_comm_open(const void *id, int rank, int world, int device, void *compute_stream) {
  CHECK_CUDA(cudaSetDevice(device));
  vp_nccl *c = (vp_nccl *)calloc(1, sizeof(vp_nccl));
  if (!c) {
    fprintf(stderr, "vpcast: error: out of memory opening the NCCL communicator\n");
    exit(1);
  }
  ncclUniqueId u;
  memcpy(&u, id, sizeof u);
  // Non-blocking init so a peer that never arrives is caught by the
  // caller's deadline rather than hanging inside ncclCommInitRank.
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  ncclResult_t r = ncclCommInitRankConfig(&c->comm, world, u, rank, &cfg);
  if (r != ncclSuccess && r != ncclInProgress) CHECK_NCCL(r);
  ncclResult_t state = ncclInProgress;
  do {
    CHECK_NCCL(ncclCommGetAsyncError(c->comm, &state));
  } while (state == ncclInProgress);
  CHECK_NCCL(state);
  CHECK_CUDA(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  CHECK_CUDA(cudaEventCreateWithFlags(&c->ready, cudaEventDisableTiming));
  CHECK_CUDA(cudaEventCreateWithFlags(&c->done, cudaEventDisableTiming));
  c->compute = (cudaStream_t)compute_stream;
  return c;
}

extern "C" void nccl_comm_close(vp_nccl *c) {
  if (!c) return;
  CHECK_CUDA(cudaStreamSynchronize(c->stream));
  CHECK_NCCL(ncclCommFinalize(c->comm));
  ncclResult_t state = ncclInProgress;
  do {
    CHECK_NCCL(ncclCommGetAsyncError(c->comm, &state));
  } while (state == ncclInProgress);
  CHECK_NCCL(ncclCommDestroy(c->comm));
  CHECK_CUDA(cudaEventDestroy(c->ready));
  CHECK_CUDA(cudaEventDestroy(c->done));
  CHECK_CUDA(cudaStreamDestroy(c->stream));
  free(c);
}

extern "C" void nccl_comm_allreduce_sum(vp_nccl *c, float *dev_buf, size_t n, float scale) {
  // The bucket's gradients are final once the compute stream has passed
  // this point: NCCL's stream waits for that, the host does not.
  CHECK_CUDA(cudaEventRecord(c->ready, c->compute));
  CHECK_CUDA(cudaStreamWaitEvent(c->stream, c->ready, 0));
  // scale = 1 / (ranks x micro-steps): the mean gradient. A pre-multiplied
  // sum rather than ncclAvg, because the micro-steps count too.
  ncclRedOp_t op = ncclSum;
  if (scale != 1.0f)
    CHECK_NCCL(ncclRedOpCreatePreMulSum(&op, &scale, ncclFloat32, ncclScalarHostImmediate, c->comm));
  ncclResult_t r = ncclAllReduce(dev_buf, dev_buf, n, ncclFloat32, op, c->comm, c->stream);
  if (r != ncclSuccess && r != ncclInProgress) CHECK_NCCL(r);
  if (scale != 1.0f) CHECK_NCCL(ncclRedOpDestroy(op, c->comm));
  CHECK_CUDA(cudaEventRecord(c->done, c->stream));
  c->pending++;
}

static __global__ void scale_kernel(float *x, size_t n, float s) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    x[i] *= s;
}

extern "C" void nccl_comm_scale(float *dev_buf, size_t n, float scale, void *stream) {
  if (n == 0) return;
  size_t blocks = (n + 255) / 256;
  if (blocks > 4096) blocks = 4096;
  scale_kernel<<<(unsigned)blocks, 256, 0, (cudaStream_t)stream>>>(dev_buf, n, scale);
  CHECK_CUDA(cudaGetLastError());
}

extern "C" int nccl_comm_done(vp_nccl *c) {
  if (!c->pending) return 1;
  cudaError_t e = cudaEventQuery(c->done);
  if (e == cudaErrorNotReady) return 0;
  CHECK_CUDA(e);
  return 1;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

extern "C" int nccl_comm_wait(vp_nccl *c, double timeout_s, char *why, size_t why_len) {
  const double t0 = mono_s();
  while (!nccl_comm_done(c)) {
    ncclResult_t state = ncclSuccess;
    CHECK_NCCL(ncclCommGetAsyncError(c->comm, &state));
    if (state != ncclSuccess && state != ncclInProgress) {
      snprintf(why, why_len, "NCCL reported an asynchronous error: %s (a peer rank failed, or the "
               "network); run with NCCL_DEBUG=INFO", ncclGetErrorString(state));
      ncclCommAbort(c->comm);
      return 1;
    }
    if (mono_s() - t0 > timeout_s) {
      snprintf(why, why_len, "the NCCL all-reduce did not complete within %.0f s (dist.timeout): a "
               "peer rank is dead or hangs", timeout_s);
      ncclCommAbort(c->comm);
      return 1;
    }
    struct timespec ts = {0, 100000};  // 0.1 ms
    nanosleep(&ts, NULL);
  }
  c->pending = 0;
  return 0;
}
