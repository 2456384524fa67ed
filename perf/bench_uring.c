/*
 * bench_uring.c -- the io_uring floor: what a plain io_uring loop costs
 * on the pingpong workload, without any library, beside the epoll floor
 * (bench_epoll.c).  It is the ceiling of vigil's io_uring backend: the
 * same kernel calls, none of the PAL's bookkeeping.
 *
 *   pingpong  two sockets, each with one multishot RECV into a ring of
 *             provided buffers; per message: its completion, and one
 *             write() of the reply, or (environment BENCH_URING_SEND=1) a
 *             SEND submitted with the next wait.  BENCH_URING_DEFER=1:
 *             IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN instead, the
 *             receive run only inside io_uring_enter.  A wait that finds
 *             completions posted already and nothing to submit does not
 *             enter the kernel: the receive runs as task work when the
 *             write() returns (IORING_SETUP_COOP_TASKRUN).
 *
 * Raw system calls and <linux/io_uring.h>, as pal/posix/poll_uring.c.
 * pingpong only (async and spawn: see bench_epoll.c).
 */
#define _GNU_SOURCE 1
#include "common.h"
#include "rawsock.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NBUFS 16
#define BUFSZ 16384
#define UD_SEND 2u                 /* user_data: 0 client, 1 server */

static struct {
  int fd;
  unsigned *sq_head, *sq_tail, *sq_array, sq_mask, sq_local;
  unsigned *cq_head, *cq_tail, cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
  struct io_uring_buf_ring *br;
  char *bufs;
  unsigned short br_tail;
} r;

static int env_on(const char *name) {
  const char *v = getenv(name);
  return v && !strcmp(v, "1");
}

static void ring_open(void) {
  struct io_uring_params p;
  struct io_uring_buf_reg reg;
  size_t len;
  char *q;
  int i;
  memset(&p, 0, sizeof p);
  p.flags = env_on("BENCH_URING_DEFER")
                ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
                : IORING_SETUP_COOP_TASKRUN;
  r.fd = (int)syscall(__NR_io_uring_setup, 64, &p);
  if (r.fd < 0) perf_fail("io_uring_setup", errno);
  len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  if (p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe) > len)
    len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
           r.fd, IORING_OFF_SQ_RING);
  r.sqes = mmap(NULL, p.sq_entries * sizeof *r.sqes, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_POPULATE, r.fd, IORING_OFF_SQES);
  if (q == MAP_FAILED || r.sqes == MAP_FAILED) perf_fail("mmap", errno);
  r.sq_head = (unsigned *)(q + p.sq_off.head);
  r.sq_tail = (unsigned *)(q + p.sq_off.tail);
  r.sq_array = (unsigned *)(q + p.sq_off.array);
  r.sq_mask = *(unsigned *)(q + p.sq_off.ring_mask);
  r.sq_local = *r.sq_tail;
  r.cq_head = (unsigned *)(q + p.cq_off.head);
  r.cq_tail = (unsigned *)(q + p.cq_off.tail);
  r.cq_mask = *(unsigned *)(q + p.cq_off.ring_mask);
  r.cqes = (struct io_uring_cqe *)(q + p.cq_off.cqes);
  r.br = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  r.bufs = mmap(NULL, NBUFS * BUFSZ, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r.br == MAP_FAILED || r.bufs == MAP_FAILED) perf_fail("mmap", errno);
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uintptr_t)r.br;
  reg.ring_entries = NBUFS;
  if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_PBUF_RING, &reg,
              1) < 0)
    perf_fail("IORING_REGISTER_PBUF_RING", errno);
  for (i = 0; i < NBUFS; i++) {
    r.br->bufs[i].addr = (uintptr_t)(r.bufs + (size_t)i * BUFSZ);
    r.br->bufs[i].len = BUFSZ;
    r.br->bufs[i].bid = (unsigned short)i;
  }
  r.br_tail = NBUFS;
  atomic_store_explicit((_Atomic unsigned short *)&r.br->tail, r.br_tail,
                        memory_order_release);
}

static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *e = &r.sqes[r.sq_local & r.sq_mask];
  memset(e, 0, sizeof *e);
  r.sq_array[r.sq_local & r.sq_mask] = r.sq_local & r.sq_mask;
  r.sq_local++;
  return e;
}

