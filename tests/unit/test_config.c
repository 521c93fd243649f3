// test_config.c: option tables, YAML configs and overrides: flattening,
// typed getters, every error path (message names key, value, source and
// what is allowed, with a suggestion), the argument parser, the YAML dump
// round trip, and the real `vpcast train` table.
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/options.h"
#include "harness.h"

static const vp_option t_inner[] = {
    {.key = "model.name", .type = OPT_STRING, .required = 1, .help = "model"},
    {.key = "model.channel_mult", .type = OPT_INT_LIST, .def = "[1, 2]", .range = "[1, 8]", .help = "mult"},
    OPT_END,
};

static const vp_option t_table[] = {
    {.key = "seed", .type = OPT_INT, .def = "0", .range = "[0, 2^56)", .flag = "--seed", .metavar = "N", .help = "seed"},
    {.key = "out", .type = OPT_STRING, .def = "runs/x", .flag = "--out", .metavar = "DIR", .help = "output"},
    {.key = "verbose", .type = OPT_BOOL, .def = "false", .flag = "--verbose", .cli_only = 1, .help = "chatty"},
    {.key = "train.steps", .type = OPT_INT, .def = "100", .range = "[1, inf)", .flag = "--steps", .help = "steps"},
    {.key = "train.lr", .type = OPT_FLOAT, .def = "1e-4", .range = "(0, 1]", .flag = "--lr", .help = "lr"},
    {.key = "train.lr_schedule", .type = OPT_ENUM, .def = "constant", .choices = "constant|warmup_linear|cosine", .help = "schedule"},
    {.key = "train.betas", .type = OPT_FLOAT_LIST, .def = "[0.9, 0.999]", .len = 2, .range = "[0, 1)", .help = "betas"},
    {.key = "train.ema", .type = OPT_BOOL, .def = "true", .help = "ema"},
    {.key = "data.mods", .type = OPT_STRING_LIST, .def = "[]", .help = "modalities"},
    {.key = "data.note", .type = OPT_STRING, .help = "free text"},
    {.key = "data.kind", .type = OPT_ENUM, .choices = "synth|packed", .help = "kind"},
    OPT_INCLUDE_TABLE(t_inner),
    OPT_END,
};

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

// All error messages joined by '\n'.
static const char *errs(const vp_err *e) {
  static char buf[VP_ERR_MAX * VP_ERR_LEN];
  buf[0] = 0;
  for (int i = 0; i < e->n && i < VP_ERR_MAX; i++) {
    strcat(buf, e->msg[i]);
    strcat(buf, "\n");
  }
  return buf;
}

// Loads yaml (if any) and the key=value pairs, binds t_table; returns the error count.
static int build(vp_config **cfg, vp_err *err, const char *yaml, ...) {
  err_init(err);
  *cfg = cfg_new();
  if (yaml && cfg_load_yaml_string(*cfg, yaml, "t.yaml", err)) return err->n;
  va_list ap;
  va_start(ap, yaml);
  for (const char *k; (k = va_arg(ap, const char *)) != NULL;) cfg_set(*cfg, k, va_arg(ap, const char *), NULL, 0);
  va_end(ap);
  return cfg_bind(*cfg, t_table, err);
}

// One config that must fail with every needle in its messages.
static void expect_error(const char *what, const char *yaml, const char *key, const char *value,
                         const char *n1, const char *n2, const char *n3) {
  vp_config *cfg;
  vp_err err;
  int n = key ? build(&cfg, &err, yaml, key, value, NULL) : build(&cfg, &err, yaml, NULL);
  const char *m = errs(&err);
  int ok = n > 0 && (!n1 || contains(m, n1)) && (!n2 || contains(m, n2)) && (!n3 || contains(m, n3));
  th_check(ok, "%s: expected an error with '%s' '%s' '%s', got: %s", what, n1 ? n1 : "", n2 ? n2 : "",
           n3 ? n3 : "", n ? m : "(no error)");
  cfg_free(cfg);
}

