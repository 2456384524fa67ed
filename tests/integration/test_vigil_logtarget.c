/*
 * test_vigil_logtarget.c -- <log stdout="syslog"|"journal"> (suite
 * vigil_logtarget, Linux, as root): the real `vigil run` sends to a
 * receiving datagram socket of this test, bind-mounted over /dev/log and
 * /run/systemd/journal/socket in a private mount namespace (the suite's
 * process unshares once; vigil, its child, inherits it).  Nothing changes
 * outside the namespace, and no syslog daemon or journald is needed.
 *
 * Checked: RFC 5424 fields (PRI, version, APP-NAME, PROCID = the
 * service's pid, MSGID) and journald's fields (PRIORITY,
 * SYSLOG_IDENTIFIER, MESSAGE); a long line split into records that join
 * back to it (syslog); a journal line larger than any datagram passed
 * whole as a sealed memfd (SCM_RIGHTS), and split when memfd_create
 * fails; a daemon that cannot be reached (the fallback file, one
 * warning); a daemon that does not read (records dropped and counted,
 * `vigil status` answers meanwhile); `vigil validate` and the
 * supervisor's start warn of a journald socket that is missing and of a
 * path that is not a socket, and say nothing once both are sockets.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define SYSLOG_PATH "/dev/log"
#define JOURNAL_DIR "/run/systemd/journal"
#define JOURNAL_PATH JOURNAL_DIR "/socket"

static const char *ns_skip;         /* why the suite cannot run */
static char ns_dir[] = "/tmp/vigil-logtgt-XXXXXX";
static int dev_over, run_over;      /* what suite_init mounted */
static char run_mnt[64];

/* /dev/log missing (a container): a tmpfs over /dev in the namespace,
 * holding a symlink to every entry of the real /dev (bound aside) and an
 * empty /dev/log to mount sockets over. */
static int overlay_dev(void) {
  char old[128], from[400], to[400];
  DIR *d;
  struct dirent *e;
  snprintf(old, sizeof old, "%s/dev", ns_dir);
  if (mkdir(old, 0755) != 0 ||
      mount("/dev", old, "none", MS_BIND | MS_REC, NULL) != 0 ||
      mount("tmpfs", "/dev", "tmpfs", 0, "mode=755") != 0)
    return -1;
  dev_over = 1;
  if ((d = opendir(old)) == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(from, sizeof from, "%s/%s", old, e->d_name);
    snprintf(to, sizeof to, "/dev/%s", e->d_name);
    /* An entry that cannot be linked is one the tests do not use. */
    if (symlink(from, to) != 0)
      continue;
  }
  closedir(d);
  return 0;
}

static int touch(const char *path) {
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  close(fd);
  return 0;
}

static int suite_init(void) {
  struct stat st;
  if (geteuid() != 0) {
    ns_skip = "needs root for a private mount namespace";
    return 0;
  }
  if (unshare(CLONE_NEWNS) != 0 ||
      mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
    ns_skip = "unshare(CLONE_NEWNS) or making / private failed";
    return 0;
  }
  if (!mkdtemp(ns_dir)) {
    ns_skip = "mkdtemp failed";
    return 0;
  }
  if (stat(SYSLOG_PATH, &st) != 0 &&
      (overlay_dev() != 0 || touch(SYSLOG_PATH) != 0)) {
    ns_skip = "cannot make a /dev/log to mount over";
    return 0;
  }
  /* A tmpfs where journald's socket lives (hiding any real one). */
  snprintf(run_mnt, sizeof run_mnt, "%s",
           stat(JOURNAL_DIR, &st) == 0 ? JOURNAL_DIR
           : stat("/run/systemd", &st) == 0 ? "/run/systemd" : "/run");
  if (mount("tmpfs", run_mnt, "tmpfs", 0, "mode=755") != 0) {
    ns_skip = "cannot mount a tmpfs for the journal socket";
    return 0;
  }
  run_over = 1;
  (void)mkdir("/run/systemd", 0755);
  (void)mkdir(JOURNAL_DIR, 0755);
  if (touch(JOURNAL_PATH) != 0) {
    ns_skip = "cannot make a journal socket to mount over";
    return 0;
  }
  return 0;
}

