/*
 * test_vigil_real.c -- real daemons from Debian's packages under the built
 * vigil (suite vigil_real, Linux): PostgreSQL and Redis (ready notify:
 * both send READY=1 themselves), memcached (ready tcp) and nginx in the
 * foreground, master and workers (ready tcp, an http health check, and
 * depends-on the other three).  What an administrator relies on:
 *
 *   stack    status says running only once the daemon answers its own
 *            client (pg_isready, redis-cli ping, a memcached `version`
 *            over a socket, curl); nginx starts after the three it
 *            depends on; `vigil shutdown` stops nginx before it asks the
 *            others to stop, and exits 0; nothing is left, ports free
 *   backoff  kill -9 of redis (twice) and of postgres: each restart waits
 *            at least the configured, doubling delay, measured on
 *            vigil's log (wall clock) and never seen early by a poll
 *   zombie   kill -9 of nginx's master: its orphaned workers, which vigil
 *            (a subreaper) inherits, are reaped -- no <defunct> child of
 *            vigil -- and nginx comes back
 *   health   a /health location answering 503 while a file exists: two
 *            failed checks restart nginx; without the file it stays up
 *   reload   `vigil reload nginx` (no <reload>: HUP) makes nginx re-read
 *            its changed nginx.conf: the same master answers as the new
 *            file says
 *   prom     a real Prometheus under vigil scrapes vigil's <http>
 *            /metrics every second; its query API says vigil_up 1 and
 *            both services up, then counts memcached's kill -9 in
 *            vigil_service_restarts_total (about 7 s; without
 *            prometheus this one test is skipped, failed under CI=true)
 *
 * Every test ends with: no zombie child of vigil, a clean `vigil
 * shutdown` (exit 0 from the command and from vigil), nothing that ran
 * under vigil alive afterwards (by pid and start time, or by process
 * group: nginx's workers, postgres's backends), no port still answering.
 *
 * Hermetic: 127.0.0.1 only, ports chosen free at run time, data, sockets,
 * pid and temp files in the test's own directory; every wait is bounded;
 * a failed test's processes are killed by vt_end() (their groups), the
 * supervisor's log printed.
 *
 * PostgreSQL will not run as root: as root the service's command is
 * `setpriv --reuid=postgres --regid=postgres --init-groups --pdeathsig
 * KILL postgres ...` (vigil has no per-service user yet), which execs
 * postgres, so the pid vigil watches is the postmaster's.  The kernel
 * clears the parent-death signal vigil gives its children when the user
 * changes: --pdeathsig sets it again, so that postgres does not outlive
 * a vigil that was killed.  memcached gets `-u memcache` and
 * nginx's workers `user www-data` (both need a user when run as root).
 *
 * The programs come from `scripts/bootstrap.sh --real`.  When one is
 * missing the suite does not run: with CI=true in the environment that
 * is a failure; elsewhere a SKIP line says what is missing and run_tests
 * exits 77, which ctest reports as skipped.
 */
#include "integration/vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_user.h>

/* ---- what the suite needs ---------------------------------------------- */

static struct {
  const char *pg_bin;        /* directory of postgres and initdb */
  const char *psql, *pg_isready, *redis, *redis_cli, *nginx, *memcached,
      *curl, *bash, *setpriv, *chown;
  const char *prometheus;    /* NULL: test prom reports why it cannot run */
  int root;
  const char *mc_user;       /* memcached -u, as root */
  const char *www_user;      /* nginx workers, as root */
} prog;

static const char *find_in(const char *dirs, const char *name) {
  const char *p = dirs;
  while (p && *p) {
    const char *c = strchr(p, ':');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    if (n > 0) {
      const char *full =
          apr_psprintf(vg_test_pool, "%.*s/%s", (int)n, p, name);
      apr_finfo_t fi;
      if (apr_stat(&fi, full, APR_FINFO_TYPE | APR_FINFO_PROT,
                   vg_test_pool) == APR_SUCCESS &&
          fi.filetype == APR_REG && (fi.protection & APR_FPROT_UEXECUTE))
        return full;
    }
    p = c ? c + 1 : NULL;
  }
  return NULL;
}

/* A program on PATH, or in the sbin directories a non-root PATH lacks. */
static const char *find_prog(const char *name) {
  const char *path = getenv("PATH");
  const char *r = find_in(path ? path : "", name);
  return r ? r : find_in("/usr/local/sbin:/usr/sbin:/sbin", name);
}

/* $VIGIL_REAL_PGBIN, else Debian's /usr/lib/postgresql/VERSION/bin with
 * both postgres and initdb, the highest VERSION. */
static const char *find_pg_bin(void) {
  const char *env = getenv("VIGIL_REAL_PGBIN");
  const char *best = NULL;
  long best_v = -1;
  apr_dir_t *d;
  apr_finfo_t fi;
  if (env && *env)
    return env;
  if (apr_dir_open(&d, "/usr/lib/postgresql", vg_test_pool) != APR_SUCCESS)
    return NULL;
  while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
    const char *bin;
    long v = strtol(fi.name, NULL, 10);
    if (v <= best_v)
      continue;
    bin = apr_pstrcat(vg_test_pool, "/usr/lib/postgresql/", fi.name, "/bin",
                      NULL);
    if (find_in(bin, "postgres") && find_in(bin, "initdb")) {
      best = bin;
      best_v = v;
    }
  }
  apr_dir_close(d);
  return best;
}

static int user_exists(const char *name) {
  apr_uid_t uid;
  apr_gid_t gid;
  return apr_uid_get(&uid, &gid, name, vg_test_pool) == APR_SUCCESS;
}

