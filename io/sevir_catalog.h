// sevir_catalog.h: the SEVIR CATALOG.csv as typed records.
// One row per (event, image type): where the event's frames are (file_name,
// file_index), when (time_utc, minute_offsets), where on Earth (corner
// lat/lon, proj), the Storm Events link (episode_id, event_id, event_type)
// and data statistics (data_min, data_max, pct_missing). The 21 columns are
// found by name in the header row (the order is not assumed; unknown extra
// columns, such as a pandas index, are ignored; a missing column is an error).
//
// Missing values: an empty field, "nan" or "NA" (any case) is NaN for the
// float columns, -1 for the integer ones and no offsets for minute_offsets
// (the lght rows have minute_offsets NaN). id, file_name, img_type and
// time_utc are required in every row.
//
// Times are int64 seconds since 1970-01-01 00:00:00 UTC (the catalog's
// "YYYY-MM-DD HH:MM:SS"; see sevir_parse_time for what else is accepted).
#ifndef VP_IO_SEVIR_CATALOG_H
#define VP_IO_SEVIR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define SEVIR_NCOLS 21
// The header names, in the order the public CATALOG.csv has them.
extern const char *const sevir_columns[SEVIR_NCOLS];

typedef struct sevir_row {
  const char *id;            // "S728503" (NWS storm event) or "R18032414177862" (random event)
  const char *file_name;     // relative to the data folder: vil/2019/SEVIR_VIL_STORMEVENTS_2019_0101_0630.h5
  int64_t file_index;        // row of the event along the file's N axis (-1: missing)
  const char *img_type;      // vis, ir069, ir107, vil, lght
  int64_t time_utc;          // seconds since 1970 (about the middle frame)
  int n_offsets;             // entries of minute_offsets (0 when NaN)
  const int32_t *minute_offsets;  // (n_offsets,) minutes of each frame relative to time_utc
  double episode_id, event_id;    // NWS Storm Events ids (NaN for random events)
  const char *event_type;    // "Thunderstorm Wind", "Hail", ... ("" when empty)
  double llcrnrlat, llcrnrlon, urcrnrlat, urcrnrlon;  // patch corners, degrees
  const char *proj;          // proj4 string of the patch (LAEA)
  int64_t size_x, size_y;    // pixels
  double height_m, width_m;  // patch size in metres
  double data_min, data_max; // value range in physical units
  double pct_missing;        // percentage of missing pixels
  int64_t line;              // line of the row in the CSV (for messages)
} sevir_row;

typedef struct sevir_catalog {
  char *path;
  int64_t n;                 // rows
  sevir_row *rows;
  struct sevir_pool *pool;   // interned strings and offset arrays
} sevir_catalog;

// Reads and parses path. Returns NULL and writes a message naming the file,
// the line and the problem into err (missing file, bad CSV, missing columns,
// wrong field count, unparsable values).
sevir_catalog *sevir_catalog_load(const char *path, char *err, size_t errn);
// Same from text in memory; name stands for the file in messages.
sevir_catalog *sevir_catalog_parse(const char *text, size_t len, const char *name, char *err,
                                   size_t errn);
void sevir_catalog_free(sevir_catalog *c);

// "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS" with ' ' or 'T'
// between date and time, optional fractional seconds (dropped) and an
// optional "Z" / "+00:00" suffix, as seconds since 1970 UTC. Returns 0 on
// success, -1 when s is not such a time (or names an impossible date).
int sevir_parse_time(const char *s, int64_t *t);
// t as "YYYY-MM-DD HH:MM:SS" (buf of at least 20 bytes).
void sevir_format_time(int64_t t, char *buf, size_t n);

#endif
