// cmd_ckpt.c: `vpcast ckpt info FILE` and `vpcast ckpt diff A B`.
// info prints what a checkpoint holds (meta, step, world size, parameter
// count, the resume state) and verifies that it is complete: every
// attribute, the same tensors with the same shapes in /params, /ema,
// /optim/m and /optim/v, and every checksum. Exit 0 when complete, 1 when not.
// diff compares two checkpoints tensor by tensor: with --tol 0 (the
// default) they must be bit-identical, state and step included (exact
// resume); with --tol T each group's relative L2 difference must be at most
// T (data-parallel equivalence across world sizes). Exit 0 when they match,
// 1 when they do not.
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "cli/cli.h"
#include "core/check.h"

const vp_option opts_ckpt_info[] = {
    {.key = "config", .type = OPT_BOOL, .def = "false", .flag = "--config",
     .help = "also print the config (YAML) the checkpoint was trained with"},
    OPT_END,
};

const vp_option opts_ckpt_diff[] = {
    {.key = "tol", .type = OPT_FLOAT, .def = "0", .range = "[0, inf)", .flag = "--tol", .metavar = "T",
     .help = "0: bit-identical tensors and state required; > 0: relative L2 difference per group at most T"},
    {.key = "groups", .type = OPT_STRING_LIST, .def = "[params, ema, optim/m, optim/v]", .flag = "--groups",
     .metavar = "LIST", .help = "tensor groups to compare (params, ema, optim/m, optim/v)"},
    OPT_END,
};

