// csv.c: RFC 4180 CSV reader (see csv.h).
#include "io/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

static vp_csv *csv_new(char *text, size_t len, const char *name) {
  vp_csv *c = vp_calloc(1, sizeof(*c));
  c->name = vp_strdup(name);
  c->text = text;
  c->len = len;
  c->line = 1;
  // A UTF-8 byte-order mark (Excel writes one) is not part of the first field.
  if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
      (unsigned char)text[2] == 0xBF)
    c->pos = 3;
  return c;
}

vp_csv *csv_open(const char *path, char *err, size_t errn) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errn, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *text = vp_malloc(cap);
  for (;;) {
    if (len == cap) text = vp_realloc(text, cap *= 2);
    size_t got = fread(text + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  int saved = errno;
  fclose(f);
  if (bad) {
    snprintf(err, errn, "%s: read error: %s", path, strerror(saved));
    free(text);
    return NULL;
  }
  return csv_new(text, len, path);
}

vp_csv *csv_from_text(const char *text, size_t len, const char *name) {
  char *copy = vp_malloc(len ? len : 1);
  if (len) memcpy(copy, text, len);
  return csv_new(copy, len, name);
}

void csv_close(vp_csv *c) {
  if (!c) return;
  free(c->name);
  free(c->text);
  free(c->field);
  free(c->flen);
  free(c->foff);
  free(c->store);
  free(c);
}

static void put(vp_csv *c, char ch) {
  if (c->store_len == c->store_cap) {
    c->store_cap = c->store_cap ? c->store_cap * 2 : 256;
    c->store = vp_realloc(c->store, c->store_cap);
  }
  c->store[c->store_len++] = ch;
}

static void field_begin(vp_csv *c) {
  if (c->nfields == c->fcap) {
    c->fcap = c->fcap ? c->fcap * 2 : 32;
    c->foff = vp_realloc(c->foff, (size_t)c->fcap * sizeof(*c->foff));
    c->flen = vp_realloc(c->flen, (size_t)c->fcap * sizeof(*c->flen));
    c->field = vp_realloc(c->field, (size_t)c->fcap * sizeof(*c->field));
  }
  c->foff[c->nfields++] = c->store_len;
}

static void field_end(vp_csv *c) {
  int k = c->nfields - 1;
  c->flen[k] = c->store_len - c->foff[k];
  put(c, 0);
}

// Consumes one line break at pos (CRLF, LF or CR).
static void eat_break(vp_csv *c) {
  if (c->text[c->pos] == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n') c->pos++;
  c->pos++;
  c->line++;
}

static int fail(vp_csv *c, char *err, size_t errn, int64_t line, const char *fmt, ...)
    VP_PRINTF(5, 6);
static int fail(vp_csv *c, char *err, size_t errn, int64_t line, const char *fmt, ...) {
  int n = snprintf(err, errn, "%s:%lld: ", c->name, (long long)line);
  if (n < 0 || (size_t)n >= errn) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, errn - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

int csv_next(vp_csv *c, char *err, size_t errn) {
  const char *t = c->text;
  // Empty lines carry no record.
  while (c->pos < c->len && (t[c->pos] == '\n' || t[c->pos] == '\r')) eat_break(c);
  if (c->pos >= c->len) return 0;
  c->rec_line = c->line;
  c->nfields = 0;
  c->store_len = 0;
  for (;;) {
    field_begin(c);
    int fno = c->nfields;
    if (c->pos < c->len && t[c->pos] == '"') {
      int64_t qline = c->line;
      c->pos++;
      for (;;) {
        if (c->pos >= c->len)
          return fail(c, err, errn, qline,
                      "unterminated quoted field %d: the '\"' opened here is never closed "
                      "(the file is truncated or a quote is missing)", fno);
        char ch = t[c->pos];
        if (ch == '"') {
          if (c->pos + 1 < c->len && t[c->pos + 1] == '"') {
            put(c, '"');
            c->pos += 2;
            continue;
          }
          c->pos++;
          break;
        }
        if (ch == 0) return fail(c, err, errn, c->line, "NUL byte in field %d: not a text file", fno);
        if (ch == '\n' || (ch == '\r' && !(c->pos + 1 < c->len && t[c->pos + 1] == '\n'))) c->line++;
        put(c, ch);
        c->pos++;
      }
      field_end(c);
      if (c->pos >= c->len) break;
      char ch = t[c->pos];
      if (ch == ',') {
        c->pos++;
        continue;
      }
      if (ch == '\n' || ch == '\r') {
        eat_break(c);
        break;
      }
      if (ch == 0) return fail(c, err, errn, c->line, "NUL byte after field %d: not a text file", fno);
      return fail(c, err, errn, c->line,
                  "unexpected '%c' after the closing quote of field %d (a quote inside a quoted "
                  "field must be doubled: \"\")", ch, fno);
    }
    // Unquoted field.
    int end_record = 0;
    for (;;) {
      if (c->pos >= c->len) {
        end_record = 1;
        break;
      }
      char ch = t[c->pos];
      if (ch == ',') {
        c->pos++;
        break;
      }
      if (ch == '\n' || ch == '\r') {
        eat_break(c);
        end_record = 1;
        break;
      }
      if (ch == '"')
        return fail(c, err, errn, c->line,
                    "'\"' inside unquoted field %d (a field holding quotes must be quoted as a "
                    "whole, with inner quotes doubled)", fno);
      if (ch == 0) return fail(c, err, errn, c->line, "NUL byte in field %d: not a text file", fno);
      put(c, ch);
      c->pos++;
    }
    field_end(c);
    // After a ',' the loop goes on even at the end of the input, so "a," has
    // two fields, the second empty.
    if (end_record) break;
  }
  for (int k = 0; k < c->nfields; k++) c->field[k] = c->store + c->foff[k];
  return 1;
}
