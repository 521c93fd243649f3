// era5_file.c: metadata and hyperslab reads of one gridded NetCDF file (see era5_file.h).
#include "io/era5_file.h"

#include <ctype.h>
#include <math.h>
#include <netcdf_filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/check.h"
#include "core/options.h"
#include "io/era5_nc3.h"
#include "io/netcdf_check.h"

// ---- time ----

int e5_parse_calendar(const char *s) {
  if (!s || !*s || !strcasecmp(s, "standard") || !strcasecmp(s, "gregorian") ||
      !strcasecmp(s, "proleptic_gregorian"))
    return E5_CAL_STANDARD;
  if (!strcasecmp(s, "noleap") || !strcasecmp(s, "365_day")) return E5_CAL_NOLEAP;
  if (!strcasecmp(s, "all_leap") || !strcasecmp(s, "366_day")) return E5_CAL_ALL_LEAP;
  if (!strcasecmp(s, "360_day")) return E5_CAL_360_DAY;
  if (!strcasecmp(s, "julian")) return E5_CAL_JULIAN;
  return -1;
}

// Days from the calendar's 1970-01-01 to y-m-d. For the standard calendar this
// is the Unix day number (proleptic Gregorian: CF's "standard" differs only
// before 1582-10-15, which no reanalysis file uses).
static double days_on(e5_calendar cal, int64_t y, int64_t m, int64_t d) {
  static const int cum[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  static const int cumleap[12] = {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335};
  switch (cal) {
    case E5_CAL_NOLEAP: return (double)((y - 1970) * 365 + cum[m - 1] + d - 1);
    case E5_CAL_ALL_LEAP: return (double)((y - 1970) * 366 + cumleap[m - 1] + d - 1);
    case E5_CAL_360_DAY: return (double)((y - 1970) * 360 + (m - 1) * 30 + d - 1);
    default: break;
  }
  // Julian day numbers (valid for years after -4800).
  int64_t a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
  int64_t jdn = d + (153 * mm + 2) / 5 + 365 * yy + yy / 4;
  jdn += cal == E5_CAL_JULIAN ? -32083 : -yy / 100 + yy / 400 - 32045;
  return (double)(jdn - 2440588);
}

int e5_parse_time_units(const char *units, e5_calendar cal, double *unit_s, double *origin_s) {
  char word[32];
  int used = 0;
  if (sscanf(units, " %31s%n", word, &used) != 1) return -1;
  for (char *p = word; *p; p++) *p = (char)tolower((unsigned char)*p);
  double u;
  if (!strcmp(word, "seconds") || !strcmp(word, "second") || !strcmp(word, "secs") || !strcmp(word, "sec") ||
      !strcmp(word, "s"))
    u = 1;
  else if (!strcmp(word, "minutes") || !strcmp(word, "minute") || !strcmp(word, "mins") || !strcmp(word, "min"))
    u = 60;
  else if (!strcmp(word, "hours") || !strcmp(word, "hour") || !strcmp(word, "hrs") || !strcmp(word, "hr") ||
           !strcmp(word, "h"))
    u = 3600;
  else if (!strcmp(word, "days") || !strcmp(word, "day") || !strcmp(word, "d"))
    u = 86400;
  else
    return -1;
  const char *p = units + used;
  char since[16];
  int used2 = 0;
  if (sscanf(p, " %15s%n", since, &used2) != 1 || strcasecmp(since, "since") != 0) return -1;
  p += used2;
  int y, mo, d, used3 = 0;
  if (sscanf(p, " %d-%d-%d%n", &y, &mo, &d, &used3) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31) return -1;
  p += used3;
  double secs = 0;
  int hh = 0, mi = 0, used4 = 0;
  double ss = 0;
  while (*p == ' ' || *p == 'T') p++;
  if (sscanf(p, "%d:%d%n", &hh, &mi, &used4) == 2) {
    p += used4;
    if (*p == ':') {
      int used5 = 0;
      if (sscanf(p + 1, "%lf%n", &ss, &used5) != 1) return -1;
      p += 1 + used5;
    }
    secs = hh * 3600.0 + mi * 60.0 + ss;
  }
  while (*p == ' ') p++;
  // Time zone: Z, UTC, or +hh[:mm] / -hh[:mm].
  if (*p == 'Z' || !strncasecmp(p, "UTC", 3)) {
    p += *p == 'Z' ? 1 : 3;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, th = 0, tm = 0, used6 = 0;
    if (sscanf(p + 1, "%d%n", &th, &used6) != 1) return -1;
    p += 1 + used6;
    if (*p == ':' && sscanf(p + 1, "%d%n", &tm, &used6) == 1) p += 1 + used6;
    secs -= sign * (th * 3600.0 + tm * 60.0);
  }
  while (*p == ' ') p++;
  if (*p) return -1;
  *unit_s = u;
  *origin_s = days_on(cal, y, mo, d) * 86400.0 + secs;
  return 0;
}

const char *e5_file_time_str(const e5_file *f, int64_t i, char *buf, size_t n) {
  snprintf(buf, n, "%.17g %s", f->traw[i], f->time_units);
  return buf;
}

// ---- attributes ----

// Text attribute into buf ("" when absent). Dies on a libnetcdf failure.
static void att_text(const e5_file *f, int varid, const char *vname, const char *att, char *buf, size_t n) {
  nc_type t;
  size_t len;
  buf[0] = 0;
  int st = nc_inq_att(f->ncid, varid, att, &t, &len);
  if (st == NC_ENOTATT) return;
  nc_check(st, f->path, "variable %s: attribute %s", vname, att);
  if (t != NC_CHAR || len + 1 > n) return;
  nc_check(nc_get_att_text(f->ncid, varid, att, buf), f->path, "variable %s: reading attribute %s", vname, att);
  buf[len] = 0;
}

// Numeric attribute values (up to max) as double; returns how many (0: absent).
static int att_num(const e5_file *f, int varid, const char *vname, const char *att, double *out, int max) {
  nc_type t;
  size_t len;
  int st = nc_inq_att(f->ncid, varid, att, &t, &len);
  if (st == NC_ENOTATT) return 0;
  nc_check(st, f->path, "variable %s: attribute %s", vname, att);
  if (t == NC_CHAR || t == NC_STRING) {
    vp_warn("%s: variable %s: attribute %s is text, not a number; ignored", f->path, vname, att);
    return 0;
  }
  if (len == 0) return 0;
  double *all = vp_malloc(len * sizeof(double));
  // Every numeric attribute converts to double exactly enough for a sentinel;
  // NC_ERANGE cannot happen for double.
  nc_check(nc_get_att_double(f->ncid, varid, att, all), f->path, "variable %s: reading attribute %s", vname, att);
  int k = (int)(len < (size_t)max ? len : (size_t)max);
  memcpy(out, all, (size_t)k * sizeof(double));
  free(all);
  return k;
}

static int type_bits(nc_type t) {
  switch (t) {
    case NC_BYTE: case NC_UBYTE: return 8;
    case NC_SHORT: case NC_USHORT: return 16;
    case NC_INT: case NC_UINT: case NC_FLOAT: return 32;
    case NC_INT64: case NC_UINT64: case NC_DOUBLE: return 64;
    default: return 0;
  }
}

static const char *type_name(nc_type t) {
  switch (t) {
    case NC_BYTE: return "byte";
    case NC_UBYTE: return "ubyte";
    case NC_CHAR: return "char";
    case NC_SHORT: return "short";
    case NC_USHORT: return "ushort";
    case NC_INT: return "int";
    case NC_UINT: return "uint";
    case NC_INT64: return "int64";
    case NC_UINT64: return "uint64";
    case NC_FLOAT: return "float";
    case NC_DOUBLE: return "double";
    case NC_STRING: return "string";
    default: return "user-defined";
  }
}

// ---- coordinates ----

static void dim_name(const e5_file *f, int dimid, char *buf) {
  nc_check(nc_inq_dimname(f->ncid, dimid, buf), f->path, "dimension %d: name", dimid);
}

// The coordinate variable of a dimension (same name, 1-D on it), or -1.
static int coord_var(const e5_file *f, int dimid) {
  char name[NC_MAX_NAME + 1];
  dim_name(f, dimid, name);
  int varid, nd, dims[NC_MAX_VAR_DIMS];
  int st = nc_inq_varid(f->ncid, name, &varid);
  if (st == NC_ENOTVAR) return -1;
  nc_check(st, f->path, "coordinate variable %s", name);
  nc_check(nc_inq_varndims(f->ncid, varid, &nd), f->path, "coordinate variable %s", name);
  if (nd != 1) return -1;
  nc_check(nc_inq_vardimid(f->ncid, varid, dims), f->path, "coordinate variable %s", name);
  return dims[0] == dimid ? varid : -1;
}

// Reads a 1-D coordinate variable (numeric) of n values as double.
static double *read_coord(const e5_file *f, int varid, const char *what, size_t n) {
  nc_type t;
  nc_check(nc_inq_vartype(f->ncid, varid, &t), f->path, "%s coordinate type", what);
  if (type_bits(t) == 0) vp_die("%s: the %s coordinate has type %s, not a number", f->path, what, type_name(t));
  double *v = vp_malloc((n ? n : 1) * sizeof(double));
  if (n) nc_check(nc_get_var_double(f->ncid, varid, v), f->path, "reading the %s coordinate", what);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) vp_die("%s: the %s coordinate has a missing (non-finite) value at index %zu", f->path, what, i);
  return v;
}

