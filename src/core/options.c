// options.c: option tables -> argument parser, value validation,
// suggestions and help text (see options.h).
#include "core/options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

// ---------------------------------------------------------------- errors

void err_init(vp_err *e) { e->n = 0; }

void err_add(vp_err *e, const char *fmt, ...) {
  if (e->n < VP_ERR_MAX) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg[e->n], VP_ERR_LEN, fmt, ap);
    va_end(ap);
  }
  e->n++;
}

void err_print(const vp_err *e, FILE *f) {
  int shown = e->n < VP_ERR_MAX ? e->n : VP_ERR_MAX;
  for (int i = 0; i < shown; i++) fprintf(f, "vpcast: error: %s\n", e->msg[i]);
  if (e->n > shown) fprintf(f, "vpcast: error: ... and %d more errors\n", e->n - shown);
}

// ---------------------------------------------------------------- ranges

// A range is "[lo, hi]" with '(' / ')' for open ends; lo and hi are numbers,
// "inf", "-inf" or "2^N".
typedef struct {
  double lo, hi;
  int lo_open, hi_open;
} opt_range;

static int bound_parse(const char *s, const char *end, double *v) {
  while (s < end && isspace((unsigned char)*s)) s++;
  while (end > s && isspace((unsigned char)end[-1])) end--;
  char buf[64];
  size_t n = (size_t)(end - s);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (strcmp(buf, "inf") == 0) { *v = INFINITY; return 0; }
  if (strcmp(buf, "-inf") == 0) { *v = -INFINITY; return 0; }
  char *e;
  if (buf[0] == '2' && buf[1] == '^') {
    long p = strtol(buf + 2, &e, 10);
    if (*e || p < 0 || p > 1023) return -1;
    *v = ldexp(1.0, (int)p);
    return 0;
  }
  *v = strtod(buf, &e);
  return *e ? -1 : 0;
}

static int range_parse(const char *r, opt_range *out) {
  size_t n = strlen(r);
  if (n < 5 || (r[0] != '[' && r[0] != '(') || (r[n - 1] != ']' && r[n - 1] != ')')) return -1;
  const char *comma = strchr(r, ',');
  if (!comma) return -1;
  out->lo_open = r[0] == '(';
  out->hi_open = r[n - 1] == ')';
  if (bound_parse(r + 1, comma, &out->lo) || bound_parse(comma + 1, r + n - 1, &out->hi)) return -1;
  return out->lo <= out->hi ? 0 : -1;
}

// long double holds every int64 exactly (x86-64), so integer bounds such as
// 2^56 are checked without rounding.
static int range_contains(const opt_range *r, long double v) {
  if (r->lo_open ? !(v > r->lo) : !(v >= r->lo)) return 0;
  if (r->hi_open ? !(v < r->hi) : !(v <= r->hi)) return 0;
  return 1;
}

// ---------------------------------------------------------------- tables

static int is_list_type(vp_opt_type t) {
  return t == OPT_INT_LIST || t == OPT_FLOAT_LIST || t == OPT_STRING_LIST;
}

static const char *type_name(vp_opt_type t) {
  switch (t) {
    case OPT_INT: case OPT_INT_LIST: return "int";
    case OPT_FLOAT: case OPT_FLOAT_LIST: return "float";
    case OPT_STRING: case OPT_STRING_LIST: return "string";
    case OPT_BOOL: return "bool";
    case OPT_ENUM: return "enum";
    default: return "?";
  }
}

static void optlist_add(vp_optlist *l, const vp_option *table, int *cap, int depth) {
  VP_ASSERT(depth < 16);  // an include cycle
  for (const vp_option *o = table; o->type != OPT_NONE; o++) {
    if (o->type == OPT_INCLUDE) {
      VP_ASSERT(o->include != NULL);
      optlist_add(l, o->include, cap, depth + 1);
      continue;
    }
    if (l->n == *cap) {
      *cap = *cap ? 2 * *cap : 32;
      l->opt = vp_realloc(l->opt, (size_t)*cap * sizeof *l->opt);
    }
    l->opt[l->n++] = o;
  }
}

