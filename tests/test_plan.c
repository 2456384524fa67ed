/*
 * test_plan.c -- a service's plan (services/plan.c) and what a reload
 * does with each config field.
 *
 * The field table changes one field of a service at a time and asserts
 * what the reload's one comparison makes of it -- restart or live, and
 * the CFG_F_* bit -- and that config/README.md's table "What reload does,
 * field by field" says the same.  Every config of tests/data/config is
 * loaded as `vigil validate` loads it (svc_config_load) and as cfg_load()
 * alone: the same files pass, with the same problems.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "test.h"
#include "cfg.h"
#include "../services/svc_int.h"

/* tests/ and the source tree, from __FILE__ (CMake compiles with full
 * paths). */
static const char *src_path(const char *rel) {
  const char *f = __FILE__, *slash = strrchr(f, '/');
  const char *bslash = strrchr(f, '\\');
  if (bslash && (!slash || bslash > slash))
    slash = bslash;
  if (!slash)
    return rel;
  return apr_psprintf(vg_test_pool, "%.*s/%s", (int)(slash - f), f, rel);
}

static cfg_t *load_text(const char *xml) {
  const char *path = vg_test_write_temp("vigil-plan", xml);
  cfg_errors_t *errs = NULL;
  cfg_t *cfg = NULL;
  apr_status_t rv = svc_config_load(&cfg, path, vg_test_pool, &errs);
  int i;
  if (rv != APR_SUCCESS)
    for (i = 0; i < cfg_errors_count(errs); i++)
      fprintf(stderr, "\n    | %s",
              cfg_error_format(cfg_errors_get(errs, i), vg_test_pool));
  apr_file_remove(path, vg_test_pool);
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  return cfg;
}

/* ------------------------------------------------------------------------
 * What reload does, field by field
 * --------------------------------------------------------------------- */

/* In pieces: the type row changes several at once (a oneshot takes no
 * <ready>, <health> or policy="always"). */
#define BASE_BODY                                                            \
  "    <command>/bin/a</command>\n"                                          \
  "    <arg>1</arg>\n"                                                       \
  "    <workdir>/tmp</workdir>\n"                                            \
  "    <env name=\"A\" value=\"1\"/>\n"                                      \
  "    <autostart>yes</autostart>\n"
#define BASE_RESTART_TAIL                                                    \
  " delay=\"1s\" max-delay=\"1m\" max-restarts=\"5\" window=\"1m\"/>\n"
#define BASE_READY "    <ready tcp=\"127.0.0.1:80\" timeout=\"10s\"/>\n"
#define BASE_STOP_DEPS                                                       \
  "    <stop signal=\"SIGTERM\" timeout=\"10s\"/>\n"                         \
  "    <depends-on>db</depends-on>\n"
#define BASE_HEALTH                                                          \
  "    <health type=\"http\" target=\"http://localhost/x\" interval=\"5s\"" \
  " timeout=\"1s\" failures=\"3\"/>\n"
#define BASE_SERVICE                                                         \
  "  <service name=\"s\">\n" BASE_BODY                                       \
  "    <restart policy=\"always\"" BASE_RESTART_TAIL BASE_READY              \
  BASE_STOP_DEPS BASE_HEALTH                                                 \
  "    <hook when=\"post-stop\" timeout=\"30s\"><command>/bin/h</command>"   \
  "</hook>\n"                                                               \
  "    <on event=\"fatal\" timeout=\"30s\"><command>/bin/p</command>"       \
  "</on>\n"                                                                 \
  "    <watchdog timeout=\"30s\"/>\n"                                         \
  "    <schedule>*/15 * * * *</schedule>\n"                                  \
  "    <log stdout=\"s.out\" stderr=\"s.err\" max-size=\"1MB\" keep=\"3\""   \
  " rotate=\"size\" compress=\"false\" timestamps=\"false\"/>\n"             \
  "    <limits memory=\"1GB\" cpu=\"50\" processes=\"10\""                   \
  " open-files=\"100\"/>\n"                                                  \
  "    <env-file>-/nonexistent/a</env-file>\n"                               \
  "    <umask>0022</umask><nice>0</nice><cpu-affinity>0</cpu-affinity>\n"     \
  "    <reload timeout=\"20s\"><command>/bin/r</command><arg>r1</arg>"      \
  "</reload>\n"                                                              \
  "  </service>\n"

static const char *base_config(void) {
  return apr_pstrcat(vg_test_pool,
                     "<vigil>\n  <supervisor>\n    <state-dir>",
                     vg_test_tmpdir(), "</state-dir>\n    <log-dir>",
                     vg_test_tmpdir(),
                     "</log-dir>\n  </supervisor>\n"
                     "  <service name=\"db\"><command>/bin/b</command>"
                     "</service>\n"
                     "  <service name=\"cache\"><command>/bin/c</command>"
                     "</service>\n" BASE_SERVICE "</vigil>\n",
                     NULL);
}

