// main.c: the vpcast entry point. Everything lives in the library (cli.c and
// the cmd_*.c files) so tests can link it; main only hands over argv.
#include "cli/cli.h"

int main(int argc, char **argv) { return cli_main(argc, argv); }
