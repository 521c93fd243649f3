// rotary.c: rotary position embedding kernels (see rotary.h).
// Per pair (a, b) = (x[2i], x[2i+1]) of one row with table row (c, s):
//   out[2i]   = a c[2i]   - b s[2i]
//   out[2i+1] = b c[2i+1] + a s[2i+1]
// so backward applies the transpose to the upstream gradient g:
//   gx[2i]   += g[2i] c[2i]       + g[2i+1] s[2i+1]
//   gx[2i+1] += g[2i+1] c[2i+1]   - g[2i] s[2i]
// The op is memory-bound: the fast versions are the same row loops (which the
// compiler vectorises across pairs) spread over OpenMP threads.
#include "kernels/cpu/rotary.h"

static inline void row_fwd(const float *x, const float *c, const float *s, float *o, int64_t d) {
  for (int64_t i = 0; i < d; i += 2) {
    const float a = x[i], b = x[i + 1];
    o[i] = a * c[i] - b * s[i];
    o[i + 1] = b * c[i + 1] + a * s[i + 1];
  }
}

static inline void row_bwd(const float *g, const float *c, const float *s, float *gx, int64_t d) {
  for (int64_t i = 0; i < d; i += 2) {
    const float ga = g[i], gb = g[i + 1];
    gx[i] += ga * c[i] + gb * s[i + 1];
    gx[i + 1] += gb * c[i + 1] - ga * s[i];
  }
}

void cpu_rotary_fwd_ref(const float *x, const float *cos, const float *sin, float *out, int64_t n,
                        int64_t l, int64_t d) {
  for (int64_t r = 0; r < n * l; r++)
    row_fwd(x + r * d, cos + (r % l) * d, sin + (r % l) * d, out + r * d, d);
}

void cpu_rotary_bwd_ref(const float *gout, const float *cos, const float *sin, float *gx,
                        int64_t n, int64_t l, int64_t d) {
  for (int64_t r = 0; r < n * l; r++)
    row_bwd(gout + r * d, cos + (r % l) * d, sin + (r % l) * d, gx + r * d, d);
}

void cpu_rotary_fwd(const float *x, const float *cos, const float *sin, float *out, int64_t n,
                    int64_t l, int64_t d) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n * l; r++)
    row_fwd(x + r * d, cos + (r % l) * d, sin + (r % l) * d, out + r * d, d);
}

void cpu_rotary_bwd(const float *gout, const float *cos, const float *sin, float *gx, int64_t n,
                    int64_t l, int64_t d) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n * l; r++)
    row_bwd(gout + r * d, cos + (r % l) * d, sin + (r % l) * d, gx + r * d, d);
}
