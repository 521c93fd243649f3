"""Goldens for the evaluation metrics (src/eval/): inputs and the expected values
of the Python references in tools/ref_metrics.py (scikit-image SSIM, the
properscoring / WeatherBench2 CRPS formulas, SciPy sqrtm Fréchet distance,
NumPy skill counts, and whole-file results as `vpcast metrics` reports them).
Expected values are float64 datasets / attributes; inputs are float32 so the
C side reads exactly the values the reference saw. Needs only Debian packages
(python3-numpy, python3-scipy, python3-skimage, python3-h5py).

Layout (tests/unit/test_metrics_*.c read it):
  ssim/<case>/{x, y}      (T, H, W, C) float32; attrs L; skimage (T,), syncvp (T,)
  crps/<case>/{x, y}      members (E, m), obs (E,); integral (E,), pairwise_fair (E,), wb2 (E,)
  crps_quantile/m<m>/x    float64 N(0,1) quantile members; integral, fair (scalars, attrs)
  frechet/<case>/{a, b}   (n, D) float32; attr fd (SciPy sqrtm)
  skill/{pred, target}    codes / 255 float32; hits/misses/fas_<ex> (6,) int64, ex = 255 or none
  e2e/<case>/{pred, target, mask?, feat_pred?, feat_target?} and attrs: expected JSON
      values for mean and best modes (mean_<key>, best_<key>), L, ssim_mode
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ref_metrics as ref  # noqa: E402


def _pair(rng, shape, L, noise):
    x = rng.uniform(0, L, size=shape)
    # Smooth structure so SSIM is far from 0: a blurred field plus noise.
    from scipy.ndimage import gaussian_filter
    x = gaussian_filter(x, sigma=(0,) * (len(shape) - 3) + (1.5, 1.5, 0))
    x = (x - x.min()) / (x.max() - x.min()) * L
    y = np.clip(x + rng.normal(0, noise * L, size=shape), 0, L)
    return x.astype(np.float32), y.astype(np.float32)


def generate(w):
    rng = np.random.default_rng(w.seed + 505)
    f = w.f

    # ---- SSIM against scikit-image and the SyncVP procedure ----
    for name, shape, L in (("rgb16", (2, 16, 16, 3), 1.0), ("grey255", (3, 23, 19, 1), 255.0),
                           ("min11", (1, 11, 11, 2), 2.0), ("wide", (1, 12, 40, 3), 1.0)):
        x, y = _pair(rng, shape, L, 0.08)
        g = f.create_group(f"ssim/{name}")
        g.create_dataset("x", data=x)
        g.create_dataset("y", data=y)
        g.attrs["L"] = L
        g.create_dataset("skimage", data=ref.ssim_skimage(x, y, L))
        g.create_dataset("syncvp", data=ref.ssim_syncvp(x, y))

    # ---- CRPS ----
    for m in (1, 2, 3, 7, 10, 40):
        E = 60
        x = rng.normal(0.3, 1.0, size=(E, m))
        if m >= 3:  # ties, as quantised pixels have
            x[: E // 3] = np.round(x[: E // 3] * 2) / 2
        y = rng.normal(0.0, 1.2, size=E)
        y[:5] = x[:5, 0]  # observation equal to a member
        x, y = x.astype(np.float32), y.astype(np.float32)
        g = f.create_group(f"crps/m{m}")
        g.create_dataset("x", data=x)
        g.create_dataset("y", data=y)
        g.create_dataset("integral", data=np.array([ref.crps_integral(y[e], x[e]) for e in range(E)]))
        g.create_dataset("pairwise_fair", data=ref.crps_pairwise(y.astype(np.float64), x.astype(np.float64), True))
        g.create_dataset("wb2", data=ref.crps_fair_wb2(y.astype(np.float64), x.astype(np.float64)))
    from scipy.stats import norm
    for m in (10, 100, 1000):
        q = norm.ppf((np.arange(1, m + 1) - 0.5) / m)
        g = f.create_group(f"crps_quantile/m{m}")
        g.create_dataset("x", data=q)  # float64
        g.attrs["integral"] = ref.crps_integral(0.0, q)
        g.attrs["fair"] = float(ref.crps_pairwise(0.0, q, True))

    # ---- Fréchet distance against SciPy sqrtm ----
    for name, na, nb, D in (("d8", 50, 40, 8), ("d32", 120, 100, 32), ("d3", 7, 9, 3)):
        A = rng.normal(size=(D, D)) / np.sqrt(D)
        a = rng.normal(size=(na, D)) @ A + rng.normal(size=D)
        B = np.eye(D) + 0.3 * rng.normal(size=(D, D)) / np.sqrt(D)
        b = rng.normal(size=(nb, D)) @ B * 1.3 + 0.5
        a, b = a.astype(np.float32), b.astype(np.float32)
        g = f.create_group(f"frechet/{name}")
        g.create_dataset("a", data=a)
        g.create_dataset("b", data=b)
        g.attrs["fd"] = ref.frechet_scipy(a, b)

    # ---- skill counts ----
    n = 4000
    codes_t = rng.integers(0, 256, size=n)
    codes_p = np.clip(codes_t + rng.integers(-40, 41, size=n), 0, 255)
    codes_t[:30] = 255
    for k, thr in enumerate(ref.THRESHOLDS):  # values right at every threshold
        codes_t[30 + 4 * k: 32 + 4 * k] = thr
        codes_p[32 + 4 * k: 34 + 4 * k] = thr
        codes_p[34 + 4 * k] = thr - 1
    t = (codes_t / 255.0).astype(np.float32)
    p = (codes_p / 255.0).astype(np.float32)
    p[100:150] += rng.uniform(-0.002, 0.002, size=50).astype(np.float32)  # off-code values
    p[200] = np.nan
    g = f.create_group("skill")
    g.create_dataset("pred", data=p)
    g.create_dataset("target", data=t)
    for ex, tag in ((255, "255"), (-1, "none")):
        h, m_, fa = ref.skill_counts(p, t, 1.0, ex)
        g.create_dataset(f"hits_{tag}", data=h.astype(np.int64))
        g.create_dataset(f"misses_{tag}", data=m_.astype(np.int64))
        g.create_dataset(f"fas_{tag}", data=fa.astype(np.int64))

    # ---- whole files: what `vpcast metrics` must print ----
    all_metrics = ["mse", "mae", "psnr", "ssim", "masked_l1", "masked_l2", "crps", "crps_fair", "skill", "fd"]
    for name, (N, S, T, H, W, C), L, mode in (("rgb", (5, 3, 2, 12, 13, 2), 1.0, "standard"),
                                              ("vil", (4, 2, 2, 11, 12, 1), 255.0, "syncvp")):
        target = np.stack([_pair(rng, (T, H, W, C), L, 0.1)[0] for _ in range(N)])
        pred = np.clip(target[:, None] + rng.normal(0, 0.15 * L, size=(N, S, T, H, W, C)), 0, L)
        pred = pred.astype(np.float32)
        if name == "vil":  # integer VIL codes
            target = np.round(target)
            pred = np.round(pred)
        mask = (rng.uniform(size=(N, T, H, W)) > 0.2).astype(np.uint8)
        fp = rng.normal(size=(9, 4)).astype(np.float32)
        ft = (rng.normal(size=(7, 4)) * 1.5 + 0.3).astype(np.float32)
        g = f.create_group(f"e2e/{name}")
        g.create_dataset("pred", data=pred.astype(np.float32))
        g.create_dataset("target", data=target.astype(np.float32))
        g.create_dataset("mask", data=mask)
        g.create_dataset("feat_pred", data=fp)
        g.create_dataset("feat_target", data=ft)
        g.attrs["L"] = L
        g.attrs["ssim_mode"] = mode
        for best in (0, 1):
            res = ref.evaluate(pred, target, mask, L, all_metrics, bool(best), mode, 255, (fp, ft))
            for k, v in res.items():
                if isinstance(v, str):
                    continue
                g.attrs[f"{'best' if best else 'mean'}_{k}"] = np.nan if v is None else float(v)
