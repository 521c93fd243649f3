// opts_dist.c: the dist.* config keys (data-parallel communication and
// failure handling), spliced into `vpcast train`'s option table.
#include "dist/allreduce.h"

const vp_option opts_dist[] = {
    {.key = "dist.bucket_mb", .type = OPT_FLOAT, .def = "25", .range = "(0, 2048]",
     .help = "gradient all-reduce bucket size in MiB (buckets are reduced while backward runs; "
             "exact resume needs the same value)"},
    {.key = "dist.timeout", .type = OPT_FLOAT, .def = "600", .range = "[1, 1e6]",
     .help = "seconds a collective may wait for the other ranks before every rank is ended with a "
             "message naming the one at fault"},
    {.key = "dist.ckpt_timeout", .type = OPT_FLOAT, .def = "3600", .range = "[1, 1e6]",
     .help = "seconds the other ranks wait for rank 0 to write a checkpoint"},
    OPT_END,
};
