// cmd_train.c: `vpcast train CONFIG [--out DIR] [--steps N] [--resume auto|never|CKPT] [key=value ...]`.
// Builds the config (opts_train), the process group, the clip source and
// the model, and hands them to the trainer (train/trainer.h). Runs alone,
// under mpirun, or under srun --mpi=pmix; every rank runs this same code.
// Exit status: 0 done, 1 runtime error, 2 bad config or refused resume,
// 42 preempted with a checkpoint written (requeue the job).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "dist/comm.h"
#include "io/source.h"
#include "train/model.h"
#include "train/trainer.h"

int cmd_train(const cli_invocation *inv) {
  vp_comm comm;
  comm_init(&comm, NULL, NULL);
  vp_config *cfg = NULL;
  // Every rank reads and checks the config; only rank 0 reports problems
  // (the others' stderr points at /dev/null meanwhile), so a bad key gives
  // one message, not one per rank.
  int saved_fd = -1;
  if (comm.rank != 0) {
    fflush(stderr);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      saved_fd = dup(2);
      if (saved_fd >= 0) dup2(devnull, 2);
      close(devnull);
    }
  }
  int rc = cli_load_config(inv, inv->args.pos[0], opts_train, &cfg);
  if (rc == CLI_EXIT_OK) {
    vp_err err;
    err_init(&err);
    if (train_options_check(cfg, &err)) {
      err_print(&err, stderr);
      fprintf(stderr, "vpcast: run '%s --help' for the valid keys and values\n", inv->path);
      rc = CLI_EXIT_USAGE;
    }
  }
  if (saved_fd >= 0) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
  }
  if (rc != CLI_EXIT_OK) {
    cfg_free(cfg);
    comm_finalize(&comm);
    return rc;
  }
  vp_source *src = source_open(cfg);
  vp_model *model = model_create(cfg, src);
  vp_train_result res = trainer_run(cfg, &comm, model, src);
  model_free(model);
  source_close(src);
  cfg_free(cfg);
  comm_finalize(&comm);
  return res.status;
}
