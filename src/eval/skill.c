// skill.c: SEVIR hit / miss / false-alarm counting (skill.h) and the
// pod / far / csi / bias metric family. Every sample of a clip counts as a
// forecast in both sample modes (pooled counts have no per-clip "best").
#include "eval/skill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#define SLACK 1e-3

void skill_count(const float *pred, const float *target, int64_t n, double L, int exclude,
                 skill_counts *acc) {
  const double k = 255.0 / L;
  for (int64_t i = 0; i < n; i++) {
    double tc = (double)target[i] * k, pc = (double)pred[i] * k;
    if (exclude >= 0 && isfinite(tc) && fabs(tc - (double)exclude) < 0.5) continue;
    if (!isfinite(tc)) tc = 0.0;
    if (!isfinite(pc)) pc = 0.0;
    for (int j = 0; j < SKILL_NTHRESH; j++) {
      const double thr = (double)skill_thresholds[j] - SLACK;
      const int te = tc >= thr, pe = pc >= thr;
      acc->hits[j] += te && pe;
      acc->misses[j] += te && !pe;
      acc->fas[j] += !te && pe;
    }
  }
}

double skill_pod(int64_t h, int64_t m, int64_t f) {
  (void)f;
  return h + m ? (double)h / (double)(h + m) : NAN;
}
double skill_far(int64_t h, int64_t m, int64_t f) {
  (void)m;
  return h + f ? (double)f / (double)(h + f) : NAN;
}
double skill_csi(int64_t h, int64_t m, int64_t f) {
  return h + m + f ? (double)h / (double)(h + m + f) : NAN;
}
double skill_bias(int64_t h, int64_t m, int64_t f) {
  return h + m ? (double)(h + f) / (double)(h + m) : NAN;
}

// ---- the family: row = hits[6], misses[6], fas[6] (exact in a double) ----

static const char *const skill_keys[] = {"pod", "far", "csi", "bias", NULL};

static int64_t skill_nstats(const metric_env *e) {
  (void)e;
  return 3 * SKILL_NTHRESH;
}

static void skill_accumulate(const metric_env *e, const metric_clip *clip, double *row) {
  const int64_t S = e->S, fsz = e->H * e->W * e->C, nf = S * e->T;
  skill_counts *part = vp_calloc((size_t)nf, sizeof(skill_counts));
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < nf; f++)
    skill_count(clip->pred + f * fsz, clip->target + (f % e->T) * fsz, fsz, e->L, e->skill_exclude,
                &part[f]);
  for (int j = 0; j < SKILL_NTHRESH; j++) {
    int64_t h = 0, m = 0, fa = 0;
    for (int64_t f = 0; f < nf; f++) {
      h += part[f].hits[j];
      m += part[f].misses[j];
      fa += part[f].fas[j];
    }
    row[j] = (double)h;
    row[SKILL_NTHRESH + j] = (double)m;
    row[2 * SKILL_NTHRESH + j] = (double)fa;
  }
  free(part);
}

static void skill_finalize(const metric_env *e, const double *rows, unsigned want, json_out *j) {
  int64_t h[SKILL_NTHRESH] = {0}, m[SKILL_NTHRESH] = {0}, f[SKILL_NTHRESH] = {0};
  const int64_t K = 3 * SKILL_NTHRESH;
  for (int64_t i = 0; i < e->N; i++) {
    for (int t = 0; t < SKILL_NTHRESH; t++) {
      h[t] += (int64_t)rows[i * K + t];
      m[t] += (int64_t)rows[i * K + SKILL_NTHRESH + t];
      f[t] += (int64_t)rows[i * K + 2 * SKILL_NTHRESH + t];
    }
  }
  double (*const fn[4])(int64_t, int64_t, int64_t) = {skill_pod, skill_far, skill_csi, skill_bias};
  for (int k = 0; k < 4; k++) {
    if (!(want & (1u << k))) continue;
    for (int t = 0; t < SKILL_NTHRESH; t++) {
      char key[32];
      snprintf(key, sizeof(key), "%s_%d", skill_keys[k], skill_thresholds[t]);
      json_num(j, key, fn[k](h[t], m[t], f[t]));
    }
  }
  // The pooled counts themselves, so tables can be recomputed or merged.
  if (want) {
    for (int t = 0; t < SKILL_NTHRESH; t++) {
      char key[32];
      snprintf(key, sizeof(key), "hits_%d", skill_thresholds[t]);
      json_int(j, key, h[t]);
      snprintf(key, sizeof(key), "misses_%d", skill_thresholds[t]);
      json_int(j, key, m[t]);
      snprintf(key, sizeof(key), "false_alarms_%d", skill_thresholds[t]);
      json_int(j, key, f[t]);
    }
  }
}

const metric_family metric_skill = {
    .name = "skill", .keys = skill_keys, .nstats = skill_nstats,
    .accumulate = skill_accumulate, .finalize = skill_finalize, .needs_finite = 0,
};
