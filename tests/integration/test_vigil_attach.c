/*
 * test_vigil_attach.c -- type="attach" with <pid-file> (suite
 * vigil_attach), on the real binary with real daemons: /bin/sh scripts
 * that daemonize as init scripts do (a new session, the pid written to a
 * file, the parent returns), attached to when they run before vigil
 * starts, started through <command> when they do not, started again
 * after a kill -9, stopped by `vigil stop` and by a shutdown.  And as an
 * adversary: a pid file whose pid now belongs to an unrelated process
 * (started after the file was written), malformed files, a FIFO, a
 * symbolic link and a directory at the path, a process of another user:
 * each refused with its reason in the status, nothing signalled (the
 * unrelated processes live on), <command> never run.
 *
 * The daemons are shell scripts, so most cases are POSIX-only; on
 * Windows (under Wine) a process the test starts is attached to and
 * stopped, and the config's rules are checked.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#if !defined(_WIN32)
/* An init script: `daemon.sh PIDFILE [DELAY [PROGRAM ARGS...]]` starts
 * the daemon (PROGRAM, default `sleep 300`, in a new session, exec'd by
 * the shell whose pid it writes, after DELAY seconds, atomically) and
 * returns at once, as `/etc/init.d/NAME start` does.  With DELAY > 0 the
 * file comes after the script has exited: vigil must read it again. */
static const char *daemon_script(vt_t *t) {
  const char *path = vt_path(t, "daemon.sh");
  vt_write_file(t, path,
                "#!/bin/sh\n"
                "P=$1; D=${2:-0}\n"
                "if [ $# -ge 2 ]; then shift 2; else shift $#; fi\n"
                "[ $# -gt 0 ] || set -- sleep 300\n"
                "setsid sh -c 'sleep \"$1\"; echo $$ > \"$2.tmp\" && "
                "mv \"$2.tmp\" \"$2\"; shift 2; exec \"$@\"' sh \"$D\" \"$P\" "
                "\"$@\" </dev/null >/dev/null 2>&1 &\n"
                "exit 0\n");
  return path;
}

/* A daemon started before vigil, by the test: its pid, written to
 * pidfile (and tracked: vt_end kills it). */
