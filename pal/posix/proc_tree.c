/*
 * proc_tree.c -- the processes a child left outside its process group,
 * and the sweep of a supervisor's descendants, without cgroups (Linux,
 * from /proc).  Elsewhere (pal/common/proc_tree_none.c) both calls are
 * PAL_EUNSUPPORTED.
 *
 * Map:
 *   1. a snapshot of /proc: pid, parent, group, state and start time of
 *      every process, sorted by pid
 *   2. who descends from us: a subreaper (pal_set_subreaper) keeps every
 *      orphan of its children among its descendants, so nothing a child
 *      started is looked for anywhere else -- an unrelated process of the
 *      machine is never a candidate, whatever its environment says
 *   3. who belongs to a child: its pid, its process group, an environment
 *      holding the child's mark (VIGIL_INVOCATION_ID=..., inherited by
 *      all it starts), and, transitively, their children
 *   4. signalling a process of the snapshot: through a pidfd opened and
 *      then checked against the start time the snapshot read, so a pid
 *      reused meanwhile is never hit
 *   5. the leftovers of a supervisor that was killed: no longer our
 *      descendants, found machine-wide by the invocation ids it recorded
 *
 * This is the fallback for a supervisor without a cgroup of its own for
 * each service; a cgroup lists its members exactly (cgroup.c).  What it
 * cannot find: a process that both left the group and replaced its
 * environment block (an execve with another environment) once its parent
 * died; the sweep at exit still ends it.
 */
#include "pal_posix.h"

#if defined(__linux__)

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(PAL_HAVE_SYS_PIDFD_OPEN)
#include <sys/syscall.h>
#endif

/* ---- 1. the snapshot ----------------------------------------------------- */

typedef struct ent_s {
  long pid, ppid, pgrp;
  unsigned long long start;     /* clock ticks since boot */
  char state;                   /* 'Z': a zombie */
  signed char below;            /* descends from us: -1 unknown, 0, 1 */
  signed char ours;             /* belongs to the child: -1 unknown, 0, 1 */
} ent_t;

typedef struct snap_s {
  ent_t *e;
  size_t n, cap;
  long self;
} snap_t;

int pal__proc_read(long pid, const char *name, char *buf, size_t size) {
  char path[64];
  ssize_t n;
  int fd;
  snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return 1;
}

int pal__proc_stat(long pid, pal__pstat_t *out) {
  char buf[1024], *p;
  if (!pal__proc_read(pid, "stat", buf, sizeof buf))
    return 0;
  /* Fields 3 (state), 4 (parent), 5 (group), 14 and 15 (utime, stime),
   * 22 (start time), 24 (resident pages), counted from the last ')':
   * the command name may hold spaces and parentheses. */
  p = strrchr(buf, ')');
  return p && sscanf(p + 1,
                     " %c %ld %ld %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
                     " %*d %*d %*d %*d %*d %*d %llu %*u %lld",
                     &out->state, &out->ppid, &out->pgrp, &out->utime,
                     &out->stime, &out->start, &out->rss) == 7;
}

/* One process of the snapshot; 0 if it is gone. */
static int stat_read(long pid, ent_t *out) {
  pal__pstat_t st;
  if (!pal__proc_stat(pid, &st))
    return 0;
  out->pid = pid;
  out->ppid = st.ppid;
  out->pgrp = st.pgrp;
  out->start = st.start;
  out->state = st.state;
  out->below = out->ours = -1;
  return 1;
}

static int by_pid(const void *a, const void *b) {
  long x = ((const ent_t *)a)->pid, y = ((const ent_t *)b)->pid;
  return (x > y) - (x < y);
}

static apr_status_t snap_take(snap_t *s) {
  struct dirent *de;
  DIR *d = opendir("/proc");
  memset(s, 0, sizeof *s);
  s->self = (long)getpid();
  if (!d)
    return pal__fail("opendir(/proc)");
  while ((de = readdir(d)) != NULL) {
    char *end;
    long pid;
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    pid = strtol(de->d_name, &end, 10);
    if (*end != '\0')
      continue;
    if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 256;
      ent_t *e = realloc(s->e, cap * sizeof *e);
      if (!e) {
        closedir(d);
        free(s->e);
        s->e = NULL;
        return APR_ENOMEM;
      }
      s->e = e;
      s->cap = cap;
    }
    if (stat_read(pid, &s->e[s->n]))
      s->n++;
  }
  closedir(d);
  qsort(s->e, s->n, sizeof *s->e, by_pid);
  return APR_SUCCESS;
}

