// test_metrics_networks.c: the lpips and fvd metrics of `vpcast metrics`
// end to end ($VP_BIN) with random network weights (redrawn from the
// lpips_i3d goldens through model_golden.h and written in the converters'
// HDF5 layout), against the same networks called in process with the
// conventions written out here independently: LPIPS per frame on
// channel-first [-1, 1] inputs, grey repeated to RGB, mean over frames, mean
// or min over samples; FVD from the I3D logits of 9-frame chunks (target =
// real, every sample = generated) and the Fréchet distance.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "eval/frechet.h"
#include "model_golden.h"
#include "models/i3d.h"
#include "models/lpips.h"
#include "models/weights_h5.h"

static char dir[256];
static int status;
static char out[16384], err[8192];

static void slurp(const char *name, char *buf, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "r");
  size_t k = f ? fread(buf, 1, n - 1, f) : 0;
  buf[k] = 0;
  if (f) fclose(f);
}

// Open MPI's own allocations at init are never freed; in a sanitizer build
// LeakSanitizer would fail every run for them, so they (only) are suppressed
// (as tests/unit/test_pack.c does). An isolated singleton skips starting an
// MPI daemon for each one-process run.
static const char *mpi_env(const char *dir) {
  static char env[1024];
  char supp[600];
  snprintf(supp, sizeof supp, "%s/lsan_mpi.supp", dir);
  FILE *f = fopen(supp, "w");
  if (!f) vp_die("test: cannot write %s", supp);
  fputs("leak:libmpi.so\nleak:libopen-rte.so\nleak:libopen-pal.so\nleak:libhwloc.so\nleak:libpmix.so\n"
        "leak:libevent\nleak:mca_\nleak:libopenblas\nleak:MPI_Init_thread\nleak:ompi_mpi_init\n"
        "leak:ompi_mpi_finalize\nleak:orte_init\n", f);
  fclose(f);
  snprintf(env, sizeof env, "LSAN_OPTIONS=suppressions=%s ASAN_OPTIONS=fast_unwind_on_malloc=0 "
           "OMPI_MCA_ess_singleton_isolated=1 OMP_NUM_THREADS=2", supp);
  return env;
}

static void run(const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cd %s && %s '%s' metrics %s >out.txt 2>err.txt", dir, mpi_env(dir), getenv("VP_BIN"),
           args);
  int rc = system(cmd);
  status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  slurp("out.txt", out, sizeof out);
  slurp("err.txt", err, sizeof err);
}

static double json_get(const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(out, pat);
  if (!p) return NAN;
  return strtod(p + strlen(pat), NULL);
}

