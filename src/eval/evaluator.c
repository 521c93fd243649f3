// evaluator.c: reads pred / target HDF5 files, splits clips across ranks,
// runs the metric families and prints the JSON (evaluator.h).
#include "eval/evaluator.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/options.h"
#include "models/i3d.h"
#include "models/lpips.h"

const char *const eval_metric_names[] = {
    "mse",  "mae",  "psnr", "ssim", "lpips", "masked_l1", "masked_l2", "crps", "crps_fair",
    "pod",  "far",  "csi",  "bias", "skill", "fvd",       "fd",        NULL,
};

// ---- HDF5 ----

static hid_t open_file(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (access(path, R_OK) != 0) vp_die("cannot read %s: %s", path, strerror(errno));
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) vp_die("%s is not an HDF5 file (H5Fopen failed)", path);
  return f;
}

static herr_t list_cb(hid_t loc, const char *name, const H5L_info_t *info, void *op) {
  (void)loc;
  (void)info;
  char *buf = ((char **)op)[0];
  size_t n = (size_t)(uintptr_t)((char **)op)[1];
  size_t len = strlen(buf);
  if (len + strlen(name) + 3 < n) snprintf(buf + len, n - len, "%s%s", len ? ", " : "", name);
  return 0;
}

void eval_h5_list(const char *path, char *buf, size_t n) {
  hid_t f = open_file(path);
  buf[0] = 0;
  void *op[2] = {buf, (void *)(uintptr_t)n};
  H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, op);
  if (!buf[0]) snprintf(buf, n, "(nothing)");
  H5Fclose(f);
}

static hid_t open_ds(hid_t f, const char *name) {
  if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return -1;
  return H5Dopen2(f, name, H5P_DEFAULT);
}

static int ds_shape(hid_t ds, int64_t *dims) {
  hid_t sp = H5Dget_space(ds);
  int nd = H5Sget_simple_extent_ndims(sp);
  hsize_t d[H5S_MAX_RANK];
  if (nd < 0 || nd > 8 || H5Sget_simple_extent_dims(sp, d, NULL) < 0) nd = -2;
  for (int i = 0; i < nd; i++) dims[i] = (int64_t)d[i];
  H5Sclose(sp);
  return nd;
}

int eval_h5_shape(const char *path, const char *name, int64_t *dims) {
  hid_t f = open_file(path);
  hid_t ds = open_ds(f, name);
  int nd = -1;
  if (ds >= 0) {
    nd = ds_shape(ds, dims);
    H5Dclose(ds);
  }
  H5Fclose(f);
  return nd;
}

static void check_numeric(hid_t ds, const char *path, const char *name) {
  hid_t t = H5Dget_type(ds);
  H5T_class_t cl = H5Tget_class(t);
  H5Tclose(t);
  if (cl != H5T_INTEGER && cl != H5T_FLOAT)
    vp_die("%s: dataset '%s' is not numeric (HDF5 class %d); store float32 values", path, name, (int)cl);
}

float *eval_h5_read_f32(const char *path, const char *name, int64_t *numel) {
  hid_t f = open_file(path);
  hid_t ds = open_ds(f, name);
  if (ds < 0) vp_die("%s has no dataset '%s'", path, name);
  check_numeric(ds, path, name);
  int64_t dims[8];
  int nd = ds_shape(ds, dims);
  if (nd < 0) vp_die("%s: cannot read the shape of '%s'", path, name);
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= dims[i];
  float *buf = vp_malloc((size_t)(n ? n : 1) * sizeof(float));
  if (n && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    vp_die("%s: reading dataset '%s' failed", path, name);
  H5Dclose(ds);
  H5Fclose(f);
  *numel = n;
  return buf;
}

// Reads the hyperslab [start, start + count) of ds into buf (memory type mt).
static void read_slab(hid_t ds, hid_t mt, int nd, const int64_t *start, const int64_t *count,
                      void *buf, const char *path, const char *name) {
  hsize_t st[8], ct[8];
  hsize_t total = 1;
  for (int i = 0; i < nd; i++) {
    st[i] = (hsize_t)start[i];
    ct[i] = (hsize_t)count[i];
    total *= ct[i];
  }
  hid_t fs = H5Dget_space(ds);
  hid_t ms = H5Screate_simple(1, &total, NULL);
  if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL) < 0 ||
      H5Dread(ds, mt, ms, fs, H5P_DEFAULT, buf) < 0)
    vp_die("%s: reading clip %lld of dataset '%s' failed", path, (long long)start[0], name);
  H5Sclose(ms);
  H5Sclose(fs);
}

