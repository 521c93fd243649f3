// arena.c: bump allocator with a chain of blocks (see arena.h).
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#define ARENA_ALIGN 64

static vp_arena_block *block_new(size_t size) {
  vp_arena_block *b = vp_calloc(1, sizeof(*b));
  b->size = size;
  if (posix_memalign((void **)&b->mem, ARENA_ALIGN, size) != 0)
    vp_die("out of memory allocating a %zu-byte arena block; reduce the batch "
           "size or the model size", size);
  return b;
}

void arena_init(vp_arena *a, size_t block_size) {
  memset(a, 0, sizeof(*a));
  a->block_size = block_size ? block_size : ((size_t)64 << 20);
}

void arena_free(vp_arena *a) {
  vp_arena_block *b = a->first;
  while (b) {
    vp_arena_block *n = b->next;
    free(b->mem);
    free(b);
    b = n;
  }
  memset(a, 0, sizeof(*a));
}

void *arena_alloc(vp_arena *a, size_t bytes) {
  bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (bytes == 0) bytes = ARENA_ALIGN;
  vp_arena_block *b = a->head;
  while (b && b->used + bytes > b->size) {
    // Try the next (already allocated) block before making a new one.
    b = b->next;
    if (b) b->used = 0;
    a->head = b ? b : a->head;
  }
  if (!b) {
    size_t sz = bytes > a->block_size ? bytes : a->block_size;
    b = block_new(sz);
    if (!a->first) {
      a->first = b;
    } else {
      vp_arena_block *t = a->head;
      while (t->next) t = t->next;
      t->next = b;
    }
    a->head = b;
  }
  void *p = b->mem + b->used;
  b->used += bytes;
  a->in_use += bytes;
  if (a->in_use > a->high_water) a->high_water = a->in_use;
  return p;
}

void *arena_calloc(vp_arena *a, size_t bytes) {
  void *p = arena_alloc(a, bytes);
  memset(p, 0, bytes);
  return p;
}

void arena_reset(vp_arena *a) {
  // If the step needed several blocks, replace them by one block big enough
  // for the whole high-water mark, so later steps use a single block.
  if (a->first && a->first->next) {
    arena_free(&(vp_arena){.first = a->first});
    size_t hw = a->high_water, bs = a->block_size;
    a->first = a->head = block_new(hw > bs ? hw : bs);
    a->block_size = bs;
    a->high_water = hw;
  }
  if (a->first) a->first->used = 0;
  a->head = a->first;
  a->in_use = 0;
}
