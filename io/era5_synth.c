// era5_synth.c: synthetic ERA5-Land-like NetCDF files (see era5_synth.h).
#include "io/era5_synth.h"

#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/netcdf_check.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)
// 1900-01-01T00Z in seconds since 1970-01-01.
#define UNIX_1900 (-2208988800.0)

era5_synth_opts era5_synth_defaults(era5_synth_layout layout, int64_t nt, int64_t nlat, int64_t nlon) {
  era5_synth_opts o;
  memset(&o, 0, sizeof o);
  o.layout = layout;
  o.nt = nt;
  o.nlat = nlat;
  o.nlon = nlon;
  o.lat0 = 58.0;
  o.dlat = -0.25;
  o.lon0 = -10.0;
  o.dlon = 0.25;
  o.t0 = layout == ERA5_SYNTH_LEGACY ? 1044552 : 1551398400;  // 2019-03-01T00Z
  o.dt = layout == ERA5_SYNTH_LEGACY ? 1 : 3600;
  o.nvars = 2;
  o.vars[0] = "t2m";
  o.vars[1] = "sp";
  o.sea = 1;
  o.deflate = 1;
  return o;
}

double era5_synth_time(const era5_synth_opts *o, int64_t t) {
  double v = (double)(o->t0 + t * o->dt);
  return o->layout == ERA5_SYNTH_LEGACY ? UNIX_1900 + v * 3600.0 : v;
}

int era5_synth_is_sea(double lat, double lon) {
  return sin(150.0 * lat * DEG) * cos(110.0 * lon * DEG) + 0.3 * sin(70.0 * lon * DEG) > 0.45;
}

double era5_synth_value(const char *var, double unix_s, double lat, double lon) {
  double day = 2.0 * PI * unix_s / 86400.0, slow = 2.0 * PI * unix_s / (5 * 86400.0);
  if (strcmp(var, "t2m") == 0)
    return 273.15 + 25.0 * cos(lat * DEG) + 8.0 * sin(day + lon * DEG) + 3.0 * cos(3 * lat * DEG + 2 * lon * DEG) +
           2.0 * sin(slow);
  if (strcmp(var, "sp") == 0)
    return 101325.0 - 8000.0 * (0.5 + 0.5 * sin(2 * lat * DEG) * cos(lon * DEG)) + 500.0 * sin(slow + lat * DEG);
  return sin(lat * DEG * 3 + slow) * cos(lon * DEG + day) * 0.9;
}

static double lat_of(const era5_synth_opts *o, int64_t i) { return o->lat0 + (double)i * o->dlat; }
static double lon_of(const era5_synth_opts *o, int64_t j) {
  double x = o->lon0 + (double)j * o->dlon;
  if (o->lon_wrap360) {
    x = fmod(x, 360.0);
    if (x < 0) x += 360.0;
  }
  return x;
}

// The sea mask of the grid (nlat, nlon), computed once per file.
static uint8_t *sea_mask(const era5_synth_opts *o) {
  uint8_t *m = vp_malloc((size_t)(o->nlat * o->nlon));
  for (int64_t i = 0; i < o->nlat; i++)
    for (int64_t j = 0; j < o->nlon; j++) m[i * o->nlon + j] = o->sea && era5_synth_is_sea(lat_of(o, i), lon_of(o, j));
  return m;
}

// Value of variable v at step t, cell (i, j); NaN where missing.
static double cell(const era5_synth_opts *o, const uint8_t *sea, int v, int64_t t, int64_t i, int64_t j) {
  double lat = lat_of(o, i), lon = lon_of(o, j);
  if (sea[i * o->nlon + j]) return NAN;
  if (v == 0 && t >= o->nan_from && t < o->nan_to) return NAN;
  return era5_synth_value(o->vars[v], era5_synth_time(o, t), lat, lon);
}

// Steps per write: keep one block at about 32 MiB of doubles.
static int64_t block_steps(const era5_synth_opts *o) {
  int64_t px = o->nlat * o->nlon, b = (32 << 20) / (8 * (px > 0 ? px : 1));
  return b < 1 ? 1 : b;
}