static void write_frames(const char *name, int nd, const int64_t *dims, const float *v, double L) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t d[8];
  for (int i = 0; i < nd; i++) d[i] = (hsize_t)dims[i];
  hid_t sp = H5Screate_simple(nd, d, NULL);
  hid_t ds = H5Dcreate2(f, "frames", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  VP_ASSERT(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  if (L != 1.0) {
    hid_t as = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(ds, "data_range", H5T_IEEE_F64LE, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &L);
    H5Aclose(a);
    H5Sclose(as);
  }
  H5Dclose(ds);
  H5Sclose(sp);
  H5Fclose(f);
}

static void save_weights(hid_t g, const char *manifest, const char *path, const char *format) {
  mg_manifest w;
  mg_read(g, manifest, &w);
  vp_params p;
  mg_params(&w, &p);
  weights_h5_save_params(path, &p, format);
  params_free(&p);
  mg_free(&w);
}

static void test_lpips(hid_t g) {
  char wpath[512];
  snprintf(wpath, sizeof wpath, "%s/lpips.h5", dir);
  save_weights(g, "lpips_weights", wpath, "vpcast-lpips-alex-v0.1");
  lpips_model *m = lpips_load(wpath);
  vp_ctx ctx;
  ctx_init(&ctx, (size_t)16 << 20);
  ctx_set_training(&ctx, 0);
  for (int grey = 0; grey < 2; grey++) {
    const int64_t N = 2, S = 3, T = 2, H = 33, W = 36, C = grey ? 1 : 3, fs = H * W * C;
    const double L = 2.0;
    float *t = malloc((size_t)(N * T * fs) * sizeof(float)), *p = malloc((size_t)(N * S * T * fs) * sizeof(float));
    th_fill_uniform(t, N * T * fs, 51 + grey, 0.f, 2.f);
    th_fill_uniform(p, N * S * T * fs, 53 + grey, 0.f, 2.f);
    for (int64_t i = 0; i < N * S * T * fs; i++) p[i] = 0.5f * p[i] + 0.5f * t[(i / (S * T * fs)) * T * fs + i % (T * fs)];
    write_frames("t.h5", 5, (int64_t[]){N, T, H, W, C}, t, L);
    write_frames("p.h5", 6, (int64_t[]){N, S, T, H, W, C}, p, L);
    // Expected, in process: per (clip, sample, frame) one distance.
    double mean = 0.0, best = 0.0;
    float *a = malloc((size_t)(3 * H * W) * sizeof(float)), *b = malloc((size_t)(3 * H * W) * sizeof(float));
    for (int64_t c = 0; c < N; c++) {
      double smean = 0.0, smin = INFINITY;
      for (int64_t s = 0; s < S; s++) {
        double acc = 0.0;
        for (int64_t f = 0; f < T; f++) {
          for (int64_t ch = 0; ch < 3; ch++)
            for (int64_t y = 0; y < H; y++)
              for (int64_t x = 0; x < W; x++) {
                const int64_t src = (y * W + x) * C + (grey ? 0 : ch);
                a[(ch * H + y) * W + x] = (float)(p[((c * S + s) * T + f) * fs + src] / L * 2.0 - 1.0);
                b[(ch * H + y) * W + x] = (float)(t[(c * T + f) * fs + src] / L * 2.0 - 1.0);
              }
          float d;
          lpips_distance(m, &ctx, a, b, 1, H, W, &d);
          acc += d;
        }
        acc /= (double)T;
        smean += acc / (double)S;
        smin = fmin(smin, acc);
      }
      mean += smean / (double)N;
      best += smin / (double)N;
    }
    free(a);
    free(b);
    char args[1024];
    for (int mode = 0; mode < 2; mode++) {
      snprintf(args, sizeof args, "--pred p.h5 --target t.h5 --metrics lpips,mse --lpips-weights %s --samples %s", wpath,
               mode ? "best" : "mean");
      run(args);
      const double got = json_get("lpips"), want = mode ? best : mean;
      th_check(status == 0 && fabs(got - want) <= 1e-5 * fabs(want),
               "lpips (%s, %s): %.9g vs in-process %.9g (status %d %s)", grey ? "grey" : "RGB", mode ? "best" : "mean",
               got, want, status, err);
    }
    th_check(best < mean, "best-of-3 LPIPS %.6g below the mean %.6g", best, mean);
    free(t);
    free(p);
  }
  ctx_free(&ctx);
  lpips_free(m);
  // The same distance for identical inputs: 0.
  {
    const int64_t fs = 32 * 32 * 3;
    float *t = malloc((size_t)fs * sizeof(float));
    th_fill_uniform(t, fs, 61, 0.f, 1.f);
    write_frames("t.h5", 5, (int64_t[]){1, 1, 32, 32, 3}, t, 1.0);
    write_frames("p.h5", 5, (int64_t[]){1, 1, 32, 32, 3}, t, 1.0);
    char args[1024];
    snprintf(args, sizeof args, "--pred p.h5 --target t.h5 --metrics lpips --lpips-weights %s", wpath);
    run(args);
    th_check(status == 0 && fabs(json_get("lpips")) < 1e-6, "lpips of identical frames: %g", json_get("lpips"));
    free(t);
  }
  unlink(wpath);
}

static void test_fvd(hid_t g) {
  char wpath[512];
  snprintf(wpath, sizeof wpath, "%s/i3d.h5", dir);
  save_weights(g, "i3d_weights", wpath, "vpcast-i3d-kinetics400");
  // One clip of 19 frames, 1 sample, 8x10 RGB: with 9-frame chunks, 2 chunks
  // (the 19th frame dropped), so 2 real and 2 generated embeddings. (I3D at
  // 224x224 is slow on a CPU: keep the count of forward passes small.)
  const int64_t N = 1, T = 19, H = 8, W = 10, fs = H * W * 3, Tc = 9, NE = 2;
  float *t = malloc((size_t)(N * T * fs) * sizeof(float)), *p = malloc((size_t)(N * T * fs) * sizeof(float));
  th_fill_uniform(t, N * T * fs, 71, 0.f, 1.f);
  th_fill_uniform(p, N * T * fs, 72, 0.f, 1.f);
  write_frames("t.h5", 5, (int64_t[]){N, T, H, W, 3}, t, 1.0);
  write_frames("p.h5", 5, (int64_t[]){N, T, H, W, 3}, p, 1.0);
  char args[1024];
  snprintf(args, sizeof args, "--pred p.h5 --target t.h5 --metrics fvd --i3d-weights %s metrics.fvd_frames=9", wpath);
  run(args);
  const double got = json_get("fvd");
  i3d_model *m = i3d_load(wpath);
  vp_ctx ctx;
  ctx_init(&ctx, (size_t)64 << 20);
  ctx_set_training(&ctx, 0);
  double real[NE * I3D_CLASSES], fake[NE * I3D_CLASSES];
  float lg[I3D_CLASSES];
  for (int64_t c = 0; c < N; c++) {
    for (int64_t k = 0; k < T / Tc; k++) {
      i3d_logits(m, &ctx, t + (c * T + k * Tc) * fs, 1, Tc, H, W, lg);
      for (int j = 0; j < I3D_CLASSES; j++) real[(c * (T / Tc) + k) * I3D_CLASSES + j] = lg[j];
      i3d_logits(m, &ctx, p + (c * T + k * Tc) * fs, 1, Tc, H, W, lg);
      for (int j = 0; j < I3D_CLASSES; j++) fake[(c * (T / Tc) + k) * I3D_CLASSES + j] = lg[j];
    }
  }
  frechet_stats a, b;
  frechet_stats_init(&a, I3D_CLASSES);
  frechet_stats_init(&b, I3D_CLASSES);
  frechet_stats_compute(&a, fake, NE, NULL);
  frechet_stats_compute(&b, real, NE, NULL);
  const double want = frechet_distance_stats(&a, &b);
  th_check(status == 0 && fabs(got - want) <= 1e-6 * fabs(want) && want > 0,
           "fvd, 1 clip of 19 frames in 2 chunks of 9: %.10g vs in-process %.10g (status %d %s)", got, want, status, err);
  frechet_stats_free(&a);
  frechet_stats_free(&b);
  // Predictions equal to the targets: the same embeddings, FVD 0.
  run("--pred t.h5 --target t.h5 --metrics fvd metrics.fvd_frames=9 --i3d-weights i3d.h5");
  th_check(status == 0 && fabs(json_get("fvd")) < 1e-6, "fvd of the targets against themselves: %g (%s)",
           json_get("fvd"), err);
  ctx_free(&ctx);
  i3d_free(m);
  free(t);
  free(p);
  unlink(wpath);
}

int main(void) {
  // model_golden.h helpers this test does not need.
  (void)mg_tensor;
  (void)mg_tmp_cleanup;
  (void)mg_expect_die;
  snprintf(dir, sizeof dir, "/tmp/vp-metrics-net-XXXXXX");
  if (!mkdtemp(dir)) vp_die("mkdtemp failed");
  hid_t g = mg_open();
  test_lpips(g);
  test_fvd(g);
  H5Fclose(g);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return th_summary();
}
