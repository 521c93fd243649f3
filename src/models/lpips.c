// lpips.c: LPIPS with the AlexNet trunk, v0.1 (see lpips.h), as the `lpips`
// package computes LPIPS(net='alex', version='0.1') in eval mode:
//   x' = (x - shift) / scale                      the v0.1 scaling layer
//   f_l = relu_l(AlexNet features(x'))            taps after the 5 ReLUs
//   f^ = f / (sqrt(sum_c f_c^2) + 1e-10)          unit norm over channels
//   d_l = mean_hw( sum_c lin_l[c] * (f^x - f^y)_c^2 )   1x1 conv, no bias
//   LPIPS = sum_l d_l
// The trunk runs on the op layer in inference mode; the heads are plain loops
// (a 1-output 1x1 conv is a weighted channel sum, not worth a gemm). Both
// images of every pair go through the trunk in one batch.
#include "models/lpips.h"

#include <math.h>
#include <string.h>

#include "core/check.h"
#include "core/kernel_mode.h"
#include "core/params.h"
#include "kernels/cpu/pool_extra.h"
#include "models/weights_h5.h"
#include "ops/conv.h"
#include "ops/pool.h"
#include "ops/shape.h"

#define LPIPS_EPS 1e-10
// Smallest input side AlexNet's two 3x3/2 max pools still fit in.
#define LPIPS_MIN_SIDE 31
// Activation budget of one chunk of pairs (floats): about 15 floats per
// input pixel per image live at once in the trunk.
#define LPIPS_CHUNK_FLOATS ((int64_t)32 << 20)
#define LPIPS_MAX_CHUNK_PAIRS 16

// torchvision AlexNet.features: convs at indices 0, 3, 6, 8, 10.
static const int LP_IDX[LPIPS_LAYERS] = {0, 3, 6, 8, 10};
static const int LP_CIN[LPIPS_LAYERS] = {3, 64, 192, 384, 256};
static const int LP_COUT[LPIPS_LAYERS] = {64, 192, 384, 256, 256};
static const int LP_K[LPIPS_LAYERS] = {11, 5, 3, 3, 3};
static const int LP_STRIDE[LPIPS_LAYERS] = {4, 1, 1, 1, 1};
static const int LP_PAD[LPIPS_LAYERS] = {2, 2, 1, 1, 1};
// A 3x3 / 2 max pool (no padding, floor mode) comes before these convs.
static const int LP_POOL_BEFORE[LPIPS_LAYERS] = {0, 1, 1, 0, 0};

// ScalingLayer buffers: float32 in the package, so the same floats here.
static const float LP_SHIFT[3] = {-.030f, -.088f, -.188f};
static const float LP_SCALE[3] = {.458f, .448f, .450f};

#define LPIPS_HOW "tools/convert_lpips.py --lin alex.pth --alexnet alexnet-owt-7be5be79.pth --out FILE"

struct lpips_model {
  vp_params p;
  vp_tensor *w[LPIPS_LAYERS], *b[LPIPS_LAYERS];  // conv (Co, Ci, k, k), (Co)
  vp_tensor *lin[LPIPS_LAYERS];                  // (1, C, 1, 1)
};

lpips_model *lpips_load(const char *path) {
  weights_h5 *f = weights_h5_open(path, "LPIPS (AlexNet v0.1) weight", LPIPS_HOW);
  lpips_model *m = vp_calloc(1, sizeof(*m));
  params_init(&m->p);
  for (int l = 0; l < LPIPS_LAYERS; l++) {
    const int64_t ws[4] = {LP_COUT[l], LP_CIN[l], LP_K[l], LP_K[l]}, bs[1] = {LP_COUT[l]};
    const int64_t ls[4] = {1, LP_COUT[l], 1, 1};
    m->w[l] = params_add(&m->p, 4, ws, "features.%d.weight", LP_IDX[l]);
    m->b[l] = params_add(&m->p, 1, bs, "features.%d.bias", LP_IDX[l]);
    m->lin[l] = params_add(&m->p, 4, ls, "lin%d.model.1.weight", l);
  }
  params_alloc(&m->p);
  weights_h5_load_params(f, &m->p, 1);
  weights_h5_close(f);
  for (int i = 0; i < m->p.n; i++) m->p.t[i]->requires_grad = 0;
  return m;
}

void lpips_free(lpips_model *m) {
  if (!m) return;
  params_free(&m->p);
  free(m);
}

// 3x3 / 2 max pool of (B, C, H, W), no padding, floor mode: a 3-D pool with
// a unit time axis. The fast path is the separable kernel of
// kernels/cpu/pool_extra.h (forward only, which is all LPIPS needs); with the
// reference kernels selected it is op_max_pool3d.
static vp_tensor *maxpool_3x3s2(vp_ctx *ctx, vp_tensor *x) {
  const int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  const int64_t Ho = (H - 3) / 2 + 1, Wo = (W - 3) / 2 + 1;
  if (vp_use_ref_kernels) {
    const int64_t s5[5] = {B, C, 1, H, W};
    const int k[3] = {1, 3, 3}, st[3] = {1, 2, 2}, pad[6] = {0, 0, 0, 0, 0, 0};
    vp_tensor *y = op_max_pool3d(ctx, op_reshape(ctx, x, 5, s5), k, st, pad, -INFINITY);
    const int64_t s4[4] = {B, C, Ho, Wo};
    return op_reshape(ctx, y, 4, s4);
  }
  const cpu_pool_geom g = {B * C, {1, H, W}, {1, Ho, Wo}, {1, 3, 3}, {1, 2, 2}, {0, 0, 0}};
  vp_tensor *y = tensor_newv(ctx, 4, B, C, Ho, Wo);
  cpu_maxpool3d_fwd_separable(&g, x->data, -INFINITY, y->data);
  return y;
}

