// config.c: YAML loading (libyaml event parser), overrides, binding to an
// option table, typed getters and the YAML dump (see config.h).
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <yaml.h>

typedef struct {
  char *key;          // dotted
  char **items;       // scalar: one item; list: the elements
  int nitems;
  int is_list;
  const char *file;   // interned file name; NULL: command line
  int line, col;
  int load;           // which cfg_load_* call set it (duplicate detection)
} cfg_entry;

struct vp_config {
  int n, cap;
  cfg_entry *e;
  int nfiles;
  char **files;       // interned file names (entries point into these)
  int load;           // number of YAML loads so far
  // After cfg_bind:
  int bound;
  vp_optlist opts;
  vp_value *val;      // per row of opts
  int *from;          // entry index that set the row, or -1 (default)
};

vp_config *cfg_new(void) { return vp_calloc(1, sizeof(vp_config)); }

static void entry_free(cfg_entry *e) {
  free(e->key);
  for (int i = 0; i < e->nitems; i++) free(e->items[i]);
  free(e->items);
}

static void cfg_unbind(vp_config *cfg) {
  if (cfg->val)
    for (int i = 0; i < cfg->opts.n; i++) value_free(&cfg->val[i]);
  free(cfg->val);
  free(cfg->from);
  cfg->val = NULL;
  cfg->from = NULL;
  optlist_free(&cfg->opts);
  cfg->bound = 0;
}

void cfg_free(vp_config *cfg) {
  if (!cfg) return;
  cfg_unbind(cfg);
  for (int i = 0; i < cfg->n; i++) entry_free(&cfg->e[i]);
  free(cfg->e);
  for (int i = 0; i < cfg->nfiles; i++) free(cfg->files[i]);
  free(cfg->files);
  free(cfg);
}

static const char *intern_file(vp_config *cfg, const char *name) {
  for (int i = 0; i < cfg->nfiles; i++)
    if (strcmp(cfg->files[i], name) == 0) return cfg->files[i];
  cfg->files = vp_realloc(cfg->files, (size_t)(cfg->nfiles + 1) * sizeof *cfg->files);
  return cfg->files[cfg->nfiles++] = vp_strdup(name);
}

static void where(const char *file, int line, char *buf, size_t n) {
  if (file)
    snprintf(buf, n, "%s:%d", file, line);
  else
    snprintf(buf, n, "command line");
}

// Adds or replaces key. Takes ownership of items. Returns the entry index of
// an earlier value from the same YAML load (a duplicate), else -1.
static int entry_put(vp_config *cfg, const char *key, char **items, int nitems, int is_list,
                     const char *file, int line, int col, int load) {
  cfg->bound = 0;
  for (int i = 0; i < cfg->n; i++) {
    cfg_entry *e = &cfg->e[i];
    if (strcmp(e->key, key) != 0) continue;
    if (load && e->load == load) {
      for (int k = 0; k < nitems; k++) free(items[k]);
      free(items);
      return i;
    }
    for (int k = 0; k < e->nitems; k++) free(e->items[k]);
    free(e->items);
    e->items = items;
    e->nitems = nitems;
    e->is_list = is_list;
    e->file = file;
    e->line = line;
    e->col = col;
    e->load = load;
    return -1;
  }
  if (cfg->n == cfg->cap) {
    cfg->cap = cfg->cap ? 2 * cfg->cap : 32;
    cfg->e = vp_realloc(cfg->e, (size_t)cfg->cap * sizeof *cfg->e);
  }
  cfg->e[cfg->n++] = (cfg_entry){vp_strdup(key), items, nitems, is_list, file, line, col, load};
  return -1;
}

