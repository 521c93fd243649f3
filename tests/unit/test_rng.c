// test_rng.c: Philox4x32-10 against the Random123 known-answer vectors, the
// documented key/counter layout, thread- and split-invariance of the fills,
// and statistical checks of the uniform and normal draws.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "harness.h"

// Random123 (D. E. Shaw Research) tests/kat_vectors, the three "philox4x32 10"
// lines: counter[4] key[2] -> output[4]. Read from a public copy of that file
// (also reproduced in several independent Philox ports' test suites).
static const uint32_t KAT[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
     0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
};

static void test_kat(void) {
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    philox4x32_10(KAT[t], KAT[t] + 4, out);
    int ok = memcmp(out, KAT[t] + 6, sizeof out) == 0;
    th_check(ok, "philox4x32_10 known-answer vector %d: got %08x %08x %08x %08x", t, out[0], out[1],
             out[2], out[3]);
  }
}

// The layout documented in rng.h, rebuilt by hand.
static void test_layout(void) {
  struct { uint64_t seed; vp_stream stream; uint64_t step, sample, i; } c[] = {
      {0, VP_STREAM_INIT, 0, 0, 0},
      {12345, VP_STREAM_NOISE, 77, 3, 13},
      {(UINT64_C(0xABCDEF) << 32) | 0x12345678u, VP_STREAM_TEST, 0xFFFFFFFFu,
       (UINT64_C(0x9) << 32) | 0x87654321u, (UINT64_C(1) << 34) - 1},
  };
  for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
    uint32_t key[2] = {(uint32_t)c[k].seed, (uint32_t)(c[k].seed >> 32) | ((uint32_t)c[k].stream << 24)};
    uint32_t ctr[4] = {(uint32_t)(c[k].i / 4), (uint32_t)c[k].sample, (uint32_t)(c[k].sample >> 32),
                       (uint32_t)c[k].step};
    uint32_t w[4], blk[4];
    philox4x32_10(ctr, key, w);
    uint32_t got = rng_u32(c[k].seed, c[k].stream, c[k].step, c[k].sample, c[k].i);
    th_check(got == w[c[k].i % 4], "rng_u32 follows the documented layout (case %zu)", k);
    rng_block(c[k].seed, c[k].stream, c[k].step, c[k].sample, c[k].i / 4, blk);
    th_check(memcmp(blk, w, sizeof w) == 0, "rng_block follows the documented layout (case %zu)", k);
  }
}

static void test_maps(void) {
  th_check(rng_word_to_uniform(0) == 0.0f, "uniform(0) == 0");
  th_check(rng_word_to_uniform(0xFFFFFFFFu) == 1.0f - 0x1p-24f, "uniform(max) == 1 - 2^-24 < 1");
  th_check(rng_word_to_uniform(0x80000000u) == 0.5f, "uniform(2^31) == 0.5");
  float z0, z1;
  rng_box_muller(0xFFFFFFFFu, 123456u, &z0, &z1);  // u1 = 1: r = 0
  th_check(z0 == 0.0f && z1 == 0.0f, "box-muller with u1 = 1 gives 0 (%g %g)", z0, z1);
  rng_box_muller(0u, 0u, &z0, &z1);  // u1 = 2^-32: the largest radius, theta = 0
  double rmax = sqrt(-2.0 * log(0x1p-32));
  th_check(isfinite(z0) && fabsf(z0 - (float)rmax) < 1e-5f && z1 == 0.0f,
           "box-muller with w0 = 0 is finite: %g (expected %g)", z0, rmax);
  rng_box_muller(0u, 0x40000000u, &z0, &z1);  // theta = pi/2
  th_check(fabsf(z0) < 1e-5f && fabsf(z1 - (float)rmax) < 1e-5f, "box-muller theta = pi/2: %g %g", z0, z1);
}