/* `text` with the first `from` replaced by `to`. */
static const char *replace(const char *text, const char *from,
                           const char *to) {
  const char *at = strstr(text, from);
  CU_ASSERT_PTR_NOT_NULL_FATAL(at);
  return apr_psprintf(vg_test_pool, "%.*s%s%s", (int)(at - text), text, to,
                      at + strlen(from));
}

typedef struct field_case_s {
  const char *readme;   /* the row of config/README.md's table */
  const char *from, *to;
  unsigned fields;      /* CFG_F_* the comparison must report */
  int restart;          /* 1: restart, 0: live */
} field_case_t;

static const field_case_t field_cases[] = {
  {"`<command>`", "/bin/a", "/bin/z", CFG_F_COMMAND, 1},
  {"`<arg>`", "<arg>1</arg>", "<arg>2</arg>", CFG_F_ARGS, 1},
  {"`<arg>`", "<arg>1</arg>", "<arg>1</arg><arg>x</arg>", CFG_F_ARGS, 1},
  {"`<workdir>`", "<workdir>/tmp</workdir>", "<workdir>/var</workdir>",
   CFG_F_WORKDIR, 1},
  {"`<env>`", "value=\"1\"/>", "value=\"2\"/>", CFG_F_ENV, 1},
  {"`<env>`", "<env name=\"A\" value=\"1\"/>",
   "<env name=\"A\" value=\"1\"/><env name=\"B\" value=\"\"/>", CFG_F_ENV,
   1},
  {"`<limits>`", "memory=\"1GB\"", "memory=\"2GB\"", CFG_F_LIMITS, 1},
  {"`<limits>`", "cpu=\"50\"", "cpu=\"60\"", CFG_F_LIMITS, 1},
  {"`<limits>`", "processes=\"10\"", "processes=\"11\"", CFG_F_LIMITS, 1},
  {"`<limits>`", "open-files=\"100\"", "open-files=\"101\"", CFG_F_LIMITS,
   1},
  {"`<log stdout stderr>`, the kind", "stdout=\"s.out\"", "stdout=\"null\"",
   CFG_F_STDIO | CFG_F_LOG, 1},
  {"`<log stdout stderr>`, the kind", "stderr=\"s.err\"",
   "stderr=\"stdout\"", CFG_F_STDIO | CFG_F_LOG, 1},
  {"`<log stdout stderr>`, the kind", "stderr=\"s.err\"",
   "stderr=\"inherit\"", CFG_F_STDIO | CFG_F_LOG, 1},
  {"`<log stdout stderr>`, the file name", "stdout=\"s.out\"",
   "stdout=\"t.out\"", CFG_F_LOG, 0},
  {"`<log stdout stderr>`, the file name", "stderr=\"s.err\"",
   "stderr=\"t.err\"", CFG_F_LOG, 0},
  {"`<log max-size keep rotate compress timestamps>`", "max-size=\"1MB\"",
   "max-size=\"2MB\"", CFG_F_LOG, 0},
  {"`<log max-size keep rotate compress timestamps>`", "keep=\"3\"",
   "keep=\"4\"", CFG_F_LOG, 0},
  {"`<log max-size keep rotate compress timestamps>`", "rotate=\"size\"",
   "rotate=\"daily\"", CFG_F_LOG, 0},
  {"`<log max-size keep rotate compress timestamps>`",
   "compress=\"false\"", "compress=\"true\"", CFG_F_LOG, 0},
  {"`<log max-size keep rotate compress timestamps>`",
   "timestamps=\"false\"", "timestamps=\"true\"", CFG_F_LOG, 0},
  {"`<autostart>`", "<autostart>yes", "<autostart>no", CFG_F_AUTOSTART, 0},
  {"`<restart>`", "policy=\"always\"", "policy=\"never\"", CFG_F_RESTART,
   0},
  {"`<restart>`", "delay=\"1s\"", "delay=\"2s\"", CFG_F_RESTART, 0},
  {"`<restart>`", "max-delay=\"1m\"", "max-delay=\"2m\"", CFG_F_RESTART, 0},
  {"`<restart>`", "max-restarts=\"5\"", "max-restarts=\"6\"",
   CFG_F_RESTART, 0},
  {"`<restart>`", "window=\"1m\"", "window=\"2m\"", CFG_F_RESTART, 0},
  {"`<ready>`", "127.0.0.1:80", "127.0.0.1:81", CFG_F_READY, 0},
  {"`<ready>`", "<ready tcp=\"127.0.0.1:80\" timeout=\"10s\"/>",
   "<ready after=\"2s\"/>", CFG_F_READY, 0},
  {"`<ready>`", "timeout=\"10s\"/>\n    <stop",
   "timeout=\"11s\"/>\n    <stop", CFG_F_READY, 0},
  {"`<stop>`", "SIGTERM", "SIGINT", CFG_F_STOP, 0},
  {"`<stop>`", "timeout=\"10s\"/>\n    <depends",
   "timeout=\"12s\"/>\n    <depends", CFG_F_STOP, 0},
  {"`<depends-on>`", "<depends-on>db</depends-on>",
   "<depends-on>cache</depends-on>", CFG_F_DEPENDS, 0},
  {"`<health>`", "http://localhost/x", "http://localhost/y", CFG_F_HEALTH,
   0},
  {"`<health>`", "interval=\"5s\"", "interval=\"6s\"", CFG_F_HEALTH, 0},
  {"`<health>`", "timeout=\"1s\"", "timeout=\"2s\"", CFG_F_HEALTH, 0},
  {"`<health>`", "failures=\"3\"", "failures=\"4\"", CFG_F_HEALTH, 0},
  {"`<health>`", "type=\"http\" target=\"http://localhost/x\"",
   "type=\"tcp\" target=\"localhost:80\"", CFG_F_HEALTH, 0},
  {"`<env-file>`", "-/nonexistent/a", "-/nonexistent/b", CFG_F_ENV_FILE, 1},
  {"`<env-file>`", "-/nonexistent/a", "/nonexistent/a", CFG_F_ENV_FILE, 1},
  {"`<env-file>`", "<env-file>-/nonexistent/a</env-file>",
   "<env-file>-/nonexistent/a</env-file><env-file>-/x</env-file>",
   CFG_F_ENV_FILE, 1},
  {"`<umask>`", "<umask>0022", "<umask>0027", CFG_F_UMASK, 1},
  {"`<umask>`", "<umask>0022</umask>", "", CFG_F_UMASK, 1},
  {"`<nice>`", "<nice>0", "<nice>5", CFG_F_NICE, 1},
  {"`<nice>`", "<nice>0</nice>", "", CFG_F_NICE, 1},
  {"`<cpu-affinity>`", "<cpu-affinity>0<", "<cpu-affinity>0-1<",
   CFG_F_CPU_AFFINITY, 1},
  /* <user> and <group>: the running user's own uid and gid (any user may
   * "switch" to itself), filled in by test_reload_fields. */
  {"`<user>`", "<autostart>yes", NULL, CFG_F_USER, 1},
  {"`<group>`", "<autostart>yes", NULL, CFG_F_GROUP, 1},
  {"`<reload>`", "/bin/r", "/bin/q", CFG_F_RELOAD, 0},
  {"`<reload>`", "<arg>r1</arg>", "<arg>r2</arg>", CFG_F_RELOAD, 0},
  {"`<reload>`", "timeout=\"20s\"", "timeout=\"21s\"", CFG_F_RELOAD, 0},
  {"`<reload>`",
   "<reload timeout=\"20s\"><command>/bin/r</command><arg>r1</arg>"
   "</reload>",
   "<reload signal=\"INT\"/>", CFG_F_RELOAD, 0},
  {"`<service type>`",
   "\"s\">\n" BASE_BODY "    <restart policy=\"always\"" BASE_RESTART_TAIL
       BASE_READY BASE_STOP_DEPS BASE_HEALTH,
   "\"s\" type=\"oneshot\">\n" BASE_BODY "    <restart policy=\"never\""
       BASE_RESTART_TAIL BASE_STOP_DEPS,
   CFG_F_TYPE | CFG_F_RESTART | CFG_F_READY | CFG_F_HEALTH, 1},
  {"`<hook>`", "when=\"post-stop\"", "when=\"pre-stop\"", CFG_F_HOOKS, 0},
  {"`<hook>`", "timeout=\"30s\"><command>", "timeout=\"31s\"><command>",
   CFG_F_HOOKS, 0},
  {"`<hook>`", "/bin/h<", "/bin/i<", CFG_F_HOOKS, 0},
  {"`<hook>`", "</hook>\n", "</hook><hook when=\"pre-stop\"><command>x"
   "</command></hook>\n", CFG_F_HOOKS, 0},
  {"`<watchdog>`", "<watchdog timeout=\"30s\"", "<watchdog timeout=\"31s\"",
   CFG_F_WATCHDOG, 1},
  {"`<schedule>`", "*/15 * * * *", "@daily", CFG_F_SCHEDULE, 0},
  {"`<on>`", "event=\"fatal\"", "event=\"exited\"", CFG_F_ON, 0},
  {"`<on>`", "/bin/p<", "/bin/q<", CFG_F_ON, 0},
  {"`<on>`", "\"30s\"><command>/bin/p", "\"1s\"><command>/bin/p", CFG_F_ON,
   0},
};