void cfg_set(vp_config *cfg, const char *key, const char *value, const char *file, int line) {
  const char *f = file ? intern_file(cfg, file) : NULL;
  size_t n = strlen(value);
  char **items;
  int nitems = 0, is_list = 0;
  if (n >= 2 && value[0] == '[' && value[n - 1] == ']') {
    // "[a, b]": a list; "[]" is the empty list.
    is_list = 1;
    items = vp_calloc(n, sizeof *items);
    const char *p = value + 1, *end = value + n - 1;
    const char *q = p;
    while (q < end && isspace((unsigned char)*q)) q++;
    if (q < end) {
      for (;;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t len = c ? (size_t)(c - p) : (size_t)(end - p);
        const char *s = p;
        while (len && isspace((unsigned char)*s)) s++, len--;
        while (len && isspace((unsigned char)s[len - 1])) len--;
        // 'a' and "a": YAML-style quotes around an item are not part of it.
        if (len >= 2 && (s[0] == '\'' || s[0] == '"') && s[len - 1] == s[0]) s++, len -= 2;
        char *it = vp_malloc(len + 1);
        memcpy(it, s, len);
        it[len] = 0;
        items[nitems++] = it;
        if (!c) break;
        p = c + 1;
      }
    }
  } else {
    items = vp_malloc(sizeof *items);
    items[nitems++] = vp_strdup(value);
  }
  entry_put(cfg, key, items, nitems, is_list, f, line, 0, 0);
}

void cfg_apply_args(vp_config *cfg, const vp_args *a) {
  for (int i = 0; i < a->nset; i++) cfg_set(cfg, a->set[i].key, a->set[i].value, NULL, 0);
}

// ---------------------------------------------------------------- YAML in

typedef struct {
  yaml_parser_t p;
  vp_config *cfg;
  vp_err *err;
  const char *name;  // interned
  int load;
} yload;

static int ynext(yload *y, yaml_event_t *ev) {
  if (yaml_parser_parse(&y->p, ev)) return 0;
  const yaml_parser_t *p = &y->p;
  const char *problem = p->problem ? p->problem : "unknown error";
  if (p->error == YAML_READER_ERROR)
    err_add(y->err, "%s: YAML read error at byte %zu: %s (is the file UTF-8 text?)", y->name,
            p->problem_offset, problem);
  else if (p->context)
    err_add(y->err, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)", y->name,
            p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
            p->context_mark.line + 1);
  else
    err_add(y->err, "%s:%zu:%zu: YAML syntax error: %s", y->name, p->problem_mark.line + 1,
            p->problem_mark.column + 1, problem);
  return -1;
}

static int scalar_is_null(const yaml_event_t *ev) {
  if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *v = (const char *)ev->data.scalar.value;
  return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
         strcmp(v, "NULL") == 0;
}

static char *scalar_dup(const yaml_event_t *ev) {
  if (scalar_is_null(ev)) return vp_strdup("");  // null reads as empty: fine for strings and lists
  return vp_strdup((const char *)ev->data.scalar.value);
}

static void yput(yload *y, const char *key, char **items, int nitems, int is_list,
                 const yaml_mark_t *mark) {
  int line = (int)mark->line + 1, col = (int)mark->column + 1;
  int dup = entry_put(y->cfg, key, items, nitems, is_list, y->name, line, col, y->load);
  if (dup >= 0)
    err_add(y->err, "duplicate key '%s' (%s:%d; first at %s:%d); keep one of them", key, y->name,
            line, y->name, y->cfg->e[dup].line);
}

