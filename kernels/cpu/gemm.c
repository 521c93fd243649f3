// gemm.c: reference and OpenBLAS matrix multiply (see gemm.h).
#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernel_mode.h"

#if defined(__x86_64__) && defined(__GNUC__)
// OpenBLAS 0.3.21 (Debian 12) does not recognise newer Xeons (family 6 model
// 207 here) and falls back to its SSE3 "Prescott" kernels, about 4x slower
// than its AVX-512 ones on the same machine. When that happened and the user
// chose no core (OPENBLAS_CORETYPE), redo OpenBLAS's choice with the kernels
// the CPU's features allow. This runs before main, so before any BLAS call.
// The weak references stay NULL with an OpenBLAS built without DYNAMIC_ARCH,
// which has no runtime choice to redo.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

__attribute__((constructor)) static void gemm_fix_openblas_core(void) {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE")) return;
  const char *core = openblas_get_corename();
  if (!core || strcmp(core, "Prescott") != 0) return;
  __builtin_cpu_init();
  const char *want = NULL;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    want = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
  if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}
#endif

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
