// attention.c: reference and fused scaled dot-product attention (see attention.h).
//
// The fused kernels take one block of br query rows of one (batch, head) at a
// time against all lk keys. The block's scores (br x lk floats, sized to stay
// in L2) are the only score memory, so softmax is exact (max pass, exp pass;
// no online rescaling) and backward needs only each row's log-sum-exp to
// rebuild the probabilities. Every product goes through one small
// register-tiled matrix kernel (AVX-512 or AVX2 + FMA, the best the CPU has,
// else plain loops; see attention_simd.inc), run inside our own OpenMP
// threads: OpenBLAS is not used because its thread pool must not be entered
// from an OpenMP region, and per-block calls are too small to pay for its
// threading.
#include "kernels/cpu/attention.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/check.h"

static const float *mask_of(const cpu_attn_shape *s, const float *mask, int64_t b) {
  if (!mask) return NULL;
  return s->mask_per_head ? mask + b * s->lq * s->lk : mask;
}

// ---------------------------------------------------------------- reference

void cpu_attention_fwd_ref(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                           const float *mask, float *out, float *probs) {
  const int64_t lq = s->lq, lk = s->lk, d = s->d, dv = s->dv;
  VP_ASSERT(lk >= 1);
#pragma omp parallel
  {
    double *sc = vp_malloc((size_t)lk * sizeof(double));  // one score row
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < s->bh; b++) {
      for (int64_t i = 0; i < lq; i++) {
        const float *qi = q + (b * lq + i) * d, *kb = k + b * lk * d, *vb = v + b * lk * dv;
        const float *mrow = mask ? mask_of(s, mask, b) + i * lk : NULL;
        float *p = probs + (b * lq + i) * lk, *o = out + (b * lq + i) * dv;
        double m = -INFINITY;
        int has_nan = 0;
        for (int64_t j = 0; j < lk; j++) {
          double acc = 0.0;
          for (int64_t c = 0; c < d; c++) acc += (double)qi[c] * kb[j * d + c];
          sc[j] = acc * s->scale + (mrow ? mrow[j] : 0.0f);
          if (isnan(sc[j])) has_nan = 1;
          if (sc[j] > m) m = sc[j];
        }
        if (m == -INFINITY && !has_nan) {  // fully masked row: attends to nothing
          for (int64_t j = 0; j < lk; j++) p[j] = 0.0f;
          for (int64_t c = 0; c < dv; c++) o[c] = 0.0f;
          continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < lk; j++) {
          sc[j] = exp(sc[j] - m);
          sum += sc[j];
        }
        for (int64_t j = 0; j < lk; j++) {
          sc[j] /= sum;
          p[j] = (float)sc[j];
        }
        for (int64_t c = 0; c < dv; c++) {
          double acc = 0.0;
          for (int64_t j = 0; j < lk; j++) acc += sc[j] * vb[j * dv + c];
          o[c] = (float)acc;
        }
      }
    }
    free(sc);
  }
}

void cpu_attention_bwd_ref(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                           const float *probs, const float *gout, float *gq, float *gk, float *gv) {
  const int64_t lq = s->lq, lk = s->lk, d = s->d, dv = s->dv;
  // One (batch, head) per iteration: gk and gv sum over all its query rows.
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < s->bh; b++) {
    const float *qb = q + b * lq * d, *kb = k + b * lk * d, *vb = v + b * lk * dv;
    const float *pb = probs + b * lq * lk, *gb = gout + b * lq * dv;
    double *ds = vp_malloc((size_t)(lq * lk) * sizeof(double));  // d loss / d scores (lq, lk)
    for (int64_t i = 0; i < lq; i++) {
      double delta = 0.0;
      for (int64_t j = 0; j < lk; j++) {
        double dp = 0.0;
        for (int64_t c = 0; c < dv; c++) dp += (double)gb[i * dv + c] * vb[j * dv + c];
        ds[i * lk + j] = dp;
        delta += dp * pb[i * lk + j];
      }
      for (int64_t j = 0; j < lk; j++) ds[i * lk + j] = pb[i * lk + j] * (ds[i * lk + j] - delta);
    }
    if (gq) {
      for (int64_t i = 0; i < lq; i++)
        for (int64_t c = 0; c < d; c++) {
          double acc = 0.0;
          for (int64_t j = 0; j < lk; j++) acc += ds[i * lk + j] * kb[j * d + c];
          gq[(b * lq + i) * d + c] += (float)(acc * s->scale);
        }
    }
    if (gk) {
      for (int64_t j = 0; j < lk; j++)
        for (int64_t c = 0; c < d; c++) {
          double acc = 0.0;
          for (int64_t i = 0; i < lq; i++) acc += ds[i * lk + j] * qb[i * d + c];
          gk[(b * lk + j) * d + c] += (float)(acc * s->scale);
        }
    }
    if (gv) {
      for (int64_t j = 0; j < lk; j++)
        for (int64_t c = 0; c < dv; c++) {
          double acc = 0.0;
          for (int64_t i = 0; i < lq; i++) acc += (double)pb[i * lk + j] * gb[i * dv + c];
          gv[(b * lk + j) * dv + c] += (float)acc;
        }
    }
    free(ds);
  }
}

