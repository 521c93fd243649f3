// pack.h: packing raw Cityscapes, SYNTHIA-SEQS and BAIR trees into packed
// HDF5 clip files (io/packed_write.h), for `vpcast data pack`.
//
// Source layouts (see ../shared/spec/data-formats.md sections 3-5):
//   cityscapes  SRC/leftImg8bit_sequence/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
//               SRC/disparity_sequence/{train,val,test}/<city>/<city>_<seq>_<frame>_disparity.png
//               Frames of one (city, seq) with consecutive frame numbers form a
//               snippet (30 frames in the real data). Modalities: rgb (uint8),
//               depth = the disparity, raw 16-bit p kept as is: physical
//               d = (p - 1) / 256 px, p = 0 invalid (mask 0).
//   synthia     SRC/<SEQ>/RGB/<camera>/NNNNNN.png and SRC/<SEQ>/GT/LABELS/<camera>/NNNNNN.png
//               (or SRC itself is one <SEQ> folder); camera Stereo_Left/Omni_F by
//               default. Modalities: rgb, semantic = class id from channel 0 of
//               the 16-bit label PNG (uint8, resized by nearest neighbour).
//   bair        SRC[/softmotion30_44k][/{train,val,test}]/*.tfrecords, one
//               tf.train.Example per trajectory with raw 64x64x3 frames in
//               "<i>/image_<camera>/encoded" (camera aux1 by default, or main).
//               Optional depth (--depth DIR): 8- or 16-bit gray PNGs named like
//               SVG's processed_data tree, DIR/<split>/<tfrecord file stem>/<k>/<i>.png
//               with k the 1-based record number in the file and i the frame;
//               raw 0 is invalid, physical = raw * depth_scale.
// Splits come from the {train,val,test} folders; a tree without them (SYNTHIA,
// a flat folder of TFRecords) labels every clip with `split`.
//
// Every sequence is cut into clips of `frames` consecutive frames (the rest of
// a sequence shorter than a whole clip is dropped). Each frame is centre-cropped
// to a square and resized to size x size once, here: rgb and depth with the
// chosen mode (bilinear, as PVDM / SyncVP's resize_crop, by default), labels by
// nearest neighbour; depth is resized with its validity mask (values averaged
// over valid pixels only, valid where at least half the weight was valid).
//
// Parallel packing: the clip list is built identically on every rank (sorted
// splits, folders and files), and rank r of n packs the contiguous block
// [r*N/n, (r+1)*N/n) into its own shard, so the shards concatenated in rank
// order hold exactly the clips, in the same order, as a one-rank pack.
#ifndef VP_IO_PACK_H
#define VP_IO_PACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct pack_opts {
  const char *format;   // "cityscapes" | "synthia" | "bair"
  const char *src;      // source tree
  const char *out;      // output FILE.h5 (shards: see pack_shard_path)
  int size;             // S; 0: the format's default (128; BAIR 64)
  int frames;           // T per clip; 0: 30
  const char *splits;   // comma-separated splits to pack; NULL or "": every split found
  const char *split;    // label of clips whose tree has no split folders; NULL: "train"
  const char *camera;   // NULL or "": the format's default
  const char *depth;    // BAIR: folder of per-frame depth PNGs; NULL or "": none
  double depth_scale;   // BAIR depth: physical value per raw unit (0: 1)
  int resize;           // vp_resize_mode for rgb and depth
  int compress;         // deflate level of the output (0: none)
  int rank, nranks;
  int verbose;          // progress lines on stderr (rank 0)
} pack_opts;

struct packed_writer;

// What this rank wrote.
typedef struct pack_result {
  int64_t total;        // clips in the whole pack (all ranks)
  int64_t first, count; // this rank's block of the clip list
  char path[4096];      // this rank's file (once committed)
  struct packed_writer *pending;  // the finished, not yet committed file
} pack_result;

// The file rank of nranks writes: out itself when nranks == 1, otherwise
// "out-RRRRR-of-NNNNN.h5" (out without its ".h5" suffix, then the shard tag).
void pack_shard_path(const char *out, int rank, int nranks, char *buf, size_t n);
// Packs this rank's share into a temporary file beside res->path, complete
// and synced but not yet under its final name; pack_commit renames it. Under
// MPI every rank packs, the ranks agree that all succeeded, then each
// commits, so a failure on any rank leaves no shard under a final name.
// Dies with a message naming the file and the problem on bad input.
void pack_run(const pack_opts *o, pack_result *res);
void pack_commit(pack_result *res);

// Centre square crop of src (h, w, c) resized to (S, S, c) with mode.
void pack_crop_resize_u8(const uint8_t *src, int h, int w, int c, int S, int mode, uint8_t *dst);
// Same for a (h, w) 16-bit map whose raw value `invalid` marks missing data:
// physical = raw * scale + offset is resized with the mask (see above) and
// encoded back to raw; pixels with less than half valid weight get `invalid`.
void pack_crop_resize_masked_u16(const uint16_t *src, int h, int w, int S, int mode, double scale,
                                 double offset, uint16_t invalid, uint16_t *dst);

#endif
