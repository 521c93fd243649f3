// tensor.c: tensor allocation and the execution context.
#include "core/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "core/tape.h"

void ctx_init(vp_ctx *ctx, size_t arena_block_bytes) {
  memset(ctx, 0, sizeof(*ctx));
  arena_init(&ctx->act, arena_block_bytes);
  ctx->tape = vp_calloc(1, sizeof(vp_tape));
  ctx->training = 0;
  ctx->device = VP_CPU;
}

void ctx_free(vp_ctx *ctx) {
  arena_free(&ctx->act);
  if (ctx->tape) free(ctx->tape->nodes);
  free(ctx->tape);
  memset(ctx, 0, sizeof(*ctx));
}

void ctx_set_training(vp_ctx *ctx, int training) { ctx->training = training; }

void ctx_reset(vp_ctx *ctx) {
  arena_reset(&ctx->act);
  ctx->tape->n = 0;
}

int64_t tensor_numel(const vp_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

static vp_tensor *tensor_struct(vp_ctx *ctx, int ndim, const int64_t *shape) {
  VP_ASSERT(ndim >= 0 && ndim <= VP_MAXDIM);
  vp_tensor *t = arena_calloc(&ctx->act, sizeof(vp_tensor));
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    VP_ASSERT(shape[i] >= 0);
    t->shape[i] = shape[i];
  }
  t->dtype = VP_F32;
  t->device = (uint8_t)ctx->device;
  return t;
}

vp_tensor *tensor_new(vp_ctx *ctx, int ndim, const int64_t *shape) {
  vp_tensor *t = tensor_struct(ctx, ndim, shape);
  t->data = arena_alloc(&ctx->act, (size_t)tensor_numel(t) * sizeof(float));
  return t;
}

vp_tensor *tensor_zeros(vp_ctx *ctx, int ndim, const int64_t *shape) {
  vp_tensor *t = tensor_struct(ctx, ndim, shape);
  t->data = arena_calloc(&ctx->act, (size_t)tensor_numel(t) * sizeof(float));
  return t;
}

vp_tensor *tensor_newv(vp_ctx *ctx, int ndim, ...) {
  int64_t shape[VP_MAXDIM];
  va_list ap;
  va_start(ap, ndim);
  for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
  va_end(ap);
  return tensor_new(ctx, ndim, shape);
}

vp_tensor *tensor_from(vp_ctx *ctx, int ndim, const int64_t *shape, const float *data) {
  vp_tensor *t = tensor_new(ctx, ndim, shape);
  memcpy(t->data, data, (size_t)tensor_numel(t) * sizeof(float));
  return t;
}

float *tensor_grad(vp_ctx *ctx, vp_tensor *t) {
  if (!t->grad) t->grad = arena_calloc(&ctx->act, (size_t)tensor_numel(t) * sizeof(float));
  return t->grad;
}

int tensor_same_shape(const vp_tensor *a, const vp_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

const char *tensor_shape_str(const vp_tensor *t, char *buf, size_t n) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, n - k, "(");
  for (int i = 0; i < t->ndim && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  if (k < n) snprintf(buf + k, n - k, ")");
  return buf;
}
