// packed_write.h: writing packed HDF5 clip files (the format io/packed.c reads).
//
// A packed file holds N clips of (T, H, W, C) frames per modality, already
// cropped and resized, as raw integers with what is needed to decode them:
//
//   /                          attrs: format = "vpcast-packed", version = 1,
//                                     dataset ("cityscapes", "bair", ...),
//                                     modalities ("rgb,depth": the order),
//                                     frames, height, width, clips (int64),
//                                     shard_index, shard_count, source (text)
//   /modalities/<name>/frames  (N, T, H, W, C) uint8 or uint16, one clip per
//                              chunk (optionally deflate-compressed)
//                              attrs: kind ("rgb"|"depth"|"semantic"|"field"),
//                                     channels, scale, offset (physical =
//                                     raw * scale + offset), has_invalid,
//                                     invalid (the raw "no data" value),
//                                     vmin, vmax (nominal physical range,
//                                     used for normalisation), units
//   /clips/id                  (N,) variable-length strings: where each clip
//                              came from ("aachen_000000_000000+30")
//   /clips/split               (N,) uint8: 0 train, 1 val, 2 test
//                              attr names = "train,val,test"
//
// The file is written under a temporary name beside the final one and renamed
// at close, after fsync, so a crash or an error never leaves a partial file
// under the final name; a process that dies (vp_die) removes its temporary.
#ifndef VP_IO_PACKED_WRITE_H
#define VP_IO_PACKED_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "io/source.h"

#define PACKED_FORMAT "vpcast-packed"
#define PACKED_VERSION 1

// Per-clip split labels stored in /clips/split.
enum { PACKED_SPLIT_TRAIN = 0, PACKED_SPLIT_VAL = 1, PACKED_SPLIT_TEST = 2, PACKED_NSPLIT = 3 };
// "train" / "val" / "test"; packed_split_parse returns -1 for anything else.
const char *packed_split_name(int split);
int packed_split_parse(const char *name);
// "rgb" / "depth" / "semantic" / "field"; parse returns -1 for anything else.
const char *packed_kind_name(vp_mod_kind kind);
int packed_kind_parse(const char *name);

typedef enum { PACKED_U8 = 1, PACKED_U16 = 2 } packed_dtype;  // value = bytes per raw value

typedef struct packed_modality {
  char name[32];        // "rgb", "depth", "semantic"
  vp_mod_kind kind;
  int channels;         // C
  packed_dtype dtype;
  double scale, offset; // physical = raw * scale + offset
  int has_invalid;      // raw == invalid marks a missing value (mask 0)
  int64_t invalid;
  double vmin, vmax;    // nominal physical range (normalisation default)
  char units[32];       // of the physical value, free text ("disparity px", "class id")
} packed_modality;

typedef struct packed_info {
  char dataset[32];     // "cityscapes", "synthia", "bair", "synth"
  char source[1024];    // free text: where the clips came from (may be empty)
  int T, H, W;
  int nmod;
  packed_modality mod[VP_MAX_MOD];
  int compress;         // deflate level 0..9 (0: none, the fastest to read)
  int shard_index, shard_count;  // 0 and 1 for a file that is not a shard
} packed_info;

typedef struct packed_writer packed_writer;

// Creates path's temporary file with the layout above and no clips yet.
// Dies with a message naming the file on any error.
packed_writer *packed_writer_create(const char *path, const packed_info *info);
// Appends one clip: data[m] is (T, H, W, C_m) raw values of modality m's
// dtype (uint8_t or uint16_t); id names its origin; split is PACKED_SPLIT_*.
void packed_writer_append(packed_writer *w, const char *id, int split, const void *const *data);
int64_t packed_writer_count(const packed_writer *w);
// Writes the clip table and count, flushes, closes and fsyncs the temporary
// file; the final name is untouched until packed_writer_commit. Files that
// must appear together (the shards of a parallel pack) are all finished,
// then the ranks agree, then each is committed.
void packed_writer_finish(packed_writer *w);
// Renames the finished temporary to the final path, syncs the folder, frees w.
void packed_writer_commit(packed_writer *w);
// packed_writer_finish + packed_writer_commit.
void packed_writer_close(packed_writer *w);
// Closes (if still open) and removes the temporary file; the final path is
// left untouched; frees w.
void packed_writer_abort(packed_writer *w);
// Makes SIGTERM, SIGINT and SIGHUP remove the temporaries of writers not yet
// committed before the process dies of the signal (mpirun ends the other
// ranks of a failed job with SIGTERM). For commands that own the process.
void packed_write_cleanup_on_signals(void);

// The innermost HDF5 error message of the current error stack ("" if none),
// for error messages that name the file and the problem.
const char *packed_h5_error(char *buf, size_t n);

#endif