// Consumes the node that starts with *ev (owned here) under key prefix.
// Returns -1 on an error that ends the load.
static int ynode(yload *y, yaml_event_t *ev, const char *prefix, const yaml_mark_t *keymark) {
  int rc = 0;
  switch (ev->type) {
    case YAML_SCALAR_EVENT: {
      char **items = vp_malloc(sizeof *items);
      items[0] = scalar_dup(ev);
      yput(y, prefix, items, 1, 0, keymark);
      break;
    }
    case YAML_SEQUENCE_START_EVENT: {
      int n = 0, cap = 8;
      char **items = vp_malloc((size_t)cap * sizeof *items);
      for (;;) {
        yaml_event_t it;
        if (ynext(y, &it)) { rc = -1; break; }
        if (it.type == YAML_SEQUENCE_END_EVENT) { yaml_event_delete(&it); break; }
        if (it.type != YAML_SCALAR_EVENT) {
          err_add(y->err, "%s:%zu:%zu: '%s' is a list of lists or mappings; a config list holds "
                  "plain values, e.g. [1, 2, 4]", y->name, it.start_mark.line + 1,
                  it.start_mark.column + 1, prefix);
          yaml_event_delete(&it);
          rc = -1;
          break;
        }
        if (n == cap) items = vp_realloc(items, (size_t)(cap *= 2) * sizeof *items);
        items[n++] = scalar_dup(&it);
        yaml_event_delete(&it);
      }
      if (rc == 0) {
        yput(y, prefix, items, n, 1, keymark);
      } else {
        for (int i = 0; i < n; i++) free(items[i]);
        free(items);
      }
      break;
    }
    case YAML_MAPPING_START_EVENT:
      for (;;) {
        yaml_event_t k, v;
        if (ynext(y, &k)) { rc = -1; break; }
        if (k.type == YAML_MAPPING_END_EVENT) { yaml_event_delete(&k); break; }
        if (k.type != YAML_SCALAR_EVENT || !k.data.scalar.value[0]) {
          err_add(y->err, "%s:%zu:%zu: a config key must be a plain word (like 'lr:')", y->name,
                  k.start_mark.line + 1, k.start_mark.column + 1);
          yaml_event_delete(&k);
          rc = -1;
          break;
        }
        const char *ks = (const char *)k.data.scalar.value;
        size_t len = (prefix ? strlen(prefix) + 1 : 0) + strlen(ks) + 1;
        char *key = vp_malloc(len);
        snprintf(key, len, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", ks);
        yaml_mark_t km = k.start_mark;
        yaml_event_delete(&k);
        if (ynext(y, &v)) {
          free(key);
          rc = -1;
          break;
        }
        rc = ynode(y, &v, key, &km);
        free(key);
        if (rc) break;
      }
      break;
    case YAML_ALIAS_EVENT:
      err_add(y->err, "%s:%zu:%zu: YAML aliases (*name) are not supported in configs; write the "
              "value out", y->name, ev->start_mark.line + 1, ev->start_mark.column + 1);
      rc = -1;
      break;
    default:
      err_add(y->err, "%s:%zu:%zu: unexpected YAML content", y->name, ev->start_mark.line + 1,
              ev->start_mark.column + 1);
      rc = -1;
      break;
  }
  yaml_event_delete(ev);
  return rc;
}

// Stream -> one document -> a top-level mapping (or nothing).
static int yload_stream(yload *y) {
  yaml_event_t ev;
  if (ynext(y, &ev)) return -1;
  VP_ASSERT(ev.type == YAML_STREAM_START_EVENT);
  yaml_event_delete(&ev);
  if (ynext(y, &ev)) return -1;
  if (ev.type == YAML_STREAM_END_EVENT) {  // empty file
    yaml_event_delete(&ev);
    return 0;
  }
  VP_ASSERT(ev.type == YAML_DOCUMENT_START_EVENT);
  yaml_event_delete(&ev);
  if (ynext(y, &ev)) return -1;
  if (ev.type == YAML_MAPPING_START_EVENT) {
    if (ynode(y, &ev, NULL, &ev.start_mark)) return -1;
  } else if (ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ev)) {
    yaml_event_delete(&ev);  // "---" and nothing else
  } else {
    err_add(y->err, "%s:%zu:%zu: the top level of a config must be a mapping of 'key: value' "
            "lines", y->name, ev.start_mark.line + 1, ev.start_mark.column + 1);
    yaml_event_delete(&ev);
    return -1;
  }
  if (ynext(y, &ev)) return -1;
  VP_ASSERT(ev.type == YAML_DOCUMENT_END_EVENT);
  yaml_event_delete(&ev);
  if (ynext(y, &ev)) return -1;
  if (ev.type != YAML_STREAM_END_EVENT) {
    err_add(y->err, "%s:%zu:%zu: a config holds one YAML document; remove the second '---'",
            y->name, ev.start_mark.line + 1, ev.start_mark.column + 1);
    yaml_event_delete(&ev);
    return -1;
  }
  yaml_event_delete(&ev);
  return 0;
}

static int yload_run(vp_config *cfg, const char *name, FILE *f, const char *text, vp_err *err) {
  int n0 = err->n;
  yload y = {.cfg = cfg, .err = err, .name = intern_file(cfg, name), .load = ++cfg->load};
  if (!yaml_parser_initialize(&y.p))
    vp_die_at(__FILE__, __LINE__, "yaml_parser_initialize failed (out of memory?)");
  if (f)
    yaml_parser_set_input_file(&y.p, f);
  else
    yaml_parser_set_input_string(&y.p, (const unsigned char *)text, strlen(text));
  yload_stream(&y);
  yaml_parser_delete(&y.p);
  return err->n - n0;
}

