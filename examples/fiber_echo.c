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
#include "fiber_example.h"   /* main(): listen, run, TERM/INT */

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

int main(int argc, char **argv) {
  return fiber_example_main(argc, argv, 7008, acceptor);
}
