// cli.c: command dispatch, generated help, and config building shared by
// the subcommands (see cli.h).
#include "cli/cli.h"

#include <string.h>

static const cli_command *find_command(const cli_command *table, const char *name) {
  for (const cli_command *c = table; c->name; c++)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

static void print_command_list(FILE *f, const cli_command *table) {
  for (const cli_command *c = table; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
}

static void print_top_help(FILE *f) {
  fprintf(f,
          "vpcast %s: distributed trainer, sampler and evaluator for multi-modal\n"
          "video-prediction diffusion models.\n\n"
          "usage: vpcast <command> [options] [key=value ...]\n\n"
          "commands:\n",
          VP_VERSION);
  print_command_list(f, cli_commands);
  fprintf(f,
          "\nRun 'vpcast <command> --help' for the options and config keys of a command.\n"
          "Configs are YAML; key.sub=value arguments after the config override it (later wins).\n"
          "Exit status: 0 success, 1 runtime error, 2 bad command line or config,\n"
          "42 preempted (checkpoint written; requeue the job).\n");
}

static void print_group_help(FILE *f, const cli_command *c, const char *path) {
  fprintf(f, "usage: %s <subcommand> [options] [key=value ...]\n\n%s.\n\nsubcommands:\n", path,
          c->summary);
  print_command_list(f, c->subs);
  fprintf(f, "\nRun '%s <subcommand> --help' for its options.\n", path);
}

static void print_command_help(FILE *f, const cli_command *c, const char *path) {
  fprintf(f, "usage: %s %s\n\n", path, c->usage ? c->usage : "[options]");
  if (c->description)
    fprintf(f, "%s\n\n", c->description);
  else
    fprintf(f, "%s.\n\n", c->summary);
  opts_print_help(f, c->opts);
}

static void unknown_command(const cli_command *table, const char *name, const char *path) {
  const char *cands[64];
  int n = 0;
  for (const cli_command *c = table; c->name && n < 64; c++) cands[n++] = c->name;
  const char *best = suggest(name, cands, n);
  const char *what = strcmp(path, "vpcast") == 0 ? "command" : "subcommand";
  if (name[0] == '-')
    fprintf(stderr, "vpcast: error: unknown option '%s' for '%s'; expected a %s\n", name, path, what);
  else if (best)
    fprintf(stderr, "vpcast: error: unknown %s '%s' for '%s'; did you mean '%s'?\n", what, name,
            path, best);
  else
    fprintf(stderr, "vpcast: error: unknown %s '%s' for '%s'\n", what, name, path);
  fprintf(stderr, "vpcast: run '%s --help' for the list of %ss\n", path, what);
}

// argv[0] names a command of table; path is the command path so far.
static int dispatch(const cli_command *table, const char *path, int argc, char **argv) {
  const cli_command *c = find_command(table, argv[0]);
  if (!c) {
    unknown_command(table, argv[0], path);
    return CLI_EXIT_USAGE;
  }
  char sub[128];
  snprintf(sub, sizeof sub, "%s %s", path, c->name);
  if (c->subs) {
    if (argc < 2) {
      print_group_help(stderr, c, sub);
      return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
      print_group_help(stdout, c, sub);
      return CLI_EXIT_OK;
    }
    return dispatch(c->subs, sub, argc - 1, argv + 1);
  }

  cli_invocation inv;
  memset(&inv, 0, sizeof inv);
  inv.cmd = c;
  snprintf(inv.path, sizeof inv.path, "%s", sub);
  vp_err err;
  err_init(&err);
  args_parse(&inv.args, c->opts, argc - 1, argv + 1, &err);
  int rc = CLI_EXIT_USAGE;
  if (inv.args.help) {
    print_command_help(stdout, c, inv.path);
    rc = CLI_EXIT_OK;
  } else if (err.n) {
    err_print(&err, stderr);
    fprintf(stderr, "vpcast: run '%s --help' for the options\n", inv.path);
  } else if (inv.args.npos < c->min_pos) {
    fprintf(stderr, "vpcast: error: '%s' needs more arguments\nusage: %s %s\n", inv.path, inv.path,
            c->usage ? c->usage : "");
  } else if (c->max_pos >= 0 && inv.args.npos > c->max_pos) {
    fprintf(stderr, "vpcast: error: unexpected argument '%s' for '%s'\nusage: %s %s\n",
            inv.args.pos[c->max_pos], inv.path, inv.path, c->usage ? c->usage : "");
  } else {
    rc = c->run(&inv);
  }
  args_free(&inv.args);
  return rc;
}

int cli_main(int argc, char **argv) {
  if (argc < 2) {
    print_top_help(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *a = argv[1];
  if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
    print_top_help(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(a, "help") == 0) {
    // `vpcast help config check` == `vpcast config check --help`
    if (argc < 3) {
      print_top_help(stdout);
      return CLI_EXIT_OK;
    }
    char **v = vp_malloc((size_t)argc * sizeof *v);
    int n = 0;
    for (int i = 2; i < argc; i++) v[n++] = argv[i];
    v[n++] = (char *)"--help";
    int rc = dispatch(cli_commands, "vpcast", n, v);
    free(v);
    return rc;
  }
  if (strcmp(a, "--version") == 0) {
    char *v[] = {(char *)"version", NULL};
    return dispatch(cli_commands, "vpcast", 1, v);
  }
  return dispatch(cli_commands, "vpcast", argc - 1, argv + 1);
}

int cli_load_config(const cli_invocation *inv, const char *yaml_path, const vp_option *table,
                    vp_config **out) {
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  if (yaml_path) cfg_load_yaml(cfg, yaml_path, &err);
  if (!err.n) {  // a file that did not parse has no keys worth checking
    cfg_apply_args(cfg, &inv->args);
    cfg_bind(cfg, table, &err);
  }
  if (err.n) {
    err_print(&err, stderr);
    fprintf(stderr, "vpcast: run '%s --help' for the valid keys and values\n", inv->path);
    cfg_free(cfg);
    *out = NULL;
    return CLI_EXIT_USAGE;
  }
  *out = cfg;
  return CLI_EXIT_OK;
}
