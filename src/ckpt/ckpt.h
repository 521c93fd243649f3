// ckpt.h: the checkpoint file (HDF5, readable with h5py).
//
//   /meta            attrs: format "vpcast-ckpt", version, step, world_size,
//                    model, stage, git, config (the effective YAML text),
//                    threads (OpenMP threads per rank), device ("cpu"),
//                    ema (1 when /ema is present), params (tensor count),
//                    numel (parameter count)
//   /params/<name>   float32, the PyTorch state_dict name and shape
//   /ema/<name>      the EMA shadow (absent when train.ema_decay = 0)
//   /optim/m/<name>  AdamW first moments
//   /optim/v/<name>  AdamW second moments
//   /state           attrs: data_epoch, data_cursor (sampler state after the
//                    last trained batch), seed, lr_step (the step the LR
//                    schedule continues from), optim_t (AdamW steps taken),
//                    ema_updates (LitEma's counter), nan_in_row (non-finite
//                    steps in a row, the NaN guard), nan_skipped (steps
//                    skipped so far), global_batch, grad_accum
// Every dataset carries an attribute crc32c over its float32 bytes
// (little-endian), so `vpcast ckpt info` can prove a file complete and intact.
//
// A checkpoint holds everything a resumed run needs to continue bit for bit
// (with the same world size, threads and device): the data order and noise
// are pure functions of (seed, step, sample index), the LR schedule a pure
// function of the step.
//
// Writing goes to a path the caller chose (ckpt_dir.h writes a temporary
// file and renames it); the file is fsynced before ckpt_write returns.
// All HDF5 calls hold io_hdf5_lock() (a loader thread may be reading).
#ifndef VP_CKPT_CKPT_H
#define VP_CKPT_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/params.h"

#define CKPT_FORMAT "vpcast-ckpt"
#define CKPT_VERSION 1

typedef struct vp_ckpt_meta {
  int64_t step;          // optimizer steps completed
  int world_size;
  int threads;
  int has_ema;
  char model[64];
  char stage[64];
  char git[64];
  char device[16];
  char *config;          // YAML text; owned (ckpt_meta_free) when read
} vp_ckpt_meta;

typedef struct vp_ckpt_state {
  int64_t data_epoch, data_cursor;
  uint64_t seed;
  int64_t lr_step;
  int64_t optim_t;
  int64_t ema_updates;
  int64_t nan_in_row;
  int64_t nan_skipped;
  int64_t global_batch;
  int64_t grad_accum;
} vp_ckpt_state;

// Buffers in the vp_params layout (p->numel floats each); ema NULL: no EMA.
typedef struct vp_ckpt_buffers {
  float *params, *ema, *m, *v;
} vp_ckpt_buffers;

// Writes the whole checkpoint to path (truncating), then fsyncs it. Dies
// with a message naming the path on any failure (disk full, permissions).
void ckpt_write(const char *path, const vp_ckpt_meta *meta, const vp_ckpt_state *st, const vp_params *p,
                const vp_ckpt_buffers *b);

// Reads /meta and /state. Dies with a message when path is not a vpcast
// checkpoint of a version this build reads.
void ckpt_read_header(const char *path, vp_ckpt_meta *meta, vp_ckpt_state *st);
void ckpt_meta_free(vp_ckpt_meta *meta);

// Reads every tensor of p's store (by name) into b's buffers (b->ema may be
// NULL to skip it). The file must hold exactly p's parameters with p's
// shapes and intact checksums; anything else ends the program with a
// message naming the tensor.
void ckpt_read_tensors(const char *path, const vp_params *p, const vp_ckpt_buffers *b);

// ---- generic access (ckpt info / diff, tests) ----
typedef struct vp_ckpt_file vp_ckpt_file;
// NULL (with why) when path is not a readable HDF5 file.
vp_ckpt_file *ckpt_open(const char *path, char *why, size_t why_len);
void ckpt_close(vp_ckpt_file *f);
// Names of the datasets in group ("params", "ema", "optim/m", "optim/v"),
// sorted; *n = -1 when the group is missing. Free with ckpt_names_free.
char **ckpt_names(vp_ckpt_file *f, const char *group, int *n);
void ckpt_names_free(char **names, int n);
// Dataset group/name: shape into shape[*ndim] (up to 8 dims) and float32
// data (malloc'd, caller frees) into *data (NULL: shape only), the stored
// crc32c into *crc (-1 when absent). Returns 0, or -1 with why filled.
int ckpt_read_dataset(vp_ckpt_file *f, const char *group, const char *name, int *ndim, int64_t *shape,
                      float **data, int64_t *crc, char *why, size_t why_len);

// Checks a file for completeness: format and version, every /meta and
// /state attribute, the same names and shapes in /params, /ema (when the
// meta says so), /optim/m and /optim/v, every checksum. Prints each problem
// as a line to out (may be NULL) and returns their count (0: complete).
// *tensors and *numel get the parameter count of /params.
int ckpt_verify(const char *path, FILE *out, int64_t *tensors, int64_t *numel);

#endif
