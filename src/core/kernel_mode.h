// kernel_mode.h: which CPU kernels the op layer dispatches to.
// Every op has a slow, obvious reference kernel and, where it matters, a fast
// one. The fast one is the default; VP_REF_KERNELS=1 in the environment (or
// kernel_mode_set_ref(1)) routes every op through the references, so the
// whole test suite can check one against the other.
#ifndef VP_KERNEL_MODE_H
#define VP_KERNEL_MODE_H

extern int vp_use_ref_kernels;
void kernel_mode_init_from_env(void);
void kernel_mode_set_ref(int on);

#endif
