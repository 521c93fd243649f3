// device.h: what the CUDA backend can see at run time.
// Compiled from kernels/cuda/device.cu when CUDA is on, and from
// src/core/device.c (which reports "built without CUDA") when it is off.
#ifndef VP_DEVICE_H
#define VP_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Number of usable CUDA devices; 0 with the reason in why (e.g. no driver, no
// GPU, or a build without CUDA).
int device_cuda_count(char *why, size_t why_len);
// Library versions compiled in and loaded (0 when absent): CUDA runtime
// (e.g. 13000), cuBLAS, cuDNN (e.g. 91900), NCCL (e.g. 22809).
void device_cuda_versions(int *cudart, int *cublas, int *cudnn, int *nccl);

#ifdef __cplusplus
}
#endif

#endif
