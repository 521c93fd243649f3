// source.h: clip sources: a split of a dataset as numbered, decoded clips.
// Every dataset reader (NetCDF ERA5-Land, SEVIR HDF5, packed HDF5 clips,
// synthetic) implements this interface; the sampler and the trainer see only
// this. A clip is (T, H, W, C) float32 per modality, channel-last like the
// files, plus a validity mask where the data has missing values (ERA5 sea
// cells, SEVIR 255, Cityscapes disparity 0).
//
// Errors on bad input (missing/truncated/corrupt files, wrong variables, bad
// config values) end the program through vp_die() with a message that names
// the file and the problem; a reader never modifies its input files.
#ifndef VP_IO_SOURCE_H
#define VP_IO_SOURCE_H

#include <stdint.h>

#include "core/config.h"
#include "core/options.h"

#define VP_MAX_MOD 4

typedef enum { VP_MOD_RGB = 0, VP_MOD_DEPTH, VP_MOD_SEMANTIC, VP_MOD_FIELD } vp_mod_kind;

typedef struct vp_modality {
  char name[32];     // "rgb", "depth", "semantic", "t2m", "sp", "vil"
  vp_mod_kind kind;
  int channels;      // C
  int has_mask;      // clips of this modality carry a validity mask
} vp_modality;

typedef struct vp_clip {
  int T, H, W, nmod;
  float *data[VP_MAX_MOD];    // (T, H, W, C_m), normalised as the source is configured
  uint8_t *mask[VP_MAX_MOD];  // (T, H, W), 1 = valid; NULL when the modality has no mask
} vp_clip;

// Raw-value statistics of one modality for `vpcast data stats`: over the
// valid raw values in physical units (after unpacking / decoding, before
// normalisation and resizing) of every time step the split uses.
typedef struct vp_raw_stats {
  double min, max;   // +inf / -inf when nothing valid was seen
  double sum;        // sum of valid values (for the mean)
  int64_t valid, total;
} vp_raw_stats;

struct vp_source;
typedef struct vp_source_ops {
  int64_t (*count)(struct vp_source *s);
  // Clip i (0 <= i < count) into out (from clip_alloc). Thread-compatible:
  // one thread at a time per source (the prefetch thread).
  void (*read)(struct vp_source *s, int64_t i, vp_clip *out);
  // Accumulate raw statistics of this rank's share (rank of nranks) of the
  // split's time steps / events into st[nmod]; shares are disjoint and cover
  // the split, so summing over ranks gives the whole.
  void (*raw_stats)(struct vp_source *s, int rank, int nranks, vp_raw_stats *st);
  void (*close)(struct vp_source *s);
} vp_source_ops;

typedef struct vp_source {
  const vp_source_ops *ops;
  const char *kind;         // "synth", "packed", "era5", "sevir"
  int T, H, W;              // clip shape after resizing
  int nmod;
  vp_modality mod[VP_MAX_MOD];
  void *impl;
} vp_source;

// Opens the source that data.source names, with the data.* keys of cfg.
vp_source *source_open(const vp_config *cfg);
static inline int64_t source_count(vp_source *s) { return s->ops->count(s); }
static inline void source_read(vp_source *s, int64_t i, vp_clip *c) { s->ops->read(s, i, c); }
void source_close(vp_source *s);
vp_clip *clip_alloc(const vp_source *s);
void clip_free(vp_clip *c);
void raw_stats_init(vp_raw_stats *st, int n);

// Per-format openers and their data.<format>.* option rows (one file each).
vp_source *synth_source_open(const vp_config *cfg);    // io/synth_source.c
vp_source *packed_source_open(const vp_config *cfg);   // io/packed.c
vp_source *era5_source_open(const vp_config *cfg);     // io/era5.c
vp_source *sevir_source_open(const vp_config *cfg);    // io/sevir.c
extern const vp_option opts_data_synth[];
extern const vp_option opts_data_packed[];
extern const vp_option opts_data_era5[];
extern const vp_option opts_data_sevir[];

#endif
