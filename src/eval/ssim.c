// ssim.c: SSIM kernels (fast separable and plain 2-D reference) and the
// `ssim` metric family. Conventions in ssim.h.
#include "eval/ssim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/kernel_mode.h"

void ssim_window(double g[SSIM_WIN]) {
  double s = 0.0;
  for (int k = 0; k < SSIM_WIN; k++) {
    double d = (double)(k - SSIM_RAD);
    g[k] = exp(-d * d / (2.0 * 1.5 * 1.5));
    s += g[k];
  }
  for (int k = 0; k < SSIM_WIN; k++) g[k] /= s;
}

static inline double ssim_formula(double ux, double uy, double uxx, double uyy, double uxy,
                                  double C1, double C2) {
  double vx = uxx - ux * ux, vy = uyy - uy * uy, vxy = uxy - ux * uy;
  return ((2.0 * ux * uy + C1) * (2.0 * vxy + C2)) /
         ((ux * ux + uy * uy + C1) * (vx + vy + C2));
}

// Plane (H, W, stride) -> contiguous doubles (Hp, Wp) with `pad` zeros on
// every side and the normalisation applied.
static void load_plane(const float *x, int64_t H, int64_t W, int64_t stride, ssim_norm nm,
                       int64_t pad, double *dst) {
  const int64_t Wp = W + 2 * pad, Hp = H + 2 * pad;
  if (pad) memset(dst, 0, (size_t)(Hp * Wp) * sizeof(double));
  for (int64_t i = 0; i < H; i++) {
    double *d = dst + (i + pad) * Wp + pad;
    const float *s = x + i * W * stride;
    if (nm.range == 0.0) {
      for (int64_t j = 0; j < W; j++) d[j] = 0.0;
    } else if (nm.lo == 0.0 && nm.range == 1.0) {
      for (int64_t j = 0; j < W; j++) d[j] = (double)s[j * stride];
    } else {
      for (int64_t j = 0; j < W; j++) d[j] = ((double)s[j * stride] - nm.lo) / nm.range;
    }
  }
}

// Mean SSIM over the valid windows of two contiguous (Hp, Wp) double planes.
// Horizontal pass per input row into a ring of 11 rows (5 moment maps), then
// the vertical pass for each output row once its 11 input rows are in. The
// horizontal taps run innermost with a constant trip count (unrolled, the
// column loop vectorised); the vertical taps accumulate row by row into an
// L1-resident line. The row sum stays sequential, so the result does not
// depend on the thread count.
static inline __attribute__((always_inline)) double ssim_core_body(const double *x, const double *y,
                                                                   int64_t Hp, int64_t Wp, double C1,
                                                                   double C2, double *scratch) {
  const int64_t Wv = Wp - 2 * SSIM_RAD, Hv = Hp - 2 * SSIM_RAD;
  double g[SSIM_WIN];
  ssim_window(g);
  // scratch: ring[5][11][Wv] | u[5][Wv] | smap[Wv] | prod[3][Wp]
  double *ring = scratch;
  double *u = ring + 5 * SSIM_WIN * Wv;
  double *smap = u + 5 * Wv;
  double *prod = smap + Wv;
  double *pxx = prod, *pyy = prod + Wp, *pxy = prod + 2 * Wp;
  double total = 0.0;
  for (int64_t r = 0; r < Hp; r++) {
    const double *xr = x + r * Wp, *yr = y + r * Wp;
    for (int64_t j = 0; j < Wp; j++) {
      pxx[j] = xr[j] * xr[j];
      pyy[j] = yr[j] * yr[j];
      pxy[j] = xr[j] * yr[j];
    }
    const double *src[5] = {xr, yr, pxx, pyy, pxy};
    const int64_t slot = r % SSIM_WIN;
    for (int m = 0; m < 5; m++) {
      double *restrict h = ring + ((int64_t)m * SSIM_WIN + slot) * Wv;
      const double *restrict sm = src[m];
      for (int64_t j = 0; j < Wv; j++) {
        double a = 0.0;
#pragma GCC unroll 11
        for (int k = 0; k < SSIM_WIN; k++) a += g[k] * sm[j + k];
        h[j] = a;
      }
    }
    if (r < 2 * SSIM_RAD) continue;
    const int64_t i0 = r - 2 * SSIM_RAD;  // first input row of this output row
    for (int m = 0; m < 5; m++) {
      const double *ringm = ring + (int64_t)m * SSIM_WIN * Wv;
      double *restrict um = u + m * Wv;
      // Row by row into um: GCC does not vectorise a column loop around a
      // row-strided tap loop.
      const double *restrict q0 = ringm + (i0 % SSIM_WIN) * Wv;
      for (int64_t j = 0; j < Wv; j++) um[j] = g[0] * q0[j];
      for (int k = 1; k < SSIM_WIN; k++) {
        const double gk = g[k];
        const double *restrict qk = ringm + ((i0 + k) % SSIM_WIN) * Wv;
        for (int64_t j = 0; j < Wv; j++) um[j] += gk * qk[j];
      }
    }
    for (int64_t j = 0; j < Wv; j++)
      smap[j] = ssim_formula(u[j], u[Wv + j], u[2 * Wv + j], u[3 * Wv + j], u[4 * Wv + j], C1, C2);
    double row = 0.0;
    for (int64_t j = 0; j < Wv; j++) row += smap[j];
    total += row;
  }
  return total / (double)(Hv * Wv);
}

