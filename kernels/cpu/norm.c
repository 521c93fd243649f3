// norm.c: group norm and layer norm kernels (see norm.h).
// The references work element by element in double. The fast kernels run one
// OpenMP task per (batch, group) or per block of four rows, so each task's
// data stays in cache between its statistics pass and its normalise pass, and
// their workers are compiled per instruction set (see VP_CLONES). Statistics are
// taken in float over chunks of CHUNK elements (vectorised with several
// independent accumulators) and combined across chunks in double with Chan's
// formula; within a chunk the corrected two-pass algorithm keeps the mean
// accurate even when it is large next to the spread. Backward kernels
// reduce dw, db per task or per thread and add the partials afterwards, so
// results do not depend on timing and need no atomics.
#include "kernels/cpu/norm.h"

#include <math.h>
#include <omp.h>

#include "core/check.h"

// ------------------------------------------------------------ references

void cpu_group_norm_fwd_ref(const float *x, const float *w, const float *b, float *y, float *mean,
                            float *rstd, int64_t B, int64_t C, int64_t S, int64_t G, float eps) {
  int64_t Cg = C / G, n = Cg * S;
  for (int64_t bg = 0; bg < B * G; bg++) {
    const float *xg = x + bg * n;  // the (b, g) block is contiguous
    float *yg = y + bg * n;
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += xg[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += ((double)xg[i] - m) * ((double)xg[i] - m);
    v /= (double)n;
    double rs = 1.0 / sqrt(v + (double)eps);
    mean[bg] = (float)m;
    rstd[bg] = (float)rs;
    int64_t g = bg % G;
    for (int64_t c = 0; c < Cg; c++) {
      int64_t ch = g * Cg + c;
      for (int64_t s = 0; s < S; s++) {
        double xh = ((double)xg[c * S + s] - m) * rs;
        yg[c * S + s] = (float)(xh * (w ? w[ch] : 1.0) + (b ? b[ch] : 0.0));
      }
    }
  }
}

void cpu_group_norm_bwd_ref(const float *x, const float *w, const float *mean, const float *rstd,
                            const float *dy, float *dx, float *dw, float *db, int64_t B, int64_t C,
                            int64_t S, int64_t G) {
  int64_t Cg = C / G, n = Cg * S;
  for (int64_t bg = 0; bg < B * G; bg++) {
    int64_t g = bg % G;
    const float *xg = x + bg * n, *dyg = dy + bg * n;
    double m = mean[bg], rs = rstd[bg];
    // dx = rstd * (w dy - mean(w dy) - xhat * mean(w dy xhat)), means over the group
    double s1 = 0, s2 = 0;
    for (int64_t c = 0; c < Cg; c++) {
      double wc = w ? w[g * Cg + c] : 1.0, sw = 0, sb = 0;
      for (int64_t s = 0; s < S; s++) {
        double xh = ((double)xg[c * S + s] - m) * rs, gy = dyg[c * S + s];
        s1 += wc * gy;
        s2 += wc * gy * xh;
        sw += gy * xh;
        sb += gy;
      }
      if (dw) dw[g * Cg + c] += (float)sw;
      if (db) db[g * Cg + c] += (float)sb;
    }
    if (!dx) continue;
    float *dxg = dx + bg * n;
    for (int64_t c = 0; c < Cg; c++) {
      double wc = w ? w[g * Cg + c] : 1.0;
      for (int64_t s = 0; s < S; s++) {
        double xh = ((double)xg[c * S + s] - m) * rs;
        dxg[c * S + s] += (float)(rs * (wc * dyg[c * S + s] - s1 / (double)n - xh * s2 / (double)n));
      }
    }
  }
}

void cpu_layer_norm_fwd_ref(const float *x, const float *w, const float *b, float *y, float *mean,
                            float *rstd, int64_t M, int64_t D, float eps) {
  // Layer norm is group norm with one group per row and the affine on the last dim.
  for (int64_t r = 0; r < M; r++) {
    const float *xr = x + r * D;
    double m = 0, v = 0;
    for (int64_t i = 0; i < D; i++) m += xr[i];
    m /= (double)D;
    for (int64_t i = 0; i < D; i++) v += ((double)xr[i] - m) * ((double)xr[i] - m);
    v /= (double)D;
    double rs = 1.0 / sqrt(v + (double)eps);
    mean[r] = (float)m;
    rstd[r] = (float)rs;
    for (int64_t i = 0; i < D; i++)
      y[r * D + i] = (float)(((double)xr[i] - m) * rs * (w ? w[i] : 1.0) + (b ? b[i] : 0.0));
  }
}

void cpu_layer_norm_bwd_ref(const float *x, const float *w, const float *mean, const float *rstd,
                            const float *dy, float *dx, float *dw, float *db, int64_t M, int64_t D) {
  for (int64_t r = 0; r < M; r++) {
    const float *xr = x + r * D, *gr = dy + r * D;
    double m = mean[r], rs = rstd[r], s1 = 0, s2 = 0;
    for (int64_t i = 0; i < D; i++) {
      double xh = ((double)xr[i] - m) * rs, wg = (w ? w[i] : 1.0) * gr[i];
      s1 += wg;
      s2 += wg * xh;
      if (dw) dw[i] += (float)(gr[i] * xh);
      if (db) db[i] += gr[i];
    }
    if (!dx) continue;
    for (int64_t i = 0; i < D; i++) {
      double xh = ((double)xr[i] - m) * rs, wg = (w ? w[i] : 1.0) * gr[i];
      dx[r * D + i] += (float)(rs * (wg - s1 / (double)D - xh * s2 / (double)D));
    }
  }
}

// ------------------------------------------------------------ fast helpers

// The per-group / per-block workers are compiled for AVX-512, AVX2 and the
// baseline, picked at load time (GCC function multiversioning): the build
// targets plain x86-64, and these loops are bound by arithmetic, not memory.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 11 && \
    !defined(VP_NO_CLONES)
#define VP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VP_CLONES
#endif
// Helpers of the cloned workers are inlined into each clone, so that they too
// are compiled for the clone's vector width.
#define VP_INLINE static inline __attribute__((always_inline))

// Float reductions run over at most CHUNK elements before going to double.
#define CHUNK 1024

// Running moments of a set: count, mean, sum of squared deviations (Chan et al.).
typedef struct { double n, mean, m2; } moments;

VP_INLINE void moments_add(moments *a, double n, double mean, double m2) {
  double tot = a->n + n, d = mean - a->mean;
  a->mean += d * n / tot;
  a->m2 += m2 + d * d * a->n * n / tot;
  a->n = tot;
}

// Moments of x[0..n) with n <= CHUNK: a plain sum for a pilot mean c, then
// the corrected second pass: r = sum(x - c), q = sum((x - c)^2) give
// mean = c + r/n and m2 = q - r^2/n. Each pass runs over four quarters of the
// chunk at once, so four independent vector sums are in flight whatever the
// SIMD width (one sum would wait on the add latency every step).
VP_INLINE void chunk_moments(const float *x, int64_t n, moments *out) {
  int64_t q4 = n / 4;
  const float *x0 = x, *x1 = x + q4, *x2 = x + 2 * q4, *x3 = x + 3 * q4;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t i = 0; i < q4; i++) {
    s0 += x0[i];
    s1 += x1[i];
    s2 += x2[i];
    s3 += x3[i];
  }
  float s = (s0 + s1) + (s2 + s3);
  for (int64_t i = 4 * q4; i < n; i++) s += x[i];
  float c = s / (float)n;
  float r0 = 0, r1 = 0, r2 = 0, r3 = 0, v0 = 0, v1 = 0, v2 = 0, v3 = 0;
#pragma omp simd reduction(+ : r0, r1, r2, r3, v0, v1, v2, v3)
  for (int64_t i = 0; i < q4; i++) {
    float d0 = x0[i] - c, d1 = x1[i] - c, d2 = x2[i] - c, d3 = x3[i] - c;
    r0 += d0; r1 += d1; r2 += d2; r3 += d3;
    v0 += d0 * d0; v1 += d1 * d1; v2 += d2 * d2; v3 += d3 * d3;
  }
  float r = (r0 + r1) + (r2 + r3), q = (v0 + v1) + (v2 + v3);
  for (int64_t i = 4 * q4; i < n; i++) {
    float d = x[i] - c;
    r += d;
    q += d * d;
  }
  double dr = r, m2 = (double)q - dr * dr / (double)n;
  moments_add(out, (double)n, (double)c + dr / (double)n, m2 > 0.0 ? m2 : 0.0);
}

