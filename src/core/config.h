// config.h: YAML configs with command-line overrides, validated against an
// option table (options.h) and read back through typed getters.
// A config is built in three steps:
//   1. entries: cfg_load_yaml() flattens nested mappings to dotted keys
//      (train: {lr: 1e-4} -> train.lr) and keeps each value's file:line;
//      cfg_set() / cfg_apply_args() add command-line values (later wins);
//   2. cfg_bind(cfg, table) checks every entry against the table (unknown
//      keys with a suggestion, types, ranges, choices, required keys) and
//      fills defaults; all errors are collected into a vp_err;
//   3. typed getters cfg_int(cfg, "train.steps") etc., and cfg_dump_yaml()
//      for the effective config (stored in checkpoints).
// Getters on a key the table lacks, or with the wrong type, are internal
// errors: the table is the one place a key is declared.
#ifndef VP_CONFIG_H
#define VP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/options.h"

typedef struct vp_config vp_config;

vp_config *cfg_new(void);
void cfg_free(vp_config *cfg);

// Adds the entries of a YAML file. The top level must be a mapping (or the
// file empty); values are scalars or flat sequences of scalars. Syntax errors
// report file:line:column. Returns the number of errors added to err.
int cfg_load_yaml(vp_config *cfg, const char *path, vp_err *err);
// Same for YAML text in memory; name stands for the file in messages.
int cfg_load_yaml_string(vp_config *cfg, const char *text, const char *name, vp_err *err);
// Sets key to value text ("[a, b]" is a list); file == NULL means the
// command line. A later set of the same key replaces the earlier one.
void cfg_set(vp_config *cfg, const char *key, const char *value, const char *file, int line);
// The flags and key=value arguments of a parsed command line, in order.
void cfg_apply_args(vp_config *cfg, const vp_args *a);

// Validates the entries against table and fills defaults. Returns the number
// of errors added to err; on success the getters work.
int cfg_bind(vp_config *cfg, const vp_option *table, vp_err *err);

int64_t cfg_int(const vp_config *cfg, const char *key);
double cfg_float(const vp_config *cfg, const char *key);
const char *cfg_str(const vp_config *cfg, const char *key);  // string, or an enum's choice
int cfg_bool(const vp_config *cfg, const char *key);
int cfg_enum(const vp_config *cfg, const char *key);         // index into the choices
const int64_t *cfg_int_list(const vp_config *cfg, const char *key, int *n);
const double *cfg_float_list(const vp_config *cfg, const char *key, int *n);
char *const *cfg_str_list(const vp_config *cfg, const char *key, int *n);
// Whether the user set key (file or command line), rather than the default.
int cfg_is_set(const vp_config *cfg, const char *key);
// Where key's value came from: "file.yaml:12", "command line" or "default",
// for messages about cross-key checks.
const char *cfg_source(const vp_config *cfg, const char *key, char *buf, size_t n);

// The effective config (every key of the bound table except command-line-only
// ones, nested by dotted prefix, in table order) as YAML text; free() it.
char *cfg_dump_yaml(const vp_config *cfg);

#endif
