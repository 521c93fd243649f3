// opts_train.c: the option table of `vpcast train` (also what `vpcast config
// check` validates), split into run, train.*, data.* and model.* parts so
// other commands (sample, eval) can include the parts they share. Later work
// adds rows here as the trainer, data sources and models land.
#include <string.h>

#include "cli/cli.h"
#include "diffusion/diffusion.h"
#include "dist/allreduce.h"
#include "io/source.h"
#include "models/tiny_ddpm.h"

// Data sources (io/): which clips a run reads.
const vp_option opts_data[] = {
    {.key = "data.source", .type = OPT_ENUM, .def = "synth", .choices = "synth|packed|era5|sevir",
     .help = "clip source: synthetic videos, packed HDF5 clips, ERA5-Land NetCDF, SEVIR HDF5"},
    {.key = "data.path", .type = OPT_STRING, .def = "", .flag = "--data", .metavar = "PATH",
     .help = "dataset file or directory (every source but synth)"},
    {.key = "data.split", .type = OPT_STRING, .def = "train", .help = "split to read (train, val, test)"},
    {.key = "data.modalities", .type = OPT_STRING_LIST, .def = "[]",
     .help = "modalities to load, e.g. [rgb, depth]; [] loads all of the source's modalities"},
    {.key = "data.frames", .type = OPT_INT, .def = "16", .range = "[1, 4096]",
     .help = "frames per clip (conditioning + predicted)"},
    {.key = "data.size", .type = OPT_INT_LIST, .def = "[64, 64]", .len = 2, .range = "[1, 65536]",
     .help = "frame size [H, W] after resizing / cropping"},
    {.key = "data.prefetch", .type = OPT_INT, .def = "2", .range = "[0, 64]",
     .help = "batches decoded ahead by the prefetch thread (0: read in the training thread)"},
    // Each source's own keys (data.<source>.*) live beside its reader in io/.
    OPT_INCLUDE_TABLE(opts_data_synth),
    OPT_INCLUDE_TABLE(opts_data_packed),
    OPT_INCLUDE_TABLE(opts_data_era5),
    OPT_INCLUDE_TABLE(opts_data_sevir),
    OPT_END,
};

// The model; each model file adds its own model.<name>.* rows later.
const vp_option opts_model[] = {
    {.key = "model.name", .type = OPT_STRING, .required = 1,
     .help = "model to build (e.g. pvdm_ae, tri_unet, syncvp, mtvae, stdit, rvd)"},
    {.key = "model.channels", .type = OPT_INT, .def = "64", .range = "[1, 65536]",
     .help = "base channel width"},
    {.key = "model.channel_mult", .type = OPT_INT_LIST, .def = "[1, 2, 4]", .range = "[1, 64]",
     .help = "channel multiplier per resolution level"},
    OPT_INCLUDE_TABLE(opts_model_tiny_ddpm),
    OPT_END,
};

