// harness.h: the minimal test harness every C test uses.
// Checks count passes and failures; th_summary() prints the closing line
// "N passed, N failed" and returns the exit status.
#ifndef VP_HARNESS_H
#define VP_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/tape.h"
#include "core/tensor.h"

extern int th_passed, th_failed;

void th_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// ||got - ref|| / max(||ref||, tiny) <= tol. Prints the error either way on failure.
double th_rel_err(const float *got, const float *ref, int64_t n);
int th_check_rel(const char *what, const float *got, const float *ref, int64_t n, double tol);
int th_summary(void);

// Deterministic test data (xorshift), independent of the project's RNG.
void th_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi);

// Finite-difference gradient check. f builds an output from the inputs; the
// check compares the tape gradient of sum(out * r) (r random) with central
// differences (step eps) for up to max_probe elements of every input that
// requires grad. Returns the worst relative error (|a-n| / max(1,|n|) scale).
typedef vp_tensor *(*th_fn)(vp_ctx *ctx, vp_tensor **in, void *arg);
double th_gradcheck(const char *what, th_fn f, void *arg, vp_tensor **in, int nin,
                    float eps, int max_probe, double tol);

#endif
