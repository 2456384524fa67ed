/*
 * fiber_example.h -- what the fiber examples share: main().
 *
 * fiber_example_main() listens on 127.0.0.1:PORT (argv[1], or `port`;
 * 0 picks a free one), starts the example's acceptor fiber on the
 * listener, prints "listening on 127.0.0.1:PORT" and runs the loop.  TERM
 * or INT cancel every fiber's blocking call (vg_fiber_shutdown): each
 * fiber closes its sockets and returns, the loop ends, and it returns 0.
 */
#ifndef FIBER_EXAMPLE_H
#define FIBER_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>

#include "vigil_fiber.h"

static vg_loop_t *loop;

static void on_signal(vg_shutdown_t *sd, int signum) {
  (void)sd;
  (void)signum;
  vg_fiber_shutdown(loop);
}

static int fiber_example_main(int argc, char **argv, int port,
                              void (*acceptor)(void *server)) {
  vg_tcp_t server;
  vg_addr_t addr;
  vg_shutdown_t sd;
  char name[64];

  if (vg_initialize() != APR_SUCCESS || vg_loop_create(&loop, NULL) ||
      vg_addr_ip(&addr, "127.0.0.1", argc > 1 ? atoi(argv[1]) : port) ||
      vg_tcp_init(loop, &server) || vg_tcp_bind(&server, &addr, 0) ||
      vg_fiber_listen(&server, 128) || vg_tcp_sockname(&server, &addr) ||
      vg_fiber_create(loop, NULL, acceptor, &server, 0) ||
      vg_graceful_init(loop, &sd, 0, on_signal, on_signal)) {
    fprintf(stderr, "%s: cannot listen\n", argv[0]);
    return 1;
  }
  printf("listening on %s\n", vg_addr_format(&addr, name, sizeof name));
  fflush(stdout);
  vg_run(loop, VG_RUN_DEFAULT);
  vg_graceful_done(&sd);
  vg_run(loop, VG_RUN_DEFAULT);
  return vg_loop_close(loop) == APR_SUCCESS ? 0 : 1;
}

#endif