static void test_flatten_and_getters(void) {
  const char *y =
      "# comment\n"
      "seed: 12\n"
      "train:\n"
      "  steps: 1e3\n"          // integral float accepted for an int
      "  lr: 3.5e-4\n"
      "  lr_schedule: cosine\n"
      "  betas: [0.5, 0.25]\n"
      "  ema: off\n"
      "train.lr: 3.5e-4\n"     // dotted form is the same key: duplicate
      "data: {mods: [rgb, depth], note: ~}\n"
      "model:\n"
      "  name: tri_unet\n"
      "  channel_mult:\n"
      "    - 1\n"
      "    - 4\n";
  vp_config *cfg;
  vp_err err;
  int n = build(&cfg, &err, y, NULL);
  th_check(n == 1 && contains(errs(&err), "duplicate key 'train.lr' (t.yaml:9; first at t.yaml:5)"),
           "nested + dotted spelling of one key is a duplicate: %s", errs(&err));
  cfg_free(cfg);

  const char *y2 =
      "seed: 12\n"
      "train:\n"
      "  steps: 1e3\n"
      "  lr: 3.5e-4\n"
      "  lr_schedule: cosine\n"
      "  betas: [0.5, 0.25]\n"
      "  ema: off\n"
      "data: {mods: [rgb, depth], note: ~}\n"
      "model:\n"
      "  name: tri_unet\n"
      "  channel_mult:\n"
      "    - 1\n"
      "    - 4\n";
  n = build(&cfg, &err, y2, NULL);
  th_check(n == 0, "valid nested YAML binds (%s)", errs(&err));
  if (n) { cfg_free(cfg); return; }
  th_check(cfg_int(cfg, "seed") == 12, "seed = 12");
  th_check(cfg_int(cfg, "train.steps") == 1000, "train.steps = 1e3 -> 1000");
  th_check(cfg_float(cfg, "train.lr") == 3.5e-4, "train.lr = 3.5e-4");
  th_check(strcmp(cfg_str(cfg, "train.lr_schedule"), "cosine") == 0 && cfg_enum(cfg, "train.lr_schedule") == 2,
           "enum: name and index");
  int nb;
  const double *b = cfg_float_list(cfg, "train.betas", &nb);
  th_check(nb == 2 && b[0] == 0.5 && b[1] == 0.25, "float list [0.5, 0.25]");
  th_check(cfg_bool(cfg, "train.ema") == 0, "bool off -> false");
  int nm;
  char *const *mods = cfg_str_list(cfg, "data.mods", &nm);
  th_check(nm == 2 && strcmp(mods[0], "rgb") == 0 && strcmp(mods[1], "depth") == 0, "string list");
  th_check(strcmp(cfg_str(cfg, "data.note"), "") == 0, "null string reads as empty");
  int nc;
  const int64_t *cm = cfg_int_list(cfg, "model.channel_mult", &nc);
  th_check(nc == 2 && cm[0] == 1 && cm[1] == 4, "block sequence -> int list (from an included table)");
  // Defaults.
  th_check(strcmp(cfg_str(cfg, "out"), "runs/x") == 0 && !cfg_is_set(cfg, "out"), "string default, not set");
  th_check(cfg_bool(cfg, "verbose") == 0, "cli-only bool default");
  th_check(strcmp(cfg_str(cfg, "data.kind"), "synth") == 0 && cfg_enum(cfg, "data.kind") == 0,
           "enum without default takes the first choice");
  char src[256];
  th_check(strcmp(cfg_source(cfg, "train.lr", src, sizeof src), "t.yaml:4") == 0, "source of train.lr: %s", src);
  th_check(strcmp(cfg_source(cfg, "out", src, sizeof src), "default") == 0, "source of a default: %s", src);
  cfg_free(cfg);
}

