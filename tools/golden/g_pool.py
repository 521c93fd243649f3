"""Goldens for avg_pool2d, max_pool3d, avg_pool3d and nearest x2 upsampling (src/ops/pool.c).

3-D pools store kt, kh, kw, st, sh, sw, pad_f, pad_bk, pad_t, pad_b, pad_l,
pad_r (and pad_value or count_pad) as attributes. Padding is explicit (F.pad)
so that asymmetric TF 'SAME' padding and a chosen pad value can be expressed;
TF's average pooling, which divides by the number of real cells, is the
padded sum over the padded count of ones. The C test picks the op from the
case-name prefix.
"""
import math

import torch
import torch.nn.functional as F


def same_pad(n, k, s):
    """TF 'SAME' padding (lo, hi) for one axis."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pool_attrs(k, st, pads):
    names = ["pad_f", "pad_bk", "pad_t", "pad_b", "pad_l", "pad_r"]
    a = {"kt": k[0], "kh": k[1], "kw": k[2], "st": st[0], "sh": st[1], "sw": st[2]}
    a.update(dict(zip(names, pads)))
    return a


def pads_for(dims, k, st, same):
    pads = []
    for n, kk, ss in zip(dims, k, st):
        pads += list(same_pad(n, kk, ss) if same else (0, 0))
    # F.pad lists the last axis first: (left, right, top, bottom, front, back).
    return pads, (pads[4], pads[5], pads[2], pads[3], pads[0], pads[1])


def generate(w):
    # avg_pool2d, no padding: (name, B, C, H, W, k, stride)
    for name, B, C, H, W, k, s in [
        ("avgpool2d_k2_s2", 2, 3, 4, 6, 2, 2),
        ("avgpool2d_k2_s2_odd", 1, 2, 5, 7, 2, 2),
        ("avgpool2d_k3_s1", 1, 2, 5, 4, 3, 1),
        ("avgpool2d_k3_s2", 2, 2, 7, 6, 3, 2),
    ]:
        w.case(name, lambda x, k=k, s=s: F.avg_pool2d(x, k, s), {"x": w.randn(B, C, H, W)},
               attrs={"k": k, "stride": s})

    # max_pool3d: (name, B, C, dims, k, stride, same, pad_value, shift). A
    # negative shift makes zero padding win some windows, whose gradient is
    # then dropped.
    ninf = float("-inf")
    for name, B, C, dims, k, st, same, pv, shift in [
        ("maxpool3d_k133_s122_same_ninf", 1, 2, (3, 6, 7), (1, 3, 3), (1, 2, 2), True, ninf, 0.0),
        ("maxpool3d_k3_s1_same_zero", 1, 2, (3, 4, 5), (3, 3, 3), (1, 1, 1), True, 0.0, -1.5),
        ("maxpool3d_k3_s2_same_ninf", 2, 2, (5, 6, 5), (3, 3, 3), (2, 2, 2), True, ninf, 0.0),
        ("maxpool3d_k3_s2_same_zero", 1, 3, (4, 6, 5), (3, 3, 3), (2, 2, 2), True, 0.0, -1.0),
        ("maxpool3d_k2_s2", 2, 2, (4, 4, 6), (2, 2, 2), (2, 2, 2), True, ninf, 0.0),
        ("maxpool3d_k2_s1_same_ninf", 1, 2, (3, 4, 3), (2, 2, 2), (1, 1, 1), True, ninf, 0.0),
    ]:
        pads, fpad = pads_for(dims, k, st, same)
        attrs = pool_attrs(k, st, pads)
        attrs["pad_value"] = pv
        w.case(name, lambda x, k=k, st=st, fpad=fpad, pv=pv: F.max_pool3d(F.pad(x, fpad, value=pv), k, st),
               {"x": w.randn(B, C, *dims) + shift}, attrs=attrs)

    # avg_pool3d: (name, B, C, dims, k, stride, same, count_pad)
    for name, B, C, dims, k, st, same, cp in [
        ("avgpool3d_k3_s2_same_cp0", 1, 2, (5, 6, 5), (3, 3, 3), (2, 2, 2), True, 0),
        ("avgpool3d_k3_s2_same_cp1", 1, 2, (5, 6, 5), (3, 3, 3), (2, 2, 2), True, 1),
        ("avgpool3d_k3_s1_same_cp0", 2, 2, (3, 4, 4), (3, 3, 3), (1, 1, 1), True, 0),
        ("avgpool3d_k2_s1_same_cp0", 1, 2, (3, 4, 5), (2, 2, 2), (1, 1, 1), True, 0),
        ("avgpool3d_k233_s1_valid_cp0", 2, 3, (3, 4, 5), (2, 3, 3), (1, 1, 1), False, 0),
        ("avgpool3d_k133_s122_same_cp1", 1, 2, (2, 5, 6), (1, 3, 3), (1, 2, 2), True, 1),
    ]:
        pads, fpad = pads_for(dims, k, st, same)
        attrs = pool_attrs(k, st, pads)
        attrs["count_pad"] = cp

        def ref(x, k=k, st=st, fpad=fpad, cp=cp):
            s = F.avg_pool3d(F.pad(x, fpad), k, st)
            if cp:
                return s
            return s / F.avg_pool3d(F.pad(torch.ones_like(x), fpad), k, st)

        w.case(name, ref, {"x": w.randn(B, C, *dims)}, attrs=attrs)

    # Nearest x2 on the last two dims, for inputs of rank 2 to 5.
    for name, shape in [
        ("upsample_2d", (3, 4)),
        ("upsample_3d", (2, 3, 5)),
        ("upsample_4d", (2, 3, 3, 4)),
        ("upsample_5d", (1, 2, 2, 3, 2)),
    ]:
        def up(x):
            H, W = x.shape[-2:]
            y = F.interpolate(x.reshape(-1, 1, H, W), scale_factor=2, mode="nearest")
            return y.reshape(*x.shape[:-2], 2 * H, 2 * W)

        w.case(name, up, {"x": w.randn(*shape)})
