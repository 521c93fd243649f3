// blas_core.h: make OpenBLAS use the kernels this CPU supports.
// Debian's OpenBLAS (0.3.21) is built with DYNAMIC_ARCH and picks its kernels
// from the CPU model number. It does not know newer Xeons, and virtual
// machines often hide the model; it then falls back to its oldest x86-64
// kernels (Prescott, SSE3), 2-4x slower than the AVX2 / AVX-512 ones the CPU
// actually has. blas_core_fix() redoes OpenBLAS's choice from the CPU's
// feature flags. It runs automatically before main() (a constructor in
// kernels/cpu/gemm.c, which every binary that multiplies matrices links).
#ifndef VP_BLAS_CORE_H
#define VP_BLAS_CORE_H

// Re-selects OpenBLAS's kernels when it picked a legacy set on a CPU with
// AVX2 / AVX-512. A user's own OPENBLAS_CORETYPE always wins, and
// VP_BLAS_CORE=keep turns the fix off. Idempotent; call before any BLAS work.
void blas_core_fix(void);
// Same, for programs that call it explicitly at the top of main().
void blas_core_select(int argc, char **argv);
// The kernel set OpenBLAS is using now (e.g. "SkylakeX").
const char *blas_core_name(void);

#endif
