#!/usr/bin/env python3
"""Python references for the metrics of `vpcast metrics` (src/eval/).

    /usr/bin/python3 tools/ref_metrics.py --pred P.h5 --target T.h5 [--metrics LIST]
        [--samples mean|best] [--data-range L] [--ssim-mode standard|syncvp] [--skill-exclude 255]

prints the same JSON keys as `vpcast metrics` (except lpips and fvd), computed
independently with NumPy / SciPy / scikit-image. The functions are what the
golden generator (tools/golden/g_metrics.py) uses to make expected values:

- crps_integral: properscoring's crps_ensemble re-derived: the integral of
  (F_ens(z) - 1{z >= y})^2 over z, piecewise between the sorted members
  (NaN members skipped, NaN observation -> NaN);
- crps_pairwise: E|X - y| - E|X - X'| / 2 with the m^2 (standard) or
  m(m - 1) (fair) normaliser, O(m^2);
- crps_fair_wb2: WeatherBench2's CRPSSkill - 0.5 CRPSSpread with ordinal ranks;
- crps_gaussian: properscoring's closed form for N(mu, sigma^2);
- ssim_skimage: skimage.metrics.structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=L) per frame;
- ssim_syncvp: SyncVP's evals/ssim/ssim.py (zero padding, "same" map, C1 1e-4,
  C2 9e-4) after min-max normalising each video, in float64;
- frechet_scipy: np.cov (n - 1) and scipy.linalg.sqrtm of the product;
- skill_counts: Earthformer-style hits / misses / false alarms on VIL codes.
Only Debian packages are needed (python3-numpy, -scipy, -skimage, -h5py).
"""
import argparse
import json
import math
import sys

import numpy as np

THRESHOLDS = (16, 74, 133, 160, 181, 219)


# ---- CRPS ----

def crps_integral(y, members):
    """properscoring crps_ensemble for one observation, by integrating the CDF gap."""
    x = np.asarray(members, dtype=np.float64).ravel()
    x = np.sort(x[~np.isnan(x)])
    y = float(y)
    if math.isnan(y):
        return math.nan
    m = len(x)
    if m == 0:
        return math.nan
    pts = np.sort(np.concatenate([x, [y]]))
    total = 0.0
    for k in range(len(pts) - 1):
        width = pts[k + 1] - pts[k]
        if width <= 0:
            continue
        cdf = np.count_nonzero(x <= pts[k]) / m
        heav = 1.0 if pts[k] >= y else 0.0
        total += width * (cdf - heav) ** 2
    return total


