// rng.c: Philox4x32-10 and the uniform / normal fills built on it (see rng.h
// for the key and counter layout). Philox is Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC 2011); the constants are
// theirs (Random123).
#include "core/rng.h"

#include <math.h>

#include "core/check.h"

#define PHILOX_M0 0xD2511F53u  // round multipliers
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u  // key schedule increments (golden ratio, sqrt(3) - 1)
#define PHILOX_W1 0xBB67AE85u

// Fills shorter than this many blocks stay on the calling thread: the thread
// team costs more than it saves.
#define RNG_PAR_BLOCKS 4096

static const double RNG_TWO_PI = 6.283185307179586476925286766559;

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
  uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
  uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
  uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  uint32_t c1 = c[1], c3 = c[3];
  c[0] = hi1 ^ c1 ^ k[0];
  c[1] = lo1;
  c[2] = hi0 ^ c3 ^ k[1];
  c[3] = lo0;
}

void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  uint32_t k[2] = {key[0], key[1]};
  for (int r = 0; r < 10; r++) {
    if (r > 0) {  // the key advances between rounds, not before the first
      k[0] += PHILOX_W0;
      k[1] += PHILOX_W1;
    }
    philox_round(c, k);
  }
  out[0] = c[0];
  out[1] = c[1];
  out[2] = c[2];
  out[3] = c[3];
}

typedef struct {
  uint32_t key[2];
  uint32_t sample_lo, sample_hi, step;
} rng_coords;

static rng_coords coords_make(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample) {
  VP_ASSERT(seed < VP_RNG_SEED_LIMIT);
  VP_ASSERT((unsigned)stream < 256u);
  VP_ASSERT(step <= UINT32_MAX);
  rng_coords c;
  c.key[0] = (uint32_t)seed;
  c.key[1] = (uint32_t)(seed >> 32) | ((uint32_t)stream << 24);
  c.sample_lo = (uint32_t)sample;
  c.sample_hi = (uint32_t)(sample >> 32);
  c.step = (uint32_t)step;
  return c;
}

static inline void coords_block(const rng_coords *c, uint64_t block, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)block, c->sample_lo, c->sample_hi, c->step};
  philox4x32_10(ctr, c->key, out);
}

void rng_block(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
               uint64_t block, uint32_t out[4]) {
  VP_ASSERT(block <= UINT32_MAX);
  rng_coords c = coords_make(seed, stream, step, sample);
  coords_block(&c, block, out);
}

float rng_word_to_uniform(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

void rng_box_muller(uint32_t w0, uint32_t w1, float *z0, float *z1) {
  // u1 in (0, 1]: the +1 keeps log away from 0; u1 = 1 gives r = 0, harmless.
  double u1 = ((double)w0 + 1.0) * 0x1p-32;
  double theta = RNG_TWO_PI * ((double)w1 * 0x1p-32);
  double r = sqrt(-2.0 * log(u1));
  *z0 = (float)(r * cos(theta));
  *z1 = (float)(r * sin(theta));
}

// Blocks [b0, b1) cover elements [first, first + n); checks the 2^34 limit.
static void block_range(uint64_t first, int64_t n, int64_t *b0, int64_t *b1) {
  VP_ASSERT(n >= 0);
  uint64_t end = first + (uint64_t)n;
  VP_ASSERT(end >= first && end <= (UINT64_C(1) << 34));
  *b0 = (int64_t)(first / 4);
  *b1 = (int64_t)((end + 3) / 4);
}

void rng_uniform(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
                 uint64_t first, float *out, int64_t n) {
  if (n <= 0) return;
  rng_coords c = coords_make(seed, stream, step, sample);
  int64_t b0, b1;
  block_range(first, n, &b0, &b1);
  uint64_t end = first + (uint64_t)n;
#pragma omp parallel for schedule(static) if (b1 - b0 >= RNG_PAR_BLOCKS)
  for (int64_t b = b0; b < b1; b++) {
    uint32_t w[4];
    coords_block(&c, (uint64_t)b, w);
    for (int j = 0; j < 4; j++) {
      uint64_t e = (uint64_t)b * 4 + (uint64_t)j;
      if (e >= first && e < end) out[e - first] = rng_word_to_uniform(w[j]);
    }
  }
}

void rng_normal(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
                uint64_t first, float *out, int64_t n) {
  if (n <= 0) return;
  rng_coords c = coords_make(seed, stream, step, sample);
  int64_t b0, b1;
  block_range(first, n, &b0, &b1);
  uint64_t end = first + (uint64_t)n;
#pragma omp parallel for schedule(static) if (b1 - b0 >= RNG_PAR_BLOCKS)
  for (int64_t b = b0; b < b1; b++) {
    uint32_t w[4];
    coords_block(&c, (uint64_t)b, w);
    for (int p = 0; p < 2; p++) {
      uint64_t e = (uint64_t)b * 4 + (uint64_t)(2 * p);  // first element of the pair
      if (e + 1 < first || e >= end) continue;            // neither element wanted
      float z[2];
      rng_box_muller(w[2 * p], w[2 * p + 1], &z[0], &z[1]);
      for (int q = 0; q < 2; q++)
        if (e + (uint64_t)q >= first && e + (uint64_t)q < end) out[e + (uint64_t)q - first] = z[q];
    }
  }
}

uint32_t rng_u32(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample, uint64_t i) {
  VP_ASSERT(i < (UINT64_C(1) << 34));
  rng_coords c = coords_make(seed, stream, step, sample);
  uint32_t w[4];
  coords_block(&c, i / 4, w);
  return w[i % 4];
}
