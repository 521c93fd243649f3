// features.c: the Fréchet-distance metric families.
//   fvd: I3D logits (400-d, averaged over time) of 16-frame chunks of every
//        clip: the target clips are the real set, every sample of every clip
//        the generated set (N real against N*S generated embeddings, as MCVD
//        and SyncVP do, in both sample modes). A clip of T >= 16 frames gives
//        floor(T / 16) consecutive chunks (the rest is dropped); a clip of
//        9..15 frames is one chunk of T frames (the network needs >= 9).
//        Inputs are mapped from [0, L] to [0, 1] (clamped) for i3d_logits,
//        which resizes to 224x224 and scales to [-1, 1]; 1-channel frames
//        are repeated to RGB.
//   fd:  the Fréchet distance between the `features` datasets (n, D) of the
//        pred and target files (any feature extractor).
// The per-clip logits are gathered in clip order (metric.h), so both sets'
// statistics and the distance are identical on any number of ranks.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "eval/evaluator.h"
#include "eval/frechet.h"
#include "eval/metric.h"
#include "models/i3d.h"

#define I3D_DIM I3D_CLASSES

static int64_t fvd_chunks(const metric_env *e, int64_t *len) {
  if (e->T >= e->fvd_frames) {
    *len = e->fvd_frames;
    return e->T / e->fvd_frames;
  }
  *len = e->T;
  return 1;
}

// FD of two feature sets (rows in order, float64) on every rank, printed by
// rank 0; null with a warning when a set has fewer than 2 rows.
static double fd_of_sets(const double *a, int64_t na, const double *b, int64_t nb, int64_t D,
                         const vp_comm *comm, const char *what) {
  if (na < 2 || nb < 2) {
    if (!comm || comm->rank == 0)
      vp_warn("%s needs at least 2 feature vectors in each set (have %lld and %lld); reported as null",
              what, (long long)na, (long long)nb);
    return NAN;
  }
  frechet_stats sa, sb;
  frechet_stats_init(&sa, D);
  frechet_stats_init(&sb, D);
  frechet_stats_compute(&sa, a, na, comm);
  frechet_stats_compute(&sb, b, nb, comm);
  double r = NAN;
  // The eigendecompositions are serial work: one rank does them.
  if (!comm || comm->rank == 0) r = frechet_distance_stats(&sa, &sb);
  frechet_stats_free(&sa);
  frechet_stats_free(&sb);
  return r;
}

// ---- fvd ----

static const char *const fvd_keys[] = {"fvd", NULL};

static int64_t fvd_nstats(const metric_env *e) {
  int64_t len;
  return (1 + e->S) * fvd_chunks(e, &len) * I3D_DIM;
}

static const char *fvd_check(const metric_env *e, unsigned want, char *buf, size_t n) {
  (void)want;
  if (e->T < I3D_MIN_FRAMES) {
    snprintf(buf, n, "fvd needs clips of at least %d frames (the I3D time axis); these have %lld",
             I3D_MIN_FRAMES, (long long)e->T);
    return buf;
  }
  if (e->C != 3 && e->C != 1) {
    snprintf(buf, n, "fvd needs RGB (C = 3) or grey (C = 1) frames; these have C = %lld", (long long)e->C);
    return buf;
  }
  return NULL;
}

// Frames (nchunk*len, H, W, C) in [0, L] -> (nchunk, len, H, W, 3) in [0, 1].
static void to_i3d_input(const float *src, int64_t nf, int64_t HW, int64_t C, double L, float *dst) {
  const float inv = (float)(1.0 / L);
  for (int64_t p = 0; p < nf * HW; p++) {
    for (int64_t c = 0; c < 3; c++) {
      float v = src[p * C + (C == 3 ? c : 0)] * inv;
      dst[p * 3 + c] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
    }
  }
}

static void fvd_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  int64_t len;
  const int64_t nch = fvd_chunks(e, &len), HW = e->H * e->W, nf = nch * len;
  const int64_t fsz = HW * e->C, csz = e->T * fsz;
  float *video = vp_malloc((size_t)(nf * HW * 3) * sizeof(float));
  float *logits = vp_malloc((size_t)(nch * I3D_DIM) * sizeof(float));
  for (int64_t v = 0; v <= e->S; v++) {  // v = 0: target, v = 1 + s: sample s
    const float *src = v == 0 ? clip->target : clip->pred + (v - 1) * csz;
    to_i3d_input(src, nf, HW, e->C, e->L, video);
    i3d_logits(e->i3d, e->ctx, video, nch, len, e->H, e->W, logits);
    for (int64_t k = 0; k < nch * I3D_DIM; k++) row[v * nch * I3D_DIM + k] = (double)logits[k];
  }
  free(logits);
  free(video);
}