// Every element of a fill equals the map of its own word.
static void test_fill_elements(void) {
  enum { N = 1003 };
  static float u[N], z[N];
  const uint64_t seed = 99, first = 3, step = 5, sample = 11;
  rng_uniform(seed, VP_STREAM_TEST, step, sample, first, u, N);
  rng_normal(seed, VP_STREAM_TEST, step, sample, first, z, N);
  int bad_u = 0, bad_z = 0, out_of_range = 0;
  for (int i = 0; i < N; i++) {
    uint64_t e = first + (uint64_t)i;
    uint32_t w = rng_u32(seed, VP_STREAM_TEST, step, sample, e);
    bad_u += u[i] != rng_word_to_uniform(w);
    out_of_range += !(u[i] >= 0.0f && u[i] < 1.0f);
    uint64_t e0 = e & ~UINT64_C(1);  // pair (2i, 2i+1)
    float z0, z1;
    rng_box_muller(rng_u32(seed, VP_STREAM_TEST, step, sample, e0),
                   rng_u32(seed, VP_STREAM_TEST, step, sample, e0 + 1), &z0, &z1);
    bad_z += z[i] != ((e & 1) ? z1 : z0);
  }
  th_check(bad_u == 0, "uniform element i is the map of word i (%d mismatches)", bad_u);
  th_check(out_of_range == 0, "uniforms lie in [0, 1) (%d outside)", out_of_range);
  th_check(bad_z == 0, "normal elements 2i, 2i+1 are one Box-Muller pair (%d mismatches)", bad_z);
  // n = 0 and n = 1 at odd and even offsets.
  float one = -1.0f;
  rng_normal(seed, VP_STREAM_TEST, step, sample, first + 1, &one, 1);
  th_check(one == z[1], "single odd normal element equals the range's");
  rng_uniform(seed, VP_STREAM_TEST, step, sample, first, &one, 0);
  th_check(one == z[1], "n = 0 writes nothing");
}

typedef void (*fill_fn)(uint64_t, vp_stream, uint64_t, uint64_t, uint64_t, float *, int64_t);

// Same draws for 1, 2, 4 threads, and for the range split in pieces.
static void test_invariance(const char *what, fill_fn fill) {
  const int64_t n = 1000003;  // odd, and large enough for the parallel path
  const uint64_t first = 5;
  float *ref = vp_malloc((size_t)n * sizeof *ref), *x = vp_malloc((size_t)n * sizeof *x);
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  fill(42, VP_STREAM_NOISE, 3, 17, first, ref, n);
  int threads[] = {2, 4};
  for (int t = 0; t < 2; t++) {
    omp_set_num_threads(threads[t]);
    memset(x, 0, (size_t)n * sizeof *x);
    fill(42, VP_STREAM_NOISE, 3, 17, first, x, n);
    th_check(memcmp(ref, x, (size_t)n * sizeof *x) == 0, "%s: 1 thread == %d threads", what, threads[t]);
  }
  omp_set_num_threads(2);
  // Pieces with odd lengths and offsets, one of them small (serial path).
  int64_t cuts[] = {0, 1, 7, 500001, 500002, n};
  memset(x, 0, (size_t)n * sizeof *x);
  for (int c = 0; c + 1 < (int)(sizeof cuts / sizeof *cuts); c++)
    fill(42, VP_STREAM_NOISE, 3, 17, first + (uint64_t)cuts[c], x + cuts[c], cuts[c + 1] - cuts[c]);
  th_check(memcmp(ref, x, (size_t)n * sizeof *x) == 0, "%s: split ranges == one range", what);
  omp_set_num_threads(saved);
  free(ref);
  free(x);
}

// |got - want| <= 5 standard errors.
static void check_5sigma(const char *what, double got, double want, double se) {
  if (getenv("VP_TEST_VERBOSE")) printf("  %-34s %.6f (expected %.6f, sigma %.2e)\n", what, got, want, se);
  th_check(fabs(got - want) <= 5 * se, "%s = %.6f, expected %.6f +- %.6f (5 sigma)", what, got, want, 5 * se);
}

