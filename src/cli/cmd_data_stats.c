// cmd_data_stats.c: placeholder for `vpcast data stats` (replaced by its implementation).
#include <stdio.h>

#include "cli/cli.h"

const vp_option opts_data_stats_cmd[] = {OPT_END};

int cmd_data_stats(const cli_invocation *inv) {
  (void)inv;
  fprintf(stderr, "vpcast: error: 'vpcast data stats' is not available in this build yet\n");
  return CLI_EXIT_ERROR;
}
