// comm.c: MPI process group and collectives (see comm.h).
#include "dist/comm.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "dist/failure.h"
#include "dist/mpi_check.h"

// ---------------------------------------------------------------- launcher environment

static int env_int(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return -1;
  char *end = NULL;
  long x = strtol(v, &end, 10);
  return (end && *end == 0 && x >= 0 && x < (1L << 30)) ? (int)x : -1;
}

const char *comm_launcher_env(int *rank, int *size, int *local_rank) {
  *rank = *size = *local_rank = -1;
  if (getenv("OMPI_COMM_WORLD_SIZE")) {  // Open MPI's mpirun (also inside Slurm)
    *rank = env_int("OMPI_COMM_WORLD_RANK");
    *size = env_int("OMPI_COMM_WORLD_SIZE");
    *local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
    return "mpirun";
  }
  if (getenv("SLURM_STEP_NUM_TASKS") && getenv("SLURM_PROCID")) {  // srun (any --mpi plugin)
    *rank = env_int("SLURM_PROCID");
    *size = env_int("SLURM_STEP_NUM_TASKS");
    *local_rank = env_int("SLURM_LOCALID");
    return "srun";
  }
  if (getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE")) {  // other PMI launchers
    *rank = getenv("PMIX_RANK") ? env_int("PMIX_RANK") : env_int("PMI_RANK");
    *size = env_int("PMI_SIZE");
    return "pmi";
  }
  return "none";
}

#ifdef VP_HAVE_MPI

// Can MPI_Init find its peers? srun provides them only through a PMI
// plugin (--mpi=pmix sets PMIX_RANK); without one every task would be a
// singleton world.
static int mpi_wired(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
  for (int i = 0; vars[i]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

void comm_init(vp_comm *c, int *argc, char ***argv) {
  memset(c, 0, sizeof(*c));
  int env_rank, env_size, env_local;
  c->launcher = comm_launcher_env(&env_rank, &env_size, &env_local);
  int inited = 0;
  CHECK_MPI(MPI_Initialized(&inited));
  if (!inited && !mpi_wired()) {
    if (env_size > 1)
      vp_die("started by %s as task %d of %d, but without a process-management interface MPI "
             "cannot connect the tasks; launch with 'srun --mpi=pmix ...' (check 'srun --mpi=list') "
             "or with mpirun inside the allocation", c->launcher, env_rank, env_size);
    // Without a launcher (or a one-task srun step) the world is this process
    // alone, and MPI_Init (about 0.4 s of singleton start-up) is skipped.
    c->rank = c->local_rank = 0;
    c->size = c->local_size = c->nodes = 1;
    return;
  }
  if (!inited) {
    // Open MPI's nonblocking all-reduce (libnbc) picks a binomial reduce +
    // broadcast for in-place buffers or fewer than 4 ranks: twice the
    // traffic of a ring, measured 2x slower at 2 ranks (docs/performance.md).
    // The gradient buckets use the ring unless the user chose otherwise; the
    // fixed choice also fixes the summation order (exact resume).
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
    int provided = 0;
    CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    c->mpi = 1;
  }
  CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
  CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &c->size));
  if (env_size > 0 && env_size != c->size)
    vp_die("%s started %d processes, but MPI sees a world of %d (rank %d): the MPI library vpcast "
           "was built with does not match the launcher; use that MPI's mpirun, or srun --mpi=pmix",
           c->launcher, env_size, c->size, c->rank);
  if (env_rank >= 0 && env_rank != c->rank && strcmp(c->launcher, "mpirun") == 0)
    vp_die("mpirun says this is rank %d but MPI says rank %d; the MPI library does not match mpirun",
           env_rank, c->rank);
  MPI_Comm node;
  CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node));
  CHECK_MPI(MPI_Comm_rank(node, &c->local_rank));
  CHECK_MPI(MPI_Comm_size(node, &c->local_size));
  CHECK_MPI(MPI_Comm_free(&node));
  int leader = c->local_rank == 0;
  CHECK_MPI(MPI_Allreduce(&leader, &c->nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
  // The launcher's local id and the shared-memory split count the same ranks
  // but may order them differently; only warn, since the split is what
  // actually shares the node.
  if (env_local >= 0 && env_local >= c->local_size)
    vp_warn("rank %d: the launcher gives local rank %d but only %d ranks share this node", c->rank,
            env_local, c->local_size);
}

void comm_finalize(vp_comm *c) {
  if (c->mpi) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    c->mpi = 0;
  }
}

void comm_abort(const vp_comm *c, int code) {
  fflush(stdout);
  fflush(stderr);
  int inited = 0, fin = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&fin);
  if (c->size > 1 && inited && !fin) MPI_Abort(MPI_COMM_WORLD, code);
  _exit(code);
}

