// test_loader.c: the prefetching loader gives exactly the batches of
// synchronous reading (synth and packed sources, prefetch on and off, any
// batch size, any rank, the training thread doing HDF5 work meanwhile),
// reads ahead on its own thread, resumes from its state, shuts down cleanly
// mid-read, honours the HDF5 lock, and ends the program with the reader's
// message when a read fails.
#include <hdf5.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "harness.h"
#include "io/hdf5_lock.h"
#include "io/loader.h"
#include "io/source.h"
#include "io/synth.h"

static vp_source *open_source(const char *yaml) {
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  cfg_load_yaml_string(cfg, yaml, "test.yaml", &err);
  cfg_bind(cfg, opts_data, &err);
  if (err.n) {
    err_print(&err, stderr);
    vp_die("test config does not bind");
  }
  vp_source *s = source_open(cfg);
  cfg_free(cfg);
  return s;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// ---- batches equal synchronous reading ----

static int batch_matches(vp_source *src, vp_sampler *ref, const vp_batch *b, vp_clip *c) {
  int64_t clip[64], smp[64];
  sampler_next(ref, clip, smp, b->n);
  vp_sampler_state st = sampler_state_get(ref);
  int ok = st.epoch == b->state.epoch && st.cursor == b->state.cursor;
  const size_t px = (size_t)src->T * src->H * src->W;
  for (int64_t k = 0; k < b->n; k++) {
    ok &= clip[k] == b->clip[k] && smp[k] == b->sample[k];
    source_read(src, clip[k], c);
    for (int m = 0; m < src->nmod; m++) {
      size_t nel = px * (size_t)src->mod[m].channels;
      ok &= !memcmp(c->data[m], b->data[m] + (size_t)k * nel, nel * sizeof(float));
      if (c->mask[m]) ok &= b->mask[m] && !memcmp(c->mask[m], b->mask[m] + (size_t)k * px, px);
    }
  }
  return ok;
}

static void check_equivalence(const char *yaml, const char *what) {
  vp_source *src = open_source(yaml);
  vp_source *src2 = open_source(yaml);  // the reference reads on its own source
  vp_clip *c = clip_alloc(src2);
  const int prefetch[] = {0, 1, 2, 5};
  const int64_t batch[] = {1, 3, 4};
  const int64_t n = source_count(src);
  for (int pi = 0; pi < 4; pi++)
    for (int bi = 0; bi < 3; bi++)
      for (int world = 1; world <= 2; world++) {
        int rank = world - 1;
        vp_sampler smp, ref;
        sampler_init(&smp, n, 12, rank, world, 3, 1);
        sampler_init(&ref, n, 12, rank, world, 3, 1);
        vp_loader *ld = loader_open(src, &smp, batch[bi], prefetch[pi]);
        int ok = 1;
        for (int it = 0; it < 9; it++) ok &= batch_matches(src2, &ref, loader_next(ld), c);
        loader_close(ld);
        th_check(ok, "%s: prefetch %d, batch %lld, rank %d/%d: batches equal synchronous reads", what,
                 prefetch[pi], (long long)batch[bi], rank, world);
        sampler_free(&smp);
        sampler_free(&ref);
      }
  clip_free(c);
  source_close(src);
  source_close(src2);
}

// ---- a fake source that counts reads and notes the reading thread ----

typedef struct fake {
  int64_t n;
  atomic_long reads;
  atomic_int off_main;   // a read ran off the main thread
  pthread_t main;
  int64_t die_at;        // read of this clip fails (-1: never)
  int sleep_ms;          // per read
} fake;

static int64_t fake_count(vp_source *s) { return ((fake *)s->impl)->n; }
static void fake_read(vp_source *s, int64_t i, vp_clip *out) {
  fake *f = s->impl;
  if (i == f->die_at) vp_die("fake.h5: clip %lld: corrupt chunk (test)", (long long)i);
  if (f->sleep_ms) sleep_ms(f->sleep_ms);
  size_t px = (size_t)s->T * s->H * s->W;
  for (size_t k = 0; k < px; k++) out->data[0][k] = (float)i + 0.001f * (float)k;
  if (!pthread_equal(pthread_self(), f->main)) atomic_store(&f->off_main, 1);
  atomic_fetch_add(&f->reads, 1);
}
static void fake_stats(vp_source *s, int r, int n, vp_raw_stats *st) { (void)s; (void)r; (void)n; (void)st; }
static void fake_close(vp_source *s) { (void)s; }
static const vp_source_ops fake_ops = {fake_count, fake_read, fake_stats, fake_close};

static vp_source fake_source(fake *f, int64_t n) {
  memset(f, 0, sizeof(*f));
  f->n = n;
  f->main = pthread_self();
  f->die_at = -1;
  vp_source s;
  memset(&s, 0, sizeof s);
  s.ops = &fake_ops;
  s.kind = "fakefile";  // not synth: reads take the HDF5 lock
  s.T = 2;
  s.H = 3;
  s.W = 4;
  s.nmod = 1;
  snprintf(s.mod[0].name, sizeof s.mod[0].name, "x");
  s.mod[0].channels = 1;
  s.impl = f;
  return s;
}

static void check_read_ahead(void) {
  fake f;
  vp_source src = fake_source(&f, 100);
  vp_sampler smp;
  sampler_init(&smp, 100, 2, 0, 1, 1, 1);
  vp_loader *ld = loader_open(&src, &smp, 2, 3);
  const vp_batch *b = loader_next(ld);
  sleep_ms(150);
  long r1 = atomic_load(&f.reads);
  th_check(r1 == 8, "prefetch 3: the held batch and 3 more are read (%ld of 8 clips)", r1);
  int first_ok = b->data[0][0] == (float)b->clip[0];
  b = loader_next(ld);
  sleep_ms(150);
  long r2 = atomic_load(&f.reads);
  th_check(r2 == 10, "the next batch frees a slot and one more batch is read (%ld of 10 clips)", r2);
  th_check(first_ok && b->data[0][0] == (float)b->clip[0], "batches hold their clips");
  th_check(atomic_load(&f.off_main) == 1, "prefetch reads run off the training thread");
  loader_close(ld);
  sampler_free(&smp);

  fake g;
  vp_source src0 = fake_source(&g, 100);
  sampler_init(&smp, 100, 2, 0, 1, 1, 1);
  ld = loader_open(&src0, &smp, 2, 0);
  loader_next(ld);
  sleep_ms(50);
  th_check(atomic_load(&g.reads) == 2 && atomic_load(&g.off_main) == 0,
           "prefetch 0: reads only the requested batch, on the training thread");
  th_check(loader_wait_seconds(ld) >= 0.0, "wait time is counted");
  loader_close(ld);
  sampler_free(&smp);
}

static void check_hdf5_lock(void) {
  fake f;
  vp_source src = fake_source(&f, 50);
  vp_sampler smp;
  sampler_init(&smp, 50, 1, 0, 1, 1, 1);
  io_hdf5_lock();
  io_hdf5_lock();  // recursive
  vp_loader *ld = loader_open(&src, &smp, 1, 2);
  sleep_ms(100);
  th_check(atomic_load(&f.reads) == 0, "no file read while another thread holds the HDF5 lock");
  io_hdf5_unlock();
  io_hdf5_unlock();
  const vp_batch *b = loader_next(ld);
  th_check(b->n == 1 && atomic_load(&f.reads) >= 1, "reads resume when the lock is released");
  loader_close(ld);
  sampler_free(&smp);
}

static void check_close_midway(void) {
  fake f;
  vp_source src = fake_source(&f, 1000);
  f.sleep_ms = 5;
  vp_sampler smp;
  sampler_init(&smp, 1000, 8, 0, 1, 1, 1);
  vp_loader *ld = loader_open(&src, &smp, 8, 4);
  loader_close(ld);  // before any batch
  ld = loader_open(&src, &smp, 8, 4);
  loader_next(ld);
  sleep_ms(12);
  loader_close(ld);  // the thread is mid-batch
  th_check(1, "close while the thread is mid-read returns");
  sampler_free(&smp);
}

// State after batch k restores into a new sampler + loader that continues
// with the batches the first loader would have produced.
static void check_resume(void) {
  vp_source *src = open_source("data: {source: synth, frames: 3, size: [8, 12], synth: {clips: 13}}\n");
  vp_sampler a;
  sampler_init(&a, 13, 4, 1, 2, 5, 1);
  vp_loader *la = loader_open(src, &a, 2, 2);
  vp_sampler_state st = loader_state(la);
  th_check(st.epoch == 0 && st.cursor == 0, "state before the first batch is the start");
  for (int i = 0; i < 5; i++) loader_next(la);
  st = loader_state(la);
  th_check(st.epoch == 1 && st.cursor == 2, "state after 5 batches of 2 (8 per rank per epoch): (%lld, %lld)",
           (long long)st.epoch, (long long)st.cursor);
  int64_t want[8][2];
  for (int i = 0; i < 8; i++) {
    const vp_batch *b = loader_next(la);
    want[i][0] = b->sample[0];
    want[i][1] = b->sample[1];
  }
  loader_close(la);
  vp_sampler b2;
  sampler_init(&b2, 13, 4, 1, 2, 5, 1);
  sampler_state_set(&b2, st);
  vp_loader *lb = loader_open(src, &b2, 2, 1);
  int ok = 1;
  for (int i = 0; i < 8; i++) {
    const vp_batch *b = loader_next(lb);
    ok &= b->sample[0] == want[i][0] && b->sample[1] == want[i][1];
  }
  th_check(ok, "a loader restored from the state continues with the same batches");
  loader_close(lb);
  sampler_free(&a);
  sampler_free(&b2);
  source_close(src);
}

// A failing read in the prefetch thread ends the program with status 1 and
// the reader's message (no hang, no crash).
static void check_thread_error(void) {
  char path[] = "/tmp/vp_loader_err_XXXXXX";
  int fd = mkstemp(path);
  th_check(fd >= 0, "mkstemp");
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (dup2(fd, 2) < 0) _exit(99);
    alarm(20);
    fake f;
    vp_source src = fake_source(&f, 100);
    f.die_at = 7;  // in the 4th batch of 2 (identity order)
    vp_sampler smp;
    sampler_init(&smp, 100, 2, 0, 1, 1, 0);
    vp_loader *ld = loader_open(&src, &smp, 2, 2);
    for (int i = 0; i < 20; i++) loader_next(ld);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  char msg[512] = "";
  lseek(fd, 0, SEEK_SET);
  ssize_t k = read(fd, msg, sizeof msg - 1);
  msg[k > 0 ? k : 0] = 0;
  close(fd);
  remove(path);
  th_check(WIFEXITED(st) && WEXITSTATUS(st) == 1, "failing read in the thread: exit status 1");
  th_check(strstr(msg, "fake.h5: clip 7: corrupt chunk") != NULL, "the reader's message is printed: %s", msg);
}

// The packed reader under the prefetch thread while the training thread
// does its own HDF5 work under io_hdf5_lock (as the checkpoint writer will).
static void check_packed_concurrent(void) {
  char dir[] = "/tmp/vp_loader_pk_XXXXXX";
  th_check(mkdtemp(dir) != NULL, "mkdtemp");
  char path[256], yaml[512];
  snprintf(path, sizeof path, "%s/s.h5", dir);
  synth_cfg sc = synth_default_cfg(3, 16);
  const int64_t counts[3] = {17, 0, 0};
  synth_write_packed(path, &sc, 8, counts, 1, 0);
  snprintf(yaml, sizeof yaml, "data: {source: packed, path: '%s', frames: 3}\n", path);
  check_equivalence(yaml, "packed file");

  vp_source *src = open_source(yaml), *ref_src = open_source(yaml);
  vp_clip *c = clip_alloc(ref_src);
  vp_sampler smp, ref;
  sampler_init(&smp, 17, 4, 0, 1, 2, 1);
  sampler_init(&ref, 17, 4, 0, 1, 2, 1);
  vp_loader *ld = loader_open(src, &smp, 2, 3);
  int ok = 1, h5ok = 1;
  uint16_t *dep = vp_malloc(17 * 3 * 16 * 16 * sizeof(uint16_t));
  for (int it = 0; it < 20; it++) {
    const vp_batch *b = loader_next(ld);
    io_hdf5_lock();  // the training thread's own HDF5 reads while the thread prefetches
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "/modalities/depth/frames", H5P_DEFAULT) : -1;
    h5ok &= d >= 0 && H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, dep) >= 0;
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    io_hdf5_unlock();
    ok &= batch_matches(ref_src, &ref, b, c);
  }
  th_check(ok && h5ok, "packed: prefetched batches stay exact while the training thread reads HDF5 under the lock");
  loader_close(ld);
  free(dep);
  clip_free(c);
  sampler_free(&smp);
  sampler_free(&ref);
  source_close(src);
  source_close(ref_src);
  remove(path);
  rmdir(dir);
}

int main(void) {
  check_equivalence("data: {source: synth, frames: 4, size: [16, 16], synth: {clips: 23}}\n", "synth rgb+depth+sem");
  check_equivalence("data: {source: synth, frames: 2, size: [8, 12], modalities: [depth, rgb],\n"
                    "       synth: {clips: 9, invalid_sky: true, seed: 4}}\n", "synth masked depth");
  check_packed_concurrent();
  check_read_ahead();
  check_hdf5_lock();
  check_close_midway();
  check_resume();
  check_thread_error();
  return th_summary();
}