static void test_overrides(void) {
  vp_config *cfg;
  vp_err err;
  const char *y = "train: {steps: 5, lr: 0.1}\nmodel: {name: a}\n";
  int n = build(&cfg, &err, y, "train.steps", "7", "train.steps", "9", "model.channel_mult", "[2, 3, 8]",
                "data.mods", "a,b", "train.betas", "[0.1,0.2]", "verbose", "yes", NULL);
  th_check(n == 0, "overrides bind (%s)", errs(&err));
  if (n) { cfg_free(cfg); return; }
  char src[256];
  th_check(cfg_int(cfg, "train.steps") == 9, "later override wins (steps = %lld)", (long long)cfg_int(cfg, "train.steps"));
  th_check(strcmp(cfg_source(cfg, "train.steps", src, sizeof src), "command line") == 0, "override source: %s", src);
  th_check(cfg_float(cfg, "train.lr") == 0.1, "file value kept where not overridden");
  int k;
  const int64_t *cm = cfg_int_list(cfg, "model.channel_mult", &k);
  th_check(k == 3 && cm[0] == 2 && cm[2] == 8, "list override [2, 3, 8]");
  char *const *m = cfg_str_list(cfg, "data.mods", &k);
  th_check(k == 2 && strcmp(m[1], "b") == 0, "comma list override a,b");
  const double *b = cfg_float_list(cfg, "train.betas", &k);
  th_check(k == 2 && b[1] == 0.2, "[0.1,0.2] without spaces");
  th_check(cfg_bool(cfg, "verbose") == 1 && cfg_is_set(cfg, "verbose"), "cli-only key set from the command line");
  cfg_free(cfg);

  // Argument parser -> config: flags and key=value in command-line order.
  char *argv[] = {"cfg.yaml", "--steps", "11", "train.steps=12", "--lr=0.5", "--verbose", "--", "--odd"};
  vp_args a;
  err_init(&err);
  n = args_parse(&a, t_table, 8, argv, &err);
  th_check(n == 0 && a.npos == 2 && strcmp(a.pos[0], "cfg.yaml") == 0 && strcmp(a.pos[1], "--odd") == 0,
           "positionals, and '--' ends the options");
  th_check(a.nset == 4 && strcmp(a.set[0].key, "train.steps") == 0 && strcmp(a.set[0].value, "11") == 0 &&
               strcmp(a.set[2].key, "train.lr") == 0 && strcmp(a.set[2].value, "0.5") == 0 &&
               strcmp(a.set[3].key, "verbose") == 0 && strcmp(a.set[3].value, "true") == 0,
           "flags map to keys; --flag=value; bool flag");
  cfg = cfg_new();
  cfg_load_yaml_string(cfg, "model: {name: m}\n", "t.yaml", &err);
  cfg_apply_args(cfg, &a);
  n = cfg_bind(cfg, t_table, &err);
  th_check(n == 0 && cfg_int(cfg, "train.steps") == 12 && cfg_float(cfg, "train.lr") == 0.5,
           "key=value after --steps wins");
  cfg_free(cfg);
  args_free(&a);

  char *bad[] = {"--stesp", "3", "--lr", "-h", "--out"};
  err_init(&err);
  n = args_parse(&a, t_table, 5, bad, &err);
  th_check(n == 2 && contains(errs(&err), "unknown option '--stesp' (command line); did you mean '--steps'?") &&
               contains(errs(&err), "option '--out' (command line) needs a value (DIR)"),
           "unknown flag suggestion, missing value: %s", errs(&err));
  th_check(a.help == 0 && a.nset == 1 && strcmp(a.set[0].value, "-h") == 0, "a flag's value may start with '-'");
  args_free(&a);
  char *help[] = {"x", "-h"};
  err_init(&err);
  args_parse(&a, t_table, 2, help, &err);
  th_check(a.help == 1, "-h sets help");
  args_free(&a);
  th_check(arg_is_assignment("train.lr=1") && arg_is_assignment("a_b-c=") && !arg_is_assignment("./x=1") &&
               !arg_is_assignment("cfg.yaml") && !arg_is_assignment("=1"),
           "key=value detection");
}

