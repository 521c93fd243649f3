// test_metrics_cli.c: `vpcast metrics` end to end ($VP_BIN): files written
// here with libhdf5, the JSON compared key by key with the Python reference
// (tools/ref_metrics.py, via the goldens of tools/golden/g_metrics.py) in
// both sample modes, S = 1 (crps equals mae), and bad inputs: mismatched
// shapes, wrong dataset names, NaN values, bad masks, missing weights,
// unknown metrics — a clear message and a non-zero status, never a crash.
//
//   test_metrics_cli              run the tests
//   test_metrics_cli --write DIR  write DIR/pred.h5 and DIR/target.h5 (random
//                                 clips, mask, features) for tests/mpi/test_metrics.sh
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "metrics_testutil.h"

static char tmpdir[256];

// ---- writing files ----

static hid_t h5_create(const char *name) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
  hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  VP_ASSERT(f >= 0);
  return f;
}

static hid_t h5_write(hid_t f, const char *name, hid_t type, hid_t mtype, int nd, const int64_t *dims,
                      const void *data) {
  hsize_t d[8];
  for (int i = 0; i < nd; i++) d[i] = (hsize_t)dims[i];
  hid_t sp = H5Screate_simple(nd, d, NULL);
  hid_t ds = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  VP_ASSERT(ds >= 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Sclose(sp);
  return ds;  // caller closes (attributes may go on it)
}

static void h5_f32(hid_t f, const char *name, int nd, const int64_t *dims, const float *data) {
  H5Dclose(h5_write(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nd, dims, data));
}

static void h5_attr(hid_t obj, const char *name, double v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  VP_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &v) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

// ---- running vpcast ----

static int status;  // exit status of the last run (-1: killed by a signal)
static const char *run_env = "";  // extra environment of the runs
static char out[65536], err[16384];

static void slurp(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
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

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...) {
  const char *bin = getenv("VP_BIN");
  VP_ASSERT(bin && *bin);
  char args[2048], cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof(args), fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof(cmd), "cd %s && %s %s '%s' metrics %s >out.txt 2>err.txt", tmpdir, mpi_env(tmpdir), run_env,
           bin, args);
  int rc = system(cmd);
  status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  char p[512];
  snprintf(p, sizeof(p), "%s/out.txt", tmpdir);
  slurp(p, out, sizeof(out));
  snprintf(p, sizeof(p), "%s/err.txt", tmpdir);
  slurp(p, err, sizeof(err));
}

// Value of "key" in the JSON on stdout: 1 found (null -> NaN), 0 missing.
static int json_get(const char *key, double *v) {
  char pat[128];
  snprintf(pat, sizeof(pat), "\"%s\": ", key);
  const char *p = strstr(out, pat);
  if (!p) return 0;
  p += strlen(pat);
  *v = strncmp(p, "null", 4) == 0 ? NAN : strtod(p, NULL);
  return 1;
}

// The last run failed cleanly: status 1 or 2, stderr has every pattern.
static void expect_error(const char *what, int want_status, int npat, ...) {
  int ok = status == want_status && out[0] == 0;
  va_list ap;
  va_start(ap, npat);
  for (int i = 0; i < npat; i++) {
    const char *pat = va_arg(ap, const char *);
    if (!strstr(err, pat)) {
      ok = 0;
      fprintf(stderr, "  missing in stderr: '%s'\n", pat);
    }
  }
  va_end(ap);
  th_check(ok, "%s: status %d (want %d), stderr: %.300s", what, status, want_status, err);
}

// ---- end to end against the Python reference ----

