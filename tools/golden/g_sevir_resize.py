"""Goldens for the SEVIR source's own resizing modes (io/sevir_resize.c).

bilinear_aa: F.interpolate(mode='bilinear', antialias=True, align_corners=False),
which equals PIL's Image.resize(BILINEAR) on float ('F') images, the resize
PredLDM applies to SEVIR VIL frames. max: adaptive_max_pool2d, i.e. block
maximum (skimage block_reduce(np.max) for integer factors; Earthformer's
SEVIR-LR). Inputs are (1, 1, h, w); the C side works on (h, w).
"""
import torch
import torch.nn.functional as F

AA_CASES = [  # (h, w, H, W)
    (48, 48, 16, 16),   # 384 -> 128 in miniature (factor 3)
    (45, 30, 16, 11),   # non-integer factors, non-square
    (7, 9, 12, 20),     # upscaling: plain bilinear with PIL's edge weights
    (20, 9, 7, 13),     # down in one axis, up in the other
    (32, 32, 32, 32),   # identity
]
MAX_CASES = [(48, 40, 16, 10), (45, 30, 16, 11), (12, 12, 12, 12)]


def generate(w):
    for h, wd, H, W in AA_CASES:
        x = w.rand(1, 1, h, wd)
        w.case(f"aa_{h}x{wd}_to_{H}x{W}",
               lambda x, H=H, W=W: F.interpolate(x, size=(H, W), mode="bilinear", antialias=True,
                                                 align_corners=False),
               {"x": x}, attrs={"H": H, "W": W}, grad=[])
    for h, wd, H, W in MAX_CASES:
        x = w.rand(1, 1, h, wd)
        w.case(f"max_{h}x{wd}_to_{H}x{W}", lambda x, H=H, W=W: F.adaptive_max_pool2d(x, (H, W)),
               {"x": x}, attrs={"H": H, "W": W}, grad=[])
