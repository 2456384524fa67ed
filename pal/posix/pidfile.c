/*
 * pidfile.c -- type="attach" on POSIX: reading a pid file without being
 * fooled by what lies at its path, and who the process it names is.
 *
 * A pid file decides which process the supervisor will signal, and it
 * may sit in a directory others can write to.  So: no symbolic link is
 * followed (O_NOFOLLOW), a FIFO does not block the loop (O_NONBLOCK: the
 * open returns at once, and it is refused by its type before any read),
 * a directory or device is refused by its type, and no more than
 * PAL_PIDFILE_MAX bytes are read.
 */
#include "pal_posix.h"

#include <apr_time.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#if defined(__APPLE__)
#include <libproc.h>
#include <sys/proc.h>   /* SZOMB */
#endif

apr_status_t pal_pidfile_read(const char *path, long *pid, int64_t *mtime,
                              char *why_buf, size_t why_size,
                              const char **why) {
  char buf[PAL_PIDFILE_MAX + 1];
  struct stat st;
  ssize_t n;
  size_t got = 0;
  int fd;
  *pid = 0;
  *mtime = 0;
  if (why)
    *why = NULL;
  do
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                        O_NOCTTY);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ELOOP)
      return PAL_ENOTREG;   /* a symbolic link, with O_NOFOLLOW */
    return pal__fail("open");
  }
  if (fstat(fd, &st) < 0) {
    apr_status_t rv = pal__fail("fstat");
    close(fd);
    return rv;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return PAL_ENOTREG;
  }
  *mtime = apr_time_from_sec(st.st_mtime);
#if defined(__APPLE__)
  *mtime += st.st_mtimespec.tv_nsec / 1000;
#else
  *mtime += st.st_mtim.tv_nsec / 1000;
#endif
  /* One byte more than the limit tells a longer file. */
  while (got < sizeof buf) {
    n = read(fd, buf + got, sizeof buf - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      apr_status_t rv = pal__fail("read");
      close(fd);
      return rv;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (got > PAL_PIDFILE_MAX) {
    if (why)
      *why = "is longer than 64 bytes, more than any pid file";
    return APR_EINVAL;
  }
  return pal_pidfile_parse(buf, got, pid, why_buf, why_size, why);
}

#if defined(__linux__)
/* The real and effective uid from /proc/PID/status. */
static int status_uids(long pid, long *uid, long *euid) {
  char buf[4096], *p;
  if (!pal__proc_read(pid, "status", buf, sizeof buf))
    return 0;
  p = strstr(buf, "\nUid:");
  return p && sscanf(p + 5, "%ld %ld", uid, euid) == 2;
}

/* The wall-clock time of the boot on the clock /proc's start times
 * count on (CLOCK_BOOTTIME: suspend included): the realtime clock less
 * that one, to the microsecond (btime in /proc/stat is whole seconds). */
static apr_time_t boot_wall(void) {
  struct timespec rt, bt;
  clock_gettime(CLOCK_REALTIME, &rt);
#if defined(CLOCK_BOOTTIME)
  clock_gettime(CLOCK_BOOTTIME, &bt);
#else
  clock_gettime(CLOCK_MONOTONIC, &bt);
#endif
  return ((apr_time_t)rt.tv_sec - (apr_time_t)bt.tv_sec) * APR_USEC_PER_SEC +
         ((apr_time_t)rt.tv_nsec - (apr_time_t)bt.tv_nsec) / 1000;
}
#endif

uint64_t pal__pid_id(long pid) {
#if defined(__linux__)
  pal__pstat_t st;
  return pid > 0 && pal__proc_stat(pid, &st) && st.state != 'Z'
             ? (uint64_t)st.start
             : 0;
#elif defined(__APPLE__)
  struct proc_bsdinfo bi;
  if (pid <= 0 ||
      proc_pidinfo((int)pid, PROC_PIDTBSDINFO, 0, &bi, (int)sizeof bi) !=
          (int)sizeof bi)
    return 0;
  return (uint64_t)bi.pbi_start_tvsec * 1000000u + bi.pbi_start_tvusec;
#else
  (void)pid;
  return 0;
#endif
}

apr_status_t pal_pid_info(long pid, pal_pidinfo_t *out) {
  memset(out, 0, sizeof *out);
  out->uid = out->euid = -1;
  if (pid <= 0)
    return APR_EINVAL;
#if defined(__linux__)
  {
    pal__pstat_t st;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
      hz = 100;
    if (!pal__proc_stat(pid, &st) || st.state == 'Z' ||
        !status_uids(pid, &out->uid, &out->euid))
      return PAL_ENOPROC;
    out->start = boot_wall() +
                 (apr_time_t)(st.start / (unsigned long long)hz) *
                     APR_USEC_PER_SEC +
                 (apr_time_t)(st.start % (unsigned long long)hz) *
                     APR_USEC_PER_SEC / hz;
    out->start_error = APR_USEC_PER_SEC / hz;
    out->id = (uint64_t)st.start;
  }
#elif defined(__APPLE__)
  {
    struct proc_bsdinfo bi;
    if (proc_pidinfo((int)pid, PROC_PIDTBSDINFO, 0, &bi, (int)sizeof bi) !=
        (int)sizeof bi)
      return kill((pid_t)pid, 0) < 0 && errno == ESRCH
                 ? PAL_ENOPROC
                 : pal__fail("proc_pidinfo");
    if (bi.pbi_status == SZOMB)
      return PAL_ENOPROC;
    out->uid = (long)bi.pbi_ruid;
    out->euid = (long)bi.pbi_uid;
    out->start = apr_time_from_sec((apr_time_t)bi.pbi_start_tvsec) +
                 (apr_time_t)bi.pbi_start_tvusec;
    out->id = (uint64_t)bi.pbi_start_tvsec * 1000000u + bi.pbi_start_tvusec;
  }
#else
  if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
    return PAL_ENOPROC;
  return PAL_EUNSUPPORTED;
#endif
  out->same_user = out->uid == (long)geteuid() &&
                   out->euid == (long)geteuid();
  return APR_SUCCESS;
}
