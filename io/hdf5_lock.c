// hdf5_lock.c: the process-wide recursive HDF5 / NetCDF lock (see hdf5_lock.h).
#include "io/hdf5_lock.h"

#include <hdf5.h>
#include <pthread.h>
#include <string.h>

#include "core/check.h"

static pthread_mutex_t lock_mutex;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;

static void lock_init(void) {
  pthread_mutexattr_t a;
  int rc = pthread_mutexattr_init(&a);
  if (rc == 0) rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  if (rc == 0) rc = pthread_mutex_init(&lock_mutex, &a);
  if (rc != 0) vp_die("hdf5 lock: pthread mutex setup failed: %s", strerror(rc));
  pthread_mutexattr_destroy(&a);
}

void io_hdf5_lock(void) {
  int rc = pthread_once(&lock_once, lock_init);
  if (rc == 0) rc = pthread_mutex_lock(&lock_mutex);
  if (rc != 0) vp_die("hdf5 lock: pthread_mutex_lock failed: %s", strerror(rc));
}

void io_hdf5_unlock(void) {
  int rc = pthread_mutex_unlock(&lock_mutex);
  if (rc != 0) vp_die("hdf5 lock: pthread_mutex_unlock failed: %s", strerror(rc));
}

int io_hdf5_threadsafe(void) {
  hbool_t ts = 0;
  if (H5is_library_threadsafe(&ts) < 0) return 0;
  return ts ? 1 : 0;
}
