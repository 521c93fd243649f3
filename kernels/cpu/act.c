// act.c: activation and softmax kernels (see act.h).
// libm's expf / erff / tanhf are scalar calls that stop the compiler from
// vectorising a loop (glibc's vector variants need -ffast-math), so the fast
// kernels use the small branch-free approximations below: Cody-Waite range
// reduction with Cephes' expf polynomial (about 1 ulp), the Numerical Recipes
// Chebyshev erfc (relative error < 1.2e-7) and Cephes' tanhf polynomial near 0.
// The fast loops live in span functions (a range of elements or rows) that
// are compiled for AVX-512, AVX2 and the x86-64 baseline and picked at load
// time; each OpenMP thread runs one contiguous span.
#include "kernels/cpu/act.h"

// GCC will not turn a select between computed values (the clamps and
// branch blends below) into SIMD code while FP operations may trap; vpcast
// never unmasks FP exceptions, so let it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>

// These loops are bound by arithmetic (a polynomial per element), so wider
// vectors pay off directly; the build itself targets plain x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 11 && \
    !defined(VP_NO_CLONES)
#define VP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VP_CLONES
#endif

// Work below this many elements runs on one thread.
#define PAR_MIN 32768

// Arguments of a span function: inputs a, b, output y, a scalar and a width.
typedef struct {
  const float *a, *b;
  float *y;
  float p;
  int64_t d;
} span_args;
typedef void (*span_fn)(const span_args *s, int64_t lo, int64_t hi);

// Run fn over [0, n) split into one contiguous span per thread (multiples of
// 16 items, so spans of elements start on cache lines); parallel when the
// total work (n items of cost elements each) is worth waking the threads.
static void run_spans(int64_t n, int64_t cost, span_fn fn, const span_args *s) {
#pragma omp parallel if (n > 1 && n * cost >= PAR_MIN)
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t per = ((n + nt - 1) / nt + 15) / 16 * 16;
    int64_t lo = per * t < n ? per * t : n, hi = lo + per < n ? lo + per : n;
    if (hi > lo) fn(s, lo, hi);
  }
}

// ------------------------------------------------------------ scalar math

// exp(x) for float, vectorisable. Inputs are clamped to [-87, 88] so 2^n stays
// a normal float; below -87 the result is 0 (flushed like a denormal), so a
// masked -inf logit gets exactly zero weight.
static inline float vexp(float x) {
  float xin = x;
  x = x > 88.f ? 88.f : x;
  x = x < -87.f ? -87.f : x;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (exact under round-to-nearest)
  float fn = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  // r = x - n ln2, with ln2 split in two so n * hi is exact
  float r = x - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.f;
  union { int32_t i; float f; } s;
  s.i = ((int32_t)fn + 127) << 23;  // 2^n
  return xin < -87.f ? 0.f : p * s.f;
}

static inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }

// 0.5 * erfc(|x| / sqrt 2), the lower-tail normal probability Phi(-|x|).
static inline float vnormal_tail(float x) {
  float z = fabsf(x) * 0.70710678118654752f;
  float t = 1.f / (1.f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return 0.5f * t * vexp(p - z * z);
}

// Phi(x), the standard normal CDF, accurate in both tails.
static inline float vnormal_cdf(float x) {
  float e = vnormal_tail(x);
  return x >= 0.f ? 1.f - e : e;
}

static inline float vgelu_erf(float x) { return x * vnormal_cdf(x); }
static inline float vgelu_erf_grad(float x) {
  return vnormal_cdf(x) + x * 0.39894228040143268f * vexp(-0.5f * x * x);
}

// tanh form: 0.5 x (1 + tanh u) = x * sigmoid(2u), which has no cancellation.
#define GELU_K 0.79788456080286536f  // sqrt(2 / pi)
#define GELU_C 0.044715f
static inline float vgelu_tanh(float x) {
  float u = GELU_K * (x + GELU_C * x * x * x);
  return x * vsigmoid(2.f * u);
}
static inline float vgelu_tanh_grad(float x) {
  float u = GELU_K * (x + GELU_C * x * x * x);
  // 1 - s = e s exactly in the tail where 1 - s would round to 0 or 2^-24
  float e = vexp(-2.f * u), s = 1.f / (1.f + e);
  return s + 2.f * x * s * (e * s) * GELU_K * (1.f + 3.f * GELU_C * x * x);
}

static inline float vtanh(float x) {
  float a = fabsf(x);
  // Near 0, 1 - 2/(e^2a + 1) cancels; use the odd polynomial there.
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float big = 1.f - 2.f / (vexp(2.f * a) + 1.f);
  big = x < 0.f ? -big : big;
  return a < 0.625f ? small : big;
}

// ------------------------------------------------------------ SiLU

void cpu_silu_fwd_ref(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = (float)((double)x[i] / (1.0 + exp(-(double)x[i])));
}
VP_CLONES static void silu_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a;
  float *y = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) y[i] = x[i] * vsigmoid(x[i]);
}
void cpu_silu_fwd(const float *x, float *y, int64_t n) {
  span_args s = {x, NULL, y, 0.f, 0};
  run_spans(n, 1, silu_fwd_span, &s);
}

void cpu_silu_bwd_ref(const float *x, const float *dy, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double s = 1.0 / (1.0 + exp(-(double)x[i]));
    dx[i] += (float)(dy[i] * s * (1.0 + x[i] * (1.0 - s)));
  }
}
VP_CLONES static void silu_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a, *dy = s->b;
  float *dx = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    float e = vexp(-x[i]), sg = 1.f / (1.f + e);  // 1 - sg = e sg, accurate for large x
    dx[i] += dy[i] * sg * (1.f + x[i] * (e * sg));
  }
}
void cpu_silu_bwd(const float *x, const float *dy, float *dx, int64_t n) {
  span_args s = {x, dy, dx, 0.f, 0};
  run_spans(n, 1, silu_bwd_span, &s);
}

// ------------------------------------------------------------ GELU

static double gelu_ref(double x, int approx_tanh) {
  if (approx_tanh) return 0.5 * x * (1.0 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
  return 0.5 * x * erfc(-x * 0.70710678118654752);  // erfc: no cancellation for x << 0
}
static double gelu_grad_ref(double x, int approx_tanh) {
  if (approx_tanh) {
    double k = 0.79788456080286536, c = 0.044715, th = tanh(k * (x + c * x * x * x));
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * c * x * x);
  }
  return 0.5 * erfc(-x * 0.70710678118654752) + x * 0.39894228040143268 * exp(-0.5 * x * x);
}

void cpu_gelu_fwd_ref(const float *x, float *y, int64_t n, int approx_tanh) {
  for (int64_t i = 0; i < n; i++) y[i] = (float)gelu_ref(x[i], approx_tanh);
}
VP_CLONES static void gelu_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a;
  float *y = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) y[i] = vgelu_erf(x[i]);
}
VP_CLONES static void gelu_tanh_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a;
  float *y = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) y[i] = vgelu_tanh(x[i]);
}
void cpu_gelu_fwd(const float *x, float *y, int64_t n, int approx_tanh) {
  span_args s = {x, NULL, y, 0.f, 0};
  run_spans(n, 1, approx_tanh ? gelu_tanh_fwd_span : gelu_fwd_span, &s);
}

void cpu_gelu_bwd_ref(const float *x, const float *dy, float *dx, int64_t n, int approx_tanh) {
  for (int64_t i = 0; i < n; i++) dx[i] += (float)(dy[i] * gelu_grad_ref(x[i], approx_tanh));
}
VP_CLONES static void gelu_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a, *dy = s->b;
  float *dx = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * vgelu_erf_grad(x[i]);
}
VP_CLONES static void gelu_tanh_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a, *dy = s->b;
  float *dx = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * vgelu_tanh_grad(x[i]);
}
void cpu_gelu_bwd(const float *x, const float *dy, float *dx, int64_t n, int approx_tanh) {
  span_args s = {x, dy, dx, 0.f, 0};
  run_spans(n, 1, approx_tanh ? gelu_tanh_bwd_span : gelu_bwd_span, &s);
}