// A broken table is a bug in vpcast, found by the first command that uses it
// (every table is exercised by the tests).
static void option_selfcheck(const vp_optlist *l, int idx) {
  const vp_option *o = l->opt[idx];
  if (!o->key || !o->key[0]) vp_die_at(__FILE__, __LINE__, "option table row %d has no key", idx);
  for (int j = 0; j < idx; j++) {
    if (strcmp(l->opt[j]->key, o->key) == 0)
      vp_die_at(__FILE__, __LINE__, "option table: key '%s' appears twice", o->key);
    if (o->flag && l->opt[j]->flag && strcmp(l->opt[j]->flag, o->flag) == 0)
      vp_die_at(__FILE__, __LINE__, "option table: flag '%s' appears twice", o->flag);
    // "train" and "train.lr" cannot both be keys: the YAML nesting would clash.
    const char *a = l->opt[j]->key, *b = o->key;
    size_t na = strlen(a), nb = strlen(b);
    if ((na < nb && strncmp(a, b, na) == 0 && b[na] == '.') ||
        (nb < na && strncmp(a, b, nb) == 0 && a[nb] == '.'))
      vp_die_at(__FILE__, __LINE__, "option table: '%s' is both a key and a section", na < nb ? a : b);
  }
  if (o->flag && strncmp(o->flag, "--", 2) != 0)
    vp_die_at(__FILE__, __LINE__, "option table: flag '%s' of '%s' must start with --", o->flag, o->key);
  if (o->type == OPT_ENUM && (!o->choices || !o->choices[0]))
    vp_die_at(__FILE__, __LINE__, "option table: enum '%s' has no choices", o->key);
  opt_range r;
  if (o->range && range_parse(o->range, &r))
    vp_die_at(__FILE__, __LINE__, "option table: bad range '%s' for '%s'", o->range, o->key);
  if (o->def) {
    vp_value v;
    char why[256];
    const char *item = o->def;
    int is_list = 0;
    // Defaults of lists are written "[a, b]"; strip the brackets here.
    char buf[256];
    if (is_list_type(o->type) && o->def[0] == '[') {
      size_t n = strlen(o->def);
      VP_ASSERT(n >= 2 && n < sizeof buf && o->def[n - 1] == ']');
      memcpy(buf, o->def + 1, n - 2);
      buf[n - 2] = 0;
      item = buf;
    }
    if (opt_parse_value(o, &item, 1, is_list, &v, why, sizeof why))
      vp_die_at(__FILE__, __LINE__, "option table: default '%s' of '%s' is invalid: %s", o->def, o->key, why);
    value_free(&v);
  }
}

void optlist_build(vp_optlist *l, const vp_option *table) {
  int cap = 0;
  l->n = 0;
  l->opt = NULL;
  if (table) optlist_add(l, table, &cap, 0);
  for (int i = 0; i < l->n; i++) option_selfcheck(l, i);
}

void optlist_free(vp_optlist *l) {
  free(l->opt);
  l->opt = NULL;
  l->n = 0;
}

int optlist_find_key(const vp_optlist *l, const char *key) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->opt[i]->key, key) == 0) return i;
  return -1;
}

int optlist_find_flag(const vp_optlist *l, const char *flag) {
  for (int i = 0; i < l->n; i++)
    if (l->opt[i]->flag && strcmp(l->opt[i]->flag, flag) == 0) return i;
  return -1;
}

// ---------------------------------------------------------------- values

void value_free(vp_value *v) {
  free(v->s);
  free(v->il);
  free(v->fl);
  if (v->sl)
    for (int i = 0; i < v->n; i++) free(v->sl[i]);
  free(v->sl);
  memset(v, 0, sizeof *v);
}

