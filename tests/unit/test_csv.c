// test_csv.c: the RFC 4180 CSV reader: quoting, line breaks, line numbers,
// error messages, and a randomised write/read round trip.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "harness.h"
#include "io/csv.h"

static int contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

// Parses text and checks the records against want (fields separated by '|',
// records by '#'; "(empty)" nowhere needed since fields may be empty).
static void expect(const char *what, const char *text, size_t len, int nrec, const char *const *recs,
                   const int *lines) {
  vp_csv *c = csv_from_text(text, len, "t.csv");
  char err[512] = "";
  int ok = 1, r = 0, rc;
  while ((rc = csv_next(c, err, sizeof err)) == 1) {
    if (r >= nrec) {
      ok = 0;
      break;
    }
    // Join the fields with '|' and compare.
    char joined[1024] = "";
    for (int k = 0; k < c->nfields; k++) {
      size_t L = strlen(joined);
      snprintf(joined + L, sizeof joined - L, "%s%s", k ? "|" : "", c->field[k]);
      if (strlen(c->field[k]) != c->flen[k]) ok = 0;
    }
    if (strcmp(joined, recs[r]) != 0) {
      printf("  %s: record %d is [%s], want [%s]\n", what, r, joined, recs[r]);
      ok = 0;
    }
    if (lines && c->rec_line != lines[r]) {
      printf("  %s: record %d starts at line %lld, want %d\n", what, r, (long long)c->rec_line, lines[r]);
      ok = 0;
    }
    r++;
  }
  th_check(ok && rc == 0 && r == nrec, "%s (%d records, rc %d, %s)", what, r, rc, err);
  csv_close(c);
}

static void expect_error(const char *what, const char *text, const char *frag1, const char *frag2) {
  vp_csv *c = csv_from_text(text, strlen(text), "bad.csv");
  char err[512] = "";
  int rc;
  while ((rc = csv_next(c, err, sizeof err)) == 1) {
  }
  th_check(rc == -1 && contains(err, frag1) && contains(err, frag2), "%s -> error '%s'", what, err);
  csv_close(c);
}

static void test_grammar(void) {
  const char *t1 = "a,b,c\n1,2,3\n";
  const char *r1[] = {"a|b|c", "1|2|3"};
  expect("plain LF", t1, strlen(t1), 2, r1, (const int[]){1, 2});

  const char *t2 = "a,b\r\n1,2\r\n\r\n\n3,4";
  const char *r2[] = {"a|b", "1|2", "3|4"};
  expect("CRLF, empty lines skipped, no final break", t2, strlen(t2), 3, r2, (const int[]){1, 2, 5});

  const char *t3 = "x\ry\rz";
  const char *r3[] = {"x", "y", "z"};
  expect("lone CR ends records", t3, strlen(t3), 3, r3, (const int[]){1, 2, 3});

  const char *t4 = "\xEF\xBB\xBFid,n\nS1,2\n";
  const char *r4[] = {"id|n", "S1|2"};
  expect("UTF-8 BOM skipped", t4, strlen(t4), 2, r4, NULL);

  const char *t5 = "a,\"b,c\",\"say \"\"hi\"\"\",\"\"\n"
                   "\"line1\nline2\",x\n"
                   "\"crlf\r\ninside\",y\n"
                   "last,row\n";
  const char *r5[] = {"a|b,c|say \"hi\"|", "line1\nline2|x", "crlf\r\ninside|y", "last|row"};
  expect("quoted commas, doubled quotes, empty quoted, embedded line breaks", t5, strlen(t5), 4, r5,
         (const int[]){1, 2, 4, 6});

  const char *t6 = "a,,b,\n,\n x , y \n";
  const char *r6[] = {"a||b|", "|", " x | y "};
  expect("empty fields, trailing comma, spaces kept", t6, strlen(t6), 3, r6, NULL);

  const char *t7 = "a,";
  const char *r7[] = {"a|"};
  expect("a comma as the last byte opens an empty field", t7, strlen(t7), 1, r7, NULL);

  const char *t8 = "\"q\"";
  const char *r8[] = {"q"};
  expect("quoted field at end of input", t8, strlen(t8), 1, r8, NULL);

  expect("empty input", "", 0, 0, NULL, NULL);
  expect("only line breaks", "\n\r\n\n", 4, 0, NULL, NULL);
}

static void test_errors(void) {
  expect_error("unterminated quote", "a,b\n1,\"open\n2,3\n", "bad.csv:2:", "unterminated quoted field 2");
  expect_error("text after closing quote", "a,b\n\"x\"y,2\n", "bad.csv:2:", "after the closing quote");
  expect_error("quote inside unquoted field", "a,b\nx\"y,2\n", "bad.csv:2:", "inside unquoted field 1");
  static const char nul[] = "a,b\n1,\0\n";
  vp_csv *c = csv_from_text(nul, sizeof(nul) - 1, "nul.csv");
  char err[512] = "";
  int rc;
  while ((rc = csv_next(c, err, sizeof err)) == 1) {
  }
  th_check(rc == -1 && contains(err, "nul.csv:2:") && contains(err, "NUL byte"), "NUL byte -> '%s'", err);
  csv_close(c);

  char path[] = "/tmp/vp_csv_missing_XXXXXX";
  int fd = mkstemp(path);
  th_check(fd >= 0, "mkstemp");
  close(fd);
  remove(path);
  c = csv_open(path, err, sizeof err);
  th_check(!c && contains(err, path) && contains(err, "No such file"), "missing file -> '%s'", err);
}

// Random fields (commas, quotes, CR, LF, spaces), written the RFC way and read back.
static void test_roundtrip(void) {
  const char alphabet[] = "ab ,\"\n\r;x1";
  uint64_t s = 0x9E3779B97F4A7C15ull;
  int ok = 1;
  char path[] = "/tmp/vp_csv_rt_XXXXXX";
  int fd = mkstemp(path);
  th_check(fd >= 0, "mkstemp");
  FILE *f = fdopen(fd, "w");
  enum { NREC = 200, NF = 5 };
  static char want[NREC][NF][16];
  for (int r = 0; r < NREC; r++) {
    for (int k = 0; k < NF; k++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      int len = (int)(s % 12);
      // A record with a single empty field would be an empty line, which
      // the reader skips; keep the first field non-empty.
      if (k == 0 && len == 0) len = 1;
      for (int q = 0; q < len; q++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        want[r][k][q] = alphabet[s % (sizeof(alphabet) - 1)];
      }
      want[r][k][len] = 0;
      const char *v = want[r][k];
      int quote = strpbrk(v, ",\"\r\n") != NULL || (s >> 40) % 3 == 0;
      if (k) fputc(',', f);
      if (quote) fputc('"', f);
      for (const char *p = v; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
      }
      if (quote) fputc('"', f);
    }
    fputs(r % 2 ? "\r\n" : "\n", f);
  }
  fclose(f);
  char err[512] = "";
  vp_csv *c = csv_open(path, err, sizeof err);
  th_check(c != NULL, "open round-trip file: %s", err);
  int r = 0, rc = 0;
  while (c && (rc = csv_next(c, err, sizeof err)) == 1) {
    if (r >= NREC || c->nfields != NF) {
      ok = 0;
      break;
    }
    for (int k = 0; k < NF; k++)
      if (strcmp(c->field[k], want[r][k]) != 0) ok = 0;
    r++;
  }
  th_check(ok && rc == 0 && r == NREC, "random fields round-trip (%d of %d records, %s)", r, NREC, err);
  csv_close(c);
  remove(path);
}

int main(void) {
  test_grammar();
  test_errors();
  test_roundtrip();
  return th_summary();
}
