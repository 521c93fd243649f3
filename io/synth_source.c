// synth_source.c: `data.source: synth`: synthetic clips generated on the fly.
// Clip i of split s is synth_clip index s * 2^40 + i of data.synth.seed
// (io/synth.h), quantised to the raw codes `vpcast data synth` stores, then
// decoded exactly as the packed reader decodes a file of them: physical =
// raw * scale, normalised from the nominal range [vmin, vmax] to [-1, 1] for
// rgb and depth (the /127.5 - 1 convention of the video models), semantic
// kept as the class id. So training on `data.source: synth` and on the
// packed file `vpcast data synth` writes with the same seed sees the same
// numbers. Modalities: rgb (3), depth (1), semantic (1); with
// data.synth.invalid_sky the sky has no depth (raw 0) and depth carries a
// validity mask, to exercise the masked paths without real data.
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/packed_write.h"
#include "io/source.h"
#include "io/synth.h"

const vp_option opts_data_synth[] = {
    {.key = "data.synth.clips", .type = OPT_INT, .def = "1024", .range = "[1, 2^40)",
     .help = "synth source: clips in the split (generated on the fly)"},
    {.key = "data.synth.seed", .type = OPT_INT, .def = "0", .range = "[0, 2^56)",
     .help = "synth source: seed of the scenes (train, val and test never share a clip)"},
    {.key = "data.synth.objects", .type = OPT_INT_LIST, .def = "[2, 4]", .len = 2, .range = "[1, 8]",
     .help = "synth source: [min, max] shapes per clip"},
    {.key = "data.synth.invalid_sky", .type = OPT_BOOL, .def = "false",
     .help = "synth source: no depth on the sky (raw 0, masked), like Cityscapes disparity"},
    OPT_END,
};

typedef struct synth_src {
  synth_cfg sc;
  uint64_t seed, base;    // clip i is synth index base + i
  int64_t clips;
  int invalid_sky;
  int sel[VP_MAX_MOD];    // synth modality (SYNTH_MOD_*) of each output modality
  int want[SYNTH_NMOD];   // which synth modalities are loaded
  float a[VP_MAX_MOD], b[VP_MAX_MOD];  // normalised = raw * a + b, per output modality
  uint8_t *rgb, *sem;     // raw codes of one clip: (T, H, W, 3), (T, H, W)
  uint16_t *dep;          // (T, H, W)
} synth_src;

static int64_t synth_count(vp_source *s) { return ((synth_src *)s->impl)->clips; }

static void synth_gen(synth_src *p, int64_t i) {
  synth_clip_raw(&p->sc, p->seed, p->base + (uint64_t)i, p->invalid_sky,
                 p->want[SYNTH_MOD_RGB] ? p->rgb : NULL, p->want[SYNTH_MOD_DEPTH] ? p->dep : NULL,
                 p->want[SYNTH_MOD_SEMANTIC] ? p->sem : NULL);
}

static void synth_read(vp_source *s, int64_t i, vp_clip *out) {
  synth_src *p = s->impl;
  if (i < 0 || i >= p->clips)
    vp_die("synth source: clip %" PRId64 " out of range (%" PRId64 " clips)", i, p->clips);
  synth_gen(p, i);
  const size_t px = (size_t)s->T * s->H * s->W;
  for (int m = 0; m < s->nmod; m++) {
    float *o = out->data[m];
    const float a = p->a[m], b = p->b[m];
    switch (p->sel[m]) {
      case SYNTH_MOD_RGB:
        for (size_t k = 0; k < px * 3; k++) o[k] = (float)p->rgb[k] * a + b;
        break;
      case SYNTH_MOD_DEPTH:
        for (size_t k = 0; k < px; k++) o[k] = (float)p->dep[k] * a + b;
        if (out->mask[m])
          for (size_t k = 0; k < px; k++) {
            out->mask[m][k] = p->dep[k] != 0;
            o[k] = p->dep[k] != 0 ? o[k] : 0.0f;
          }
        break;
      default:
        for (size_t k = 0; k < px; k++) o[k] = (float)p->sem[k] * a + b;
        break;
    }
  }
}

// From a histogram of raw codes per modality, summed in code order exactly
// as the packed reader does, so the synth source and its packed file give
// bit-identical statistics for the same share.
static void synth_raw_stats(vp_source *s, int rank, int nranks, vp_raw_stats *st) {
  synth_src *p = s->impl;
  VP_ASSERT(nranks >= 1 && rank >= 0 && rank < nranks);
  const int64_t lo = p->clips * rank / nranks, hi = p->clips * (rank + 1) / nranks;
  const size_t px = (size_t)s->T * s->H * s->W;
  int64_t *hist = vp_calloc((size_t)s->nmod * 65536, sizeof(int64_t));
  for (int64_t i = lo; i < hi; i++) {
    synth_gen(p, i);
    for (int m = 0; m < s->nmod; m++) {
      int64_t *h = hist + (size_t)m * 65536;
      switch (p->sel[m]) {
        case SYNTH_MOD_RGB:
          for (size_t k = 0; k < px * 3; k++) h[p->rgb[k]]++;
          break;
        case SYNTH_MOD_DEPTH:
          for (size_t k = 0; k < px; k++) h[p->dep[k]]++;
          break;
        default:
          for (size_t k = 0; k < px; k++) h[p->sem[k]]++;
          break;
      }
    }
  }
  for (int m = 0; m < s->nmod; m++) {
    const int64_t *h = hist + (size_t)m * 65536;
    const double scale = synth_mods[p->sel[m]].scale;
    const int skip0 = p->sel[m] == SYNTH_MOD_DEPTH && p->invalid_sky;
    for (int r = 0; r < 65536; r++) {
      if (!h[r]) continue;
      st[m].total += h[r];
      if (skip0 && r == 0) continue;
      double phys = (double)r * scale + 0.0;
      st[m].valid += h[r];
      st[m].sum += phys * (double)h[r];
      if (phys < st[m].min) st[m].min = phys;
      if (phys > st[m].max) st[m].max = phys;
    }
  }
  free(hist);
}