static int real_init(void) {
  const char *missing = "";
  apr_uid_t uid;
  apr_gid_t gid;
  const char *ci = getenv("CI");
#define NEED(field, name)                                                    \
  do {                                                                       \
    prog.field = find_prog(name);                                            \
    if (!prog.field)                                                         \
      missing = apr_pstrcat(vg_test_pool, missing, " " name, NULL);         \
  } while (0)
  NEED(psql, "psql");
  NEED(pg_isready, "pg_isready");
  NEED(redis, "redis-server");
  NEED(redis_cli, "redis-cli");
  NEED(nginx, "nginx");
  NEED(memcached, "memcached");
  NEED(curl, "curl");
  NEED(bash, "bash");
  NEED(chown, "chown");
  /* Only test prom needs it: the others run without. */
  prog.prometheus = find_prog("prometheus");
  prog.pg_bin = find_pg_bin();
  if (!prog.pg_bin)
    missing = apr_pstrcat(vg_test_pool, missing,
                          " postgres+initdb (/usr/lib/postgresql/*/bin)",
                          NULL);
  prog.root = apr_uid_current(&uid, &gid, vg_test_pool) == APR_SUCCESS &&
              uid == 0;
  if (prog.root) {
    NEED(setpriv, "setpriv");
    if (!user_exists("postgres"))
      missing = apr_pstrcat(vg_test_pool, missing, " user:postgres", NULL);
    prog.mc_user = user_exists("memcache") ? "memcache" : "nobody";
    prog.www_user = user_exists("www-data") ? "www-data" : "nobody";
  }
#undef NEED
  if (!*missing)
    return 0;
  if (ci && strcmp(ci, "true") == 0) {
    fprintf(stderr,
            "\nFAIL: vigil_real: missing:%s (CI=true: the real-daemon "
            "suite must run; scripts/bootstrap.sh --real installs them)\n",
            missing);
    return 1;
  }
  fprintf(stderr,
          "\nSKIP: vigil_real: missing:%s (scripts/bootstrap.sh --real "
          "installs them)\n",
          missing);
  vg_test_suites_skipped++;
  return 1;
}

/* ---- processes, from /proc --------------------------------------------- */

/* Every process, or NULL. */
static apr_array_header_t *ps_all(apr_pool_t *pool) {
  apr_array_header_t *a = apr_array_make(pool, 256, sizeof(vg_test_proc_t));
  apr_dir_t *d;
  apr_finfo_t fi;
  if (apr_dir_open(&d, "/proc", pool) != APR_SUCCESS)
    return NULL;
  while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
    char *end;
    long pid = strtol(fi.name, &end, 10);
    vg_test_proc_t e;
    if (pid > 0 && *end == '\0' && vg_test_proc_stat(pid, &e))
      APR_ARRAY_PUSH(a, vg_test_proc_t) = e;
  }
  apr_dir_close(d);
  return a;
}

/* Every descendant of root (a snapshot). */
static apr_array_header_t *descendants(vt_t *t, long root) {
  apr_array_header_t *a = ps_all(vt_pool(t));
  apr_array_header_t *out =
      apr_array_make(vt_pool(t), 32, sizeof(vg_test_proc_t));
  int i, j, grew = 1;
  while (a && grew) {
    grew = 0;
    for (i = 0; i < a->nelts; i++) {
      vg_test_proc_t *e = &APR_ARRAY_IDX(a, i, vg_test_proc_t);
      int mine = e->ppid == root;
      for (j = 0; !mine && j < out->nelts; j++)
        mine = APR_ARRAY_IDX(out, j, vg_test_proc_t).pid == e->ppid;
      if (mine && e->pid > 0) {
        APR_ARRAY_PUSH(out, vg_test_proc_t) = *e;
        e->pid = 0;   /* taken */
        grew = 1;
      }
    }
  }
  return out;
}

/* Live processes of `tree` (the same pid and start), or in the process
 * group of one of them (each service leads its own): "pid (comm) ...". */
static const char *left_of(vt_t *t, const apr_array_header_t *tree) {
  apr_array_header_t *a = ps_all(vt_pool(t));
  const char *s = "";
  vg_test_proc_t self;
  int i, j;
  if (!vg_test_proc_stat(pal_getpid(), &self))
    self.pgid = -1;
  for (i = 0; a && i < a->nelts; i++) {
    const vg_test_proc_t *e = &APR_ARRAY_IDX(a, i, vg_test_proc_t);
    int hit = 0;
    if (e->state == 'Z')
      continue;
    for (j = 0; !hit && j < tree->nelts; j++) {
      const vg_test_proc_t *d = &APR_ARRAY_IDX(tree, j, vg_test_proc_t);
      hit = (d->pid == e->pid && d->start == e->start) ||
            (d->pgid == e->pgid && d->pgid != self.pgid);
    }
    if (hit)
      s = apr_psprintf(vt_pool(t), "%s %ld (%s)", s, e->pid, e->comm);
  }
  return s;
}

/* The children of `parent` that are zombies (zombie != 0) or live:
 * "pid (comm) ...", or "". */
static const char *children_of(vt_t *t, long parent, int zombie) {
  apr_array_header_t *a = ps_all(vt_pool(t));
  const char *s = "";
  int i;
  for (i = 0; a && i < a->nelts; i++) {
    const vg_test_proc_t *e = &APR_ARRAY_IDX(a, i, vg_test_proc_t);
    if (e->ppid == parent && (e->state == 'Z') == (zombie != 0))
      s = apr_psprintf(vt_pool(t), "%s %ld (%s)", s, e->pid, e->comm);
  }
  return s;
}

/* ---- the fixture ------------------------------------------------------- */

enum { PG = 1, REDIS = 2, MC = 4, NGINX = 8, ALL = 15, PROM = 16 };

typedef struct rs_s {
  vt_t *t;
  const char *tag;
  unsigned which;
  int pg_port, redis_port, mc_port, http_port;
  int metrics_port, prom_port;   /* vigil's <http>, Prometheus's web */
  const char *sick;          /* nginx's /health says 503 while it exists */
  apr_array_header_t *tree;  /* vigil's descendants before shutdown */
  int shut;                  /* rs_shutdown() ran */
  uint64_t began_ms;
} rs_t;

/* Six distinct ports that were free a moment ago. */
static int pick_ports(rs_t *r) {
  int *ports[6], i, j;
  ports[0] = &r->pg_port;
  ports[1] = &r->redis_port;
  ports[2] = &r->mc_port;
  ports[3] = &r->http_port;
  ports[4] = &r->metrics_port;
  ports[5] = &r->prom_port;
  for (i = 0; i < 6; i++) {
    int tries = 0;
    do {
      *ports[i] = vt_free_port(r->t);
      for (j = 0; j < i; j++)
        if (*ports[j] == *ports[i])
          *ports[i] = 0;
    } while (*ports[i] == 0 && ++tries < 20);
    if (*ports[i] == 0)
      return -1;
  }
  return 0;
}

static const char *arg(vt_t *t, const char *s) {
  return apr_psprintf(vt_pool(t), "<arg>%s</arg>", vt_xml(t, s));
}

