"""Goldens for src/diffusion/ (schedules, eps loss, DDIM) and the tiny_ddpm
denoiser (src/models/tiny_ddpm.c).

Written from the reference semantics, not copied:
- schedules: LDM make_beta_schedule("linear") = torch.linspace(sqrt(b0),
  sqrt(b1), T, float64) ** 2 (SyncVP); IDDPM get_named_beta_schedule("linear")
  = np.linspace(b0, b1, T, float64) (PredLDM); RVD's cosine_beta_schedule:
  x = linspace(0, T+1, T+1), f = cos(((x / (T+1)) + s) / (1 + s) * pi/2)^2,
  alphā = f / f[0], betas = clip(1 - alphā[1:] / alphā[:-1], 0, 0.999).
- eps loss: x_t = sqrt(alphā_t) x0 + sqrt(1 - alphā_t) eps with the
  coefficients as float32 buffers (the references' to_torch), then
  mean((model(x_t, t) - eps)^2) (or |.|).
- DDIM: denoising-diffusion-pytorch's ddim_sample as SyncVP runs it
  (time pairs from linspace(-1, T-1, S+1), x0 clamp, sigma / c formulas),
  with an analytic "model" eps = tanh(a * x_t + t / T * u) and the noise
  given as inputs (x_T and one z per step).
- tiny_ddpm: guided-diffusion's UNetModel structure (time_embed, input_blocks,
  middle_block, output_blocks, out) at a tiny size, built from the ResBlock and
  AttentionBlock of g_modules.py, so its state_dict keys are ADM's.
"""
import math

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.stateless import functional_call

from g_modules import AttentionBlock, ResBlock, random_params


# ---------------------------------------------------------------- schedules
def sched_sqrt_linear(T, b0=0.0015, b1=0.0195):
    return (torch.linspace(b0 ** 0.5, b1 ** 0.5, T, dtype=torch.float64) ** 2).numpy()


def sched_linear(T, b0=1e-4, b1=0.02):
    return np.linspace(b0, b1, T, dtype=np.float64)


def sched_cosine(T, s=0.008, max_beta=0.999):
    steps = T + 1
    x = np.linspace(0, steps, steps, dtype=np.float64)
    f = np.cos(((x / steps) + s) / (1 + s) * np.pi * 0.5) ** 2
    ac = f / f[0]
    return np.clip(1 - (ac[1:] / ac[:-1]), 0, max_beta)


def tables(betas):
    ac = np.cumprod(1.0 - betas)
    prev = np.append(1.0, ac[:-1])
    post = betas * (1.0 - prev) / (1.0 - ac)
    return ac, post


def gen_schedules(w):
    for name, betas in (("sched_sqrt_linear", sched_sqrt_linear(1000)),
                        ("sched_linear", sched_linear(1000)),
                        ("sched_cosine", sched_cosine(1600)),
                        ("sched_sqrt_linear_t50", sched_sqrt_linear(50, 0.001, 0.05))):
        ac, post = tables(betas)
        T = len(betas)
        # Every 7th entry, the first two and the last two (the file stays small).
        idx = np.unique(np.concatenate([np.arange(0, T, 7), [0, 1, T - 2, T - 1]]))
        g = w.f.create_group(name)
        g.attrs["T"] = T
        g.create_dataset("out/index", data=idx.astype(np.float32))
        g.create_dataset("out/betas", data=betas[idx].astype(np.float32))
        g.create_dataset("out/alphas_cumprod", data=ac[idx].astype(np.float32))
        g.create_dataset("out/posterior_variance", data=post[idx].astype(np.float32))


# ---------------------------------------------------------------- eps loss
def q_coefs(betas, t):
    ac, _ = tables(betas)
    # float32 buffers, as the references register them
    sa = torch.tensor(np.sqrt(ac), dtype=torch.float32).double()
    s1 = torch.tensor(np.sqrt(1.0 - ac), dtype=torch.float32).double()
    return sa[t], s1[t]


