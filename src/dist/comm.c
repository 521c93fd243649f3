// comm.c: MPI process group and collectives (see comm.h).
#include "dist/comm.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#ifdef VP_HAVE_MPI
#include <mpi.h>

#define CHECK_MPI(call)                                                            \
  do {                                                                             \
    int rc_ = (call);                                                              \
    if (rc_ != MPI_SUCCESS) {                                                      \
      char msg_[MPI_MAX_ERROR_STRING];                                             \
      int len_ = 0;                                                                \
      MPI_Error_string(rc_, msg_, &len_);                                          \
      vp_die_at(__FILE__, __LINE__, "%s failed: %s; check that every rank runs the " \
                "same command and that mpirun/srun started all ranks", #call, msg_);  \
    }                                                                              \
  } while (0)

// MPI counts are int: large buffers go in chunks.
#define CHUNK ((size_t)1 << 28)

// Was this process started by a launcher (mpirun, srun --mpi=pmix)? Without
// one the world is this process alone, and MPI_Init (about 0.4 s of singleton
// start-up) is skipped.
static int launched(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
  for (int i = 0; vars[i]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

void comm_init(vp_comm *c, int *argc, char ***argv) {
  memset(c, 0, sizeof(*c));
  int inited = 0;
  CHECK_MPI(MPI_Initialized(&inited));
  if (!inited && !launched()) {
    c->rank = c->local_rank = 0;
    c->size = c->local_size = 1;
    return;
  }
  if (!inited) {
    int provided = 0;
    CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    c->mpi = 1;
  }
  CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
  CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &c->size));
  MPI_Comm node;
  CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node));
  CHECK_MPI(MPI_Comm_rank(node, &c->local_rank));
  CHECK_MPI(MPI_Comm_size(node, &c->local_size));
  CHECK_MPI(MPI_Comm_free(&node));
}

void comm_finalize(vp_comm *c) {
  if (c->mpi) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    c->mpi = 0;
  }
}

static void allreduce(const vp_comm *c, void *x, size_t n, MPI_Datatype t, size_t esz, MPI_Op op) {
  if (c->size == 1) return;
  for (size_t off = 0; off < n; off += CHUNK) {
    size_t k = n - off < CHUNK ? n - off : CHUNK;
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, (char *)x + off * esz, (int)k, t, op, MPI_COMM_WORLD));
  }
}

void comm_allreduce_sum_f64(const vp_comm *c, double *x, size_t n) { allreduce(c, x, n, MPI_DOUBLE, 8, MPI_SUM); }
void comm_allreduce_sum_i64(const vp_comm *c, int64_t *x, size_t n) { allreduce(c, x, n, MPI_INT64_T, 8, MPI_SUM); }
void comm_allreduce_min_f64(const vp_comm *c, double *x, size_t n) { allreduce(c, x, n, MPI_DOUBLE, 8, MPI_MIN); }
void comm_allreduce_max_f64(const vp_comm *c, double *x, size_t n) { allreduce(c, x, n, MPI_DOUBLE, 8, MPI_MAX); }
void comm_allreduce_max_i32(const vp_comm *c, int *x, size_t n) { allreduce(c, x, n, MPI_INT, 4, MPI_MAX); }
void comm_allreduce_sum_f32(const vp_comm *c, float *x, size_t n) { allreduce(c, x, n, MPI_FLOAT, 4, MPI_SUM); }

void comm_bcast(const vp_comm *c, void *buf, size_t bytes, int root) {
  if (c->size == 1) return;
  for (size_t off = 0; off < bytes; off += CHUNK) {
    size_t k = bytes - off < CHUNK ? bytes - off : CHUNK;
    CHECK_MPI(MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD));
  }
}

void comm_barrier(const vp_comm *c) {
  if (c->size > 1) CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

void comm_allgather_f64(const vp_comm *c, const double *x, size_t n, double *out) {
  if (c->size == 1) {
    memcpy(out, x, n * sizeof(double));
    return;
  }
  VP_ASSERT(n < CHUNK);
  CHECK_MPI(MPI_Allgather(x, (int)n, MPI_DOUBLE, out, (int)n, MPI_DOUBLE, MPI_COMM_WORLD));
}

#else  // no MPI: a world of one

void comm_init(vp_comm *c, int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  memset(c, 0, sizeof(*c));
  c->size = c->local_size = 1;
  const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
  if (!ws) ws = getenv("PMI_SIZE");
  if (ws && atoi(ws) > 1)
    vp_die("launched as %s ranks, but this vpcast was built without MPI; rebuild with -DVP_MPI=ON", ws);
}
void comm_finalize(vp_comm *c) { (void)c; }
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
#endif
