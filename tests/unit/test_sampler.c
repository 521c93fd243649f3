// test_sampler.c: the sampler's epoch orders and rank shares: disjoint,
// covering, equal, reproducible, resumable mid-epoch, the same global
// batches on 1..5 ranks, and clear errors on impossible settings.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "harness.h"
#include "io/sampler.h"

// Runs fn in a child with stderr silenced; returns its exit status (-1 if it
// did not exit normally, e.g. crashed or hung past the alarm).
static int exit_status_of(void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(99);
    alarm(20);
    fn();
    _exit(0);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int is_permutation(const int64_t *p, int64_t n) {
  char *seen = vp_calloc((size_t)n, 1);
  int ok = 1;
  for (int64_t i = 0; i < n && ok; i++) {
    ok = p[i] >= 0 && p[i] < n && !seen[p[i]];
    if (ok) seen[p[i]] = 1;
  }
  free(seen);
  return ok;
}

// Every rank's share of two epochs: equal sizes, disjoint, covering all
// positions, each position's clip = perm[p mod n], every clip seen.
static void check_shares(int64_t n, int64_t G, int world, uint64_t seed, int shuffle) {
  vp_sampler ref;
  sampler_init(&ref, n, G, 0, 1, seed, shuffle);
  const int64_t E = ref.E;
  int ok_len = 1, ok_disjoint = 1, ok_cover = 1, ok_clip = 1, ok_seen = 1, ok_perm = 1;
  for (int64_t e = 0; e < 2; e++) {
    int64_t *perm = vp_malloc((size_t)n * sizeof(int64_t));
    memcpy(perm, sampler_epoch_order(&ref, e), (size_t)n * sizeof(int64_t));
    ok_perm &= is_permutation(perm, n);
    int *owner = vp_malloc((size_t)E * sizeof(int));
    for (int64_t p = 0; p < E; p++) owner[p] = -1;
    char *seen = vp_calloc((size_t)n, 1);
    for (int r = 0; r < world; r++) {
      vp_sampler s;
      sampler_init(&s, n, G, r, world, seed, shuffle);
      vp_sampler_state st = {e, 0};
      sampler_state_set(&s, st);
      int64_t len = sampler_rank_epoch_len(&s);
      ok_len &= len * world == E;
      int64_t *clip = vp_malloc((size_t)len * sizeof(int64_t)), *smp = vp_malloc((size_t)len * sizeof(int64_t));
      sampler_next(&s, clip, smp, len);
      for (int64_t k = 0; k < len; k++) {
        int64_t p = smp[k] - e * E;
        if (p < 0 || p >= E) {
          ok_cover = 0;
          continue;
        }
        if (owner[p] != -1) ok_disjoint = 0;
        owner[p] = r;
        ok_clip &= clip[k] == perm[p % n];
        seen[clip[k]] = 1;
        ok_clip &= sampler_sample_is_padding(&s, smp[k]) == (p >= n);
      }
      free(clip);
      free(smp);
      sampler_free(&s);
    }
    for (int64_t p = 0; p < E; p++) ok_cover &= owner[p] != -1;
    for (int64_t i = 0; i < n; i++) ok_seen &= seen[i];
    free(owner);
    free(seen);
    free(perm);
  }
  sampler_free(&ref);
  const char *what = shuffle ? "shuffled" : "ordered";
  th_check(ok_perm, "n=%lld G=%lld: epoch order is a permutation (%s)", (long long)n, (long long)G, what);
  th_check(ok_len, "n=%lld G=%lld world=%d: equal shares (%s)", (long long)n, (long long)G, world, what);
  th_check(ok_disjoint, "n=%lld G=%lld world=%d: shares disjoint (%s)", (long long)n, (long long)G, world, what);
  th_check(ok_cover, "n=%lld G=%lld world=%d: shares cover the epoch (%s)", (long long)n, (long long)G, world, what);
  th_check(ok_clip, "n=%lld G=%lld world=%d: clip = perm[p mod n], padding flagged (%s)", (long long)n,
           (long long)G, world, what);
  th_check(ok_seen, "n=%lld G=%lld world=%d: every clip seen each epoch (%s)", (long long)n, (long long)G,
           world, what);
}

// Global batch s (all ranks' clips of step s, as (sample, clip) pairs) is
// the same for every world size dividing G, micro-batched or not.
static void check_global_batches(int64_t n, int64_t G, int steps) {
  int64_t *ref_clip = vp_malloc((size_t)(steps * G) * sizeof(int64_t));
  int64_t *ref_smp = vp_malloc((size_t)(steps * G) * sizeof(int64_t));
  {
    vp_sampler s;
    sampler_init(&s, n, G, 0, 1, 7, 1);
    sampler_next(&s, ref_clip, ref_smp, steps * G);
    sampler_free(&s);
  }
  // Within a step the world-1 samples are consecutive positions.
  int ok_ref = 1;
  for (int64_t k = 1; k < steps * G; k++) ok_ref &= ref_smp[k] == ref_smp[k - 1] + 1;
  th_check(ok_ref, "world 1 walks the positions in order");
  for (int world = 1; world <= 5; world++) {
    if (G % world) continue;
    int64_t L = G / world;
    int accum = L % 2 == 0 ? 2 : 1;  // micro-batches per step
    int ok = 1;
    vp_sampler *s = vp_calloc((size_t)world, sizeof(vp_sampler));
    for (int r = 0; r < world; r++) sampler_init(&s[r], n, G, r, world, 7, 1);
    int64_t *clip = vp_malloc((size_t)L * sizeof(int64_t)), *smp = vp_malloc((size_t)L * sizeof(int64_t));
    char *hit = vp_malloc((size_t)G);
    for (int st = 0; st < steps; st++) {
      memset(hit, 0, (size_t)G);
      for (int r = 0; r < world; r++) {
        for (int a = 0; a < accum; a++) sampler_next(&s[r], clip + a * (L / accum), smp + a * (L / accum), L / accum);
        for (int64_t k = 0; k < L; k++) {
          int64_t j = smp[k] - ref_smp[(int64_t)st * G];  // offset inside the global batch
          if (j < 0 || j >= G || hit[j] || ref_clip[(int64_t)st * G + j] != clip[k]) {
            ok = 0;
            continue;
          }
          hit[j] = 1;
        }
      }
      for (int64_t j = 0; j < G; j++) ok &= hit[j];
    }
    th_check(ok, "n=%lld G=%lld: %d ranks x %d micro-batches give world 1's global batches and sample indices",
             (long long)n, (long long)G, world, accum);
    for (int r = 0; r < world; r++) sampler_free(&s[r]);
    free(s);
    free(clip);
    free(smp);
    free(hit);
  }
  free(ref_clip);
  free(ref_smp);
}

// State saved after k clips and restored into a fresh sampler gives the
// identical remaining sequence (mid-epoch, at and across epoch boundaries).
static void check_resume(int64_t n, int64_t G, int rank, int world) {
  vp_sampler a;
  sampler_init(&a, n, G, rank, world, 11, 1);
  const int64_t len = sampler_rank_epoch_len(&a), more = 3 * len + 5;
  int64_t ks[] = {0, 1, len / 2, len - 1, len, len + 3, 2 * len + 1};
  int ok = 1;
  int64_t *c1 = vp_malloc((size_t)more * sizeof(int64_t)), *s1 = vp_malloc((size_t)more * sizeof(int64_t));
  int64_t *c2 = vp_malloc((size_t)more * sizeof(int64_t)), *s2 = vp_malloc((size_t)more * sizeof(int64_t));
  int64_t *skip = vp_malloc((size_t)(3 * len + 8) * sizeof(int64_t));
  for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
    vp_sampler x;
    sampler_init(&x, n, G, rank, world, 11, 1);
    if (ks[t] > 0) sampler_next(&x, skip, NULL, ks[t]);
    vp_sampler_state st = sampler_state_get(&x);
    sampler_next(&x, c1, s1, more);
    vp_sampler y;
    sampler_init(&y, n, G, rank, world, 11, 1);
    sampler_epoch_order(&y, 5);  // a stale cached order must not leak into the resumed run
    sampler_state_set(&y, st);
    sampler_next(&y, c2, s2, more);
    ok &= !memcmp(c1, c2, (size_t)more * sizeof(int64_t)) && !memcmp(s1, s2, (size_t)more * sizeof(int64_t));
    vp_sampler_state e1 = sampler_state_get(&x), e2 = sampler_state_get(&y);
    ok &= e1.epoch == e2.epoch && e1.cursor == e2.cursor;
    sampler_free(&x);
    sampler_free(&y);
  }
  th_check(ok, "n=%lld G=%lld rank %d/%d: resume from (epoch, cursor) continues identically",
           (long long)n, (long long)G, rank, world);
  free(c1); free(s1); free(c2); free(s2); free(skip);
  sampler_free(&a);
}