static ent_t *snap_find(snap_t *s, long pid) {
  ent_t key;
  key.pid = pid;
  return s->n ? bsearch(&key, s->e, s->n, sizeof *s->e, by_pid) : NULL;
}

/* ---- 2. descendants ------------------------------------------------------ */

/* Bounds the walks up the tree (a snapshot is not atomic: a cycle of
 * reused pids is unlikely but must not recurse for ever). */
#define MAX_DEPTH 512

static int below(snap_t *s, ent_t *e, int depth) {
  ent_t *parent;
  if (e->below >= 0)
    return e->below;
  if (e->pid == s->self || depth > MAX_DEPTH)
    return 0;
  if (e->ppid == s->self) {
    e->below = 1;
  } else {
    parent = e->ppid > 1 ? snap_find(s, e->ppid) : NULL;
    e->below = (signed char)(parent && below(s, parent, depth + 1));
  }
  return e->below;
}

/* ---- 3. what belongs to a child -------------------------------------------- */

/* The whole of a /proc file (NUL-terminated, *len without it), at most
 * a megabyte; NULL if it cannot be read (gone, or not ours to read). */
static char *read_all(const char *path, size_t *len) {
  char *buf = NULL, *b;
  size_t cap = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  *len = 0;
  if (fd < 0)
    return NULL;
  for (;;) {
    ssize_t r;
    if (*len == cap) {
      if (cap >= (1u << 20))
        break;
      cap = cap ? cap * 2 : 4096;
      if (!(b = realloc(buf, cap + 1)))
        break;
      buf = b;
    }
    r = read(fd, buf + *len, cap - *len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    *len += (size_t)r;
  }
  close(fd);
  if (buf)
    buf[*len] = '\0';
  return buf;
}

/* Does /proc/PID/environ hold the entry `mark` ("NAME=VALUE")?  The
 * block the process started with, NUL-separated. */
static int environ_has(long pid, const char *mark) {
  char path[64], *buf;
  size_t len, i;
  int found = 0;
  snprintf(path, sizeof path, "/proc/%ld/environ", pid);
  if (!(buf = read_all(path, &len)))
    return 0;
  for (i = 0; i < len && !found; i += strlen(buf + i) + 1)
    found = strcmp(buf + i, mark) == 0;
  free(buf);
  return found;
}

typedef struct owner_s {
  long pid, pgid;               /* 0: none (exited, no group) */
  const char *const *marks;     /* any of them */
  size_t nmarks;
} owner_t;

static int environ_has_any(long pid, const owner_t *o) {
  size_t i;
  for (i = 0; i < o->nmarks; i++)
    if (environ_has(pid, o->marks[i]))
      return 1;
  return 0;
}

/* A process whose parent is alive belongs to whatever its parent belongs
 * to, unless it is the child or in its group: so walking up, the first
 * of those decides, or else the top of the chain, a child of ours.  One
 * that pal_proc_spawn() made is another service's main process; one that
 * it did not is an orphan we adopted, and only its environment can say
 * whose (only orphans' environments are read). */
static int ours(snap_t *s, ent_t *e, const owner_t *o, int depth) {
  ent_t *parent;
  if (e->ours >= 0)
    return e->ours;
  if (depth > MAX_DEPTH || !below(s, e, 0))
    return e->ours = 0;
  if ((o->pid > 0 && e->pid == o->pid) || (o->pgid > 0 && e->pgrp == o->pgid))
    return e->ours = 1;
  if (e->ppid == s->self)
    return e->ours = (signed char)(o->nmarks && !pal__proc_known(e->pid) &&
                                   environ_has_any(e->pid, o));
  parent = snap_find(s, e->ppid);
  return e->ours = (signed char)(parent && ours(s, parent, o, depth + 1));
}

/* Has this process a child that pal_proc_spawn() did not make?  1, 0, or
 * -1 if it cannot tell (/proc/PID/task/TID/children needs
 * CONFIG_PROC_CHILDREN).  An orphan may have been adopted by any of our
 * threads, so each one's list is read. */
static int orphans_here(void) {
  struct dirent *de;
  DIR *d = opendir("/proc/self/task");
  int found = 0, read_any = 0;
  if (!d)
    return -1;
  while (!found && (de = readdir(d)) != NULL) {
    char path[300], *buf, *p, *end;
    size_t len;
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/children", de->d_name);
    if (!(buf = read_all(path, &len)))
      continue;
    read_any = 1;
    for (p = buf; !found; p = end) {   /* "PID PID ... " */
      long pid = strtol(p, &end, 10);
      if (end == p)
        break;
      found = !pal__proc_known(pid);
    }
    free(buf);
  }
  closedir(d);
  return read_any ? found : -1;
}

/* ---- 4. signalling --------------------------------------------------------- */

/* Signal the process the snapshot saw as e, not one that took its pid
 * since: a pidfd pins the process, then its start time must still be
 * the one read.  Without pidfds, kill() (a descendant's pid cannot be
 * reused before its parent reaped it, and for orphans that is us, on
 * this thread). */
static int signal_ent(const ent_t *e, int native) {
  ent_t now;
#if defined(PAL_HAVE_SYS_PIDFD_OPEN) && defined(SYS_pidfd_send_signal)
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)e->pid, 0);
  if (fd >= 0) {
    int ok = stat_read(e->pid, &now) && now.start == e->start &&
             syscall(SYS_pidfd_send_signal, fd, native, NULL, 0) == 0;
    close(fd);
    return ok;
  }
  if (errno == ESRCH)
    return 0;
