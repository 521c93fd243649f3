// blas_core.c: pick OpenBLAS kernels from CPU features (see blas_core.h).
#include "core/blas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *blas_core_name(void) { return openblas_get_corename(); }

void blas_core_select(int argc, char **argv) {
  (void)argc;
  (void)argv;
  blas_core_fix();
}

#if defined(__x86_64__) && defined(__GNUC__)
// Present only in DYNAMIC_ARCH builds of OpenBLAS; weak so that other builds
// (which have no runtime choice to redo) still link.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

// The best OpenBLAS kernel family the CPU's features allow, or NULL.
static const char *best_core(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return NULL;
}

// OpenBLAS kernel families older than AVX2: if one of these was picked on a
// CPU with AVX2, the detection failed.
static int is_legacy(const char *name) {
  static const char *legacy[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                 "Atom", "Katmai", "Coppermine", "Northwood", "Banias",
                                 "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat",
                                 "Unknown", NULL};
  for (int i = 0; legacy[i]; i++)
    if (strcasecmp(name, legacy[i]) == 0) return 1;
  return 0;
}

void blas_core_fix(void) {
  const char *keep = getenv("VP_BLAS_CORE");
  if (keep && strcmp(keep, "keep") == 0) return;
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE")) return;
  const char *now = openblas_get_corename();
  const char *want = best_core();
  if (!now || !want || !is_legacy(now)) return;
  // OpenBLAS reads OPENBLAS_CORETYPE when it initialises; set it only for the
  // re-initialisation so child processes make their own choice.
  if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}
#else
void blas_core_fix(void) {}
#endif
