// lr_schedule.h: learning-rate schedules as pure functions of the step.
// lr_at(s, step) is the lr of the optimizer update that follows `step`
// completed updates (step 0 is the first update), i.e. what PyTorch's
// optimizer.param_groups[0]['lr'] holds after `step` calls of
// scheduler.step(). Being a pure function, a resumed run needs only the step
// count, never a scheduler state.
//
// With base lr L, warm-up length W, start factor f, cosine length T and floor
// eta_min (all closed forms, evaluated in double):
//   warmup(s)  = L * (f + (1 - f) * min(s, W) / W)          (W > 0; L when W == 0)
//                == torch LinearLR(start_factor=f, end_factor=1, total_iters=W)
//                for f > 0, and LambdaLR(lambda s: min(1, s / W)) for f == 0
//                (LinearLR's recursive form divides by zero at f == 0).
//   cosine(t)  = eta_min + (L - eta_min) * (1 + cos(pi * t / T)) / 2
//                == torch CosineAnnealingLR(T_max=T, eta_min) stepped once per
//                update. Past T it is periodic as in PyTorch (rises back to L
//                at t = 2T, ...) unless hold_after is set, which keeps eta_min
//                for every t >= T.
//   constant:       lr(s) = L
//   warmup:         lr(s) = warmup(s)         (L from step W on)
//   cosine:         lr(s) = cosine(s)
//   warmup_cosine:  lr(s) = warmup(s) for s < W, cosine(s - W) from then on
//                == torch SequentialLR([LinearLR(f, 1, W), CosineAnnealingLR(T,
//                eta_min)], milestones=[W]). T counts the cosine phase only:
//                to reach eta_min at total step N use T = N - W.
#ifndef VP_LR_SCHEDULE_H
#define VP_LR_SCHEDULE_H

#include <stdint.h>

typedef enum {
  VP_LR_CONSTANT = 0,
  VP_LR_WARMUP = 1,
  VP_LR_COSINE = 2,
  VP_LR_WARMUP_COSINE = 3,
} vp_lr_kind;

typedef struct vp_lr_schedule {
  vp_lr_kind kind;
  double base_lr;        // L
  int64_t warmup_steps;  // W (warmup, warmup_cosine)
  double warmup_start;   // f in [0, 1]: lr(0) = f * L
  int64_t cosine_steps;  // T >= 1 (cosine, warmup_cosine)
  double eta_min;        // cosine floor
  int hold_after;        // 1: lr stays eta_min after the cosine phase ends
} vp_lr_schedule;

// Schedule constructors with the fields above (other fields zero).
vp_lr_schedule lr_constant(double base_lr);
vp_lr_schedule lr_warmup(double base_lr, int64_t warmup_steps, double warmup_start);
vp_lr_schedule lr_cosine(double base_lr, int64_t cosine_steps, double eta_min);
vp_lr_schedule lr_warmup_cosine(double base_lr, int64_t warmup_steps, double warmup_start,
                                int64_t cosine_steps, double eta_min);

// Dies with a message naming the bad field when the schedule is invalid
// (negative or non-finite lr, f outside [0, 1], T < 1, W < 0, ...).
void lr_schedule_check(const vp_lr_schedule *s);
// The lr for the update after `step` completed updates (step >= 0).
double lr_at(const vp_lr_schedule *s, int64_t step);

// "constant", "warmup", "cosine", "warmup_cosine".
const char *lr_kind_name(vp_lr_kind k);
// Returns 0 and sets *k on a known name, -1 otherwise.
int lr_kind_parse(const char *name, vp_lr_kind *k);

#endif
