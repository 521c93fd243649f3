// preempt.h: preemption by signal, handled at step boundaries.
// Slurm announces the end of a job (time limit with --signal=USR1@N, QoS
// preemption, scancel) with SIGUSR1 or SIGTERM. The handlers installed here
// only count the signal; nothing is interrupted. At the next step boundary
// the trainer all-reduces preempt_pending() with MAX, so a signal that
// reached one rank (or only the launcher's chosen ones) stops all of them at
// the same step; they write a checkpoint and exit with status 42, which the
// sbatch script turns into a requeue.
//
// A second (third, ...) signal while the checkpoint is being written only
// counts again: the write runs to completion and its atomic rename commits
// it. Even SIGKILL in the middle leaves the previous checkpoint and LATEST
// intact (ckpt/ckpt_dir.h), so nothing is ever corrupted. To stop at once,
// send SIGKILL (or SIGINT, which keeps its default action).
#ifndef VP_TRAIN_PREEMPT_H
#define VP_TRAIN_PREEMPT_H

// Installs the SIGUSR1 and SIGTERM handlers (idempotent).
void preempt_install(void);
// Restores the previous handlers.
void preempt_uninstall(void);
// 1 when a preemption signal arrived since install.
int preempt_pending(void);
// The number of the last signal that arrived (0: none), for messages.
int preempt_signal(void);
// Signals counted so far.
int preempt_count(void);

#endif