static void check_reproducible(void) {
  const int64_t n = 50, G = 10;
  int64_t a[200], b[200], c[200];
  vp_sampler s1, s2, s3;
  sampler_init(&s1, n, G, 1, 2, 3, 1);
  sampler_init(&s2, n, G, 1, 2, 3, 1);
  sampler_init(&s3, n, G, 1, 2, 4, 1);
  sampler_next(&s1, a, NULL, 200);
  sampler_next(&s2, b, NULL, 200);
  sampler_next(&s3, c, NULL, 200);
  th_check(!memcmp(a, b, sizeof a), "same (n, G, seed, rank) gives the same sequence");
  th_check(memcmp(a, c, sizeof a) != 0, "another seed gives another order");
  int64_t e0[50], e1[50];
  memcpy(e0, sampler_epoch_order(&s1, 0), sizeof e0);
  memcpy(e1, sampler_epoch_order(&s1, 1), sizeof e1);
  th_check(memcmp(e0, e1, sizeof e0) != 0, "epochs are shuffled differently");
  int ident = 1;
  vp_sampler o;
  sampler_init(&o, n, G, 0, 1, 3, 0);
  const int64_t *p = sampler_epoch_order(&o, 3);
  for (int64_t i = 0; i < n; i++) ident &= p[i] == i;
  th_check(ident, "shuffle off: the epoch order is 0..n-1");
  sampler_free(&s1); sampler_free(&s2); sampler_free(&s3); sampler_free(&o);
}

