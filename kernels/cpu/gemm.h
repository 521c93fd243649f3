// gemm.h: single-precision matrix multiply, row-major.
//   C = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T
// A is (M, K) after op, B is (K, N) after op, C is (M, N); lda/ldb/ldc are
// row strides of the matrices as stored.
#ifndef VP_KERNELS_CPU_GEMM_H
#define VP_KERNELS_CPU_GEMM_H

#include <stdint.h>

// Plain triple loop; the reference every fast path is checked against.
void cpu_gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc);
// OpenBLAS sgemm (multi-threaded by OpenBLAS; do not call from inside an
// OpenMP parallel region).
void cpu_gemm_fast(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                   float *C, int64_t ldc);
// Dispatches on vp_use_ref_kernels.
void cpu_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
// Batched: count independent gemms with element strides sa, sb, sc between them.
void cpu_gemm_batched(int ta, int tb, int64_t count, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, int64_t sa, const float *B,
                      int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc, int64_t sc);

#endif
