/*
 * proc.c -- child processes on POSIX.
 *
 * Map:
 *   1. the child side: everything between clone/fork and exec, shared by
 *      both ways of creating the child
 *   2. spawn on Linux: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) -- the
 *      parent is suspended until the child has exec'd or died, the child
 *      runs on a stack carved from the parent's frame, and an exec failure
 *      is written straight into the parent's memory, so every error
 *      (ENOENT, EACCES, a failed setuid...) reaches the caller exactly.
 *      This is what posix_spawn does inside glibc, plus the steps
 *      posix_spawn cannot do: rlimits, nice, CPU affinity, umask,
 *      groups/gid/uid, the parent-death signal.
 *   3. spawn elsewhere: fork + exec, errors reported through a
 *      close-on-exec pipe
 *   4. exit notification: the pidfd is watched by the poll; without
 *      pidfds, the backend's PROC source (kqueue EVFILT_PROC, NOTE_EXIT);
 *      without either, SIGCHLD arrives as a loop event and the poll's
 *      children are reaped by pid (never waitpid(-1): others' children
 *      are not ours to reap)
 *   4b. adopted children: a subreaper also reaps the orphans it adopts,
 *      and only those: the registry of pids spawned here (0.) tells them
 *      from the children whose status belongs to a handle
 *   5. kill, kill tree (the process group), close (an unfinished child
 *      is handed to an orphan record that still reaps it)
 *   6. resource usage of a child's process group: proc_usage.c (Linux),
 *      proc_pidinfo (macOS)
 */
#include "pal_posix.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#ifdef PAL_HAVE_CLONE
#include <sched.h>
#endif
#if defined(PAL_HAVE_PDEATHSIG) || defined(PAL_HAVE_SUBREAPER)
#include <sys/prctl.h>
#endif
#if defined(PAL_HAVE_SYS_PIDFD_OPEN) || defined(PAL_HAVE_CLONE_PIDFD) || \
    defined(__linux__)
#include <sys/syscall.h>   /* SYS_pidfd_open, SYS_setresuid, ... */
#endif
#if defined(__linux__)
#include <dirent.h>
#include <sched.h>         /* sched_setaffinity */
#elif defined(__APPLE__)
#include <libproc.h>
#include <mach/mach_time.h>
#endif

extern char **environ;

/* clone(CLONE_VM) on Linux, except in sanitizer builds: ASan and TSan
 * cannot follow a child that shares the parent's memory (their runtime
 * state is shared too), so those builds take the fork path, which runs
 * the very same child_main().  Valgrind turns CLONE_VM into a plain fork,
 * so under valgrind (a client request, free when not under it) the fork
 * path is taken at run time too: its error pipe still reports every
 * failure exactly. */
#if defined(PAL_HAVE_CLONE) && defined(__linux__) && !defined(VIGIL_SANITIZED)
#define PAL_SPAWN_CLONE 1
#endif
#if defined(PAL_SPAWN_CLONE) && defined(PAL_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#define PAL__USE_FORK() RUNNING_ON_VALGRIND
#elif defined(PAL_SPAWN_CLONE)
#define PAL__USE_FORK() 0
#else
#define PAL__USE_FORK() 1
#endif

enum {
  PROC_WATCHED = 1u << 0,   /* pidfd registered with the poll */
  PROC_SIGCHLD = 1u << 1,   /* on the poll's SIGCHLD list */
  PROC_GROUP = 1u << 2,     /* leader of its own process group */
  PROC_EXITED = 1u << 3,
  PROC_ORPHAN_SIGCHLD = 1u << 4,  /* orphan reaped by the SIGCHLD scan */
  PROC_SOURCE = 1u << 5,    /* pid watched by the backend's PROC source */
  PROC_ATTACHED = 1u << 6   /* not our child (pal_proc_attach): never
                               waited for, never handed to an orphan */
};

/* ---- 0. the registry of spawned pids ----------------------------------- */

/* Every child pal_proc_spawn() made and no one has reaped yet, process
 * wide (any poll, any thread).  A subreaper reaps the other children
 * (adopted orphans) and must never take one of these: its status is its
 * handle's.  A multiset: after a reap and before its removal here, the
 * pid may already belong to a new child, registered a second time.
 * known_lock is held from before clone until the new pid is in, and by
 * the reaper from its peek to its reap, so that a child which exits at
 * once is never taken for an orphan. */
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static long *known;
static size_t nknown, capknown;
static atomic_int adopting;     /* pal_set_subreaper() succeeded */

/* With known_lock held. */
static int known_add(long pid) {
  if (nknown == capknown) {
    size_t cap = capknown ? capknown * 2 : 64;
    long *k = realloc(known, cap * sizeof *k);
    if (!k)
      return -1;
    known = k;
    capknown = cap;
  }
  known[nknown++] = pid;
  return 0;
}

static int known_has(long pid) {
  size_t i;
  for (i = 0; i < nknown; i++)
    if (known[i] == pid)
      return 1;
  return 0;
}

static void known_del(long pid) {
  size_t i;
  pthread_mutex_lock(&known_lock);
  for (i = 0; i < nknown; i++)
    if (known[i] == pid) {
      known[i] = known[--nknown];
      break;
    }
  pthread_mutex_unlock(&known_lock);
}

/* ---- 1. the child side ------------------------------------------------ */

typedef struct spawn_ctx_s {
  const pal_spawn_opts_t *o;
  const char *file;             /* what to exec */
  const char *path;             /* PATH for the search, or NULL */
  char *const *argv;
  char *const *envp;
  int fds[3];                   /* descriptor for 0, 1, 2 (-1: leave) */
  int errpipe;                  /* fork path: where errno goes */
  pid_t parent;
  volatile int err;
  const char *volatile call;
  /* DIR/cgroup.procs of opts->cgroup, made by the parent: the child may
   * not allocate (it shares our memory until exec). */
  char cgroup_procs[4096];
  /* opts->groups as the kernel takes them, made by the parent (malloc'ed
   * there, freed after the spawn). */
  gid_t *groups;
#if defined(__linux__)
  cpu_set_t cpus;               /* opts->cpus, with PAL_SPAWN_AFFINITY */
#endif
} spawn_ctx_t;

