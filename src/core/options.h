// options.h: option tables, and the argument parser, value validation,
// suggestions and --help text generated from them.
// Every command has one table of vp_option rows. A row is a config key
// ("train.lr", settable in the YAML file or as key=value on the command line)
// and may also be a command-line flag ("--lr 1e-4"). The same row gives the
// type, the default, the allowed range or choices and the help line, so the
// parser, the validation and --help can never disagree. Tables can splice
// other tables in (OPT_INCLUDE), so keys shared by several commands (model.*,
// data.*) are written once.
//
// User errors are returned, not fatal: functions that can fail on user input
// take a vp_err, record messages that name the key, the value, the source
// (file:line or "command line") and what is allowed, and return non-zero.
// The command line turns them into messages and exit status 2.
#ifndef VP_OPTIONS_H
#define VP_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/check.h"

typedef enum {
  OPT_NONE = 0,      // table terminator
  OPT_INT,           // int64
  OPT_FLOAT,         // double, finite
  OPT_STRING,
  OPT_BOOL,          // true/false, yes/no, on/off, 1/0
  OPT_ENUM,          // one of .choices
  OPT_INT_LIST,      // [1, 2, 4]
  OPT_FLOAT_LIST,    // [0.9, 0.999]
  OPT_STRING_LIST,   // [rgb, depth]
  OPT_INCLUDE        // splice .include here
} vp_opt_type;

typedef struct vp_option {
  const char *key;      // dotted config key, e.g. "train.lr"
  vp_opt_type type;
  const char *def;      // default as text ("1e-4", "[0.9, 0.999]"); NULL: zero / "" / [] / first choice
  int required;         // no default: the user must set it
  const char *range;    // numbers and list elements: "[0, 1)", "(0, inf)", "[1, 2^31)"; NULL: any
  const char *choices;  // OPT_ENUM: "constant|warmup_linear|cosine"
  int len;              // lists: exact length (0: any)
  const char *flag;     // also a flag, e.g. "--lr" (bool flags take no value); NULL: key only
  const char *metavar;  // flag value name in --help, e.g. "DIR"
  int cli_only;         // command line only: refused in YAML, not dumped
  const char *help;     // one line
  const struct vp_option *include;  // OPT_INCLUDE: the table spliced in
} vp_option;

#define OPT_INCLUDE_TABLE(t) {.type = OPT_INCLUDE, .include = (t)}
#define OPT_END {.type = OPT_NONE}

// ---- errors ----
#define VP_ERR_MAX 32
#define VP_ERR_LEN 640
typedef struct vp_err {
  int n;                              // errors recorded (may exceed VP_ERR_MAX)
  char msg[VP_ERR_MAX][VP_ERR_LEN];   // the first VP_ERR_MAX messages
} vp_err;

void err_init(vp_err *e);
void err_add(vp_err *e, const char *fmt, ...) VP_PRINTF(2, 3);
// "vpcast: error: <msg>" per message, and a count of those left out.
void err_print(const vp_err *e, FILE *f);

// ---- flattened tables ----
typedef struct vp_optlist {
  int n;
  const vp_option **opt;  // rows in table order, includes spliced in
} vp_optlist;

// Flattens table (following OPT_INCLUDE). A duplicate key or flag, a bad
// range string or a bad default is an internal error (a bug in the table).
void optlist_build(vp_optlist *l, const vp_option *table);
void optlist_free(vp_optlist *l);
// Row index of key / flag ("--lr"), or -1.
int optlist_find_key(const vp_optlist *l, const char *key);
int optlist_find_flag(const vp_optlist *l, const char *flag);

// ---- values ----
typedef struct vp_value {
  int64_t i;      // OPT_INT; OPT_BOOL (0/1); OPT_ENUM (index into choices)
  double f;       // OPT_FLOAT
  char *s;        // OPT_STRING; OPT_ENUM (the choice)
  int n;          // lists: length
  int64_t *il;    // OPT_INT_LIST
  double *fl;     // OPT_FLOAT_LIST
  char **sl;      // OPT_STRING_LIST
} vp_value;

// Parses items (one item for a scalar; is_list says the text was a YAML
// sequence or "[a, b]") into out for row o. On failure returns non-zero and
// writes into why what was wrong and what is allowed ("not an integer;
// allowed: int in [1, inf)"). A scalar given to a list row is split on commas.
int opt_parse_value(const vp_option *o, const char *const *items, int nitems, int is_list,
                    vp_value *out, char *why, size_t whyn);
void value_free(vp_value *v);
// "int in [1, inf)", "one of constant|warmup_linear|cosine", "list of 2 floats in [0, 1)".
const char *opt_allowed(const vp_option *o, char *buf, size_t n);

// ---- suggestions ----
// Damerau-Levenshtein (optimal string alignment) distance, case-insensitive.
int edit_distance(const char *a, const char *b);
// The candidate closest to word, or NULL when none is close enough. A dotted
// candidate also matches on its last component, so "lr" suggests "train.lr".
const char *suggest(const char *word, const char *const *cands, int n);
// suggest() over the keys (or flags, when flags != 0) of a list.
const char *optlist_suggest(const vp_optlist *l, const char *word, int flags);

// ---- command line ----
typedef struct vp_arg_set {
  const char *key;    // option key (a flag is translated to its key)
  const char *value;  // text; bool flags give "true"
} vp_arg_set;

typedef struct vp_args {
  int npos;
  const char **pos;   // positional arguments, in order
  int nset;
  vp_arg_set *set;    // flags and key=value, in command-line order (later wins)
  int help;           // -h or --help was given
} vp_args;

// Parses argv[0..argc) against table: "--flag VALUE", "--flag=VALUE", bool
// "--flag", "key=value", "-h"/"--help", "--" (the rest is positional), and
// positionals. Unknown flags are errors with a suggestion; key=value keys
// are checked later, when the config is bound. Returns the error count.
int args_parse(vp_args *a, const vp_option *table, int argc, char **argv, vp_err *err);
void args_free(vp_args *a);
// True for "key=value" (key: letters, digits, '_', '.', '-'; starting with a letter or '_').
int arg_is_assignment(const char *s);

// ---- help ----
// The "options:" (flags) and "config keys:" sections for table.
void opts_print_help(FILE *f, const vp_option *table);

#endif
