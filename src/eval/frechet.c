// frechet.c: Fréchet distance from feature statistics (frechet.h), with
// LAPACK's symmetric eigensolver from OpenBLAS.
#include "eval/frechet.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

// LAPACK (Fortran symbols in libopenblas; Debian does not always ship
// LAPACKE). The trailing size_t are gfortran's hidden string lengths.
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

// Values below this are not square-rooted (TF-GAN's symsqrt eps).
#define SYMSQRT_EPS 1e-10

void frechet_stats_init(frechet_stats *s, int64_t D) {
  VP_ASSERT(D >= 1);
  s->D = D;
  s->n = 0;
  s->shift = vp_calloc((size_t)(2 * D + D * D), sizeof(double));
  s->sum = s->shift + D;
  s->sxx = s->sum + D;
}

void frechet_stats_free(frechet_stats *s) {
  free(s->shift);
  memset(s, 0, sizeof(*s));
}

int64_t frechet_split_row(int64_t D, int r, int size) {
  const double total = (double)D * (double)(D + 1) / 2.0, want = total * r / size;
  double acc = 0.0;
  int64_t i = 0;
  while (i < D && acc < want) acc += (double)(D - i++);
  return i;
}

void frechet_stats_rows(frechet_stats *s, const double *x, int64_t n, int64_t i0, int64_t i1) {
  const int64_t D = s->D;
  s->n = n;
  memset(s->shift, 0, (size_t)(2 * D + D * D) * sizeof(double));
  if (n == 0) return;
  memcpy(s->shift, x, (size_t)D * sizeof(double));
  for (int64_t r = 0; r < n; r++)
    for (int64_t j = 0; j < D; j++) s->sum[j] += x[r * D + j] - s->shift[j];
  // Blocks of centred rows, reused for every output row while in cache.
  enum { NB = 64 };
  double *blk = vp_malloc((size_t)(NB * D) * sizeof(double));
  double *sxx = s->sxx;
  const double *shift = s->shift;
#pragma omp parallel
  for (int64_t b0 = 0; b0 < n; b0 += NB) {
    const int64_t nb = n - b0 < NB ? n - b0 : NB;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < nb; r++)
      for (int64_t j = 0; j < D; j++) blk[r * D + j] = x[(b0 + r) * D + j] - shift[j];
    // Entry (i, j) is summed by one thread over rows in order.
#pragma omp for schedule(dynamic, 4)
    for (int64_t i = i0; i < i1; i++) {
      double *out = sxx + i * D;
      for (int64_t r = 0; r < nb; r++) {
        const double *row = blk + r * D;
        const double xi = row[i];
        for (int64_t j = i; j < D; j++) out[j] += xi * row[j];
      }
    }
  }
  free(blk);
}

void frechet_stats_compute(frechet_stats *s, const double *x, int64_t n, const vp_comm *comm) {
  const int rank = comm ? comm->rank : 0, size = comm ? comm->size : 1;
  frechet_stats_rows(s, x, n, frechet_split_row(s->D, rank, size), frechet_split_row(s->D, rank + 1, size));
  // Disjoint rows: every entry has one non-zero term, so the sum is exact.
  if (comm && comm->size > 1) comm_allreduce_sum_f64(comm, s->sxx, (size_t)(s->D * s->D));
}

void frechet_mean_cov(const frechet_stats *s, double *mu, double *cov) {
  const int64_t D = s->D;
  const double n = (double)s->n;
  VP_ASSERT(s->n >= 2);
  for (int64_t i = 0; i < D; i++) mu[i] = s->shift[i] + s->sum[i] / n;
  for (int64_t i = 0; i < D; i++) {
    for (int64_t j = i; j < D; j++) {
      double c = (s->sxx[i * D + j] - s->sum[i] * s->sum[j] / n) / (n - 1.0);
      cov[i * D + j] = c;
      cov[j * D + i] = c;
    }
  }
}

