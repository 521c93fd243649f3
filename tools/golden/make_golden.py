#!/usr/bin/env python3
"""Write PyTorch golden files for the C tests.

    /usr/bin/python3 tools/golden/make_golden.py --seed N --out DIR [--only g_ops_conv ...]

Runs every tools/golden/g_*.py module; each writes DIR/<module>.h5 (the name
without the g_ prefix). The tests read $VP_GOLDEN_DIR (default tests/golden/).
"""
import argparse
import importlib
import os
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import GoldenWriter  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="seed for every random input (default 0)")
    ap.add_argument("--out", default=str(HERE.parent.parent / "tests" / "golden"), help="output directory")
    ap.add_argument("--only", nargs="*", help="module names (e.g. g_linear) to run; default all")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(args.out, exist_ok=True)
    mods = sorted(p.stem for p in HERE.glob("g_*.py"))
    if args.only:
        unknown = set(args.only) - set(mods)
        if unknown:
            sys.exit(f"make_golden: unknown module(s) {sorted(unknown)}; known: {mods}")
        mods = [m for m in mods if m in args.only]
    for m in mods:
        mod = importlib.import_module(m)
        path = os.path.join(args.out, m[2:] + ".h5")
        w = GoldenWriter(path, args.seed)
        # A module may switch global torch state (grad mode, default dtype);
        # every module starts from the defaults.
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
        try:
            mod.generate(w)
        finally:
            w.close()
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
