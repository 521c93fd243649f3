// cmd_metrics.c: placeholder for `vpcast metrics` (replaced by its implementation).
#include <stdio.h>

#include "cli/cli.h"

const vp_option opts_metrics[] = {OPT_END};

int cmd_metrics(const cli_invocation *inv) {
  (void)inv;
  fprintf(stderr, "vpcast: error: 'vpcast metrics' is not available in this build yet\n");
  return CLI_EXIT_ERROR;
}