int cfg_load_yaml(vp_config *cfg, const char *path, vp_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    err_add(err, "cannot open config file '%s': %s", path, strerror(errno));
    return 1;
  }
  int n = yload_run(cfg, path, f, NULL, err);
  if (fclose(f) != 0) {
    err_add(err, "reading config file '%s' failed: %s", path, strerror(errno));
    n++;
  }
  return n;
}

int cfg_load_yaml_string(vp_config *cfg, const char *text, const char *name, vp_err *err) {
  return yload_run(cfg, name, NULL, text, err);
}

// ---------------------------------------------------------------- binding

// Whether key names a section of the table ("train" when train.lr exists).
static const char *section_example(const vp_optlist *l, const char *key) {
  size_t n = strlen(key);
  for (int i = 0; i < l->n; i++)
    if (strncmp(l->opt[i]->key, key, n) == 0 && l->opt[i]->key[n] == '.') return l->opt[i]->key;
  return NULL;
}

static void entry_text(const cfg_entry *e, char *buf, size_t n) {
  if (!e->is_list) {
    snprintf(buf, n, "'%s'", e->items[0]);
    return;
  }
  size_t used = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < e->nitems && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", e->items[i]);
  if (used < n) snprintf(buf + used, n - used, "]");
}

static void value_default(const vp_option *o, vp_value *v) {
  memset(v, 0, sizeof *v);
  if (o->def) {
    char buf[256];
    const char *item = o->def;
    size_t n = strlen(o->def);
    int is_list = o->type == OPT_INT_LIST || o->type == OPT_FLOAT_LIST || o->type == OPT_STRING_LIST;
    if (is_list && n >= 2 && o->def[0] == '[') {
      VP_ASSERT(n < sizeof buf);
      memcpy(buf, o->def + 1, n - 2);
      buf[n - 2] = 0;
      item = buf;
    }
    char why[256];
    // optlist_build already checked every default.
    if (opt_parse_value(o, &item, 1, 0, v, why, sizeof why))
      vp_die_at(__FILE__, __LINE__, "default of '%s': %s", o->key, why);
    return;
  }
  if (o->type == OPT_STRING) v->s = vp_strdup("");
  if (o->type == OPT_ENUM) {
    const char *bar = strchr(o->choices, '|');
    size_t n = bar ? (size_t)(bar - o->choices) : strlen(o->choices);
    v->s = vp_malloc(n + 1);
    memcpy(v->s, o->choices, n);
    v->s[n] = 0;
  }
}

