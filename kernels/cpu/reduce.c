// reduce.c: sums over axes and the mean losses (see reduce.h).
#include "kernels/cpu/reduce.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "core/check.h"
#include "core/tensor.h"
#include "kernels/cpu/elem.h"

#define RED_PAR_MIN 32768
// Columns per task when the kept run is innermost (the accumulators live on
// the stack).
#define RED_COLS 256

static int64_t numel_of(int nd, const int64_t *s) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= s[d];
  return n;
}

// ---------------------------------------------------------------- reference
void cpu_sum_fwd_ref(int nd, const int64_t *xs, const float *x, const int64_t *rs, float *y,
                     float alpha, int accumulate) {
  int64_t n = numel_of(nd, xs), ny = numel_of(nd, rs);
  double *acc = vp_calloc((size_t)(ny ? ny : 1), sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    // Output offset of x's element i: drop the index of every reduced dim.
    int64_t rem = i, off = 0, mul = 1;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t id = rem % xs[d];
      rem /= xs[d];
      if (rs[d] != 1) off += id * mul;
      mul *= rs[d];
    }
    acc[off] += x[i];
  }
  for (int64_t k = 0; k < ny; k++) {
    float v = alpha * (float)acc[k];
    y[k] = accumulate ? y[k] + v : v;
  }
  free(acc);
}

void cpu_sum_bwd_ref(int nd, const int64_t *xs, float *gx, const int64_t *rs, const float *gy,
                     float alpha) {
  int64_t n = numel_of(nd, xs);
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, off = 0, mul = 1;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t id = rem % xs[d];
      rem /= xs[d];
      if (rs[d] != 1) off += id * mul;
      mul *= rs[d];
    }
    gx[i] += alpha * gy[off];
  }
}

// ---------------------------------------------------------------- fast
// The reduction with size-1 input dims dropped and neighbouring dims of the
// same kind (kept / reduced) merged: (B, C, H, W) -> (C, 1, 1) becomes
// reduced B, kept C, reduced H*W. Kept dims and reduced dims are listed
// separately, outermost first, with their strides in x.
typedef struct {
  int nk, nr;                 // number of kept / reduced runs
  int64_t kn[VP_MAXDIM], ks[VP_MAXDIM];  // kept sizes, x strides
  int64_t rn[VP_MAXDIM], rs[VP_MAXDIM];  // reduced sizes, x strides
  int inner_reduced;          // is the innermost run a reduced one?
} red_layout;

static void red_collapse(int nd, const int64_t *xs, const int64_t *rs, red_layout *L) {
  int64_t n[VP_MAXDIM];
  int red[VP_MAXDIM], m = 0;
  for (int d = 0; d < nd; d++) {
    if (xs[d] == 1) continue;
    int r = rs[d] == 1;
    if (m > 0 && red[m - 1] == r) {
      n[m - 1] *= xs[d];
    } else {
      n[m] = xs[d];
      red[m] = r;
      m++;
    }
  }
  int64_t stride[VP_MAXDIM], s = 1;
  for (int d = m - 1; d >= 0; d--) {
    stride[d] = s;
    s *= n[d];
  }
  L->nk = L->nr = 0;
  for (int d = 0; d < m; d++) {
    if (red[d]) {
      L->rn[L->nr] = n[d];
      L->rs[L->nr++] = stride[d];
    } else {
      L->kn[L->nk] = n[d];
      L->ks[L->nk++] = stride[d];
    }
  }
  L->inner_reduced = m > 0 && red[m - 1];
}

// x offset of combination c of the first nd runs (sizes n, strides s).
static int64_t run_offset(int64_t c, int nd, const int64_t *n, const int64_t *s) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; d--) {
    off += (c % n[d]) * s[d];
    c /= n[d];
  }
  return off;
}

// Sum of elements [from, to) of the reduced index space of one output, when
// the innermost reduced run (length len, stride 1) is contiguous and the
// outer reduced runs are L->rn/rs[0 .. nr-2]. With w, the sum is of x * w
// (w laid out like x).
static double sum_span(const float *x, const float *w, const red_layout *L, int64_t len,
                       int64_t from, int64_t to) {
  double acc = 0;
  int64_t c = from / len, j = from % len;
  while (from < to) {
    int64_t off = run_offset(c, L->nr - 1, L->rn, L->rs);
    const float *p = x + off, *q = w ? w + off : NULL;
    int64_t e = len < j + (to - from) ? len : j + (to - from);
    // Float partial sums over short blocks (they vectorise), double across
    // blocks, so long runs keep their accuracy.
    for (int64_t k0 = j; k0 < e; k0 += 512) {
      int64_t k1 = k0 + 512 < e ? k0 + 512 : e;
      float s = 0.f;
      if (q) {
#pragma omp simd reduction(+ : s)
        for (int64_t k = k0; k < k1; k++) s += p[k] * q[k];
      } else {
#pragma omp simd reduction(+ : s)
        for (int64_t k = k0; k < k1; k++) s += p[k];
      }
      acc += s;
    }
    from += e - j;
    j = 0;
    c++;
  }
  return acc;
}

