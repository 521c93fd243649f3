"""Goldens for the LPIPS (AlexNet v0.1) and I3D (FVD) networks (src/models/).

The networks are re-implemented here in PyTorch from the spec
(../shared/spec/metrics.md sections 1.4 and 2), run in float64 with random
weights, and the weights reach them the way real ones reach vpcast: saved as
checkpoints in the public key layout (the lpips package's alex.pth, a
torchvision AlexNet state_dict, VideoGPT's i3d_pretrained_400.pt), converted
by tools/convert_lpips.py / tools/convert_i3d.py into HDF5, and read back
from that HDF5.

The weights (2.5 M and 12.7 M floats) are far too big to commit, so they are
not stored. Every large tensor (weights, and the network inputs) is instead
drawn from a generator that the C test reproduces exactly: element e of
tensor "sample" s is offset + scale * (int(w_e >> 8) - 2^23), computed in
float64 and rounded once to float32, where w_e is word e of the project's
Philox4x32-10 stream (src/core/rng.h: seed, stream 15 = VP_STREAM_TEST,
step 0, sample s). scale is a multiple of 2^-47, so the float64 product is
exact and both languages round the same. For each such tensor the golden
holds a manifest entry (name, shape, sample, offset, scale) plus checksums
of the values *as read back from the converter's HDF5*; the C test
regenerates the tensors, checks the checksums (so generator and converter
agree, in the converter's names and shapes; the draws themselves are
bit-identical by construction), writes them with
weights_h5_save_params into a weight file of the converter's layout, loads
that through lpips_load / i3d_load and compares the network outputs.

Cases:
  lpips_weights, i3d_weights        manifests of the converted weight files
  lpips_a, lpips_b                  inputs (manifest) -> out/d (n,), out/layers (n, 5)
  i3d_raw                           preprocessed clip (manifest) -> out/logits (1, 400)
  i3d_video                         2 clips (n, T, H, W, 3) in [0, 1] (manifest) through the
                                    whole pipeline -> out/logits (2, 400), plus a subsample of
                                    the preprocessed clip 0 (out/pre_sub) and its checksums
  pre_*                             i3d_preprocess alone on small clips, in/video -> out/y
"""
import math
import os
import pathlib
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import convert_i3d  # noqa: E402
import convert_lpips  # noqa: E402

# ---------------------------------------------------------------- generator
STREAM_TEST = 15
M32 = np.uint64(0xFFFFFFFF)
PHILOX_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
PHILOX_W = (0x9E3779B9, 0xBB67AE85)


def philox4x32_10(ctr, key):
    """ctr: 4 uint64 arrays holding 32-bit words; key: 2 ints -> 4 arrays."""
    c = [a.astype(np.uint64) for a in ctr]
    k0, k1 = key
    for r in range(10):
        if r:
            k0 = (k0 + PHILOX_W[0]) & 0xFFFFFFFF
            k1 = (k1 + PHILOX_W[1]) & 0xFFFFFFFF
        p0 = PHILOX_M[0] * c[0]
        p1 = PHILOX_M[1] * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & M32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & M32]
    return c


def _check_philox():
    # Random123 known-answer vector (also in tests/unit/test_rng.c).
    ctr = [np.array([v], dtype=np.uint64) for v in (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344)]
    out = [int(a[0]) for a in philox4x32_10(ctr, (0xA4093822, 0x299F31D0))]
    assert out == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1], [hex(v) for v in out]


def philox_words(seed, sample, n):
    """Words 0..n-1 of (seed, VP_STREAM_TEST, step 0, sample), as rng.h lays them out."""
    nb = (n + 3) // 4
    key = (seed & 0xFFFFFFFF, ((seed >> 32) & 0xFFFFFF) | (STREAM_TEST << 24))
    ctr = [np.arange(nb, dtype=np.uint64), np.full(nb, sample & 0xFFFFFFFF, dtype=np.uint64),
           np.full(nb, sample >> 32, dtype=np.uint64), np.zeros(nb, dtype=np.uint64)]
    return np.stack(philox4x32_10(ctr, key), axis=1).reshape(-1)[:n]


class Gen:
    """Draws tensors the C test can redraw; remembers (sample, offset, scale) per name."""

    def __init__(self, seed, first_sample):
        self.seed = seed
        self.next = first_sample
        self.info = {}

    def draw(self, name, shape, offset, bound):
        scale = math.ldexp(round(math.ldexp(bound, 24)), -24 - 23)  # exact in float64 products
        n = int(np.prod(shape))
        v = (philox_words(self.seed, self.next, n) >> np.uint64(8)).astype(np.int64) - (1 << 23)
        x = (offset + scale * v.astype(np.float64)).astype(np.float32).reshape(shape)
        self.info[name] = (self.next, float(offset), scale)
        self.next += 1
        return x


