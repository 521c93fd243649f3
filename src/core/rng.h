// rng.h: counter-based random numbers (Philox4x32-10).
// Randomness in vpcast is a pure function of (seed, stream, counter): no
// generator state is carried between steps, so a run on any number of ranks
// or threads draws the same numbers for the same sample, and resume needs only
// the step number. The key is (seed, stream); the 128-bit counter is
// (step, global sample index, element block), where each block of 4 elements
// comes from one Philox call.
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

// One Philox4x32-10 block: ctr[4], key[2] -> out[4]. Exposed for known-answer tests.
void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

// n uniform floats in [0, 1) (24-bit resolution, never 1.0) for element
// indices [first, first + n) of (seed, stream, step, sample). Element i of a
// given key/counter is the same no matter how the range is split or how many
// threads fill it.
void rng_uniform(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
                 uint64_t first, float *out, int64_t n);
// Standard normal draws (Box-Muller on pairs of uniforms), same indexing.
void rng_normal(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample,
                uint64_t first, float *out, int64_t n);
// One uniform 32-bit integer (element index i), for permutations and choices.
uint32_t rng_u32(uint64_t seed, vp_stream stream, uint64_t step, uint64_t sample, uint64_t i);

#endif
