// test_synth.c: synthetic clips are deterministic, consistent across
// modalities and actually move; the PNG writer round-trips through libpng.
#include <png.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "harness.h"
#include "io/png.h"
#include "io/synth.h"

static void check_png_roundtrip(void) {
  const int W = 7, H = 5;
  uint8_t img[5 * 7 * 3];
  for (int i = 0; i < W * H * 3; i++) img[i] = (uint8_t)(i * 37 + 11);
  char path[] = "/tmp/vp_png_XXXXXX";
  int fd = mkstemp(path);
  th_check(fd >= 0, "mkstemp");
  close(fd);
  png_write_rgb8(path, W, H, img);
  png_image im;
  memset(&im, 0, sizeof(im));
  im.version = PNG_IMAGE_VERSION;
  int ok = png_image_begin_read_from_file(&im, path);
  th_check(ok && im.width == (png_uint_32)W && im.height == (png_uint_32)H, "png header read back");
  uint8_t back[5 * 7 * 3];
  im.format = PNG_FORMAT_RGB;
  ok = ok && png_image_finish_read(&im, NULL, back, 0, NULL);
  th_check(ok && memcmp(img, back, sizeof(img)) == 0, "png pixels read back");
  remove(path);
}

int main(void) {
  synth_cfg c = synth_default_cfg(6, 32);
  size_t n = (size_t)c.frames * c.height * c.width;
  float *rgb = vp_malloc(n * 3 * sizeof(float)), *dep = vp_malloc(n * sizeof(float));
  float *rgb2 = vp_malloc(n * 3 * sizeof(float)), *dep2 = vp_malloc(n * sizeof(float));
  uint8_t *sem = vp_malloc(n), *sem2 = vp_malloc(n);

  synth_clip(&c, 5, 17, rgb, dep, sem);
  synth_clip(&c, 5, 17, rgb2, dep2, sem2);
  th_check(!memcmp(rgb, rgb2, n * 3 * sizeof(float)) && !memcmp(dep, dep2, n * sizeof(float)) &&
               !memcmp(sem, sem2, n), "same (seed, index) gives the same clip");
  synth_clip(&c, 5, 18, rgb2, dep2, sem2);
  th_check(memcmp(rgb, rgb2, n * 3 * sizeof(float)) != 0, "another index gives another clip");
  synth_clip(&c, 6, 17, rgb2, NULL, NULL);
  th_check(memcmp(rgb, rgb2, n * 3 * sizeof(float)) != 0, "another seed gives another clip");

  // Consistency: value ranges; objects are nearer than the background behind
  // them; sky is at depth 1; every frame has at least one object pixel.
  int range_ok = 1, sky_ok = 1, obj_frames = 0;
  for (int t = 0; t < c.frames; t++) {
    int objs = 0;
    for (size_t p = (size_t)t * c.height * c.width; p < (size_t)(t + 1) * c.height * c.width; p++) {
      for (int k = 0; k < 3; k++) range_ok &= rgb[p * 3 + k] >= 0.f && rgb[p * 3 + k] <= 1.f;
      range_ok &= dep[p] >= 0.f && dep[p] <= 1.f && sem[p] < SYNTH_NUM_CLASSES;
      if (sem[p] == SYNTH_SKY) sky_ok &= dep[p] == 1.0f;
      if (sem[p] >= SYNTH_SQUARE) {
        objs++;
        sky_ok &= dep[p] < 0.76f;
      }
    }
    obj_frames += objs > 0;
  }
  th_check(range_ok, "rgb and depth in [0, 1], classes valid");
  th_check(sky_ok, "sky at depth 1, objects at their depth");
  th_check(obj_frames == c.frames, "objects visible in every frame (%d of %d)", obj_frames, c.frames);

  // Motion: consecutive frames differ, over many clips.
  int moving = 0;
  for (int i = 0; i < 20; i++) {
    synth_clip(&c, 1, (uint64_t)i, rgb, NULL, NULL);
    size_t fr = (size_t)c.height * c.width * 3;
    moving += memcmp(rgb, rgb + fr, fr * sizeof(float)) != 0;
  }
  th_check(moving >= 18, "clips move (%d of 20)", moving);

  check_png_roundtrip();
  free(rgb); free(dep); free(rgb2); free(dep2); free(sem); free(sem2);
  return th_summary();
}