int cfg_bind(vp_config *cfg, const vp_option *table, vp_err *err) {
  cfg_unbind(cfg);
  int n0 = err->n;
  optlist_build(&cfg->opts, table);
  const vp_optlist *l = &cfg->opts;
  cfg->val = vp_calloc((size_t)(l->n ? l->n : 1), sizeof *cfg->val);
  cfg->from = vp_malloc((size_t)(l->n ? l->n : 1) * sizeof *cfg->from);
  for (int i = 0; i < l->n; i++) cfg->from[i] = -1;

  for (int j = 0; j < cfg->n; j++) {
    const cfg_entry *e = &cfg->e[j];
    char src[512], text[256];
    where(e->file, e->line, src, sizeof src);
    entry_text(e, text, sizeof text);
    int k = optlist_find_key(l, e->key);
    if (k < 0) {
      const char *ex = section_example(l, e->key);
      if (ex && !e->is_list && e->nitems == 1 && !e->items[0][0]) continue;  // "train:" left empty
      if (ex) {
        err_add(err, "'%s' (%s) is a section, not a value; set its keys, e.g. %s", e->key, src, ex);
        continue;
      }
      // Suggest among the keys this source may set.
      const char **c = vp_malloc((size_t)(l->n + 1) * sizeof *c);
      int nc = 0;
      for (int i = 0; i < l->n; i++)
        if (!(e->file && l->opt[i]->cli_only)) c[nc++] = l->opt[i]->key;
      const char *best = suggest(e->key, c, nc);
      if (best)
        err_add(err, "unknown key '%s' (%s); did you mean '%s'?", e->key, src, best);
      else
        err_add(err, "unknown key '%s' (%s); see --help for the valid keys", e->key, src);
      free(c);
      continue;
    }
    const vp_option *o = l->opt[k];
    if (o->cli_only && e->file) {
      err_add(err, "'%s' (%s) can only be given on the command line%s%s", e->key, src,
              o->flag ? ", as " : "", o->flag ? o->flag : "");
      continue;
    }
    char why[512];
    vp_value v;
    if (opt_parse_value(o, (const char *const *)e->items, e->nitems, e->is_list, &v, why, sizeof why)) {
      err_add(err, "%s = %s (%s): %s", e->key, text, src, why);
      continue;
    }
    if (o->required && o->type == OPT_STRING && !v.s[0]) {
      err_add(err, "%s = '' (%s): a required key needs a non-empty value", e->key, src);
      value_free(&v);
      continue;
    }
    cfg->val[k] = v;
    cfg->from[k] = j;
  }

  for (int i = 0; i < l->n; i++) {
    if (cfg->from[i] >= 0) continue;
    const vp_option *o = l->opt[i];
    if (o->required) {
      if (o->flag)
        err_add(err, "missing required key '%s': set it in the config file, as %s=... or with %s",
                o->key, o->key, o->flag);
      else
        err_add(err, "missing required key '%s': set it in the config file or as %s=...", o->key,
                o->key);
      continue;
    }
    value_default(o, &cfg->val[i]);
  }
  cfg->bound = err->n == n0;
  return err->n - n0;
}

// ---------------------------------------------------------------- getters

static int getter_row(const vp_config *cfg, const char *key, const char *what, int t1, int t2) {
  if (!cfg->bound)
    vp_die_at(__FILE__, __LINE__, "%s(\"%s\") on a config that is not bound (call cfg_bind first)", what, key);
  int k = optlist_find_key(&cfg->opts, key);
  if (k < 0) vp_die_at(__FILE__, __LINE__, "%s(\"%s\"): no such key in the option table", what, key);
  int t = (int)cfg->opts.opt[k]->type;
  if (t != t1 && t != t2)
    vp_die_at(__FILE__, __LINE__, "%s(\"%s\"): the key has another type in the option table", what, key);
  return k;
}

int64_t cfg_int(const vp_config *cfg, const char *key) {
  return cfg->val[getter_row(cfg, key, "cfg_int", OPT_INT, OPT_INT)].i;
}
double cfg_float(const vp_config *cfg, const char *key) {
  return cfg->val[getter_row(cfg, key, "cfg_float", OPT_FLOAT, OPT_FLOAT)].f;
}
const char *cfg_str(const vp_config *cfg, const char *key) {
  return cfg->val[getter_row(cfg, key, "cfg_str", OPT_STRING, OPT_ENUM)].s;
}
int cfg_bool(const vp_config *cfg, const char *key) {
  return (int)cfg->val[getter_row(cfg, key, "cfg_bool", OPT_BOOL, OPT_BOOL)].i;
}
int cfg_enum(const vp_config *cfg, const char *key) {
  return (int)cfg->val[getter_row(cfg, key, "cfg_enum", OPT_ENUM, OPT_ENUM)].i;
}
const int64_t *cfg_int_list(const vp_config *cfg, const char *key, int *n) {
  const vp_value *v = &cfg->val[getter_row(cfg, key, "cfg_int_list", OPT_INT_LIST, OPT_INT_LIST)];
  *n = v->n;
  return v->il;
}
const double *cfg_float_list(const vp_config *cfg, const char *key, int *n) {
  const vp_value *v = &cfg->val[getter_row(cfg, key, "cfg_float_list", OPT_FLOAT_LIST, OPT_FLOAT_LIST)];
  *n = v->n;
  return v->fl;
}
char *const *cfg_str_list(const vp_config *cfg, const char *key, int *n) {
  const vp_value *v = &cfg->val[getter_row(cfg, key, "cfg_str_list", OPT_STRING_LIST, OPT_STRING_LIST)];
  *n = v->n;
  return v->sl;
}

