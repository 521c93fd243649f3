// golden.h: reading PyTorch golden files (HDF5) written by tools/golden/.
// One file per generator module, <dir>/<module>.h5, with one group per case:
//   /<case>/in/<name>     inputs and parameters (float32, PyTorch layout)
//   /<case>/out/<name>    forward outputs
//   /<case>/gout/<name>   upstream gradient for each output
//   /<case>/grad/<name>   gradient of sum(out * gout) w.r.t. each input
//   attributes on /<case>: the op's integer / float arguments
// The directory is $VP_GOLDEN_DIR, else the committed tests/golden/.
#ifndef VP_GOLDEN_H
#define VP_GOLDEN_H

#include <stdint.h>

#include "core/tensor.h"

typedef struct golden golden;

golden *golden_open(const char *module);
void golden_close(golden *g);
const char *golden_dir(void);
int golden_has(golden *g, const char *path);
// Dataset at printf path as a new tensor in ctx (requires_grad = 0).
vp_tensor *golden_tensor(golden *g, vp_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Same into a malloc'd buffer; *numel gets the element count.
float *golden_read(golden *g, int64_t *numel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t golden_attr_int(golden *g, const char *group, const char *name);
double golden_attr_double(golden *g, const char *group, const char *name);
// Names of the cases (top-level groups), NULL-terminated, caller frees each and the array.
char **golden_cases(golden *g);

// Run one single-output golden case end to end: load the named inputs
// (in/<name>), mark those with a grad/<name> dataset as requiring grad, call
// f, compare f's output with out/y (tol_out), backpropagate gout/y and compare
// every grad/<name> (tol_grad). Runs once with the fast kernels and once with
// the reference kernels. Returns 1 if everything passed.
#include "harness.h"
int golden_run_case(golden *g, const char *cas, th_fn f, void *arg, const char *const *names,
                    int nin, double tol_out, double tol_grad);
#endif
