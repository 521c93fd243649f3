// weights_h5.h: pretrained weights as named float32 tensors in an HDF5 file.
// The weight converters (tools/convert_lpips.py, tools/convert_i3d.py) write
// one root-level dataset per tensor, named by its PyTorch state_dict key
// (e.g. "Mixed_3b.b1b.conv3d.weight") in PyTorch's layout. A model declares
// the tensors it needs in a vp_params store under the same names and fills
// them from the file here. Every failure is a user error that names the file
// and says how to make it: a missing file, a tensor that is not in it, a
// tensor of another shape (expected vs found), or (strict loading) tensors
// in the file that the model does not know, i.e. a file made for another
// network.
#ifndef VP_MODELS_WEIGHTS_H5_H
#define VP_MODELS_WEIGHTS_H5_H

#include <stdint.h>

#include "core/params.h"

typedef struct weights_h5 weights_h5;

// Opens path for reading. what names the weights ("LPIPS (AlexNet v0.1)
// weights") and how says how to make the file ("tools/convert_lpips.py ...");
// both go into every error message about this file.
weights_h5 *weights_h5_open(const char *path, const char *what, const char *how);
void weights_h5_close(weights_h5 *f);
const char *weights_h5_path(const weights_h5 *f);
// 1 if the file has a root-level dataset of that name.
int weights_h5_has(weights_h5 *f, const char *name);
// Reads dataset `name` (any float type; converted to float32) into dst, which
// has the given shape.
void weights_h5_read(weights_h5 *f, const char *name, int ndim, const int64_t *shape, float *dst);
// Fills every tensor of p (params_alloc done) from the dataset of the same
// name. strict: a dataset in the file that p does not declare is an error too.
void weights_h5_load_params(weights_h5 *f, vp_params *p, int strict);
// Writes every tensor of p as a float32 dataset named after it, in
// declaration order, the layout the converters write (used by tests, and to
// save weights in the same format). format, if not NULL, goes into a string
// attribute "format" on the root group.
void weights_h5_save_params(const char *path, const vp_params *p, const char *format);

#endif
