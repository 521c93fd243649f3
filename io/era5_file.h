// era5_file.h: one gridded NetCDF file as the era5 source sees it.
// Opening a file reads its metadata and works out everything a read needs:
//   - the layout, from the file itself (data-formats.md §1): legacy CDS
//     (NetCDF3, `time` in hours since 1900, int16 packed with per-file
//     scale_factor/add_offset, fill -32767, optional `expver` dimension),
//     new CDS (NetCDF4, `valid_time` in seconds since 1970, float32 with NaN,
//     scalar `number` and string `expver` variables, which are ignored), or
//     any CF variable (time, lat, lon). The reader is the same for all three:
//     the label only goes into messages;
//   - the time axis, converted from "<unit> since <date>" on the file's
//     calendar to seconds since that calendar's origin, so files of one
//     calendar can be ordered and compared;
//   - the grid, normalised: rows north to south (a south-to-north file is
//     flipped on read) and longitudes increasing inside [-180, 180) or
//     [0, 360) (a file whose longitudes wrap is rotated on read);
//   - per variable: type, packing, _FillValue / missing_value (of any numeric
//     type, NaN included), _Unsigned, and the expver slices.
// A read returns a block of time steps x a box of the normalised grid as
// physical float32 values (unpacked in double), NaN where a cell is missing.
#ifndef VP_IO_ERA5_FILE_H
#define VP_IO_ERA5_FILE_H

#include <netcdf.h>
#include <stddef.h>
#include <stdint.h>

#include "io/source.h"

#define E5_MAX_EXPVER 8
#define E5_NAME 32  // variable names become modality names (vp_modality.name)

typedef enum { E5_CAL_STANDARD = 0, E5_CAL_NOLEAP, E5_CAL_ALL_LEAP, E5_CAL_360_DAY, E5_CAL_JULIAN } e5_calendar;

typedef struct e5_var {
  char name[E5_NAME];
  int varid;
  nc_type type;
  int ndims;                       // 3, or 4 with an expver dimension second
  int nexp;                        // slices of the legacy expver dimension (1: none)
  int exp_order[E5_MAX_EXPVER];    // merge order: lowest expver (final data, 1) before ERA5T (5)
  int is_unsigned;                 // _Unsigned = "true" on a signed integer type
  int packed;                      // has scale_factor and/or add_offset
  double scale, offset;
  int nsent;                       // raw values that mean "missing": _FillValue, missing_value
  double sent[4];
  int can_miss;                    // declares missing values (a sentinel, or a floating type: NaN)
} e5_var;

typedef struct e5_file {
  char *path;
  int ncid;
  const char *format;   // "NetCDF3 classic", "NetCDF3 64-bit offset", "NetCDF4", ...
  const char *layout;   // "legacy CDS", "new CDS", "CF"
  char time_name[NC_MAX_NAME + 1];
  char time_units[256];
  e5_calendar cal;
  int64_t nt;
  double *traw;         // (nt) time values as stored, in time_units
  double *t;            // (nt) seconds since the calendar's origin
  int64_t nlat, nlon;
  double *lat, *lon;    // normalised grid: lat north to south, lon increasing
  int lat_flip;         // the file stores rows south to north
  int64_t lon_rot;      // normalised column j is file column (lon_rot + j) % nlon
  int nvar;
  e5_var var[VP_MAX_MOD];
  void *raw;            // read scratch (raw values of one hyperslab)
  size_t raw_cap;
  float *conv;          // converted scratch
  size_t conv_cap;
} e5_file;

// Opens path and reads its metadata for the n variables names[0..n). With
// *n == 0 it takes every gridded variable of the file (those sharing the
// first one's dimensions), writes their names into names and sets *n.
// lon360: normalise longitudes to [0, 360) instead of [-180, 180).
// chunk_cache: HDF5 chunk cache per variable in bytes (NetCDF4 files).
// Any problem ends the program with a message naming path and the problem.
void e5_file_open(e5_file *f, const char *path, char names[][E5_NAME], int *n, int lon360, size_t chunk_cache);
void e5_file_close(e5_file *f);

// Variable v, file time steps [t0, t0 + nt), normalised rows [r0, r0 + h) and
// columns [c0, c0 + w) into out (nt, h, w): physical values, NaN = missing.
// With an expver dimension, each cell takes the first valid slice in
// exp_order (final data before ERA5T).
void e5_file_read(e5_file *f, int v, int64_t t0, int64_t nt, int64_t r0, int64_t h, int64_t c0, int64_t w,
                  float *out);

// "1044552 hours since 1900-01-01 00:00:00.0" for step i, for messages.
const char *e5_file_time_str(const e5_file *f, int64_t i, char *buf, size_t n);

// Parses CF time units "<unit> since <date>[ time]"; on success sets the
// seconds per unit and the origin in seconds on calendar cal. Returns 0 on
// success, -1 if the text is not CF time units.
int e5_parse_time_units(const char *units, e5_calendar cal, double *unit_s, double *origin_s);
// Parses a CF calendar name (NULL or "": standard); -1 if unknown.
int e5_parse_calendar(const char *name);

#endif
