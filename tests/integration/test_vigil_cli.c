/*
 * test_vigil_cli.c -- the vigil command line itself (suite vigil_cli).
 *
 * Every command answers a bad command line alike: an unknown option, an
 * option of another command, an option without its value, a value given
 * to a flag, a missing or an extra argument print a message naming it
 * and the command's synopsis, and exit 2 -- before anything else (no
 * config is read, no supervisor is asked).  `vigil CMD --help` and `vigil
 * help CMD` describe exactly the options CMD takes, within 80 columns.
 * Against a running supervisor, options and arguments come in any order
 * (`vigil logs out -n 2 -f`, `vigil status idle --json`), with `--`,
 * `--opt=value` and `-nVALUE`.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#define T VT_WAIT_MS

/* `vigil ARGV...` (at most 7 words, NULL-terminated). */
static vt_res_t *vigil_argv(vt_t *t, uint64_t ms, const char *const *w) {
  return vt_vigil(t, ms, w[0], w[1], w[2], w[3], w[4], w[5], w[6], NULL);
}

static const char *joined(vt_t *t, const char *const *w) {
  const char *s = w[0];
  int i;
  for (i = 1; w[i]; i++)
    s = apr_pstrcat(vt_pool(t), s, " ", w[i], NULL);
  return s;
}

/* ---- 1. bad command lines ------------------------------------------------ */

typedef struct bad_s {
  const char *argv[8];
  const char *msg;      /* what stderr says */
} bad_t;

static const bad_t bad[] = {
    {{"run", "--bogus", NULL}, "vigil run: unknown option --bogus"},
    {{"run", "-c", NULL}, "vigil run: option -c needs a value"},
    {{"run", "--log-level", NULL}, "vigil run: option --log-level needs"},
    {{"run", "--json", NULL}, "vigil run: unknown option --json"},
    {{"run", "extra", NULL}, "vigil run: unexpected argument extra"},
    {{"validate", "-x", NULL}, "vigil validate: unknown option -x"},
    {{"validate", "--control", "ep", NULL},
     "vigil validate: unknown option --control"},
    {{"validate", "--config", NULL},
     "vigil validate: option --config needs a value"},
    {{"status", "--json=yes", NULL},
     "vigil status: option --json takes no value"},
    {{"status", "a", "b", NULL}, "vigil status: unexpected argument b"},
    {{"status", "--no-wait", NULL}, "vigil status: unknown option --no-wait"},
    {{"status", "a", "--control", NULL},
     "vigil status: option --control needs a value"},
    {{"status", "-", NULL}, "vigil status: unknown option -"},
    {{"start", NULL}, "vigil start: needs a service name"},
    {{"start", "a", "--bogus", NULL}, "vigil start: unknown option --bogus"},
    {{"start", "--json", "a", NULL}, "vigil start: unknown option --json"},
    {{"stop", "a", "b", NULL}, "vigil stop: unexpected argument b"},
    {{"stop", "-n", "3", "a", NULL}, "vigil stop: unknown option -n"},
    {{"restart", NULL}, "vigil restart: needs a service name"},
    {{"restart", "a", "--no-wait=1", NULL},
     "vigil restart: option --no-wait takes no value"},
    {{"reload", "a", "b", NULL}, "vigil reload: unexpected argument b"},
    {{"reload", "--json", NULL}, "vigil reload: unknown option --json"},
    {{"signal", NULL}, "vigil signal: needs a service name and a signal"},
    {{"signal", "a", NULL}, "vigil signal: needs a service name and a signal"},
    {{"signal", "a", "HUP", "b", NULL}, "vigil signal: unexpected argument b"},
    {{"signal", "a", "HUP", "--no-wait", NULL},
     "vigil signal: unknown option --no-wait"},
    {{"logs", "a", "-n", NULL}, "vigil logs: option -n needs a value"},
    {{"logs", "a", "-n", "x", NULL}, "vigil logs: -n wants a number"},
    {{"logs", "a", "-n", "-1", NULL}, "vigil logs: -n wants a number"},
    {{"logs", "a", "-fx", NULL}, "vigil logs: unknown option -x"},
    {{"logs", "a", "--follow=1", NULL},
     "vigil logs: option --follow takes no value"},
    {{"logs", "--no-wait", "a", NULL}, "vigil logs: unknown option --no-wait"},
    {{"shutdown", "now", NULL}, "vigil shutdown: unexpected argument now"},
    {{"shutdown", "--stderr", NULL},
     "vigil shutdown: unknown option --stderr"},
    {{"version", "-c", "f", NULL}, "vigil version: unknown option -c"},
    {{"version", "x", NULL}, "vigil version: unexpected argument x"},
    {{"help", "--bogus", NULL}, "vigil help: unknown option --bogus"},
    {{"help", "bogus", NULL}, "vigil help: unknown command bogus"},
    {{"help", "a", "b", NULL}, "vigil help: unexpected argument b"},
    {{"bogus", NULL}, "vigil: unknown command bogus"},
    {{"service", NULL}, "vigil service: needs an action"},
    {{"service", "bogus", NULL}, "vigil service: unknown action bogus"},
    {{"service", "install", NULL}, "vigil service install: needs -c FILE"},
    {{"service", "install", "-c", "f", "--bogus", NULL},
     "vigil service install: unknown option --bogus"},
    {{"service", "install", "--name", NULL},
     "vigil service install: option --name needs a value"},
    {{"service", "uninstall", "--print", NULL},
     "vigil service uninstall: unknown option --print"},
    {{"service", "start", "extra", NULL},
     "vigil service start: unexpected argument extra"},
    {{"service", "stop", "--name=a", "--json", NULL},
     "vigil service stop: unknown option --json"},
#if defined(_WIN32)
    {{"service", "stop", "-c", "f", NULL},
     "vigil service stop: unknown option -c"},
    {{"service", "status", "--print", NULL},
     "vigil service status: unknown option --print"},
    {{"service", "install", "-c", "f", "--password", NULL},
     "vigil service install: option --password needs a value"},
#else
    {{"service", "status", NULL}, "vigil service: unknown action status"},
    {{"service", "install", "-c", "f", "--account", "u", NULL},
     "vigil service install: unknown option --account"},
#endif
};

