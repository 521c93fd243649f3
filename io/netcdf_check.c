// netcdf_check.c: see netcdf_check.h.
#include "io/netcdf_check.h"

#include <netcdf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

// A hint per family of libnetcdf errors, so a user knows what to do next.
static const char *nc_hint(int status) {
  switch (status) {
    case NC_ENOTNC:
      return "the file is not NetCDF (or it is corrupt): check that it downloaded completely "
             "and is a .nc file";
    case NC_EHDFERR:
      return "the HDF5 layer of this NetCDF-4 file failed: the file is probably truncated or corrupt; "
             "download it again";
    case NC_EFILTER:
#ifdef NC_ENOFILTER
    case NC_ENOFILTER:
#endif
      return "a compression filter of this NetCDF-4 file is missing or failed (e.g. LZF): install its plugin "
             "(HDF5_PLUGIN_PATH) or rewrite the file with zlib (nccopy -d1)";
    case NC_ENOTVAR:
    case NC_ENOTATT:
      return "check the variable names in the config against `ncdump -h` of the file";
    case NC_EINVALCOORDS:
    case NC_EEDGE:
      return "the hyperslab lies outside the variable: the file may be truncated";
    default:
      if (status == ENOENT || status == ENOTDIR) return "check the path";
      if (status == EACCES || status == EPERM) return "check the file's permissions";
      if (status > 0) return "the file cannot be parsed as NetCDF: it is corrupt or truncated; try `ncdump -h`";
      return "the file may be truncated or corrupt; try `ncdump -h` on it";
  }
}

void nc_check(int status, const char *path, const char *what, ...) {
  if (status == NC_NOERR) return;
  char buf[1024];
  va_list ap;
  va_start(ap, what);
  vsnprintf(buf, sizeof buf, what, ap);
  va_end(ap);
  vp_die("%s: %s: %s. Hint: %s", path, buf, nc_strerror(status), nc_hint(status));
}