static void synth_close(vp_source *s) {
  synth_src *p = s->impl;
  free(p->rgb);
  free(p->dep);
  free(p->sem);
  free(p);
  free(s);
}

static const vp_source_ops synth_ops = {synth_count, synth_read, synth_raw_stats, synth_close};

vp_source *synth_source_open(const vp_config *cfg) {
  int n = 0;
  const int64_t *size = cfg_int_list(cfg, "data.size", &n);
  VP_ASSERT(n == 2);
  const int64_t *obj = cfg_int_list(cfg, "data.synth.objects", &n);
  VP_ASSERT(n == 2);
  char where[512];
  if (obj[0] > obj[1])
    vp_die("data.synth.objects = [%" PRId64 ", %" PRId64 "] (%s): min must not exceed max", obj[0],
           obj[1], cfg_source(cfg, "data.synth.objects", where, sizeof where));
  const char *split = cfg_str(cfg, "data.split");
  int sp = packed_split_parse(split);
  if (sp < 0)
    vp_die("data.split = %s (%s): the synth source has the splits train, val and test", split,
           cfg_source(cfg, "data.split", where, sizeof where));

  synth_src *p = vp_calloc(1, sizeof(*p));
  p->sc = synth_default_cfg((int)cfg_int(cfg, "data.frames"), (int)size[0]);
  p->sc.width = (int)size[1];
  p->sc.min_objects = (int)obj[0];
  p->sc.max_objects = (int)obj[1];
  p->seed = (uint64_t)cfg_int(cfg, "data.synth.seed");
  p->base = (uint64_t)sp * SYNTH_SPLIT_STRIDE;
  p->clips = cfg_int(cfg, "data.synth.clips");
  p->invalid_sky = cfg_bool(cfg, "data.synth.invalid_sky");

  vp_source *s = vp_calloc(1, sizeof(*s));
  s->ops = &synth_ops;
  s->kind = "synth";
  s->T = p->sc.frames;
  s->H = p->sc.height;
  s->W = p->sc.width;
  s->impl = p;
  int nm = 0;
  char *const *names = cfg_str_list(cfg, "data.modalities", &nm);
  if (nm == 0) {
    for (int m = 0; m < SYNTH_NMOD; m++) p->sel[m] = m;
    s->nmod = SYNTH_NMOD;
  } else {
    if (nm > VP_MAX_MOD)
      vp_die("data.modalities (%s): %d modalities, at most %d",
             cfg_source(cfg, "data.modalities", where, sizeof where), nm, VP_MAX_MOD);
    for (int k = 0; k < nm; k++) {
      int found = -1;
      for (int m = 0; m < SYNTH_NMOD; m++)
        if (strcmp(names[k], synth_mods[m].name) == 0) found = m;
      if (found < 0)
        vp_die("data.modalities (%s): the synth source has no modality '%s' (it has rgb, depth, "
               "semantic)", cfg_source(cfg, "data.modalities", where, sizeof where), names[k]);
      for (int j = 0; j < k; j++)
        if (p->sel[j] == found)
          vp_die("data.modalities (%s): '%s' is listed twice",
                 cfg_source(cfg, "data.modalities", where, sizeof where), names[k]);
      p->sel[k] = found;
    }
    s->nmod = nm;
  }
  for (int m = 0; m < s->nmod; m++) {
    const synth_mod_desc *d = &synth_mods[p->sel[m]];
    vp_modality *md = &s->mod[m];
    snprintf(md->name, sizeof md->name, "%s", d->name);
    md->kind = (vp_mod_kind)d->kind;
    md->channels = d->channels;
    md->has_mask = p->sel[m] == SYNTH_MOD_DEPTH && p->invalid_sky;
    p->want[p->sel[m]] = 1;
    // The packed reader's decoding (io/packed.c set_norm with its default
    // ranges): the same float a and b, applied in float, so both sources
    // give the same numbers.
    if (md->kind == VP_MOD_SEMANTIC) {  // class ids stay ids
      p->a[m] = (float)d->scale;
      p->b[m] = 0.0f;
    } else {  // [vmin, vmax] -> [lo, hi] = [-1, 1]
      const double lo = -1.0, hi = 1.0, offset = 0.0;
      p->a[m] = (float)((hi - lo) * d->scale / (d->vmax - d->vmin));
      p->b[m] = (float)((hi - lo) * (offset - d->vmin) / (d->vmax - d->vmin) + lo);
    }
  }
  const size_t px = (size_t)s->T * s->H * s->W;
  p->rgb = vp_malloc(px * 3);
  p->dep = vp_malloc(px * sizeof(uint16_t));
  p->sem = vp_malloc(px);
  return s;
}
