/*
 * test_vigil_spawn.c -- what a service runs as and with (suite
 * vigil_spawn): <user> and <group> (the ids, groups, HOME, USER and
 * LOGNAME the child really has), <umask> (the mode of a file it
 * creates), <nice> (/proc/PID/stat), <cpu-affinity>
 * (/proc/PID/status), and <env-file>: quotes, comments and
 * continuations as systemd reads them, <env> winning, the file read
 * again at every start, a malformed line or a missing file a failed
 * start with its file and line (and a `vigil validate` error), an
 * optional file that is missing, a FIFO refused without a hang.
 *
 * The services are /bin/sh one-liners whose stdout the supervisor
 * captures: what the child saw is read from its log file.  Switching
 * user needs root (CI runs as root); run as another user, those cases
 * say they are skipped and why.  Windows: <user> is refused at validate,
 * <nice> becomes the job's priority class (suite vigil_win).
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#if !defined(_WIN32)
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* A <service> running `sh -c SCRIPT` with `extra` (raw XML). */
static const char *sh_svc(vt_t *t, const char *name, const char *extra,
                          const char *script) {
  return apr_psprintf(vt_pool(t),
                      "  <service name=\"%s\">\n"
                      "    <command>/bin/sh</command>\n"
                      "    <arg>-c</arg><arg>%s</arg>\n"
                      "    <restart delay=\"50ms\" max-restarts=\"2\"/>\n"
                      "    " READY_FAST "%s"
                      "  </service>\n",
                      name, vt_xml(t, script), extra ? extra : "");
}

/* The first line of NAME's stdout log with `prefix`, waited for. */
static const char *out_line(vt_t *t, const char *name, const char *prefix) {
  const char *path = apr_psprintf(vt_pool(t), "%s/%s.out.log", vt_log_dir(t),
                                  name);
  uint64_t until = vt_now_ms() + VT_WAIT_MS;
  do {
    char *text = vt_read_file(t, path, NULL);
    char *at = text ? strstr(text, prefix) : NULL;
    if (at) {
      char *nl = strchr(at, '\n');
      if (nl) {
        *nl = '\0';
        return at;
      }
    }
    vt_sleep(t, 50);
  } while (vt_now_ms() < until);
  fprintf(stderr, "\n  [%s] no line '%s...' in %s\n", name, prefix, path);
  return "";
}

#if !defined(_WIN32)
static int need_root(const char *what) {
  if (geteuid() == 0)
    return 1;
  fprintf(stderr, "\n  [skipped: %s needs root; vigil runs as uid %ld] ",
          what, (long)geteuid());
  return 0;
}

/* <user>nobody: its uid, its primary group, its groups only (none of
 * root's), HOME from the user database, USER and LOGNAME; the service's
 * own <env> still wins over them. */
static void test_user(void) {
  vt_t *t;
  struct passwd *pw;
  char want[512];
  const char *line;
  if (!need_root("switching user"))
    return;
  pw = getpwnam("nobody");
  VT_REQUIRE(pw != NULL);
  t = vt_begin("spawn-user");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            sh_svc(t, "who", "    <user>nobody</user>\n",
                   "echo \"who uid=$(id -u) gid=$(id -g) groups=$(id -G) "
                   "home=$HOME user=$USER logname=$LOGNAME\"; exec sleep 30"),
            sh_svc(t, "own",
                   "    <user>nobody</user>\n"
                   "    <env name=\"HOME\" value=\"/custom\"/>\n",
                   "echo \"own home=$HOME user=$USER\"; exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  line = out_line(t, "who", "who ");
  snprintf(want, sizeof want,
           "who uid=%ld gid=%ld groups=%ld home=%s user=nobody "
           "logname=nobody",
           (long)pw->pw_uid, (long)pw->pw_gid, (long)pw->pw_gid,
           pw->pw_dir);
  CU_ASSERT_STRING_EQUAL(line, want);
  CU_ASSERT_STRING_EQUAL(out_line(t, "own", "own "),
                         "own home=/custom user=nobody");
  vt_end(t);
}

/* kill -9 of the supervisor: a service running as another user dies
 * with it (Linux: the parent-death signal, which the kernel clears when
 * the credentials change, is armed after the switch). */
static void test_user_dies_with_vigil(void) {
  vt_t *t;
  long pid;
  if (!need_root("switching user"))
    return;
  t = vt_begin("spawn-kill9");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            sh_svc(t, "n", "    <user>nobody</user>\n", "exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "n", "running", VT_WAIT_MS) != NULL);
  pid = vt_pid(t, "n");
  VT_REQUIRE(pid > 0);
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGKILL), 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 5000), -2);
  CU_ASSERT(vt_wait_pid_gone(t, pid, 5000));
  vt_end(t);
}

