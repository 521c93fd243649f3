// device.c: the no-CUDA side of device.h (the CUDA side is kernels/cuda/device.cu).
#include "core/device.h"

#include <stdio.h>

#ifndef VP_HAVE_CUDA
int device_cuda_count(char *why, size_t why_len) {
  if (why && why_len) snprintf(why, why_len, "vpcast was built without CUDA (configure with -DVP_CUDA=ON)");
  return 0;
}

void device_cuda_versions(int *cudart, int *cublas, int *cudnn, int *nccl) {
  *cudart = *cublas = *cudnn = *nccl = 0;
}
#else
// Keep this translation unit non-empty in CUDA builds (ISO C forbids empty ones).
typedef int device_c_unused;
#endif