static void test_errors(void) {
  const char *base = "model: {name: m}\n";
  expect_error("unknown key in YAML", "model: {name: m}\ntrain:\n  lrr: 0.1\n", NULL, NULL,
               "unknown key 'train.lrr'", "(t.yaml:3)", "did you mean 'train.lr'?");
  expect_error("unknown key on the command line", base, "train.stesp", "3", "unknown key 'train.stesp'",
               "(command line)", "did you mean 'train.steps'?");
  expect_error("missing section prefix", base, "lr", "0.1", "unknown key 'lr'", "command line",
               "did you mean 'train.lr'?");
  expect_error("wrong section", base, "optim.lr", "0.1", "unknown key 'optim.lr'", NULL, "did you mean 'train.lr'?");
  expect_error("unknown key, nothing close", base, "zzzzqqq", "1", "unknown key 'zzzzqqq' (command line)",
               "see --help", NULL);
  expect_error("section given a value", base, "train", "3", "'train' (command line) is a section", NULL, NULL);
  expect_error("int type", "model: {name: m}\ntrain: {steps: ten}\n", NULL, NULL, "train.steps = 'ten' (t.yaml:2)",
               "not an integer", "allowed: int in [1, inf)");
  expect_error("int type (fraction)", base, "train.steps", "2.5", "train.steps = '2.5' (command line)",
               "not an integer", NULL);
  expect_error("int range", base, "train.steps", "0", "train.steps = '0' (command line)", "out of range",
               "allowed: int in [1, inf)");
  expect_error("int range 2^56", base, "seed", "72057594037927936", "seed = '72057594037927936'", "out of range",
               "[0, 2^56)");
  expect_error("float type", base, "train.lr", "fast", "train.lr = 'fast'", "not a number", "float in (0, 1]");
  expect_error("float open bound", base, "train.lr", "0", "train.lr = '0'", "out of range", "(0, 1]");
  expect_error("float not finite", base, "train.lr", "nan", "not a finite number", NULL, NULL);
  expect_error("bool", base, "train.ema", "maybe", "train.ema = 'maybe'", "not a bool", NULL);
  expect_error("enum with suggestion", base, "train.lr_schedule", "cosin", "train.lr_schedule = 'cosin'",
               "not one of constant|warmup_linear|cosine", "did you mean 'cosine'?");
  expect_error("list length", base, "train.betas", "[0.9]", "train.betas = [0.9] (command line)", "has 1 element",
               "list of 2 floats in [0, 1)");
  expect_error("list element range", base, "train.betas", "[0.9, 1]", "element 2 ('1') is out of range", NULL, NULL);
  expect_error("list element type", base, "model.channel_mult", "[1, x]", "element 2 ('x') is not an integer", NULL,
               NULL);
  expect_error("list given to a scalar", base, "train.lr", "[1, 2]", "a list was given", NULL, NULL);
  expect_error("required key", "train: {steps: 3}\n", NULL, NULL, "missing required key 'model.name'", NULL, NULL);
  expect_error("empty required string", "model: {name: ''}\n", NULL, NULL, "model.name = '' (t.yaml:1)",
               "non-empty", NULL);
  expect_error("cli-only key in YAML", "model: {name: m}\nverbose: true\n", NULL, NULL,
               "'verbose' (t.yaml:2) can only be given on the command line, as --verbose", NULL, NULL);
  expect_error("YAML syntax", "model:\n  name: m\n   bad: [1,\n", NULL, NULL, "t.yaml:3:", "YAML syntax error", NULL);
  expect_error("YAML tab", "train:\n\tsteps: 3\n", NULL, NULL, "t.yaml:2:1: YAML syntax error", NULL, NULL);
  expect_error("nested list", "model: {name: m, channel_mult: [[1], 2]}\n", NULL, NULL, "t.yaml:1:",
               "list of lists or mappings", NULL);
  expect_error("alias", "a: &x 1\nb: *x\n", NULL, NULL, "t.yaml:2:4", "aliases", NULL);
  expect_error("top-level list", "- 1\n- 2\n", NULL, NULL, "t.yaml:1:1", "must be a mapping", NULL);
  expect_error("two documents", "model: {name: m}\n---\nseed: 1\n", NULL, NULL, "one YAML document", NULL, NULL);
  // Several errors are all reported.
  vp_config *cfg;
  vp_err err;
  int n = build(&cfg, &err, "train: {steps: 0, lr: 2, lrr: 1}\n", NULL);
  th_check(n == 4, "all errors of a config are reported (%d): %s", n, errs(&err));
  cfg_free(cfg);
  // A missing file.
  cfg = cfg_new();
  err_init(&err);
  n = cfg_load_yaml(cfg, "/nonexistent/vpcast.yaml", &err);
  th_check(n == 1 && contains(errs(&err), "cannot open config file '/nonexistent/vpcast.yaml'"), "missing file: %s",
           errs(&err));
  cfg_free(cfg);
  // Empty documents are empty configs.
  n = build(&cfg, &err, "# nothing\n", "model.name", "m", NULL);
  th_check(n == 0, "comment-only file binds");
  cfg_free(cfg);
  n = build(&cfg, &err, "---\n", "model.name", "m", NULL);
  th_check(n == 0, "'---' only binds");
  cfg_free(cfg);
  n = build(&cfg, &err, "model: {name: m}\ndata:\n", NULL);
  th_check(n == 0, "an empty section binds (%s)", errs(&err));
  cfg_free(cfg);
}