/* A shell check that it runs as nobody (`pw`) with umask 0027 and USER
 * nobody: exit 0, or 3, 4, 5 for the first that differed. */
static const char *as_nobody_0027(vt_t *t, const struct passwd *pw) {
  return apr_psprintf(vt_pool(t),
                      "[ \"$(id -u)\" = %ld ] || exit 3; "
                      "[ \"$(umask)\" = 0027 ] || exit 4; "
                      "[ \"$USER\" = nobody ] || exit 5",
                      (long)pw->pw_uid);
}

/* A <reload> command of a service with <user>nobody and <umask> runs as
 * the service's processes do (systemd's ExecReload= runs as User=, with
 * UMask=; `pg_ctl reload` refuses to run as root): its uid, its umask,
 * and its HOME/USER say the same.  Its exit code tells what differed. */
static void test_user_reload_command(void) {
  vt_t *t;
  struct passwd *pw;
  vt_res_t *r;
  const char *script;
  if (!need_root("switching user"))
    return;
  pw = getpwnam("nobody");
  VT_REQUIRE(pw != NULL);
  t = vt_begin("spawn-reload-user");
  if (!t)
    return;
  script = as_nobody_0027(t, pw);
  vt_config(t, "vigil.xml",
            sh_svc(t, "r",
                   apr_psprintf(vt_pool(t),
                                "    <user>nobody</user>\n"
                                "    <umask>0027</umask>\n"
                                "    <reload><command>/bin/sh</command>"
                                "<arg>-c</arg><arg>%s</arg></reload>\n",
                                vt_xml(t, script)),
                   "exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "r", "running", VT_WAIT_MS) != NULL);
  r = vt_cli(t, "reload", "r", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "r: reload command: exit 0"));
  if (r->code != 0)
    fprintf(stderr, "\n  reload: %s%s", r->out, r->err);
  vt_end(t);
}

/* Service "h" with FIELDS (an exec health check among them, one failure
 * restarts) runs ten checks: every one must pass, so the service is
 * still running, never restarted, and the log has no failed check. */
static void health_checks_pass(vt_t *t, const char *fields) {
  const svc_json_t *s;
  vt_config(t, "vigil.xml", sh_svc(t, "h", fields, "exec sleep 30"), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "h", "running", VT_WAIT_MS) != NULL);
  vt_sleep(t, 1000);   /* ten checks */
  s = vt_svc_of(vt_status(t), "h");
  VT_REQUIRE(s != NULL);
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  CU_ASSERT(!vt_contains(vt_sup_log(t), "health check failed"));
  vt_end(t);
}

/* A health check of type exec of a <user>nobody service runs as the
 * service does: its uid, its umask, its USER.  Run as root, a check an
 * unprivileged user may edit would be a way to root; a failing check
 * (one failure restarts it) would show as restarts and in the log. */
static void test_user_health_check(void) {
  vt_t *t;
  struct passwd *pw;
  const char *script;
  if (!need_root("switching user"))
    return;
  pw = getpwnam("nobody");
  VT_REQUIRE(pw != NULL);
  t = vt_begin("spawn-health-user");
  if (!t)
    return;
  script = as_nobody_0027(t, pw);
  health_checks_pass(t, apr_psprintf(vt_pool(t),
                                     "    <user>nobody</user>\n"
                                     "    <umask>0027</umask>\n"
                                     "    <health type=\"exec\""
                                     " target=\"/bin/sh\" interval=\"100ms\""
                                     " failures=\"1\"><arg>-c</arg>"
                                     "<arg>%s</arg></health>\n",
                                     vt_xml(t, script)));
}

/* <group> over the user's primary group; and an unknown user is a
 * config error at its line, for validate and for run alike. */
