// test_ops_conv.c: conv1d / conv2d / conv_transpose2d / conv3d against
// PyTorch goldens and finite differences, the im2col kernels against the
// direct reference kernels on bigger shapes (chunked and not), TF 'SAME'
// padding, and the shape errors.
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/conv.h"
#include "ops/conv.h"

typedef enum { K_CONV1D, K_CONV2D, K_CONVT2D, K_CONV3D, K_NKIND } conv_kind;
static const char *const KIND_PREFIX[K_NKIND] = {"conv1d_", "conv2d_", "convt2d_", "conv3d_"};

typedef struct {
  conv_kind kind;
  int bias;
  int stride, pad;         // 1-D / 2-D ops
  int st[3], pad6[6];      // conv3d
} conv_arg;

static vp_tensor *f_conv(vp_ctx *c, vp_tensor **in, void *a) {
  const conv_arg *p = a;
  vp_tensor *b = p->bias ? in[2] : NULL;
  switch (p->kind) {
    case K_CONV1D: return op_conv1d(c, in[0], in[1], b, p->stride, p->pad);
    case K_CONV2D: return op_conv2d(c, in[0], in[1], b, p->stride, p->pad);
    case K_CONVT2D: return op_conv_transpose2d(c, in[0], in[1], b, p->stride, p->pad);
    default: return op_conv3d(c, in[0], in[1], b, p->st, p->pad6);
  }
}

// Every case in conv.h5, its op chosen by name prefix and its arguments read
// from the case's attributes.
static void run_goldens(void) {
  golden *g = golden_open("conv");
  char **cases = golden_cases(g);
  int seen[K_NKIND] = {0};
  const char *names[] = {"x", "w", "b"};
  for (char **cp = cases; *cp; cp++) {
    const char *cas = *cp;
    conv_arg a = {0};
    a.kind = K_NKIND;
    for (int k = 0; k < K_NKIND; k++)
      if (strncmp(cas, KIND_PREFIX[k], strlen(KIND_PREFIX[k])) == 0) a.kind = (conv_kind)k;
    th_check(a.kind != K_NKIND, "conv golden case '%s' has no known op prefix", cas);
    if (a.kind == K_NKIND) continue;
    char path[256];
    snprintf(path, sizeof path, "%s/in/b", cas);
    a.bias = golden_has(g, path);
    if (a.kind == K_CONV3D) {
      const char *sn[3] = {"st", "sh", "sw"};
      const char *pn[6] = {"pad_f", "pad_bk", "pad_t", "pad_b", "pad_l", "pad_r"};
      for (int i = 0; i < 3; i++) a.st[i] = (int)golden_attr_int(g, cas, sn[i]);
      for (int i = 0; i < 6; i++) a.pad6[i] = (int)golden_attr_int(g, cas, pn[i]);
    } else {
      a.stride = (int)golden_attr_int(g, cas, "stride");
      a.pad = (int)golden_attr_int(g, cas, "pad");
    }
    golden_run_case(g, cas, f_conv, &a, names, a.bias ? 3 : 2, 1e-5, 1e-4);
    seen[a.kind]++;
    free(*cp);
  }
  free(cases);
  golden_close(g);
  for (int k = 0; k < K_NKIND; k++) th_check(seen[k] >= 3, "conv goldens: only %d %s cases", seen[k], KIND_PREFIX[k]);
}

static vp_tensor *rand_tensor(vp_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed) {
  vp_tensor *t = tensor_new(ctx, ndim, shape);
  th_fill_uniform(t->data, tensor_numel(t), seed, -1.f, 1.f);
  t->requires_grad = 1;
  return t;
}

