// comm.h: the process group: rank, world size, local rank, and the
// collectives that training, evaluation and the data tools need (MPI on CPU).
//
// Launchers. The same binary runs
//   - alone (no launcher): a world of one, MPI is not even initialised;
//   - under mpirun / mpiexec (Open MPI: OMPI_COMM_WORLD_* in the environment);
//   - under srun --mpi=pmix (PMIX_RANK, SLURM_PROCID, SLURM_STEP_NUM_TASKS)
//     or another PMI (PMI_RANK / PMI_SIZE).
// comm_init reads what the launcher says before MPI starts and checks that
// MPI agrees afterwards: a launcher that started N processes whose MPI
// library sees N worlds of one (srun without --mpi=pmix, another MPI's
// mpiexec) would otherwise train N copies of the run that all write the same
// checkpoints. That ends with a message saying how to launch instead.
// The local rank (rank within the node, for picking a GPU) comes from
// MPI_COMM_TYPE_SHARED and is checked against OMPI_COMM_WORLD_LOCAL_RANK /
// SLURM_LOCALID when those exist.
//
// Every rank must call the same collectives in the same order. While a
// failure watchdog runs (dist/failure.h), every collective here is guarded
// by it: a collective that does not complete in time, or a peer that died,
// ends every rank with a message naming the rank at fault.
#ifndef VP_DIST_COMM_H
#define VP_DIST_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vp_comm {
  int rank, size;
  int local_rank, local_size;  // within the node
  int nodes;                   // nodes in the world (ranks with local_rank 0)
  int mpi;                     // 1 when MPI was initialised by comm_init
  const char *launcher;        // "none", "mpirun", "srun", "pmi" (static string)
} vp_comm;

// Initialise (MPI_Init_thread when built with MPI and started by a launcher)
// and fill the fields. Safe to call once per process.
void comm_init(vp_comm *c, int *argc, char ***argv);
void comm_finalize(vp_comm *c);
// Ends every rank of the world now with `code` (MPI_Abort; _exit(code)
// without MPI). For failures one rank cannot recover from alone.
_Noreturn void comm_abort(const vp_comm *c, int code);

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
// Gather n values from every rank to all ranks, in rank order (out: size*n).
void comm_allgather_f64(const vp_comm *c, const double *x, size_t n, double *out);
void comm_allgather_i64(const vp_comm *c, const int64_t *x, size_t n, int64_t *out);

// What the launcher's environment says, without MPI (exposed for tests and
// for builds without MPI): *rank / *size / *local_rank are -1 when unknown;
// returns the launcher name ("none" when no launcher variables are set).
const char *comm_launcher_env(int *rank, int *size, int *local_rank);

#endif