def checksums(a):
    a = np.asarray(a, dtype=np.float32).reshape(-1).astype(np.float64)
    wt = (np.arange(a.size) % 7 + 1).astype(np.float64)
    return [a.sum(), (a * wt).sum(), (a * a).sum(), np.abs(a).sum()]


def write_manifest(grp, gen, arrays):
    """arrays: name -> float32 array (as read back from the converted file), in file order."""
    names = list(arrays)
    grp.attrs["seed"] = gen.seed
    grp.create_dataset("names", data=np.array([n.encode() for n in names], dtype="S64"))
    nd = np.array([arrays[n].ndim for n in names], dtype=np.int64)
    shape = np.zeros((len(names), 6), dtype=np.int64)
    for i, n in enumerate(names):
        shape[i, :arrays[n].ndim] = arrays[n].shape
    grp.create_dataset("ndim", data=nd)
    grp.create_dataset("shape", data=shape)
    grp.create_dataset("sample", data=np.array([gen.info[n][0] for n in names], dtype=np.int64))
    grp.create_dataset("offset", data=np.array([gen.info[n][1] for n in names], dtype=np.float64))
    grp.create_dataset("scale", data=np.array([gen.info[n][2] for n in names], dtype=np.float64))
    grp.create_dataset("checksum", data=np.array([checksums(arrays[n]) for n in names], dtype=np.float64))


def read_h5(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f.keys()}, list(f.keys())


# ---------------------------------------------------------------- LPIPS reference
LP_CONVS = [(0, 3, 64, 11, 4, 2, False), (3, 64, 192, 5, 1, 2, True), (6, 192, 384, 3, 1, 1, True),
            (8, 384, 256, 3, 1, 1, False), (10, 256, 256, 3, 1, 1, False)]


def lpips_ref(x, y, sd):
    """x, y (N, 3, H, W) in [-1, 1] -> (N,), (N, 5). sd: name -> tensor (same dtype as x)."""
    # The package's ScalingLayer buffers are float32 tensors of these decimals.
    shift = torch.tensor([-.030, -.088, -.188], dtype=torch.float32).to(x.dtype).view(1, 3, 1, 1)
    scale = torch.tensor([.458, .448, .450], dtype=torch.float32).to(x.dtype).view(1, 3, 1, 1)

    def trunk(z):
        z = (z - shift) / scale
        taps = []
        for idx, _, _, _, stride, pad, pool in LP_CONVS:
            if pool:
                z = F.max_pool2d(z, kernel_size=3, stride=2)
            z = F.relu(F.conv2d(z, sd[f"features.{idx}.weight"], sd[f"features.{idx}.bias"], stride, pad))
            taps.append(z)
        return taps

    layers = []
    for l, (fx, fy) in enumerate(zip(trunk(x), trunk(y))):
        nx = fx / (torch.sqrt((fx * fx).sum(dim=1, keepdim=True)) + 1e-10)
        ny = fy / (torch.sqrt((fy * fy).sum(dim=1, keepdim=True)) + 1e-10)
        layers.append(F.conv2d((nx - ny) ** 2, sd[f"lin{l}.model.1.weight"]).mean(dim=(2, 3)).view(-1))
    layers = torch.stack(layers, dim=1)
    return layers.sum(dim=1), layers


