// commands.c: the table of vpcast commands.
// Adding a command is one row here plus one file, cmd_<name>.c, holding its
// run function (declared just below) and its option table. Rows are listed
// alphabetically; `vpcast --help` shows them in this order.
#include "cli/cli.h"

#include <stddef.h>

// ---- run functions and option tables of the commands (one file each) ----
int cmd_data_synth(const cli_invocation *inv);   // cmd_data_synth.c
extern const vp_option opts_data_synth_cmd[];
int cmd_data_pack(const cli_invocation *inv);    // cmd_data_pack.c
extern const vp_option opts_data_pack_cmd[];
int cmd_data_stats(const cli_invocation *inv);   // cmd_data_stats.c
extern const vp_option opts_data_stats_cmd[];
int cmd_demo(const cli_invocation *inv);   // cmd_demo.c
int cmd_metrics(const cli_invocation *inv);   // cmd_metrics.c
extern const vp_option opts_metrics[];
extern const vp_option opts_demo[];
int cmd_version(const cli_invocation *inv);   // cmd_version.c
extern const vp_option opts_version[];
int cmd_config_check(const cli_invocation *inv);   // cmd_config.c
extern const vp_option opts_config_check[];
int cmd_train(const cli_invocation *inv);   // cmd_train.c (options: opts_train, opts_train.c)
int cmd_ckpt_info(const cli_invocation *inv);   // cmd_ckpt.c
extern const vp_option opts_ckpt_info[];
int cmd_ckpt_diff(const cli_invocation *inv);   // cmd_ckpt.c
extern const vp_option opts_ckpt_diff[];

static const cli_command ckpt_commands[] = {
    {.name = "diff", .summary = "compare two checkpoints tensor by tensor (bit-identical, or within --tol)",
     .usage = "A.h5 B.h5 [--tol T] [--groups LIST]",
     .description =
         "Compares /params, /ema, /optim/m and /optim/v of two checkpoints and their resume state.\n"
         "With --tol 0 (the default) every tensor and the state must be bit-identical (exact resume);\n"
         "with --tol T each group's relative L2 difference must be at most T. Exit status 0 when they\n"
         "match, 1 when they differ.",
     .opts = opts_ckpt_diff, .min_pos = 2, .max_pos = 2, .run = cmd_ckpt_diff},
    {.name = "info", .summary = "print a checkpoint's step, world size, parameters and state; verify it",
     .usage = "FILE [--config]",
     .description =
         "Prints the meta data (step, world size, model, stage, git, threads), the parameter count and\n"
         "the resume state of a checkpoint, and verifies that it is complete: every attribute, the same\n"
         "tensors and shapes in /params, /ema, /optim/m and /optim/v, and every checksum.\n"
         "Exit status 0 when complete, 1 when not.",
     .opts = opts_ckpt_info, .min_pos = 1, .max_pos = 1, .run = cmd_ckpt_info},
    {.name = NULL},
};

static const cli_command config_commands[] = {
    {.name = "check",
     .summary = "validate a training config and print the effective config as YAML",
     .usage = "CONFIG [options] [key=value ...]",
     .description =
         "Reads CONFIG (YAML), applies the key=value arguments and flags in order (later wins),\n"
         "checks every key against the options of 'vpcast train' (unknown keys, types, ranges,\n"
         "choices, required keys, and checks between keys) and prints the effective config,\n"
         "defaults included, as YAML on stdout. Errors go to stderr with exit status 2.",
     .opts = opts_config_check, .min_pos = 1, .max_pos = 1, .run = cmd_config_check},
    {.name = NULL},
};

static const cli_command data_commands[] = {
    {.name = "pack", .summary = "pack raw Cityscapes / SYNTHIA / BAIR trees into HDF5 clip files",
     .usage = "--format cityscapes|synthia|bair --src DIR --out FILE.h5 [options]",
     .opts = opts_data_pack_cmd, .min_pos = 0, .max_pos = 0, .run = cmd_data_pack},
    {.name = "stats", .summary = "print clip count, shape and raw value statistics of a data config as JSON",
     .usage = "CONFIG [key=value ...]",
     .opts = opts_data_stats_cmd, .min_pos = 1, .max_pos = 1, .run = cmd_data_stats},
    {.name = "synth", .summary = "write a synthetic RGB + depth + semantic clip file",
     .usage = "--out FILE.h5 --clips N --frames T --size S [options]",
     .opts = opts_data_synth_cmd, .min_pos = 0, .max_pos = 0, .run = cmd_data_synth},
    {.name = NULL},
};

const cli_command cli_commands[] = {
    {.name = "ckpt", .summary = "inspect, verify and compare checkpoints", .subs = ckpt_commands},
    {.name = "config", .summary = "check a config file and print the effective config",
     .subs = config_commands},
    {.name = "data", .summary = "make, pack and inspect datasets", .subs = data_commands},
    {.name = "demo", .summary = "train a small conditional DDPM for RGB + depth video prediction on synthetic data (CPU)",
     .usage = "[options]",
     .description =
         "Makes synthetic videos of moving, occluding shapes (RGB and depth), trains a small\n"
         "conditional DDPM (an ADM UNet denoising the future frames given the context frames)\n"
         "on the CPU, samples the future frames of held-out clips with DDIM, compares them with\n"
         "copying the last frame, and writes DIR/demo.png and DIR/summary.json.",
     .opts = opts_demo, .min_pos = 0, .max_pos = 0, .run = cmd_demo},
    {.name = "metrics", .summary = "compute video metrics of predictions against targets (HDF5), as JSON",
     .usage = "--pred P.h5 --target T.h5 [options]",
     .opts = opts_metrics, .min_pos = 0, .max_pos = 0, .run = cmd_metrics},
    {.name = "train", .summary = "train a model (data parallel over MPI ranks), with checkpoints and resume",
     .usage = "CONFIG [--out DIR] [--steps N] [--resume auto|never|CKPT] [key=value ...]",
     .description =
         "Trains the model of CONFIG (YAML; key=value arguments override it) on its data. Runs alone,\n"
         "under 'mpirun -np N' or under 'srun --mpi=pmix' (data parallel: train.batch_size is the global\n"
         "batch, split over the ranks). Writes DIR/log.jsonl and checkpoints DIR/ckpt/step_*.h5 (LATEST\n"
         "names the newest). --resume auto (the default) continues from LATEST bit for bit, given the\n"
         "same number of ranks and threads. SIGUSR1 or SIGTERM: checkpoint at the next step, exit 42.",
     .opts = opts_train, .min_pos = 1, .max_pos = 1, .run = cmd_train},
    {.name = "version", .summary = "print the version, git hash and compiled-in backends",
     .usage = "[--json]",
     .description = "Prints the vpcast version, the git commit it was built from, and which\n"
                    "backends are compiled in, with their library versions.",
     .opts = opts_version, .min_pos = 0, .max_pos = 0, .run = cmd_version},
    {.name = NULL},
};