// ------------------------------------------------------------ GEGLU

void cpu_geglu_fwd_ref(const float *x, float *y, int64_t M, int64_t D) {
  for (int64_t r = 0; r < M; r++)
    for (int64_t i = 0; i < D; i++)
      y[r * D + i] = (float)(x[r * 2 * D + i] * gelu_ref(x[r * 2 * D + D + i], 0));
}
VP_CLONES static void geglu_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  int64_t D = s->d;
  for (int64_t r = lo; r < hi; r++) {
    const float *a = s->a + r * 2 * D, *g = a + D;
    float *y = s->y + r * D;
#pragma omp simd
    for (int64_t i = 0; i < D; i++) y[i] = a[i] * vgelu_erf(g[i]);
  }
}
void cpu_geglu_fwd(const float *x, float *y, int64_t M, int64_t D) {
  span_args s = {x, NULL, y, 0.f, D};
  run_spans(M, D, geglu_fwd_span, &s);
}

void cpu_geglu_bwd_ref(const float *x, const float *dy, float *dx, int64_t M, int64_t D) {
  for (int64_t r = 0; r < M; r++)
    for (int64_t i = 0; i < D; i++) {
      double a = x[r * 2 * D + i], g = x[r * 2 * D + D + i], gy = dy[r * D + i];
      dx[r * 2 * D + i] += (float)(gy * gelu_ref(g, 0));
      dx[r * 2 * D + D + i] += (float)(gy * a * gelu_grad_ref(g, 0));
    }
}
VP_CLONES static void geglu_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  int64_t D = s->d;
  for (int64_t r = lo; r < hi; r++) {
    const float *a = s->a + r * 2 * D, *g = a + D, *gy = s->b + r * D;
    float *da = s->y + r * 2 * D, *dg = da + D;
#pragma omp simd
    for (int64_t i = 0; i < D; i++) {
      float gv = g[i];
      da[i] += gy[i] * vgelu_erf(gv);
      dg[i] += gy[i] * a[i] * vgelu_erf_grad(gv);
    }
  }
}
void cpu_geglu_bwd(const float *x, const float *dy, float *dx, int64_t M, int64_t D) {
  span_args s = {x, dy, dx, 0.f, D};
  run_spans(M, D, geglu_bwd_span, &s);
}

// ------------------------------------------------------------ ReLU / leaky ReLU

static void leaky_relu_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a;
  float *y = s->y, slope = s->p;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) y[i] = x[i] < 0.f ? x[i] * slope : x[i];
}
void cpu_leaky_relu_fwd(const float *x, float *y, int64_t n, float slope) {
  span_args s = {x, NULL, y, slope, 0};
  run_spans(n, 1, leaky_relu_fwd_span, &s);
}
static void leaky_relu_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a, *dy = s->b;
  float *dx = s->y, slope = s->p;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) dx[i] += x[i] > 0.f ? dy[i] : dy[i] * slope;
}
void cpu_leaky_relu_bwd(const float *x, const float *dy, float *dx, int64_t n, float slope) {
  span_args s = {x, dy, dx, slope, 0};
  run_spans(n, 1, leaky_relu_bwd_span, &s);
}

// ------------------------------------------------------------ tanh / sigmoid