static void fvd_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  (void)want;
  int64_t len;
  const int64_t nch = fvd_chunks(e, &len), K = (1 + e->S) * nch * I3D_DIM, blk = nch * I3D_DIM;
  double *real = vp_malloc((size_t)(e->N * blk) * sizeof(double));
  double *fake = vp_malloc((size_t)(e->N * e->S * blk) * sizeof(double));
  for (int64_t i = 0; i < e->N; i++) {
    memcpy(real + i * blk, rows + i * K, (size_t)blk * sizeof(double));
    memcpy(fake + i * e->S * blk, rows + i * K + blk, (size_t)(e->S * blk) * sizeof(double));
  }
  double fd = fd_of_sets(fake, e->N * e->S * nch, real, e->N * nch, I3D_DIM, e->comm, "fvd");
  json_num(j, "fvd", fd);
  free(real);
  free(fake);
}

const metric_family metric_fvd = {
    .name = "fvd", .keys = fvd_keys, .nstats = fvd_nstats, .check = fvd_check,
    .accumulate = fvd_accumulate, .finalize = fvd_finalize, .needs_finite = 1,
};

// ---- fd ----

static const char *const fd_keys[] = {"fd", NULL};

static int64_t fd_nstats(const metric_env *e) {
  (void)e;
  return 0;
}

// The features of one file, checked, as float64 rows.
static double *read_features(const char *path, int64_t *n, int64_t *D) {
  int64_t dims[8];
  int nd = eval_h5_shape(path, "features", dims);
  if (nd < 0) {
    char have[512];
    eval_h5_list(path, have, sizeof(have));
    vp_die("%s: fd needs a dataset 'features' (n, D) of feature vectors; the file has: %s", path, have);
  }
  if (nd != 2 || dims[0] < 1 || dims[1] < 1)
    vp_die("%s: dataset 'features' must be (n, D) with n, D >= 1; it has rank %d", path, nd);
  int64_t numel;
  float *f = eval_h5_read_f32(path, "features", &numel);
  double *x = vp_malloc((size_t)numel * sizeof(double));
  for (int64_t i = 0; i < numel; i++) {
    if (!isfinite(f[i]))
      vp_die("%s: 'features' has a non-finite value at row %lld, column %lld", path,
             (long long)(i / dims[1]), (long long)(i % dims[1]));
    x[i] = (double)f[i];
  }
  free(f);
  *n = dims[0];
  *D = dims[1];
  return x;
}

static const char *fd_check(const metric_env *e, unsigned want, char *buf, size_t n) {
  (void)want;
  int64_t dp[8], dt[8];
  int np = eval_h5_shape(e->pred_path, "features", dp), nt = eval_h5_shape(e->target_path, "features", dt);
  if (np < 0 || nt < 0) {
    const char *path = np < 0 ? e->pred_path : e->target_path;
    char have[400];
    eval_h5_list(path, have, sizeof(have));
    snprintf(buf, n, "%s: fd needs a dataset 'features' (n, D) in both files; this file has: %s",
             path, have);
    return buf;
  }
  if (np != 2 || nt != 2 || dp[1] != dt[1]) {
    snprintf(buf, n, "fd: 'features' must be (n, D) with the same D in both files (pred rank %d, "
             "target rank %d, D %lld and %lld)", np, nt, (long long)(np >= 2 ? dp[1] : 0),
             (long long)(nt >= 2 ? dt[1] : 0));
    return buf;
  }
  return NULL;
}

static void fd_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  (void)rows;
  (void)want;
  int64_t np, nt, Dp, Dt;
  double *p = read_features(e->pred_path, &np, &Dp);
  double *t = read_features(e->target_path, &nt, &Dt);
  VP_ASSERT(Dp == Dt);  // fd_check
  json_num(j, "fd", fd_of_sets(p, np, t, nt, Dp, e->comm, "fd"));
  free(p);
  free(t);
}

const metric_family metric_fd = {
    .name = "fd", .keys = fd_keys, .nstats = fd_nstats, .check = fd_check,
    .finalize = fd_finalize, .needs_finite = 0,
};
