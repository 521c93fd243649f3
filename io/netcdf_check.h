// netcdf_check.h: the NetCDF error check of the io/ readers and writers.
// Every nc_* call goes through nc_check(): on failure it ends the program
// with a message that names the file, what was being done (the variable,
// attribute or hyperslab) and libnetcdf's own reason, plus a hint.
#ifndef VP_IO_NETCDF_CHECK_H
#define VP_IO_NETCDF_CHECK_H

#include "core/check.h"

// Dies with "<path>: <what>: <nc_strerror(status)>. <hint>" unless status is
// NC_NOERR. what is a printf format.
void nc_check(int status, const char *path, const char *what, ...) VP_PRINTF(3, 4);

#endif