// Finite differences on tiny shapes, in both kernel modes.
static void run_gradchecks(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  struct {
    const char *what;
    conv_arg a;
    int ndim;
    int64_t xs[5], ws[5], bs;
  } cases[] = {
      {"conv1d k3 s2 p1", {K_CONV1D, 1, 2, 1, {0}, {0}}, 3, {1, 2, 7}, {3, 2, 3}, 3},
      {"conv2d k3 s2 p1", {K_CONV2D, 1, 2, 1, {0}, {0}}, 4, {1, 2, 5, 4}, {3, 2, 3, 3}, 3},
      {"conv2d k1 s1 p0", {K_CONV2D, 0, 1, 0, {0}, {0}}, 4, {2, 3, 2, 3}, {2, 3, 1, 1}, 0},
      {"convt2d k3 s2 p1", {K_CONVT2D, 1, 2, 1, {0}, {0}}, 4, {1, 2, 3, 3}, {2, 3, 3, 3}, 3},
      {"convt2d k4 s4 p0", {K_CONVT2D, 0, 4, 0, {0}, {0}}, 4, {1, 2, 2, 2}, {2, 2, 4, 4}, 0},
      {"conv3d k232 s121 asym", {K_CONV3D, 1, 0, 0, {1, 2, 1}, {0, 1, 1, 1, 0, 1}}, 5, {1, 2, 3, 4, 3},
       {2, 2, 2, 3, 2}, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vp_tensor *in[3];
    in[0] = rand_tensor(&ctx, cases[i].ndim, cases[i].xs, 10 + i);
    in[1] = rand_tensor(&ctx, cases[i].ndim, cases[i].ws, 20 + i);
    in[2] = cases[i].a.bias ? rand_tensor(&ctx, 1, &cases[i].bs, 30 + i) : NULL;
    for (int ref = 0; ref < 2; ref++) {
      char what[96];
      snprintf(what, sizeof what, "%s fd [%s]", cases[i].what, ref ? "ref" : "fast");
      kernel_mode_set_ref(ref);
      th_gradcheck(what, f_conv, &cases[i].a, in, cases[i].a.bias ? 3 : 2, 1e-2f, 64, 1e-3);
    }
    kernel_mode_set_ref(0);
  }
  ctx_free(&ctx);
}

// The im2col + gemm kernels against the direct loops on random data, with
// random initial outputs / gradients so that accumulation is checked too.
static void compare_kernels(const char *what, cpu_conv_geom g, const int64_t hi[3]) {
  for (int a = 0; a < 3; a++) g.out[a] = (g.in[a] + g.pad[a] + hi[a] - g.k[a]) / g.stride[a] + 1;
  int64_t nx = g.B * g.Ci * g.in[0] * g.in[1] * g.in[2];
  int64_t ny = g.B * g.Co * g.out[0] * g.out[1] * g.out[2];
  int64_t nw = g.Co * g.Ci * g.k[0] * g.k[1] * g.k[2];
  float *x = vp_malloc(nx * sizeof(float)), *w = vp_malloc(nw * sizeof(float));
  float *b = vp_malloc(g.Co * sizeof(float)), *dy = vp_malloc(ny * sizeof(float));
  float *y[2], *dx[2], *dw[2], *db[2];
  th_fill_uniform(x, nx, 1, -1, 1);
  th_fill_uniform(w, nw, 2, -1, 1);
  th_fill_uniform(b, g.Co, 3, -1, 1);
  th_fill_uniform(dy, ny, 4, -1, 1);
  char msg[160];
  for (int acc = 0; acc < 2; acc++) {
    for (int r = 0; r < 2; r++) {
      y[r] = vp_malloc(ny * sizeof(float));
      th_fill_uniform(y[r], ny, 5, -1, 1);
    }
    cpu_conv_fwd(&g, x, w, b, y[0], acc);
    cpu_conv_fwd_ref(&g, x, w, b, y[1], acc);
    snprintf(msg, sizeof msg, "%s: fast vs ref forward (accumulate %d)", what, acc);
    th_check_rel(msg, y[0], y[1], ny, 1e-5);
    free(y[0]);
    free(y[1]);
  }
  for (int r = 0; r < 2; r++) {
    dx[r] = vp_malloc(nx * sizeof(float));
    dw[r] = vp_malloc(nw * sizeof(float));
    db[r] = vp_malloc(g.Co * sizeof(float));
    th_fill_uniform(dx[r], nx, 6, -1, 1);
    th_fill_uniform(dw[r], nw, 7, -1, 1);
    th_fill_uniform(db[r], g.Co, 8, -1, 1);
  }
  cpu_conv_bwd(&g, x, w, dy, dx[0], dw[0], db[0]);
  cpu_conv_bwd_ref(&g, x, w, dy, dx[1], dw[1], db[1]);
  snprintf(msg, sizeof msg, "%s: fast vs ref dx", what);
  th_check_rel(msg, dx[0], dx[1], nx, 1e-5);
  snprintf(msg, sizeof msg, "%s: fast vs ref dw", what);
  th_check_rel(msg, dw[0], dw[1], nw, 1e-5);
  snprintf(msg, sizeof msg, "%s: fast vs ref db", what);
  th_check_rel(msg, db[0], db[1], g.Co, 1e-5);
  // Each gradient alone (the others NULL) gives the same as all together.
  float *dx1 = vp_malloc(nx * sizeof(float)), *dw1 = vp_malloc(nw * sizeof(float));
  th_fill_uniform(dx1, nx, 6, -1, 1);
  th_fill_uniform(dw1, nw, 7, -1, 1);
  cpu_conv_bwd(&g, NULL, w, dy, dx1, NULL, NULL);
  cpu_conv_bwd(&g, x, NULL, dy, NULL, dw1, NULL);
  snprintf(msg, sizeof msg, "%s: dx alone", what);
  th_check_rel(msg, dx1, dx[0], nx, 1e-6);
  snprintf(msg, sizeof msg, "%s: dw alone", what);
  th_check_rel(msg, dw1, dw[0], nw, 1e-6);
  free(dx1);
  free(dw1);
  for (int r = 0; r < 2; r++) {
    free(dx[r]);
    free(dw[r]);
    free(db[r]);
  }
  free(x);
  free(w);
  free(b);
  free(dy);
}

static void run_kernel_compare(void) {
  // (B, Ci, Co, in, out (filled in), k, stride, lead pad), trailing pad
  // 3x3 stride 1 in 2-D runs Winograd; check it and the im2col path it replaces.
  cpu_conv_geom g3x3 = {2, 5, 7, {1, 13, 11}, {0}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}};
  const int64_t h3x3[3] = {0, 1, 1};
  compare_kernels("conv2d 3x3 winograd", g3x3, h3x3);
  cpu_conv_geom g3x3e = {3, 16, 8, {1, 8, 10}, {0}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}};
  compare_kernels("conv2d 3x3 winograd even", g3x3e, h3x3);
  cpu_conv_geom g3x3v = {1, 4, 6, {1, 9, 7}, {0}, {1, 3, 3}, {1, 1, 1}, {0, 0, 2}};
  const int64_t h3x3v[3] = {0, 0, 1};
  compare_kernels("conv2d 3x3 winograd asym pad", g3x3v, h3x3v);
  cpu_conv_geom g3x3c = {2, 96, 64, {1, 9, 8}, {0}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}};
  compare_kernels("conv2d 3x3 winograd 96->64 channels", g3x3c, h3x3);
  cpu_conv_set_winograd(0);
  compare_kernels("conv2d 3x3 im2col", g3x3, h3x3);
  cpu_conv_set_winograd(1);
  cpu_conv_geom gstr = {2, 4, 6, {1, 12, 15}, {0}, {1, 5, 4}, {1, 2, 3}, {0, 2, 1}};
  const int64_t hstr[3] = {0, 2, 1};
  compare_kernels("conv2d 5x4 stride (2,3)", gstr, hstr);
  cpu_conv_geom g3d = {1, 3, 4, {6, 9, 8}, {0}, {3, 3, 3}, {2, 2, 2}, {0, 1, 0}};
  const int64_t h3d[3] = {1, 1, 1};
  compare_kernels("conv3d 3x3x3 s2 SAME", g3d, h3d);
  cpu_conv_geom g7 = {1, 2, 3, {8, 10, 9}, {0}, {7, 7, 7}, {2, 2, 2}, {2, 2, 3}};
  const int64_t h7[3] = {3, 3, 3};
  compare_kernels("conv3d 7x7x7 s2 SAME", g7, h7);
  cpu_conv_geom gpw = {2, 6, 5, {2, 5, 7}, {0}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}};
  const int64_t hpw[3] = {0, 0, 0};
  compare_kernels("conv3d pointwise", gpw, hpw);
  cpu_conv_geom gbig = {1, 3, 2, {1, 4, 5}, {0}, {1, 3, 3}, {1, 1, 1}, {0, 4, 4}};  // pad > kernel
  const int64_t hbig[3] = {0, 4, 4};
  compare_kernels("conv2d pad 4 > kernel 3", gbig, hbig);
  // Column chunks of 2 output rows, with a short last chunk and, in 3-D,
  // chunks that straddle two time steps.
  cpu_conv_set_winograd(0);
  cpu_conv_set_chunk_floats(5 * 9 * 11 * 2);
  compare_kernels("conv2d 3x3 im2col chunked", g3x3, h3x3);
  cpu_conv_set_winograd(1);
  // Winograd chunks of 3 tile rows (6 tiles each) out of 2 x 7: chunks that
  // straddle two images and a short last one.
  cpu_conv_set_chunk_floats(16 * (5 + 7) * 6 * 3);
  compare_kernels("conv2d 3x3 winograd chunked", g3x3, h3x3);
  cpu_conv_set_chunk_floats(3 * 27 * 4 * 2 + 5);
  compare_kernels("conv3d 3x3x3 s2 chunked", g3d, h3d);
  cpu_conv_set_chunk_floats(0);
}

