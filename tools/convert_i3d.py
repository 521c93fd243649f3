#!/usr/bin/env python3
"""Convert the FVD I3D weights (i3d_pretrained_400.pt) into the HDF5 file vpcast reads.

    python3 tools/convert_i3d.py i3d_pretrained_400.pt --out i3d_400.h5

The input is the PyTorch state_dict that the FVD code of VideoGPT, TATS and
SyncVP loads into piergiaj's InceptionI3d (VideoGPT made it from TF-Hub
deepmind/i3d-kinetics-400/1 with videogpt/fvd/convert_tf_pretrained.py;
TATS ships it as tats/fvd/i3d_pretrained_400.pt). Nothing is downloaded:
point the script at the file you have.

Its keys are kept unchanged, one float32 dataset per tensor at the root of
the output, in PyTorch's layout:
  <unit>.conv3d.weight                      (Co, Ci, kt, kh, kw), no bias
  <unit>.bn.{weight,bias,running_mean,running_var}   (Co,)
  logits.conv3d.{weight,bias}               (400, 1024, 1, 1, 1), (400,)
for the units Conv3d_1a_7x7, Conv3d_2b_1x1, Conv3d_2c_3x3 and
Mixed_{3b,3c,4b,4c,4d,4e,4f,5b,5c}.{b0,b1a,b1b,b2a,b2b,b3b}: 287 tensors,
12.7 M floats, about 51 MB. BatchNorm is NOT folded here: vpcast folds it
when it loads the file, with eps 1e-3 (the TF graph's value, which
reproduces TF FVD; the PyTorch port runs 1e-5), so one file serves both.
`num_batches_tracked` buffers, if present, are dropped, and a "module."
prefix (DataParallel) is stripped. Any missing, unknown or misshapen tensor
is an error that names it.
"""
import argparse
import hashlib
import os
import sys

import h5py
import numpy as np
import torch

FORMAT = "vpcast-i3d-kinetics400"
CLASSES = 400
# Inception modules: input channels, then b0, b1a, b1b, b2a, b2b, b3b outputs.
MIXED = [
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
]


def units():
    """(prefix, cin, cout, k) of every conv + BN unit, in network order."""
    out = [("Conv3d_1a_7x7", 3, 64, 7), ("Conv3d_2b_1x1", 64, 64, 1), ("Conv3d_2c_3x3", 64, 192, 3)]
    for name, cin, c in MIXED:
        out += [(f"{name}.b0", cin, c[0], 1), (f"{name}.b1a", cin, c[1], 1), (f"{name}.b1b", c[1], c[2], 3),
                (f"{name}.b2a", cin, c[3], 1), (f"{name}.b2b", c[3], c[4], 3), (f"{name}.b3b", cin, c[5], 1)]
    return out


def expected_shapes():
    """name -> shape of every tensor the file holds, in file order."""
    out = {}
    for prefix, cin, cout, k in units():
        out[f"{prefix}.conv3d.weight"] = (cout, cin, k, k, k)
        for b in ("weight", "bias", "running_mean", "running_var"):
            out[f"{prefix}.bn.{b}"] = (cout,)
    out["logits.conv3d.weight"] = (CLASSES, 1024, 1, 1, 1)
    out["logits.conv3d.bias"] = (CLASSES,)
    return out


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert(in_path, out_path):
    """Writes out_path; returns name -> float32 array as written."""
    if not os.path.isfile(in_path):
        sys.exit(f"convert_i3d: '{in_path}' does not exist")
    try:
        sd = torch.load(in_path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any unpickling failure plainly
        sys.exit(f"convert_i3d: cannot read '{in_path}' with torch.load: {e}")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        sys.exit(f"convert_i3d: '{in_path}' holds a {type(sd).__name__}, not a state_dict")
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.endswith(".num_batches_tracked")}
    want = expected_shapes()
    missing = [k for k in want if k not in sd]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of the {len(want)} expected tensors are missing, e.g. "
                        + ", ".join(f"'{k}'" for k in missing[:4]))
    unknown = sorted(k for k in sd if k not in want)
    if unknown:
        problems.append(f"{len(unknown)} unknown key(s), e.g. " + ", ".join(f"'{k}'" for k in unknown[:4]))
    tensors = {}
    for name, shape in want.items():
        if name not in sd:
            continue
        t = sd[name]
        if not torch.is_tensor(t) or not t.is_floating_point():
            problems.append(f"'{name}' is not a floating-point tensor")
            continue
        if tuple(t.shape) != shape:
            problems.append(f"'{name}' has shape {tuple(t.shape)}, expected {shape}")
            continue
        a = t.detach().to(torch.float32).contiguous().numpy()
        if not np.isfinite(a).all():
            problems.append(f"'{name}' has non-finite values")
        if name.endswith("running_var") and (a < 0).any():
            problems.append(f"'{name}' has negative variances")
        tensors[name] = a
    if problems:
        sys.exit(f"convert_i3d: '{in_path}' is not the Kinetics-400 InceptionI3d state_dict of the FVD code:\n  "
                 + "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else ""))
    tmp = out_path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["source"] = os.path.basename(in_path)
        f.attrs["source_sha256"] = _sha256(in_path)
        f.attrs["batchnorm"] = "not folded; vpcast folds it at load time (eps 1e-3)"
        for name, a in tensors.items():
            f.create_dataset(name, data=a, dtype="<f4")
    os.replace(tmp, out_path)
    return tensors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="i3d_pretrained_400.pt (VideoGPT / TATS / SyncVP FVD weights)")
    ap.add_argument("--out", required=True, help="output HDF5 file")
    args = ap.parse_args(argv)
    tensors = convert(args.checkpoint, args.out)
    n = sum(a.size for a in tensors.values())
    print(f"wrote {args.out}: {len(tensors)} tensors, {n} floats")


if __name__ == "__main__":
    main()