static void test_group_and_unknown(void) {
  vt_t *t;
  struct passwd *pw;
  struct group *gr;
  vt_res_t *r;
  char want[128];
  if (!need_root("switching user"))
    return;
  pw = getpwnam("nobody");
  gr = getgrnam("daemon");
  if (!gr)
    gr = getgrgid(1);
  VT_REQUIRE(pw != NULL && gr != NULL);
  t = vt_begin("spawn-group");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            sh_svc(t, "g",
                   apr_psprintf(vt_pool(t),
                                "    <user>nobody</user><group>%s</group>\n",
                                gr->gr_name),
                   "echo \"g uid=$(id -u) gid=$(id -g)\"; exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  snprintf(want, sizeof want, "g uid=%ld gid=%ld", (long)pw->pw_uid,
           (long)gr->gr_gid);
  CU_ASSERT_STRING_EQUAL(out_line(t, "g", "g "), want);
  vt_end(t);

  t = vt_begin("spawn-nouser");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            "  <service name=\"x\">\n"              /* line 8 */
            "    <command>/bin/true</command>\n"
            "    <user>vigil-no-such-user</user>\n"  /* line 10 */
            "  </service>\n",
            NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "vigil.xml:10: error: service x: unknown "
                                "user 'vigil-no-such-user'"));
  if (!vt_contains(r->err, "vigil.xml:10:"))
    fprintf(stderr, "\n  validate: %s", r->err);
  r = vt_vigil(t, VT_WAIT_MS, "run", "-c", vt_path(t, "vigil.xml"), NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "unknown user 'vigil-no-such-user'"));
  vt_end(t);
}

/* A vigil that is not root, asked to run a service as another user:
 * validate says so (and what to do); as itself, nothing to switch. */
static void test_not_root(void) {
  vt_t *t;
  vt_res_t *r;
  struct passwd *pw;
  if (!need_root("running vigil as another user"))
    return;
  pw = getpwnam("nobody");
  VT_REQUIRE(pw != NULL);
  t = vt_begin("spawn-notroot");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            "  <service name=\"x\">\n"
            "    <command>/bin/true</command>\n"
            "    <user>root</user>\n"                /* line 10 */
            "  </service>\n"
            "  <service name=\"y\">\n"
            "    <command>/bin/true</command>\n"
            "    <user>nobody</user>\n"
            "  </service>\n",
            NULL);
  r = vt_child_as(t, (long)pw->pw_uid, (long)pw->pw_gid, "exec",
                  vt_vigil_bin(), "validate", "-c", vt_path(t, "vigil.xml"),
                  NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "vigil.xml:10: error: service x: vigil runs "
                                "as uid"));
  CU_ASSERT(vt_contains(r->err, "not as root"));
  /* y is nobody's own: no problem there. */
  CU_ASSERT(!vt_contains(r->err, "service y"));
  vt_end(t);
}

/* Read field `n` (1-based) of /proc/PID/stat, after the command name. */
static long stat_field(long pid, int n) {
  char path[64], buf[1024], *p;
  FILE *f;
  int i;
  long v = -1000;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  f = fopen(path, "r");
  if (!f)
    return v;
  if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) != NULL) {
    p += 2;   /* field 3 */
    for (i = 3; i < n && p; i++) {
      p = strchr(p, ' ');
      if (p)
        p++;
    }
    if (p)
      v = strtol(p, NULL, 10);
  }
  fclose(f);
  return v;
}

/* /proc/PID/status's line KEY:, its value (a /proc file has no size:
 * read by lines). */
static const char *status_value(vt_t *t, long pid, const char *key) {
  char path[64], line[512];
  size_t n = strlen(key);
  const char *v = "";
  FILE *f;
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  if (!(f = fopen(path, "r")))
    return v;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      char *at = line + n + 1;
      at += strspn(at, " \t");
      at[strcspn(at, "\n")] = '\0';
      v = apr_pstrdup(vt_pool(t), at);
      break;
    }
  fclose(f);
  return v;
}

/* umask 0027: a file the child creates is 0640; nice 5 and CPU 0, as the
 * kernel shows the running process. */
static void test_umask_nice_affinity(void) {
  vt_t *t = vt_begin("spawn-sched");
  struct stat st;
  const char *file;
  long pid;
  if (!t)
    return;
  file = vt_path(t, "made");
  vt_config(t, "vigil.xml",
            sh_svc(t, "u", "    <umask>0027</umask>\n",
                   apr_psprintf(vt_pool(t),
                                "echo x > '%s'; echo \"u umask=$(umask)\"; "
                                "exec sleep 30", file)),
            sh_svc(t, "n",
                   "    <nice>5</nice>\n"
                   "    <cpu-affinity>0</cpu-affinity>\n",
                   "exec sleep 30"),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT_STRING_EQUAL(out_line(t, "u", "u "), "u umask=0027");
  CU_ASSERT_EQUAL(stat(file, &st), 0);
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0640);
  VT_REQUIRE(vt_wait_state(t, "n", "running", VT_WAIT_MS) != NULL);
  pid = vt_pid(t, "n");
  VT_REQUIRE(pid > 0);
  CU_ASSERT_EQUAL(stat_field(pid, 19), 5);   /* nice */
  CU_ASSERT_STRING_EQUAL(status_value(t, pid, "Cpus_allowed_list"), "0");
  vt_end(t);
}

