/*
 * sb_child.c -- the supervised program of the supervisor benchmarks
 * (scripts/bench-supervisor.sh).  Not product code: it uses OS headers
 * directly and keeps the path from exec to its first time stamp short.
 *
 *   sb_child restart FILE LIFE_MS [STAGGER_MS]
 *       Appends "S <ns> <pid>" to FILE (CLOCK_MONOTONIC, taken first
 *       thing in main), lives LIFE_MS, appends "E <ns>" and _exits 0.
 *       The first run of a FILE (FILE.first does not exist yet) also
 *       waits STAGGER_MS before its life starts, so several services
 *       restarting in parallel take turns instead of colliding.
 *   sb_child idle FILE
 *       Appends "S <ns> <pid>" to FILE and pauses until a signal ends it.
 *   sb_child workers FILE K
 *       As idle, after forking K workers that touch 4 MiB each and pause
 *       (they stay in its process group).
 *   sb_child write BYTES STAMPFILE
 *       Writes "S <ns>" to STAMPFILE, then BYTES bytes of 100-byte lines
 *       to stdout in 64 KiB writes; the last line is "SBENCH-END...".
 *
 * With no arguments (runit runs ./run with none), the arguments are read
 * from ./sbargs, one per line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long long ns_of(const struct timespec *ts) {
  return (unsigned long long)ts->tv_sec * 1000000000ull +
         (unsigned long long)ts->tv_nsec;
}

static void append(const char *file, const char *line) {
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror(file);
    _exit(3);
  }
  if (write(fd, line, strlen(line)) < 0)
    _exit(3);
  close(fd);
}

static void sleep_ms(long ms) {
  struct timespec ts;
  if (ms <= 0)
    return;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
    ;
}

/* ./sbargs: up to 8 arguments, one per line. */
static int args_from_file(char **argv) {
  static char buf[4096];
  int fd = open("sbargs", O_RDONLY), argc = 1;
  ssize_t n;
  char *p;
  if (fd < 0)
    return 1;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 1;
  buf[n] = '\0';
  for (p = strtok(buf, "\n"); p && argc < 8; p = strtok(NULL, "\n"))
    argv[argc++] = p;
  argv[argc] = NULL;
  return argc;
}

static int do_write(unsigned long long bytes, const char *stampfile) {
  static char buf[65536];
  static const char end[] = "SBENCH-END\n";
  struct timespec ts;
  char line[64];
  size_t i;
  unsigned long long left = bytes;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(line, sizeof line, "S %llu\n", ns_of(&ts));
  append(stampfile, line);
  for (i = 0; i < sizeof buf; i++)
    buf[i] = (i % 100 == 99) ? '\n' : (char)('a' + i % 26);
  if (bytes < sizeof end - 1)
    return 2;
  left -= sizeof end - 1;
  while (left > 0) {
    size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
    ssize_t w = write(1, buf, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      perror("write");
      return 1;
    }
    left -= (unsigned long long)w;
  }
  if (write(1, end, sizeof end - 1) != (ssize_t)(sizeof end - 1))
    return 1;
  return 0;
}

int main(int argc, char **argv) {
  struct timespec t0, t1;
  char line[96];
  char *fargv[10];
  clock_gettime(CLOCK_MONOTONIC, &t0);   /* first thing: the start stamp */

  if (argc < 2) {
    fargv[0] = argv[0];
    argc = args_from_file(fargv);
    argv = fargv;
  }
  if (argc >= 4 && strcmp(argv[1], "restart") == 0) {
    long life = atol(argv[3]), stagger = argc >= 5 ? atol(argv[4]) : 0;
    snprintf(line, sizeof line, "S %llu %ld\n", ns_of(&t0), (long)getpid());
    append(argv[2], line);
    if (stagger > 0) {
      char marker[4096];
      int fd;
      snprintf(marker, sizeof marker, "%s.first", argv[2]);
      fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0) {
        close(fd);
        sleep_ms(stagger);
        clock_gettime(CLOCK_MONOTONIC, &t0);
      }
    }
    if (life > 0) {
      /* Live LIFE_MS from the start stamp (not from now). */
      struct timespec until = t0;
      until.tv_sec += life / 1000;
      until.tv_nsec += (life % 1000) * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
             EINTR)
        ;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    snprintf(line, sizeof line, "E %llu\n", ns_of(&t1));
    append(argv[2], line);
    _exit(0);
  }
  if (argc >= 3 && strcmp(argv[1], "idle") == 0) {
    snprintf(line, sizeof line, "S %llu %ld\n", ns_of(&t0), (long)getpid());
    append(argv[2], line);
    for (;;)
      pause();
  }
  if (argc >= 4 && strcmp(argv[1], "workers") == 0) {
    /* K forked workers, each with 4 MiB of its own touched memory: a
     * service whose usage is mostly its descendants'. */
    int k, n = atoi(argv[3]);
    snprintf(line, sizeof line, "S %llu %ld\n", ns_of(&t0), (long)getpid());
    append(argv[2], line);
    for (k = 0; k < n; k++)
      if (fork() == 0) {
        /* volatile: the compiler may not drop stores nobody reads. */
        volatile char *mem = malloc(4 << 20);
        size_t off;
        for (off = 0; mem && off < (4u << 20); off += 4096)
          mem[off] = 1;
        for (;;)
          pause();
      }
    for (;;)
      pause();
  }
  if (argc >= 4 && strcmp(argv[1], "write") == 0)
    return do_write(strtoull(argv[2], NULL, 10), argv[3]);
  fprintf(stderr,
          "usage: sb_child restart FILE LIFE_MS [STAGGER_MS]\n"
          "       sb_child idle FILE\n"
          "       sb_child workers FILE K\n"
          "       sb_child write BYTES STAMPFILE\n");
  return 2;
}
