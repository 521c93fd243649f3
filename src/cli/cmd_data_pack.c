// cmd_data_pack.c: placeholder for `vpcast data pack` (replaced by its implementation).
#include <stdio.h>

#include "cli/cli.h"

const vp_option opts_data_pack_cmd[] = {OPT_END};

int cmd_data_pack(const cli_invocation *inv) {
  (void)inv;
  fprintf(stderr, "vpcast: error: 'vpcast data pack' is not available in this build yet\n");
  return CLI_EXIT_ERROR;
}