static void test_bad_command_lines(void) {
  vt_t *t = vt_begin("cli-bad");
  size_t i;
  if (!t)
    return;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vt_res_t *r = vigil_argv(t, T, bad[i].argv);
    int ok = r->code == 2 && vt_contains(r->err, bad[i].msg) &&
             r->out_len == 0 &&
             /* the synopsis follows */
             vt_contains(r->err, "usage: vigil") &&
             /* nothing was read or asked before the refusal */
             !vt_contains(r->err, "control endpoint") &&
             !vt_contains(r->err, "not reachable") &&
             !vt_contains(r->err, "error:");
    if (!ok)
      fprintf(stderr, "\n  vigil %s: exit %d, stdout \"%s\", stderr \"%s\"\n"
                      "  (want exit 2 and \"%s\")\n",
              joined(t, bad[i].argv), r->code, r->out, r->err, bad[i].msg);
    CU_ASSERT(ok);
  }
  vt_end(t);
}

/* ---- 2. help ------------------------------------------------------------- */

/* Every option string a command's help may show. */
static const char *const all_opts[] = {
    "--config FILE", "--control ENDPOINT", "--json", "--no-wait",
    "--stderr", "-n N", "--follow", "--log-format FORMAT",
    "--log-level LEVEL", "--service NAME", "--name NAME", "--print",
    "--account USER", "--password PW", "--help", NULL};

typedef struct help_s {
  const char *cmd[3];
  const char *opts[8];  /* exactly these of all_opts[] */
} help_t;

#define EP "--config FILE", "--control ENDPOINT", "--help"

static const help_t helps[] = {
    {{"run", NULL}, {"--config FILE", "--log-format FORMAT",
                     "--log-level LEVEL", "--service NAME", "--help"}},
    {{"validate", NULL}, {"--config FILE", "--help"}},
    {{"status", NULL}, {EP, "--json"}},
    {{"start", NULL}, {EP, "--no-wait"}},
    {{"stop", NULL}, {EP, "--no-wait"}},
    {{"restart", NULL}, {EP, "--no-wait"}},
    {{"reload", NULL}, {EP}},
    {{"signal", NULL}, {EP}},
    {{"logs", NULL}, {EP, "--stderr", "-n N", "--follow"}},
    {{"shutdown", NULL}, {EP}},
    {{"version", NULL}, {"--help"}},
    {{"help", NULL}, {"--help"}},
#if defined(_WIN32)
    {{"service", "install", NULL}, {"--config FILE", "--name NAME", "--print",
                                    "--account USER", "--password PW",
                                    "--help"}},
    {{"service", "uninstall", NULL}, {"--name NAME", "--help"}},
    {{"service", "start", NULL}, {"--name NAME", "--help"}},
    {{"service", "stop", NULL}, {"--name NAME", "--help"}},
    {{"service", "status", NULL}, {"--name NAME", "--help"}},
#else
    {{"service", "install", NULL}, {"--config FILE", "--name NAME", "--print",
                                    "--help"}},
    {{"service", "uninstall", NULL}, {"--config FILE", "--name NAME",
                                      "--help"}},
    {{"service", "start", NULL}, {"--config FILE", "--name NAME", "--help"}},
    {{"service", "stop", NULL}, {"--config FILE", "--name NAME", "--help"}},
#endif
};

