// bench_io.c: clip-reading throughput of the data sources, per rank, from
// the page cache. A benchmark, not a test: it asserts nothing.
//
//   mpirun -np R bench_io [--dir DIR] [--clips N] [--frames T] [--size S]
//                         [--passes P] [--readers packed,nc4,nc3] [--json]
//
// Rank 0 makes the input files in DIR once (kept for reuse, named by their
// shape): the packed HDF5 file `vpcast data synth` writes (rgb uint8 x3,
// depth uint16, semantic uint8), and ERA5-like NetCDF files of two variables
// (t2m, sp) on an S x S grid in the new CDS layout (NetCDF4, float32, zlib 1
// + shuffle, chunks of 12 steps) and the legacy one (NetCDF3, int16 packed),
// N * T time steps so the era5 reader with stride T has N clips. Every rank
// then opens each source through io/source.h, reads its sampler share once
// (warm-up: the files are in the page cache afterwards) and then P times,
// timed, in the shuffled training order, one clip at a time.
// Reported per rank: clips/s, MB/s of stored values (uncompressed raw bytes:
// what the file holds per clip) and MB/s of decoded float32 output.
// bench/compare_io.py runs this with 1 and 2 ranks and reads the same files
// with h5py and netCDF4-python for the side-by-side table in
// docs/performance.md.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "dist/comm.h"
#include "io/era5_synth.h"
#include "io/sampler.h"
#include "io/source.h"
#include "io/synth.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && st.st_size > 0;
}

typedef struct bench_args {
  char dir[512];
  int clips, frames, size, passes, json;
  char readers[128];
} bench_args;

static void usage(void) {
  fprintf(stderr, "usage: bench_io [--dir DIR] [--clips N] [--frames T] [--size S] [--passes P] "
                  "[--readers packed,nc4,nc3] [--json]\n");
  exit(2);
}

static void parse(bench_args *a, int argc, char **argv) {
  snprintf(a->dir, sizeof a->dir, "/tmp/vpcast-bench-io");
  a->clips = 64;
  a->frames = 16;
  a->size = 128;
  a->passes = 3;
  a->json = 0;
  snprintf(a->readers, sizeof a->readers, "packed,nc4,nc3");
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(k, "--json")) {
      a->json = 1;
      continue;
    }
    if (!v) usage();
    if (!strcmp(k, "--dir")) snprintf(a->dir, sizeof a->dir, "%s", v);
    else if (!strcmp(k, "--clips")) a->clips = atoi(v);
    else if (!strcmp(k, "--frames")) a->frames = atoi(v);
    else if (!strcmp(k, "--size")) a->size = atoi(v);
    else if (!strcmp(k, "--passes")) a->passes = atoi(v);
    else if (!strcmp(k, "--readers")) snprintf(a->readers, sizeof a->readers, "%s", v);
    else usage();
    i++;
  }
  if (a->clips < 1 || a->frames < 1 || a->size < 8 || a->passes < 1) usage();
}

// The input files of this shape (made by rank 0 when missing).
static void make_files(const bench_args *a, char paths[3][640]) {
  snprintf(paths[0], 640, "%s/synth_n%d_t%d_s%d.h5", a->dir, a->clips, a->frames, a->size);
  snprintf(paths[1], 640, "%s/era5new_n%d_t%d_s%d.nc", a->dir, a->clips, a->frames, a->size);
  snprintf(paths[2], 640, "%s/era5legacy_n%d_t%d_s%d.nc", a->dir, a->clips, a->frames, a->size);
  if (mkdir(a->dir, 0777) != 0 && errno != EEXIST) vp_die("bench_io: cannot create %s: %s", a->dir, strerror(errno));
  if (!file_exists(paths[0])) {
    synth_cfg sc = synth_default_cfg(a->frames, a->size);
    const int64_t counts[3] = {a->clips, 0, 0};
    synth_write_packed(paths[0], &sc, 1, counts, 0, 0);
  }
  for (int k = 1; k <= 2; k++) {
    if (file_exists(paths[k])) continue;
    era5_synth_opts o = era5_synth_defaults(k == 1 ? ERA5_SYNTH_NEW : ERA5_SYNTH_LEGACY,
                                            (int64_t)a->clips * a->frames, a->size, a->size);
    era5_synth_write(paths[k], &o, NULL, NULL);
  }
}

static vp_source *open_yaml(const char *yaml) {
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  cfg_load_yaml_string(cfg, yaml, "bench_io", &err);
  if (!err.n) cfg_bind(cfg, opts_data, &err);
  if (err.n) {
    err_print(&err, stderr);
    vp_die("bench_io: internal config does not bind");
  }
  vp_source *s = source_open(cfg);
  cfg_free(cfg);
  return s;
}

typedef struct result {
  double open_s, clips_s, raw_mb_s, out_mb_s;
} result;