// The `data_range` attribute of the dataset, else of the file; 0 if neither.
static double read_range_attr(hid_t f, hid_t ds, const char *path) {
  hid_t objs[2] = {ds, f};
  for (int k = 0; k < 2; k++) {
    if (H5Aexists(objs[k], "data_range") <= 0) continue;
    hid_t a = H5Aopen(objs[k], "data_range", H5P_DEFAULT);
    double v = 0.0;
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (a < 0 || np != 1 || H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0 || !(v > 0.0) || !isfinite(v))
      vp_die("%s: attribute data_range must be one positive number", path);
    H5Aclose(a);
    return v;
  }
  return 0.0;
}

static const char *shape_str(const int64_t *d, int nd, char *buf, size_t n) {
  size_t len = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < nd && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)d[i]);
  if (len < n) snprintf(buf + len, n - len, ")");
  return buf;
}

// ---- metric selection ----

// want[f]: bit k set when family f's key k is requested.
static void select_metrics(const eval_opts *o, unsigned *want) {
  int nfam = 0;
  while (metric_families[nfam]) nfam++;
  for (int i = 0; i < o->nmetrics; i++) {
    const char *name = o->metrics[i];
    int found = 0;
    if (!strcmp(name, "skill")) {
      for (int f = 0; f < nfam; f++)
        if (metric_families[f] == &metric_skill) want[f] |= 0xFu;
      continue;
    }
    for (int f = 0; f < nfam && !found; f++) {
      for (int k = 0; metric_families[f]->keys[k]; k++) {
        if (!strcmp(metric_families[f]->keys[k], name)) {
          want[f] |= 1u << k;
          found = 1;
          break;
        }
      }
    }
    if (!found) {
      int n = 0;
      while (eval_metric_names[n]) n++;
      const char *s = suggest(name, eval_metric_names, n);
      char all[512] = "";
      for (int k = 0; k < n; k++)
        snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", k ? ", " : "", eval_metric_names[k]);
      vp_die("unknown metric '%s'%s%s%s; known: %s", name, s ? " (did you mean '" : "", s ? s : "",
             s ? "'?)" : "", all);
    }
  }
}

// Loads a network's weights, or explains which file is missing and how to make it.
static void need_weights(const char *path, const char *metric, const char *flag, const char *key,
                         const char *tool, const char *source) {
  if (!path || !*path)
    vp_die("%s needs network weights: pass %s FILE (config key %s). Make FILE from %s with "
           "/usr/bin/python3 tools/%s (see its --help)", metric, flag, key, source, tool);
  if (access(path, R_OK) != 0)
    vp_die("%s weights file %s (%s) cannot be read: %s. Make it from %s with /usr/bin/python3 tools/%s",
           metric, path, key, strerror(errno), source, tool);
}

// ---- the run ----

typedef struct clip_files {
  const char *tpath, *ppath, *mpath;
  hid_t tf, pf, tds, pds, mds;
  int pnd;  // 6, or 5 for S = 1
} clip_files;

// Where a non-finite value sits in a clip of (S?, T, H, W, C), for messages.
static void die_nonfinite(const char *path, int64_t clip, int64_t idx, const metric_env *e, int sampled,
                          const char *needs) {
  const int64_t C = e->C, W = e->W, H = e->H, T = e->T;
  int64_t c = idx % C, x = idx / C % W, y = idx / (C * W) % H, t = idx / (C * W * H) % T,
          s = idx / (C * W * H * T);
  char where[160];
  if (sampled)
    snprintf(where, sizeof(where), "clip %lld, sample %lld, frame %lld, y %lld, x %lld, channel %lld",
             (long long)clip, (long long)s, (long long)t, (long long)y, (long long)x, (long long)c);
  else
    snprintf(where, sizeof(where), "clip %lld, frame %lld, y %lld, x %lld, channel %lld", (long long)clip,
             (long long)t, (long long)y, (long long)x, (long long)c);
  vp_die("%s: 'frames' has a non-finite value (%s); %s need finite values. Fix the file, leave those "
         "metrics out (--metrics), or use masked_l1, masked_l2, crps, crps_fair, pod/far/csi/bias, "
         "which skip or zero non-finite cells", path, where, needs);
}