static int suite_cleanup(void) {
  char old[128];
  if (run_over)
    (void)umount2(run_mnt, MNT_DETACH);
  if (dev_over) {
    snprintf(old, sizeof old, "%s/dev", ns_dir);
    (void)umount2("/dev", MNT_DETACH);
    (void)umount2(old, MNT_DETACH);
    (void)rmdir(old);
  }
  (void)rmdir(ns_dir);
  return 0;
}

static int skipped(void) {
  if (ns_skip)
    fprintf(stderr, "  [vigil_logtarget: SKIPPED: %s]\n", ns_skip);
  return ns_skip != NULL;
}

/* A receiving socket of the test, bound at DIR/name and mounted over
 * `target`.  `reading` 0: a small queue nobody reads. */
typedef struct rx_s {
  int fd;
  const char *target;
  char path[256];
} rx_t;

static int rx_open(vt_t *t, rx_t *rx, const char *name, const char *target) {
  struct sockaddr_un sun;
  int size = 1 << 20;
  memset(rx, 0, sizeof *rx);
  rx->target = target;
  snprintf(rx->path, sizeof rx->path, "%s", vt_path(t, name));
  rx->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (rx->fd < 0)
    return 0;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  if (strlen(rx->path) >= sizeof sun.sun_path)
    return 0;
  memcpy(sun.sun_path, rx->path, strlen(rx->path) + 1);
  (void)setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (bind(rx->fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
      mount(rx->path, target, "none", MS_BIND, NULL) != 0) {
    close(rx->fd);
    rx->fd = -1;
    return 0;
  }
  return 1;
}

/* Nobody listens any more: connecting is refused. */
static void rx_stop_listening(rx_t *rx) {
  if (rx->fd >= 0)
    close(rx->fd);
  rx->fd = -1;
}

static void rx_close(rx_t *rx) {
  if (rx->target)
    (void)umount2(rx->target, MNT_DETACH);
  rx_stop_listening(rx);
  rx->target = NULL;
}

/* The next datagram (NUL-terminated, in pool), waiting up to ms while the
 * fixture's loop runs; NULL if none came. */
static char *rx_next(vt_t *t, rx_t *rx, uint64_t ms, size_t *len) {
  static char buf[1 << 17];
  uint64_t end = vt_now_ms() + ms;
  for (;;) {
    ssize_t n = recv(rx->fd, buf, sizeof buf - 1, 0);
    if (n >= 0) {
      if (len)
        *len = (size_t)n;
      return apr_pstrmemdup(vt_pool(t), buf, (apr_size_t)n);
    }
    if (vt_now_ms() >= end)
      return NULL;
    vt_sleep(t, 10);
  }
}

/* A /bin/sh service running `script`, restarting never. */
static const char *sh_svc(vt_t *t, const char *name, const char *log,
                          const char *script) {
  return apr_psprintf(vt_pool(t),
                      "  <service name=\"%s\">\n"
                      "    <command>/bin/sh</command>\n"
                      "    <arg>-c</arg><arg>%s</arg>\n"
                      "    <restart policy=\"never\"/>\n"
                      "    %s\n"
                      "  </service>\n",
                      name, vt_xml(t, script), log);
}

/* Service `name` runs `script` with <log ...> `log`; its first two
 * records arrive on a receiver over `target`.  0 if a step failed. */
static int two_records(vt_t *t, rx_t *rx, const char *target,
                       const char *name, const char *log, const char *script,
                       char **d1, char **d2, long *pid) {
  if (!rx_open(t, rx, "daemon.sock", target))
    return 0;
  vt_config(t, "vigil.xml", sh_svc(t, name, log, script), NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml")))
    return 0;
  *d1 = rx_next(t, rx, VT_WAIT_MS, NULL);
  *d2 = rx_next(t, rx, VT_WAIT_MS, NULL);
  *pid = vt_pid(t, name);
  return *d1 && *d2;
}

/* The fields of "<PRI>1 TS HOST APP PROCID MSGID - MSG". */
typedef struct rfc5424_s {
  int pri, version;
  char ts[64], host[256], app[64], procid[32], msgid[40], sd[8];
  const char *msg;
} rfc5424_t;

static int parse_5424(const char *d, rfc5424_t *r) {
  int used = 0;
  memset(r, 0, sizeof *r);
  if (sscanf(d, "<%d>%d %63s %255s %63s %31s %39s %7s %n", &r->pri,
             &r->version, r->ts, r->host, r->app, r->procid, r->msgid, r->sd,
             &used) != 8 || used == 0)
    return 0;
  r->msg = d + used;
  return 1;
}

/* ---- tests ------------------------------------------------------------- */

static void test_syslog_fields(void) {
  vt_t *t;
  rx_t rx;
  rfc5424_t a, b;
  char *d1 = NULL, *d2 = NULL;
  long pid;
  if (skipped() || !(t = vt_begin("syslog")))
    return;
  CU_ASSERT(two_records(
      t, &rx, SYSLOG_PATH, "web", "<log stdout=\"syslog\" stderr=\"syslog\"/>",
      "echo 'hello out'; sleep 0.2; printf 'oops err\\r\\n' >&2;"
      " exec sleep 30",
      &d1, &d2, &pid));
  if (d1 && d2 && parse_5424(d1, &a) && parse_5424(d2, &b)) {
    CU_ASSERT_EQUAL(a.pri, 30);   /* daemon.info */
    CU_ASSERT_EQUAL(b.pri, 27);   /* daemon.err */
    CU_ASSERT_EQUAL(a.version, 1);
    CU_ASSERT_STRING_EQUAL(a.app, "web");
    CU_ASSERT_STRING_EQUAL(b.app, "web");
    /* The shell execs sleep: the same pid throughout. */
    CU_ASSERT_EQUAL(atol(a.procid), pid);
    CU_ASSERT_EQUAL(atol(b.procid), pid);
    CU_ASSERT_STRING_EQUAL(a.msgid, "stdout");
    CU_ASSERT_STRING_EQUAL(b.msgid, "stderr");
    CU_ASSERT_STRING_EQUAL(a.sd, "-");
    CU_ASSERT_STRING_EQUAL(a.msg, "hello out");
    CU_ASSERT_STRING_EQUAL(b.msg, "oops err");   /* "\r\n" ends it */
    /* 2026-12-06T13:10:00.123456Z */
    CU_ASSERT(strlen(a.ts) == 27 && a.ts[4] == '-' && a.ts[10] == 'T' &&
              a.ts[26] == 'Z');
    CU_ASSERT(strcmp(a.host, "") != 0);
  } else {
    CU_FAIL("datagrams are not RFC 5424");
    fprintf(stderr, "got: %s | %s\n", d1 ? d1 : "-", d2 ? d2 : "-");
  }
  /* Nothing went to the fallback files. */
  CU_ASSERT(!vt_exists(apr_pstrcat(vt_pool(t), vt_log_dir(t),
                                   "/web.out.log", NULL)));
  vt_end(t);
  rx_close(&rx);
}

static void test_journal_fields(void) {
  vt_t *t;
  rx_t rx;
  char *d1 = NULL, *d2 = NULL;
  long pid;
  if (skipped() || !(t = vt_begin("journal")))
    return;
  VT_REQUIRE(two_records(
      t, &rx, JOURNAL_PATH, "db",
      "<log stdout=\"journal\" stderr=\"journal\"/>",
      "echo 'to journal'; sleep 0.2; echo 'bad thing' >&2; exec sleep 30",
      &d1, &d2, &pid));
  CU_ASSERT(vt_contains(d1, "PRIORITY=6\n"));
  CU_ASSERT(vt_contains(d2, "PRIORITY=3\n"));
  CU_ASSERT(vt_contains(d1, "SYSLOG_IDENTIFIER=db\n"));
  CU_ASSERT(vt_contains(d2, "SYSLOG_IDENTIFIER=db\n"));
  CU_ASSERT(vt_contains(d1, "MESSAGE=to journal\n"));
  CU_ASSERT(vt_contains(d2, "MESSAGE=bad thing\n"));
  CU_ASSERT(vt_contains(d1, apr_psprintf(vt_pool(t), "SYSLOG_PID=%ld\n",
                                         pid)));
  CU_ASSERT(vt_contains(d1, "SYSLOG_FACILITY=3\n"));
  /* Every field is one "KEY=VALUE\n" line (no binary field needed). */
  CU_ASSERT_EQUAL(vt_count_lines(d1, "="), 5);
  vt_end(t);
  rx_close(&rx);
}

/* A line longer than a record: split into SVC_LOGSINK_SYSLOG_MSG pieces
 * that join back to it, nothing cut. */
static void test_long_line(void) {
  vt_t *t;
  rx_t rx;
  rfc5424_t r;
  char *d, *joined;
  int n = 0;
  if (skipped() || !(t = vt_begin("long")))
    return;
  joined = apr_pstrdup(vt_pool(t), "");
  VT_REQUIRE(rx_open(t, &rx, "syslog.sock", SYSLOG_PATH));
  /* "lines 1 20000": one line of 20000 bytes, its newline included. */
  vt_config(t, "vigil.xml",
            sh_svc(t, "long", "<log stdout=\"syslog\"/>",
                   apr_psprintf(vt_pool(t),
                                "'%s' --child lines 1 20000; exec sleep 30",
                                vt_self(t))),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  while (strlen(joined) < 19999 && (d = rx_next(t, &rx, VT_WAIT_MS, NULL))) {
    VT_REQUIRE(parse_5424(d, &r));
    CU_ASSERT(strlen(r.msg) == 7680 || (n == 2 && strlen(r.msg) == 4639));
    joined = apr_pstrcat(vt_pool(t), joined, r.msg, NULL);
    n++;
  }
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(strlen(joined), 19999);
  CU_ASSERT(strncmp(joined, "000001 xxxx", 11) == 0);
  CU_ASSERT(strspn(joined + 7, "x") == 19999 - 7);
  vt_end(t);
  rx_close(&rx);
}

/* LOGDIR/name once it holds `needle` (or what it holds after the wait,
 * NULL if nothing). */
static char *fallback_text(vt_t *t, const char *name, const char *needle) {
  uint64_t end = vt_now_ms() + VT_WAIT_MS;
  const char *f = apr_pstrcat(vt_pool(t), vt_log_dir(t), "/", name, NULL);
  char *txt;
  while (((txt = vt_read_file(t, f, NULL)) == NULL ||
          !vt_contains(txt, needle)) && vt_now_ms() < end)
    vt_sleep(t, 20);
  return txt;
}

/* No daemon listens: the lines go to the default file, with one
 * warning, and the service runs on. */
static void test_fallback(void) {
  vt_t *t;
  rx_t rx;
  char *txt;
  if (skipped() || !(t = vt_begin("fallback")))
    return;
  VT_REQUIRE(rx_open(t, &rx, "syslog.sock", SYSLOG_PATH));
  rx_stop_listening(&rx);   /* connect: ECONNREFUSED */
  vt_config(t, "vigil.xml",
            sh_svc(t, "app", "<log stdout=\"syslog\"/>",
                   "echo one; echo two; sleep 0.3; echo three;"
                   " exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "app", "running", VT_WAIT_MS) != NULL);
  txt = fallback_text(t, "app.out.log", "three\n");
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)", "one\ntwo\nthree\n");
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "log daemon unavailable"),
                  1);
  CU_ASSERT(vt_contains(vt_sup_log(t), "app.out.log"));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "app"), "running");
  vt_end(t);
  rx_close(&rx);
}