static void write_legacy(const char *path, const era5_synth_opts *o, double *scale_out, double *offset_out) {
  int nc, dlon, dlat, dtime, dexp = -1, vlon, vlat, vtime, vexp = -1, vid[ERA5_SYNTH_MAX_VARS];
  int mode = o->nc3_format == 1 ? 0 : o->nc3_format == 5 ? NC_64BIT_DATA : NC_64BIT_OFFSET;
  nc_check(nc_create(path, NC_CLOBBER | mode, &nc), path, "creating the file");
  // grib_to_netcdf defines longitude, latitude, time in this order.
  nc_check(nc_def_dim(nc, "longitude", (size_t)o->nlon, &dlon), path, "defining longitude");
  nc_check(nc_def_dim(nc, "latitude", (size_t)o->nlat, &dlat), path, "defining latitude");
  if (o->expver) nc_check(nc_def_dim(nc, "expver", 2, &dexp), path, "defining expver");
  nc_check(nc_def_dim(nc, "time", o->unlimited_time ? NC_UNLIMITED : (size_t)o->nt, &dtime), path,
           "defining time");
  nc_check(nc_def_var(nc, "longitude", NC_FLOAT, 1, &dlon, &vlon), path, "defining longitude");
  nc_check(nc_put_att_text(nc, vlon, "units", 12, "degrees_east"), path, "longitude units");
  nc_check(nc_put_att_text(nc, vlon, "long_name", 9, "longitude"), path, "longitude long_name");
  nc_check(nc_def_var(nc, "latitude", NC_FLOAT, 1, &dlat, &vlat), path, "defining latitude");
  nc_check(nc_put_att_text(nc, vlat, "units", 13, "degrees_north"), path, "latitude units");
  nc_check(nc_put_att_text(nc, vlat, "long_name", 8, "latitude"), path, "latitude long_name");
  if (o->expver) {
    nc_check(nc_def_var(nc, "expver", NC_INT, 1, &dexp, &vexp), path, "defining expver");
    nc_check(nc_put_att_text(nc, vexp, "long_name", 6, "expver"), path, "expver long_name");
  }
  nc_check(nc_def_var(nc, "time", NC_INT, 1, &dtime, &vtime), path, "defining time");
  const char *tu = "hours since 1900-01-01 00:00:00.0";
  nc_check(nc_put_att_text(nc, vtime, "units", strlen(tu), tu), path, "time units");
  nc_check(nc_put_att_text(nc, vtime, "long_name", 4, "time"), path, "time long_name");
  nc_check(nc_put_att_text(nc, vtime, "calendar", 9, "gregorian"), path, "time calendar");

  // Packing per variable over all valid values of the file (grib_to_netcdf's compute_scale).
  uint8_t *sea = sea_mask(o);
  double scale[ERA5_SYNTH_MAX_VARS], offset[ERA5_SYNTH_MAX_VARS];
  for (int v = 0; v < o->nvars; v++) {
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t t = 0; t < o->nt; t++)
      for (int64_t i = 0; i < o->nlat; i++)
        for (int64_t j = 0; j < o->nlon; j++) {
          double x = cell(o, sea, v, t, i, j);
          if (!isnan(x)) mn = x < mn ? x : mn, mx = x > mx ? x : mx;
        }
    if (!(mx > mn)) mn = mx = isfinite(mn) ? mn : 0, mx = mn + 1;  // all equal or all missing
    scale[v] = (mx - mn) / (32767.0 - (-32766.0));
    offset[v] = ((mx + mn) - scale[v] * (-32766.0 + 32767.0)) / 2.0;
    if (scale_out) scale_out[v] = scale[v];
    if (offset_out) offset_out[v] = offset[v];
  }
  int dims[4] = {dtime, dexp, dlat, dlon}, nd = 4;
  if (!o->expver) dims[1] = dlat, dims[2] = dlon, nd = 3;
  for (int v = 0; v < o->nvars; v++) {
    const char *n = o->vars[v];
    short fill = -32767;
    nc_check(nc_def_var(nc, n, NC_SHORT, nd, dims, &vid[v]), path, "defining %s", n);
    nc_check(nc_put_att_double(nc, vid[v], "scale_factor", NC_DOUBLE, 1, &scale[v]), path, "%s scale_factor", n);
    nc_check(nc_put_att_double(nc, vid[v], "add_offset", NC_DOUBLE, 1, &offset[v]), path, "%s add_offset", n);
    nc_check(nc_put_att_short(nc, vid[v], "_FillValue", NC_SHORT, 1, &fill), path, "%s _FillValue", n);
    nc_check(nc_put_att_short(nc, vid[v], "missing_value", NC_SHORT, 1, &fill), path, "%s missing_value", n);
    const char *u = strcmp(n, "t2m") == 0 ? "K" : strcmp(n, "sp") == 0 ? "Pa" : "1";
    nc_check(nc_put_att_text(nc, vid[v], "units", strlen(u), u), path, "%s units", n);
    if (strcmp(n, "sp") == 0)
      nc_check(nc_put_att_text(nc, vid[v], "standard_name", 20, "surface_air_pressure"), path, "sp standard_name");
  }
  const char *conv = "CF-1.6";
  nc_check(nc_put_att_text(nc, NC_GLOBAL, "Conventions", strlen(conv), conv), path, "Conventions");
  const char *hist = "vpcast era5_synth (legacy CDS grib_to_netcdf layout)";
  nc_check(nc_put_att_text(nc, NC_GLOBAL, "history", strlen(hist), hist), path, "history");
  nc_check(nc_enddef(nc), path, "leaving define mode");

  float *fl = vp_malloc((size_t)(o->nlon > o->nlat ? o->nlon : o->nlat) * sizeof(float));
  for (int64_t j = 0; j < o->nlon; j++) fl[j] = (float)lon_of(o, j);
  nc_check(nc_put_var_float(nc, vlon, fl), path, "writing longitude");
  for (int64_t i = 0; i < o->nlat; i++) fl[i] = (float)lat_of(o, i);
  nc_check(nc_put_var_float(nc, vlat, fl), path, "writing latitude");
  free(fl);
  if (o->expver) {
    int ev[2] = {1, 5};
    nc_check(nc_put_var_int(nc, vexp, ev), path, "writing expver");
  }
  int *tv = vp_malloc((size_t)(o->nt ? o->nt : 1) * sizeof(int));
  for (int64_t t = 0; t < o->nt; t++) tv[t] = (int)(o->t0 + t * o->dt);
  size_t t_start = 0, t_count = (size_t)o->nt;
  nc_check(nc_put_vara_int(nc, vtime, &t_start, &t_count, tv), path, "writing time");
  free(tv);

  int64_t px = o->nlat * o->nlon, nexp = o->expver ? 2 : 1, bs = block_steps(o);
  short *buf = vp_malloc((size_t)(bs * nexp * px) * sizeof(short));
  for (int v = 0; v < o->nvars; v++)
    for (int64_t t0 = 0; t0 < o->nt; t0 += bs) {
      int64_t n = o->nt - t0 < bs ? o->nt - t0 : bs;
      for (int64_t t = 0; t < n; t++)
        for (int64_t e = 0; e < nexp; e++) {
          // With expver, a step is valid only in its own slice; the other holds the fill.
          int own = !o->expver || (e == 0) == (t0 + t < o->expver_split);
          for (int64_t i = 0; i < o->nlat; i++)
            for (int64_t j = 0; j < o->nlon; j++) {
              double x = own ? cell(o, sea, v, t0 + t, i, j) : NAN;
              buf[((t * nexp + e) * o->nlat + i) * o->nlon + j] =
                  isnan(x) ? (short)-32767 : (short)rint((x - offset[v]) / scale[v]);
            }
        }
      size_t start[4] = {(size_t)t0, 0, 0, 0}, count[4] = {(size_t)n, (size_t)nexp, (size_t)o->nlat,
                                                            (size_t)o->nlon};
      if (!o->expver) count[1] = (size_t)o->nlat, count[2] = (size_t)o->nlon;
      nc_check(nc_put_vara_short(nc, vid[v], start, count, buf), path, "writing %s", o->vars[v]);
    }
  free(buf);
  free(sea);
  nc_check(nc_close(nc), path, "closing the file");
}

