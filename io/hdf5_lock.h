// hdf5_lock.h: one process-wide lock for HDF5 and NetCDF calls.
// The loader's prefetch thread reads file-backed sources (packed, SEVIR:
// HDF5; ERA5: NetCDF, itself on HDF5) while the training thread may write a
// checkpoint or an evaluation file with HDF5. libnetcdf is not thread-safe
// at all, and libhdf5 is thread-safe only when built so
// (H5is_library_threadsafe; Debian's serial build is, others may not be).
// So vpcast serialises them itself: the loader holds this lock around every
// source_read() of a file-backed source, and any HDF5 / NetCDF work that can
// run while a loader is open (checkpoint writing, evaluation output, opening
// another source) must hold it too:
//     io_hdf5_lock(); ... H5Fcreate / H5Dwrite / nc_open ... io_hdf5_unlock();
// The lock is recursive, so a locked section may call helpers that lock
// again. It costs an uncontended mutex when no loader runs.
#ifndef VP_IO_HDF5_LOCK_H
#define VP_IO_HDF5_LOCK_H

void io_hdf5_lock(void);
void io_hdf5_unlock(void);
// 1 when the linked libhdf5 was built thread-safe (informational: the lock
// is taken either way because NetCDF needs it).
int io_hdf5_threadsafe(void);

#endif
