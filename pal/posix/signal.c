/*
 * signal.c -- POSIX signals as loop events: through the backend's own
 * signal source where it has one (kqueue EVFILT_SIGNAL, which every kqueue
 * watching a signal receives), else through a self-pipe per poll.
 *
 * Signal dispositions are process-wide, loops are not: a small registry of
 * slots (one per poll that watches any signal) holds each poll's pipe and
 * signal mask.  The handler is async-signal-safe: it reads the slots with
 * atomic loads and writes one byte, the portable signal number, to every
 * pipe whose mask has that signal.  The poll drains its pipe in
 * pal__signal_ready() and calls the owner back on the loop thread.
 *
 * The OS handler for a signal is installed when the first poll starts
 * watching it and the previous disposition restored when the last stops.
 * Registry changes take a mutex; the handler never does.  With signal
 * sources no poll has a slot and the handler writes nothing, but it is
 * installed all the same: a source only records a delivery, so without a
 * handler the default action would still happen (most signals kill), and
 * an ignored SIGCHLD would not be recorded at all.
 *
 * A slot's descriptor is retired (set to -1) before its pipe is closed; a
 * handler that loaded the old value just before could write one byte to a
 * descriptor number that was closed in between.  The window is a few
 * instructions long, and the registry never closes a pipe while its
 * signals are still delivered (the mask is cleared first).
 */
#include "pal_posix.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#define SLOTS 64

typedef struct {
  atomic_int wfd;
  atomic_uint mask;
} slot_t;

static slot_t slots[SLOTS];
static int slot_used[SLOTS];
static unsigned watchers[PAL_NSIG];
static struct sigaction saved[PAL_NSIG];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static const struct {
  int portable, native;
} sigmap[] = {
    {PAL_SIGHUP, SIGHUP},   {PAL_SIGINT, SIGINT},     {PAL_SIGQUIT, SIGQUIT},
    {PAL_SIGKILL, SIGKILL}, {PAL_SIGUSR1, SIGUSR1},   {PAL_SIGUSR2, SIGUSR2},
    {PAL_SIGPIPE, SIGPIPE}, {PAL_SIGALRM, SIGALRM},   {PAL_SIGTERM, SIGTERM},
    {PAL_SIGCHLD, SIGCHLD}, {PAL_SIGCONT, SIGCONT},   {PAL_SIGSTOP, SIGSTOP},
    {PAL_SIGWINCH, SIGWINCH},
};
#define NMAP (sizeof sigmap / sizeof sigmap[0])

int pal_signal_native(int signum) {
  size_t i;
  for (i = 0; i < NMAP; i++)
    if (sigmap[i].portable == signum)
      return sigmap[i].native;
  return -1;
}

int pal_signal_portable(int native) {
  size_t i;
  for (i = 0; i < NMAP; i++)
    if (sigmap[i].native == native)
      return sigmap[i].portable;
  return 0;
}

static void init_slots(void) {
  int i;
  for (i = 0; i < SLOTS; i++) {
    atomic_init(&slots[i].wfd, -1);
    atomic_init(&slots[i].mask, 0);
  }
}

static void handler(int native) {
  int saved_errno = errno;
  int sig = pal_signal_portable(native);
  unsigned bit = 1u << sig;
  unsigned char b = (unsigned char)sig;
  int i;
  for (i = 0; i < SLOTS; i++) {
    if (atomic_load(&slots[i].mask) & bit) {
      int fd = atomic_load(&slots[i].wfd);
      if (fd >= 0) {
        ssize_t r = write(fd, &b, 1);   /* full pipe: signal coalesced */
        (void)r;
      }
    }
  }
  errno = saved_errno;
}

/* Install or restore OS handlers for the bits that changed.  Called with
 * reg_lock held. */