static const char *arg_port(vt_t *t, int port) {
  return arg(t, apr_itoa(vt_pool(t), port));
}

/* initdb into DIR/pg (as postgres when we are root). */
static int pg_initdb(rs_t *r) {
  vt_t *t = r->t;
  const char *data = vt_path(t, "pg");
  const char *initdb = apr_pstrcat(vt_pool(t), prog.pg_bin, "/initdb", NULL);
  vt_res_t *res;
  if (apr_dir_make(data, APR_FPROT_UREAD | APR_FPROT_UWRITE |
                             APR_FPROT_UEXECUTE,
                   vt_pool(t)) != APR_SUCCESS)
    return -1;
  if (prog.root) {
    res = vt_run(t, VT_WAIT_MS, prog.chown, "postgres:postgres", data, NULL);
    if (res->code != 0)
      return -1;
    res = vt_run(t, 60000, prog.setpriv, "--reuid=postgres",
                 "--regid=postgres", "--init-groups", initdb, "-D", data,
                 "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                 NULL);
  } else {
    res = vt_run(t, 60000, initdb, "-D", data, "-A", "trust", "-U",
                 "postgres", "-E", "UTF8", "--no-sync", NULL);
  }
  if (res->code != 0) {
    fprintf(stderr, "\n  initdb failed (%d): %s%s\n", res->code, res->out,
            res->err);
    return -1;
  }
  return 0;
}

static const char *svc_pg(rs_t *r, const char *restart) {
  vt_t *t = r->t;
  const char *s = "  <service name=\"postgres\">\n";
  if (prog.root)
    s = apr_pstrcat(vt_pool(t), s, "    <command>", vt_xml(t, prog.setpriv),
                    "</command>\n    ", arg(t, "--reuid=postgres"),
                    arg(t, "--regid=postgres"), arg(t, "--init-groups"),
                    arg(t, "--pdeathsig"), arg(t, "KILL"),
                    arg(t, apr_pstrcat(vt_pool(t), prog.pg_bin, "/postgres",
                                       NULL)),
                    "\n", NULL);
  else
    s = apr_pstrcat(vt_pool(t), s, "    <command>",
                    vt_xml(t, apr_pstrcat(vt_pool(t), prog.pg_bin,
                                          "/postgres", NULL)),
                    "</command>\n", NULL);
  /* Sockets in the data directory (postgres may write there); fast
   * shutdown on INT, as Debian's unit has it: TERM would wait for every
   * client to leave. */
  return apr_pstrcat(
      vt_pool(t), s, "    ", arg(t, "-D"), arg(t, vt_path(t, "pg")),
      arg(t, "-c"), arg(t, "listen_addresses=127.0.0.1"), arg(t, "-p"),
      arg_port(t, r->pg_port), arg(t, "-c"),
      arg(t, apr_pstrcat(vt_pool(t), "unix_socket_directories=",
                         vt_path(t, "pg"), NULL)),
      arg(t, "-c"), arg(t, "fsync=off"), "\n",
      "    <ready notify=\"true\" timeout=\"30s\"/>\n",
      "    <stop signal=\"INT\" timeout=\"10s\"/>\n", restart ? restart : "",
      "  </service>\n", NULL);
}

static const char *svc_redis(rs_t *r, const char *restart) {
  vt_t *t = r->t;
  return apr_pstrcat(
      vt_pool(t), "  <service name=\"redis\">\n    <command>",
      vt_xml(t, prog.redis), "</command>\n    ", arg(t, "--port"),
      arg_port(t, r->redis_port), arg(t, "--bind"), arg(t, "127.0.0.1"),
      arg(t, "--supervised"), arg(t, "systemd"), arg(t, "--daemonize"),
      arg(t, "no"), arg(t, "--dir"), arg(t, vt_path(t, NULL)),
      arg(t, "--save"), arg(t, ""), arg(t, "--appendonly"), arg(t, "no"),
      "\n    <ready notify=\"true\" timeout=\"30s\"/>\n",
      restart ? restart : "", "  </service>\n", NULL);
}

static const char *svc_mc(rs_t *r) {
  vt_t *t = r->t;
  return apr_pstrcat(
      vt_pool(t), "  <service name=\"memcached\">\n    <command>",
      vt_xml(t, prog.memcached), "</command>\n    ", arg(t, "-l"),
      arg(t, "127.0.0.1"), arg(t, "-p"), arg_port(t, r->mc_port),
      arg(t, "-U"), arg(t, "0"),
      prog.root ? apr_pstrcat(vt_pool(t), arg(t, "-u"), arg(t, prog.mc_user),
                              NULL)
                : "",
      apr_psprintf(vt_pool(t),
                   "\n    <ready tcp=\"127.0.0.1:%d\" timeout=\"30s\"/>\n",
                   r->mc_port),
      "  </service>\n", NULL);
}

/* nginx.conf: in the foreground, two workers, everything it writes in
 * DIR/nginx; /health answers 200 "ok", or 503 while DIR/sick exists. */
static int nginx_conf(rs_t *r) {
  vt_t *t = r->t;
  const char *d = vt_path(t, "nginx");
  const char *text;
  if (apr_dir_make(d, APR_FPROT_OS_DEFAULT, vt_pool(t)) != APR_SUCCESS)
    return -1;
  text = apr_psprintf(
      vt_pool(t),
      "daemon off;\nmaster_process on;\nworker_processes 2;\n%s"
      "pid %s/nginx.pid;\nerror_log stderr notice;\n"
      "events { worker_connections 64; }\n"
      "http {\n  access_log off;\n"
      "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
      "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
      "  scgi_temp_path %s/scgi;\n"
      "  server {\n    listen 127.0.0.1:%d;\n"
      "    location /health {\n"
      "      if (-f %s) { return 503; }\n"
      "      return 200 \"ok\\n\";\n    }\n  }\n}\n",
      prog.root ? apr_psprintf(vt_pool(t), "user %s;\n", prog.www_user) : "",
      d, d, d, d, d, d, r->http_port, r->sick);
  return vt_write_file(t, vt_path(t, "nginx/nginx.conf"), text);
}

static const char *svc_nginx(rs_t *r, const char *health) {
  vt_t *t = r->t;
  const char *deps = "";
  if (r->which & PG)
    deps = apr_pstrcat(vt_pool(t), deps,
                       "    <depends-on>postgres</depends-on>\n", NULL);
  if (r->which & REDIS)
    deps = apr_pstrcat(vt_pool(t), deps, "    <depends-on>redis</depends-on>\n",
                       NULL);
  if (r->which & MC)
    deps = apr_pstrcat(vt_pool(t), deps,
                       "    <depends-on>memcached</depends-on>\n", NULL);
  return apr_pstrcat(
      vt_pool(t), "  <service name=\"nginx\">\n    <command>",
      vt_xml(t, prog.nginx), "</command>\n    ", arg(t, "-c"),
      arg(t, vt_path(t, "nginx/nginx.conf")), arg(t, "-e"), arg(t, "stderr"),
      "\n", deps,
      apr_psprintf(vt_pool(t),
                   "    <ready tcp=\"127.0.0.1:%d\" timeout=\"30s\"/>\n",
                   r->http_port),
      health ? health : "", "  </service>\n", NULL);
}

/* DIR/prometheus.yml: vigil's /metrics scraped every second. */
static int prom_conf(rs_t *r) {
  vt_t *t = r->t;
  return vt_write_file(
      t, vt_path(t, "prometheus.yml"),
      apr_psprintf(vt_pool(t),
                   "global:\n  scrape_interval: 1s\n"
                   "  evaluation_interval: 1s\n"
                   "scrape_configs:\n  - job_name: vigil\n"
                   "    scrape_interval: 1s\n    scrape_timeout: 1s\n"
                   "    static_configs:\n"
                   "      - targets: [\"127.0.0.1:%d\"]\n",
                   r->metrics_port));
}

/* Prometheus as a service: its TSDB in DIR/prom, its web on prom_port
 * (ready once that accepts); TERM stops it (a clean TSDB shutdown). */
static const char *svc_prom(rs_t *r) {
  vt_t *t = r->t;
  apr_pool_t *p = vt_pool(t);
  return apr_pstrcat(
      p, "  <service name=\"prometheus\">\n    <command>",
      vt_xml(t, prog.prometheus), "</command>\n    ",
      arg(t, apr_pstrcat(p, "--config.file=", vt_path(t, "prometheus.yml"),
                         NULL)),
      arg(t, apr_pstrcat(p, "--storage.tsdb.path=", vt_path(t, "prom"),
                         NULL)),
      arg(t, apr_psprintf(p, "--web.listen-address=127.0.0.1:%d",
                          r->prom_port)),
      arg(t, "--log.level=warn"),
      apr_psprintf(p, "\n    <ready tcp=\"127.0.0.1:%d\" timeout=\"30s\"/>\n",
                   r->prom_port),
      "    <stop timeout=\"10s\"/>\n  </service>\n", NULL);
}

static const char *health_xml(rs_t *r) {
  return apr_psprintf(vt_pool(r->t),
                      "    <health type=\"http\" "
                      "target=\"http://127.0.0.1:%d/health\" "
                      "interval=\"300ms\" timeout=\"1s\" failures=\"2\"/>\n",
                      r->http_port);
}

/* vigil's /metrics on metrics_port: <http> spliced into the
 * <supervisor> of DIR/vigil.xml. */
static int metrics_listener(rs_t *r) {
  vt_t *t = r->t;
  const char *path = vt_path(t, "vigil.xml");
  char *text = vt_read_file(t, path, NULL);
  char *end = text ? strstr(text, "</supervisor>") : NULL;
  if (!end)
    return -1;
  return vt_write_file(
      t, path,
      apr_psprintf(vt_pool(t), "%.*s  <http listen=\"127.0.0.1:%d\"/>\n  %s",
                   (int)(end - text), text, r->metrics_port, end));
}

/* A fixture running `which` under vigil (--log-level debug: the state
 * machine's events give the order of stops).  `restart` (raw XML, may be
 * NULL) goes into redis and postgres; nginx has the http health check of
 * health_xml().  NULL (and a failed assertion) if it cannot be set up. */
static rs_t *rs_begin(const char *tag, unsigned which, const char *restart) {
  vt_t *t = vt_begin(tag);
  rs_t *r;
  const char *svcs = "";
  if (!t)
    return NULL;
  r = apr_pcalloc(vt_pool(t), sizeof *r);
  r->t = t;
  r->tag = tag;
  r->which = which;
  r->began_ms = vt_now_ms();
  r->sick = vt_path(t, "sick");
  if (pick_ports(r) != 0) {
    CU_FAIL("no free ports");
    vt_end(t);
    return NULL;
  }
  if ((which & PG) && pg_initdb(r) != 0) {
    CU_FAIL("initdb failed");
    vt_end(t);
    return NULL;
  }
  if ((which & PROM) && prom_conf(r) != 0) {
    CU_FAIL("cannot write prometheus.yml");
    vt_end(t);
    return NULL;
  }
  if ((which & NGINX) && nginx_conf(r) != 0) {
    CU_FAIL("cannot write nginx.conf");
    vt_end(t);
    return NULL;
  }
  if (which & PG)
    svcs = apr_pstrcat(vt_pool(t), svcs, svc_pg(r, restart), NULL);
  if (which & REDIS)
    svcs = apr_pstrcat(vt_pool(t), svcs, svc_redis(r, restart), NULL);
  if (which & MC)
    svcs = apr_pstrcat(vt_pool(t), svcs, svc_mc(r), NULL);
  if (which & NGINX)
    svcs = apr_pstrcat(vt_pool(t), svcs, svc_nginx(r, health_xml(r)), NULL);
  if (which & PROM)
    svcs = apr_pstrcat(vt_pool(t), svcs, svc_prom(r), NULL);
  vt_config(t, "vigil.xml", svcs, NULL);
  if ((which & PROM) && metrics_listener(r) != 0) {
    CU_FAIL("cannot add <http> to vigil.xml");
    vt_end(t);
    return NULL;
  }
  vt_sup_args(t, "--log-level", "debug", NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml"))) {
    CU_FAIL("vigil run did not answer");
    vt_end(t);
    return NULL;
  }
  return r;
}

/* ---- clients ----------------------------------------------------------- */

static int pg_answers(rs_t *r) {
  vt_res_t *res = vt_run(r->t, 10000, prog.pg_isready, "-h", "127.0.0.1",
                         "-p", apr_itoa(vt_pool(r->t), r->pg_port), "-t", "3",
                         NULL);
  return res->code == 0;
}

static int pg_select(rs_t *r) {
  vt_res_t *res = vt_run(r->t, 10000, prog.psql, "-h", "127.0.0.1", "-p",
                         apr_itoa(vt_pool(r->t), r->pg_port), "-U",
                         "postgres", "-d", "postgres", "-tAc",
                         "select 6 * 7", NULL);
  return res->code == 0 && !strcmp(res->out, "42\n");
}

static int redis_answers(rs_t *r) {
  vt_res_t *res = vt_run(r->t, 10000, prog.redis_cli, "-h", "127.0.0.1",
                         "-p", apr_itoa(vt_pool(r->t), r->redis_port), "ping",
                         NULL);
  return res->code == 0 && !strcmp(res->out, "PONG\n");
}

/* One line from a TCP port after sending `req` (bash's /dev/tcp: a plain
 * socket), or NULL if nothing listens there. */
static const char *tcp_line(rs_t *r, int port, const char *req) {
  const char *script = apr_psprintf(
      vt_pool(r->t),
      "exec 3<>/dev/tcp/127.0.0.1/%d || exit 3\n"
      "printf '%%s' \"$1\" >&3\nIFS= read -r -t 5 line <&3\n"
      "printf '%%s\\n' \"$line\"\n",
      port);
  vt_res_t *res = vt_run(r->t, 10000, prog.bash, "-c", script, "bash",
                         req, NULL);
  return res->code == 0 ? res->out : NULL;
}

static int mc_answers(rs_t *r) {
  const char *line = tcp_line(r, r->mc_port, "version\r\n");
  return line && !strncmp(line, "VERSION ", 8);
}

/* GET /health: the HTTP status, 0 if nothing answered. */
static int http_status(rs_t *r) {
  const char *url =
      apr_psprintf(vt_pool(r->t), "http://127.0.0.1:%d/health", r->http_port);
  vt_res_t *res = vt_run(r->t, 10000, prog.curl, "-s", "-o", "/dev/null",
                         "-w", "%{http_code}", "--max-time", "5", url, NULL);
  return res->code == 0 ? atoi(res->out) : 0;
}

static int nginx_answers(rs_t *r) { return http_status(r) == 200; }

static int port_listens(rs_t *r, int port) {
  const char *script = apr_psprintf(
      vt_pool(r->t), "exec 3<>/dev/tcp/127.0.0.1/%d", port);
  return vt_run(r->t, 10000, prog.bash, "-c", script, NULL)->code == 0;
}

/* ---- the supervisor's log ---------------------------------------------- */

/* Milliseconds since midnight (UTC) of the log line at `off`
 * ("2026-12-06T09:18:53.292Z ..."), -1 if it has no such stamp. */
static long line_ms(const char *log, long off) {
  int h, m, s, ms;
  if (off < 0 || sscanf(log + off, "%*10[0-9-]T%2d:%2d:%2d.%3dZ", &h, &m, &s,
                        &ms) != 4)
    return -1;
  return ((h * 60L + m) * 60L + s) * 1000L + ms;
}

/* Offset of the first line at or after `from` holding a and b. */
static long line_from(const char *log, long from, const char *a,
                      const char *b) {
  long off;
  if (from < 0 || (size_t)from > strlen(log))
    return -1;
  off = vt_line_offset(log + from, a, b);
  return off < 0 ? -1 : from + off;
}

static long ms_between(const char *log, long a, long b) {
  long d = line_ms(log, b) - line_ms(log, a);
  if (line_ms(log, a) < 0 || line_ms(log, b) < 0)
    return -1;
  return d < 0 ? d + 86400000L : d;   /* across midnight */
}

/* ---- end of every test ------------------------------------------------- */

/* Wait (bounded) until vigil has no zombie child; "" then, else the list.
 * vigil is a subreaper: the orphans of a service's main process become
 * its children, and it must wait for them as for the others. */
static const char *zombies_stay(rs_t *r, uint64_t ms) {
  uint64_t deadline = vt_now_ms() + ms;
  const char *z;
  while (*(z = children_of(r->t, vt_sup_pid(r->t), 1)) &&
         vt_now_ms() < deadline)
    vt_sleep(r->t, 50);
  return z;
}

/* No zombie child of vigil, then `vigil shutdown`: exit 0 from both. */
static void rs_shutdown(rs_t *r) {
  vt_t *t = r->t;
  const char *z = zombies_stay(r, 2000);
  r->shut = 1;
  if (*z)
    fprintf(stderr, "\n  [%s] zombie children of vigil (pid %ld):%s\n",
            r->tag, vt_sup_pid(t), z);
  CU_ASSERT_STRING_EQUAL(z, "");
  r->tree = descendants(t, vt_sup_pid(t));
  CU_ASSERT(r->tree->nelts > 0);
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 30000), 0);
}

