// ssim.h: structural similarity (Wang et al. 2004) of image planes.
// Standard mode is scikit-image's structural_similarity(gaussian_weights=True,
// sigma=1.5, use_sample_covariance=False, data_range=L): an 11x11 Gaussian
// window (sigma 1.5, normalised), population moments, C1 = (0.01 L)^2,
// C2 = (0.03 L)^2, averaged over the valid region ((H-10) x (W-10) windows,
// no padding). SyncVP mode is that code's evals/ssim/ssim.py: the same
// window with zero padding 5 ("same" output, averaged over all H x W
// positions), C1 = 1e-4, C2 = 9e-4, on values min-max normalised to [0, 1]
// per video (see ssim_minmax). All arithmetic is float64.
#ifndef VP_EVAL_SSIM_H
#define VP_EVAL_SSIM_H

#include <stdint.h>

#include "eval/metric.h"

#define SSIM_WIN 11   // window side
#define SSIM_RAD 5    // (SSIM_WIN - 1) / 2

// The normalised 1-D Gaussian window, g[k] ∝ exp(-(k-5)^2 / 4.5).
void ssim_window(double g[SSIM_WIN]);

// How a plane's values are mapped before the window: v' = (v - lo) / range,
// range == 0 meaning v' = 0 (a constant video). Standard mode: lo 0, range 1.
typedef struct ssim_norm {
  double lo, range;
} ssim_norm;

// SSIM of one plane pair: x, y are H x W planes read with element stride
// `stride` (channel-last frames: stride C, starting at channel c).
// Standard mode needs H, W >= 11 (returns NaN otherwise). Fast: separable
// filter with a rolling row buffer.
double ssim_plane(const float *x, const float *y, int64_t H, int64_t W, int64_t stride,
                  double L);
double ssim_plane_syncvp(const float *x, const float *y, int64_t H, int64_t W, int64_t stride,
                         ssim_norm nx, ssim_norm ny);
// The plain references: every window summed directly in 2-D.
double ssim_plane_ref(const float *x, const float *y, int64_t H, int64_t W, int64_t stride,
                      double L);
double ssim_plane_syncvp_ref(const float *x, const float *y, int64_t H, int64_t W,
                             int64_t stride, ssim_norm nx, ssim_norm ny);

// The SyncVP normalisation of one video of n values: min and max of the
// finite values.
ssim_norm ssim_minmax(const float *v, int64_t n);

// SSIM of nframes frame pairs (nframes, H, W, C), one value per (frame,
// channel): out[f * C + c]. Frame f of x is compared with frame f % ny of y
// (y may hold fewer frames that repeat: one target for S samples); nx[f] /
// nyv[f % ny] are the SyncVP normalisations (NULL in standard mode).
// OpenMP over planes; each value is independent of the thread count.
void ssim_frames(const float *x, const float *y, int64_t nframes, int64_t ny, int64_t H,
                 int64_t W, int64_t C, double L, ssim_mode mode, const ssim_norm *nx,
                 const ssim_norm *nyv, double *out);

#endif
