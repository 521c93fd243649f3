// preempt.c: SIGUSR1 / SIGTERM -> a flag read at step boundaries (see preempt.h).
#include "train/preempt.h"

#include <signal.h>
#include <string.h>

#include "core/check.h"

static volatile sig_atomic_t pending_signal;  // last signal number, 0: none
static volatile sig_atomic_t pending_count;
static int installed;
static struct sigaction old_usr1, old_term;

// Async-signal-safe: stores only.
static void on_signal(int sig) {
  pending_signal = sig;
  if (pending_count < 1000000) pending_count = pending_count + 1;
}

void preempt_install(void) {
  if (installed) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // Restart interrupted system calls (file writes of a checkpoint, reads of
  // the loader): the signal must not turn into an I/O error.
  sa.sa_flags = SA_RESTART;
  CHECK_SYS(sigaction(SIGUSR1, &sa, &old_usr1), "installing the SIGUSR1 handler");
  CHECK_SYS(sigaction(SIGTERM, &sa, &old_term), "installing the SIGTERM handler");
  pending_signal = 0;
  pending_count = 0;
  installed = 1;
}

void preempt_uninstall(void) {
  if (!installed) return;
  CHECK_SYS(sigaction(SIGUSR1, &old_usr1, NULL), "restoring the SIGUSR1 handler");
  CHECK_SYS(sigaction(SIGTERM, &old_term, NULL), "restoring the SIGTERM handler");
  installed = 0;
}

int preempt_pending(void) { return pending_count > 0; }
int preempt_signal(void) { return (int)pending_signal; }
int preempt_count(void) { return (int)pending_count; }
