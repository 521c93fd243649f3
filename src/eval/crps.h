// crps.h: continuous ranked probability score of an ensemble, per element,
// by sorting the m members (qsort per element, O(m log m); for m <= 64 a
// Batcher sorting network, O(m log^2 m) compare-exchanges vectorised across
// the elements of an image row, the same sorted values):
//   crps      = (1/m) Σ|x_i - y| - (1/m^2)      Σ_i (2i - m - 1) x_(i)
//               (properscoring's crps_ensemble, the empirical-CDF integral)
//   crps_fair = (1/m) Σ|x_i - y| - (1/(m(m-1))) Σ_i (2i - m - 1) x_(i)
//               (Ferro 2014; WeatherBench2's CRPS), undefined (NaN) for m = 1
// with x_(i) the members sorted ascending, i = 1..m. For m = 1 crps is
// |x - y|, the absolute error. Elements whose target or any member is not
// finite, or whose mask is 0, are skipped (see the metric family).
#ifndef VP_EVAL_CRPS_H
#define VP_EVAL_CRPS_H

#include <stdint.h>

// xs: m >= 1 members sorted ascending.
void crps_sorted(const double *xs, int64_t m, double y, double *crps, double *fair);
// Members x[k * stride], k < m, unsorted; buf holds m doubles of scratch.
// Returns 0 (and leaves *crps, *fair alone) when y or a member is not finite.
int crps_element(const float *x, int64_t m, int64_t stride, float y, double *buf, double *crps,
                 double *fair);
// Sorts m doubles ascending (insertion sort for small m, else qsort).
void crps_sort(double *v, int64_t m);

// Batcher's odd-even merge sort network for m inputs: writes its comparators
// (lo[k] < hi[k]: after the compare-exchange, slot lo holds the smaller
// value) and returns their count; lo / hi NULL just counts.
int crps_network(int m, int *lo, int *hi);

// CRPS sums of the n elements of one image row: member s of element e at
// x[s * stride + e], target y[e]; mask (per pixel of C elements, NULL: all
// valid). Elements that are masked out or not finite are skipped. Adds to
// *sum, *sum_fair and *count, in element order. The fast kernel gathers the
// members into an (m, n) block and sorts every element at once with the
// network (compare-exchange vectorised across elements) for m <= 64; the
// reference sorts element by element (crps_element). Both give the same
// bits: the sorted values are the same and so is the arithmetic after.
void crps_row(const float *x, int64_t m, int64_t stride, const float *y, const uint8_t *mask, int64_t C,
              int64_t n, double *sum, double *sum_fair, int64_t *count);
void crps_row_ref(const float *x, int64_t m, int64_t stride, const float *y, const uint8_t *mask,
                  int64_t C, int64_t n, double *sum, double *sum_fair, int64_t *count);

#endif
