"""Shared helpers for golden-file generators.

Each generator module tools/golden/g_<name>.py defines
    def generate(w: GoldenWriter) -> None
and writes cases with w.case(...). make_golden.py runs every module and writes
<out>/<name>.h5. Layout (read by tests/harness/golden.c):
    /<case>/in/<name>    inputs and parameters (float32)
    /<case>/out/<name>   forward outputs
    /<case>/gout/<name>  random upstream gradient per output
    /<case>/grad/<name>  d sum(out * gout) / d input, for inputs that require grad
    attributes on /<case>: the op's arguments
Shapes are fixed per case; only values depend on the seed, so the C tests
pass for goldens regenerated with any seed.
"""
import h5py
import numpy as np
import torch


class GoldenWriter:
    def __init__(self, path, seed):
        # libver="latest" stores the many small datasets with compact metadata
        # (about a third smaller files than the default format).
        self.f = h5py.File(path, "w", libver="latest")
        self.seed = seed
        self.gen = torch.Generator().manual_seed(seed)
        self.f.attrs["seed"] = seed

    def close(self):
        self.f.close()

    # Random tensors drawn from this writer's generator (float64 -> float32 so
    # that the values are exactly representable in the C side's fp32). No
    # shape gives a 0-dim tensor (torch.randn needs an explicit () for that).
    def randn(self, *shape, scale=1.0):
        return (torch.randn(*(shape or ((),)), generator=self.gen, dtype=torch.float64) * scale).float()

    def rand(self, *shape, lo=0.0, hi=1.0):
        return (lo + (hi - lo) * torch.rand(*(shape or ((),)), generator=self.gen, dtype=torch.float64)).float()

    def case(self, name, fn, inputs, attrs=None, grad=None, extra_out=None):
        """fn(*inputs.values()) -> tensor or dict of tensors.

        inputs: name -> tensor. grad: names that need gradients (default: all
        floating inputs). Computes forward in float64 for accuracy of the
        reference, then stores float32.
        """
        if name in self.f:
            raise ValueError(f"duplicate case {name}")
        grad = list(inputs.keys()) if grad is None else grad
        g = self.f.create_group(name)
        for k, v in (attrs or {}).items():
            g.attrs[k] = v
        leaf = {}
        for k, v in inputs.items():
            t = v.detach().double().clone()
            t.requires_grad_(k in grad)
            leaf[k] = t
            g.create_dataset(f"in/{k}", data=v.detach().float().numpy())
        out = fn(*leaf.values())  # positional, in the order of inputs
        outs = out if isinstance(out, dict) else {"y": out}
        total = 0.0
        for k, v in outs.items():
            gout = self.randn(*v.shape).double()
            g.create_dataset(f"out/{k}", data=v.detach().float().numpy())
            g.create_dataset(f"gout/{k}", data=gout.float().numpy())
            if v.requires_grad:
                total = total + (v * gout).sum()
        if grad and isinstance(total, torch.Tensor):
            total.backward()
            for k in grad:
                gr = leaf[k].grad
                if gr is None:
                    gr = torch.zeros_like(leaf[k])
                g.create_dataset(f"grad/{k}", data=gr.float().numpy())
        for k, v in (extra_out or {}).items():
            g.create_dataset(f"out/{k}", data=np.asarray(v, dtype=np.float32))
        return outs