/* config/README.md's row for `field`: "restart" or "live". */
static const char *readme_says(const char *readme, const char *field) {
  const char *table = strstr(readme, "### What reload does, field by field");
  const char *row = table ? strstr(table, apr_pstrcat(vg_test_pool, "| ",
                                                      field, " ", NULL))
                          : NULL;
  const char *cell;
  if (!row)
    return "missing";
  cell = strstr(row + 2, "| ");
  if (!cell)
    return "missing";
  return strncmp(cell + 2, "restart", 7) == 0 ? "restart"
         : strncmp(cell + 2, "live", 4) == 0  ? "live"
                                               : "unknown";
}

static void test_reload_fields(void) {
  const char *base = base_config();
  cfg_t *old_cfg = load_text(base);
  char *readme = NULL;
  apr_file_t *f;
  apr_finfo_t fi;
  size_t i;
  unsigned seen = 0;

  CU_ASSERT_FATAL(apr_file_open(&f, src_path("../config/README.md"),
                                APR_FOPEN_READ, 0, vg_test_pool) ==
                  APR_SUCCESS);
  CU_ASSERT_FATAL(apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS);
  readme = apr_pcalloc(vg_test_pool, (apr_size_t)fi.size + 1);
  CU_ASSERT_FATAL(apr_file_read_full(f, readme, (apr_size_t)fi.size,
                                     NULL) == APR_SUCCESS);
  apr_file_close(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(old_cfg);

  /* Unchanged: kept. */
  {
    cfg_diff_t *d = cfg_diff(old_cfg, load_text(base), vg_test_pool);
    CU_ASSERT_EQUAL(d->kept, 3);
  }
  for (i = 0; i < sizeof field_cases / sizeof field_cases[0]; i++) {
    const field_case_t *fc = &field_cases[i];
    const char *to = fc->to;
    cfg_t *new_cfg;
    if (!to) {   /* <user>, then <group> */
      const char *el = i > 0 && !field_cases[i - 1].to ? "group" : "user";
      if (pal_spawn_unsupported(VG_PROCESS_SETUID)) {
        /* Refused at load there (suite vigil_win); the field counts. */
        seen |= fc->fields;
        continue;
      }
      to = apr_psprintf(vg_test_pool, "<%s>%ld</%s><autostart>yes", el,
                        pal_geteuid(), el);
    }
    new_cfg = load_text(replace(base, fc->from, to));
    const cfg_diff_entry_t *e = NULL;
    cfg_diff_t *d;
    const char *says;
    int j;
    if (!new_cfg) {
      fprintf(stderr, "\n    row %u (%s -> %s): does not load", (unsigned)i,
              fc->from, fc->to);
      continue;
    }
    d = cfg_diff(old_cfg, new_cfg, vg_test_pool);
    for (j = 0; j < d->entries->nelts; j++) {
      const cfg_diff_entry_t *x =
          &APR_ARRAY_IDX(d->entries, j, cfg_diff_entry_t);
      if (strcmp(x->name, "s") == 0)
        e = x;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    if (e->fields != fc->fields ||
        e->kind != (fc->restart ? CFG_CHANGED : CFG_UPDATED))
      fprintf(stderr, "\n    %s -> %s: %s [%s], expected %s [%s]", fc->from,
              fc->to, cfg_change_name(e->kind),
              cfg_fields_string(e->fields, vg_test_pool),
              fc->restart ? "changed" : "updated",
              cfg_fields_string(fc->fields, vg_test_pool));
    CU_ASSERT_EQUAL(e->fields, fc->fields);
    CU_ASSERT_EQUAL(e->kind, fc->restart ? CFG_CHANGED : CFG_UPDATED);
    CU_ASSERT_EQUAL((e->fields & CFG_F_NEEDS_RESTART) != 0, fc->restart);
    says = readme_says(readme, fc->readme);
    if (strcmp(says, fc->restart ? "restart" : "live") != 0)
      fprintf(stderr, "\n    config/README.md, row %s: %s, expected %s",
              fc->readme, says, fc->restart ? "restart" : "live");
    CU_ASSERT_STRING_EQUAL(says, fc->restart ? "restart" : "live");
    seen |= e->fields;
  }
  /* <pid-file>: only with type="attach", which the base service cannot
   * be (it has <limits>, <watchdog>, <schedule>): two attach services. */
  {
    static const char *const attach_svc =
        "<vigil><supervisor><state-dir>/tmp</state-dir></supervisor>"
        "<service name=\"s\" type=\"attach\"><command>/bin/a</command>"
        "<pid-file>%s</pid-file></service></vigil>";
#ifdef _WIN32
#define PID_DIR "C:/run/"   /* absolute there */
#else
#define PID_DIR "/run/"
#endif
    cfg_t *a = load_text(apr_psprintf(vg_test_pool, attach_svc,
                                      PID_DIR "a"));
    cfg_t *b = load_text(apr_psprintf(vg_test_pool, attach_svc,
                                      PID_DIR "b"));
#undef PID_DIR
    cfg_diff_t *d;
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    d = cfg_diff(a, b, vg_test_pool);
    CU_ASSERT_EQUAL_FATAL(d->entries->nelts, 1);
    {
      const cfg_diff_entry_t *e =
          &APR_ARRAY_IDX(d->entries, 0, cfg_diff_entry_t);
      CU_ASSERT_EQUAL(e->fields, CFG_F_PID_FILE);
      CU_ASSERT_EQUAL(e->kind, CFG_CHANGED);
      CU_ASSERT_STRING_EQUAL(readme_says(readme, "`<pid-file>`"),
                             "restart");
      seen |= e->fields;
    }
  }
  /* Every field the comparison knows has a row. */
  CU_ASSERT_EQUAL(seen, (1u << 26) - 1);
  CU_ASSERT_STRING_EQUAL(cfg_fields_string(1u << 26, vg_test_pool), "");
}

/* ------------------------------------------------------------------------
 * The plan
 * --------------------------------------------------------------------- */

static void test_plan_compile(void) {
  cfg_t *cfg = load_text(base_config());
  const cfg_service_t *c;
  svc_plan_t *p;
  int i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  c = cfg_service_find(cfg, "s");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(svc_plan_compile(&p, c, NULL, vg_test_pool, NULL),
                  APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(p->argv[0], "/bin/a");
  CU_ASSERT_STRING_EQUAL(p->argv[1], "1");
  CU_ASSERT_PTR_NULL(p->argv[2]);
  CU_ASSERT_EQUAL(p->nenv, 1);
  CU_ASSERT_STRING_EQUAL(p->env[0], "A=1");
  CU_ASSERT_PTR_NULL(p->env[1]);
  /* Targets parsed by the loader's parser. */
  CU_ASSERT_PTR_NOT_NULL_FATAL(p->ready_target);
  CU_ASSERT_STRING_EQUAL(p->ready_target->host, "127.0.0.1");
  CU_ASSERT_EQUAL(p->ready_target->port, 80);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p->health_target);
  CU_ASSERT_STRING_EQUAL(p->health_target->host, "localhost");
  CU_ASSERT_EQUAL(p->health_target->port, 80);
  CU_ASSERT_STRING_EQUAL(p->health_target->path, "/x");
  CU_ASSERT_PTR_NULL(p->health_argv);
  CU_ASSERT_EQUAL(p->stop_signal, pal_stop_signal(VG_SIGTERM));
  /* Without a cgroup every limit goes to the spawn; what the platform
   * cannot hold as written is a warning, returned, not logged. */
  CU_ASSERT(p->has_limits);
  CU_ASSERT_EQUAL(p->limits.memory, 1024ull * 1024 * 1024);
  CU_ASSERT_EQUAL(p->limits.processes, 10);
  CU_ASSERT_EQUAL(p->limits.open_files, 100);
  CU_ASSERT_EQUAL(p->limits.cpu_percent, 50);
  for (i = 0; i < p->warnings->nelts; i++)
    CU_ASSERT(strncmp(APR_ARRAY_IDX(p->warnings, i, const char *),
                      "limit ", 6) == 0 ||
              strncmp(APR_ARRAY_IDX(p->warnings, i, const char *),
                      "umask ", 6) == 0);
#if defined(_WIN32)
  /* The job object holds memory, processes and cpu; open files nothing;
   * there is no umask. */
  CU_ASSERT_EQUAL(p->warnings->nelts, 2);
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(p->warnings, 1, const char *),
                         "umask 0022 is not applied: Windows has no umask "
                         "(files get their directory's ACL)");
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(p->warnings, 0, const char *),
                         "limit open-files=100 is not applied: Windows has "
                         "no per-process handle limit");
  CU_ASSERT_EQUAL(p->stop_signal, VG_SIGBREAK);
#else
  /* memory and processes as rlimits, cpu nowhere. */
  CU_ASSERT_EQUAL(p->warnings->nelts, 3);
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(p->warnings, 2, const char *),
                         "limit cpu=50% is not applied: cgroups are not "
                         "used");
  CU_ASSERT_EQUAL(p->stop_signal, VG_SIGTERM);
