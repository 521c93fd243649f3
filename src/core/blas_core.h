// blas_core.h: make OpenBLAS use the kernels this CPU supports.
// Debian's OpenBLAS is built with DYNAMIC_ARCH and picks its kernels from the
// CPU model number. Virtual machines often hide that number, and OpenBLAS then
// falls back to its oldest x86-64 kernels (Prescott, SSE3), 2-4x slower than
// the AVX2/AVX-512 ones the CPU actually has. The choice is made when the
// library loads, before main(), so the only fix from inside the program is to
// set OPENBLAS_CORETYPE and re-execute once.
#ifndef VP_BLAS_CORE_H
#define VP_BLAS_CORE_H

// Call first thing in main(). Returns normally when nothing needs changing
// (or OPENBLAS_CORETYPE is already set by the user); otherwise re-executes
// the program with the same arguments and does not return. Set
// VP_BLAS_CORE=keep to disable.
void blas_core_select(int argc, char **argv);
// The kernel set OpenBLAS is using now (e.g. "SkylakeX").
const char *blas_core_name(void);

#endif
