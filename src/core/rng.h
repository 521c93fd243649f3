// rng.h: counter-based random numbers (Philox4x32-10).
// Randomness in vpcast is a pure function of (seed, stream, counter): no
// generator state is carried between steps, so a run on any number of ranks
// or threads draws the same numbers for the same sample, and resume needs only
// the step number. The key is (seed, stream); the 128-bit counter is
// (step, global sample index, element block), where each block of 4 elements
// comes from one Philox call.
//
// Exact bit layout (part of the checkpoint/resume contract: changing it
// changes every draw):
//   key[0] = seed bits 0..31
//   key[1] = seed bits 32..55 | stream << 24     (seed < 2^56, stream < 256)
//   ctr[0] = element block = element / 4         (element < 2^34)
//   ctr[1] = sample bits 0..31
//   ctr[2] = sample bits 32..63
//   ctr[3] = step                                (step < 2^32)
// Element e is word e % 4 of the block e / 4. Out-of-range arguments are an
// internal error (the config limits seed to [0, 2^56)).
//
// Uniform: u = (word >> 8) * 2^-24, the top 24 bits, so u is in [0, 1 - 2^-24]
// and every value is exactly representable in float.
// Normal: elements 2i and 2i+1 are the Box-Muller pair of words (2i, 2i+1),
// i.e. words (0,1) and (2,3) of a block, computed in double and rounded once
// to float: r = sqrt(-2 ln u1) with u1 = (w0 + 1) * 2^-32 in (0, 1] (never
// log(0)), z0 = r cos(2 pi u2), z1 = r sin(2 pi u2) with u2 = w1 * 2^-32.
// The largest |z| is sqrt(2 * 32 ln 2) = 6.66.
#ifndef VP_RNG_H
#define VP_RNG_H

#include <stdint.h>

// Named uses of randomness; each is its own Philox key, so draws of one use
// never overlap another's.
typedef enum {
  VP_STREAM_INIT = 1,       // parameter initialisation (sample = parameter index)
  VP_STREAM_DATA = 2,       // data order (sampler permutations)
  VP_STREAM_TIMESTEP = 3,   // diffusion timesteps
  VP_STREAM_NOISE = 4,      // diffusion noise
  VP_STREAM_COND_DROP = 5,  // condition / modality dropout
  VP_STREAM_SAMPLING = 6,   // sampler noise at inference
  VP_STREAM_AUG = 7,        // data augmentation
  VP_STREAM_TEST = 15       // tests and benchmarks
} vp_stream;

// Largest seed + 1 (seeds occupy 56 bits of the key).
#define VP_RNG_SEED_LIMIT (UINT64_C(1) << 56)

// One Philox4x32-10 block: ctr[4], key[2] -> out[4]. Exposed for known-answer tests.
void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

// The 4 raw words of block `block` of (seed, stream, step, sample), with the
// layout above. The fills below are built on this.
void rng_block(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
               uint64_t block, uint32_t out[4]);

// The word -> value maps, exposed so tests (and the CUDA twins) use the same ones.
float rng_word_to_uniform(uint32_t w);
void rng_box_muller(uint32_t w0, uint32_t w1, float *z0, float *z1);

// n uniform floats in [0, 1) (24-bit resolution, never 1.0) for element
// indices [first, first + n) of (seed, stream, step, sample). Element i of a
// given key/counter is the same no matter how the range is split or how many
// threads fill it. Large fills run OpenMP-parallel.
void rng_uniform(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
                 uint64_t first, float *out, int64_t n);
// Standard normal draws (Box-Muller on pairs of uniforms), same indexing.
void rng_normal(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
                uint64_t first, float *out, int64_t n);
// One uniform 32-bit integer (element index i), for permutations and choices.
uint32_t rng_u32(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample, uint64_t i);

#endif
