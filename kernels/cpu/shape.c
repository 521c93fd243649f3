// shape.c: permute, column-window copy and constant pad kernels (see shape.h).
#include "kernels/cpu/shape.h"

#include <string.h>

#include "core/check.h"
#include "core/tensor.h"

#define SHAPE_PAR_MIN 32768
// Transpose tile edge: the 32 input lines a tile reads stay in cache.
#define TILE 32
// Elements per task for row copies.
#define CHUNK 8192

static int64_t numel_of(int nd, const int64_t *s) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= s[d];
  return n;
}

static void strides_of(int nd, const int64_t *s, int64_t *st) {
  int64_t r = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = r;
    r *= s[d];
  }
}

// ---------------------------------------------------------------- permute
void cpu_permute_ref(int nd, const int64_t *xs, const int *perm, const float *x, float *y,
                     int accumulate) {
  int64_t xst[VP_MAXDIM], ys[VP_MAXDIM];
  strides_of(nd, xs, xst);
  for (int i = 0; i < nd; i++) ys[i] = xs[perm[i]];
  int64_t n = numel_of(nd, xs);
  for (int64_t o = 0; o < n; o++) {
    int64_t rem = o, off = 0;
    for (int i = nd - 1; i >= 0; i--) {
      off += (rem % ys[i]) * xst[perm[i]];
      rem /= ys[i];
    }
    y[o] = accumulate ? y[o] + x[off] : x[off];
  }
}

// Input offset of the output element whose leading k output indices are
// those of flat index c (the remaining indices zero). on: output sizes,
// ist: input strides per output dim.
static int64_t lead_offset(int64_t c, int k, const int64_t *on, const int64_t *ist) {
  int64_t off = 0;
  for (int i = k - 1; i >= 0; i--) {
    off += (c % on[i]) * ist[i];
    c /= on[i];
  }
  return off;
}

static void copy_run(float *y, const float *x, int64_t n, int accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] += x[j];
  } else {
    memcpy(y, x, (size_t)n * sizeof(float));
  }
}