/* After rs_shutdown(): nothing of what ran under vigil is alive (by
 * pid, or by process group: nginx's workers, postgres's backends), and no
 * port answers.  Closes the fixture. */
static void rs_end(rs_t *r) {
  vt_t *t = r->t;
  uint64_t deadline;
  const char *left = "";
  int ports[6], i;
  /* Whatever vigil's children left would now be the init process's:
   * give a straggler a moment, bounded. */
  deadline = vt_now_ms() + 3000;
  while (r->tree && *(left = left_of(t, r->tree)) && vt_now_ms() < deadline)
    vt_sleep(t, 50);
  if (*left)
    fprintf(stderr, "\n  [%s] left running after vigil:%s\n", r->tag, left);
  CU_ASSERT_STRING_EQUAL(left, "");
  ports[0] = r->which & PG ? r->pg_port : 0;
  ports[1] = r->which & REDIS ? r->redis_port : 0;
  ports[2] = r->which & MC ? r->mc_port : 0;
  ports[3] = r->which & NGINX ? r->http_port : 0;
  ports[4] = r->which & PROM ? r->metrics_port : 0;
  ports[5] = r->which & PROM ? r->prom_port : 0;
  for (i = 0; i < 6; i++)
    if (ports[i]) {
      int busy = port_listens(r, ports[i]);
      if (busy)
        fprintf(stderr, "\n  [%s] port %d still answers\n", r->tag,
                ports[i]);
      CU_ASSERT(!busy);
    }
  fprintf(stderr, " [%s: %.1f s] ", r->tag,
          (double)(vt_now_ms() - r->began_ms) / 1000);
  vt_end(t);
}

