// conv.c: reference, im2col + gemm and Winograd convolution kernels (see conv.h).
#include "kernels/cpu/conv.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "kernels/cpu/gemm.h"

// ---------------------------------------------------------------- helpers
static int64_t vol3(const int64_t d[3]) { return d[0] * d[1] * d[2]; }

// ---------------------------------------------------------------- reference
// Direct sums in double, one output (or one input / weight element) at a
// time. Slow and obvious; every fast path is checked against these.

void cpu_conv_fwd_ref(const cpu_conv_geom *g, const float *x, const float *w, const float *b,
                      float *y, int accumulate) {
  const int64_t T = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t To = g->out[0], Ho = g->out[1], Wo = g->out[2];
  const int64_t kt = g->k[0], kh = g->k[1], kw = g->k[2];
  const int64_t Nin = vol3(g->in), N = vol3(g->out), kv = vol3(g->k);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < g->B; bi++) {
    for (int64_t co = 0; co < g->Co; co++) {
      float *yo = y + (bi * g->Co + co) * N;
      for (int64_t ot = 0; ot < To; ot++)
        for (int64_t oh = 0; oh < Ho; oh++)
          for (int64_t ow = 0; ow < Wo; ow++) {
            double acc = b ? (double)b[co] : 0.0;
            for (int64_t ci = 0; ci < g->Ci; ci++) {
              const float *xc = x + (bi * g->Ci + ci) * Nin;
              const float *wc = w + (co * g->Ci + ci) * kv;
              for (int64_t dt = 0; dt < kt; dt++) {
                int64_t it = ot * g->stride[0] - g->pad[0] + dt;
                if (it < 0 || it >= T) continue;
                for (int64_t dh = 0; dh < kh; dh++) {
                  int64_t ih = oh * g->stride[1] - g->pad[1] + dh;
                  if (ih < 0 || ih >= H) continue;
                  for (int64_t dw = 0; dw < kw; dw++) {
                    int64_t iw = ow * g->stride[2] - g->pad[2] + dw;
                    if (iw < 0 || iw >= W) continue;
                    acc += (double)xc[(it * H + ih) * W + iw] * wc[(dt * kh + dh) * kw + dw];
                  }
                }
              }
            }
            float *dst = &yo[(ot * Ho + oh) * Wo + ow];
            *dst = accumulate ? *dst + (float)acc : (float)acc;
          }
    }
  }
}

// Output index o along one axis that input index i meets through kernel tap
// d, or -1 when none (i = o*s - p + d).
static int64_t out_index(int64_t i, int64_t d, int64_t s, int64_t p, int64_t nout) {
  int64_t n = i + p - d;
  if (n < 0 || n % s != 0) return -1;
  int64_t o = n / s;
  return o < nout ? o : -1;
}

void cpu_conv_bwd_ref(const cpu_conv_geom *g, const float *x, const float *w, const float *dy,
                      float *dx, float *dw, float *db) {
  const int64_t T = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t To = g->out[0], Ho = g->out[1], Wo = g->out[2];
  const int64_t kt = g->k[0], kh = g->k[1], kw = g->k[2];
  const int64_t Nin = vol3(g->in), N = vol3(g->out), kv = vol3(g->k);
  if (db) {
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < g->Co; co++) {
      double acc = 0.0;
      for (int64_t bi = 0; bi < g->B; bi++)
        for (int64_t n = 0; n < N; n++) acc += dy[(bi * g->Co + co) * N + n];
      db[co] += (float)acc;
    }
  }
  if (dx) {
    // Gather form: each input element sums the outputs its taps reach.
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t bi = 0; bi < g->B; bi++) {
      for (int64_t ci = 0; ci < g->Ci; ci++) {
        float *dxc = dx + (bi * g->Ci + ci) * Nin;
        for (int64_t it = 0; it < T; it++)
          for (int64_t ih = 0; ih < H; ih++)
            for (int64_t iw = 0; iw < W; iw++) {
              double acc = 0.0;
              for (int64_t dt = 0; dt < kt; dt++) {
                int64_t ot = out_index(it, dt, g->stride[0], g->pad[0], To);
                if (ot < 0) continue;
                for (int64_t dh = 0; dh < kh; dh++) {
                  int64_t oh = out_index(ih, dh, g->stride[1], g->pad[1], Ho);
                  if (oh < 0) continue;
                  for (int64_t dw_ = 0; dw_ < kw; dw_++) {
                    int64_t ow = out_index(iw, dw_, g->stride[2], g->pad[2], Wo);
                    if (ow < 0) continue;
                    for (int64_t co = 0; co < g->Co; co++)
                      acc += (double)dy[(bi * g->Co + co) * N + (ot * Ho + oh) * Wo + ow] *
                             w[(co * g->Ci + ci) * kv + (dt * kh + dh) * kw + dw_];
                  }
                }
              }
              dxc[(it * H + ih) * W + iw] += (float)acc;
            }
      }
    }
  }
  if (dw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t co = 0; co < g->Co; co++) {
      for (int64_t ci = 0; ci < g->Ci; ci++) {
        float *dwc = dw + (co * g->Ci + ci) * kv;
        for (int64_t dt = 0; dt < kt; dt++)
          for (int64_t dh = 0; dh < kh; dh++)
            for (int64_t dw_ = 0; dw_ < kw; dw_++) {
              double acc = 0.0;
              for (int64_t bi = 0; bi < g->B; bi++) {
                const float *xc = x + (bi * g->Ci + ci) * Nin;
                const float *dyc = dy + (bi * g->Co + co) * N;
                for (int64_t ot = 0; ot < To; ot++) {
                  int64_t it = ot * g->stride[0] - g->pad[0] + dt;
                  if (it < 0 || it >= T) continue;
                  for (int64_t oh = 0; oh < Ho; oh++) {
                    int64_t ih = oh * g->stride[1] - g->pad[1] + dh;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t ow = 0; ow < Wo; ow++) {
                      int64_t iw = ow * g->stride[2] - g->pad[2] + dw_;
                      if (iw < 0 || iw >= W) continue;
                      acc += (double)xc[(it * H + ih) * W + iw] * dyc[(ot * Ho + oh) * Wo + ow];
                    }
                  }
                }
              }
              dwc[(dt * kh + dh) * kw + dw_] += (float)acc;
            }
      }
    }
  }
}

