// skill.h: SEVIR categorical skill scores (Earthformer's SEVIRSkillScore,
// mode "0": pooled over every pixel, frame, clip, sample and rank).
// Values in [0, L] map to VIL codes v * 255 / L; a pixel is an event at
// threshold T when its code >= T - 1e-3 (the slack absorbs float32 rounding
// of codes stored as k/255, so they count as k). Target pixels whose code
// is the excluded value (255 = no data by default; rounded to the nearest
// code) are skipped; a non-finite value is not an event (Earthformer sets
// NaN to 0). Counts are int64 hits h, misses m, false alarms f, and
//   POD = h/(h+m), FAR = f/(h+f) (= 1 - success ratio), CSI = h/(h+m+f),
//   BIAS = (h+f)/(h+m)
// exactly, without Earthformer's eps; null in the JSON when the
// denominator is 0.
#ifndef VP_EVAL_SKILL_H
#define VP_EVAL_SKILL_H

#include <stdint.h>

#include "eval/metric.h"

typedef struct skill_counts {
  int64_t hits[SKILL_NTHRESH], misses[SKILL_NTHRESH], fas[SKILL_NTHRESH];
} skill_counts;

// Adds the counts of n values of pred against target (same layout). exclude:
// the target code to skip, or -1 for none.
void skill_count(const float *pred, const float *target, int64_t n, double L, int exclude,
                 skill_counts *acc);
double skill_pod(int64_t h, int64_t m, int64_t f);
double skill_far(int64_t h, int64_t m, int64_t f);
double skill_csi(int64_t h, int64_t m, int64_t f);
double skill_bias(int64_t h, int64_t m, int64_t f);

#endif
