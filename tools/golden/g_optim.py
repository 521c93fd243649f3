"""Goldens for the optimizer and schedules (src/train/): AdamW, gradient
clipping, EMA and LR schedules. Not op cases, so this writes its own layout
(read in tests/unit/test_optim.c with golden_read / golden_attr_*):

  /adamw/<case>        attrs: beta1 beta2 eps wd nsteps nparam + schedule attrs
    lr                 (nsteps) lr of each step, from the torch scheduler
    p<i>/init          initial parameter;  attr decay (1: weight decay applies)
    p<i>/grads         (nsteps, *shape) the gradient given at each step
    p<i>/final         parameter after nsteps of torch.optim.AdamW (float32)
    p<i>/final64       the same run in float64
    p<i>/delta64       final64 - init, formed in float64 (the update itself)
    p<i>/m, p<i>/v     exp_avg, exp_avg_sq after nsteps (float32 run)
  /clip/<case>         attrs: max_norm nparam
    p<i>/grad, p<i>/clipped, norm (1)   torch.nn.utils.clip_grad_norm_ (float32)
  /ema/<case>          attrs: decay warmup nupdates nparam
    p<i>/init, p<i>/seq (nupdates, *shape), p<i>/shadow; decays (nupdates)
  /lr/<case>           schedule attrs + nsteps; lr (nsteps + 1) for steps 0..nsteps
Schedule attrs: kind (0 constant, 1 warmup, 2 cosine, 3 warmup_cosine, the
vp_lr_kind values), base_lr, warmup_steps, warmup_start, cosine_steps, eta_min.
"""
import torch
from torch import nn
from torch.optim import lr_scheduler as S

KIND = {"constant": 0, "warmup": 1, "cosine": 2, "warmup_cosine": 3}


def make_scheduler(opt, sch):
    """The PyTorch scheduler that the C closed form in lr_schedule.c matches."""
    kind, W, f = sch["kind"], sch.get("warmup_steps", 0), sch.get("warmup_start", 0.0)
    T, eta = sch.get("cosine_steps", 1), sch.get("eta_min", 0.0)

    def warm():
        if f > 0:
            return S.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=W)
        return S.LambdaLR(opt, lambda s: min(1.0, s / W))  # LinearLR divides by zero at f = 0

    if kind == "constant":
        return S.LambdaLR(opt, lambda s: 1.0)
    if kind == "warmup":
        return warm()
    if kind == "cosine":
        return S.CosineAnnealingLR(opt, T_max=T, eta_min=eta)
    return S.SequentialLR(opt, [warm(), S.CosineAnnealingLR(opt, T_max=T, eta_min=eta)],
                          milestones=[W])


def sched_attrs(g, sch):
    g.attrs["kind"] = KIND[sch["kind"]]
    g.attrs["base_lr"] = float(sch["base_lr"])
    g.attrs["warmup_steps"] = int(sch.get("warmup_steps", 0))
    g.attrs["warmup_start"] = float(sch.get("warmup_start", 0.0))
    g.attrs["cosine_steps"] = int(sch.get("cosine_steps", 0))
    g.attrs["eta_min"] = float(sch.get("eta_min", 0.0))


def run_adamw(inits, grads, decay, betas, eps, wd, sch, nsteps, dtype):
    ps = [nn.Parameter(x.to(dtype).clone()) for x in inits]
    groups = [{"params": [p for p, d in zip(ps, decay) if d], "weight_decay": wd},
              {"params": [p for p, d in zip(ps, decay) if not d], "weight_decay": 0.0}]
    groups = [gr for gr in groups if gr["params"]]
    opt = torch.optim.AdamW(groups, lr=sch["base_lr"], betas=betas, eps=eps, foreach=False)
    sc = make_scheduler(opt, sch)
    lrs = []
    for k in range(nsteps):
        lrs.append(opt.param_groups[0]["lr"])
        for p, g in zip(ps, grads):
            p.grad = g[k].to(dtype).clone()
        opt.step()
        sc.step()
    return ps, [opt.state[p] for p in ps], lrs