static void child_fail(spawn_ctx_t *c, const char *call) {
  c->err = errno ? errno : EINVAL;
  c->call = call;
  if (c->errpipe >= 0) {
    /* After fork the string literal has the same address in the parent,
     * so the pointer itself can travel. */
    struct { int err; const char *call; } msg;
    ssize_t r;
    memset(&msg, 0, sizeof msg);   /* no uninitialised padding on the wire */
    msg.err = c->err;
    msg.call = call;
    r = write(c->errpipe, &msg, sizeof msg);
    (void)r;
  }
  _exit(127);
}

static void child_exec(spawn_ctx_t *c) {
  const char *p, *end;
  char buf[4096];
  int saw_eacces = 0;
  size_t flen;

  if (!c->path || strchr(c->file, '/')) {
    execve(c->file, c->argv, c->envp);
    child_fail(c, "execve");
  }
  flen = strlen(c->file);
  for (p = c->path; ; p = end + 1) {
    size_t dlen;
    end = strchr(p, ':');
    if (!end)
      end = p + strlen(p);
    dlen = (size_t)(end - p);
    if (dlen == 0) {
      buf[0] = '.';
      dlen = 1;
    } else if (dlen + flen + 2 <= sizeof buf) {
      memcpy(buf, p, dlen);
    } else {
      dlen = 0;
    }
    if (dlen) {
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, c->file, flen + 1);
      execve(buf, c->argv, c->envp);
      if (errno == EACCES)
        saw_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR)
        child_fail(c, "execve");
    }
    if (*end == '\0')
      break;
  }
  errno = saw_eacces ? EACCES : ENOENT;
  child_fail(c, "execve");
}

/* Supplementary groups, group, user: in that order, as initgroups +
 * setgid + setuid (each later step needs the privilege the one before
 * keeps).  On Linux the system calls are made directly: glibc's
 * setgroups/setgid/setuid broadcast the change to every thread of the
 * process (nptl's setxid), and a clone(CLONE_VM) child shares our
 * memory, where that thread list is ours (posix_spawn makes its calls
 * directly for the same reason).  A process without the privilege
 * (EPERM) keeps its own supplementary groups: it has no others to drop;
 * root must drop them. */
static void child_set_ids(spawn_ctx_t *c) {
  const pal_spawn_opts_t *o = c->o;
  if (o->flags & PAL_SPAWN_SETGID) {
    size_t n = o->ngroups > 0 ? (size_t)o->ngroups : 0;
#if defined(__linux__) && defined(SYS_setgroups32)
    long r = syscall(SYS_setgroups32, n, c->groups);
#elif defined(__linux__)
    long r = syscall(SYS_setgroups, n, c->groups);
#else
    int r = setgroups((int)n, c->groups);
#endif
    if (r < 0 && (errno != EPERM || geteuid() == 0))
      child_fail(c, "setgroups");
#if defined(__linux__) && defined(SYS_setresgid32)
    r = syscall(SYS_setresgid32, (gid_t)o->gid, (gid_t)o->gid, (gid_t)o->gid);
#elif defined(__linux__)
    r = syscall(SYS_setresgid, (gid_t)o->gid, (gid_t)o->gid, (gid_t)o->gid);
#else
    r = setgid((gid_t)o->gid);
#endif
    if (r < 0)
      child_fail(c, "setgid");
  }
  if (o->flags & PAL_SPAWN_SETUID) {
#if defined(__linux__) && defined(SYS_setresuid32)
    long r = syscall(SYS_setresuid32, (uid_t)o->uid, (uid_t)o->uid,
                     (uid_t)o->uid);
#elif defined(__linux__)
    long r = syscall(SYS_setresuid, (uid_t)o->uid, (uid_t)o->uid,
                     (uid_t)o->uid);
#else
    int r = setuid((uid_t)o->uid);
#endif
    if (r < 0)
      child_fail(c, "setuid");
  }
}