# ---------------------------------------------------------------- I3D reference
def same_pad(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pad_same(x, k, s):
    """Zero-pad (B, C, T, H, W) to TF 'SAME' for window k / stride s (3-tuples)."""
    (t0, t1), (h0, h1), (w0, w1) = (same_pad(x.shape[2 + a], k[a], s[a]) for a in range(3))
    return F.pad(x, (w0, w1, h0, h1, t0, t1))


def unit3d(x, sd, prefix, k, s=1, eps=1e-3):
    x = F.conv3d(pad_same(x, (k,) * 3, (s,) * 3), sd[f"{prefix}.conv3d.weight"], stride=s)
    x = F.batch_norm(x, sd[f"{prefix}.bn.running_mean"], sd[f"{prefix}.bn.running_var"],
                     sd[f"{prefix}.bn.weight"], sd[f"{prefix}.bn.bias"], training=False, eps=eps)
    return F.relu(x)


def maxpool_same(x, k, s):
    # The pytorch-i3d port zero-pads (F.pad) and then pools.
    return F.max_pool3d(pad_same(x, k, s), k, s)


def mixed(x, sd, name):
    b0 = unit3d(x, sd, f"{name}.b0", 1)
    b1 = unit3d(unit3d(x, sd, f"{name}.b1a", 1), sd, f"{name}.b1b", 3)
    b2 = unit3d(unit3d(x, sd, f"{name}.b2a", 1), sd, f"{name}.b2b", 3)
    b3 = unit3d(maxpool_same(x, (3, 3, 3), (1, 1, 1)), sd, f"{name}.b3b", 1)
    return torch.cat([b0, b1, b2, b3], dim=1)


def i3d_ref(x, sd):
    """x (B, 3, T, H, W) float64 in [-1, 1] -> (B, 400) logits averaged over time."""
    x = unit3d(x, sd, "Conv3d_1a_7x7", 7, 2)
    x = maxpool_same(x, (1, 3, 3), (1, 2, 2))
    x = unit3d(x, sd, "Conv3d_2b_1x1", 1)
    x = unit3d(x, sd, "Conv3d_2c_3x3", 3)
    x = maxpool_same(x, (1, 3, 3), (1, 2, 2))
    x = mixed(x, sd, "Mixed_3b")
    x = mixed(x, sd, "Mixed_3c")
    x = maxpool_same(x, (3, 3, 3), (2, 2, 2))
    for m in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
        x = mixed(x, sd, m)
    x = maxpool_same(x, (2, 2, 2), (2, 2, 2))
    x = mixed(x, sd, "Mixed_5b")
    x = mixed(x, sd, "Mixed_5c")
    x = F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)  # 'VALID'; dropout is identity in eval
    x = F.conv3d(x, sd["logits.conv3d.weight"], sd["logits.conv3d.bias"])
    return x.squeeze(3).squeeze(3).mean(dim=2)


def preprocess_ref(video, res):
    """VideoGPT's preprocess for one clip (T, H, W, 3) float in [0, 1] -> (3, T, res, res)."""
    v = video.permute(0, 3, 1, 2)  # T C H W
    h, w = v.shape[2], v.shape[3]
    scale = res / min(h, w)
    size = (res, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), res)
    v = F.interpolate(v, size=size, mode="bilinear", align_corners=False)
    h0, w0 = (v.shape[2] - res) // 2, (v.shape[3] - res) // 2
    v = v[:, :, h0:h0 + res, w0:w0 + res].permute(1, 0, 2, 3)
    return (v - 0.5) * 2