// ---------------------------------------------------------------- building blocks
// Each exists as portable loops and as AVX-512; attn_isa picks one set.

// C (m, n) = alpha * A B, plus the old C when acc. A(i, t) = A[i * ars + t * acs]
// (so A^T is just swapped strides), B (kk, n) row-major with row stride ldb.
typedef void (*mm_fn)(int64_t m, int64_t n, int64_t kk, float alpha, const float *A, int64_t ars,
                      int64_t acs, const float *B, int64_t ldb, int acc, float *C, int64_t ldc);
// Score row s (n) of one query: s += mrow (if any); s <- exp(s - max), *lse <-
// log sum exp. Returns 1/sum; 0 for a fully masked row (s zeroed, *lse = +inf);
// NaN when the row holds NaN.
typedef float (*softmax_fn)(float *s, const float *mrow, int64_t n, float *lse);
// Backward: s <- exp(s + mrow - lse), the forward's probabilities.
typedef void (*prob_fn)(float *s, const float *mrow, int64_t n, float lse);
// Backward: dp <- scale * p * (dp - sum(p * dp)), the score gradient.
typedef void (*ds_fn)(const float *p, float *dp, int64_t n, float scale);

typedef struct attn_isa {
  mm_fn mm;
  softmax_fn softmax;
  prob_fn prob;
  ds_fn ds;
} attn_isa;

// A row whose max is -inf: fully masked, unless it hides a NaN (which must
// then surface rather than vanish into a zero row).
static float masked_row(float *s, int64_t n, float *lse) {
  for (int64_t j = 0; j < n; j++)
    if (isnan(s[j])) {
      *lse = NAN;
      return NAN;
    }
  memset(s, 0, (size_t)n * sizeof(float));
  *lse = INFINITY;
  return 0.0f;
}

static void mm_plain(int64_t m, int64_t n, int64_t kk, float alpha, const float *A, int64_t ars,
                     int64_t acs, const float *B, int64_t ldb, int acc, float *C, int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    float *c = C + i * ldc;
    if (!acc) memset(c, 0, (size_t)n * sizeof(float));
    for (int64_t t = 0; t < kk; t++) {
      const float a = alpha * A[i * ars + t * acs], *b = B + t * ldb;
      for (int64_t j = 0; j < n; j++) c[j] += a * b[j];
    }
  }
}

static float softmax_plain(float *s, const float *mrow, int64_t n, float *lse) {
  float m = -INFINITY;
  for (int64_t j = 0; j < n; j++) {
    if (mrow) s[j] += mrow[j];
    m = s[j] > m ? s[j] : m;
  }
  if (m == -INFINITY) return masked_row(s, n, lse);
  double sum = 0.0;
  for (int64_t j = 0; j < n; j++) {
    s[j] = expf(s[j] - m);
    sum += s[j];
  }
  *lse = m + (float)log(sum);
  return (float)(1.0 / sum);
}

static void prob_plain(float *s, const float *mrow, int64_t n, float lse) {
  for (int64_t j = 0; j < n; j++) s[j] = expf(s[j] + (mrow ? mrow[j] : 0.0f) - lse);
}

static void ds_plain(const float *p, float *dp, int64_t n, float scale) {
  double delta = 0.0;
  for (int64_t j = 0; j < n; j++) delta += (double)p[j] * dp[j];
  const float dl = (float)delta;
  for (int64_t j = 0; j < n; j++) dp[j] = scale * p[j] * (dp[j] - dl);
}