static double ssim_core_plain(const double *x, const double *y, int64_t Hp, int64_t Wp, double C1,
                              double C2, double *scratch) {
  return ssim_core_body(x, y, Hp, Wp, C1, C2, scratch);
}

#if defined(__GNUC__) && defined(__x86_64__)
// The same loops compiled for wider vectors and FMA, picked at run time (the
// build targets baseline x86-64). ISO C mode turns off FMA contraction;
// these clones turn it back on (GCC only).
#if !defined(__clang__)
#define FMA_CONTRACT , optimize("fp-contract=fast")
#else
#define FMA_CONTRACT
#endif
__attribute__((target("avx2,fma") FMA_CONTRACT)) static double ssim_core_avx2(
    const double *x, const double *y, int64_t Hp, int64_t Wp, double C1, double C2, double *scratch) {
  return ssim_core_body(x, y, Hp, Wp, C1, C2, scratch);
}
__attribute__((target("avx512f,fma") FMA_CONTRACT)) static double ssim_core_avx512(
    const double *x, const double *y, int64_t Hp, int64_t Wp, double C1, double C2, double *scratch) {
  return ssim_core_body(x, y, Hp, Wp, C1, C2, scratch);
}
#endif

static double ssim_core(const double *x, const double *y, int64_t Hp, int64_t Wp, double C1, double C2,
                        double *scratch) {
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return ssim_core_avx512(x, y, Hp, Wp, C1, C2, scratch);
  if (__builtin_cpu_supports("avx2")) return ssim_core_avx2(x, y, Hp, Wp, C1, C2, scratch);
#endif
  return ssim_core_plain(x, y, Hp, Wp, C1, C2, scratch);
}

static size_t core_scratch(int64_t Wp) {
  const int64_t Wv = Wp - 2 * SSIM_RAD;
  return (size_t)(5 * SSIM_WIN * Wv + 6 * Wv + 3 * Wp) * sizeof(double);
}