// ---------------------------------------------------------------- bias
// Single-threaded: the fast paths call these from one thread, between
// OpenBLAS calls (see blas_single_begin for why no OpenMP loop goes there).
void cpu_conv_bias_fwd(int64_t B, int64_t C, int64_t N, const float *b, float *y) {
  for (int64_t bi = 0; bi < B; bi++)
    for (int64_t c = 0; c < C; c++) {
      float *yc = y + (bi * C + c) * N;
      const float bc = b[c];
      for (int64_t n = 0; n < N; n++) yc[n] += bc;
    }
}

void cpu_conv_bias_bwd(int64_t B, int64_t C, int64_t N, const float *dy, float *db) {
  for (int64_t c = 0; c < C; c++) {
    double acc = 0.0;
    for (int64_t bi = 0; bi < B; bi++) {
      const float *d = dy + (bi * C + c) * N;
      float part = 0.f;  // float partial per image vectorises; double across images
      for (int64_t n = 0; n < N; n++) part += d[n];
      acc += part;
    }
    db[c] += (float)acc;
  }
}

// ---------------------------------------------------------------- scratch
// Columns and Winograd tiles live in one buffer per calling thread (split
// among its OpenMP team), grown to the largest convolution seen and kept: a
// training step runs the same convolutions every step, so after the first
// step no convolution allocates. The activation arena is not used because it
// cannot release memory within a step, and a network's worth of column
// buffers would dwarf its activations.
static _Thread_local float *t_scratch;
static _Thread_local size_t t_scratch_n;
// Column chunks (all threads' together) and Winograd tile chunks are capped
// at this many floats (32 MB): large enough that every gemm is big, small
// enough that a 7x7x7 vol2col of a whole clip is not materialised at once.
static int64_t g_chunk_floats = (int64_t)8 << 20;

static float *scratch_get(size_t n) {
  if (n > t_scratch_n) {
    free(t_scratch);
    t_scratch = NULL;
    if (posix_memalign((void **)&t_scratch, 64, n * sizeof(float)) != 0)
      vp_die("out of memory allocating a %zu-byte convolution buffer; reduce the batch size or "
             "the resolution", n * sizeof(float));
    t_scratch_n = n;
  }
  return t_scratch;
}

void cpu_conv_scratch_free(void) {
  free(t_scratch);
  t_scratch = NULL;
  t_scratch_n = 0;
}

void cpu_conv_set_chunk_floats(int64_t n) { g_chunk_floats = n > 0 ? n : ((int64_t)8 << 20); }

// ---------------------------------------------------------------- im2col
// Range [lo, hi) of output indices o whose input index o*s - p + d lies in
// [0, n): outside it the column holds padding zeros.
static void valid_range(int64_t d, int64_t p, int64_t s, int64_t n, int64_t nout, int64_t *lo,
                        int64_t *hi) {
  int64_t a = p - d;  // need o*s >= a
  int64_t l = a > 0 ? (a + s - 1) / s : 0;
  int64_t z = n - 1 + p - d;  // need o*s <= z
  int64_t h = z < 0 ? 0 : z / s + 1;
  if (h > nout) h = nout;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

// cols (K, (r1-r0)*Wo) for output rows r in [r0, r1), r = ot*Ho + oh, from
// one image xb (Ci, T, H, W). Row k of cols is tap (ci, dt, dh, dw).
static void im2col(const cpu_conv_geom *g, const float *xb, int64_t r0, int64_t r1, float *cols) {
  const int64_t T = g->in[0], H = g->in[1], W = g->in[2], Ho = g->out[1], Wo = g->out[2];
  const int64_t kh = g->k[1], kw = g->k[2], kv = vol3(g->k), K = g->Ci * kv;
  const int64_t nc = (r1 - r0) * Wo, sw = g->stride[2];
  for (int64_t row = 0; row < K; row++) {
    const int64_t ci = row / kv, tap = row % kv;
    const int64_t dt = tap / (kh * kw), dh = (tap / kw) % kh, dw = tap % kw;
    const float *xc = xb + ci * T * H * W;
    float *dst = cols + row * nc;
    int64_t lo, hi;
    valid_range(dw, g->pad[2], sw, W, Wo, &lo, &hi);
    for (int64_t r = r0; r < r1; r++, dst += Wo) {
      const int64_t it = (r / Ho) * g->stride[0] - g->pad[0] + dt;
      const int64_t ih = (r % Ho) * g->stride[1] - g->pad[1] + dh;
      if (it < 0 || it >= T || ih < 0 || ih >= H) {
        memset(dst, 0, (size_t)Wo * sizeof(float));
        continue;
      }
      const float *src = xc + (it * H + ih) * W;
      const int64_t off = dw - g->pad[2];  // output column ow reads src[ow*sw + off]
      for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.f;
      if (sw == 1) {
        if (hi > lo) memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
      } else {
        for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw + off];
      }
      for (int64_t ow = hi; ow < Wo; ow++) dst[ow] = 0.f;
    }
  }
}