static void write_case(hid_t g, const char *cas, int with_range) {
  char p[128];
  int64_t dp[8], dt[8], dm[8], dfp[8], dft[8], n;
  snprintf(p, sizeof(p), "e2e/%s/pred", cas);
  float *pred = mt_f32(g, p, dp, &n);
  snprintf(p, sizeof(p), "e2e/%s/target", cas);
  float *tgt = mt_f32(g, p, dt, &n);
  snprintf(p, sizeof(p), "e2e/%s/mask", cas);
  uint8_t *mask = mt_read(g, p, H5T_NATIVE_UINT8, 1, dm, NULL, &n);
  snprintf(p, sizeof(p), "e2e/%s/feat_pred", cas);
  float *fp = mt_f32(g, p, dfp, &n);
  snprintf(p, sizeof(p), "e2e/%s/feat_target", cas);
  float *ft = mt_f32(g, p, dft, &n);
  hid_t f = h5_create("pred.h5");
  h5_f32(f, "frames", 6, dp, pred);
  h5_f32(f, "features", 2, dfp, fp);
  H5Fclose(f);
  f = h5_create("target.h5");
  hid_t ds = h5_write(f, "frames", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, dt, tgt);
  if (with_range) h5_attr(ds, "data_range", with_range);
  H5Dclose(ds);
  H5Dclose(h5_write(f, "mask", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, dm, mask));
  h5_f32(f, "features", 2, dft, ft);
  H5Fclose(f);
  free(pred);
  free(tgt);
  free(mask);
  free(fp);
  free(ft);
}

static const char *const e2e_keys[] = {
    "clips", "samples", "frames", "data_range", "mse", "mae", "psnr", "ssim", "masked_l1", "masked_l2",
    "crps", "crps_fair", "fd", NULL};

static void test_e2e(void) {
  hid_t g = mt_open();
  const char *cases[2] = {"rgb", "vil"};
  for (int k = 0; k < 2; k++) {
    char grp[64];
    snprintf(grp, sizeof(grp), "e2e/%s", cases[k]);
    const double L = mt_attr(g, grp, "L");
    // The VIL case reads L from the attribute, the RGB one uses the default.
    write_case(g, cases[k], L != 1.0 ? (int)L : 0);
    hid_t a = H5Aopen_by_name(g, grp, "ssim_mode", H5P_DEFAULT, H5P_DEFAULT);
    char mode[32] = {0};
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);  // h5py writes str attributes as UTF-8
    char *ms = NULL;
    if (H5Aread(a, st, &ms) < 0) vp_die("golden %s: cannot read attribute ssim_mode", grp);
    snprintf(mode, sizeof(mode), "%s", ms ? ms : "standard");
    H5free_memory(ms);
    H5Tclose(st);
    H5Aclose(a);
    // Both sample modes, on the fast kernels and (VP_REF_KERNELS=1) the plain references.
    for (int it = 0; it < 4; it++) {
      const int best = it & 1, ref = it >> 1;
      run_env = ref ? "VP_REF_KERNELS=1" : "";
      run("--pred pred.h5 --target target.h5 --metrics mse,mae,psnr,ssim,masked_l1,masked_l2,crps,crps_fair,"
          "skill,fd --samples %s --ssim-mode %s", best ? "best" : "mean", mode);
      if (status != 0) {
        th_check(0, "%s %s: vpcast metrics failed (%d): %s", cases[k], best ? "best" : "mean", status, err);
        continue;
      }
      // Every key of the reference, thresholds included.
      int nkeys = 0, bad = 0;
      char name[96];
      for (int i = 0; e2e_keys[i]; i++) {
        snprintf(name, sizeof(name), "%s_%s", best ? "best" : "mean", e2e_keys[i]);
        double want = mt_attr(g, grp, name), got = NAN;
        if (!json_get(e2e_keys[i], &got) || !mt_close(got, want, 1e-9)) {
          fprintf(stderr, "  %s %s: %s = %.17g, reference %.17g\n", cases[k], best ? "best" : "mean", e2e_keys[i],
                  got, want);
          bad++;
        }
        nkeys++;
      }
      const char *sk[] = {"pod", "far", "csi", "bias", "hits", "misses", "false_alarms"};
      const int thr[] = {16, 74, 133, 160, 181, 219};
      for (int s = 0; s < 7; s++) {
        for (int t = 0; t < 6; t++) {
          char key[64];
          snprintf(key, sizeof(key), "%s_%d", sk[s], thr[t]);
          snprintf(name, sizeof(name), "%s_%s", best ? "best" : "mean", key);
          double want = mt_attr(g, grp, name), got = NAN;
          // Counts exact; ratios of exact counts.
          if (!json_get(key, &got) || !mt_close(got, want, s >= 4 ? 0.0 : 1e-15)) {
            fprintf(stderr, "  %s: %s = %.17g, reference %.17g\n", cases[k], key, got, want);
            bad++;
          }
          nkeys++;
        }
      }
      th_check(bad == 0, "%s, --samples %s, ssim %s, %s kernels: %d JSON keys equal the Python reference (%d differ)",
               cases[k], best ? "best" : "mean", mode, ref ? "reference" : "fast", nkeys, bad);
    }
    run_env = "";
  }
  H5Fclose(g);
}