static int is_axis(const e5_file *f, int dimid, int varid, const char *north_east) {
  char units[256], name[NC_MAX_NAME + 1], stdname[256];
  dim_name(f, dimid, name);
  att_text(f, varid, name, "units", units, sizeof units);
  att_text(f, varid, name, "standard_name", stdname, sizeof stdname);
  int lat = strcmp(north_east, "north") == 0;
  if (strstr(units, north_east) || (units[0] == 'd' && strstr(units, lat ? "_N" : "_E"))) return 1;
  if (!strcmp(stdname, lat ? "latitude" : "longitude")) return 1;
  return !strcasecmp(name, lat ? "latitude" : "longitude") || !strcasecmp(name, lat ? "lat" : "lon");
}

// Sets up the time axis from dimension dimid (the first of every variable).
static void setup_time(e5_file *f, int dimid, const char *vname) {
  size_t n;
  nc_check(nc_inq_dim(f->ncid, dimid, f->time_name, &n), f->path, "time dimension of %s", vname);
  int tv = coord_var(f, dimid);
  if (tv < 0)
    vp_die("%s: variable %s: its first dimension '%s' has no coordinate variable, so its time steps cannot be "
           "ordered; expected e.g. 'int time(time)' with units \"hours since 1900-01-01\"",
           f->path, vname, f->time_name);
  char cal[64];
  att_text(f, tv, f->time_name, "units", f->time_units, sizeof f->time_units);
  att_text(f, tv, f->time_name, "calendar", cal, sizeof cal);
  int c = e5_parse_calendar(cal);
  if (c < 0)
    vp_die("%s: time coordinate '%s' has calendar \"%s\"; known calendars: standard, gregorian, "
           "proleptic_gregorian, noleap, 365_day, all_leap, 366_day, 360_day, julian",
           f->path, f->time_name, cal);
  f->cal = (e5_calendar)c;
  double unit_s, origin_s;
  if (e5_parse_time_units(f->time_units, f->cal, &unit_s, &origin_s) != 0)
    vp_die("%s: time coordinate '%s' has units \"%s\"; expected \"<seconds|minutes|hours|days> since "
           "YYYY-MM-DD[ hh:mm:ss]\"",
           f->path, f->time_name, f->time_units);
  f->nt = (int64_t)n;
  if (f->nt == 0) vp_die("%s: time dimension '%s' is empty: the file holds no time steps", f->path, f->time_name);
  f->traw = read_coord(f, tv, f->time_name, n);
  f->t = vp_malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) f->t[i] = origin_s + f->traw[i] * unit_s;
  for (size_t i = 1; i < n; i++)
    if (!(f->t[i] > f->t[i - 1]))
      vp_die("%s: time coordinate '%s' does not increase at index %zu (%.17g then %.17g %s); files must hold "
             "time steps in increasing order without repeats",
             f->path, f->time_name, i, f->traw[i - 1], f->traw[i], f->time_units);
}