# ---------------------------------------------------------------- checkpoints
def lpips_checkpoints(gen, d):
    """Random alex.pth + torchvision AlexNet files in their public layouts -> paths."""
    lin = {}
    for i, c in enumerate(convert_lpips.LIN_CHANNELS):
        lin[f"lin{i}.model.1.weight"] = torch.from_numpy(gen.draw(f"lin{i}.model.1.weight", (1, c, 1, 1),
                                                                  0.05, 0.05))
    lin_path = os.path.join(d, "alex.pth")
    torch.save(lin, lin_path, _use_new_zipfile_serialization=False)  # alex.pth is a legacy pickle
    alex = {}
    for idx, cin, cout, k, _, _, _ in LP_CONVS:
        fan_in = cin * k * k
        alex[f"features.{idx}.weight"] = torch.from_numpy(
            gen.draw(f"features.{idx}.weight", (cout, cin, k, k), 0.0, math.sqrt(6.0 / fan_in)))
        alex[f"features.{idx}.bias"] = torch.from_numpy(gen.draw(f"features.{idx}.bias", (cout,), 0.0, 0.1))
    # torchvision's file also has the classifier; the converter must skip it.
    # Zero-stride views keep the real shapes at no storage cost.
    for name, shape in (("classifier.1.weight", (4096, 9216)), ("classifier.1.bias", (4096,)),
                        ("classifier.4.weight", (4096, 4096)), ("classifier.4.bias", (4096,)),
                        ("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))):
        alex[name] = torch.zeros(1).expand(*shape)
    alex_path = os.path.join(d, "alexnet-owt-7be5be79.pth")
    torch.save(alex, alex_path)
    return lin_path, alex_path


def i3d_checkpoint(gen, d):
    """Random i3d_pretrained_400.pt in VideoGPT's layout (no num_batches_tracked) -> path."""
    sd = {}
    for prefix, cin, cout, k in convert_i3d.units():
        fan_in = cin * k ** 3
        sd[f"{prefix}.conv3d.weight"] = gen.draw(f"{prefix}.conv3d.weight", (cout, cin, k, k, k), 0.0,
                                                 math.sqrt(6.0 / fan_in))
        sd[f"{prefix}.bn.weight"] = gen.draw(f"{prefix}.bn.weight", (cout,), 1.0, 0.25)
        sd[f"{prefix}.bn.bias"] = gen.draw(f"{prefix}.bn.bias", (cout,), 0.0, 0.2)
        sd[f"{prefix}.bn.running_mean"] = gen.draw(f"{prefix}.bn.running_mean", (cout,), 0.0, 0.2)
        sd[f"{prefix}.bn.running_var"] = gen.draw(f"{prefix}.bn.running_var", (cout,), 1.0, 0.5)
    sd["logits.conv3d.weight"] = gen.draw("logits.conv3d.weight", (400, 1024, 1, 1, 1), 0.0,
                                          math.sqrt(3.0 / 1024))
    sd["logits.conv3d.bias"] = gen.draw("logits.conv3d.bias", (400,), 0.0, 0.1)
    path = os.path.join(d, "i3d_pretrained_400.pt")
    torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, path)
    return path


# ---------------------------------------------------------------- cases
def generate(w):
    _check_philox()
    torch.set_grad_enabled(False)
    f = w.f
    wseed = 7919 + w.seed
    with tempfile.TemporaryDirectory() as d:
        # LPIPS: checkpoints -> convert_lpips -> HDF5 -> reference.
        gen = Gen(wseed, 0)
        lin_path, alex_path = lpips_checkpoints(gen, d)
        lp_h5 = os.path.join(d, "lpips.h5")
        convert_lpips.convert(lin_path, alex_path, lp_h5)
        arrays, order = read_h5(lp_h5)
        write_manifest(f.create_group("lpips_weights"), gen, {k: arrays[k] for k in order})
        sd = {k: torch.from_numpy(v).double() for k, v in arrays.items()}
        for cas, n, hh, ww in (("lpips_a", 1, 64, 64), ("lpips_b", 3, 35, 47)):
            g = f.create_group(cas)
            ig = Gen(wseed, 5000 + 10 * (cas == "lpips_b"))
            x = ig.draw("x", (n, 3, hh, ww), 0.0, 1.0)
            y = ig.draw("y", (n, 3, hh, ww), 0.0, 1.0)
            write_manifest(g.create_group("inputs"), ig, {"x": x, "y": y})
            d_, layers = lpips_ref(torch.from_numpy(x).double(), torch.from_numpy(y).double(), sd)
            g.create_dataset("out/d", data=d_.float().numpy())
            g.create_dataset("out/layers", data=layers.float().numpy())

        # I3D: checkpoint -> convert_i3d -> HDF5 -> reference.
        gen = Gen(wseed, 1000)
        i3d_h5 = os.path.join(d, "i3d.h5")
        convert_i3d.convert(i3d_checkpoint(gen, d), i3d_h5)
        arrays, order = read_h5(i3d_h5)
        write_manifest(f.create_group("i3d_weights"), gen, {k: arrays[k] for k in order})
        sd = {k: torch.from_numpy(v).double() for k, v in arrays.items()}
        del arrays

        # A preprocessed clip of an odd size: T = 17 leaves 2 time steps to
        # average, and 197 x 211 gives different 'SAME' pads at every stage.
        g = f.create_group("i3d_raw")
        ig = Gen(wseed, 6000)
        x = ig.draw("x", (1, 3, 17, 197, 211), 0.0, 1.0)
        write_manifest(g.create_group("inputs"), ig, {"x": x})
        g.create_dataset("out/logits", data=i3d_ref(torch.from_numpy(x).double(), sd).float().numpy())

        # The whole pipeline on two 10-frame 24 x 32 clips.
        g = f.create_group("i3d_video")
        ig = Gen(wseed, 7000)
        video = ig.draw("video", (2, 10, 24, 32, 3), 0.5, 0.5)
        write_manifest(g.create_group("inputs"), ig, {"video": video})
        pre = torch.stack([preprocess_ref(torch.from_numpy(v).double(), 224) for v in video])
        g.create_dataset("out/logits", data=i3d_ref(pre, sd).float().numpy())
        g.create_dataset("out/pre_sub", data=pre[0][:, ::3, ::8, ::8].float().numpy())
        g.create_dataset("out/pre_checksum", data=np.array(checksums(pre[0].float().numpy())))

    # i3d_preprocess alone: upsampling (both aspect cases), downsampling, square.
    for cas, (t, hh, ww, res) in {"pre_up_wide": (2, 9, 13, 16), "pre_up_tall": (1, 7, 5, 6),
                                  "pre_down": (2, 40, 30, 16), "pre_square": (1, 20, 20, 16)}.items():
        video = w.rand(t, hh, ww, 3)
        g = f.create_group(cas)
        g.attrs["res"] = res
        g.create_dataset("in/video", data=video.numpy())
        g.create_dataset("out/y", data=preprocess_ref(video.double(), res).float().numpy())
