// loader.c: batch ring filled by a prefetch thread (see loader.h).
// The ring has nslots = prefetch + 1 slots. Counters, guarded by mu:
//   produced: batches fully read (the producer fills slot produced % nslots)
//   consumed: batches handed to the training thread
//   released: batches the training thread is done with (it holds at most one)
// The producer may fill a slot when produced - released < nslots, i.e. the
// slot's previous batch has been released; the consumer may take one when
// consumed < produced.
#include "io/loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "io/hdf5_lock.h"

typedef struct slot {
  vp_batch b;
  vp_clip *views;   // (n) clips pointing into b's buffers, for source_read
} slot;

struct vp_loader {
  vp_source *src;
  vp_sampler *smp;
  int64_t n;
  int prefetch, nslots;
  int lock_io;            // file-backed source: reads hold io_hdf5_lock()
  slot *slots;
  vp_sampler_state state; // after the last batch handed out
  double wait_s;
  // prefetch thread
  pthread_t thread;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t can_fill, can_take;
  int64_t produced, consumed, released;
  int held;
  atomic_int stop;        // also read by the producer mid-batch, without mu
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHECK_PT(call)                                                                  \
  do {                                                                                  \
    int rc_ = (call);                                                                   \
    if (rc_ != 0) vp_die_at(__FILE__, __LINE__, "%s failed: %s", #call, strerror(rc_));  \
  } while (0)

static void slot_init(slot *sl, const vp_source *src, int64_t n) {
  vp_batch *b = &sl->b;
  memset(b, 0, sizeof(*b));
  b->n = n;
  b->T = src->T;
  b->H = src->H;
  b->W = src->W;
  b->nmod = src->nmod;
  const size_t px = (size_t)src->T * src->H * src->W;
  for (int m = 0; m < src->nmod; m++) {
    b->channels[m] = src->mod[m].channels;
    b->data[m] = vp_calloc((size_t)n * px * (size_t)b->channels[m], sizeof(float));
    if (src->mod[m].has_mask) b->mask[m] = vp_calloc((size_t)n * px, 1);
  }
  b->clip = vp_calloc((size_t)n, sizeof(int64_t));
  b->sample = vp_calloc((size_t)n, sizeof(int64_t));
  sl->views = vp_calloc((size_t)n, sizeof(vp_clip));
  for (int64_t k = 0; k < n; k++) {
    vp_clip *c = &sl->views[k];
    c->T = b->T;
    c->H = b->H;
    c->W = b->W;
    c->nmod = b->nmod;
    for (int m = 0; m < b->nmod; m++) {
      c->data[m] = b->data[m] + (size_t)k * px * (size_t)b->channels[m];
      c->mask[m] = b->mask[m] ? b->mask[m] + (size_t)k * px : NULL;
    }
  }
}

static void slot_free(slot *sl) {
  for (int m = 0; m < sl->b.nmod; m++) {
    free(sl->b.data[m]);
    free(sl->b.mask[m]);
  }
  free(sl->b.clip);
  free(sl->b.sample);
  free(sl->views);
}

// Reads the sampler's next batch into sl. Returns 0 when stopped midway
// (the prefetch thread only; stop may be NULL).
static int slot_fill(vp_loader *l, slot *sl, const atomic_int *stop) {
  vp_batch *b = &sl->b;
  sampler_next(l->smp, b->clip, b->sample, b->n);
  b->state = sampler_state_get(l->smp);
  for (int64_t k = 0; k < b->n; k++) {
    if (stop && atomic_load(stop)) return 0;
    if (l->lock_io) io_hdf5_lock();
    source_read(l->src, b->clip[k], &sl->views[k]);
    if (l->lock_io) io_hdf5_unlock();
  }
  return 1;
}

static void *producer(void *arg) {
  vp_loader *l = arg;
  for (;;) {
    CHECK_PT(pthread_mutex_lock(&l->mu));
    while (!atomic_load(&l->stop) && l->produced - l->released >= l->nslots)
      CHECK_PT(pthread_cond_wait(&l->can_fill, &l->mu));
    int stop = atomic_load(&l->stop);
    slot *sl = &l->slots[l->produced % l->nslots];
    CHECK_PT(pthread_mutex_unlock(&l->mu));
    if (stop) break;
    // The slot is ours until produced is bumped: the consumer never touches
    // slots at or past produced, and this one's previous batch is released.
    if (!slot_fill(l, sl, &l->stop)) break;
    CHECK_PT(pthread_mutex_lock(&l->mu));
    l->produced++;
    CHECK_PT(pthread_cond_signal(&l->can_take));
    CHECK_PT(pthread_mutex_unlock(&l->mu));
  }
  return NULL;
}

vp_loader *loader_open(vp_source *src, vp_sampler *smp, int64_t batch, int prefetch) {
  if (batch < 1) vp_die("loader: batch size %lld must be at least 1", (long long)batch);
  if (prefetch < 0 || prefetch > 64)
    vp_die("loader: data.prefetch = %d must be in [0, 64]", prefetch);
  vp_loader *l = vp_calloc(1, sizeof(*l));
  l->src = src;
  l->smp = smp;
  l->n = batch;
  l->prefetch = prefetch;
  l->nslots = prefetch > 0 ? prefetch + 1 : 1;
  l->lock_io = strcmp(src->kind, "synth") != 0;
  l->state = sampler_state_get(smp);
  l->slots = vp_calloc((size_t)l->nslots, sizeof(slot));
  for (int i = 0; i < l->nslots; i++) slot_init(&l->slots[i], src, batch);
  if (prefetch > 0) {
    CHECK_PT(pthread_mutex_init(&l->mu, NULL));
    CHECK_PT(pthread_cond_init(&l->can_fill, NULL));
    CHECK_PT(pthread_cond_init(&l->can_take, NULL));
    CHECK_PT(pthread_create(&l->thread, NULL, producer, l));
    l->started = 1;
  }
  return l;
}

const vp_batch *loader_next(vp_loader *l) {
  double t0 = now_s();
  slot *sl;
  if (l->prefetch == 0) {
    sl = &l->slots[0];
    slot_fill(l, sl, NULL);
  } else {
    CHECK_PT(pthread_mutex_lock(&l->mu));
    if (l->held) {
      l->released++;
      l->held = 0;
      CHECK_PT(pthread_cond_signal(&l->can_fill));
    }
    while (l->consumed == l->produced) CHECK_PT(pthread_cond_wait(&l->can_take, &l->mu));
    sl = &l->slots[l->consumed % l->nslots];
    l->consumed++;
    l->held = 1;
    CHECK_PT(pthread_mutex_unlock(&l->mu));
  }
  l->wait_s += now_s() - t0;
  l->state = sl->b.state;
  return &sl->b;
}

vp_sampler_state loader_state(const vp_loader *l) { return l->state; }

double loader_wait_seconds(const vp_loader *l) { return l->wait_s; }

void loader_close(vp_loader *l) {
  if (!l) return;
  if (l->started) {
    CHECK_PT(pthread_mutex_lock(&l->mu));
    atomic_store(&l->stop, 1);
    CHECK_PT(pthread_cond_broadcast(&l->can_fill));
    CHECK_PT(pthread_mutex_unlock(&l->mu));
    CHECK_PT(pthread_join(l->thread, NULL));
    pthread_cond_destroy(&l->can_fill);
    pthread_cond_destroy(&l->can_take);
    pthread_mutex_destroy(&l->mu);
  }
  for (int i = 0; i < l->nslots; i++) slot_free(&l->slots[i]);
  free(l->slots);
  free(l);
}