static void setup_grid(e5_file *f, int latdim, int londim, const char *vname, int lon360) {
  int lv = coord_var(f, latdim), ov = coord_var(f, londim);
  char ln[NC_MAX_NAME + 1], on[NC_MAX_NAME + 1];
  dim_name(f, latdim, ln);
  dim_name(f, londim, on);
  if (lv < 0 || !is_axis(f, latdim, lv, "north"))
    vp_die("%s: variable %s: dimension '%s' (second to last) is not a latitude: expected a coordinate variable "
           "'%s' with units degrees_north; variables must be (time, latitude, longitude)",
           f->path, vname, ln, ln);
  if (ov < 0 || !is_axis(f, londim, ov, "east"))
    vp_die("%s: variable %s: dimension '%s' (last) is not a longitude: expected a coordinate variable '%s' "
           "with units degrees_east; variables must be (time, latitude, longitude)",
           f->path, vname, on, on);
  size_t nla, nlo;
  nc_check(nc_inq_dimlen(f->ncid, latdim, &nla), f->path, "dimension %s", ln);
  nc_check(nc_inq_dimlen(f->ncid, londim, &nlo), f->path, "dimension %s", on);
  if (nla == 0 || nlo == 0) vp_die("%s: the grid of %s is empty (%zu x %zu)", f->path, vname, nla, nlo);
  f->nlat = (int64_t)nla;
  f->nlon = (int64_t)nlo;
  double *lat = read_coord(f, lv, "latitude", nla), *lon = read_coord(f, ov, "longitude", nlo);
  // Latitude: strictly monotonic; stored north to south.
  int inc = nla > 1 && lat[1] > lat[0];
  for (size_t i = 1; i < nla; i++)
    if (inc ? !(lat[i] > lat[i - 1]) : !(lat[i] < lat[i - 1]))
      vp_die("%s: latitude '%s' is not strictly monotonic at index %zu (%g then %g)", f->path, ln, i, lat[i - 1],
             lat[i]);
  f->lat_flip = inc;
  f->lat = vp_malloc(nla * sizeof(double));
  for (size_t i = 0; i < nla; i++) f->lat[i] = inc ? lat[nla - 1 - i] : lat[i];
  // Longitude: wrapped into the chosen range, then it must increase along a
  // cyclic rotation of the file's columns (one descent, where it wraps).
  double base = lon360 ? 0.0 : -180.0;
  for (size_t j = 0; j < nlo; j++) {
    double x = fmod(lon[j] - base, 360.0);
    if (x < 0) x += 360.0;
    lon[j] = x + base;
  }
  int64_t descents = 0, rot = 0;
  if (nlo > 1)
    for (size_t j = 0; j < nlo; j++)
      if (!(lon[(j + 1) % nlo] > lon[j])) descents++, rot = (int64_t)((j + 1) % nlo);
  if (nlo > 1 && descents != 1)
    vp_die("%s: longitude '%s' does not increase monotonically (after wrapping into [%g, %g)): it must increase "
           "west to east, possibly wrapping once, without repeated values (e.g. both -180 and 180)",
           f->path, on, base, base + 360);
  f->lon_rot = rot;
  f->lon = vp_malloc(nlo * sizeof(double));
  for (size_t j = 0; j < nlo; j++) f->lon[j] = lon[((size_t)rot + j) % nlo];
  free(lat);
  free(lon);
}

