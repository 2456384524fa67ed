/*
 * test_vigil_win.c -- Windows-only end-to-end cases (suite vigil_win):
 * the control endpoint as a named pipe.
 *
 *   - the default pipe is \\.\pipe\vigil-HASH, HASH 16 hex digits of the
 *     config's path; the CLI finds it however the path is spelt (case,
 *     either slash), and <control> overrides it;
 *   - its DACL grants our user, LocalSystem and Administrators, nobody
 *     else, and is protected from inheritance;
 *   - a pipe of that name created first by someone else (a squatter) is
 *     not joined: `vigil run` fails, exit 1, naming the pipe.
 *
 * What the shared suites already assert over the pipe on Windows is not
 * repeated here: malformed and oversized requests (vigil_control), the
 * stop ladder and process trees in jobs, also when vigil.exe itself is
 * killed (vigil_run), and SCM services (vigil_winsvc).
 *
 * Like test_win32.c, this suite uses the Win32 API directly to look at
 * what vigil made.
 */
#ifdef _WIN32

#include "vigil_test.h"
#include "svc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <sddl.h>

static wchar_t *wide(vt_t *t, const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = apr_palloc(vt_pool(t), (apr_size_t)(n > 0 ? n : 1) *
                                          sizeof(wchar_t));
  w[0] = L'\0';
  if (n > 0)
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

/* One service, running, under a supervisor of the fixture's config. */
static int start_one(vt_t *t, const char *extra_sup) {
  const char *cfg = vt_config(t, "vigil.xml",
                              vt_svc(t, "a", READY_FAST, "sleep", "30000",
                                     NULL),
                              extra_sup, NULL);
  return vt_sup_start_ready(t, cfg) &&
         vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL;
}

/* ---- tests ------------------------------------------------------------------ */

/* The name is a pure function of the path, and stable: a CLI of one
 * build finds the supervisor of another.  A known answer (FNV-1a 64 of
 * "c:\\srv\\vigil\\vigil.xml"), the same for every spelling of that
 * path, another for another file. */
static void test_pipe_name_hash(void) {
  static const char want[] = "\\\\.\\pipe\\vigil-cc1aeb7b00bc2eee";
  apr_pool_t *p;
  apr_pool_create(&p, vg_test_pool);
  CU_ASSERT_STRING_EQUAL(
      svc_default_endpoint("C:/Srv/Vigil/vigil.xml", "C:/Srv/Vigil/.vigil", p),
      want);
  CU_ASSERT_STRING_EQUAL(
      svc_default_endpoint("c:\\srv\\vigil\\VIGIL.XML", "elsewhere", p),
      want);
  CU_ASSERT_STRING_NOT_EQUAL(
      svc_default_endpoint("C:/Srv/Vigil/other.xml", "C:/Srv/Vigil/.vigil",
                           p),
      want);
  apr_pool_destroy(p);
}

/* The default endpoint: a pipe named after the config's path, which the
 * supervisor logs and every spelling of the path finds. */
static void test_default_pipe_name(void) {
  vt_t *t = vt_begin("pipe-name");
  const char *pipe, *cfg, *hex, *alt;
  char *p;
  size_t i;
  vt_res_t *r;
  if (!t)
    return;
  VT_REQUIRE(start_one(t, NULL));
  cfg = vt_path(t, "vigil.xml");
  pipe = vt_control_path(t);
  CU_ASSERT(strncmp(pipe, "\\\\.\\pipe\\vigil-", 15) == 0);
  hex = pipe + 15;
  CU_ASSERT_EQUAL(strlen(hex), 16);
  for (i = 0; hex[i]; i++)
    CU_ASSERT(strchr("0123456789abcdef", hex[i]) != NULL);
  CU_ASSERT(vt_contains(vt_sup_log(t),
                        apr_pstrcat(vt_pool(t), "control ", pipe, NULL)));
  /* It is there: WaitNamedPipeW knows the name. */
  CU_ASSERT(WaitNamedPipeW(wide(t, pipe), 2000));

  /* The same file, spelt in upper case with backslashes. */
  alt = apr_pstrdup(vt_pool(t), cfg);
  for (p = (char *)alt; *p; p++)
    *p = *p == '/' ? '\\' : (char)toupper((unsigned char)*p);
  r = vt_vigil(t, VT_WAIT_MS, "status", "-c", alt, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "running"));
  /* --control with the pipe's name. */
  r = vt_vigil(t, VT_WAIT_MS, "status", "--control", pipe, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "running"));
  vt_end(t);
}

/* <control> names another pipe: the supervisor serves that one, the
 * default name is not created, and the CLI finds it through -c. */
