/*
 * proc_usage.c -- resident memory and CPU time of children's process
 * groups on Linux, at a cost that follows the children, not the machine.
 * Elsewhere this file is empty (proc.c asks macOS per group).
 *
 * Map:
 *   1. members: a process counted for a key (a group id, or one pid) is
 *      read from its own /proc/PID/stat, and only while it still has the
 *      start time and the group it was found with (a reused pid is never
 *      counted)
 *   2. finding members, where the kernel lists children
 *      (/proc/PID/task/TID/children, CONFIG_PROC_CHILDREN): the tree
 *      below this process, every time -- what it costs is our
 *      descendants, whatever else runs
 *   3. finding members elsewhere: a walk of all of /proc, which costs
 *      every process of the machine (~10 us each, 30 us and more under
 *      load), so it is made again only when a group nobody has looked
 *      for yet is asked about, or when the last walk is older than
 *      USAGE_REWALK_MS and USAGE_REWALK_COST times what it took (at most
 *      1/USAGE_REWALK_COST of a caller's time goes to walks, however
 *      often it asks).  In between, the members found last time are
 *      read again, each from its own /proc entry.  The price: a process
 *      that joins a known group after a walk (a worker forked later) is
 *      counted from the next walk on, up to USAGE_REWALK_MS later.
 *
 * A group's members are normally the descendants of its leader; those
 * whose parent died are adopted by a subreaper (vigil run is one), which
 * is this process, so the walk of section 2 still reaches them.
 */
#include "pal_posix.h"

#if defined(__linux__)

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE_REWALK_MS 10000
#define USAGE_REWALK_COST 200
#define USAGE_MAX_TREE 65536    /* section 2: processes visited, at most */

/* ---- 1. members ---------------------------------------------------------- */

typedef struct member_s {
  long key;                     /* group id, or -pid for a lone process */
  long pid;
  unsigned long long start;     /* clock ticks since boot */
} member_t;

static void add_ticks(pal_usage_t *out, const pal__pstat_t *st) {
  static long tck, page;
  if (!tck) {
    long t = sysconf(_SC_CLK_TCK), p = sysconf(_SC_PAGESIZE);
    page = p > 0 ? p : 4096;
    tck = t > 0 ? t : 100;
  }
  out->cpu_usec += (st->utime + st->stime) * 1000000u / (uint64_t)tck;
  out->rss_bytes += (uint64_t)(st->rss > 0 ? st->rss : 0) * (uint64_t)page;
  out->processes++;
}

static int alive(const pal__pstat_t *st) {
  return st->state != 'Z' && st->state != 'X';
}

/* The key process pid with status st counts under among keys[0..n-1]
 * (sorted), or 0. */
static long key_of(const long *keys, size_t n, long pid,
                   const pal__pstat_t *st) {
  size_t lo = 0, hi = n;
  long want[2];
  int i;
  want[0] = st->pgrp;
  want[1] = -pid;
  for (i = 0; i < 2; i++) {
    lo = 0;
    hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (keys[mid] < want[i])
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < n && keys[lo] == want[i])
      return want[i];
  }
  return 0;
}

