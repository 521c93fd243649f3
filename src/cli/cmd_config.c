// cmd_config.c: `vpcast config check CONFIG [key=value ...]`: validates a
// training config exactly as `vpcast train` will, and prints the effective
// config (defaults filled in) as YAML, the text a checkpoint stores.
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

const vp_option opts_config_check[] = {
    {.key = "quiet", .type = OPT_BOOL, .def = "false", .flag = "--quiet", .cli_only = 1,
     .help = "only validate: print nothing on success"},
    OPT_INCLUDE_TABLE(opts_train),
    OPT_END,
};

int cmd_config_check(const cli_invocation *inv) {
  const char *path = inv->args.pos[0];
  vp_config *cfg;
  int rc = cli_load_config(inv, path, opts_config_check, &cfg);
  if (rc) return rc;
  vp_err err;
  err_init(&err);
  if (train_options_check(cfg, &err)) {
    err_print(&err, stderr);
    cfg_free(cfg);
    return CLI_EXIT_USAGE;
  }
  if (!cfg_bool(cfg, "quiet")) {
    char *yaml = cfg_dump_yaml(cfg);
    printf("# effective config of %s (vpcast %s)\n%s", path, VP_VERSION, yaml);
    free(yaml);
  }
  cfg_free(cfg);
  if (fflush(stdout) != 0) {
    perror("vpcast: writing the config to stdout");
    return CLI_EXIT_ERROR;
  }
  return CLI_EXIT_OK;
}
