// test_tfrecord.c: CRC-32C against published vectors, TFRecord framing
// (write, read back, scan, seek, and every kind of damage), and the
// tf.train.Example parser against hand-encoded protobuf bytes.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "harness.h"
#include "io/crc32c.h"
#include "io/tfrecord.h"

static char tmpdir[256];

static void test_crc(void) {
  // RFC 3720 (iSCSI) B.4 and the usual check value; masked values computed
  // independently with python3-crcmod ('crc-32c') and TF's mask formula.
  th_check(crc32c("123456789", 9) == 0xE3069283u, "crc32c(123456789) = 0x%08x", crc32c("123456789", 9));
  uint8_t b[32];
  memset(b, 0, 32);
  th_check(crc32c(b, 32) == 0x8A9136AAu, "crc32c(32 zeros)");
  memset(b, 0xff, 32);
  th_check(crc32c(b, 32) == 0x62A8AB43u, "crc32c(32 x 0xff)");
  for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
  th_check(crc32c(b, 32) == 0x46DD794Eu, "crc32c(0..31)");
  for (int i = 0; i < 32; i++) b[i] = (uint8_t)(31 - i);
  th_check(crc32c(b, 32) == 0x113FDB5Cu, "crc32c(31..0)");
  th_check(crc32c("", 0) == 0, "crc32c of nothing");
  th_check(crc32c_mask(0xE3069283u) == 0xC78AB0E5u, "masked crc32c(123456789) = 0x%08x",
           crc32c_mask(0xE3069283u));
  uint8_t zero8[8] = {0};
  th_check(crc32c_mask(crc32c(zero8, 8)) == 0x07980329u, "masked CRC of a zero length header");
  th_check(crc32c_unmask(crc32c_mask(0x12345678u)) == 0x12345678u, "unmask inverts mask");
  // Extending in pieces equals one pass; hardware equals table, at every alignment.
  uint8_t big[1000];
  for (int i = 0; i < 1000; i++) big[i] = (uint8_t)(i * 7 + 3);
  uint32_t whole = crc32c(big, 1000);
  th_check(crc32c_extend(crc32c(big, 333), big + 333, 667) == whole, "crc32c_extend in two pieces");
  int same = 1;
  for (int off = 0; off < 9; off++)
    for (int n = 0; n < 40; n++)
      same &= crc32c_extend_sw(0, big + off, (size_t)n * 23 % 991) == crc32c(big + off, (size_t)n * 23 % 991);
  th_check(same, "table CRC equals dispatched CRC (hardware: %d)", crc32c_hw_available());
}

static char *tpath(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  return p;
}

static void write_file(const char *path, const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) vp_die("test: cannot write %s", path);
}

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) vp_die("test: cannot read %s", path);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = vp_malloc(*n + 1);
  if (fread(d, 1, *n, f) != *n) vp_die("test: short read %s", path);
  fclose(f);
  return d;
}

// Reads every record of path; returns records read, or -1 with err set.
static int read_all(const char *path, char *err, size_t errn) {
  tfr_reader *r = tfr_open(path, err, errn);
  if (!r) return -1;
  const uint8_t *d;
  size_t n;
  int rc, k = 0;
  while ((rc = tfr_next(r, &d, &n, err, errn)) == 1) k++;
  tfr_close(r);
  return rc < 0 ? -1 : k;
}