def gen_loss(w):
    """Analytic model eps_hat = x_t @ W^T + (t / T) v: checks noising, loss and
    the gradients reaching x0, W and v."""
    B, n, T = 3, 6, 1000
    betas = sched_sqrt_linear(T)
    for name, kind in (("loss_mse", "mse"), ("loss_l1", "l1")):
        t = torch.randint(0, T, (B,), generator=w.gen)
        t[0] = 0
        t[1] = T - 1
        sa, s1 = q_coefs(betas, t)

        def fn(x0, eps, tf, W, v):
            x_t = sa[:, None] * x0 + s1[:, None] * eps
            e = x_t @ W.T + (tf / T)[:, None] * v[None, :]
            d = e - eps
            return (d * d).mean() if kind == "mse" else d.abs().mean()

        w.case(name, fn, {"x0": w.randn(B, n), "eps": w.randn(B, n), "t": t.float(),
                          "W": w.randn(n, n, scale=0.5), "v": w.randn(n)},
               attrs={"T": T, "kind": kind}, grad=["x0", "W", "v"])


# ---------------------------------------------------------------- DDIM
def ddim_times(T, S):
    times = torch.linspace(-1, T - 1, steps=S + 1)
    return list(reversed(times.int().tolist()))


def ddim_ref(betas, S, eta, clip, xT, z, a, u):
    T = len(betas)
    ac, _ = tables(betas)
    ac = torch.tensor(ac, dtype=torch.float64)
    times = ddim_times(T, S)
    x = xT.clone()
    for i, (tc, tn) in enumerate(zip(times[:-1], times[1:])):
        eps = torch.tanh(a * x + (tc / T) * u)
        al = ac[tc]
        x0 = (x - (1 - al).sqrt() * eps) / al.sqrt()
        if clip > 0:
            x0 = x0.clamp(-clip, clip)
        if tn < 0:
            x = x0
            continue
        aln = ac[tn]
        sigma = eta * ((1 - al / aln) * (1 - aln) / (1 - al)).sqrt()
        c = (1 - aln - sigma ** 2).sqrt()
        x = x0 * aln.sqrt() + c * eps + sigma * z[i]
    return x, times


def gen_ddim(w):
    B, n = 2, 5
    cases = [
        # name, schedule, T, S, eta, clip
        ("ddim_syncvp", "sqrt_linear", 1000, 100, 1.0, 1.0),
        ("ddim_eta0", "sqrt_linear", 1000, 10, 0.0, 0.0),
        ("ddim_linear_eta05", "linear", 1000, 50, 0.5, 1.0),
        ("ddim_cosine", "cosine", 1600, 40, 1.0, 2.0),
        ("ddim_full", "sqrt_linear", 50, 50, 1.0, 1.0),
        ("ddim_odd", "sqrt_linear", 1000, 7, 0.3, 0.0),
    ]
    for name, sched, T, S, eta, clip in cases:
        betas = {"sqrt_linear": sched_sqrt_linear, "linear": sched_linear, "cosine": sched_cosine}[sched](T)
        xT, z = w.randn(B, n), w.randn(S, B, n)
        a, u = w.rand(n, lo=0.2, hi=1.5), w.randn(n)
        x, times = ddim_ref(betas, S, eta, clip, xT.double(), z.double(), a.double(), u.double())
        g = w.f.create_group(name)
        for k, v in {"T": T, "S": S, "eta": eta, "clip": clip, "schedule": sched}.items():
            g.attrs[k] = v
        for k, v in {"xT": xT, "z": z, "a": a, "u": u}.items():
            g.create_dataset(f"in/{k}", data=v.numpy())
        g.create_dataset("out/y", data=x.float().numpy())
        g.create_dataset("out/times", data=np.array(times, dtype=np.float32))