// ---- variables ----

// Whether variable varid is a candidate field: numeric, 3-D (or 4-D with an
// expver dimension second), not a coordinate variable.
static int is_field(const e5_file *f, int varid) {
  int nd, dims[NC_MAX_VAR_DIMS];
  nc_type t;
  char name[NC_MAX_NAME + 1], d1[NC_MAX_NAME + 1];
  nc_check(nc_inq_var(f->ncid, varid, name, &t, &nd, dims, NULL), f->path, "variable %d", varid);
  if (type_bits(t) == 0 || (nd != 3 && nd != 4)) return 0;
  if (nd == 4) {
    dim_name(f, dims[1], d1);
    if (strcmp(d1, "expver") != 0) return 0;
  }
  return coord_var(f, dims[0]) != varid;
}

// Names of the candidate fields, comma separated, for messages.
static void field_list(const e5_file *f, char *buf, size_t n, const char **cands, int *ncand, char (*store)[NC_MAX_NAME + 1]) {
  int nv;
  nc_check(nc_inq_nvars(f->ncid, &nv), f->path, "counting variables");
  buf[0] = 0;
  *ncand = 0;
  for (int v = 0; v < nv; v++) {
    if (!is_field(f, v)) continue;
    char name[NC_MAX_NAME + 1];
    nc_check(nc_inq_varname(f->ncid, v, name), f->path, "variable %d name", v);
    if (*ncand < 64) {
      snprintf(store[*ncand], NC_MAX_NAME + 1, "%s", name);
      cands[*ncand] = store[*ncand];
      (*ncand)++;
    }
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", l ? ", " : "", name);
  }
  if (!buf[0]) snprintf(buf, n, "none");
}