const char *opt_allowed(const vp_option *o, char *buf, size_t n) {
  char rng[96] = "";
  if (o->range) snprintf(rng, sizeof rng, " in %s", o->range);
  switch (o->type) {
    case OPT_INT: case OPT_FLOAT:
      snprintf(buf, n, "%s%s", type_name(o->type), rng);
      break;
    case OPT_STRING: snprintf(buf, n, "string"); break;
    case OPT_BOOL: snprintf(buf, n, "bool (true or false)"); break;
    case OPT_ENUM: snprintf(buf, n, "one of %s", o->choices); break;
    case OPT_INT_LIST: case OPT_FLOAT_LIST: case OPT_STRING_LIST:
      if (o->len)
        snprintf(buf, n, "list of %d %ss%s", o->len, type_name(o->type), rng);
      else
        snprintf(buf, n, "list of %ss%s", type_name(o->type), rng);
      break;
    default: snprintf(buf, n, "?"); break;
  }
  return buf;
}

// Copy of s without surrounding blanks.
static char *trim_dup(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  char *d = vp_malloc(n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static int parse_int(const char *s, int64_t *v, char *why, size_t whyn) {
  if (!*s) { snprintf(why, whyn, "empty value, expected an integer"); return -1; }
  char *e;
  errno = 0;
  long long x = strtoll(s, &e, 10);
  if (*e == 0 && errno == 0) { *v = x; return 0; }
  if (*e == 0 && errno == ERANGE) { snprintf(why, whyn, "integer too large"); return -1; }
  // Accept integral values written as floats ("1e6"), as YAML users do.
  double d = strtod(s, &e);
  if (*e == 0 && isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740992.0) {
    *v = (int64_t)d;
    return 0;
  }
  snprintf(why, whyn, "not an integer");
  return -1;
}

static int parse_float(const char *s, double *v, char *why, size_t whyn) {
  if (!*s) { snprintf(why, whyn, "empty value, expected a number"); return -1; }
  char *e;
  errno = 0;
  double d = strtod(s, &e);
  if (*e != 0) { snprintf(why, whyn, "not a number"); return -1; }
  if (!isfinite(d) || errno == ERANGE) { snprintf(why, whyn, "not a finite number"); return -1; }
  *v = d;
  return 0;
}

static int ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
  return *a == *b;
}

static int parse_bool(const char *s, int64_t *v, char *why, size_t whyn) {
  static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (ieq(s, yes[i])) { *v = 1; return 0; }
    if (ieq(s, no[i])) { *v = 0; return 0; }
  }
  snprintf(why, whyn, "not a bool");
  return -1;
}

// Choices of an enum as separate strings (into buf); returns the count.
static int enum_choices(const char *choices, char *buf, size_t n, const char **out, int maxc) {
  snprintf(buf, n, "%s", choices);
  int c = 0;
  for (char *p = buf; c < maxc;) {
    out[c++] = p;
    char *bar = strchr(p, '|');
    if (!bar) break;
    *bar = 0;
    p = bar + 1;
  }
  return c;
}

// One number / string element (already trimmed), checked against the range.
static int parse_elem(const vp_option *o, vp_opt_type t, const char *s, vp_value *v, int k,
                      char *why, size_t whyn) {
  char allowed[160];
  opt_range r;
  int has_range = o->range && range_parse(o->range, &r) == 0;
  long double num = 0;
  switch (t) {
    case OPT_INT: {
      int64_t x;
      if (parse_int(s, &x, why, whyn)) goto bad;
      if (k < 0) v->i = x; else v->il[k] = x;
      num = (long double)x;
      break;
    }
    case OPT_FLOAT: {
      double x;
      if (parse_float(s, &x, why, whyn)) goto bad;
      if (k < 0) v->f = x; else v->fl[k] = x;
      num = x;
      break;
    }
    case OPT_STRING:
      if (k < 0) v->s = vp_strdup(s); else v->sl[k] = vp_strdup(s);
      return 0;
    default: VP_ASSERT(0);
  }
  if (has_range && !range_contains(&r, num)) {
    snprintf(why, whyn, "out of range");
    goto bad;
  }
  return 0;
bad:;
  size_t used = strlen(why);
  snprintf(why + used, whyn - used, "; allowed: %s", opt_allowed(o, allowed, sizeof allowed));
  return -1;
}

