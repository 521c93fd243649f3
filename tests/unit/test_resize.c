// test_resize.c: io/resize.c against F.interpolate goldens.
#include <string.h>

#include "core/check.h"
#include "golden.h"
#include "harness.h"
#include "io/resize.h"

int main(void) {
  golden *g = golden_open("resize");
  char **cases = golden_cases(g);
  int n = 0;
  for (char **c = cases; *c; c++, n++) {
    int mode = strncmp(*c, "nearest", 7) == 0 ? RESIZE_NEAREST
               : strncmp(*c, "bilinear", 8) == 0 ? RESIZE_BILINEAR : RESIZE_AREA;
    vp_ctx ctx;
    ctx_init(&ctx, 1 << 16);
    vp_tensor *x = golden_tensor(g, &ctx, "%s/in/x", *c);
    int64_t H = golden_attr_int(g, *c, "H"), W = golden_attr_int(g, *c, "W"), ny;
    float *ref = golden_read(g, &ny, "%s/out/y", *c);
    float *y = vp_malloc((size_t)ny * sizeof(float));
    resize_image(x->data, x->shape[0], x->shape[1], x->shape[2], y, H, W, (vp_resize_mode)mode);
    th_check_rel(*c, y, ref, ny, 1e-6);
    free(y);
    free(ref);
    ctx_free(&ctx);
    free(*c);
  }
  free(cases);
  golden_close(g);
  th_check(n == 12, "all 12 resize cases ran (%d)", n);
  th_check(resize_mode_parse("area") == RESIZE_AREA && resize_mode_parse("cubic") == -1, "mode names");
  return th_summary();
}
