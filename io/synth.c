// synth.c: synthetic moving-shape videos with RGB, depth and semantics.
#include "io/synth.h"

#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "core/check.h"
#include "core/rng.h"

#define SYNTH_MAX_OBJ 8
// Random numbers per clip: 4 for the background, 12 per object.
#define SYNTH_DRAWS (4 + 12 * SYNTH_MAX_OBJ)

synth_cfg synth_default_cfg(int frames, int size) {
  synth_cfg c = {frames, size, size, 2, 4};
  return c;
}

typedef struct {
  int kind;          // SYNTH_SQUARE / DISK / DIAMOND
  float col[3];
  float z;           // depth in [0.15, 0.75]
  float r;           // half-size in pixels
  float x, y;        // centre at frame 0
  float vx, vy;      // pixels per frame
} synth_obj;

// Position along one axis under constant velocity with reflection at [lo, hi].
static float bounce(float p0, float v, int t, float lo, float hi) {
  float span = hi - lo;
  if (span <= 0) return lo;
  float p = p0 - lo + v * (float)t;
  float period = 2 * span;
  p = fmodf(p, period);
  if (p < 0) p += period;
  if (p > span) p = period - p;
  return lo + p;
}

static int inside(const synth_obj *o, float px, float py, float cx, float cy) {
  float dx = px - cx, dy = py - cy;
  switch (o->kind) {
    case SYNTH_SQUARE: return fabsf(dx) <= o->r && fabsf(dy) <= o->r;
    case SYNTH_DISK: return dx * dx + dy * dy <= o->r * o->r;
    default: return fabsf(dx) + fabsf(dy) <= o->r * 1.3f;
  }
}

void synth_clip(const synth_cfg *cfg, uint64_t seed, uint64_t index, float *rgb, float *depth,
                uint8_t *sem) {
  const int T = cfg->frames, H = cfg->height, W = cfg->width;
  VP_ASSERT(T > 0 && H > 0 && W > 0);
  VP_ASSERT(cfg->min_objects >= 1 && cfg->max_objects <= SYNTH_MAX_OBJ &&
            cfg->min_objects <= cfg->max_objects);
  float u[SYNTH_DRAWS];
  rng_uniform(seed, VP_STREAM_DATA, 0, index, 0, u, SYNTH_DRAWS);
  const float horizon = (0.3f + 0.2f * u[0]) * (float)H;
  const float sky[3] = {0.45f + 0.3f * u[1], 0.6f + 0.3f * u[1], 0.95f};
  const float ground[3] = {0.25f + 0.3f * u[2], 0.3f + 0.25f * u[3], 0.2f};
  int nobj = cfg->min_objects + (int)(u[3] * (float)(cfg->max_objects - cfg->min_objects + 1));
  if (nobj > cfg->max_objects) nobj = cfg->max_objects;
  synth_obj obj[SYNTH_MAX_OBJ];
  const float S = (float)(H < W ? H : W);
  for (int k = 0; k < nobj; k++) {
    const float *q = u + 4 + 12 * k;
    synth_obj *o = &obj[k];
    o->kind = SYNTH_SQUARE + (int)(q[0] * 3) % 3;
    for (int c = 0; c < 3; c++) o->col[c] = 0.1f + 0.85f * q[1 + c];
    o->z = 0.15f + 0.6f * q[4];
    // Nearer objects look bigger.
    o->r = S * (0.06f + 0.08f * q[5]) * (1.2f - o->z);
    o->x = o->r + q[6] * ((float)W - 2 * o->r);
    o->y = o->r + q[7] * ((float)H - 2 * o->r);
    float speed = S * (0.03f + 0.05f * q[8]);
    float ang = 6.2831853f * q[9];
    o->vx = speed * cosf(ang);
    o->vy = speed * sinf(ang);
  }
  // Paint far to near so nearer shapes occlude (sort by z descending).
  for (int a = 0; a < nobj; a++)
    for (int b = a + 1; b < nobj; b++)
      if (obj[b].z > obj[a].z) {
        synth_obj t = obj[a];
        obj[a] = obj[b];
        obj[b] = t;
      }
  for (int t = 0; t < T; t++) {
    float cx[SYNTH_MAX_OBJ], cy[SYNTH_MAX_OBJ];
    for (int k = 0; k < nobj; k++) {
      cx[k] = bounce(obj[k].x, obj[k].vx, t, obj[k].r, (float)W - obj[k].r);
      cy[k] = bounce(obj[k].y, obj[k].vy, t, obj[k].r, (float)H - obj[k].r);
    }
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        float py = (float)y + 0.5f, px = (float)x + 0.5f;
        float col[3], z;
        int cls;
        if (py < horizon) {
          memcpy(col, sky, sizeof(col));
          z = 1.0f;
          cls = SYNTH_SKY;
        } else {
          // Ground recedes toward the horizon: depth ramps from 0.9 to 0.3.
          float f = (py - horizon) / ((float)H - horizon);
          float shade = 0.7f + 0.3f * f;
          for (int c = 0; c < 3; c++) col[c] = ground[c] * shade;
          z = 0.9f - 0.6f * f;
          cls = SYNTH_GROUND;
        }
        for (int k = 0; k < nobj; k++) {
          if (obj[k].z < z && inside(&obj[k], px, py, cx[k], cy[k])) {
            memcpy(col, obj[k].col, sizeof(col));
            z = obj[k].z;
            cls = obj[k].kind;
          }
        }
        size_t p = ((size_t)t * H + y) * W + x;
        if (rgb)
          for (int c = 0; c < 3; c++) rgb[p * 3 + c] = col[c];
        if (depth) depth[p] = z;
        if (sem) sem[p] = (uint8_t)cls;
      }
    }
  }
}

// ---- raw codes ----

const synth_mod_desc synth_mods[SYNTH_NMOD] = {
    {"rgb", 0 /* VP_MOD_RGB */, 3, 1, 1.0 / 255.0, 0.0, 1.0},
    {"depth", 1 /* VP_MOD_DEPTH */, 1, 2, 1.0 / 256.0, 0.0, SYNTH_FAR_M},
    {"semantic", 2 /* VP_MOD_SEMANTIC */, 1, 1, 1.0, 0.0, (double)(SYNTH_NUM_CLASSES - 1)},
};

void synth_clip_raw(const synth_cfg *cfg, uint64_t seed, uint64_t index, int invalid_sky,
                    uint8_t *rgb, uint16_t *depth, uint8_t *sem) {
  const size_t n = (size_t)cfg->frames * cfg->height * cfg->width;
  float *frgb = rgb ? vp_malloc(n * 3 * sizeof(float)) : NULL;
  float *fdep = depth ? vp_malloc(n * sizeof(float)) : NULL;
  uint8_t *fsem = sem ? sem : (depth && invalid_sky ? vp_malloc(n) : NULL);
  synth_clip(cfg, seed, index, frgb, fdep, fsem);
  if (rgb)
    for (size_t i = 0; i < n * 3; i++) rgb[i] = (uint8_t)lrintf(255.0f * frgb[i]);
  if (depth) {
    const float codes = (float)(SYNTH_FAR_M * 256.0);  // raw code of depth 1
    for (size_t i = 0; i < n; i++)
      depth[i] = invalid_sky && fsem[i] == SYNTH_SKY ? 0 : (uint16_t)lrintf(codes * fdep[i]);
  }
  free(frgb);
  free(fdep);
  if (fsem != sem) free(fsem);
}
