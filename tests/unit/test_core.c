// test_core.c: arena, tensor, tape and parameter store behaviour.
#include <math.h>
#include <string.h>

#include "core/arena.h"
#include "core/check.h"
#include "core/params.h"
#include "core/tape.h"
#include "harness.h"
#include "ops/ops.h"

static void test_arena(void) {
  vp_arena a;
  arena_init(&a, 1024);
  char *p1 = arena_alloc(&a, 100), *p2 = arena_alloc(&a, 100);
  th_check(((uintptr_t)p1 % 64) == 0 && ((uintptr_t)p2 % 64) == 0, "arena pointers are 64-byte aligned");
  th_check(p2 >= p1 + 100, "arena allocations do not overlap");
  memset(p1, 1, 100);
  char *big = arena_alloc(&a, 5000);  // larger than a block: gets its own block
  memset(big, 2, 5000);
  th_check(p1[99] == 1, "earlier allocations survive growth");
  size_t hw = a.high_water;
  th_check(hw >= 5000 + 256, "high-water mark counts every live byte (%zu)", hw);
  arena_reset(&a);
  th_check(a.first && a.first->next == NULL && a.first->size >= hw, "reset merges blocks into one of the high-water size");
  char *q = arena_calloc(&a, 4000);
  int zero = 1;
  for (int i = 0; i < 4000; i++) zero &= q[i] == 0;
  th_check(zero, "arena_calloc zeroes");
  arena_free(&a);
}

static void test_params(void) {
  vp_params p;
  params_init(&p);
  vp_tensor *w = params_add(&p, 2, (int64_t[]){3, 4}, "layer.%d.weight", 0);
  vp_tensor *b = params_add(&p, 1, (int64_t[]){3}, "layer.%d.bias", 0);
  params_alloc(&p);
  th_check(p.numel == 15 && w->data == p.data && b->data == p.data + 12, "flat layout in declaration order");
  th_check(w->grad == p.grad && b->grad == p.grad + 12, "gradients in the twin buffer");
  th_check(params_find(&p, "layer.0.bias") == b && params_find(&p, "nope") == NULL, "lookup by PyTorch name");
  p.grad[3] = 5;
  params_zero_grad(&p);
  th_check(p.grad[3] == 0, "zero_grad clears");
  params_free(&p);
}

// Shared weights: y = W x1 + W x2 must give dW = g x1^T + g x2^T.
static void test_tape_shared(void) {
  vp_params p;
  params_init(&p);
  vp_tensor *w = params_add(&p, 2, (int64_t[]){2, 3}, "w");
  params_alloc(&p);
  th_fill_uniform(w->data, 6, 9, -1, 1);
  vp_ctx ctx, data;  // inputs live in their own context so resets keep them
  ctx_init(&ctx, 1 << 16);
  ctx_init(&data, 1 << 16);
  ctx_set_training(&ctx, 1);
  vp_tensor *x1 = tensor_newv(&data, 2, (int64_t)1, (int64_t)3), *x2 = tensor_newv(&data, 2, (int64_t)1, (int64_t)3);
  th_fill_uniform(x1->data, 3, 1, -1, 1);
  th_fill_uniform(x2->data, 3, 2, -1, 1);
  vp_tensor *y = op_add(&ctx, op_linear(&ctx, x1, w, NULL), op_linear(&ctx, x2, w, NULL));
  vp_tensor *loss = op_sum(&ctx, y, NULL, 0, 0);
  tape_backward(&ctx, loss);
  int ok = 1;
  for (int o = 0; o < 2; o++)
    for (int i = 0; i < 3; i++) {
      float want = x1->data[i] + x2->data[i];
      ok &= fabsf(p.grad[o * 3 + i] - want) < 1e-6f;
    }
  th_check(ok, "a weight used twice accumulates both gradients");
  th_check(ctx.tape->n == 4, "tape recorded 4 nodes (got %lld)", (long long)ctx.tape->n);
  ctx_reset(&ctx);
  th_check(ctx.tape->n == 0, "reset clears the tape");

  // Inference mode records nothing and leaves gradients alone.
  ctx_set_training(&ctx, 0);
  params_zero_grad(&p);
  vp_tensor *z = op_linear(&ctx, x1, w, NULL);
  th_check(ctx.tape->n == 0 && !z->requires_grad, "inference mode records no nodes");
  // Inputs that need no grad record nothing even in training mode.
  ctx_set_training(&ctx, 1);
  w->requires_grad = 0;
  z = op_linear(&ctx, x1, w, NULL);
  th_check(ctx.tape->n == 0, "no node when no input needs a gradient");
  w->requires_grad = 1;
  ctx_free(&ctx);
  ctx_free(&data);
  params_free(&p);
}

int main(void) {
  test_arena();
  test_params();
  test_tape_shared();
  return th_summary();
}
