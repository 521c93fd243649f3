// cmd_metrics.c: `vpcast metrics`: video metrics of predictions against
// targets (HDF5 in, one JSON object out), on any number of MPI ranks with
// the same result. The work is src/eval/evaluator.c; conventions of every
// metric are in src/eval/*.h and docs/metrics.md.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/kernel_mode.h"
#include "dist/comm.h"
#include "eval/evaluator.h"

const vp_option opts_metrics[] = {
    {.key = "pred", .type = OPT_STRING, .required = 1, .flag = "--pred", .metavar = "P.h5",
     .help = "predictions: dataset frames (N, S, T, H, W, C) (or (N, T, H, W, C) for S = 1), values in [0, L]"},
    {.key = "target", .type = OPT_STRING, .required = 1, .flag = "--target", .metavar = "T.h5",
     .help = "targets: dataset frames (N, T, H, W, C); optional mask uint8 (N, T, H, W), nonzero = valid"},
    {.key = "metrics.list", .type = OPT_STRING_LIST, .def = "[mse, mae, psnr, ssim, crps, crps_fair]",
     .flag = "--metrics", .metavar = "LIST",
     .help = "comma-separated: mse mae psnr ssim lpips masked_l1 masked_l2 crps crps_fair pod far csi "
             "bias (skill = all four, at thresholds 16 74 133 160 181 219) fvd fd"},
    {.key = "metrics.samples", .type = OPT_ENUM, .def = "mean", .choices = "mean|best",
     .flag = "--samples", .metavar = "MODE",
     .help = "per clip: mean over the S samples, or each metric's best sample (SyncVP best-of-N); "
             "crps, skill scores and fvd always use every sample"},
    {.key = "metrics.data_range", .type = OPT_FLOAT, .def = "0", .range = "[0, inf)",
     .flag = "--data-range", .metavar = "L",
     .help = "values lie in [0, L]; 0: the files' data_range attribute, else 1"},
    {.key = "metrics.ssim_mode", .type = OPT_ENUM, .def = "standard", .choices = "standard|syncvp",
     .flag = "--ssim-mode", .metavar = "MODE",
     .help = "standard: scikit-image gaussian, valid region; syncvp: zero padding, per-video min-max, "
             "C1 1e-4, C2 9e-4"},
    {.key = "metrics.skill_exclude", .type = OPT_INT, .def = "255", .range = "[-1, 255]",
     .flag = "--skill-exclude", .metavar = "CODE",
     .help = "target VIL code left out of the skill scores (SEVIR's 255 = no data); -1: none"},
    {.key = "metrics.fvd_frames", .type = OPT_INT, .def = "16", .range = "[9, 4096]",
     .help = "frames per I3D chunk for fvd (clips of T frames give floor(T / n) chunks)"},
    {.key = "metrics.lpips_weights", .type = OPT_STRING, .def = "", .flag = "--lpips-weights",
     .metavar = "FILE", .help = "LPIPS AlexNet weights (HDF5 from tools/convert_lpips.py), for lpips"},
    {.key = "metrics.i3d_weights", .type = OPT_STRING, .def = "", .flag = "--i3d-weights",
     .metavar = "FILE", .help = "I3D Kinetics-400 weights (HDF5 from tools/convert_i3d.py), for fvd"},
    OPT_END,
};

int cmd_metrics(const cli_invocation *inv) {
  vp_config *cfg = NULL;
  int rc = cli_load_config(inv, NULL, opts_metrics, &cfg);
  if (rc != CLI_EXIT_OK) return rc;
  eval_opts o;
  memset(&o, 0, sizeof(o));
  o.pred_path = cfg_str(cfg, "pred");
  o.target_path = cfg_str(cfg, "target");
  char *const *names = cfg_str_list(cfg, "metrics.list", &o.nmetrics);
  o.metrics = (const char *const *)names;
  if (o.nmetrics == 0) {
    fprintf(stderr, "vpcast: error: --metrics is empty; name at least one metric\n");
    cfg_free(cfg);
    return CLI_EXIT_USAGE;
  }
  for (int i = 0; i < o.nmetrics; i++) {
    int n = 0, ok = 0;
    while (eval_metric_names[n]) ok |= !strcmp(eval_metric_names[n++], names[i]);
    if (!ok) {
      const char *s = suggest(names[i], eval_metric_names, n);
      fprintf(stderr, "vpcast: error: unknown metric '%s' in --metrics%s%s%s\n", names[i],
              s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
      fprintf(stderr, "vpcast: run '%s --help' for the metric names\n", inv->path);
      cfg_free(cfg);
      return CLI_EXIT_USAGE;
    }
  }
  o.best = !strcmp(cfg_str(cfg, "metrics.samples"), "best");
  o.data_range = cfg_float(cfg, "metrics.data_range");
  o.ssim = !strcmp(cfg_str(cfg, "metrics.ssim_mode"), "syncvp") ? SSIM_SYNCVP : SSIM_STANDARD;
  o.skill_exclude = (int)cfg_int(cfg, "metrics.skill_exclude");
  o.fvd_frames = (int)cfg_int(cfg, "metrics.fvd_frames");
  o.lpips_weights = cfg_str(cfg, "metrics.lpips_weights");
  o.i3d_weights = cfg_str(cfg, "metrics.i3d_weights");
  kernel_mode_init_from_env();  // VP_REF_KERNELS=1: the plain reference kernels
  vp_comm comm;
  comm_init(&comm, NULL, NULL);
  eval_run(&o, &comm, stdout);
  comm_finalize(&comm);
  cfg_free(cfg);
  return CLI_EXIT_OK;
}
