// png.c: PNG writing via libpng with every call checked.
#include "io/png.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

void png_write_rgb8(const char *path, int width, int height, const uint8_t *rgb) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
    vp_die("PNG path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) vp_die("cannot create %s: %s; check that the directory exists and is writable", tmp, strerror(errno));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) vp_die("libpng could not allocate a writer for %s (out of memory?)", path);
  if (setjmp(png_jmpbuf(png))) {
    fclose(f);
    remove(tmp);
    vp_die("libpng failed writing %s; is the disk full?", path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fflush(f) != 0 || fclose(f) != 0) {
    remove(tmp);
    vp_die("cannot finish writing %s: %s", path, strerror(errno));
  }
  if (rename(tmp, path) != 0) vp_die("cannot rename %s to %s: %s", tmp, path, strerror(errno));
}