static int child_main(void *arg) {
  spawn_ctx_t *c = arg;
  const pal_spawn_opts_t *o = c->o;
  sigset_t none;
  int i, sig;

  /* Default dispositions: the child shares our memory until exec, so no
   * handler of ours may run in it, and the programs we start expect
   * defaults (SIGPIPE in particular, which the loop ignores). */
  for (sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP)
      continue;
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) {
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(sig, &sa, NULL);
    }
  }
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
    child_fail(c, "sigprocmask");

  /* Join the service's cgroup first, while still privileged (before
   * setuid), so that everything it does from here on is accounted and
   * limited there.  "0" names the writer. */
  if (c->cgroup_procs[0]) {
    int fd = open(c->cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      child_fail(c, "open(cgroup.procs)");
    if (write(fd, "0\n", 2) != 2)
      child_fail(c, "write(cgroup.procs)");
    close(fd);
  }

  if (o->flags & PAL_SPAWN_SETSID) {
    if (setsid() < 0)
      child_fail(c, "setsid");
  } else if (o->flags & PAL_SPAWN_NEW_GROUP) {
    if (setpgid(0, 0) < 0)
      child_fail(c, "setpgid");
  }

  /* Move sources out of 0..2 first so a dup2 cannot clobber one that a
   * later descriptor still needs. */
  for (i = 0; i < 3; i++) {
    if (c->fds[i] >= 0 && c->fds[i] < 3 && c->fds[i] != i) {
      c->fds[i] = fcntl(c->fds[i], F_DUPFD_CLOEXEC, 3);
      if (c->fds[i] < 0)
        child_fail(c, "fcntl");
    }
  }
  for (i = 0; i < 3; i++) {
    if (c->fds[i] < 0)
      continue;
    if (c->fds[i] == i) {
      int fl = fcntl(i, F_GETFD);
      if (fl >= 0 && (fl & FD_CLOEXEC))
        fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
    } else if (dup2(c->fds[i], i) < 0) {
      child_fail(c, "dup2");
    }
    /* O_NONBLOCK is left alone: it belongs to the open file description,
     * which a PAL_STDIO_FD descriptor shares with the parent.  The pipes
     * the PAL makes for children have a blocking child end already. */
  }

  if (o->limits) {
    struct rlimit rl;
    if (o->limits->memory) {
      rl.rlim_cur = rl.rlim_max = (rlim_t)o->limits->memory;
      if (setrlimit(RLIMIT_AS, &rl) < 0)
        child_fail(c, "setrlimit(RLIMIT_AS)");
    }
    if (o->limits->open_files) {
      rl.rlim_cur = rl.rlim_max = (rlim_t)o->limits->open_files;
      if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        child_fail(c, "setrlimit(RLIMIT_NOFILE)");
    }
#ifdef RLIMIT_NPROC
    if (o->limits->processes) {
      rl.rlim_cur = rl.rlim_max = (rlim_t)o->limits->processes;
      if (setrlimit(RLIMIT_NPROC, &rl) < 0)
        child_fail(c, "setrlimit(RLIMIT_NPROC)");
    }
#endif
  }

  /* Priority and CPUs while still privileged: a negative nice needs
   * CAP_SYS_NICE, which the switch below gives up.  The nice value is
   * absolute (as systemd's Nice=), not added to ours. */
  if (o->flags & PAL_SPAWN_NICE) {
    errno = 0;
    if (setpriority(PRIO_PROCESS, 0, o->nice) < 0)
      child_fail(c, "setpriority");
  }
#if defined(__linux__)
  if ((o->flags & PAL_SPAWN_AFFINITY) &&
      sched_setaffinity(0, sizeof c->cpus, &c->cpus) < 0)
    child_fail(c, "sched_setaffinity");
#endif
  if (o->flags & PAL_SPAWN_UMASK)
    umask((mode_t)(o->umask & 0777));

  if (o->cwd && chdir(o->cwd) < 0)
    child_fail(c, "chdir");

  child_set_ids(c);

  /* After the switch: the kernel clears the parent-death signal when the
   * credentials change (commit_creds), so it is armed last. */
#ifdef PAL_HAVE_PDEATHSIG
  if (o->flags & PAL_SPAWN_PDEATHSIG) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
      child_fail(c, "prctl");
    if (getppid() != c->parent)
      _exit(127);   /* the parent died before we armed the signal */
  }
#endif

  child_exec(c);
  return 127;
}

/* ---- 2./3. spawn ------------------------------------------------------ */

/* Our pid, read once (a system call per spawn otherwise) and forgotten
 * in the child of a fork(), which has a pid of its own. */
static atomic_long self_pid;
static pthread_once_t self_pid_once = PTHREAD_ONCE_INIT;

static void self_pid_forked(void) { atomic_store(&self_pid, 0); }

static void self_pid_init(void) {
  pthread_atfork(NULL, NULL, self_pid_forked);
}

static pid_t pid_of_self(void) {
  long pid;
  pthread_once(&self_pid_once, self_pid_init);
  pid = atomic_load(&self_pid);
  if (pid == 0) {
    pid = (long)getpid();
    atomic_store(&self_pid, pid);
  }
  return (pid_t)pid;
}

/* /dev/null, opened once for reading (a child's stdin) and once for
 * writing, close-on-exec, and kept: a spawn that gives a child no stdin
 * (the supervisor's services) paid an open and a close, the open's path
 * walk the dearest system call between an exit and the next spawn.  Each
 * use checks the descriptor still is /dev/null, open for the way it is
 * used (fstat and F_GETFL, no path walk): a program that closed it, or
 * reused its number, gets a fresh one.  Kept
 * across fork() (close-on-exec only drops it at exec). */
static atomic_int null_fd[2] = {-1, -1};
static atomic_ullong null_rdev;   /* its device number, 0 until known */

static int is_dev_null(int fd, int wr) {
  struct stat st;
  int fl;
  if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) ||
      (unsigned long long)st.st_rdev != atomic_load(&null_rdev))
    return 0;
  /* And open the way the child needs it: a /dev/null reopened read-only
   * under the number of the kept write end would fail its writes. */
  fl = fcntl(fd, F_GETFL);
  return fl >= 0 && ((fl & O_ACCMODE) == O_RDWR ||
                     (fl & O_ACCMODE) == (wr ? O_WRONLY : O_RDONLY));
}