static void run_same_pad(void) {
  // (n, k, s) -> (lo, hi); 224/16 with k7 s2 is I3D's first layer.
  const int t[][5] = {{224, 7, 2, 2, 3}, {16, 7, 2, 2, 3}, {8, 3, 1, 1, 1}, {5, 1, 2, 0, 0},
                      {6, 3, 2, 0, 1},   {4, 2, 2, 0, 0},  {7, 3, 2, 1, 1}, {9, 7, 2, 3, 3},
                      {1, 3, 1, 1, 1},   {3, 4, 1, 1, 2},  {56, 3, 2, 0, 1}, {28, 1, 1, 0, 0}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int lo = -1, hi = -1;
    conv_same_pad(t[i][0], t[i][1], t[i][2], &lo, &hi);
    th_check(lo == t[i][3] && hi == t[i][4], "conv_same_pad(%d, %d, %d) = (%d, %d), want (%d, %d)",
             t[i][0], t[i][1], t[i][2], lo, hi, t[i][3], t[i][4]);
  }
}

// Bad inputs must end the process with vp_die's status 1, not crash.
static void expect_die(const char *what, conv_arg a, int ndx, const int64_t *xs, int ndw,
                       const int64_t *ws, int64_t bs) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    th_check(0, "%s: fork failed", what);
    return;
  }
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(3);
    alarm(20);  // an op that wrongly runs may hang in the forked OpenMP runtime
    vp_ctx ctx;
    ctx_init(&ctx, 1 << 16);
    vp_tensor *in[3] = {tensor_zeros(&ctx, ndx, xs), tensor_zeros(&ctx, ndw, ws),
                        bs ? tensor_zeros(&ctx, 1, &bs) : NULL};
    a.bias = bs != 0;
    f_conv(&ctx, in, &a);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  th_check(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: expected a shape error (exit 1), got status %d",
           what, st);
}