static void allreduce(const vp_comm *c, void *x, size_t n, MPI_Datatype t, size_t esz, MPI_Op op,
                      const char *what) {
  if (c->size == 1) return;
  failure_enter(what);
  for (size_t off = 0; off < n; off += COMM_CHUNK) {
    size_t k = n - off < COMM_CHUNK ? n - off : COMM_CHUNK;
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, (char *)x + off * esz, (int)k, t, op, MPI_COMM_WORLD));
  }
  failure_leave();
}

void comm_allreduce_sum_f64(const vp_comm *c, double *x, size_t n) {
  allreduce(c, x, n, MPI_DOUBLE, 8, MPI_SUM, "all-reduce (sum)");
}
void comm_allreduce_sum_i64(const vp_comm *c, int64_t *x, size_t n) {
  allreduce(c, x, n, MPI_INT64_T, 8, MPI_SUM, "all-reduce (sum)");
}
void comm_allreduce_min_f64(const vp_comm *c, double *x, size_t n) {
  allreduce(c, x, n, MPI_DOUBLE, 8, MPI_MIN, "all-reduce (min)");
}
void comm_allreduce_max_f64(const vp_comm *c, double *x, size_t n) {
  allreduce(c, x, n, MPI_DOUBLE, 8, MPI_MAX, "all-reduce (max)");
}
void comm_allreduce_max_i32(const vp_comm *c, int *x, size_t n) {
  allreduce(c, x, n, MPI_INT, 4, MPI_MAX, "all-reduce (max)");
}
void comm_allreduce_sum_f32(const vp_comm *c, float *x, size_t n) {
  allreduce(c, x, n, MPI_FLOAT, 4, MPI_SUM, "all-reduce (sum)");
}

void comm_bcast(const vp_comm *c, void *buf, size_t bytes, int root) {
  if (c->size == 1) return;
  failure_enter("broadcast");
  for (size_t off = 0; off < bytes; off += COMM_CHUNK) {
    size_t k = bytes - off < COMM_CHUNK ? bytes - off : COMM_CHUNK;
    CHECK_MPI(MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD));
  }
  failure_leave();
}

void comm_barrier(const vp_comm *c) {
  if (c->size == 1) return;
  failure_enter("barrier");
  CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
  failure_leave();
}

void comm_allgather_f64(const vp_comm *c, const double *x, size_t n, double *out) {
  if (c->size == 1) {
    memcpy(out, x, n * sizeof(double));
    return;
  }
  VP_ASSERT(n < COMM_CHUNK);
  failure_enter("all-gather");
  CHECK_MPI(MPI_Allgather(x, (int)n, MPI_DOUBLE, out, (int)n, MPI_DOUBLE, MPI_COMM_WORLD));
  failure_leave();
}

void comm_allgather_i64(const vp_comm *c, const int64_t *x, size_t n, int64_t *out) {
  if (c->size == 1) {
    memcpy(out, x, n * sizeof(int64_t));
    return;
  }
  VP_ASSERT(n < COMM_CHUNK);
  failure_enter("all-gather");
  CHECK_MPI(MPI_Allgather(x, (int)n, MPI_INT64_T, out, (int)n, MPI_INT64_T, MPI_COMM_WORLD));
  failure_leave();
}

#else  // no MPI: a world of one

void comm_init(vp_comm *c, int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  memset(c, 0, sizeof(*c));
  c->size = c->local_size = c->nodes = 1;
  int r, n, l;
  c->launcher = comm_launcher_env(&r, &n, &l);
  if (n > 1)
    vp_die("launched by %s as %d ranks, but this vpcast was built without MPI; rebuild with -DVP_MPI=ON",
           c->launcher, n);
}
void comm_finalize(vp_comm *c) { (void)c; }
void comm_abort(const vp_comm *c, int code) {
  (void)c;
  fflush(stdout);
  fflush(stderr);
  _exit(code);
}
void comm_allreduce_sum_f64(const vp_comm *c, double *x, size_t n) { (void)c; (void)x; (void)n; }
void comm_allreduce_sum_i64(const vp_comm *c, int64_t *x, size_t n) { (void)c; (void)x; (void)n; }
void comm_allreduce_min_f64(const vp_comm *c, double *x, size_t n) { (void)c; (void)x; (void)n; }
void comm_allreduce_max_f64(const vp_comm *c, double *x, size_t n) { (void)c; (void)x; (void)n; }
void comm_allreduce_max_i32(const vp_comm *c, int *x, size_t n) { (void)c; (void)x; (void)n; }
void comm_allreduce_sum_f32(const vp_comm *c, float *x, size_t n) { (void)c; (void)x; (void)n; }
void comm_bcast(const vp_comm *c, void *buf, size_t bytes, int root) { (void)c; (void)buf; (void)bytes; (void)root; }
void comm_barrier(const vp_comm *c) { (void)c; }
void comm_allgather_f64(const vp_comm *c, const double *x, size_t n, double *out) {
  (void)c;
  memcpy(out, x, n * sizeof(double));
}
void comm_allgather_i64(const vp_comm *c, const int64_t *x, size_t n, int64_t *out) {
  (void)c;
  memcpy(out, x, n * sizeof(int64_t));
}
#endif
