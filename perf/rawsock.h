/*
 * rawsock.h -- POSIX helpers for the benchmarks of loops that have no
 * stream or process API of their own (libev, libevent, the epoll floor).
 * Not used by bench_vigil or bench_libuv, which set up through their
 * library.
 */
#ifndef PERF_RAWSOCK_H
#define PERF_RAWSOCK_H

#include <sys/types.h>

/* A connected TCP pair on 127.0.0.1, both ends non-blocking with
 * TCP_NODELAY, close-on-exec.  The listener is closed again. */
void perf_tcp_pair(int *client, int *server);

/* posix_spawn(PERF_SPAWN_PATH) with the parent's stdio and environment. */
pid_t perf_spawn_true(void);

/* Check a reaped wait status: /bin/true must have exited 0. */
void perf_check_status(int status);

/* write() all of buf on a non-blocking socket that has room (ping-pong
 * never has more than 64 bytes in flight); any shortfall is fatal. */
void perf_write_all(int fd, const void *buf, size_t len);

#endif /* PERF_RAWSOCK_H */