static void test_control_override(void) {
  vt_t *t = vt_begin("pipe-ctl");
  const char *name, *cfg, *text;
  vt_res_t *r;
  if (!t)
    return;
  name = apr_psprintf(vt_pool(t), "\\\\.\\pipe\\vigil-test-%ld-ctl",
                      pal_getpid());
  /* vt_config() writes the <supervisor> section: add <control> to it. */
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL), NULL);
  text = vt_read_file(t, cfg, NULL);
  VT_REQUIRE(text != NULL);
  {
    const char *at = strstr(text, "  </supervisor>");
    VT_REQUIRE(at != NULL);
    text = apr_psprintf(vt_pool(t), "%.*s    <control>%s</control>\n%s",
                        (int)(at - text), text, name, at);
  }
  VT_REQUIRE(vt_write_file(t, cfg, text) == 0);
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  CU_ASSERT(vt_contains(vt_sup_log(t),
                        apr_pstrcat(vt_pool(t), "control ", name, NULL)));
  CU_ASSERT(WaitNamedPipeW(wide(t, name), 2000));
  CU_ASSERT(!WaitNamedPipeW(wide(t, vt_control_path(t)), 1));
  CU_ASSERT_EQUAL(GetLastError(), ERROR_FILE_NOT_FOUND);
  r = vt_vigil(t, VT_WAIT_MS, "status", "--control", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  vt_end(t);
}

/* The DACL: exactly our user, LocalSystem and Administrators, protected
 * (no inherited ACEs), allow entries only. */
static void test_pipe_dacl(void) {
  vt_t *t = vt_begin("pipe-dacl");
  PSECURITY_DESCRIPTOR sd = NULL;
  SECURITY_DESCRIPTOR_CONTROL ctl = 0;
  DWORD rev, n = 0;
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = NULL;
  HANDLE h, tok;
  TOKEN_USER *me = NULL;
  int saw_me = 0, saw_system = 0, saw_admins = 0, others = 0;
  WORD i;
  if (!t)
    return;
  VT_REQUIRE(start_one(t, NULL));
  h = CreateFileW(wide(t, vt_control_path(t)), READ_CONTROL, 0, NULL,
                  OPEN_EXISTING, 0, NULL);
  VT_REQUIRE(h != INVALID_HANDLE_VALUE);
  /* aclapi.h's GetSecurityInfo would drag in ole2.h, which apr.h's
   * NOUSER breaks: the kernel-object call reads the same descriptor. */
  GetKernelObjectSecurity(h, DACL_SECURITY_INFORMATION, NULL, 0, &n);
  sd = apr_palloc(vt_pool(t), n ? n : 1);
  CU_ASSERT(GetKernelObjectSecurity(h, DACL_SECURITY_INFORMATION, sd, n, &n));
  CloseHandle(h);
  CU_ASSERT(GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted));
  if (!present || !dacl) {
    CU_FAIL("no DACL on the control pipe");
    goto out;
  }
  CU_ASSERT(GetSecurityDescriptorControl(sd, &ctl, &rev));
  CU_ASSERT(ctl & SE_DACL_PROTECTED);
  VT_REQUIRE(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
  GetTokenInformation(tok, TokenUser, NULL, 0, &n);
  me = apr_palloc(vt_pool(t), n ? n : 1);
  CU_ASSERT(GetTokenInformation(tok, TokenUser, me, n, &n));
  CloseHandle(tok);
  for (i = 0; i < dacl->AceCount; i++) {
    ACE_HEADER *ace;
    PSID sid;
    if (!GetAce(dacl, i, (void **)&ace))
      continue;
    if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE) {
      others++;
      continue;
    }
    sid = (PSID)&((ACCESS_ALLOWED_ACE *)ace)->SidStart;
    if (EqualSid(sid, me->User.Sid))
      saw_me++;
    else if (IsWellKnownSid(sid, WinLocalSystemSid))
      saw_system++;
    else if (IsWellKnownSid(sid, WinBuiltinAdministratorsSid))
      saw_admins++;
    else
      others++;
  }
  CU_ASSERT_EQUAL(dacl->AceCount, 3);
  CU_ASSERT_EQUAL(saw_me, 1);
  CU_ASSERT_EQUAL(saw_system, 1);
  CU_ASSERT_EQUAL(saw_admins, 1);
  CU_ASSERT_EQUAL(others, 0);   /* no Everyone, no anonymous */
out:
  vt_end(t);
}

/* Someone created the pipe first: vigil does not become one more
 * instance of a pipe it does not own.  It refuses to run, naming it. */
static void test_pipe_squatted(void) {
  vt_t *t = vt_begin("pipe-squat");
  const char *cfg;
  HANDLE squat;
  vt_res_t *r;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL), NULL);
  squat = CreateNamedPipeW(wide(t, vt_control_path(t)),
                           PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                           PIPE_TYPE_BYTE | PIPE_WAIT,
                           PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, NULL);
  VT_REQUIRE(squat != INVALID_HANDLE_VALUE);
  r = vt_vigil(t, VT_WAIT_MS, "run", "-c", cfg, NULL);
  CloseHandle(squat);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "cannot open the control endpoint"));
  CU_ASSERT(vt_contains(r->err, vt_control_path(t)));
  CU_ASSERT(vt_contains(r->err, "in use"));
  /* It started no service. */
  CU_ASSERT(!vt_contains(r->err, "a: started"));
  vt_end(t);
}

/* <limits cpu>: a job CPU rate cap.  Where the system refuses the cap
 * (Wine 8, as Windows 7) the service still runs, and the supervisor says
 * once that the limit is not applied; where it takes it, no warning. */
