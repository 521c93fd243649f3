#!/usr/bin/env python3
"""Time the metrics of bench_metrics beside their usual Python implementations.

    /usr/bin/python3 bench/compare_metrics.py [--bench build/bench/bench_metrics] [--threads 2]
        [--frames 32] [--size 128] [--reps 9] [--rounds 3] [--no-lpips] [--markdown]

Same frame count, size (RGB) and thread count on both sides; frames per
second of the fastest of --reps runs after one warm-up (on a shared machine the
fastest run is the least disturbed one), and of --rounds alternations of the
two sides, so both see the same background load; ratio = vpcast / Python
(> 1 means vpcast is faster):
  ssim   skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
         use_sample_covariance=False, data_range=1, channel_axis=-1) per frame, on
         the float32 frames (skimage then computes in float32; vpcast in float64)
  crps   S = 10 members per pixel: NumPy sort along the member axis and the
         sorted-ensemble formula, vectorised over every pixel (float64)
  lpips  AlexNet v0.1 LPIPS as the lpips package computes it, in PyTorch
         (float32, no grad), with random weights written through
         tools/convert_lpips.py; vpcast loads the same file
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def _blas_core():
    """OpenBLAS kernels matching vpcast's choice (see bench/compare_torch.py)."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def _set_threads(n):
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = str(n)
    if "OPENBLAS_CORETYPE" not in os.environ and _blas_core():
        os.environ["OPENBLAS_CORETYPE"] = _blas_core()


def best_time(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def make_lpips_weights(path):
    """Random LPIPS weights in the converter's layout (through convert_lpips.py)."""
    import torch
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
    sys.path.insert(0, root)
    import convert_lpips
    g = torch.Generator().manual_seed(3)
    lin, alex = {}, {}
    for name, shape in convert_lpips.expected_shapes().items():
        fan_in = 1
        for s in shape[1:]:
            fan_in *= s
        t = torch.randn(*shape, generator=g) / max(1, fan_in) ** 0.5
        (lin if name.startswith("lin") else alex)[name] = t.abs() if name.startswith("lin") else t
    with tempfile.TemporaryDirectory() as d:
        lp, ap = os.path.join(d, "alex.pth"), os.path.join(d, "alexnet.pth")
        torch.save(lin, lp)
        torch.save(alex, ap)
        convert_lpips.convert(lp, ap, path)


def torch_lpips(path):
    """LPIPS alex v0.1 (the lpips package's forward) from the HDF5 weights."""
    import h5py
    import torch
    import torch.nn.functional as F
    with h5py.File(path, "r") as f:
        w = {k: torch.from_numpy(f[k][()]) for k in f}
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    convs = [(0, 4, 2), (3, 1, 2), (6, 1, 1), (8, 1, 1), (10, 1, 1)]

    def feats(x):
        x = (x - shift) / scale
        out = []
        for i, (idx, stride, pad) in enumerate(convs):
            if i in (1, 2):
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(F.conv2d(x, w[f"features.{idx}.weight"], w[f"features.{idx}.bias"], stride, pad))
            out.append(x)
        return out

    def dist(x, y):
        total = 0
        for k, (a, b) in enumerate(zip(feats(x), feats(y))):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + F.conv2d((a - b) ** 2, w[f"lin{k}.model.1.weight"]).mean((2, 3))
        return total.view(-1)
    return dist


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "bench_metrics"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-lpips", action="store_true", help="skip LPIPS (it needs PyTorch)")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    _set_threads(a.threads)
    import numpy as np
    from skimage.metrics import structural_similarity

    F_, H = a.frames, a.size
    rng = np.random.default_rng(0)
    x = rng.random((F_, H, H, 3), dtype=np.float32)
    y = (0.7 * x + 0.3 * rng.random((F_, H, H, 3), dtype=np.float32)).astype(np.float32)
    members = rng.random((10, F_, H, H, 3), dtype=np.float32)

    def sk():
        for f in range(F_):
            structural_similarity(x[f], y[f], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0, channel_axis=-1)

    m = members.shape[0]
    wts = (2.0 * np.arange(1, m + 1) - m - 1).reshape(m, 1, 1, 1, 1)

    def npcrps():
        xs = np.sort(members.astype(np.float64), axis=0)
        skill = np.mean(np.abs(xs - y.astype(np.float64)), axis=0)
        spread = np.sum(wts * xs, axis=0)
        return float(np.mean(skill - spread / (m * m)))

    fns = {"ssim": ("scikit-image " + __import__("skimage").__version__, sk),
           "crps_s10": ("NumPy " + np.__version__, npcrps)}
    cmd = [a.bench, "--json", "--threads", str(a.threads), "--frames", str(F_), "--size", str(H),
           "--reps", str(a.reps)]
    tmp = None
    if not a.no_lpips:
        import torch
        torch.set_num_threads(a.threads)
        tmp = tempfile.mkdtemp()
        wpath = os.path.join(tmp, "lpips_random.h5")
        make_lpips_weights(wpath)
        dist = torch_lpips(wpath)
        tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))) * 2 - 1
        ty = torch.from_numpy(np.ascontiguousarray(y.transpose(0, 3, 1, 2))) * 2 - 1

        def tl():
            with torch.no_grad():
                dist(tx, ty)
        fns["lpips"] = ("PyTorch " + torch.__version__, tl)
        cmd += ["--lpips-weights", wpath]
    py, ours = {}, {}
    for _ in range(a.rounds):
        # OpenBLAS / OpenMP worker threads of this process spin for a while
        # after their last parallel call; let them fall asleep before timing
        # the other side.
        time.sleep(1.0)
        res = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for line in res.splitlines():
            r = json.loads(line)
            ours[r["name"]] = max(r["frames_per_s"], ours.get(r["name"], 0.0))
        for name, (label, fn) in fns.items():
            fps = F_ / best_time(fn, a.reps)
            py[name] = (label, max(fps, py.get(name, (label, 0.0))[1]))
    if tmp:
        import shutil
        shutil.rmtree(tmp)

    rows = []
    for name, label in (("ssim", "SSIM"), ("crps_s10", "CRPS, S = 10"), ("lpips", "LPIPS (AlexNet)")):
        if name not in py:
            continue
        ref, fps = py[name]
        v = ours.get(name, float("nan"))
        rows.append((label, v, ref, fps, v / fps))
    if a.markdown:
        print(f"{H}x{H} RGB frames, {F_} per run, {a.threads} threads, fastest of {a.reps} runs x {a.rounds} rounds.\n")
        print("| metric | vpcast frames/s | reference | reference frames/s | ratio |")
        print("|---|---:|---|---:|---:|")
        for label, v, ref, fps, r in rows:
            print(f"| {label} | {v:.1f} | {ref} | {fps:.1f} | {r:.2f}x |")
        if "ssim_ref" in ours:
            print(f"\n(vpcast's plain 2-D reference SSIM kernel: {ours['ssim_ref']:.1f} frames/s.)")
    else:
        for label, v, ref, fps, r in rows:
            print(f"{label:16s} vpcast {v:9.1f} frames/s   {ref:22s} {fps:9.1f} frames/s   ratio {r:6.2f}x")


if __name__ == "__main__":
    main()