// Eigenvalues w (ascending) and, when vecs, eigenvectors (rows of a on
// return: a[k * D + i] is component i of vector k) of the symmetric a.
static void sym_eig(double *a, int64_t D, double *w, int vecs) {
  VP_ASSERT(D < 46341);  // D * D fits LAPACK's int
  const int n = (int)D;
  const char jobz = vecs ? 'V' : 'N', uplo = 'U';
  int info = 0, lwork = -1, liwork = -1, iwq = 0;
  double wq = 0.0;
  dsyevd_(&jobz, &uplo, &n, a, &n, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
  if (info != 0) vp_die("LAPACK dsyevd workspace query failed (info %d) for a %d x %d matrix", info, n, n);
  lwork = (int)wq;
  liwork = iwq > 1 ? iwq : 1;
  double *work = vp_malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof(double));
  int *iwork = vp_malloc((size_t)liwork * sizeof(int));
  dsyevd_(&jobz, &uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  free(work);
  free(iwork);
  if (info != 0)
    vp_die("LAPACK dsyevd failed (info %d) on a %d x %d covariance: the features may contain "
           "NaN or Inf values", info, n, n);
}

static double symsqrt_value(double v) {
  if (v < 0.0) return 0.0;
  return v < SYMSQRT_EPS ? v : sqrt(v);
}

double frechet_distance(const double *mu1, const double *cov1, const double *mu2,
                        const double *cov2, int64_t D) {
  const size_t DD = (size_t)(D * D);
  double *E = vp_malloc(4 * DD * sizeof(double) + (size_t)D * sizeof(double));
  double *F = E + DD, *A = F + DD, *M = A + DD, *w = M + DD;
  // A = S1^1/2 = E^T diag(f) E with E's rows the eigenvectors.
  memcpy(E, cov1, DD * sizeof(double));
  sym_eig(E, D, w, 1);
  for (int64_t k = 0; k < D; k++) {
    const double f = symsqrt_value(w[k]);
    for (int64_t i = 0; i < D; i++) F[k * D + i] = f * E[k * D + i];
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)D, 1.0, E, (int)D, F,
              (int)D, 0.0, A, (int)D);
  // M = A S2 A, symmetrised against rounding.
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)D, (int)D, (int)D, 1.0, cov2, (int)D,
              A, (int)D, 0.0, F, (int)D);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)D, (int)D, (int)D, 1.0, A, (int)D, F,
              (int)D, 0.0, M, (int)D);
  for (int64_t i = 0; i < D; i++) {
    for (int64_t j = i + 1; j < D; j++) {
      double v = 0.5 * (M[i * D + j] + M[j * D + i]);
      M[i * D + j] = v;
      M[j * D + i] = v;
    }
  }
  sym_eig(M, D, w, 0);
  double tr_sqrt = 0.0, tr1 = 0.0, tr2 = 0.0, d2 = 0.0;
  for (int64_t k = 0; k < D; k++) tr_sqrt += symsqrt_value(w[k]);
  for (int64_t i = 0; i < D; i++) {
    tr1 += cov1[i * D + i];
    tr2 += cov2[i * D + i];
    const double d = mu1[i] - mu2[i];
    d2 += d * d;
  }
  free(E);
  return d2 + tr1 + tr2 - 2.0 * tr_sqrt;
}

double frechet_distance_stats(const frechet_stats *a, const frechet_stats *b) {
  VP_ASSERT(a->D == b->D);
  const int64_t D = a->D;
  double *buf = vp_malloc((size_t)(2 * D + 2 * D * D) * sizeof(double));
  double *mu1 = buf, *mu2 = buf + D, *c1 = buf + 2 * D, *c2 = c1 + D * D;
  frechet_mean_cov(a, mu1, c1);
  frechet_mean_cov(b, mu2, c2);
  double r = frechet_distance(mu1, c1, mu2, c2, D);
  free(buf);
  return r;
}
