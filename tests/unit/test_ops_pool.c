// test_ops_pool.c: avg_pool2d / max_pool3d / avg_pool3d / nearest x2
// upsampling against PyTorch goldens, hand-computed padding cases, finite
// differences, and the argument errors.
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "golden.h"
#include "harness.h"
#include "ops/pool.h"

typedef enum { K_AVG2D, K_MAX3D, K_AVG3D, K_UP, K_NKIND } pool_kind;
static const char *const KIND_PREFIX[K_NKIND] = {"avgpool2d_", "maxpool3d_", "avgpool3d_", "upsample_"};

typedef struct {
  pool_kind kind;
  int k2, s2;                  // avg_pool2d
  int k[3], st[3], pad6[6];    // 3-D pools
  float pad_value;             // max
  int count_pad;               // avg
} pool_arg;

static vp_tensor *f_pool(vp_ctx *c, vp_tensor **in, void *a) {
  const pool_arg *p = a;
  switch (p->kind) {
    case K_AVG2D: return op_avg_pool2d(c, in[0], p->k2, p->s2);
    case K_MAX3D: return op_max_pool3d(c, in[0], p->k, p->st, p->pad6, p->pad_value);
    case K_AVG3D: return op_avg_pool3d(c, in[0], p->k, p->st, p->pad6, p->count_pad);
    default: return op_upsample_nearest2x(c, in[0]);
  }
}

static void run_goldens(void) {
  golden *g = golden_open("pool");
  char **cases = golden_cases(g);
  int seen[K_NKIND] = {0};
  const char *names[] = {"x"};
  for (char **cp = cases; *cp; cp++) {
    const char *cas = *cp;
    pool_arg a;
    memset(&a, 0, sizeof a);
    a.kind = K_NKIND;
    for (int k = 0; k < K_NKIND; k++)
      if (strncmp(cas, KIND_PREFIX[k], strlen(KIND_PREFIX[k])) == 0) a.kind = (pool_kind)k;
    th_check(a.kind != K_NKIND, "pool golden case '%s' has no known op prefix", cas);
    if (a.kind == K_NKIND) continue;
    if (a.kind == K_AVG2D) {
      a.k2 = (int)golden_attr_int(g, cas, "k");
      a.s2 = (int)golden_attr_int(g, cas, "stride");
    } else if (a.kind != K_UP) {
      const char *kn[3] = {"kt", "kh", "kw"}, *sn[3] = {"st", "sh", "sw"};
      const char *pn[6] = {"pad_f", "pad_bk", "pad_t", "pad_b", "pad_l", "pad_r"};
      for (int i = 0; i < 3; i++) {
        a.k[i] = (int)golden_attr_int(g, cas, kn[i]);
        a.st[i] = (int)golden_attr_int(g, cas, sn[i]);
      }
      for (int i = 0; i < 6; i++) a.pad6[i] = (int)golden_attr_int(g, cas, pn[i]);
      if (a.kind == K_MAX3D) a.pad_value = (float)golden_attr_double(g, cas, "pad_value");
      if (a.kind == K_AVG3D) a.count_pad = (int)golden_attr_int(g, cas, "count_pad");
    }
    golden_run_case(g, cas, f_pool, &a, names, 1, 1e-5, 1e-4);
    seen[a.kind]++;
    free(*cp);
  }
  free(cases);
  golden_close(g);
  for (int k = 0; k < K_NKIND; k++) th_check(seen[k] >= 3, "pool goldens: only %d %s cases", seen[k], KIND_PREFIX[k]);
}

// One row [1, 2, 3] pooled with a width-3 window and one cell of padding on
// each side, so every window holds a padding cell.
static void run_hand_cases(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 16);
  ctx_set_training(&ctx, 1);
  const float xv[3] = {1, 2, 3};
  const int64_t xs[5] = {1, 1, 1, 1, 3};
  const int k[3] = {1, 1, 3}, st[3] = {1, 1, 1}, pad[6] = {0, 0, 0, 0, 1, 1};
  const float gout[3] = {1, 1, 1};
  struct {
    const char *what;
    int max, count_pad;
    float pad_value, y[3], gx[3];
  } t[] = {
      {"avg count_pad 0 (TF SAME)", 0, 0, 0, {1.5f, 2.f, 2.5f}, {1.f / 2 + 1.f / 3, 1.f / 2 + 1.f / 3 + 1.f / 2, 1.f / 3 + 1.f / 2}},
      {"avg count_pad 1", 0, 1, 0, {1.f, 2.f, 5.f / 3}, {2.f / 3, 1.f, 2.f / 3}},
      {"max pad 5 wins where it is in the window", 1, 0, 5, {5, 3, 5}, {0, 0, 1}},
      {"max pad 2.5 wins at the left", 1, 0, 2.5f, {2.5f, 3, 3}, {0, 0, 2}},
      {"max pad 2 ties with x, first cell wins", 1, 0, 2, {2, 3, 3}, {0, 0, 2}},
      {"max pad -inf", 1, 0, -INFINITY, {2, 3, 3}, {0, 1, 2}},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    ctx_reset(&ctx);
    vp_tensor *x = tensor_from(&ctx, 5, xs, xv);
    x->requires_grad = 1;
    vp_tensor *y = t[i].max ? op_max_pool3d(&ctx, x, k, st, pad, t[i].pad_value)
                            : op_avg_pool3d(&ctx, x, k, st, pad, t[i].count_pad);
    th_check(tensor_numel(y) == 3, "%s: %lld outputs, want 3", t[i].what, (long long)tensor_numel(y));
    if (tensor_numel(y) != 3) continue;
    tape_backward_from(&ctx, y, gout);
    for (int j = 0; j < 3; j++) {
      th_check(fabsf(y->data[j] - t[i].y[j]) < 1e-6f, "%s: y[%d] = %g, want %g", t[i].what, j,
               y->data[j], t[i].y[j]);
      th_check(fabsf(x->grad[j] - t[i].gx[j]) < 1e-6f, "%s: gx[%d] = %g, want %g", t[i].what, j,
               x->grad[j], t[i].gx[j]);
    }
  }
  ctx_free(&ctx);
}