static apr_status_t apply(uint32_t before, uint32_t after) {
  int sig;
  for (sig = 1; sig < PAL_NSIG; sig++) {
    uint32_t bit = 1u << sig;
    int native = pal_signal_native(sig);
    if (((before ^ after) & bit) == 0 || native < 0)
      continue;
    if (after & bit) {
      if (watchers[sig]++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sa.sa_flags = SA_RESTART;
        if (native == SIGCHLD)
          sa.sa_flags |= SA_NOCLDSTOP;
        sigfillset(&sa.sa_mask);
        if (sigaction(native, &sa, &saved[sig]) < 0) {
          watchers[sig]--;
          return pal__fail("sigaction");
        }
      }
    } else if (watchers[sig] > 0 && --watchers[sig] == 0) {
      sigaction(native, &saved[sig], NULL);
    }
  }
  return APR_SUCCESS;
}

static apr_status_t ensure_pipe(pal_poll_t *p) {
  int fds[2], i;
  apr_status_t rv;
  if (p->sig_rfd >= 0)
    return APR_SUCCESS;
  if (pipe(fds) < 0)
    return pal__fail("pipe");
  pal__set_nonblock(fds[0], 1);
  pal__set_nonblock(fds[1], 1);
  pal__set_cloexec(fds[0], 1);
  pal__set_cloexec(fds[1], 1);
  rv = pal__poll_add(p, fds[0], PAL__IN, PAL__TOKEN(p, PAL__TOK_SIG));
  if (rv) {
    close(fds[0]);
    close(fds[1]);
    return rv;
  }
  pthread_mutex_lock(&reg_lock);
  for (i = 0; i < SLOTS && slot_used[i]; i++)
    ;
  if (i == SLOTS) {
    pthread_mutex_unlock(&reg_lock);
    pal__poll_del(p, fds[0]);
    close(fds[0]);
    close(fds[1]);
    return APR_ENOSPC;
  }
  slot_used[i] = 1;
  atomic_store(&slots[i].mask, 0);
  atomic_store(&slots[i].wfd, fds[1]);
  pthread_mutex_unlock(&reg_lock);
  p->sig_rfd = fds[0];
  p->sig_wfd = fds[1];
  p->sig_slot = i;
  return APR_SUCCESS;
}

/* Stop the backend's signal sources for `bits` (none with the pipe). */
static void detach(pal_poll_t *p, uint32_t bits) {
  int sig;
  if (p->sig_rfd >= 0)
    return;
  for (sig = 1; sig < PAL_NSIG; sig++)
    if (bits & (1u << sig))
      pal__poll_del_source(p, PAL__SRC_SIGNAL, pal_signal_native(sig));
}

/* Give the poll a reader for the signals in `bits`: the backend's own
 * signal source per signal (kqueue EVFILT_SIGNAL, which needs no slot and
 * no pipe), or, where the backend has none, the self-pipe, which reads
 * every signal of the poll. */
static apr_status_t attach(pal_poll_t *p, uint32_t bits) {
  uint32_t done = 0;
  apr_status_t rv = APR_SUCCESS;
  int sig;
  if (p->sig_rfd >= 0)
    return APR_SUCCESS;
  for (sig = 1; sig < PAL_NSIG && rv == APR_SUCCESS; sig++) {
    if (!(bits & (1u << sig)))
      continue;
    rv = pal__poll_add_source(p, PAL__SRC_SIGNAL, pal_signal_native(sig),
                              PAL__TOKEN(p, PAL__TOK_SIG));
    if (rv == APR_SUCCESS)
      done |= 1u << sig;
  }
  if (rv == PAL_EUNSUPPORTED && done == 0)
    return ensure_pipe(p);
  if (rv != APR_SUCCESS)
    detach(p, done);
  return rv;
}