/* The daemon comes back: the first line SVC_LOGSINK_RETRY_MS (10 s)
 * after the failed attempt goes to it again, with a notice.  (Takes
 * those 10 s.) */
static void test_daemon_back(void) {
  vt_t *t;
  rx_t rx;
  char *d, *txt;
  const char *f;
  if (skipped() || !(t = vt_begin("back")))
    return;
  VT_REQUIRE(rx_open(t, &rx, "gone.sock", SYSLOG_PATH));
  rx_stop_listening(&rx);
  vt_config(t, "vigil.xml",
            sh_svc(t, "app", "<log stdout=\"syslog\"/>",
                   "echo early; sleep 4; echo middle; sleep 7; echo late;"
                   " exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_log(t, "log daemon unavailable", VT_WAIT_MS));
  rx_close(&rx);
  VT_REQUIRE(rx_open(t, &rx, "back.sock", SYSLOG_PATH));
  /* "middle" (4 s later) still goes to the file: no retry before 10 s. */
  d = rx_next(t, &rx, 2 * VT_WAIT_MS, NULL);
  CU_ASSERT(d != NULL && vt_contains(d, " - late"));
  CU_ASSERT(vt_wait_log(t, "log daemon available again", VT_WAIT_MS));
  f = apr_pstrcat(vt_pool(t), vt_log_dir(t), "/app.out.log", NULL);
  txt = vt_read_file(t, f, NULL);
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)", "early\nmiddle\n");
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "log daemon unavailable"),
                  1);
  vt_end(t);
  rx_close(&rx);
}