static void write_new(const char *path, const era5_synth_opts *o) {
  int nc, dt_, dlat, dlon, vnum, vtime, vlat, vlon, vexp, vid[ERA5_SYNTH_MAX_VARS];
  nc_check(nc_create(path, NC_CLOBBER | NC_NETCDF4, &nc), path, "creating the file");
  nc_check(nc_def_dim(nc, "valid_time", (size_t)o->nt, &dt_), path, "defining valid_time");
  nc_check(nc_def_dim(nc, "latitude", (size_t)o->nlat, &dlat), path, "defining latitude");
  nc_check(nc_def_dim(nc, "longitude", (size_t)o->nlon, &dlon), path, "defining longitude");
  nc_check(nc_def_var(nc, "number", NC_INT64, 0, NULL, &vnum), path, "defining number");
  nc_check(nc_put_att_text(nc, vnum, "standard_name", 11, "realization"), path, "number standard_name");
  nc_check(nc_def_var(nc, "valid_time", NC_INT64, 1, &dt_, &vtime), path, "defining valid_time");
  const char *tu = "seconds since 1970-01-01";
  nc_check(nc_put_att_text(nc, vtime, "units", strlen(tu), tu), path, "valid_time units");
  nc_check(nc_put_att_text(nc, vtime, "standard_name", 4, "time"), path, "valid_time standard_name");
  nc_check(nc_put_att_text(nc, vtime, "calendar", 19, "proleptic_gregorian"), path, "valid_time calendar");
  double dnan = NAN;
  nc_check(nc_def_var(nc, "latitude", NC_DOUBLE, 1, &dlat, &vlat), path, "defining latitude");
  nc_check(nc_put_att_double(nc, vlat, "_FillValue", NC_DOUBLE, 1, &dnan), path, "latitude _FillValue");
  nc_check(nc_put_att_text(nc, vlat, "units", 13, "degrees_north"), path, "latitude units");
  nc_check(nc_put_att_text(nc, vlat, "standard_name", 8, "latitude"), path, "latitude standard_name");
  nc_check(nc_put_att_text(nc, vlat, "stored_direction", 10, o->dlat < 0 ? "decreasing" : "increasing"), path,
           "latitude stored_direction");
  nc_check(nc_def_var(nc, "longitude", NC_DOUBLE, 1, &dlon, &vlon), path, "defining longitude");
  nc_check(nc_put_att_double(nc, vlon, "_FillValue", NC_DOUBLE, 1, &dnan), path, "longitude _FillValue");
  nc_check(nc_put_att_text(nc, vlon, "units", 12, "degrees_east"), path, "longitude units");
  nc_check(nc_put_att_text(nc, vlon, "standard_name", 9, "longitude"), path, "longitude standard_name");
  nc_check(nc_def_var(nc, "expver", NC_STRING, 1, &dt_, &vexp), path, "defining expver");
  int64_t ct = o->chunk_t > 0 ? o->chunk_t : 12;
  if (ct > o->nt && o->nt > 0) ct = o->nt;
  size_t chunk[3] = {(size_t)ct, (size_t)o->nlat, (size_t)o->nlon};
  int dims[3] = {dt_, dlat, dlon};
  float fnan = NAN;
  for (int v = 0; v < o->nvars; v++) {
    const char *n = o->vars[v];
    nc_check(nc_def_var(nc, n, NC_FLOAT, 3, dims, &vid[v]), path, "defining %s", n);
    nc_check(nc_def_var_chunking(nc, vid[v], NC_CHUNKED, chunk), path, "chunking %s", n);
    if (o->deflate > 0)
      nc_check(nc_def_var_deflate(nc, vid[v], 1, 1, o->deflate), path, "zlib + shuffle on %s", n);
    nc_check(nc_def_var_fill(nc, vid[v], 0, &fnan), path, "%s _FillValue", n);
    long long pid = strcmp(n, "t2m") == 0 ? 167 : strcmp(n, "sp") == 0 ? 134 : 0;
    nc_check(nc_put_att_longlong(nc, vid[v], "GRIB_paramId", NC_INT64, 1, &pid), path, "%s GRIB_paramId", n);
    const char *u = strcmp(n, "t2m") == 0 ? "K" : strcmp(n, "sp") == 0 ? "Pa" : "1";
    nc_check(nc_put_att_text(nc, vid[v], "units", strlen(u), u), path, "%s units", n);
    const char *co = "number valid_time latitude longitude expver";
    nc_check(nc_put_att_text(nc, vid[v], "coordinates", strlen(co), co), path, "%s coordinates", n);
  }
  const char *conv = "CF-1.7";
  nc_check(nc_put_att_text(nc, NC_GLOBAL, "Conventions", strlen(conv), conv), path, "Conventions");
  nc_check(nc_enddef(nc), path, "leaving define mode");

  long long zero = 0;
  nc_check(nc_put_var_longlong(nc, vnum, &zero), path, "writing number");
  int64_t nmax = o->nlon > o->nlat ? o->nlon : o->nlat;
  double *dl = vp_malloc((size_t)(nmax > o->nt ? nmax : o->nt + 1) * sizeof(double));
  for (int64_t i = 0; i < o->nlat; i++) dl[i] = lat_of(o, i);
  nc_check(nc_put_var_double(nc, vlat, dl), path, "writing latitude");
  for (int64_t j = 0; j < o->nlon; j++) dl[j] = lon_of(o, j);
  nc_check(nc_put_var_double(nc, vlon, dl), path, "writing longitude");
  free(dl);
  long long *tv = vp_malloc((size_t)(o->nt + 1) * sizeof(long long));
  const char **ev = vp_malloc((size_t)(o->nt + 1) * sizeof(char *));
  for (int64_t t = 0; t < o->nt; t++) {
    tv[t] = (long long)(o->t0 + t * o->dt);
    ev[t] = o->expver && t >= o->expver_split ? "0005" : "0001";
  }
  if (o->nt > 0) {
    nc_check(nc_put_var_longlong(nc, vtime, tv), path, "writing valid_time");
    size_t st = 0, cn = (size_t)o->nt;
    nc_check(nc_put_vara_string(nc, vexp, &st, &cn, ev), path, "writing expver");
  }
  free(tv);
  free(ev);

  int64_t px = o->nlat * o->nlon, bs = ct * ((block_steps(o) + ct - 1) / ct);
  float *buf = vp_malloc((size_t)(bs * px) * sizeof(float));
  uint8_t *sea = sea_mask(o);
  for (int v = 0; v < o->nvars; v++)
    for (int64_t t0 = 0; t0 < o->nt; t0 += bs) {
      int64_t n = o->nt - t0 < bs ? o->nt - t0 : bs;
      for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < o->nlat; i++)
          for (int64_t j = 0; j < o->nlon; j++) buf[(t * o->nlat + i) * o->nlon + j] = (float)cell(o, sea, v, t0 + t, i, j);
      size_t start[3] = {(size_t)t0, 0, 0}, count[3] = {(size_t)n, (size_t)o->nlat, (size_t)o->nlon};
      nc_check(nc_put_vara_float(nc, vid[v], start, count, buf), path, "writing %s", o->vars[v]);
    }
  free(buf);
  free(sea);
  nc_check(nc_close(nc), path, "closing the file");
}

void era5_synth_write(const char *path, const era5_synth_opts *o, double *scale, double *offset) {
  if (o->nvars < 1 || o->nvars > ERA5_SYNTH_MAX_VARS) vp_die("era5_synth: %d variables (1..4)", o->nvars);
  if (o->nt < 1 || o->nlat < 1 || o->nlon < 1) vp_die("era5_synth: bad shape for %s", path);
  if (o->layout == ERA5_SYNTH_LEGACY)
    write_legacy(path, o, scale, offset);
  else
    write_new(path, o);
}
