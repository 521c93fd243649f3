// test_ops_shape.c: reshape, permute, concat, slice, split and pad against
// PyTorch goldens, finite differences, and fast-vs-reference kernels.
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/kernel_mode.h"
#include "golden.h"
#include "harness.h"
#include "kernels/cpu/shape.h"
#include "ops/elem.h"
#include "ops/shape.h"

typedef struct {
  int ndim;
  int64_t shape[VP_MAXDIM];
} shape_arg;

static vp_tensor *f_reshape(vp_ctx *c, vp_tensor **in, void *a) {
  shape_arg *s = a;
  return op_reshape(c, in[0], s->ndim, s->shape);
}
static vp_tensor *f_reshape_twice(vp_ctx *c, vp_tensor **in, void *a) {
  (void)a;
  int64_t s[2] = {6, 4};
  return op_add(c, op_reshape(c, in[0], 2, s), op_scale(c, op_reshape(c, in[0], 2, s), 2.f));
}
static vp_tensor *f_permute(vp_ctx *c, vp_tensor **in, void *a) { return op_permute(c, in[0], a); }

typedef struct { int n, dim; } concat_arg;
static vp_tensor *f_concat(vp_ctx *c, vp_tensor **in, void *a) {
  concat_arg *k = a;
  return op_concat(c, in, k->n, k->dim);
}
typedef struct { int dim; int64_t start, len; } slice_arg;
static vp_tensor *f_slice(vp_ctx *c, vp_tensor **in, void *a) {
  slice_arg *s = a;
  return op_slice(c, in[0], s->dim, s->start, s->len);
}
typedef struct { int npad; int64_t pads[12]; float value; } pad_arg;
static vp_tensor *f_pad(vp_ctx *c, vp_tensor **in, void *a) {
  pad_arg *p = a;
  return op_pad(c, in[0], p->pads, p->npad, p->value);
}
// split, then put the pieces back in another order so every piece carries
// its own gradient.
static vp_tensor *f_split_cat(vp_ctx *c, vp_tensor **in, void *a) {
  (void)a;
  int64_t sizes[3] = {1, 3, 2};
  vp_tensor *p[3];
  op_split(c, in[0], 1, sizes, 3, p);
  vp_tensor *q[3] = {p[2], op_scale(c, p[0], 3.f), p[1]};
  return op_concat(c, q, 3, 1);
}

// Same names as tools/golden/g_shape.py.
static const char *PERMUTES[] = {"bcn_bnc", "bhld_blhd", "bchw_bhwc", "bhwc_bchw", "mixed4", "six",
                                 "identity", "with_ones", NULL};
static const char *PADS[] = {"last", "two", "three", "all", "none", NULL};

// The split case has three outputs, so it is run by hand here.
static void split_golden_once(golden *g, const char *mode) {
  const char *cas = "split3_d1";
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  vp_tensor *x = golden_tensor(g, &ctx, "%s/in/x", cas);
  x->requires_grad = 1;
  int64_t sizes[3] = {1, 3, 2};
  vp_tensor *y[3];
  op_split(&ctx, x, (int)golden_attr_int(g, cas, "dim"), sizes, 3, y);
  char what[128];
  for (int i = 0; i < 3; i++) {
    int64_t n;
    float *ref = golden_read(g, &n, "%s/out/y%d", cas, i);
    snprintf(what, sizeof what, "%s [%s] forward y%d", cas, mode, i);
    th_check(n == tensor_numel(y[i]), "%s: element count", what);
    if (n == tensor_numel(y[i])) th_check_rel(what, y[i]->data, ref, n, 1e-5);
    free(ref);
    float *gout = golden_read(g, &n, "%s/gout/y%d", cas, i);
    if (i < 2) {
      float *gy = tensor_grad(&ctx, y[i]);
      for (int64_t k = 0; k < n; k++) gy[k] += gout[k];
    } else {
      tape_backward_from(&ctx, y[i], gout);  // runs the whole tape
    }
    free(gout);
  }
  int64_t n;
  float *gref = golden_read(g, &n, "%s/grad/x", cas);
  snprintf(what, sizeof what, "%s [%s] grad x", cas, mode);
  th_check_rel(what, tensor_grad(&ctx, x), gref, n, 1e-4);
  free(gref);
  ctx_free(&ctx);
}