/* A daemon that does not read: records are dropped (never a block, never
 * the file), one warning, and once it reads again a notice counts what
 * was lost: received + lost = written. */
static void test_not_reading(void) {
  vt_t *t;
  rx_t rx;
  char *d, *lost;
  long got = 0, nlost = -1;
  uint64_t t0;
  vt_res_t *r;
  int after = 0, small = 4096;
  if (skipped() || !(t = vt_begin("slow")))
    return;
  VT_REQUIRE(rx_open(t, &rx, "syslog.sock", SYSLOG_PATH));
  (void)setsockopt(rx.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  vt_config(t, "vigil.xml",
            sh_svc(t, "flood", "<log stdout=\"syslog\"/>",
                   apr_psprintf(vt_pool(t),
                                "'%s' --child lines 20000 64; sleep 1;"
                                " : >'%s'; sleep 1; echo after;"
                                " exec sleep 30",
                                vt_self(t), vt_path(t, "flooded"))),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_log(t, "not keeping up", VT_WAIT_MS));
  /* The loop answers while the queue is full. */
  t0 = vt_now_ms();
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_now_ms() - t0 < 5000);
  /* Nothing is read until the flood is over (the child has written it
   * all, and a second later vigil has read it all from the pipe): one
   * stretch of losses. */
  {
    uint64_t end = vt_now_ms() + 3 * VT_WAIT_MS;
    while (!vt_exists(vt_path(t, "flooded")) && vt_now_ms() < end)
      vt_sleep(t, 20);
    VT_REQUIRE(vt_exists(vt_path(t, "flooded")));
  }
  /* Read everything, up to "after". */
  while (!after && (d = rx_next(t, &rx, VT_WAIT_MS, NULL)) != NULL) {
    if (vt_contains(d, " - after"))
      after = 1;
    else
      got++;
  }
  CU_ASSERT(after);
  VT_REQUIRE(vt_wait_log(t, "log daemon reads again", VT_WAIT_MS));
  lost = strstr(vt_sup_log(t), "lost=");
  if (lost)
    nlost = atol(lost + 5);
  CU_ASSERT(got > 0 && nlost > 0);
  CU_ASSERT_EQUAL(got + nlost, 20000);
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "not keeping up"), 1);
  CU_ASSERT(!vt_exists(apr_pstrcat(vt_pool(t), vt_log_dir(t),
                                   "/flood.out.log", NULL)));
  vt_end(t);
  rx_close(&rx);
}

