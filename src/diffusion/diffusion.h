// diffusion.h: the diffusion.* config keys and what they build: the noise
// schedule, the training loss and the DDIM sampler settings. Every diffusion
// model reads its process from here, so the keys are the same for all.
#ifndef VP_DIFFUSION_DIFFUSION_H
#define VP_DIFFUSION_DIFFUSION_H

#include "core/config.h"
#include "core/options.h"
#include "diffusion/ddim.h"
#include "diffusion/ddpm_loss.h"
#include "diffusion/schedule.h"

typedef struct vp_diffusion {
  vp_schedule sched;
  vp_ddpm_loss_kind loss;
  ddim_cfg ddim;
} vp_diffusion;

// Rows diffusion.schedule, .timesteps, .beta_start, .beta_end, .cosine_s,
// .max_beta, .loss, .sample_steps, .eta, .clip_x0 (spliced into `vpcast
// train`'s table).
extern const vp_option opts_diffusion[];

// Builds the process from a config bound to a table that includes
// opts_diffusion. beta_start / beta_end of 0 (the default) take the paper
// values of the schedule (sqrt_linear: SyncVP's 0.0015..0.0195; linear:
// PredLDM's 1e-4..0.02). Inconsistent values (beta_start > beta_end, more sampling
// steps than timesteps) end the program with a message naming the keys and
// where they were set.
void diffusion_from_config(vp_diffusion *d, const vp_config *cfg);
void diffusion_free(vp_diffusion *d);

#endif
