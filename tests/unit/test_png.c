// test_png.c: the libpng readers and writers of io/png.c: 8-bit RGB (and the
// gray / palette / alpha files it expands), 16-bit gray (Cityscapes
// disparity), one channel of 16-bit RGB (SYNTHIA labels), and truncated,
// corrupt and wrong-type files.
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.h"
#include "harness.h"
#include "io/png.h"

static char tmpdir[256];

static const char *tpath(const char *name) {
  static char p[4][512];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
  return p[k];
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) vp_die("test: cannot read %s", path);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = vp_malloc(*n + 1);
  if (fread(d, 1, *n, f) != *n) vp_die("test: short read");
  fclose(f);
  return d;
}

static void spit(const char *path, const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) vp_die("test: cannot write %s", path);
}

// A palette or RGBA image written with libpng directly (the project writers
// make only what the packers need).
static void write_raw_png(const char *path, int w, int h, int ct, const uint8_t *rows, int rowbytes,
                          const png_color *pal, int npal) {
  FILE *f = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (!f || !png || !info || setjmp(png_jmpbuf(png))) vp_die("test: libpng write failed");
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, ct, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(png, info, pal, npal);
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, rows + (size_t)y * rowbytes);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
}

static void test_roundtrip(void) {
  enum { W = 37, H = 23 };
  uint8_t rgb[H * W * 3], g8[H * W];
  uint16_t g16[H * W], rgb16[H * W * 3];
  for (int i = 0; i < H * W; i++) {
    for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (uint8_t)(i * 7 + c * 50);
    g8[i] = (uint8_t)(i * 3);
    g16[i] = (uint16_t)(i * 977 + 1);  // high and low bytes differ: catches byte order
    for (int c = 0; c < 3; c++) rgb16[i * 3 + c] = (uint16_t)(c == 0 ? i % 16 : c == 1 ? 1000 + i : 65535 - i);
  }
  png_write_rgb8(tpath("rgb.png"), W, H, rgb);
  png_write_gray8(tpath("g8.png"), W, H, g8);
  png_write_gray16(tpath("g16.png"), W, H, g16);
  png_write_rgb16(tpath("rgb16.png"), W, H, rgb16);

  vp_png_image im;
  char err[1024];
  th_check(png_try_read_rgb8(tpath("rgb.png"), &im, err, sizeof err) == 0 && im.width == W && im.height == H &&
               im.bit_depth == 8 && memcmp(im.data, rgb, sizeof rgb) == 0, "rgb8 round trip");
  vp_png_image_free(&im);
  th_check(png_try_read_gray16(tpath("g16.png"), 0, &im, err, sizeof err) == 0 && im.bit_depth == 16 &&
               memcmp(im.data, g16, sizeof g16) == 0, "gray16 round trip (host byte order)");
  vp_png_image_free(&im);
  int ok = png_try_read_gray16(tpath("g8.png"), 1, &im, err, sizeof err) == 0 && im.bit_depth == 8;
  for (int i = 0; ok && i < H * W; i++) ok = ((uint16_t *)im.data)[i] == g8[i];
  th_check(ok, "8-bit gray accepted as 0..255 when asked");
  vp_png_image_free(&im);
  for (int c = 0; c < 3; c++) {
    ok = png_try_read_chan16(tpath("rgb16.png"), c, &im, err, sizeof err) == 0;
    for (int i = 0; ok && i < H * W; i++) ok = ((uint16_t *)im.data)[i] == rgb16[i * 3 + c];
    th_check(ok, "channel %d of a 16-bit RGB image", c);
    vp_png_image_free(&im);
  }
  ok = png_try_read_chan16(tpath("g16.png"), 0, &im, err, sizeof err) == 0 &&
       memcmp(im.data, g16, sizeof g16) == 0;
  th_check(ok, "channel 0 of a 16-bit gray image");
  vp_png_image_free(&im);
  th_check(png_try_read_header(tpath("rgb16.png"), &im, err, sizeof err) == 0 && im.width == W &&
               im.height == H && im.bit_depth == 16 && im.color_type == PNG_COLOR_TYPE_RGB && !im.data,
           "header only");
  // The gray 8-bit file read as RGB: each channel equals the gray value.
  ok = png_try_read_rgb8(tpath("g8.png"), &im, err, sizeof err) == 0;
  for (int i = 0; ok && i < H * W; i++)
    ok = ((uint8_t *)im.data)[i * 3] == g8[i] && ((uint8_t *)im.data)[i * 3 + 2] == g8[i];
  th_check(ok, "gray expanded to RGB");
  vp_png_image_free(&im);

  // Palette and RGBA files expand / drop alpha to the same RGB.
  png_color pal[4] = {{10, 20, 30}, {200, 100, 0}, {0, 0, 255}, {7, 8, 9}};
  uint8_t idx[H * W], rgba[H * W * 4], want[H * W * 3];
  for (int i = 0; i < H * W; i++) {
    idx[i] = (uint8_t)(i % 4);
    want[i * 3] = pal[i % 4].red;
    want[i * 3 + 1] = pal[i % 4].green;
    want[i * 3 + 2] = pal[i % 4].blue;
    memcpy(rgba + i * 4, want + i * 3, 3);
    rgba[i * 4 + 3] = (uint8_t)(i & 255);
  }
  write_raw_png(tpath("pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, idx, W, pal, 4);
  write_raw_png(tpath("rgba.png"), W, H, PNG_COLOR_TYPE_RGB_ALPHA, rgba, W * 4, NULL, 0);
  th_check(png_try_read_rgb8(tpath("pal.png"), &im, err, sizeof err) == 0 && memcmp(im.data, want, sizeof want) == 0,
           "palette expanded to RGB");
  vp_png_image_free(&im);
  th_check(png_try_read_rgb8(tpath("rgba.png"), &im, err, sizeof err) == 0 && memcmp(im.data, want, sizeof want) == 0,
           "alpha dropped");
  vp_png_image_free(&im);
}

// One bad-input case: the reader fails with a message naming the file and
// containing `expect`.
static void expect_fail(const char *what, int rc, const char *err, const char *path, const char *expect) {
  th_check(rc != 0 && strstr(err, path) && strstr(err, expect),
           "%s: wanted an error naming %s with '%s', got rc %d: %s",
           what, path, expect, rc, err);
}

static void test_bad(void) {
  enum { W = 64, H = 48 };
  uint8_t rgb[H * W * 3];
  for (int i = 0; i < H * W * 3; i++) rgb[i] = (uint8_t)((i * 2654435761u) >> 13);  // incompressible-ish
  const char *good = tpath("good.png");
  png_write_rgb8(good, W, H, rgb);
  size_t n;
  uint8_t *bytes = slurp(good, &n);
  vp_png_image im;
  char err[1024];
  const char *bad = tpath("bad.png");

  // Truncations: inside the signature, the IHDR, the image data, and just before IEND.
  size_t cuts[] = {4, 20, n / 2, n - 12, n - 1};
  const char *expect[] = {"truncated", "truncated", "truncated", "truncated", "truncated"};
  for (int k = 0; k < 5; k++) {
    spit(bad, bytes, cuts[k]);
    err[0] = 0;
    expect_fail("truncated PNG", png_try_read_rgb8(bad, &im, err, sizeof err), err, bad, expect[k]);
  }
  spit(bad, bytes, 0);
  expect_fail("empty file", png_try_read_rgb8(bad, &im, err, sizeof err), err, bad, "empty");
  // Corruption: a flipped byte in the image data (IDAT CRC), in IHDR (its CRC),
  // and a bad signature.
  uint8_t *c = vp_malloc(n);
  memcpy(c, bytes, n);
  c[n / 2] ^= 0x55;
  spit(bad, c, n);
  expect_fail("corrupt IDAT", png_try_read_rgb8(bad, &im, err, sizeof err), err, bad, "IDAT");
  memcpy(c, bytes, n);
  c[18] ^= 0x01;  // width inside IHDR
  spit(bad, c, n);
  expect_fail("corrupt IHDR", png_try_read_rgb8(bad, &im, err, sizeof err), err, bad, "CRC");
  memcpy(c, bytes, n);
  c[1] = 'X';
  spit(bad, c, n);
  expect_fail("bad signature", png_try_read_rgb8(bad, &im, err, sizeof err), err, bad, "not a PNG");
  spit(bad, (const uint8_t *)"hello, this is text and not an image at all", 44);
  expect_fail("text file", png_try_read_gray16(bad, 0, &im, err, sizeof err), err, bad, "not a PNG");
  free(c);
  free(bytes);
  const char *missing = tpath("missing.png");
  expect_fail("missing file", png_try_read_rgb8(missing, &im, err, sizeof err), err, missing, "No such file");

  // Wrong kinds of image for what the caller needs.
  uint16_t g16[16];
  uint8_t g8[16];
  for (int i = 0; i < 16; i++) g16[i] = (uint16_t)(i * 4000), g8[i] = (uint8_t)i;
  const char *p16 = tpath("g16.png"), *p8 = tpath("g8.png"), *prgb = tpath("rgbsmall.png");
  png_write_gray16(p16, 4, 4, g16);
  png_write_gray8(p8, 4, 4, g8);
  png_write_rgb8(prgb, 4, 4, rgb);
  expect_fail("16-bit as rgb8", png_try_read_rgb8(p16, &im, err, sizeof err), err, p16, "expected an 8-bit");
  expect_fail("8-bit gray as gray16", png_try_read_gray16(p8, 0, &im, err, sizeof err), err, p8, "16-bit");
  expect_fail("RGB as gray16", png_try_read_gray16(prgb, 0, &im, err, sizeof err), err, prgb, "grayscale");
  expect_fail("8-bit as chan16", png_try_read_chan16(p8, 0, &im, err, sizeof err), err, p8, "16-bit");
  expect_fail("channel past the end", png_try_read_chan16(p16, 1, &im, err, sizeof err), err, p16, "channel 1");

  // The dying form ends the process with status 1 and the message.
  fflush(stdout);
  fflush(stderr);
  int pfd[2];
  if (pipe(pfd) != 0) vp_die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    dup2(pfd[1], 2);
    int w, h;
    png_read_rgb8(missing, &w, &h);
    _exit(0);
  }
  close(pfd[1]);
  char buf[2048] = "";
  ssize_t got = 0, r;
  while ((r = read(pfd[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0) got += r;
  buf[got] = 0;
  close(pfd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  th_check(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(buf, "vpcast: error: cannot read PNG") &&
               strstr(buf, missing), "png_read_rgb8 dies with a message (status %d): %s", st, buf);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/vp_png_XXXXXX");
  if (!mkdtemp(tmpdir)) vp_die("mkdtemp failed");
  test_roundtrip();
  test_bad();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
  return th_summary();
}
