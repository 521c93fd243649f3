// sampler.h: which clips each rank trains on, in which order.
// The sampler turns a split of n clips into an endless sequence of global
// batches of G clips (G = train.batch_size, the clips of one optimizer step
// summed over ranks and gradient-accumulation micro-steps), and gives each
// rank its share of every global batch. It is a pure function of
// (n, G, seed, epoch), so:
//   - every rank computes the same epoch order without communicating;
//   - the clips of global batch s (and the sample index of each) are the same
//     for every world size that divides G: a run on 1 rank and on 4 ranks
//     trains on the same data in the same steps and draws the same noise;
//   - the state (epoch, cursor) is two integers a checkpoint stores and
//     restores exactly.
//
// Epoch order. Epoch e is a permutation perm_e of [0, n): Fisher-Yates,
// i = n-1 down to 1, j = r_i mod (i + 1), where r_i is the 64-bit word pair
// (2 * (i % 2), 2 * (i % 2) + 1) of Philox block i / 2 of (seed,
// VP_STREAM_DATA, step = e, sample = SAMPLER_RNG_SAMPLE) (high word first).
// The modulo bias is below n / 2^64. With shuffle off, perm_e is the identity.
//
// Padding. An epoch has ceil(n / G) global batches, i.e. E = ceil(n / G) * G
// positions. Position p < E holds clip perm_e[p mod n]: the tail wraps around
// to the start of the permutation, as PyTorch's DistributedSampler pads (so
// every clip is seen at least once per epoch, at most E - n clips twice, and
// every rank gets the same number of clips). Padding depends on G only, never
// on the world size.
//
// Rank shares. G must be a multiple of the world size; L = G / world. Rank r
// takes positions [s*G + r*L, s*G + (r+1)*L) of global batch s. Its shares
// over an epoch are disjoint from every other rank's, equal in size
// (ceil(n / G) * L), and all shares together cover the epoch.
//
// Sample index. Each clip handed out comes with its global sample index
// e * E + p: unique over the run, independent of the world size. Use it as
// the `sample` coordinate of rng draws (noise, timesteps, dropout) so a
// sample draws the same numbers on any number of ranks.
//
// State. cursor counts the positions this rank has taken in epoch `epoch`
// (0 <= cursor <= ceil(n / G) * L; the epoch advances at the next clip).
// Ranks move in lockstep, so the state is the same on every rank at a step
// boundary: rank 0's copy is the checkpoint's.
// A resume restores it with sampler_state_set and continues with exactly the
// sequence the saved run would have produced (same n, G, seed, world size).
#ifndef VP_IO_SAMPLER_H
#define VP_IO_SAMPLER_H

#include <stdint.h>

// The Philox `sample` coordinate of the epoch permutations: far above any
// clip index, so the sampler's draws never share a counter with per-clip
// draws of the same stream (io/synth.c uses sample = clip index).
#define SAMPLER_RNG_SAMPLE (UINT64_C(0xFFFFFFFF00000000))

typedef struct vp_sampler_state {
  int64_t epoch;
  int64_t cursor;
} vp_sampler_state;

typedef struct vp_sampler {
  int64_t n;             // clips in the split
  int64_t G;             // global batch size
  int rank, world;
  uint64_t seed;
  int shuffle;
  int64_t L;             // this rank's clips per global batch: G / world
  int64_t steps;         // global batches per epoch: ceil(n / G)
  int64_t E;             // positions per epoch: steps * G
  int64_t epoch, cursor; // the state
  int64_t perm_epoch;    // the epoch perm[] holds; -1 before the first
  int64_t *perm;         // (n) epoch order
} vp_sampler;

// n >= 1 clips, global batch G >= 1 with G % world == 0, 0 <= rank < world.
// Starts at epoch 0, cursor 0. Violations end the program with a message
// (they come from the config: batch size vs number of ranks).
void sampler_init(vp_sampler *s, int64_t n, int64_t G, int rank, int world, uint64_t seed,
                  int shuffle);
void sampler_free(vp_sampler *s);

// This rank's next m clips: clip[k] in [0, n) and sample[k] (the global
// sample index; may be NULL). Crosses epoch boundaries as needed. The trainer
// calls it once per micro-batch with m = L / grad_accum.
void sampler_next(vp_sampler *s, int64_t *clip, int64_t *sample, int64_t m);

// Positions per epoch this rank takes: steps * L.
static inline int64_t sampler_rank_epoch_len(const vp_sampler *s) { return s->steps * s->L; }
// The epoch order perm_e (n entries, valid until the next call).
const int64_t *sampler_epoch_order(vp_sampler *s, int64_t epoch);
// Whether a global sample index is a padding repeat (position >= n in its epoch).
int sampler_sample_is_padding(const vp_sampler *s, int64_t sample);

vp_sampler_state sampler_state_get(const vp_sampler *s);
// Restores a state from sampler_state_get (e.g. from a checkpoint). A state
// this sampler cannot have produced (negative, cursor past the epoch) ends
// the program with a message naming both values.
void sampler_state_set(vp_sampler *s, vp_sampler_state st);

#endif
