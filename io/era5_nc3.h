// era5_nc3.h: catching truncated NetCDF3 files, which libnetcdf reads
// silently (missing bytes come back as zeros).
#ifndef VP_IO_ERA5_NC3_H
#define VP_IO_ERA5_NC3_H

#include <stdint.h>

// Parses the NetCDF3 header of path (classic, 64-bit offset or CDF5; other
// files are left alone) and dies with a message naming path when the file
// ends before the data its header describes, or the header cannot be parsed.
void e5_nc3_check_size(const char *path);

#endif