// Direct 2-D window sums at every valid position.
static double ssim_core_ref(const double *x, const double *y, int64_t Hp, int64_t Wp, double C1,
                            double C2) {
  const int64_t Wv = Wp - 2 * SSIM_RAD, Hv = Hp - 2 * SSIM_RAD;
  double g[SSIM_WIN];
  ssim_window(g);
  double total = 0.0;
  for (int64_t i = 0; i < Hv; i++) {
    for (int64_t j = 0; j < Wv; j++) {
      double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
      for (int a = 0; a < SSIM_WIN; a++) {
        for (int b = 0; b < SSIM_WIN; b++) {
          double w = g[a] * g[b];
          double xv = x[(i + a) * Wp + j + b], yv = y[(i + a) * Wp + j + b];
          ux += w * xv;
          uy += w * yv;
          uxx += w * xv * xv;
          uyy += w * yv * yv;
          uxy += w * xv * yv;
        }
      }
      total += ssim_formula(ux, uy, uxx, uyy, uxy, C1, C2);
    }
  }
  return total / (double)(Hv * Wv);
}

// Doubles of work space plane_generic needs for an H x W plane.
static size_t plane_work(int64_t H, int64_t W, int64_t pad) {
  const int64_t Hp = H + 2 * pad, Wp = W + 2 * pad;
  return (size_t)(2 * Hp * Wp) + core_scratch(Wp) / sizeof(double);
}

// work: plane_work() doubles, or NULL to allocate (and free) here. Reusing
// it across planes matters: a fresh block of this size comes from mmap, and
// its page faults cost as much as the SSIM itself.
static double plane_generic(const float *x, const float *y, int64_t H, int64_t W, int64_t stride,
                            ssim_norm nx, ssim_norm ny, int64_t pad, double C1, double C2, int ref,
                            double *work) {
  const int64_t Hp = H + 2 * pad, Wp = W + 2 * pad;
  if (Hp < SSIM_WIN || Wp < SSIM_WIN) return NAN;
  double *xd = work ? work : vp_malloc(plane_work(H, W, pad) * sizeof(double));
  double *yd = xd + Hp * Wp;
  load_plane(x, H, W, stride, nx, pad, xd);
  load_plane(y, H, W, stride, ny, pad, yd);
  double r = ref ? ssim_core_ref(xd, yd, Hp, Wp, C1, C2) : ssim_core(xd, yd, Hp, Wp, C1, C2, yd + Hp * Wp);
  if (!work) free(xd);
  return r;
}

static const ssim_norm NORM_ID = {0.0, 1.0};

double ssim_plane(const float *x, const float *y, int64_t H, int64_t W, int64_t stride, double L) {
  return plane_generic(x, y, H, W, stride, NORM_ID, NORM_ID, 0, (0.01 * L) * (0.01 * L),
                       (0.03 * L) * (0.03 * L), 0, NULL);
}

double ssim_plane_ref(const float *x, const float *y, int64_t H, int64_t W, int64_t stride,
                      double L) {
  return plane_generic(x, y, H, W, stride, NORM_ID, NORM_ID, 0, (0.01 * L) * (0.01 * L),
                       (0.03 * L) * (0.03 * L), 1, NULL);
}

double ssim_plane_syncvp(const float *x, const float *y, int64_t H, int64_t W, int64_t stride,
                         ssim_norm nx, ssim_norm ny) {
  return plane_generic(x, y, H, W, stride, nx, ny, SSIM_RAD, 1e-4, 9e-4, 0, NULL);
}

double ssim_plane_syncvp_ref(const float *x, const float *y, int64_t H, int64_t W,
                             int64_t stride, ssim_norm nx, ssim_norm ny) {
  return plane_generic(x, y, H, W, stride, nx, ny, SSIM_RAD, 1e-4, 9e-4, 1, NULL);
}

ssim_norm ssim_minmax(const float *v, int64_t n) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)v[i];
    if (!isfinite(d)) continue;
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  ssim_norm r = {0.0, 0.0};
  if (lo <= hi) {
    r.lo = lo;
    r.range = hi - lo;
  }
  return r;
}

