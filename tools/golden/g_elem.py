"""Goldens for broadcasting arithmetic, scale, add_scalar and clamp (src/ops/elem.c)."""
import torch

# (name, shape of a, shape of b): the broadcast patterns. add sees all of
# them; the other ops a subset that still covers every kind of stretch (the
# kernels share the broadcast machinery; the file stays small).
# tests/unit/test_ops_elem.c lists the same names.
PATTERNS = [
    ("same", (2, 3, 4), (2, 3, 4)),
    ("chw", (2, 3, 4, 5), (3, 1, 1)),          # (B,C,H,W) + (C,1,1)
    ("bc11", (2, 3, 1, 1), (2, 3, 4, 5)),      # (B,C,1,1) * (B,C,H,W)
    ("row_col", (4,), (3, 1)),                  # both stretch
    ("bias", (2, 5, 6), (6,)),                  # (B,N,C) + (C,)
    ("one", (2, 3), (1,)),                      # scalar-shaped (1,)
    ("zerodim", (2, 3), ()),                    # 0-dim operand
    ("zerodim_a", (), (3,)),
    ("zerodim_both", (), ()),
    ("six", (2, 1, 3, 1, 2, 2), (1, 2, 1, 3, 2, 1)),
    ("lead", (3, 1, 5), (2, 1, 4, 1)),          # missing leading dims on a
]

USE = {
    "add": [p[0] for p in PATTERNS],
    "sub": ["same", "chw", "row_col", "zerodim"],
    "mul": ["same", "chw", "bc11", "row_col", "bias", "zerodim", "six", "lead"],
    "div": ["same", "chw", "bc11", "row_col", "bias", "six"],
}

OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


def denom(w, shape):
    # Away from zero so the division and its gradient stay well conditioned.
    sign = torch.where(w.rand(*shape) < 0.5, -1.0, 1.0)
    return (w.rand(*shape, lo=0.5, hi=2.0) * sign).float()


def generate(w):
    for op, fn in OPS.items():
        for name, sa, sb in PATTERNS:
            if name not in USE[op]:
                continue
            b = denom(w, sb) if op == "div" else w.randn(*sb)
            w.case(f"{op}_{name}", fn, {"a": w.randn(*sa), "b": b})
    # Only one side needs a gradient.
    w.case("mul_chw_gb", OPS["mul"], {"a": w.randn(2, 3, 4, 5), "b": w.randn(3, 1, 1)}, grad=["b"])
    w.case("div_bias_ga", OPS["div"], {"a": w.randn(2, 5, 6), "b": denom(w, (6,))}, grad=["a"])
    w.case("div_chw_gb", OPS["div"], {"a": w.randn(2, 3, 4, 5), "b": denom(w, (3, 1, 1))}, grad=["b"])
    # The same tensor on both sides: both gradients land in one buffer.
    w.case("mul_self", lambda x: x * x, {"x": w.randn(3, 4)})

    w.case("scale", lambda x: x * -1.75, {"x": w.randn(2, 3, 4)}, attrs={"s": -1.75})
    w.case("add_scalar", lambda x: x + 0.625, {"x": w.randn(2, 3, 4)}, attrs={"s": 0.625})
    x = w.randn(4, 6)
    x[0, 0], x[0, 1], x[1, 2] = -0.5, 0.75, 0.75  # exactly on the bounds: gradient passes
    w.case("clamp", lambda x: torch.clamp(x, -0.5, 0.75), {"x": x}, attrs={"lo": -0.5, "hi": 0.75})
    w.case("clamp_0d", lambda x: torch.clamp(x, -0.25, 0.25), {"x": w.randn()},
           attrs={"lo": -0.25, "hi": 0.25})