void cpu_permute(int nd, const int64_t *xs, const int *perm, const float *x, float *y,
                 int accumulate) {
  int64_t n = numel_of(nd, xs);
  if (n == 0) return;
  // Drop size-1 dims: rank[d] is input dim d's index among the kept ones.
  int rank[VP_MAXDIM], order[VP_MAXDIM], mk = 0, mo = 0;
  for (int d = 0; d < nd; d++) rank[d] = xs[d] == 1 ? -1 : mk++;
  for (int i = 0; i < nd; i++)
    if (rank[perm[i]] >= 0) order[mo++] = rank[perm[i]];
  int64_t kn[VP_MAXDIM];
  for (int d = 0, k = 0; d < nd; d++)
    if (xs[d] != 1) kn[k++] = xs[d];
  // Merge output-neighbour dims that are also input neighbours, in order.
  // group g covers kept input dims [gs[g], gs[g] + gl[g]).
  int gs[VP_MAXDIM], gl[VP_MAXDIM], ng = 0;
  for (int i = 0; i < mo; i++) {
    if (ng > 0 && order[i] == gs[ng - 1] + gl[ng - 1]) {
      gl[ng - 1]++;
    } else {
      gs[ng] = order[i];
      gl[ng] = 1;
      ng++;
    }
  }
  // Collapsed input dims are the groups sorted by their first input dim;
  // P[i] (output dim i's input dim) is the rank of group i in that order.
  int P[VP_MAXDIM];
  int64_t in[VP_MAXDIM], ist[VP_MAXDIM], on[VP_MAXDIM], oist[VP_MAXDIM];
  for (int g = 0; g < ng; g++) {
    int r = 0;
    for (int h = 0; h < ng; h++) r += gs[h] < gs[g];
    P[g] = r;
    int64_t s = 1;
    for (int k = 0; k < gl[g]; k++) s *= kn[gs[g] + k];
    in[r] = s;
  }
  int m = ng;
  strides_of(m, in, ist);
  for (int i = 0; i < m; i++) {
    on[i] = in[P[i]];
    oist[i] = ist[P[i]];
  }
  int par = n >= SHAPE_PAR_MIN;
  int identity = 1;
  for (int i = 0; i < m; i++) identity &= P[i] == i;
  if (identity) {
    int64_t nb = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < nb; t++) {
      int64_t c0 = t * CHUNK, c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
      copy_run(y + c0, x + c0, c1 - c0, accumulate);
    }
    return;
  }
  if (P[m - 1] == m - 1) {
    // The innermost dim stays innermost: copy contiguous rows of len. Each
    // task takes a range of output rows and walks their input offsets with
    // an odometer instead of dividing per row.
    int64_t len = in[m - 1], rows = n / len;
    int64_t rpt = CHUNK / len > 0 ? CHUNK / len : 1, nt = (rows + rpt - 1) / rpt;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < nt; t++) {
      int64_t r0 = t * rpt, r1 = r0 + rpt < rows ? r0 + rpt : rows;
      int64_t idx[VP_MAXDIM], rem = r0, off = 0;
      for (int i = m - 2; i >= 0; i--) {
        idx[i] = rem % on[i];
        rem /= on[i];
        off += idx[i] * oist[i];
      }
      for (int64_t r = r0; r < r1; r++) {
        copy_run(y + r * len, x + off, len, accumulate);
        for (int i = m - 2; i >= 0; i--) {
          off += oist[i];
          if (++idx[i] < on[i]) break;
          off -= idx[i] * oist[i];
          idx[i] = 0;
        }
      }
    }
    return;
  }
  // Blocked transpose. Output dim m-1 reads input dim j = P[m-1] (stride
  // sj); output dim q holds the input's contiguous dim. Every other output
  // dim is a batch dim.
  int q = 0;
  while (P[q] != m - 1) q++;
  int64_t sj = oist[m - 1], na = on[q], nb = on[m - 1];
  int64_t ost[VP_MAXDIM];
  strides_of(m, on, ost);
  int64_t bn[VP_MAXDIM], bi[VP_MAXDIM], bo[VP_MAXDIM];  // batch sizes, input / output strides
  int nbd = 0;
  for (int i = 0; i < m - 1; i++) {
    if (i == q) continue;
    bn[nbd] = on[i];
    bi[nbd] = oist[i];
    bo[nbd++] = ost[i];
  }
  int64_t nbatch = n / (na * nb), ta = (na + TILE - 1) / TILE, tb = (nb + TILE - 1) / TILE;
  int64_t sq = ost[q];
#pragma omp parallel for schedule(static) if (par)
  for (int64_t t = 0; t < nbatch * ta * tb; t++) {
    int64_t at = t % ta, bt = (t / ta) % tb, bat = t / ta / tb;
    int64_t xo = lead_offset(bat, nbd, bn, bi), yo = 0, rem = bat;
    for (int i = nbd - 1; i >= 0; i--) {
      yo += (rem % bn[i]) * bo[i];
      rem /= bn[i];
    }
    int64_t a0 = at * TILE, a1 = a0 + TILE < na ? a0 + TILE : na;
    int64_t b0 = bt * TILE, b1 = b0 + TILE < nb ? b0 + TILE : nb;
    // Writes are contiguous runs of the output row; the strided reads of a
    // TILE x TILE block stay in cache while the tile is written.
    for (int64_t a = a0; a < a1; a++) {
      float *yr = y + yo + a * sq;
      const float *xr = x + xo + a;
      if (accumulate) {
        for (int64_t b = b0; b < b1; b++) yr[b] += xr[b * sj];
      } else {
        for (int64_t b = b0; b < b1; b++) yr[b] = xr[b * sj];
      }
    }
  }
}

// ---------------------------------------------------------------- column windows
void cpu_copy_cols_ref(int64_t rows, int64_t w, const float *x, int64_t xcols, int64_t xoff,
                       float *y, int64_t ycols, int64_t yoff, int accumulate) {
  for (int64_t i = 0; i < rows * w; i++) {
    int64_t r = i / w, j = i % w;
    float v = x[r * xcols + xoff + j];
    float *d = &y[r * ycols + yoff + j];
    *d = accumulate ? *d + v : v;
  }
}