static const attn_isa ISA_PLAIN = {mm_plain, softmax_plain, prob_plain, ds_plain};

#if defined(__GNUC__) && defined(__x86_64__)
#define VP_ATTN_X86 1
#include <immintrin.h>

#define SIMD_CAT2(a, b) a##b
#define SIMD_CAT(a, b) SIMD_CAT2(a, b)
#define SIMD(name) SIMD_CAT(name, SIMD_SUFFIX)

// ---- AVX-512: 16 lanes, mask registers, scalef for 2^n (0 below -110).
#define SIMD_FN __attribute__((target("avx512f")))
#define SIMD_SUFFIX _512
#define VW 16
#define vf __m512
#define vm __mmask16
#define V_FULL ((__mmask16)0xFFFF)
#define V_TAIL(n) ((n) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n)) - 1u))
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_MAX _mm512_max_ps
#define V_MIN _mm512_min_ps
#define V_FMA _mm512_fmadd_ps
#define V_FNMA _mm512_fnmadd_ps
#define V_ROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LOADM(m, p) _mm512_maskz_loadu_ps(m, p)
#define V_LOADF(m, p, f) _mm512_mask_loadu_ps(f, m, p)
#define V_STOREM(p, m, x) _mm512_mask_storeu_ps(p, m, x)
#define V_HSUM _mm512_reduce_add_ps
#define V_HMAX _mm512_reduce_max_ps
#define EXP_LO (-110.0f)
#define V_EXP_FINISH(p, n, x) _mm512_scalef_ps(p, n)
#define NVMAX 4
#define MR4 4
#define MR3 4
#define MR2 8
#define MR1 8
#include "kernels/cpu/attention_simd.inc"
#undef SIMD_FN
#undef SIMD_SUFFIX
#undef VW
#undef vf
#undef vm
#undef V_FULL
#undef V_TAIL
#undef V_ZERO
#undef V_SET1
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_MAX
#undef V_MIN
#undef V_FMA
#undef V_FNMA
#undef V_ROUND
#undef V_LOADM
#undef V_LOADF
#undef V_STOREM
#undef V_HSUM
#undef V_HMAX
#undef EXP_LO
#undef V_EXP_FINISH
#undef NVMAX
#undef MR4
#undef MR3
#undef MR2
#undef MR1

// ---- AVX2 + FMA: 8 lanes, integer lane masks, 2^n built in the exponent
// field (so exp flushes results below 2^-126, x < -87.3, to 0).
#define SIMD_FN __attribute__((target("avx2,fma")))
#define SIMD_SUFFIX _256
#define VW 8

static inline SIMD_FN __m256i tail_256(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline SIMD_FN float hsum_256(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline SIMD_FN float hmax_256(__m256 x) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline SIMD_FN __m256 exp_finish_256(__m256 p, __m256 n, __m256 x) {
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ), y);
}
#define vf __m256
#define vm __m256i
#define V_FULL _mm256_set1_epi32(-1)
#define V_TAIL(n) tail_256(n)
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_MAX _mm256_max_ps
#define V_MIN _mm256_min_ps
#define V_FMA _mm256_fmadd_ps
#define V_FNMA _mm256_fnmadd_ps
#define V_ROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LOADM(m, p) _mm256_maskload_ps(p, m)
#define V_LOADF(m, p, f) _mm256_blendv_ps(f, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m))
#define V_STOREM(p, m, x) _mm256_maskstore_ps(p, m, x)
#define V_HSUM hsum_256
#define V_HMAX hmax_256
#define EXP_LO (-87.3f)
#define V_EXP_FINISH(p, n, x) exp_finish_256(p, n, x)
#define NVMAX 3
#define MR4 2
#define MR3 4
#define MR2 6
#define MR1 8
#include "kernels/cpu/attention_simd.inc"
#endif

static int isa_limit = 2;

void cpu_attention_limit_isa(int level) { isa_limit = level; }

