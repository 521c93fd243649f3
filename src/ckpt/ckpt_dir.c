// ckpt_dir.c: atomic commit, LATEST, retention and the output lock (see ckpt_dir.h).
#include "ckpt/ckpt_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/check.h"

void ckpt_dir_of(const char *out, char *buf, size_t n) {
  if ((size_t)snprintf(buf, n, "%s/ckpt", out) >= n) vp_die("output path '%s' is too long", out);
}

void ckpt_step_name(int64_t step, char *buf, size_t n) { snprintf(buf, n, "step_%08lld.h5", (long long)step); }

int64_t ckpt_step_of_name(const char *name) {
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  if (strncmp(base, "step_", 5) != 0) return -1;
  const char *p = base + 5;
  if (*p < '0' || *p > '9') return -1;
  char *end = NULL;
  long long s = strtoll(p, &end, 10);
  if (!end || strcmp(end, ".h5") != 0 || end - p < 8 || s < 0) return -1;
  return s;
}

static void join(char *buf, size_t n, const char *dir, const char *name) {
  if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n) vp_die("path '%s/%s' is too long", dir, name);
}

void ckpt_mkdirs(const char *dir) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path) vp_die("path '%s' is too long", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      vp_die("cannot create directory '%s': %s; choose another --out", path, strerror(errno));
    *p = '/';
  }
  if (mkdir(path, 0777) != 0 && errno != EEXIST)
    vp_die("cannot create directory '%s': %s; choose another --out", path, strerror(errno));
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) vp_die("'%s' exists and is not a directory; choose another --out", path);
}

int ckpt_lock_out(const char *out) {
  char path[4096];
  join(path, sizeof path, out, ".lock");
  // The descriptor stays open for the life of the process: the kernel drops
  // the lock when the process ends, however it ends.
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) vp_die("cannot open '%s': %s; check permissions of --out", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[64] = "?";
    ssize_t k = pread(fd, holder, sizeof holder - 1, 0);
    holder[k > 0 ? k : 0] = 0;
    holder[strcspn(holder, "\n")] = 0;
    vp_die("another vpcast process (pid %s) is training into '%s'; wait for it to end or choose another --out",
           holder[0] ? holder : "?", out);
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
    vp_warn("could not record the pid in '%s': %s", path, strerror(errno));
  return fd;
}

void ckpt_unlock_out(int fd) {
  if (fd >= 0) close(fd);  // closing drops the flock
}

static int is_tmp_name(const char *name) {
  size_t n = strlen(name);
  return name[0] == '.' && n > 4 && strcmp(name + n - 4, ".tmp") == 0 &&
         (strncmp(name, ".step_", 6) == 0 || strncmp(name, ".LATEST", 7) == 0);
}

int ckpt_dir_clean(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)) != NULL) {
    if (!is_tmp_name(e->d_name)) continue;
    join(path, sizeof path, dir, e->d_name);
    if (unlink(path) == 0)
      removed++;
    else
      vp_warn("could not delete the stray temporary file '%s': %s", path, strerror(errno));
  }
  closedir(d);
  return removed;
}

int ckpt_dir_latest(const char *dir, char *buf, size_t n) {
  char path[4096], name[256];
  join(path, sizeof path, dir, "LATEST");
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    vp_die("cannot read '%s': %s", path, strerror(errno));
  }
  char *got = fgets(name, sizeof name, f);
  fclose(f);
  if (got) name[strcspn(name, "\r\n")] = 0;
  if (!got || ckpt_step_of_name(name) < 0 || strchr(name, '/'))
    vp_die("'%s' does not name a checkpoint file (it should hold a name like step_00001000.h5); fix it, or "
           "resume from a file with --resume PATH",
           path);
  join(buf, n, dir, name);
  if (access(buf, R_OK) != 0)
    vp_die("'%s' names %s, which cannot be read (%s); resume from another checkpoint with --resume PATH", path,
           name, strerror(errno));
  return 1;
}

