// i3d.h: the I3D (Inception-v1 inflated) network for Kinetics-400 that FVD
// uses, with the weights of the PyTorch port in VideoGPT / TATS / SyncVP
// (`i3d_pretrained_400.pt`, converted from TF-Hub i3d-kinetics-400/1): TF
// 'SAME' padding done as that port does it (zero padding, also before its max
// pools), BatchNorm in inference form folded into the convolutions at load
// time, 400-d pre-softmax logits averaged over time. BN eps is 1e-3, the TF
// graph's value (what reproduces TF FVD); the PyTorch port itself runs 1e-5,
// available through i3d_load_eps. Weights come from an HDF5 file made by
// tools/convert_i3d.py; nothing is downloaded.
#ifndef VP_MODELS_I3D_H
#define VP_MODELS_I3D_H

#include <stdint.h>

#include "core/tensor.h"

#define I3D_CLASSES 400
#define I3D_RESOLUTION 224
// BatchNorm epsilon of the TF-Hub graph (the reference FVD).
#define I3D_BN_EPS 1e-3
// Shortest clip the network takes: the time axis must still be >= 2 at the
// final 2x7x7 'VALID' average pool.
#define I3D_MIN_FRAMES 9

typedef struct i3d_model i3d_model;

// Loads the weights; on a missing or malformed file dies with a message that
// names the file and how to make it (tools/convert_i3d.py).
i3d_model *i3d_load(const char *path);
// Same with another BatchNorm epsilon (1e-5 reproduces the PyTorch port of
// VideoGPT / TATS / SyncVP bit for bit rather than the TF reference).
i3d_model *i3d_load_eps(const char *path, double bn_eps);
void i3d_free(i3d_model *m);
// video: n clips (n, T, H, W, 3) with values in [0, 1] (channel-last, like
// the metric files), T >= I3D_MIN_FRAMES. Applies the preprocessing of the
// VideoGPT FVD code (i3d_preprocess to 224) and writes logits (n, 400). The
// values are used as they are: callers that want the reference's uint8
// quantisation round the frames first. One clip at a time; runs in
// inference mode in ctx (reset before returning).
void i3d_logits(i3d_model *m, vp_ctx *ctx, const float *video, int64_t n, int64_t T, int64_t H,
                int64_t W, float *logits);

// The pieces of i3d_logits, exposed for tests and other input pipelines.
//
// One clip (T, H, W, 3) in [0, 1] -> out (3, T, res, res) in [-1, 1], as
// VideoGPT's preprocess does it: the shorter side is resized to res and the
// longer one to ceil(side * res / shorter) with bilinear interpolation
// (F.interpolate, align_corners=False, no antialiasing), then the centre
// res x res crop (start (side - res) / 2, rounded down), then 2 v - 1.
void i3d_preprocess(const float *video, int64_t T, int64_t H, int64_t W, int64_t res, float *out);
// One preprocessed clip x (3, T, H, W) in [-1, 1] -> logits (400). Any size
// for which the network's shapes work: T >= 9 and H, W in [193, 224] (the
// final map before the 7x7 average pool must be 7x7). Resets ctx.
void i3d_forward_raw(i3d_model *m, vp_ctx *ctx, const float *x, int64_t T, int64_t H, int64_t W,
                     float *logits);

#endif
