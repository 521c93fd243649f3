// model.h: what the trainer sees of a model.
// The trainer is generic: it owns the loop (loader, accumulation, all-reduce,
// AdamW, clipping, EMA, checkpoints) and asks the model for one thing, the
// loss of a micro-batch as a differentiable graph on the runtime. Everything
// random inside forward_loss (diffusion timesteps, noise, condition dropout)
// must be drawn from the named Philox streams at (run seed, b->step, the
// batch's global sample indices), so the same sample draws the same numbers
// on any number of ranks and after a resume.
//
//   vp_model *m = model_create(cfg, src);          // declares, allocates, initialises
//   ... per micro-batch ...
//   vp_model_batch mb = {.data = loader_next(ld), .step = step};
//   vp_tensor *loss = m->forward_loss(m, ctx, &mb);  // ctx in training mode
//   tape_backward(ctx, loss); ... m->params->grad ...
//   model_free(m);
#ifndef VP_TRAIN_MODEL_H
#define VP_TRAIN_MODEL_H

#include <stdint.h>

#include "core/config.h"
#include "core/params.h"
#include "core/tensor.h"
#include "io/loader.h"
#include "io/source.h"

typedef struct vp_model_batch {
  const vp_batch *data;  // clips of this micro-batch (io/loader.h), with global sample indices
  uint64_t step;         // optimizer step: the rng `step` coordinate of the batch's draws
} vp_model_batch;

typedef struct vp_model {
  const char *name;      // model.name
  vp_params *params;     // the trainable parameters (AdamW, all-reduce, EMA and checkpoints use it)
  uint64_t seed;         // run seed: initialisation and every draw
  void *impl;
  // Mean loss over the micro-batch's clips, a 0-dim tensor recorded on
  // ctx's tape (ctx in training mode). The trainer scales it for gradient
  // accumulation; the model never communicates.
  vp_tensor *(*forward_loss)(struct vp_model *m, vp_ctx *ctx, const vp_model_batch *b);
  void (*free)(struct vp_model *m);  // frees impl and params, not m
} vp_model;

// Builds the model that model.name names, for clips of src (its frames,
// size and modalities), with parameters initialised from cfg's `seed`.
// An unknown name or a model/data mismatch ends the program with a message
// that names the key and the fix.
vp_model *model_create(const vp_config *cfg, const vp_source *src);
void model_free(vp_model *m);

#endif