/* A FIFO at an <env-file>'s path: refused by its type at once.  The
 * supervisor is not blocked: status answers, the service fails with the
 * reason; validate says the same, without waiting for a writer. */
static void test_env_file_fifo(void) {
  vt_t *t = vt_begin("spawn-fifo");
  const svc_json_t *s;
  const char *fifo;
  vt_res_t *r;
  if (!t)
    return;
  fifo = vt_path(t, "fifo.env");
  VT_REQUIRE(mkfifo(fifo, 0600) == 0);
  vt_config(t, "vigil.xml",
            sh_svc(t, "f",
                   apr_psprintf(vt_pool(t), "    <env-file>%s</env-file>\n",
                                vt_xml(t, fifo)),
                   "exec sleep 30"),
            sh_svc(t, "ok", NULL, "exec sleep 30"), NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_FALSE(r->timed_out);
  CU_ASSERT(vt_contains(r->err, "not a regular file"));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "ok", "running", VT_WAIT_MS) != NULL);
  s = vt_wait_state(t, "f", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "not a regular file"));
  vt_end(t);
}
#endif

/* The syntax as systemd reads it, <env> over the files, a later file over
 * an earlier one, an optional missing file, and the file read again at
 * the next start (a restart, no reload). */
static void test_env_file(void) {
  vt_t *t = vt_begin("spawn-envfile");
  const char *one, *two, *line;
  const char *script =
      "echo \"env A=[$A] B=[$B] C=[$C] D=[$D] E=[$E] F=[$F]\"; exec sleep 30";
  vt_res_t *r;
  if (!t)
    return;
  one = vt_path(t, "one.env");
  two = vt_path(t, "two.env");
  vt_write_file(t, one,
                "# a comment\n"
                "; another\n"
                "A=from-one\n"
                "B=\"double \\\"quoted\\\" $x\"\n"
                "C='single # kept'\n"
                "D=joined \\\n"
                "   line\n"
                "\n"
                "E=  trimmed  \n");
  vt_write_file(t, two, "E=from-two\nF=from-two\n");
  vt_config(t, "vigil.xml",
            sh_svc(t, "e",
                   apr_psprintf(vt_pool(t),
                                "    <env-file>%s</env-file>\n"
                                "    <env-file>-%s.missing</env-file>\n"
                                "    <env-file>%s</env-file>\n"
                                "    <env name=\"A\" value=\"from-env\"/>\n",
                                vt_xml(t, one), vt_xml(t, one),
                                vt_xml(t, two)),
                   script),
            NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  line = out_line(t, "e", "env ");
  CU_ASSERT_STRING_EQUAL(line, "env A=[from-env] B=[double \"quoted\" $x] "
                               "C=[single # kept] D=[joined    line] "
                               "E=[from-two] F=[from-two]");

  /* Changed on disk: the next start reads it (no reload). */
  VT_REQUIRE(vt_wait_state(t, "e", "running", VT_WAIT_MS) != NULL);
  vt_write_file(t, two, "F=changed\n");
  r = vt_cli(t, "restart", "e", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  {
    /* The second run's line. */
    const char *path = apr_psprintf(vt_pool(t), "%s/e.out.log",
                                    vt_log_dir(t));
    uint64_t until = vt_now_ms() + VT_WAIT_MS;
    char *text = NULL;
    while (vt_now_ms() < until) {
      text = vt_read_file(t, path, NULL);
      if (text && vt_count_lines(text, "env A=") >= 2)
        break;
      vt_sleep(t, 50);
    }
    CU_ASSERT(text && vt_contains(text, "E=[trimmed] F=[changed]"));
  }
  vt_end(t);
}

/* A health check of type exec sees the env-files too: it passes only if
 * X is the file's (else its one failure would restart the service). */
static void test_env_file_health(void) {
  vt_t *t = vt_begin("spawn-envhealth");
  const char *env;
  if (!t)
    return;
  env = vt_path(t, "h.env");
  vt_write_file(t, env, "X=from-file\n");
  health_checks_pass(t, apr_psprintf(vt_pool(t),
                                     "    <env-file>%s</env-file>\n"
                                     "    <health type=\"exec\""
                                     " target=\"/bin/sh\" interval=\"100ms\""
                                     " failures=\"1\"><arg>-c</arg>"
                                     "<arg>test \"$X\" = from-file</arg>"
                                     "</health>\n",
                                     vt_xml(t, env)));
}

/* A malformed line: validate names the file and the line; at run, each
 * start fails through the restart policy, with that reason, and the
 * others are untouched. */
static void test_env_file_malformed(void) {
  vt_t *t = vt_begin("spawn-envbad");
  const svc_json_t *s;
  const char *bad, *missing;
  vt_res_t *r;
  if (!t)
    return;
  bad = vt_path(t, "bad.env");
  missing = vt_path(t, "missing.env");
  vt_write_file(t, bad, "A=1\nexport B=2\n");
  vt_config(t, "vigil.xml",
            sh_svc(t, "bad",
                   apr_psprintf(vt_pool(t), "    <env-file>%s</env-file>\n",
                                vt_xml(t, bad)),
                   "exec sleep 30"),
            sh_svc(t, "gone",
                   apr_psprintf(vt_pool(t), "    <env-file>%s</env-file>\n",
                                vt_xml(t, missing)),
                   "exec sleep 30"),
            sh_svc(t, "ok", NULL, "exec sleep 30"), NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, apr_pstrcat(vt_pool(t), bad, ":2: ", NULL)));
  CU_ASSERT(vt_contains(r->err, "\"export\" is shell syntax"));
  CU_ASSERT(vt_contains(r->err, apr_pstrcat(vt_pool(t), missing,
                                            ": no such file", NULL)));
  if (r->code != 2)
    fprintf(stderr, "\n  validate: %s%s", r->out, r->err);

  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "ok", "running", VT_WAIT_MS) != NULL);
  s = vt_wait_state(t, "bad", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"),
                        apr_pstrcat(vt_pool(t), bad, ":2:", NULL)));
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 2);   /* the policy ran */
  s = vt_wait_state(t, "gone", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "no such file"));
  CU_ASSERT(vt_contains(vt_sup_log(t), "cannot start: env-file"));

  /* Fixed on disk: a start succeeds, without a reload. */
  vt_write_file(t, bad, "A=1\nB=2\n");
  r = vt_cli(t, "start", "bad", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_state(t, "bad", "running", VT_WAIT_MS) != NULL);
  vt_end(t);
}

