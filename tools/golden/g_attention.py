"""Goldens for scaled dot-product attention and rotary embedding
(src/ops/attention.c, src/ops/rotary.c).

Attention cases store the scale as an attribute; the mask, when present, is
the input "mask" (no gradient). Rotary cases use random tables (so that a
swapped cos / sin index cannot pass) and one PVDM-style table.
"""

import numpy as np
import torch


def attention(q, k, v, mask, scale):
    s = q @ k.transpose(-1, -2) * scale
    if mask is not None:
        s = s + mask
    return torch.softmax(s, -1) @ v


def rotate_half(x):
    # rotary_embedding_torch's rotate_half on interleaved pairs:
    # rearrange '... (d r) -> ... d r', r=2; stack((-x2, x1), -1); back.
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(-1)
    return torch.stack((-x2, x1), -1).flatten(-2)


def rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def f32(x):
    return float(np.float32(x))


def generate(w):
    def attn_case(name, B, H, Lq, Lk, D, Dv, mask=None, scale=None):
        scale = f32(D ** -0.5 if scale is None else scale)
        inputs = {"q": w.randn(B, H, Lq, D), "k": w.randn(B, H, Lk, D), "v": w.randn(B, H, Lk, Dv)}
        if mask is None:
            fn = lambda q, k, v: attention(q, k, v, None, scale)
        else:
            inputs["mask"] = mask
            fn = lambda q, k, v, m: attention(q, k, v, m, scale)
        w.case(name, fn, inputs, attrs={"scale": scale}, grad=["q", "k", "v"])

    attn_case("attn_basic", 2, 2, 5, 5, 8, 8)
    attn_case("attn_lq_lk_dv", 1, 3, 4, 7, 6, 5, scale=0.37)
    attn_case("attn_mask2d", 2, 2, 6, 9, 4, 3, mask=w.randn(6, 9, scale=2.0))
    attn_case("attn_mask4d", 2, 3, 5, 4, 8, 6, mask=w.randn(2, 3, 5, 4, scale=2.0))
    causal = torch.full((7, 7), float("-inf")).triu(1)
    attn_case("attn_causal", 2, 2, 7, 7, 8, 8, mask=causal)
    # Random -inf pattern per (batch, head), Lq != Lk; every row keeps its
    # diagonal entry finite so that PyTorch's softmax is defined.
    drop = w.rand(2, 2, 6, 9) < 0.5
    drop[..., torch.arange(6), torch.arange(6)] = False
    m4 = w.randn(2, 2, 6, 9).masked_fill(drop, float("-inf"))
    attn_case("attn_inf4d", 2, 2, 6, 9, 5, 7, mask=m4)
    # Several query blocks and column tiles with ragged tails (Lk > 64, Dv > 32).
    attn_case("attn_tiles", 1, 1, 150, 70, 20, 33)

    def rot_case(name, lead, L, D, table=None):
        if table is None:
            cos, sin = w.rand(L, D, lo=-1.0, hi=1.0), w.rand(L, D, lo=-1.0, hi=1.0)
        else:
            cos, sin = table
        w.case(name, rotary, {"x": w.randn(*lead, L, D), "cos": cos, "sin": sin}, grad=["x"])

    rot_case("rot_random", (2, 3), 5, 8)
    rot_case("rot_2d", (), 4, 6)
    # PVDM-style table: frequencies theta^(-2i/D), each repeated for its pair.
    L, D = 6, 16
    freqs = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    ang = torch.arange(L, dtype=torch.float64)[:, None] * freqs[None, :]
    ang = ang.repeat_interleave(2, -1)
    rot_case("rot_pvdm", (2, 2), L, D, table=(ang.cos().float(), ang.sin().float()))
