// evaluator.h: `vpcast metrics` as a library call. Reads predictions and
// targets from HDF5, splits the clips across the ranks of comm, runs the
// requested metric families (metric.h) and prints one JSON object on rank 0.
//
// Files (spec: issue 5 item 7):
//   target: dataset `frames` (N, T, H, W, C), any numeric type, read as float32
//   pred:   dataset `frames` (N, S, T, H, W, C), or (N, T, H, W, C) for S = 1
//   values in [0, L]: L from eval_opts.data_range when set, else the
//   attribute `data_range` of `frames` or of the file (pred and target must
//   agree), else 1
//   optional `mask` uint8 (N, T, H, W), nonzero = valid, in the target file
//   (else the pred file); used by masked_l1, masked_l2, crps, crps_fair
//   for fd: dataset `features` (n, D) in each file (the counts may differ)
#ifndef VP_EVAL_EVALUATOR_H
#define VP_EVAL_EVALUATOR_H

#include <stdint.h>
#include <stdio.h>

#include "dist/comm.h"
#include "eval/metric.h"

typedef struct eval_opts {
  const char *pred_path, *target_path;
  const char *const *metrics;  // requested names (metric or family alias)
  int nmetrics;
  int best;                    // --samples best
  double data_range;           // > 0: overrides the files
  ssim_mode ssim;
  int skill_exclude;           // -1: none
  int fvd_frames;              // frames per I3D chunk (16)
  const char *lpips_weights, *i3d_weights;  // "" or NULL: not given
} eval_opts;

// The metric names `vpcast metrics --metrics` accepts, NULL-terminated
// (metric keys plus the aliases "skill" and "all").
extern const char *const eval_metric_names[];

// Runs the evaluation; rank 0 writes the JSON object to out. User errors
// (files, shapes, values, weights) end the process through vp_die with a
// message naming the file and the fix. Every rank must call it.
void eval_run(const eval_opts *o, const vp_comm *comm, FILE *out);

// HDF5 helpers shared with the metric families. eval_h5_shape fills the
// dataset's dims (up to 8) and returns its rank, or -1 if the file has no
// such dataset (dies if the file cannot be opened). eval_h5_read_f32 reads
// the whole dataset converted to float32.
int eval_h5_shape(const char *path, const char *name, int64_t *dims);
float *eval_h5_read_f32(const char *path, const char *name, int64_t *numel);
// Comma-separated names of the datasets at the root of path, for messages.
void eval_h5_list(const char *path, char *buf, size_t n);

#endif