static void fsync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) vp_die("cannot open '%s' to fsync it: %s", path, strerror(errno));
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    // Some file systems cannot fsync a directory; the rename is still atomic there.
    if (directory && (e == EINVAL || e == ENOTSUP)) return;
    vp_die("fsync of '%s' failed: %s; check the file system", path, strerror(e));
  }
  close(fd);
}

// VP_CKPT_TEST_PAUSE_MS: see ckpt_dir.h (crash tests).
static void test_pause(void) {
  const char *v = getenv("VP_CKPT_TEST_PAUSE_MS");
  long ms = v ? strtol(v, NULL, 10) : 0;
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int write_all_fd_(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, buf, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    buf += k;
    n -= (size_t)k;
  }
  return 0;
}

void ckpt_dir_commit(const char *dir, int64_t step, void (*writer)(const char *tmp_path, void *arg), void *arg,
                     char *path_out, size_t path_n) {
  char name[64], tmp[4096], final[4096], ltmp[4096], latest[4096];
  ckpt_step_name(step, name, sizeof name);
  char tmpname[96];
  snprintf(tmpname, sizeof tmpname, ".%s.tmp", name);
  join(tmp, sizeof tmp, dir, tmpname);
  join(final, sizeof final, dir, name);
  writer(tmp, arg);
  test_pause();
  if (rename(tmp, final) != 0)
    vp_die("renaming '%s' to '%s' failed: %s (LATEST still names the previous checkpoint)", tmp, final,
           strerror(errno));
  fsync_path(dir, 1);
  test_pause();

  join(ltmp, sizeof ltmp, dir, ".LATEST.tmp");
  join(latest, sizeof latest, dir, "LATEST");
  int fd = open(ltmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) vp_die("cannot create '%s': %s; check free space and permissions", ltmp, strerror(errno));
  char line[80];
  int len = snprintf(line, sizeof line, "%s\n", name);
  if (write_all_fd_(fd, line, (size_t)len) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    vp_die("writing '%s' failed: %s; check free space", ltmp, strerror(e));
  }
  CHECK_SYS(close(fd), "closing .LATEST.tmp");
  if (rename(ltmp, latest) != 0) vp_die("renaming '%s' to '%s' failed: %s", ltmp, latest, strerror(errno));
  fsync_path(dir, 1);
  if (path_out) snprintf(path_out, path_n, "%s", final);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int64_t *ckpt_dir_list(const char *dir, int *n) {
  *n = 0;
  int cap = 16;
  int64_t *steps = vp_malloc((size_t)cap * sizeof(int64_t));
  DIR *d = opendir(dir);
  if (!d) return steps;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int64_t s = ckpt_step_of_name(e->d_name);
    if (s < 0) continue;
    if (*n == cap) steps = vp_realloc(steps, (size_t)(cap *= 2) * sizeof(int64_t));
    steps[(*n)++] = s;
  }
  closedir(d);
  qsort(steps, (size_t)*n, sizeof(int64_t), cmp_i64);
  return steps;
}

int ckpt_dir_prune(const char *dir, int64_t current, int keep_last, int64_t keep_every) {
  VP_ASSERT(keep_last >= 1);
  char latest[4096] = "";
  int64_t latest_step = -1;
  if (ckpt_dir_latest(dir, latest, sizeof latest)) latest_step = ckpt_step_of_name(latest);
  int n = 0;
  int64_t *steps = ckpt_dir_list(dir, &n);
  int upto = 0;  // files with step <= current: [0, upto)
  while (upto < n && steps[upto] <= current) upto++;
  int removed = 0;
  for (int i = 0; i < upto - keep_last; i++) {
    int64_t s = steps[i];
    if (s == latest_step || (keep_every > 0 && s % keep_every == 0)) continue;
    char name[64], path[4096];
    ckpt_step_name(s, name, sizeof name);
    join(path, sizeof path, dir, name);
    if (unlink(path) == 0)
      removed++;
    else if (errno != ENOENT)
      vp_warn("could not delete old checkpoint '%s': %s", path, strerror(errno));
  }
  free(steps);
  return removed;
}
