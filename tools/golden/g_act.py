"""Goldens for activations and softmax (src/ops/act.c).

Attributes: slope (leaky ReLU). Input x, output y.
"""
import torch
import torch.nn.functional as F


def _geglu(x):
    # PVDM / LDM feed-forward: value and gate halves of the last dim
    a, g = x.chunk(2, dim=-1)
    return a * F.gelu(g)


def generate(w):
    # values spread over the saturating tails as well as the middle
    w.case("silu", F.silu, {"x": w.randn(4, 33, scale=4.0)})
    w.case("gelu_erf", lambda x: F.gelu(x), {"x": w.randn(5, 31, scale=3.0)})
    w.case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"x": w.randn(5, 31, scale=3.0)})
    w.case("geglu", _geglu, {"x": w.randn(3, 4, 34, scale=2.0)})
    w.case("geglu_2d", _geglu, {"x": w.randn(6, 10, scale=3.0)})
    w.case("relu", F.relu, {"x": w.randn(50)})
    w.case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), {"x": w.randn(6, 7)}, attrs={"slope": 0.2})
    # tanh near 0 (polynomial branch) and away from it
    w.case("tanh", torch.tanh, {"x": torch.cat([w.randn(60, scale=2.0), w.randn(60, scale=0.05)])})
    w.case("sigmoid", torch.sigmoid, {"x": w.randn(7, 9, scale=4.0)})
    w.case("softmax", lambda x: F.softmax(x, dim=-1), {"x": w.randn(6, 13, scale=3.0)})
    w.case("softmax_3d", lambda x: F.softmax(x, dim=-1), {"x": w.randn(2, 3, 50)})
    # large logits: only max subtraction keeps exp finite
    w.case("softmax_large", lambda x: F.softmax(x, dim=-1), {"x": w.randn(3, 40, scale=5.0) + 100.0})
