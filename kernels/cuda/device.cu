// device.cu: CUDA device discovery and library versions (see src/core/device.h).
// Without a GPU, cudaGetDeviceCount fails with "CUDA driver version is
// insufficient" or "no CUDA-capable device"; that is reported, not fatal, so
// CPU runs of a CUDA build work.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <stdio.h>

#include "core/device.h"

extern "C" int device_cuda_count(char *why, size_t why_len) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why && why_len) snprintf(why, why_len, "%s", cudaGetErrorString(e));
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  if (n == 0 && why && why_len) snprintf(why, why_len, "no CUDA device found");
  return n;
}

extern "C" void device_cuda_versions(int *cudart, int *cublas, int *cudnn, int *nccl) {
  *cudart = 0;
  if (cudaRuntimeGetVersion(cudart) != cudaSuccess) *cudart = CUDART_VERSION;
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    *cublas = major * 10000 + minor * 100 + patch;
  else
    *cublas = CUBLAS_VERSION;
  *cudnn = (int)cudnnGetVersion();
  *nccl = 0;
  if (ncclGetVersion(nccl) != ncclSuccess) *nccl = NCCL_VERSION_CODE;
}
