// sevir_source.h: what the SEVIR clip source (io/sevir.c) tells beyond the
// generic vp_source interface: which event and frames a clip is, for tests,
// evaluation logs and debugging.
#ifndef VP_IO_SEVIR_SOURCE_H
#define VP_IO_SEVIR_SOURCE_H

#include <stdint.h>

#include "io/source.h"

typedef struct sevir_clip_info {
  const char *id;         // event id, e.g. "S728503"
  int64_t time_utc;       // catalog time_utc, seconds since 1970
  const char *path;       // HDF5 file
  int64_t file_index;     // row in the file's N axis
  int64_t t0;             // first frame of the window (0..48)
  int64_t event;          // event number within the split (events sorted by id)
  int64_t catalog_line;   // the event's row in CATALOG.csv
} sevir_clip_info;

// Clip i (0 <= i < source_count(s)) of a source opened with data.source = sevir.
void sevir_source_clip_info(vp_source *s, int64_t i, sevir_clip_info *out);
// Events in the split, and windows per event (count = events * windows).
int64_t sevir_source_events(vp_source *s);
int64_t sevir_source_windows(vp_source *s);

#endif