static void setup_var(e5_file *f, e5_var *v, int varid, const char *name, int *dims_out, int *nd_out) {
  char buf[64];
  snprintf(v->name, sizeof v->name, "%s", name);
  v->varid = varid;
  int nd, dims[NC_MAX_VAR_DIMS];
  nc_check(nc_inq_var(f->ncid, varid, NULL, &v->type, &nd, dims, NULL), f->path, "variable %s", name);
  if (type_bits(v->type) == 0)
    vp_die("%s: variable %s has type %s; a field must be numeric", f->path, name, type_name(v->type));
  char dn[4][NC_MAX_NAME + 1];
  for (int k = 0; k < nd && k < 4; k++) dim_name(f, dims[k], dn[k]);
  if (nd == 4 && strcmp(dn[1], "expver") != 0)
    vp_die("%s: variable %s has 4 dimensions (%s, %s, %s, %s); only (time, latitude, longitude) and ERA5's "
           "(time, expver, latitude, longitude) can be read: select one level first (e.g. `cdo sellevel`)",
           f->path, name, dn[0], dn[1], dn[2], dn[3]);
  if (nd != 3 && nd != 4)
    vp_die("%s: variable %s has %d dimensions; expected (time, latitude, longitude)", f->path, name, nd);
  v->ndims = nd;
  v->nexp = 1;
  v->exp_order[0] = 0;
  if (nd == 4) {
    size_t ne;
    nc_check(nc_inq_dimlen(f->ncid, dims[1], &ne), f->path, "dimension expver of %s", name);
    if (ne < 1 || ne > E5_MAX_EXPVER)
      vp_die("%s: variable %s: the expver dimension has %zu entries (1..%d supported)", f->path, name, ne,
             E5_MAX_EXPVER);
    v->nexp = (int)ne;
    double ev[E5_MAX_EXPVER];
    for (int e = 0; e < v->nexp; e++) v->exp_order[e] = e, ev[e] = e;
    int cv = coord_var(f, dims[1]);
    if (cv >= 0) {
      nc_type ct;
      nc_check(nc_inq_vartype(f->ncid, cv, &ct), f->path, "variable expver");
      if (type_bits(ct)) nc_check(nc_get_var_double(f->ncid, cv, ev), f->path, "reading variable expver");
    }
    // Insertion sort by expver value: final data (1) wins over ERA5T (5).
    for (int a = 1; a < v->nexp; a++)
      for (int b = a; b > 0 && ev[v->exp_order[b]] < ev[v->exp_order[b - 1]]; b--) {
        int tmp = v->exp_order[b];
        v->exp_order[b] = v->exp_order[b - 1];
        v->exp_order[b - 1] = tmp;
      }
  }
  // Packing, sentinels and signedness.
  att_text(f, varid, name, "_Unsigned", buf, sizeof buf);
  int sint = v->type == NC_BYTE || v->type == NC_SHORT || v->type == NC_INT || v->type == NC_INT64;
  v->is_unsigned = sint && !strcasecmp(buf, "true");
  int has_s = att_num(f, varid, name, "scale_factor", &v->scale, 1);
  int has_o = att_num(f, varid, name, "add_offset", &v->offset, 1);
  if (!has_s) v->scale = 1.0;
  if (!has_o) v->offset = 0.0;
  v->packed = has_s || has_o;
  if (v->packed && !(isfinite(v->scale) && isfinite(v->offset) && v->scale != 0))
    vp_die("%s: variable %s has scale_factor = %g, add_offset = %g: packing must be finite with a non-zero scale",
           f->path, name, v->scale, v->offset);
  double s[4];
  int nf = att_num(f, varid, name, "_FillValue", s, 1);
  int nm = att_num(f, varid, name, "missing_value", s + nf, 4 - nf);
  int floating = v->type == NC_FLOAT || v->type == NC_DOUBLE;
  if (nf == 0 && floating) s[nm++] = v->type == NC_FLOAT ? (double)NC_FILL_FLOAT : NC_FILL_DOUBLE;
  v->nsent = 0;
  int bits = type_bits(v->type);
  for (int k = 0; k < nf + nm; k++) {
    double x = s[k];
    if (isnan(x)) continue;  // NaN is missing for floats anyway; an integer never equals it
    // A sentinel on an _Unsigned variable is written in the signed type (-1s = 65535).
    if (v->is_unsigned && x < 0) x += ldexp(1.0, bits);
    if (v->type == NC_FLOAT) x = (double)(float)x;
    v->sent[v->nsent++] = x;
  }
  v->can_miss = floating || v->nsent > 0;
  for (int k = 0; k < nd; k++) dims_out[k] = dims[k];
  *nd_out = nd;
}

static const char *filter_name(unsigned id) {
  switch (id) {
    case 1: return "deflate";
    case 2: return "shuffle";
    case 3: return "fletcher32";
    case 4: return "szip";
    case 32000: return "LZF";
    case 32001: return "blosc";
    case 32004: return "LZ4";
    case 32008: return "bitshuffle";
    case 32015: return "zstd";
    default: return "unknown";
  }
}

// Every HDF5 filter of the variables must be available here; say which is
// missing at open rather than fail on the first read.
static void check_filters(const e5_file *f) {
  for (int k = 0; k < f->nvar; k++) {
    size_t n = 0;
    unsigned ids[16];
    nc_check(nc_inq_var_filter_ids(f->ncid, f->var[k].varid, &n, NULL), f->path, "variable %s: its filters",
             f->var[k].name);
    if (n > 16) n = 16;
    if (n) nc_check(nc_inq_var_filter_ids(f->ncid, f->var[k].varid, &n, ids), f->path, "variable %s: its filters",
                    f->var[k].name);
    for (size_t q = 0; q < n; q++) {
      int st = nc_inq_filter_avail(f->ncid, ids[q]);
      if (st == NC_ENOFILTER)
        vp_die("%s: variable %s is compressed with HDF5 filter %u (%s), which this libnetcdf/HDF5 cannot decode; "
               "install the filter's plugin and set HDF5_PLUGIN_PATH, or rewrite the file with zlib "
               "(nccopy -d1 in.nc out.nc) where the filter is available",
               f->path, f->var[k].name, ids[q], filter_name(ids[q]));
      nc_check(st, f->path, "variable %s: checking HDF5 filter %u", f->var[k].name, ids[q]);
    }
  }
}