static size_t index_of(const long *keys, size_t n, long key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (keys[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int by_key(const void *a, const void *b) {
  const member_t *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (x->pid > y->pid) - (x->pid < y->pid);
}

int pal__by_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

typedef struct found_s {
  member_t *m;
  size_t n, cap;
  int oom;
} found_t;

static void found_add(found_t *f, long key, long pid,
                      unsigned long long start) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 64;
    member_t *m = realloc(f->m, cap * sizeof *m);
    if (!m) {
      f->oom = 1;
      return;
    }
    f->m = m;
    f->cap = cap;
  }
  f->m[f->n].key = key;
  f->m[f->n].pid = pid;
  f->m[f->n].start = start;
  f->n++;
}

/* Count process pid if it is a live member of one of keys: into out[] at
 * the key's index, and into f (NULL: not recorded). */
static void consider(const long *keys, size_t n, long pid, found_t *f,
                     pal_usage_t *out) {
  pal__pstat_t st;
  long key;
  if (!pal__proc_stat(pid, &st) || !alive(&st))
    return;
  key = key_of(keys, n, pid, &st);
  if (key == 0)
    return;
  add_ticks(&out[index_of(keys, n, key)], &st);
  if (f)
    found_add(f, key, pid, st.start);
}

/* ---- 2. the tree below us, from the kernel's children lists -------------- */

static int have_children_files(void) {
  static int have = -1;
  if (have < 0)
    have = access("/proc/thread-self/children", R_OK) == 0;
  return have;
}

/* Append the children of every thread of process pid (0: this one) to
 * *q (a queue of pids). */
static void children_of(long pid, long **q, size_t *n, size_t *cap) {
  char path[320], buf[4096];
  struct dirent *de;
  DIR *d;
  if (pid)
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
  else
    snprintf(path, sizeof path, "/proc/self/task");
  d = opendir(path);
  if (!d)
    return;
  while ((de = readdir(d)) != NULL) {
    ssize_t len;
    char *p, *end;
    int fd;
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    if (pid)
      snprintf(path, sizeof path, "/proc/%ld/task/%s/children", pid,
               de->d_name);
    else
      snprintf(path, sizeof path, "/proc/self/task/%s/children", de->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    /* A page holds ~500 pids; a process with more children than that
     * has the rest cut off at a whole pid (the last one is dropped). */
    len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
      continue;
    buf[len] = '\0';
    if (len == (ssize_t)sizeof buf - 1 && (p = strrchr(buf, ' ')) != NULL)
      *p = '\0';
    for (p = buf; *p && *n < USAGE_MAX_TREE; p = end) {
      long child = strtol(p, &end, 10);
      if (end == p)
        break;
      if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        long *nq = realloc(*q, c * sizeof *nq);
        if (!nq)
          break;
        *q = nq;
        *cap = c;
      }
      (*q)[(*n)++] = child;
    }
  }
  closedir(d);
}

static void tree_walk(const long *keys, size_t n, pal_usage_t *out) {
  long *q = NULL;
  size_t head = 0, len = 0, cap = 0;
  children_of(0, &q, &len, &cap);
  /* Breadth first; a process is its parent's child once, so nothing is
   * visited twice (a pid reused meanwhile is a new process, counted by
   * its own group). */
  while (head < len) {
    long pid = q[head++];
    consider(keys, n, pid, NULL, out);
    children_of(pid, &q, &len, &cap);
  }
  free(q);
}

/* ---- 3. elsewhere: a walk of /proc, now and then ------------------------- */

static struct {
  pthread_mutex_t lock;
  member_t *m;                  /* found by the last walk, by_key order */
  size_t n;
  long *keys;                   /* what it looked for, sorted */
  size_t nkeys;
  uint64_t at_ns, cost_ns;      /* pal_hrtime() at its start; duration */
  int done;
} last = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, NULL, 0, 0, 0, 0};

static void proc_walk(const long *keys, size_t n, pal_usage_t *out,
                      found_t *f) {
  struct dirent *de;
  DIR *d = opendir("/proc");
  if (!d)
    return;
  while ((de = readdir(d)) != NULL) {
    long pid;
    char *end;
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    pid = strtol(de->d_name, &end, 10);
    if (*end == '\0')
      consider(keys, n, pid, f, out);
  }
  closedir(d);
}

/* Whether the last walk is stale for keys[0..n-1]: never when they are
 * all lone processes (keys < 0, sorted first). */
static int walk_due(const long *keys, size_t n, uint64_t now) {
  size_t i, j = 0;
  uint64_t age;
  if (keys[n - 1] < 0)
    return 0;
  if (!last.done)
    return 1;
  age = now - last.at_ns;
  if (age >= (uint64_t)USAGE_REWALK_MS * 1000000u &&
      age >= last.cost_ns * USAGE_REWALK_COST)
    return 1;
  /* A group the last walk did not look for: a run started since. */
  for (i = 0; i < n; i++) {
    if (keys[i] < 0)
      continue;   /* a lone process: its pid is all there is */
    while (j < last.nkeys && last.keys[j] < keys[i])
      j++;
    if (j == last.nkeys || last.keys[j] != keys[i])
      return 1;
  }
  return 0;
}