#endif
  {
    /* A cgroup that holds memory and pids: they are not set again as
     * rlimits, nor warned of. */
    svc_plan_where_t w;
    memset(&w, 0, sizeof w);
    w.cgroup_dir = "/sys/fs/cgroup/x";
    w.cgroup = "/sys/fs/cgroup/x/svc-s";
    w.cgroup_ctrl = w.cgroup_held =
        PAL_CGROUP_MEMORY | PAL_CGROUP_PIDS | PAL_CGROUP_CPU;
    CU_ASSERT_EQUAL(svc_plan_compile(&p, c, &w, vg_test_pool, NULL),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(p->limits.memory, 0);
    CU_ASSERT_EQUAL(p->limits.processes, 0);
    CU_ASSERT_EQUAL(p->limits.open_files, 100);
#if !defined(_WIN32)
    CU_ASSERT_EQUAL(p->warnings->nelts, 0);
#endif
  }
}

/* A target the loader would refuse is refused by the plan too, at the
 * service's line: the plan is compiled from records the loader made, so
 * this takes a record changed after the load. */
static void test_plan_refuses(void) {
  cfg_t *cfg = load_text(base_config());
  cfg_service_t *c;
  cfg_errors_t *errs = cfg_errors_create(vg_test_pool);
  svc_plan_t *p;
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  c = (cfg_service_t *)cfg_service_find(cfg, "s");
  c->ready.target = "127.1:80";
  c->health.target = "http://a b/";
  CU_ASSERT_EQUAL(svc_plan_compile(&p, c, NULL, vg_test_pool, errs),
                  CFG_EINVALID);
  CU_ASSERT_EQUAL(cfg_errors_count(errs), 2);
  CU_ASSERT_PTR_NULL(p->ready_target);
  CU_ASSERT_PTR_NULL(p->health_target);
  if (cfg_errors_count(errs) == 2) {
    CU_ASSERT_EQUAL(cfg_errors_get(errs, 0)->line, c->line);
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg_errors_get(errs, 0)->message,
                                  "ready target '127.1:80'"));
  }
}

