// elem.c: broadcasting binary arithmetic and pointwise kernels (see elem.h).
#include "kernels/cpu/elem.h"

#include <stdlib.h>

#include "core/check.h"
#include "core/tensor.h"
#include "kernels/cpu/reduce.h"

// Below this many elements a parallel region costs more than it saves.
#define ELEM_PAR_MIN 32768
// Columns per task in the row-blocked loop: big enough to amortise the index
// arithmetic of a row, small enough to spread one long row over threads.
#define ELEM_COLS 4096

static int64_t numel_of(int nd, const int64_t *s) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= s[d];
  return n;
}

static int shapes_equal(int nd, const int64_t *a, const int64_t *b) {
  for (int d = 0; d < nd; d++)
    if (a[d] != b[d]) return 0;
  return 1;
}

static inline float bin_apply(vp_binop op, float a, float b) {
  switch (op) {
    case VP_BIN_ADD: return a + b;
    case VP_BIN_SUB: return a - b;
    case VP_BIN_MUL: return a * b;
    case VP_BIN_DIV: return a / b;
    case VP_BIN_COPY_A: return a;
  }
  return 0.f;
}

// ---------------------------------------------------------------- reference
// Offset into a broadcast operand of shape xs for the output multi-index idx.
static int64_t bcast_offset(int nd, const int64_t *idx, const int64_t *xs) {
  int64_t off = 0;
  for (int d = 0; d < nd; d++) off = off * xs[d] + (xs[d] == 1 ? 0 : idx[d]);
  return off;
}

static void unravel(int64_t i, int nd, const int64_t *s, int64_t *idx) {
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = s[d] ? i % s[d] : 0;
    i = s[d] ? i / s[d] : 0;
  }
}

void cpu_binary_fwd_ref(vp_binop op, int nd, const int64_t *ys, float *y, const float *a,
                        const int64_t *as, const float *b, const int64_t *bs, float alpha,
                        int accumulate) {
  int64_t n = numel_of(nd, ys), idx[VP_MAXDIM];
  for (int64_t i = 0; i < n; i++) {
    unravel(i, nd, ys, idx);
    float av = a[bcast_offset(nd, idx, as)];
    float bv = op == VP_BIN_COPY_A ? 0.f : b[bcast_offset(nd, idx, bs)];
    float v = alpha * bin_apply(op, av, bv);
    y[i] = accumulate ? y[i] + v : v;
  }
}

void cpu_binary_bwd_ref(vp_binop op, int nd, const int64_t *ys, const float *y, const float *gy,
                        const float *a, const int64_t *as, float *ga, const float *b,
                        const int64_t *bs, float *gb) {
  VP_ASSERT(op != VP_BIN_COPY_A);
  // Sums over stretched dims can be long; accumulate them in double.
  int64_t n = numel_of(nd, ys), na = numel_of(nd, as), nb = numel_of(nd, bs), idx[VP_MAXDIM];
  double *da = vp_calloc((size_t)na, sizeof(double)), *db = vp_calloc((size_t)nb, sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    unravel(i, nd, ys, idx);
    int64_t ia = bcast_offset(nd, idx, as), ib = bcast_offset(nd, idx, bs);
    double g = gy[i];
    switch (op) {
      case VP_BIN_ADD: da[ia] += g; db[ib] += g; break;
      case VP_BIN_SUB: da[ia] += g; db[ib] -= g; break;
      case VP_BIN_MUL: da[ia] += g * b[ib]; db[ib] += g * a[ia]; break;
      case VP_BIN_DIV: da[ia] += g / b[ib]; db[ib] -= g * y[i] / b[ib]; break;  // d(a/b)/db = -y/b
      case VP_BIN_COPY_A: break;
    }
  }
  if (ga)
    for (int64_t i = 0; i < na; i++) ga[i] += (float)da[i];
  if (gb)
    for (int64_t i = 0; i < nb; i++) gb[i] += (float)db[i];
  free(da);
  free(db);
}

// ---------------------------------------------------------------- fast
// The broadcast pattern with size-1 output dims dropped and neighbouring dims
// that broadcast the same way merged, e.g. (B,C,H,W) + (C,1,1) becomes
// (B, C, H*W) with a strides (C*HW, HW, 1) and b strides (0, 1, 0).
typedef struct {
  int m;
  int64_t n[VP_MAXDIM], sa[VP_MAXDIM], sb[VP_MAXDIM];
} bin_layout;

