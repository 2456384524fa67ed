/*
 * sb_tool.c -- measuring side of the supervisor benchmarks
 * (scripts/bench-supervisor.sh).  Not product code.  Times are
 * CLOCK_MONOTONIC nanoseconds, the clock sb_child stamps with.
 *
 *   sb_tool now
 *   sb_tool launch STAMPFILE CMD [ARGS...]
 *       write "now" to STAMPFILE, then exec CMD (t0 of a start).
 *   sb_tool wait-lines N TIMEOUT_MS FILE...
 *       wait until FILEs hold N "S " lines in all; print
 *       "count=C last_ns=T" (T: the latest S stamp).  Exit 1 on timeout.
 *   sb_tool restart-stats SKIP FILE...
 *       latencies from each "E" stamp to the next "S" stamp of the same
 *       FILE (skipping the first SKIP of each file); print
 *       "n=N p50_ms= p90_ms= p99_ms= max_ms= mean_ms= sum_s=".
 *   sb_tool wait-tail FILE MARKER TIMEOUT_MS
 *       wait until FILE ends with MARKER; print the time (ns).
 *   sb_tool stopwait TIMEOUT_MS PIDS (sig:SIGNUM:PID | cmd CMD [ARGS...])
 *       t0; send the signal or run CMD to completion; then wait until
 *       every pid of the comma-separated PIDS is gone (or a zombie);
 *       print "seconds=S cmd_status=X".
 *   sb_tool spawn vfork|fork N CMD [ARGS...]
 *       the floor of start_many / stop_all: start N copies of CMD one
 *       after the other (vfork: posix_spawn, which glibc does with
 *       clone(CLONE_VM|CLONE_VFORK) as vigil does; fork: fork + execv, as
 *       a shell or runsvdir does), reap what exits, and on SIGTERM send
 *       TERM to every child, reap them all and exit.  SB_EXTRA_FDS=K
 *       opens K more (close-on-exec) descriptors first, as a supervisor
 *       holding ~5 a service would have.
 *   sb_tool pss PID...        sum of Pss and Rss (KiB) of the PIDs
 *   sb_tool children PID      the pids whose parent is PID, one a line
 *   sb_tool wakeups SECONDS PID...
 *       context switches (voluntary + involuntary, every thread) of the
 *       PIDs over SECONDS; print "switches=N per_s=R".
 *   sb_tool status SOCKET N GAP_MS
 *       N requests {"cmd":"status"} on one connection to the control
 *       socket, GAP_MS apart (more than the supervisor's usage cache
 *       keeps a measurement, so each pays for one); the time from the
 *       request's write to the reply's last byte; print "n= p50_ms=
 *       p90_ms= max_ms= mean_ms= rss_sum= rss_nulls=" (the last reply's
 *       rss_bytes, summed, and how many were null).
 *   sb_tool sleepers N
 *       a new session of N forked processes that pause (a "big host":
 *       processes unrelated to any supervisor); print "ready" once all
 *       exist; on SIGTERM kill them all and exit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <spawn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull +
         (unsigned long long)ts.tv_nsec;
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static char *slurp(const char *path, size_t *len) {
  /* Read to EOF: /proc files report a size of 0. */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  size_t n = 0, cap = 8192;
  char *buf;
  *len = 0;
  if (fd < 0)
    return NULL;
  buf = malloc(cap + 1);
  if (!buf) {
    close(fd);
    return NULL;
  }
  for (;;) {
    ssize_t r;
    if (n == cap) {
      char *nb = realloc(buf, cap * 2 + 1);
      if (!nb)
        break;
      buf = nb;
      cap *= 2;
    }
    r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* Count complete "S " lines; the latest stamp in *last. */
static long count_starts(const char *path, unsigned long long *last) {
  size_t len;
  char *buf = slurp(path, &len), *p, *nl;
  long count = 0;
  if (!buf)
    return 0;
  for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
    if (p[0] == 'S' && p[1] == ' ') {
      unsigned long long t = strtoull(p + 2, NULL, 10);
      count++;
      if (t > *last)
        *last = t;
    }
  }
  free(buf);
  return count;
}