/* A config with one service "u" whose children are `inner`; the load's
 * problems in *errs (NULL when it loads). */
static cfg_t *load_u(const char *inner, cfg_errors_t **errs) {
  const char *path = vg_test_write_temp(
      "vigil-plan-u",
      apr_pstrcat(vg_test_pool, "<vigil>\n  <service name=\"u\">\n"
                  "    <command>/bin/true</command>\n", inner,
                  "  </service>\n</vigil>\n", NULL));
  cfg_t *cfg = NULL;
  *errs = NULL;
  if (svc_config_load(&cfg, path, vg_test_pool, errs) == APR_SUCCESS)
    *errs = NULL;
  apr_file_remove(path, vg_test_pool);
  return cfg;
}

/* An unknown user or group is a config error at its own line; the
 * service's scheduling reaches the plan. */
static void test_plan_users(void) {
  cfg_errors_t *errs;
  const cfg_error_t *e;
  const cfg_service_t *c;
  svc_plan_t *p;
  cfg_t *cfg;

  cfg = load_u("    <env name=\"A\" value=\"1\"/>\n"
               "    <user>vigil-no-such-user</user>\n", &errs);
  CU_ASSERT_PTR_NULL(cfg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(errs);
  e = cfg_errors_get(errs, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->line, 5);
  if (pal_spawn_unsupported(VG_PROCESS_SETUID)) {
    /* Windows: refused, and the alternative named. */
    CU_ASSERT_PTR_NOT_NULL(strstr(e->message, "--account"));
  } else {
    CU_ASSERT_PTR_NOT_NULL(strstr(e->message,
                                  "unknown user 'vigil-no-such-user'"));
    cfg = load_u("\n\n    <group>vigil-no-such-group</group>\n", &errs);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(errs);
    e = cfg_errors_get(errs, 0);
    CU_ASSERT_EQUAL(e->line, 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(e->message, "unknown group"));
  }

  cfg = load_u("    <umask>0027</umask><nice>5</nice>\n"
               "    <cpu-affinity>1</cpu-affinity>\n", &errs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  c = cfg_service_find(cfg, "u");
  svc_plan_compile(&p, c, NULL, vg_test_pool, NULL);
  CU_ASSERT(p->sched_flags & VG_PROCESS_NICE);
  CU_ASSERT_EQUAL(p->nice, 5);
  CU_ASSERT_EQUAL(!(p->sched_flags & VG_PROCESS_UMASK),
                  pal_spawn_unsupported(VG_PROCESS_UMASK) != NULL);
  CU_ASSERT_EQUAL(!(p->sched_flags & VG_PROCESS_AFFINITY),
                  pal_spawn_unsupported(VG_PROCESS_AFFINITY) != NULL);
  /* What is not applied is said. */
  CU_ASSERT_EQUAL(p->warnings->nelts,
                  (pal_spawn_unsupported(VG_PROCESS_UMASK) != NULL) +
                      (pal_spawn_unsupported(VG_PROCESS_AFFINITY) != NULL));

  /* RLIMIT_NPROC does not bind root, but does bind the <user> a root
   * vigil switches the service to: no "not enforced" then. */
  if (pal_rlimit_unenforced(PAL_LIMIT_PROCESSES)) {
    int i, said = 0;
    cfg = load_u("    <user>nobody</user><limits processes=\"10\"/>\n",
                 &errs);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    svc_plan_compile(&p, cfg_service_find(cfg, "u"), NULL, vg_test_pool,
                     NULL);
    for (i = 0; i < p->warnings->nelts; i++)
      said |= strstr(APR_ARRAY_IDX(p->warnings, i, const char *),
                     "not enforced") != NULL;
    CU_ASSERT_FALSE(said);
  }
}

/* The variables of a start: the user's HOME, USER, LOGNAME, then each
 * env-file in order, then <env>, each name once, the later winning. */
static void test_plan_env(void) {
  const char *f1 = vg_test_write_temp("vigil-plan-env1",
                                      "A=file1\nB=file1\nHOME=/from-file\n");
  const char *f2 = vg_test_write_temp("vigil-plan-env2", "B=file2\n");
  cfg_errors_t *errs;
  apr_array_header_t *vars;
  const svc_plan_t *p;
  svc_plan_t *pp;
  svc_creds_t cr;
  const char *why, *all = "";
  int line, i;
  cfg_t *cfg = load_u(apr_pstrcat(vg_test_pool,
                                  "    <env-file>", f1, "</env-file>\n"
                                  "    <env-file>-", f1, ".none</env-file>\n"
                                  "    <env-file>", f2, "</env-file>\n"
                                  "    <env name=\"A\" value=\"env\"/>\n",
                                  NULL),
                      &errs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  svc_plan_compile(&pp, cfg_service_find(cfg, "u"), NULL, vg_test_pool, NULL);
  p = pp;
  memset(&cr, 0, sizeof cr);
  cr.name = "someone";
  cr.home = "/home/someone";
  CU_ASSERT_EQUAL_FATAL(svc_plan_env(p, &cr, vg_test_pool, &vars, &why,
                                     &line), APR_SUCCESS);
  for (i = 0; i < vars->nelts; i++)
    all = apr_pstrcat(vg_test_pool, all, i ? " " : "",
                      APR_ARRAY_IDX(vars, i, const char *), NULL);
  CU_ASSERT_STRING_EQUAL(all, "HOME=/from-file USER=someone LOGNAME=someone "
                              "A=env B=file2");

  /* A file missing (not optional) or malformed: the start fails, saying
   * which file, which line, and the <env-file>'s own line. */
  apr_file_remove(f2, vg_test_pool);
  CU_ASSERT_EQUAL(svc_plan_env(p, &cr, vg_test_pool, &vars, &why, &line),
                  APR_ENOENT);
  CU_ASSERT_EQUAL(line, 6);
  /* f2 as the loader made it absolute (its separators on Windows). */
  f2 = APR_ARRAY_IDX(p->cfg->env_files, 2, cfg_env_file_t).path;
  CU_ASSERT_PTR_NOT_NULL(strstr(why, f2));
  {
    apr_file_t *fh;
    CU_ASSERT_FATAL(apr_file_open(&fh, f2, APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                               APR_FOPEN_TRUNCATE,
                                  APR_FPROT_OS_DEFAULT, vg_test_pool) ==
                    APR_SUCCESS);
    apr_file_puts("B=1\nexport C=2\n", fh);
    apr_file_close(fh);
  }
  CU_ASSERT_EQUAL(svc_plan_env(p, &cr, vg_test_pool, &vars, &why, &line),
                  CFG_EINVALID);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(why, apr_pstrcat(vg_test_pool, f2, ":2: ", NULL)));
  apr_file_remove(f1, vg_test_pool);
  apr_file_remove(f2, vg_test_pool);
}

/* `vigil validate`'s env-file check: every instance's own file (through
 * ${VIGIL_INSTANCE}), not instance 0's alone. */
static void test_check_env_instances(void) {
  const char *base = apr_psprintf(vg_test_pool, "%s/vigil-plan-inst-%ld",
                                  vg_test_tmpdir(), (long)pal_getpid());
  const char *f0 = apr_pstrcat(vg_test_pool, base, "-0", NULL);
  const char *f1 = apr_pstrcat(vg_test_pool, base, "-1", NULL);
  cfg_errors_t *errs, *list = cfg_errors_create(vg_test_pool);
  apr_file_t *fh;
  cfg_t *cfg;
  CU_ASSERT_FATAL(apr_file_open(&fh, f0, APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                              APR_FOPEN_TRUNCATE,
                                APR_FPROT_OS_DEFAULT, vg_test_pool) ==
                  APR_SUCCESS);
  apr_file_puts("A=1\n", fh);
  apr_file_close(fh);
  CU_ASSERT_FATAL(apr_file_open(&fh, f1, APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                              APR_FOPEN_TRUNCATE,
                                APR_FPROT_OS_DEFAULT, vg_test_pool) ==
                  APR_SUCCESS);
  apr_file_puts("B\n", fh);
  apr_file_close(fh);
  cfg = load_u(apr_pstrcat(vg_test_pool,
                           "    <instances>2</instances>\n"
                           "    <env-file>", base,
                           "-${VIGIL_INSTANCE}</env-file>\n", NULL),
               &errs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_EQUAL(svc_config_check_env(cfg, vg_test_pool, list),
                  CFG_EINVALID);
  CU_ASSERT_EQUAL(cfg_errors_count(list), 1);
  if (cfg_errors_count(list) == 1) {
    CU_ASSERT_EQUAL(cfg_errors_get(list, 0)->line, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg_errors_get(list, 0)->message,
                                  "-1:1: 'B' has no '='"));
  }
  apr_file_remove(f0, vg_test_pool);
  apr_file_remove(f1, vg_test_pool);
}

/* Every config of tests/data/config, as cfg_load() reads it and as
 * `vigil validate` and the supervisor do (svc_config_load): the same
 * verdict and the same problems. */
static void test_validate_is_run(void) {
  const char *dir = src_path("data/config");
  apr_dir_t *d;
  apr_finfo_t fi;
  int files = 0;
  CU_ASSERT_FATAL(apr_dir_open(&d, dir, vg_test_pool) == APR_SUCCESS);
  while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) ==
         APR_SUCCESS) {
    const char *path;
    cfg_t *a = NULL, *b = NULL;
    cfg_errors_t *ea = NULL, *eb = NULL;
    apr_status_t ra, rb;
    int i, na, nb;
    size_t n = strlen(fi.name);
    if (fi.filetype != APR_REG || n < 4 || strcmp(fi.name + n - 4, ".xml"))
      continue;
    files++;
    path = apr_pstrcat(vg_test_pool, dir, "/", fi.name, NULL);
    ra = cfg_load(&a, path, vg_test_pool, &ea);
    rb = svc_config_load(&b, path, vg_test_pool, &eb);
    if (ra != rb)
      fprintf(stderr, "\n    %s: cfg_load %d, svc_config_load %d", fi.name,
              ra, rb);
    CU_ASSERT_EQUAL(ra, rb);
    CU_ASSERT_EQUAL(a == NULL, b == NULL);
    na = cfg_errors_count(ea);
    nb = cfg_errors_count(eb);
    CU_ASSERT_EQUAL(na, nb);
    for (i = 0; i < na && i < nb; i++)
      CU_ASSERT_STRING_EQUAL(
          cfg_error_format(cfg_errors_get(ea, i), vg_test_pool),
          cfg_error_format(cfg_errors_get(eb, i), vg_test_pool));
    /* What loads compiles: a plan for each service, its checks parsed. */
    for (i = 0; b && i < b->services->nelts; i++) {
      const cfg_service_t *c =
          APR_ARRAY_IDX(b->services, i, const cfg_service_t *);
      svc_plan_t *p;
      CU_ASSERT_EQUAL(svc_plan_compile(&p, c, NULL, vg_test_pool, NULL),
                      APR_SUCCESS);
      CU_ASSERT_EQUAL(p->ready_target != NULL,
                      c->ready.kind == CFG_READY_TCP);
      CU_ASSERT_EQUAL(p->health_target != NULL,
                      c->health.type == CFG_HEALTH_TCP ||
                          c->health.type == CFG_HEALTH_HTTP);
    }
  }
  apr_dir_close(d);
  CU_ASSERT(files >= 20);   /* readme_example.xml among them */
}

