// blas_core.c: pick OpenBLAS kernels from CPU features (see blas_core.h).
#include "core/blas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/check.h"

const char *blas_core_name(void) { return openblas_get_corename(); }

// The best OpenBLAS kernel family the CPU's features allow, or NULL.
static const char *best_core(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
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

void blas_core_select(int argc, char **argv) {
  (void)argc;
  const char *keep = getenv("VP_BLAS_CORE");
  if (keep && strcmp(keep, "keep") == 0) return;
  if (getenv("OPENBLAS_CORETYPE")) return;  // the user's choice wins
  if (getenv("VP_BLAS_REEXEC")) return;     // already tried once: never loop
  const char *now = openblas_get_corename();
  const char *want = best_core();
  if (!now || !want || !is_legacy(now)) return;
  setenv("OPENBLAS_CORETYPE", want, 1);
  setenv("VP_BLAS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with the slow kernels, but say so.
  vp_warn("OpenBLAS picked its %s kernels; set OPENBLAS_CORETYPE=%s for 2-4x faster "
          "matrix products", now, want);
}
