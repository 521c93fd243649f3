// crps.c: ensemble CRPS kernels (crps.h) and the `crps` / `crps_fair` metric
// family: per clip, sums over the valid elements (mask != 0, finite target
// and members) and their count; the result is the pooled mean. CRPS uses all
// S samples as one ensemble, so --samples best does not apply to it.
#include "eval/crps.h"

#include <math.h>
#include <stdlib.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "eval/metric.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void crps_sort(double *v, int64_t m) {
  if (m > 32) {
    qsort(v, (size_t)m, sizeof(double), cmp_double);
    return;
  }
  for (int64_t i = 1; i < m; i++) {
    double x = v[i];
    int64_t j = i - 1;
    while (j >= 0 && v[j] > x) {
      v[j + 1] = v[j];
      j--;
    }
    v[j + 1] = x;
  }
}

void crps_sorted(const double *xs, int64_t m, double y, double *crps, double *fair) {
  double skill = 0.0, spread = 0.0;
  for (int64_t i = 0; i < m; i++) {
    skill += fabs(xs[i] - y);
    spread += (double)(2 * (i + 1) - m - 1) * xs[i];
  }
  const double dm = (double)m;
  skill /= dm;
  *crps = skill - spread / (dm * dm);
  *fair = m > 1 ? skill - spread / (dm * (dm - 1.0)) : NAN;
}

int crps_element(const float *x, int64_t m, int64_t stride, float y, double *buf, double *crps,
                 double *fair) {
  if (!isfinite(y)) return 0;
  for (int64_t k = 0; k < m; k++) {
    float v = x[k * stride];
    if (!isfinite(v)) return 0;
    buf[k] = (double)v;
  }
  crps_sort(buf, m);
  crps_sorted(buf, m, (double)y, crps, fair);
  return 1;
}

int crps_network(int m, int *lo, int *hi) {
  int count = 0;
  for (int p = 1; p < m; p <<= 1) {
    for (int k = p; k >= 1; k >>= 1) {
      for (int j = k % p; j + k < m; j += 2 * k) {
        for (int i = 0; i < k && i + j + k < m; i++) {
          if ((i + j) / (2 * p) != (i + j + k) / (2 * p)) continue;
          if (lo) {
            lo[count] = i + j;
            hi[count] = i + j + k;
          }
          count++;
        }
      }
    }
  }
  return count;
}

void crps_row_ref(const float *x, int64_t m, int64_t stride, const float *y, const uint8_t *mask,
                  int64_t C, int64_t n, double *sum, double *sum_fair, int64_t *count) {
  double *buf = vp_malloc((size_t)m * sizeof(double));
  double a = *sum, b = *sum_fair;
  int64_t k = *count;
  for (int64_t e = 0; e < n; e++) {
    if (mask && !mask[e / C]) continue;
    double cr, cf;
    if (!crps_element(x + e, m, stride, y[e], buf, &cr, &cf)) continue;
    a += cr;
    b += cf;
    k++;
  }
  *sum = a;
  *sum_fair = b;
  *count = k;
  free(buf);
}

#define NET_MAX 64

// The body of crps_row for m <= NET_MAX, compiled for several instruction
// sets below. blk: (m + 3) * n doubles of scratch.
static inline __attribute__((always_inline)) void crps_row_body(
    const float *x, int64_t m, int64_t stride, const float *y, const uint8_t *mask, int64_t C, int64_t n,
    const int *lo, const int *hi, int ncmp, double *blk, double *sum, double *sum_fair, int64_t *count) {
  double *restrict skill = blk + m * n, *restrict spread = skill + n, *restrict yd = spread + n;
  for (int64_t e = 0; e < n; e++) yd[e] = (double)y[e];
  for (int64_t s = 0; s < m; s++) {
    const float *restrict xs = x + s * stride;
    double *restrict bs = blk + s * n;
    for (int64_t e = 0; e < n; e++) bs[e] = (double)xs[e];
  }
  // Sort every column of the block at once. A compare-exchange permutes its
  // pair even when one is NaN, so a non-finite member stays in its column
  // and makes that element's sums non-finite (skipped below).
  for (int c = 0; c < ncmp; c++) {
    double *restrict a = blk + (int64_t)lo[c] * n, *restrict b = blk + (int64_t)hi[c] * n;
    for (int64_t e = 0; e < n; e++) {
      const double u = a[e], v = b[e];
      const int lt = u < v;
      a[e] = lt ? u : v;
      b[e] = lt ? v : u;
    }
  }
  // crps_sorted's arithmetic, in the same order, for all elements.
  for (int64_t e = 0; e < n; e++) skill[e] = 0.0;
  for (int64_t e = 0; e < n; e++) spread[e] = 0.0;
  for (int64_t s = 0; s < m; s++) {
    const double *restrict bs = blk + s * n;
    const double w = (double)(2 * (s + 1) - m - 1);
    for (int64_t e = 0; e < n; e++) {
      skill[e] += fabs(bs[e] - yd[e]);
      spread[e] += w * bs[e];
    }
  }
  const double dm = (double)m;
  double sa = *sum, sb = *sum_fair;
  int64_t k = *count;
  for (int64_t e = 0; e < n; e++) {
    // A non-finite target or member leaves skill (or spread) non-finite.
    if ((mask && !mask[e / C]) || !isfinite(skill[e]) || !isfinite(spread[e])) continue;
    const double sk = skill[e] / dm;
    sa += sk - spread[e] / (dm * dm);
    sb += m > 1 ? sk - spread[e] / (dm * (dm - 1.0)) : NAN;
    k++;
  }
  *sum = sa;
  *sum_fair = sb;
  *count = k;
}

