// png.h: PNG files through libpng.
#ifndef VP_IO_PNG_H
#define VP_IO_PNG_H

#include <stdint.h>

// Write an 8-bit RGB image (H, W, 3). Dies with a message naming the file on
// any error; the file is written to path.tmp and renamed, so a failed write
// never leaves a half PNG under the final name.
void png_write_rgb8(const char *path, int width, int height, const uint8_t *rgb);

#endif
