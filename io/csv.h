// csv.h: a small RFC 4180 CSV reader (the SEVIR CATALOG.csv and any other
// comma-separated table a dataset ships).
//
// Grammar (RFC 4180, plus what real files written by pandas/Excel contain):
//   - fields are separated by ',' and records end at LF, CRLF or a lone CR;
//   - a field that starts with '"' is quoted: it runs to the next '"' that is
//     not doubled, may hold commas, quotes ("" stands for one '"') and line
//     breaks, and must be followed by ',' or the end of the record;
//   - an unquoted field is taken verbatim (no trimming); a '"' inside it is an
//     error, because a writer that follows the RFC would have quoted it;
//   - a UTF-8 byte-order mark at the start is skipped, empty lines are skipped
//     (as pandas does), the last record needs no line break;
//   - a NUL byte is an error (the file is binary or corrupt, not CSV).
// Errors are returned, never fatal: csv_next() writes "<name>:<line>: <problem>"
// into err, so callers decide how to report (the SEVIR source names the
// catalog and stops; tests check the message).
#ifndef VP_IO_CSV_H
#define VP_IO_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct vp_csv {
  char *name;          // file name for messages
  char *text;          // the whole input (owned)
  size_t len, pos;     // input length and read position
  int64_t line;        // physical line (1-based) at pos
  // The current record: nfields NUL-terminated fields (quotes removed).
  int nfields;
  char **field;        // points into store
  size_t *flen;        // field lengths (a field may hold NUL-free line breaks)
  int64_t rec_line;    // line where the current record starts
  int fcap;
  size_t *foff;        // field offsets into store while a record is built
  char *store;
  size_t store_len, store_cap;
} vp_csv;

// Reads a whole file. Returns NULL and writes "<path>: <strerror>" into err
// when it cannot be opened or read.
vp_csv *csv_open(const char *path, char *err, size_t errn);
// Parses text[0, len) (copied); name stands for the file in messages.
vp_csv *csv_from_text(const char *text, size_t len, const char *name);
// Next record into c->nfields / c->field. Returns 1 for a record, 0 at the
// end of the input, -1 on a syntax error (message in err; the reader is then
// at an undefined position and should be closed).
int csv_next(vp_csv *c, char *err, size_t errn);
void csv_close(vp_csv *c);

#endif
