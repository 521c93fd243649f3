// i3d.c: I3D Inception-v1 for Kinetics-400 on the op layer (see i3d.h).
// Layer by layer as deepmind's i3d.py and the pytorch-i3d port used by the
// FVD code (spec: metrics.md section 1.4):
//   Unit3D     = conv3d (no bias) 'SAME' -> BatchNorm -> ReLU
//   MaxPool    = zero pad to 'SAME' -> max pool (the port pads with F.pad's
//                zeros; every pool input follows a ReLU, so this equals TF's
//                -inf padding)
//   Mixed_*    = concat(b0 1x1, b1a 1x1 -> b1b 3x3x3, b2a 1x1 -> b2b 3x3x3,
//                       3x3x3/1 max pool -> b3b 1x1) on channels
//   Logits     = 2x7x7 'VALID' average pool -> 1x1x1 conv with bias ->
//                mean over the remaining time axis
// 'SAME' pads (ceil(n/s)-1)*s + k - n in total, the smaller half in front.
// BatchNorm (inference: running mean / var, weight, bias) is folded into the
// convolution at load time, w' = w g / sqrt(var + eps), b' = beta - mean g /
// sqrt(var + eps), so a Unit3D is one conv3d with bias and a ReLU.
#include "models/i3d.h"

#include <math.h>
#include <string.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/params.h"
#include "io/resize.h"
#include "kernels/cpu/pool_extra.h"
#include "models/weights_h5.h"
#include "ops/conv.h"
#include "ops/pool.h"
#include "ops/shape.h"

#define I3D_HOW "tools/convert_i3d.py i3d_pretrained_400.pt --out FILE"
#define I3D_MIXED 9
#define I3D_FEATURES 1024

typedef struct {
  vp_tensor *w, *b;  // folded: (Co, Ci, k, k, k), (Co)
  int k, stride;     // cubic kernel and stride
} i3d_unit;

// Branch order inside an inception module, as in the checkpoint.
enum { B0, B1A, B1B, B2A, B2B, B3B, NBRANCH };
static const char *BRANCH_NAME[NBRANCH] = {"b0", "b1a", "b1b", "b2a", "b2b", "b3b"};

typedef struct {
  const char *name;
  int cin;
  int c[NBRANCH];  // output channels of b0, b1a, b1b, b2a, b2b, b3b
} mixed_cfg;

static const mixed_cfg MIXED[I3D_MIXED] = {
    {"Mixed_3b", 192, {64, 96, 128, 16, 32, 32}},
    {"Mixed_3c", 256, {128, 128, 192, 32, 96, 64}},
    {"Mixed_4b", 480, {192, 96, 208, 16, 48, 64}},
    {"Mixed_4c", 512, {160, 112, 224, 24, 64, 64}},
    {"Mixed_4d", 512, {128, 128, 256, 24, 64, 64}},
    {"Mixed_4e", 512, {112, 144, 288, 32, 64, 64}},
    {"Mixed_4f", 528, {256, 160, 320, 32, 128, 128}},
    {"Mixed_5b", 832, {256, 160, 320, 32, 128, 128}},
    {"Mixed_5c", 832, {384, 192, 384, 48, 128, 128}},
};

struct i3d_model {
  vp_params p;  // folded weights
  i3d_unit conv1a, conv2b, conv2c;
  i3d_unit mixed[I3D_MIXED][NBRANCH];
  i3d_unit logits;
};

// ---------------------------------------------------------------- loading
// The raw tensors of one BN unit in the file, declared under the
// checkpoint's names.
typedef struct {
  vp_tensor *w, *g, *beta, *mean, *var;
} raw_unit;

static void raw_declare(vp_params *raw, raw_unit *u, const char *prefix, int cin, int cout, int k) {
  const int64_t ws[5] = {cout, cin, k, k, k}, cs[1] = {cout};
  u->w = params_add(raw, 5, ws, "%s.conv3d.weight", prefix);
  u->g = params_add(raw, 1, cs, "%s.bn.weight", prefix);
  u->beta = params_add(raw, 1, cs, "%s.bn.bias", prefix);
  u->mean = params_add(raw, 1, cs, "%s.bn.running_mean", prefix);
  u->var = params_add(raw, 1, cs, "%s.bn.running_var", prefix);
}