static void store(float *y, int64_t k, double v, float alpha, int accumulate) {
  float f = alpha * (float)v;
  y[k] = accumulate ? y[k] + f : f;
}

// Rows summed in float before they are added into the double accumulators.
#define RED_ROWS 32

void cpu_sum_prod_fwd(int nd, const int64_t *xs, const float *x, const float *w,
                      const int64_t *rs, float *y, float alpha, int accumulate) {
  int64_t n = numel_of(nd, xs), ny = numel_of(nd, rs);
  if (ny == 0) return;
  red_layout L;
  red_collapse(nd, xs, rs, &L);
  if (L.nr == 0 || n == 0) {
    // Nothing is summed over (or nothing to sum): a scaled copy / zero fill.
    if (n == 0) {
      for (int64_t k = 0; k < ny; k++) store(y, k, 0.0, alpha, accumulate);
    } else if (w) {
      cpu_binary_fwd(VP_BIN_MUL, nd, xs, y, x, xs, w, xs, alpha, accumulate);
    } else {
      cpu_binary_fwd(VP_BIN_COPY_A, nd, xs, y, x, xs, NULL, NULL, alpha, accumulate);
    }
    return;
  }
  int nth = omp_get_max_threads();
  int par = n >= RED_PAR_MIN;
  if (L.inner_reduced) {
    // Each output sums nro contiguous runs of len. When there are few outputs,
    // each one's reduced space is also cut into P chunks for the threads.
    int64_t len = L.rn[L.nr - 1], nro = n / ny / len, span = nro * len;
    int64_t P = 1;
    if (par && ny < 4 * nth) {
      P = (4 * nth + ny - 1) / ny;
      if (P > span / 1024) P = span / 1024 > 1 ? span / 1024 : 1;
    }
    double *part = P > 1 ? vp_malloc((size_t)(ny * P) * sizeof(double)) : NULL;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < ny * P; t++) {
      int64_t k = t / P, p = t % P;
      int64_t off = run_offset(k, L.nk, L.kn, L.ks);
      int64_t from = span * p / P, to = span * (p + 1) / P;
      double v = sum_span(x + off, w ? w + off : NULL, &L, len, from, to);
      if (part) part[t] = v;
      else store(y, k, v, alpha, accumulate);
    }
    if (part) {
      for (int64_t k = 0; k < ny; k++) {
        double v = 0;
        for (int64_t p = 0; p < P; p++) v += part[k * P + p];
        store(y, k, v, alpha, accumulate);
      }
      free(part);
    }
    return;
  }
  // Innermost run kept (length len, contiguous in x and y): add whole rows
  // of the reduced combinations into per-column accumulators. Tasks are
  // (outer kept group g, column block b, chunk p of the reduced rows).
  int64_t len = L.kn[L.nk - 1], ng = ny / len, nr = n / ny;
  int64_t ncb = (len + RED_COLS - 1) / RED_COLS, P = 1;
  if (par && ng * ncb < 4 * nth) {
    P = (4 * nth + ng * ncb - 1) / (ng * ncb);
    if (P > nr / 16) P = nr / 16 > 1 ? nr / 16 : 1;
  }
  double *part = P > 1 ? vp_calloc((size_t)(ny * P), sizeof(double)) : NULL;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t t = 0; t < ng * ncb * P; t++) {
    int64_t p = t % P, b = (t / P) % ncb, g = t / P / ncb;
    int64_t c0 = b * RED_COLS, c1 = c0 + RED_COLS < len ? c0 + RED_COLS : len, wd = c1 - c0;
    int64_t goff = run_offset(g, L.nk - 1, L.kn, L.ks) + c0;
    double acc[RED_COLS];
    float facc[RED_COLS];
    for (int64_t j = 0; j < wd; j++) acc[j] = 0;
    int64_t r0 = nr * p / P, r1 = nr * (p + 1) / P;
    for (int64_t rb = r0; rb < r1; rb += RED_ROWS) {
      int64_t re = rb + RED_ROWS < r1 ? rb + RED_ROWS : r1;
      for (int64_t j = 0; j < wd; j++) facc[j] = 0.f;
      for (int64_t r = rb; r < re; r++) {
        int64_t off = goff + run_offset(r, L.nr, L.rn, L.rs);
        const float *row = x + off;
        if (w) {
          const float *wr = w + off;
#pragma omp simd
          for (int64_t j = 0; j < wd; j++) facc[j] += row[j] * wr[j];
        } else {
#pragma omp simd
          for (int64_t j = 0; j < wd; j++) facc[j] += row[j];
        }
      }
      for (int64_t j = 0; j < wd; j++) acc[j] += facc[j];
    }
    int64_t k0 = g * len + c0;
    if (part) {
      for (int64_t j = 0; j < wd; j++) part[(k0 + j) * P + p] = acc[j];
    } else {
      for (int64_t j = 0; j < wd; j++) store(y, k0 + j, acc[j], alpha, accumulate);
    }
  }
  if (part) {
    for (int64_t k = 0; k < ny; k++) {
      double v = 0;
      for (int64_t p = 0; p < P; p++) v += part[k * P + p];
      store(y, k, v, alpha, accumulate);
    }
    free(part);
  }
}

