/*
 * cgroup.c -- Linux cgroup v2: where this process is, creating and
 * removing child cgroups, their files, cgroup.kill.  Elsewhere every call
 * is PAL_EUNSUPPORTED.
 *
 * Map:
 *   1. files: read and write one cgroup file (the only I/O in here)
 *   2. where we are: /proc/self/cgroup "0::PATH" under the cgroup2 mount
 *      point of /proc/self/mountinfo (not always /sys/fs/cgroup: a hybrid
 *      host mounts it at /sys/fs/cgroup/unified)
 *   3. controllers, create, remove, join
 *   4. kill and stat
 *
 * Everything here runs in the supervisor, never in a child between clone
 * and exec (proc.c writes cgroup.procs itself there).  None of it is on a
 * hot path: setup at start, one cgroup per service, and a few small
 * reads per status request.
 */
#include "pal_posix.h"

#if defined(__linux__)

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CG_PATH_MAX 4096

/* ---- 1. files ----------------------------------------------------------- */

static apr_status_t join_path(char *out, const char *dir, const char *file) {
  int n = snprintf(out, CG_PATH_MAX, "%s/%s", dir, file);
  if (n < 0 || n >= CG_PATH_MAX)
    return APR_ENAMETOOLONG;
  return APR_SUCCESS;
}

/* Read a whole small file into buf (NUL-terminated).  The length, or
 * -status. */
