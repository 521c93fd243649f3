// era5_synth.h: synthetic ERA5-Land-like NetCDF files in the two real CDS
// layouts (data-formats.md §1.2 and §1.3), for the era5 reader's tests and
// for bench_io. Values are a smooth function of (time, latitude, longitude)
// with a land/sea pattern, so the same physical point has the same value
// whatever the file's grid order, longitude range or packing, and a reader
// can be checked against era5_synth_value().
//   legacy: NetCDF3 64-bit offset; dims longitude, latitude, time (defined in
//           that order); float longitude/latitude; int time in "hours since
//           1900-01-01 00:00:00.0"; short <var>(time, [expver,] latitude,
//           longitude) packed per file with double scale_factor/add_offset
//           computed like grib_to_netcdf; _FillValue = missing_value = -32767s
//           over the sea; optional int expver(expver) = {1, 5}.
//   new:    NetCDF4; dims valid_time, latitude, longitude; int64 scalar
//           number; int64 valid_time "seconds since 1970-01-01"; double
//           latitude/longitude; string expver(valid_time); float
//           <var>(valid_time, latitude, longitude), _FillValue NaNf (NaN over
//           the sea), chunked in time, zlib + shuffle.
//
// A benchmark file like SyncVP's ERA5-Land crop (360 x 540 cells at 0.1
// degrees over Europe, a month of hourly steps, t2m and sp):
//   era5_synth_opts o = era5_synth_defaults(ERA5_SYNTH_NEW, 744, 360, 540);
//   o.lat0 = 71.0, o.dlat = -0.1, o.lon0 = -12.0, o.dlon = 0.1;
//   era5_synth_write("era5_new.nc", &o, NULL, NULL);  // ~0.4 GB, ~30 s of CPU
// (ERA5_SYNTH_LEGACY: the packed NetCDF3 layout, ~0.6 GB). Read it with
// data.source = era5, data.path = the file; data.era5.cache_mb = 0 times the
// per-clip NetCDF reads (otherwise the split is read into memory at open).
#ifndef VP_IO_ERA5_SYNTH_H
#define VP_IO_ERA5_SYNTH_H

#include <stdint.h>

typedef enum { ERA5_SYNTH_LEGACY = 0, ERA5_SYNTH_NEW = 1 } era5_synth_layout;

#define ERA5_SYNTH_MAX_VARS 4

typedef struct era5_synth_opts {
  era5_synth_layout layout;
  int64_t nt, nlat, nlon;
  double lat0, dlat;  // latitude of row 0 and the step (negative: north to south, as ERA5)
  double lon0, dlon;  // longitude of column 0 and the step
  int lon_wrap360;    // store longitudes wrapped into [0, 360) (e.g. 350 .. 359.9, 0 .. 10)
  int64_t t0, dt;     // first time and step, in the layout's unit (hours since 1900 / seconds since 1970)
  int nvars;
  const char *vars[ERA5_SYNTH_MAX_VARS];  // "t2m" (K), "sp" (Pa); any other name: a generic field
  int expver;            // legacy only: add the expver dimension (size 2: final 1, ERA5T 5)
  int64_t expver_split;  // with expver: steps before this are final, the rest ERA5T
  int sea;               // mask the sea (fill / NaN); 0: every cell valid
  int unlimited_time;    // legacy only: time is the record (unlimited) dimension
  int nc3_format;        // legacy only: 0 = 64-bit offset (the CDS's), 1 = classic, 5 = CDF5
  int64_t chunk_t;       // new layout: chunk length in time (0: 12, the CDS dask chunk)
  int deflate;           // new layout: zlib level (0: none)
  // Steps [nan_from, nan_to) are missing everywhere in the first variable
  // (a gap in the data); nan_to <= nan_from: none.
  int64_t nan_from, nan_to;
} era5_synth_opts;

// Legacy: 1-hourly from 2019-03-01T00 on a 0.25 degree grid from 58N, 10W (the
// real ERA5 UK sample's); new: same times in seconds. vars = {t2m, sp}, sea on,
// deflate 1.
era5_synth_opts era5_synth_defaults(era5_synth_layout layout, int64_t nt, int64_t nlat, int64_t nlon);

// Seconds since 1970-01-01 of step t of a file written with o.
double era5_synth_time(const era5_synth_opts *o, int64_t t);
// Land/sea pattern (about a quarter of the cells are sea, in blobs a few
// degrees across).
int era5_synth_is_sea(double lat, double lon);
// Physical value of variable var at unix time (s), lat, lon (degrees): t2m in
// K, sp in Pa, anything else in [-1, 1]. Ignores the sea (see is_sea).
double era5_synth_value(const char *var, double unix_s, double lat, double lon);

// Writes path in o's layout; dies (naming path) on any NetCDF failure. For the
// legacy layout, scale[v] / offset[v] receive each variable's packing (either
// may be NULL).
void era5_synth_write(const char *path, const era5_synth_opts *o, double *scale, double *offset);

#endif
