// tfrecord.h: TFRecord files and the tf.train.Example protobuf, in plain C.
//
// A TFRecord file is a sequence of records, each framed as
//   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) |
//   data[length] | uint32 masked_crc32c(data)
// The reader verifies both CRCs of every record; a mismatch or a short read
// is an error naming the file, the record number and its byte offset.
//
// BAIR stores one tf.train.Example per record:
//   Example  { Features features = 1; }
//   Features { map<string, Feature> feature = 1; }   (entries: key = 1, value = 2)
//   Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2;
//                      Int64List int64_list = 3; } }
//   BytesList { repeated bytes value = 1; }
//   FloatList { repeated float value = 1 [packed]; }   (packed or not: both parsed)
//   Int64List { repeated int64 value = 1 [packed]; }
// tfx_parse walks that wire format with bounds checks on every length and
// skips fields it does not know, as protobuf parsers must.
#ifndef VP_IO_TFRECORD_H
#define VP_IO_TFRECORD_H

#include <stddef.h>
#include <stdint.h>

// ---- record framing ----

typedef struct tfr_reader tfr_reader;

// Opens path for reading; NULL with a message in err when it cannot.
tfr_reader *tfr_open(const char *path, char *err, size_t errn);
// Reads the next record: 1 with *data / *len set (valid until the next call),
// 0 at a clean end of file, -1 on a bad CRC, a truncated record or a read
// error, with a message in err.
int tfr_next(tfr_reader *r, const uint8_t **data, size_t *len, char *err, size_t errn);
// Records returned so far (the next record's 0-based index).
int64_t tfr_count(const tfr_reader *r);
// Moves to the record starting at byte offset, whose 0-based index is index
// (both from tfr_scan). Returns 0, or -1 with a message in err.
int tfr_seek(tfr_reader *r, int64_t offset, int64_t index, char *err, size_t errn);
// The byte offset of every record of path, found by reading only the
// headers (each length CRC is checked, the data and its CRC are skipped).
// *offsets is malloc'd. Returns 0, or -1 with a message in err.
int tfr_scan(const char *path, int64_t **offsets, int64_t *n, char *err, size_t errn);
void tfr_close(tfr_reader *r);

typedef struct tfr_writer tfr_writer;
// Writes to path.tmp, renamed to path at close. Dies on any error.
tfr_writer *tfr_writer_open(const char *path);
void tfr_write(tfr_writer *w, const void *data, size_t len);
void tfr_writer_close(tfr_writer *w);

// ---- tf.train.Example ----

typedef enum { TFX_NONE = 0, TFX_BYTES = 1, TFX_FLOAT = 2, TFX_INT64 = 3 } tfx_kind;

typedef struct tfx_feature {
  const uint8_t *name;   // not NUL-terminated; points into the parsed buffer
  size_t name_len;
  tfx_kind kind;         // TFX_NONE: a Feature with no list set
  const uint8_t *list;   // the encoded BytesList / FloatList / Int64List message
  size_t list_len;
} tfx_feature;

typedef struct tfx_example {
  int n, cap;
  tfx_feature *f;        // in file order; a repeated key: the last one counts
} tfx_example;

// Parses a serialized Example; the features point into buf, which must
// outlive ex. Returns 0, or -1 with what is malformed in err.
int tfx_parse(const uint8_t *buf, size_t len, tfx_example *ex, char *err, size_t errn);
void tfx_free(tfx_example *ex);
// The feature named name, or NULL.
const tfx_feature *tfx_find(const tfx_example *ex, const char *name);
// Values. Each returns the number of values in the list (whatever max is),
// or -1 when the feature is another kind or its list is malformed.
// tfx_bytes sets *p / *n to value idx (when idx is in range).
int64_t tfx_bytes(const tfx_feature *f, int64_t idx, const uint8_t **p, size_t *n);
int64_t tfx_floats(const tfx_feature *f, float *out, int64_t max);
int64_t tfx_int64s(const tfx_feature *f, int64_t *out, int64_t max);

// Builds a serialized Example (for tests and tools): add features, then
// tfx_builder_finish gives the bytes (owned by the builder until free).
typedef struct tfx_builder {
  uint8_t *feat;  // the Features message body so far
  size_t n, cap;
  uint8_t *out;   // the finished Example
  size_t out_len;
} tfx_builder;

void tfx_add_bytes(tfx_builder *b, const char *name, const void *data, size_t n);
void tfx_add_floats(tfx_builder *b, const char *name, const float *v, int n);
void tfx_add_int64s(tfx_builder *b, const char *name, const int64_t *v, int n);
const uint8_t *tfx_builder_finish(tfx_builder *b, size_t *len);
void tfx_builder_free(tfx_builder *b);

#endif
