// name.c: state_dict names for nested modules (see name.h).
#include "nn/name.h"

#include <stdarg.h>
#include <stdio.h>

char *nn_name(char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, NN_NAME_MAX, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= NN_NAME_MAX) vp_die_at(__FILE__, __LINE__, "parameter name too long: %s...", buf);
  return buf;
}