static int cmd_wait_lines(int argc, char **argv) {
  long want = atol(argv[0]), timeout = atol(argv[1]);
  unsigned long long deadline = now_ns() + (unsigned long long)timeout * 1000000ull;
  for (;;) {
    unsigned long long last = 0;
    long count = 0;
    int i;
    for (i = 2; i < argc; i++)
      count += count_starts(argv[i], &last);
    if (count >= want || now_ns() > deadline) {
      printf("count=%ld last_ns=%llu\n", count, last);
      return count >= want ? 0 : 1;
    }
    nap_ms(10);
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
  size_t k = (size_t)(p * (double)n + 0.999999);   /* nearest rank */
  if (k < 1)
    k = 1;
  if (k > n)
    k = n;
  return v[k - 1];
}

static int cmd_restart_stats(int argc, char **argv) {
  long skip = atol(argv[0]);
  size_t cap = 1024, n = 0, i;
  double *v = malloc(cap * sizeof *v), sum = 0;
  int f;
  for (f = 1; f < argc; f++) {
    size_t len;
    char *buf = slurp(argv[f], &len), *p, *nl;
    unsigned long long e = 0;
    long seen = 0;
    if (!buf)
      continue;
    for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf)));
         p = nl + 1) {
      if (p[0] == 'E' && p[1] == ' ') {
        e = strtoull(p + 2, NULL, 10);
      } else if (p[0] == 'S' && p[1] == ' ') {
        unsigned long long s = strtoull(p + 2, NULL, 10);
        if (e && s > e && seen++ >= skip) {
          if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
          v[n++] = (double)(s - e) / 1e6;
        }
        e = 0;
      }
    }
    free(buf);
  }
  if (n == 0) {
    printf("n=0\n");
    return 1;
  }
  qsort(v, n, sizeof *v, cmp_d);
  for (i = 0; i < n; i++)
    sum += v[i];
  printf("n=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
         "mean_ms=%.3f sum_s=%.6f\n",
         n, pct(v, n, 0.5), pct(v, n, 0.9), pct(v, n, 0.99), v[n - 1],
         sum / (double)n, sum / 1000.0);
  return 0;
}

static int ends_with(const char *path, const char *marker) {
  size_t m = strlen(marker);
  char buf[256];
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC), ok = 0;
  if (fd < 0)
    return 0;
  if (m < sizeof buf && fstat(fd, &st) == 0 && (size_t)st.st_size >= m &&
      pread(fd, buf, m, st.st_size - (off_t)m) == (ssize_t)m)
    ok = memcmp(buf, marker, m) == 0;
  close(fd);
  return ok;
}

static int cmd_wait_tail(char **argv) {
  long timeout = atol(argv[2]);
  unsigned long long deadline = now_ns() + (unsigned long long)timeout * 1000000ull;
  for (;;) {
    if (ends_with(argv[0], argv[1])) {
      printf("%llu\n", now_ns());
      return 0;
    }
    if (now_ns() > deadline) {
      fprintf(stderr, "sb_tool: timeout waiting for %s\n", argv[0]);
      return 1;
    }
    nap_ms(1);
  }
}

/* Gone, or a zombie nobody reaped yet. */
static int gone(long pid) {
  char path[64], buf[512], *p;
  int fd;
  ssize_t n;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 1;
  buf[n] = '\0';
  p = strrchr(buf, ')');
  return p && (p[2] == 'Z' || p[2] == 'X');
}