int cmd_ckpt_info(const cli_invocation *inv) {
  vp_config *cfg = NULL;
  int rc = cli_load_config(inv, NULL, opts_ckpt_info, &cfg);
  if (rc != CLI_EXIT_OK) return rc;
  const char *path = inv->args.pos[0];
  char why[1024];
  vp_ckpt_file *f = ckpt_open(path, why, sizeof why);
  if (!f) {
    fprintf(stderr, "vpcast: error: %s\n", why);
    cfg_free(cfg);
    return CLI_EXIT_ERROR;
  }
  ckpt_close(f);
  int64_t tensors = 0, numel = 0;
  // Verify first: a file missing its header still gets a useful report.
  FILE *problems = tmpfile();
  const int nprob = ckpt_verify(path, problems ? problems : stderr, &tensors, &numel);
  printf("checkpoint: %s\n", path);
  if (nprob == 0) {
    vp_ckpt_meta m;
    vp_ckpt_state s;
    ckpt_read_header(path, &m, &s);
    printf("format: %s version %d\n", CKPT_FORMAT, CKPT_VERSION);
    printf("step: %" PRId64 "\n", m.step);
    printf("world size: %d\n", m.world_size);
    printf("model: %s\n", m.model);
    printf("stage: %s\n", m.stage[0] ? m.stage : "-");
    printf("git: %s\n", m.git);
    printf("threads per rank: %d\ndevice: %s\n", m.threads, m.device);
    printf("parameters: %" PRId64 " in %" PRId64 " tensors (%.1f MB)\n", numel, tensors, (double)numel * 4e-6);
    printf("ema: %s\n", m.has_ema ? "yes" : "no");
    printf("state: data epoch %" PRId64 ", cursor %" PRId64 "; seed %" PRIu64 "; lr step %" PRId64
           "; optimizer step %" PRId64 "; ema updates %" PRId64 "; non-finite steps in a row %" PRId64
           ", skipped %" PRId64 "; global batch %" PRId64 ", grad accum %" PRId64 "\n",
           s.data_epoch, s.data_cursor, s.seed, s.lr_step, s.optim_t, s.ema_updates, s.nan_in_row, s.nan_skipped,
           s.global_batch, s.grad_accum);
    printf("complete: yes (every tensor present with its shape; checksums verified)\n");
    if (cfg_bool(cfg, "config")) printf("config:\n%s", m.config ? m.config : "");
    ckpt_meta_free(&m);
  } else {
    printf("complete: no (%d problem%s)\n", nprob, nprob == 1 ? "" : "s");
    if (problems) {
      rewind(problems);
      char line[2048];
      while (fgets(line, sizeof line, problems)) fputs(line, stdout);
    }
  }
  if (problems) fclose(problems);
  cfg_free(cfg);
  fflush(stdout);
  return nprob == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

// Compares one group of A and B; returns 1 when it passes.
static int diff_group(vp_ckpt_file *a, vp_ckpt_file *b, const char *group, double tol) {
  int na = 0, nb = 0;
  char **an = ckpt_names(a, group, &na), **bn = ckpt_names(b, group, &nb);
  int ok = 1;
  if (na < 0 || nb < 0) {
    printf("%s: %s\n", group, na < 0 && nb < 0 ? "absent in both" : na < 0 ? "absent in A" : "absent in B");
    ok = na < 0 && nb < 0;
    goto out;
  }
  if (na != nb) {
    printf("%s: %d tensors in A, %d in B\n", group, na, nb);
    ok = 0;
    goto out;
  }
  double sq_diff = 0, sq_ref = 0, max_abs = 0;
  int64_t ndiff = 0, n = 0;
  char worst[512] = "";
  double worst_rel = 0;
  for (int i = 0; i < na; i++) {
    if (strcmp(an[i], bn[i]) != 0) {
      printf("%s: A has %s where B has %s\n", group, an[i], bn[i]);
      ok = 0;
      goto out;
    }
    int da = 0, db = 0;
    int64_t sa[8], sb[8];
    float *xa = NULL, *xb = NULL;
    char why[1024];
    if (ckpt_read_dataset(a, group, an[i], &da, sa, &xa, NULL, why, sizeof why) != 0 ||
        ckpt_read_dataset(b, group, bn[i], &db, sb, &xb, NULL, why, sizeof why) != 0) {
      printf("%s: %s\n", group, why);
      free(xa);
      ok = 0;
      goto out;
    }
    int same = da == db;
    int64_t m = 1;
    for (int d = 0; same && d < da; d++) same = sa[d] == sb[d], m *= sa[d];
    if (!same) {
      printf("%s: %s has different shapes\n", group, an[i]);
      free(xa);
      free(xb);
      ok = 0;
      goto out;
    }
    double t_diff = 0, t_ref = 0;
    for (int64_t k = 0; k < m; k++) {
      if (memcmp(&xa[k], &xb[k], sizeof(float)) != 0) ndiff++;
      double d = (double)xa[k] - (double)xb[k];
      if (!isfinite(d)) d = INFINITY;
      t_diff += d * d;
      t_ref += (double)xa[k] * (double)xa[k];
      if (fabs(d) > max_abs) max_abs = fabs(d);
    }
    double rel = sqrt(t_diff) / fmax(sqrt(t_ref), 1e-30);
    if (t_diff > 0 && rel > worst_rel) {
      worst_rel = rel;
      snprintf(worst, sizeof worst, "%s", an[i]);
    }
    sq_diff += t_diff;
    sq_ref += t_ref;
    n += m;
    free(xa);
    free(xb);
  }
  {
    const double rel = sqrt(sq_diff) / fmax(sqrt(sq_ref), 1e-30);
    ok = tol == 0 ? ndiff == 0 : rel <= tol;
    printf("%s: %d tensors, %" PRId64 " values, %" PRId64 " differ in their bits; max |A-B| %.3g, relative L2 %.3g%s%s%s -> %s\n",
           group, na, n, ndiff, max_abs, rel, worst[0] ? " (worst: " : "", worst, worst[0] ? ")" : "",
           ok ? "match" : "DIFFER");
  }
out:
  if (an) ckpt_names_free(an, na);
  if (bn) ckpt_names_free(bn, nb);
  return ok;
}

int cmd_ckpt_diff(const cli_invocation *inv) {
  vp_config *cfg = NULL;
  int rc = cli_load_config(inv, NULL, opts_ckpt_diff, &cfg);
  if (rc != CLI_EXIT_OK) return rc;
  const char *pa = inv->args.pos[0], *pb = inv->args.pos[1];
  const double tol = cfg_float(cfg, "tol");
  int ng = 0;
  char *const *groups = cfg_str_list(cfg, "groups", &ng);
  for (int g = 0; g < ng; g++)
    if (strcmp(groups[g], "params") && strcmp(groups[g], "ema") && strcmp(groups[g], "optim/m") &&
        strcmp(groups[g], "optim/v")) {
      fprintf(stderr, "vpcast: error: --groups: unknown group '%s'; use params, ema, optim/m, optim/v\n", groups[g]);
      cfg_free(cfg);
      return CLI_EXIT_USAGE;
    }
  char why[1024];
  vp_ckpt_file *a = ckpt_open(pa, why, sizeof why);
  vp_ckpt_file *b = a ? ckpt_open(pb, why, sizeof why) : NULL;
  if (!a || !b) {
    fprintf(stderr, "vpcast: error: %s\n", why);
    ckpt_close(a);
    cfg_free(cfg);
    return CLI_EXIT_ERROR;
  }
  printf("A: %s\nB: %s\n", pa, pb);
  int ok = 1;
  for (int g = 0; g < ng; g++) ok &= diff_group(a, b, groups[g], tol);
  ckpt_close(a);
  ckpt_close(b);
  // The resume state: part of the match only when bit-identity is asked for
  // (runs on different world sizes differ in cursor and world size).
  vp_ckpt_meta ma, mb;
  vp_ckpt_state sa, sb;
  ckpt_read_header(pa, &ma, &sa);
  ckpt_read_header(pb, &mb, &sb);
  const int state_same = ma.step == mb.step && memcmp(&sa, &sb, sizeof sa) == 0;
  printf("step: %" PRId64 " vs %" PRId64 "; world size %d vs %d; state %s\n", ma.step, mb.step, ma.world_size,
         mb.world_size, state_same ? "identical" : "differs");
  if (!state_same) {
#define SHOW(f)                                                                                                 \
  if (sa.f != sb.f) printf("  state %s: %" PRId64 " vs %" PRId64 "\n", #f, (int64_t)sa.f, (int64_t)sb.f);
    SHOW(data_epoch) SHOW(data_cursor) SHOW(seed) SHOW(lr_step) SHOW(optim_t) SHOW(ema_updates) SHOW(nan_in_row)
    SHOW(nan_skipped) SHOW(global_batch) SHOW(grad_accum)
#undef SHOW
  }
  if (tol == 0) ok &= state_same && ma.world_size == mb.world_size;
  ckpt_meta_free(&ma);
  ckpt_meta_free(&mb);
  printf("%s\n", ok ? "checkpoints match" : "checkpoints differ");
  cfg_free(cfg);
  fflush(stdout);
  return ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}
