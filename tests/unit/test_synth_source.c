// test_synth_source.c: data.source: synth (shapes, modality selection,
// splits, masks, decoding, raw statistics and their shares) and the packed
// file `vpcast data synth` writes: its raw content read back with libhdf5,
// determinism, and the packed reader giving the very clips and statistics
// of the synth source.
#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "harness.h"
#include "io/source.h"
#include "io/synth.h"

static vp_config *make_cfg(const char *yaml) {
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  cfg_load_yaml_string(cfg, yaml, "test.yaml", &err);
  cfg_bind(cfg, opts_data, &err);
  if (err.n) {
    err_print(&err, stderr);
    vp_die("test config does not bind");
  }
  return cfg;
}

static vp_source *open_yaml(const char *yaml) {
  vp_config *cfg = make_cfg(yaml);
  vp_source *s = source_open(cfg);
  cfg_free(cfg);
  return s;
}

static const char *bad_yaml;
static void open_bad(void) { open_yaml(bad_yaml); }

// Exit status of opening bad_yaml in a child (-1: no normal exit).
static int open_status(const char *yaml) {
  bad_yaml = yaml;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(99);
    alarm(20);
    open_bad();
    _exit(0);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void check_shape_and_decoding(void) {
  vp_source *s = open_yaml("data: {source: synth, frames: 5, size: [12, 20], synth: {clips: 7, seed: 3}}\n");
  th_check(source_count(s) == 7 && s->T == 5 && s->H == 12 && s->W == 20 && s->nmod == 3,
           "count and shape from data.* keys");
  th_check(!strcmp(s->mod[0].name, "rgb") && s->mod[0].channels == 3 && s->mod[0].kind == VP_MOD_RGB &&
               !strcmp(s->mod[1].name, "depth") && s->mod[1].channels == 1 && s->mod[1].kind == VP_MOD_DEPTH &&
               !strcmp(s->mod[2].name, "semantic") && s->mod[2].channels == 1 &&
               s->mod[2].kind == VP_MOD_SEMANTIC && !s->mod[0].has_mask && !s->mod[1].has_mask,
           "modalities rgb (3), depth (1), semantic (1), no masks");
  vp_clip *c = clip_alloc(s);
  source_read(s, 4, c);
  synth_cfg sc = synth_default_cfg(5, 12);
  sc.width = 20;
  const size_t px = 5 * 12 * 20;
  uint8_t *rgb = vp_malloc(px * 3), *sem = vp_malloc(px);
  uint16_t *dep = vp_malloc(px * 2);
  synth_clip_raw(&sc, 3, 4, 0, rgb, dep, sem);
  double e_rgb = 0, e_dep = 0;
  int sem_ok = 1;
  for (size_t k = 0; k < px * 3; k++) e_rgb = fmax(e_rgb, fabs(c->data[0][k] - (rgb[k] / 127.5 - 1.0)));
  for (size_t k = 0; k < px; k++) {
    e_dep = fmax(e_dep, fabs(c->data[1][k] - (dep[k] / 256.0 / 40.0 - 1.0)));
    sem_ok &= c->data[2][k] == (float)sem[k];
  }
  th_check(e_rgb < 1e-6, "rgb = code / 127.5 - 1 (err %.2e)", e_rgb);
  th_check(e_dep < 1e-6, "depth = metres / 40 - 1 (err %.2e)", e_dep);
  th_check(sem_ok, "semantic = class id");
  // The codes follow the float generator.
  float *frgb = vp_malloc(px * 3 * sizeof(float)), *fdep = vp_malloc(px * sizeof(float));
  synth_clip(&sc, 3, 4, frgb, fdep, NULL);
  double q_rgb = 0, q_dep = 0;
  for (size_t k = 0; k < px * 3; k++) q_rgb = fmax(q_rgb, fabs(rgb[k] / 255.0 - frgb[k]));
  for (size_t k = 0; k < px; k++) q_dep = fmax(q_dep, fabs(dep[k] / 256.0 - 80.0 * fdep[k]));
  th_check(q_rgb <= 0.5 / 255 + 1e-6 && q_dep <= 0.5 / 256 + 1e-6, "codes are the rounded physical values");
  // Clips differ by index and are reproducible.
  vp_clip *c2 = clip_alloc(s);
  source_read(s, 5, c2);
  th_check(memcmp(c->data[0], c2->data[0], px * 3 * sizeof(float)) != 0, "clips 4 and 5 differ");
  source_read(s, 4, c2);
  th_check(!memcmp(c->data[0], c2->data[0], px * 3 * sizeof(float)) &&
               !memcmp(c->data[1], c2->data[1], px * sizeof(float)),
           "reading clip 4 again gives the same clip");
  free(rgb); free(sem); free(dep); free(frgb); free(fdep);
  clip_free(c);
  clip_free(c2);
  source_close(s);
}

static void check_selection_splits_masks(void) {
  vp_source *all = open_yaml("data: {source: synth, frames: 3, size: [16, 16], synth: {clips: 4, seed: 9}}\n");
  vp_source *sel = open_yaml("data: {source: synth, frames: 3, size: [16, 16], modalities: [semantic, rgb],\n"
                             "       synth: {clips: 4, seed: 9}}\n");
  th_check(sel->nmod == 2 && !strcmp(sel->mod[0].name, "semantic") && !strcmp(sel->mod[1].name, "rgb"),
           "data.modalities selects and orders");
  vp_clip *a = clip_alloc(all), *b = clip_alloc(sel);
  source_read(all, 2, a);
  source_read(sel, 2, b);
  const size_t px = 3 * 16 * 16;
  th_check(!memcmp(a->data[2], b->data[0], px * sizeof(float)) &&
               !memcmp(a->data[0], b->data[1], px * 3 * sizeof(float)),
           "selected modalities equal the full clip's");
  clip_free(b);

  vp_source *test = open_yaml("data: {source: synth, split: test, frames: 3, size: [16, 16], synth: {clips: 4, seed: 9}}\n");
  vp_clip *t = clip_alloc(test);
  source_read(test, 2, t);
  th_check(memcmp(a->data[0], t->data[0], px * 3 * sizeof(float)) != 0, "test clip 2 is not train clip 2");
  synth_cfg sc = synth_default_cfg(3, 16);
  uint8_t *sem = vp_malloc(px);
  synth_clip_raw(&sc, 9, 2 * SYNTH_SPLIT_STRIDE + 2, 0, NULL, NULL, sem);
  int ok = 1;
  for (size_t k = 0; k < px; k++) ok &= t->data[2][k] == (float)sem[k];
  th_check(ok, "test clip j is synth index 2 * 2^40 + j");
  free(sem);
  clip_free(t);
  source_close(test);

  vp_source *msk = open_yaml("data: {source: synth, frames: 3, size: [16, 16], synth: {clips: 4, seed: 9, invalid_sky: true}}\n");
  th_check(msk->mod[1].has_mask && !msk->mod[0].has_mask && !msk->mod[2].has_mask, "invalid_sky: depth has a mask");
  vp_clip *m = clip_alloc(msk);
  source_read(msk, 2, m);
  int mask_ok = 1, sky = 0;
  for (size_t k = 0; k < px; k++) {
    int is_sky = a->data[2][k] == (float)SYNTH_SKY;
    sky += is_sky;
    mask_ok &= m->mask[1][k] == !is_sky;
    mask_ok &= is_sky ? m->data[1][k] == 0.0f : m->data[1][k] == a->data[1][k];
  }
  th_check(mask_ok && sky > 0, "sky pixels (%d) masked with value 0, the rest unchanged", sky);
  clip_free(m);
  clip_free(a);
  source_close(msk);
  source_close(sel);
  source_close(all);

  th_check(open_status("data: {source: synth, modalities: [rgb, flow]}\n") == 1, "unknown modality: error exit");
  th_check(open_status("data: {source: synth, modalities: [rgb, rgb]}\n") == 1, "modality twice: error exit");
  th_check(open_status("data: {source: synth, split: holdout}\n") == 1, "unknown split: error exit");
  th_check(open_status("data: {source: synth, synth: {objects: [5, 2]}}\n") == 1, "objects min > max: error exit");
}

// Raw statistics: shares over any number of ranks add up to the whole, and
// the whole matches a direct count over the codes.
static void check_raw_stats(void) {
  vp_source *s = open_yaml("data: {source: synth, frames: 4, size: [10, 14], synth: {clips: 11, seed: 2, invalid_sky: true}}\n");
  vp_raw_stats whole[3];
  raw_stats_init(whole, 3);
  s->ops->raw_stats(s, 0, 1, whole);
  // direct
  synth_cfg sc = synth_default_cfg(4, 10);
  sc.width = 14;
  const size_t px = 4 * 10 * 14;
  uint8_t *rgb = vp_malloc(px * 3), *sem = vp_malloc(px);
  uint16_t *dep = vp_malloc(px * 2);
  int64_t sum[3] = {0}, valid[3] = {0}, mn[3] = {999999, 999999, 999999}, mx[3] = {-1, -1, -1};
  for (int i = 0; i < 11; i++) {
    synth_clip_raw(&sc, 2, (uint64_t)i, 1, rgb, dep, sem);
    for (size_t k = 0; k < px * 3; k++) {
      sum[0] += rgb[k]; valid[0]++;
      if (rgb[k] < mn[0]) mn[0] = rgb[k];
      if (rgb[k] > mx[0]) mx[0] = rgb[k];
    }
    for (size_t k = 0; k < px; k++) {
      if (dep[k]) {
        sum[1] += dep[k]; valid[1]++;
        if (dep[k] < mn[1]) mn[1] = dep[k];
        if (dep[k] > mx[1]) mx[1] = dep[k];
      }
      sum[2] += sem[k]; valid[2]++;
      if (sem[k] < mn[2]) mn[2] = sem[k];
      if (sem[k] > mx[2]) mx[2] = sem[k];
    }
  }
  const double scale[3] = {1.0 / 255, 1.0 / 256, 1.0};
  int ok = 1;
  for (int m = 0; m < 3; m++) {
    ok &= whole[m].valid == valid[m] && whole[m].total == 11 * (int64_t)px * (m == 0 ? 3 : 1);
    ok &= whole[m].min == mn[m] * scale[m] && whole[m].max == mx[m] * scale[m];
    ok &= fabs(whole[m].sum - sum[m] * scale[m]) <= 1e-9 * fabs(sum[m] * scale[m]);
  }
  th_check(ok, "raw stats equal a direct count (valid, total, min, max, sum)");
  th_check(whole[1].valid < whole[1].total && whole[1].min >= 0.15 * 80 - 0.01 && whole[1].max <= 0.9 * 80 + 0.01,
           "depth stats skip the invalid sky: [%g, %g] m, %lld of %lld valid", whole[1].min, whole[1].max,
           (long long)whole[1].valid, (long long)whole[1].total);
  for (int nr = 2; nr <= 5; nr++) {
    vp_raw_stats part[3], acc[3];
    raw_stats_init(acc, 3);
    for (int r = 0; r < nr; r++) {
      raw_stats_init(part, 3);
      s->ops->raw_stats(s, r, nr, part);
      for (int m = 0; m < 3; m++) {
        acc[m].valid += part[m].valid;
        acc[m].total += part[m].total;
        acc[m].sum += part[m].sum;
        acc[m].min = fmin(acc[m].min, part[m].min);
        acc[m].max = fmax(acc[m].max, part[m].max);
      }
    }
    int eq = 1;
    for (int m = 0; m < 3; m++)
      eq &= acc[m].valid == whole[m].valid && acc[m].total == whole[m].total && acc[m].min == whole[m].min &&
            acc[m].max == whole[m].max && fabs(acc[m].sum - whole[m].sum) <= 1e-12 * whole[m].sum;
    th_check(eq, "%d shares add up to the whole", nr);
  }
  free(rgb); free(sem); free(dep);
  source_close(s);
}

// ---- the packed file of `vpcast data synth` ----

static void read_u(hid_t f, const char *name, hid_t type, void *buf) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  th_check(d >= 0 && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "read %s", name);
  if (d >= 0) H5Dclose(d);
}