/* One test: the fixture, its body, then -- also when the body left early
 * through a failed VT_REQUIRE -- the shutdown (unless the body did it)
 * and the checks and cleanup of rs_end(). */
static void run_case(const char *tag, unsigned which, const char *restart,
                     void (*body)(rs_t *r)) {
  rs_t *r = rs_begin(tag, which, restart);
  if (!r)
    return;
  body(r);
  if (!r->shut)
    rs_shutdown(r);
  rs_end(r);
}

/* ---- tests ------------------------------------------------------------- */

typedef int (*client_fn)(rs_t *r);

static void stack(rs_t *r) {
  static const struct {
    const char *name;
    client_fn client;
  } svcs[4] = {{"postgres", pg_answers},
               {"redis", redis_answers},
               {"memcached", mc_answers},
               {"nginx", nginx_answers}};
  vt_t *t = r->t;
  int seen[4] = {0}, ok[4] = {0}, i, all = 0;
  uint64_t deadline;
  const svc_json_t *st, *ngx;
  const char *log;
  long nginx_started, nginx_stopped;
  /* Readiness: the first status that says running is followed at once by
   * the daemon's own client, which must get its answer. */
  deadline = vt_now_ms() + 60000;
  while (!all && vt_now_ms() < deadline && vt_sup_running(t)) {
    svc_json_t *status = vt_status(t);
    all = 1;
    for (i = 0; i < 4; i++) {
      const char *state = vt_sfield(vt_svc_of(status, svcs[i].name), "state");
      if (!seen[i] && state && !strcmp(state, "running")) {
        seen[i] = 1;
        ok[i] = svcs[i].client(r);
        if (!ok[i])
          fprintf(stderr, "\n  %s: running, but its client got no answer\n",
                  svcs[i].name);
      }
      all &= seen[i];
    }
    if (!all)
      vt_sleep(t, 10);
  }
  for (i = 0; i < 4; i++) {
    CU_ASSERT(seen[i]);
    CU_ASSERT(ok[i]);
  }
  CU_ASSERT(pg_select(r));
  /* Dependency order: nginx was spawned after each of the three was
   * running, and has been up for less time. */
  log = vt_sup_log(t);
  nginx_started = vt_line_offset(log, "service: nginx: started, pid", NULL);
  CU_ASSERT(nginx_started >= 0);
  st = vt_status(t);
  ngx = vt_svc_of(st, "nginx");
  for (i = 0; i < 3; i++) {
    const char *needle = apr_psprintf(vt_pool(t), "service: %s: running ",
                                      svcs[i].name);
    long running = vt_line_offset(log, needle, NULL);
    CU_ASSERT(running >= 0 && running < nginx_started);
    CU_ASSERT(vt_ifield(vt_svc_of(st, svcs[i].name), "uptime_ms") >=
              vt_ifield(ngx, "uptime_ms"));
  }
  /* Shutdown in reverse order: nginx has exited before vigil asks any of
   * the others to stop; each stops on its own signal. */
  rs_shutdown(r);
  log = vt_sup_log(t);
  nginx_stopped = vt_line_offset(log, "service: nginx: ", "its stop signal");
  CU_ASSERT(nginx_stopped >= 0);
  for (i = 0; i < 3; i++) {
    const char *stop = apr_psprintf(vt_pool(t), "service: %s: stop in ",
                                    svcs[i].name);
    const char *done = apr_psprintf(vt_pool(t), "service: %s: ",
                                    svcs[i].name);
    long asked = vt_line_offset(log, stop, NULL);
    CU_ASSERT(asked >= 0 && nginx_stopped < asked);
    CU_ASSERT(vt_line_offset(log, done, "its stop signal") > asked);
  }
  CU_ASSERT(!vt_contains(log, "killed after the stop timeout"));
  /* PostgreSQL saw a fast shutdown and finished it. */
  {
    char *pglog = vt_read_file(
        t, apr_pstrcat(vt_pool(t), vt_log_dir(t), "/postgres.err.log", NULL),
        NULL);
    CU_ASSERT(vt_contains(pglog, "received fast shutdown request"));
    CU_ASSERT(vt_contains(pglog, "database system is shut down"));
  }
}

