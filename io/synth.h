// synth.h: synthetic multi-modal videos: moving, occluding shapes.
// Each clip is a small scene: a sky/ground background with a depth ramp and
// 2-4 shapes (squares, disks, diamonds) of random colour, size and depth that
// move with constant velocity and bounce off the borders. Nearer shapes
// occlude farther ones, so RGB, depth and semantics are mutually consistent.
// Clip i of seed s is a pure function of (s, i).
#ifndef VP_IO_SYNTH_H
#define VP_IO_SYNTH_H

#include <stdint.h>

typedef struct synth_cfg {
  int frames;   // T
  int height;   // H
  int width;    // W
  int min_objects, max_objects;
} synth_cfg;

// Semantic classes written to sem[].
enum { SYNTH_SKY = 0, SYNTH_GROUND = 1, SYNTH_SQUARE = 2, SYNTH_DISK = 3, SYNTH_DIAMOND = 4,
       SYNTH_NUM_CLASSES = 5 };

synth_cfg synth_default_cfg(int frames, int size);
// rgb (T, H, W, 3) in [0, 1]; depth (T, H, W) in [0, 1] (1 = far); sem (T, H, W)
// class ids. Any output pointer may be NULL.
void synth_clip(const synth_cfg *cfg, uint64_t seed, uint64_t index, float *rgb, float *depth,
                uint8_t *sem);

// ---- raw codes: what `vpcast data synth` stores and the synth source reads ----
// The synth source (data.source: synth) and a packed file written by
// `vpcast data synth` hold the same integers, so both give identical clips
// and statistics. Physical value = raw * scale (offset 0):
//   rgb       uint8  (T, H, W, 3): round(255 * rgb), scale 1/255, range [0, 1]
//   depth     uint16 (T, H, W, 1): metres * 256 with depth 1 = SYNTH_FAR_M
//             (Cityscapes-like 1/256 steps), scale 1/256 m, range [0, 80] m;
//             with invalid_sky, sky pixels are raw 0 = no depth (like
//             Cityscapes disparity 0), so the modality carries a mask
//   semantic  uint8  (T, H, W, 1): class id (SYNTH_SKY ...), scale 1, range [0, 4]
#define SYNTH_NMOD 3
#define SYNTH_FAR_M 80.0
enum { SYNTH_MOD_RGB = 0, SYNTH_MOD_DEPTH = 1, SYNTH_MOD_SEMANTIC = 2 };

typedef struct synth_mod_desc {
  const char *name;      // "rgb", "depth", "semantic"
  int kind;              // vp_mod_kind (io/source.h)
  int channels;
  int bytes;             // bytes per raw value: 1 (uint8) or 2 (uint16)
  double scale;          // physical = raw * scale
  double vmin, vmax;     // nominal physical range
} synth_mod_desc;
extern const synth_mod_desc synth_mods[SYNTH_NMOD];

// Clip j of split s (0 train, 1 val, 2 test) is synth_clip index
// s * SYNTH_SPLIT_STRIDE + j, so splits never share a clip.
#define SYNTH_SPLIT_STRIDE (UINT64_C(1) << 40)

// Raw codes of a clip (any output may be NULL): rgb (T, H, W, 3), depth
// (T, H, W), sem (T, H, W).
void synth_clip_raw(const synth_cfg *cfg, uint64_t seed, uint64_t index, int invalid_sky,
                    uint8_t *rgb, uint16_t *depth, uint8_t *sem);

// Writes a packed HDF5 clip file (io/packed_write.h) of clips[s] clips of
// split s = 0 train, 1 val, 2 test, clip j of split s being index
// s * SYNTH_SPLIT_STRIDE + j. The content is a pure function of the
// arguments. OpenMP-parallel over clips. (io/synth_write.c: the one part of
// synth that needs HDF5.)
void synth_write_packed(const char *path, const synth_cfg *cfg, uint64_t seed,
                        const int64_t clips[3], int invalid_sky, int compress);

#endif