// ---- S = 1, NaN, bad inputs ----

static void write_simple(const char *pname, const char *tname, int64_t N, int64_t S, int64_t T, int64_t H,
                         int64_t W, int64_t C, int pred5d, const char *pred_ds) {
  const int64_t nt = N * T * H * W * C, np = nt * S;
  float *t = malloc((size_t)nt * sizeof(float)), *p = malloc((size_t)np * sizeof(float));
  th_fill_uniform(t, nt, 21, 0.f, 1.f);
  th_fill_uniform(p, np, 22, 0.f, 1.f);
  hid_t f = h5_create(tname);
  h5_f32(f, "frames", 5, (int64_t[]){N, T, H, W, C}, t);
  H5Fclose(f);
  f = h5_create(pname);
  if (pred5d)
    h5_f32(f, pred_ds, 5, (int64_t[]){N, T, H, W, C}, p);
  else
    h5_f32(f, pred_ds, 6, (int64_t[]){N, S, T, H, W, C}, p);
  H5Fclose(f);
  free(t);
  free(p);
}

static void test_one_sample(void) {
  write_simple("p1.h5", "t1.h5", 3, 1, 2, 12, 12, 3, 1, "frames");
  run("--pred p1.h5 --target t1.h5 --metrics crps,crps_fair,mae");
  double crps = NAN, fair = 0, mae = NAN;
  th_check(status == 0 && json_get("crps", &crps) && json_get("crps_fair", &fair) && json_get("mae", &mae),
           "S = 1 (pred (N, T, H, W, C)): runs (%d: %s)", status, err);
  th_check(fabs(crps - mae) <= 1e-12 * mae, "S = 1: crps %.17g equals mae %.17g", crps, mae);
  th_check(isnan(fair), "S = 1: crps_fair is null (m (m - 1) = 0)");
  double S;
  th_check(json_get("samples", &S) && S == 1, "S = 1 reported");
  // Best of one sample is that sample.
  run("--pred p1.h5 --target t1.h5 --metrics mae --samples best");
  double mb = NAN;
  th_check(status == 0 && json_get("mae", &mb) && mb == mae, "best of 1 sample = mean of 1 sample");
}

