// packed.h: what the packed-clip reader (data.source: packed, io/packed.c)
// offers beyond the clip-source interface: where each clip came from.
//
// The reader takes data.path as one packed file, a folder (every *.h5 in it,
// in natural order), a comma-separated list of files, or FILE.h5 when only
// its shards FILE-RRRRR-of-NNNNN.h5 exist (all N must be there). Files are
// concatenated in that order. data.split selects the clips whose stored
// split (/clips/split) is train, val or test ("all": every clip). Each stored
// clip of T frames gives the windows t0 = 0, stride, 2 stride, ... of
// data.frames frames that fit (data.packed.stride; 0: data.frames), so
// source index i is window i % W of selected clip i / W.
#ifndef VP_IO_PACKED_H
#define VP_IO_PACKED_H

#include <stdint.h>

#include "io/source.h"

// The /clips/id of the stored clip behind index i of a packed source, and the
// first frame of its window (*t0, may be NULL). Dies if s is not packed.
const char *packed_source_clip_id(vp_source *s, int64_t i, int *t0);
// The split (PACKED_SPLIT_*) of index i.
int packed_source_clip_split(vp_source *s, int64_t i);
// Files the source reads and their count.
int packed_source_nfiles(vp_source *s);
const char *packed_source_file(vp_source *s, int k);

#endif
