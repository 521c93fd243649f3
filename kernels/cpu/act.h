// act.h: elementwise activation and softmax kernels, forward and backward.
// Forward kernels write y; backward kernels accumulate (+=) into dx. The
// references compute in double with libm; the fast kernels use a vectorisable
// exp (and erfc) so the loops compile to SIMD, and OpenMP over elements or
// rows. Kernels without a _ref twin are already plain loops and serve as both.
#ifndef VP_KERNELS_CPU_ACT_H
#define VP_KERNELS_CPU_ACT_H

#include <stdint.h>

// SiLU: y = x * sigmoid(x); backward from x.
void cpu_silu_fwd_ref(const float *x, float *y, int64_t n);
void cpu_silu_fwd(const float *x, float *y, int64_t n);
void cpu_silu_bwd_ref(const float *x, const float *dy, float *dx, int64_t n);
void cpu_silu_bwd(const float *x, const float *dy, float *dx, int64_t n);

// GELU: approx_tanh = 0: x * Phi(x) (erf form); 1: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void cpu_gelu_fwd_ref(const float *x, float *y, int64_t n, int approx_tanh);
void cpu_gelu_fwd(const float *x, float *y, int64_t n, int approx_tanh);
void cpu_gelu_bwd_ref(const float *x, const float *dy, float *dx, int64_t n, int approx_tanh);
void cpu_gelu_bwd(const float *x, const float *dy, float *dx, int64_t n, int approx_tanh);

// GEGLU: x (M, 2D) = [a | g] per row -> y (M, D) = a * gelu_erf(g).
void cpu_geglu_fwd_ref(const float *x, float *y, int64_t M, int64_t D);
void cpu_geglu_fwd(const float *x, float *y, int64_t M, int64_t D);
void cpu_geglu_bwd_ref(const float *x, const float *dy, float *dx, int64_t M, int64_t D);
void cpu_geglu_bwd(const float *x, const float *dy, float *dx, int64_t M, int64_t D);

// Leaky ReLU (ReLU is slope 0): y = x > 0 ? x : slope * x; backward from x
// (gradient slope at x <= 0, as PyTorch).
void cpu_leaky_relu_fwd(const float *x, float *y, int64_t n, float slope);
void cpu_leaky_relu_bwd(const float *x, const float *dy, float *dx, int64_t n, float slope);

// tanh and sigmoid; their backward kernels take the output y.
void cpu_tanh_fwd_ref(const float *x, float *y, int64_t n);
void cpu_tanh_fwd(const float *x, float *y, int64_t n);
void cpu_tanh_bwd(const float *y, const float *dy, float *dx, int64_t n);
void cpu_sigmoid_fwd_ref(const float *x, float *y, int64_t n);
void cpu_sigmoid_fwd(const float *x, float *y, int64_t n);
void cpu_sigmoid_bwd(const float *y, const float *dy, float *dx, int64_t n);

// Softmax over rows of D: x, y (M, D); backward from y: dx += y * (dy - sum(dy * y)).
void cpu_softmax_fwd_ref(const float *x, float *y, int64_t M, int64_t D);
void cpu_softmax_fwd(const float *x, float *y, int64_t M, int64_t D);
void cpu_softmax_bwd_ref(const float *y, const float *dy, float *dx, int64_t M, int64_t D);
void cpu_softmax_bwd(const float *y, const float *dy, float *dx, int64_t M, int64_t D);

#endif
