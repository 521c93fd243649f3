// era5_nc3.c: the size check of NetCDF3 files (classic, 64-bit offset, CDF5).
// libnetcdf reads a truncated NetCDF3 file without complaint: the bytes past
// the end come back as zeros, which unpack to add_offset, a plausible value.
// So before reading one, parse its header (the format is public: "NetCDF
// Classic and 64-bit Offset Format", and CDF5) for every variable's begin
// offset and shape, and require the file to reach the end of the last one.
#include "io/era5_nc3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"

typedef struct hdr {
  FILE *f;
  const char *path;
  int version;  // 1 (classic), 2 (64-bit offset), 5 (CDF5)
  int bad;
} hdr;

static uint64_t get_be(hdr *h, int bytes) {
  unsigned char b[8];
  if (h->bad || fread(b, 1, (size_t)bytes, h->f) != (size_t)bytes) {
    h->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int k = 0; k < bytes; k++) v = (v << 8) | b[k];
  return v;
}

// Counts and lengths: 4 bytes, 8 in CDF5.
static uint64_t get_n(hdr *h) { return get_be(h, h->version == 5 ? 8 : 4); }

static void skip(hdr *h, uint64_t n) {
  if (h->bad) return;
  if (n > (1ull << 40) || fseeko(h->f, (off_t)n, SEEK_CUR) != 0) h->bad = 1;
}

static uint64_t pad4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

static void skip_name(hdr *h) { skip(h, pad4(get_n(h))); }

static int type_size(uint64_t t) {
  switch (t) {
    case 1: case 2: case 7: return 1;   // byte, char, ubyte
    case 3: case 8: return 2;           // short, ushort
    case 4: case 5: case 9: return 4;   // int, float, uint
    case 6: case 10: case 11: return 8; // double, int64, uint64
    default: return 0;
  }
}

static void skip_atts(hdr *h) {
  uint64_t tag = get_be(h, 4), n = get_n(h);
  if (tag == 0 && n == 0) return;
  if (tag != 0x0C) {
    h->bad = 1;
    return;
  }
  for (uint64_t k = 0; k < n && !h->bad; k++) {
    skip_name(h);
    int ts = type_size(get_be(h, 4));
    uint64_t m = get_n(h);
    if (!ts) h->bad = 1;
    skip(h, pad4(m * (uint64_t)ts));
  }
}

void e5_nc3_check_size(const char *path) {
  hdr h = {fopen(path, "rb"), path, 0, 0};
  if (!h.f) vp_die("%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(h.f), &sb) != 0) vp_die("%s: cannot stat: %s", path, strerror(errno));
  unsigned char magic[4];
  if (fread(magic, 1, 4, h.f) != 4 || memcmp(magic, "CDF", 3) != 0) {
    fclose(h.f);
    return;  // not NetCDF3: nothing to check here
  }
  h.version = magic[3];
  uint64_t numrecs = get_n(&h);
  int streaming = numrecs == (h.version == 5 ? ~0ull : 0xFFFFFFFFull);
  // Dimensions: lengths (0 = the record dimension).
  uint64_t tag = get_be(&h, 4), ndims = get_n(&h);
  uint64_t *dimlen = NULL;
  if (!(tag == 0 && ndims == 0)) {
    if (tag != 0x0A || ndims > 65536) h.bad = 1;
    if (!h.bad) dimlen = vp_calloc(ndims ? ndims : 1, sizeof(uint64_t));
    for (uint64_t k = 0; k < ndims && !h.bad; k++) {
      skip_name(&h);
      dimlen[k] = get_n(&h);
    }
  }
  skip_atts(&h);
  // Variables: shape, type, per-record size and begin offset.
  tag = get_be(&h, 4);
  uint64_t nvars = get_n(&h);
  uint64_t need = 0, recsize = 0, nrecvars = 0, one_rec_bytes = 0;
  typedef struct { uint64_t begin, bytes; int rec; } var;
  var *vars = NULL;
  if (!(tag == 0 && nvars == 0)) {
    if (tag != 0x0B || nvars > (1u << 24)) h.bad = 1;
    if (!h.bad) vars = vp_calloc(nvars ? nvars : 1, sizeof(var));
    for (uint64_t k = 0; k < nvars && !h.bad; k++) {
      skip_name(&h);
      uint64_t nd = get_n(&h), elems = 1;
      int rec = 0;
      for (uint64_t d = 0; d < nd && !h.bad; d++) {
        uint64_t id = get_n(&h);
        if (id >= ndims) {
          h.bad = 1;
          break;
        }
        if (dimlen[id] == 0 && d == 0) rec = 1;
        else elems *= dimlen[id];
      }
      skip_atts(&h);
      int ts = type_size(get_be(&h, 4));
      uint64_t vsize = get_n(&h);
      uint64_t begin = get_be(&h, h.version == 1 ? 4 : 8);
      if (!ts) h.bad = 1;
      vars[k].begin = begin;
      vars[k].bytes = elems * (uint64_t)ts;
      vars[k].rec = rec;
      if (rec) recsize += vsize, nrecvars++, one_rec_bytes = vars[k].bytes;
    }
  }
  if (!h.bad) {
    // With a single record variable its records are not padded.
    if (nrecvars == 1) recsize = one_rec_bytes;
    for (uint64_t k = 0; k < nvars; k++) {
      uint64_t end = vars[k].begin + vars[k].bytes;
      if (vars[k].rec) {
        if (streaming || numrecs == 0) continue;
        end = vars[k].begin + (numrecs - 1) * recsize + vars[k].bytes;
      }
      if (vars[k].bytes && end > need) need = end;
    }
  }
  free(dimlen);
  free(vars);
  fclose(h.f);
  if (h.bad)
    vp_die("%s: the NetCDF3 header is damaged or cut short; the file is corrupt or truncated: download it again",
           path);
  if ((uint64_t)sb.st_size < need)
    vp_die("%s: the file is truncated: it has %lld bytes but its NetCDF3 header places data up to byte %llu; "
           "download it again",
           path, (long long)sb.st_size, (unsigned long long)need);
}