static void test_bad_inputs(void) {
  // Mismatched shapes.
  write_simple("p.h5", "t.h5", 2, 2, 3, 12, 12, 1, 0, "frames");
  write_simple("p2.h5", "t2.h5", 2, 2, 4, 12, 12, 1, 0, "frames");
  run("--pred p.h5 --target t2.h5");
  expect_error("mismatched T", 1, 3, "shapes do not match", "(2, 2, 3, 12, 12, 1)", "(2, 4, 12, 12, 1)");
  // Wrong dataset names.
  write_simple("pw.h5", "tw.h5", 2, 2, 3, 12, 12, 1, 0, "samples");
  run("--pred pw.h5 --target tw.h5");
  expect_error("pred dataset named 'samples'", 1, 3, "pw.h5 has no dataset 'frames'", "the file has: samples",
               "(N, S, T, H, W, C)");
  // Missing file; not HDF5.
  run("--pred nothere.h5 --target t.h5");
  expect_error("missing file", 1, 2, "cannot read nothere.h5", "No such file");
  run("--pred err.txt --target t.h5");
  expect_error("not an HDF5 file", 1, 1, "is not an HDF5 file");
  // Too small for standard SSIM; fine for syncvp.
  write_simple("ps.h5", "ts.h5", 2, 2, 2, 8, 9, 1, 0, "frames");
  run("--pred ps.h5 --target ts.h5 --metrics ssim");
  expect_error("8x9 frames with ssim", 1, 2, "at least 11x11", "--ssim-mode syncvp");
  run("--pred ps.h5 --target ts.h5 --metrics ssim --ssim-mode syncvp");
  double v;
  th_check(status == 0 && json_get("ssim", &v) && v > -1 && v <= 1, "8x9 frames, syncvp ssim: %g", v);
  // Unknown metric: usage error with a suggestion.
  run("--pred p.h5 --target t.h5 --metrics mse,ssmi");
  expect_error("unknown metric", 2, 2, "unknown metric 'ssmi'", "did you mean 'ssim'");
  run("--pred p.h5 --target t.h5 --samples worst");
  expect_error("bad --samples", 2, 1, "mean|best");
  run("--target t.h5");
  expect_error("no --pred", 2, 1, "pred");
  // Missing weights: which file, and how to make it.
  write_simple("pl.h5", "tl.h5", 1, 1, 10, 32, 32, 3, 0, "frames");
  run("--pred pl.h5 --target tl.h5 --metrics lpips");
  expect_error("lpips without weights", 1, 3, "--lpips-weights", "metrics.lpips_weights", "tools/convert_lpips.py");
  run("--pred pl.h5 --target tl.h5 --metrics fvd --i3d-weights /nonexistent/i3d.h5");
  expect_error("fvd with a missing weight file", 1, 3, "/nonexistent/i3d.h5", "cannot be read", "tools/convert_i3d.py");
  run("--pred p.h5 --target t.h5 --metrics fvd --i3d-weights x.h5");
  expect_error("fvd on 3-frame clips", 1, 1, "at least 9 frames");
  // fd without features.
  run("--pred p.h5 --target t.h5 --metrics fd");
  expect_error("fd without features", 1, 2, "'features'", "has: frames");
  // NaN values: an error for metrics that need finite values, skipped by the masked ones.
  {
    const int64_t N = 2, S = 2, T = 3, H = 12, W = 12, C = 1, n = N * S * T * H * W * C;
    float *p = malloc((size_t)n * sizeof(float)), *t = malloc((size_t)(n / S) * sizeof(float));
    th_fill_uniform(p, n, 31, 0.f, 1.f);
    th_fill_uniform(t, n / S, 32, 0.f, 1.f);
    // clip 1, sample 1, frame 2, y 3, x 4
    const int64_t at = (((1 * S + 1) * T + 2) * H + 3) * W + 4;
    p[at] = NAN;
    hid_t f = h5_create("pn.h5");
    h5_f32(f, "frames", 6, (int64_t[]){N, S, T, H, W, C}, p);
    H5Fclose(f);
    f = h5_create("tn.h5");
    h5_f32(f, "frames", 5, (int64_t[]){N, T, H, W, C}, t);
    H5Fclose(f);
    run("--pred pn.h5 --target tn.h5 --metrics mse,masked_l1");
    expect_error("NaN in pred with mse", 1, 3, "non-finite value", "clip 1, sample 1, frame 2, y 3, x 4", "mse need");
    run("--pred pn.h5 --target tn.h5 --metrics masked_l1,crps");
    double l1 = NAN, cr = NAN, want = 0.0, wantc = 0.0;
    int64_t cnt = 0;
    for (int64_t c = 0; c < N; c++)
      for (int64_t s = 0; s < S; s++)
        for (int64_t k = 0; k < T * H * W; k++) {
          const float a = p[(c * S + s) * T * H * W + k], b = t[c * T * H * W + k];
          if (isnan(a)) continue;
          want += fabs((double)a - b);
          cnt++;
        }
    want /= (double)cnt;
    (void)wantc;
    th_check(status == 0 && json_get("masked_l1", &l1) && fabs(l1 - want) < 1e-12 && json_get("crps", &cr) &&
                 isfinite(cr),
             "NaN cells skipped by masked_l1 (%.15g vs %.15g) and crps (%g)", l1, want, cr);
    free(p);
    free(t);
  }
  // Mask of the wrong shape.
  {
    hid_t f = h5_create("tm.h5");
    float *t = calloc(2 * 3 * 12 * 12, sizeof(float));
    uint8_t m[2 * 3 * 12 * 11];
    memset(m, 1, sizeof(m));
    h5_f32(f, "frames", 5, (int64_t[]){2, 3, 12, 12, 1}, t);
    H5Dclose(h5_write(f, "mask", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, (int64_t[]){2, 3, 12, 11}, m));
    H5Fclose(f);
    free(t);
    run("--pred p.h5 --target tm.h5 --metrics masked_l1");
    expect_error("mask of the wrong shape", 1, 2, "'mask' must be uint8 (N, T, H, W) = (2, 3, 12, 12)", "(2, 3, 12, 11)");
  }
  // Values outside [0, L]: a warning naming the fix, and results.
  run("--pred p.h5 --target t.h5 --metrics psnr --data-range 0.5");
  th_check(status == 0 && strstr(err, "--data-range") && json_get("psnr", &v), "values above L: warning and results");
  double L;
  th_check(json_get("data_range", &L) && L == 0.5, "--data-range reported");
}

