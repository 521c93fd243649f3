// synth_write.c: synthetic clips into a packed HDF5 file (`vpcast data synth`).
// Clips are generated in parallel in groups and appended in index order, so
// the file is the same for any thread count.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/packed_write.h"
#include "io/synth.h"

// Clips generated per parallel group: enough to keep the threads busy,
// small enough to bound memory (a 16x128x128 clip is 1.3 MB of codes).
#define SYNTH_GROUP 32

void synth_write_packed(const char *path, const synth_cfg *cfg, uint64_t seed,
                        const int64_t clips[3], int invalid_sky, int compress) {
  packed_info info;
  memset(&info, 0, sizeof info);
  snprintf(info.dataset, sizeof info.dataset, "synth");
  snprintf(info.source, sizeof info.source,
           "vpcast data synth: seed %" PRIu64 ", %d-%d objects%s; clip j of split s is synth index "
           "s * 2^40 + j",
           seed, cfg->min_objects, cfg->max_objects, invalid_sky ? ", sky depth invalid" : "");
  info.T = cfg->frames;
  info.H = cfg->height;
  info.W = cfg->width;
  info.nmod = SYNTH_NMOD;
  info.compress = compress;
  info.shard_index = 0;
  info.shard_count = 1;
  for (int m = 0; m < SYNTH_NMOD; m++) {
    const synth_mod_desc *d = &synth_mods[m];
    packed_modality *pm = &info.mod[m];
    snprintf(pm->name, sizeof pm->name, "%s", d->name);
    pm->kind = (vp_mod_kind)d->kind;
    pm->channels = d->channels;
    pm->dtype = d->bytes == 1 ? PACKED_U8 : PACKED_U16;
    pm->scale = d->scale;
    pm->offset = 0.0;
    pm->has_invalid = m == SYNTH_MOD_DEPTH && invalid_sky;
    pm->invalid = 0;
    pm->vmin = d->vmin;
    pm->vmax = d->vmax;
  }
  const size_t px = (size_t)cfg->frames * cfg->height * cfg->width;
  uint8_t *rgb = vp_malloc((size_t)SYNTH_GROUP * px * 3);
  uint16_t *dep = vp_malloc((size_t)SYNTH_GROUP * px * sizeof(uint16_t));
  uint8_t *sem = vp_malloc((size_t)SYNTH_GROUP * px);

  packed_writer *w = packed_writer_create(path, &info);
  for (int s = 0; s < 3; s++) {
    for (int64_t j0 = 0; j0 < clips[s]; j0 += SYNTH_GROUP) {
      int g = (int)(clips[s] - j0 < SYNTH_GROUP ? clips[s] - j0 : SYNTH_GROUP);
#pragma omp parallel for schedule(dynamic, 1)
      for (int k = 0; k < g; k++) {
        uint64_t idx = (uint64_t)s * SYNTH_SPLIT_STRIDE + (uint64_t)(j0 + k);
        synth_clip_raw(cfg, seed, idx, invalid_sky, rgb + (size_t)k * px * 3, dep + (size_t)k * px,
                       sem + (size_t)k * px);
      }
      for (int k = 0; k < g; k++) {
        char id[64];
        snprintf(id, sizeof id, "synth:%" PRIu64 ":%s:%" PRId64, seed, packed_split_name(s), j0 + k);
        const void *data[SYNTH_NMOD] = {rgb + (size_t)k * px * 3, dep + (size_t)k * px,
                                        sem + (size_t)k * px};
        packed_writer_append(w, id, s, data);
      }
    }
  }
  packed_writer_close(w);
  free(rgb);
  free(dep);
  free(sem);
}
