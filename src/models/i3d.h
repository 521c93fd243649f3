// i3d.h: the I3D (Inception-v1 inflated) network for Kinetics-400 that FVD
// uses, as the PyTorch port in VideoGPT / TATS / SyncVP (`i3d_pretrained_400.pt`)
// runs it: TF 'SAME' padding, BatchNorm eps 1e-3 folded at load time, 400-d
// logits averaged over time. Weights come from an HDF5 file made by
// tools/convert_i3d.py; nothing is downloaded.
#ifndef VP_MODELS_I3D_H
#define VP_MODELS_I3D_H

#include <stdint.h>

#include "core/tensor.h"

typedef struct i3d_model i3d_model;

// Loads the weights; on a missing or malformed file dies with a message that
// names the file and how to make it (tools/convert_i3d.py).
i3d_model *i3d_load(const char *path);
void i3d_free(i3d_model *m);
// video: n clips (n, T, H, W, 3) with values in [0, 1] (channel-last, like
// the metric files). Applies the reference preprocessing (resize to 224x224
// as the FVD code does, scale to [-1, 1]) and writes logits (n, 400).
// Runs in inference mode in ctx (reset before returning).
void i3d_logits(i3d_model *m, vp_ctx *ctx, const float *video, int64_t n, int64_t T, int64_t H,
                int64_t W, float *logits);

#endif
