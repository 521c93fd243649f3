// sevir_h5.h: the SEVIR raster files (HDF5) behind a clip source.
// Each file holds `id` (N,) fixed- or variable-length strings and one image
// dataset, e.g. `vil` (N, H, W, T) uint8, layout N,H,W,T (time innermost;
// H = W = 384, T = 49 for VIL). Events are read as hyperslabs
// [index, 0:H, 0:W, t0:t0+nt] of that dataset.
//
// Handles: a file stays open between reads (file + dataset handle); at most
// max_open files are open at once and the least recently used one is closed
// first. Datasets are opened with a chunk cache that holds every chunk one
// event touches (H5Pset_chunk_cache on the access list), and files with a
// sieve buffer of one event for contiguous layouts, so an event read costs
// one pass over its bytes. File locking is off: readers never write, and
// locks fail on many parallel file systems.
//
// Errors: every HDF5 call is checked (HDF5's own printing is off); a failure
// ends the program through vp_die() with the file, the dataset, the event
// index, HDF5's innermost message and what to do. Files with a filter this
// HDF5 lacks (LZF, filter 32000, is what h5py writes) are refused when
// opened, naming the filter and how to fix it.
#ifndef VP_IO_SEVIR_H5_H
#define VP_IO_SEVIR_H5_H

#include <stddef.h>
#include <stdint.h>

typedef struct sevir_h5_file {
  char *path;           // full path
  char *origin;         // where the path came from, for messages ("CATALOG.csv line 12, event S728503")
  int64_t hid_file, hid_dset;  // hid_t values; -1 while closed
  uint64_t stamp;       // last use (LRU clock)
  int inspected;
  int64_t n, h, w, t;   // dataset shape (N, H, W, T)
  int chunked;
  size_t cache_bytes, cache_slots;  // chunk cache of the dataset access list
} sevir_h5_file;

typedef struct sevir_h5 {
  char dataset[32];     // "vil"
  int nfiles, cap;
  sevir_h5_file *f;
  int max_open, nopen;
  uint64_t clock;
} sevir_h5;

void sevir_h5_init(sevir_h5 *h, const char *dataset, int max_open);
// Index of the file at path, adding it if new; origin is kept from the first call.
int sevir_h5_add(sevir_h5 *h, const char *path, const char *origin);
// Opens file i (if needed) and checks it: the file exists and is HDF5, the
// dataset exists with rank 4, 8-bit unsigned integers, and only filters this
// HDF5 has. Fills f[i].n/h/w/t. Dies with a message on any problem.
void sevir_h5_inspect(sevir_h5 *h, int i);
// Event `index` of file i, frames [t0, t0 + nt), into out (H, W, nt) uint8.
void sevir_h5_read(sevir_h5 *h, int i, int64_t index, int64_t t0, int64_t nt, uint8_t *out);
// The `id` strings of file i (n of them, NUL-terminated, trailing spaces and
// NULs dropped) into ids (n * idlen bytes, each at most idlen - 1 chars).
// Returns 0, or -1 when the file has no `id` dataset of strings.
int sevir_h5_read_ids(sevir_h5 *h, int i, char *ids, size_t idlen);
void sevir_h5_close_all(sevir_h5 *h);
void sevir_h5_free(sevir_h5 *h);

// HDF5's innermost error message from the calling thread's stack (then
// cleared) into buf; "no message from HDF5" when the stack is empty.
const char *sevir_h5_errmsg(char *buf, size_t n);
// Turns HDF5's automatic error printing off for the calling thread (the
// error stack is per thread in thread-safe HDF5 builds such as Debian's).
void sevir_h5_quiet(void);
// Name and remedy of a well-known third-party HDF5 filter id, or NULL.
const char *sevir_h5_filter_name(int id);

#endif