/* ---- journald's memory files ------------------------------------------ */

/* The next datagram as rx_next(), and the descriptor it passed (-1:
 * none; the caller closes it). */
static char *rx_next_fd(vt_t *t, rx_t *rx, uint64_t ms, size_t *len,
                        int *fd) {
  static char buf[1 << 17];
  uint64_t end = vt_now_ms() + ms;
  *fd = -1;
  for (;;) {
    union {
      struct cmsghdr align;
      char b[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov;
    struct msghdr mh;
    struct cmsghdr *cm;
    ssize_t n;
    iov.iov_base = buf;
    iov.iov_len = sizeof buf - 1;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    n = recvmsg(rx->fd, &mh, MSG_CMSG_CLOEXEC);
    if (n >= 0) {
      for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(int)) && *fd < 0)
          memcpy(fd, CMSG_DATA(cm), sizeof *fd);
      *len = (size_t)n;
      return apr_pstrmemdup(vt_pool(t), buf, (apr_size_t)n);
    }
    if (vt_now_ms() >= end)
      return NULL;
    vt_sleep(t, 10);
  }
}

/* A line's length (its newline included) that no datagram of vigil's
 * socket can carry: more than its send buffer (net.core.wmem_default,
 * as vigil does not change it), so send() says EMSGSIZE.  The message
 * is one byte short of a multiple of 48 KiB.  0 (and why, printed) if
 * the line would pass vigil's own bound of a journal line. */