static void unit_declare(vp_params *p, i3d_unit *u, const char *prefix, int cin, int cout, int k,
                         int stride) {
  const int64_t ws[5] = {cout, cin, k, k, k}, cs[1] = {cout};
  u->w = params_add(p, 5, ws, "%s.weight", prefix);
  u->b = params_add(p, 1, cs, "%s.bias", prefix);
  u->k = k;
  u->stride = stride;
}

static void unit_fold(i3d_unit *u, const raw_unit *r, double eps) {
  const int64_t co = u->w->shape[0], per = tensor_numel(u->w) / co;
  for (int64_t c = 0; c < co; c++) {
    double var = r->var->data[c];
    if (!(var >= 0.0))
      vp_die("i3d: BatchNorm running_var of %s is %g (must be >= 0); the weight file is damaged",
             r->var->name, var);
    double s = (double)r->g->data[c] / sqrt(var + eps);
    for (int64_t i = 0; i < per; i++) u->w->data[c * per + i] = (float)(r->w->data[c * per + i] * s);
    u->b->data[c] = (float)((double)r->beta->data[c] - (double)r->mean->data[c] * s);
  }
}

i3d_model *i3d_load_eps(const char *path, double bn_eps) {
  VP_ASSERT(bn_eps > 0.0);
  weights_h5 *f = weights_h5_open(path, "I3D (FVD, Kinetics-400) weight", I3D_HOW);
  i3d_model *m = vp_calloc(1, sizeof(*m));
  vp_params raw;
  params_init(&raw);
  params_init(&m->p);
  raw_unit r1a, r2b, r2c, rmix[I3D_MIXED][NBRANCH];
  raw_declare(&raw, &r1a, "Conv3d_1a_7x7", 3, 64, 7);
  raw_declare(&raw, &r2b, "Conv3d_2b_1x1", 64, 64, 1);
  raw_declare(&raw, &r2c, "Conv3d_2c_3x3", 64, 192, 3);
  unit_declare(&m->p, &m->conv1a, "Conv3d_1a_7x7", 3, 64, 7, 2);
  unit_declare(&m->p, &m->conv2b, "Conv3d_2b_1x1", 64, 64, 1, 1);
  unit_declare(&m->p, &m->conv2c, "Conv3d_2c_3x3", 64, 192, 3, 1);
  for (int i = 0; i < I3D_MIXED; i++) {
    const mixed_cfg *c = &MIXED[i];
    // input channels of each branch's conv: 1x1s read the module input,
    // the 3x3x3s read their branch's 1x1.
    const int cin[NBRANCH] = {c->cin, c->cin, c->c[B1A], c->cin, c->c[B2A], c->cin};
    const int k[NBRANCH] = {1, 1, 3, 1, 3, 1};
    for (int b = 0; b < NBRANCH; b++) {
      char prefix[64];
      snprintf(prefix, sizeof prefix, "%s.%s", c->name, BRANCH_NAME[b]);
      raw_declare(&raw, &rmix[i][b], prefix, cin[b], c->c[b], k[b]);
      unit_declare(&m->p, &m->mixed[i][b], prefix, cin[b], c->c[b], k[b], 1);
    }
  }
  const int64_t lw[5] = {I3D_CLASSES, I3D_FEATURES, 1, 1, 1}, lb[1] = {I3D_CLASSES};
  vp_tensor *raw_lw = params_add(&raw, 5, lw, "logits.conv3d.weight");
  vp_tensor *raw_lb = params_add(&raw, 1, lb, "logits.conv3d.bias");
  unit_declare(&m->p, &m->logits, "logits", I3D_FEATURES, I3D_CLASSES, 1, 1);
  params_alloc(&raw);
  params_alloc(&m->p);
  weights_h5_load_params(f, &raw, 1);
  weights_h5_close(f);

  unit_fold(&m->conv1a, &r1a, bn_eps);
  unit_fold(&m->conv2b, &r2b, bn_eps);
  unit_fold(&m->conv2c, &r2c, bn_eps);
  for (int i = 0; i < I3D_MIXED; i++)
    for (int b = 0; b < NBRANCH; b++) unit_fold(&m->mixed[i][b], &rmix[i][b], bn_eps);
  memcpy(m->logits.w->data, raw_lw->data, (size_t)tensor_numel(raw_lw) * sizeof(float));
  memcpy(m->logits.b->data, raw_lb->data, (size_t)tensor_numel(raw_lb) * sizeof(float));
  params_free(&raw);
  for (int i = 0; i < m->p.n; i++) m->p.t[i]->requires_grad = 0;
  return m;
}

