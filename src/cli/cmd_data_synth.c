// cmd_data_synth.c: placeholder for `vpcast data synth` (replaced by its implementation).
#include <stdio.h>

#include "cli/cli.h"

const vp_option opts_data_synth_cmd[] = {OPT_END};

int cmd_data_synth(const cli_invocation *inv) {
  (void)inv;
  fprintf(stderr, "vpcast: error: 'vpcast data synth' is not available in this build yet\n");
  return CLI_EXIT_ERROR;
}