static long start_daemon(vt_t *t, const char *pidfile) {
  vt_res_t *r = vt_run(t, 5000, "/bin/sh", daemon_script(t), pidfile, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  return vt_wait_pid_file(t, pidfile, 5000);
}

#endif

/* A <service type="attach"> with the pid file and <command>/<arg>s
 * (NULL-terminated), then `extra`. */
static const char *attach_svc(vt_t *t, const char *name, const char *pidfile,
                              const char *extra, const char *command, ...) {
  va_list ap;
  const char *a, *s = apr_psprintf(
      vt_pool(t),
      "  <service name=\"%s\" type=\"attach\">\n"
      "    <pid-file>%s</pid-file>\n"
      "    <command>%s</command>",
      name, vt_xml(t, pidfile), vt_xml(t, command));
  va_start(ap, command);
  while ((a = va_arg(ap, const char *)) != NULL)
    s = apr_pstrcat(vt_pool(t), s, "<arg>", vt_xml(t, a), "</arg>", NULL);
  va_end(ap);
  return apr_pstrcat(vt_pool(t), s, "\n    ", extra ? extra : "",
                     extra && strstr(extra, "<ready")
                         ? ""
                         : "<ready after=\"100ms\"/>",
                     "<stop timeout=\"2s\"/>\n  </service>\n", NULL);
}

#if !defined(_WIN32)
/* A <command> that must never run: it leaves `mark` behind and fails. */
static const char *marker_cmd(vt_t *t, const char *mark) {
  return apr_psprintf(vt_pool(t), "touch '%s'; exit 1", mark);
}

static int pid_not(const svc_json_t *s, void *arg) {
  int64_t pid = vt_ifield(s, "pid");
  const char *st = vt_sfield(s, "state");
  return pid > 0 && pid != *(long *)arg && st && !strcmp(st, "running");
}

/* The service's reason holds `needle`. */
typedef struct why_s {
  const char *needle;
} why_t;
static int reason_has(const svc_json_t *s, void *arg) {
  const char *r = vt_sfield(s, "reason");
  return r && strstr(r, ((why_t *)arg)->needle) != NULL;
}

static const svc_json_t *wait_reason(vt_t *t, const char *name,
                                     const char *needle) {
  why_t w;
  const svc_json_t *s;
  w.needle = needle;
  s = vt_wait_svc(t, name, reason_has, &w, VT_WAIT_MS);
  if (!s)
    fprintf(stderr, "\n    %s: no reason with \"%s\" (state %s)", name,
            needle, vt_state(t, name));
  return s;
}

/* A plain process of ours (sleep 300, not a daemon of any service): its
 * pid, written to path; tracked. */
static long start_sleeper(vt_t *t, const char *path) {
  vt_res_t *r = vt_run(
      t, 5000, "/bin/sh", "-c",
      apr_psprintf(vt_pool(t),
                   "sleep 300 </dev/null >/dev/null 2>&1 & echo $! > '%s'",
                   path),
      NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  return vt_wait_pid_file(t, path, 5000);
}

/* ---- tests ------------------------------------------------------------- */

/* The daemon runs before vigil: vigil watches it (usage, type, pid file
 * in status) without running <command>; `vigil stop` ends it (its stop
 * signal, to that pid alone); the next start finds the file stale and
 * runs <command>, whose failure is said. */
static void test_attach_running(void) {
  vt_t *t = vt_begin("attach-running");
  const char *pidfile, *mark;
  const svc_json_t *s;
  vt_res_t *r;
  long pid;
  if (!t)
    return;
  pidfile = vt_path(t, "legacy.pid");
  mark = vt_path(t, "command-ran");
  pid = start_daemon(t, pidfile);
  VT_REQUIRE(pid > 0);
  vt_config(t, "vigil.xml",
            attach_svc(t, "legacy", pidfile, NULL, "/bin/sh", "-c",
                       marker_cmd(t, mark), NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "legacy", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pid);
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "type"), "attach");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "pid_file"), pidfile);
  CU_ASSERT(vt_ifield(s, "rss_bytes") > 0);
  CU_ASSERT(!vt_exists(mark));
  CU_ASSERT(vt_contains(vt_sup_log(t), "attached to pid"));

  r = vt_cli(t, "stop", "legacy", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, pid, 5000));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "legacy"), "stopped");

  /* Now the file names a dead pid: <command> runs (and fails here). */
  vt_cli(t, "start", "legacy", "--no-wait", NULL);
  CU_ASSERT(wait_reason(t, "legacy", "exited with code 1 (it must start "
                                     "the daemon and exit 0)") != NULL);
  CU_ASSERT(vt_exists(mark));
  CU_ASSERT(vt_contains(vt_sup_log(t), "which is not running (a stale pid "
                                       "file)"));
  vt_end(t);
}

/* No daemon: <command> starts it and returns; the pid file comes 300 ms
 * later (read again until it does).  A kill -9 of the daemon is a
 * failure: the restart policy runs <command> again, and the new daemon
 * is watched.  The exit code is unknown (null in status and events).  A
 * shutdown stops the daemon. */