static void test_stats(void) {
  const int64_t n = 1000000;
  float *x = vp_malloc((size_t)n * sizeof *x);
  rng_uniform(2024, VP_STREAM_TEST, 0, 0, 0, x, n);
  double s1 = 0, s2 = 0, lag = 0;
  int64_t hist[100] = {0};
  for (int64_t i = 0; i < n; i++) {
    double d = x[i] - 0.5;
    s1 += x[i];
    s2 += d * d;
    if (i) lag += d * (x[i - 1] - 0.5);
    hist[(int)(x[i] * 100)]++;
  }
  // Var(U) = 1/12; Var((U - 1/2)^2) = 1/80 - 1/144 = 1/180; Var of a lag product = 1/144.
  check_5sigma("uniform mean", s1 / n, 0.5, sqrt(1.0 / 12 / n));
  check_5sigma("uniform variance", s2 / n, 1.0 / 12, sqrt(1.0 / 180 / n));
  check_5sigma("uniform lag-1 covariance", lag / (n - 1), 0.0, sqrt(1.0 / 144 / n));
  double chi2 = 0, e = n / 100.0;
  for (int b = 0; b < 100; b++) chi2 += (hist[b] - e) * (hist[b] - e) / e;
  // chi^2 with 99 degrees of freedom: mean 99, sd sqrt(198).
  check_5sigma("uniform 100-bin chi^2", chi2, 99, sqrt(198.0));

  rng_normal(2024, VP_STREAM_TEST, 0, 0, 0, x, n);
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0, pair = 0, zmax = 0;
  int finite = 1;
  for (int64_t i = 0; i < n; i++) {
    double z = x[i];
    finite &= isfinite(x[i]) != 0;
    m1 += z, m2 += z * z, m3 += z * z * z, m4 += z * z * z * z;
    if (i & 1) pair += z * x[i - 1];  // the two outputs of one Box-Muller pair
    if (fabs(z) > zmax) zmax = fabs(z);
  }
  th_check(finite, "normal draws are finite");
  th_check(zmax <= 6.67, "normal draws stay within the Box-Muller bound 6.66 (max %g)", zmax);
  // Moments of N(0,1): E z^2 = 1 (Var z^2 = 2), E z^3 = 0 (Var 15), E z^4 = 3 (Var 96).
  check_5sigma("normal mean", m1 / n, 0.0, sqrt(1.0 / n));
  check_5sigma("normal variance", m2 / n, 1.0, sqrt(2.0 / n));
  check_5sigma("normal third moment", m3 / n, 0.0, sqrt(15.0 / n));
  check_5sigma("normal fourth moment (kurtosis)", m4 / n, 3.0, sqrt(96.0 / n));
  check_5sigma("normal pair covariance", pair / (n / 2), 0.0, sqrt(1.0 / (n / 2)));
  free(x);
}

// Every coordinate changes the draws; the same coordinates repeat them.
static void test_distinct(void) {
  enum { N = 16 };
  float base[N], x[N];
  rng_uniform(1, VP_STREAM_NOISE, 2, 3, 0, base, N);
  rng_uniform(1, VP_STREAM_NOISE, 2, 3, 0, x, N);
  th_check(memcmp(base, x, sizeof x) == 0, "same coordinates give the same draws");
  struct { const char *what; uint64_t seed; vp_stream stream; uint64_t step, sample, first; } v[] = {
      {"seed", 2, VP_STREAM_NOISE, 2, 3, 0},
      {"seed high bits", 1 | (UINT64_C(1) << 40), VP_STREAM_NOISE, 2, 3, 0},
      {"stream", 1, VP_STREAM_TIMESTEP, 2, 3, 0},
      {"step", 1, VP_STREAM_NOISE, 3, 3, 0},
      {"sample", 1, VP_STREAM_NOISE, 2, 4, 0},
      {"sample high bits", 1, VP_STREAM_NOISE, 2, 3 | (UINT64_C(1) << 32), 0},
      {"element offset", 1, VP_STREAM_NOISE, 2, 3, N},
  };
  for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
    rng_uniform(v[k].seed, v[k].stream, v[k].step, v[k].sample, v[k].first, x, N);
    int same = 0;
    for (int i = 0; i < N; i++) same += x[i] == base[i];
    th_check(same <= 1, "a different %s gives different draws (%d of %d equal)", v[k].what, same, N);
  }
  // Two streams of the same seed are uncorrelated.
  const int64_t n = 200000;
  float *a = vp_malloc((size_t)n * sizeof *a), *b = vp_malloc((size_t)n * sizeof *b);
  rng_normal(5, VP_STREAM_NOISE, 0, 0, 0, a, n);
  rng_normal(5, VP_STREAM_SAMPLING, 0, 0, 0, b, n);
  double c = 0;
  for (int64_t i = 0; i < n; i++) c += (double)a[i] * b[i];
  check_5sigma("covariance of two streams", c / n, 0.0, sqrt(1.0 / n));
  free(a);
  free(b);
}

int main(void) {
  test_kat();
  test_layout();
  test_maps();
  test_fill_elements();
  test_invariance("rng_uniform", rng_uniform);
  test_invariance("rng_normal", rng_normal);
  test_stats();
  test_distinct();
  return th_summary();
}
