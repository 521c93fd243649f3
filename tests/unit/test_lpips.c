// test_lpips.c: LPIPS (AlexNet v0.1) end to end against the PyTorch
// re-implementation in tools/golden/g_lpips_i3d.py: random weights in the
// public checkpoint layouts, converted by tools/convert_lpips.py, redrawn
// here (model_golden.h), written as an HDF5 weight file, loaded by
// lpips_load. Also: chunking over many pairs, identity, per-layer terms, and
// the error paths (missing file, wrong shape, foreign tensors, tiny images).
#include "core/kernel_mode.h"
#include "model_golden.h"
#include "models/lpips.h"
#include "models/weights_h5.h"

static char g_weights[512];

// Distances of golden case cas with model m under the current kernel mode.
static void check_case(lpips_model *m, hid_t f, golden *g, const char *cas, const char *mode) {
  char grp[64];
  snprintf(grp, sizeof grp, "%s/inputs", cas);
  mg_manifest in;
  mg_read(f, grp, &in);
  int64_t nx, ny;
  float *x = mg_tensor(&in, "x", &nx), *y = mg_tensor(&in, "y", &ny);
  const int ix = mg_find(&in, "x");
  const int64_t n = in.shape[ix][0], H = in.shape[ix][2], W = in.shape[ix][3];
  int64_t nd, nl;
  float *dref = golden_read(g, &nd, "%s/out/d", cas), *lref = golden_read(g, &nl, "%s/out/layers", cas);
  VP_ASSERT(nd == n && nl == n * LPIPS_LAYERS);
  float *d = vp_malloc((size_t)n * sizeof(float)), *layers = vp_malloc((size_t)nl * sizeof(float));
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  lpips_distance_layers(m, &ctx, x, y, n, H, W, d, layers);
  char what[128];
  snprintf(what, sizeof what, "%s [%s] lpips per layer", cas, mode);
  th_check_rel(what, layers, lref, nl, 1e-4);
  snprintf(what, sizeof what, "%s [%s] lpips", cas, mode);
  th_check_rel(what, d, dref, n, 1e-4);
  // lpips_distance is the sum of the layers.
  float *d2 = vp_malloc((size_t)n * sizeof(float));
  lpips_distance(m, &ctx, x, y, n, H, W, d2);
  th_check(memcmp(d, d2, (size_t)n * sizeof(float)) == 0, "%s: lpips_distance equals the layer sum", what);
  ctx_free(&ctx);
  free(d2);
  free(d);
  free(layers);
  free(dref);
  free(lref);
  free(x);
  free(y);
  mg_free(&in);
}

// Many pairs run in chunks (16 pairs at most per trunk batch); each pair's
// distance must not depend on its neighbours, and d(x, x) is exactly 0.
static void check_chunks(lpips_model *m, hid_t f, golden *g) {
  mg_manifest in;
  mg_read(f, "lpips_b/inputs", &in);
  int64_t nx, ny;
  float *x = mg_tensor(&in, "x", &nx), *y = mg_tensor(&in, "y", &ny);
  const int ix = mg_find(&in, "x");
  const int64_t n = in.shape[ix][0], H = in.shape[ix][2], W = in.shape[ix][3], img = 3 * H * W;
  const int reps = 7;  // 21 pairs: two chunks
  const int64_t N = n * reps;
  float *X = vp_malloc((size_t)(N * img) * sizeof(float)), *Y = vp_malloc((size_t)(N * img) * sizeof(float));
  float *ref = vp_malloc((size_t)N * sizeof(float)), *d = vp_malloc((size_t)N * sizeof(float));
  int64_t nd;
  float *dref = golden_read(g, &nd, "lpips_b/out/d");
  for (int r = 0; r < reps; r++) {
    for (int64_t i = 0; i < n; i++) {
      // alternate the order so that chunk boundaries cut differently
      int64_t src = (i + r) % n;
      memcpy(X + (r * n + i) * img, x + src * img, (size_t)img * sizeof(float));
      memcpy(Y + (r * n + i) * img, y + src * img, (size_t)img * sizeof(float));
      ref[r * n + i] = dref[src];
    }
  }
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  lpips_distance(m, &ctx, X, Y, N, H, W, d);
  th_check_rel("lpips over 21 pairs (chunked)", d, ref, N, 1e-4);
  lpips_distance(m, &ctx, X, X, N, H, W, d);
  int zero = 1;
  for (int64_t i = 0; i < N; i++) zero &= d[i] == 0.f;
  th_check(zero, "lpips(x, x) is exactly 0");
  ctx_free(&ctx);
  free(X);
  free(Y);
  free(ref);
  free(d);
  free(dref);
  free(x);
  free(y);
  mg_free(&in);
}