/* A <reload signal> the platform cannot send is refused by validate, at
 * the service's line, not at the first `vigil reload NAME`. */
static void test_reload_signal_platform(void) {
  const char *path = vg_test_write_temp(
      "vigil-plan", "<vigil>\n<service name='s'><command>/bin/a</command>"
                    "<reload signal='USR1'/></service>\n</vigil>\n");
  cfg_errors_t *errs = NULL;
  cfg_t *cfg = NULL;
  apr_status_t rv = svc_config_load(&cfg, path, vg_test_pool, &errs);
  apr_file_remove(path, vg_test_pool);
#if defined(_WIN32)
  CU_ASSERT_EQUAL(rv, CFG_EINVALID);
  CU_ASSERT_EQUAL_FATAL(cfg_errors_count(errs), 1);
  CU_ASSERT_EQUAL(cfg_errors_get(errs, 0)->line, 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg_errors_get(errs, 0)->message,
                                "<reload signal=\"USR1\"> cannot be sent "
                                "on this platform"));
#else
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
#endif
}

static CU_TestInfo plan_tests[] = {
  {"plan: a <reload signal> this platform cannot send",
   test_reload_signal_platform},
  {"reload: each field restarts or applies live, as the README says",
   test_reload_fields},
  {"plan: argv, env, targets, limits placed, stop signal",
   test_plan_compile},
  {"plan: a target the loader refuses is refused", test_plan_refuses},
  {"validate and run load every config alike", test_validate_is_run},
  {"plan: users and groups checked, scheduling placed", test_plan_users},
  {"validate: every instance's env-files", test_check_env_instances},
  {"plan: a start's variables, env-files and <env> in order",
   test_plan_env},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo plan_suite = {
  .pName = "plan",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = plan_tests
};
