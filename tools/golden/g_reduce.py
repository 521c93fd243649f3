"""Goldens for sum / mean over axes and the MSE / L1 losses (src/ops/reduce.c)."""
import torch
import torch.nn.functional as F

# (name, input shape, axes (empty: all), keepdim). tests/unit/test_ops_reduce.c
# lists the same names.
REDUCTIONS = [
    ("d1_keep", (2, 3, 4, 5), (1,), 1),
    ("d02", (2, 3, 4, 5), (0, 2), 0),
    ("last", (2, 3, 4, 5), (-1,), 0),
    ("d13_keep", (2, 3, 4, 5), (1, 3), 1),
    ("hw_keep", (2, 3, 4, 5), (-2, -1), 1),     # per-channel statistics
    ("bhw", (2, 3, 4, 5), (0, 2, 3), 0),        # gradient of a (C,1,1) broadcast
    ("all", (2, 3, 4), (), 0),                  # -> 0-dim
    ("all_keep", (2, 3, 4), (), 1),             # -> (1, 1, 1)
    ("all_listed", (2, 3, 4), (0, 1, 2), 0),
    ("size1", (2, 1, 3), (1,), 0),
    ("six", (2, 3, 1, 2, 3, 2), (0, 3, 5), 0),
    ("vec", (7,), (0,), 0),
]


def generate(w):
    for name, shape, axes, keep in REDUCTIONS:
        attrs = {"naxes": len(axes), "keepdim": keep}
        attrs.update({f"ax{i}": a for i, a in enumerate(axes)})
        dims = tuple(axes) if axes else tuple(range(len(shape)))
        w.case(f"sum_{name}", lambda x, dims=dims, keep=keep: x.sum(dim=dims, keepdim=bool(keep)),
               {"x": w.randn(*shape)}, attrs=attrs)
        w.case(f"mean_{name}", lambda x, dims=dims, keep=keep: x.mean(dim=dims, keepdim=bool(keep)),
               {"x": w.randn(*shape)}, attrs=attrs)

    for loss, fn in (("mse", F.mse_loss), ("l1", F.l1_loss)):
        x, y = w.randn(2, 3, 4, 5), w.randn(2, 3, 4, 5)
        y.view(-1)[::7] = x.view(-1)[::7]  # exact matches: L1's gradient is 0 there
        w.case(f"{loss}", fn, {"x": x, "y": y})
        w.case(f"{loss}_gx", fn, {"x": w.randn(3, 5), "y": w.randn(3, 5)}, grad=["x"])
        w.case(f"{loss}_0d", fn, {"x": w.randn(), "y": w.randn()})