#endif
  return stat_read(e->pid, &now) && now.start == e->start &&
         kill((pid_t)e->pid, native) == 0;
}

/* Which processes of a snapshot to signal. */
typedef int (*pick_fn)(snap_t *s, ent_t *e, const void *arg);

/* Signal the live processes of a fresh snapshot, but this one, that
 * `pick` picks.  How many in *count. */
static apr_status_t signal_snap(int signum, pick_fn pick, const void *arg,
                                unsigned *count) {
  int native = pal_signal_native(signum);
  snap_t s;
  size_t i;
  unsigned n = 0;
  apr_status_t rv;
  if (count)
    *count = 0;
  if (native < 0)
    return PAL_EUNSUPPORTED;
  if ((rv = snap_take(&s)) != APR_SUCCESS)
    return rv;
  for (i = 0; i < s.n; i++) {
    ent_t *e = &s.e[i];
    /* Zombies are dead already. */
    if (e->state != 'Z' && e->pid != s.self && pick(&s, e, arg))
      n += (unsigned)signal_ent(e, native);
  }
  free(s.e);
  if (count)
    *count = n;
  return APR_SUCCESS;
}

/* o's child's, outside its group (the group is the caller's:
 * pal_proc_kill_tree). */
static int pick_escaped(snap_t *s, ent_t *e, const void *arg) {
  const owner_t *o = arg;
  return !(o->pgid > 0 && e->pgrp == o->pgid) && ours(s, e, o, 0);
}

static int pick_below(snap_t *s, ent_t *e, const void *arg) {
  (void)arg;
  return below(s, e, 0);
}

typedef struct marks_s {
  const char *const *v;
  size_t n;
} marks_t;

static int pick_marked(snap_t *s, ent_t *e, const void *arg) {
  const marks_t *m = arg;
  size_t i;
  (void)s;
  for (i = 0; i < m->n; i++)
    if (m->v[i] && *m->v[i] && environ_has(e->pid, m->v[i]))
      return 1;
  return 0;
}

apr_status_t pal_proc_kill_escaped(pal_proc_t *proc, const char *mark,
                                   int signum, unsigned *count) {
  owner_t o;
  if (count)
    *count = 0;
  if (pal_signal_native(signum) < 0)
    return PAL_EUNSUPPORTED;
  o.pid = proc && proc->pid > 0 ? proc->pid : 0;
  o.pgid = proc ? pal_proc_group(proc) : 0;   /* it survives its leader */
  o.marks = &mark;
  o.nmarks = mark && *mark ? 1 : 0;
  /* The child has exited and its group is empty: then whatever escaped
   * was reparented to us (we are a subreaper) or descends from what was.
   * No orphan here, nothing to look for: the usual end of a child costs
   * no walk of /proc. */
  if (o.pid == 0 && (o.pgid <= 0 || kill(-(pid_t)o.pgid, 0) < 0) &&
      orphans_here() == 0)
    return APR_SUCCESS;
  return signal_snap(signum, pick_escaped, &o, count);
}