// dxb (Ci, T, H, W) += the scatter of cols (same layout as im2col).
static void col2im(const cpu_conv_geom *g, const float *cols, int64_t r0, int64_t r1, float *dxb) {
  const int64_t T = g->in[0], H = g->in[1], W = g->in[2], Ho = g->out[1], Wo = g->out[2];
  const int64_t kh = g->k[1], kw = g->k[2], kv = vol3(g->k);
  const int64_t nc = (r1 - r0) * Wo, sw = g->stride[2];
  for (int64_t ci = 0; ci < g->Ci; ci++) {
    float *xc = dxb + ci * T * H * W;
    for (int64_t tap = 0; tap < kv; tap++) {
      const int64_t dt = tap / (kh * kw), dh = (tap / kw) % kh, dw = tap % kw;
      const float *src = cols + (ci * kv + tap) * nc;
      int64_t lo, hi;
      valid_range(dw, g->pad[2], sw, W, Wo, &lo, &hi);
      for (int64_t r = r0; r < r1; r++, src += Wo) {
        const int64_t it = (r / Ho) * g->stride[0] - g->pad[0] + dt;
        const int64_t ih = (r % Ho) * g->stride[1] - g->pad[1] + dh;
        if (it < 0 || it >= T || ih < 0 || ih >= H) continue;
        float *dst = xc + (it * H + ih) * W;
        const int64_t off = dw - g->pad[2];
        if (sw == 1) {
          for (int64_t ow = lo; ow < hi; ow++) dst[ow + off] += src[ow];
        } else {
          for (int64_t ow = lo; ow < hi; ow++) dst[ow * sw + off] += src[ow];
        }
      }
    }
  }
}

// A 1x1x1 convolution with unit stride and no padding multiplies the input
// as it is stored: no columns needed.
static int is_pointwise(const cpu_conv_geom *g) {
  for (int a = 0; a < 3; a++)
    if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0 || g->in[a] != g->out[a]) return 0;
  return 1;
}

// Output rows (ot, oh) per column chunk, for nbuf buffers sharing the cap.
static int64_t chunk_rows(const cpu_conv_geom *g, int64_t K, int nbuf) {
  const int64_t R = g->out[0] * g->out[1], Wo = g->out[2];
  int64_t rows = g_chunk_floats / nbuf / (K * Wo);
  if (rows < 1) rows = 1;
  if (rows > R) rows = R;
  return rows;
}

// ---------------------------------------------------------------- threads
// The fast paths split their work (images, column chunks, the 16 Winograd
// products) over one OpenMP team, and each thread calls a single-threaded
// OpenBLAS for its own matrices. The alternative, OpenMP loops for the
// copies and OpenBLAS's threads for each product, is slower on few cores:
// OpenBLAS's pthread workers keep spinning for a while after each call, and
// an OpenMP team started then fights them for the cores (im2col + gemm
// forward measured 2x slower on 2 cores). OpenBLAS (pthread build) is safe
// to call from several threads at once when it runs single-threaded.
static int blas_single_begin(void) {
  int n = openblas_get_num_threads();
  if (n != 1) openblas_set_num_threads(1);
  return n;
}
static void blas_single_end(int n) {
  if (n != 1) openblas_set_num_threads(n);
}

// ---------------------------------------------------------------- Winograd
// 3x3, stride-1 2-D convolutions run as Winograd F(2x2, 3x3) (Lavin & Gray,
// 2016): each 2x2 output tile comes from a 4x4 input tile d as
//   Y = A^T [(G g G^T) . (B^T d B)] A,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
//   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],  A^T = [1 1 1 0; 0 1 -1 -1],
// and the sum over input channels of the 16 elementwise products is 16
// matrix products U[xi] (Co, Ci) @ V[xi] (Ci, tiles): 2.25x fewer
// multiplications than im2col. Backward is the transpose of every step:
//   dM = A dY A^T, dU[xi] += dM[xi] @ V[xi]^T, dV[xi] = U[xi]^T @ dM[xi],
//   dg = G^T dU G, dd = B dV B^T (overlapping input tiles add),
// so the gradients are exact for the computation forward does.
// The transforms work on whole tile rows: a tile row's inputs are split into
// even and odd columns, which turns the stride-2 tile access into contiguous
// loops the compiler vectorises.
static int g_winograd = 1;

void cpu_conv_set_winograd(int on) { g_winograd = on; }