static int listed(const help_t *h, const char *opt) {
  int i;
  for (i = 0; i < 8 && h->opts[i]; i++)
    if (!strcmp(h->opts[i], opt))
      return 1;
  return 0;
}

/* Every line of `text` within 79 columns. */
static int narrow(const char *text) {
  const char *nl;
  for (; *text; text = nl + 1) {
    nl = strchr(text, '\n');
    if (!nl)
      return strlen(text) < 80;
    if (nl - text >= 80)
      return 0;
  }
  return 1;
}

static void check_help(vt_t *t, const help_t *h, vt_res_t *r,
                       const char *how) {
  const char *name = joined(t, h->cmd);
  const char *head = apr_pstrcat(vt_pool(t), "usage: vigil ", name, NULL);
  int i, ok = r->code == 0 && r->err_len == 0 &&
              !strncmp(r->out, head, strlen(head)) && narrow(r->out);
  for (i = 0; all_opts[i]; i++)
    if (!!vt_contains(r->out, all_opts[i]) != listed(h, all_opts[i])) {
      fprintf(stderr, "\n  %s: \"%s\" %s\n", how, all_opts[i],
              listed(h, all_opts[i]) ? "missing" : "is not its option");
      ok = 0;
    }
  if (!ok)
    fprintf(stderr, "\n  %s: exit %d:\n%s%s\n", how, r->code, r->out, r->err);
  CU_ASSERT(ok);
}

