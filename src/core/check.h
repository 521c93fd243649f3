// check.h: one error-check macro per library, and the fatal-error path.
// Every library call in vpcast goes through one of these. A failure prints
// file:line, the call that failed, the library's own message and a hint of
// what to do, then exits non-zero. User errors (bad config, bad file) use
// vp_die() with a message that names the file, the field and the fix.
#ifndef VP_CHECK_H
#define VP_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#if defined(__GNUC__)
#define VP_NORETURN __attribute__((noreturn))
#define VP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VP_NORETURN
#define VP_PRINTF(a, b)
#endif

// Prints "vpcast: error: <msg>" and exits with status 1 (or the hook's choice).
VP_NORETURN void vp_die(const char *fmt, ...) VP_PRINTF(1, 2);
// Same, with the source location of an internal failure.
VP_NORETURN void vp_die_at(const char *file, int line, const char *fmt, ...) VP_PRINTF(3, 4);
void vp_warn(const char *fmt, ...) VP_PRINTF(1, 2);

// Internal invariant (programming error, not user error).
#define VP_ASSERT(cond)                                                        \
  do {                                                                         \
    if (!(cond)) vp_die_at(__FILE__, __LINE__, "internal check failed: %s "     \
                           "(please report this as a bug)", #cond);            \
  } while (0)

// libc / POSIX calls returning -1 (or NULL via CHECK_PTR) and setting errno.
#define CHECK_SYS(call, hint)                                                  \
  do {                                                                         \
    if ((call) < 0) vp_die_at(__FILE__, __LINE__, "%s failed: %s. %s", #call,   \
                              strerror(errno), hint);                          \
  } while (0)

#define CHECK_PTR(ptr, hint)                                                   \
  do {                                                                         \
    if ((ptr) == NULL) vp_die_at(__FILE__, __LINE__, "%s returned NULL: %s. %s",\
                                 #ptr, strerror(errno), hint);                 \
  } while (0)

// Allocation that never returns NULL.
void *vp_malloc(size_t n);
void *vp_calloc(size_t n, size_t size);
void *vp_realloc(void *p, size_t n);
char *vp_strdup(const char *s);

#endif
