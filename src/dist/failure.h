// failure.h: bounded-time failure handling for multi-rank runs.
//
// The problem. When one rank dies (killed, out of memory, a node lost) or
// stops making progress, its peers block forever in their next collective:
// MPI over shared memory has no notion of a dead peer, and a job that hangs
// burns its allocation until the wall-clock limit. The goal: whatever
// happens to one rank, every rank exits non-zero within a bounded time, with
// a message that names the rank at fault; nothing hangs.
//
// The design: a watchdog thread per rank, and a deadline per collective.
//   - failure_start() (collective, after comm_init) exchanges every rank's
//     host, pid and process start time, and starts the thread.
//   - Every collective of dist/ (comm.c, allreduce.c) is bracketed by
//     failure_enter(what) / failure_leave(). The main thread only writes
//     two words there; the thread does the rest.
//   - While a collective is open, the thread checks every 0.2 s
//       * the peers on the same node, through /proc/<pid>/stat: a peer that
//         is gone, a zombie, or a different process under a reused pid has
//         died -> abort once the collective has been open for 1 s (a peer
//         may legitimately exit right after finishing the collective this
//         rank is still leaving): "rank 1 (pid 4242 on node vm) has exited";
//       * the deadline: a collective open longer than the timeout (the
//         dist.timeout key; longer for the barrier that waits for a
//         checkpoint write) -> abort, naming the local peers that are
//         stopped (state T) or, when none is, saying that a rank on another
//         node stopped responding.
//   - Abort = print the message, then MPI_Abort(MPI_COMM_WORLD, 1), which
//     asks the launcher (mpirun, or srun through PMIx) to kill every rank,
//     including a stopped or hung one. An alarm(10) armed first ends this
//     process even if MPI_Abort itself hangs.
// Every rank runs its own watchdog with the same deadlines, so the bound
// holds even where the launcher does not tear the job down (srun without
// --kill-on-bad-exit): a dead peer on the node ends the job in about 1-2 s,
// anything else within timeout + 0.2 s (+ 10 s if MPI_Abort hangs).
// Measured (tests/mpi/test_train_preempt.sh, mpirun, one node): a rank
// killed with SIGKILL -> all ranks gone in about 2 s; a rank stopped with
// SIGSTOP and dist.timeout = 5 -> the job ends after about 6 s, the message
// naming the stopped rank.
// The launcher's own handling comes on top: mpirun kills the job as soon as
// one rank dies by a signal or exits non-zero without MPI_Finalize, and
// srun --kill-on-bad-exit=1 does the same; the watchdog covers what they do
// not see (a hung or stopped rank, a dead rank on a launcher without kill).
//
// A rank that fails by itself (vp_die: a bad file, out of memory) exits
// with status 1; its peers see it gone at their next collective and abort.
//
// Thread rules: MPI stays funnelled through the main thread except for the
// one MPI_Abort call, which Open MPI and MPICH allow from any thread for
// exactly this purpose. The functions below are cheap no-ops in a world of
// one or before failure_start().
#ifndef VP_DIST_FAILURE_H
#define VP_DIST_FAILURE_H

#include <stdint.h>

struct vp_comm;

// Collective over c. timeout_s > 0: seconds a collective may take. Starts
// the watchdog thread when c->size > 1.
void failure_start(const struct vp_comm *c, double timeout_s);
// Stops the thread (before comm_finalize).
void failure_stop(void);
// The training step named in messages ("at step 120"); -1: none.
void failure_set_step(int64_t step);
// Sets the timeout of the following collectives; returns the previous one.
double failure_set_timeout(double timeout_s);
double failure_get_timeout(void);
// Brackets one collective; `what` is a static string ("gradient all-reduce").
void failure_enter(const char *what);
void failure_leave(void);

// One look at the local peers now: the lowest rank found dead, or -1, with
// a description in why (exposed for polling loops and tests).
int failure_check_peers(char *why, int why_len);

#endif