static void test_suggest(void) {
  th_check(edit_distance("kitten", "sitting") == 3, "distance kitten/sitting = 3");
  th_check(edit_distance("steps", "stesp") == 1, "a transposition costs 1");
  th_check(edit_distance("LR", "lr") == 0, "distance is case-insensitive");
  th_check(edit_distance("", "abc") == 3, "distance to empty");
  const char *c[] = {"train.lr", "train.steps", "data.path", "version"};
  th_check(suggest("versoin", c, 4) == c[3], "versoin -> version");
  th_check(suggest("data.pth", c, 4) == c[2], "data.pth -> data.path");
  th_check(suggest("steps", c, 4) == c[1], "steps -> train.steps");
  th_check(suggest("q", c, 4) == NULL, "no suggestion for a far word");
  th_check(suggest("completely_different", c, 4) == NULL, "no suggestion for a long far word");
}

// Dump -> load -> bind gives the same values, including floats that need
// 17 digits and strings that look like other types.
static void test_dump_roundtrip(void) {
  vp_config *a;
  vp_err err;
  int n = build(&a, &err, "model: {name: m}\n", "train.lr", "0.1", "seed", "72057594037927935", "out", "true",
                "data.note", "a: b # c \"q\"", "data.mods", "[123, '', x y]", "train.betas", "[0.3333333333333333, 1e-9]",
                "verbose", "true", NULL);
  th_check(n == 0, "roundtrip source binds (%s)", errs(&err));
  if (n) { cfg_free(a); return; }
  char *y = cfg_dump_yaml(a);
  th_check(!contains(y, "verbose"), "command-line-only keys are not dumped");
  th_check(contains(y, "train:\n  steps: 100\n  lr: 0.1\n"), "nested block output:\n%s", y);
  th_check(contains(y, "betas: [0.3333333333333333, 1.0e-09]"), "floats: shortest exact text with a '.':\n%s", y);
  th_check(contains(y, "out: \"true\""), "a string that reads as a bool is quoted:\n%s", y);
  vp_config *b = cfg_new();
  err_init(&err);
  n = cfg_load_yaml_string(b, y, "dump.yaml", &err);
  n += cfg_bind(b, t_table, &err);
  th_check(n == 0, "the dump loads and binds (%s)\n%s", errs(&err), y);
  if (n == 0) {
    int na, nb;
    const double *ba = cfg_float_list(a, "train.betas", &na), *bb = cfg_float_list(b, "train.betas", &nb);
    char *const *ma = cfg_str_list(a, "data.mods", &na);
    char *const *mb = cfg_str_list(b, "data.mods", &nb);
    th_check(na == 3 && nb == 3 && strcmp(ma[0], "123") == 0 && strcmp(ma[1], "") == 0 &&
                 strcmp(ma[2], "x y") == 0 && strcmp(mb[0], "123") == 0 && strcmp(mb[1], "") == 0 &&
                 strcmp(mb[2], "x y") == 0,
             "string list [123, '', x y] survives");
    th_check(cfg_float(a, "train.lr") == cfg_float(b, "train.lr") && ba[0] == bb[0] && ba[1] == bb[1],
             "floats survive bit for bit");
    th_check(cfg_int(b, "seed") == 72057594037927935LL, "largest seed survives");
    th_check(strcmp(cfg_str(a, "data.note"), cfg_str(b, "data.note")) == 0, "string with ': ' and '#' survives");
    th_check(strcmp(cfg_str(b, "out"), "true") == 0, "quoted 'true' stays a string");
    char *y2 = cfg_dump_yaml(b);
    th_check(strcmp(y, y2) == 0, "dump of the reloaded config is identical");
    free(y2);
  }
  free(y);
  cfg_free(a);
  cfg_free(b);
}

static char repo_root[1024];

