// loader.h: batches of decoded clips for one rank, read ahead by a thread.
// The loader asks the sampler for this rank's next clips, reads them through
// the clip source into a batch buffer, and hands batches to the training
// thread in order. With prefetch = k > 0 a pthread decodes up to k batches
// ahead into a ring of k + 1 batch buffers while the current batch trains;
// with prefetch = 0 loader_next reads the batch itself. Both modes produce
// the same batches in the same order: only one thread ever calls the sampler
// and the source, in sequence.
//
// Usage (the trainer; micro = train.batch_size / (ranks * grad_accum)):
//     vp_sampler smp;  sampler_init(&smp, source_count(src), batch_size, rank, world, seed, 1);
//     if (resuming) sampler_state_set(&smp, saved);        // before loader_open
//     vp_loader *ld = loader_open(src, &smp, micro, cfg_int(cfg, "data.prefetch"));
//     for each micro-step: const vp_batch *b = loader_next(ld); ... train on b ...
//     at a checkpoint: vp_sampler_state st = loader_state(ld);  // store st.epoch, st.cursor
//     loader_close(ld); sampler_free(&smp);
// loader_state() is the sampler state just after the last batch returned by
// loader_next (the prefetch thread's own position runs ahead and is never
// what a checkpoint should store). While the loader is open the sampler and
// the source belong to it: do not call them from other threads.
//
// Errors: a source that fails (bad file, corrupt chunk) ends the program
// through vp_die() from whichever thread read it, with the reader's message.
//
// HDF5 / NetCDF: the prefetch thread holds io_hdf5_lock() around each read
// of a file-backed source (every kind but synth); see io/hdf5_lock.h for
// what the other threads must do.
#ifndef VP_IO_LOADER_H
#define VP_IO_LOADER_H

#include <stdint.h>

#include "io/sampler.h"
#include "io/source.h"

typedef struct vp_batch {
  int64_t n;                    // clips in the batch
  int T, H, W, nmod;
  int channels[VP_MAX_MOD];     // C_m
  float *data[VP_MAX_MOD];      // (n, T, H, W, C_m), as the source decodes clips
  uint8_t *mask[VP_MAX_MOD];    // (n, T, H, W), 1 = valid; NULL when the modality has no mask
  int64_t *clip;                // (n) clip index in the source
  int64_t *sample;              // (n) global sample index (sampler.h): the rng `sample` coordinate
  vp_sampler_state state;       // sampler state after this batch
} vp_batch;

typedef struct vp_loader vp_loader;

// Batches of `batch` clips from src in smp's order; prefetch in [0, 64].
vp_loader *loader_open(vp_source *src, vp_sampler *smp, int64_t batch, int prefetch);
// The next batch; valid until the next loader_next or loader_close.
const vp_batch *loader_next(vp_loader *l);
vp_sampler_state loader_state(const vp_loader *l);
// Seconds the training thread has spent waiting for batches (reading, with
// prefetch 0): the part of a step the prefetch did not hide.
double loader_wait_seconds(const vp_loader *l);
// Stops the thread (mid-read is fine) and frees the buffers.
void loader_close(vp_loader *l);

#endif