// ---- files for the MPI test ----

static void write_mpi_set(const char *prefix, int64_t N) {
  const int64_t S = 3, T = 10, H = 16, W = 20, C = 3, nt = N * T * H * W * C;
  float *t = malloc((size_t)nt * sizeof(float)), *p = malloc((size_t)(nt * S) * sizeof(float));
  uint8_t *m = malloc((size_t)(N * T * H * W));
  th_fill_uniform(t, nt, 41, 0.f, 1.f);
  th_fill_uniform(p, nt * S, 42, -0.3f, 0.3f);
  for (int64_t c = 0; c < N; c++)
    for (int64_t s = 0; s < S; s++)
      for (int64_t k = 0; k < T * H * W * C; k++) {
        float *v = &p[(c * S + s) * T * H * W * C + k];
        float x = t[c * T * H * W * C + k] + *v;
        *v = x < 0 ? 0 : x > 1 ? 1 : x;
      }
  for (int64_t i = 0; i < N * T * H * W; i++) m[i] = (uint8_t)(i % 7 != 3);
  float *fp = malloc(23 * 6 * sizeof(float)), *ft = malloc(19 * 6 * sizeof(float));
  th_fill_uniform(fp, 23 * 6, 43, -1.f, 1.f);
  th_fill_uniform(ft, 19 * 6, 44, -0.5f, 2.f);
  char name[64];
  snprintf(name, sizeof(name), "%spred.h5", prefix);
  hid_t f = h5_create(name);
  h5_f32(f, "frames", 6, (int64_t[]){N, S, T, H, W, C}, p);
  h5_f32(f, "features", 2, (int64_t[]){23, 6}, fp);
  H5Fclose(f);
  snprintf(name, sizeof(name), "%starget.h5", prefix);
  f = h5_create(name);
  h5_f32(f, "frames", 5, (int64_t[]){N, T, H, W, C}, t);
  H5Dclose(h5_write(f, "mask", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, (int64_t[]){N, T, H, W}, m));
  h5_f32(f, "features", 2, (int64_t[]){19, 6}, ft);
  H5Fclose(f);
  free(t);
  free(p);
  free(m);
  free(fp);
  free(ft);
}

static int write_mpi_inputs(const char *dir) {
  snprintf(tmpdir, sizeof(tmpdir), "%s", dir);
  write_mpi_set("", 7);
  write_mpi_set("few_", 2);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--write")) return write_mpi_inputs(argv[2]);
  snprintf(tmpdir, sizeof(tmpdir), "%s/vp-metrics-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) vp_die("mkdtemp failed");
  test_e2e();
  test_one_sample();
  test_bad_inputs();
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return th_summary();
}
