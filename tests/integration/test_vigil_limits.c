/*
 * test_vigil_limits.c -- <limits>, cgroups and resource usage (suite
 * vigil_limits, Linux): the rlimits a service really gets, the warnings
 * at start for what cannot be applied, a cgroup v2 per service (the
 * child joins it, cgroup.kill ends a daemon that left the process group,
 * the cgroup is removed at shutdown), "cpu_ms", "rss_bytes" and
 * "limit_events" in `status --json`, the MEM and CPU columns, and
 * <cgroup> values the config refuses.
 *
 * The cgroup cases run vigil with <cgroup>DIR</cgroup>, DIR a cgroup the
 * test creates under its own cgroup v2 directory and removes afterwards,
 * so nothing of the machine's own hierarchy is touched.  That needs root
 * (or a delegated subtree) and a visible, writable cgroup2 mount.  Where
 * the machine offers none (a container), each such case prints a SKIPPED
 * line saying what is missing (vg_test_cgroup_create; it fails instead
 * under VIGIL_TEST_REQUIRE_CGROUP=1); where it offers one, vigil must
 * use it.
 *
 * What a machine can check depends on the controllers its cgroup2
 * hierarchy offers: where memory, cpu or pids are available, memory.max,
 * cpu.max and pids.max are asserted; where they are not, the warning that
 * the limit falls back to an rlimit (or is not applied) is.  Neither
 * branch skips: each asserts what that machine must show.  OOM kills and
 * limit events need the memory controller or a Windows job object; with
 * neither, "limit_events" is asserted to stay 0.
 *
 * Windows (the suite is registered there too): no rlimits and no
 * cgroups; what runs is the <cgroup> config check and the start line
 * saying cgroups are not used.  Job object limits are the win32 suites'.
 */
#include "vigil_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>

/* The memory limit the tests give.  The services that get it run system
 * programs (grep, sh), not this binary: a sanitizer build of it reserves
 * terabytes of address space for shadow memory before main, and
 * ThreadSanitizer refuses to start under any RLIMIT_AS at all. */
#define MEM_LIMIT "512MB"
#define MEM_BYTES "536870912"

/* ---- helpers ------------------------------------------------------------- */

/* The fixture's config with <cgroup>VALUE</cgroup> in its <supervisor>
 * (vt_config() writes the rest). */
static const char *limits_config(vt_t *t, const char *cgroup,
                                 const char *svc) {
  const char *path = vt_config(t, "vigil.xml", svc, NULL);
  char *text = vt_read_file(t, path, NULL);
  const char *at = text ? strstr(text, "  </supervisor>") : NULL;
  if (!at) {
    CU_FAIL("no </supervisor> in the fixture's config");
    return path;
  }
  vt_write_file(t, path,
                apr_psprintf(vt_pool(t), "%.*s    <cgroup>%s</cgroup>\n%s",
                             (int)(at - text), text, vt_xml(t, cgroup), at));
  return path;
}

#ifndef _WIN32

/* A <service> running a system program with its arguments (XML-escaped,
 * NULL-terminated) then `extra`. */
static const char *prog_svc(vt_t *t, const char *name, const char *extra,
                            const char *prog, ...) {
  va_list ap;
  const char *a;
  const char *s = apr_psprintf(vt_pool(t),
                               "  <service name=\"%s\">\n"
                               "    <command>%s</command>\n    ",
                               name, vt_xml(t, prog));
  va_start(ap, prog);
  while ((a = va_arg(ap, const char *)) != NULL)
    s = apr_psprintf(vt_pool(t), "%s<arg>%s</arg>", s, vt_xml(t, a));
  va_end(ap);
  return apr_psprintf(vt_pool(t), "%s\n    %s  </service>\n", s, extra);
}

/* The soft and hard values of "Max WHAT" in a /proc/PID/limits text are
 * both `want`. */
