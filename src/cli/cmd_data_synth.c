// cmd_data_synth.c: `vpcast data synth`: writes synthetic RGB + depth +
// semantic clips (io/synth.h) as a packed HDF5 clip file (io/packed_write.h),
// the file the demo and the tests train on with `data.source: packed`. The
// file is a pure function of the arguments: clip j of split s is synth index
// s * 2^40 + j of --seed, so the file equals what `data.source: synth` with
// the same seed generates on the fly. One process (OpenMP inside).
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/synth.h"

const vp_option opts_data_synth_cmd[] = {
    {.key = "out", .type = OPT_STRING, .required = 1, .flag = "--out", .metavar = "FILE.h5",
     .help = "packed HDF5 file to write (replaced atomically if it exists)"},
    {.key = "clips", .type = OPT_INT, .required = 1, .range = "[0, 2^31)", .flag = "--clips", .metavar = "N",
     .help = "training clips"},
    {.key = "val_clips", .type = OPT_INT, .def = "0", .range = "[0, 2^31)", .flag = "--val-clips",
     .metavar = "N", .help = "validation clips (split val)"},
    {.key = "test_clips", .type = OPT_INT, .def = "0", .range = "[0, 2^31)", .flag = "--test-clips",
     .metavar = "N", .help = "test clips (split test)"},
    {.key = "frames", .type = OPT_INT, .def = "16", .range = "[1, 4096]", .flag = "--frames", .metavar = "T",
     .help = "frames per clip"},
    {.key = "size", .type = OPT_INT, .def = "64", .range = "[1, 4096]", .flag = "--size", .metavar = "S",
     .help = "frame height and width in pixels"},
    {.key = "seed", .type = OPT_INT, .def = "0", .range = "[0, 2^56)", .flag = "--seed", .metavar = "X",
     .help = "seed of the scenes (the same seed as data.synth.seed gives the same clips)"},
    {.key = "objects", .type = OPT_INT_LIST, .def = "[2, 4]", .len = 2, .range = "[1, 8]",
     .help = "[min, max] shapes per clip"},
    {.key = "invalid_sky", .type = OPT_BOOL, .def = "false", .flag = "--invalid-sky",
     .help = "store the sky's depth as invalid (raw 0), like Cityscapes disparity"},
    {.key = "compress", .type = OPT_INT, .def = "0", .range = "[0, 9]", .flag = "--compress", .metavar = "L",
     .help = "deflate level of the frames (0: none, the fastest to read)"},
    OPT_END,
};

int cmd_data_synth(const cli_invocation *inv) {
  vp_config *cfg;
  int rc = cli_load_config(inv, NULL, opts_data_synth_cmd, &cfg);
  if (rc) return rc;
  const char *out = cfg_str(cfg, "out");
  const int64_t clips[3] = {cfg_int(cfg, "clips"), cfg_int(cfg, "val_clips"), cfg_int(cfg, "test_clips")};
  const int T = (int)cfg_int(cfg, "frames"), S = (int)cfg_int(cfg, "size");
  const uint64_t seed = (uint64_t)cfg_int(cfg, "seed");
  int n = 0;
  const int64_t *obj = cfg_int_list(cfg, "objects", &n);
  if (obj[0] > obj[1] || clips[0] + clips[1] + clips[2] == 0) {
    fprintf(stderr, "vpcast: error: %s\n",
            obj[0] > obj[1] ? "data synth: objects = [min, max] needs min <= max"
                            : "data synth: no clips to write; set --clips (and/or --val-clips, --test-clips)");
    cfg_free(cfg);
    return CLI_EXIT_USAGE;
  }
  synth_cfg sc = synth_default_cfg(T, S);
  sc.min_objects = (int)obj[0];
  sc.max_objects = (int)obj[1];
  synth_write_packed(out, &sc, seed, clips, cfg_bool(cfg, "invalid_sky"), (int)cfg_int(cfg, "compress"));
  struct stat st;
  double mb = stat(out, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
  printf("wrote %s: %" PRId64 " clips (train %" PRId64 ", val %" PRId64 ", test %" PRId64
         ") of %d frames %dx%d, rgb + depth + semantic, seed %" PRIu64 ", %.1f MB\n",
         out, clips[0] + clips[1] + clips[2], clips[0], clips[1], clips[2], T, S, S, seed, mb);
  cfg_free(cfg);
  if (fflush(stdout) != 0) {
    perror("vpcast: writing to stdout");
    return CLI_EXIT_ERROR;
  }
  return CLI_EXIT_OK;
}
