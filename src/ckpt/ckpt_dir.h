// ckpt_dir.h: the checkpoint directory <out>/ckpt and its commit protocol.
//
//   <out>/ckpt/step_%08d.h5    complete checkpoints (ckpt.h)
//   <out>/ckpt/LATEST          one line: the file name of the newest one
//   <out>/.lock                held (flock) by the rank-0 process of the run
//                              that writes to <out>
//
// Commit (rank 0 only; the other ranks wait at a barrier):
//   1. write .step_%08d.h5.tmp, fsync it               (ckpt_write)
//   2. rename it to step_%08d.h5, fsync the directory
//   3. write .LATEST.tmp with the name, fsync, rename over LATEST, fsync dir
//   4. delete old checkpoints: keep the newest K and every one whose step is
//      a multiple of M (never the one LATEST names)
// rename() replaces atomically, so at every instant LATEST names a complete
// file: a crash (SIGKILL, power loss) during 1 leaves a stray .tmp that the
// next run deletes; during 2-3 the new file may exist but LATEST still names
// the previous one, which is what --resume auto takes. A step file newer
// than LATEST is harmless: the resumed run writes it again, identically.
//
// --resume: "auto" takes LATEST when it exists and starts fresh otherwise;
// "never" starts fresh and refuses a directory that already holds a run's
// checkpoints (it would mix two runs); anything else is a checkpoint path.
#ifndef VP_CKPT_CKPT_DIR_H
#define VP_CKPT_CKPT_DIR_H

#include <stddef.h>
#include <stdint.h>

// "<out>/ckpt" into buf.
void ckpt_dir_of(const char *out, char *buf, size_t n);
// "step_00000120.h5".
void ckpt_step_name(int64_t step, char *buf, size_t n);
// Step of a checkpoint file name "step_%08d.h5" (any directory prefix), or -1.
int64_t ckpt_step_of_name(const char *name);

// Creates dir (and parents) if missing; dies with a message on failure.
void ckpt_mkdirs(const char *dir);

// Takes <out>/.lock for this process (the kernel releases it when the
// process ends, however it ends); returns the descriptor for
// ckpt_unlock_out. Dies naming the holder when another live process has it.
int ckpt_lock_out(const char *out);
void ckpt_unlock_out(int fd);

// Deletes stray temporary files of interrupted commits; returns how many.
int ckpt_dir_clean(const char *dir);

// The checkpoint LATEST names, as a path, into buf: returns 1, or 0 when
// there is no LATEST. A LATEST that names a missing file or is not a
// checkpoint name ends the program with a message.
int ckpt_dir_latest(const char *dir, char *buf, size_t n);

// Steps 1-3 of the commit: writer(tmp_path, arg) must create the file at
// tmp_path and fsync it; then it is renamed to step_<step>.h5 and published
// in LATEST. The final path goes into path_out (may be NULL).
// For crash tests only: VP_CKPT_TEST_PAUSE_MS=<ms> in the environment
// sleeps that long after the temporary file is written and again after the
// rename, so a test can kill the process inside the commit.
void ckpt_dir_commit(const char *dir, int64_t step, void (*writer)(const char *tmp_path, void *arg), void *arg,
                     char *path_out, size_t path_n);

// Step 4: keeps the newest keep_last (>= 1) checkpoints with step <=
// current, every one whose step is a multiple of keep_every (> 0), and the
// one LATEST names; deletes the rest. Returns how many it deleted.
int ckpt_dir_prune(const char *dir, int64_t current, int keep_last, int64_t keep_every);

// Step numbers of the checkpoint files in dir, ascending (malloc'd).
int64_t *ckpt_dir_list(const char *dir, int *n);

#endif