int opt_parse_value(const vp_option *o, const char *const *items, int nitems, int is_list,
                    vp_value *out, char *why, size_t whyn) {
  memset(out, 0, sizeof *out);
  char allowed[160];
  if (!is_list_type(o->type)) {
    if (is_list || nitems != 1) {
      snprintf(why, whyn, "a list was given; allowed: %s", opt_allowed(o, allowed, sizeof allowed));
      return -1;
    }
    char *s = trim_dup(items[0], strlen(items[0]));
    int rc = 0;
    switch (o->type) {
      case OPT_INT: case OPT_FLOAT: case OPT_STRING:
        rc = parse_elem(o, o->type, s, out, -1, why, whyn);
        break;
      case OPT_BOOL:
        if ((rc = parse_bool(s, &out->i, why, whyn)) != 0) {
          size_t used = strlen(why);
          snprintf(why + used, whyn - used, "; allowed: %s", opt_allowed(o, allowed, sizeof allowed));
        }
        break;
      case OPT_ENUM: {
        char buf[512];
        const char *ch[64];
        int nc = enum_choices(o->choices, buf, sizeof buf, ch, 64);
        rc = -1;
        for (int c = 0; c < nc; c++)
          if (strcmp(s, ch[c]) == 0) {
            out->i = c;
            out->s = vp_strdup(ch[c]);
            rc = 0;
          }
        if (rc) {
          const char *best = suggest(s, ch, nc);
          if (best)
            snprintf(why, whyn, "not one of %s; did you mean '%s'?", o->choices, best);
          else
            snprintf(why, whyn, "not one of %s", o->choices);
        }
        break;
      }
      default: VP_ASSERT(0);
    }
    free(s);
    if (rc) value_free(out);
    return rc;
  }

  // Lists: the items of a sequence, or one scalar split on commas.
  char **el = NULL;
  int n = 0;
  if (is_list) {
    el = vp_calloc((size_t)(nitems ? nitems : 1), sizeof *el);
    for (int i = 0; i < nitems; i++) el[n++] = trim_dup(items[i], strlen(items[i]));
  } else {
    VP_ASSERT(nitems == 1);
    const char *s = items[0];
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    el = vp_calloc(cap, sizeof *el);
    char *whole = trim_dup(s, strlen(s));
    if (whole[0]) {
      const char *p = s;
      for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        el[n++] = trim_dup(p, len);
        if (!c) break;
        p = c + 1;
      }
    }
    free(whole);
  }
  int rc = 0;
  if (o->len && n != o->len) {
    snprintf(why, whyn, "has %d element%s; allowed: %s", n, n == 1 ? "" : "s",
             opt_allowed(o, allowed, sizeof allowed));
    rc = -1;
  }
  vp_opt_type et = o->type == OPT_INT_LIST ? OPT_INT : o->type == OPT_FLOAT_LIST ? OPT_FLOAT : OPT_STRING;
  out->n = n;
  if (et == OPT_INT) out->il = vp_calloc((size_t)(n ? n : 1), sizeof *out->il);
  if (et == OPT_FLOAT) out->fl = vp_calloc((size_t)(n ? n : 1), sizeof *out->fl);
  if (et == OPT_STRING) out->sl = vp_calloc((size_t)(n ? n : 1), sizeof *out->sl);
  for (int k = 0; k < n && rc == 0; k++) {
    char ewhy[400];
    if (parse_elem(o, et, el[k], out, k, ewhy, sizeof ewhy)) {
      snprintf(why, whyn, "element %d ('%s') is %s", k + 1, el[k], ewhy);
      rc = -1;
    }
  }
  for (int k = 0; k < n; k++) free(el[k]);
  free(el);
  if (rc) value_free(out);
  return rc;
}