static const attn_isa *pick_isa(void) {
#ifdef VP_ATTN_X86
  if (isa_limit >= 2 && __builtin_cpu_supports("avx512f")) return &isa_512;
  if (isa_limit >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return &isa_256;
#endif
  return &ISA_PLAIN;
}

// ---------------------------------------------------------------- fused kernels

// Query rows per block: the score block (br x lk) should stay around 192 KiB
// so that it and the head's k / v (and their transposes) fit in L2.
static int64_t block_rows(const cpu_attn_shape *s) {
  int64_t br = (48 * 1024 / s->lk) & ~(int64_t)7;
  if (br < 8) br = 8;
  if (br > 128) br = 128;
  return br < s->lq ? br : s->lq;
}

// dst (cols, rows) = src (rows, cols)^T
static void transpose(const float *src, int64_t rows, int64_t cols, float *dst) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

void cpu_attention_fwd(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *mask, float *out, float *lse) {
  const int64_t lq = s->lq, lk = s->lk, d = s->d, dv = s->dv;
  VP_ASSERT(lk >= 1);
  if (s->bh == 0 || lq == 0) return;
  const attn_isa *isa = pick_isa();
  const int64_t br = block_rows(s), nblk = (lq + br - 1) / br, ntask = s->bh * nblk;
#pragma omp parallel
  {
    // Contiguous task ranges, so a thread transposes each head's k once.
    const int64_t nth = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t t0 = ntask * tid / nth, t1 = ntask * (tid + 1) / nth;
    float *kt = vp_malloc((size_t)(d * lk) * sizeof(float));  // (d, lk)
    float *sc = vp_malloc((size_t)(br * lk) * sizeof(float));  // scores / probs (br, lk)
    float inv[128];
    int64_t cur = -1;
    for (int64_t t = t0; t < t1; t++) {
      const int64_t b = t / nblk, i0 = (t % nblk) * br, nr = lq - i0 < br ? lq - i0 : br;
      if (b != cur) {
        transpose(k + b * lk * d, lk, d, kt);
        cur = b;
      }
      const float *mb = mask_of(s, mask, b);
      // sc (nr, lk) = scale * q_blk (nr, d) @ k^T (d, lk)
      isa->mm(nr, lk, d, s->scale, q + (b * lq + i0) * d, d, 1, kt, lk, 0, sc, lk);
      for (int64_t r = 0; r < nr; r++) {
        float l;
        inv[r] = isa->softmax(sc + r * lk, mb ? mb + (i0 + r) * lk : NULL, lk, &l);
        if (lse) lse[b * lq + i0 + r] = l;
      }
      // out_blk (nr, dv) = unnormalised probs (nr, lk) @ v (lk, dv), then / sum
      float *ob = out + (b * lq + i0) * dv;
      isa->mm(nr, dv, lk, 1.0f, sc, lk, 1, v + b * lk * dv, dv, 0, ob, dv);
      for (int64_t r = 0; r < nr; r++) {
        float *o = ob + r * dv;
        if (inv[r] == 0.0f)
          memset(o, 0, (size_t)dv * sizeof(float));  // fully masked: exactly 0
        else
          for (int64_t c = 0; c < dv; c++) o[c] *= inv[r];
      }
    }
    free(kt);
    free(sc);
  }
}

// Backward for one (batch, head) b over query blocks [blk0, blk1): gq rows
// of those blocks, and their contributions to gk / gv (either may be NULL).
static void bwd_rows(const attn_isa *isa, const cpu_attn_shape *s, int64_t b, int64_t blk0,
                     int64_t blk1, int64_t br, const float *q, const float *k, const float *v,
                     const float *mask, const float *lse, const float *gout, float *gq, float *gk,
                     float *gv, float *kt, float *vt, float *p, float *dp) {
  const int64_t lq = s->lq, lk = s->lk, d = s->d, dv = s->dv;
  const float *kb = k + b * lk * d, *mb = mask_of(s, mask, b);
  const int need_ds = gq || gk;
  transpose(kb, lk, d, kt);
  if (need_ds) transpose(v + b * lk * dv, lk, dv, vt);
  for (int64_t blk = blk0; blk < blk1; blk++) {
    const int64_t i0 = blk * br, nr = lq - i0 < br ? lq - i0 : br;
    const float *qb = q + (b * lq + i0) * d, *gb = gout + (b * lq + i0) * dv;
    // p (nr, lk): the forward's probabilities, rebuilt from lse
    isa->mm(nr, lk, d, s->scale, qb, d, 1, kt, lk, 0, p, lk);
    for (int64_t r = 0; r < nr; r++)
      isa->prob(p + r * lk, mb ? mb + (i0 + r) * lk : NULL, lk, lse[b * lq + i0 + r]);
    // gv (lk, dv) += p^T (lk, nr) @ gout_blk (nr, dv)
    if (gv) isa->mm(lk, dv, nr, 1.0f, p, 1, lk, gb, dv, 1, gv, dv);
    if (!need_ds) continue;
    // dp (nr, lk) = gout_blk (nr, dv) @ v^T (dv, lk), then the score gradient
    // (times scale, so that gq and gk below need no extra pass)
    isa->mm(nr, lk, dv, 1.0f, gb, dv, 1, vt, lk, 0, dp, lk);
    for (int64_t r = 0; r < nr; r++) isa->ds(p + r * lk, dp + r * lk, lk, s->scale);
    // gq_blk (nr, d) += ds (nr, lk) @ k (lk, d)
    if (gq) isa->mm(nr, d, lk, 1.0f, dp, lk, 1, kb, d, 1, gq + (b * lq + i0) * d, d);
    // gk (lk, d) += ds^T (lk, nr) @ q_blk (nr, d)
    if (gk) isa->mm(lk, d, nr, 1.0f, dp, 1, lk, qb, d, 1, gk, d);
  }
}

void cpu_attention_bwd(const cpu_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *mask, const float *lse, const float *gout, float *gq,
                       float *gk, float *gv) {
  const int64_t bh = s->bh, lq = s->lq, lk = s->lk, d = s->d, dv = s->dv;
  if (bh == 0 || lq == 0 || (!gq && !gk && !gv)) return;
  const attn_isa *isa = pick_isa();
  const int64_t br = block_rows(s), nblk = (lq + br - 1) / br;
  // One task per (batch, head) keeps gk / gv private to a thread. With too few
  // heads to balance the threads, each head's query blocks are split into
  // nsplit chunks whose gk / gv go to private buffers summed afterwards.
  const int64_t nth = omp_get_max_threads();
  int64_t nsplit = 1;
  if (bh % nth != 0 && bh < 4 * nth) nsplit = (4 * nth + bh - 1) / bh;
  if (nsplit > nblk) nsplit = nblk;
  const int64_t ntask = bh * nsplit;
  float *pk = NULL, *pv = NULL;  // (ntask, lk, d), (ntask, lk, dv) partial sums
  if (nsplit > 1) {
    if (gk) pk = vp_calloc((size_t)(ntask * lk * d), sizeof(float));
    if (gv) pv = vp_calloc((size_t)(ntask * lk * dv), sizeof(float));
  }
#pragma omp parallel
  {
    float *kt = vp_malloc((size_t)(d * lk) * sizeof(float));    // (d, lk)
    float *vt = vp_malloc((size_t)(dv * lk) * sizeof(float));   // (dv, lk)
    float *p = vp_malloc((size_t)(br * lk) * sizeof(float));    // (br, lk)
    float *dp = vp_malloc((size_t)(br * lk) * sizeof(float));   // (br, lk)
#pragma omp for schedule(static)
    for (int64_t t = 0; t < ntask; t++) {
      const int64_t b = t / nsplit, c = t % nsplit;
      float *tk = !gk ? NULL : nsplit > 1 ? pk + t * lk * d : gk + b * lk * d;
      float *tv = !gv ? NULL : nsplit > 1 ? pv + t * lk * dv : gv + b * lk * dv;
      bwd_rows(isa, s, b, nblk * c / nsplit, nblk * (c + 1) / nsplit, br, q, k, v, mask, lse,
               gout, gq, tk, tv, kt, vt, p, dp);
    }
    free(kt);
    free(vt);
    free(p);
    free(dp);
  }
  if (nsplit > 1) {
    // Chunks summed in a fixed order: the result does not depend on scheduling.
    if (gk) {
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < bh * lk * d; e++) {
        const int64_t b = e / (lk * d), off = e % (lk * d);
        float acc = 0.0f;
        for (int64_t c = 0; c < nsplit; c++) acc += pk[(b * nsplit + c) * lk * d + off];
        gk[e] += acc;
      }
    }
    if (gv) {
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < bh * lk * dv; e++) {
        const int64_t b = e / (lk * dv), off = e % (lk * dv);
        float acc = 0.0f;
        for (int64_t c = 0; c < nsplit; c++) acc += pv[(b * nsplit + c) * lk * dv + off];
        gv[e] += acc;
      }
    }
    free(pk);
    free(pv);
  }
}