const vp_option opts_train[] = {
    {.key = "seed", .type = OPT_INT, .def = "0", .range = "[0, 2^56)", .flag = "--seed", .metavar = "N",
     .help = "seed of every random stream (init, data order, timesteps, noise, dropout)"},
    {.key = "out", .type = OPT_STRING, .required = 1, .flag = "--out", .metavar = "DIR",
     .help = "output directory: checkpoints in DIR/ckpt, records in DIR/log.jsonl"},
    {.key = "resume", .type = OPT_STRING, .def = "auto", .flag = "--resume", .metavar = "auto|never|CKPT",
     .cli_only = 1,
     .help = "auto: continue from <out>/ckpt/LATEST when it exists; never: start fresh (refused when <out> "
             "holds checkpoints); or a checkpoint file"},
    {.key = "train.steps", .type = OPT_INT, .def = "100000", .range = "[1, 2^32)", .flag = "--steps",
     .metavar = "N", .help = "optimizer steps to run"},
    {.key = "train.batch_size", .type = OPT_INT, .def = "8", .range = "[1, 2^31)",
     .flag = "--batch-size", .metavar = "N",
     .help = "global batch size (clips per optimizer step, summed over ranks and accumulation)"},
    {.key = "train.grad_accum", .type = OPT_INT, .def = "1", .range = "[1, 4096]",
     .help = "micro-batches accumulated per optimizer step"},
    {.key = "train.lr", .type = OPT_FLOAT, .def = "1e-4", .range = "(0, 10]", .flag = "--lr",
     .metavar = "LR", .help = "peak learning rate (AdamW)"},
    {.key = "train.lr_schedule", .type = OPT_ENUM, .def = "constant",
     .choices = "constant|warmup_linear|cosine",
     .help = "after warm-up: constant lr; linear decay to eta_min at the last step; cosine decay to eta_min"},
    {.key = "train.warmup_steps", .type = OPT_INT, .def = "0", .range = "[0, 2^32)",
     .help = "linear warm-up from 0 to lr over this many steps (every schedule)"},
    {.key = "train.eta_min", .type = OPT_FLOAT, .def = "0", .range = "[0, 10]",
     .help = "final learning rate of the warmup_linear and cosine schedules"},
    {.key = "train.weight_decay", .type = OPT_FLOAT, .def = "0", .range = "[0, 10]",
     .help = "AdamW decoupled weight decay"},
    {.key = "train.betas", .type = OPT_FLOAT_LIST, .def = "[0.9, 0.999]", .len = 2, .range = "[0, 1)",
     .help = "AdamW [beta1, beta2]"},
    {.key = "train.eps", .type = OPT_FLOAT, .def = "1e-8", .range = "(0, 1]", .help = "AdamW epsilon"},
    {.key = "train.grad_clip", .type = OPT_FLOAT, .def = "1.0", .range = "[0, inf)",
     .help = "clip the global gradient norm to this (0: no clipping)"},
    {.key = "train.ema_decay", .type = OPT_FLOAT, .def = "0.9999", .range = "[0, 1)",
     .help = "EMA decay of the weights (0: no EMA)"},
    {.key = "train.ema_warmup", .type = OPT_BOOL, .def = "true",
     .help = "EMA decay min(ema_decay, (1 + step) / (10 + step)), so early averages follow the weights"},
    {.key = "train.log_every", .type = OPT_INT, .def = "10", .range = "[1, 2^31)",
     .help = "steps between progress lines and log.jsonl records"},
    {.key = "train.ckpt_every", .type = OPT_INT, .def = "1000", .range = "[1, 2^31)",
     .help = "steps between checkpoints (one is always written at the end)"},
    {.key = "train.ckpt_keep", .type = OPT_INT, .def = "3", .range = "[1, 2^31)",
     .help = "checkpoints kept: the newest this many (older ones are deleted) ..."},
    {.key = "train.ckpt_keep_every", .type = OPT_INT, .def = "0", .range = "[0, 2^31)",
     .help = "... plus every one whose step is a multiple of this (0: none)"},
    {.key = "train.nan_limit", .type = OPT_INT, .def = "10", .range = "[1, 2^31)",
     .help = "a step with a non-finite gradient is skipped; this many in a row end the run"},
    {.key = "train.stage", .type = OPT_STRING, .def = "",
     .help = "name of the training stage, recorded in checkpoints (e.g. autoencoder, diffusion)"},
    OPT_INCLUDE_TABLE(opts_data),
    OPT_INCLUDE_TABLE(opts_model),
    OPT_INCLUDE_TABLE(opts_diffusion),
    OPT_INCLUDE_TABLE(opts_dist),
    OPT_END,
};

int train_options_check(const vp_config *cfg, vp_err *err) {
  int n0 = err->n;
  char s1[512], s2[512];
  int64_t steps = cfg_int(cfg, "train.steps"), warm = cfg_int(cfg, "train.warmup_steps");
  if (warm >= steps)
    err_add(err, "train.warmup_steps = %lld (%s) must be less than train.steps = %lld (%s)",
            (long long)warm, cfg_source(cfg, "train.warmup_steps", s1, sizeof s1), (long long)steps,
            cfg_source(cfg, "train.steps", s2, sizeof s2));
  double lr = cfg_float(cfg, "train.lr"), eta = cfg_float(cfg, "train.eta_min");
  if (strcmp(cfg_str(cfg, "train.lr_schedule"), "constant") != 0 && eta > lr)
    err_add(err, "train.eta_min = %g (%s) must not exceed train.lr = %g (%s)", eta,
            cfg_source(cfg, "train.eta_min", s1, sizeof s1), lr, cfg_source(cfg, "train.lr", s2, sizeof s2));
  int64_t batch = cfg_int(cfg, "train.batch_size"), accum = cfg_int(cfg, "train.grad_accum");
  if (batch % accum != 0)
    err_add(err, "train.batch_size = %lld (%s) must be a multiple of train.grad_accum = %lld (%s)",
            (long long)batch, cfg_source(cfg, "train.batch_size", s1, sizeof s1), (long long)accum,
            cfg_source(cfg, "train.grad_accum", s2, sizeof s2));
  if (strcmp(cfg_str(cfg, "data.source"), "synth") != 0 && cfg_str(cfg, "data.path")[0] == 0)
    err_add(err, "data.source = %s (%s) reads files: set data.path (or --data PATH)",
            cfg_str(cfg, "data.source"), cfg_source(cfg, "data.source", s1, sizeof s1));
  return err->n - n0;
}
