/*
 * child_integ.c -- service behaviours for the end-to-end supervisor
 * suites: `run_tests --child NAME ARGS...` (table vg_child_integ_modes).
 *
 *   sleep-exit MS CODE        sleep MS milliseconds, exit with CODE
 *   lines N WIDTH             write N numbered lines ("%06d" padded with
 *                             'x' to WIDTH bytes, newline included), one
 *                             write(2) each, and exit 0 at once
 *   grandchild-pidfile PATH [ignore-term]
 *                             start a grandchild (this binary, `sleep` or
 *                             `ignore-term`) in our process group (on
 *                             Windows: our job), write its pid to PATH
 *                             (atomically), sleep 30 s
 *   tcp-listen PORT GO CLOSE  wait until file GO exists ("-": no wait),
 *                             listen on 127.0.0.1:PORT accepting and
 *                             closing connections; once file CLOSE exists
 *                             ("-": never) remove it and stop listening
 *                             (the process stays up); 30 s at most
 *   http-listen PORT          listen on 127.0.0.1:PORT; answer each HTTP
 *                             request "200 OK" and close; print each
 *                             request line and its Host header; 30 s
 *   notify GO                 wait until file GO exists ("-": no wait),
 *                             then send "READY=1" to $NOTIFY_SOCKET (an
 *                             "@abstract" name or a path); sleep 30 s.
 *                             POSIX-only (exits 126 on Windows)
 *   notify-send NAME MSG      send the datagram MSG to the local socket
 *                             NAME ("@abstract" or a path), as a process
 *                             outside any service would; exit 0, 7 if the
 *                             send fails.  POSIX-only (exits 126 on
 *                             Windows)
 *   control-send PATH LINE    connect to the Unix socket PATH, send LINE
 *                             and "\n", print what comes back and then
 *                             "<closed>" once the server closed (else
 *                             "<error: WHY>"; 10 s at most); exit 0, 3 if
 *                             it cannot connect.  POSIX-only (exits 126
 *                             on Windows)
 *   fork-orphans PATH N MS    fork N children (every other one in a new
 *                             session, out of our process group), each
 *                             sleeping MS ms, then exiting 0; write their
 *                             pids to PATH, one a line (atomically), and
 *                             sleep 30 s.  POSIX-only (exits 126 on
 *                             Windows)
 *   double-fork PATH [noenv]  a daemon: fork, setsid, fork again and let
 *                             the middle process exit, so that the
 *                             daemon, out of our process group and
 *                             session, is an orphan; once it is, it writes
 *                             "PID PARENT" to PATH (atomically), closes
 *                             0..2, sleeps
 *                             30 s -- with `noenv` as `--child sleep
 *                             30000` exec'd with an empty environment.
 *                             We sleep 30 s.  POSIX-only (exits 126 on
 *                             Windows)
 *   signals FILE              record the signals it gets: each one's name
 *                             ("HUP", "INT", ...) appended to FILE as a
 *                             line, after "ready" once the handlers are
 *                             in place; sleep 30 s.  POSIX: HUP, INT,
 *                             QUIT, USR1, USR2 (TERM is left to stop us).
 *                             Windows: Ctrl+C ("INT", enabled again in
 *                             our new process group) and Ctrl+Break
 *                             ("BREAK")
 *   append-exit PATH TEXT MS CODE
 *                             append "TEXT hook=$VIGIL_HOOK
 *                             service=$VIGIL_SERVICE pid=PID ms=WALLMS"
 *                             to PATH (one write), sleep MS, exit CODE
 *   watchdog-ping N MS        print "WATCHDOG_USEC=..." ("unset" if it
 *                             is), send WATCHDOG=1 to $NOTIFY_SOCKET
 *                             every MS ms, N times (0: for 30 s), then
 *                             sleep 30 s without a word.  POSIX-only
 *                             (exits 126 on Windows)
 *   stop-self                 install a TERM handler that exits 0, print
 *                             "stopping", SIGSTOP ourselves; after a
 *                             SIGCONT sleep 30 s (exit 3)
 *
 *   exec PROGRAM ARGS...      exec PROGRAM (an absolute path) with ARGS:
 *                             with vt_child_as, a program run as another
 *                             user.  POSIX-only (exits 126 on Windows)
 *
 * Like tests/child.c, children may use the OS directly; the network ones
 * use libvigil so that they also build for Windows.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "test.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <stddef.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#endif

#define CHILD_LONG_MS 30000

static void nap(long ms) {
  apr_sleep((apr_interval_time_t)ms * 1000);
}

static int file_exists(const char *path) {
  apr_pool_t *p;
  apr_finfo_t fi;
  int ok;
  if (strcmp(path, "-") == 0)
    return 0;
  apr_pool_create(&p, NULL);
  ok = apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS;
  apr_pool_destroy(p);
  return ok;
}

#if !defined(_WIN32)
/* Wait for GO ("-" never waits), bounded by the child's lifetime.  Only
 * `notify` (POSIX-only: sd_notify) needs it. */
