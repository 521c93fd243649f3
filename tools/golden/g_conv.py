"""Goldens for conv1d, conv2d, conv_transpose2d and conv3d (src/ops/conv.c).

Every case stores its arguments as integer attributes: stride / pad for the
1-D and 2-D ops, and st, sh, sw and pad_f, pad_bk, pad_t, pad_b, pad_l, pad_r
for conv3d (asymmetric padding, applied with F.pad as TF 'SAME' does).
The C test picks the op from the case-name prefix.
"""
import math

import torch.nn.functional as F


def same_pad(n, k, s):
    """TF 'SAME' padding (lo, hi) for one axis."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def generate(w):
    # conv1d: (name, B, Ci, Co, L, K, stride, pad, bias)
    for name, B, Ci, Co, L, K, s, p, bias in [
        ("conv1d_k3_s1_p1", 2, 3, 4, 9, 3, 1, 1, True),
        ("conv1d_k4_s2_p0_nobias", 2, 3, 5, 11, 4, 2, 0, False),
        ("conv1d_k1_s1_p0", 1, 4, 3, 7, 1, 1, 0, True),
    ]:
        inputs = {"x": w.randn(B, Ci, L), "w": w.randn(Co, Ci, K)}
        if bias:
            inputs["b"] = w.randn(Co)
        w.case(name, lambda x, w_, b=None, s=s, p=p: F.conv1d(x, w_, b, stride=s, padding=p),
               inputs, attrs={"stride": s, "pad": p})

    # conv2d: (name, B, Ci, Co, H, W, (kh, kw), stride, pad, bias)
    for name, B, Ci, Co, H, W, k, s, p, bias in [
        ("conv2d_k3_s1_p1", 2, 3, 4, 6, 5, (3, 3), 1, 1, True),
        ("conv2d_k3_s2_p1_nobias", 2, 3, 5, 7, 8, (3, 3), 2, 1, False),
        ("conv2d_k1_s1_p0", 2, 5, 3, 4, 6, (1, 1), 1, 0, True),
        ("conv2d_k1_s2_p0", 1, 3, 2, 5, 5, (1, 1), 2, 0, True),
        ("conv2d_k4_s2_p0", 1, 2, 3, 8, 9, (4, 4), 2, 0, True),
        ("conv2d_k2x3_s1_p2", 1, 2, 3, 4, 5, (2, 3), 1, 2, True),
        ("conv2d_k3_s3_p1", 2, 2, 2, 7, 7, (3, 3), 3, 1, False),
    ]:
        inputs = {"x": w.randn(B, Ci, H, W), "w": w.randn(Co, Ci, *k)}
        if bias:
            inputs["b"] = w.randn(Co)
        w.case(name, lambda x, w_, b=None, s=s, p=p: F.conv2d(x, w_, b, stride=s, padding=p),
               inputs, attrs={"stride": s, "pad": p})

    # conv_transpose2d, weight (Ci, Co, kh, kw): (name, B, Ci, Co, H, W, (kh, kw), stride, pad, bias)
    for name, B, Ci, Co, H, W, k, s, p, bias in [
        ("convt2d_k4_s4_p0", 2, 3, 2, 3, 2, (4, 4), 4, 0, True),  # the PVDM decoder's upsampling
        ("convt2d_k3_s2_p1", 1, 2, 3, 4, 3, (3, 3), 2, 1, True),
        ("convt2d_k4_s2_p1_nobias", 2, 3, 2, 3, 4, (4, 4), 2, 1, False),
        ("convt2d_k3_s1_p1", 1, 3, 3, 4, 4, (3, 3), 1, 1, True),
        ("convt2d_k2x3_s2_p0", 1, 2, 2, 3, 3, (2, 3), 2, 0, True),
    ]:
        inputs = {"x": w.randn(B, Ci, H, W), "w": w.randn(Ci, Co, *k)}
        if bias:
            inputs["b"] = w.randn(Co)
        w.case(name, lambda x, w_, b=None, s=s, p=p: F.conv_transpose2d(x, w_, b, stride=s, padding=p),
               inputs, attrs={"stride": s, "pad": p})

    # conv3d with TF 'SAME' (or VALID) padding: (name, B, Ci, Co, (T, H, W), (kt, kh, kw), (st, sh, sw), same, bias)
    for name, B, Ci, Co, dims, k, st, same, bias in [
        ("conv3d_k1_s1", 2, 4, 3, (3, 4, 5), (1, 1, 1), (1, 1, 1), True, True),
        ("conv3d_k3_s1_same", 1, 2, 3, (4, 5, 4), (3, 3, 3), (1, 1, 1), True, False),
        ("conv3d_k3_s2_same", 1, 2, 2, (5, 6, 7), (3, 3, 3), (2, 2, 2), True, True),
        ("conv3d_k7_s2_same", 1, 2, 2, (8, 9, 8), (7, 7, 7), (2, 2, 2), True, False),
        ("conv3d_k133_s122_same", 2, 2, 3, (3, 6, 5), (1, 3, 3), (1, 2, 2), True, True),
        ("conv3d_k1_s2_same", 1, 3, 2, (4, 5, 6), (1, 1, 1), (2, 2, 2), True, True),
        ("conv3d_k2_s1_same", 1, 2, 2, (3, 4, 4), (2, 2, 2), (1, 1, 1), True, True),
        ("conv3d_k232_valid", 1, 2, 2, (4, 5, 5), (2, 3, 2), (1, 2, 1), False, True),
    ]:
        pads = []
        for n, kk, ss in zip(dims, k, st):
            pads += list(same_pad(n, kk, ss) if same else (0, 0))
        inputs = {"x": w.randn(B, Ci, *dims), "w": w.randn(Co, Ci, *k)}
        if bias:
            inputs["b"] = w.randn(Co)
        # F.pad lists the last axis first: (left, right, top, bottom, front, back).
        fpad = (pads[4], pads[5], pads[2], pads[3], pads[0], pads[1])
        w.case(name, lambda x, w_, b=None, st=st, fpad=fpad: F.conv3d(F.pad(x, fpad), w_, b, stride=st),
               inputs,
               attrs={"st": st[0], "sh": st[1], "sw": st[2], "pad_f": pads[0], "pad_bk": pads[1],
                      "pad_t": pads[2], "pad_b": pads[3], "pad_l": pads[4], "pad_r": pads[5]})