i3d_model *i3d_load(const char *path) { return i3d_load_eps(path, I3D_BN_EPS); }

void i3d_free(i3d_model *m) {
  if (!m) return;
  params_free(&m->p);
  free(m);
}

// ---------------------------------------------------------------- forward
// 'SAME' padding of x (B, C, T, H, W) for a cubic-or-not window k / stride s.
static void same_pads(const vp_tensor *x, const int k[3], const int s[3], int pad[6]) {
  for (int a = 0; a < 3; a++) conv_same_pad(x->shape[2 + a], k[a], s[a], &pad[2 * a], &pad[2 * a + 1]);
}

// The network only ever runs forward, so the ReLU works in place: at 224x224
// the convolution outputs are tens of MB each, and a second copy would also
// start an OpenMP team between two OpenBLAS calls (see kernels/cpu/conv.c).
static void relu_inplace(vp_tensor *t) {
  float *d = t->data;
  const int64_t n = tensor_numel(t);
  for (int64_t i = 0; i < n; i++) d[i] = d[i] > 0.f ? d[i] : 0.f;
}

static vp_tensor *unit_fwd(vp_ctx *ctx, const i3d_unit *u, vp_tensor *x, int relu) {
  const int k[3] = {u->k, u->k, u->k}, s[3] = {u->stride, u->stride, u->stride};
  int pad[6];
  same_pads(x, k, s, pad);
  vp_tensor *y = op_conv3d(ctx, x, u->w, u->b, s, pad);
  if (relu) relu_inplace(y);
  return y;
}

// Zero padding as the port's F.pad (see the file comment). The fast path is
// the separable pool of kernels/cpu/pool_extra.h (a 3x3x3 window costs 9
// comparisons instead of 27, and the loops vectorise); with the reference
// kernels selected it is op_max_pool3d.
static vp_tensor *maxpool_same(vp_ctx *ctx, vp_tensor *x, int kt, int kh, int st, int sh) {
  const int k[3] = {kt, kh, kh}, s[3] = {st, sh, sh};
  int pad[6];
  same_pads(x, k, s, pad);
  if (vp_use_ref_kernels) return op_max_pool3d(ctx, x, k, s, pad, 0.f);
  cpu_pool_geom g;
  g.planes = x->shape[0] * x->shape[1];
  int64_t ys[5] = {x->shape[0], x->shape[1]};
  for (int a = 0; a < 3; a++) {
    g.in[a] = x->shape[2 + a];
    g.k[a] = k[a];
    g.stride[a] = s[a];
    g.pad[a] = pad[2 * a];
    g.out[a] = ys[2 + a] = (g.in[a] + pad[2 * a] + pad[2 * a + 1] - k[a]) / s[a] + 1;
  }
  vp_tensor *y = tensor_new(ctx, 5, ys);
  cpu_maxpool3d_fwd_separable(&g, x->data, 0.f, y->data);
  return y;
}