static int dev_null(int wr) {
  int cur = atomic_load(&null_fd[wr]), fd;
  struct stat st;
  if (cur >= 0 && is_dev_null(cur, wr))
    return cur;
  fd = open("/dev/null", (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
    close(fd);
    errno = ENODEV;
    return -1;
  }
  atomic_store(&null_rdev, (unsigned long long)st.st_rdev);
  /* A stale number found above is left alone (it is someone else's
   * now); if another thread kept a fresh one meanwhile, that one is. */
  if (atomic_compare_exchange_strong(&null_fd[wr], &cur, fd))
    return fd;
  close(fd);
  return cur;
}

static int open_stdio(const pal_stdio_t *s, int i, int *owned) {
  int fd;
  *owned = -1;
  switch (s->kind) {
  case PAL_STDIO_INHERIT:
    return i;
  case PAL_STDIO_FD:
    return (int)s->fd;
  case PAL_STDIO_NULL:
    fd = dev_null(i != 0);
    if (fd < 0) {
      pal__last_call = "open(/dev/null)";
      return -2;
    }
    return fd;   /* not owned: kept for the next spawn */
  case PAL_STDIO_FILE:
    if (!s->path) {
      errno = EINVAL;
      return -2;
    }
    fd = open(s->path,
              i == 0 ? (O_RDONLY | O_CLOEXEC)
                     : (O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC),
              0644);
    if (fd < 0) {
      pal__last_call = "open";
      return -2;
    }
    *owned = fd;
    return fd;
  default:
    errno = EINVAL;
    return -2;
  }
}

#ifdef PAL_SPAWN_CLONE
#define CHILD_STACK_SIZE (64 * 1024)
#ifdef PAL_HAVE_CLONE_PIDFD
static atomic_int no_clone_pidfd;
#endif

/* A pidfd for the child in *pidfd if `want_pidfd` and the kernel has
 * CLONE_PIDFD. */
static pid_t spawn_clone(spawn_ctx_t *c, int want_pidfd, int *pidfd) {
  /* The child runs on this buffer while we are suspended: it is part of
   * our frame and nothing else touches it until clone returns. */
  _Alignas(16) char stack[CHILD_STACK_SIZE];
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
  pid_t pid;
  *pidfd = -1;
#ifdef PAL_HAVE_CLONE_PIDFD
  if (want_pidfd && !atomic_load(&no_clone_pidfd)) {
    pid = clone(child_main, stack + sizeof stack, flags | CLONE_PIDFD, c,
                pidfd);
    if (pid >= 0 || errno != EINVAL)
      return pid;
    atomic_store(&no_clone_pidfd, 1);   /* kernel older than 5.2 */
    *pidfd = -1;
  }
#else
  (void)want_pidfd;
#endif
  pid = clone(child_main, stack + sizeof stack, flags, c);
  return pid;
}
#endif

static pid_t spawn_fork(spawn_ctx_t *c) {
  struct { int err; const char *call; } msg = {0, NULL};
  int ep[2];
  ssize_t n;
  pid_t pid;
  if (pipe(ep) < 0)
    return -1;
  pal__set_cloexec(ep[0], 1);
  pal__set_cloexec(ep[1], 1);
  c->errpipe = ep[1];
  pid = fork();
  if (pid == 0) {
    close(ep[0]);
    child_main(c);
    _exit(127);
  }
  close(ep[1]);
  c->errpipe = -1;
  if (pid < 0) {
    close(ep[0]);
    return -1;
  }
  do
    n = read(ep[0], &msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (n == (ssize_t)sizeof msg) {
    c->err = msg.err;
    c->call = msg.call ? msg.call : "execve";
  }
  return pid;
}

static int open_pidfd(pid_t pid) {
#if defined(PAL_HAVE_SYS_PIDFD_OPEN)
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

/* Learn of the exit of a child that has no pidfd: the backend's PROC
 * source (kqueue EVFILT_PROC), else SIGCHLD as a loop event and a scan by
 * pid.  The scan is also the answer when the source refuses a child that
 * is exiting already (ESRCH): its first round is forced here, and the
 * kernel's own SIGCHLD follows the child becoming reapable.  A handle
 * goes on the poll's SIGCHLD list; an orphan record is on the orphan
 * list already, which the scan also walks. */
static apr_status_t watch_pid(pal_proc_t *proc, int orphan) {
  pal_poll_t *p = proc->poll;
  apr_status_t rv;
  if (pal__poll_add_source(p, PAL__SRC_PROC, proc->pid,
                           PAL__TOKEN(proc, PAL__TOK_PROC)) == APR_SUCCESS) {
    proc->flags |= PROC_SOURCE;
    return APR_SUCCESS;
  }
  rv = pal__signal_internal(p, PAL_SIGCHLD, 1);
  if (rv != APR_SUCCESS)
    return rv;
  if (orphan) {
    proc->flags |= PROC_ORPHAN_SIGCHLD;
  } else {
    proc->flags |= PROC_SIGCHLD;
    proc->next = p->procs;
    p->procs = proc;
  }
  pal_signal_raise(PAL_SIGCHLD);
  return APR_SUCCESS;
}

apr_status_t pal_proc_spawn(pal_poll_t *p, pal_proc_t *proc,
                            const pal_spawn_opts_t *o, pal_exit_cb exit_cb) {
  spawn_ctx_t c;
  int owned[3] = {-1, -1, -1};
  int i, pidfd = -1, use_pidfd = 1;
  sigset_t all, old;
  pid_t pid;
  apr_status_t rv = APR_SUCCESS;

  if (!o || !o->argv || !o->argv[0])
    return APR_EINVAL;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.file = o->file ? o->file : o->argv[0];
  c.argv = (char *const *)o->argv;
  c.envp = o->env ? (char *const *)o->env : environ;
  c.errpipe = -1;
  c.parent = pid_of_self();
  if (o->cgroup) {
#if defined(__linux__)
    int n = snprintf(c.cgroup_procs, sizeof c.cgroup_procs,
                     "%s/cgroup.procs", o->cgroup);
    if (n < 0 || (size_t)n >= sizeof c.cgroup_procs)
      return APR_ENAMETOOLONG;
#else
    return PAL_EUNSUPPORTED;   /* cgroups are Linux's */
#endif
  }
  if ((o->flags & PAL_SPAWN_SETGID) && o->ngroups > 0) {
    c.groups = malloc((size_t)o->ngroups * sizeof *c.groups);
    if (!c.groups)
      return APR_ENOMEM;
    for (i = 0; i < o->ngroups; i++)
      c.groups[i] = (gid_t)o->groups[i];
  }
#if defined(__linux__)
  if ((o->flags & PAL_SPAWN_AFFINITY) && o->cpus) {
    CPU_ZERO(&c.cpus);
    for (i = 0; i < PAL_CPUSET_MAX && i < CPU_SETSIZE; i++)
      if ((o->cpus->bits[i / 64] >> (i % 64)) & 1)
        CPU_SET(i, &c.cpus);
  } else if (o->flags & PAL_SPAWN_AFFINITY) {
    free(c.groups);
    return APR_EINVAL;
  }
#endif
  if (o->flags & PAL_SPAWN_SEARCH_PATH) {
    const char *const *e;
    c.path = NULL;
    for (e = (const char *const *)c.envp; e && *e; e++)
      if (strncmp(*e, "PATH=", 5) == 0)
        c.path = *e + 5;
    if (!c.path)
      c.path = "/usr/local/bin:/usr/bin:/bin";
  }
  for (i = 0; i < 3; i++) {
    c.fds[i] = open_stdio(&o->stdio[i], i, &owned[i]);
    if (c.fds[i] == -2) {
      rv = pal_err_from_os(errno);
      goto done;
    }
  }

  pal__proc_init(proc, p, exit_cb);
  proc->limit_cb = o->limit_cb;

  if (PAL__UNLIKELY(pal__faults_armed) && pal__fault_hit(PAL_SYS_SPAWN)) {
    rv = pal__fail("clone");
    goto done;
  }

  /* The fault seam's PAL_SYS_PIDFD: a child without a pidfd, as on a
   * kernel before 5.3 (its exit comes through SIGCHLD). */
  if (PAL__UNLIKELY(pal__faults_armed) && pal__fault_hit(PAL_SYS_PIDFD))
    use_pidfd = 0;

  /* No signal handler may run between clone and the child's reset; no
   * reaper of orphans may peek at the child before it is registered. */
  pthread_mutex_lock(&known_lock);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
#ifdef PAL_SPAWN_CLONE
  if (!PAL__USE_FORK()) {
    pid = spawn_clone(&c, use_pidfd, &pidfd);
    if (pid < 0)
      pal__last_call = "clone";
  } else
#endif
  {
    pid = spawn_fork(&c);
    if (pid < 0)
      pal__last_call = "fork";
  }
  i = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = i;

  if (pid < 0) {
    rv = pal_err_from_os(errno);
    pthread_mutex_unlock(&known_lock);
    goto done;
  }
  if (c.err || known_add((long)pid) < 0) {
    /* The child failed before exec and has already exited, or it cannot
     * be told from an orphan: do not leave it running. */
    int st;
    if (c.err) {
      pal__last_call = c.call;
      rv = pal_err_from_os(c.err);
    } else {
      pal__last_call = "malloc";
      rv = APR_ENOMEM;
      kill(pid, SIGKILL);
    }
    if (pidfd >= 0)
      close(pidfd);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
      ;
    pthread_mutex_unlock(&known_lock);
    goto done;
  }
  pthread_mutex_unlock(&known_lock);

  proc->pid = (long)pid;
  if (o->flags & (PAL_SPAWN_NEW_GROUP | PAL_SPAWN_SETSID)) {
    proc->flags |= PROC_GROUP;
    proc->os[0] = (intptr_t)pid;   /* the group id survives the leader */
  }
  if (pidfd < 0 && use_pidfd)
    pidfd = open_pidfd(pid);
  if (pidfd >= 0 &&
      pal__poll_add(p, pidfd, PAL__IN, PAL__TOKEN(proc, PAL__TOK_PROC)) ==
          APR_SUCCESS) {
    proc->handle = pidfd;
    proc->flags |= PROC_WATCHED;
  } else {
    if (pidfd >= 0)
      close(pidfd);
    rv = watch_pid(proc, 0);
    if (rv != APR_SUCCESS) {
      /* No way to learn of its exit: do not leave it running. */
      int st;
      kill(pid, SIGKILL);
      while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
      known_del((long)pid);
      proc->pid = 0;
      goto done;
    }
  }
  if (atomic_load(&adopting) && !p->reaps_adopted &&
      pal__signal_internal(p, PAL_SIGCHLD, 1) == APR_SUCCESS)
    p->reaps_adopted = 1;   /* its children's orphans come to us */

done:
  for (i = 0; i < 3; i++)
    if (owned[i] >= 0)
      close(owned[i]);
  free(c.groups);
  return rv;
}

/* ---- 4c. attached processes ---------------------------------------------- */

/* A process we did not spawn: watched by a pidfd (Linux 5.3), which
 * names that process and no later one with its pid, or by the backend's
 * PROC source (kqueue's EVFILT_PROC takes any process we may signal).
 * There is no SIGCHLD fallback: only a parent hears of a child's exit. */
/* The watch is set first, then pid is checked to still be process `id`:
 * a pidfd (or a kqueue registration) names the process that had the pid
 * when it was made, and if pid is still `id` after that, that process
 * is `id` (a process that existed before cannot be given a pid later). */
static void stop_watching(pal_proc_t *proc);

static apr_status_t attach_check(pal_proc_t *proc, uint64_t id) {
  if (!id || pal__pid_id(proc->pid) == id)
    return APR_SUCCESS;
  stop_watching(proc);
  proc->pid = 0;
  return PAL_ENOPROC;
}

apr_status_t pal_proc_attach(pal_poll_t *p, pal_proc_t *proc, long pid,
                             uint64_t id, pal_exit_cb exit_cb) {
  apr_status_t rv;
  int pidfd;
  if (pid <= 1 || pid == (long)getpid())
    return APR_EINVAL;
  pal__proc_init(proc, p, exit_cb);
  proc->pid = pid;
  proc->flags = PROC_ATTACHED;
  pidfd = open_pidfd((pid_t)pid);
  if (pidfd >= 0) {
    rv = pal__poll_add(p, pidfd, PAL__IN, PAL__TOKEN(proc, PAL__TOK_PROC));
    if (rv != APR_SUCCESS) {
      close(pidfd);
      proc->pid = 0;
      return rv;
    }
    proc->handle = pidfd;
    proc->flags |= PROC_WATCHED;
    return attach_check(proc, id);
  }
  if (errno == ESRCH) {
    proc->pid = 0;
    return PAL_ENOPROC;
  }
  rv = pal__poll_add_source(p, PAL__SRC_PROC, pid,
                            PAL__TOKEN(proc, PAL__TOK_PROC));
  if (rv == APR_SUCCESS) {
    proc->flags |= PROC_SOURCE;
    return attach_check(proc, id);
  }
  proc->pid = 0;
  if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
    return PAL_ENOPROC;
  pal__last_call = "pidfd_open";
  return rv == PAL_EUNSUPPORTED || rv == APR_SUCCESS ? PAL_EUNSUPPORTED : rv;
}

const char *pal_spawn_unsupported(unsigned flag) {
#if !defined(__linux__)
  if (flag & PAL_SPAWN_AFFINITY)
    return "this system has no CPU affinity for a process (macOS has "
           "none)";
#endif
  (void)flag;
  return NULL;
}

const char *pal_nice_class(int nice) {
  (void)nice;
  return NULL;
}

const char *pal_rlimit_unenforced(int which) {
  if (which == PAL_LIMIT_PROCESSES && geteuid() == 0)
    return "does not bind root (the service runs as root, as vigil does) "
           "until it switches to another user";
#if defined(__APPLE__)
  if (which == PAL_LIMIT_MEMORY)
    return "macOS does not enforce";
#endif
  return NULL;
}

int pal_limit_hold(int which, const char **rlimit, const char **counts,
                   const char **why) {
  const char *r = NULL, *c = NULL;
  int how = PAL_HOLD_NONE;
  switch (which) {
  case PAL_LIMIT_MEMORY:
    how = PAL_HOLD_RLIMIT;
    r = "RLIMIT_AS";
    c = "address space, not resident memory";
    break;
  case PAL_LIMIT_PROCESSES:
    how = PAL_HOLD_RLIMIT;
    r = "RLIMIT_NPROC";
    c = "all processes of the user";
    break;
  case PAL_LIMIT_OPEN_FILES:
    how = PAL_HOLD_EXACT;   /* RLIMIT_NOFILE */
    break;
  default:                  /* CPU: no rlimit caps a rate */
    break;
  }
  if (rlimit)
    *rlimit = r;
  if (counts)
    *counts = c;
  if (why)
    *why = NULL;            /* the cgroup's reason is the reason */
  return how;
}

int pal_stop_signal(int sig) { return sig; }

int pal_spawn_permanent(apr_status_t rv) {
  if (rv == APR_EINVAL || rv == PAL_EUNSUPPORTED)
    return 1;
  switch (rv) {   /* errno values (error.c) */
  case EACCES:      /* not executable, or a directory on the way */
  case EPERM:       /* a nosuid mount, a uid not ours */
  case ENOEXEC:     /* not a format the kernel runs (and no #!) */
  case E2BIG:       /* arguments and environment too long */
  case ENAMETOOLONG:
  case ENOTDIR:
  case ELOOP:
  case EISDIR:
    return 1;
  default:
    return 0;
  }
}

/* ---- 4. exit notification ---------------------------------------------- */

/* Keep the internal SIGCHLD watch exactly while some child needs it. */
static void sigchld_update(pal_poll_t *p) {
  pal_proc_t *o;
  int need = p->procs != NULL || p->reaps_adopted;
  for (o = p->orphans; o && !need; o = o->next)
    need = (o->flags & PROC_ORPHAN_SIGCHLD) != 0;
  if (!need)
    pal__signal_internal(p, PAL_SIGCHLD, 0);
}

static void unlink_sigchld(pal_poll_t *p, pal_proc_t *proc) {
  pal_proc_t **pp;
  for (pp = &p->procs; *pp; pp = &(*pp)->next)
    if (*pp == proc) {
      *pp = proc->next;
      break;
    }
  proc->flags &= ~PROC_SIGCHLD;
  sigchld_update(p);
}

/* Reap proc if it has exited: 1 if it was, 0 if still running.  `block`
 * when the child is known to be exiting: kqueue reports NOTE_EXIT a
 * moment before waitpid can reap the child (macOS, FreeBSD, OpenBSD: a
 * WNOHANG there may still say "running"), and that report comes once. */

static int reap(pal_proc_t *proc, int *code, int *sig, int block) {
  int st;
  pid_t r;
  if (proc->flags & PROC_ATTACHED) {
    /* Its pidfd or source fired: it has exited.  Its status is its
     * parent's (or, adopted by a subreaper, the reaper's) to read. */
    *code = -1;
    *sig = 0;
    return 1;
  }
  do
    r = waitpid((pid_t)proc->pid, &st, block ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return 0;
  if (r < 0) {
    /* Someone else reaped it (SIGCHLD set to SIG_IGN by a library?). */
    *code = -1;
    *sig = 0;
  } else if (WIFEXITED(st)) {
    *code = WEXITSTATUS(st);
    *sig = 0;
  } else if (WIFSIGNALED(st)) {
    *code = -1;
    *sig = pal_signal_portable(WTERMSIG(st));
    if (*sig == 0)
      *sig = 100 + WTERMSIG(st);   /* no portable name: keep it distinct */
  } else {
    return 0;   /* stopped or continued */
  }
  known_del(proc->pid);
  /* An orphan that exited behind this child waited for it (below). */
  pal__proc_reap_adopted();
  return 1;
}

/* ---- 4b. adopted children ------------------------------------------------ */

void pal__proc_adopting(void) { atomic_store(&adopting, 1); }

int pal__proc_known(long pid) {
  int k;
  pthread_mutex_lock(&known_lock);
  k = known_has(pid);
  pthread_mutex_unlock(&known_lock);
  return k;
}

/* Reap every exited child that no handle waits for: the orphans a
 * subreaper adopts.  waitid(WNOWAIT) peeks at an exited child without
 * reaping it; one of ours stops the scan (the kernel reports the same
 * child until it is reaped), and its reap() scans again, so an orphan
 * behind it waits no longer than the child's own exit notification. */
void pal__proc_reap_adopted(void) {
  siginfo_t si;
  int st, r;
  if (!atomic_load(&adopting))
    return;
  pthread_mutex_lock(&known_lock);
  for (;;) {
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 || si.si_pid <= 0)
      break;   /* none has exited (ECHILD: no child at all) */
    if (known_has((long)si.si_pid))
      break;
    while (waitpid(si.si_pid, &st, WNOHANG) < 0 && errno == EINTR)
      ;
  }
  pthread_mutex_unlock(&known_lock);
}

static void stop_watching(pal_proc_t *proc) {
  if (proc->flags & PROC_SOURCE) {
    pal__unwatch_source(proc->poll, PAL__SRC_PROC, proc->pid,
                        PAL__TOKEN(proc, PAL__TOK_PROC));
    proc->flags &= ~PROC_SOURCE;
  }
  if (proc->flags & PROC_WATCHED) {
    pal__unwatch(proc->poll, (int)proc->handle,
                 PAL__TOKEN(proc, PAL__TOK_PROC));
    close((int)proc->handle);
    proc->handle = PAL_INVALID_FD;
    proc->flags &= ~PROC_WATCHED;
  }
  if (proc->flags & PROC_SIGCHLD)
    unlink_sigchld(proc->poll, proc);
}

static void orphan_free(pal_proc_t *o) {
  pal_poll_t *p = o->poll;
  pal_proc_t **pp;
  for (pp = &p->orphans; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      break;
    }
  free(o);
  sigchld_update(p);
}

void pal__proc_ready(pal_proc_t *proc) {
  int code, sig;
  /* pid 0 would make waitpid reap any child of our group: a handle closed
   * earlier in this dispatch has none. */
  if (proc->pid <= 0 ||
      !reap(proc, &code, &sig, (proc->flags & PROC_SOURCE) != 0))
    return;
  proc->flags |= PROC_EXITED;
  stop_watching(proc);
  proc->pid = 0;
  if (proc->exit_cb)
    proc->exit_cb(proc, code, sig);
  else
    orphan_free(proc);
}

void pal__proc_sigchld(pal_poll_t *p) {
  pal_proc_t *proc, *next;
  /* Orphans first: an exit_cb below may add to that list. */
  for (proc = p->orphans; proc; proc = next) {
    next = proc->next;
    if (!(proc->flags & (PROC_WATCHED | PROC_SOURCE)))
      pal__proc_ready(proc);
  }
  for (proc = p->procs; proc; proc = next) {
    next = proc->next;
    pal__proc_ready(proc);
  }
  pal__proc_reap_adopted();
}

/* ---- 5. kill and close --------------------------------------------------- */

static apr_status_t kill_err(void) {
  if (errno == ESRCH)
    return PAL_ENOPROC;
  return pal__fail("kill");
}

/* The OS signal `native` to the child alone: through its pidfd where it
 * has one (no pid reuse race), else kill(2). */
static apr_status_t send_native(pal_proc_t *proc, int native) {
  if (proc->pid <= 0 || (proc->flags & PROC_EXITED))
    return PAL_ENOPROC;
#if defined(SYS_pidfd_send_signal)
  if (proc->flags & PROC_WATCHED) {
    if (syscall(SYS_pidfd_send_signal, (int)proc->handle, native, NULL, 0) ==
        0)
      return APR_SUCCESS;
    if (errno != ENOSYS)
      return kill_err();
  }
#endif
  if (kill((pid_t)proc->pid, native) < 0)
    return kill_err();
  return APR_SUCCESS;
}

apr_status_t pal_proc_kill(pal_proc_t *proc, int signum) {
  int native = pal_signal_native(signum);
  if (native < 0)
    return PAL_EUNSUPPORTED;
  return send_native(proc, native);
}

/* Any signal the OS has: a portable name, or its own number as kill(1)
 * takes it (NSIG bounds the numbers; 0 is a probe, not a signal). */
apr_status_t pal_proc_signal(pal_proc_t *proc, int signum, int native) {
  int n = native ? signum : pal_signal_native(signum);
  if (native && (signum <= 0 || signum >= NSIG))
    return APR_EINVAL;
  if (n <= 0)
    return PAL_EUNSUPPORTED;
  return proc ? send_native(proc, n) : APR_SUCCESS;
}

apr_status_t pal_proc_kill_tree(pal_proc_t *proc, int signum) {
  int native = pal_signal_native(signum);
  pid_t pgid = (pid_t)proc->os[0];
  if (native < 0)
    return PAL_EUNSUPPORTED;
  if (!(proc->flags & PROC_GROUP))
    return pal_proc_kill(proc, signum);
  /* The group outlives its leader: after the leader exited, what it left
   * behind is still reachable through its group id (the kernel does not
   * reuse a pid while a group of that id exists). */
  if (pgid == 0)
    pgid = (pid_t)proc->pid;
  if (pgid <= 0)
    return PAL_ENOPROC;
  if (kill(-pgid, native) < 0)
    return kill_err();
  return APR_SUCCESS;
}

apr_status_t pal_pid_kill(long pid, int signum, int group) {
  int native = pal_signal_native(signum);
  if (native < 0)
    return PAL_EUNSUPPORTED;
  if (pid <= 0)
    return APR_EINVAL;
  if (kill(group ? -(pid_t)pid : (pid_t)pid, native) < 0)
    return kill_err();
  return APR_SUCCESS;
}

long pal_proc_group(const pal_proc_t *proc) {
  return (proc->flags & PROC_GROUP) ? (long)proc->os[0] : 0;
}

long pal_getpid(void) { return (long)getpid(); }

void pal_proc_close(pal_proc_t *proc) {
  pal_proc_t *o;
  if (proc->flags & (PROC_EXITED | PROC_ATTACHED) || proc->pid <= 0) {
    stop_watching(proc);
    proc->pid = 0;
    return;
  }
  /* Still running: hand the watch to an orphan record that reaps it, so
   * no zombie is left behind and the caller may free proc now. */
  o = malloc(sizeof *o);
  if (!o) {
    stop_watching(proc);
    return;
  }
  *o = *proc;
  o->exit_cb = NULL;
  o->data = NULL;
  o->next = proc->poll->orphans;
  proc->poll->orphans = o;
  if (proc->flags & PROC_WATCHED) {
    pal__unwatch(proc->poll, (int)proc->handle,
                 PAL__TOKEN(proc, PAL__TOK_PROC));
    if (pal__poll_add(o->poll, (int)o->handle, PAL__IN,
                      PAL__TOKEN(o, PAL__TOK_PROC)) != APR_SUCCESS) {
      close((int)o->handle);
      o->flags &= ~PROC_WATCHED;
    }
  } else if (proc->flags & PROC_SOURCE) {
    /* Re-key the source to the orphan; if the child is exiting already
     * the source refuses it and watch_pid() takes the SIGCHLD path. */
    pal__unwatch_source(proc->poll, PAL__SRC_PROC, proc->pid,
                        PAL__TOKEN(proc, PAL__TOK_PROC));
    o->flags &= ~PROC_SOURCE;
    watch_pid(o, 1);
  } else if (proc->flags & PROC_SIGCHLD) {
    /* o is reaped by the SIGCHLD scan of the orphan list, which needs the
     * internal SIGCHLD watch: take it before proc lets it go. */
    pal__signal_internal(proc->poll, PAL_SIGCHLD, 1);
    unlink_sigchld(proc->poll, proc);
    o->flags &= ~PROC_SIGCHLD;
    o->flags |= PROC_ORPHAN_SIGCHLD;
  }
  proc->flags &= ~(PROC_WATCHED | PROC_SIGCHLD | PROC_SOURCE);
  proc->handle = PAL_INVALID_FD;
  proc->pid = 0;
}

void pal__proc_destroy(pal_poll_t *p) {
  pal_proc_t *o, *next;
  int code, sig;
  for (o = p->orphans; o; o = next) {
    next = o->next;
    if (o->flags & PROC_WATCHED)
      close((int)o->handle);
    /* Last chance.  One still running is nobody's now: an orphan to a
     * subreaper's scan (init reaps it otherwise). */
    if (!reap(o, &code, &sig, 0))
      known_del(o->pid);
    free(o);
  }
  p->orphans = NULL;
}

/* ---- 6. resource usage --------------------------------------------------- */

/* The key a process is counted under: its group when it has its own,
 * else its pid alone. */
static pid_t group_of(const pal_proc_t *proc) {
  /* The group id survives its leader (see pal_proc_kill_tree). */
  return (proc->flags & PROC_GROUP) ? (pid_t)proc->os[0] : 0;
}

static int watched(const pal_proc_t *proc) {
  return proc->pid > 0 && !(proc->flags & PROC_EXITED);
}

#if defined(__linux__)
/* The key of each watched child (its group, or -pid alone: see
 * proc_usage.c), measured once per distinct key. */
void pal_proc_usage_many(pal_proc_t *const *procs, size_t n,
                         pal_usage_t *out) {
  long *keys = malloc((n ? n : 1) * sizeof *keys);
  pal_usage_t *per = malloc((n ? n : 1) * sizeof *per);
  size_t i, k = 0;
  memset(out, 0, n * sizeof *out);
  if (keys && per) {
    for (i = 0; i < n; i++)
      if (procs[i] && watched(procs[i]))
        keys[k++] = group_of(procs[i]) > 0 ? (long)group_of(procs[i])
                                            : -procs[i]->pid;
    k = pal__usage_sort_keys(keys, k);
    pal__usage_keys(keys, k, per);
    for (i = 0; i < n; i++)
      if (procs[i] && watched(procs[i])) {
        long key = group_of(procs[i]) > 0 ? (long)group_of(procs[i])
                                           : -procs[i]->pid;
        const long *at = bsearch(&key, keys, k, sizeof *keys, pal__by_long);
        if (at)
          out[i] = per[at - keys];
      }
  }
  free(keys);
  free(per);
}

static apr_status_t usage_os(pal_proc_t *proc, pal_usage_t *out) {
  pal_proc_usage_many(&proc, 1, out);
  return out->processes ? APR_SUCCESS : PAL_ENOPROC;
}
#elif defined(__APPLE__)
static void usage_one(pid_t pid, pal_usage_t *out) {
  static mach_timebase_info_data_t tb;
  struct proc_taskinfo ti;
  if (proc_pidinfo(pid, PROC_PIDTASKINFO, 0, &ti, (int)sizeof ti) !=
      (int)sizeof ti)
    return;
  if (tb.denom == 0 && mach_timebase_info(&tb) != KERN_SUCCESS)
    tb.numer = tb.denom = 1;
  /* Task times are in mach absolute time units (nanoseconds on Intel,
   * not on Apple silicon). */
  out->cpu_usec += (ti.pti_total_user + ti.pti_total_system) * tb.numer /
                   tb.denom / 1000u;
  out->rss_bytes += ti.pti_resident_size;
  out->processes++;
}

static apr_status_t usage_os(pal_proc_t *proc, pal_usage_t *out) {
  pid_t pgid = group_of(proc);
  if (pgid > 0) {
    pid_t pids[1024];
    int i, n = proc_listpgrppids(pgid, pids, (int)sizeof pids);
    if (n < 0)
      return pal__fail("proc_listpgrppids");
    if (n > (int)(sizeof pids / sizeof pids[0]))
      n = (int)(sizeof pids / sizeof pids[0]);
    for (i = 0; i < n; i++)
      usage_one(pids[i], out);
  } else {
    usage_one((pid_t)proc->pid, out);
  }
  return out->processes ? APR_SUCCESS : PAL_ENOPROC;
}
#endif

apr_status_t pal_proc_usage(pal_proc_t *proc, pal_usage_t *out) {
  memset(out, 0, sizeof *out);
  if (!watched(proc))
    return PAL_ENOPROC;
#if defined(__linux__) || defined(__APPLE__)
  return usage_os(proc, out);
#else
  return PAL_EUNSUPPORTED;
#endif
}
