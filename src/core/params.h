// params.h: the named parameter store.
// Every parameter of a model is declared with its PyTorch state_dict name and
// shape, then params_alloc() lays all of them out in one flat fp32 buffer in
// declaration order, with gradients in a twin buffer of the same layout. The
// optimizer, the all-reduce and the checkpoint all work on the flat buffers.
#ifndef VP_PARAMS_H
#define VP_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/check.h"
#include "core/tensor.h"

typedef struct vp_params {
  int n, cap;
  vp_tensor **t;          // declaration order
  size_t *offset;         // element offset of each tensor in the flat buffers
  float *data, *grad;     // flat buffers (64-byte aligned), NULL before alloc
  size_t numel;
} vp_params;

void params_init(vp_params *p);
void params_free(vp_params *p);
// Declare a parameter; name is printf-formatted. Its data pointer is set by
// params_alloc(). A duplicate name is an internal error.
vp_tensor *params_add(vp_params *p, int ndim, const int64_t *shape, const char *fmt, ...)
    VP_PRINTF(4, 5);
// Lay out and zero the flat buffers; point every tensor into them.
void params_alloc(vp_params *p);
vp_tensor *params_find(const vp_params *p, const char *name);
void params_zero_grad(vp_params *p);

#endif