VP_INLINE void moments_of(const float *x, int64_t n, double *mean, double *var) {
  moments m = {0, 0, 0};
  for (int64_t i = 0; i < n; i += CHUNK) chunk_moments(x + i, n - i < CHUNK ? n - i : CHUNK, &m);
  *mean = m.mean;
  *var = m.n > 0 ? m.m2 / m.n : 0.0;
}

// sum(g * (x - m)) and sum(g) over n elements (quarters at once, as above).
VP_INLINE void dot_centered(const float *g, const float *x, float m, int64_t n, double *sgx, double *sg) {
  double tgx = 0, tg = 0;
  for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
    int64_t len = n - i0 < CHUNK ? n - i0 : CHUNK, q4 = len / 4;
    const float *g0 = g + i0, *g1 = g0 + q4, *g2 = g0 + 2 * q4, *g3 = g0 + 3 * q4;
    const float *x0 = x + i0, *x1 = x0 + q4, *x2 = x0 + 2 * q4, *x3 = x0 + 3 * q4;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, b0, b1, b2, b3)
    for (int64_t i = 0; i < q4; i++) {
      a0 += g0[i] * (x0[i] - m); a1 += g1[i] * (x1[i] - m);
      a2 += g2[i] * (x2[i] - m); a3 += g3[i] * (x3[i] - m);
      b0 += g0[i]; b1 += g1[i]; b2 += g2[i]; b3 += g3[i];
    }
    float a = (a0 + a1) + (a2 + a3), b = (b0 + b1) + (b2 + b3);
    for (int64_t i = 4 * q4; i < len; i++) {
      a += g0[i] * (x0[i] - m);
      b += g0[i];
    }
    tgx += a;
    tg += b;
  }
  *sgx = tgx;
  *sg = tg;
}