static int cmd_stopwait(int argc, char **argv) {
  long timeout = atol(argv[0]);
  unsigned long long t0, deadline;
  long pids[8192];
  int npids = 0, i, status = 0;
  char *list = strdup(argv[1]), *tok;
  for (tok = strtok(list, ","); tok && npids < 8192; tok = strtok(NULL, ","))
    pids[npids++] = atol(tok);
  t0 = now_ns();
  deadline = t0 + (unsigned long long)timeout * 1000000ull;
  if (strncmp(argv[2], "sig:", 4) == 0) {
    int sig = atoi(argv[2] + 4);
    long target = atol(strchr(argv[2] + 4, ':') + 1);
    if (kill((pid_t)target, sig) < 0)
      status = errno;
  } else if (strcmp(argv[2], "cmd") == 0 && argc > 3) {
    pid_t c = fork();
    if (c == 0) {
      execvp(argv[3], argv + 3);
      _exit(127);
    }
    waitpid(c, &status, 0);
    status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
  for (;;) {
    int left = 0;
    for (i = 0; i < npids; i++)
      if (pids[i] > 0) {
        if (gone(pids[i]))
          pids[i] = 0;
        else
          left++;
      }
    if (!left)
      break;
    if (now_ns() > deadline) {
      printf("seconds=timeout cmd_status=%d left=%d\n", status, left);
      return 1;
    }
    nap_ms(1);
  }
  printf("seconds=%.6f cmd_status=%d\n", (double)(now_ns() - t0) / 1e9,
         status);
  return 0;
}

extern char **environ;

static int cmd_spawn(int argc, char **argv) {
  int use_fork = strcmp(argv[0], "fork") == 0, i, n = atoi(argv[1]), left;
  pid_t *kids = calloc((size_t)n, sizeof *kids);
  sigset_t block, empty;
  posix_spawnattr_t attr;
  (void)argc;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGCHLD);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &block, NULL);
  if (getenv("SB_EXTRA_FDS")) {
    /* Diagnosis: a supervisor holds ~5 descriptors per service (logs,
     * pipes, pidfd); clone copies the table, exec closes them. */
    int k, extra = atoi(getenv("SB_EXTRA_FDS"));
    for (k = 0; k < extra; k++)
      if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
        break;
  }
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  for (i = 0; i < n; i++) {
    if (use_fork) {
      kids[i] = fork();
      if (kids[i] == 0) {
        sigprocmask(SIG_SETMASK, &empty, NULL);
        execv(argv[2], argv + 2);
        _exit(127);
      }
    } else if (posix_spawn(&kids[i], argv[2], NULL, &attr, argv + 2,
                           environ) != 0) {
      kids[i] = -1;
    }
  }
  left = n;
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&block, &si);
    if (sig == SIGTERM) {
      for (i = 0; i < n; i++)
        if (kids[i] > 0)
          kill(kids[i], SIGTERM);
      while (left > 0 && waitpid(-1, NULL, 0) > 0)
        left--;
      return 0;
    }
    if (sig == SIGCHLD)
      while (waitpid(-1, NULL, WNOHANG) > 0)
        left--;
  }
}

static long field_kib(const char *path, const char *key) {
  size_t len, k = strlen(key);
  char *buf = slurp(path, &len), *p;
  long v = 0;
  if (!buf)
    return 0;
  for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, key, k) == 0) {
      v = atol(p + k);
      break;
    }
  free(buf);
  return v;
}

static int cmd_children(long parent) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  if (!d)
    return 1;
  while ((e = readdir(d))) {
    char path[300], buf[512], *p;
    int fd;
    ssize_t n;
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
      continue;
    buf[n] = '\0';
    p = strrchr(buf, ')');   /* ") S PPID ..." */
    if (p && p[1] && p[2] && p[3] && atol(p + 4) == parent)
      printf("%s\n", e->d_name);
  }
  closedir(d);
  return 0;
}

static int cmd_pss(int argc, char **argv) {
  long pss = 0, rss = 0;
  int i;
  for (i = 0; i < argc; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/smaps_rollup", argv[i]);
    pss += field_kib(path, "Pss:");
    rss += field_kib(path, "Rss:");
  }
  printf("pss_kib=%ld rss_kib=%ld procs=%d\n", pss, rss, argc);
  return 0;
}

static long switches(int argc, char **argv) {
  long total = 0;
  int i;
  for (i = 0; i < argc; i++) {
    char path[300];
    DIR *d;
    struct dirent *e;
    snprintf(path, sizeof path, "/proc/%s/task", argv[i]);
    d = opendir(path);
    if (!d)
      continue;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.')
        continue;
      snprintf(path, sizeof path, "/proc/%s/task/%s/status", argv[i],
               e->d_name);
      total += field_kib(path, "voluntary_ctxt_switches:");
      total += field_kib(path, "nonvoluntary_ctxt_switches:");
    }
    closedir(d);
  }
  return total;
}

static int cmd_wakeups(int argc, char **argv) {
  double secs = atof(argv[0]);
  long a, b;
  a = switches(argc - 1, argv + 1);
  nap_ms((long)(secs * 1000));
  b = switches(argc - 1, argv + 1);
  printf("switches=%ld per_s=%.2f\n", b - a, (double)(b - a) / secs);
  return 0;
}

