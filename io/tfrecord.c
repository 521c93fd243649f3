// tfrecord.c: TFRecord framing with CRC checks, and a tf.train.Example
// wire-format parser and builder (see tfrecord.h).
#include "io/tfrecord.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "io/crc32c.h"

static uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void store_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// ---- reader ----

struct tfr_reader {
  char path[4096];
  FILE *f;
  int64_t size;     // file size in bytes
  int64_t offset;   // byte offset of the next record
  int64_t count;    // records returned
  uint8_t *buf;
  size_t cap;
};

static int rfail(const tfr_reader *r, char *err, size_t errn, const char *fmt, ...) VP_PRINTF(4, 5);
static int rfail(const tfr_reader *r, char *err, size_t errn, const char *fmt, ...) {
  char m[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  snprintf(err, errn, "TFRecord file %s, record %lld (byte offset %lld): %s", r->path,
           (long long)r->count, (long long)r->offset, m);
  return -1;
}

tfr_reader *tfr_open(const char *path, char *err, size_t errn) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errn, "cannot open TFRecord file %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    snprintf(err, errn, "cannot stat TFRecord file %s: %s", path, strerror(errno));
    fclose(f);
    return NULL;
  }
  tfr_reader *r = vp_calloc(1, sizeof(*r));
  snprintf(r->path, sizeof r->path, "%s", path);
  r->f = f;
  r->size = (int64_t)st.st_size;
  return r;
}

int tfr_next(tfr_reader *r, const uint8_t **data, size_t *len, char *err, size_t errn) {
  uint8_t hdr[12];
  size_t got = fread(hdr, 1, 12, r->f);
  if (got == 0 && !ferror(r->f)) return 0;
  if (got != 12) {
    if (ferror(r->f)) return rfail(r, err, errn, "read error: %s", strerror(errno));
    return rfail(r, err, errn, "file ends inside the record header (%zu of 12 bytes): truncated", got);
  }
  uint64_t n = load_le64(hdr);
  uint32_t want = load_le32(hdr + 8), have = crc32c_mask(crc32c(hdr, 8));
  if (want != have)
    return rfail(r, err, errn,
                 "length CRC mismatch (stored 0x%08x, computed 0x%08x): the file is corrupt or "
                 "not a TFRecord file", want, have);
  int64_t left = r->size - r->offset - 12;
  if (n + 4 > (uint64_t)(left < 0 ? 0 : left))
    return rfail(r, err, errn, "record of %llu bytes but only %lld bytes remain: truncated",
                 (unsigned long long)n, (long long)(left > 4 ? left - 4 : 0));
  if (n + 4 > r->cap) {
    r->cap = (size_t)n + 4;
    r->buf = vp_realloc(r->buf, r->cap);
  }
  got = fread(r->buf, 1, (size_t)n + 4, r->f);
  if (got != (size_t)n + 4) {
    if (ferror(r->f)) return rfail(r, err, errn, "read error: %s", strerror(errno));
    return rfail(r, err, errn, "file ends inside the record data: truncated");
  }
  want = load_le32(r->buf + n);
  have = crc32c_mask(crc32c(r->buf, (size_t)n));
  if (want != have)
    return rfail(r, err, errn, "data CRC mismatch (stored 0x%08x, computed 0x%08x): the file is corrupt",
                 want, have);
  *data = r->buf;
  *len = (size_t)n;
  r->offset += 12 + (int64_t)n + 4;
  r->count++;
  return 1;
}

int64_t tfr_count(const tfr_reader *r) { return r->count; }

int tfr_seek(tfr_reader *r, int64_t offset, int64_t index, char *err, size_t errn) {
  if (offset < 0 || offset > r->size || fseeko(r->f, (off_t)offset, SEEK_SET) != 0) {
    snprintf(err, errn, "TFRecord file %s: cannot seek to byte %lld (file size %lld)", r->path,
             (long long)offset, (long long)r->size);
    return -1;
  }
  r->offset = offset;
  r->count = index;
  return 0;
}