void eval_run(const eval_opts *o, const vp_comm *comm, FILE *out) {
  int nfam = 0;
  while (metric_families[nfam]) nfam++;
  unsigned *want = vp_calloc((size_t)nfam, sizeof(unsigned));
  select_metrics(o, want);
  int need_frames = 0;
  char needs[256] = "";
  metric_env env;
  memset(&env, 0, sizeof(env));
  env.comm = comm;
  env.best = o->best;
  env.ssim = o->ssim;
  env.skill_exclude = o->skill_exclude;
  env.fvd_frames = o->fvd_frames > 0 ? o->fvd_frames : 16;
  env.pred_path = o->pred_path;
  env.target_path = o->target_path;
  for (int f = 0; f < nfam; f++) {
    if (!want[f] || metric_families[f] == &metric_fd) continue;  // fd reads its own datasets
    need_frames = 1;
    if (metric_families[f]->needs_finite)
      for (int k = 0; metric_families[f]->keys[k]; k++)
        if (want[f] & (1u << k))
          snprintf(needs + strlen(needs), sizeof(needs) - strlen(needs), "%s%s", needs[0] ? ", " : "",
                   metric_families[f]->keys[k]);
  }

  // ---- shapes, data range, mask ----
  clip_files cf = {.tpath = o->target_path, .ppath = o->pred_path, .mds = -1};
  int64_t td[8], pd[8], md[8];
  double L = 1.0;
  const char *Lsrc = "default";
  if (need_frames) {
    cf.tf = open_file(cf.tpath);
    cf.pf = open_file(cf.ppath);
    cf.tds = open_ds(cf.tf, "frames");
    cf.pds = open_ds(cf.pf, "frames");
    for (int k = 0; k < 2; k++) {
      if ((k ? cf.pds : cf.tds) >= 0) continue;
      const char *p = k ? cf.ppath : cf.tpath;
      char have[512];
      eval_h5_list(p, have, sizeof(have));
      vp_die("%s has no dataset 'frames' (the %s clips, %s); the file has: %s", p, k ? "predicted" : "target",
             k ? "float32 (N, S, T, H, W, C)" : "float32 (N, T, H, W, C)", have);
    }
    check_numeric(cf.tds, cf.tpath, "frames");
    check_numeric(cf.pds, cf.ppath, "frames");
    int tnd = ds_shape(cf.tds, td);
    cf.pnd = ds_shape(cf.pds, pd);
    char b1[128], b2[128];
    if (tnd != 5)
      vp_die("%s: 'frames' must be (N, T, H, W, C); it is %s", cf.tpath,
             tnd > 0 ? shape_str(td, tnd, b1, sizeof(b1)) : "not readable");
    if (cf.pnd != 6 && cf.pnd != 5)
      vp_die("%s: 'frames' must be (N, S, T, H, W, C) (or (N, T, H, W, C) for one sample); it is %s",
             cf.ppath, cf.pnd > 0 ? shape_str(pd, cf.pnd, b1, sizeof(b1)) : "not readable");
    const int64_t *pq = cf.pnd == 6 ? pd + 2 : pd + 1;  // pred's (T, H, W, C)
    if (pd[0] != td[0] || memcmp(pq, td + 1, 4 * sizeof(int64_t)) != 0)
      vp_die("pred and target shapes do not match: %s 'frames' is %s, %s 'frames' is %s; pred must be "
             "(N, S, T, H, W, C) for target (N, T, H, W, C)", cf.ppath, shape_str(pd, cf.pnd, b1, sizeof(b1)),
             cf.tpath, shape_str(td, 5, b2, sizeof(b2)));
    if (cf.pnd == 6 && pd[1] < 1) vp_die("%s: 'frames' has no samples (S = 0)", cf.ppath);
    for (int i = 0; i < 5; i++)
      if (td[i] < 1) vp_die("%s: 'frames' is empty: %s", cf.tpath, shape_str(td, 5, b1, sizeof(b1)));
    env.N = td[0];
    env.S = cf.pnd == 6 ? pd[1] : 1;
    env.T = td[1];
    env.H = td[2];
    env.W = td[3];
    env.C = td[4];
    // Data range.
    if (o->data_range > 0.0) {
      L = o->data_range;
      Lsrc = "--data-range";
    } else {
      double lt = read_range_attr(cf.tf, cf.tds, cf.tpath), lp = read_range_attr(cf.pf, cf.pds, cf.ppath);
      if (lt > 0.0 && lp > 0.0 && lt != lp)
        vp_die("the data_range attributes disagree: %s says %g, %s says %g; pass --data-range", cf.tpath, lt,
               cf.ppath, lp);
      if (lt > 0.0 || lp > 0.0) {
        L = lt > 0.0 ? lt : lp;
        Lsrc = "the data_range attribute";
      }
    }
    env.L = L;
    // Mask: the target file's, else the pred file's.
    for (int k = 0; k < 2 && cf.mds < 0; k++) {
      hid_t f = k ? cf.pf : cf.tf;
      hid_t ds = open_ds(f, "mask");
      if (ds < 0) continue;
      cf.mds = ds;
      cf.mpath = k ? cf.ppath : cf.tpath;
    }
    if (cf.mds >= 0) {
      check_numeric(cf.mds, cf.mpath, "mask");
      int mnd = ds_shape(cf.mds, md);
      if (mnd != 4 || memcmp(md, td, 4 * sizeof(int64_t)) != 0)
        vp_die("%s: 'mask' must be uint8 (N, T, H, W) = %s to match the frames; it is %s", cf.mpath,
               shape_str(td, 4, b1, sizeof(b1)), mnd > 0 ? shape_str(md, mnd, b2, sizeof(b2)) : "not readable");
      env.has_mask = 1;
    }
  }

  // ---- family checks and networks ----
  char msg[512];
  for (int f = 0; f < nfam; f++) {
    if (!want[f] || !metric_families[f]->check) continue;
    const char *err = metric_families[f]->check(&env, want[f], msg, sizeof(msg));
    if (err) vp_die("%s", err);
  }
  vp_ctx ctx;
  int have_ctx = 0;
  for (int f = 0; f < nfam; f++) {
    if (!want[f]) continue;
    if (metric_families[f] == &metric_lpips) {
      need_weights(o->lpips_weights, "lpips", "--lpips-weights", "metrics.lpips_weights", "convert_lpips.py",
                   "the lpips package's alex.pth and torchvision's AlexNet");
      env.lpips = lpips_load(o->lpips_weights);
    }
    if (metric_families[f] == &metric_fvd) {
      need_weights(o->i3d_weights, "fvd", "--i3d-weights", "metrics.i3d_weights", "convert_i3d.py",
                   "i3d_pretrained_400.pt (the I3D of VideoGPT / TATS / SyncVP)");
      env.i3d = i3d_load(o->i3d_weights);
    }
  }
  if (env.lpips || env.i3d) {
    ctx_init(&ctx, (size_t)64 << 20);
    ctx_set_training(&ctx, 0);
    env.ctx = &ctx;
    have_ctx = 1;
  }

  // ---- clips of this rank ----
  const int rank = comm ? comm->rank : 0, size = comm ? comm->size : 1;
  const int64_t N = env.N, S = env.S, T = env.T;
  const int64_t fsz = env.H * env.W * env.C, npix = env.H * env.W;
  const int64_t c0 = N * rank / size, c1 = N * (rank + 1) / size;
  double **rows = vp_calloc((size_t)nfam, sizeof(double *));
  int64_t *K = vp_calloc((size_t)nfam, sizeof(int64_t));
  for (int f = 0; f < nfam; f++) {
    if (!want[f]) continue;
    K[f] = metric_families[f]->nstats(&env);
    if (K[f]) rows[f] = vp_calloc((size_t)(N * K[f]), sizeof(double));
  }
  // Value range of the finite inputs (min, max), for the data-range check.
  double vmin = INFINITY, vmax = -INFINITY;
  if (need_frames) {
    float *tgt = vp_malloc((size_t)(T * fsz) * sizeof(float));
    float *pred = vp_malloc((size_t)(S * T * fsz) * sizeof(float));
    uint8_t *mask = env.has_mask ? vp_malloc((size_t)(T * npix)) : NULL;
    for (int64_t c = c0; c < c1; c++) {
      int64_t st[6] = {c, 0, 0, 0, 0, 0}, ct[6];
      ct[0] = 1;
      memcpy(ct + 1, td + 1, 4 * sizeof(int64_t));
      read_slab(cf.tds, H5T_NATIVE_FLOAT, 5, st, ct, tgt, cf.tpath, "frames");
      if (cf.pnd == 6) {
        ct[1] = S;
        memcpy(ct + 2, td + 1, 4 * sizeof(int64_t));
      }
      read_slab(cf.pds, H5T_NATIVE_FLOAT, cf.pnd, st, ct, pred, cf.ppath, "frames");
      if (mask) {
        ct[1] = T;
        ct[2] = env.H;
        ct[3] = env.W;
        read_slab(cf.mds, H5T_NATIVE_UINT8, 4, st, ct, mask, cf.mpath, "mask");
      }
      for (int k = 0; k < 2; k++) {
        const float *v = k ? pred : tgt;
        const int64_t n = k ? S * T * fsz : T * fsz;
        for (int64_t i = 0; i < n; i++) {
          const float x = v[i];
          if (!isfinite(x)) {
            if (needs[0]) die_nonfinite(k ? cf.ppath : cf.tpath, c, i, &env, k, needs);
            continue;
          }
          if (x < vmin) vmin = x;
          if (x > vmax) vmax = x;
        }
      }
      metric_clip clip = {.index = c, .target = tgt, .pred = pred, .mask = mask};
      for (int f = 0; f < nfam; f++)
        if (want[f] && K[f]) metric_families[f]->accumulate(&env, &clip, rows[f] + c * K[f]);
    }
    free(mask);
    free(pred);
    free(tgt);
  }
  // Every row is non-zero on one rank only: the sums are exact.
  for (int f = 0; f < nfam; f++)
    if (rows[f] && comm) comm_allreduce_sum_f64(comm, rows[f], (size_t)(N * K[f]));
  if (comm) {
    comm_allreduce_min_f64(comm, &vmin, 1);
    comm_allreduce_max_f64(comm, &vmax, 1);
  }
  // L matters to psnr, ssim (standard), skill scores, lpips and fvd.
  int uses_L = 0;
  for (int f = 0; f < nfam; f++) {
    const metric_family *m = metric_families[f];
    if (!want[f]) continue;
    if ((m == &metric_pixel && (want[f] & 4u)) || (m == &metric_ssim && env.ssim == SSIM_STANDARD) ||
        m == &metric_skill || m == &metric_lpips || m == &metric_fvd)
      uses_L = 1;
  }
  if (rank == 0 && uses_L && vmin <= vmax && (vmax > L * (1.0 + 1e-3) || vmin < -1e-3 * L))
    vp_warn("the values span [%g, %g] but the data range is [0, %g] (from %s); psnr, ssim, the skill "
            "scores, lpips and fvd assume [0, L]: pass --data-range or set the data_range attribute",
            vmin, vmax, L, Lsrc);

  // ---- finalize: every rank (fd / fvd split work), rank 0 prints ----
  json_out j;
  json_begin(&j, rank == 0 ? out : NULL);
  if (need_frames) {
    json_int(&j, "clips", N);
    json_int(&j, "samples", S);
    json_int(&j, "frames", T);
    json_str(&j, "sample_mode", env.best ? "best" : "mean");
    json_num(&j, "data_range", L);
  }
  for (int f = 0; f < nfam; f++)
    if (want[f]) metric_families[f]->finalize(&env, rows[f], want[f], &j);
  json_end(&j);

  for (int f = 0; f < nfam; f++) free(rows[f]);
  free(rows);
  free(K);
  free(want);
  if (env.lpips) lpips_free(env.lpips);
  if (env.i3d) i3d_free(env.i3d);
  if (have_ctx) ctx_free(&ctx);
  if (need_frames) {
    if (cf.mds >= 0) H5Dclose(cf.mds);
    H5Dclose(cf.tds);
    H5Dclose(cf.pds);
    H5Fclose(cf.tf);
    H5Fclose(cf.pf);
  }
}