static long too_big_for_a_datagram(long *wmem) {
  FILE *f = fopen("/proc/sys/net/core/wmem_default", "r");
  long w = 0, msg;
  if (f) {
    if (fscanf(f, "%ld", &w) != 1)
      w = 0;
    fclose(f);
  }
  if (w <= 0)
    w = 212992;
  *wmem = w;
  msg = ((w + 1024) / 49152 + 1) * 49152 - 1;
  if (msg >= 1024 * 1024) {
    fprintf(stderr, "  [SKIPPED: net.core.wmem_default is %ld: a "
            "datagram may hold a 1 MiB journal line]\n", w);
    return 0;
  }
  return msg + 1;
}

/* The journal config of service `big`: one line of `width` bytes (its
 * newline included), then "after" and a sleep. */
static const char *big_line_svc(vt_t *t, long width) {
  return sh_svc(t, "big", "<log stdout=\"journal\"/>",
                apr_psprintf(vt_pool(t),
                             "'%s' --child lines 1 %ld; sleep 0.2;"
                             " echo after; exec sleep 30",
                             vt_self(t), width));
}

/* "MESSAGE=000001 xxx...x\n" of width - 1 characters. */
static int whole_message(const char *rec, size_t len, long width) {
  const char *m = NULL, *p;
  for (p = rec; p && p < rec + len; p = memchr(p, '\n', (size_t)(rec + len - p)),
       p = p ? p + 1 : NULL)
    if ((size_t)(rec + len - p) > 8 && memcmp(p, "MESSAGE=", 8) == 0) {
      m = p + 8;
      break;
    }
  if (!m || (size_t)(rec + len - m) < (size_t)width)
    return 0;
  return memcmp(m, "000001 x", 8) == 0 &&
         strspn(m + 7, "x") == (size_t)(width - 8) && m[width - 1] == '\n';
}

/* A line larger than a datagram reaches journald whole, as a sealed
 * memory file passed in an empty datagram, with its fields; the lines
 * after it go as datagrams again. */
static void test_journal_memfd(void) {
  vt_t *t;
  rx_t rx;
  long wmem, width = too_big_for_a_datagram(&wmem);
  char *d, *rec = NULL;
  size_t len = 0;
  int fd = -1, seals;
  struct stat st;
  if (skipped() || !width || !(t = vt_begin("memfd")))
    return;
  VT_REQUIRE(rx_open(t, &rx, "journal.sock", JOURNAL_PATH));
  vt_config(t, "vigil.xml", big_line_svc(t, width), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  d = rx_next_fd(t, &rx, VT_WAIT_MS, &len, &fd);
  VT_REQUIRE(d != NULL);
  CU_ASSERT_EQUAL(len, 0);
  CU_ASSERT(fd >= 0);
  if (fd >= 0) {
    seals = fcntl(fd, F_GET_SEALS);
    CU_ASSERT(seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_GROW)
              && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_SEAL));
    CU_ASSERT(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
    CU_ASSERT(st.st_size > width);
    rec = apr_palloc(vt_pool(t), (apr_size_t)st.st_size + 1);
    len = (size_t)pread(fd, rec, (size_t)st.st_size, 0);
    CU_ASSERT_EQUAL(len, (size_t)st.st_size);
    rec[len] = '\0';
    /* Sealed: nobody can change it under the daemon. */
    CU_ASSERT(write(fd, "x", 1) < 0);
    close(fd);
  }
  if (rec) {
    CU_ASSERT(strncmp(rec, "PRIORITY=6\n", 11) == 0);
    CU_ASSERT(vt_contains(rec, "\nSYSLOG_IDENTIFIER=big\n"));
    CU_ASSERT(vt_contains(rec, "\nSYSLOG_FACILITY=3\n"));
    CU_ASSERT(whole_message(rec, len, width));
    CU_ASSERT(len < (size_t)width + 200);
  }
  d = rx_next_fd(t, &rx, VT_WAIT_MS, &len, &fd);
  CU_ASSERT(d != NULL && fd < 0 && vt_contains(d, "MESSAGE=after\n"));
  CU_ASSERT(!vt_contains(vt_sup_log(t), "split"));
  vt_end(t);
  rx_close(&rx);
}

/* memfd_create fails (ENOMEM through the PAL's fault seam, in a
 * supervisor of this binary): the long line is split into records of
 * 48 KiB, with one warning, and the service runs on; the next line is a
 * datagram as usual.  The pieces stay charged to vigil's send buffer
 * until the daemon reads them, and vigil sends them at once, so a line
 * longer than that buffer (as this one must be) cannot be queued whole
 * unless the daemon reads meanwhile (this one does not): what came is
 * the line's start, in order, and the rest is counted as lost, as for
 * any daemon that does not keep up. */