/* examples/postgres.xml validates (its user given as nobody, which every
 * system has; the default, postgres, may not exist here). */
static void test_example(void) {
  vt_t *t = vt_begin("spawn-example");
  const char *f = __FILE__, *slash = strrchr(f, '/');
  const char *example;
  vt_res_t *r;
  if (!t)
    return;
  VT_REQUIRE(slash != NULL);
  example = apr_psprintf(vt_pool(t), "%.*s/../../examples/postgres.xml",
                         (int)(slash - f), f);
  vg_test_setenv("DB_USER", "nobody");
  r = vt_vigil(t, VT_WAIT_MS, "validate", "-c", example, NULL);
  vg_test_setenv("DB_USER", NULL);
  CU_ASSERT_EQUAL(r->code, geteuid() == 0 ? 0 : 2);
  if (r->code != (geteuid() == 0 ? 0 : 2))
    fprintf(stderr, "\n  validate %s: %s%s", example, r->out, r->err);
  vt_end(t);
}

static CU_TestInfo vigil_spawn_tests[] = {
#if !defined(_WIN32)
    {"<user>nobody: ids, groups, HOME USER LOGNAME; <env> wins", test_user},
    {"kill -9 of vigil: a service run as nobody dies too",
     test_user_dies_with_vigil},
    {"<user>, <umask>: the <reload> command runs as the service does",
     test_user_reload_command},
    {"<user>, <umask>: a health check of type exec runs as the service",
     test_user_health_check},
    {"<group> override; unknown user: error at its line",
     test_group_and_unknown},
    {"a vigil not root cannot switch user: validate says so",
     test_not_root},
    {"<umask> 0027 -> 0640, <nice> 5, <cpu-affinity> 0",
     test_umask_nice_affinity},
    {"<env-file> FIFO: refused at once, no hang", test_env_file_fifo},
    {"examples/postgres.xml validates", test_example},
#endif
    {"<env-file>: systemd syntax, order, read at every start", test_env_file},
    {"<env-file>: a health check of type exec sees it",
     test_env_file_health},
    {"<env-file> malformed or missing: failed start with file:line",
     test_env_file_malformed},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_spawn_suite = {
    .pName = "vigil_spawn",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = vigil_spawn_tests};
