// comm.h: the process group: rank, world size, and the collectives that
// evaluation and data tools need (MPI on CPU). A run without a launcher is a
// world of one. Every rank must call the same collectives in the same order.
#ifndef VP_DIST_COMM_H
#define VP_DIST_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vp_comm {
  int rank, size;
  int local_rank, local_size;  // within the node
  int mpi;                     // 1 when MPI was initialised by comm_init
} vp_comm;

// Initialise (MPI_Init_thread when built with MPI) and fill rank / size.
// Safe to call once per process.
void comm_init(vp_comm *c, int *argc, char ***argv);
void comm_finalize(vp_comm *c);
// In-place all-reduce over all ranks.
void comm_allreduce_sum_f64(const vp_comm *c, double *x, size_t n);
void comm_allreduce_sum_i64(const vp_comm *c, int64_t *x, size_t n);
void comm_allreduce_min_f64(const vp_comm *c, double *x, size_t n);
void comm_allreduce_max_f64(const vp_comm *c, double *x, size_t n);
void comm_allreduce_max_i32(const vp_comm *c, int *x, size_t n);
void comm_allreduce_sum_f32(const vp_comm *c, float *x, size_t n);
// Broadcast bytes from root.
void comm_bcast(const vp_comm *c, void *buf, size_t bytes, int root);
void comm_barrier(const vp_comm *c);
// Gather n doubles from every rank to all ranks, in rank order (out: size*n).
void comm_allgather_f64(const vp_comm *c, const double *x, size_t n, double *out);

#endif
