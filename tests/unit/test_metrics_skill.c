// test_metrics_skill.c: SEVIR hit / miss / false-alarm counts and scores
// (src/eval/skill.c) against the spec's table and NumPy counts (goldens):
// counts must be exact.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/skill.h"
#include "harness.h"
#include "metrics_testutil.h"

static void test_spec_table(void) {
  const float t[8] = {0, 20, 80, 140, 200, 230, 255, 160}, p[8] = {20, 10, 90, 120, 60, 250, 181, 159};
  const int64_t H[6] = {6, 5, 3, 2, 2, 1}, M[6] = {1, 1, 2, 2, 1, 1}, F[6] = {1, 0, 0, 0, 0, 0};
  const double CSI[6] = {0.75, 5.0 / 6, 0.6, 0.5, 2.0 / 3, 0.5};
  // The spec's table counts every pixel (no exclusion), on codes (L = 255)
  // and on codes / 255 (L = 1).
  for (int scaled = 0; scaled < 2; scaled++) {
    float ts[8], ps[8];
    for (int i = 0; i < 8; i++) {
      ts[i] = scaled ? t[i] / 255.f : t[i];
      ps[i] = scaled ? p[i] / 255.f : p[i];
    }
    skill_counts c;
    memset(&c, 0, sizeof(c));
    skill_count(ps, ts, 8, scaled ? 1.0 : 255.0, -1, &c);
    for (int k = 0; k < SKILL_NTHRESH; k++) {
      th_check(c.hits[k] == H[k] && c.misses[k] == M[k] && c.fas[k] == F[k],
               "%s, threshold %d: h/m/f %lld/%lld/%lld, want %lld/%lld/%lld", scaled ? "L = 1" : "L = 255",
               skill_thresholds[k], (long long)c.hits[k], (long long)c.misses[k], (long long)c.fas[k],
               (long long)H[k], (long long)M[k], (long long)F[k]);
      th_check(fabs(skill_csi(c.hits[k], c.misses[k], c.fas[k]) - CSI[k]) < 1e-15, "CSI at %d = %.6f",
               skill_thresholds[k], skill_csi(c.hits[k], c.misses[k], c.fas[k]));
    }
  }
  th_check(fabs(skill_pod(6, 1, 1) - 6.0 / 7) < 1e-15 && fabs(skill_far(6, 1, 1) - 1.0 / 7) < 1e-15 &&
               fabs(skill_bias(6, 1, 1) - 1.0) < 1e-15,
           "threshold 16: POD 0.857143, FAR 0.142857, BIAS 1");
  th_check(isnan(skill_pod(0, 0, 3)) && isnan(skill_far(0, 4, 0)) && isnan(skill_csi(0, 0, 0)) &&
               isnan(skill_bias(0, 0, 2)),
           "zero denominators give NaN (null in the JSON)");
  // Excluding the target's 255 pixel drops its hit at 16..181 and its miss at 219.
  skill_counts c;
  memset(&c, 0, sizeof(c));
  skill_count(p, t, 8, 255.0, 255, &c);
  th_check(c.hits[0] == 5 && c.misses[5] == 0 && c.hits[5] == 1, "255 excluded: hits@16 %lld, misses@219 %lld",
           (long long)c.hits[0], (long long)c.misses[5]);
  // Non-finite values are not events.
  const float tn[2] = {NAN, 200}, pn[2] = {200, INFINITY};
  memset(&c, 0, sizeof(c));
  skill_count(pn, tn, 2, 255.0, 255, &c);
  th_check(c.hits[0] == 0 && c.misses[0] == 1 && c.fas[0] == 1, "NaN / Inf count as 0 (Earthformer)");
}

static void test_goldens(void) {
  hid_t f = mt_open();
  int64_t n;
  float *p = mt_f32(f, "skill/pred", NULL, &n), *t = mt_f32(f, "skill/target", NULL, NULL);
  const char *tags[2] = {"255", "none"};
  const int ex[2] = {255, -1};
  for (int k = 0; k < 2; k++) {
    char a[64];
    snprintf(a, sizeof(a), "skill/hits_%s", tags[k]);
    int64_t *h = mt_i64(f, a, NULL);
    snprintf(a, sizeof(a), "skill/misses_%s", tags[k]);
    int64_t *m = mt_i64(f, a, NULL);
    snprintf(a, sizeof(a), "skill/fas_%s", tags[k]);
    int64_t *fa = mt_i64(f, a, NULL);
    skill_counts c;
    memset(&c, 0, sizeof(c));
    // In two pieces: counts add.
    skill_count(p, t, n / 3, 1.0, ex[k], &c);
    skill_count(p + n / 3, t + n / 3, n - n / 3, 1.0, ex[k], &c);
    int ok = 1;
    for (int j = 0; j < SKILL_NTHRESH; j++) ok &= c.hits[j] == h[j] && c.misses[j] == m[j] && c.fas[j] == fa[j];
    th_check(ok, "%lld random pixels, exclude %s: counts equal NumPy's (h@16 %lld vs %lld, f@219 %lld vs %lld)",
             (long long)n, tags[k], (long long)c.hits[0], (long long)h[0], (long long)c.fas[5], (long long)fa[5]);
    free(h);
    free(m);
    free(fa);
  }
  free(p);
  free(t);
  H5Fclose(f);
}

int main(void) {
  test_spec_table();
  test_goldens();
  return th_summary();
}
