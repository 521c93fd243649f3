#!/usr/bin/env python3
"""Time PyTorch on the bench_ops cases, run bench_ops in the same run, print ratios.

    /usr/bin/python3 bench/compare_torch.py [--bench build/bench/bench_ops] [--threads 2] [--reps 10] [--markdown]

Both sides time forward and backward separately, median of --reps after one
warm-up, with the same thread count. The ratio is PyTorch time / vpcast time
(> 1 means vpcast is faster), for forward + backward together; the summary is
their geometric mean.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time


def _blas_core():
    """The OpenBLAS kernel family vpcast picks (src/core/blas_core.c).

    Debian's PyTorch calls the same OpenBLAS, which misdetects CPUs whose model
    number a VM hides. Both sides get the same kernels so the comparison is
    about our code, not about a detection bug. Must run before torch loads.
    """
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


if "OPENBLAS_CORETYPE" not in os.environ and _blas_core():
    os.environ["OPENBLAS_CORETYPE"] = _blas_core()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def cases():
    r = torch.randn
    return {
        "conv3x3_256_32": (lambda: [r(4, 256, 32, 32), r(256, 256, 3, 3) * 0.02, r(256) * 0.02],
                           lambda x, w, b: F.conv2d(x, w, b, padding=1)),
        "conv3x3_512_16": (lambda: [r(4, 512, 16, 16), r(512, 512, 3, 3) * 0.02, r(512) * 0.02],
                           lambda x, w, b: F.conv2d(x, w, b, padding=1)),
        "groupnorm_256_32": (lambda: [r(4, 256, 32, 32), r(256), r(256)],
                             lambda x, w, b: F.group_norm(x, 32, w, b, 1e-5)),
        "attn_1536_d32": (lambda: [r(4, 8, 1536, 32), r(4, 8, 1536, 32), r(4, 8, 1536, 32)],
                          lambda q, k, v: torch.softmax(q @ k.transpose(-1, -2) * 32 ** -0.5, -1) @ v),
        "linear_192_1536": (lambda: [r(8192, 192), r(1536, 192) * 0.07, r(1536) * 0.07],
                            lambda x, w, b: F.linear(x, w, b)),
        "layernorm_192": (lambda: [r(8192, 192), r(192), r(192)],
                          lambda x, w, b: F.layer_norm(x, (192,), w, b, 1e-5)),
    }


def time_torch(make, fn, reps):
    ins = [t.requires_grad_() for t in make()]
    fw, bw = [], []
    for i in range(reps + 1):
        for t in ins:
            t.grad = None
        t0 = time.perf_counter()
        y = fn(*ins)
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        if i > 0:
            fw.append((t1 - t0) * 1e3)
            bw.append((t2 - t1) * 1e3)
    fw.sort()
    bw.sort()
    return fw[len(fw) // 2], bw[len(bw) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench/bench_ops")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = subprocess.run([args.bench, "--json", "--threads", str(args.threads), "--reps", str(args.reps)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"compare_torch: {args.bench} failed:\n{out.stderr}")
    ours = {d["name"]: d for d in map(json.loads, out.stdout.strip().splitlines())}
    rows, logs = [], []
    for name, (make, fn) in cases().items():
        tf, tb = time_torch(make, fn, args.reps)
        v = ours[name]
        ratio = (tf + tb) / (v["fwd_ms"] + v["bwd_ms"])
        logs.append(math.log(ratio))
        rows.append((name, v["fwd_ms"], v["bwd_ms"], tf, tb, tf / v["fwd_ms"], tb / v["bwd_ms"], ratio))
    gm = math.exp(sum(logs) / len(logs))
    if args.markdown:
        print(f"| case | vpcast fwd ms | vpcast bwd ms | torch fwd ms | torch bwd ms | fwd ratio | bwd ratio | fwd+bwd ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| `{r[0]}` | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.2f} | **{r[7]:.2f}** |")
        print(f"\nGeometric mean of fwd+bwd ratios (PyTorch time / vpcast time): **{gm:.2f}** "
              f"(threads {args.threads}, torch {torch.__version__}, median of {args.reps}, "
              f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'auto')})")
    else:
        print(f"{'case':20s} {'ours f':>9s} {'ours b':>9s} {'torch f':>9s} {'torch b':>9s} {'ratio':>7s}")
        for r in rows:
            print(f"{r[0]:20s} {r[1]:9.2f} {r[2]:9.2f} {r[3]:9.2f} {r[4]:9.2f} {r[7]:7.2f}")
        print(f"geometric mean ratio (torch/vpcast, fwd+bwd): {gm:.3f}; min {min(r[7] for r in rows):.3f}")


if __name__ == "__main__":
    main()
