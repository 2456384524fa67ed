/*
 * echo.c -- vigil-echo: a TCP echo server on libvigil.
 *
 *   vigil-echo [--host ADDR] [--port N] [--json] [--debug]
 *   vigil-echo --version     (libvigil version and event backend)
 *
 * Listens on 127.0.0.1:7007 by default (--port 0 picks a free port; the
 * log line "listening" names it).  Every byte a client sends comes back.
 * Logs go to stderr (text, or JSON lines with --json).  On TERM or INT it
 * shuts down gracefully: stops listening, closes every connection, lets
 * the loop drain and exits 0; a second signal, or connections that will
 * not close within the deadline, make it exit 1.
 *
 * Shape: one loop, one listener, a doubly linked list of connections.
 * Reads are echoed by handing the read buffer itself to vg_write() (no
 * copy); the write request owns it until the write completes.  A client
 * that does not read its echo is throttled: reading from it stops while
 * more than ECHO_HIGH_WATER bytes are queued and resumes when the queue
 * drains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "vigil.h"

#define ECHO_DEFAULT_PORT 7007
#define ECHO_HIGH_WATER (1u << 20)
#define ECHO_SHUTDOWN_MS 5000

typedef struct conn_s {
  vg_tcp_t tcp;
  struct conn_s *prev, *next;
  unsigned id;
  int throttled;
} conn_t;

typedef struct {
  vg_write_t req;
  conn_t *conn;
  char *base;                   /* the read buffer being echoed */
} echo_write_t;

static vg_loop_t *loop;
static vg_log_t *logger;
static vg_tcp_t server;
static vg_shutdown_t shutdown_watch;
static conn_t *conns;
static unsigned next_id = 1;
static int exit_code;

static void conn_closed(vg_handle_t *h) {
  conn_t *c = (conn_t *)h;     /* tcp is the first member */

  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  free(c);
}

static void conn_close(conn_t *c) {
  if (!vg_is_closing((vg_handle_t *)&c->tcp))
    vg_close((vg_handle_t *)&c->tcp, conn_closed);
}

static void alloc_cb(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base != NULL ? suggested : 0;
}

static void read_cb(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf);

static void write_cb(vg_write_t *req, apr_status_t status) {
  echo_write_t *w = (echo_write_t *)req;
  conn_t *c = w->conn;
  char err[128];

  free(w->base);
  free(w);
  if (status != APR_SUCCESS) {
    if (status != VG_ECANCELED)
      vg_log(logger, VG_LOG_INFO, "echo", "conn %u: write failed: %s",
             c->id, vg_strerror(status, err, sizeof(err)));
    conn_close(c);
    return;
  }
  if (c->throttled && !vg_is_closing((vg_handle_t *)&c->tcp) &&
      vg_stream_write_queue_size(&c->tcp) < ECHO_HIGH_WATER / 2) {
    c->throttled = 0;
    vg_read_start(&c->tcp, alloc_cb, read_cb);
  }
}

static void read_cb(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  conn_t *c = (conn_t *)s;
  echo_write_t *w;
  vg_buf_t out;
  apr_status_t rv;
  char err[128];

  if (status != APR_SUCCESS) {
    free(buf->base);
    if (status == APR_EOF)
      vg_log(logger, VG_LOG_DEBUG, "echo", "conn %u: closed by peer", c->id);
    else
      vg_log(logger, VG_LOG_INFO, "echo", "conn %u: read failed: %s", c->id,
             vg_strerror(status, err, sizeof(err)));
    conn_close(c);
    return;
  }
  if (nread == 0) {
    free(buf->base);
    return;
  }
  w = malloc(sizeof(*w));
  if (w == NULL) {
    free(buf->base);
    conn_close(c);
    return;
  }
  w->conn = c;
  w->base = buf->base;
  out.base = buf->base;
  out.len = nread;
  rv = vg_write(&w->req, s, &out, 1, write_cb);
  if (rv != APR_SUCCESS) {
    free(w->base);
    free(w);
    conn_close(c);
    return;
  }
  if (vg_stream_write_queue_size(s) > ECHO_HIGH_WATER) {
    c->throttled = 1;
    vg_read_stop(s);
  }
}