// Inputs on a grid 0.05 apart, shuffled, and never within 0.025 of zero, so
// a +-eps probe (eps 0.01) never changes which cell is a window's maximum or
// whether zero padding wins.
static vp_tensor *spaced_tensor(vp_ctx *ctx, int ndim, const int64_t *shape) {
  vp_tensor *t = tensor_new(ctx, ndim, shape);
  int64_t n = tensor_numel(t);
  for (int64_t i = 0; i < n; i++) t->data[i] = (float)((i * 37) % n) * 0.05f - (float)(n / 2) * 0.05f + 0.025f;
  t->requires_grad = 1;
  return t;
}

static void run_gradchecks(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  const int64_t s4[4] = {1, 2, 5, 6}, s5[5] = {1, 2, 4, 5, 5}, s3[3] = {2, 3, 4};
  vp_tensor *x4 = spaced_tensor(&ctx, 4, s4), *x5 = spaced_tensor(&ctx, 5, s5), *x3 = spaced_tensor(&ctx, 3, s3);
  pool_arg a;
  memset(&a, 0, sizeof a);
  a.kind = K_AVG2D;
  a.k2 = 3;
  a.s2 = 2;
  th_gradcheck("avg_pool2d k3 s2 fd", f_pool, &a, &x4, 1, 1e-2f, 64, 1e-3);
  const int k[3] = {3, 3, 2}, st[3] = {2, 1, 2}, pad6[6] = {1, 1, 1, 1, 0, 1};
  memcpy(a.k, k, sizeof k);
  memcpy(a.st, st, sizeof st);
  memcpy(a.pad6, pad6, sizeof pad6);
  a.kind = K_MAX3D;
  a.pad_value = 0.f;
  th_gradcheck("max_pool3d pad 0 fd", f_pool, &a, &x5, 1, 1e-2f, 64, 1e-3);
  a.pad_value = -INFINITY;
  th_gradcheck("max_pool3d pad -inf fd", f_pool, &a, &x5, 1, 1e-2f, 64, 1e-3);
  a.kind = K_AVG3D;
  for (a.count_pad = 0; a.count_pad < 2; a.count_pad++) {
    char what[64];
    snprintf(what, sizeof what, "avg_pool3d count_pad %d fd", a.count_pad);
    th_gradcheck(what, f_pool, &a, &x5, 1, 1e-2f, 64, 1e-3);
  }
  a.kind = K_UP;
  th_gradcheck("upsample_nearest2x fd", f_pool, &a, &x3, 1, 1e-2f, 64, 1e-3);
  ctx_free(&ctx);
}

// Bad arguments must end the process with vp_die's status 1, not crash.
static void expect_die(const char *what, pool_arg a, int nd, const int64_t *xs) {
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
    vp_tensor *x = tensor_zeros(&ctx, nd, xs);
    f_pool(&ctx, &x, &a);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  th_check(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: expected an argument error (exit 1), got status %d",
           what, st);
}

static void run_bad_inputs(void) {
  const int64_t s4[4] = {1, 2, 3, 3}, s5[5] = {1, 2, 3, 4, 4}, s1[1] = {4};
  pool_arg a;
  memset(&a, 0, sizeof a);
  a.kind = K_AVG2D;
  a.k2 = 4;
  a.s2 = 1;
  expect_die("avg_pool2d kernel larger than input", a, 4, s4);
  a.k2 = 2;
  expect_die("avg_pool2d on a 5-D input", a, 5, s5);
  a.s2 = 0;
  expect_die("avg_pool2d stride 0", a, 4, s4);
  const int k[3] = {2, 2, 2}, st[3] = {1, 1, 1}, big_pad[6] = {0, 2, 0, 0, 0, 0};
  memcpy(a.k, k, sizeof k);
  memcpy(a.st, st, sizeof st);
  memcpy(a.pad6, big_pad, sizeof big_pad);
  a.kind = K_MAX3D;
  expect_die("max_pool3d pad as wide as the kernel", a, 5, s5);
  a.kind = K_AVG3D;
  expect_die("avg_pool3d pad as wide as the kernel", a, 5, s5);
  memset(a.pad6, 0, sizeof a.pad6);
  expect_die("avg_pool3d on a 4-D input", a, 4, s4);
  a.k[0] = 4;
  expect_die("avg_pool3d kernel longer than T", a, 5, s5);
  a.kind = K_UP;
  expect_die("upsample on a 1-D input", a, 1, s1);
}

int main(void) {
  run_goldens();
  run_hand_cases();
  run_gradchecks();
  run_bad_inputs();
  return th_summary();
}