/* Sum the "rss_bytes" values of a status reply; count the nulls. */
static void rss_of(const char *reply, long long *sum, int *nulls) {
  const char *p = reply, key[] = "\"rss_bytes\":";
  *sum = 0;
  *nulls = 0;
  while ((p = strstr(p, key)) != NULL) {
    p += sizeof key - 1;
    if (*p == 'n')
      (*nulls)++;
    else
      *sum += atoll(p);
  }
}

static int cmd_status(char **argv) {
  struct sockaddr_un sa;
  int fd, i, n = atoi(argv[1]), nulls = 0;
  long gap = atol(argv[2]);
  double *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v), sum = 0;
  size_t cap = 1 << 20, len = 0;
  char *buf = malloc(cap);
  long long rss = 0;
  static const char req[] = "{\"cmd\":\"status\"}\n";
  if (!v || !buf || n <= 0)
    return 2;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[0]);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    perror(argv[0]);
    return 1;
  }
  for (i = 0; i < n; i++) {
    unsigned long long t0, t1;
    nap_ms(gap);
    t0 = now_ns();
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
      return 1;
    len = 0;
    for (;;) {
      ssize_t r;
      if (len + 1 >= cap) {
        char *nb = realloc(buf, cap * 2);
        if (!nb)
          return 1;
        buf = nb;
        cap *= 2;
      }
      r = read(fd, buf + len, cap - len - 1);
      if (r <= 0)
        return 1;
      len += (size_t)r;
      if (buf[len - 1] == '\n')
        break;
    }
    t1 = now_ns();
    buf[len] = '\0';
    v[i] = (double)(t1 - t0) / 1e6;
    sum += v[i];
  }
  close(fd);
  rss_of(buf, &rss, &nulls);
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  printf("n=%d p50_ms=%.3f p90_ms=%.3f max_ms=%.3f mean_ms=%.3f "
         "rss_sum=%lld rss_nulls=%d\n",
         n, pct(v, (size_t)n, 0.5), pct(v, (size_t)n, 0.9), v[n - 1],
         sum / n, rss, nulls);
  return 0;
}

static int cmd_sleepers(int n) {
  sigset_t term;
  int i, sig;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  setsid();
  for (i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      sigprocmask(SIG_UNBLOCK, &term, NULL);
      for (;;)
        pause();
    }
    if (pid < 0)
      break;
  }
  printf("ready %d\n", i);
  fflush(stdout);
  sigwait(&term, &sig);
  signal(SIGTERM, SIG_IGN);
  kill(0, SIGKILL);   /* the session's group: every sleeper, and us */
  return 0;
}

int main(int argc, char **argv) {
  const char *c = argc > 1 ? argv[1] : "";
  if (!strcmp(c, "now")) {
    printf("%llu\n", now_ns());
    return 0;
  }
  if (!strcmp(c, "launch") && argc > 3) {
    FILE *f = fopen(argv[2], "w");
    if (!f)
      return 127;
    fprintf(f, "%llu\n", now_ns());
    fclose(f);
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    return 127;
  }
  if (!strcmp(c, "wait-lines") && argc > 4)
    return cmd_wait_lines(argc - 2, argv + 2);
  if (!strcmp(c, "restart-stats") && argc > 3)
    return cmd_restart_stats(argc - 2, argv + 2);
  if (!strcmp(c, "wait-tail") && argc > 4)
    return cmd_wait_tail(argv + 2);
  if (!strcmp(c, "stopwait") && argc > 4)
    return cmd_stopwait(argc - 2, argv + 2);
  if (!strcmp(c, "spawn") && argc > 4)
    return cmd_spawn(argc - 2, argv + 2);
  if (!strcmp(c, "children") && argc > 2)
    return cmd_children(atol(argv[2]));
  if (!strcmp(c, "pss") && argc > 2)
    return cmd_pss(argc - 2, argv + 2);
  if (!strcmp(c, "wakeups") && argc > 3)
    return cmd_wakeups(argc - 2, argv + 2);
  if (!strcmp(c, "status") && argc > 4)
    return cmd_status(argv + 2);
  if (!strcmp(c, "sleepers") && argc > 2)
    return cmd_sleepers(atoi(argv[2]));
  fprintf(stderr, "usage: sb_tool now | launch | wait-lines | restart-stats "
                  "| wait-tail | stopwait | spawn | children | pss | wakeups "
                  "| status | sleepers (see sb_tool.c)\n");
  return 2;
}
