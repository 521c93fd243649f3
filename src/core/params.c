// params.c: named parameters in one flat buffer (see params.h).
#include "core/params.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void params_init(vp_params *p) { memset(p, 0, sizeof(*p)); }

void params_free(vp_params *p) {
  for (int i = 0; i < p->n; i++) {
    free((char *)p->t[i]->name);
    free(p->t[i]);
  }
  free(p->t);
  free(p->offset);
  free(p->data);
  free(p->grad);
  memset(p, 0, sizeof(*p));
}

vp_tensor *params_add(vp_params *p, int ndim, const int64_t *shape, const char *fmt, ...) {
  VP_ASSERT(p->data == NULL);  // declare everything before params_alloc
  VP_ASSERT(ndim >= 0 && ndim <= VP_MAXDIM);
  char name[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof(name), fmt, ap);
  va_end(ap);
  if (params_find(p, name)) vp_die_at(__FILE__, __LINE__, "parameter '%s' declared twice", name);
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 64;
    p->t = vp_realloc(p->t, (size_t)p->cap * sizeof(*p->t));
    p->offset = vp_realloc(p->offset, (size_t)p->cap * sizeof(*p->offset));
  }
  vp_tensor *t = vp_calloc(1, sizeof(*t));
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->name = vp_strdup(name);
  t->requires_grad = 1;
  t->is_param = 1;
  p->offset[p->n] = p->numel;
  p->numel += (size_t)tensor_numel(t);
  p->t[p->n++] = t;
  return t;
}

void params_alloc(vp_params *p) {
  VP_ASSERT(p->data == NULL);
  size_t bytes = (p->numel ? p->numel : 1) * sizeof(float);
  bytes = (bytes + 63) & ~(size_t)63;
  if (posix_memalign((void **)&p->data, 64, bytes) || posix_memalign((void **)&p->grad, 64, bytes))
    vp_die("out of memory allocating %zu parameters", p->numel);
  memset(p->data, 0, bytes);
  memset(p->grad, 0, bytes);
  for (int i = 0; i < p->n; i++) {
    p->t[i]->data = p->data + p->offset[i];
    p->t[i]->grad = p->grad + p->offset[i];
  }
}

vp_tensor *params_find(const vp_params *p, const char *name) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->t[i]->name, name) == 0) return p->t[i];
  return NULL;
}

void params_zero_grad(vp_params *p) {
  if (p->grad) memset(p->grad, 0, p->numel * sizeof(float));
}