int cfg_is_set(const vp_config *cfg, const char *key) {
  int k = optlist_find_key(&cfg->opts, key);
  if (!cfg->bound || k < 0) vp_die_at(__FILE__, __LINE__, "cfg_is_set(\"%s\"): unbound config or unknown key", key);
  return cfg->from[k] >= 0;
}

const char *cfg_source(const vp_config *cfg, const char *key, char *buf, size_t n) {
  int k = optlist_find_key(&cfg->opts, key);
  if (!cfg->bound || k < 0) vp_die_at(__FILE__, __LINE__, "cfg_source(\"%s\"): unbound config or unknown key", key);
  if (cfg->from[k] < 0) {
    snprintf(buf, n, "default");
  } else {
    const cfg_entry *e = &cfg->e[cfg->from[k]];
    where(e->file, e->line, buf, n);
  }
  return buf;
}

// ---------------------------------------------------------------- YAML out

typedef struct {
  char *p;
  size_t n, cap;
} ybuf;

static int ybuf_write(void *data, unsigned char *buffer, size_t size) {
  ybuf *b = data;
  if (b->n + size + 1 > b->cap) {
    while (b->n + size + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 1024;
    b->p = vp_realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, buffer, size);
  b->n += size;
  b->p[b->n] = 0;
  return 1;
}

static void yemit(yaml_emitter_t *em, yaml_event_t *ev, int init_ok) {
  if (!init_ok) vp_die_at(__FILE__, __LINE__, "libyaml event initialisation failed (out of memory?)");
  if (!yaml_emitter_emit(em, ev))
    vp_die_at(__FILE__, __LINE__, "yaml_emitter_emit failed: %s",
              em->problem ? em->problem : "unknown error");
}

// Would a plain scalar s read back as something other than a string
// (a number, a bool, null)? Then it is written quoted.
static int plain_is_ambiguous(const char *s) {
  if (!*s) return 1;
  static const char *words[] = {"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
    const char *a = s, *b = words[i];
    while (*a && *b && tolower((unsigned char)*a) == *b) a++, b++;
    if (!*a && !*b) return 1;
  }
  char *e;
  (void)strtod(s, &e);
  if (*e == 0) return 1;
  return s[0] == '.' || s[0] == '+' || s[0] == '-' || isdigit((unsigned char)s[0]);
}

static void yscalar(yaml_emitter_t *em, const char *s, int quoted) {
  yaml_event_t ev;
  yemit(em, &ev,
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                     quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE));
}

// Shortest text that reads back to exactly x, always with a '.' so YAML 1.1
// readers (PyYAML) see a float: 1.0, 0.0001, 1.0e-05.
static void fmt_double(double x, char *buf, size_t n) {
  char tmp[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, x);
    if (strtod(tmp, NULL) == x) break;
  }
  if (strchr(tmp, '.') || strchr(tmp, 'n') || strchr(tmp, 'i')) {
    snprintf(buf, n, "%s", tmp);
    return;
  }
  char *e = strchr(tmp, 'e');
  if (e)
    snprintf(buf, n, "%.*s.0%s", (int)(e - tmp), tmp, e);
  else
    snprintf(buf, n, "%s.0", tmp);
}

static void yvalue(yaml_emitter_t *em, const vp_option *o, const vp_value *v) {
  char buf[64];
  yaml_event_t ev;
  switch (o->type) {
    case OPT_INT:
      snprintf(buf, sizeof buf, "%lld", (long long)v->i);
      yscalar(em, buf, 0);
      return;
    case OPT_FLOAT:
      fmt_double(v->f, buf, sizeof buf);
      yscalar(em, buf, 0);
      return;
    case OPT_BOOL:
      yscalar(em, v->i ? "true" : "false", 0);
      return;
    case OPT_STRING: case OPT_ENUM:
      yscalar(em, v->s, plain_is_ambiguous(v->s));
      return;
    case OPT_INT_LIST: case OPT_FLOAT_LIST: case OPT_STRING_LIST:
      yemit(em, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE));
      for (int k = 0; k < v->n; k++) {
        if (o->type == OPT_INT_LIST) {
          snprintf(buf, sizeof buf, "%lld", (long long)v->il[k]);
          yscalar(em, buf, 0);
        } else if (o->type == OPT_FLOAT_LIST) {
          fmt_double(v->fl[k], buf, sizeof buf);
          yscalar(em, buf, 0);
        } else {
          yscalar(em, v->sl[k], plain_is_ambiguous(v->sl[k]));
        }
      }
      yemit(em, &ev, yaml_sequence_end_event_initialize(&ev));
      return;
    default: VP_ASSERT(0);
  }
}