static apr_status_t set_mask(pal_poll_t *p, uint32_t user, uint32_t internal) {
  uint32_t before = p->sig_user | p->sig_internal;
  uint32_t after = user | internal;
  apr_status_t rv;
  if ((rv = attach(p, after & ~before)) != APR_SUCCESS)
    return rv;
  if (before == after) {
    p->sig_user = user;
    p->sig_internal = internal;
    return APR_SUCCESS;
  }
  pthread_mutex_lock(&reg_lock);
  /* Publish the new mask (and start new sources, above) before installing
   * handlers, and withdraw it (and stop sources, below) after restoring
   * them, so no delivered signal finds no reader.  With signal sources
   * the handler still matters: it keeps the default action (death, for
   * most) from happening, and SIGCHLD from being discarded. */
  if (p->sig_slot >= 0)
    atomic_store(&slots[p->sig_slot].mask, after);
  rv = apply(before, after);
  if (rv && p->sig_slot >= 0)
    atomic_store(&slots[p->sig_slot].mask, before);
  pthread_mutex_unlock(&reg_lock);
  if (rv != APR_SUCCESS) {
    detach(p, after & ~before);
    return rv;
  }
  detach(p, before & ~after);
  p->sig_user = user;
  p->sig_internal = internal;
  return APR_SUCCESS;
}

apr_status_t pal_signal_watch(pal_poll_t *p, int signum, int on) {
  uint32_t bit;
  pthread_once(&slots_once, init_slots);
  if (signum <= 0 || signum >= PAL_NSIG)
    return APR_EINVAL;
  if (pal_signal_native(signum) < 0)
    return PAL_EUNSUPPORTED;
  if (signum == PAL_SIGKILL || signum == PAL_SIGSTOP)
    return APR_EINVAL;
  bit = 1u << signum;
  return set_mask(p, on ? (p->sig_user | bit) : (p->sig_user & ~bit),
                  p->sig_internal);
}

apr_status_t pal__signal_internal(pal_poll_t *p, int signum, int on) {
  uint32_t bit = 1u << signum;
  pthread_once(&slots_once, init_slots);
  return set_mask(p, p->sig_user,
                  on ? (p->sig_internal | bit) : (p->sig_internal & ~bit));
}

/* One arrival of portable signal `sig`; a stale one (unwatched since it
 * was fetched) finds its bit clear and is dropped. */
static void deliver(pal_poll_t *p, int sig) {
  uint32_t bit;
  if (sig <= 0 || sig >= PAL_NSIG)
    return;
  bit = 1u << sig;
  if (sig == PAL_SIGCHLD && (p->sig_internal & bit))
    pal__proc_sigchld(p);
  if ((p->sig_user & bit) && p->signal_cb)
    p->signal_cb(p, sig, p->signal_data);
}

void pal__signal_ready(pal_poll_t *p, int native) {
  unsigned char buf[64];
  ssize_t n, i;
  if (native > 0) {
    /* A signal source: arrivals since the last report come as one. */
    deliver(p, pal_signal_portable(native));
    return;
  }
  while ((n = read(p->sig_rfd, buf, sizeof buf)) > 0)
    for (i = 0; i < n; i++)
      deliver(p, buf[i]);
}

void pal__signal_destroy(pal_poll_t *p) {
  if (p->sig_user | p->sig_internal)
    set_mask(p, 0, 0);
  if (p->sig_slot >= 0) {
    pthread_mutex_lock(&reg_lock);
    atomic_store(&slots[p->sig_slot].wfd, -1);
    slot_used[p->sig_slot] = 0;
    pthread_mutex_unlock(&reg_lock);
    p->sig_slot = -1;
  }
  if (p->sig_rfd >= 0) {
    pal__poll_del(p, p->sig_rfd);
    close(p->sig_rfd);
    close(p->sig_wfd);
    p->sig_rfd = p->sig_wfd = -1;
  }
}

apr_status_t pal_signal_raise(int signum) {
  int native = pal_signal_native(signum);
  if (native < 0)
    return PAL_EUNSUPPORTED;
  if (kill(getpid(), native) < 0)
    return pal__fail("kill");
  return APR_SUCCESS;
}