static void on_connection(vg_stream_t *srv, apr_status_t status) {
  conn_t *c;
  vg_addr_t peer;
  char name[128], err[128];

  if (status != APR_SUCCESS) {
    vg_log(logger, VG_LOG_WARN, "echo", "accept: %s",
           vg_strerror(status, err, sizeof(err)));
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  vg_tcp_init(loop, &c->tcp);
  c->id = next_id++;
  c->next = conns;
  if (conns != NULL)
    conns->prev = c;
  conns = c;
  if (vg_accept(srv, &c->tcp) != APR_SUCCESS ||
      vg_read_start(&c->tcp, alloc_cb, read_cb) != APR_SUCCESS) {
    conn_close(c);
    return;
  }
  if (vg_tcp_peername(&c->tcp, &peer) == APR_SUCCESS)
    vg_log(logger, VG_LOG_DEBUG, "echo", "conn %u: from %s", c->id,
           pal_addr_format(&peer, name, sizeof(name)));
}

static void on_shutdown_request(vg_shutdown_t *sd, int signum) {
  conn_t *c;
  const char *name = signum > 0 ? vg_signal_name(signum) : NULL;

  vg_log(logger, VG_LOG_INFO, "echo", "shutting down (%s)",
         name != NULL ? name : "requested");
  if (!vg_is_closing((vg_handle_t *)&server))
    vg_close((vg_handle_t *)&server, NULL);
  for (c = conns; c != NULL; c = c->next)
    conn_close(c);
  /* Everything is closing: once the close phase has run, nothing keeps
   * the loop alive (the shutdown watchers are unreferenced) and vg_run()
   * returns.  Until then a second signal still reaches on_deadline. */
  (void)sd;
}

static void on_shutdown_deadline(vg_shutdown_t *sd, int signum) {
  (void)sd;
  (void)signum;
  vg_log(logger, VG_LOG_WARN, "echo", "shutdown deadline passed, exiting");
  exit_code = 1;
  vg_stop(loop);
}

static void usage(FILE *to) {
  fprintf(to, "usage: vigil-echo [--host ADDR] [--port N] [--json] "
              "[--debug]\n"
              "       vigil-echo --version\n");
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = ECHO_DEFAULT_PORT, json = 0, debug = 0, i;
  apr_pool_t *pool;
  apr_file_t *err_file;
  vg_addr_t addr;
  apr_status_t rv;
  char name[128], err[128];
  char *end;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      long p = strtol(argv[++i], &end, 10);
      if (*end != '\0' || p < 0 || p > 65535) {
        usage(stderr);
        return 2;
      }
      port = (int)p;
    } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--debug") == 0) {
      debug = 1;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("vigil-echo %s (libvigil, %s backend)\n", vg_version(),
             vg_backend());
      return 0;
    } else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }

  if (vg_initialize() != APR_SUCCESS) {
    fprintf(stderr, "vigil-echo: cannot initialise\n");
    return 1;
  }
  apr_pool_create(&pool, NULL);
  apr_file_open_stderr(&err_file, pool);
  vg_log_create(&logger, pool, err_file, debug ? VG_LOG_DEBUG : VG_LOG_INFO,
                json ? VG_LOG_JSON : VG_LOG_TEXT);

  rv = vg_loop_create(&loop, pool);
  if (rv != APR_SUCCESS) {
    vg_log(logger, VG_LOG_ERROR, "echo", "loop: %s",
           vg_strerror(rv, err, sizeof(err)));
    return 1;
  }
  vg_tcp_init(loop, &server);
  rv = pal_addr_ip(&addr, host, port);
  if (rv == APR_SUCCESS)
    rv = vg_tcp_bind(&server, &addr, PAL_BIND_REUSEADDR);
  if (rv == APR_SUCCESS)
    rv = vg_listen(&server, 128, on_connection);
  if (rv == APR_SUCCESS)
    rv = vg_tcp_sockname(&server, &addr);
  if (rv != APR_SUCCESS) {
    vg_log(logger, VG_LOG_ERROR, "echo", "cannot listen on %s:%d: %s", host,
           port, vg_strerror(rv, err, sizeof(err)));
    vg_close((vg_handle_t *)&server, NULL);
    vg_run(loop, VG_RUN_DEFAULT);
    vg_loop_close(loop);
    return 1;
  }
  rv = vg_graceful_init(loop, &shutdown_watch, ECHO_SHUTDOWN_MS,
                        on_shutdown_request, on_shutdown_deadline);
  if (rv != APR_SUCCESS)
    vg_log(logger, VG_LOG_WARN, "echo", "no graceful shutdown: %s",
           vg_strerror(rv, err, sizeof(err)));

  {
    const char *kv[] = {"addr", NULL, "backend", NULL, "version", NULL,
                        NULL};
    kv[1] = pal_addr_format(&addr, name, sizeof(name));
    kv[3] = vg_backend();
    kv[5] = vg_version();
    vg_log_kv(logger, VG_LOG_INFO, "echo", kv, "listening");
  }

  vg_run(loop, VG_RUN_DEFAULT);

  if (exit_code == 0) {
    /* Close the shutdown watchers too, then let the close phase run. */
    vg_graceful_done(&shutdown_watch);
    vg_run(loop, VG_RUN_DEFAULT);
    rv = vg_loop_close(loop);
    if (rv != APR_SUCCESS) {
      vg_log(logger, VG_LOG_ERROR, "echo", "loop close: %s",
             vg_strerror(rv, err, sizeof(err)));
      exit_code = 1;
    } else {
      vg_log(logger, VG_LOG_INFO, "echo", "bye");
    }
  }
  apr_pool_destroy(pool);
  apr_terminate();
  return exit_code;
}