static void check_packed_file(const char *dir) {
  char f1[512], f2[512];
  snprintf(f1, sizeof f1, "%s/a.h5", dir);
  snprintf(f2, sizeof f2, "%s/b.h5", dir);
  synth_cfg sc = synth_default_cfg(6, 16);
  sc.width = 24;
  const int64_t counts[3] = {5, 0, 3};
  int nt = omp_get_max_threads();
  synth_write_packed(f1, &sc, 42, counts, 1, 0);
  omp_set_num_threads(1);
  synth_write_packed(f2, &sc, 42, counts, 1, 0);
  omp_set_num_threads(nt);

  // Raw content with plain libhdf5: the codes of synth_clip_raw, clip j of
  // split s at s * 2^40 + j; the split table; the decoding attributes.
  const size_t px = 6 * 16 * 24;
  uint8_t *rgb = vp_malloc(8 * px * 3), *sem = vp_malloc(8 * px), *split = vp_malloc(8);
  uint16_t *dep = vp_malloc(8 * px * 2);
  hid_t f = H5Fopen(f1, H5F_ACC_RDONLY, H5P_DEFAULT);
  th_check(f >= 0, "synth file opens with libhdf5");
  read_u(f, "/modalities/rgb/frames", H5T_NATIVE_UINT8, rgb);
  read_u(f, "/modalities/depth/frames", H5T_NATIVE_UINT16, dep);
  read_u(f, "/modalities/semantic/frames", H5T_NATIVE_UINT8, sem);
  read_u(f, "/clips/split", H5T_NATIVE_UINT8, split);
  hid_t d = H5Dopen2(f, "/modalities/depth/frames", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t dims[5] = {0};
  H5Sget_simple_extent_dims(sp, dims, NULL);
  th_check(H5Sget_simple_extent_ndims(sp) == 5 && dims[0] == 8 && dims[1] == 6 && dims[2] == 16 && dims[3] == 24 &&
               dims[4] == 1, "depth frames are (8, 6, 16, 24, 1)");
  H5Sclose(sp);
  H5Dclose(d);
  double scale = 0;
  hid_t g = H5Gopen2(f, "/modalities/depth", H5P_DEFAULT);
  hid_t a = H5Aopen(g, "scale", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_DOUBLE, &scale);
  H5Aclose(a);
  H5Gclose(g);
  th_check(scale == 1.0 / 256, "depth scale attribute 1/256 m");
  H5Fclose(f);
  uint8_t *r = vp_malloc(px * 3), *s8 = vp_malloc(px);
  uint16_t *d16 = vp_malloc(px * 2);
  int ok = 1;
  for (int k = 0; k < 8; k++) {
    int s = k < 5 ? 0 : 2, j = k < 5 ? k : k - 5;
    synth_clip_raw(&sc, 42, (uint64_t)s * SYNTH_SPLIT_STRIDE + (uint64_t)j, 1, r, d16, s8);
    ok &= split[k] == s && !memcmp(r, rgb + k * px * 3, px * 3) && !memcmp(d16, dep + k * px, px * 2) &&
          !memcmp(s8, sem + k * px, px);
  }
  th_check(ok, "file holds the codes of the synth clips, train then test");
  free(r); free(s8); free(d16);
  free(rgb); free(sem); free(split); free(dep);

  // Determinism: the same arguments give the same data on any thread count.
  hid_t fa = H5Fopen(f1, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(f2, H5F_ACC_RDONLY, H5P_DEFAULT);
  uint16_t *x = vp_malloc(8 * px * 2), *y = vp_malloc(8 * px * 2);
  read_u(fa, "/modalities/depth/frames", H5T_NATIVE_UINT16, x);
  read_u(fb, "/modalities/depth/frames", H5T_NATIVE_UINT16, y);
  th_check(!memcmp(x, y, 8 * px * 2), "1 thread and %d threads write the same clips", nt);
  free(x); free(y);
  H5Fclose(fa);
  H5Fclose(fb);

  // The packed reader gives the synth source's clips and statistics.
  const char *splits[2] = {"train", "test"};
  const int n[2] = {5, 3};
  for (int t = 0; t < 2; t++) {
    char y1[1024], y2[1024];
    snprintf(y1, sizeof y1, "data: {source: packed, path: '%s', split: %s, frames: 6}\n", f1, splits[t]);
    snprintf(y2, sizeof y2, "data: {source: synth, split: %s, frames: 6, size: [16, 24],\n"
             "       synth: {clips: %d, seed: 42, invalid_sky: true}}\n", splits[t], n[t]);
    vp_source *pk = open_yaml(y1), *sy = open_yaml(y2);
    th_check(source_count(pk) == n[t] && source_count(sy) == n[t] && pk->nmod == 3 && pk->H == 16 && pk->W == 24,
             "%s: packed reader sees %d clips of 16x24", splits[t], n[t]);
    vp_clip *cp = clip_alloc(pk), *cs = clip_alloc(sy);
    int same = 1;
    for (int i = 0; i < n[t] && source_count(pk) == n[t]; i++) {
      source_read(pk, i, cp);
      source_read(sy, i, cs);
      for (int m = 0; m < 3; m++) {
        same &= pk->mod[m].channels == sy->mod[m].channels && !strcmp(pk->mod[m].name, sy->mod[m].name);
        same &= !memcmp(cp->data[m], cs->data[m], px * (size_t)sy->mod[m].channels * sizeof(float));
        same &= (cp->mask[m] == NULL) == (cs->mask[m] == NULL);
        if (cp->mask[m] && cs->mask[m]) same &= !memcmp(cp->mask[m], cs->mask[m], px);
      }
    }
    th_check(same, "%s: packed reader clips are bit-identical to the synth source's", splits[t]);
    for (int nr = 1; nr <= 3; nr++)
      for (int rk = 0; rk < nr; rk++) {
        vp_raw_stats a3[3], b3[3];
        raw_stats_init(a3, 3);
        raw_stats_init(b3, 3);
        pk->ops->raw_stats(pk, rk, nr, a3);
        sy->ops->raw_stats(sy, rk, nr, b3);
        int eq = 1;
        for (int m = 0; m < 3; m++)
          eq &= a3[m].min == b3[m].min && a3[m].max == b3[m].max && a3[m].sum == b3[m].sum &&
                a3[m].valid == b3[m].valid && a3[m].total == b3[m].total;
        th_check(eq, "%s: share %d/%d: packed and synth raw stats bit-identical", splits[t], rk, nr);
      }
    clip_free(cp);
    clip_free(cs);
    source_close(pk);
    source_close(sy);
  }
  remove(f1);
  remove(f2);
}

int main(void) {
  check_shape_and_decoding();
  check_selection_splits_masks();
  check_raw_stats();
  char dir[] = "/tmp/vp_synth_src_XXXXXX";
  th_check(mkdtemp(dir) != NULL, "mkdtemp");
  check_packed_file(dir);
  rmdir(dir);
  return th_summary();
}