// Fisher-Yates draws every arrangement: over many epochs each clip lands in
// each position about equally often (a Sattolo slip or an off-by-one would
// leave zeros).
static void check_uniform(void) {
  const int64_t n = 5;
  const int epochs = 5000;
  int count[5][5] = {{0}};
  vp_sampler s;
  sampler_init(&s, n, 1, 0, 1, 9, 1);
  for (int e = 0; e < epochs; e++) {
    const int64_t *p = sampler_epoch_order(&s, e);
    for (int i = 0; i < n; i++) count[i][p[i]]++;
  }
  int ok = 1, lo = epochs, hi = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      ok &= count[i][j] > 850 && count[i][j] < 1150;  // mean 1000, sd 28
      if (count[i][j] < lo) lo = count[i][j];
      if (count[i][j] > hi) hi = count[i][j];
    }
  th_check(ok, "positions uniformly filled (counts %d..%d of 1000 expected)", lo, hi);
  sampler_free(&s);
}

static void bad_world(void) {
  vp_sampler s;
  sampler_init(&s, 10, 6, 0, 4, 0, 1);
}
static void bad_rank(void) {
  vp_sampler s;
  sampler_init(&s, 10, 6, 3, 3, 0, 1);
}
static void bad_empty(void) {
  vp_sampler s;
  sampler_init(&s, 0, 6, 0, 1, 0, 1);
}
static void bad_state(void) {
  vp_sampler s;
  sampler_init(&s, 10, 4, 0, 2, 0, 1);
  vp_sampler_state st = {0, 7};  // 3 global batches x 2 per rank = 6 per epoch
  sampler_state_set(&s, st);
}
static void bad_epoch(void) {
  vp_sampler s;
  sampler_init(&s, 10, 4, 0, 2, 0, 1);
  vp_sampler_state st = {-1, 0};
  sampler_state_set(&s, st);
}

int main(void) {
  const int64_t ns[] = {1, 7, 60, 61, 250};
  const int64_t Gs[] = {1, 4, 12, 60, 64};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    for (size_t j = 0; j < sizeof Gs / sizeof Gs[0]; j++)
      for (int world = 1; world <= 5; world++)
        if (Gs[j] % world == 0) {
          check_shares(ns[i], Gs[j], world, 5, 1);
          if (world == 2) check_shares(ns[i], Gs[j], world, 5, 0);
        }
  check_global_batches(250, 60, 12);  // 5 global batches per epoch: crosses 2 epochs
  check_global_batches(7, 60, 3);     // batch larger than the split
  for (int world = 1; world <= 5; world++)
    for (int r = 0; r < world; r++) check_resume(61, 60, r, world);
  check_resume(250, 4, 1, 2);
  check_resume(1, 1, 0, 1);
  check_reproducible();
  check_uniform();
  th_check(exit_status_of(bad_world) == 1, "batch not divisible by the ranks: error exit");
  th_check(exit_status_of(bad_rank) == 1, "rank outside the world: error exit");
  th_check(exit_status_of(bad_empty) == 1, "empty split: error exit");
  th_check(exit_status_of(bad_state) == 1, "cursor past the epoch: error exit");
  th_check(exit_status_of(bad_epoch) == 1, "negative epoch: error exit");
  return th_summary();
}