def adamw_case(w, name, shapes, decay, betas, eps, wd, sch, nsteps=10, gscale=None, zero_frac=0.2):
    gscale = gscale or [1.0] * len(shapes)
    inits = [w.randn(*s) for s in shapes]
    grads = []
    for s, sc in zip(shapes, gscale):
        g = w.randn(nsteps, *s, scale=sc)
        g = g * (w.rand(nsteps, *s) >= zero_frac).float()  # some exact zeros: m, v decay alone
        grads.append(g)
    ps32, st32, lrs = run_adamw(inits, grads, decay, betas, eps, wd, sch, nsteps, torch.float32)
    ps64, _, _ = run_adamw(inits, grads, decay, betas, eps, wd, sch, nsteps, torch.float64)
    g = w.f.create_group(f"adamw/{name}")
    for k, v in (("beta1", betas[0]), ("beta2", betas[1]), ("eps", eps), ("wd", wd)):
        g.attrs[k] = float(v)
    g.attrs["nsteps"] = nsteps
    g.attrs["nparam"] = len(shapes)
    sched_attrs(g, sch)
    g.create_dataset("lr", data=torch.tensor(lrs, dtype=torch.float64).numpy())
    for i in range(len(shapes)):
        pg = g.create_group(f"p{i}")
        pg.attrs["decay"] = int(decay[i])
        pg.create_dataset("init", data=inits[i].numpy())
        pg.create_dataset("grads", data=grads[i].numpy())
        pg.create_dataset("final", data=ps32[i].detach().numpy())
        pg.create_dataset("final64", data=ps64[i].detach().float().numpy())
        pg.create_dataset("delta64", data=(ps64[i].detach() - inits[i].double()).float().numpy())
        pg.create_dataset("m", data=st32[i]["exp_avg"].numpy())
        pg.create_dataset("v", data=st32[i]["exp_avg_sq"].numpy())
        assert int(st32[i]["step"].item()) == nsteps


def clip_case(w, name, shapes, scale, max_norm, nonfinite=None):
    grads = [w.randn(*s, scale=scale) for s in shapes]
    ps = [nn.Parameter(torch.zeros(*s)) for s in shapes]
    for p, gr in zip(ps, grads):
        p.grad = gr.clone()
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    g = w.f.create_group(f"clip/{name}")
    g.attrs["max_norm"] = float(max_norm)
    g.attrs["nparam"] = len(shapes)
    g.create_dataset("norm", data=torch.tensor([float(norm)], dtype=torch.float64).numpy())
    for i, (gr, p) in enumerate(zip(grads, ps)):
        g.create_dataset(f"p{i}/grad", data=gr.numpy())
        g.create_dataset(f"p{i}/clipped", data=p.grad.numpy())


class LitEmaRef(nn.Module):
    """LDM's LitEma (ldm/modules/ema.py) restated over a list of tensors: a
    float32 'decay' buffer, an int 'num_updates' buffer (-1: no warm-up)
    incremented before the decay is formed, and shadow -= (1 - decay) *
    (shadow - param), all in torch's float32 tensor arithmetic."""

    def __init__(self, params, decay, use_num_updates):
        super().__init__()
        self.register_buffer("decay", torch.tensor(decay, dtype=torch.float32))
        self.register_buffer("num_updates", torch.tensor(0 if use_num_updates else -1, dtype=torch.int))
        self.shadow = [p.clone().detach() for p in params]

    @torch.no_grad()
    def forward(self, params):
        decay = self.decay
        if self.num_updates >= 0:
            self.num_updates += 1
            decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        one_minus_decay = 1.0 - decay
        for s, p in zip(self.shadow, params):
            s.sub_(one_minus_decay * (s - p))
        return float(decay)