static apr_status_t read_small(const char *path, char *buf, size_t size,
                               size_t *len) {
  size_t n = 0;
  ssize_t r;
  int fd;
  if (size == 0)
    return APR_EINVAL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return pal__fail("open");
  while (n < size - 1) {
    r = read(fd, buf + n, size - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      apr_status_t rv = pal__fail("read");
      close(fd);
      return rv;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *len = n;
  return APR_SUCCESS;
}

apr_status_t pal_cgroup_read(const char *dir, const char *file, char *buf,
                             size_t size) {
  char path[CG_PATH_MAX];
  size_t n;
  apr_status_t rv = join_path(path, dir, file);
  if (rv == APR_SUCCESS)
    rv = read_small(path, buf, size, &n);
  if (rv != APR_SUCCESS)
    return rv;
  while (n > 0 && buf[n - 1] == '\n')
    buf[--n] = '\0';
  return APR_SUCCESS;
}

apr_status_t pal_cgroup_write(const char *dir, const char *file,
                              const char *value) {
  char path[CG_PATH_MAX];
  size_t len = strlen(value);
  ssize_t r;
  int fd;
  apr_status_t rv = join_path(path, dir, file);
  if (rv != APR_SUCCESS)
    return rv;
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return pal__fail("open");
  /* A cgroup file takes one value per write(): never split it. */
  do
    r = write(fd, value, len);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    rv = pal__fail("write");
    close(fd);
    return rv;
  }
  close(fd);
  return (size_t)r == len ? APR_SUCCESS : APR_EGENERAL;
}

/* ---- 2. where we are ----------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s) {
  char *w = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
        s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
      *w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *w++ = *s;
    }
  }
  *w = '\0';
}

/* The mount point of the cgroup2 hierarchy: field 5 of the mountinfo line
 * whose file system type (after " - ") is cgroup2. */
static apr_status_t cgroup2_mount(char *out, size_t size) {
  char line[4096];
  FILE *f = fopen("/proc/self/mountinfo", "re");
  apr_status_t rv = PAL_EUNSUPPORTED;
  if (!f)
    return pal__fail("fopen(/proc/self/mountinfo)");
  while (fgets(line, sizeof line, f)) {
    char *sep = strstr(line, " - ");
    char *p = line, *mp, *end;
    int field;
    if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
      continue;
    for (field = 1; field < 5 && p; field++)   /* to field 5 */
      p = strchr(p + 1, ' ');
    if (!p)
      continue;
    mp = p + 1;
    end = strchr(mp, ' ');
    if (!end)
      continue;
    *end = '\0';
    unescape(mp);
    if (strlen(mp) >= size) {
      rv = APR_ENAMETOOLONG;
      break;
    }
    memcpy(out, mp, strlen(mp) + 1);
    rv = APR_SUCCESS;
    break;
  }
  fclose(f);
  return rv;
}

apr_status_t pal_cgroup_self(char *buf, size_t size, int *is_root) {
  char mount[CG_PATH_MAX], text[8192];
  const char *p, *path = NULL;
  size_t n, plen = 0;
  apr_status_t rv;
  int len;

  rv = read_small("/proc/self/cgroup", text, sizeof text, &n);
  if (rv != APR_SUCCESS)
    return rv;
  /* The unified hierarchy is the line "0::PATH". */
  for (p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
    if (strncmp(p, "0::", 3) == 0) {
      path = p + 3;
      plen = strcspn(path, "\n");
      break;
    }
  if (!path || plen == 0 || path[0] != '/')
    return PAL_EUNSUPPORTED;
  rv = cgroup2_mount(mount, sizeof mount);
  if (rv != APR_SUCCESS)
    return rv;
  *is_root = plen == 1;
  /* "/" itself adds nothing to the mount point. */
  if (plen == 1)
    len = snprintf(buf, size, "%s", mount);
  else
    len = snprintf(buf, size, "%s%.*s", strcmp(mount, "/") ? mount : "",
                   (int)plen, path);
  if (len < 0 || (size_t)len >= size)
    return APR_ENAMETOOLONG;
  return APR_SUCCESS;
}

/* ---- 3. controllers, create, remove, join -------------------------------- */

static unsigned parse_controllers(const char *s) {
  static const struct { const char *name; unsigned bit; } known[] = {
      {"memory", PAL_CGROUP_MEMORY},
      {"cpu", PAL_CGROUP_CPU},
      {"pids", PAL_CGROUP_PIDS}};
  unsigned mask = 0;
  size_t i;
  while (*s) {
    size_t n;
    s += strspn(s, " \n");
    n = strcspn(s, " \n");
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
      if (n == strlen(known[i].name) && strncmp(s, known[i].name, n) == 0)
        mask |= known[i].bit;
    s += n;
  }
  return mask;
}

static apr_status_t read_mask(const char *dir, const char *file,
                              unsigned *mask) {
  char buf[512];
  apr_status_t rv = pal_cgroup_read(dir, file, buf, sizeof buf);
  if (rv == APR_SUCCESS)
    *mask = parse_controllers(buf);
  return rv;
}

apr_status_t pal_cgroup_controllers(const char *dir, unsigned *mask) {
  return read_mask(dir, "cgroup.controllers", mask);
}

apr_status_t pal_cgroup_subtree(const char *dir, unsigned *mask) {
  return read_mask(dir, "cgroup.subtree_control", mask);
}

apr_status_t pal_cgroup_enable(const char *dir, unsigned mask) {
  char value[64] = "";
  if (mask & PAL_CGROUP_MEMORY)
    strcat(value, "+memory ");
  if (mask & PAL_CGROUP_CPU)
    strcat(value, "+cpu ");
  if (mask & PAL_CGROUP_PIDS)
    strcat(value, "+pids ");
  if (!value[0])
    return APR_SUCCESS;
  value[strlen(value) - 1] = '\0';
  return pal_cgroup_write(dir, "cgroup.subtree_control", value);
}

apr_status_t pal_cgroup_writable(const char *dir) {
  static const char *const files[] = {"cgroup.procs",
                                      "cgroup.subtree_control"};
  char path[CG_PATH_MAX];
  size_t i;
  if (access(dir, W_OK | X_OK) < 0)
    return pal__fail("access");
  for (i = 0; i < sizeof files / sizeof files[0]; i++) {
    apr_status_t rv = join_path(path, dir, files[i]);
    if (rv != APR_SUCCESS)
      return rv;
    if (access(path, W_OK) < 0)
      return pal__fail("access");
  }
  return APR_SUCCESS;
}

apr_status_t pal_cgroup_create(const char *dir) {
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return pal__fail("mkdir");
  return APR_SUCCESS;
}

/* Killed members leave their cgroup a moment after the kill: rmdir says
 * EBUSY until then.  Bounded: 200 x 1 ms at most, at removal only. */
#define REMOVE_TRIES 200

apr_status_t pal_cgroup_remove(const char *dir) {
  struct timespec ms = {0, 1000000};
  int i;
  for (i = 0; i < REMOVE_TRIES; i++) {
    if (rmdir(dir) == 0 || errno == ENOENT)
      return APR_SUCCESS;
    if (errno != EBUSY)
      return pal__fail("rmdir");
    nanosleep(&ms, NULL);
  }
  pal__last_call = "rmdir";
  return PAL_EBUSY;
}

apr_status_t pal_cgroup_join(const char *dir, long pid) {
  char v[32];
  snprintf(v, sizeof v, "%ld\n", pid);
  return pal_cgroup_write(dir, "cgroup.procs", v);
}

/* ---- 4. kill and stat ---------------------------------------------------- */

/* Kernels before 5.14 have no cgroup.kill: SIGKILL each member.  A member
 * that forks between the read and the kill leaves a child behind, hence
 * the rounds (cgroup.freeze would close the race, but is no older). */
#define KILL_ROUNDS 5

/* Call fn for each pid in DIR/cgroup.procs; how many calls returned
 * nonzero in *hits. */
static apr_status_t each_member(const char *dir, int (*fn)(long, void *),
                                void *arg, int *hits) {
  char buf[65536];
  const char *p;
  apr_status_t rv = pal_cgroup_read(dir, "cgroup.procs", buf, sizeof buf);
  *hits = 0;
  if (rv != APR_SUCCESS)
    return rv;
  for (p = buf; *p;) {
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p)
      break;
    *hits += fn(pid, arg) != 0;
    p = end + strspn(end, "\n");
  }
  return APR_SUCCESS;
}

static int kill_one(long pid, void *arg) {
  (void)arg;
  return pid > 0 && kill((pid_t)pid, SIGKILL) == 0;
}

static apr_status_t kill_members(const char *dir) {
  int round, any = 1;
  for (round = 0; round < KILL_ROUNDS && any; round++) {
    apr_status_t rv = each_member(dir, kill_one, NULL, &any);
    if (rv != APR_SUCCESS)
      return rv;
  }
  return APR_SUCCESS;
}

apr_status_t pal_cgroup_kill(const char *dir) {
  apr_status_t rv = pal_cgroup_write(dir, "cgroup.kill", "1");
  if (APR_STATUS_IS_ENOENT(rv)) {
    char path[CG_PATH_MAX];
    struct stat st;
    /* No cgroup.kill, but the cgroup is there: an older kernel. */
    if (join_path(path, dir, "cgroup.procs") == APR_SUCCESS &&
        stat(path, &st) == 0)
      return kill_members(dir);
  }
  return rv;
}

typedef struct signal_arg_s {
  int native;
  pid_t except;
} signal_arg_t;

static int signal_one(long pid, void *arg) {
  const signal_arg_t *a = arg;
  if (pid <= 0 || (a->except > 0 && getpgid((pid_t)pid) == a->except))
    return 0;
  return kill((pid_t)pid, a->native) == 0;
}

apr_status_t pal_cgroup_signal(const char *dir, int signum,
                               long except_pgid) {
  signal_arg_t a;
  int hits;
  a.native = pal_signal_native(signum);
  a.except = (pid_t)except_pgid;
  if (a.native < 0)
    return PAL_EUNSUPPORTED;
  return each_member(dir, signal_one, &a, &hits);
}

/* The number after "key " in a flat keyed file, or -1. */
static int64_t keyed(const char *text, const char *key) {
  size_t klen = strlen(key);
  const char *p = text;
  while (p && *p) {
    if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
      return (int64_t)strtoll(p + klen + 1, NULL, 10);
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return -1;
}

apr_status_t pal_cgroup_stat(const char *dir, pal_cgroup_stat_t *out) {
  char buf[1024];
  apr_status_t rv;
  out->memory_current = out->cpu_usec = out->oom_kills = -1;
  out->populated = 0;
  /* cgroup.events is there in every cgroup: its absence means no cgroup. */
  rv = pal_cgroup_read(dir, "cgroup.events", buf, sizeof buf);
  if (rv != APR_SUCCESS)
    return rv;
  out->populated = keyed(buf, "populated") > 0;
  if (pal_cgroup_read(dir, "memory.current", buf, sizeof buf) ==
      APR_SUCCESS)
    out->memory_current = (int64_t)strtoll(buf, NULL, 10);
  if (pal_cgroup_read(dir, "cpu.stat", buf, sizeof buf) == APR_SUCCESS)
    out->cpu_usec = keyed(buf, "usage_usec");
  if (pal_cgroup_read(dir, "memory.events", buf, sizeof buf) == APR_SUCCESS)
    out->oom_kills = keyed(buf, "oom_kill");
  return APR_SUCCESS;
}

/* Members from cgroup.procs: reading it costs about what one /proc/PID/
 * stat does, so a service's usage costs its own members, not a walk of
 * every process on the machine as a process group's does. */
static int usage_one(long pid, void *arg) {
  return pal__proc_usage_add(pid, 0, arg);
}

apr_status_t pal_cgroup_usage(const char *dir, pal_usage_t *out) {
  int counted;
  apr_status_t rv;
  memset(out, 0, sizeof *out);
  rv = each_member(dir, usage_one, out, &counted);
  if (rv != APR_SUCCESS)
    return rv;
  return out->processes ? APR_SUCCESS : PAL_ENOPROC;
}

#endif /* __linux__: elsewhere pal/common/cgroup_none.c */
