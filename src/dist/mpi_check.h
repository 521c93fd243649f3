// mpi_check.h: the MPI error-check macro of src/dist (private to dist/*.c).
// Communicators run with MPI_ERRORS_RETURN, so a failed call comes back here
// and ends the program with the call, MPI's message and what to check.
#ifndef VP_DIST_MPI_CHECK_H
#define VP_DIST_MPI_CHECK_H

#ifdef VP_HAVE_MPI
#include <mpi.h>

#include "core/check.h"

#define CHECK_MPI(call)                                                              \
  do {                                                                               \
    int rc_ = (call);                                                                \
    if (rc_ != MPI_SUCCESS) {                                                        \
      char msg_[MPI_MAX_ERROR_STRING];                                               \
      int len_ = 0;                                                                  \
      MPI_Error_string(rc_, msg_, &len_);                                            \
      vp_die_at(__FILE__, __LINE__, "%s failed: %s; check that every rank runs the " \
                "same command and that mpirun/srun started all ranks", #call, msg_);  \
    }                                                                                \
  } while (0)

// MPI counts are int: large buffers go in chunks of this many elements.
#define COMM_CHUNK ((size_t)1 << 28)
#endif

#endif
