#!/usr/bin/env python3
"""Convert the LPIPS (AlexNet, v0.1) weights into the HDF5 file vpcast reads.

    python3 tools/convert_lpips.py --lin alex.pth --alexnet alexnet-owt-7be5be79.pth \\
        --out lpips_alex.h5

LPIPS(net='alex', version='0.1') of the `lpips` package (richzhang/
PerceptualSimilarity) is two checkpoints:
  --lin      the package's lpips/weights/v0.1/alex.pth (6009 bytes, legacy
             torch pickle): the five linear heads lin{0..4}.model.1.weight,
             shapes (1, C, 1, 1) for C = 64, 192, 384, 256, 256
  --alexnet  torchvision's ImageNet AlexNet, alexnet-owt-7be5be79.pth
             (IMAGENET1K_V1, what lpips loads through torchvision; it sits in
             ~/.cache/torch/hub/checkpoints/ once torchvision has fetched it):
             only features.{0,3,6,8,10}.{weight,bias} are kept
Nothing is downloaded: point the options at files you have.

The output holds one float32 dataset per tensor at the root, named by its
state_dict key and in PyTorch's layout, unchanged (13 + 2 tensors, 2.47 M
floats, about 10 MB). vpcast's config key for the file is the one `vpcast
metrics` names when the file is missing.
"""
import argparse
import hashlib
import os
import sys

import h5py
import numpy as np
import torch

FORMAT = "vpcast-lpips-alex-v0.1"
CONVS = [(0, 3, 64, 11), (3, 64, 192, 5), (6, 192, 384, 3), (8, 384, 256, 3), (10, 256, 256, 3)]
LIN_CHANNELS = [64, 192, 384, 256, 256]


def expected_shapes():
    """name -> shape of every tensor the file holds, in file order."""
    out = {}
    for idx, cin, cout, k in CONVS:
        out[f"features.{idx}.weight"] = (cout, cin, k, k)
        out[f"features.{idx}.bias"] = (cout,)
    for i, c in enumerate(LIN_CHANNELS):
        out[f"lin{i}.model.1.weight"] = (1, c, 1, 1)
    return out


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_state_dict(path, what):
    if not os.path.isfile(path):
        sys.exit(f"convert_lpips: {what} file '{path}' does not exist")
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any unpickling failure plainly
        sys.exit(f"convert_lpips: cannot read {what} file '{path}' with torch.load: {e}")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        sys.exit(f"convert_lpips: {what} file '{path}' holds a {type(sd).__name__}, not a state_dict")
    # DataParallel checkpoints prefix every key with "module.".
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def convert(lin_path, alexnet_path, out_path):
    """Writes out_path; returns name -> float32 array as written."""
    lin = _load_state_dict(lin_path, "LPIPS linear-head (alex.pth)")
    alex = _load_state_dict(alexnet_path, "torchvision AlexNet")
    tensors = {}
    problems = []
    for name, shape in expected_shapes().items():
        src, path = (lin, lin_path) if name.startswith("lin") else (alex, alexnet_path)
        if name not in src:
            problems.append(f"'{name}' is missing from {path}")
            continue
        t = src[name]
        if not torch.is_tensor(t) or not t.is_floating_point():
            problems.append(f"'{name}' in {path} is not a floating-point tensor")
            continue
        if tuple(t.shape) != shape:
            problems.append(f"'{name}' in {path} has shape {tuple(t.shape)}, expected {shape}")
            continue
        a = t.detach().to(torch.float32).contiguous().numpy()
        if not np.isfinite(a).all():
            problems.append(f"'{name}' in {path} has non-finite values")
        tensors[name] = a
    if problems:
        hint = ""
        if "lin0.model.1.weight" in alex and "features.0.weight" in lin:
            hint = "\n(the two files look swapped: --lin takes alex.pth, --alexnet the torchvision file)"
        sys.exit("convert_lpips: the inputs are not the LPIPS alex v0.1 heads + torchvision AlexNet:\n  "
                 + "\n  ".join(problems) + hint)
    for i in range(len(LIN_CHANNELS)):
        w = tensors[f"lin{i}.model.1.weight"]
        if (w < 0).any():
            print(f"convert_lpips: warning: lin{i} has negative weights (the released heads are >= 0)",
                  file=sys.stderr)
    tmp = out_path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["source_lin"] = os.path.basename(lin_path)
        f.attrs["source_lin_sha256"] = _sha256(lin_path)
        f.attrs["source_alexnet"] = os.path.basename(alexnet_path)
        f.attrs["source_alexnet_sha256"] = _sha256(alexnet_path)
        for name, a in tensors.items():
            f.create_dataset(name, data=a, dtype="<f4")
    os.replace(tmp, out_path)
    return tensors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lin", required=True, help="the lpips package's weights/v0.1/alex.pth")
    ap.add_argument("--alexnet", required=True, help="torchvision alexnet-owt-7be5be79.pth")
    ap.add_argument("--out", required=True, help="output HDF5 file")
    args = ap.parse_args(argv)
    tensors = convert(args.lin, args.alexnet, args.out)
    n = sum(a.size for a in tensors.values())
    print(f"wrote {args.out}: {len(tensors)} tensors, {n} floats")


if __name__ == "__main__":
    main()