static void test_framing(void) {
  const char *p = tpath("a.tfrecords");
  tfr_writer *w = tfr_writer_open(p);
  char rec[3][64];
  size_t len[3] = {0, 5, 40};
  for (int i = 0; i < 3; i++) {
    for (size_t k = 0; k < len[i]; k++) rec[i][k] = (char)('a' + i + k);
    tfr_write(w, rec[i], len[i]);
  }
  tfr_writer_close(w);
  size_t fsz;
  uint8_t *bytes = read_file(p, &fsz);
  th_check(fsz == 3 * 16 + 45, "file size %zu = 3 x 16 framing bytes + 45 data bytes", fsz);
  // First record: length 0, then the masked CRC of 8 zero bytes, little-endian.
  th_check(bytes[8] == 0x29 && bytes[9] == 0x03 && bytes[10] == 0x98 && bytes[11] == 0x07,
           "length CRC bytes of an empty record are 29 03 98 07");

  char err[1024];
  tfr_reader *r = tfr_open(p, err, sizeof err);
  th_check(r != NULL, "open: %s", r ? "" : err);
  const uint8_t *d;
  size_t n;
  int ok = 1;
  for (int i = 0; i < 3; i++) {
    int rc = tfr_next(r, &d, &n, err, sizeof err);
    ok &= rc == 1 && n == len[i] && memcmp(d, rec[i], n) == 0;
  }
  th_check(ok, "three records read back");
  th_check(tfr_next(r, &d, &n, err, sizeof err) == 0 && tfr_count(r) == 3, "clean end of file after 3");
  int64_t *off, nrec;
  th_check(tfr_scan(p, &off, &nrec, err, sizeof err) == 0 && nrec == 3 && off[0] == 0 && off[1] == 16 &&
               off[2] == 16 + 21, "scan finds the record offsets");
  th_check(tfr_seek(r, off[2], 2, err, sizeof err) == 0 && tfr_next(r, &d, &n, err, sizeof err) == 1 &&
               n == 40 && memcmp(d, rec[2], 40) == 0 && tfr_count(r) == 3, "seek to record 2");
  free(off);
  tfr_close(r);

  // Damage, one case each: the message names the file, the record and the problem.
  struct {
    const char *what, *expect;
    size_t at;        // byte to flip (or length to keep when truncating)
    int truncate;
    int rec;          // record the error must name
  } cases[] = {
      {"bad length CRC", "length CRC mismatch", 16 + 8, 0, 1},
      {"bad data CRC", "data CRC mismatch", 16 + 21 + 12 + 3, 0, 2},
      {"bad data CRC (CRC bytes)", "data CRC mismatch", 16 + 12 + 5 + 1, 0, 1},
      {"flipped length", "length CRC mismatch", 16 + 21 + 1, 0, 2},
      {"truncated in a header", "truncated", 16 + 5, 1, 1},
      {"truncated in the data", "truncated", 16 + 21 + 12 + 20, 1, 2},
      {"truncated in the data CRC", "truncated", fsz - 2, 1, 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const char *q = tpath("bad.tfrecords");
    uint8_t *copy = vp_malloc(fsz);
    memcpy(copy, bytes, fsz);
    size_t n2 = fsz;
    if (cases[c].truncate)
      n2 = cases[c].at;
    else
      copy[cases[c].at] ^= 0x10;
    write_file(q, copy, n2);
    free(copy);
    int k = read_all(q, err, sizeof err);
    char recname[32];
    snprintf(recname, sizeof recname, "record %d ", cases[c].rec);
    th_check(k == -1 && strstr(err, q) && strstr(err, cases[c].expect) && strstr(err, recname),
             "%s: error naming file, record and problem (got %d: %s)", cases[c].what, k, err);
    int64_t *o2;
    int64_t nr2;
    int sc = tfr_scan(q, &o2, &nr2, err, sizeof err);
    // The header scan skips data, so only framing damage shows there.
    int framing = strstr(cases[c].expect, "length") || cases[c].truncate;
    th_check(framing ? sc == -1 : sc == 0, "%s: scan %s", cases[c].what, framing ? "fails" : "passes");
    if (sc == 0) free(o2);
  }
  th_check(read_all(tpath("missing.tfrecords"), err, sizeof err) == -1 && strstr(err, "missing.tfrecords"),
           "missing file: %s", err);
  write_file(tpath("empty.tfrecords"), bytes, 0);
  th_check(read_all(tpath("empty.tfrecords"), err, sizeof err) == 0, "an empty file has no records");
  free(bytes);
}

static void test_example(void) {
  tfx_builder b = {0};
  uint8_t img[12288];
  for (int i = 0; i < 12288; i++) img[i] = (uint8_t)(i * 31);
  float act[4] = {0.5f, -1.25f, 3e-3f, 7.0f};
  int64_t iv[3] = {1, -2, 1LL << 40};
  tfx_add_bytes(&b, "0/image_aux1/encoded", img, sizeof img);
  tfx_add_floats(&b, "0/action", act, 4);
  tfx_add_int64s(&b, "ints", iv, 3);
  tfx_add_bytes(&b, "empty", "", 0);
  size_t len;
  const uint8_t *ser = tfx_builder_finish(&b, &len);
  tfx_example ex;
  char err[512];
  th_check(tfx_parse(ser, len, &ex, err, sizeof err) == 0 && ex.n == 4, "parse a built Example");
  const tfx_feature *f = tfx_find(&ex, "0/image_aux1/encoded");
  const uint8_t *p = NULL;
  size_t n = 0;
  th_check(f && tfx_bytes(f, 0, &p, &n) == 1 && n == 12288 && memcmp(p, img, n) == 0, "bytes feature");
  float got[8];
  f = tfx_find(&ex, "0/action");
  th_check(f && tfx_floats(f, got, 8) == 4 && memcmp(got, act, sizeof act) == 0, "packed float list");
  th_check(f && tfx_int64s(f, iv, 3) == -1 && tfx_bytes(f, 0, &p, &n) == -1, "wrong kind is -1");
  int64_t gi[4];
  f = tfx_find(&ex, "ints");
  th_check(f && tfx_int64s(f, gi, 4) == 3 && gi[0] == 1 && gi[1] == -2 && gi[2] == (1LL << 40),
           "packed int64 list (negative as 10-byte varint)");
  th_check(tfx_find(&ex, "0/image_main/encoded") == NULL && tfx_find(&ex, "0/image_aux1") == NULL,
           "absent names are not found");
  f = tfx_find(&ex, "empty");
  th_check(f && tfx_bytes(f, 0, &p, &n) == 1 && n == 0, "empty bytes value");
  tfx_free(&ex);
  tfx_builder_free(&b);

  // Hand-encoded bytes, as another protobuf writer may produce: unpacked
  // floats (wire type 5) and int64s (wire type 0), an unknown field in every
  // message, two values in one BytesList, and a repeated key (last wins).
  static const uint8_t hand[] = {
      0x0a, 0x3d,                                // Example.features, 61 bytes
      0x0a, 0x11,                                //  entry, 17 bytes
      0x0a, 0x01, 'f',                           //   key "f"
      0x12, 0x0c,                                //   value: Feature, 12 bytes
      0x12, 0x0a,                                //    float_list, 10 bytes
      0x0d, 0x00, 0x00, 0x80, 0x3f,              //     value 1.0f (wire 5)
      0x0d, 0x00, 0x00, 0x00, 0x40,              //     value 2.0f
      0x0a, 0x0e,                                //  entry, 14 bytes
      0x0a, 0x01, 'i',                           //   key "i"
      0x12, 0x09,                                //   Feature
      0x1a, 0x05, 0x08, 0x05, 0x08, 0x96, 0x01,  //    int64_list: 5, 150 (wire 0)
      0x20, 0x07,                                //    unknown varint field 4
      0x0a, 0x10,                                //  entry, 16 bytes
      0x0a, 0x01, 'b',                           //   key "b"
      0x12, 0x09,                                //   Feature
      0x0a, 0x07,                                //    bytes_list
      0x0a, 0x02, 'h', 'i',                      //     "hi"
      0x0a, 0x01, '!',                           //     "!"
      0x18, 0x01,                                //   unknown field 3 in the entry
      0x0a, 0x06,                                //  entry, 6 bytes: "f" again, no list
      0x0a, 0x01, 'f', 0x12, 0x01, 0x00,         //   (a Feature with a stray 0 byte: bad tag)
  };
  int rc = tfx_parse(hand, sizeof hand, &ex, err, sizeof err);
  th_check(rc == -1 && strstr(err, "malformed"), "a field number 0 is malformed: %s", err);
  // The same without the broken last entry (its 8 bytes; outer length 53).
  uint8_t good[sizeof hand];
  memcpy(good, hand, sizeof hand);
  good[1] = 0x3d - 8;
  rc = tfx_parse(good, sizeof hand - 8, &ex, err, sizeof err);
  th_check(rc == 0 && ex.n == 3, "hand-encoded Example parses (%d features)", ex.n);
  if (rc == 0) {
    float fv[2];
    int64_t i2[2];
    th_check((f = tfx_find(&ex, "f")) && tfx_floats(f, fv, 2) == 2 && fv[0] == 1.0f && fv[1] == 2.0f,
             "unpacked floats");
    th_check((f = tfx_find(&ex, "i")) && tfx_int64s(f, i2, 2) == 2 && i2[0] == 5 && i2[1] == 150,
             "unpacked int64s with an unknown field");
    th_check((f = tfx_find(&ex, "b")) && tfx_bytes(f, 1, &p, &n) == 2 && n == 1 && p[0] == '!',
             "second value of a bytes list");
    tfx_free(&ex);
  }
  // Truncation anywhere inside a valid message is caught by the bounds checks.
  int all_bad = 1;
  for (size_t cut = 1; cut < sizeof hand - 8; cut++) {
    uint8_t t[sizeof hand];
    memcpy(t, good, cut);
    if (tfx_parse(t, cut, &ex, err, sizeof err) == 0) {
      tfx_free(&ex);
      all_bad = 0;
    }
  }
  th_check(all_bad, "every truncation of the Example is an error");
  // A length that points past the end.
  uint8_t over[] = {0x0a, 0x7f, 0x0a, 0x01};
  th_check(tfx_parse(over, sizeof over, &ex, err, sizeof err) == -1, "length past the end");
  // Empty Example: no features.
  th_check(tfx_parse(over, 0, &ex, err, sizeof err) == 0 && ex.n == 0, "empty Example");
  tfx_free(&ex);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vp_tfrecord_XXXXXX");
  if (!mkdtemp(tmpdir)) vp_die("mkdtemp failed");
  test_crc();
  test_framing();
  test_example();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
  return th_summary();
}