void cpu_tanh_fwd_ref(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = (float)tanh((double)x[i]);
}
VP_CLONES static void tanh_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a;
  float *y = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) y[i] = vtanh(x[i]);
}
void cpu_tanh_fwd(const float *x, float *y, int64_t n) {
  span_args s = {x, NULL, y, 0.f, 0};
  run_spans(n, 1, tanh_fwd_span, &s);
}
static void tanh_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *y = s->a, *dy = s->b;
  float *dx = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * (1.f - y[i] * y[i]);
}
void cpu_tanh_bwd(const float *y, const float *dy, float *dx, int64_t n) {
  span_args s = {y, dy, dx, 0.f, 0};
  run_spans(n, 1, tanh_bwd_span, &s);
}

void cpu_sigmoid_fwd_ref(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}
VP_CLONES static void sigmoid_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *x = s->a;
  float *y = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) y[i] = vsigmoid(x[i]);
}
void cpu_sigmoid_fwd(const float *x, float *y, int64_t n) {
  span_args s = {x, NULL, y, 0.f, 0};
  run_spans(n, 1, sigmoid_fwd_span, &s);
}
static void sigmoid_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  const float *y = s->a, *dy = s->b;
  float *dx = s->y;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * y[i] * (1.f - y[i]);
}
void cpu_sigmoid_bwd(const float *y, const float *dy, float *dx, int64_t n) {
  span_args s = {y, dy, dx, 0.f, 0};
  run_spans(n, 1, sigmoid_bwd_span, &s);
}

// ------------------------------------------------------------ softmax

void cpu_softmax_fwd_ref(const float *x, float *y, int64_t M, int64_t D) {
  for (int64_t r = 0; r < M; r++) {
    const float *xr = x + r * D;
    double mx = -INFINITY, s = 0;
    for (int64_t i = 0; i < D; i++) mx = xr[i] > mx ? xr[i] : mx;
    for (int64_t i = 0; i < D; i++) s += exp((double)xr[i] - mx);
    for (int64_t i = 0; i < D; i++) y[r * D + i] = (float)(exp((double)xr[i] - mx) / s);
  }
}
// Rows are long enough (and the exp costly enough) that one vector
// accumulator per reduction keeps up.
VP_CLONES static void softmax_fwd_span(const span_args *s, int64_t lo, int64_t hi) {
  int64_t D = s->d;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = s->a + r * D;
    float *yr = s->y + r * D;
    float mx = -INFINITY, sum = 0;
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < D; i++) mx = xr[i] > mx ? xr[i] : mx;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < D; i++) {
      yr[i] = vexp(xr[i] - mx);
      sum += yr[i];
    }
    float inv = 1.f / sum;
#pragma omp simd
    for (int64_t i = 0; i < D; i++) yr[i] *= inv;
  }
}
void cpu_softmax_fwd(const float *x, float *y, int64_t M, int64_t D) {
  span_args s = {x, NULL, y, 0.f, D};
  run_spans(M, D, softmax_fwd_span, &s);
}

void cpu_softmax_bwd_ref(const float *y, const float *dy, float *dx, int64_t M, int64_t D) {
  for (int64_t r = 0; r < M; r++) {
    double s = 0;
    for (int64_t i = 0; i < D; i++) s += (double)dy[r * D + i] * y[r * D + i];
    for (int64_t i = 0; i < D; i++) dx[r * D + i] += (float)(y[r * D + i] * (dy[r * D + i] - s));
  }
}
VP_CLONES static void softmax_bwd_span(const span_args *s, int64_t lo, int64_t hi) {
  int64_t D = s->d;
  for (int64_t r = lo; r < hi; r++) {
    const float *yr = s->a + r * D, *gr = s->b + r * D;
    float *dr = s->y + r * D;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < D; i++) dot += gr[i] * yr[i];
#pragma omp simd
    for (int64_t i = 0; i < D; i++) dr[i] += yr[i] * (gr[i] - dot);
  }
}
void cpu_softmax_bwd(const float *y, const float *dy, float *dx, int64_t M, int64_t D) {
  span_args s = {y, dy, dx, 0.f, D};
  run_spans(M, D, softmax_bwd_span, &s);
}