static void test_journal_memfd_fails(void) {
  vt_t *t;
  rx_t rx;
  long wmem, width = too_big_for_a_datagram(&wmem);
  const char *cfg, *argv[8];
  char *d, *joined;
  size_t len;
  int fd, n = 0, after = 0, short_piece = 0;
  if (skipped() || !width || !(t = vt_begin("memfd-fail")))
    return;
  VT_REQUIRE(rx_open(t, &rx, "journal.sock", JOURNAL_PATH));
  cfg = vt_config(t, "vigil.xml", big_line_svc(t, width), NULL);
  argv[0] = vt_self(t);
  argv[1] = "--child";
  argv[2] = "faulty-sup";
  argv[3] = cfg;
  argv[4] = "0";
  argv[5] = "1000";
  argv[6] = "memfd";
  argv[7] = NULL;
  VT_REQUIRE(vt_sup_start_argv(t, cfg, argv) == 0);
  joined = apr_pstrdup(vt_pool(t), "");
  while (!after && (d = rx_next_fd(t, &rx, VT_WAIT_MS, &len, &fd)) != NULL) {
    const char *m = strstr(d, "\nMESSAGE=");
    CU_ASSERT(fd < 0);
    VT_REQUIRE(m != NULL && vt_contains(d, "SYSLOG_IDENTIFIER=big\n"));
    m += 9;
    if (strcmp(m, "after\n") == 0) {
      after = 1;
      break;
    }
    /* Every piece is 48 KiB but a last one, which ends the line. */
    CU_ASSERT(!short_piece);
    CU_ASSERT(strlen(m) - 1 <= 49152 && strlen(m) > 1);
    short_piece = strlen(m) - 1 < 49152;
    joined = apr_pstrcat(vt_pool(t), joined,
                         apr_pstrndup(vt_pool(t), m, strlen(m) - 1), NULL);
    n++;
  }
  CU_ASSERT(after);
  CU_ASSERT(n >= 1);
  CU_ASSERT(strncmp(joined, "000001 xxxx", 11) == 0);
  CU_ASSERT(strspn(joined + 7, "x") == strlen(joined) - 7);
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "as a memory file"), 1);
  CU_ASSERT(vt_contains(vt_sup_log(t), "error=\"Cannot allocate memory\""));
  /* The sender stops at the first full queue: the pieces after it are
   * reported lost once "after" got through.  A receiver that kept up
   * (this test reads while vigil sends; a slow sender, as under TSan,
   * never fills the queue) got the whole line, and nothing is lost. */
  if ((long)strlen(joined) < width - 1) {
    CU_ASSERT(!short_piece);
    CU_ASSERT(vt_wait_log(t, "lost=1", VT_WAIT_MS));
    CU_ASSERT(vt_wait_state(t, "big", "running", VT_WAIT_MS) != NULL);
  } else {
    CU_ASSERT_EQUAL((long)strlen(joined), width - 1);
    CU_ASSERT(short_piece);
    CU_ASSERT(vt_wait_state(t, "big", "running", VT_WAIT_MS) != NULL);
    CU_ASSERT(!vt_contains(vt_sup_log(t), "lost="));
  }
  vt_end(t);
  rx_close(&rx);
}

/* ---- validate's warnings ---------------------------------------------- */

/* `vigil validate` of `cfg`: exit 0, "ok", and its stderr. */
static const char *validate_ok(vt_t *t, const char *cfg) {
  vt_res_t *r = vt_vigil(t, 10000, "validate", "-c", cfg, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, ": ok\n"));
  CU_ASSERT(!vt_contains(r->err, "error:"));
  return r->err;
}

/* In the namespace: journald's socket missing, then a regular file in
 * its place, /dev/log a regular file: warnings (exit 0); real sockets
 * at both: nothing said.  The supervisor logs the same warnings at its
 * start and at a reload, and runs the service, its lines in the
 * fallback file. */