static vp_tensor *mixed_fwd(vp_ctx *ctx, const i3d_unit *u, vp_tensor *x) {
  vp_tensor *br[4];
  br[0] = unit_fwd(ctx, &u[B0], x, 1);
  br[1] = unit_fwd(ctx, &u[B1B], unit_fwd(ctx, &u[B1A], x, 1), 1);
  br[2] = unit_fwd(ctx, &u[B2B], unit_fwd(ctx, &u[B2A], x, 1), 1);
  br[3] = unit_fwd(ctx, &u[B3B], maxpool_same(ctx, x, 3, 3, 1, 1), 1);
  return op_concat(ctx, br, 4, 1);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void i3d_forward_raw(i3d_model *m, vp_ctx *ctx, const float *x, int64_t T, int64_t H, int64_t W,
                     float *logits) {
  // Stride-2 stages: time 3 (conv, pool 4a, pool 5a), space 5.
  const int64_t Tf = ceil_div(T, 8), Hf = ceil_div(H, 32), Wf = ceil_div(W, 32);
  if (T < 1 || Tf < 2 || Hf != 7 || Wf != 7)
    vp_die("i3d: a clip of %lld frames of %lldx%lld does not fit the network: it needs at least "
           "%d frames and a side of 193 to 224 pixels (the final map must be 7x7 for the 2x7x7 "
           "average pool); i3d_logits resizes frames to %dx%d first", (long long)T, (long long)H,
           (long long)W, I3D_MIN_FRAMES, I3D_RESOLUTION, I3D_RESOLUTION);
  int training = ctx->training;
  ctx_set_training(ctx, 0);
  const int64_t xs[5] = {1, 3, T, H, W};
  vp_tensor *h = tensor_from(ctx, 5, xs, x);
  h = unit_fwd(ctx, &m->conv1a, h, 1);
  h = maxpool_same(ctx, h, 1, 3, 1, 2);
  h = unit_fwd(ctx, &m->conv2b, h, 1);
  h = unit_fwd(ctx, &m->conv2c, h, 1);
  h = maxpool_same(ctx, h, 1, 3, 1, 2);
  for (int i = 0; i < I3D_MIXED; i++) {
    if (i == 2) h = maxpool_same(ctx, h, 3, 3, 2, 2);  // MaxPool3d_4a_3x3 before Mixed_4b
    if (i == 7) h = maxpool_same(ctx, h, 2, 2, 2, 2);  // MaxPool3d_5a_2x2 before Mixed_5b
    h = mixed_fwd(ctx, m->mixed[i], h);
  }
  VP_ASSERT(h->shape[1] == I3D_FEATURES && h->shape[2] == Tf && h->shape[3] == 7 && h->shape[4] == 7);
  const int k[3] = {2, 7, 7}, s[3] = {1, 1, 1}, pad0[6] = {0, 0, 0, 0, 0, 0};
  h = op_avg_pool3d(ctx, h, k, s, pad0, 1);      // (1, 1024, Tf - 1, 1, 1)
  h = unit_fwd(ctx, &m->logits, h, 0);           // (1, 400, Tf - 1, 1, 1)
  const int64_t To = h->shape[2];
  for (int c = 0; c < I3D_CLASSES; c++) {
    double acc = 0.0;
    for (int64_t t = 0; t < To; t++) acc += h->data[c * To + t];
    logits[c] = (float)(acc / (double)To);
  }
  ctx_reset(ctx);
  ctx_set_training(ctx, training);
}

// ---------------------------------------------------------------- preprocessing
void i3d_preprocess(const float *video, int64_t T, int64_t H, int64_t W, int64_t res, float *out) {
  VP_ASSERT(T >= 1 && H >= 1 && W >= 1 && res >= 1);
  // Python: scale = res / min(h, w); ceil(side * scale) in double.
  const double scale = (double)res / (double)(H < W ? H : W);
  int64_t Ht, Wt;
  if (H < W) {
    Ht = res;
    Wt = (int64_t)ceil((double)W * scale);
  } else {
    Ht = (int64_t)ceil((double)H * scale);
    Wt = res;
  }
  const int64_t h0 = (Ht - res) / 2, w0 = (Wt - res) / 2, plane = res * res;
  float *tmp = vp_malloc((size_t)(Ht * Wt * 3) * sizeof(float));
  for (int64_t t = 0; t < T; t++) {
    resize_image(video + t * H * W * 3, H, W, 3, tmp, Ht, Wt, RESIZE_BILINEAR);
    for (int64_t y = 0; y < res; y++)
      for (int64_t xx = 0; xx < res; xx++) {
        const float *px = tmp + ((h0 + y) * Wt + (w0 + xx)) * 3;
        for (int c = 0; c < 3; c++) out[(c * T + t) * plane + y * res + xx] = (px[c] - 0.5f) * 2.f;
      }
  }
  free(tmp);
}

void i3d_logits(i3d_model *m, vp_ctx *ctx, const float *video, int64_t n, int64_t T, int64_t H,
                int64_t W, float *logits) {
  if (T < I3D_MIN_FRAMES)
    vp_die("fvd: clips of %lld frames are too short for I3D, which needs at least %d (the time "
           "axis must survive three stride-2 stages and a 2-frame average pool)", (long long)T,
           I3D_MIN_FRAMES);
  const int64_t R = I3D_RESOLUTION;
  float *x = vp_malloc((size_t)(3 * T * R * R) * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    i3d_preprocess(video + i * T * H * W * 3, T, H, W, R, x);
    i3d_forward_raw(m, ctx, x, T, R, R, logits + i * I3D_CLASSES);
  }
  free(x);
  ctx_reset(ctx);
}