static void bin_collapse(int nd, const int64_t *ys, const int64_t *as, const int64_t *bs,
                         bin_layout *L) {
  int fa[VP_MAXDIM], fb[VP_MAXDIM], m = 0;
  for (int d = 0; d < nd; d++) {
    if (ys[d] == 1) continue;
    int ta = as[d] != 1, tb = bs[d] != 1;
    if (m > 0 && fa[m - 1] == ta && fb[m - 1] == tb) {
      L->n[m - 1] *= ys[d];
    } else {
      L->n[m] = ys[d];
      fa[m] = ta;
      fb[m] = tb;
      m++;
    }
  }
  if (m == 0) {  // one element
    L->n[0] = 1;
    fa[0] = fb[0] = 1;
    m = 1;
  }
  int64_t ra = 1, rb = 1;
  for (int d = m - 1; d >= 0; d--) {
    L->sa[d] = fa[d] ? ra : 0;
    L->sb[d] = fb[d] ? rb : 0;
    if (fa[d]) ra *= L->n[d];
    if (fb[d]) rb *= L->n[d];
  }
  L->m = m;
}

// One run of n outputs with unit or zero operand strides. The cases are
// spelled out so that each inner loop vectorises. y may alias a (in place).
#define ROW_LOOP(EXPR)                                                  \
  do {                                                                  \
    if (accumulate) {                                                   \
      _Pragma("omp simd") for (int64_t j = 0; j < n; j++) y[j] += alpha * (EXPR); \
    } else {                                                            \
      _Pragma("omp simd") for (int64_t j = 0; j < n; j++) y[j] = alpha * (EXPR);  \
    }                                                                   \
  } while (0)

#define ROW_OP(OPER)                                                    \
  do {                                                                  \
    if (ia && ib) ROW_LOOP(a[j] OPER b[j]);                             \
    else if (ia) { const float bv = b[0]; ROW_LOOP(a[j] OPER bv); }      \
    else if (ib) { const float av = a[0]; ROW_LOOP(av OPER b[j]); }      \
    else { const float v = a[0] OPER b[0]; ROW_LOOP(v); }               \
  } while (0)

static void bin_row(vp_binop op, float alpha, int accumulate, float *y, const float *a, int ia,
                    const float *b, int ib, int64_t n) {
  switch (op) {
    case VP_BIN_ADD: ROW_OP(+); break;
    case VP_BIN_SUB: ROW_OP(-); break;
    case VP_BIN_MUL: ROW_OP(*); break;
    case VP_BIN_DIV: ROW_OP(/); break;
    case VP_BIN_COPY_A:
      if (ia) ROW_LOOP(a[j]);
      else { const float av = a[0]; ROW_LOOP(av); }
      break;
  }
}

void cpu_binary_fwd(vp_binop op, int nd, const int64_t *ys, float *y, const float *a,
                    const int64_t *as, const float *b, const int64_t *bs, float alpha,
                    int accumulate) {
  int64_t n = numel_of(nd, ys);
  if (n == 0) return;
  if (op == VP_BIN_COPY_A) { b = a; bs = as; }  // b is ignored; give it a's pattern
  if (shapes_equal(nd, as, ys) && shapes_equal(nd, bs, ys)) {
    // Contiguous, same shape: one flat loop.
    int64_t nb = (n + ELEM_COLS - 1) / ELEM_COLS;
#pragma omp parallel for schedule(static) if (n >= ELEM_PAR_MIN)
    for (int64_t t = 0; t < nb; t++) {
      int64_t c0 = t * ELEM_COLS, c1 = c0 + ELEM_COLS < n ? c0 + ELEM_COLS : n;
      bin_row(op, alpha, accumulate, y + c0, a + c0, 1, b + c0, 1, c1 - c0);
    }
    return;
  }
  bin_layout L;
  bin_collapse(nd, ys, as, bs, &L);
  int m = L.m;
  int64_t len = L.n[m - 1], rows = n / len, ncb = (len + ELEM_COLS - 1) / ELEM_COLS;
  int ia = L.sa[m - 1] != 0, ib = L.sb[m - 1] != 0;
#pragma omp parallel for schedule(static) if (n >= ELEM_PAR_MIN)
  for (int64_t t = 0; t < rows * ncb; t++) {
    int64_t r = t / ncb, c0 = (t % ncb) * ELEM_COLS;
    int64_t c1 = c0 + ELEM_COLS < len ? c0 + ELEM_COLS : len;
    int64_t oa = 0, ob = 0, rr = r;
    for (int d = m - 2; d >= 0; d--) {
      int64_t i = rr % L.n[d];
      rr /= L.n[d];
      oa += i * L.sa[d];
      ob += i * L.sb[d];
    }
    bin_row(op, alpha, accumulate, y + r * len + c0, a + oa + c0 * ia, ia, b + ob + c0 * ib, ib,
            c1 - c0);
  }
}

// gx (shape xs) += alpha * term (full shape ys), summing over stretched dims.
static void add_reduced(int nd, const int64_t *ys, const float *term, const int64_t *xs, float *gx,
                        float alpha) {
  if (shapes_equal(nd, xs, ys))
    cpu_binary_fwd(VP_BIN_COPY_A, nd, ys, gx, term, ys, NULL, ys, alpha, 1);
  else
    cpu_sum_fwd(nd, ys, term, xs, gx, alpha, 1);
}