static int limit_is(const char *limits, const char *what, const char *want) {
  char soft[32], hard[32];
  const char *line = strstr(limits, what);
  if (!line || sscanf(line + strlen(what), "%31s %31s", soft, hard) != 2)
    return 0;
  return strcmp(soft, want) == 0 && strcmp(hard, want) == 0;
}

/* Run body(t, DIR) in a fixture with a test cgroup DIR.  However body
 * ends (VT_REQUIRE returns early), vt_end() then stops vigil and kills
 * what it saw, and DIR goes, with what vigil may have left in it. */
typedef void (*cg_body_fn)(vt_t *t, const char *dir);

static void with_cgroup(const char *tag, const char *svc_name,
                        cg_body_fn body) {
  vt_t *t = vt_begin(tag);
  char *dir, sub[4200];
  if (!t)
    return;
  if (!(dir = vg_test_cgroup_create(tag))) {
    vt_end(t);
    return;
  }
  body(t, dir);
  vt_end(t);
  snprintf(sub, sizeof sub, "%s/svc-%s", dir, svc_name);
  pal_cgroup_kill(sub);
  pal_cgroup_remove(sub);
  CU_ASSERT_EQUAL(pal_cgroup_remove(dir), APR_SUCCESS);
  free(dir);
}

/* Does cgroup dir/svc-NAME hold pid? */
static int cgroup_has(vt_t *t, const char *dir, const char *name, long pid) {
  char buf[4096], want[32];
  const char *sub = apr_psprintf(vt_pool(t), "%s/svc-%s", dir, name);
  size_t n;
  if (pal_cgroup_read(sub, "cgroup.procs", buf, sizeof buf) != APR_SUCCESS)
    return 0;
  n = (size_t)snprintf(want, sizeof want, "%ld", pid);
  {
    const char *p = buf;
    while ((p = strstr(p, want)) != NULL) {
      if ((p == buf || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
        return 1;
      p += n;
    }
  }
  return 0;
}

static int cpu_ms_at_least(const svc_json_t *s, void *arg) {
  return vt_ifield(s, "cpu_ms") >= *(int64_t *)arg;
}

/* ---- rlimits ------------------------------------------------------------- */

/* The warning for processes=N held by no pids.max.  RLIMIT_NPROC does
 * not bind root: as root (these tests, mostly) the warning must say the
 * limit is not enforced, and must not claim it is applied. */
static void nproc_warned(const char *log, const char *n) {
  apr_pool_t *p;
  apr_pool_create(&p, NULL);
  if (pal_geteuid() == 0) {
    CU_ASSERT(vt_contains(log, apr_psprintf(p, "limit processes=%s is not "
                                               "enforced: it is set as "
                                               "RLIMIT_NPROC, which does "
                                               "not bind root", n)));
    CU_ASSERT(!vt_contains(log, "is applied as RLIMIT_NPROC"));
  } else {
    CU_ASSERT(vt_contains(log, apr_psprintf(p, "limit processes=%s is "
                                               "applied as RLIMIT_NPROC",
                                            n)));
  }
  apr_pool_destroy(p);
}

/* Without cgroups every limit but cpu is an rlimit in the child, and the
 * supervisor says what it could not apply, and why. */
static void test_rlimits(void) {
  vt_t *t = vt_begin("lim-rlimits");
  char *out = NULL;
  const char *log;
  uint64_t deadline;
  if (!t)
    return;
  limits_config(t, "off",
                prog_svc(t, "r",
                         READY_FAST
                         "    <limits memory=\"" MEM_LIMIT "\" "
                         "open-files=\"123\" "
                         "processes=\"77\" cpu=\"50%\"/>\n"
                         "    <log stdout=\"r.out\"/>\n",
                         "grep", "^Max \\(address space\\|open files\\|"
                         "processes\\) ", "/proc/self/limits", NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  deadline = vt_now_ms() + VT_WAIT_MS;
  while (vt_now_ms() < deadline &&
         !((out = vt_read_file(t, vt_path(t, "logs/r.out"), NULL)) &&
           strchr(out, '\n')))
    vt_sleep(t, 20);
  VT_REQUIRE(out != NULL);
  CU_ASSERT(limit_is(out, "Max address space", MEM_BYTES));
  CU_ASSERT(limit_is(out, "Max open files", "123"));
  CU_ASSERT(limit_is(out, "Max processes", "77"));
  log = vt_sup_log(t);
  CU_ASSERT(vt_contains(log, "cgroups are not used: <cgroup>off</cgroup>"));
  CU_ASSERT(vt_contains(log, "limit memory=" MEM_BYTES " is applied as "
                             "RLIMIT_AS"));
  nproc_warned(log, "77");
  CU_ASSERT(vt_contains(log, "limit cpu=50% is not applied: cgroups are "
                             "not used"));
  CU_ASSERT(!vt_contains(log, "open-files"));   /* applied: no warning */
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}

/* A service without <limits> inherits the supervisor's own, which are
 * ours (the test started it): the same "rlimits" child run by the test
 * directly says the same. */
static void test_no_limits_inherited(void) {
  vt_t *t = vt_begin("lim-none");
  char *out = NULL, want[128] = "";
  uint64_t deadline;
  FILE *p;
  if (!t)
    return;
  limits_config(t, "off",
                vt_svc(t, "r", READY_FAST "    <log stdout=\"r.out\"/>\n",
                       "rlimits", NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  deadline = vt_now_ms() + VT_WAIT_MS;
  while (vt_now_ms() < deadline &&
         !((out = vt_read_file(t, vt_path(t, "logs/r.out"), NULL)) &&
           strchr(out, '\n')))
    vt_sleep(t, 20);
  VT_REQUIRE(out != NULL);
  p = popen(apr_psprintf(vt_pool(t), "'%s' --child rlimits", vt_self(t)),
            "r");
  VT_REQUIRE(p != NULL);
  if (!fgets(want, sizeof want, p))
    want[0] = '\0';
  pclose(p);
  CU_ASSERT(vt_contains(want, "AS="));
  CU_ASSERT_STRING_EQUAL(out, want);
  CU_ASSERT(!vt_contains(vt_sup_log(t), "is applied as"));
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}

/* ---- cgroups ------------------------------------------------------------- */

/* The child (a shell spinning) joins DIR/svc-NAME; CPU time and memory
 * show in status (the cgroup's cpu.stat, resident memory from the group
 * or memory.current); limits go to the controllers DIR has, or are
 * warned about; the service's cgroup is gone after shutdown. */
static void join_usage(vt_t *t, const char *dir) {
  const char *sub, *log;
  const svc_json_t *s;
  unsigned avail = 0;
  int64_t want = 250;
  long pid;
  vt_res_t *r;
  char buf[256];
  CU_ASSERT_EQUAL(pal_cgroup_controllers(dir, &avail), APR_SUCCESS);
  sub = apr_pstrcat(vt_pool(t), dir, "/svc-busy", NULL);
  limits_config(t, dir,
                prog_svc(t, "busy",
                         READY_FAST
                         "    <limits memory=\"" MEM_LIMIT "\" "
                         "cpu=\"150%\" processes=\"50\"/>\n",
                         "/bin/sh", "-c", "while :; do :; done", NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "busy", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  pid = (long)vt_ifield(s, "pid");
  CU_ASSERT(cgroup_has(t, dir, "busy", pid));
  log = vt_sup_log(t);
  CU_ASSERT(vt_contains(log, apr_psprintf(vt_pool(t),
                                          "cgroups: services in %s/svc-NAME",
                                          dir)));

  /* CPU time grows to what the child burned (cpu.stat counts in us). */
  s = vt_wait_svc(t, "busy", cpu_ms_at_least, &want, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_ifield(s, "rss_bytes") > 0);
  CU_ASSERT_EQUAL(vt_ifield(s, "limit_events"), 0);

  /* Each limit: held by the cgroup where DIR has the controller, else a
   * warning naming the fallback. */
  if (avail & PAL_CGROUP_MEMORY) {
    CU_ASSERT_EQUAL(pal_cgroup_read(sub, "memory.max", buf, sizeof buf),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(buf, MEM_BYTES);
  } else {
    CU_ASSERT(vt_contains(log, "limit memory=" MEM_BYTES " is applied as "
                               "RLIMIT_AS (address space, not resident "
                               "memory), not as memory.max: the cgroup v2 "
                               "memory controller is not available in"));
  }
  if (avail & PAL_CGROUP_CPU) {
    CU_ASSERT_EQUAL(pal_cgroup_read(sub, "cpu.max", buf, sizeof buf),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(buf, "150000 100000");
  } else {
    CU_ASSERT(vt_contains(log, "limit cpu=150% is not applied: the cgroup "
                               "v2 cpu controller is not available in"));
  }
  if (avail & PAL_CGROUP_PIDS) {
    CU_ASSERT_EQUAL(pal_cgroup_read(sub, "pids.max", buf, sizeof buf),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(buf, "50");
  } else {
    nproc_warned(log, "50");
  }

  /* The table shows the same, human-formatted. */
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "MEM"));
  CU_ASSERT(vt_contains(r->out, "CPU"));

  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  CU_ASSERT(!vt_exists(sub));   /* removed at shutdown */
}

/* A daemon that setsid()s away from the service's process group is out
 * of reach of the group kill, but not of cgroup.kill: a stop ends it.
 * Without cgroups too: its invocation id (or, here, its parent, the
 * service's main process) says whose it is. */
static void daemon_stop(vt_t *t, const char *dir) {
  int use_cgroup = dir != NULL;
  const char *pidfile;
  const svc_json_t *s;
  long pid, dpid;
  pidfile = vt_path(t, "daemon.pid");
  limits_config(t, use_cgroup ? dir : "off",
                vt_svc(t, "d", READY_FAST, "daemon", pidfile, NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "d", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  pid = (long)vt_ifield(s, "pid");
  dpid = vt_wait_pid_file(t, pidfile, VT_WAIT_MS);
  VT_REQUIRE(dpid > 0);
  vt_track(t, dpid);
  CU_ASSERT(dpid != pid);
  CU_ASSERT(vt_pid_alive(dpid));
  if (use_cgroup)
    CU_ASSERT(cgroup_has(t, dir, "d", dpid));   /* it stayed in there */

  CU_ASSERT_EQUAL(vt_cli(t, "stop", "d", NULL)->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, pid, VT_WAIT_MS));
  /* Right when the stop returns (a moment for the kernel's SIGKILL). */
  CU_ASSERT(vt_wait_pid_gone(t, dpid, 1000));
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
}

static void test_cgroup_join_usage(void) {
  with_cgroup("lim-cg", "busy", join_usage);
}

static void test_cgroup_kills_daemon(void) {
  with_cgroup("lim-daemon", "d", daemon_stop);
}

static void test_no_cgroup_daemon_stopped(void) {
  vt_t *t = vt_begin("lim-daemon-off");
  if (!t)
    return;
  daemon_stop(t, NULL);
  vt_end(t);
}

/* The parent a double-fork daemon wrote after its pid: "PID PARENT". */
static long parent_of(vt_t *t, const char *pidfile) {
  const char *text = vt_read_file(t, pidfile, NULL);
  const char *sp = text ? strchr(text, ' ') : NULL;
  return sp ? atol(sp + 1) : 0;
}

/* /proc/PID/environ, each entry on a line of its own ("\nNAME=VALUE\n"
 * finds one); "" if it cannot be read.  (Its size reads as 0: not
 * vt_read_file.) */
static const char *environ_of(vt_t *t, long pid) {
  char buf[65536];
  size_t n, i;
  FILE *f = fopen(apr_psprintf(vt_pool(t), "/proc/%ld/environ", pid), "r");
  if (!f)
    return "";
  n = fread(buf + 1, 1, sizeof buf - 2, f);
  fclose(f);
  buf[0] = '\n';
  for (i = 1; i <= n; i++)
    if (buf[i] == '\0')
      buf[i] = '\n';
  return apr_pstrmemdup(vt_pool(t), buf, n + 1);
}

/* Without cgroups, a daemon that double-forks with setsid, an orphan
 * vigil adopts, out of the service's group and session, carries the
 * run's VIGIL_INVOCATION_ID: `vigil stop` takes it down with the
 * service, and so does `vigil shutdown`. */
static void test_no_cgroup_double_fork(void) {
  vt_t *t = vt_begin("lim-dfork");
  const char *pf1, *pf2, *env;
  long d1, d2;
  if (!t)
    return;
  pf1 = vt_path(t, "d1.pid");
  pf2 = vt_path(t, "d2.pid");
  limits_config(t, "off",
                apr_pstrcat(vt_pool(t),
                            vt_svc(t, "d", READY_FAST, "double-fork", pf1,
                                   NULL),
                            vt_svc(t, "e", READY_FAST, "double-fork", pf2,
                                   NULL),
                            NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  d1 = vt_wait_pid_file(t, pf1, VT_WAIT_MS);
  d2 = vt_wait_pid_file(t, pf2, VT_WAIT_MS);
  VT_REQUIRE(d1 > 0 && d2 > 0);
  vt_track(t, d1);
  vt_track(t, d2);
  CU_ASSERT_EQUAL(parent_of(t, pf1), vt_sup_pid(t));   /* adopted */
  env = environ_of(t, d1);
  CU_ASSERT(vt_contains(env, "\nVIGIL_INVOCATION_ID="));
  CU_ASSERT(vt_contains(env, "\nVIGIL_SERVICE=d\n"));

  CU_ASSERT_EQUAL(vt_cli(t, "stop", "d", NULL)->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, d1, 1000));
  CU_ASSERT(vt_pid_alive(d2));   /* another service's: untouched */

  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  CU_ASSERT(vt_wait_pid_gone(t, d2, 1000));
  vt_end(t);
}

/* A crash loop whose every run leaves a double-forked daemon behind: the
 * search after an exit is put off 10 ms and shared by the exits of that
 * time, and still no run's daemon outlives it (checked while the loop
 * goes on, for every run but the last two, then for all once stopped). */
static void test_no_cgroup_crash_loop_daemons(void) {
  vt_t *t = vt_begin("lim-dloop");
  const char *dir, *script;
  long pids[64];
  int n = 0, i, tries;
  if (!t)
    return;
  dir = vt_path(t, "daemons");
  VT_REQUIRE(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, vt_pool(t)) ==
             APR_SUCCESS);
  script = apr_psprintf(vt_pool(t),
                        "'%s' --child double-fork '%s/d.'$$$$ & sleep 0.05; "
                        "exit 3", vt_self(t), dir);
  limits_config(t, "off",
                prog_svc(t, "loop",
                         "<ready after=\"0ms\"/>\n    <restart "
                         "policy=\"always\" delay=\"0ms\" "
                         "max-delay=\"0ms\" max-restarts=\"100000\"/>\n",
                         "/bin/sh", "-c", script, NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  for (tries = 0; tries < 200 && n < 8; tries++) {   /* up to 10 s */
    apr_dir_t *d;
    apr_finfo_t fi;
    vt_sleep(t, 50);
    n = 0;
    if (apr_dir_open(&d, dir, vt_pool(t)) != APR_SUCCESS)
      continue;
    while (n < 64 && apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
      long pid;
      if (strncmp(fi.name, "d.", 2) != 0)
        continue;
      pid = vt_read_pid_file(t, apr_pstrcat(vt_pool(t), dir, "/", fi.name,
                                            NULL));
      if (pid > 0) {
        vt_track(t, pid);
        pids[n++] = pid;
      }
    }
    apr_dir_close(d);
  }
  VT_REQUIRE(n >= 8);
  /* Runs end every ~50 ms: all but the youngest two have ended. */
  for (i = 0, tries = 0; i < n; i++)
    tries += !vt_wait_pid_gone(t, pids[i], 1000);
  CU_ASSERT(tries <= 2);
  CU_ASSERT_EQUAL(vt_cli(t, "stop", "loop", NULL)->code, 0);
  for (i = 0; i < n; i++)
    CU_ASSERT(vt_wait_pid_gone(t, pids[i], 2000));
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}

/* kill -9 of vigil: the double-forked daemon, out of every process
 * group vigil recorded, is no longer vigil's once vigil is gone; the
 * next vigil on the same config finds it by the invocation id recorded
 * in its pids file, and kills it. */
static void test_no_cgroup_kill9_daemon(void) {
  vt_t *t = vt_begin("lim-kill9d");
  const char *pf;
  long d;
  if (!t)
    return;
  pf = vt_path(t, "d.pid");
  limits_config(t, "off", vt_svc(t, "d", READY_FAST, "double-fork", pf,
                                 NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  d = vt_wait_pid_file(t, pf, VT_WAIT_MS);
  VT_REQUIRE(d > 0);
  vt_track(t, d);
  VT_REQUIRE(vt_wait_state(t, "d", "running", VT_WAIT_MS) != NULL);
  vt_sleep(t, 100);   /* the pids file is written once it runs */
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGKILL), 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 5000), -2);
  CU_ASSERT(vt_pid_alive(d));   /* PDEATHSIG reached the child only */

  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(vt_wait_pid_gone(t, d, 2000));
  CU_ASSERT(vt_contains(vt_sup_log(t), "killed 1 leftover process(es) of a "
                                       "previous supervisor"));
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}

/* What no service can be told to own -- an orphan that replaced its
 * environment, of a service a reload removed -- does not outlive vigil
 * either: the shutdown sweeps every process it adopted. */
static void test_no_cgroup_shutdown_sweep(void) {
  vt_t *t = vt_begin("lim-sweep");
  const char *pf;
  long d;
  if (!t)
    return;
  pf = vt_path(t, "d.pid");
  limits_config(t, "off",
                apr_pstrcat(vt_pool(t),
                            vt_svc(t, "keep", READY_FAST, "sleep", "30000",
                                   NULL),
                            vt_svc(t, "gone", READY_FAST, "double-fork", pf,
                                   "noenv", NULL),
                            NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  d = vt_wait_pid_file(t, pf, VT_WAIT_MS);
  VT_REQUIRE(d > 0);
  vt_track(t, d);
  /* Removed by a reload: stopped, and its orphan, which it cannot be
   * told from, left behind. */
  limits_config(t, "off", vt_svc(t, "keep", READY_FAST, "sleep", "30000",
                                 NULL));
  CU_ASSERT_EQUAL(vt_cli(t, "reload", NULL)->code, 0);
  CU_ASSERT_PTR_NULL(vt_svc_of(vt_status(t), "gone"));
  CU_ASSERT(vt_pid_alive(d));
  CU_ASSERT_EQUAL(parent_of(t, pf), vt_sup_pid(t));

  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  CU_ASSERT(vt_wait_pid_gone(t, d, 1000));
  CU_ASSERT(vt_contains(vt_sup_log(t), "killed 1 process(es) vigil adopted "
                                       "that no service owned"));
  vt_end(t);
}
#endif

/* <cgroup>auto</cgroup> (the default) never makes cgroups at the root of
 * the hierarchy; elsewhere it uses vigil's own cgroup if delegated.
 * Either way the log says which, in one line. */
static void test_auto(void) {
  vt_t *t = vt_begin("lim-auto");
  char self[4096];
  int is_root = 0;
  apr_status_t rv;
  const char *log;
  if (!t)
    return;
  rv = pal_cgroup_self(self, sizeof self, &is_root);
  limits_config(t, "auto", vt_svc(t, "a", READY_FAST, "sleep", "30000",
                                  NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  log = vt_sup_log(t);
  if (rv == APR_SUCCESS && is_root) {
    CU_ASSERT(vt_contains(log, "cgroups are not used: vigil runs in the "
                               "root cgroup"));
  } else if (rv != APR_SUCCESS) {
    CU_ASSERT(vt_contains(log, "cgroups are not used: "));
  } else {
    CU_ASSERT(vt_contains(log, "cgroups: services in ") ||
              vt_contains(log, "cgroups are not used: vigil's cgroup is "
                               "not delegated"));
  }
  CU_ASSERT_EQUAL(vt_count_lines(log, "cgroups"), 1);
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}

#ifndef _WIN32
/* A cgroup path that cannot be used: one warning, and the services run
 * as without cgroups.  The warning names the path -- or, on a machine
 * with no cgroup2 mount at all (a container), says that first. */
static void test_bad_path_falls_back(void) {
  vt_t *t = vt_begin("lim-badpath");
  const char *bad;
  char self[4096];
  int is_root;
  if (!t)
    return;
  bad = vt_path(t, "not-a-cgroup/x");   /* a plain directory's child */
  limits_config(t, bad, vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  CU_ASSERT(vt_contains(
      vt_sup_log(t),
      pal_cgroup_self(self, sizeof self, &is_root) == PAL_EUNSUPPORTED
          ? "WARN  supervisor: cgroups are not used: this system has no "
            "cgroup v2 hierarchy"
          : apr_psprintf(vt_pool(t), "cgroups are not used: cannot use %s",
                         bad)));
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}
#endif

/* ---- config -------------------------------------------------------------- */

static void test_config_values(void) {
  vt_t *t = vt_begin("lim-cfg");
  vt_res_t *r;
  if (!t)
    return;
  limits_config(t, "of", vt_svc(t, "a", NULL, "sleep", "1", NULL));
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "bad value 'of' in <cgroup>"));
  CU_ASSERT(vt_contains(r->err, "did you mean 'off'?"));
  limits_config(t, "relative/dir", vt_svc(t, "a", NULL, "sleep", "1", NULL));
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "expected auto, off or the absolute path"));
  limits_config(t, "/sys/fs/cgroup/x", vt_svc(t, "a", NULL, "sleep", "1",
                                              NULL));
  CU_ASSERT_EQUAL(vt_cli(t, "validate", NULL)->code, 0);
  vt_end(t);
}

static CU_TestInfo vigil_limits_tests[] = {
#ifndef _WIN32
    {"rlimits applied in the child, warnings for the rest", test_rlimits},
    {"no <limits>: the supervisor's own are inherited",
     test_no_limits_inherited},
    {"cgroup: child joins, cpu_ms/rss_bytes, limits or warnings",
     test_cgroup_join_usage},
    {"cgroup.kill ends a daemon that left the group",
     test_cgroup_kills_daemon},
    {"without cgroups that daemon is stopped too",
     test_no_cgroup_daemon_stopped},
    {"without cgroups a double-forked daemon goes at stop and shutdown",
     test_no_cgroup_double_fork},
    {"without cgroups a crash loop's daemons all go",
     test_no_cgroup_crash_loop_daemons},
    {"shutdown sweeps the orphans no service owns",
     test_no_cgroup_shutdown_sweep},
    {"after kill -9 of vigil, the next one kills the daemon",
     test_no_cgroup_kill9_daemon},
    {"unusable cgroup path: warning, services run", test_bad_path_falls_back},
#endif
    {"auto: never at the root cgroup; one line says which", test_auto},
    {"<cgroup> values: bad ones refused with a hint", test_config_values},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_limits_suite = {.pName = "vigil_limits",
                                   .pInitFunc = NULL,
                                   .pCleanupFunc = NULL,
                                   .pSetUpFunc = NULL,
                                   .pTearDownFunc = NULL,
                                   .pTests = vigil_limits_tests};