def ema_case(w, name, shapes, decay, warmup, nupdates):
    inits = [w.randn(*s) for s in shapes]
    seq = []
    for x in inits:  # a drifting parameter trajectory, as training would give
        steps = w.randn(nupdates, *x.shape, scale=0.3)
        seq.append((x.unsqueeze(0) + torch.cumsum(steps.double(), 0)).float())
    ema = LitEmaRef(inits, decay, warmup)
    decays = [ema([s[k] for s in seq]) for k in range(nupdates)]
    g = w.f.create_group(f"ema/{name}")
    g.attrs["decay"] = float(decay)
    g.attrs["warmup"] = int(warmup)
    g.attrs["nupdates"] = nupdates
    g.attrs["nparam"] = len(shapes)
    g.create_dataset("decays", data=torch.tensor(decays, dtype=torch.float64).numpy())
    for i in range(len(shapes)):
        g.create_dataset(f"p{i}/init", data=inits[i].numpy())
        g.create_dataset(f"p{i}/seq", data=seq[i].numpy())
        g.create_dataset(f"p{i}/shadow", data=ema.shadow[i].numpy())


def lr_case(w, name, sch, nsteps):
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=sch["base_lr"])
    sc = make_scheduler(opt, sch)
    lrs = []
    for _ in range(nsteps + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sc.step()
    g = w.f.create_group(f"lr/{name}")
    sched_attrs(g, sch)
    g.attrs["nsteps"] = nsteps
    g.create_dataset("lr", data=torch.tensor(lrs, dtype=torch.float64).numpy())


def generate(w):
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning)  # SequentialLR's step(0)

    # AdamW. SyncVP's autoencoder betas (0.5, 0.9) with a warm-up + cosine lr;
    # one parameter with tiny gradients so that eps matters.
    adamw_case(w, "syncvp", [(4, 6), (4,), (3, 2, 2)], [1, 1, 1], (0.5, 0.9), 1e-8, 0.01,
               dict(kind="warmup_cosine", base_lr=2e-3, warmup_steps=3, warmup_start=0.1,
                    cosine_steps=7, eta_min=1e-5), gscale=[1.0, 1e-6, 3.0])
    # Default betas, no decay for rank <= 1 (biases, norms), cosine lr.
    adamw_case(w, "nodecay", [(5, 3), (5,), (2, 5), (2,)], [1, 0, 1, 0], (0.9, 0.999), 1e-6, 0.1,
               dict(kind="cosine", base_lr=1e-2, cosine_steps=10, eta_min=1e-4))
    # Large eps and warm-up from zero (the first step moves by weight decay only).
    adamw_case(w, "warmup0", [(7,), (3, 3)], [1, 1], (0.8, 0.95), 1e-3, 0.05,
               dict(kind="warmup", base_lr=5e-3, warmup_steps=4, warmup_start=0.0),
               gscale=[0.01, 10.0])

    clip_case(w, "active", [(6, 5), (5,), (2, 3, 4)], 1.0, 1.0)
    clip_case(w, "inactive", [(6, 5), (5,)], 0.1, 100.0)

    ema_case(w, "warmup", [(4, 5), (3,)], 0.999, True, 15)
    ema_case(w, "warmup_cap", [(6,), (2, 2)], 0.6, True, 16)  # cap reached at update 13
    ema_case(w, "fixed", [(4, 5), (3,)], 0.9, False, 12)

    lr_case(w, "constant", dict(kind="constant", base_lr=3e-4), 20)
    lr_case(w, "warmup", dict(kind="warmup", base_lr=1e-3, warmup_steps=8, warmup_start=0.25), 20)
    lr_case(w, "warmup0", dict(kind="warmup", base_lr=1e-3, warmup_steps=8, warmup_start=0.0), 20)
    lr_case(w, "cosine", dict(kind="cosine", base_lr=1e-3, cosine_steps=50, eta_min=1e-5), 160)
    lr_case(w, "cosine_long", dict(kind="cosine", base_lr=2e-4, cosine_steps=1000, eta_min=0.0), 2100)
    lr_case(w, "warmup_cosine", dict(kind="warmup_cosine", base_lr=1e-3, warmup_steps=10,
                                     warmup_start=0.1, cosine_steps=40, eta_min=1e-6), 100)
    lr_case(w, "warmup0_cosine", dict(kind="warmup_cosine", base_lr=5e-4, warmup_steps=5,
                                      warmup_start=0.0, cosine_steps=30, eta_min=0.0), 70)
