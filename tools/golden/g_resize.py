"""Goldens for io/resize.c against torch.nn.functional.interpolate."""
import torch.nn.functional as F


def generate(w):
    for (h, wd, H, W) in [(10, 14, 4, 6), (7, 5, 16, 12), (9, 9, 9, 4), (6, 8, 3, 8)]:
        x = w.rand(h, wd, 3)
        chw = x.permute(2, 0, 1)[None].double()
        for mode in ("nearest", "bilinear", "area"):
            kw = {"align_corners": False} if mode == "bilinear" else {}
            y = F.interpolate(chw, size=(H, W), mode=mode, **kw)[0].permute(1, 2, 0)
            w.case(f"{mode}_{h}x{wd}_to_{H}x{W}", lambda x, y=y: y, {"x": x}, grad=[],
                   attrs={"H": H, "W": W})
