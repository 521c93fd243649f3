// main.c: the vpcast entry point. Everything lives in the library (cli.c and
// the cmd_*.c files) so tests can link it; main only hands over argv, after
// making sure OpenBLAS runs the kernels this CPU supports (blas_core.h).
#include "cli/cli.h"
#include "core/blas_core.h"

int main(int argc, char **argv) {
  blas_core_select(argc, argv);
  return cli_main(argc, argv);
}