// Parallelise only when there is enough work to pay for waking the threads.
#define PAR_MIN 32768

// ------------------------------------------------------------ group norm

// One (batch, group) block xg, yg (Cg, S) with channels from ch0.
VP_CLONES static void gn_fwd_group(const float *xg, float *yg, const float *w, const float *b,
                                   int64_t ch0, int64_t Cg, int64_t S, float eps, float *mean,
                                   float *rstd) {
  double m, v;
  moments_of(xg, Cg * S, &m, &v);
  double rs = 1.0 / sqrt(v + (double)eps);
  *mean = (float)m;
  *rstd = (float)rs;
  // x - mean with the double mean as fm + lo: the lo part folds into the shift
  float fm = (float)m;
  double lo = m - (double)fm;
  for (int64_t c = 0; c < Cg; c++) {
    double scd = rs * (w ? w[ch0 + c] : 1.0);
    float sc = (float)scd, sh = (float)((b ? b[ch0 + c] : 0.0) - lo * scd);
    const float *xc = xg + c * S;
    float *yc = yg + c * S;
#pragma omp simd
    for (int64_t s = 0; s < S; s++) yc[s] = (xc[s] - fm) * sc + sh;
  }
}

void cpu_group_norm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                        float *rstd, int64_t B, int64_t C, int64_t S, int64_t G, float eps) {
  int64_t Cg = C / G, n = Cg * S;
#pragma omp parallel for schedule(static) if (B * G > 1 && B * C * S >= PAR_MIN)
  for (int64_t bg = 0; bg < B * G; bg++)  // the (b, g) block is contiguous
    gn_fwd_group(x + bg * n, y + bg * n, w, b, (bg % G) * Cg, Cg, S, eps, mean + bg, rstd + bg);
}

