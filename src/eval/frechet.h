// frechet.h: Fréchet distance between two Gaussians fitted to feature sets
// (FID / FVD), in float64, as TF-GAN's frechet_classifier_distance does it:
//   FD = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1^1/2 S2 S1^1/2)
// with unbiased (n - 1) covariances. The square roots come from symmetric
// eigendecompositions (LAPACK dsyevd): A = S1^1/2, then the eigenvalues of
// A S2 A. Following TF-GAN's symsqrt, eigenvalues below 1e-10 are kept
// as they are instead of square-rooted (negative rounding noise counts 0),
// so rank-deficient covariances (fewer samples than dimensions) do not add
// sqrt(noise) terms.
//
// Sufficient statistics are n, Σ(x - c) and Σ(x - c)(x - c)^T about a shift
// c (the first row): the covariance is shift-invariant and the shift removes
// most of the cancellation of raw moments.
#ifndef VP_EVAL_FRECHET_H
#define VP_EVAL_FRECHET_H

#include <stdint.h>

#include "dist/comm.h"

typedef struct frechet_stats {
  int64_t D, n;
  double *shift;  // (D)
  double *sum;    // (D)    Σ (x - shift)
  double *sxx;    // (D, D) Σ (x - shift)(x - shift)^T, upper triangle (j >= i) filled
} frechet_stats;

void frechet_stats_init(frechet_stats *s, int64_t D);
void frechet_stats_free(frechet_stats *s);
// The statistics of the n rows x (n, D) (row-major, float64), summed in row
// order. The D x D work is split over comm's ranks by rows of sxx (each
// entry computed by one rank and thread, in row order, then combined by an
// all-reduce in which it is the only non-zero term), so the result is
// identical on any number of ranks and threads. comm may be NULL (one
// process). Every rank must pass the same rows.
void frechet_stats_compute(frechet_stats *s, const double *x, int64_t n, const vp_comm *comm);
// The pieces of frechet_stats_compute: rank r of size's first row of sxx
// (rows balanced by their D - i entries), and the statistics with only rows
// [i0, i1) of sxx filled (the rest zero; n, shift and sum complete).
int64_t frechet_split_row(int64_t D, int r, int size);
void frechet_stats_rows(frechet_stats *s, const double *x, int64_t n, int64_t i0, int64_t i1);
// mu (D) and the unbiased covariance cov (D, D, full) of s; needs n >= 2.
void frechet_mean_cov(const frechet_stats *s, double *mu, double *cov);
// FD of two Gaussians (mu, cov: (D), (D, D) symmetric). Dies on a LAPACK failure.
double frechet_distance(const double *mu1, const double *cov1, const double *mu2,
                        const double *cov2, int64_t D);
// FD of two feature sets given as statistics (n >= 2 each).
double frechet_distance_stats(const frechet_stats *a, const frechet_stats *b);

#endif