void cpu_sum_fwd(int nd, const int64_t *xs, const float *x, const int64_t *rs, float *y,
                 float alpha, int accumulate) {
  cpu_sum_prod_fwd(nd, xs, x, NULL, rs, y, alpha, accumulate);
}

void cpu_sum_bwd(int nd, const int64_t *xs, float *gx, const int64_t *rs, const float *gy,
                 float alpha) {
  cpu_binary_fwd(VP_BIN_COPY_A, nd, xs, gx, gy, rs, NULL, NULL, alpha, 1);
}

// ---------------------------------------------------------------- losses
float cpu_mse_fwd_ref(int64_t n, const float *x, const float *y) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)x[i] - y[i];
    s += d * d;
  }
  return (float)(s / (double)n);
}

float cpu_mse_fwd(int64_t n, const float *x, const float *y) {
  double s = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= RED_PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    double d = (double)x[i] - y[i];
    s += d * d;
  }
  return (float)(s / (double)n);
}

float cpu_l1_fwd_ref(int64_t n, const float *x, const float *y) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += fabs((double)x[i] - y[i]);
  return (float)(s / (double)n);
}

float cpu_l1_fwd(int64_t n, const float *x, const float *y) {
  double s = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= RED_PAR_MIN)
  for (int64_t i = 0; i < n; i++) s += fabs((double)x[i] - y[i]);
  return (float)(s / (double)n);
}

void cpu_mse_bwd_ref(int64_t n, const float *x, const float *y, float g, float *gx, float *gy) {
  float c = 2.f * g / (float)n;
  for (int64_t i = 0; i < n; i++) {
    float d = c * (x[i] - y[i]);
    if (gx) gx[i] += d;
    if (gy) gy[i] -= d;
  }
}

void cpu_mse_bwd(int64_t n, const float *x, const float *y, float g, float *gx, float *gy) {
  float c = 2.f * g / (float)n;
  if (gx) {
#pragma omp parallel for simd schedule(static) if (n >= RED_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gx[i] += c * (x[i] - y[i]);
  }
  if (gy) {
#pragma omp parallel for simd schedule(static) if (n >= RED_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gy[i] -= c * (x[i] - y[i]);
  }
}

// PyTorch's sign(): 0 at 0, so an exact match contributes no gradient.
static inline float signf0(float v) { return (float)(v > 0.f) - (float)(v < 0.f); }

void cpu_l1_bwd_ref(int64_t n, const float *x, const float *y, float g, float *gx, float *gy) {
  float c = g / (float)n;
  for (int64_t i = 0; i < n; i++) {
    float d = c * signf0(x[i] - y[i]);
    if (gx) gx[i] += d;
    if (gy) gy[i] -= d;
  }
}

void cpu_l1_bwd(int64_t n, const float *x, const float *y, float g, float *gx, float *gy) {
  float c = g / (float)n;
  if (gx) {
#pragma omp parallel for simd schedule(static) if (n >= RED_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gx[i] += c * signf0(x[i] - y[i]);
  }
  if (gy) {
#pragma omp parallel for simd schedule(static) if (n >= RED_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gy[i] -= c * signf0(x[i] - y[i]);
  }
}