// One (batch, group) block: dx (may be NULL) and, per channel, part[2c] =
// rstd * sum(dy (x - mean)) and part[2c + 1] = sum(dy) (may be NULL).
VP_CLONES static void gn_bwd_group(const float *xg, const float *dyg, float *dxg, int dx_fresh,
                                   const float *w, int64_t ch0, int64_t Cg, int64_t S, float fm,
                                   float rsf, double *part) {
  double rs = rsf, a = 0, bs = 0;  // sum(w dy (x - mean)), sum(w dy)
  for (int64_t c = 0; c < Cg; c++) {
    double sgx, sg;
    dot_centered(dyg + c * S, xg + c * S, fm, S, &sgx, &sg);
    double wc = w ? w[ch0 + c] : 1.0;
    a += wc * sgx;
    bs += wc * sg;
    if (part) {
      part[2 * c] = rs * sgx;
      part[2 * c + 1] = sg;
    }
  }
  if (!dxg) return;
  // dx = rstd w dy + k1 (x - mean) + k0
  double n = (double)(Cg * S);
  float k1 = (float)(-rs * rs * rs * a / n), k0 = (float)(-rs * bs / n);
  for (int64_t c = 0; c < Cg; c++) {
    float sc = (float)(rs * (w ? w[ch0 + c] : 1.0));
    const float *xc = xg + c * S, *gc = dyg + c * S;
    float *dc = dxg + c * S;
    if (dx_fresh) {
#pragma omp simd
      for (int64_t s = 0; s < S; s++) dc[s] = sc * gc[s] + k1 * (xc[s] - fm) + k0;
    } else {
#pragma omp simd
      for (int64_t s = 0; s < S; s++) dc[s] += sc * gc[s] + k1 * (xc[s] - fm) + k0;
    }
  }
}

void cpu_group_norm_bwd(const float *x, const float *w, const float *mean, const float *rstd,
                        const float *dy, float *dx, float *dw, float *db, int64_t B, int64_t C,
                        int64_t S, int64_t G, int dx_fresh) {
  int64_t Cg = C / G, n = Cg * S;
  // Per (b, c) partial sums for dw, db, added over b after the parallel loop
  // (no atomics, deterministic).
  double *part = (dw || db) ? vp_malloc((size_t)(B * C * 2) * sizeof(double)) : NULL;
#pragma omp parallel for schedule(static) if (B * G > 1 && B * C * S >= PAR_MIN)
  for (int64_t bg = 0; bg < B * G; bg++) {
    int64_t ch0 = (bg % G) * Cg;
    gn_bwd_group(x + bg * n, dy + bg * n, dx ? dx + bg * n : NULL, dx_fresh, w, ch0, Cg, S, mean[bg],
                 rstd[bg], part ? part + 2 * ((bg / G) * C + ch0) : NULL);
  }
  if (part) {
    for (int64_t ch = 0; ch < C; ch++) {
      double sw = 0, sb = 0;
      for (int64_t bi = 0; bi < B; bi++) {
        sw += part[2 * (bi * C + ch)];
        sb += part[2 * (bi * C + ch) + 1];
      }
      if (dw) dw[ch] += (float)sw;
      if (db) db[ch] += (float)sb;
    }
    free(part);
  }
}

// ------------------------------------------------------------ layer norm
// Rows are short (a few hundred), so per-row reductions would be bound by the
// add latency and the per-row scalar work. The fast kernels take rows four at
// a time: each pass over D keeps 8 independent sums in flight and loads w, b
// and the dw / db partials once per four rows. A short last block is padded
// with a zero row whose results go to a scratch row.
#define LN_ROWS 4

// Per-call buffers: ones / zeros stand in for a missing w, b and for padding
// rows; each thread gets scratch output rows and its dw, db partials.
typedef struct {
  float *ones, *zeros, *thread;  // thread: per thread [scratch row | pw | pb], 3 D each
} ln_bufs;

static ln_bufs ln_bufs_new(int64_t D, int nt) {
  ln_bufs u;
  u.ones = vp_malloc((size_t)D * sizeof(float));
  u.zeros = vp_calloc((size_t)D, sizeof(float));
  u.thread = vp_calloc((size_t)nt * 3 * (size_t)D, sizeof(float));
  for (int64_t i = 0; i < D; i++) u.ones[i] = 1.f;
  return u;
}
static void ln_bufs_free(ln_bufs *u) {
  free(u->ones);
  free(u->zeros);
  free(u->thread);
}