int tfr_scan(const char *path, int64_t **offsets, int64_t *n, char *err, size_t errn) {
  *offsets = NULL;
  *n = 0;
  tfr_reader *r = tfr_open(path, err, errn);
  if (!r) return -1;
  int64_t cap = 0;
  for (;;) {
    uint8_t hdr[12];
    size_t got = fread(hdr, 1, 12, r->f);
    if (got == 0 && !ferror(r->f)) break;
    int bad = 0;
    if (got != 12) {
      bad = ferror(r->f) ? rfail(r, err, errn, "read error: %s", strerror(errno))
                         : rfail(r, err, errn, "file ends inside the record header (%zu of 12 bytes): truncated", got);
    } else {
      uint64_t len = load_le64(hdr);
      uint32_t want = load_le32(hdr + 8), have = crc32c_mask(crc32c(hdr, 8));
      int64_t left = r->size - r->offset - 12;
      if (want != have)
        bad = rfail(r, err, errn, "length CRC mismatch (stored 0x%08x, computed 0x%08x): the file is "
                    "corrupt or not a TFRecord file", want, have);
      else if (len + 4 > (uint64_t)(left < 0 ? 0 : left))
        bad = rfail(r, err, errn, "record of %llu bytes but only %lld bytes remain: truncated",
                    (unsigned long long)len, (long long)(left > 4 ? left - 4 : 0));
      else if (fseeko(r->f, (off_t)(len + 4), SEEK_CUR) != 0)
        bad = rfail(r, err, errn, "cannot seek past the record: %s", strerror(errno));
      if (!bad) {
        if (*n == cap) {
          cap = cap ? 2 * cap : 256;
          *offsets = vp_realloc(*offsets, (size_t)cap * sizeof(int64_t));
        }
        (*offsets)[(*n)++] = r->offset;
        r->offset += 12 + (int64_t)len + 4;
        r->count++;
      }
    }
    if (bad) {
      free(*offsets);
      *offsets = NULL;
      *n = 0;
      tfr_close(r);
      return -1;
    }
  }
  tfr_close(r);
  return 0;
}

void tfr_close(tfr_reader *r) {
  if (!r) return;
  fclose(r->f);
  free(r->buf);
  free(r);
}

// ---- writer ----

struct tfr_writer {
  char path[4096], tmp[4096];
  FILE *f;
};

tfr_writer *tfr_writer_open(const char *path) {
  tfr_writer *w = vp_calloc(1, sizeof(*w));
  if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
      snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path) >= (int)sizeof w->tmp)
    vp_die("TFRecord path too long: %s", path);
  w->f = fopen(w->tmp, "wb");
  if (!w->f) vp_die("cannot create %s: %s", w->tmp, strerror(errno));
  return w;
}

void tfr_write(tfr_writer *w, const void *data, size_t len) {
  uint8_t hdr[12], tail[4];
  store_le64(hdr, (uint64_t)len);
  store_le32(hdr + 8, crc32c_mask(crc32c(hdr, 8)));
  store_le32(tail, crc32c_mask(crc32c(data, len)));
  if (fwrite(hdr, 1, 12, w->f) != 12 || (len && fwrite(data, 1, len, w->f) != len) ||
      fwrite(tail, 1, 4, w->f) != 4)
    vp_die("cannot write %s: %s; is the disk full?", w->tmp, strerror(errno));
}

