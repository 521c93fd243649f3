"""Goldens for linear, matmul and batched matmul (src/ops/linear.c)."""
import torch
import torch.nn.functional as F


def generate(w):
    w.case("linear_bias", lambda x, w_, b: F.linear(x, w_, b),
           {"x": w.randn(2, 5, 7), "w": w.randn(6, 7), "b": w.randn(6)})
    w.case("linear_nobias", lambda x, w_: F.linear(x, w_),
           {"x": w.randn(9, 4), "w": w.randn(3, 4)})
    w.case("matmul", lambda a, b: a @ b, {"a": w.randn(2, 3, 5), "b": w.randn(5, 4)})
    for ta in (0, 1):
        for tb in (0, 1):
            a = w.randn(2, 3, 5, 4) if ta else w.randn(2, 3, 4, 5)
            b = w.randn(2, 3, 6, 5) if tb else w.randn(2, 3, 5, 6)
            w.case(f"bmm_t{ta}{tb}",
                   lambda a, b, ta=ta, tb=tb: (a.transpose(-1, -2) if ta else a) @ (b.transpose(-1, -2) if tb else b),
                   {"a": a, "b": b}, attrs={"ta": ta, "tb": tb})