// ---------------------------------------------------------------- errors
static void die_load(void *path) { lpips_load(path); }

static void die_small(void *path) {
  lpips_model *m = lpips_load(path);
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  float x[3 * 30 * 40] = {0}, d;
  lpips_distance(m, &ctx, x, x, 1, 30, 40, &d);
}

// A copy of the weights with one tensor changed: renamed shape or an extra tensor.
static void write_variant(const mg_manifest *w, const char *path, int variant) {
  vp_params p;
  params_init(&p);
  for (int i = 0; i < w->n; i++) {
    int64_t shape[6];
    memcpy(shape, w->shape[i], sizeof shape);
    if (variant == 0 && strcmp(w->names[i], "features.6.weight") == 0) shape[1] = 191;
    params_add(&p, (int)w->ndim[i], shape, "%s", w->names[i]);
  }
  const int64_t one[1] = {3};
  if (variant == 1) params_add(&p, 1, one, "net.slice1.0.weight");
  params_alloc(&p);
  weights_h5_save_params(path, &p, NULL);
  params_free(&p);
}

static void check_errors(const mg_manifest *w) {
  char bad_shape[512], extra[512];
  mg_expect_die("missing weight file", die_load, "/nonexistent/lpips_alex.h5", "/nonexistent/lpips_alex.h5",
                "tools/convert_lpips.py");
  mg_tmp("bad_shape.h5", bad_shape, sizeof bad_shape);
  write_variant(w, bad_shape, 0);
  mg_expect_die("tensor of the wrong shape", die_load, bad_shape, "features.6.weight",
                "expected (384, 192, 3, 3)");
  mg_tmp("extra.h5", extra, sizeof extra);
  write_variant(w, extra, 1);
  mg_expect_die("file with a foreign tensor", die_load, extra, "net.slice1.0.weight", "convert_lpips.py");
  mg_expect_die("not an HDF5 file", die_load, "/proc/self/status", "not a readable HDF5 file", NULL);
  mg_expect_die("images below 31x31", die_small, g_weights, "30x40", "too small");
}

int main(void) {
  kernel_mode_init_from_env();
  hid_t f = mg_open();
  golden *g = golden_open("lpips_i3d");
  mg_manifest w;
  mg_read(f, "lpips_weights", &w);
  vp_params p;
  mg_params(&w, &p);
  th_check(w.n == 15 && (int64_t)p.numel == 2470848, "LPIPS alex: 15 tensors, 2470848 floats (got %d, %zu)",
           w.n, p.numel);
  mg_tmp("lpips.h5", g_weights, sizeof g_weights);
  weights_h5_save_params(g_weights, &p, "vpcast-lpips-alex-v0.1");
  params_free(&p);

  lpips_model *m = lpips_load(g_weights);
  int saved = vp_use_ref_kernels;
  kernel_mode_set_ref(0);
  check_case(m, f, g, "lpips_a", "fast");
  check_case(m, f, g, "lpips_b", "fast");
  check_chunks(m, f, g);
  kernel_mode_set_ref(1);
  check_case(m, f, g, "lpips_a", "ref");
  check_case(m, f, g, "lpips_b", "ref");
  kernel_mode_set_ref(saved);
  lpips_free(m);

  check_errors(&w);
  mg_free(&w);
  golden_close(g);
  H5Fclose(f);
  const char *tmp[] = {"lpips.h5", "bad_shape.h5", "extra.h5"};
  mg_tmp_cleanup(tmp, 3);
  return th_summary();
}
