// failure.c: the per-rank watchdog that turns a dead or hung rank into a
// bounded-time exit of every rank (see failure.h for the design).
#include "dist/failure.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/check.h"
#include "dist/comm.h"
#include "dist/mpi_check.h"

#define POLL_NS 200000000L  // 0.2 s between looks
#define DEAD_GRACE_S 1.0    // a collective open this long with a peer gone: abort
#define HOST_WORDS 8        // host name: 64 bytes as 8 int64
#define INFO_WORDS (2 + HOST_WORDS)

typedef struct peer {
  int64_t pid, start;       // pid and start time (clock ticks since boot, /proc/<pid>/stat)
  char host[HOST_WORDS * 8 + 1];
  int watch;                // 1: same node and its /proc entry was verified at start
} peer;

static struct {
  int started;
  int rank, size;
  peer *peers;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;                          // under mu
  atomic_int open;                   // a collective is in progress
  _Atomic(const char *) what;
  atomic_llong since_ns;             // when it was entered (CLOCK_MONOTONIC)
  atomic_llong timeout_ms;
  atomic_llong step;
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// State letter and start time of a process from /proc/<pid>/stat; returns 0
// when the entry cannot be read (no such process, or no /proc).
static int proc_stat(int64_t pid, char *state, int64_t *start) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so the
  // fields start after the last ')'. State is field 3, starttime field 22.
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  p += 2;
  *state = *p;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  *start = strtoll(p, NULL, 10);
  return 1;
}

int failure_check_peers(char *why, int why_len) {
  if (!W.started) return -1;
  for (int r = 0; r < W.size; r++) {
    const peer *q = &W.peers[r];
    if (r == W.rank || !q->watch) continue;
    char st = 0;
    int64_t start = 0;
    int alive = proc_stat(q->pid, &st, &start);
    const char *how = NULL;
    if (!alive || start != q->start)
      how = "has exited";
    else if (st == 'Z' || st == 'X')
      how = "has exited (not yet reaped)";
    if (how) {
      snprintf(why, (size_t)why_len, "rank %d (pid %lld on node %s) %s", r, (long long)q->pid, q->host,
               how);
      return r;
    }
  }
  return -1;
}

// Local peers that are stopped (SIGSTOP, a debugger): named on a timeout.
static void stopped_peers(char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (int r = 0; r < W.size && k < n; r++) {
    const peer *q = &W.peers[r];
    if (r == W.rank || !q->watch) continue;
    char st = 0;
    int64_t start = 0;
    if (proc_stat(q->pid, &st, &start) && (st == 'T' || st == 't'))
      k += (size_t)snprintf(buf + k, n - k, "%srank %d (pid %lld on node %s) is stopped", k ? "; " : "", r,
                            (long long)q->pid, q->host);
  }
}

_Noreturn static void watchdog_abort(const char *msg) {
  // Whatever MPI_Abort does, this process ends within 10 s (SIGALRM's
  // default action terminates it).
  alarm(10);
  long long step = atomic_load(&W.step);
  char at[48] = "";
  if (step >= 0) snprintf(at, sizeof at, " at step %lld", step);
  fflush(stdout);
  fprintf(stderr, "vpcast: error: rank %d: %s during the %s%s; ending every rank\n", W.rank, msg,
          atomic_load(&W.what), at);
  fflush(stderr);
#ifdef VP_HAVE_MPI
  MPI_Abort(MPI_COMM_WORLD, 1);
#endif
  _exit(1);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  // Signals belong to the main thread (preemption flags, the launcher's
  // SIGTERM); this thread never takes them.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    pthread_mutex_lock(&W.mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += POLL_NS;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    while (!W.stop) {
      int rc = pthread_cond_timedwait(&W.cv, &W.mu, &ts);
      if (rc == ETIMEDOUT) break;
    }
    int stop = W.stop;
    pthread_mutex_unlock(&W.mu);
    if (stop) return NULL;
    if (!atomic_load(&W.open)) continue;
    long long since = atomic_load(&W.since_ns);
    char why[512];
    double waited = (double)(now_ns() - since) * 1e-9;
    // A peer that finished this collective may exit while this rank is
    // still leaving it; a collective still open a second later with that
    // peer gone is the real thing.
    if (waited > DEAD_GRACE_S && failure_check_peers(why, (int)sizeof why) >= 0) {
      if (atomic_load(&W.open) && atomic_load(&W.since_ns) == since) watchdog_abort(why);
      continue;
    }
    double limit = (double)atomic_load(&W.timeout_ms) * 1e-3;
    if (waited > limit && atomic_load(&W.open) && atomic_load(&W.since_ns) == since) {
      char stopped[400], msg[640];
      stopped_peers(stopped, sizeof stopped);
      if (stopped[0])
        snprintf(msg, sizeof msg, "no progress for %.0f s (dist.timeout): %s", waited, stopped);
      else
        snprintf(msg, sizeof msg,
                 "no progress for %.0f s (dist.timeout): a rank on another node, or one that hangs, "
                 "did not reach this collective",
                 waited);
      watchdog_abort(msg);
    }
  }
}

