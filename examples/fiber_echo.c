/*
 * fiber_echo.c -- vigil-fiber-echo: a TCP echo server, one fiber per
 * connection, in blocking style.
 *
 *   vigil-fiber-echo [PORT]     (default 7008; 0 picks a free port)
 *
 * Prints "listening on 127.0.0.1:PORT" once it accepts connections.  TERM
 * or INT cancel every fiber's blocking call (vg_fiber_shutdown): each one
 * closes its socket and returns, and the program exits 0.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vigil_fiber.h"

static vg_loop_t *loop;

static void closed(vg_handle_t *h) { free(h); }

static void serve(void *arg) {
  vg_tcp_t *conn = arg;
  char buf[16384];
  size_t n;

  while (vg_fiber_read(conn, buf, sizeof buf, &n) == APR_SUCCESS)
    if (vg_fiber_write(conn, buf, n) != APR_SUCCESS)
      break;
  vg_close((vg_handle_t *)conn, closed);
}

static void acceptor(void *arg) {
  vg_tcp_t *server = arg, *conn;

  while ((conn = malloc(sizeof *conn)) != NULL) {
    vg_tcp_init(loop, conn);
    if (vg_fiber_accept(server, conn) != APR_SUCCESS ||
        vg_fiber_create(loop, NULL, serve, conn, 0) != APR_SUCCESS) {
      vg_close((vg_handle_t *)conn, closed);
      break;
    }
  }
  vg_close((vg_handle_t *)server, NULL);
}

static void on_signal(vg_shutdown_t *sd, int signum) {
  (void)sd;
  (void)signum;
  vg_fiber_shutdown(loop);
}

int main(int argc, char **argv) {
  vg_tcp_t server;
  vg_addr_t addr;
  vg_shutdown_t sd;
  char name[64];

  if (vg_initialize() != APR_SUCCESS || vg_loop_create(&loop, NULL) ||
      vg_addr_ip(&addr, "127.0.0.1", argc > 1 ? atoi(argv[1]) : 7008) ||
      vg_tcp_init(loop, &server) || vg_tcp_bind(&server, &addr, 0) ||
      vg_fiber_listen(&server, 128) || vg_tcp_sockname(&server, &addr) ||
      vg_fiber_create(loop, NULL, acceptor, &server, 0) ||
      vg_graceful_init(loop, &sd, 0, on_signal, on_signal)) {
    fprintf(stderr, "vigil-fiber-echo: cannot listen\n");
    return 1;
  }
  printf("listening on %s\n", vg_addr_format(&addr, name, sizeof name));
  fflush(stdout);
  vg_run(loop, VG_RUN_DEFAULT);
  vg_graceful_done(&sd);
  vg_run(loop, VG_RUN_DEFAULT);
  return vg_loop_close(loop) == APR_SUCCESS ? 0 : 1;
}