static void test_cpu_cap_or_warning(void) {
  int wine = vg_test_is_wine();
  vt_t *t = vt_begin("win-cpucap");
  const char *warning = "limit cpu=50% is not applied: this system refuses "
                        "a job CPU rate cap";
  const char *log;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "capped", READY_FAST "    <limits cpu=\"50%\"/>\n",
                   "sleep", "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(vt_wait_state(t, "capped", "running", VT_WAIT_MS) != NULL);
  log = vt_sup_log(t);
  CU_ASSERT(wine ? vt_contains(log, warning) : !vt_contains(log, warning));
  CU_ASSERT_EQUAL(vt_cli(t, "restart", "capped", NULL)->code, 0);
  log = vt_sup_log(t);
  if (wine) {   /* said once, not at every start */
    const char *first = strstr(log, warning);
    CU_ASSERT(first != NULL && strstr(first + 1, warning) == NULL);
  }
  vt_end(t);
}

/* <user> and <group>: refused at validate, naming the alternative (vigil
 * itself as that account); <umask> is a warning at start; <nice> and
 * <cpu-affinity> run (the job's priority class and affinity: suite
 * win32). */
static void test_user_refused(void) {
  vt_t *t = vt_begin("win-user");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            "  <service name=\"db\">\n"          /* line 8 */
            "    <command>C:\\db\\db.exe</command>\n"
            "    <user>postgres</user>\n"           /* line 10 */
            "  </service>\n",
            NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "vigil.xml:10: error: service db: <user> "
                                "is not supported here"));
  CU_ASSERT(vt_contains(r->err, "vigil service install --account"));
  if (r->code != 2)
    fprintf(stderr, "\n  validate: %s%s", r->out, r->err);

  vt_config(t, "vigil.xml",
            vt_svc(t, "s",
                   READY_FAST "    <umask>0027</umask><nice>5</nice>\n"
                   "    <cpu-affinity>0</cpu-affinity>\n",
                   "sleep", "30000", NULL),
            NULL);
  CU_ASSERT_EQUAL(vt_cli(t, "validate", NULL)->code, 0);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(vt_wait_state(t, "s", "running", VT_WAIT_MS) != NULL);
  CU_ASSERT(vt_contains(vt_sup_log(t), "umask 0027 is not applied: "
                                       "Windows has no umask"));
  vt_end(t);
}

/* <log stdout="eventlog">: the events are reported.  Wine's ReportEventW
 * stores nothing; what can be seen is that nothing fell back to the file
 * (and, by eye, the text of an error event in Wine's debug output on this
 * suite's stderr: err:eventlog:ReportEventW L"er: an error event").
 * stderr="syslog" has no daemon on Windows: the lines go to the default
 * file, with one warning. */
static void test_log_daemons(void) {
  vt_t *t = vt_begin("win-logd");
  const char *dir;
  char *txt;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "ev",
                   "<restart policy=\"never\"/>\n"
                   "    <log stdout=\"eventlog\"/>\n",
                   "print", "to the event log\n", NULL),
            vt_svc(t, "sl",
                   "<restart policy=\"never\"/>\n"
                   "    <log stderr=\"syslog\"/>\n",
                   "print-stderr", "to syslog\n", NULL),
            vt_svc(t, "er",
                   "<restart policy=\"never\"/>\n"
                   "    <log stderr=\"eventlog\"/>\n",
                   "print-stderr", "an error event\n", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "ev", "exited", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "sl", "exited", VT_WAIT_MS) != NULL);
  dir = vt_log_dir(t);
  txt = vt_read_file(t, apr_pstrcat(vt_pool(t), dir, "\\sl.err.log", NULL),
                     NULL);
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)", "to syslog\n");
  CU_ASSERT(!vt_exists(apr_pstrcat(vt_pool(t), dir, "\\ev.out.log", NULL)));
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "log daemon unavailable"),
                  1);
  VT_REQUIRE(vt_wait_state(t, "er", "exited", VT_WAIT_MS) != NULL);
  CU_ASSERT(!vt_exists(apr_pstrcat(vt_pool(t), dir, "\\er.err.log", NULL)));
  vt_end(t);
}

static CU_TestInfo vigil_win_tests[] = {
    {"log targets: eventlog reported, syslog falls back to the file",
     test_log_daemons},
    {"pipe name: a stable hash of the config path", test_pipe_name_hash},
    {"default pipe: named after the config, found by the CLI",
     test_default_pipe_name},
    {"<control> names another pipe", test_control_override},
    {"pipe DACL: owner, SYSTEM, Administrators only", test_pipe_dacl},
    {"a squatted pipe name: vigil run refuses, exit 1", test_pipe_squatted},
    {"cpu limit: a job CPU cap, or a warning where refused",
     test_cpu_cap_or_warning},
    {"<user> refused at validate; <umask> a warning; <nice> runs",
     test_user_refused},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_win_suite = {.pName = "vigil_win",
                                .pInitFunc = NULL,
                                .pCleanupFunc = NULL,
                                .pSetUpFunc = NULL,
                                .pTearDownFunc = NULL,
                                .pTests = vigil_win_tests};

#endif /* _WIN32 */
