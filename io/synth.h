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

#endif