static void test_launch_restart_shutdown(void) {
  vt_t *t = vt_begin("attach-launch");
  const char *pidfile;
  const svc_json_t *s;
  vt_res_t *r;
  long p1, p2;
  if (!t)
    return;
  pidfile = vt_path(t, "legacy.pid");
  vt_config(t, "vigil.xml",
            attach_svc(t, "legacy", pidfile,
                       "<restart delay=\"100ms\"/>", "/bin/sh",
                       daemon_script(t), pidfile, "0.3", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "legacy", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p1 = (long)vt_ifield(s, "pid");
  CU_ASSERT_EQUAL(p1, vt_read_pid_file(t, pidfile));
  CU_ASSERT(vt_contains(vt_sup_log(t), "does not exist; running /bin/sh"));

  VT_REQUIRE(vt_run(t, 5000, "kill", "-9",
                    apr_psprintf(vt_pool(t), "%ld", p1), NULL)->code == 0);
  s = vt_wait_svc(t, "legacy", pid_not, &p1, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p2 = (long)vt_ifield(s, "pid");
  CU_ASSERT_EQUAL(p2, vt_read_pid_file(t, pidfile));
  CU_ASSERT(vt_pid_alive(p2));
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 1);
  CU_ASSERT(svc_json_is_null(
      svc_json_get(svc_json_get(s, "last_exit"), "code")));
  CU_ASSERT(vt_contains(vt_sup_log(t), "exited (status unknown: vigil did "
                                       "not start it); restarting in"));
  r = vt_cli(t, "events", NULL);
  CU_ASSERT(vt_contains(r->out, "\"exited\""));
  CU_ASSERT(vt_contains(r->out, "status unknown"));

  r = vt_cli(t, "shutdown", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_sup_wait_exit(t, VT_WAIT_MS) == 0);
  CU_ASSERT(vt_wait_pid_gone(t, p2, 5000));
  vt_end(t);
}

/* `vigil signal` reaches the attached daemon (a shell that records
 * USR1), and a stop whose signal it ignores ends in a kill at the stop
 * timeout. */
static void test_signal_and_kill(void) {
  vt_t *t = vt_begin("attach-signal");
  const char *pidfile, *got, *script;
  vt_res_t *r;
  long pid;
  if (!t)
    return;
  pidfile = vt_path(t, "d.pid");
  got = vt_path(t, "got");
  script = vt_path(t, "trapper.sh");
  vt_write_file(t, script,
                "#!/bin/sh\n"
                "setsid sh -c 'trap \"echo USR1 >> $2\" USR1; trap \"\" TERM; "
                "echo $$ > \"$1\"; while :; do sleep 0.05; done' sh \"$1\" "
                "\"$2\" </dev/null >/dev/null 2>&1 &\n");
  vt_config(t, "vigil.xml",
            attach_svc(t, "d", pidfile, NULL, "/bin/sh", script, pidfile,
                       got, NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "d", "running", VT_WAIT_MS) != NULL);
  pid = vt_read_pid_file(t, pidfile);
  VT_REQUIRE(pid > 0);
  r = vt_cli(t, "signal", "d", "USR1", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  {
    uint64_t end = vt_now_ms() + 5000;
    char *s = NULL;
    while (vt_now_ms() < end &&
           !((s = vt_read_file(t, got, NULL)) && strstr(s, "USR1")))
      vt_sleep(t, 20);
    CU_ASSERT(s && strstr(s, "USR1"));
  }
  r = vt_cli(t, "stop", "d", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(!vt_pid_alive(pid));
  CU_ASSERT(vt_contains(vt_sup_log(t), "killing it"));
  CU_ASSERT(vt_contains(vt_sup_log(t), "killed after the stop timeout"));
  vt_end(t);
}

/* <ready tcp> and <health tcp> on an attached daemon (this binary's
 * tcp-listen, started by the init script): running once its port
 * accepts; when it stops listening (the process stays up), failed
 * checks restart it -- the stop signal to the old daemon, <command>
 * for a new one. */
static void test_ready_and_health(void) {
  vt_t *t = vt_begin("attach-health");
  const char *pidfile, *closef, *ports;
  const svc_json_t *s;
  long p1, p2;
  int port;
  if (!t)
    return;
  port = vt_free_port(t);
  VT_REQUIRE(port > 0);
  ports = apr_psprintf(vt_pool(t), "%d", port);
  pidfile = vt_path(t, "web.pid");
  closef = vt_path(t, "close");
  vt_config(t, "vigil.xml",
            attach_svc(t, "web", pidfile,
                       apr_psprintf(vt_pool(t),
                                    "<ready tcp=\"127.0.0.1:%d\" "
                                    "timeout=\"10s\"/>"
                                    "<health type=\"tcp\" "
                                    "target=\"127.0.0.1:%d\" "
                                    "interval=\"200ms\" timeout=\"1s\" "
                                    "failures=\"2\"/>",
                                    port, port),
                       "/bin/sh", daemon_script(t), pidfile, "0",
                       vt_self(t), "--child", "tcp-listen", ports, "-",
                       closef, NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "web", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p1 = (long)vt_ifield(s, "pid");
  CU_ASSERT_EQUAL(p1, vt_read_pid_file(t, pidfile));
  vt_write_file(t, closef, "");
  s = vt_wait_svc(t, "web", pid_not, &p1, 2 * VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p2 = (long)vt_ifield(s, "pid");
  CU_ASSERT_EQUAL(p2, vt_read_pid_file(t, pidfile));
  CU_ASSERT(vt_wait_pid_gone(t, p1, 5000));
  CU_ASSERT(vt_contains(vt_sup_log(t), "web: health check failed"));
  vt_end(t);
}

/* Debian's start-stop-daemon --background --make-pidfile as <command>,
 * the way init scripts start daemons: attached, killed -9, started
 * again by it.  Skipped (said) where it is not installed. */
static void test_start_stop_daemon(void) {
  static const char ssd[] = "/sbin/start-stop-daemon";
  vt_t *t;
  const char *pidfile;
  const svc_json_t *s;
  long p1, p2;
  if (!vt_exists(ssd)) {
    vg_test_skip("attach-ssd", "%s is not installed", ssd);
    return;
  }
  t = vt_begin("attach-ssd");
  if (!t)
    return;
  pidfile = vt_path(t, "sleep.pid");
  vt_config(t, "vigil.xml",
            attach_svc(t, "ssd", pidfile, "<restart delay=\"100ms\"/>", ssd,
                       "--start", "--background", "--make-pidfile",
                       "--pidfile", pidfile, "--exec", "/bin/sleep", "--",
                       "300", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "ssd", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p1 = (long)vt_ifield(s, "pid");
  CU_ASSERT_EQUAL(p1, vt_read_pid_file(t, pidfile));
  VT_REQUIRE(vt_run(t, 5000, "kill", "-9",
                    apr_psprintf(vt_pool(t), "%ld", p1), NULL)->code == 0);
  s = vt_wait_svc(t, "ssd", pid_not, &p1, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p2 = (long)vt_ifield(s, "pid");
  CU_ASSERT_EQUAL(p2, vt_read_pid_file(t, pidfile));
  CU_ASSERT_EQUAL(vt_cli(t, "stop", "ssd", NULL)->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, p2, 5000));
  vt_end(t);
}

/* A pid file whose pid now belongs to a process that started after the
 * file was written (pid reuse, made here by backdating the file): never
 * attached, never signalled, <command> never run. */
static void test_reused_pid(void) {
  vt_t *t = vt_begin("attach-reused");
  const char *pidfile, *mark;
  long pid;
  if (!t)
    return;
  pidfile = vt_path(t, "legacy.pid");
  mark = vt_path(t, "command-ran");
  pid = start_sleeper(t, pidfile);
  VT_REQUIRE(pid > 0);
  /* Written an hour before that process started. */
  CU_ASSERT_EQUAL(apr_file_mtime_set(pidfile,
                                     apr_time_now() -
                                         apr_time_from_sec(3600),
                                     vt_pool(t)),
                  APR_SUCCESS);
  vt_config(t, "vigil.xml",
            attach_svc(t, "legacy", pidfile, NULL, "/bin/sh", "-c",
                       marker_cmd(t, mark), NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(wait_reason(t, "legacy", "after the file was written, so it "
                                     "cannot be the process") != NULL);
  CU_ASSERT(wait_reason(t, "legacy", "never signalled") != NULL);
  vt_sleep(t, 300);   /* a restart or two: still nothing */
  CU_ASSERT(strcmp(vt_state(t, "legacy"), "running") != 0);
  CU_ASSERT(vt_pid_alive(pid));
  CU_ASSERT(!vt_exists(mark));
  vt_cli(t, "stop", "legacy", NULL);
  CU_ASSERT(vt_pid_alive(pid));
  vt_end(t);
}

/* Hostile pid files, one service each: malformed contents, a FIFO (the
 * loop must not block on it: status answers), a symbolic link to a good
 * pid file, a directory.  All refused, with their reasons; the live
 * process the link names survives; no <command> runs. */
static void test_hostile_files(void) {
  static const struct {
    const char *name, *text, *reason;
  } bad[] = {
      {"letters", "12abc\n", "holds '12abc', not a single decimal pid"},
      {"empty", "", "is empty"},
      {"two", "123 456\n", "not a single decimal pid"},
      {"minus", "-5\n", "not a single decimal pid"},
      {"zero", "0\n", "holds pid 0"},
      {"init", "1\n", "the init process"},
      {"huge", "99999999999999999999\n", "too large for a pid"},
      {"long", "1234567890123456789012345678901234567890123456789012345678"
               "901234567890\n", "longer than 64 bytes"},
  };
  vt_t *t = vt_begin("attach-hostile");
  const char *xml = "", *mark, *good, *link, *fifo, *dir;
  size_t i;
  long pid;
  if (!t)
    return;
  mark = vt_path(t, "command-ran");
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *pf = vt_path(t, apr_pstrcat(vt_pool(t), bad[i].name, ".pid",
                                            NULL));
    vt_write_file(t, pf, bad[i].text);
    xml = apr_pstrcat(vt_pool(t), xml,
                      attach_svc(t, bad[i].name, pf, NULL, "/bin/sh", "-c",
                                 marker_cmd(t, mark), NULL),
                      NULL);
  }
  good = vt_path(t, "good.pid");
  pid = start_sleeper(t, good);
  VT_REQUIRE(pid > 0);
  link = vt_path(t, "link.pid");
  fifo = vt_path(t, "fifo.pid");
  dir = vt_path(t, "dir.pid");
  CU_ASSERT_EQUAL(vt_run(t, 5000, "ln", "-s", good, link, NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_run(t, 5000, "mkfifo", fifo, NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_run(t, 5000, "mkdir", dir, NULL)->code, 0);
  xml = apr_pstrcat(
      vt_pool(t), xml,
      attach_svc(t, "link", link, NULL, "/bin/sh", "-c", marker_cmd(t, mark),
                 NULL),
      attach_svc(t, "fifo", fifo, NULL, "/bin/sh", "-c", marker_cmd(t, mark),
                 NULL),
      attach_svc(t, "dir", dir, NULL, "/bin/sh", "-c", marker_cmd(t, mark),
                 NULL),
      NULL);
  vt_config(t, "vigil.xml", xml, NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CU_ASSERT(wait_reason(t, bad[i].name, bad[i].reason) != NULL);
  CU_ASSERT(wait_reason(t, "link", "is not a regular file") != NULL);
  CU_ASSERT(wait_reason(t, "fifo", "is not a regular file") != NULL);
  CU_ASSERT(wait_reason(t, "dir", "is not a regular file") != NULL);
  CU_ASSERT(vt_status(t) != NULL);   /* the FIFO blocked nothing */
  CU_ASSERT(vt_pid_alive(pid));
  CU_ASSERT(!vt_exists(mark));
  vt_end(t);
}

/* <command> that exits 0 and writes no pid file, and one that does not
 * exit: failed starts at the <ready timeout>, the second killed. */
static void test_launcher_timeouts(void) {
  vt_t *t = vt_begin("attach-timeouts");
  const char *hang_pid;
  const svc_json_t *s;
  long pid;
  if (!t)
    return;
  hang_pid = vt_path(t, "hang.launcher");
  /* "$$$$": the config's ${VAR} substitution makes it the shell's $$. */
  vt_config(t, "vigil.xml",
            attach_svc(t, "silent", vt_path(t, "silent.pid"),
                       "<ready timeout=\"500ms\"/>", "/bin/sh", "-c",
                       "exit 0", NULL),
            attach_svc(t, "hang", vt_path(t, "hang.pid"),
                       "<ready timeout=\"500ms\"/>"
                       "<restart policy=\"never\"/>", "/bin/sh", "-c",
                       apr_psprintf(vt_pool(t),
                                    "echo $$$$ > '%s'; exec sleep 300",
                                    hang_pid),
                       NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(wait_reason(t, "silent", "no daemon to attach to within 500ms "
                                     "of the start (pid file") != NULL);
  CU_ASSERT(wait_reason(t, "silent", "does not exist)") != NULL);
  s = wait_reason(t, "hang", "did not exit within 500ms");
  CU_ASSERT(s != NULL);
  pid = vt_read_pid_file(t, hang_pid);
  CU_ASSERT(pid > 0 && vt_wait_pid_gone(t, pid, 5000));
  vt_end(t);
}

/* A process of another user (nobody), named by a good pid file: refused
 * for a service without <user> under a root vigil; attached (and
 * stopped) for a service with <user>nobody</user>.  Root only. */
static void test_other_user(void) {
  vt_t *t;
  const char *pidfile;
  const svc_json_t *s;
  long pid;
  if (pal_geteuid() != 0) {
    fprintf(stderr, "\n    skipped: needs root (a process of nobody) ");
    return;
  }
  t = vt_begin("attach-user");
  if (!t)
    return;
  pidfile = vt_path(t, "nobody.pid");
  {
    vt_res_t *r = vt_run(
        t, 5000, "/bin/sh", "-c",
        apr_psprintf(vt_pool(t),
                     "setpriv --reuid=65534 --regid=65534 --clear-groups "
                     "sleep 300 </dev/null >/dev/null 2>&1 & echo $! > '%s'",
                     pidfile),
        NULL);
    CU_ASSERT_EQUAL(r->code, 0);
  }
  pid = vt_wait_pid_file(t, pidfile, 5000);
  VT_REQUIRE(pid > 0);
  vt_sleep(t, 100);   /* setpriv has switched and exec'd sleep */
  vt_config(t, "vigil.xml",
            attach_svc(t, "mine", pidfile, NULL, "/bin/false", NULL),
            attach_svc(t, "theirs", pidfile, "<user>nobody</user>"
                       "<autostart>false</autostart>", "/bin/false", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(wait_reason(t, "mine", "a process of uid 65534, not of the "
                                   "service's user (uid 0)") != NULL);
  CU_ASSERT(vt_pid_alive(pid));
  vt_cli(t, "stop", "mine", NULL);
  vt_cli(t, "start", "theirs", NULL);
  s = vt_wait_state(t, "theirs", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pid);
  CU_ASSERT_EQUAL(vt_cli(t, "stop", "theirs", NULL)->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, pid, 5000));
  vt_end(t);
}

/* examples/legacy-attach.xml, run from a copy (its state beside it):
 * its init script starts the daemon, which is attached, then shut down. */
static void test_example(void) {
  vt_t *t = vt_begin("attach-example");
  const char *f = __FILE__, *slash = strrchr(f, '/'), *example, *copy;
  const svc_json_t *s;
  char *text;
  long pid;
  if (!t)
    return;
  VT_REQUIRE(slash != NULL);
  example = apr_psprintf(vt_pool(t), "%.*s/../../examples/legacy-attach.xml",
                         (int)(slash - f), f);
  text = vt_read_file(t, example, NULL);
  VT_REQUIRE(text != NULL);
  copy = vt_path(t, "legacy-attach.xml");
  VT_REQUIRE(vt_write_file(t, copy, text) == 0);
  vg_test_setenv("LEGACY_DIR", vt_path(t, "legacy"));
  VT_REQUIRE(vt_sup_start_ready(t, copy));
  vg_test_setenv("LEGACY_DIR", NULL);
  s = vt_wait_state(t, "legacy", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  pid = vt_read_pid_file(t, vt_path(t, "legacy/legacy.pid"));
  CU_ASSERT(pid > 0 && vt_ifield(s, "pid") == pid);
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT(vt_sup_wait_exit(t, VT_WAIT_MS) == 0);
  CU_ASSERT(pid > 0 && vt_wait_pid_gone(t, pid, 5000));
  vt_end(t);
}

#endif /* !_WIN32 */

static int attached_gone;
static void on_test_child_exit(vg_process_t *p, int code, int sig) {
  (void)p;
  (void)code;
  (void)sig;
  attached_gone = 1;
}

static int gone_flag(void *arg) { return *(int *)arg; }

/* A process the test started (so not vigil's child, nor its
 * descendant), named by a pid file: attached (its memory in status),
 * then stopped by `vigil stop` -- on Windows terminated, the one stop
 * an attached process can get. */
static void test_attach_test_child(void) {
  vt_t *t = vt_begin("attach-child");
  const char *args[] = {NULL, "--child", "sleep-exit", "30000", "0", NULL};
  const char *pidfile;
  vg_process_options_t o;
  vg_process_t p;
  const svc_json_t *s;
  int i;
  if (!t)
    return;
  args[0] = vt_self(t);
  memset(&o, 0, sizeof o);
  o.file = args[0];
  o.args = args;
  for (i = 0; i < 3; i++)
    o.stdio[i].kind = VG_STDIO_IGNORE;
  o.exit_cb = on_test_child_exit;
  attached_gone = 0;
  VT_REQUIRE(vg_spawn(vt_loop(t), &p, &o) == APR_SUCCESS);
  vt_track(t, p.pid);
  pidfile = vt_path(t, "child.pid");
  vt_write_file(t, pidfile, apr_psprintf(vt_pool(t), "%ld\n", p.pid));
  /* Its <command> fails: it must not run. */
  vt_config(t, "vigil.xml",
            attach_svc(t, "c", pidfile, NULL, vt_self(t), "--child",
                       "sleep-exit", "0", "3", NULL),
            NULL);
  if (vt_sup_start_ready(t, vt_path(t, "vigil.xml"))) {
    s = vt_wait_state(t, "c", "running", VT_WAIT_MS);
    CU_ASSERT(s != NULL);
    if (s) {
      CU_ASSERT_EQUAL(vt_ifield(s, "pid"), p.pid);
      CU_ASSERT(vt_ifield(s, "rss_bytes") > 0);
    }
    CU_ASSERT_EQUAL(vt_cli(t, "stop", "c", NULL)->code, 0);
    CU_ASSERT(vg_test_run_cond(vt_loop(t), gone_flag, &attached_gone,
                               VT_WAIT_MS));
    CU_ASSERT_STRING_EQUAL(vt_state(t, "c"), "stopped");
    CU_ASSERT(!vt_contains(vt_sup_log(t), "exited with code 3"));
  } else {
    CU_FAIL("vigil did not start");
  }
  if (!attached_gone)
    vg_process_kill(&p, VG_SIGKILL);
  vg_test_run_cond(vt_loop(t), gone_flag, &attached_gone, VT_WAIT_MS);
  vg_close((vg_handle_t *)&p, NULL);
  vt_end(t);
}

/* What the config refuses, with the lines. */
static void test_attach_config(void) {
  vt_t *t = vt_begin("attach-cfg");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            "  <service name=\"nofile\" type=\"attach\">"
            "<command>x</command></service>\n"
            "  <service name=\"rel\" type=\"attach\"><command>x</command>"
            "<pid-file>run/x.pid</pid-file></service>\n"
            "  <service name=\"simple\"><command>x</command>"
            "<pid-file>/run/x.pid</pid-file></service>\n"
            "  <service name=\"extras\" type=\"attach\"><command>x</command>"
            "<pid-file>/run/x.pid</pid-file>\n"
            "    <limits memory=\"1GB\"/><watchdog timeout=\"1s\"/>\n"
            "    <schedule>@daily</schedule><ready notify=\"true\"/>\n"
            "  </service>\n"
            "  <service name=\"many\" type=\"attach\"><command>x</command>"
            "<pid-file>/run/x.pid</pid-file><instances>2</instances>"
            "</service>\n"
            "  <service name=\"nocmd\" type=\"attach\">"
            "<pid-file>/run/x.pid</pid-file></service>\n",
            NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, ":8: error: service 'nofile' is "
                                "type=\"attach\" and has no <pid-file>"));
  CU_ASSERT(vt_contains(r->err, ":9: error: <pid-file> must be an absolute "
                                "path, not 'run/x.pid'"));
  CU_ASSERT(vt_contains(r->err, ":10: error: <pid-file> is only for "
                                "type=\"attach\""));
  CU_ASSERT(vt_contains(r->err, ":12: error: <limits> cannot be used with "
                                "type=\"attach\""));
  CU_ASSERT(vt_contains(r->err, ":12: error: <watchdog> cannot be used"));
  CU_ASSERT(vt_contains(r->err, ":13: error: <schedule> cannot be used"));
  CU_ASSERT(vt_contains(r->err, ":13: error: <ready notify> cannot be "
                                "used"));
  CU_ASSERT(vt_contains(r->err, "service 'many' is type=\"attach\" and has "
                                "2 <instances>"));
  CU_ASSERT(vt_contains(r->err, "service 'nocmd' has no <command>"));
  CU_ASSERT(!vt_contains(r->err, "service 'rel' is type=\"attach\" and has "
                                 "no <pid-file>"));
  vt_end(t);
}

static CU_TestInfo vigil_attach_tests[] = {
    {"config: what attach needs and refuses", test_attach_config},
    {"a process the test started is attached, stopped",
     test_attach_test_child},
#if !defined(_WIN32)
    {"a daemon running before vigil is watched, stopped",
     test_attach_running},
    {"<command> starts it, a kill -9 restarts it, shutdown stops it",
     test_launch_restart_shutdown},
    {"signal reaches it; an ignored stop signal ends in a kill",
     test_signal_and_kill},
    {"<ready tcp> and <health tcp>: failed checks restart it",
     test_ready_and_health},
    {"start-stop-daemon --background --make-pidfile as <command>",
     test_start_stop_daemon},
    {"a reused pid is refused and never signalled", test_reused_pid},
    {"malformed files, FIFO, symlink, directory: refused",
     test_hostile_files},
    {"<command> that writes no pid file, or never exits",
     test_launcher_timeouts},
    {"a process of another user is refused (root)", test_other_user},
    {"examples/legacy-attach.xml runs", test_example},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_attach_suite = {
    .pName = "vigil_attach",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = vigil_attach_tests};