static void run_bad_inputs(void) {
  const int64_t x4[4] = {1, 3, 5, 5}, w4[4] = {2, 4, 3, 3}, w4ok[4] = {2, 3, 3, 3}, w7[4] = {2, 3, 7, 7};
  const int64_t x3[3] = {1, 3, 5}, x5[5] = {1, 2, 3, 3, 3}, w5[5] = {2, 2, 5, 1, 1};
  conv_arg c2 = {K_CONV2D, 0, 1, 1, {0}, {0}};
  expect_die("conv2d channel mismatch", c2, 4, x4, 4, w4, 0);
  expect_die("conv2d bias mismatch", c2, 4, x4, 4, w4ok, 5);
  expect_die("conv2d rank mismatch", c2, 3, x3, 4, w4ok, 0);
  conv_arg c2p0 = {K_CONV2D, 0, 1, 0, {0}, {0}};
  expect_die("conv2d kernel larger than input", c2p0, 4, x4, 4, w7, 0);
  conv_arg c2s0 = {K_CONV2D, 0, 0, 1, {0}, {0}};
  expect_die("conv2d stride 0", c2s0, 4, x4, 4, w4ok, 0);
  conv_arg ct = {K_CONVT2D, 0, 2, 0, {0}, {0}};
  const int64_t wt[4] = {2, 3, 3, 3};  // (Ci = 2) but x has 3 channels
  expect_die("convt2d channel mismatch", ct, 4, x4, 4, wt, 0);
  conv_arg c3 = {K_CONV3D, 0, 0, 0, {1, 1, 1}, {0, 1, 0, 0, 0, 0}};
  expect_die("conv3d kernel larger than padded input", c3, 5, x5, 5, w5, 0);
  conv_arg c3n = {K_CONV3D, 0, 0, 0, {1, 1, 1}, {0, 0, -1, 0, 0, 0}};
  const int64_t w5ok[5] = {2, 2, 1, 1, 1};
  expect_die("conv3d negative pad", c3n, 5, x5, 5, w5ok, 0);
}

int main(void) {
  run_goldens();
  run_gradchecks();
  run_kernel_compare();
  run_same_pad();
  run_bad_inputs();
  cpu_conv_scratch_free();
  return th_summary();
}
