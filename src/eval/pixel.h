// pixel.h: per-frame pixel errors: MSE, MAE, PSNR, and masked L1 / L2.
// Conventions (spec/metrics.md §3.3): MSE and MAE are means over every
// element (H x W x C of each frame, then frames, samples, clips); PSNR is per
// frame from that frame's MSE, 10 log10(L^2 / MSE), then averaged (common_
// metrics' convention (i)), capped at 100 dB when MSE <= 1e-10 L^2 (their
// "MSE < 1e-10 on [0, 1] gives 100"). Masked L1 / L2 are the mean absolute
// and mean squared error in the files' own (physical) units over the valid
// cells: mask != 0 and both values finite (ERA5's NaN cells drop out).
#ifndef VP_EVAL_PIXEL_H
#define VP_EVAL_PIXEL_H

#include <stdint.h>

// Sum of squared and of absolute differences over n elements, in float64,
// in index order.
void pixel_sums(const float *p, const float *t, int64_t n, double *sse, double *sae);
// PSNR in dB of a frame with mean squared error mse at data range L.
double psnr_from_mse(double mse, double L);
// Masked sums over npix pixels of C channels each: mask[i] (NULL: all valid)
// applies to the C channels of pixel i; non-finite cells are skipped.
void pixel_masked_sums(const float *p, const float *t, const uint8_t *mask, int64_t npix,
                       int64_t C, double *sae, double *sse, int64_t *count);

#endif