// ---------------------------------------------------------------- suggestions

int edit_distance(const char *a, const char *b) {
  int n = (int)strlen(a), m = (int)strlen(b);
  if (n > 255 || m > 255) return n > m ? n : m;  // no sane key is that long
  // Three rows of the optimal-string-alignment table.
  int rows[3][257];
  int *pp = rows[0], *p = rows[1], *c = rows[2];
  for (int j = 0; j <= m; j++) p[j] = j;
  for (int i = 1; i <= n; i++) {
    c[0] = i;
    for (int j = 1; j <= m; j++) {
      int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
      int cost = ai != bj;
      int v = p[j] + 1;
      if (c[j - 1] + 1 < v) v = c[j - 1] + 1;
      if (p[j - 1] + cost < v) v = p[j - 1] + cost;
      if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < v)
        v = pp[j - 2] + 1;  // transposition
      c[j] = v;
    }
    int *t = pp;
    pp = p;
    p = c;
    c = t;
  }
  return p[m];
}

// How far a word of this length may be from a suggestion.
static int suggest_threshold(size_t len) {
  if (len <= 3) return 1;
  if (len <= 6) return 2;
  return len / 4 > 3 ? (int)(len / 4) : 3;
}

static const char *last_part(const char *s) {
  const char *d = strrchr(s, '.');
  return d ? d + 1 : s;
}

const char *suggest(const char *word, const char *const *cands, int n) {
  const char *best = NULL;
  int best_score = 1 << 30;
  const char *wlast = last_part(word);
  for (int i = 0; i < n; i++) {
    const char *c = cands[i];
    // Scores are 2*distance, +1 for the weaker partial matches, so a whole-key
    // match wins ties.
    int d = edit_distance(word, c);
    if (d <= suggest_threshold(strlen(word)) && 2 * d < best_score) best_score = 2 * d, best = c;
    const char *clast = last_part(c);
    if (clast != c) {
      d = edit_distance(word, clast);  // "lr" -> "train.lr"
      if (d <= suggest_threshold(strlen(word)) && 2 * d + 1 < best_score) best_score = 2 * d + 1, best = c;
      if (wlast != word) {
        d = edit_distance(wlast, clast);  // "optim.lr" -> "train.lr"
        if (d <= suggest_threshold(strlen(wlast)) && d < (int)strlen(wlast) && 2 * d + 1 < best_score)
          best_score = 2 * d + 1, best = c;
      }
    }
  }
  return best;
}

const char *optlist_suggest(const vp_optlist *l, const char *word, int flags) {
  const char **c = vp_malloc((size_t)(l->n + 1) * sizeof *c);
  int n = 0;
  for (int i = 0; i < l->n; i++) {
    const char *s = flags ? l->opt[i]->flag : l->opt[i]->key;
    if (s) c[n++] = s;
  }
  if (flags) c[n++] = "--help";
  const char *best = suggest(word, c, n);
  free(c);
  return best;
}

// ---------------------------------------------------------------- command line

int arg_is_assignment(const char *s) {
  if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (const char *p = s; *p; p++) {
    if (*p == '=') return 1;
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')) return 0;
  }
  return 0;
}

static void args_push_set(vp_args *a, const char *key, size_t keylen, const char *value) {
  a->set = vp_realloc(a->set, (size_t)(a->nset + 1) * sizeof *a->set);
  a->set[a->nset].key = trim_dup(key, keylen);
  a->set[a->nset].value = vp_strdup(value);
  a->nset++;
}