static int wait_go(const char *go) {
  long waited = 0;
  if (strcmp(go, "-") == 0)
    return 1;
  while (!file_exists(go)) {
    if (waited >= CHILD_LONG_MS)
      return 0;
    nap(10);
    waited += 10;
  }
  return 1;
}
#endif

static int need(int argc, char **argv, int n) {
  if (argc < n + 1) {
    fprintf(stderr, "child %s: needs %d argument(s)\n", argv[0], n);
    return 0;
  }
  return 1;
}

static int write_all(apr_file_t *f, const char *p, apr_size_t n) {
  return apr_file_write_full(f, p, n, NULL) == APR_SUCCESS ? 0 : -1;
}

static int child_append_exit(int argc, char **argv) {
  apr_pool_t *p;
  apr_file_t *f;
  const char *hook = getenv("VIGIL_HOOK"), *svc = getenv("VIGIL_SERVICE");
  char *line;
  apr_size_t n;
  if (!need(argc, argv, 4))
    return 125;
  apr_pool_create(&p, NULL);
  line = apr_psprintf(p, "%s hook=%s service=%s pid=%ld ms=%" APR_INT64_T_FMT
                      "\n", argv[2], hook ? hook : "-", svc ? svc : "-",
                      pal_getpid(), (apr_int64_t)apr_time_as_msec(
                                        apr_time_now()));
  n = strlen(line);
  if (apr_file_open(&f, argv[1], APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                    APR_FOPEN_APPEND, APR_FPROT_OS_DEFAULT, p) !=
          APR_SUCCESS ||
      apr_file_write(f, line, &n) != APR_SUCCESS)
    return 124;
  apr_file_close(f);
  apr_pool_destroy(p);
  nap(atol(argv[3]));
  return atoi(argv[4]);
}

static int child_sleep_exit(int argc, char **argv) {
  if (!need(argc, argv, 2))
    return 125;
  nap(atol(argv[1]));
  return atoi(argv[2]);
}

static int child_lines(int argc, char **argv) {
  apr_pool_t *p;
  apr_file_t *out;
  long n, width, i;
  char *line;
  if (!need(argc, argv, 2))
    return 125;
  n = atol(argv[1]);
  width = atol(argv[2]);
  if (width < 8)
    width = 8;
  apr_pool_create(&p, NULL);
  apr_file_open_stdout(&out, p);   /* unbuffered: one write per line */
  line = malloc((size_t)width + 1);
  if (!line)
    return 1;
  for (i = 1; i <= n; i++) {
    snprintf(line, (size_t)width + 1, "%06ld ", i);
    memset(line + 7, 'x', (size_t)(width - 8));
    line[width - 1] = '\n';
    if (write_all(out, line, (apr_size_t)width) != 0)
      return 1;
  }
  free(line);
  return 0;   /* at once: the supervisor must drain what is in the pipe */
}

/* Write text to path through path.tmp and a rename: a reader sees all of
 * it or nothing. */
static int write_atomic(const char *path, const char *text) {
  apr_pool_t *p;
  apr_file_t *f;
  const char *tmp;
  int ok = 0;
  apr_pool_create(&p, NULL);
  tmp = apr_pstrcat(p, path, ".tmp", NULL);
  if (apr_file_open(&f, tmp,
                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                    APR_FPROT_OS_DEFAULT, p) == APR_SUCCESS) {
    ok = write_all(f, text, strlen(text)) == 0;
    ok = apr_file_close(f) == APR_SUCCESS && ok &&
         apr_file_rename(tmp, path, p) == APR_SUCCESS;
  }
  apr_pool_destroy(p);
  return ok;
}

static void gc_exit(vg_process_t *p, int code, int sig) {
  (void)p;
  (void)code;
  (void)sig;
}