/* Walk /proc and keep what it found as the members to read until the
 * next walk. */
static void walk_and_keep(const long *keys, size_t n, pal_usage_t *out) {
  found_t f = {NULL, 0, 0, 0};
  long *kc = malloc(n * sizeof *kc);
  uint64_t t0 = pal_hrtime();
  proc_walk(keys, n, out, &f);
  if (!kc || f.oom) {
    free(kc);
    free(f.m);
    return;   /* counted this time; walked again next time */
  }
  memcpy(kc, keys, n * sizeof *kc);
  qsort(f.m, f.n, sizeof *f.m, by_key);
  free(last.m);
  free(last.keys);
  last.m = f.m;
  last.n = f.n;
  last.keys = kc;
  last.nkeys = n;
  last.at_ns = t0;
  last.cost_ns = pal_hrtime() - t0;
  last.done = 1;
}

/* The members the last walk found, each read again; a lone process (or a
 * group's leader that the walk did not see yet) from its own pid. */
static void read_known(const long *keys, size_t n, pal_usage_t *out) {
  size_t i, j = 0;
  for (i = 0; i < n; i++) {
    int leader_seen = 0;
    long leader = keys[i] < 0 ? -keys[i] : keys[i];
    member_t probe;
    probe.key = keys[i];
    probe.pid = 0;
    while (j < last.n && by_key(&last.m[j], &probe) < 0)
      j++;
    for (; j < last.n && last.m[j].key == keys[i]; j++) {
      pal__pstat_t st;
      if (last.m[j].pid == leader)
        leader_seen = 1;
      if (pal__proc_stat(last.m[j].pid, &st) && alive(&st) &&
          st.start == last.m[j].start &&
          key_of(&keys[i], 1, last.m[j].pid, &st) == keys[i])
        add_ticks(&out[i], &st);
    }
    if (!leader_seen) {
      pal__pstat_t st;
      if (pal__proc_stat(leader, &st) && alive(&st) &&
          key_of(&keys[i], 1, leader, &st) == keys[i])
        add_ticks(&out[i], &st);
    }
  }
}

void pal__usage_keys(const long *keys, size_t n, pal_usage_t *out) {
  memset(out, 0, n * sizeof *out);
  if (n == 0)
    return;
  if (have_children_files()) {
    size_t i;
    tree_walk(keys, n, out);
    /* A lone process that does not descend from us (pal_proc_attach):
     * read from its own pid. */
    for (i = 0; i < n && keys[i] < 0; i++)
      if (out[i].processes == 0)
        pal__proc_usage_add(-keys[i], 0, &out[i]);
    return;
  }
  pthread_mutex_lock(&last.lock);
  if (walk_due(keys, n, pal_hrtime()))
    walk_and_keep(keys, n, out);
  else
    read_known(keys, n, out);
  pthread_mutex_unlock(&last.lock);
}

size_t pal__usage_sort_keys(long *keys, size_t n) {
  size_t i, k = 0;
  qsort(keys, n, sizeof *keys, pal__by_long);
  for (i = 0; i < n; i++)
    if (k == 0 || keys[k - 1] != keys[i])
      keys[k++] = keys[i];
  return k;
}

int pal__proc_usage_add(long pid, long pgid, pal_usage_t *out) {
  pal__pstat_t st;
  if (!pal__proc_stat(pid, &st) || !alive(&st) ||
      (pgid > 0 && st.pgrp != pgid))
    return 0;
  add_ticks(out, &st);
  return 1;
}

#else
typedef int pal__proc_usage_linux_only;   /* ISO C: no empty unit */
#endif
