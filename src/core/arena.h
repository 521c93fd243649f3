// arena.h: bump allocators for tensors.
// Two lifetimes exist in a training run: persistent memory (parameters,
// gradients, optimizer state) and per-step memory (activations, tape, saved
// tensors). Each lives in an arena; the activation arena is reset after every
// step, so a step allocates nothing from malloc once the arena has grown to
// its high-water mark. Blocks are never moved, so pointers stay valid until
// reset.
#ifndef VP_ARENA_H
#define VP_ARENA_H

#include <stddef.h>

typedef struct vp_arena_block {
  struct vp_arena_block *next;
  size_t size, used;
  unsigned char *mem;
} vp_arena_block;

typedef struct vp_arena {
  vp_arena_block *head;   // block being filled
  vp_arena_block *first;  // first block (kept across resets)
  size_t block_size;      // default size of a new block
  size_t high_water;      // most bytes ever in use at once
  size_t in_use;
} vp_arena;

void arena_init(vp_arena *a, size_t block_size);
void arena_free(vp_arena *a);
// 64-byte aligned, uninitialised.
void *arena_alloc(vp_arena *a, size_t bytes);
// 64-byte aligned, zeroed.
void *arena_calloc(vp_arena *a, size_t bytes);
// Forget everything allocated; blocks are kept (merged into one on next use).
void arena_reset(vp_arena *a);

#endif