static void test_stack(void) { run_case("stack", ALL, NULL, stack); }

/* kill -9 of `name`'s main process after a quiet spell; the restart must
 * wait at least min_ms after the exit: measured between vigil's own log
 * lines (wall clock), and no status poll may see the new process before
 * the kill + min_ms.  Then its client answers again. */
static void kill9_restart(rs_t *r, const char *name, long min_ms,
                          client_fn client) {
  vt_t *t = r->t;
  long pid = vt_pid(t, name), newpid = -1, from, killed, started, gap;
  uint64_t killed_at, deadline, seen_at = 0;
  const char *log, *state = "";
  char needle[96];
  CU_ASSERT(pid > 0);
  if (pid <= 0)
    return;
  /* No poll for a while: vigil's loop sleeps until the exit wakes it (a
   * loop whose clock is stale after a long sleep fires a timer armed in
   * that callback early). */
  vt_sleep(t, 800);
  from = (long)strlen(vt_sup_log(t));
  killed_at = vt_now_ms();
  CU_ASSERT_EQUAL(pal_pid_kill(pid, VG_SIGKILL, 0), APR_SUCCESS);
  deadline = killed_at + 30000;
  while (vt_now_ms() < deadline) {
    const svc_json_t *s = vt_svc_of(vt_status(t), name);
    uint64_t now = vt_now_ms();
    long p = (long)vt_ifield(s, "pid");
    state = vt_sfield(s, "state") ? vt_sfield(s, "state") : "";
    if (p > 0 && p != pid) {
      if (newpid != p)
        seen_at = now;
      newpid = p;
      if (!strcmp(state, "running"))
        break;
    }
    vt_sleep(t, 15);
  }
  CU_ASSERT(newpid > 0);
  CU_ASSERT_STRING_EQUAL(state, "running");
  if (newpid > 0 && seen_at < killed_at + (uint64_t)min_ms)
    fprintf(stderr, "\n  %s: new process seen %llu ms after the kill "
            "(delay %ld ms)\n", name,
            (unsigned long long)(seen_at - killed_at), min_ms);
  CU_ASSERT(newpid <= 0 || seen_at >= killed_at + (uint64_t)min_ms);
  log = vt_sup_log(t);
  snprintf(needle, sizeof needle, "service: %s: killed by signal KILL", name);
  killed = line_from(log, from, needle, NULL);
  snprintf(needle, sizeof needle, "service: %s: started, pid", name);
  started = line_from(log, killed, needle, NULL);
  gap = ms_between(log, killed, started);
  fprintf(stderr, "\n  %s: kill -9, restarted %ld ms after the exit "
          "(delay %ld ms)", name, gap, min_ms);
  CU_ASSERT(killed >= 0 && started > killed);
  CU_ASSERT(gap >= min_ms);
  CU_ASSERT(client(r));
}