void tfr_writer_close(tfr_writer *w) {
  if (fflush(w->f) != 0 || fclose(w->f) != 0) vp_die("cannot finish writing %s: %s", w->tmp, strerror(errno));
  if (rename(w->tmp, w->path) != 0) vp_die("cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
  free(w);
}

// ---- protobuf wire format ----

typedef struct pb {
  const uint8_t *p, *end;
} pb;

// 0 on success; -1 on a varint that runs past the end or beyond 10 bytes.
static int pb_varint(pb *b, uint64_t *v) {
  uint64_t x = 0;
  for (int s = 0; s < 70; s += 7) {
    if (b->p >= b->end) return -1;
    uint8_t c = *b->p++;
    x |= (uint64_t)(c & 0x7f) << s;
    if (!(c & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

// Reads a tag; sets field and wire type.
static int pb_tag(pb *b, uint64_t *field, int *wire) {
  uint64_t t;
  if (pb_varint(b, &t) != 0) return -1;
  *field = t >> 3;
  *wire = (int)(t & 7);
  return *field == 0 ? -1 : 0;
}

// A length-delimited payload into *sub.
static int pb_bytes(pb *b, pb *sub) {
  uint64_t n;
  if (pb_varint(b, &n) != 0 || n > (uint64_t)(b->end - b->p)) return -1;
  sub->p = b->p;
  sub->end = b->p + n;
  b->p += n;
  return 0;
}

static int pb_skip(pb *b, int wire) {
  uint64_t v;
  pb sub;
  switch (wire) {
    case 0: return pb_varint(b, &v);
    case 1:
      if (b->end - b->p < 8) return -1;
      b->p += 8;
      return 0;
    case 2: return pb_bytes(b, &sub);
    case 5:
      if (b->end - b->p < 4) return -1;
      b->p += 4;
      return 0;
    default: return -1;  // groups (3, 4) and invalid types do not occur in Example
  }
}

static int xfail(char *err, size_t errn, const char *what) {
  snprintf(err, errn, "malformed tf.train.Example: %s", what);
  return -1;
}

// Feature { bytes_list = 1; float_list = 2; int64_list = 3 } (oneof: the last wins).
static int parse_feature(pb b, tfx_feature *f) {
  while (b.p < b.end) {
    uint64_t field;
    int wire;
    if (pb_tag(&b, &field, &wire) != 0) return -1;
    if (field >= 1 && field <= 3 && wire == 2) {
      pb sub;
      if (pb_bytes(&b, &sub) != 0) return -1;
      f->kind = (tfx_kind)field;
      f->list = sub.p;
      f->list_len = (size_t)(sub.end - sub.p);
    } else if (pb_skip(&b, wire) != 0) {
      return -1;
    }
  }
  return 0;
}

// One map entry { key = 1; value = 2 }.
static int parse_entry(pb b, tfx_feature *f) {
  memset(f, 0, sizeof *f);
  f->name = (const uint8_t *)"";
  while (b.p < b.end) {
    uint64_t field;
    int wire;
    if (pb_tag(&b, &field, &wire) != 0) return -1;
    pb sub;
    if (field == 1 && wire == 2) {
      if (pb_bytes(&b, &sub) != 0) return -1;
      f->name = sub.p;
      f->name_len = (size_t)(sub.end - sub.p);
    } else if (field == 2 && wire == 2) {
      if (pb_bytes(&b, &sub) != 0 || parse_feature(sub, f) != 0) return -1;
    } else if (pb_skip(&b, wire) != 0) {
      return -1;
    }
  }
  return 0;
}

int tfx_parse(const uint8_t *buf, size_t len, tfx_example *ex, char *err, size_t errn) {
  memset(ex, 0, sizeof *ex);
  const char *why = NULL;
  pb b = {buf, buf + len};
  while (b.p < b.end && !why) {
    uint64_t field;
    int wire;
    if (pb_tag(&b, &field, &wire) != 0) {
      why = "bad field tag in Example";
    } else if (!(field == 1 && wire == 2)) {
      if (pb_skip(&b, wire) != 0) why = "bad field in Example";
    } else {
      pb feats;
      if (pb_bytes(&b, &feats) != 0) why = "Features runs past the end of the record";
      while (!why && feats.p < feats.end) {
        pb entry;
        if (pb_tag(&feats, &field, &wire) != 0) {
          why = "bad field tag in Features";
        } else if (!(field == 1 && wire == 2)) {
          if (pb_skip(&feats, wire) != 0) why = "bad field in Features";
        } else if (pb_bytes(&feats, &entry) != 0) {
          why = "feature entry runs past the end of Features";
        } else {
          if (ex->n == ex->cap) {
            ex->cap = ex->cap ? 2 * ex->cap : 64;
            ex->f = vp_realloc(ex->f, (size_t)ex->cap * sizeof(tfx_feature));
          }
          if (parse_entry(entry, &ex->f[ex->n]) != 0)
            why = "bad feature entry (key or value)";
          else
            ex->n++;
        }
      }
    }
  }
  if (why) {
    tfx_free(ex);
    return xfail(err, errn, why);
  }
  return 0;
}

void tfx_free(tfx_example *ex) {
  free(ex->f);
  memset(ex, 0, sizeof *ex);
}

const tfx_feature *tfx_find(const tfx_example *ex, const char *name) {
  size_t n = strlen(name);
  for (int i = ex->n - 1; i >= 0; i--)
    if (ex->f[i].name_len == n && memcmp(ex->f[i].name, name, n) == 0) return &ex->f[i];
  return NULL;
}

int64_t tfx_bytes(const tfx_feature *f, int64_t idx, const uint8_t **p, size_t *n) {
  if (f->kind != TFX_BYTES) return -1;
  pb b = {f->list, f->list + f->list_len};
  int64_t k = 0;
  while (b.p < b.end) {
    uint64_t field;
    int wire;
    if (pb_tag(&b, &field, &wire) != 0) return -1;
    if (field == 1 && wire == 2) {
      pb sub;
      if (pb_bytes(&b, &sub) != 0) return -1;
      if (k == idx) {
        *p = sub.p;
        *n = (size_t)(sub.end - sub.p);
      }
      k++;
    } else if (pb_skip(&b, wire) != 0) {
      return -1;
    }
  }
  return k;
}

int64_t tfx_floats(const tfx_feature *f, float *out, int64_t max) {
  if (f->kind != TFX_FLOAT) return -1;
  pb b = {f->list, f->list + f->list_len};
  int64_t k = 0;
  while (b.p < b.end) {
    uint64_t field;
    int wire;
    if (pb_tag(&b, &field, &wire) != 0) return -1;
    if (field == 1 && (wire == 2 || wire == 5)) {
      pb sub;
      if (wire == 2) {
        if (pb_bytes(&b, &sub) != 0 || (sub.end - sub.p) % 4 != 0) return -1;
      } else {
        if (b.end - b.p < 4) return -1;
        sub.p = b.p;
        sub.end = b.p + 4;
        b.p += 4;
      }
      for (; sub.p < sub.end; sub.p += 4, k++)
        if (k < max) {
          uint32_t u = load_le32(sub.p);
          memcpy(&out[k], &u, 4);
        }
    } else if (pb_skip(&b, wire) != 0) {
      return -1;
    }
  }
  return k;
}

int64_t tfx_int64s(const tfx_feature *f, int64_t *out, int64_t max) {
  if (f->kind != TFX_INT64) return -1;
  pb b = {f->list, f->list + f->list_len};
  int64_t k = 0;
  while (b.p < b.end) {
    uint64_t field, v;
    int wire;
    if (pb_tag(&b, &field, &wire) != 0) return -1;
    if (field == 1 && wire == 2) {
      pb sub;
      if (pb_bytes(&b, &sub) != 0) return -1;
      while (sub.p < sub.end) {
        if (pb_varint(&sub, &v) != 0) return -1;
        if (k < max) out[k] = (int64_t)v;
        k++;
      }
    } else if (field == 1 && wire == 0) {
      if (pb_varint(&b, &v) != 0) return -1;
      if (k < max) out[k] = (int64_t)v;
      k++;
    } else if (pb_skip(&b, wire) != 0) {
      return -1;
    }
  }
  return k;
}

// ---- builder ----

typedef struct obuf {
  uint8_t *p;
  size_t n, cap;
} obuf;

static void ob_put(obuf *o, const void *d, size_t n) {
  if (o->n + n > o->cap) {
    o->cap = (o->n + n) * 2 + 64;
    o->p = vp_realloc(o->p, o->cap);
  }
  if (n) memcpy(o->p + o->n, d, n);
  o->n += n;
}

static void ob_varint(obuf *o, uint64_t v) {
  uint8_t t[10];
  int k = 0;
  do {
    t[k] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) t[k] |= 0x80;
    k++;
  } while (v);
  ob_put(o, t, (size_t)k);
}

static void ob_field_bytes(obuf *o, int field, const void *d, size_t n) {
  ob_varint(o, (uint64_t)field << 3 | 2);
  ob_varint(o, n);
  ob_put(o, d, n);
}

// Appends the map entry {key, Feature{kind: list}} to the builder.
static void add_entry(tfx_builder *b, const char *name, int kind, const obuf *list) {
  obuf feat = {0}, entry = {0};
  ob_field_bytes(&feat, kind, list->p, list->n);
  ob_field_bytes(&entry, 1, name, strlen(name));
  ob_field_bytes(&entry, 2, feat.p, feat.n);
  obuf all = {b->feat, b->n, b->cap};
  ob_field_bytes(&all, 1, entry.p, entry.n);
  b->feat = all.p;
  b->n = all.n;
  b->cap = all.cap;
  free(feat.p);
  free(entry.p);
}

void tfx_add_bytes(tfx_builder *b, const char *name, const void *data, size_t n) {
  obuf list = {0};
  ob_field_bytes(&list, 1, data, n);
  add_entry(b, name, TFX_BYTES, &list);
  free(list.p);
}

void tfx_add_floats(tfx_builder *b, const char *name, const float *v, int n) {
  obuf packed = {0}, list = {0};
  for (int i = 0; i < n; i++) {
    uint32_t u;
    uint8_t le[4];
    memcpy(&u, &v[i], 4);
    store_le32(le, u);
    ob_put(&packed, le, 4);
  }
  ob_field_bytes(&list, 1, packed.p, packed.n);
  add_entry(b, name, TFX_FLOAT, &list);
  free(packed.p);
  free(list.p);
}

void tfx_add_int64s(tfx_builder *b, const char *name, const int64_t *v, int n) {
  obuf packed = {0}, list = {0};
  for (int i = 0; i < n; i++) ob_varint(&packed, (uint64_t)v[i]);
  ob_field_bytes(&list, 1, packed.p, packed.n);
  add_entry(b, name, TFX_INT64, &list);
  free(packed.p);
  free(list.p);
}

const uint8_t *tfx_builder_finish(tfx_builder *b, size_t *len) {
  obuf o = {0};
  ob_field_bytes(&o, 1, b->feat, b->n);
  free(b->out);
  b->out = o.p;
  b->out_len = o.n;
  *len = o.n;
  return b->out;
}

void tfx_builder_free(tfx_builder *b) {
  free(b->feat);
  free(b->out);
  memset(b, 0, sizeof *b);
}
