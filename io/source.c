// source.c: opening a clip source by name, and clip buffers (see source.h).
#include "io/source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

vp_source *source_open(const vp_config *cfg) {
  const char *kind = cfg_str(cfg, "data.source");
  if (strcmp(kind, "synth") == 0) return synth_source_open(cfg);
  if (strcmp(kind, "packed") == 0) return packed_source_open(cfg);
  if (strcmp(kind, "era5") == 0) return era5_source_open(cfg);
  if (strcmp(kind, "sevir") == 0) return sevir_source_open(cfg);
  vp_die("data.source = %s is not a known source (synth, packed, era5, sevir)", kind);
}

void source_close(vp_source *s) {
  if (s) s->ops->close(s);
}

vp_clip *clip_alloc(const vp_source *s) {
  vp_clip *c = vp_calloc(1, sizeof(*c));
  c->T = s->T;
  c->H = s->H;
  c->W = s->W;
  c->nmod = s->nmod;
  size_t px = (size_t)s->T * s->H * s->W;
  for (int m = 0; m < s->nmod; m++) {
    c->data[m] = vp_calloc(px * (size_t)s->mod[m].channels, sizeof(float));
    if (s->mod[m].has_mask) c->mask[m] = vp_calloc(px, 1);
  }
  return c;
}

void clip_free(vp_clip *c) {
  if (!c) return;
  for (int m = 0; m < c->nmod; m++) {
    free(c->data[m]);
    free(c->mask[m]);
  }
  free(c);
}

void raw_stats_init(vp_raw_stats *st, int n) {
  for (int i = 0; i < n; i++) {
    st[i].min = INFINITY;
    st[i].max = -INFINITY;
    st[i].sum = 0;
    st[i].valid = st[i].total = 0;
  }
}
