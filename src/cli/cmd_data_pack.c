// cmd_data_pack.c: `vpcast data pack`: raw Cityscapes / SYNTHIA / BAIR trees
// to packed HDF5 clip files (io/pack.h). Under mpirun every rank packs a
// contiguous block of the clip list into its own shard FILE-RRRRR-of-NNNNN.h5;
// one process writes FILE.h5. The packed reader (data.source: packed) takes
// either FILE.h5 or, when only shards exist, the whole shard set by that name.
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "dist/comm.h"
#include "io/pack.h"
#include "io/packed_write.h"
#include "io/resize.h"

const vp_option opts_data_pack_cmd[] = {
    {.key = "format", .type = OPT_ENUM, .required = 1, .choices = "cityscapes|synthia|bair",
     .flag = "--format", .metavar = "NAME", .help = "source dataset layout"},
    {.key = "src", .type = OPT_STRING, .required = 1, .flag = "--src", .metavar = "DIR",
     .help = "source tree: Cityscapes root, SYNTHIA-SEQS folder(s), or BAIR TFRecord folder"},
    {.key = "out", .type = OPT_STRING, .required = 1, .flag = "--out", .metavar = "FILE.h5",
     .help = "output file (under mpirun: FILE-RRRRR-of-NNNNN.h5, one per rank)"},
    {.key = "size", .type = OPT_INT, .def = "0", .range = "[0, 8192]", .flag = "--size", .metavar = "S",
     .help = "frames are centre-cropped to a square and resized to SxS (0: 128; BAIR 64)"},
    {.key = "frames", .type = OPT_INT, .def = "30", .range = "[1, 4096]", .flag = "--frames", .metavar = "T",
     .help = "frames per stored clip; each sequence gives floor(length / T) clips"},
    {.key = "splits", .type = OPT_STRING, .def = "", .flag = "--splits", .metavar = "LIST",
     .help = "comma-separated split folders to pack, e.g. train,val (default: all found)"},
    {.key = "split", .type = OPT_ENUM, .def = "train", .choices = "train|val|test", .flag = "--split",
     .metavar = "NAME", .help = "split label of clips from a tree without split folders (SYNTHIA)"},
    {.key = "camera", .type = OPT_STRING, .def = "", .flag = "--camera", .metavar = "NAME",
     .help = "BAIR: aux1 (default) or main; SYNTHIA: Stereo_Left/Omni_F (default) etc."},
    {.key = "depth", .type = OPT_STRING, .def = "", .flag = "--depth", .metavar = "DIR",
     .help = "BAIR: per-frame depth PNGs DIR/<split>/<tfrecord stem>/<record from 1>/<frame>.png"},
    {.key = "depth_scale", .type = OPT_FLOAT, .def = "1", .range = "(0, inf)", .flag = "--depth-scale",
     .metavar = "F", .help = "BAIR depth: physical value of one raw PNG unit"},
    {.key = "resize", .type = OPT_ENUM, .def = "bilinear", .choices = "bilinear|area|nearest",
     .flag = "--resize", .metavar = "MODE",
     .help = "resize of rgb and depth (F.interpolate modes; labels always nearest)"},
    {.key = "compress", .type = OPT_INT, .def = "0", .range = "[0, 9]", .flag = "--compress", .metavar = "L",
     .help = "deflate level of the packed frames (0: none, fastest to read)"},
    OPT_END,
};

// Removes shards of an earlier pack to the same name with another rank
// count (and the single file when sharding, or the shards when not), so the
// reader never mixes two packs.
static void remove_stale(const char *out, int nranks) {
  char mine[4096], pat[4096];
  size_t k = strlen(out);
  if (k > 3 && strcmp(out + k - 3, ".h5") == 0) k -= 3;
  snprintf(pat, sizeof pat, "%.*s-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].h5", (int)k, out);
  snprintf(mine, sizeof mine, "-of-%05d.h5", nranks);
  glob_t g;
  if (glob(pat, 0, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; i++) {
      const char *p = g.gl_pathv[i];
      size_t n = strlen(p);
      if (nranks > 1 && n >= strlen(mine) && strcmp(p + n - strlen(mine), mine) == 0) continue;
      if (remove(p) == 0) vp_warn("removed %s, a shard of an earlier pack to the same name", p);
    }
    globfree(&g);
  }
  if (nranks > 1 && remove(out) == 0) vp_warn("removed %s, an earlier unsharded pack to the same name", out);
}

int cmd_data_pack(const cli_invocation *inv) {
  vp_config *cfg;
  int rc = cli_load_config(inv, NULL, opts_data_pack_cmd, &cfg);
  if (rc) return rc;
  vp_comm comm;
  comm_init(&comm, NULL, NULL);
  pack_opts o = {
      .format = cfg_str(cfg, "format"),
      .src = cfg_str(cfg, "src"),
      .out = cfg_str(cfg, "out"),
      .size = (int)cfg_int(cfg, "size"),
      .frames = (int)cfg_int(cfg, "frames"),
      .splits = cfg_str(cfg, "splits"),
      .split = cfg_str(cfg, "split"),
      .camera = cfg_str(cfg, "camera"),
      .depth = cfg_str(cfg, "depth"),
      .depth_scale = cfg_float(cfg, "depth_scale"),
      .resize = resize_mode_parse(cfg_str(cfg, "resize")),
      .compress = (int)cfg_int(cfg, "compress"),
      .rank = comm.rank,
      .nranks = comm.size,
      .verbose = 1,
  };
  packed_write_cleanup_on_signals();
  pack_result res;
  pack_run(&o, &res);
  // Every rank built the same clip list; check it, and that the blocks cover it.
  int64_t cnt = res.count;
  comm_allreduce_sum_i64(&comm, &cnt, 1);
  double mm[2] = {(double)res.total, -(double)res.total};
  comm_allreduce_max_f64(&comm, mm, 2);
  if (mm[0] != -mm[1] || cnt != res.total)
    vp_die("ranks disagree on the clip list of %s (%lld clips here, %.0f..%.0f over ranks); is the source "
           "tree changing while it is packed?", o.src, (long long)res.total, -mm[1], mm[0]);
  // Every rank got here with its shard complete: now they may appear.
  pack_commit(&res);
  comm_barrier(&comm);
  if (comm.rank == 0) {
    remove_stale(o.out, comm.size);
    if (comm.size == 1)
      printf("packed %lld clips of %s into %s\n", (long long)res.total, o.format, res.path);
    else {
      char first[4096];
      pack_shard_path(o.out, 0, comm.size, first, sizeof first);
      printf("packed %lld clips of %s into %d shards (%s ...); read them with data.path=%s\n",
             (long long)res.total, o.format, comm.size, first, o.out);
    }
  }
  comm_finalize(&comm);
  cfg_free(cfg);
  return CLI_EXIT_OK;
}