// no-trapping-math lets GCC if-convert the compare-exchange (results are
// unchanged: it only drops the assumption that comparisons may trap). Other
// compilers get the plain attributes.
#if defined(__GNUC__) && !defined(__clang__)
#define NO_TRAP optimize("no-trapping-math")
#else
#define NO_TRAP
#endif
#define ROW_ARGS                                                                                   \
  const float *x, int64_t m, int64_t stride, const float *y, const uint8_t *mask, int64_t C,        \
      int64_t n, const int *lo, const int *hi, int ncmp, double *blk, double *sum, double *sum_fair, \
      int64_t *count
#define ROW_CALL x, m, stride, y, mask, C, n, lo, hi, ncmp, blk, sum, sum_fair, count
__attribute__((NO_TRAP)) static void crps_row_plain(ROW_ARGS) {
  crps_row_body(ROW_CALL);
}
#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx2"), NO_TRAP)) static void crps_row_avx2(ROW_ARGS) {
  crps_row_body(ROW_CALL);
}
__attribute__((target("avx512f"), NO_TRAP)) static void crps_row_avx512(ROW_ARGS) {
  crps_row_body(ROW_CALL);
}
#endif

void crps_row(const float *x, int64_t m, int64_t stride, const float *y, const uint8_t *mask, int64_t C,
              int64_t n, double *sum, double *sum_fair, int64_t *count) {
  if (m > NET_MAX) {
    crps_row_ref(x, m, stride, y, mask, C, n, sum, sum_fair, count);
    return;
  }
  int lo[NET_MAX * 12], hi[NET_MAX * 12];  // Batcher: 543 comparators for 64
  const int ncmp = crps_network((int)m, lo, hi);
  double *blk = vp_malloc((size_t)((m + 3) * n) * sizeof(double));
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f"))
    crps_row_avx512(ROW_CALL);
  else if (__builtin_cpu_supports("avx2"))
    crps_row_avx2(ROW_CALL);
  else
#endif
    crps_row_plain(ROW_CALL);
  free(blk);
}

// ---- the family ----

static const char *const crps_keys[] = {"crps", "crps_fair", NULL};

static int64_t crps_nstats(const metric_env *e) {
  (void)e;
  return 3;  // Σ crps, Σ crps_fair, count
}

static void crps_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  const int64_t S = e->S, T = e->T, H = e->H, W = e->W, C = e->C;
  const int64_t csz = T * H * W * C;  // sample stride
  // One partial per (frame, image row), summed below in a fixed order so the
  // result does not depend on the thread count.
  double *part = vp_malloc((size_t)(3 * T * H) * sizeof(double));
  const int ref = vp_use_ref_kernels;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < T * H; r++) {
    const int64_t off = r * W * C;  // row r = (t, h) starts here in a frame-major clip
    double a = 0.0, b = 0.0;
    int64_t n = 0;
    const uint8_t *mrow = clip->mask ? clip->mask + r * W : NULL;
    (ref ? crps_row_ref : crps_row)(clip->pred + off, S, csz, clip->target + off, mrow, C, W * C, &a, &b, &n);
    part[3 * r] = a;
    part[3 * r + 1] = b;
    part[3 * r + 2] = (double)n;
  }
  double a = 0.0, b = 0.0, n = 0.0;
  for (int64_t r = 0; r < T * H; r++) {
    a += part[3 * r];
    b += part[3 * r + 1];
    n += part[3 * r + 2];
  }
  row[0] = a;
  row[1] = b;
  row[2] = n;
  free(part);
}

static void crps_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  double a = 0.0, b = 0.0, n = 0.0;
  for (int64_t i = 0; i < e->N; i++) {
    a += rows[3 * i];
    b += rows[3 * i + 1];
    n += rows[3 * i + 2];
  }
  if (want & 1u) json_num(j, "crps", n > 0 ? a / n : NAN);
  // m = 1: the fair estimator divides by m(m-1) = 0; reported as null.
  if (want & 2u) json_num(j, "crps_fair", n > 0 && e->S > 1 ? b / n : NAN);
}

const metric_family metric_crps = {
    .name = "crps", .keys = crps_keys, .nstats = crps_nstats,
    .accumulate = crps_accumulate, .finalize = crps_finalize, .needs_finite = 0,
};