// Forward of rows x[j], j < 4 -> y[j], mean[j], rstd[j].
VP_CLONES static void ln_fwd_block(const float *const *x, float *const *y, const float *w,
                                   const float *b, int64_t D, float eps, float *mean, float *rstd) {
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t i = 0; i < D; i++) {
    s0 += x0[i];
    s1 += x1[i];
    s2 += x2[i];
    s3 += x3[i];
  }
  // corrected two-pass moments around the pilot means c (see chunk_moments)
  float invDf = 1.f / (float)D;
  float c0 = s0 * invDf, c1 = s1 * invDf, c2 = s2 * invDf, c3 = s3 * invDf;
  float r0 = 0, r1 = 0, r2 = 0, r3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
#pragma omp simd reduction(+ : r0, r1, r2, r3, q0, q1, q2, q3)
  for (int64_t i = 0; i < D; i++) {
    float d0 = x0[i] - c0, d1 = x1[i] - c1, d2 = x2[i] - c2, d3 = x3[i] - c3;
    r0 += d0; r1 += d1; r2 += d2; r3 += d3;
    q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
  }
  float c[4] = {c0, c1, c2, c3}, r[4] = {r0, r1, r2, r3}, q[4] = {q0, q1, q2, q3};
  float fm[4], rs[4], lo[4];
  double invD = 1.0 / (double)D;
  for (int j = 0; j < LN_ROWS; j++) {
    double dm = (double)r[j] * invD, m = (double)c[j] + dm, var = (double)q[j] * invD - dm * dm;
    double rsd = 1.0 / sqrt((var > 0.0 ? var : 0.0) + (double)eps);
    mean[j] = (float)m;
    rstd[j] = (float)rsd;
    // (x - mean) * rstd with the double mean as fm + lo (see group norm)
    fm[j] = (float)m;
    rs[j] = (float)rsd;
    lo[j] = (float)((m - (double)fm[j]) * rsd);
  }
  float *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
#pragma omp simd
  for (int64_t i = 0; i < D; i++) {
    float wi = w[i], bi = b[i];
    y0[i] = ((x0[i] - fm[0]) * rs[0] - lo[0]) * wi + bi;
    y1[i] = ((x1[i] - fm[1]) * rs[1] - lo[1]) * wi + bi;
    y2[i] = ((x2[i] - fm[2]) * rs[2] - lo[2]) * wi + bi;
    y3[i] = ((x3[i] - fm[3]) * rs[3] - lo[3]) * wi + bi;
  }
}

void cpu_layer_norm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                        float *rstd, int64_t M, int64_t D, float eps) {
  int nt = omp_get_max_threads();
  ln_bufs u = ln_bufs_new(D, nt);
  int64_t nblk = (M + LN_ROWS - 1) / LN_ROWS;
#pragma omp parallel if (nblk > 1 && M * D >= PAR_MIN)
  {
    float *scratch = u.thread + (size_t)omp_get_thread_num() * 3 * (size_t)D;
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nblk; blk++) {
      const float *xs[LN_ROWS];
      float *ys[LN_ROWS], m[LN_ROWS], r[LN_ROWS];
      int64_t r0 = blk * LN_ROWS;
      for (int j = 0; j < LN_ROWS; j++) {
        int real = r0 + j < M;
        xs[j] = real ? x + (r0 + j) * D : u.zeros;
        ys[j] = real ? y + (r0 + j) * D : scratch;
      }
      ln_fwd_block(xs, ys, w ? w : u.ones, b ? b : u.zeros, D, eps, m, r);
      for (int j = 0; j < LN_ROWS && r0 + j < M; j++) {
        mean[r0 + j] = m[j];
        rstd[r0 + j] = r[j];
      }
    }
  }
  ln_bufs_free(&u);
}