// Reads this rank's share `passes` times (after one warm-up pass).
static result bench_source(const vp_comm *c, const char *yaml, double raw_bytes_per_clip, int passes) {
  result r;
  comm_barrier(c);
  double t0 = now_s();
  vp_source *s = open_yaml(yaml);
  r.open_s = now_s() - t0;
  int64_t n = source_count(s);
  double out_bytes = 0;
  for (int m = 0; m < s->nmod; m++) out_bytes += 4.0 * s->T * s->H * s->W * s->mod[m].channels;
  vp_sampler smp;
  sampler_init(&smp, n, c->size, c->rank, c->size, 1, 1);
  const int64_t len = sampler_rank_epoch_len(&smp);
  vp_clip *clip = clip_alloc(s);
  int64_t idx;
  for (int64_t k = 0; k < len; k++) {  // warm-up
    sampler_next(&smp, &idx, NULL, 1);
    source_read(s, idx, clip);
  }
  comm_barrier(c);
  t0 = now_s();
  for (int p = 0; p < passes; p++)
    for (int64_t k = 0; k < len; k++) {
      sampler_next(&smp, &idx, NULL, 1);
      source_read(s, idx, clip);
    }
  double dt = now_s() - t0;
  r.clips_s = (double)(passes * len) / dt;
  r.raw_mb_s = r.clips_s * raw_bytes_per_clip / 1e6;
  r.out_mb_s = r.clips_s * out_bytes / 1e6;
  clip_free(clip);
  sampler_free(&smp);
  source_close(s);
  comm_barrier(c);
  return r;
}

int main(int argc, char **argv) {
  vp_comm c;
  comm_init(&c, &argc, &argv);
  bench_args a;
  parse(&a, argc, argv);
  char paths[3][640];
  if (c.rank == 0) make_files(&a, paths);
  comm_barrier(&c);
  if (c.rank != 0) make_files(&a, paths);  // names only: the files exist now

  const double px = (double)a.frames * a.size * a.size;
  const char *names[3] = {"packed", "nc4", "nc3"};
  const char *desc[3] = {"packed HDF5 (rgb u8 x3, depth u16, sem u8)", "NetCDF4 era5 (t2m, sp f32, zlib)",
                         "NetCDF3 era5 (t2m, sp i16 packed)"};
  const double raw_bytes[3] = {px * (3 + 2 + 1), px * 4 * 2, px * 2 * 2};
  if (c.rank == 0 && !a.json)
    printf("bench_io: %d clips of %d frames %dx%d, %d ranks, %d timed passes, files in %s\n", a.clips,
           a.frames, a.size, a.size, c.size, a.passes, a.dir);
  for (int k = 0; k < 3; k++) {
    if (!strstr(a.readers, names[k])) continue;
    char yaml[4096];
    if (k == 0)
      snprintf(yaml, sizeof yaml, "data: {source: packed, path: '%s', frames: %d}\n", paths[0], a.frames);
    else
      snprintf(yaml, sizeof yaml,
               "data: {source: era5, path: '%s', frames: %d, size: [%d, %d], modalities: [t2m, sp],\n"
               "       era5: {stride: %d, train_fraction: 1.0, cache_mb: 0}}\n",
               paths[k], a.frames, a.size, a.size, a.frames);
    result r = bench_source(&c, yaml, raw_bytes[k], a.passes);
    double v[4] = {r.open_s, r.clips_s, r.raw_mb_s, r.out_mb_s};
    double *all = vp_malloc((size_t)c.size * 4 * sizeof(double));
    comm_allgather_f64(&c, v, 4, all);
    if (c.rank == 0) {
      double tot = 0, totmb = 0;
      for (int i = 0; i < c.size; i++) {
        tot += all[4 * i + 1];
        totmb += all[4 * i + 2];
      }
      if (a.json) {
        printf("{\"reader\": \"%s\", \"ranks\": %d, \"clips\": %d, \"frames\": %d, \"size\": %d, "
               "\"open_s\": %.4f, \"clips_per_s\": [", names[k], c.size, a.clips, a.frames, a.size, all[0]);
        for (int i = 0; i < c.size; i++) printf("%s%.2f", i ? ", " : "", all[4 * i + 1]);
        printf("], \"raw_mb_per_s\": [");
        for (int i = 0; i < c.size; i++) printf("%s%.1f", i ? ", " : "", all[4 * i + 2]);
        printf("], \"out_mb_per_s\": [");
        for (int i = 0; i < c.size; i++) printf("%s%.1f", i ? ", " : "", all[4 * i + 3]);
        printf("]}\n");
      } else {
        printf("%-44s open %.3f s\n", desc[k], all[0]);
        for (int i = 0; i < c.size; i++)
          printf("  rank %d: %8.1f clips/s  %8.1f MB/s stored  %8.1f MB/s float32\n", i, all[4 * i + 1],
                 all[4 * i + 2], all[4 * i + 3]);
        printf("  total:  %8.1f clips/s  %8.1f MB/s stored\n", tot, totmb);
      }
      fflush(stdout);
    }
    free(all);
  }
  comm_finalize(&c);
  return 0;
}