static int child_grandchild_pidfile(int argc, char **argv) {
  vg_loop_t *loop;
  vg_process_t *gc;
  vg_process_options_t o;
  apr_pool_t *p;
  const char *args[5];
  char line[32];
  if (!need(argc, argv, 1))
    return 125;
  apr_pool_create(&p, NULL);
  if (vg_loop_create(&loop, p) != APR_SUCCESS)
    return 1;
  gc = apr_pcalloc(p, sizeof *gc);
  args[0] = vg_test_self;
  args[1] = "--child";
  if (argc > 2 && strcmp(argv[2], "ignore-term") == 0) {
    args[2] = "ignore-term";
    args[3] = NULL;
  } else {
    args[2] = "sleep";
    args[3] = "30000";
    args[4] = NULL;
  }
  memset(&o, 0, sizeof o);
  o.file = vg_test_self;
  o.args = args;
  o.stdio[0].kind = VG_STDIO_IGNORE;
  o.stdio[1].kind = VG_STDIO_IGNORE;
  o.stdio[2].kind = VG_STDIO_IGNORE;
  o.exit_cb = gc_exit;   /* same process group: no NEW_GROUP, no PDEATHSIG */
  if (vg_spawn(loop, gc, &o) != APR_SUCCESS)
    return 1;
  snprintf(line, sizeof line, "%ld\n", gc->pid);
  if (!write_atomic(argv[1], line))
    return 1;
  printf("grandchild %s", line);
  fflush(stdout);
  nap(CHILD_LONG_MS);
  return 0;
}

static int child_fork_orphans(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;
#else
  char text[4096];
  size_t len = 0;
  long i, n, ms;
  if (!need(argc, argv, 3))
    return 125;
  n = atol(argv[2]);
  ms = atol(argv[3]);
  for (i = 0; i < n && len < sizeof text - 32; i++) {
    pid_t pid = fork();
    if (pid < 0)
      return 1;
    if (pid == 0) {
      if (i % 2)
        setsid();
      nap(ms);
      _exit(0);
    }
    len += (size_t)snprintf(text + len, sizeof text - len, "%ld\n",
                            (long)pid);
  }
  if (!write_atomic(argv[1], text))
    return 1;
  nap(CHILD_LONG_MS);
  return 0;
#endif
}

static int child_double_fork(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;
#else
  pid_t mid;
  if (!need(argc, argv, 1))
    return 125;
  mid = fork();
  if (mid < 0)
    return 1;
  if (mid == 0) {
    char line[32];
    pid_t d, middle = getpid();
    int fd, waited;
    if (setsid() < 0)
      _exit(1);
    d = fork();
    if (d != 0)
      _exit(d < 0);   /* the middle one: gone, the daemon is an orphan */
    /* The pid file says "adopted": written once the middle one is gone. */
    for (waited = 0; getppid() == middle && waited < 5000; waited += 5)
      nap(5);
    snprintf(line, sizeof line, "%ld %ld\n", (long)getpid(),
             (long)getppid());
    if (!write_atomic(argv[1], line))
      _exit(1);
    for (fd = 0; fd < 3; fd++)
      close(fd);   /* no pipe of the service held open */
    if (argc > 2 && strcmp(argv[2], "noenv") == 0) {
      static char child[] = "--child", sleep[] = "sleep", ms[] = "30000";
      char *args[5], *env[1] = {NULL};
      args[0] = strdup(vg_test_self);
      args[1] = child;
      args[2] = sleep;
      args[3] = ms;
      args[4] = NULL;
      execve(vg_test_self, args, env);
      _exit(127);
    }
    nap(CHILD_LONG_MS);
    _exit(0);
  }
  nap(CHILD_LONG_MS);
  return 0;
#endif
}

#if !defined(_WIN32)
static void exit_zero(int sig) {
  (void)sig;
  _exit(0);
}
#endif

static int child_stop_self(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;
#else
  struct sigaction sa;
  (void)argc;
  (void)argv;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = exit_zero;
  sigaction(SIGTERM, &sa, NULL);
  printf("stopping\n");
  fflush(stdout);
  raise(SIGSTOP);
  nap(CHILD_LONG_MS);
  return 3;
#endif
}

/* ---- signals -------------------------------------------------------------- */

static const char *sig_file;