# ---------------------------------------------------------------- tiny_ddpm
def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t[:, None].double() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TinyUNet(nn.Module):
    def __init__(self, cin, cout, W, mult, nrb, attn_levels, heads, groups):
        super().__init__()
        E = 4 * W
        self.W = W
        self.time_embed = nn.Sequential(nn.Linear(W, E), nn.SiLU(), nn.Linear(E, E))
        self.input_blocks = nn.ModuleList([nn.ModuleList([nn.Conv2d(cin, W, 3, padding=1)])])
        chans, ch = [W], W
        for lvl, m in enumerate(mult):
            for _ in range(nrb):
                layers = [ResBlock(ch, E, m * W, groups=groups)]
                ch = m * W
                if lvl in attn_levels:
                    layers.append(AttentionBlock(ch, heads, groups=groups))
                self.input_blocks.append(nn.ModuleList(layers))
                chans.append(ch)
            if lvl != len(mult) - 1:
                self.input_blocks.append(nn.ModuleList([ResBlock(ch, E, ch, groups=groups, down=True)]))
                chans.append(ch)
        self.middle_block = nn.ModuleList([ResBlock(ch, E, ch, groups=groups), AttentionBlock(ch, heads, groups=groups),
                                           ResBlock(ch, E, ch, groups=groups)])
        self.output_blocks = nn.ModuleList()
        for lvl, m in reversed(list(enumerate(mult))):
            for i in range(nrb + 1):
                layers = [ResBlock(ch + chans.pop(), E, m * W, groups=groups)]
                ch = m * W
                if lvl in attn_levels:
                    layers.append(AttentionBlock(ch, heads, groups=groups))
                if lvl and i == nrb:
                    layers.append(ResBlock(ch, E, ch, groups=groups, up=True))
                self.output_blocks.append(nn.ModuleList(layers))
        self.out = nn.Sequential(nn.GroupNorm(groups, ch), nn.SiLU(), nn.Conv2d(ch, cout, 3, padding=1))

    @staticmethod
    def run(layers, h, emb):
        for layer in layers:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        return h

    def forward(self, x, t):
        emb = self.time_embed(timestep_embedding(t, self.W))
        hs, h = [], x
        for blk in self.input_blocks:
            h = blk[0](h) if isinstance(blk[0], nn.Conv2d) else self.run(blk, h, emb)
            hs.append(h)
        h = self.run(self.middle_block, h, emb)
        for blk in self.output_blocks:
            h = self.run(blk, torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


def gen_tiny_ddpm(w):
    """The parameters travel as one flat vector in state_dict order (in/params,
    grad/params), with their names in the attribute param_names
    (newline-separated) and sizes in out/param_numel: a few datasets instead of hundreds
    keeps the file small, and the C side checks its declaration order and
    names against the list."""
    # name, Tc, K, C, width, mult, nrb, attn levels, heads, groups, B, H, W
    cases = [
        ("tiny_ddpm_2lvl", 2, 1, 4, 4, (1, 2), 1, (1,), 2, 2, 2, 8, 8),
        ("tiny_ddpm_3lvl_nrb2", 1, 2, 3, 2, (1, 1, 2), 2, (0, 2), 1, 1, 2, 8, 4),
    ]
    T = 1000
    betas = sched_sqrt_linear(T)
    for name, Tc, K, C, Wd, mult, nrb, attn, heads, groups, B, H, W in cases:
        net = TinyUNet((Tc + K) * C, K * C, Wd, mult, nrb, attn, heads, groups).double()
        params = random_params(w, net)
        keys = list(params.keys())
        shapes = [params[k].shape for k in keys]
        numels = [params[k].numel() for k in keys]
        flat = torch.cat([params[k].reshape(-1) for k in keys])
        t = torch.randint(0, T, (B,), generator=w.gen)
        sa, s1 = q_coefs(betas, t)

        def fn(x0, cond, eps, tf, pflat, net=net, keys=keys, shapes=shapes, numels=numels, sa=sa, s1=s1):
            x_t = sa[:, None, None, None] * x0 + s1[:, None, None, None] * eps
            pd = {k: v.reshape(sh) for k, v, sh in zip(keys, torch.split(pflat, numels), shapes)}
            e = functional_call(net, pd, (torch.cat([x_t, cond], dim=1), tf))
            return ((e - eps) ** 2).mean()

        w.case(name, fn, {"x0": w.randn(B, K * C, H, W), "cond": w.randn(B, Tc * C, H, W),
                          "eps": w.randn(B, K * C, H, W), "t": t.float(), "params": flat},
               grad=["x0", "cond", "params"], extra_out={"param_numel": numels},
               attrs={"Tc": Tc, "K": K, "C": C, "width": Wd, "nlevels": len(mult),
                      **{f"mult{i}": m for i, m in enumerate(mult)}, "nrb": nrb,
                      "attn_mask": sum(1 << a for a in attn), "heads": heads, "groups": groups, "T": T,
                      "param_names": "\n".join(keys), "nparams": sum(p.numel() for p in net.parameters())})


def generate(w):
    gen_schedules(w)
    gen_loss(w)
    gen_ddim(w)
    gen_tiny_ddpm(w)