// gx (shape xs) += sum over stretched dims of gy * o (o broadcast from os),
// or gy / o for division. The common case, o with the full shape (the
// gradient of a (C,1,1) scale), is one fused pass; otherwise the term is
// formed in a temporary first.
static void add_reduced_term(vp_binop op, int nd, const int64_t *ys, const float *gy,
                             const float *o, const int64_t *os, const int64_t *xs, float *gx) {
  if (shapes_equal(nd, xs, ys)) {
    cpu_binary_fwd(op, nd, ys, gx, gy, ys, o, os, 1.f, 1);
  } else if (op == VP_BIN_MUL && shapes_equal(nd, os, ys)) {
    cpu_sum_prod_fwd(nd, ys, gy, o, xs, gx, 1.f, 1);
  } else {
    float *work = vp_malloc((size_t)numel_of(nd, ys) * sizeof(float));
    cpu_binary_fwd(op, nd, ys, work, gy, ys, o, os, 1.f, 0);
    cpu_sum_fwd(nd, ys, work, xs, gx, 1.f, 1);
    free(work);
  }
}

void cpu_binary_bwd(vp_binop op, int nd, const int64_t *ys, const float *y, const float *gy,
                    const float *a, const int64_t *as, float *ga, const float *b,
                    const int64_t *bs, float *gb) {
  int64_t n = numel_of(nd, ys);
  if (n == 0) return;
  VP_ASSERT(op != VP_BIN_COPY_A);
  if (op == VP_BIN_ADD || op == VP_BIN_SUB) {
    if (ga) add_reduced(nd, ys, gy, as, ga, 1.f);
    if (gb) add_reduced(nd, ys, gy, bs, gb, op == VP_BIN_SUB ? -1.f : 1.f);
    return;
  }
  // d/da: gy * b (mul) or gy / b (div).
  if (ga) add_reduced_term(op, nd, ys, gy, b, bs, as, ga);
  if (!gb) return;
  if (op == VP_BIN_MUL) {
    add_reduced_term(VP_BIN_MUL, nd, ys, gy, a, as, bs, gb);
    return;
  }
  // d(a/b)/db = -y / b. b is constant along its own stretched dims, so
  // gb += -(sum of gy * y) / b, with the sum fused.
  int64_t nb = numel_of(nd, bs);
  if (nb == n) {
#pragma omp parallel for simd schedule(static) if (n >= ELEM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gb[i] -= gy[i] * y[i] / b[i];
    return;
  }
  float *s = vp_malloc((size_t)nb * sizeof(float));
  cpu_sum_prod_fwd(nd, ys, gy, y, bs, s, 1.f, 0);
  for (int64_t k = 0; k < nb; k++) gb[k] -= s[k] / b[k];
  free(s);
}

// ---------------------------------------------------------------- pointwise
void cpu_affine_fwd_ref(int64_t n, const float *x, float s, float t, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * s + t;
}

void cpu_affine_fwd(int64_t n, const float *x, float s, float t, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= ELEM_PAR_MIN)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * s + t;
}

void cpu_affine_bwd_ref(int64_t n, float s, const float *gy, float *gx) {
  for (int64_t i = 0; i < n; i++) gx[i] += s * gy[i];
}

void cpu_affine_bwd(int64_t n, float s, const float *gy, float *gx) {
#pragma omp parallel for simd schedule(static) if (n >= ELEM_PAR_MIN)
  for (int64_t i = 0; i < n; i++) gx[i] += s * gy[i];
}

// Written with comparisons (not fminf/fmaxf) so that NaN passes through as in PyTorch.
static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

void cpu_clamp_fwd_ref(int64_t n, const float *x, float lo, float hi, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] = clampf(x[i], lo, hi);
}

void cpu_clamp_fwd(int64_t n, const float *x, float lo, float hi, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= ELEM_PAR_MIN)
  for (int64_t i = 0; i < n; i++) y[i] = clampf(x[i], lo, hi);
}

void cpu_clamp_bwd_ref(int64_t n, const float *x, float lo, float hi, const float *gy, float *gx) {
  for (int64_t i = 0; i < n; i++)
    if (x[i] >= lo && x[i] <= hi) gx[i] += gy[i];
}

void cpu_clamp_bwd(int64_t n, const float *x, float lo, float hi, const float *gy, float *gx) {
#pragma omp parallel for simd schedule(static) if (n >= ELEM_PAR_MIN)
  for (int64_t i = 0; i < n; i++) gx[i] += (x[i] >= lo && x[i] <= hi) ? gy[i] : 0.f;
}