static void sig_record(const char *name) {
  apr_pool_t *p;
  apr_file_t *f;
  apr_pool_create(&p, NULL);
  if (apr_file_open(&f, sig_file, APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                      APR_FOPEN_APPEND,
                    APR_FPROT_OS_DEFAULT, p) == APR_SUCCESS) {
    apr_file_printf(f, "%s\n", name);
    apr_file_close(f);
  }
  apr_pool_destroy(p);
}

#if defined(_WIN32)
static BOOL WINAPI sig_console(DWORD ev) {
  if (ev == CTRL_C_EVENT)
    sig_record("INT");
  else if (ev == CTRL_BREAK_EVENT)
    sig_record("BREAK");
  else
    return FALSE;
  return TRUE;
}
#endif

static int child_signals(int argc, char **argv) {
  long waited;
  if (!need(argc, argv, 1))
    return 125;
  sig_file = argv[1];
#if defined(_WIN32)
  SetConsoleCtrlHandler(NULL, FALSE);   /* a new group starts without ^C */
  SetConsoleCtrlHandler(sig_console, TRUE);
  sig_record("ready");
  nap(CHILD_LONG_MS);
  (void)waited;
#else
  {
    /* Blocked, seen pending and taken with sigwait() (POSIX, macOS
     * too), not caught by a handler: a ThreadSanitizer build, which
     * defers handlers, records them all the same. */
    static const struct {
      int sig;
      const char *name;
    } trap[] = {{SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"},
                {SIGUSR1, "USR1"}, {SIGUSR2, "USR2"}};
    sigset_t set, pend, one;
    size_t i;
    int sig;
    sigemptyset(&set);
    for (i = 0; i < sizeof trap / sizeof trap[0]; i++)
      sigaddset(&set, trap[i].sig);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sig_record("ready");
    for (waited = 0; waited < CHILD_LONG_MS; waited += 10) {
      nap(10);
      if (sigpending(&pend) != 0)
        continue;
      for (i = 0; i < sizeof trap / sizeof trap[0]; i++)
        if (sigismember(&pend, trap[i].sig)) {
          sigemptyset(&one);
          sigaddset(&one, trap[i].sig);
          if (sigwait(&one, &sig) == 0)
            sig_record(trap[i].name);
        }
    }
  }
#endif
  return 0;
}

/* ---- tcp-listen ----------------------------------------------------------- */

typedef struct listener_s {
  vg_tcp_t srv;
  vg_timer_t tick, life;
  const char *go, *close;
  int port;
  int state;          /* 0 waiting, 1 listening, 2 closed for good */
} listener_t;

static void accepted_closed(vg_handle_t *h) { free(h); }

static void on_conn(vg_stream_t *srv, apr_status_t st) {
  vg_tcp_t *c;
  if (st != APR_SUCCESS)
    return;
  c = calloc(1, sizeof *c);
  if (!c)
    return;
  vg_tcp_init(srv->loop, c);
  vg_accept(srv, c);
  vg_close((vg_handle_t *)c, accepted_closed);
}

static void on_tick(vg_timer_t *t) {
  listener_t *l = t->data;
  if (l->state == 0 && (strcmp(l->go, "-") == 0 || file_exists(l->go))) {
    vg_addr_t a;
    vg_tcp_init(t->loop, &l->srv);
    if (vg_addr_ip(&a, "127.0.0.1", l->port) != APR_SUCCESS ||
        vg_tcp_bind(&l->srv, &a, PAL_BIND_REUSEADDR) != APR_SUCCESS ||
        vg_listen(&l->srv, 16, on_conn) != APR_SUCCESS) {
      fprintf(stderr, "child tcp-listen: cannot listen on port %d\n",
              l->port);
      exit(1);
    }
    printf("listening on %d\n", l->port);
    fflush(stdout);
    l->state = 1;
  } else if (l->state == 1 && file_exists(l->close)) {
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    apr_file_remove(l->close, p);
    apr_pool_destroy(p);
    vg_close((vg_handle_t *)&l->srv, NULL);
    printf("closed port %d\n", l->port);
    fflush(stdout);
    l->state = 2;
  }
}

static void on_life(vg_timer_t *t) { vg_stop(t->loop); exit(0); }

static int child_tcp_listen(int argc, char **argv) {
  vg_loop_t *loop;
  listener_t l;
  if (!need(argc, argv, 3))
    return 125;
  if (vg_loop_create(&loop, NULL) != APR_SUCCESS)
    return 1;
  memset(&l, 0, sizeof l);
  l.port = atoi(argv[1]);
  l.go = argv[2];
  l.close = argv[3];
  vg_timer_init(loop, &l.tick);
  l.tick.data = &l;
  vg_timer_start(&l.tick, on_tick, 0, 10);
  vg_timer_init(loop, &l.life);
  vg_timer_start(&l.life, on_life, CHILD_LONG_MS, 0);
  vg_run(loop, VG_RUN_DEFAULT);
  return 0;
}

/* ---- http-listen ---------------------------------------------------------- */

typedef struct http_conn_s {
  vg_tcp_t tcp;
  vg_write_t w;
  char buf[2048];
  size_t len;
} http_conn_t;

static void http_closed(vg_handle_t *h) { free(h->data); }

static void http_written(vg_write_t *w, apr_status_t st) {
  http_conn_t *c = w->data;
  (void)st;
  vg_close((vg_handle_t *)&c->tcp, http_closed);
}

static void http_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *b) {
  http_conn_t *c = h->data;
  (void)suggested;
  b->base = c->buf + c->len;
  b->len = sizeof c->buf - 1 - c->len;
}