// Forward only, so the ReLU works in place (no second copy of each map, and
// no OpenMP team started between two OpenBLAS calls).
static void relu_inplace(vp_tensor *t) {
  float *d = t->data;
  const int64_t n = tensor_numel(t);
  for (int64_t i = 0; i < n; i++) d[i] = d[i] > 0.f ? d[i] : 0.f;
}

// d[i] = mean_hw sum_c lin[c] (fx^ - fy^)_c^2 for the pair (f[i], f[npair + i])
// of the feature map f (2 npair, C, H, W).
static void head(const vp_tensor *f, const float *lin, int64_t npair, double *d) {
  const int64_t C = f->shape[1], N = f->shape[2] * f->shape[3];
#pragma omp parallel for schedule(dynamic, 1) if (npair > 1)
  for (int64_t i = 0; i < npair; i++) {
    const float *fx = f->data + i * C * N, *fy = f->data + (npair + i) * C * N;
    double *buf = vp_malloc((size_t)(3 * N) * sizeof(double));
    double *ix = buf, *iy = buf + N, *acc = buf + 2 * N;
    for (int64_t p = 0; p < N; p++) ix[p] = iy[p] = acc[p] = 0.0;
    for (int64_t c = 0; c < C; c++)
      for (int64_t p = 0; p < N; p++) {
        ix[p] += (double)fx[c * N + p] * fx[c * N + p];
        iy[p] += (double)fy[c * N + p] * fy[c * N + p];
      }
    for (int64_t p = 0; p < N; p++) {
      ix[p] = 1.0 / (sqrt(ix[p]) + LPIPS_EPS);
      iy[p] = 1.0 / (sqrt(iy[p]) + LPIPS_EPS);
    }
    for (int64_t c = 0; c < C; c++) {
      const double wc = lin[c];
      for (int64_t p = 0; p < N; p++) {
        double e = fx[c * N + p] * ix[p] - fy[c * N + p] * iy[p];
        acc[p] += wc * e * e;
      }
    }
    double s = 0.0;
    for (int64_t p = 0; p < N; p++) s += acc[p];
    d[i] = s / (double)N;
    free(buf);
  }
}

// LPIPS of npair pairs: x and y (npair, 3, H, W) in [-1, 1] -> the layer
// terms d[npair][LPIPS_LAYERS].
static void lpips_chunk(lpips_model *m, vp_ctx *ctx, const float *x, const float *y, int64_t npair,
                        int64_t H, int64_t W, double *d) {
  const int64_t plane = H * W, img = 3 * plane;
  vp_tensor *h = tensor_newv(ctx, 4, 2 * npair, (int64_t)3, H, W);  // (2 npair, 3, H, W)
  for (int64_t i = 0; i < 2 * npair; i++) {
    const float *src = i < npair ? x + i * img : y + (i - npair) * img;
    float *dst = h->data + i * img;
    for (int c = 0; c < 3; c++)
      for (int64_t p = 0; p < plane; p++)
        dst[c * plane + p] = (src[c * plane + p] - LP_SHIFT[c]) / LP_SCALE[c];
  }
  double *part = vp_malloc((size_t)npair * sizeof(double));
  for (int l = 0; l < LPIPS_LAYERS; l++) {
    if (LP_POOL_BEFORE[l]) h = maxpool_3x3s2(ctx, h);
    h = op_conv2d(ctx, h, m->w[l], m->b[l], LP_STRIDE[l], LP_PAD[l]);
    relu_inplace(h);
    head(h, m->lin[l]->data, npair, part);
    for (int64_t i = 0; i < npair; i++) d[i * LPIPS_LAYERS + l] = part[i];
  }
  free(part);
}

void lpips_distance_layers(lpips_model *m, vp_ctx *ctx, const float *x, const float *y, int64_t n,
                           int64_t H, int64_t W, float *out, float *layers) {
  if (H < LPIPS_MIN_SIDE || W < LPIPS_MIN_SIDE)
    vp_die("lpips: images of %lldx%lld are too small; the AlexNet trunk needs at least %dx%d "
           "pixels (upsample the frames first, as MCVD does to 128x128)", (long long)H, (long long)W,
           LPIPS_MIN_SIDE, LPIPS_MIN_SIDE);
  int training = ctx->training;
  ctx_set_training(ctx, 0);
  int64_t chunk = LPIPS_CHUNK_FLOATS / (2 * 15 * H * W);
  if (chunk < 1) chunk = 1;
  if (chunk > LPIPS_MAX_CHUNK_PAIRS) chunk = LPIPS_MAX_CHUNK_PAIRS;
  double *d = vp_malloc((size_t)(chunk * LPIPS_LAYERS) * sizeof(double));
  const int64_t img = 3 * H * W;
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    int64_t np = n - i0 < chunk ? n - i0 : chunk;
    ctx_reset(ctx);
    lpips_chunk(m, ctx, x + i0 * img, y + i0 * img, np, H, W, d);
    for (int64_t i = 0; i < np; i++) {
      double s = 0.0;
      for (int l = 0; l < LPIPS_LAYERS; l++) {
        s += d[i * LPIPS_LAYERS + l];
        if (layers) layers[(i0 + i) * LPIPS_LAYERS + l] = (float)d[i * LPIPS_LAYERS + l];
      }
      out[i0 + i] = (float)s;
    }
  }
  ctx_reset(ctx);
  ctx_set_training(ctx, training);
  free(d);
}

void lpips_distance(lpips_model *m, vp_ctx *ctx, const float *x, const float *y, int64_t n,
                    int64_t H, int64_t W, float *out) {
  lpips_distance_layers(m, ctx, x, y, n, H, W, out, NULL);
}