static void golden_tests(void) {
  golden *g = golden_open("shape");
  const char *x[] = {"x"}, *ab[] = {"a", "b"}, *abc[] = {"a", "b", "c"};
  const char *x8[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"};
  shape_arg r1 = {2, {4, -1}}, r0 = {0, {0}};
  golden_run_case(g, "reshape_infer", f_reshape, &r1, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "reshape_0d", f_reshape, &r0, x, 1, 1e-5, 1e-4);
  golden_run_case(g, "reshape_twice", f_reshape_twice, NULL, x, 1, 1e-5, 1e-4);
  for (const char **p = PERMUTES; *p; p++) {
    char cas[64], at[16];
    snprintf(cas, sizeof cas, "permute_%s", *p);
    int perm[VP_MAXDIM], nd = (int)golden_attr_int(g, cas, "nd");
    for (int i = 0; i < nd; i++) {
      snprintf(at, sizeof at, "p%d", i);
      perm[i] = (int)golden_attr_int(g, cas, at);
    }
    golden_run_case(g, cas, f_permute, perm, x, 1, 1e-5, 1e-4);
  }
  concat_arg c1 = {2, (int)golden_attr_int(g, "concat2_d1", "dim")};
  golden_run_case(g, "concat2_d1", f_concat, &c1, ab, 2, 1e-5, 1e-4);
  concat_arg c2 = {3, (int)golden_attr_int(g, "concat3_last", "dim")};
  golden_run_case(g, "concat3_last", f_concat, &c2, abc, 3, 1e-5, 1e-4);
  concat_arg c3 = {8, (int)golden_attr_int(g, "concat8_d0", "dim")};
  golden_run_case(g, "concat8_d0", f_concat, &c3, x8, 8, 1e-5, 1e-4);
  concat_arg c4 = {2, (int)golden_attr_int(g, "concat2_nograd_b", "dim")};
  golden_run_case(g, "concat2_nograd_b", f_concat, &c4, ab, 2, 1e-5, 1e-4);
  const char *slices[] = {"slice_d1", "slice_last", "slice_d0_all", "slice_neg_start"};
  for (int i = 0; i < 4; i++) {
    slice_arg s = {(int)golden_attr_int(g, slices[i], "dim"), golden_attr_int(g, slices[i], "start"),
                   golden_attr_int(g, slices[i], "len")};
    golden_run_case(g, slices[i], f_slice, &s, x, 1, 1e-5, 1e-4);
  }
  int saved = vp_use_ref_kernels;
  kernel_mode_set_ref(0);
  split_golden_once(g, "fast");
  kernel_mode_set_ref(1);
  split_golden_once(g, "ref");
  kernel_mode_set_ref(saved);
  for (const char **p = PADS; *p; p++) {
    char cas[64], at[16];
    snprintf(cas, sizeof cas, "pad_%s", *p);
    pad_arg a;
    a.npad = (int)golden_attr_int(g, cas, "npad");
    a.value = (float)golden_attr_double(g, cas, "value");
    for (int i = 0; i < 2 * a.npad; i++) {
      snprintf(at, sizeof at, "p%d", i);
      a.pads[i] = golden_attr_int(g, cas, at);
    }
    golden_run_case(g, cas, f_pad, &a, x, 1, 1e-5, 1e-4);
  }
  golden_close(g);
}

static vp_tensor *rand_tensor(vp_ctx *ctx, int nd, const int64_t *s, uint64_t seed) {
  vp_tensor *t = tensor_new(ctx, nd, s);
  th_fill_uniform(t->data, tensor_numel(t), seed, -1.f, 1.f);
  t->requires_grad = 1;
  return t;
}

static void fd_tests(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t s3[3] = {2, 3, 4}, s4[4] = {2, 3, 2, 2};
  vp_tensor *x = rand_tensor(&ctx, 3, s3, 1);
  shape_arg r = {2, {-1, 6}};
  th_gradcheck("reshape fd", f_reshape, &r, &x, 1, 1e-2f, 64, 1e-2);
  int perm[4] = {2, 0, 3, 1};
  vp_tensor *x4 = rand_tensor(&ctx, 4, s4, 2);
  th_gradcheck("permute fd", f_permute, perm, &x4, 1, 1e-2f, 64, 1e-2);
  vp_tensor *cin[3] = {rand_tensor(&ctx, 3, s3, 3), rand_tensor(&ctx, 3, s3, 4), rand_tensor(&ctx, 3, s3, 5)};
  concat_arg c = {3, -2};
  th_gradcheck("concat fd", f_concat, &c, cin, 3, 1e-2f, 64, 1e-2);
  slice_arg sl = {2, 1, 2};
  th_gradcheck("slice fd", f_slice, &sl, &x, 1, 1e-2f, 64, 1e-2);
  int64_t s6[3] = {2, 6, 2};
  vp_tensor *x6 = rand_tensor(&ctx, 3, s6, 6);
  th_gradcheck("split fd", f_split_cat, NULL, &x6, 1, 1e-2f, 64, 1e-2);
  pad_arg p = {2, {1, 2, 0, 1}, 0.5f};
  th_gradcheck("pad fd", f_pad, &p, &x, 1, 1e-2f, 64, 1e-2);
  ctx_free(&ctx);
}

static void fast_vs_ref(void) {
  struct { int nd; int64_t s[6]; int perm[6]; } P[] = {
      {3, {4, 64, 1000}, {0, 2, 1}},            // (B,C,N) -> (B,N,C)
      {3, {4, 1000, 64}, {0, 2, 1}},            // and back
      {4, {2, 8, 256, 32}, {0, 2, 1, 3}},       // (B,H,L,D) -> (B,L,H,D)
      {4, {2, 16, 24, 40}, {0, 2, 3, 1}},       // BCHW -> BHWC
      {4, {3, 17, 33, 5}, {3, 1, 0, 2}},
      {6, {3, 4, 5, 6, 7, 8}, {5, 3, 1, 0, 4, 2}},
      {6, {2, 1, 7, 1, 9, 11}, {4, 3, 5, 1, 0, 2}},
      {2, {37, 1}, {1, 0}},
  };
  int np = (int)(sizeof P / sizeof P[0]);
  for (int p = 0; p < np; p++) {
    int64_t n = 1;
    for (int d = 0; d < P[p].nd; d++) n *= P[p].s[d];
    float *x = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4), *y2 = malloc((size_t)n * 4);
    th_fill_uniform(x, n, 100 + p, -1, 1);
    cpu_permute_ref(P[p].nd, P[p].s, P[p].perm, x, y1, 0);
    cpu_permute(P[p].nd, P[p].s, P[p].perm, x, y2, 0);
    char what[64];
    snprintf(what, sizeof what, "permute fast vs ref %d", p);
    th_check_rel(what, y2, y1, n, 0);
    cpu_permute_ref(P[p].nd, P[p].s, P[p].perm, x, y1, 1);
    cpu_permute(P[p].nd, P[p].s, P[p].perm, x, y2, 1);
    snprintf(what, sizeof what, "permute+= fast vs ref %d", p);
    th_check_rel(what, y2, y1, n, 0);
    free(x); free(y1); free(y2);
  }
  // Column windows: concat-like and slice-like, copy and accumulate.
  int64_t rows = 300, xc = 700, yc = 1000;
  float *x = malloc((size_t)(rows * yc) * 4), *y1 = calloc((size_t)(rows * yc), 4),
        *y2 = calloc((size_t)(rows * yc), 4);
  th_fill_uniform(x, rows * yc, 7, -1, 1);
  for (int acc = 0; acc < 2; acc++) {
    cpu_copy_cols_ref(rows, 500, x, xc, 100, y1, yc, 300, acc);
    cpu_copy_cols(rows, 500, x, xc, 100, y2, yc, 300, acc);
    th_check_rel("copy_cols fast vs ref", y2, y1, rows * yc, 0);
    cpu_copy_cols_ref(rows, yc, x, yc, 0, y1, yc, 0, acc);
    cpu_copy_cols(rows, yc, x, yc, 0, y2, yc, 0, acc);
    th_check_rel("copy_cols whole rows fast vs ref", y2, y1, rows * yc, 0);
  }
  free(x); free(y1); free(y2);
  // Pad forward and backward.
  int64_t xs[4] = {2, 8, 30, 40}, lo[4] = {0, 1, 2, 3}, ys[4] = {2, 11, 33, 47};
  int64_t nx = 2 * 8 * 30 * 40, ny = 2 * 11 * 33 * 47;
  float *px = malloc((size_t)nx * 4), *py1 = malloc((size_t)ny * 4), *py2 = malloc((size_t)ny * 4);
  float *g1 = calloc((size_t)nx, 4), *g2 = calloc((size_t)nx, 4);
  th_fill_uniform(px, nx, 8, -1, 1);
  cpu_pad_fwd_ref(4, xs, lo, ys, px, 0.75f, py1);
  cpu_pad_fwd(4, xs, lo, ys, px, 0.75f, py2);
  th_check_rel("pad fwd fast vs ref", py2, py1, ny, 0);
  cpu_pad_bwd_ref(4, xs, lo, ys, py1, g1);
  cpu_pad_bwd(4, xs, lo, ys, py1, g2);
  th_check_rel("pad bwd fast vs ref", g2, g1, nx, 0);
  th_check_rel("pad bwd recovers x", g2, px, nx, 0);
  free(px); free(py1); free(py2); free(g1); free(g2);
}

