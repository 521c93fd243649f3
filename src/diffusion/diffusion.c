// diffusion.c: diffusion.* config keys -> schedule, loss, sampler (see diffusion.h).
#include "diffusion/diffusion.h"

#include <string.h>

#include "core/check.h"

const vp_option opts_diffusion[] = {
    {.key = "diffusion.schedule", .type = OPT_ENUM, .def = "sqrt_linear", .choices = "sqrt_linear|linear|cosine",
     .help = "noise schedule: SyncVP's sqrt-linear, PredLDM's linear, RVD's cosine"},
    {.key = "diffusion.timesteps", .type = OPT_INT, .def = "1000", .range = "[2, 100000]",
     .help = "diffusion steps T (SyncVP, PredLDM 1000; RVD 1600)"},
    {.key = "diffusion.beta_start", .type = OPT_FLOAT, .def = "0", .range = "[0, 1)",
     .help = "first beta of the (sqrt-)linear schedules; 0: the paper's (sqrt_linear 0.0015, linear 1e-4)"},
    {.key = "diffusion.beta_end", .type = OPT_FLOAT, .def = "0", .range = "[0, 1)",
     .help = "last beta of the (sqrt-)linear schedules; 0: the paper's (sqrt_linear 0.0195, linear 0.02)"},
    {.key = "diffusion.cosine_s", .type = OPT_FLOAT, .def = "0.008", .range = "(0, 1]",
     .help = "offset s of the cosine schedule"},
    {.key = "diffusion.max_beta", .type = OPT_FLOAT, .def = "0.999", .range = "(0, 1]",
     .help = "betas of the cosine schedule are clipped to this"},
    {.key = "diffusion.loss", .type = OPT_ENUM, .def = "mse", .choices = "mse|l1",
     .help = "loss on the predicted noise: mean squared (SyncVP, PredLDM) or mean absolute (RVD) error"},
    {.key = "diffusion.sample_steps", .type = OPT_INT, .def = "100", .range = "[1, 100000]",
     .help = "DDIM sampling steps (SyncVP: 100)"},
    {.key = "diffusion.eta", .type = OPT_FLOAT, .def = "1", .range = "[0, 10]",
     .help = "DDIM eta: 0 deterministic, 1 as SyncVP samples"},
    {.key = "diffusion.clip_x0", .type = OPT_FLOAT, .def = "1", .range = "[0, inf)",
     .help = "clamp the predicted x0 to [-clip_x0, clip_x0] at every DDIM step (0: no clamp)"},
    OPT_END,
};

void diffusion_from_config(vp_diffusion *d, const vp_config *cfg) {
  char w1[512], w2[512];
  memset(d, 0, sizeof(*d));
  const int T = (int)cfg_int(cfg, "diffusion.timesteps");
  const char *kind = cfg_str(cfg, "diffusion.schedule");
  vp_sched_kind k;
  VP_ASSERT(schedule_kind_parse(kind, &k) == 0);  // the enum row allows only known names
  if (k == VP_SCHED_COSINE) {
    schedule_init_cosine(&d->sched, T, cfg_float(cfg, "diffusion.cosine_s"), cfg_float(cfg, "diffusion.max_beta"));
  } else {
    const int sq = k == VP_SCHED_SQRT_LINEAR;
    // 0 stands for the paper's value, so a dumped config (every key written
    // out) reads back to the same schedule.
    double b0 = cfg_float(cfg, "diffusion.beta_start"), b1 = cfg_float(cfg, "diffusion.beta_end");
    if (b0 == 0.0) b0 = sq ? 0.0015 : 1e-4;
    if (b1 == 0.0) b1 = sq ? 0.0195 : 0.02;
    if (b0 > b1)
      vp_die("diffusion.beta_start = %g (%s) must not exceed diffusion.beta_end = %g (%s)", b0,
             cfg_source(cfg, "diffusion.beta_start", w1, sizeof w1), b1,
             cfg_source(cfg, "diffusion.beta_end", w2, sizeof w2));
    if (sq) schedule_init_sqrt_linear(&d->sched, T, b0, b1);
    else schedule_init_linear(&d->sched, T, b0, b1);
  }
  VP_ASSERT(ddpm_loss_kind_parse(cfg_str(cfg, "diffusion.loss"), &d->loss) == 0);
  d->ddim.steps = (int)cfg_int(cfg, "diffusion.sample_steps");
  d->ddim.eta = cfg_float(cfg, "diffusion.eta");
  d->ddim.clip_x0 = cfg_float(cfg, "diffusion.clip_x0");
  if (d->ddim.steps > T)
    vp_die("diffusion.sample_steps = %d (%s) must not exceed diffusion.timesteps = %d (%s)", d->ddim.steps,
           cfg_source(cfg, "diffusion.sample_steps", w1, sizeof w1), T,
           cfg_source(cfg, "diffusion.timesteps", w2, sizeof w2));
}

void diffusion_free(vp_diffusion *d) { schedule_free(&d->sched); }