/* Print "line" up to its CR LF. */
static void print_line(const char *line) {
  printf("%.*s\n", (int)strcspn(line, "\r\n"), line);
}

static void http_read(vg_stream_t *s, apr_status_t st, size_t n,
                      const vg_buf_t *b) {
  static char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n";
  http_conn_t *c = s->data;
  const char *host;
  vg_buf_t out;
  (void)b;
  if (st != APR_SUCCESS || c->len + n >= sizeof c->buf - 1) {
    vg_close((vg_handle_t *)s, http_closed);
    return;
  }
  c->len += n;
  c->buf[c->len] = '\0';
  if (!strstr(c->buf, "\r\n\r\n"))
    return;
  vg_read_stop(s);
  print_line(c->buf);
  host = strstr(c->buf, "\r\nHost: ");
  if (host)
    print_line(host + 2);
  fflush(stdout);
  out.base = reply;
  out.len = sizeof reply - 1;
  c->w.data = c;
  if (vg_write(&c->w, s, &out, 1, http_written) != APR_SUCCESS)
    vg_close((vg_handle_t *)s, http_closed);
}

static void http_conn(vg_stream_t *srv, apr_status_t st) {
  http_conn_t *c;
  if (st != APR_SUCCESS)
    return;
  c = calloc(1, sizeof *c);
  if (!c)
    return;
  vg_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  if (vg_accept(srv, &c->tcp) != APR_SUCCESS ||
      vg_read_start(&c->tcp, http_alloc, http_read) != APR_SUCCESS)
    vg_close((vg_handle_t *)&c->tcp, http_closed);
}

static int child_http_listen(int argc, char **argv) {
  vg_loop_t *loop;
  vg_tcp_t srv;
  vg_timer_t life;
  vg_addr_t a;
  if (!need(argc, argv, 1))
    return 125;
  if (vg_loop_create(&loop, NULL) != APR_SUCCESS)
    return 1;
  vg_tcp_init(loop, &srv);
  if (vg_addr_ip(&a, "127.0.0.1", atoi(argv[1])) != APR_SUCCESS ||
      vg_tcp_bind(&srv, &a, PAL_BIND_REUSEADDR) != APR_SUCCESS ||
      vg_listen(&srv, 16, http_conn) != APR_SUCCESS) {
    fprintf(stderr, "child http-listen: cannot listen on port %s\n",
            argv[1]);
    return 1;
  }
  printf("listening on %s\n", argv[1]);
  fflush(stdout);
  vg_timer_init(loop, &life);
  vg_timer_start(&life, on_life, CHILD_LONG_MS, 0);
  vg_run(loop, VG_RUN_DEFAULT);
  return 0;
}

/* ---- notify --------------------------------------------------------------- */

#if !defined(_WIN32)
/* Send msg to the local datagram socket `name` ("@abstract" or a path);
 * 0 or the exit code that says why not. */
static int notify_sendto(const char *name, const char *msg) {
  struct sockaddr_un su;
  socklen_t len;
  size_t n = strlen(name), mlen = strlen(msg);
  int fd;
  memset(&su, 0, sizeof su);
  su.sun_family = AF_UNIX;
  if (n == 0 || n >= sizeof su.sun_path)
    return 5;
  memcpy(su.sun_path, name, n);
  if (name[0] == '@') {
    su.sun_path[0] = '\0';   /* abstract: no trailing NUL in the length */
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0)
    return 6;
  if (sendto(fd, msg, mlen, 0, (struct sockaddr *)&su, len) !=
      (ssize_t)mlen) {
    fprintf(stderr, "child notify: sendto %s: %s\n", name, strerror(errno));
    close(fd);
    return 7;
  }
  close(fd);
  return 0;
}
#endif