static int winograd_ok(const cpu_conv_geom *g) {
  return g_winograd && g->k[0] == 1 && g->k[1] == 3 && g->k[2] == 3 && g->stride[0] == 1 &&
         g->stride[1] == 1 && g->stride[2] == 1 && g->in[0] == 1 && g->out[0] == 1 && g->pad[0] == 0;
}

typedef struct {
  int64_t B, Ci, Co, H, W, Ho, Wo, ph, pw;
  int64_t TH, TW;    // tile rows and columns per image
  int64_t rows;      // tile rows (over all images) per chunk
  int64_t tc;        // tiles in the current chunk (rows * TW, less in a short last chunk)
  // Element strides between the 16 matrices of U / dU, V and M. They are
  // padded past the matrix size: the transforms write all 16 at once, and
  // power-of-two strides would map those 16 streams onto the same cache sets.
  int64_t su, sv, sm;
  float *U, *dU;     // 16 x (Co, Ci)
  float *V, *M;      // 16 x (Ci, tc), 16 x (Co, tc)
  float *rows_tmp;   // per thread: even / odd columns of 4 rows, 2 x (4, TW + 1)
  int nt;            // threads in the team
} wino;

// This thread's even / odd column rows, (4, TW + 1) each.
static void wino_tmp(const wino *z, float **E, float **O) {
  *E = z->rows_tmp + (int64_t)omp_get_thread_num() * 8 * (z->TW + 1);
  *O = *E + 4 * (z->TW + 1);
}

#define WINO_PAD 16  // floats (one cache line) added to each matrix stride

static void wino_set_chunk(wino *z, int64_t rows) {
  z->tc = rows * z->TW;
  z->sv = z->Ci * z->tc + WINO_PAD;
  z->sm = z->Co * z->tc + WINO_PAD;
}

static wino wino_make(const cpu_conv_geom *g, int need_du) {
  wino z;
  z.B = g->B;
  z.Ci = g->Ci;
  z.Co = g->Co;
  z.H = g->in[1];
  z.W = g->in[2];
  z.Ho = g->out[1];
  z.Wo = g->out[2];
  z.ph = g->pad[1];
  z.pw = g->pad[2];
  z.TH = (z.Ho + 1) / 2;
  z.TW = (z.Wo + 1) / 2;
  const int64_t all_rows = z.B * z.TH;
  z.rows = g_chunk_floats / (16 * (z.Ci + z.Co) * z.TW);
  if (z.rows < 1) z.rows = 1;
  if (z.rows > all_rows) z.rows = all_rows;
  wino_set_chunk(&z, z.rows);
  z.su = z.Co * z.Ci + WINO_PAD;
  z.nt = omp_get_max_threads();
  const size_t nu = (size_t)(16 * z.su), nv = (size_t)(16 * z.sv), nm = (size_t)(16 * z.sm),
               ne = (size_t)(8 * (z.TW + 1)) * (size_t)z.nt;
  float *s = scratch_get(nu * (need_du ? 2 : 1) + nv + nm + ne);
  z.U = s;
  s += nu;
  z.dU = need_du ? s : NULL;
  s += need_du ? nu : 0;
  z.V = s;
  z.M = s + nv;
  z.rows_tmp = s + nv + nm;
  return z;
}