static int dies(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(0);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return 0;
  return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

// Each bad call runs in a child with a fresh context.
typedef enum { BAD_RESHAPE_COUNT, BAD_RESHAPE_TWO_INFER, BAD_PERM, BAD_CONCAT, BAD_SLICE, BAD_SPLIT,
               BAD_PAD_NEG, BAD_PAD_MANY, BAD_DIM, BAD_N } bad_kind;
static void bad_call(void *arg) {
  bad_kind k = *(bad_kind *)arg;
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  int64_t s[3] = {2, 3, 4}, s2[3] = {2, 5, 5};
  vp_tensor *x = tensor_zeros(&ctx, 3, s), *y = tensor_zeros(&ctx, 3, s2);
  int64_t r5[2] = {5, -1}, rr[2] = {-1, -1}, sizes[2] = {1, 1}, pads[4] = {1, -1, 0, 0},
          pads8[8] = {0};
  int perm[3] = {0, 1, 1};
  vp_tensor *xy[2] = {x, y}, *out[2];
  switch (k) {
    case BAD_RESHAPE_COUNT: op_reshape(&ctx, x, 2, r5); break;
    case BAD_RESHAPE_TWO_INFER: op_reshape(&ctx, x, 2, rr); break;
    case BAD_PERM: op_permute(&ctx, x, perm); break;
    case BAD_CONCAT: op_concat(&ctx, xy, 2, 1); break;  // dim 2 differs
    case BAD_SLICE: op_slice(&ctx, x, 1, 2, 2); break;
    case BAD_SPLIT: op_split(&ctx, x, 1, sizes, 2, out); break;
    case BAD_PAD_NEG: op_pad(&ctx, x, pads, 2, 0.f); break;
    case BAD_PAD_MANY: op_pad(&ctx, x, pads8, 4, 0.f); break;
    case BAD_DIM: op_slice(&ctx, x, 3, 0, 1); break;
    case BAD_N: break;
  }
  ctx_free(&ctx);
}

static void misc_tests(void) {
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  int64_t s[3] = {2, 3, 4};
  vp_tensor *x = rand_tensor(&ctx, 3, s, 9);
  int64_t t[2] = {-1, 4};
  vp_tensor *r = op_reshape(&ctx, x, 2, t);
  th_check(r->data == x->data && r->ndim == 2 && r->shape[0] == 6 && r->shape[1] == 4,
           "reshape shares data and infers -1");
  th_check(r->grad == NULL && r->requires_grad, "reshape output has its own (lazy) gradient");
  // Reshape's gradient goes through its own buffer into x's.
  float ones[24];
  for (int i = 0; i < 24; i++) ones[i] = 1.f;
  tape_backward_from(&ctx, r, ones);
  th_check(x->grad && x->grad != r->grad && x->grad[5] == 1.f, "reshape backward adds into x's gradient");
  // A (1,) slice reshaped to 0-dim.
  vp_tensor *one = op_slice(&ctx, op_reshape(&ctx, x, 1, (int64_t[]){-1}), 0, 5, 1);
  vp_tensor *z = op_reshape(&ctx, one, 0, NULL);
  th_check(z->ndim == 0 && tensor_numel(z) == 1 && z->data[0] == x->data[5], "reshape to 0-dim");
  const char *names[BAD_N] = {"reshape count", "reshape two -1", "permute repeat", "concat mismatch",
                              "slice out of range", "split sizes", "negative pad", "too many pads",
                              "dim out of range"};
  for (int k = 0; k < BAD_N; k++) {
    bad_kind b = (bad_kind)k;
    th_check(dies(bad_call, &b), "bad input is an error: %s", names[k]);
  }
  ctx_free(&ctx);
}

int main(void) {
  golden_tests();
  fd_tests();
  fast_vs_ref();
  misc_tests();
  return th_summary();
}
