// tensor.h: the tensor type and the execution context ops run in.
// A tensor is a contiguous, row-major block (PyTorch's default layout) of up
// to 6 dims. Its struct and data live in an arena: parameters in the
// persistent one, activations in the per-step one. fp32 only for now; dtype
// and device fields leave room for bf16 and CUDA.
#ifndef VP_TENSOR_H
#define VP_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define VP_MAXDIM 6

typedef enum { VP_F32 = 0, VP_BF16 = 1 } vp_dtype;
typedef enum { VP_CPU = 0, VP_CUDA = 1 } vp_device;

typedef struct vp_tensor {
  float *data;            // numel floats (fp32)
  float *grad;            // same shape; NULL until backward first needs it
  int64_t shape[VP_MAXDIM];
  int ndim;
  uint8_t dtype;          // vp_dtype
  uint8_t device;         // vp_device
  uint8_t requires_grad;  // gradients flow into this tensor
  uint8_t is_param;       // grad points into the parameter store's buffer
  const char *name;       // parameter name (PyTorch state_dict key) or NULL
} vp_tensor;

struct vp_tape;

// Where ops allocate and whether they record for backward.
typedef struct vp_ctx {
  vp_arena act;           // activations, tape nodes, saved tensors; reset per step
  struct vp_tape *tape;   // NULL in inference mode
  int training;           // 1: record tape nodes for tensors that need grad
  vp_device device;
} vp_ctx;

void ctx_init(vp_ctx *ctx, size_t arena_block_bytes);
void ctx_free(vp_ctx *ctx);
// Training mode records a tape; inference mode records nothing.
void ctx_set_training(vp_ctx *ctx, int training);
// End of step: drop all activations and the tape.
void ctx_reset(vp_ctx *ctx);

int64_t tensor_numel(const vp_tensor *t);
// New activation tensor (uninitialised / zeroed) with the given shape.
vp_tensor *tensor_new(vp_ctx *ctx, int ndim, const int64_t *shape);
vp_tensor *tensor_zeros(vp_ctx *ctx, int ndim, const int64_t *shape);
// Convenience: tensor_newv(ctx, 3, B, C, N).
vp_tensor *tensor_newv(vp_ctx *ctx, int ndim, ...);
// Tensor in ctx's arena holding a copy of data (no grad).
vp_tensor *tensor_from(vp_ctx *ctx, int ndim, const int64_t *shape, const float *data);
// Gradient buffer of t, allocated zeroed in the activation arena on first use.
float *tensor_grad(vp_ctx *ctx, vp_tensor *t);
// Same shape?
int tensor_same_shape(const vp_tensor *a, const vp_tensor *b);
// "(2, 3, 4)" into buf.
const char *tensor_shape_str(const vp_tensor *t, char *buf, size_t n);

#endif