void cpu_copy_cols(int64_t rows, int64_t w, const float *x, int64_t xcols, int64_t xoff, float *y,
                   int64_t ycols, int64_t yoff, int accumulate) {
  if (rows == 0 || w == 0) return;
  if (w == xcols && w == ycols) {  // whole rows on both sides: one flat run
    int64_t n = rows * w, nb = (n + CHUNK - 1) / CHUNK;
    x += xoff;
    y += yoff;
#pragma omp parallel for schedule(static) if (n >= SHAPE_PAR_MIN)
    for (int64_t t = 0; t < nb; t++) {
      int64_t c0 = t * CHUNK, c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
      copy_run(y + c0, x + c0, c1 - c0, accumulate);
    }
    return;
  }
  int64_t rpt = CHUNK / w > 0 ? CHUNK / w : 1, nt = (rows + rpt - 1) / rpt;
#pragma omp parallel for schedule(static) if (rows * w >= SHAPE_PAR_MIN)
  for (int64_t t = 0; t < nt; t++) {
    int64_t r1 = (t + 1) * rpt < rows ? (t + 1) * rpt : rows;
    for (int64_t r = t * rpt; r < r1; r++)
      copy_run(y + r * ycols + yoff, x + r * xcols + xoff, w, accumulate);
  }
}

// ---------------------------------------------------------------- pad
void cpu_pad_fwd_ref(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys,
                     const float *x, float value, float *y) {
  int64_t n = numel_of(nd, ys);
  for (int64_t o = 0; o < n; o++) {
    int64_t rem = o, off = 0, mul = 1;
    int inside = 1;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t i = rem % ys[d] - lo[d];
      rem /= ys[d];
      if (i < 0 || i >= xs[d]) inside = 0;
      off += i * mul;
      mul *= xs[d];
    }
    y[o] = inside ? x[off] : value;
  }
}

void cpu_pad_bwd_ref(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys,
                     const float *gy, float *gx) {
  int64_t n = numel_of(nd, xs);
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, off = 0, mul = 1;
    for (int d = nd - 1; d >= 0; d--) {
      off += (rem % xs[d] + lo[d]) * mul;
      rem /= xs[d];
      mul *= ys[d];
    }
    gx[i] += gy[off];
  }
}

// Rows of the last dim: an output row is either all padding (some outer
// index falls outside x) or padding, one row of x, padding.
void cpu_pad_fwd(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys, const float *x,
                 float value, float *y) {
  int64_t n = numel_of(nd, ys);
  if (n == 0) return;
  int64_t wy = ys[nd - 1], wx = xs[nd - 1], l = lo[nd - 1], rows = n / wy;
  int64_t xst[VP_MAXDIM];
  strides_of(nd, xs, xst);
#pragma omp parallel for schedule(static) if (n >= SHAPE_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    float *yr = y + r * wy;
    int64_t rem = r, off = 0;
    int inside = wx > 0;
    for (int d = nd - 2; d >= 0; d--) {
      int64_t i = rem % ys[d] - lo[d];
      rem /= ys[d];
      if (i < 0 || i >= xs[d]) inside = 0;
      off += i * xst[d];
    }
    if (!inside) {
      for (int64_t j = 0; j < wy; j++) yr[j] = value;
      continue;
    }
    for (int64_t j = 0; j < l; j++) yr[j] = value;
    memcpy(yr + l, x + off, (size_t)wx * sizeof(float));
    for (int64_t j = l + wx; j < wy; j++) yr[j] = value;
  }
}

void cpu_pad_bwd(int nd, const int64_t *xs, const int64_t *lo, const int64_t *ys, const float *gy,
                 float *gx) {
  int64_t n = numel_of(nd, xs);
  if (n == 0) return;
  int64_t wx = xs[nd - 1], rows = n / wx;
  int64_t yst[VP_MAXDIM];
  strides_of(nd, ys, yst);
#pragma omp parallel for schedule(static) if (n >= SHAPE_PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, off = lo[nd - 1];
    for (int d = nd - 2; d >= 0; d--) {
      off += (rem % xs[d] + lo[d]) * yst[d];
      rem /= xs[d];
    }
    float *g = gx + r * wx;
    const float *s = gy + off;
#pragma omp simd
    for (int64_t j = 0; j < wx; j++) g[j] += s[j];
  }
}