static void test_validate_warnings(void) {
  vt_t *t;
  rx_t rs, rj;
  const char *cfg, *err, *plain;
  char *txt;
  if (skipped() || !(t = vt_begin("validate-warn")))
    return;
  cfg = vt_config(t, "vigil.xml",
                  sh_svc(t, "app", "<log stdout=\"journal\" "
                         "stderr=\"syslog\"/>",
                         "echo hello; exec sleep 30"),
                  sh_svc(t, "app2", "<log stdout=\"journal\"/>",
                         "exec sleep 30"),
                  NULL);
  /* A regular file bound over /dev/log (whatever was there). */
  plain = vt_path(t, "plain");
  VT_REQUIRE(vt_write_file(t, plain, "") == 0);
  VT_REQUIRE(mount(plain, SYSLOG_PATH, "none", MS_BIND, NULL) == 0);
  VT_REQUIRE(unlink(JOURNAL_PATH) == 0);
  err = validate_ok(t, cfg);
  CU_ASSERT(vt_contains(err, "vigil.xml:8: warning: service app (and 1 "
                             "more services): <log stdout=\"journal\">: "
                             JOURNAL_PATH " does not exist (is "
                             "systemd-journald running?); the lines go to "
                             "the fallback files"));
  CU_ASSERT(vt_contains(err, "vigil.xml:8: warning: service app: <log "
                             "stderr=\"syslog\">: " SYSLOG_PATH " is not a "
                             "socket; the lines go to the fallback file "));
  CU_ASSERT(vt_contains(err, "app.err.log until it can be reached"));
  CU_ASSERT_EQUAL(vt_count_lines(err, "warning:"), 2);
  VT_REQUIRE(touch(JOURNAL_PATH) == 0);
  err = validate_ok(t, cfg);
  CU_ASSERT(vt_contains(err, JOURNAL_PATH " is not a socket"));
  CU_ASSERT_EQUAL(vt_count_lines(err, "warning:"), 2);

  /* The supervisor says it, and runs the services all the same. */
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  CU_ASSERT(vt_wait_log(t, JOURNAL_PATH " is not a socket", VT_WAIT_MS));
  CU_ASSERT(vt_contains(vt_sup_log(t), SYSLOG_PATH " is not a socket"));
  CU_ASSERT(vt_wait_state(t, "app", "running", VT_WAIT_MS) != NULL);
  txt = fallback_text(t, "app.out.log", "hello\n");
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)", "hello\n");
  /* A reload says them again. */
  VT_REQUIRE(vt_cli(t, "reload", NULL)->code == 0);
  {
    uint64_t end = vt_now_ms() + VT_WAIT_MS;
    while (vt_count_lines(vt_sup_log(t), JOURNAL_PATH " is not a socket") <
               2 && vt_now_ms() < end)
      vt_sleep(t, 20);
    CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t),
                                   JOURNAL_PATH " is not a socket"), 2);
  }
  VT_REQUIRE(vt_cli(t, "shutdown", NULL)->code == 0);
  vt_sup_wait_exit(t, VT_WAIT_MS);
  (void)umount2(SYSLOG_PATH, MNT_DETACH);

  /* Real sockets at both paths: nothing to say. */
  VT_REQUIRE(rx_open(t, &rs, "syslog.sock", SYSLOG_PATH));
  VT_REQUIRE(rx_open(t, &rj, "journal.sock", JOURNAL_PATH));
  err = validate_ok(t, cfg);
  CU_ASSERT_STRING_EQUAL(err, "");
  rx_close(&rj);
  rx_close(&rs);
  vt_end(t);
}

static CU_TestInfo vigil_logtarget_tests[] = {
    {"syslog: RFC 5424 fields, info and err", test_syslog_fields},
    {"journal: PRIORITY, SYSLOG_IDENTIFIER, MESSAGE", test_journal_fields},
    {"a long line is split into records, nothing cut", test_long_line},
    {"journal: a line past a datagram goes whole as a sealed memfd",
     test_journal_memfd},
    {"journal: memfd_create fails: the line is split, the service runs",
     test_journal_memfd_fails},
    {"no daemon: the fallback file, one warning", test_fallback},
    {"the daemon back: lines go to it again after 10 s", test_daemon_back},
    {"a daemon not reading: drops counted, the loop answers",
     test_not_reading},
    {"validate warns of a missing or non-socket daemon path",
     test_validate_warnings},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_logtarget_suite = {.pName = "vigil_logtarget",
                                      .pInitFunc = suite_init,
                                      .pCleanupFunc = suite_cleanup,
                                      .pSetUpFunc = NULL,
                                      .pTearDownFunc = NULL,
                                      .pTests = vigil_logtarget_tests};