int args_parse(vp_args *a, const vp_option *table, int argc, char **argv, vp_err *err) {
  memset(a, 0, sizeof *a);
  a->pos = vp_calloc((size_t)(argc + 1), sizeof *a->pos);
  vp_optlist l;
  optlist_build(&l, table);
  int n0 = err->n, rest = 0;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    if (rest) {
      a->pos[a->npos++] = s;
    } else if (strcmp(s, "--") == 0) {
      rest = 1;
    } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      a->help = 1;
    } else if (s[0] == '-' && s[1] != 0) {
      const char *eq = strchr(s, '=');
      size_t nlen = eq ? (size_t)(eq - s) : strlen(s);
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)(nlen < 127 ? nlen : 127), s);
      int k = optlist_find_flag(&l, name);
      if (k < 0) {
        const char *best = optlist_suggest(&l, name, 1);
        if (best)
          err_add(err, "unknown option '%s' (command line); did you mean '%s'?", name, best);
        else
          err_add(err, "unknown option '%s' (command line); see --help for the options", name);
        continue;
      }
      const vp_option *o = l.opt[k];
      const char *value;
      if (eq) {
        value = eq + 1;
      } else if (o->type == OPT_BOOL) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        err_add(err, "option '%s' (command line) needs a value (%s)", name,
                o->metavar ? o->metavar : type_name(o->type));
        continue;
      }
      args_push_set(a, o->key, strlen(o->key), value);
    } else if (arg_is_assignment(s)) {
      const char *eq = strchr(s, '=');
      args_push_set(a, s, (size_t)(eq - s), eq + 1);
    } else {
      a->pos[a->npos++] = s;
    }
  }
  optlist_free(&l);
  return err->n - n0;
}

void args_free(vp_args *a) {
  for (int i = 0; i < a->nset; i++) {
    free((char *)a->set[i].key);
    free((char *)a->set[i].value);
  }
  free(a->set);
  free(a->pos);
  memset(a, 0, sizeof *a);
}

// ---------------------------------------------------------------- help

void opts_print_help(FILE *f, const vp_option *table) {
  vp_optlist l;
  optlist_build(&l, table);
  fprintf(f, "options:\n");
  for (int i = 0; i < l.n; i++) {
    const vp_option *o = l.opt[i];
    if (!o->flag) continue;
    char lhs[96];
    if (o->type == OPT_BOOL)
      snprintf(lhs, sizeof lhs, "%s", o->flag);
    else
      snprintf(lhs, sizeof lhs, "%s %s", o->flag, o->metavar ? o->metavar : "VALUE");
    if (o->cli_only)
      fprintf(f, "  %-22s %s\n", lhs, o->help ? o->help : "");
    else  // the key's line below has the type and default
      fprintf(f, "  %-22s sets %s\n", lhs, o->key);
  }
  fprintf(f, "  %-22s %s\n", "-h, --help", "show this help");
  int nkeys = 0;
  for (int i = 0; i < l.n; i++) nkeys += !l.opt[i]->cli_only;
  if (nkeys) {
    fprintf(f, "\nconfig keys (in the YAML file, nested or dotted, or key=value on the command\n"
               "line; later values win):\n");
    for (int i = 0; i < l.n; i++) {
      const vp_option *o = l.opt[i];
      if (o->cli_only) continue;
      char allowed[160], def[160];
      opt_allowed(o, allowed, sizeof allowed);
      if (o->required)
        snprintf(def, sizeof def, "; required");
      else if (o->def && o->def[0])
        snprintf(def, sizeof def, "; default %s", o->def);
      else if (o->def || o->type == OPT_STRING)
        snprintf(def, sizeof def, "; default \"\"");
      else
        def[0] = 0;
      fprintf(f, "  %-24s %s%s\n", o->key, allowed, def);
      fprintf(f, "  %-24s %s\n", "", o->help ? o->help : "");
    }
  }
  optlist_free(&l);
}