// k with 0 <= 2k + off < n, clipped to [0, count).
static void half_range(int64_t off, int64_t n, int64_t count, int64_t *lo, int64_t *hi) {
  int64_t l = off < 0 ? (1 - off) / 2 : 0;
  int64_t h = n - 1 - off >= 0 ? (n - 1 - off) / 2 + 1 : 0;
  if (h > count) h = count;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

// E[k] = row[2k + off], O[k] = row[2k + 1 + off] for k < count, zero where
// the index leaves [0, n) or row is NULL (a padding row).
static void split_row(const float *row, int64_t n, int64_t off, int64_t count, float *E, float *O) {
  memset(E, 0, (size_t)count * sizeof(float));
  memset(O, 0, (size_t)count * sizeof(float));
  if (!row) return;
  int64_t lo, hi;
  half_range(off, n, count, &lo, &hi);
  for (int64_t k = lo; k < hi; k++) E[k] = row[2 * k + off];
  half_range(off + 1, n, count, &lo, &hi);
  for (int64_t k = lo; k < hi; k++) O[k] = row[2 * k + 1 + off];
}

// The reverse of split_row, adding: row[2k + off] += E[k], row[2k+1+off] += O[k].
static void merge_row_add(float *row, int64_t n, int64_t off, int64_t count, const float *E,
                          const float *O) {
  int64_t lo, hi;
  half_range(off, n, count, &lo, &hi);
  for (int64_t k = lo; k < hi; k++) row[2 * k + off] += E[k];
  half_range(off + 1, n, count, &lo, &hi);
  for (int64_t k = lo; k < hi; k++) row[2 * k + 1 + off] += O[k];
}

// U[xi][co][ci] = (G g G^T)[xi] for every filter g = w[co][ci] (3x3).
static void wino_weights(const wino *z, const float *w) {
  const int64_t CC = z->Co * z->Ci;
#pragma omp for schedule(static)
  for (int64_t f = 0; f < CC; f++) {
    const float *g = w + f * 9;
    float t[4][3], u[16];
    for (int c = 0; c < 3; c++) {
      t[0][c] = g[c];
      t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
      t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
      t[3][c] = g[6 + c];
    }
    for (int i = 0; i < 4; i++) {
      u[i * 4 + 0] = t[i][0];
      u[i * 4 + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
      u[i * 4 + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
      u[i * 4 + 3] = t[i][2];
    }
    for (int xi = 0; xi < 16; xi++) z->U[xi * z->su + f] = u[xi];
  }
}

// V[xi][ci][t] = (B^T d B)[xi] for the input tiles of tile rows [r0, r1).
static void wino_input(const wino *z, const float *x, int64_t r0, int64_t r1) {
  const int64_t TW = z->TW, n = TW + 1, plane = z->sv;
  // Channels outside, tile rows inside: each of the 16 output streams is
  // then written sequentially (the other order jumps a whole row of tiles
  // per step in 16 places at once, and every store misses the cache).
#pragma omp for schedule(static)
  for (int64_t ci = 0; ci < z->Ci; ci++) {
    float *E0, *O0;
    wino_tmp(z, &E0, &O0);
    for (int64_t gr = r0; gr < r1; gr++) {
      const int64_t b = gr / z->TH, ty = gr % z->TH, t0 = (gr - r0) * TW;
      const float *xc = x + (b * z->Ci + ci) * z->H * z->W;
      float *E[4], *O[4];
      for (int r = 0; r < 4; r++) {
        const int64_t ir = 2 * ty - z->ph + r;
        E[r] = E0 + r * n;
        O[r] = O0 + r * n;
        split_row(ir >= 0 && ir < z->H ? xc + ir * z->W : NULL, z->W, -z->pw, n, E[r], O[r]);
      }
      // B^T over the 4 rows, in place.
      for (int64_t k = 0; k < n; k++) {
        float a0 = E[0][k], a1 = E[1][k], a2 = E[2][k], a3 = E[3][k];
        E[0][k] = a0 - a2; E[1][k] = a1 + a2; E[2][k] = a2 - a1; E[3][k] = a1 - a3;
        a0 = O[0][k]; a1 = O[1][k]; a2 = O[2][k]; a3 = O[3][k];
        O[0][k] = a0 - a2; O[1][k] = a1 + a2; O[2][k] = a2 - a1; O[3][k] = a1 - a3;
      }
      // B over the 4 columns of each tile: columns 2tx.. 2tx+3 are
      // E[tx], O[tx], E[tx+1], O[tx+1].
      for (int i = 0; i < 4; i++) {
        const float *e = E[i], *o = O[i];
        float *v0 = z->V + (i * 4 + 0) * plane + ci * z->tc + t0, *v1 = v0 + plane,
              *v2 = v1 + plane, *v3 = v2 + plane;
        for (int64_t tx = 0; tx < TW; tx++) {
          v0[tx] = e[tx] - e[tx + 1];
          v1[tx] = o[tx] + e[tx + 1];
          v2[tx] = e[tx + 1] - o[tx];
          v3[tx] = o[tx] - o[tx + 1];
        }
      }
    }
  }
}

// M[xi] (Co, tc) = U[xi] (Co, Ci) @ V[xi] (Ci, tc) for the 16 xi.
static void wino_products(const wino *z) {
#pragma omp for schedule(static)
  for (int xi = 0; xi < 16; xi++)
    cpu_gemm_fast(0, 0, z->Co, z->tc, z->Ci, 1.f, z->U + xi * z->su, z->Ci, z->V + xi * z->sv,
                  z->tc, 0.f, z->M + xi * z->sm, z->tc);
}

// y tiles = A^T M A (+ bias) for tile rows [r0, r1).
static void wino_output(const wino *z, const float *bias, float *y, int accumulate, int64_t r0,
                        int64_t r1) {
  const int64_t TW = z->TW, plane = z->sm, Wo = z->Wo;
#pragma omp for schedule(static)
  for (int64_t co = 0; co < z->Co; co++) {  // channels outside: see wino_input
    float *E0, *O0;
    wino_tmp(z, &E0, &O0);
    float *yt[4] = {E0, E0 + TW + 1, O0, O0 + TW + 1};  // Y[r][s] per tile
    for (int64_t gr = r0; gr < r1; gr++) {
      const int64_t b = gr / z->TH, ty = gr % z->TH, t0 = (gr - r0) * TW;
      const float *m = z->M + co * z->tc + t0;
      for (int64_t tx = 0; tx < TW; tx++) {
        float q[16];
        for (int xi = 0; xi < 16; xi++) q[xi] = m[xi * plane + tx];
        float s[2][4];
        for (int j = 0; j < 4; j++) {
          s[0][j] = q[j] + q[4 + j] + q[8 + j];
          s[1][j] = q[4 + j] - q[8 + j] - q[12 + j];
        }
        for (int r = 0; r < 2; r++) {
          yt[2 * r][tx] = s[r][0] + s[r][1] + s[r][2];
          yt[2 * r + 1][tx] = s[r][1] - s[r][2] - s[r][3];
        }
      }
      const float bc = bias ? bias[co] : 0.f;
      for (int r = 0; r < 2; r++) {
        const int64_t oy = 2 * ty + r;
        if (oy >= z->Ho) break;
        float *dst = y + ((b * z->Co + co) * z->Ho + oy) * Wo;
        const float *ev = yt[2 * r], *od = yt[2 * r + 1];
        const int64_t pairs = Wo / 2;
        if (accumulate) {
          for (int64_t tx = 0; tx < pairs; tx++) {
            dst[2 * tx] += ev[tx] + bc;
            dst[2 * tx + 1] += od[tx] + bc;
          }
          if (Wo & 1) dst[Wo - 1] += ev[pairs] + bc;
        } else {
          for (int64_t tx = 0; tx < pairs; tx++) {
            dst[2 * tx] = ev[tx] + bc;
            dst[2 * tx + 1] = od[tx] + bc;
          }
          if (Wo & 1) dst[Wo - 1] = ev[pairs] + bc;
        }
      }
    }
  }
}

static void wino_fwd(const cpu_conv_geom *g, const float *x, const float *w, const float *b,
                     float *y, int accumulate) {
  const wino z0 = wino_make(g, 0);
  const int64_t all_rows = z0.B * z0.TH;
  const int nblas = blas_single_begin();
#pragma omp parallel num_threads(z0.nt)
  {
    wino z = z0;  // per thread: the chunk fields change
    wino_weights(&z, w);
    for (int64_t r0 = 0; r0 < all_rows; r0 += z.rows) {
      const int64_t r1 = r0 + z.rows < all_rows ? r0 + z.rows : all_rows;
      wino_set_chunk(&z, r1 - r0);  // a short last chunk packs its tiles tighter
      wino_input(&z, x, r0, r1);
      wino_products(&z);
      wino_output(&z, b, y, accumulate, r0, r1);
    }
  }
  blas_single_end(nblas);
}

// M[xi][co][t] = (A dY A^T)[xi] for the output tiles of tile rows [r0, r1);
// outputs past the edge count as zero.
static void wino_dy(const wino *z, const float *dy, int64_t r0, int64_t r1) {
  const int64_t TW = z->TW, plane = z->sm;
#pragma omp for schedule(static)
  for (int64_t co = 0; co < z->Co; co++) {  // channels outside: see wino_input
    float *E0, *O0;
    wino_tmp(z, &E0, &O0);
    for (int64_t gr = r0; gr < r1; gr++) {
      const int64_t b = gr / z->TH, ty = gr % z->TH, t0 = (gr - r0) * TW;
      float *E[2] = {E0, E0 + TW + 1}, *O[2] = {O0, O0 + TW + 1};
      for (int r = 0; r < 2; r++) {
        const int64_t oy = 2 * ty + r;
        split_row(oy < z->Ho ? dy + ((b * z->Co + co) * z->Ho + oy) * z->Wo : NULL, z->Wo, 0, TW,
                  E[r], O[r]);
      }
      float *m = z->M + co * z->tc + t0;
      for (int64_t tx = 0; tx < TW; tx++) {
        const float e0 = E[0][tx], e1 = E[1][tx], o0 = O[0][tx], o1 = O[1][tx];
        // A over rows, then A over columns: (p, q) -> (p, p + q, p - q, -q).
        const float ce[4] = {e0, e0 + e1, e0 - e1, -e1}, co_[4] = {o0, o0 + o1, o0 - o1, -o1};
        for (int i = 0; i < 4; i++) {
          m[(i * 4 + 0) * plane + tx] = ce[i];
          m[(i * 4 + 1) * plane + tx] = ce[i] + co_[i];
          m[(i * 4 + 2) * plane + tx] = ce[i] - co_[i];
          m[(i * 4 + 3) * plane + tx] = -co_[i];
        }
      }
    }
  }
}

// dx += B dV B^T for the tiles of tile rows [r0, r1); dV is in z->V.
static void wino_dx(const wino *z, float *dx, int64_t r0, int64_t r1) {
  const int64_t TW = z->TW, n = TW + 1, plane = z->sv;
#pragma omp for schedule(static)
  for (int64_t ci = 0; ci < z->Ci; ci++) {  // channels outside: see wino_input
    float *E0, *O0;
    wino_tmp(z, &E0, &O0);
    for (int64_t gr = r0; gr < r1; gr++) {
      const int64_t b = gr / z->TH, ty = gr % z->TH, t0 = (gr - r0) * TW;
      float *E[4], *O[4];
      for (int i = 0; i < 4; i++) {
        E[i] = E0 + i * n;
        O[i] = O0 + i * n;
        memset(E[i], 0, (size_t)n * sizeof(float));
        memset(O[i], 0, (size_t)n * sizeof(float));
        const float *v0 = z->V + (i * 4 + 0) * plane + ci * z->tc + t0, *v1 = v0 + plane,
                    *v2 = v1 + plane, *v3 = v2 + plane;
        // B over columns: tile columns (E[tx], O[tx], E[tx+1], O[tx+1]) get
        // (v0, v1 - v2 + v3, -v0 + v1 + v2, -v3); two passes so that
        // neighbouring tiles' shared columns never race within a loop.
        float *e = E[i], *o = O[i];
        for (int64_t tx = 0; tx < TW; tx++) {
          e[tx] += v0[tx];
          o[tx] += v1[tx] - v2[tx] + v3[tx];
        }
        for (int64_t tx = 0; tx < TW; tx++) {
          e[tx + 1] += -v0[tx] + v1[tx] + v2[tx];
          o[tx + 1] -= v3[tx];
        }
      }
      // B over rows, in place: (a0, a1, a2, a3) -> (a0, a1 - a2 + a3, -a0 + a1 + a2, -a3).
      for (int64_t k = 0; k < n; k++) {
        float a0 = E[0][k], a1 = E[1][k], a2 = E[2][k], a3 = E[3][k];
        E[1][k] = a1 - a2 + a3; E[2][k] = -a0 + a1 + a2; E[3][k] = -a3;
        a0 = O[0][k]; a1 = O[1][k]; a2 = O[2][k]; a3 = O[3][k];
        O[1][k] = a1 - a2 + a3; O[2][k] = -a0 + a1 + a2; O[3][k] = -a3;
      }
      float *xc = dx + (b * z->Ci + ci) * z->H * z->W;
      for (int r = 0; r < 4; r++) {
        const int64_t ir = 2 * ty - z->ph + r;
        if (ir >= 0 && ir < z->H) merge_row_add(xc + ir * z->W, z->W, -z->pw, n, E[r], O[r]);
      }
    }
  }
}

static void wino_bwd(const cpu_conv_geom *g, const float *x, const float *w, const float *dy,
                     float *dx, float *dw) {
  const wino z0 = wino_make(g, dw != NULL);
  const int64_t all_rows = z0.B * z0.TH, CC = z0.Co * z0.Ci;
  if (dw) memset(z0.dU, 0, (size_t)(16 * z0.su) * sizeof(float));
  const int nblas = blas_single_begin();
#pragma omp parallel num_threads(z0.nt)
  {
    wino z = z0;  // per thread: the chunk fields change
    if (dx) wino_weights(&z, w);
    for (int64_t r0 = 0; r0 < all_rows; r0 += z.rows) {
      const int64_t r1 = r0 + z.rows < all_rows ? r0 + z.rows : all_rows;
      wino_set_chunk(&z, r1 - r0);
      wino_dy(&z, dy, r0, r1);
      if (dw) {
        wino_input(&z, x, r0, r1);
        // dU[xi] (Co, Ci) += dM[xi] (Co, tc) @ V[xi]^T (tc, Ci)
#pragma omp for schedule(static)
        for (int xi = 0; xi < 16; xi++)
          cpu_gemm_fast(0, 1, z.Co, z.Ci, z.tc, 1.f, z.M + xi * z.sm, z.tc, z.V + xi * z.sv, z.tc,
                        1.f, z.dU + xi * z.su, z.Ci);
      }
      if (dx) {
        // dV[xi] (Ci, tc) = U[xi]^T (Ci, Co) @ dM[xi] (Co, tc), into V.
#pragma omp for schedule(static)
        for (int xi = 0; xi < 16; xi++)
          cpu_gemm_fast(1, 0, z.Ci, z.tc, z.Co, 1.f, z.U + xi * z.su, z.Ci, z.M + xi * z.sm, z.tc,
                        0.f, z.V + xi * z.sv, z.tc);
        wino_dx(&z, dx, r0, r1);
      }
    }
    if (dw) {
      // dw[co][ci] += G^T dU G, G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
#pragma omp for schedule(static)
      for (int64_t f = 0; f < CC; f++) {
        float q[16], t[3][4];
        for (int xi = 0; xi < 16; xi++) q[xi] = z.dU[xi * z.su + f];
        for (int j = 0; j < 4; j++) {
          t[0][j] = q[j] + 0.5f * (q[4 + j] + q[8 + j]);
          t[1][j] = 0.5f * (q[4 + j] - q[8 + j]);
          t[2][j] = 0.5f * (q[4 + j] + q[8 + j]) + q[12 + j];
        }
        float *d = dw + f * 9;
        for (int r = 0; r < 3; r++) {
          d[r * 3 + 0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
          d[r * 3 + 1] += 0.5f * (t[r][1] - t[r][2]);
          d[r * 3 + 2] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
        }
      }
    }
  }
  blas_single_end(nblas);
}

// ---------------------------------------------------------------- im2col + gemm
// Work is split into items (an image, or a chunk of an image's output rows)
// that an OpenMP team shares out, each thread with its own column buffer and
// a single-threaded gemm (see blas_single_begin). When there are fewer items
// than threads, one thread runs them with OpenBLAS's threads instead.

void cpu_conv_fwd(const cpu_conv_geom *g, const float *x, const float *w, const float *b,
                  float *y, int accumulate) {
  const int64_t Ci = g->Ci, Co = g->Co, Nin = vol3(g->in), N = vol3(g->out);
  const int64_t K = Ci * vol3(g->k), R = g->out[0] * g->out[1], Wo = g->out[2];
  if (g->B == 0 || Co == 0 || N == 0) return;
  if (winograd_ok(g)) {
    wino_fwd(g, x, w, b, y, accumulate);
    return;
  }
  const int nt = omp_get_max_threads(), pw = is_pointwise(g);
  const int64_t rows = pw ? R : chunk_rows(g, K, nt), nch = (R + rows - 1) / rows, items = g->B * nch;
  const int team = nt > 1 && items >= nt;
  const size_t per = pw ? 0 : (size_t)(K * rows * Wo);
  float *cols = pw ? NULL : scratch_get(per * (size_t)(team ? nt : 1));
  const int nblas = team ? blas_single_begin() : 1;
#pragma omp parallel if (team) num_threads(nt)
  {
    float *c = cols ? cols + per * (size_t)omp_get_thread_num() : NULL;
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; it++) {
      const int64_t bi = it / nch, r0 = (it % nch) * rows, r1 = r0 + rows < R ? r0 + rows : R;
      const int64_t nc = (r1 - r0) * Wo;
      float *yc = y + bi * Co * N + r0 * Wo;  // y_b[:, chunk], row stride N
      // With a bias and no accumulation, start y at the bias and let gemm add.
      float beta = accumulate ? 1.f : 0.f;
      if (b && !accumulate) {
        for (int64_t co = 0; co < Co; co++)
          for (int64_t n = 0; n < nc; n++) yc[co * N + n] = b[co];
        beta = 1.f;
      }
      if (pw) {
        cpu_gemm_fast(0, 0, Co, N, Ci, 1.f, w, Ci, x + bi * Ci * Nin, N, beta, yc, N);
      } else {
        im2col(g, x + bi * Ci * Nin, r0, r1, c);
        // y_b[:, chunk] (Co, nc) = w (Co, K) @ cols (K, nc)
        cpu_gemm_fast(0, 0, Co, nc, K, 1.f, w, K, c, nc, beta, yc, N);
      }
      if (b && accumulate)
        for (int64_t co = 0; co < Co; co++)
          for (int64_t n = 0; n < nc; n++) yc[co * N + n] += b[co];
    }
  }
  if (team) blas_single_end(nblas);
}

void cpu_conv_bwd(const cpu_conv_geom *g, const float *x, const float *w, const float *dy,
                  float *dx, float *dw, float *db) {
  const int64_t Ci = g->Ci, Co = g->Co, Nin = vol3(g->in), N = vol3(g->out);
  const int64_t K = Ci * vol3(g->k), R = g->out[0] * g->out[1], Wo = g->out[2];
  if (db) cpu_conv_bias_bwd(g->B, Co, N, dy, db);
  if ((!dx && !dw) || g->B == 0 || N == 0) return;
  if (winograd_ok(g)) {
    wino_bwd(g, x, w, dy, dx, dw);
    return;
  }
  // Threads take whole images (col2im of two chunks of one image would
  // touch the same rows of dx) and sum dw in private copies.
  const int nt = omp_get_max_threads(), pw = is_pointwise(g);
  const int team = nt > 1 && g->B >= nt;
  const int64_t rows = pw ? R : chunk_rows(g, K, team ? nt : 1);
  const size_t per = pw ? 0 : (size_t)(K * rows * Wo), ndw = dw ? (size_t)(Co * K) : 0;
  float *buf = scratch_get(per * (size_t)(team ? nt : 1) + ndw * (size_t)(team ? nt - 1 : 0));
  float *dw_priv = buf + per * (size_t)(team ? nt : 1);  // nt - 1 copies
  const int nblas = team ? blas_single_begin() : 1;
#pragma omp parallel if (team) num_threads(nt)
  {
    // The team may be smaller than asked for (nested parallelism): only
    // the copies of threads that exist are zeroed and summed.
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    float *c = buf + per * (size_t)tid;
    float *dwt = !dw ? NULL : tid == 0 ? dw : dw_priv + ndw * (size_t)(tid - 1);
    if (dwt && tid > 0) memset(dwt, 0, ndw * sizeof(float));
#pragma omp for schedule(static)
    for (int64_t bi = 0; bi < g->B; bi++) {
      const float *xb = x ? x + bi * Ci * Nin : NULL, *dyb = dy + bi * Co * N;
      float *dxb = dx ? dx + bi * Ci * Nin : NULL;
      if (pw) {
        // dw (Co, Ci) += dy_b (Co, N) @ x_b^T (N, Ci)
        if (dwt) cpu_gemm_fast(0, 1, Co, Ci, N, 1.f, dyb, N, xb, N, 1.f, dwt, Ci);
        // dx_b (Ci, N) += w^T (Ci, Co) @ dy_b (Co, N)
        if (dxb) cpu_gemm_fast(1, 0, Ci, N, Co, 1.f, w, Ci, dyb, N, 1.f, dxb, N);
        continue;
      }
      for (int64_t r0 = 0; r0 < R; r0 += rows) {
        const int64_t r1 = r0 + rows < R ? r0 + rows : R, nc = (r1 - r0) * Wo;
        if (dwt) {
          im2col(g, xb, r0, r1, c);
          // dw (Co, K) += dy_b[:, chunk] (Co, nc) @ cols^T (nc, K)
          cpu_gemm_fast(0, 1, Co, K, nc, 1.f, dyb + r0 * Wo, N, c, nc, 1.f, dwt, K);
        }
        if (dxb) {
          // The columns are spent, so the buffer takes their gradient:
          // dcols (K, nc) = w^T (K, Co) @ dy_b[:, chunk] (Co, nc)
          cpu_gemm_fast(1, 0, K, nc, Co, 1.f, w, K, dyb + r0 * Wo, N, 0.f, c, nc);
          col2im(g, c, r0, r1, dxb);
        }
      }
    }
    if (dw && team) {
#pragma omp for schedule(static)
      for (size_t e = 0; e < ndw; e++)
        for (int t = 1; t < nth; t++) dw[e] += dw_priv[ndw * (size_t)(t - 1) + e];
    }
  }
  if (team) blas_single_end(nblas);
}