uint64_t pal_proc_start_id(long pid) {
  pal__pstat_t st;
  return pid > 0 && pal__proc_stat(pid, &st) ? (uint64_t)st.start : 0;
}

apr_status_t pal_proc_kill_escaped_all(const pal_escape_t *v, size_t n,
                                       unsigned *count) {
  snap_t s;
  size_t i, j;
  unsigned sent = 0;
  int any_live = 0;
  apr_status_t rv;
  if (count)
    *count = 0;
  for (i = 0; i < n; i++) {
    if (pal_signal_native(v[i].signum) < 0)
      return PAL_EUNSUPPORTED;
    /* As in pal_proc_kill_escaped: a child gone with its group empty
     * left nothing but orphans. */
    if (v[i].pid > 0 ||
        (v[i].pgid > 0 && kill(-(pid_t)v[i].pgid, 0) == 0))
      any_live = 1;
  }
  if (n == 0 || (!any_live && orphans_here() == 0))
    return APR_SUCCESS;
  if ((rv = snap_take(&s)) != APR_SUCCESS)
    return rv;
  for (i = 0; i < n; i++) {
    owner_t o;
    int native = pal_signal_native(v[i].signum);
    o.pid = v[i].pid > 0 ? v[i].pid : 0;
    o.pgid = v[i].pgid > 0 ? v[i].pgid : 0;
    if (o.pid && v[i].start) {
      /* Asked while it ran; searched later.  If that pid is now another
       * process, its group has no member left either (a group id is not
       * reused as a pid while it has members): the mark alone says. */
      ent_t *me = snap_find(&s, o.pid);
      if (!me || (uint64_t)me->start != v[i].start || me->state == 'Z')
        o.pid = o.pgid = 0;
    }
    o.marks = &v[i].mark;
    o.nmarks = v[i].mark && *v[i].mark ? 1 : 0;
    for (j = 0; j < s.n; j++)   /* `ours` is per owner */
      s.e[j].ours = -1;
    for (j = 0; j < s.n; j++) {
      ent_t *e = &s.e[j];
      if (e->state != 'Z' && e->pid != s.self && pick_escaped(&s, e, &o))
        sent += (unsigned)signal_ent(e, native);
    }
  }
  free(s.e);
  if (count)
    *count = sent;
  return APR_SUCCESS;
}

apr_status_t pal_proc_kill_marked(const char *const *marks, size_t nmarks,
                                  int signum, unsigned *count) {
  marks_t m;
  m.v = marks;
  m.n = nmarks;
  if (count)
    *count = 0;
  if (nmarks == 0)
    return pal_signal_native(signum) < 0 ? PAL_EUNSUPPORTED : APR_SUCCESS;
  return signal_snap(signum, pick_marked, &m, count);
}

/* Descendants still there (zombies included: not yet reaped). */
static unsigned descendants(snap_t *s) {
  size_t i;
  unsigned n = 0;
  for (i = 0; i < s->n; i++)
    n += (unsigned)below(s, &s->e[i], 0);
  return n;
}

apr_status_t pal_proc_sweep(int signum, unsigned wait_ms, unsigned *count) {
  struct timespec nap = {0, 10 * 1000 * 1000};
  uint64_t deadline = pal_hrtime() + (uint64_t)wait_ms * 1000000u;
  snap_t s;
  unsigned n;
  apr_status_t rv = signal_snap(signum, pick_below, NULL, count);
  if (rv != APR_SUCCESS)
    return rv;
  /* Reap what comes to us, until nothing is left below us. */
  for (;;) {
    pal__proc_reap_adopted();
    if (snap_take(&s) != APR_SUCCESS)
      break;
    n = descendants(&s);
    free(s.e);
    if (n == 0 || pal_hrtime() >= deadline)
      break;
    nanosleep(&nap, NULL);
  }
  return APR_SUCCESS;
}

#endif /* __linux__: elsewhere pal/common/proc_tree_none.c */