void failure_start(const vp_comm *c, double timeout_s) {
  VP_ASSERT(!W.started);
  VP_ASSERT(timeout_s > 0);
  atomic_store(&W.timeout_ms, (long long)(timeout_s * 1e3));
  atomic_store(&W.step, -1);
  if (c->size == 1) return;
  // Every rank's (pid, start time, host), so a peer on this node can be
  // checked through /proc without any message from it.
  int64_t mine[INFO_WORDS];
  memset(mine, 0, sizeof mine);
  char st = 0;
  mine[0] = (int64_t)getpid();
  if (!proc_stat(mine[0], &st, &mine[1])) mine[1] = -1;
  char host[HOST_WORDS * 8 + 1];
  memset(host, 0, sizeof host);
  if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
  memcpy(&mine[2], host, HOST_WORDS * 8);
  int64_t *all = vp_malloc((size_t)c->size * INFO_WORDS * sizeof(int64_t));
  comm_allgather_i64(c, mine, INFO_WORDS, all);
  W.peers = vp_calloc((size_t)c->size, sizeof(peer));
  for (int r = 0; r < c->size; r++) {
    peer *q = &W.peers[r];
    const int64_t *v = all + (size_t)r * INFO_WORDS;
    q->pid = v[0];
    q->start = v[1];
    memcpy(q->host, &v[2], HOST_WORDS * 8);
    q->host[HOST_WORDS * 8] = 0;
    // Watch a peer only if it is on this node and visible here as itself
    // (not in another pid namespace, not another machine with our name).
    int64_t start = 0;
    q->watch = r != c->rank && q->start >= 0 && strcmp(q->host, host) == 0 && proc_stat(q->pid, &st, &start) &&
               start == q->start;
  }
  free(all);
  W.rank = c->rank;
  W.size = c->size;
  W.stop = 0;
  atomic_store(&W.open, 0);
  atomic_store(&W.what, "collective");
  int rc = pthread_create(&W.thread, NULL, watchdog_main, NULL);
  if (rc != 0) vp_die("starting the failure watchdog thread failed: %s", strerror(rc));
  W.started = 1;
}

void failure_stop(void) {
  if (!W.started) return;
  pthread_mutex_lock(&W.mu);
  W.stop = 1;
  pthread_cond_signal(&W.cv);
  pthread_mutex_unlock(&W.mu);
  pthread_join(W.thread, NULL);
  free(W.peers);
  W.peers = NULL;
  W.started = 0;
}

void failure_set_step(int64_t step) { atomic_store(&W.step, (long long)step); }

double failure_set_timeout(double timeout_s) {
  VP_ASSERT(timeout_s > 0);
  long long old = atomic_exchange(&W.timeout_ms, (long long)(timeout_s * 1e3));
  return (double)old * 1e-3;
}

double failure_get_timeout(void) { return (double)atomic_load(&W.timeout_ms) * 1e-3; }

void failure_enter(const char *what) {
  if (!W.started) return;
  atomic_store(&W.what, what);
  atomic_store(&W.since_ns, now_ns());
  atomic_store(&W.open, 1);
}

void failure_leave(void) {
  if (!W.started) return;
  atomic_store(&W.open, 0);
}
