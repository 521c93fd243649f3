"""Goldens for the composite modules of src/nn/ (resblock, attn_block,
timesformer, rotary_tables), each checked as a whole.

The PyTorch modules below are re-implementations written from the reference
semantics (guided-diffusion / LDM `openaimodel.py` ResBlock and AttentionBlock
with QKVAttentionLegacy as used by PVDM/SyncVP `models/ddpm/modules.py`, and
PVDM/SyncVP `models/autoencoder/vit_modules.py`), with the same submodule
structure so their state_dict keys are the reference keys. Differences that do
not change the math: GroupNorm32's fp32 cast and the fp32 softmax are dropped
(the goldens are computed in float64), einops patterns are spelled as
reshape/permute, dropout (p = 0) is an nn.Dropout that does nothing.

Every parameter gets random values, including the layers the reference
zero-initialises (out_layers.3, proj_out), so that the gradients through
them are tested. Parameters are stored as in/<prefix>.<state_dict key>, and
the case attribute `nparams` is the PyTorch module's parameter count.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call


# ---------------------------------------------------------------- ADM ResBlock
class ResBlock(nn.Module):
    def __init__(self, channels, emb_channels, out_channels, groups=32, use_scale_shift_norm=True,
                 up=False, down=False):
        super().__init__()
        self.out_channels = out_channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.up, self.down = up, down
        self.in_layers = nn.Sequential(
            nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels if use_scale_shift_norm else out_channels))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(groups, out_channels), nn.SiLU(), nn.Dropout(p=0.0),
            nn.Conv2d(out_channels, out_channels, 3, padding=1))
        if out_channels == channels:
            self.skip_connection = nn.Identity()
        else:
            self.skip_connection = nn.Conv2d(channels, out_channels, 1)

    def _updown(self, t):
        if self.up:
            return F.interpolate(t, scale_factor=2, mode="nearest")
        if self.down:
            return F.avg_pool2d(t, kernel_size=2, stride=2)
        return t

    def forward(self, x, emb):
        if self.up or self.down:
            h = self.in_layers[:-1](x)
            h = self._updown(h)
            x = self._updown(x)
            h = self.in_layers[-1](h)
        else:
            h = self.in_layers(x)
        emb_out = self.emb_layers(emb)[:, :, None, None]
        if self.use_scale_shift_norm:
            scale, shift = torch.chunk(emb_out, 2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h


# ---------------------------------------------------------------- ADM AttentionBlock (legacy qkv order)
def qkv_attention_legacy(qkv, n_heads):
    bs, width, length = qkv.shape
    ch = width // (3 * n_heads)
    # Per head, the 3*ch channels are [q | k | v].
    q, k, v = qkv.reshape(bs * n_heads, ch * 3, length).split(ch, dim=1)
    scale = 1 / math.sqrt(math.sqrt(ch))
    weight = torch.einsum("bct,bcs->bts", q * scale, k * scale)
    weight = torch.softmax(weight, dim=-1)
    a = torch.einsum("bts,bcs->bct", weight, v)
    return a.reshape(bs, -1, length)


class AttentionBlock(nn.Module):
    """AttentionBlock (any spatial rank) and AttentionBlock1D: same math, same keys."""

    def __init__(self, channels, num_heads, groups=32):
        super().__init__()
        self.num_heads = num_heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        h = qkv_attention_legacy(self.qkv(self.norm(x)), self.num_heads)
        h = self.proj_out(h)
        return (x + h).reshape(b, c, *spatial)


# ---------------------------------------------------------------- PVDM TimeSformer
def rotary_frame(n, dim):
    """RotaryEmbedding(dim)(n): (sin, cos), each (1, n, dim), float32 as the reference."""
    inv_freqs = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    seq = torch.arange(n).float()
    freqs = seq[:, None] * inv_freqs[None, :]
    freqs = torch.cat((freqs, freqs), dim=-1)  # [angles | angles], not interleaved
    return freqs.sin()[None], freqs.cos()[None]


def rotary_axial(h, w, dim, max_freq=10):
    """AxialRotaryEmbedding(dim)(h, w): (sin, cos), each (1, h*w, dim), float32."""
    scales = torch.logspace(0.0, math.log(max_freq / 2) / math.log(2), dim // 4, base=2)[None, :]
    h_seq = torch.linspace(-1.0, 1.0, steps=h)[:, None] * scales * math.pi  # (h, dim/4)
    w_seq = torch.linspace(-1.0, 1.0, steps=w)[:, None] * scales * math.pi  # (w, dim/4)
    x_sinu = h_seq[:, None, :].expand(h, w, dim // 4)
    y_sinu = w_seq[None, :, :].expand(h, w, dim // 4)
    sin = torch.cat((x_sinu.sin(), y_sinu.sin()), dim=-1).reshape(h * w, dim // 2)
    cos = torch.cat((x_sinu.cos(), y_sinu.cos()), dim=-1).reshape(h * w, dim // 2)
    # 'n d -> () n (d j)', j=2: every value twice, side by side.
    sin = sin[:, :, None].expand(h * w, dim // 2, 2).reshape(1, h * w, dim)
    cos = cos[:, :, None].expand(h * w, dim // 2, 2).reshape(1, h * w, dim)
    return sin, cos


def rotate_every_two(x):
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(dim=-1)
    return torch.stack((-x2, x1), dim=-1).reshape(*x.shape[:-2], -1)


def apply_rot_emb(q, k, rot):
    sin, cos = rot
    return q * cos + rotate_every_two(q) * sin, k * cos + rotate_every_two(k) * sin


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.fn = fn  # registered first: state_dict order is fn.*, norm.*
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, *args, **kwargs):
        return self.fn(self.norm(x), *args, **kwargs)


class GEGLU(nn.Module):
    def forward(self, x):
        x, gates = x.chunk(2, dim=-1)
        return x * F.gelu(gates)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim * mult * 2), GEGLU(), nn.Dropout(0.0),
                                 nn.Linear(dim * mult, dim))

    def forward(self, x):
        return self.net(x)


class Attention(nn.Module):
    def __init__(self, dim, dim_head, heads):
        super().__init__()
        self.heads = heads
        self.scale = dim_head ** -0.5
        inner = dim_head * heads
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(0.0))

    def forward(self, x, mode, f, n, rot):
        b, N, _ = x.shape
        hh = self.heads
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        # 'b n (h d) -> (b h) n d'
        q, k, v = (t.reshape(b, N, hh, -1).permute(0, 2, 1, 3).reshape(b * hh, N, -1) for t in (q, k, v))
        d = q.shape[-1]
        q = q * self.scale
        if mode == "time":  # '(b h) (f n) d -> ((b h) n) f d'
            q, k, v = (t.reshape(b * hh, f, n, d).permute(0, 2, 1, 3).reshape(b * hh * n, f, d) for t in (q, k, v))
        else:               # '(b h) (f n) d -> ((b h) f) n d'
            q, k, v = (t.reshape(b * hh * f, n, d) for t in (q, k, v))
        q, k = apply_rot_emb(q, k, rot)
        sim = torch.einsum("bid,bjd->bij", q, k)
        out = torch.einsum("bij,bjd->bid", sim.softmax(dim=-1), v)
        if mode == "time":
            out = out.reshape(b * hh, n, f, d).permute(0, 2, 1, 3)
        out = out.reshape(b, hh, N, d).permute(0, 2, 1, 3).reshape(b, N, hh * d)
        return self.to_out(out)


class TimeSformerBlock(nn.ModuleList):
    """One entry of TimeSformerEncoder/Decoder.layers, a ModuleList [time, space, ff]:
    its keys are 0.fn.to_qkv.weight, ..., 2.fn.net.3.bias."""

    def __init__(self, dim, heads, dim_head):
        super().__init__([
            PreNorm(dim, Attention(dim, dim_head, heads)),
            PreNorm(dim, Attention(dim, dim_head, heads)),
            PreNorm(dim, FeedForward(dim)),
        ])

    def forward(self, x, f, h, w, frame_rot, image_rot):
        time_attn, spatial_attn, ff = self
        n = h * w
        # Tokens are ordered (f, h, w): 'b (f n) d'.
        x = time_attn(x, "time", f, n, frame_rot) + x
        x = spatial_attn(x, "space", f, n, image_rot) + x
        return ff(x) + x


# ---------------------------------------------------------------- case plumbing
def random_params(w, module):
    """Random values for every parameter (zero-initialised layers included)."""
    out = {}
    for name, p in module.named_parameters():
        if p.ndim >= 2:
            fan_in = p.shape[1] * (p[0, 0].numel())
            out[name] = w.randn(*p.shape, scale=1.0 / math.sqrt(fan_in))
        elif name.endswith("weight"):  # norm scale
            out[name] = 1.0 + w.randn(*p.shape, scale=0.2)
        else:
            out[name] = w.randn(*p.shape, scale=0.2)
    return out


def module_case(w, name, module, prefix, inputs, call, attrs):
    """inputs: name -> tensor (the module's data inputs, stored as in/<name>).
    call(module, *data_inputs) -> output. Parameters are stored under prefix."""
    module = module.double()
    params = random_params(w, module)
    keys = list(params.keys())
    all_in = dict(inputs)
    for k in keys:
        all_in[f"{prefix}.{k}"] = params[k]
    ndata = len(inputs)

    class Call(nn.Module):  # lets functional_call swap the parameters
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *data):
            return call(self.m, *data)

    wrap = Call(module)

    def fn(*vals):
        pd = {f"m.{k}": v for k, v in zip(keys, vals[ndata:])}
        return functional_call(wrap, pd, tuple(vals[:ndata]))

    attrs = dict(attrs)
    attrs["nparams"] = sum(p.numel() for p in module.parameters())
    w.case(name, fn, all_in, attrs=attrs)


def gen_resblocks(w):
    # (name, ci, co, emb, groups, scale_shift, updown (-1 down, 0, 1 up), H, W)
    cases = [
        ("rb_ss_skip", 8, 16, 8, 4, 1, 0, 4, 6),
        ("rb_ss_up", 8, 8, 8, 4, 1, 1, 3, 2),
        ("rb_ss_down_skip", 4, 8, 8, 2, 1, -1, 6, 4),
        ("rb_noss", 8, 8, 8, 2, 0, 0, 3, 5),
    ]
    for name, ci, co, emb, groups, ss, ud, H, W in cases:
        m = ResBlock(ci, emb, co, groups=groups, use_scale_shift_norm=bool(ss), up=ud > 0, down=ud < 0)
        module_case(w, name, m, "diffusion_model.input_blocks.1.0",
                    {"x": w.randn(2, ci, H, W), "emb": w.randn(2, emb)},
                    lambda mod, x, e: mod(x, e),
                    {"ci": ci, "co": co, "emb": emb, "groups": groups, "scale_shift": ss, "updown": ud})


def gen_attention(w):
    # (name, C, heads, groups, shape of x)
    cases = [
        ("attn_2d", 32, 4, 32, (2, 32, 4, 4)),
        ("attn_2d_nonsq", 16, 2, 4, (2, 16, 3, 5)),
        ("attn_1d", 16, 4, 8, (2, 16, 13)),
    ]
    for name, C, heads, groups, shape in cases:
        prefix = "diffusion_model.input_attns.1" if len(shape) == 3 else "diffusion_model.input_blocks.1.1"
        module_case(w, name, AttentionBlock(C, heads, groups), prefix, {"x": w.randn(*shape)},
                    lambda mod, x: mod(x), {"C": C, "heads": heads, "groups": groups})


def gen_timesformer(w):
    # (name, dim, heads, dim_head, B, T, h, w)
    cases = [
        ("tsf_block", 16, 2, 16, 1, 3, 4, 4),
        ("tsf_block_nonsq", 8, 2, 8, 1, 2, 3, 5),
    ]
    for name, dim, heads, dh, B, T, hh, ww in cases:
        frame = tuple(t.double() for t in rotary_frame(T, dh))
        image = tuple(t.double() for t in rotary_axial(hh, ww, dh))
        module_case(w, name, TimeSformerBlock(dim, heads, dh), "encoder.layers.0",
                    {"x": w.randn(B, T * hh * ww, dim)},
                    lambda mod, x, T=T, hh=hh, ww=ww, frame=frame, image=image: mod(x, T, hh, ww, frame, image),
                    {"dim": dim, "heads": heads, "dim_head": dh, "T": T, "h": hh, "w": ww})


def gen_rotary(w):
    """The exact tables at the real sizes (head dim 64, T = 8, 32 x 32 grid).
    The axial table is stored for a subset of tokens (all of it is 512 KB)."""
    g = w.f.create_group("rotary")
    dim, T, h, wd = 64, 8, 32, 32
    g.attrs["dim"], g.attrs["T"], g.attrs["h"], g.attrs["w"] = dim, T, h, wd
    sin, cos = rotary_frame(T, dim)
    g.create_dataset("frame_sin", data=sin[0].numpy())
    g.create_dataset("frame_cos", data=cos[0].numpy())
    sin, cos = rotary_axial(h, wd, dim)
    rows = torch.cat((torch.arange(0, h * wd, 29), torch.tensor([h * wd - 1])))
    g.create_dataset("axial_rows", data=rows.float().numpy())
    g.create_dataset("axial_sin", data=sin[0, rows].numpy())
    g.create_dataset("axial_cos", data=cos[0, rows].numpy())
    # A small non-square grid with a different head dim, in full.
    sin, cos = rotary_axial(3, 5, 16)
    g.create_dataset("axial_3x5_d16_sin", data=sin[0].numpy())
    g.create_dataset("axial_3x5_d16_cos", data=cos[0].numpy())
    sin, cos = rotary_frame(5, 16)
    g.create_dataset("frame_5_d16_sin", data=sin[0].numpy())
    g.create_dataset("frame_5_d16_cos", data=cos[0].numpy())


def generate(w):
    gen_resblocks(w)
    gen_attention(w)
    gen_timesformer(w)
    gen_rotary(w)