static void test_help(void) {
  vt_t *t = vt_begin("cli-help");
  vt_res_t *r, *svc;
  const char *overview;
  size_t i;
  if (!t)
    return;
  r = vt_vigil(t, T, "--help", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  overview = r->out;
  CU_ASSERT(vt_contains(overview, "usage: vigil COMMAND"));
  CU_ASSERT(narrow(overview));
  r = vt_vigil(t, T, "help", NULL);
  CU_ASSERT(r->code == 0 && !strcmp(r->out, overview));
  r = vt_vigil(t, T, "-h", NULL);
  CU_ASSERT(r->code == 0 && !strcmp(r->out, overview));
  r = vt_vigil(t, T, NULL);   /* no command: the overview, exit 2 */
  CU_ASSERT(r->code == 2 && !strcmp(r->err, overview));
  svc = vt_vigil(t, T, "help", "service", NULL);
  CU_ASSERT_EQUAL(svc->code, 0);
  r = vt_vigil(t, T, "service", "--help", NULL);
  CU_ASSERT(r->code == 0 && !strcmp(r->out, svc->out));

  for (i = 0; i < sizeof helps / sizeof helps[0]; i++) {
    const help_t *h = &helps[i];
    const char *name = joined(t, h->cmd);
    /* Every command is in the overview. */
    CU_ASSERT(vt_contains(overview, apr_pstrcat(vt_pool(t), "\n  ", name,
                                                NULL)));
    if (h->cmd[1]) {
      r = vt_vigil(t, T, h->cmd[0], h->cmd[1], "--help", NULL);
      check_help(t, h, r, apr_pstrcat(vt_pool(t), name, " --help", NULL));
      r = vt_vigil(t, T, h->cmd[0], h->cmd[1], "-h", NULL);
      check_help(t, h, r, apr_pstrcat(vt_pool(t), name, " -h", NULL));
      CU_ASSERT(vt_contains(svc->out, r->out));
    } else {
      vt_res_t *again;
      r = vt_vigil(t, T, h->cmd[0], "--help", NULL);
      check_help(t, h, r, apr_pstrcat(vt_pool(t), name, " --help", NULL));
      again = vt_vigil(t, T, "help", h->cmd[0], NULL);
      CU_ASSERT_STRING_EQUAL(again->out, r->out);
      /* --help wins over what follows it, and arguments before it. */
      again = vt_vigil(t, T, h->cmd[0], "x", "-h", "--bogus", NULL);
      CU_ASSERT_STRING_EQUAL(again->out, r->out);
    }
  }
  vt_end(t);
}

/* ---- 3. any order, against a supervisor ---------------------------------- */

static void test_any_order(void) {
  vt_t *t = vt_begin("cli-order");
  const char *cfg, *ep, *two = "000004 xxxxxxxx\n000005 xxxxxxxx\n";
  const char *cfg_eq, *cfg_cat, *ep_eq;
  vt_res_t *r;
  int i;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "out", "<restart policy=\"never\"/>\n", "lines",
                         "5", "16", NULL),
                  vt_svc(t, "idle", READY_FAST, "sleep", "600000", NULL),
                  NULL);
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  VT_REQUIRE(vt_wait_state(t, "out", "exited", T) != NULL);
  VT_REQUIRE(vt_wait_state(t, "idle", "running", T) != NULL);
  ep = vt_control_path(t);
  cfg_eq = apr_pstrcat(vt_pool(t), "--config=", cfg, NULL);
  cfg_cat = apr_pstrcat(vt_pool(t), "-c", cfg, NULL);
  ep_eq = apr_pstrcat(vt_pool(t), "--control=", ep, NULL);

  /* logs: NAME before, after, between the options; -nN; after `--`. */
  {
    const char *const ways[][7] = {
        {"logs", "out", "-n", "2", "-c", cfg, NULL},
        {"logs", "-n", "2", "out", "-c", cfg, NULL},
        {"logs", "-c", cfg, "-n", "2", "out", NULL},
        {"logs", "-n2", cfg_cat, "out", NULL},
        {"logs", cfg_eq, "-n", "2", "--", "out", NULL},
        {"logs", "out", "--control", ep, "-n", "2", NULL},
        {"logs", ep_eq, "-n", "2", "out", NULL},
    };
    for (i = 0; i < (int)(sizeof ways / sizeof ways[0]); i++) {
      r = vigil_argv(t, T, ways[i]);
      if (r->code != 0 || strcmp(r->out, two))
        fprintf(stderr, "\n  vigil %s: exit %d: %s%s\n",
                joined(t, ways[i]), r->code, r->out, r->err);
      CU_ASSERT(r->code == 0 && !strcmp(r->out, two));
    }
  }
  /* logs -f after NAME and -n: the tail, then it follows until killed. */
  r = vt_vigil(t, 1500, "logs", "out", "-n", "2", "-f", "-c", cfg, NULL);
  CU_ASSERT(r->timed_out);
  CU_ASSERT_STRING_EQUAL(r->out, two);
  r = vt_vigil(t, 1500, "logs", "--follow", "out", "-n2", "-c", cfg, NULL);
  CU_ASSERT(r->timed_out);
  CU_ASSERT_STRING_EQUAL(r->out, two);

  /* status NAME --json, either way round; -c or --control. */
  {
    const char *const ways[][7] = {
        {"status", "idle", "--json", "-c", cfg, NULL},
        {"status", "--json", "idle", "-c", cfg, NULL},
        {"status", "-c", cfg, "--json", "idle", NULL},
        {"status", "idle", ep_eq, "--json", NULL},
    };
    for (i = 0; i < (int)(sizeof ways / sizeof ways[0]); i++) {
      r = vigil_argv(t, T, ways[i]);
      CU_ASSERT_EQUAL(r->code, 0);
      CU_ASSERT(vt_contains(r->out, "\"idle\""));
      CU_ASSERT(!vt_contains(r->out, "\"out\""));
    }
  }
  r = vt_vigil(t, T, "status", "-c", cfg, "idle", NULL);   /* the table */
  CU_ASSERT(r->code == 0 && vt_contains(r->out, "NAME") &&
            vt_count_lines(r->out, "running") == 1);

  /* stop/start with --no-wait before or after NAME. */
  r = vt_vigil(t, T, "stop", "--no-wait", "idle", "-c", cfg, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_state(t, "idle", "stopped", T) != NULL);
  r = vt_vigil(t, T, "start", "idle", cfg_eq, "--no-wait", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_state(t, "idle", "running", T) != NULL);
  r = vt_vigil(t, T, "restart", "--control", ep, "idle", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "idle"), "running");

  /* A bad option after good ones still refuses, and changes nothing. */
  r = vt_vigil(t, T, "stop", "idle", "-c", cfg, "--bogus", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "idle"), "running");

  r = vt_vigil(t, T, "validate", cfg_eq, NULL);
  CU_ASSERT(r->code == 0 && vt_contains(r->out, ": ok"));
  r = vt_vigil(t, T, "shutdown", ep_eq, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, T), 0);
  vt_end(t);
}

static CU_TestInfo vigil_cli_tests[] = {
    {"bad command lines: exit 2, the option named", test_bad_command_lines},
    {"--help: every option of every command", test_help},
    {"options and arguments in any order", test_any_order},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_cli_suite = {.pName = "vigil_cli",
                                .pInitFunc = NULL,
                                .pCleanupFunc = NULL,
                                .pSetUpFunc = NULL,
                                .pTearDownFunc = NULL,
                                .pTests = vigil_cli_tests};