void ssim_frames(const float *x, const float *y, int64_t nframes, int64_t ny, int64_t H,
                 int64_t W, int64_t C, double L, ssim_mode mode, const ssim_norm *nx,
                 const ssim_norm *nyv, double *out) {
  VP_ASSERT(ny >= 1);
  const int64_t fsz = H * W * C, nplanes = nframes * C;
  const int ref = vp_use_ref_kernels;
  const int64_t pad = mode == SSIM_SYNCVP ? SSIM_RAD : 0;
  const double C1 = mode == SSIM_SYNCVP ? 1e-4 : (0.01 * L) * (0.01 * L);
  const double C2 = mode == SSIM_SYNCVP ? 9e-4 : (0.03 * L) * (0.03 * L);
#pragma omp parallel
  {
    double *work = vp_malloc(plane_work(H, W, pad) * sizeof(double));
#pragma omp for schedule(dynamic, 1)
    for (int64_t p = 0; p < nplanes; p++) {
      const int64_t f = p / C, c = p % C;
      const float *xp = x + f * fsz + c, *yp = y + (f % ny) * fsz + c;
      const ssim_norm a = mode == SSIM_SYNCVP ? nx[f] : NORM_ID, b = mode == SSIM_SYNCVP ? nyv[f % ny] : NORM_ID;
      out[p] = plane_generic(xp, yp, H, W, C, a, b, pad, C1, C2, ref, work);
    }
    free(work);
  }
}

// ---- the `ssim` family: per sample, the mean over frames and channels;
// per clip, the mean or the best (max) over samples ----

static const char *const ssim_keys[] = {"ssim", NULL};

static int64_t ssim_nstats(const metric_env *e) {
  (void)e;
  return 1;
}

static const char *ssim_check(const metric_env *e, unsigned want, char *buf, size_t n) {
  (void)want;
  if (e->ssim == SSIM_STANDARD && (e->H < SSIM_WIN || e->W < SSIM_WIN)) {
    snprintf(buf, n, "ssim needs frames of at least %dx%d (the Gaussian window, valid region); "
             "these are %lldx%lld (use --ssim-mode syncvp, which zero-pads)",
             SSIM_WIN, SSIM_WIN, (long long)e->H, (long long)e->W);
    return buf;
  }
  return NULL;
}

static void ssim_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  const int64_t S = e->S, T = e->T, C = e->C, fsz = e->H * e->W * C;
  double *v = vp_malloc((size_t)(S * T * C + S) * sizeof(double));
  double *per_sample = v + S * T * C;
  ssim_norm *nx = NULL, ny = {0.0, 1.0};
  if (e->ssim == SSIM_SYNCVP) {
    nx = vp_malloc((size_t)(S * T) * sizeof(ssim_norm));
    for (int64_t s = 0; s < S; s++) {
      ssim_norm ns = ssim_minmax(clip->pred + s * T * fsz, T * fsz);
      for (int64_t t = 0; t < T; t++) nx[s * T + t] = ns;
    }
    ny = ssim_minmax(clip->target, T * fsz);
  }
  // The target normalisation is the same for every frame of the clip.
  ssim_norm *nyv = NULL;
  if (nx) {
    nyv = vp_malloc((size_t)T * sizeof(ssim_norm));
    for (int64_t t = 0; t < T; t++) nyv[t] = ny;
  }
  ssim_frames(clip->pred, clip->target, S * T, T, e->H, e->W, C, e->L, e->ssim, nx, nyv, v);
  for (int64_t s = 0; s < S; s++) {
    double acc = 0.0;
    for (int64_t k = 0; k < T * C; k++) acc += v[s * T * C + k];
    per_sample[s] = acc / (double)(T * C);
  }
  row[0] = metric_reduce_samples(per_sample, S, e->best, 1);
  free(nx);
  free(nyv);
  free(v);
}

static void ssim_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  (void)want;
  double acc = 0.0;
  for (int64_t i = 0; i < e->N; i++) acc += rows[i];
  json_num(j, "ssim", e->N ? acc / (double)e->N : NAN);
}

const metric_family metric_ssim = {
    .name = "ssim", .keys = ssim_keys, .nstats = ssim_nstats, .check = ssim_check,
    .accumulate = ssim_accumulate, .finalize = ssim_finalize, .needs_finite = 1,
};
