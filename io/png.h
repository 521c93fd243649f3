// png.h: PNG files through libpng: the readers the dataset packers need
// (8-bit RGB frames, 16-bit grayscale disparity / depth, one channel of a
// 16-bit multi-channel label image) and writers for outputs and test trees.
//
// Readers come in two forms: png_try_read_* returns non-zero and writes a
// message naming the file and the problem (libpng's own message, "not a PNG
// file", "file ends early: truncated") into err, so callers on worker threads
// can report it later; png_read_* dies with that message. 16-bit samples are
// returned in host byte order (PNG stores them big-endian).
#ifndef VP_IO_PNG_H
#define VP_IO_PNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct vp_png_image {
  int width, height;
  int bit_depth;   // of the file (8 or 16; 1, 2, 4 for low-depth gray/palette files)
  int color_type;  // of the file (libpng PNG_COLOR_TYPE_*)
  void *data;      // malloc'd: uint8_t (H, W, 3) for rgb8, uint16_t (H, W) otherwise
} vp_png_image;

// Any 8-bit colour image as (H, W, 3) uint8: palette and gray are expanded,
// alpha is dropped. 16-bit files are refused (the caller expects 8-bit frames).
int png_try_read_rgb8(const char *path, vp_png_image *img, char *err, size_t errn);
// A grayscale image as (H, W) uint16. A 16-bit file is required unless
// accept_8bit, in which case 8-bit (or lower) gray values are kept as 0..255.
int png_try_read_gray16(const char *path, int accept_8bit, vp_png_image *img, char *err, size_t errn);
// Channel `channel` of a 16-bit gray / gray+alpha / RGB / RGBA image as
// (H, W) uint16 (SYNTHIA GT/LABELS: the class id is channel 0).
int png_try_read_chan16(const char *path, int channel, vp_png_image *img, char *err, size_t errn);
// Only the header: size, bit depth and colour type (data stays NULL).
int png_try_read_header(const char *path, vp_png_image *img, char *err, size_t errn);
void vp_png_image_free(vp_png_image *img);

// Dying forms: the returned buffer is malloc'd.
uint8_t *png_read_rgb8(const char *path, int *width, int *height);
uint16_t *png_read_gray16(const char *path, int *width, int *height);
uint16_t *png_read_chan16(const char *path, int channel, int *width, int *height);

// Writers. Each dies with a message naming the file on any error; the file
// is written to path.tmp and renamed, so a failed write never leaves a half
// PNG under the final name.
void png_write_rgb8(const char *path, int width, int height, const uint8_t *rgb);      // (H, W, 3)
void png_write_gray8(const char *path, int width, int height, const uint8_t *gray);    // (H, W)
void png_write_gray16(const char *path, int width, int height, const uint16_t *gray);  // (H, W)
void png_write_rgb16(const char *path, int width, int height, const uint16_t *rgb);    // (H, W, 3)

#endif
