// metric.c: the metric registry, the per-clip sample reduction and the JSON
// writer shared by the metric families (metric.h).
#include "eval/metric.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

const int skill_thresholds[SKILL_NTHRESH] = {16, 74, 133, 160, 181, 219};

const metric_family *const metric_families[] = {
    &metric_pixel, &metric_ssim,  &metric_lpips, &metric_masked, &metric_crps,
    &metric_skill, &metric_fvd,   &metric_fd,    NULL,
};

double metric_reduce_samples(const double *v, int64_t S, int best, int higher_better) {
  VP_ASSERT(S >= 1);
  if (!best) {
    double s = 0.0;
    for (int64_t i = 0; i < S; i++) s += v[i];
    return s / (double)S;
  }
  double b = v[0];
  for (int64_t i = 1; i < S; i++) {
    // A NaN sample never wins over a number; the comparisons are false for it.
    if (isnan(b) || (higher_better ? v[i] > b : v[i] < b)) b = v[i];
  }
  return b;
}

// ---- JSON ----

void json_format_double(double v, char *buf, size_t n) {
  if (!isfinite(v)) {
    snprintf(buf, n, "null");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  // Keep it a JSON number that reads as a double ("1" is fine, "1e+20" too).
}

static void json_key(json_out *j, const char *key) {
  fprintf(j->f, "%s\n  \"%s\": ", j->n ? "," : "", key);
  j->n++;
}

void json_begin(json_out *j, FILE *f) {
  j->f = f;
  j->n = 0;
  if (f) fputc('{', f);
}

void json_num(json_out *j, const char *key, double v) {
  if (!j->f) return;
  char buf[64];
  json_format_double(v, buf, sizeof(buf));
  json_key(j, key);
  fputs(buf, j->f);
}

void json_int(json_out *j, const char *key, int64_t v) {
  if (!j->f) return;
  json_key(j, key);
  fprintf(j->f, "%lld", (long long)v);
}

void json_str(json_out *j, const char *key, const char *v) {
  if (!j->f) return;
  json_key(j, key);
  fputc('"', j->f);
  for (const char *p = v; *p; p++) {
    if (*p == '"' || *p == '\\') fputc('\\', j->f);
    if ((unsigned char)*p < 0x20)
      fprintf(j->f, "\\u%04x", (unsigned)(unsigned char)*p);
    else
      fputc(*p, j->f);
  }
  fputc('"', j->f);
}

void json_end(json_out *j) {
  if (!j->f) return;
  fputs(j->n ? "\n}\n" : "}\n", j->f);
  fflush(j->f);
}