static void backoff(rs_t *r) {
  VT_REQUIRE(vt_wait_state(r->t, "postgres", "running", 30000) != NULL);
  VT_REQUIRE(vt_wait_state(r->t, "redis", "running", 30000) != NULL);
  /* First failure: the delay; a second quick one: twice the delay. */
  kill9_restart(r, "redis", 500, redis_answers);
  kill9_restart(r, "redis", 1000, redis_answers);
  kill9_restart(r, "postgres", 500, pg_answers);
  CU_ASSERT(pg_select(r));
  CU_ASSERT_EQUAL(vt_ifield(vt_svc_of(vt_status(r->t), "redis"), "restarts"),
                  2);
}

static void test_backoff(void) {
  /* Output discarded: with no log pipe to drain, the exit is the one
   * event that wakes vigil after its idle spell. */
  run_case("backoff", PG | REDIS,
           "    <restart delay=\"500ms\" max-delay=\"10s\"/>\n"
           "    <log stdout=\"null\" stderr=\"null\"/>\n",
           backoff);
}

static void zombie(rs_t *r) {
  vt_t *t = r->t;
  long master, again;
  const char *workers, *z;
  VT_REQUIRE(vt_wait_state(t, "nginx", "running", 30000) != NULL);
  master = vt_pid(t, "nginx");
  /* The workers are up once one answers. */
  CU_ASSERT(nginx_answers(r));
  workers = children_of(t, master, 0);
  CU_ASSERT(strlen(workers) > 0);
  CU_ASSERT_STRING_EQUAL(children_of(t, vt_sup_pid(t), 1), "");
  CU_ASSERT_EQUAL(pal_pid_kill(master, VG_SIGKILL, 0), APR_SUCCESS);
  {
    uint64_t deadline = vt_now_ms() + 30000;
    again = -1;
    while (vt_now_ms() < deadline) {
      const svc_json_t *e = vt_svc_of(vt_status(t), "nginx");
      const char *st = vt_sfield(e, "state");
      again = (long)vt_ifield(e, "pid");
      if (again > 0 && again != master && st && !strcmp(st, "running"))
        break;
      vt_sleep(t, 20);
    }
  }
  CU_ASSERT(again > 0 && again != master);
  /* The orphaned workers are gone and reaped: no <defunct> child of
   * vigil (given a moment). */
  z = zombies_stay(r, 2000);
  if (*z)
    fprintf(stderr, "\n  nginx master killed (workers%s): zombie children "
            "of vigil:%s\n", workers, z);
  CU_ASSERT_STRING_EQUAL(z, "");
  CU_ASSERT(nginx_answers(r));
}

static void test_zombie(void) { run_case("zombie", MC | NGINX, NULL, zombie); }

static void health(rs_t *r) {
  vt_t *t = r->t;
  long pid0, pid1 = -1, pid2;
  uint64_t deadline, sick_at;
  VT_REQUIRE(vt_wait_state(t, "nginx", "running", 30000) != NULL);
  pid0 = vt_pid(t, "nginx");
  CU_ASSERT_EQUAL(http_status(r), 200);
  CU_ASSERT_EQUAL(vt_write_file(t, r->sick, "503\n"), 0);
  sick_at = vt_now_ms();
  CU_ASSERT_EQUAL(http_status(r), 503);
  deadline = sick_at + 15000;
  while (vt_now_ms() < deadline) {
    pid1 = vt_pid(t, "nginx");
    if (pid1 > 0 && pid1 != pid0)
      break;
    vt_sleep(t, 20);
  }
  apr_file_remove(r->sick, vt_pool(t));
  CU_ASSERT(pid1 > 0 && pid1 != pid0);
  /* Two failed checks 300 ms apart came first. */
  CU_ASSERT(vt_now_ms() - sick_at >= 300);
  CU_ASSERT(vt_contains(vt_sup_log(t),
                        "nginx: health check failed (2 of 2): HTTP 503"));
  fprintf(stderr, "\n  health: restarted %llu ms after /health turned 503",
          (unsigned long long)(vt_now_ms() - sick_at));
  /* Healthy again: it stays up (five check intervals and more). */
  VT_REQUIRE(vt_wait_state(t, "nginx", "running", 30000) != NULL);
  pid2 = vt_pid(t, "nginx");
  vt_sleep(t, 1600);
  CU_ASSERT_EQUAL(vt_pid(t, "nginx"), pid2);
  CU_ASSERT_EQUAL(http_status(r), 200);
}

static void test_health(void) { run_case("health", NGINX, NULL, health); }

/* vigil reload nginx: HUP to the master, which re-reads nginx.conf and
 * replaces its workers; the master (the service's pid) stays. */
static void reload(rs_t *r) {
  vt_t *t = r->t;
  const char *conf = vt_path(t, "nginx/nginx.conf");
  char *text;
  const char *ok = "return 200 \"ok\\n\";";
  long pid0;
  uint64_t deadline;
  int st = 0;
  vt_res_t *res;
  VT_REQUIRE(vt_wait_state(t, "nginx", "running", 30000) != NULL);
  pid0 = vt_pid(t, "nginx");
  CU_ASSERT_EQUAL(http_status(r), 200);
  text = vt_read_file(t, conf, NULL);
  VT_REQUIRE(text != NULL && strstr(text, ok) != NULL);
  /* /health answers 204 from now on: still healthy, and told apart. */
  VT_REQUIRE(vt_write_file(t, conf,
                           apr_psprintf(vt_pool(t), "%.*sreturn 204;%s",
                                        (int)(strstr(text, ok) - text), text,
                                        strstr(text, ok) + strlen(ok))) ==
             0);
  res = vt_cli(t, "reload", "nginx", NULL);
  CU_ASSERT_EQUAL(res->code, 0);
  CU_ASSERT(vt_contains(res->out, apr_psprintf(vt_pool(t),
                                               "nginx: HUP sent to pid %ld",
                                               pid0)));
  deadline = vt_now_ms() + 15000;
  while (vt_now_ms() < deadline && (st = http_status(r)) != 204)
    vt_sleep(t, 50);
  CU_ASSERT_EQUAL(st, 204);
  CU_ASSERT_EQUAL(vt_pid(t, "nginx"), pid0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "nginx"), "running");
}

