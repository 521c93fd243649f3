"""Goldens for sinusoidal timestep embeddings (src/ops/embed.c), no gradient.

ADM / PVDM: freqs = exp(-log(max_period) * arange(half) / half),
args = t[:, None] * freqs[None], out = cat([cos, sin]) (+ a zero column for
an odd dim). Attributes: dim, order (0 cos|sin, 1 sin|cos), max_period.
"""
import math

import torch


def _emb(t, dim, order, max_period):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t[:, None] * freqs[None]
    parts = [torch.cos(args), torch.sin(args)] if order == 0 else [torch.sin(args), torch.cos(args)]
    emb = torch.cat(parts, dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros(emb.shape[0], 1, dtype=emb.dtype)], dim=-1)
    return emb


def _case(w, name, t, dim, order, max_period=10000.0):
    w.case(name, lambda t: _emb(t, dim, order, max_period), {"t": t}, grad=[],
           attrs={"dim": dim, "order": order, "max_period": max_period})


def generate(w):
    _case(w, "cos_sin", w.rand(5, lo=0.0, hi=1000.0), 32, 0)
    _case(w, "sin_cos", w.rand(4, lo=0.0, hi=1000.0), 16, 1)
    _case(w, "cos_sin_odd", w.rand(3, lo=0.0, hi=1000.0), 33, 0)
    _case(w, "sin_cos_odd_period", w.rand(6, lo=0.0, hi=1.0), 7, 1, max_period=100.0)
    _case(w, "integer_t", torch.floor(w.rand(8, lo=0.0, hi=1000.0)), 64, 0)
    _case(w, "dim1", w.rand(2, lo=0.0, hi=10.0), 1, 0)
