// png.c: PNG reading and writing via libpng with every call checked (see png.h).
#include "io/png.h"

#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

// ---- reading ----

enum { WANT_RGB8, WANT_GRAY16, WANT_CHAN16, WANT_HEADER };

// State shared with libpng's callbacks; lives on the reader's stack and is
// reached through pointers, so its fields survive the longjmp of an error.
typedef struct png_rd {
  const char *path;
  FILE *f;
  char msg[256];      // libpng's (or our read callback's) message
  png_bytep *rows;
  void *buf;          // rows of the decoded image (freed on error)
  void *out;          // the result (freed on error)
} png_rd;

static void rd_error(png_structp png, png_const_charp msg) {
  png_rd *rd = png_get_error_ptr(png);
  snprintf(rd->msg, sizeof rd->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void rd_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;  // ancillary-chunk complaints (sRGB profiles, text) do not affect the pixels
}

// A short read is a truncated file; libpng's default says only "Read Error".
static void rd_read(png_structp png, png_bytep data, size_t n) {
  png_rd *rd = png_get_io_ptr(png);
  size_t got = fread(data, 1, n, rd->f);
  if (got != n) {
    if (ferror(rd->f))
      png_error(png, "read error from the file system");
    else
      png_error(png, "file ends early: truncated (or still being copied)");
  }
}

static int fail(char *err, size_t errn, const char *path, const char *fmt, ...) VP_PRINTF(4, 5);
static int fail(char *err, size_t errn, const char *path, const char *fmt, ...) {
  char m[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  snprintf(err, errn, "cannot read PNG %s: %s", path, m);
  return -1;
}

static const char *color_name(int ct) {
  switch (ct) {
    case PNG_COLOR_TYPE_GRAY: return "gray";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "gray+alpha";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    default: return "unknown";
  }
}

static int read_png(const char *path, int want, int arg, vp_png_image *img, char *err, size_t errn) {
  memset(img, 0, sizeof *img);
  png_rd rd;
  memset(&rd, 0, sizeof rd);
  rd.path = path;
  rd.f = fopen(path, "rb");
  if (!rd.f) return fail(err, errn, path, "%s", strerror(errno));
  unsigned char sig[8];
  size_t ns = fread(sig, 1, 8, rd.f);
  if (ns < 8 && !ferror(rd.f) && (ns == 0 || png_sig_cmp(sig, 0, ns) == 0)) {
    fclose(rd.f);
    return fail(err, errn, path, ns ? "file ends early: truncated inside the PNG signature"
                                    : "the file is empty");
  }
  if (ns < 8 || png_sig_cmp(sig, 0, 8) != 0) {
    fclose(rd.f);
    return fail(err, errn, path, "not a PNG file (bad signature)");
  }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &rd, rd_error, rd_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    if (png) png_destroy_read_struct(&png, NULL, NULL);
    fclose(rd.f);
    return fail(err, errn, path, "libpng could not allocate a reader (out of memory?)");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    fclose(rd.f);
    free(rd.rows);
    free(rd.buf);
    free(rd.out);
    return fail(err, errn, path, "%s", rd.msg);
  }
  png_set_read_fn(png, &rd, rd_read);
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, ct = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &ct, NULL, NULL, NULL);
  img->width = (int)w;
  img->height = (int)h;
  img->bit_depth = depth;
  img->color_type = ct;
  int out_ch = 1, out_bytes = 2;  // channels and bytes per sample after the transforms
  if (want == WANT_HEADER) {
    png_destroy_read_struct(&png, &info, NULL);
    fclose(rd.f);
    return 0;
  }
  if (want == WANT_RGB8) {
    if (depth == 16) {
      snprintf(rd.msg, sizeof rd.msg, "expected an 8-bit colour image, found 16-bit %s", color_name(ct));
      png_longjmp(png, 1);
    }
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) {
      if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
      png_set_gray_to_rgb(png);
    }
    if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    out_ch = 3;
    out_bytes = 1;
  } else if (want == WANT_GRAY16) {
    if (ct != PNG_COLOR_TYPE_GRAY && ct != PNG_COLOR_TYPE_GRAY_ALPHA) {
      snprintf(rd.msg, sizeof rd.msg, "expected a grayscale image, found %d-bit %s", depth, color_name(ct));
      png_longjmp(png, 1);
    }
    if (depth != 16 && !arg) {
      snprintf(rd.msg, sizeof rd.msg, "expected a 16-bit grayscale image, found %d-bit gray", depth);
      png_longjmp(png, 1);
    }
    if (ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_strip_alpha(png);
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    out_bytes = depth == 16 ? 2 : 1;
  } else {
    int ch = png_get_channels(png, info);
    if (depth != 16 || ct == PNG_COLOR_TYPE_PALETTE) {
      snprintf(rd.msg, sizeof rd.msg, "expected a 16-bit image, found %d-bit %s", depth, color_name(ct));
      png_longjmp(png, 1);
    }
    if (arg < 0 || arg >= ch) {
      snprintf(rd.msg, sizeof rd.msg, "channel %d asked for, but the 16-bit %s image has %d", arg,
               color_name(ct), ch);
      png_longjmp(png, 1);
    }
    out_ch = ch;
  }
  if (depth == 16) {
    const int one = 1;
    if (*(const char *)&one) png_set_swap(png);  // big-endian samples to host order
  }
  png_read_update_info(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  size_t want_row = (size_t)w * (size_t)out_ch * (size_t)out_bytes;
  if (rowbytes != want_row) {
    snprintf(rd.msg, sizeof rd.msg, "unexpected row size %zu after conversion (wanted %zu)", rowbytes, want_row);
    png_longjmp(png, 1);
  }
  rd.buf = malloc(rowbytes * h + 1);
  rd.rows = malloc((h + 1) * sizeof(png_bytep));
  if (!rd.buf || !rd.rows) {
    snprintf(rd.msg, sizeof rd.msg, "out of memory for a %ux%u image", (unsigned)w, (unsigned)h);
    png_longjmp(png, 1);
  }
  for (png_uint_32 y = 0; y < h; y++) rd.rows[y] = (png_bytep)rd.buf + (size_t)y * rowbytes;
  png_read_image(png, rd.rows);
  png_read_end(png, NULL);  // checks the CRCs of the chunks after the image data and IEND

  size_t npx = (size_t)w * h;
  if (want == WANT_RGB8 || (want == WANT_GRAY16 && out_bytes == 2)) {
    rd.out = rd.buf;  // already in the output layout
    rd.buf = NULL;
  } else if (want == WANT_GRAY16) {  // 8-bit gray widened
    uint16_t *o = malloc(npx * 2 + 2);
    if (!o) {
      snprintf(rd.msg, sizeof rd.msg, "out of memory");
      png_longjmp(png, 1);
    }
    const uint8_t *s = rd.buf;
    for (size_t i = 0; i < npx; i++) o[i] = s[i];
    rd.out = o;
  } else {  // one channel of a 16-bit multi-channel image
    uint16_t *o = malloc(npx * 2 + 2);
    if (!o) {
      snprintf(rd.msg, sizeof rd.msg, "out of memory");
      png_longjmp(png, 1);
    }
    const uint16_t *s = rd.buf;
    for (size_t i = 0; i < npx; i++) o[i] = s[i * (size_t)out_ch + (size_t)arg];
    rd.out = o;
  }
  png_destroy_read_struct(&png, &info, NULL);
  fclose(rd.f);
  free(rd.rows);
  free(rd.buf);
  img->data = rd.out;
  return 0;
}

int png_try_read_rgb8(const char *path, vp_png_image *img, char *err, size_t errn) {
  return read_png(path, WANT_RGB8, 0, img, err, errn);
}

int png_try_read_gray16(const char *path, int accept_8bit, vp_png_image *img, char *err, size_t errn) {
  return read_png(path, WANT_GRAY16, accept_8bit, img, err, errn);
}

int png_try_read_chan16(const char *path, int channel, vp_png_image *img, char *err, size_t errn) {
  return read_png(path, WANT_CHAN16, channel, img, err, errn);
}

int png_try_read_header(const char *path, vp_png_image *img, char *err, size_t errn) {
  return read_png(path, WANT_HEADER, 0, img, err, errn);
}

void vp_png_image_free(vp_png_image *img) {
  free(img->data);
  img->data = NULL;
}

static void *read_or_die(const char *path, int want, int arg, int *width, int *height) {
  vp_png_image img;
  char err[1024];
  if (read_png(path, want, arg, &img, err, sizeof err) != 0) vp_die("%s", err);
  *width = img.width;
  *height = img.height;
  return img.data;
}

uint8_t *png_read_rgb8(const char *path, int *width, int *height) {
  return read_or_die(path, WANT_RGB8, 0, width, height);
}

uint16_t *png_read_gray16(const char *path, int *width, int *height) {
  return read_or_die(path, WANT_GRAY16, 0, width, height);
}

uint16_t *png_read_chan16(const char *path, int channel, int *width, int *height) {
  return read_or_die(path, WANT_CHAN16, channel, width, height);
}

// ---- writing ----

static void write_png(const char *path, int width, int height, int depth, int ct, int channels,
                      const void *pixels) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
    vp_die("PNG path too long: %s", path);
  if (width < 1 || height < 1) vp_die("cannot write PNG %s: size %dx%d", path, width, height);
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
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, ct, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (depth == 16) {
    const int one = 1;
    if (*(const char *)&one) png_set_swap(png);  // host order to PNG's big-endian
  }
  size_t row = (size_t)width * channels * (depth / 8);
  for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)pixels + (size_t)y * row);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fflush(f) != 0 || fclose(f) != 0) {
    remove(tmp);
    vp_die("cannot finish writing %s: %s", path, strerror(errno));
  }
  if (rename(tmp, path) != 0) vp_die("cannot rename %s to %s: %s", tmp, path, strerror(errno));
}

void png_write_rgb8(const char *path, int width, int height, const uint8_t *rgb) {
  write_png(path, width, height, 8, PNG_COLOR_TYPE_RGB, 3, rgb);
}

void png_write_gray8(const char *path, int width, int height, const uint8_t *gray) {
  write_png(path, width, height, 8, PNG_COLOR_TYPE_GRAY, 1, gray);
}

void png_write_gray16(const char *path, int width, int height, const uint16_t *gray) {
  write_png(path, width, height, 16, PNG_COLOR_TYPE_GRAY, 1, gray);
}

void png_write_rgb16(const char *path, int width, int height, const uint16_t *rgb) {
  write_png(path, width, height, 16, PNG_COLOR_TYPE_RGB, 3, rgb);
}
