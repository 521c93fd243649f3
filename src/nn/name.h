// name.h: building the PyTorch state_dict names of nested modules.
// A module is declared with its full name prefix (for example
// "diffusion_model.input_blocks.1.0") and names its children below it.
#ifndef VP_NN_NAME_H
#define VP_NN_NAME_H

#include "core/check.h"

#define NN_NAME_MAX 256

// printf into buf (NN_NAME_MAX bytes) and return it; a name that does not
// fit is an internal error.
char *nn_name(char *buf, const char *fmt, ...) VP_PRINTF(2, 3);

#endif
