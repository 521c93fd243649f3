"""Goldens for reshape, permute, concat, slice, split and constant pad (src/ops/shape.c)."""
import torch
import torch.nn.functional as F

# (name, input shape, perm). tests/unit/test_ops_shape.c lists the same names.
PERMUTES = [
    ("bcn_bnc", (2, 3, 5), (0, 2, 1)),
    ("bhld_blhd", (2, 3, 4, 5), (0, 2, 1, 3)),
    ("bchw_bhwc", (2, 3, 4, 5), (0, 2, 3, 1)),
    ("bhwc_bchw", (2, 4, 5, 3), (0, 3, 1, 2)),
    ("mixed4", (2, 3, 4, 5), (3, 1, 0, 2)),
    ("six", (2, 1, 3, 2, 1, 4), (5, 3, 1, 0, 4, 2)),
    ("identity", (3, 4), (0, 1)),
    ("with_ones", (1, 3, 1, 4), (3, 2, 0, 1)),
]

# (name, input shape, pads, value)
PADS = [
    ("last", (2, 3, 4), (1, 2), 0.0),
    ("two", (2, 3, 4), (1, 0, 2, 3), 1.5),
    ("three", (2, 2, 3, 4), (0, 1, 2, 0, 1, 1), -2.0),
    ("all", (2, 3, 2), (1, 1, 0, 2, 2, 1), 0.25),
    ("none", (2, 3), (0, 0), 3.0),
]


def generate(w):
    w.case("reshape_infer", lambda x: x.reshape(4, -1), {"x": w.randn(2, 3, 4)})
    w.case("reshape_0d", lambda x: x.reshape(()), {"x": w.randn(1, 1)})
    # Two reshapes of one input, combined: both gradients reach x.
    w.case("reshape_twice", lambda x: x.reshape(6, 4) + 2.0 * x.reshape(6, 4), {"x": w.randn(2, 3, 4)})

    for name, shape, perm in PERMUTES:
        attrs = {"nd": len(perm)}
        attrs.update({f"p{i}": p for i, p in enumerate(perm)})
        w.case(f"permute_{name}", lambda x, perm=perm: x.permute(*perm), {"x": w.randn(*shape)}, attrs=attrs)

    w.case("concat2_d1", lambda a, b: torch.cat([a, b], 1),
           {"a": w.randn(2, 3, 4), "b": w.randn(2, 5, 4)}, attrs={"dim": 1})
    w.case("concat3_last", lambda a, b, c: torch.cat([a, b, c], -1),
           {"a": w.randn(2, 3, 2), "b": w.randn(2, 3, 1), "c": w.randn(2, 3, 4)}, attrs={"dim": -1})
    ins = {f"x{i}": w.randn(i % 3 + 1, 2, 3) for i in range(8)}
    w.case("concat8_d0", lambda *xs: torch.cat(xs, 0), ins, attrs={"dim": 0})
    w.case("concat2_nograd_b", lambda a, b: torch.cat([a, b], 2),
           {"a": w.randn(2, 3, 4), "b": w.randn(2, 3, 2)}, grad=["a"], attrs={"dim": 2})

    for name, shape, dim, start, length in [("d1", (2, 5, 3), 1, 1, 3), ("last", (2, 3, 6), -1, 2, 4),
                                            ("d0_all", (4, 3), 0, 0, 4), ("neg_start", (3, 7), 1, -3, 2)]:
        w.case(f"slice_{name}", lambda x, dim=dim, start=start, length=length: x.narrow(dim, start, length),
               {"x": w.randn(*shape)}, attrs={"dim": dim, "start": start, "len": length})

    w.case("split3_d1", lambda x: dict(zip(("y0", "y1", "y2"), torch.split(x, [1, 3, 2], 1))),
           {"x": w.randn(2, 6, 3)}, attrs={"dim": 1})

    for name, shape, pads, value in PADS:
        attrs = {"npad": len(pads) // 2, "value": value}
        attrs.update({f"p{i}": p for i, p in enumerate(pads)})
        w.case(f"pad_{name}", lambda x, pads=pads, value=value: F.pad(x, pads, value=value),
               {"x": w.randn(*shape)}, attrs=attrs)
