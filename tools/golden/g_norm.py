"""Goldens for group norm and layer norm (src/ops/norm.c).

Attributes per case: kind (0 group norm, 1 layer norm), affine (0/1),
groups (group norm), eps. Inputs x, and w, b when affine.
"""
import torch.nn.functional as F


def _gn(w, name, shape, groups, affine=True, eps=1e-5, scale=1.0, offset=0.0, grad=None):
    C = shape[1]
    inputs = {"x": w.randn(*shape, scale=scale) + offset}
    if affine:
        inputs["w"] = w.randn(C, scale=0.5) + 1.0
        inputs["b"] = w.randn(C, scale=0.5)
        fn = lambda x, w_, b: F.group_norm(x, groups, w_, b, eps)
    else:
        fn = lambda x: F.group_norm(x, groups, None, None, eps)
    w.case(name, fn, inputs, grad=grad,
           attrs={"kind": 0, "affine": int(affine), "groups": groups, "eps": eps})


def _ln(w, name, shape, affine=True, eps=1e-5, scale=1.0, offset=0.0, grad=None):
    D = shape[-1]
    inputs = {"x": w.randn(*shape, scale=scale) + offset}
    if affine:
        inputs["w"] = w.randn(D, scale=0.5) + 1.0
        inputs["b"] = w.randn(D, scale=0.5)
        fn = lambda x, w_, b: F.layer_norm(x, (D,), w_, b, eps)
    else:
        fn = lambda x: F.layer_norm(x, (D,), None, None, eps)
    w.case(name, fn, inputs, grad=grad, attrs={"kind": 1, "affine": int(affine), "groups": 0, "eps": eps})


def generate(w):
    # group norm: 1-D sequences, images, videos; every grouping extreme
    _gn(w, "gn_1d", (2, 8, 10), 4)
    _gn(w, "gn_2d", (2, 6, 5, 4), 3, scale=2.0)
    _gn(w, "gn_3d", (1, 8, 3, 4, 5), 2, eps=1e-6)
    _gn(w, "gn_noaffine", (2, 6, 7, 3), 2, affine=False)
    _gn(w, "gn_groups1", (3, 4, 9), 1)
    _gn(w, "gn_instance", (2, 5, 3, 3), 5, eps=1e-3)
    _gn(w, "gn_nospatial", (4, 12), 2)
    # a group of 2 x 600 elements spans two statistics chunks; large mean vs spread
    _gn(w, "gn_chunks_offset", (1, 4, 20, 30), 2, scale=0.5, offset=20.0)
    # only some inputs need a gradient
    _gn(w, "gn_grad_wb", (2, 4, 6), 2, grad=["w", "b"])
    _gn(w, "gn_grad_x", (2, 4, 6), 2, grad=["x"])
    # layer norm over the last dim
    _ln(w, "ln_2d", (7, 12))
    _ln(w, "ln_3d", (2, 5, 19), eps=1e-6, scale=3.0)
    _ln(w, "ln_noaffine", (3, 4, 10), affine=False)
    _ln(w, "ln_1d", (20,))
    _ln(w, "ln_long_offset", (2, 1100), offset=-30.0)  # two chunks, large mean
    _ln(w, "ln_grad_wb", (5, 8), grad=["w", "b"])
    _ln(w, "ln_grad_x", (5, 8), grad=["x"])
