// cmd_data_stats.c: `vpcast data stats CONFIG [key=value ...]`: clip count,
// clip shape and raw-value statistics of a data config, as one JSON line:
//   {"clips": N, "frames": T, "height": H, "width": W, "modalities": [{"name":
//    ..., "channels": C, "min": ..., "max": ..., "mean": ..., "valid_fraction":
//    ...}, ...]}
// min / max / mean are over the valid raw values in physical units of every
// time step the split uses (each source's raw_stats); valid_fraction is valid
// / all raw values; min, max and mean are null when nothing is valid.
//
// Runs under mpirun / srun, with the same output on any number of ranks.
// The split is cut into STATS_PARTS parts, a number that does not depend on
// the rank count; part p is raw_stats(source, p, STATS_PARTS) and rank r
// computes the parts p = r, r + size, ... . min, max and the counts reduce
// exactly; the per-part sums are all-reduced into one slot per part (one
// rank contributes to each slot, so no rounding happens there) and summed in
// part order on every rank, so the mean's rounding is the same whatever the
// number of ranks. Numbers are printed with the fewest digits that read back
// as the same double.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "dist/comm.h"
#include "io/source.h"

#define STATS_PARTS 256

const vp_option opts_data_stats_cmd[] = {
    OPT_INCLUDE_TABLE(opts_data),
    OPT_END,
};

// Shortest "%.Ng" that parses back to x, without an exponent where a plain
// decimal is as exact (80, not 8e+01); "null" for non-finite x.
static void json_number(FILE *f, double x) {
  if (!isfinite(x)) {
    fputs("null", f);
    return;
  }
  const int plain_ok = x == 0 || (fabs(x) >= 1e-4 && fabs(x) < 1e17);
  char buf[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x && (!plain_ok || !strchr(buf, 'e'))) break;
  }
  fputs(buf, f);
}

// Names are ours or the config's; escape what JSON requires anyway.
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

int cmd_data_stats(const cli_invocation *inv) {
  vp_comm comm;
  comm_init(&comm, NULL, NULL);
  vp_config *cfg;
  int rc = cli_load_config(inv, inv->args.pos[0], opts_data_stats_cmd, &cfg);
  if (rc) {
    comm_finalize(&comm);
    return rc;
  }
  if (strcmp(cfg_str(cfg, "data.source"), "synth") != 0 && cfg_str(cfg, "data.path")[0] == 0) {
    fprintf(stderr, "vpcast: error: data.source = %s reads files: set data.path in %s or as data.path=...\n",
            cfg_str(cfg, "data.source"), inv->args.pos[0]);
    cfg_free(cfg);
    comm_finalize(&comm);
    return CLI_EXIT_USAGE;
  }
  vp_source *src = source_open(cfg);
  const int nmod = src->nmod;
  double *sums = vp_calloc((size_t)STATS_PARTS * nmod, sizeof(double));  // (parts, nmod)
  double mn[VP_MAX_MOD], mx[VP_MAX_MOD];
  int64_t cnt[2 * VP_MAX_MOD];  // valid, total per modality
  for (int m = 0; m < nmod; m++) {
    mn[m] = INFINITY;
    mx[m] = -INFINITY;
    cnt[2 * m] = cnt[2 * m + 1] = 0;
  }
  for (int p = comm.rank; p < STATS_PARTS; p += comm.size) {
    vp_raw_stats st[VP_MAX_MOD];
    raw_stats_init(st, nmod);
    src->ops->raw_stats(src, p, STATS_PARTS, st);
    for (int m = 0; m < nmod; m++) {
      sums[(size_t)p * nmod + m] = st[m].sum;
      if (st[m].valid > 0) {
        mn[m] = fmin(mn[m], st[m].min);
        mx[m] = fmax(mx[m], st[m].max);
      }
      cnt[2 * m] += st[m].valid;
      cnt[2 * m + 1] += st[m].total;
    }
  }
  comm_allreduce_sum_f64(&comm, sums, (size_t)STATS_PARTS * nmod);
  comm_allreduce_min_f64(&comm, mn, (size_t)nmod);
  comm_allreduce_max_f64(&comm, mx, (size_t)nmod);
  comm_allreduce_sum_i64(&comm, cnt, (size_t)2 * nmod);

  if (comm.rank == 0) {
    printf("{\"clips\": %lld, \"frames\": %d, \"height\": %d, \"width\": %d, \"modalities\": [",
           (long long)source_count(src), src->T, src->H, src->W);
    for (int m = 0; m < nmod; m++) {
      double sum = 0;
      for (int p = 0; p < STATS_PARTS; p++) sum += sums[(size_t)p * nmod + m];
      const int64_t valid = cnt[2 * m], total = cnt[2 * m + 1];
      printf("%s{\"name\": ", m ? ", " : "");
      json_string(stdout, src->mod[m].name);
      printf(", \"channels\": %d, \"min\": ", src->mod[m].channels);
      json_number(stdout, valid ? mn[m] : NAN);
      printf(", \"max\": ");
      json_number(stdout, valid ? mx[m] : NAN);
      printf(", \"mean\": ");
      json_number(stdout, valid ? sum / (double)valid : NAN);
      printf(", \"valid_fraction\": ");
      json_number(stdout, total ? (double)valid / (double)total : NAN);
      printf("}");
    }
    printf("]}\n");
  }
  free(sums);
  source_close(src);
  cfg_free(cfg);
  int out_rc = CLI_EXIT_OK;
  if (fflush(stdout) != 0) {
    perror("vpcast: writing the statistics to stdout");
    out_rc = CLI_EXIT_ERROR;
  }
  comm_finalize(&comm);
  return out_rc;
}