def crps_pairwise(y, members, fair=False):
    """E|X - y| - sum_ij |x_i - x_j| / (2 m^2)  (fair: 2 m (m - 1)); members on the last axis."""
    x = np.asarray(members, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m = x.shape[-1]
    skill = np.mean(np.abs(x - y[..., None]), axis=-1)
    pair = np.sum(np.abs(x[..., :, None] - x[..., None, :]), axis=(-1, -2))
    if fair:
        if m < 2:
            return np.full(skill.shape, np.nan)
        return skill - pair / (2.0 * m * (m - 1))
    return skill - pair / (2.0 * m * m)


def crps_fair_wb2(y, members):
    """WeatherBench2: skill - 0.5 * spread, spread = 2 mean((2 rank - M - 1) x) / (M - 1)."""
    x = np.asarray(members, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    M = x.shape[-1]
    skill = np.mean(np.abs(x - y[..., None]), axis=-1)
    if M < 2:
        return skill * np.nan
    rank = np.argsort(np.argsort(x, axis=-1, kind="stable"), axis=-1, kind="stable") + 1
    spread = 2.0 * np.mean((2 * rank - M - 1) * x, axis=-1) / (M - 1)
    return skill - 0.5 * spread


def crps_gaussian(mu, sigma, y):
    from scipy.stats import norm
    z = (y - mu) / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


# ---- SSIM ----

def ssim_skimage(x, y, L):
    """Per frame of (T, H, W, C) float arrays (computed in float64)."""
    from skimage.metrics import structural_similarity
    out = []
    for t in range(x.shape[0]):
        a = np.asarray(x[t], dtype=np.float64)
        b = np.asarray(y[t], dtype=np.float64)
        out.append(structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=L, channel_axis=-1))
    return np.array(out)


def _gauss_window():
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    return g / g.sum()


def _minmax(v):
    v = np.asarray(v, dtype=np.float64)
    lo, hi = np.nanmin(v), np.nanmax(v)
    return np.zeros_like(v) if hi == lo else (v - lo) / (hi - lo)


def ssim_syncvp(x, y, normalise=True):
    """Per frame of one video pair (T, H, W, C): SyncVP's zero-padded SSIM."""
    from scipy.signal import convolve2d
    if normalise:
        x, y = _minmax(x), _minmax(y)
    g = _gauss_window()
    w = np.outer(g, g)
    C1, C2 = 1e-4, 9e-4

    def filt(a):  # zero padding 5, "same" output (the window is symmetric)
        return convolve2d(a, w, mode="same", boundary="fill", fillvalue=0.0)
    out = []
    for t in range(x.shape[0]):
        vals = []
        for c in range(x.shape[-1]):
            a = np.asarray(x[t, :, :, c], dtype=np.float64)
            b = np.asarray(y[t, :, :, c], dtype=np.float64)
            m1, m2 = filt(a), filt(b)
            s1 = filt(a * a) - m1 * m1
            s2 = filt(b * b) - m2 * m2
            s12 = filt(a * b) - m1 * m2
            smap = ((2 * m1 * m2 + C1) * (2 * s12 + C2)) / ((m1 * m1 + m2 * m2 + C1) * (s1 + s2 + C2))
            vals.append(smap.mean())
        out.append(np.mean(vals))
    return np.array(out)


# ---- Fréchet distance ----

def frechet_scipy(f1, f2):
    from scipy.linalg import sqrtm
    f1 = np.asarray(f1, dtype=np.float64)
    f2 = np.asarray(f2, dtype=np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1 = np.atleast_2d(np.cov(f1, rowvar=False))
    s2 = np.atleast_2d(np.cov(f2, rowvar=False))
    covmean = sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ---- skill scores ----

def skill_counts(pred, target, L=1.0, exclude=255):
    """hits, misses, false alarms per threshold (arrays of 6 ints)."""
    tc = np.asarray(target, dtype=np.float64) * (255.0 / L)
    pc = np.asarray(pred, dtype=np.float64) * (255.0 / L)
    tc, pc = np.broadcast_arrays(tc, pc)
    keep = np.ones(tc.shape, bool)
    if exclude >= 0:
        keep = ~(np.isfinite(tc) & (np.abs(tc - exclude) < 0.5))
    tc = np.where(np.isfinite(tc), tc, 0.0)[keep]
    pc = np.where(np.isfinite(pc), pc, 0.0)[keep]
    h, m, f = [], [], []
    for thr in THRESHOLDS:
        te = tc >= thr - 1e-3
        pe = pc >= thr - 1e-3
        h.append(int(np.sum(te & pe)))
        m.append(int(np.sum(te & ~pe)))
        f.append(int(np.sum(~te & pe)))
    return np.array(h), np.array(m), np.array(f)


def _ratio(a, b):
    return a / b if b else None


# ---- whole files, as `vpcast metrics` reports them ----

def evaluate(pred, target, mask=None, L=1.0, metrics=("mse", "mae", "psnr", "ssim", "crps", "crps_fair"),
             best=False, ssim_mode="standard", skill_exclude=255, feats=None):
    """pred (N, S, T, H, W, C), target (N, T, H, W, C), mask (N, T, H, W) or None -> dict."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    N, S, T = pred.shape[:3]
    want = set(metrics)
    if "skill" in want:
        want |= {"pod", "far", "csi", "bias"}
    out = {"clips": N, "samples": S, "frames": T, "sample_mode": "best" if best else "mean", "data_range": L}

    def reduce(v, higher):  # v: (S,)
        if not best:
            return float(np.mean(v))
        return float(np.max(v) if higher else np.min(v))

    err = pred - target[:, None]
    if want & {"mse", "mae", "psnr"}:
        fmse = np.mean(err ** 2, axis=(3, 4, 5))  # (N, S, T)
        fmae = np.mean(np.abs(err), axis=(3, 4, 5))
        fpsnr = np.where(fmse <= 1e-10 * L * L, 100.0, 10 * np.log10(L * L / np.maximum(fmse, 1e-300)))
        for key, arr, higher in (("mse", fmse, False), ("mae", fmae, False), ("psnr", fpsnr, True)):
            if key in want:
                out[key] = float(np.mean([reduce(arr[i].mean(axis=-1), higher) for i in range(N)]))
    if "ssim" in want:
        vals = []
        for i in range(N):
            per = []
            for s in range(S):
                if ssim_mode == "syncvp":
                    per.append(ssim_syncvp(pred[i, s], target[i]).mean())
                else:
                    per.append(ssim_skimage(pred[i, s], target[i], L).mean())
            vals.append(reduce(np.array(per), True))
        out["ssim"] = float(np.mean(vals))
    if want & {"masked_l1", "masked_l2"}:
        valid = np.isfinite(err)
        if mask is not None:
            valid &= (np.asarray(mask) != 0)[:, None, :, :, :, None]
        e0 = np.where(valid, err, 0.0)
        s1 = np.sum(np.abs(e0), axis=(2, 3, 4, 5))  # (N, S)
        s2 = np.sum(e0 ** 2, axis=(2, 3, 4, 5))
        cnt = np.sum(valid, axis=(2, 3, 4, 5)).astype(np.float64)
        for key, sums in (("masked_l1", s1), ("masked_l2", s2)):
            if key not in want:
                continue
            if not best:
                tot, n = sums.sum(), cnt.sum()
            else:
                tot = n = 0.0
                for i in range(N):
                    ok = cnt[i] > 0
                    if ok.any():
                        means = np.where(ok, sums[i] / np.maximum(cnt[i], 1), np.inf)
                        k = int(np.argmin(means))
                        tot += sums[i, k]
                        n += cnt[i, k]
            out[key] = tot / n if n > 0 else None
    if want & {"crps", "crps_fair"}:
        x = np.moveaxis(pred, 1, -1)  # (N, T, H, W, C, S)
        valid = np.isfinite(target) & np.all(np.isfinite(x), axis=-1)
        if mask is not None:
            valid &= (np.asarray(mask) != 0)[..., None]
        xs, ys = x[valid], target[valid]
        if "crps" in want:
            out["crps"] = float(np.mean(crps_pairwise(ys, xs))) if ys.size else None
        if "crps_fair" in want:
            out["crps_fair"] = float(np.mean(crps_pairwise(ys, xs, fair=True))) if ys.size and S > 1 else None
    if want & {"pod", "far", "csi", "bias"}:
        h, m, f = skill_counts(pred, target[:, None], L, skill_exclude)
        for key in ("pod", "far", "csi", "bias"):
            if key not in want:
                continue
            for k, thr in enumerate(THRESHOLDS):
                hh, mm, ff = int(h[k]), int(m[k]), int(f[k])
                out[f"{key}_{thr}"] = {"pod": _ratio(hh, hh + mm), "far": _ratio(ff, hh + ff),
                                       "csi": _ratio(hh, hh + mm + ff), "bias": _ratio(hh + ff, hh + mm)}[key]
        for k, thr in enumerate(THRESHOLDS):
            out[f"hits_{thr}"] = int(h[k])
            out[f"misses_{thr}"] = int(m[k])
            out[f"false_alarms_{thr}"] = int(f[k])
    if "fd" in want and feats is not None:
        out["fd"] = frechet_scipy(feats[0], feats[1])
    return out


def main():
    import h5py
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pred", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--metrics", default="mse,mae,psnr,ssim,crps,crps_fair")
    ap.add_argument("--samples", choices=("mean", "best"), default="mean")
    ap.add_argument("--data-range", type=float, default=0.0)
    ap.add_argument("--ssim-mode", choices=("standard", "syncvp"), default="standard")
    ap.add_argument("--skill-exclude", type=int, default=255)
    a = ap.parse_args()
    with h5py.File(a.pred, "r") as fp, h5py.File(a.target, "r") as ft:
        pred = fp["frames"][...]
        if pred.ndim == 5:
            pred = pred[:, None]
        target = ft["frames"][...]
        mask = ft["mask"][...] if "mask" in ft else (fp["mask"][...] if "mask" in fp else None)
        L = a.data_range or float(ft["frames"].attrs.get("data_range", ft.attrs.get("data_range", 0)) or
                                  fp["frames"].attrs.get("data_range", fp.attrs.get("data_range", 1.0)))
        feats = (fp["features"][...], ft["features"][...]) if "features" in fp and "features" in ft else None
    res = evaluate(pred, target, mask, L, a.metrics.split(","), a.samples == "best", a.ssim_mode,
                   a.skill_exclude, feats)
    json.dump(res, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
