// gemm.c: reference and OpenBLAS matrix multiply (see gemm.h).
#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include "core/blas_core.h"
#include "core/kernel_mode.h"

// Before main: make OpenBLAS use the kernels this CPU has (blas_core.h). It
// lives here because every binary that multiplies matrices links this file.
__attribute__((constructor)) static void gemm_blas_core_fix(void) { blas_core_fix(); }

void cpu_gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
#pragma omp parallel for
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; k++) {
        float a = ta ? A[k * lda + i] : A[i * lda + k];
        float b = tb ? B[j * ldb + k] : B[k * ldb + j];
        acc += (double)a * b;
      }
      float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
      C[i * ldc + j] = alpha * (float)acc + prev;
    }
  }
}

void cpu_gemm_fast(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                   float *C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
              C, (blasint)ldc);
}

void cpu_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (vp_use_ref_kernels)
    cpu_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cpu_gemm_fast(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void cpu_gemm_batched(int ta, int tb, int64_t count, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, int64_t sa, const float *B,
                      int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc, int64_t sc) {
  for (int64_t i = 0; i < count; i++)
    cpu_gemm(ta, tb, M, N, K, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * sc, ldc);
}