static int child_notify(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;   /* no sd_notify on Windows */
#else
  const char *name = getenv("NOTIFY_SOCKET");
  int rc;
  if (!need(argc, argv, 1))
    return 125;
  if (!name || !*name) {
    fprintf(stderr, "child notify: NOTIFY_SOCKET is not set\n");
    return 3;
  }
  if (!wait_go(argv[1]))
    return 4;
  if ((rc = notify_sendto(name, "READY=1")) != 0)
    return rc;
  printf("sent READY=1\n");
  fflush(stdout);
  nap(CHILD_LONG_MS);
  return 0;
#endif
}

static int child_watchdog_ping(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;   /* no sd_notify on Windows */
#else
  const char *name = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC");
  long n, every, i;
  int rc;
  if (!need(argc, argv, 2))
    return 125;
  n = atol(argv[1]);
  every = atol(argv[2]);
  printf("WATCHDOG_USEC=%s\n", usec ? usec : "unset");
  fflush(stdout);
  if (!name || !*name) {
    fprintf(stderr, "child watchdog-ping: NOTIFY_SOCKET is not set\n");
    return 3;
  }
  for (i = 0; n == 0 ? i * every < CHILD_LONG_MS : i < n; i++) {
    if ((rc = notify_sendto(name, "WATCHDOG=1")) != 0)
      return rc;
    nap(every);
  }
  nap(CHILD_LONG_MS);
  return 0;
#endif
}

static int child_notify_send(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;   /* no local datagram sockets on Windows */
#else
  if (!need(argc, argv, 2))
    return 125;
  return notify_sendto(argv[1], argv[2]);
#endif
}

/* ---- control-send --------------------------------------------------------- */

static int child_control_send(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;   /* the Windows endpoint is a named pipe: vigil_win */
#else
  struct sockaddr_un su;
  struct timeval tv = {10, 0};
  char buf[4096];
  ssize_t n;
  size_t len;
  int fd;
  if (!need(argc, argv, 2))
    return 125;
  len = strlen(argv[1]);
  memset(&su, 0, sizeof su);
  su.sun_family = AF_UNIX;
  if (len >= sizeof su.sun_path)
    return 5;
  memcpy(su.sun_path, argv[1], len);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&su, sizeof su) != 0) {
    fprintf(stderr, "child control-send: connect %s: %s\n", argv[1],
            strerror(errno));
    return 3;
  }
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  /* The server may have closed already: no SIGPIPE. */
  send(fd, argv[2], strlen(argv[2]), MSG_NOSIGNAL);
  send(fd, "\n", 1, MSG_NOSIGNAL);
  while ((n = read(fd, buf, sizeof buf)) > 0)
    fwrite(buf, 1, (size_t)n, stdout);
  /* ECONNRESET: the server closed with our line unread, also a close. */
  if (n == 0 || errno == ECONNRESET)
    printf("<closed>\n");
  else
    printf("<error: %s>\n", strerror(errno));
  close(fd);
  return 0;
#endif
}

static int child_exec(int argc, char **argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  return 126;
#else
  if (argc < 2)
    return 125;
  execv(argv[1], argv + 1);
  fprintf(stderr, "child exec: %s: %s\n", argv[1], strerror(errno));
  return 127;
#endif
}

const vg_child_mode_t vg_child_integ_modes[] = {
    {"sleep-exit", child_sleep_exit},
    {"append-exit", child_append_exit},
    {"watchdog-ping", child_watchdog_ping},
    {"lines", child_lines},
    {"grandchild-pidfile", child_grandchild_pidfile},
    {"tcp-listen", child_tcp_listen},
    {"http-listen", child_http_listen},
    {"notify", child_notify},
    {"notify-send", child_notify_send},
    {"control-send", child_control_send},
    {"fork-orphans", child_fork_orphans},
    {"stop-self", child_stop_self},
    {"signals", child_signals},
    {"double-fork", child_double_fork},
    {"exec", child_exec},
    {NULL, NULL}};