// Length of the first `depth` dotted components of key (with the dots between).
static size_t prefix_len(const char *key, int depth) {
  size_t i = 0;
  for (int d = 0; d < depth; d++) {
    const char *dot = strchr(key + i, '.');
    VP_ASSERT(dot);
    i = (size_t)(dot - key) + 1;
  }
  return i;
}

// Emits the rows in idx[0..n) (all sharing the first `depth` components) as
// one mapping level; sections open where their first key appears.
static void ydump_level(yaml_emitter_t *em, const vp_config *cfg, const int *idx, int n, int depth) {
  yaml_event_t ev;
  yemit(em, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
  char *done = vp_calloc((size_t)(n ? n : 1), 1);
  int *sub = vp_malloc((size_t)(n ? n : 1) * sizeof *sub);
  for (int a = 0; a < n; a++) {
    if (done[a]) continue;
    const char *ka = cfg->opts.opt[idx[a]]->key;
    const char *part = ka + prefix_len(ka, depth);
    const char *dot = strchr(part, '.');
    done[a] = 1;
    if (!dot) {
      yscalar(em, part, 0);
      yvalue(em, cfg->opts.opt[idx[a]], &cfg->val[idx[a]]);
      continue;
    }
    // A section: gather every later row with the same component here.
    size_t plen = (size_t)(dot - part);
    int ns = 0;
    sub[ns++] = idx[a];
    for (int b = a + 1; b < n; b++) {
      if (done[b]) continue;
      const char *kb = cfg->opts.opt[idx[b]]->key;
      const char *pb = kb + prefix_len(kb, depth);
      if (strncmp(pb, part, plen) == 0 && pb[plen] == '.') {
        sub[ns++] = idx[b];
        done[b] = 1;
      }
    }
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)plen, part);
    yscalar(em, name, 0);
    int *copy = vp_malloc((size_t)ns * sizeof *copy);
    memcpy(copy, sub, (size_t)ns * sizeof *copy);
    ydump_level(em, cfg, copy, ns, depth + 1);
    free(copy);
  }
  free(sub);
  free(done);
  yemit(em, &ev, yaml_mapping_end_event_initialize(&ev));
}

char *cfg_dump_yaml(const vp_config *cfg) {
  if (!cfg->bound) vp_die_at(__FILE__, __LINE__, "cfg_dump_yaml on a config that is not bound");
  ybuf b = {0};
  yaml_emitter_t em;
  yaml_event_t ev;
  if (!yaml_emitter_initialize(&em))
    vp_die_at(__FILE__, __LINE__, "yaml_emitter_initialize failed (out of memory?)");
  yaml_emitter_set_output(&em, ybuf_write, &b);
  yaml_emitter_set_unicode(&em, 1);
  yaml_emitter_set_width(&em, -1);
  yemit(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
  yemit(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
  int *idx = vp_malloc((size_t)(cfg->opts.n ? cfg->opts.n : 1) * sizeof *idx);
  int n = 0;
  for (int i = 0; i < cfg->opts.n; i++)
    if (!cfg->opts.opt[i]->cli_only) idx[n++] = i;
  ydump_level(&em, cfg, idx, n, 0);
  free(idx);
  yemit(&em, &ev, yaml_document_end_event_initialize(&ev, 1));
  yemit(&em, &ev, yaml_stream_end_event_initialize(&ev));
  if (!yaml_emitter_flush(&em))
    vp_die_at(__FILE__, __LINE__, "yaml_emitter_flush failed: %s", em.problem ? em.problem : "unknown error");
  yaml_emitter_delete(&em);
  if (!b.p) b.p = vp_strdup("{}\n");
  return b.p;
}