static void buf_release(int bid) {
  struct io_uring_buf *b = &r.br->bufs[r.br_tail & (NBUFS - 1)];
  b->addr = (uintptr_t)(r.bufs + (size_t)bid * BUFSZ);
  b->len = BUFSZ;
  b->bid = (unsigned short)bid;
  r.br_tail++;
  atomic_store_explicit((_Atomic unsigned short *)&r.br->tail, r.br_tail,
                        memory_order_release);
}

static void recv_arm(int fd, unsigned who) {
  struct io_uring_sqe *e = sqe_get();
  e->opcode = IORING_OP_RECV;
  e->fd = fd;
  e->ioprio = IORING_RECV_MULTISHOT;
  e->flags = IOSQE_BUFFER_SELECT;
  e->buf_group = 0;
  e->user_data = who;
}

static int use_send;

static void reply(int fd, const char *buf, size_t len) {
  struct io_uring_sqe *e;
  if (!use_send) {
    perf_write_all(fd, buf, len);
    return;
  }
  e = sqe_get();
  e->opcode = IORING_OP_SEND;
  e->fd = fd;
  e->addr = (uintptr_t)buf;
  e->len = (unsigned)len;
  e->user_data = UD_SEND;
}

/* Submit what is queued and wait for one completion, unless completions
 * are there already and nothing is queued. */
static void ring_wait(void) {
  unsigned head = *r.cq_head, submit;
  atomic_store_explicit((_Atomic unsigned *)r.sq_tail, r.sq_local,
                        memory_order_release);
  submit = r.sq_local - atomic_load_explicit((_Atomic unsigned *)r.sq_head,
                                             memory_order_acquire);
  if (submit == 0 &&
      head != atomic_load_explicit((_Atomic unsigned *)r.cq_tail,
                                   memory_order_acquire))
    return;
  while (syscall(__NR_io_uring_enter, r.fd, submit, 1,
                 IORING_ENTER_GETEVENTS, NULL, 0) < 0)
    if (errno != EINTR) perf_fail("io_uring_enter", errno);
}

static int bench_pingpong(unsigned n) {
  static char sbuf[4][PERF_PINGPONG_MSG * 4];
  char msg[PERF_PINGPONG_MSG];
  int fd[2];
  size_t have = 0;
  unsigned done = 0, k = 0;

  use_send = env_on("BENCH_URING_SEND");
  memset(msg, 'x', sizeof msg);
  perf_tcp_pair(&fd[0], &fd[1]);
  ring_open();
  recv_arm(fd[0], 0);
  recv_arm(fd[1], 1);

  perf_begin();
  perf_write_all(fd[0], msg, sizeof msg);
  while (done < n) {
    unsigned head, tail;
    ring_wait();
    head = *r.cq_head;
    tail = atomic_load_explicit((_Atomic unsigned *)r.cq_tail,
                                memory_order_acquire);
    for (; head != tail && done < n; head++) {
      const struct io_uring_cqe *c = &r.cqes[head & r.cq_mask];
      unsigned who = (unsigned)c->user_data;
      int bid;
      if (who == UD_SEND) {
        if (c->res < 0) perf_fail("send", -c->res);
        continue;
      }
      if (c->res <= 0 || !(c->flags & IORING_CQE_F_BUFFER))
        perf_fail("recv", c->res);
      bid = (int)(c->flags >> IORING_CQE_BUFFER_SHIFT);
      if (!(c->flags & IORING_CQE_F_MORE)) recv_arm(fd[who], who);
      if (who == 1) {             /* server: echo (the send reads it later) */
        char *b = sbuf[k++ & 3];
        if ((size_t)c->res > sizeof sbuf[0]) perf_fail("recv size", c->res);
        memcpy(b, r.bufs + (size_t)bid * BUFSZ, (size_t)c->res);
        reply(fd[1], b, (size_t)c->res);
      } else {
        have += (size_t)c->res;
        if (have >= PERF_PINGPONG_MSG) {
          have -= PERF_PINGPONG_MSG;
          if (++done < n) reply(fd[0], msg, sizeof msg);
        }
      }
      buf_release(bid);
    }
    atomic_store_explicit((_Atomic unsigned *)r.cq_head, head,
                          memory_order_release);
  }
  perf_end();
  close(fd[0]);
  close(fd[1]);
  close(r.fd);
  return 0;
}

int main(int argc, char **argv) {
  static const perf_impl_t impl = {
    "uring", {NULL, bench_pingpong, NULL, NULL}
  };
  return perf_main(argc, argv, &impl);
}