// The real `vpcast train` table: defaults valid, the test configs behave.
static void test_train_table(void) {
  char path[1200];
  vp_config *cfg = cfg_new();
  vp_err err;
  err_init(&err);
  cfg_set(cfg, "out", "/tmp/x", NULL, 0);
  cfg_set(cfg, "model.name", "tri_unet", NULL, 0);
  int n = cfg_bind(cfg, opts_train, &err);
  n += train_options_check(cfg, &err);
  th_check(n == 0, "train table: defaults are valid (%s)", errs(&err));
  if (n == 0) {
    int nb;
    const double *b = cfg_float_list(cfg, "train.betas", &nb);
    th_check(nb == 2 && b[0] == 0.9 && b[1] == 0.999 && cfg_float(cfg, "train.lr") == 1e-4,
             "train defaults: betas, lr");
  }
  cfg_free(cfg);

  snprintf(path, sizeof path, "%s/configs/test/cli_good.yaml", repo_root);
  cfg = cfg_new();
  err_init(&err);
  n = cfg_load_yaml(cfg, path, &err);
  n += cfg_bind(cfg, opts_train, &err);
  th_check(n == 0, "cli_good.yaml binds (%s)", errs(&err));
  if (n == 0) {
    th_check(train_options_check(cfg, &err) == 0, "cli_good.yaml passes the cross-key checks");
    int ns;
    const int64_t *sz = cfg_int_list(cfg, "data.size", &ns);
    th_check(cfg_int(cfg, "train.steps") == 200 && ns == 2 && sz[1] == 48 &&
                 strcmp(cfg_str(cfg, "model.name"), "tri_unet") == 0,
             "cli_good.yaml values");
  }
  cfg_free(cfg);

  snprintf(path, sizeof path, "%s/configs/test/cli_bad_cross.yaml", repo_root);
  cfg = cfg_new();
  err_init(&err);
  n = cfg_load_yaml(cfg, path, &err);
  n += cfg_bind(cfg, opts_train, &err);
  th_check(n == 0, "cli_bad_cross.yaml binds (%s)", errs(&err));
  if (n == 0) {
    n = train_options_check(cfg, &err);
    th_check(n == 3 && contains(errs(&err), "train.warmup_steps = 100") &&
                 contains(errs(&err), "cli_bad_cross.yaml:4") && contains(errs(&err), "set data.path"),
             "cross-key errors name both keys and their sources: %s", errs(&err));
  }
  cfg_free(cfg);
}

// Using a getter wrongly is a bug in vpcast: it must stop, not return junk.
static void test_getter_misuse(void) {
  vp_config *cfg;
  vp_err err;
  build(&cfg, &err, "model: {name: m}\n", NULL);
  const char *keys[] = {"train.lr", "no.such.key"};
  for (int k = 0; k < 2; k++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      if (!freopen("/dev/null", "w", stderr)) _exit(3);
      (void)cfg_int(cfg, keys[k]);
      _exit(0);
    }
    int status = 0;
    th_check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 1,
             "cfg_int(\"%s\") is an internal error", keys[k]);
  }
  cfg_free(cfg);
}

// Option tables render into --help text.
static void test_help(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    th_check(0, "open_memstream");
    return;
  }
  opts_print_help(f, t_table);
  fclose(f);
  th_check(contains(buf, "--steps VALUE") && contains(buf, "--out DIR") && contains(buf, "--verbose "),
           "help lists flags:\n%s", buf);
  th_check(contains(buf, "train.betas") && contains(buf, "list of 2 floats in [0, 1); default [0.9, 0.999]"),
           "help shows type, range and default");
  th_check(contains(buf, "model.name") && contains(buf, "required"), "help includes spliced tables and required");
  th_check(!contains(buf, "  verbose "), "cli-only keys are not listed as config keys");
  free(buf);
}

int main(void) {
  // The repo root, from this file's path (CMake compiles with absolute paths).
  snprintf(repo_root, sizeof repo_root, "%s", __FILE__);
  char *p = strstr(repo_root, "/tests/unit/");
  if (p) *p = 0;
  test_flatten_and_getters();
  test_overrides();
  test_errors();
  test_suggest();
  test_dump_roundtrip();
  test_train_table();
  test_getter_misuse();
  test_help();
  return th_summary();
}
