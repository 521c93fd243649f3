// trainer.h: the data-parallel training loop, generic over vp_model.
//
// One optimizer step (every rank, in lockstep):
//   zero grads; for each of A micro-batches (train.grad_accum):
//     batch = loader_next (this rank's G / (ranks x A) clips, global sample
//     indices from the sampler), loss = model->forward_loss, backward;
//     on the last micro-step only, the bucketed all-reduce of the gradients
//     runs during backward (dist/allreduce.h); earlier ones only accumulate.
//   grads = sum over ranks and micro-steps / (ranks x A): the gradient of
//   the mean loss over the global batch G (train.batch_size), whatever the
//   number of ranks;
//   clip to train.grad_clip (global 2-norm); a non-finite norm skips the
//   update (the NaN guard: reported, counted, and after train.nan_limit in a
//   row the run ends with a message); else AdamW at lr(step), then EMA.
// Every rank then holds the same parameters; rank 0 alone prints and writes
// files, and holds no collective while doing so.
//
// Around the steps:
//   - progress every train.log_every steps (rank 0): step, loss (mean over
//     the interval and all ranks), grad norm, lr, ms/step, clips/s, ETA;
//     the same as one JSON record per line in <out>/log.jsonl;
//   - a checkpoint every train.ckpt_every steps and at the end
//     (ckpt/ckpt.h, ckpt/ckpt_dir.h), after checking that every rank holds
//     the same parameters and optimizer state (a CRC all-gather);
//   - at every step boundary the ranks all-reduce (MAX) the preemption flag
//     (train/preempt.h); if any rank got SIGUSR1/SIGTERM, all write a
//     checkpoint and trainer_run returns 42;
//   - resume: `resume` = "auto" (LATEST, or a fresh start), "never", or a
//     checkpoint path. Rank 0 reads the file and broadcasts it; a
//     checkpoint of another world size or global batch is refused with a
//     message. A resumed run continues bit for bit.
//
// Exact resume holds when these are the same as in the first run: the
// world size, the OpenMP thread count per rank, the device, dist.bucket_mb,
// train.grad_accum and the vpcast build (kernels may round differently
// after a change). Each is recorded in the checkpoint; the trainer refuses a
// different world size or global batch and warns about the rest.
#ifndef VP_TRAIN_TRAINER_H
#define VP_TRAIN_TRAINER_H

#include <stdint.h>

#include "core/config.h"
#include "dist/comm.h"
#include "io/source.h"
#include "train/model.h"

// What a run ended with (also for tests).
typedef struct vp_train_result {
  int status;            // 0 done, 42 preempted, 2 refused to start (rank 0 printed why)
  int64_t start_step;    // step the run started (or resumed) at
  int64_t step;          // steps completed at the end
  int64_t skipped;       // updates skipped by the NaN guard in this run
  double last_loss;      // global mean loss of the last step
  char ckpt[4096];       // last checkpoint written (rank 0), "" if none
} vp_train_result;

// Trains model on src as cfg says (a config bound to opts_train). `comm`
// must be initialised; src and model are the caller's. The caller owns
// MPI: trainer_run starts and stops the failure watchdog itself.
vp_train_result trainer_run(const vp_config *cfg, const vp_comm *comm, vp_model *model, vp_source *src);

// The learning rate of the update after `step` completed updates, for the
// train.lr_schedule / lr / warmup_steps / eta_min / steps of cfg:
//   constant:       linear warm-up from 0 to lr, then lr
//   warmup_linear:  warm-up, then linear decay to eta_min at the last step
//   cosine:         warm-up, then cosine decay to eta_min at the last step
double trainer_lr(const vp_config *cfg, int64_t step);

#endif
