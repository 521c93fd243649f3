// cli.h: the vpcast command registry and what subcommands share.
// A command is one row of a cli_command table (commands.c) and one file
// (cmd_<name>.c) with its run function and option table. A row with `subs`
// is a command group (`vpcast config check`). The dispatcher parses flags,
// key=value overrides and positionals from the command's option table,
// prints --help generated from it, suggests the closest name for an unknown
// command, and only then calls run().
#ifndef VP_CLI_H
#define VP_CLI_H

#include "core/config.h"
#include "core/options.h"

// Exit status of vpcast.
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1      // runtime failure (vp_die)
#define CLI_EXIT_USAGE 2      // bad command line or config
#define CLI_EXIT_PREEMPTED 42 // checkpoint written after SIGUSR1/SIGTERM: requeue

struct cli_command;

typedef struct cli_invocation {
  const struct cli_command *cmd;
  char path[128];         // "vpcast config check", for messages
  vp_args args;           // flags and key=value in order, and positionals
} cli_invocation;

typedef struct cli_command {
  const char *name;
  const char *summary;       // one line, for the parent's help
  const char *usage;         // what follows the command path: "CONFIG [options] [key=value ...]"
  const char *description;   // paragraph for --help (may be NULL)
  const vp_option *opts;     // flags and config keys (NULL: none)
  int min_pos, max_pos;      // number of positional arguments (max_pos -1: any)
  int (*run)(const cli_invocation *inv);   // returns the exit status
  const struct cli_command *subs;          // command group: its subcommands
} cli_command;

// The top-level commands (commands.c), terminated by a row with name NULL.
extern const cli_command cli_commands[];

// Runs `vpcast argv[1..]`: the whole program behind main().
int cli_main(int argc, char **argv);

// Builds the config of an invocation: the YAML file (if yaml_path), then the
// flags and key=value arguments in order, bound to table. On error prints
// the messages and returns CLI_EXIT_USAGE with *out = NULL.
int cli_load_config(const cli_invocation *inv, const char *yaml_path, const vp_option *table,
                    vp_config **out);

// ---- option tables shared by commands ----
// Everything `vpcast train` reads (opts_train.c): run keys, train.*, data.*, model.*.
extern const vp_option opts_train[];
extern const vp_option opts_data[];   // data.*
extern const vp_option opts_model[];  // model.*
// Checks between keys of a bound train config (warm-up shorter than the run,
// eta_min below lr, data.path for file sources). Returns the error count.
int train_options_check(const vp_config *cfg, vp_err *err);

#endif
