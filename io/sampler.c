// sampler.c: deterministic epoch order, padding and rank shares (see sampler.h).
#include "io/sampler.h"

#include <inttypes.h>
#include <stdlib.h>

#include "core/check.h"
#include "core/rng.h"

void sampler_init(vp_sampler *s, int64_t n, int64_t G, int rank, int world, uint64_t seed,
                  int shuffle) {
  if (n < 1) vp_die("sampler: the data split has no clips; check data.path and data.split");
  if (G < 1) vp_die("sampler: global batch size %" PRId64 " must be at least 1", G);
  if (world < 1 || rank < 0 || rank >= world)
    vp_die("sampler: rank %d is not in a world of %d ranks", rank, world);
  if (G % world != 0)
    vp_die("sampler: the global batch size train.batch_size = %" PRId64
           " is not a multiple of the number of ranks (%d); every rank must get the same number "
           "of clips per step: use a batch size divisible by %d or another number of ranks",
           G, world, world);
  if (n > (INT64_C(1) << 33)) vp_die("sampler: %" PRId64 " clips is more than supported (2^33)", n);
  s->n = n;
  s->G = G;
  s->rank = rank;
  s->world = world;
  s->seed = seed;
  s->shuffle = shuffle != 0;
  s->L = G / world;
  s->steps = (n + G - 1) / G;
  s->E = s->steps * G;
  s->epoch = 0;
  s->cursor = 0;
  s->perm_epoch = -1;
  s->perm = vp_malloc((size_t)n * sizeof(int64_t));
}

void sampler_free(vp_sampler *s) {
  free(s->perm);
  s->perm = NULL;
}

const int64_t *sampler_epoch_order(vp_sampler *s, int64_t epoch) {
  VP_ASSERT(epoch >= 0 && epoch <= (int64_t)UINT32_MAX);
  if (s->perm_epoch == epoch) return s->perm;
  const int64_t n = s->n;
  for (int64_t i = 0; i < n; i++) s->perm[i] = i;
  if (s->shuffle) {
    // Fisher-Yates from the top; the draw of step i depends only on i, so the
    // order is a pure function of (seed, epoch, n).
    uint32_t w[4];
    int64_t have = -1;
    for (int64_t i = n - 1; i >= 1; i--) {
      int64_t blk = i / 2;
      if (blk != have) {
        rng_block(s->seed, VP_STREAM_DATA, (uint64_t)epoch, SAMPLER_RNG_SAMPLE, (uint64_t)blk, w);
        have = blk;
      }
      int o = 2 * (int)(i % 2);
      uint64_t r = ((uint64_t)w[o] << 32) | w[o + 1];
      int64_t j = (int64_t)(r % (uint64_t)(i + 1));
      int64_t t = s->perm[i];
      s->perm[i] = s->perm[j];
      s->perm[j] = t;
    }
  }
  s->perm_epoch = epoch;
  return s->perm;
}

void sampler_next(vp_sampler *s, int64_t *clip, int64_t *sample, int64_t m) {
  const int64_t len = sampler_rank_epoch_len(s);
  for (int64_t k = 0; k < m; k++) {
    if (s->cursor == len) {
      s->epoch++;
      s->cursor = 0;
    }
    VP_ASSERT(s->epoch <= (int64_t)UINT32_MAX);
    const int64_t *perm = sampler_epoch_order(s, s->epoch);
    int64_t b = s->cursor / s->L, off = s->cursor % s->L;
    int64_t p = b * s->G + (int64_t)s->rank * s->L + off;
    clip[k] = perm[p % s->n];
    if (sample) sample[k] = s->epoch * s->E + p;
    s->cursor++;
  }
}

int sampler_sample_is_padding(const vp_sampler *s, int64_t sample) {
  return sample >= 0 && sample % s->E >= s->n;
}

vp_sampler_state sampler_state_get(const vp_sampler *s) {
  vp_sampler_state st = {s->epoch, s->cursor};
  return st;
}

void sampler_state_set(vp_sampler *s, vp_sampler_state st) {
  const int64_t len = sampler_rank_epoch_len(s);
  if (st.epoch < 0 || st.epoch > (int64_t)UINT32_MAX || st.cursor < 0 || st.cursor > len)
    vp_die("sampler: the saved data state (epoch %" PRId64 ", cursor %" PRId64
           ") does not fit this run (%" PRId64 " clips per rank per epoch); resume with the same "
           "data, train.batch_size and number of ranks as the run that wrote the checkpoint",
           st.epoch, st.cursor, len);
  s->epoch = st.epoch;
  s->cursor = st.cursor;
}