void e5_file_open(e5_file *f, const char *path, char names[][E5_NAME], int *n, int lon360, size_t chunk_cache) {
  memset(f, 0, sizeof *f);
  f->path = vp_strdup(path);
  FILE *probe = fopen(path, "rb");
  if (!probe) vp_die("%s: cannot open: %s; check data.path", path, strerror(errno));
  fclose(probe);
  nc_check(nc_open(path, NC_NOWRITE, &f->ncid), path, "opening as NetCDF");
  int fmt;
  nc_check(nc_inq_format(f->ncid, &fmt), path, "reading the format");
  f->format = fmt == NC_FORMAT_CLASSIC ? "NetCDF3 classic"
              : fmt == NC_FORMAT_64BIT_OFFSET ? "NetCDF3 64-bit offset"
              : fmt == NC_FORMAT_CDF5 ? "NetCDF3 CDF5"
              : fmt == NC_FORMAT_NETCDF4_CLASSIC ? "NetCDF4 classic model"
              : "NetCDF4";
  if (fmt == NC_FORMAT_CLASSIC || fmt == NC_FORMAT_64BIT_OFFSET || fmt == NC_FORMAT_CDF5) e5_nc3_check_size(path);
  // Which variables.
  char list[2048] = "", store[64][NC_MAX_NAME + 1];
  const char *cands[64];
  int ncand;
  if (*n == 0) {
    field_list(f, list, sizeof list, cands, &ncand, store);
    if (ncand == 0)
      vp_die("%s: no gridded variable (time, latitude, longitude) in this file", path);
    for (int k = 0; k < ncand; k++) {
      if (strlen(cands[k]) >= E5_NAME)
        vp_die("%s: variable name '%s' is longer than %d characters; list the variables to read in "
               "data.modalities", path, cands[k], E5_NAME - 1);
    }
  }
  int want = *n, take_all = want == 0, ref_dims[3] = {0};
  int nsel = take_all ? ncand : want;
  for (int k = 0, kept = 0; k < nsel; k++) {
    const char *name = take_all ? cands[k] : names[k];
    int varid;
    int st = nc_inq_varid(f->ncid, name, &varid);
    if (st == NC_ENOTVAR) {
      field_list(f, list, sizeof list, cands, &ncand, store);
      const char *s = suggest(name, cands, ncand);
      vp_die("%s: no variable '%s' (gridded variables in this file: %s)%s%s%s", path, name, list,
             s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
    }
    nc_check(st, path, "looking up variable %s", name);
    int dims[4], nd;
    e5_var tmp;
    memset(&tmp, 0, sizeof tmp);
    setup_var(f, &tmp, varid, name, dims, &nd);
    // Compare (time, lat, lon) dimensions with the first variable's.
    int td = dims[0], yd = dims[nd - 2], xd = dims[nd - 1];
    if (kept == 0) {
      ref_dims[0] = td, ref_dims[1] = yd, ref_dims[2] = xd;
    } else if (td != ref_dims[0] || yd != ref_dims[1] || xd != ref_dims[2]) {
      if (take_all) continue;  // a field on another grid: not part of "all"
      vp_die("%s: variables %s and %s lie on different dimensions (time, latitude, longitude); read them from "
             "separate configs",
             path, f->var[0].name, name);
    }
    if (kept >= VP_MAX_MOD)
      vp_die("%s: more than %d gridded variables; list the ones to read in data.modalities (variables here: %s)",
             path, VP_MAX_MOD, list);
    f->var[kept++] = tmp;
    f->nvar = kept;
  }
  if (take_all) {
    for (int k = 0; k < f->nvar; k++) snprintf(names[k], E5_NAME, "%s", f->var[k].name);
    *n = f->nvar;
  }
  setup_time(f, ref_dims[0], f->var[0].name);
  setup_grid(f, ref_dims[1], ref_dims[2], f->var[0].name, lon360);
  int packed_short = 0;
  for (int k = 0; k < f->nvar; k++) packed_short |= f->var[k].packed && f->var[k].type == NC_SHORT;
  int nc3 = fmt == NC_FORMAT_CLASSIC || fmt == NC_FORMAT_64BIT_OFFSET || fmt == NC_FORMAT_CDF5;
  f->layout = !strcmp(f->time_name, "valid_time") ? "new CDS"
              : !strcmp(f->time_name, "time") && nc3 && packed_short ? "legacy CDS"
              : "CF";
  if (!nc3) check_filters(f);
  if (!nc3 && chunk_cache > 0)
    for (int k = 0; k < f->nvar; k++)
      nc_check(nc_set_var_chunk_cache(f->ncid, f->var[k].varid, chunk_cache, 1009, 0.75f), path,
               "setting the chunk cache of %s", f->var[k].name);
}

void e5_file_close(e5_file *f) {
  if (f->path) nc_check(nc_close(f->ncid), f->path, "closing the file");
  free(f->path);
  free(f->traw);
  free(f->t);
  free(f->lat);
  free(f->lon);
  free(f->raw);
  free(f->conv);
  memset(f, 0, sizeof *f);
}

// ---- reads ----

// Sentinel sv as the bits of an integer type: ok = 0 when no value of the
// type equals it (then it can never match).
static unsigned long long sent_bits(double sv, int *ok) {
  *ok = 0;
  if (isnan(sv) || sv != floor(sv) || sv < -9.2233720368547758e18 || sv >= 1.8446744073709552e19) return 0;
  *ok = 1;
  return sv < 0 ? (unsigned long long)(long long)sv : (unsigned long long)sv;
}

// raw[0..n) of type v->type -> physical float, NaN where missing.
static void convert(const e5_var *v, const void *raw, size_t n, float *out) {
  // Unpacked data has scale 1 and offset 0, which x * s + o keeps exactly.
  // The loops are branch-free, with the missing test done on integers or
  // on float bit patterns and the NaN blended in with a mask, so that GCC
  // vectorises them without -fno-trapping-math (legacy ERA5: short with one
  // sentinel given twice; new: float with NaN).
  const double s = v->scale, o = v->offset;
  const double s0 = v->nsent > 0 ? v->sent[0] : NAN, s1 = v->nsent > 1 ? v->sent[1] : NAN;
  const uint32_t qnan = 0x7fc00000u;
  float *restrict ob = out;
#define E5_BLEND(k, y, miss)              \
  do {                                    \
    float y_ = (y);                       \
    uint32_t yb_, m_ = -(uint32_t)(miss); \
    memcpy(&yb_, &y_, 4);                 \
    yb_ = (yb_ & ~m_) | (qnan & m_);      \
    memcpy(ob + (k), &yb_, 4);            \
  } while (0)
#define E5_CONVERT_INT(CT)                                                          \
  do {                                                                              \
    int ha, hb;                                                                     \
    CT a = (CT)sent_bits(s0, &ha), b = (CT)sent_bits(s1, &hb);                      \
    ha = ha && (double)a == s0;                                                     \
    hb = hb && (double)b == s1;                                                     \
    const CT *restrict r = (const CT *)raw;                                         \
    for (size_t k = 0; k < n; k++) {                                                \
      CT q = r[k];                                                                  \
      E5_BLEND(k, (float)((double)q * s + o), (ha & (q == a)) | (hb & (q == b)));   \
    }                                                                               \
  } while (0)
  int u = v->is_unsigned;
  switch (v->type) {
    case NC_BYTE: if (u) E5_CONVERT_INT(unsigned char); else E5_CONVERT_INT(signed char); break;
    case NC_UBYTE: E5_CONVERT_INT(unsigned char); break;
    case NC_SHORT: if (u) E5_CONVERT_INT(unsigned short); else E5_CONVERT_INT(short); break;
    case NC_USHORT: E5_CONVERT_INT(unsigned short); break;
    case NC_INT: if (u) E5_CONVERT_INT(unsigned int); else E5_CONVERT_INT(int); break;
    case NC_UINT: E5_CONVERT_INT(unsigned int); break;
    case NC_INT64: if (u) E5_CONVERT_INT(unsigned long long); else E5_CONVERT_INT(long long); break;
    case NC_UINT64: E5_CONVERT_INT(unsigned long long); break;
    case NC_FLOAT: {
      float f0 = (float)s0, f1 = (float)s1;
      uint32_t a, b;
      memcpy(&a, &f0, 4);
      memcpy(&b, &f1, 4);
      int ha = !isnan(s0), hb = !isnan(s1);
      const uint32_t *restrict r = (const uint32_t *)raw;
      for (size_t k = 0; k < n; k++) {
        uint32_t q = r[k];
        float x;
        memcpy(&x, &q, 4);
        int nan = (q & 0x7fffffffu) > 0x7f800000u;
        E5_BLEND(k, (float)((double)x * s + o), nan | (ha & (q == a)) | (hb & (q == b)));
      }
      break;
    }
    case NC_DOUBLE: {
      uint64_t a, b;
      memcpy(&a, &s0, 8);
      memcpy(&b, &s1, 8);
      int ha = !isnan(s0), hb = !isnan(s1);
      const uint64_t *restrict r = (const uint64_t *)raw;
      for (size_t k = 0; k < n; k++) {
        uint64_t q = r[k];
        double x;
        memcpy(&x, &q, 8);
        int nan = (q & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
        E5_BLEND(k, (float)(x * s + o), nan | (ha & (q == a)) | (hb & (q == b)));
      }
      break;
    }
    default: VP_ASSERT(0);
  }
#undef E5_CONVERT_INT
#undef E5_BLEND
  // More than two sentinels (a missing_value list): a second, rarer pass.
  if (v->nsent > 2) {
    size_t ts = (size_t)type_bits(v->type) / 8;
    for (size_t k = 0; k < n; k++) {
      if (isnan(out[k])) continue;
      const unsigned char *p = (const unsigned char *)raw + k * ts;
      double x;
      switch (v->type) {
        case NC_BYTE: x = u ? (double)*(const unsigned char *)p : (double)*(const signed char *)p; break;
        case NC_UBYTE: x = *(const unsigned char *)p; break;
        case NC_SHORT: x = u ? (double)*(const unsigned short *)p : (double)*(const short *)p; break;
        case NC_USHORT: x = *(const unsigned short *)p; break;
        case NC_INT: x = u ? (double)*(const unsigned int *)p : (double)*(const int *)p; break;
        case NC_UINT: x = *(const unsigned int *)p; break;
        case NC_INT64: x = u ? (double)*(const unsigned long long *)p : (double)*(const long long *)p; break;
        case NC_UINT64: x = (double)*(const unsigned long long *)p; break;
        case NC_FLOAT: x = *(const float *)p; break;
        default: x = *(const double *)p; break;
      }
      for (int q = 2; q < v->nsent; q++)
        if (x == v->sent[q]) out[k] = NAN;
    }
  }
}

void e5_file_read(e5_file *f, int vi, int64_t t0, int64_t nt, int64_t r0, int64_t h, int64_t c0, int64_t w,
                  float *out) {
  const e5_var *v = &f->var[vi];
  VP_ASSERT(t0 >= 0 && nt > 0 && t0 + nt <= f->nt && r0 >= 0 && h > 0 && r0 + h <= f->nlat && c0 >= 0 && w > 0 &&
            c0 + w <= f->nlon);
  int64_t fr0 = f->lat_flip ? f->nlat - (r0 + h) : r0;
  // Normalised columns [c0, c0 + w) are at most two runs of file columns.
  int64_t s = (f->lon_rot + c0) % f->nlon, n1 = f->nlon - s < w ? f->nlon - s : w;
  int64_t run_col[2] = {s, 0}, run_w[2] = {n1, w - n1}, run_off[2] = {0, n1};
  int nruns = n1 < w ? 2 : 1;
  size_t tsize = (size_t)type_bits(v->type) / 8;
  int64_t nexp = v->nexp;
  for (int r = 0; r < nruns; r++) {
    int64_t wr = run_w[r];
    size_t cnt = (size_t)(nt * nexp * h * wr);
    if (cnt * tsize > f->raw_cap) {
      f->raw_cap = cnt * tsize;
      f->raw = vp_realloc(f->raw, f->raw_cap);
    }
    if (cnt > f->conv_cap) {
      f->conv_cap = cnt;
      f->conv = vp_realloc(f->conv, cnt * sizeof(float));
    }
    size_t start[4], count[4];
    int k = 0;
    start[k] = (size_t)t0, count[k++] = (size_t)nt;
    if (v->ndims == 4) start[k] = 0, count[k++] = (size_t)nexp;
    start[k] = (size_t)fr0, count[k++] = (size_t)h;
    start[k] = (size_t)run_col[r], count[k++] = (size_t)wr;
    nc_check(nc_get_vara(f->ncid, v->varid, start, count, f->raw), f->path,
             "variable %s: reading time steps [%lld, %lld), rows [%lld, %lld), columns [%lld, %lld)", v->name,
             (long long)t0, (long long)(t0 + nt), (long long)fr0, (long long)(fr0 + h), (long long)run_col[r],
             (long long)(run_col[r] + wr));
    convert(v, f->raw, cnt, f->conv);
    for (int64_t t = 0; t < nt; t++)
      for (int64_t i = 0; i < h; i++) {
        int64_t orow = f->lat_flip ? h - 1 - i : i;
        float *dst = out + (t * h + orow) * w + run_off[r];
        if (nexp == 1) {
          memcpy(dst, f->conv + (t * h + i) * wr, (size_t)wr * sizeof(float));
          continue;
        }
        // expver: each cell takes the first slice (in merge order) that holds a value.
        for (int64_t j = 0; j < wr; j++) {
          float x = NAN;
          for (int64_t e = 0; e < nexp && isnan(x); e++) x = f->conv[((t * nexp + v->exp_order[e]) * h + i) * wr + j];
          dst[j] = x;
        }
      }
  }
}