static void test_reload(void) { run_case("reload", NGINX, NULL, reload); }

/* ---- Prometheus -------------------------------------------------------- */

/* The value of the one sample that Prometheus's instant `query` returns
 * (GET /api/v1/query over libvigil's TCP stream, the JSON parsed by
 * svc_json), or -1 when it returns no sample, more than one, or no
 * answer.  HTTP/1.0: the reply is not chunked and ends at the close. */
static double prom_value(rs_t *r, const char *query) {
  vt_t *t = r->t;
  apr_pool_t *p = vt_pool(t);
  const char *req, *reply, *body, *num;
  char *enc = apr_palloc(p, strlen(query) * 3 + 1), *e = enc;
  const unsigned char *q;
  svc_json_t *root, *result;
  svc_json_error_t err;
  int closed;
  for (q = (const unsigned char *)query; *q; q++)
    e += (*q < 128 && (apr_isalnum(*q) || *q == '_'))
             ? sprintf(e, "%c", *q)
             : sprintf(e, "%%%02X", *q);
  req = apr_psprintf(p,
                     "GET /api/v1/query?query=%s HTTP/1.0\r\n"
                     "Host: 127.0.0.1:%d\r\n\r\n",
                     enc, r->prom_port);
  if (vt_tcp_raw(t, r->prom_port, req, strlen(req), 0, 5000, &reply,
                 &closed) != 0 ||
      strncmp(reply, "HTTP/1.", 7) != 0 || atoi(reply + 9) != 200 ||
      !(body = strstr(reply, "\r\n\r\n")))
    return -1;
  body += 4;
  if (svc_json_parse(&root, body, strlen(body), p, &err) != APR_SUCCESS ||
      !vt_sfield(root, "status") || strcmp(vt_sfield(root, "status"),
                                           "success") != 0)
    return -1;
  result = svc_json_get(svc_json_get(root, "data"), "result");
  if (svc_json_size(result) != 1)
    return -1;
  /* {"metric":{...},"value":[TIME,"VALUE"]} */
  num = svc_json_string(
      svc_json_at(svc_json_get(svc_json_at(result, 0), "value"), 1));
  return num ? strtod(num, NULL) : -1;
}

/* Poll prom_value() (every 100 ms, at most ms) until it is at least
 * `want`; the last value. */
static double prom_wait(rs_t *r, const char *query, double want,
                        uint64_t ms) {
  uint64_t deadline = vt_now_ms() + ms;
  double v;
  while ((v = prom_value(r, query)) < want && vt_now_ms() < deadline)
    vt_sleep(r->t, 100);
  return v;
}

/* Prometheus under vigil scrapes vigil's /metrics every second: it sees
 * vigil and both services up, then memcached's kill -9 as a restart. */
static void prom(rs_t *r) {
  vt_t *t = r->t;
  const char *restarts =
      "vigil_service_restarts_total{service=\"memcached\"}";
  const char *mc_up = "vigil_service_up{service=\"memcached\"}";
  uint64_t t0 = vt_now_ms(), up_at, killed_at;
  long pid;
  VT_REQUIRE(vt_wait_state(t, "prometheus", "running", 30000) != NULL);
  VT_REQUIRE(vt_wait_state(t, "memcached", "running", 30000) != NULL);
  /* Its first scrape. */
  VT_REQUIRE(prom_wait(r, "vigil_up", 1, 15000) == 1);
  up_at = vt_now_ms();
  CU_ASSERT(prom_value(r, "up{job=\"vigil\"}") == 1);
  CU_ASSERT(prom_value(r, mc_up) == 1);
  CU_ASSERT(prom_value(r, "vigil_service_up{service=\"prometheus\"}") ==
            1);
  CU_ASSERT(prom_value(r, restarts) == 0);
  pid = vt_pid(t, "memcached");
  VT_REQUIRE(pid > 0);
  killed_at = vt_now_ms();
  CU_ASSERT_EQUAL(pal_pid_kill(pid, VG_SIGKILL, 0), APR_SUCCESS);
  /* The next scrapes: one restart, and memcached up again. */
  CU_ASSERT(prom_wait(r, restarts, 1, 15000) == 1);
  CU_ASSERT(prom_wait(r, mc_up, 1, 15000) == 1);
  CU_ASSERT(vt_pid(t, "memcached") != pid);
  CU_ASSERT(mc_answers(r));
  CU_ASSERT(prom_value(r, "up{job=\"vigil\"}") == 1);
  fprintf(stderr,
          "\n  prom: vigil_up 1 in Prometheus %llu ms after the services "
          "ran; the restart seen %llu ms after the kill",
          (unsigned long long)(up_at - t0),
          (unsigned long long)(vt_now_ms() - killed_at));
}

static void test_prom(void) {
  const char *ci = getenv("CI");
  if (!prog.prometheus) {
    if (ci && strcmp(ci, "true") == 0) {
      fprintf(stderr, "\nFAIL: vigil_real: prom: missing: prometheus "
              "(CI=true; scripts/bootstrap.sh installs it)\n");
      CU_FAIL("prometheus missing under CI=true");
    } else {
      fprintf(stderr, "\nSKIP: vigil_real: prom: missing: prometheus "
              "(scripts/bootstrap.sh installs it)\n");
    }
    return;
  }
  run_case("prom", MC | PROM, NULL, prom);
}

static CU_TestInfo vigil_real_tests[] = {
    {"stack: ready on answer, depends-on order, clean reverse shutdown",
     test_stack},
    {"kill -9: restart after the configured, doubling delay", test_backoff},
    {"kill -9 of nginx's master: its workers reaped, no zombie",
     test_zombie},
    {"http health 503: nginx restarted, then stays up", test_health},
    {"vigil reload nginx: HUP, the new nginx.conf, the same master",
     test_reload},
    {"Prometheus under vigil scrapes /metrics: up, then a restart",
     test_prom},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_real_suite = {.pName = "vigil_real",
                                 .pInitFunc = real_init,
                                 .pCleanupFunc = NULL,
                                 .pSetUpFunc = NULL,
                                 .pTearDownFunc = NULL,
                                 .pTests = vigil_real_tests};