// Backward of rows j < 4: dx[j] += ..., pw += sum_j dy xhat, pb += sum_j dy.
VP_CLONES static void ln_bwd_block(const float *const *x, const float *const *g, float *const *dx,
                                   int dx_fresh, const float *w, const float *fm, const float *rs,
                                   int64_t D, float *pw, float *pb) {
  const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  const float *g0 = g[0], *g1 = g[1], *g2 = g[2], *g3 = g[3];
  float m0 = fm[0], m1 = fm[1], m2 = fm[2], m3 = fm[3];
  // a = sum(w dy (x - mean)), s = sum(w dy) per row
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, s0, s1, s2, s3)
  for (int64_t i = 0; i < D; i++) {
    float wi = w[i];
    float v0 = g0[i] * wi, v1 = g1[i] * wi, v2 = g2[i] * wi, v3 = g3[i] * wi;
    a0 += v0 * (x0[i] - m0); a1 += v1 * (x1[i] - m1); a2 += v2 * (x2[i] - m2); a3 += v3 * (x3[i] - m3);
    s0 += v0; s1 += v1; s2 += v2; s3 += v3;
  }
  // dx = rstd w dy + k1 (x - mean) + k0
  float a[4] = {a0, a1, a2, a3}, s[4] = {s0, s1, s2, s3}, k1[4], k0[4];
  double invD = 1.0 / (double)D;
  for (int j = 0; j < LN_ROWS; j++) {
    double r = rs[j];
    k1[j] = (float)(-r * r * r * (double)a[j] * invD);
    k0[j] = (float)(-r * (double)s[j] * invD);
  }
  float *d0 = dx[0], *d1 = dx[1], *d2 = dx[2], *d3 = dx[3];
#define LN_BWD_BODY(OP)                                                                           \
  for (int64_t i = 0; i < D; i++) {                                                              \
    float wi = w[i];                                                                             \
    float e0 = x0[i] - m0, e1 = x1[i] - m1, e2 = x2[i] - m2, e3 = x3[i] - m3;                    \
    d0[i] OP rs[0] * wi * g0[i] + k1[0] * e0 + k0[0];                                            \
    d1[i] OP rs[1] * wi * g1[i] + k1[1] * e1 + k0[1];                                            \
    d2[i] OP rs[2] * wi * g2[i] + k1[2] * e2 + k0[2];                                            \
    d3[i] OP rs[3] * wi * g3[i] + k1[3] * e3 + k0[3];                                            \
    pw[i] += (g0[i] * e0 * rs[0] + g1[i] * e1 * rs[1]) + (g2[i] * e2 * rs[2] + g3[i] * e3 * rs[3]); \
    pb[i] += (g0[i] + g1[i]) + (g2[i] + g3[i]);                                                  \
  }
  if (dx_fresh) {
#pragma omp simd
    LN_BWD_BODY(=)
  } else {
#pragma omp simd
    LN_BWD_BODY(+=)
  }
#undef LN_BWD_BODY
}

void cpu_layer_norm_bwd(const float *x, const float *w, const float *mean, const float *rstd,
                        const float *dy, float *dx, float *dw, float *db, int64_t M, int64_t D,
                        int dx_fresh) {
  // dw, db: each thread sums its rows into its own partials, then the
  // partials are added (no atomics; the split is fixed by the static schedule).
  int nt = omp_get_max_threads();
  ln_bufs u = ln_bufs_new(D, nt);
  int64_t nblk = (M + LN_ROWS - 1) / LN_ROWS;
#pragma omp parallel if (nblk > 1 && M * D >= PAR_MIN)
  {
    float *scratch = u.thread + (size_t)omp_get_thread_num() * 3 * (size_t)D;
    float *pw = scratch + D, *pb = pw + D;
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nblk; blk++) {
      const float *xs[LN_ROWS], *gs[LN_ROWS];
      float *ds[LN_ROWS], fm[LN_ROWS], rs[LN_ROWS];
      int64_t r0 = blk * LN_ROWS;
      for (int j = 0; j < LN_ROWS; j++) {
        int64_t r = r0 + j;
        int real = r < M;  // a padding row has dy = 0: it adds nothing anywhere
        xs[j] = real ? x + r * D : u.zeros;
        gs[j] = real ? dy + r * D : u.zeros;
        ds[j] = real && dx ? dx + r * D : scratch;
        fm[j] = real ? mean[r] : 0.f;
        rs[j] = real ? rstd[r] : 0.f;
      }
      // without dx, the dx rows are all the scratch row: overwrite it each time
      ln_bwd_block(xs, gs, ds, dx ? dx_fresh : 1, w ? w : u.ones, fm, rs, D, pw, pb);
    }
  }
  for (int t = 0; t < nt; t++) {
    const float *pw = u.thread + (size_t)t * 3 * (size_t)D + D, *pb = pw + D;
    if (dw)
      for (int64_t i = 0; i < D; i++) dw[i] += pw[i];
    if (db)
      for (int64_t i = 0; i < D; i++) db[i] += pb[i];
  }
  ln_bufs_free(&u);
}
