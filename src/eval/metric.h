// metric.h: the evaluation-metric interface and the metric families.
// A metric family is (init, accumulate, stats, finalize) in the sense of
// ARCHITECTURE.md, arranged so any number of ranks gives the same answer bit
// for bit:
//   nstats      how many doubles of sufficient statistics one clip yields;
//   accumulate  computes one clip's statistics into its row (sums, counts,
//               per-clip bests, feature vectors), independently of the
//               thread count;
//   (reduce)    the evaluator places every rank's rows at their clip index
//               in one (N, nstats) table and all-reduces it: each entry is
//               non-zero on one rank only, so the sum is exact;
//   finalize    reduces the rows in clip order (identical on every rank)
//               and writes the family's JSON keys.
// The evaluator (evaluator.c) reads the files, splits clips across ranks and
// calls the families in registry order.
#ifndef VP_EVAL_METRIC_H
#define VP_EVAL_METRIC_H

#include <stdint.h>
#include <stdio.h>

#include "core/tensor.h"
#include "dist/comm.h"

struct lpips_model;
struct i3d_model;

// SEVIR skill-score thresholds on the 0..255 VIL codes (Earthformer).
#define SKILL_NTHRESH 6
extern const int skill_thresholds[SKILL_NTHRESH];

typedef enum { SSIM_STANDARD = 0, SSIM_SYNCVP = 1 } ssim_mode;

// What a run fixes: shapes, conventions, models.
typedef struct metric_env {
  int64_t N, S, T, H, W, C;  // clips, samples, frames, height, width, channels
  double L;                  // data range: values lie in [0, L]
  int best;                  // 1: per clip, best over the samples; 0: mean over samples
  int has_mask;              // a mask (N, T, H, W) was given
  ssim_mode ssim;            // SSIM variant
  int skill_exclude;         // target code excluded from skill scores (-1: none)
  int fvd_frames;            // frames per I3D chunk
  struct lpips_model *lpips; // NULL unless lpips is requested
  struct i3d_model *i3d;     // NULL unless fvd is requested
  vp_ctx *ctx;               // for the networks (inference mode)
  const vp_comm *comm;
  const char *pred_path, *target_path;  // for fd (features) and messages
} metric_env;

// One clip: all S samples of it, channel-last like the files.
typedef struct metric_clip {
  int64_t index;         // global clip index
  const float *target;   // (T, H, W, C)
  const float *pred;     // (S, T, H, W, C)
  const uint8_t *mask;   // (T, H, W), nonzero = valid; NULL when none
} metric_clip;

// JSON object writer: keys in call order, doubles in the shortest form that
// reads back exactly, non-finite values as null.
typedef struct json_out {
  FILE *f;
  int n;  // keys written
} json_out;

void json_begin(json_out *j, FILE *f);
void json_num(json_out *j, const char *key, double v);
void json_int(json_out *j, const char *key, int64_t v);
void json_str(json_out *j, const char *key, const char *v);
void json_end(json_out *j);
// The shortest "%.{15,16,17}g" text of v that parses back to v.
void json_format_double(double v, char *buf, size_t n);

typedef struct metric_family {
  const char *name;            // family name, for messages
  const char *const *keys;     // the metric names it answers (NULL-terminated)
  // Per-clip statistics count; 0 for families that read their own inputs (fd).
  int64_t (*nstats)(const metric_env *env);
  // Checks the env (shapes, sample count) before any clip is read; returns
  // NULL if fine, else a message (static or in buf) saying what is wrong.
  const char *(*check)(const metric_env *env, unsigned want, char *buf, size_t n);
  void (*accumulate)(const metric_env *env, const metric_clip *clip, double *row);
  // rows: (N, nstats) in clip order, identical on every rank. want: bit k set
  // when keys[k] was requested. Every rank calls it (fd / fvd do collective
  // work); only rank 0's JSON is printed.
  void (*finalize)(const metric_env *env, const double *rows, unsigned want, json_out *j);
  int needs_finite;  // 1: non-finite inputs are an error (0: such cells are skipped)
} metric_family;

// The registry, in output order; NULL-terminated.
extern const metric_family *const metric_families[];

extern const metric_family metric_pixel;    // mse, mae, psnr
extern const metric_family metric_masked;   // masked_l1, masked_l2
extern const metric_family metric_ssim;     // ssim
extern const metric_family metric_crps;     // crps, crps_fair
extern const metric_family metric_skill;    // pod, far, csi, bias
extern const metric_family metric_lpips;    // lpips
extern const metric_family metric_fvd;      // fvd
extern const metric_family metric_fd;       // fd

// Per-clip reduction over samples: mean (best = 0), or the best sample by
// the metric's direction (higher_better: max, else min).
double metric_reduce_samples(const double *v, int64_t S, int best, int higher_better);

#endif
