// kernel_mode.c: reference-vs-fast kernel switch (see kernel_mode.h).
#include "core/kernel_mode.h"

#include <stdlib.h>
#include <string.h>

int vp_use_ref_kernels = 0;

void kernel_mode_init_from_env(void) {
  const char *e = getenv("VP_REF_KERNELS");
  vp_use_ref_kernels = (e && *e && strcmp(e, "0") != 0);
}

void kernel_mode_set_ref(int on) { vp_use_ref_kernels = on; }
