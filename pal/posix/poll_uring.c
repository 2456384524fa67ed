/*
 * poll_uring.c -- the io_uring backend (Linux 6.0 and later; the
 * default from 6.13, poll.c): the pal__poll_* contract on one submission
 * ring, plus completion reads of streams into buffers the kernel picks
 * from a ring of ours.
 *
 * Map:
 *   1. the ring: setup through raw system calls, the probe, SQEs
 *   2. descriptors: level-triggered readiness from one-shot POLL_ADDs,
 *      re-armed after each event while the interest lasts
 *   3. completion reads: a multishot RECV per reading stream into
 *      provided buffers, through a slot that outlives a closed stream;
 *      the buffers a stream got but did not consume yet, chained
 *   3b. the wake-up: a completion another thread posts into the ring
 *      (MSG_RING from no ring, Linux 6.13), else the eventfd
 *   4. wait: one io_uring_enter per loop iteration submits everything
 *      queued since the last one and waits with the loop's timeout; none
 *      when completions are posted already and nothing is queued
 *
 * Raw system calls, not liburing: the few calls needed are short, the
 * build needs nothing beyond the kernel's uapi header, and Debian's
 * liburing (2.3) would be one more dependency to install and to make
 * optional for the epoll-only, macOS and Windows builds.
 *
 * Why one-shot polls: io.c expects level triggering (it may leave bytes
 * in a descriptor after 32 reads, or a connection in a listener's
 * backlog while its accept slot is full).  A one-shot POLL_ADD checks the
 * descriptor's state when it is armed, so re-arming it after each event
 * while the interest lasts is level triggering; a multishot poll fires
 * on wake-ups only, which is edge triggering.  That is enough for a
 * descriptor its owner drains at every event (the wake-up eventfd:
 * PAL__EDGE), which gets a multishot poll and is never re-armed.
 *
 * Every SQE waits in the submission ring until the next wait, which
 * submits them all with the same io_uring_enter that waits: a loop
 * iteration costs at most one system call for the ring, whatever it
 * changed, and none when the task work of the last system call (a
 * write(2)'s, typically) has posted completions already.
 */
#include "pal_posix.h"

#include <linux/io_uring.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#ifdef PAL_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

/* ---- 1. the ring -------------------------------------------------------- */

#define RING_ENTRIES 256
#define NBUFS 16                  /* provided buffers (a power of 2) */
#define BUFSZ 16384               /* bytes each */
#define BGID 0                    /* their group */

/* user_data: what a CQE is about, in the top 2 bits. */
enum { UD_NONE = 0, UD_POLL = 1, UD_READ = 2, UD_NOP = 3 };
/* The wake-up (kind UD_NONE): posted by another thread (MSG_RING). */
#define UD_WAKE ((uint64_t)1)

/* Linux 6.13: IORING_OP_MSG_RING without a ring of one's own (io_uring_
 * register with no ring fd); older uapi headers lack the number. */
#ifndef IORING_REGISTER_SEND_MSG_RING
#define IORING_REGISTER_SEND_MSG_RING 31
#endif
#define UD_KIND(ud) ((int)((ud) >> 62))
/* A poll: its descriptor and the registration's generation. */
#define UD_POLL_MAKE(fd, gen)                                              \
  (((uint64_t)UD_POLL << 62) | ((uint64_t)((gen) & 0x3fffffffu) << 32) |   \
   (uint32_t)(fd))
#define UD_FD(ud) ((int)(uint32_t)(ud))
#define UD_GEN(ud) ((unsigned)(((ud) >> 32) & 0x3fffffffu))
/* A read or a no-op of a stream: its slot. */
#define UD_SLOT_MAKE(kind, slot) (((uint64_t)(kind) << 62) | (uint32_t)(slot))

/* A watched descriptor, in an array indexed by descriptor number: 16
 * bytes, so 64 KiB for a supervisor with 4,096 descriptors (epoll keeps
 * the same in the kernel).  gen changes with every registration, so a
 * CQE of an earlier one (removed, or a reused descriptor number) is
 * known stale and dropped. */
typedef struct ufd_s {
  uintptr_t token;
  unsigned gen;
  unsigned short events;          /* wanted: PAL__IN, PAL__OUT, PAL__EDGE */
  unsigned char armed;            /* a POLL_ADD of gen is in the kernel */
  unsigned char queued;           /* on the re-arm list */
} ufd_t;
_Static_assert((PAL__IN | PAL__OUT | PAL__EDGE) <= 0xffff,
               "ufd_t.events holds the interest bits");

/* A stream read in flight.  It names the stream, not the other way
 * round only: a stream closed with its read in flight is detached (io
 * NULL), and the slot lives on until the cancelled read's CQE. */
typedef struct slot_s {
  pal_io_t *io;
  intptr_t *where;                /* the stream's copy of the slot number:
                                     -1 once the result is reaped */
  int next_free;
} slot_t;

typedef struct uring_s {
  int fd;
  /* submission ring */
  unsigned *sq_head, *sq_tail, *sq_array, *sq_flags, sq_mask, sq_entries;
  unsigned sq_local;              /* our tail, published before entering */
  int taskrun_flag;               /* the kernel says IORING_SQ_TASKRUN */
  struct io_uring_sqe *sqes;
  /* completion ring */
  unsigned *cq_head, *cq_tail, cq_mask;
  struct io_uring_cqe *cqes;
  void *sq_map, *cq_map;
  size_t sq_map_len, cq_map_len, sqes_len;
  /* descriptors (index: fd) and those to re-arm at the next wait */
  ufd_t *fds;
  int nfds;
  int *rearm;
  int nrearm, rearm_cap;
  /* provided buffers, registered at the first read; the bytes each
   * holds and the next one of the same stream's queue */
  struct io_uring_buf_ring *br;
  char *bufs;
  unsigned short br_tail;
  unsigned blen[NBUFS];
  int bnext[NBUFS];
  /* read slots */
  slot_t *slots;
  int nslots, free_slot;
  uintptr_t wake_token;           /* the USER source's, 0: none */
} uring_t;

static int sys_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags,
                     void *arg, size_t argsz) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, arg,
                      argsz);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned n) {
  return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static void ring_unmap(uring_t *u) {
  if (u->sqes)
    munmap(u->sqes, u->sqes_len);
  if (u->cq_map && u->cq_map != u->sq_map)
    munmap(u->cq_map, u->cq_map_len);
  if (u->sq_map)
    munmap(u->sq_map, u->sq_map_len);
  if (u->fd >= 0)
    close(u->fd);
  u->fd = -1;
}

static apr_status_t ring_open(uring_t *u) {
  struct io_uring_params p;
  char *sq, *cq;
  memset(&p, 0, sizeof p);
  u->fd = -1;
  /* COOP_TASKRUN: completions are run when we enter, not by
   * interrupting us; TASKRUN_FLAG: the ring says when task work waits
   * to be run (5.19; newer flags are refused by an older kernel, so they
   * are tried first and dropped). */
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  u->fd = sys_setup(RING_ENTRIES, &p);
  u->taskrun_flag = u->fd >= 0;
  if (u->fd < 0 && errno == EINVAL) {
    memset(&p, 0, sizeof p);
    u->fd = sys_setup(RING_ENTRIES, &p);
  }
  if (u->fd < 0)
    return pal__fail("io_uring_setup");
  if (!(p.features & IORING_FEAT_SINGLE_MMAP) ||
      !(p.features & IORING_FEAT_NODROP) ||
      !(p.features & IORING_FEAT_EXT_ARG)) {
    errno = ENOSYS;   /* older than 5.11 */
    close(u->fd);
    u->fd = -1;
    return pal__fail("io_uring_setup");
  }
  u->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  u->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (u->cq_map_len > u->sq_map_len)
    u->sq_map_len = u->cq_map_len;
  u->cq_map_len = u->sq_map_len;
  sq = mmap(NULL, u->sq_map_len, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) {
    apr_status_t rv = pal__fail("mmap");
    ring_unmap(u);
    return rv;
  }
  u->sq_map = u->cq_map = sq;
  cq = sq;
  u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
  if (u->sqes == MAP_FAILED) {
    apr_status_t rv = pal__fail("mmap");
    u->sqes = NULL;
    ring_unmap(u);
    return rv;
  }
  u->sq_head = (unsigned *)(sq + p.sq_off.head);
  u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  u->sq_flags = (unsigned *)(sq + p.sq_off.flags);
  u->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
  u->sq_entries = p.sq_entries;
  u->sq_array = (unsigned *)(sq + p.sq_off.array);
  u->sq_local = *u->sq_tail;
  u->cq_head = (unsigned *)(cq + p.cq_off.head);
  u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  u->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
  u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  return APR_SUCCESS;
}

/* Submit what is queued, without waiting (the submission ring is full). */
static int ring_flush(uring_t *u) {
  unsigned n;
  int r;
  atomic_store_explicit((_Atomic unsigned *)u->sq_tail, u->sq_local,
                        memory_order_release);
  n = u->sq_local -
      atomic_load_explicit((_Atomic unsigned *)u->sq_head,
                           memory_order_acquire);
  if (n == 0)
    return 0;
  do
    r = sys_enter(u->fd, n, 0, 0, NULL, 0);
  while (r < 0 && errno == EINTR);
  return r;
}

/* A zeroed SQE at the tail, flushing the ring first if it is full
 * (EBUSY: the completion ring is full too; the next wait reaps it). */
static struct io_uring_sqe *sqe_get(uring_t *u) {
  struct io_uring_sqe *sqe;
  unsigned head = atomic_load_explicit((_Atomic unsigned *)u->sq_head,
                                       memory_order_acquire);
  if (u->sq_local - head >= u->sq_entries) {
    if (ring_flush(u) < 0)
      return NULL;
    head = atomic_load_explicit((_Atomic unsigned *)u->sq_head,
                                memory_order_acquire);
    if (u->sq_local - head >= u->sq_entries)
      return NULL;
  }
  sqe = &u->sqes[u->sq_local & u->sq_mask];
  memset(sqe, 0, sizeof *sqe);
  u->sq_array[u->sq_local & u->sq_mask] = u->sq_local & u->sq_mask;
  u->sq_local++;
  return sqe;
}

static int msg_ring(int fd, uint64_t ud);
/* Whether MSG_RING may be sent from no ring (6.13): -1 not known yet. */
static atomic_int have_msg_ring = -1;

/* Does this kernel run what this file needs?  Polls, cancellation,
 * RECV and NOP (IORING_REGISTER_PROBE), provided-buffer rings (5.19) and
 * multishot RECV (6.0: no opcode says so, but SEND_ZC came with it).
 * *full: and MSG_RING from no ring (6.13), without which wake-ups go
 * through the eventfd, slower than epoll's (docs/PERFORMANCE.md). */
apr_status_t pal__backend_uring_probe(int *full) {
  static const int ops[] = {IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE,
                            IORING_OP_ASYNC_CANCEL, IORING_OP_RECV,
                            IORING_OP_NOP, IORING_OP_SEND_ZC};
  uring_t u;
  struct io_uring_probe *pr;
  struct io_uring_buf_reg reg;
  size_t len = sizeof *pr + 256 * sizeof(struct io_uring_probe_op);
  void *ring;
  unsigned i;
  apr_status_t rv;

  *full = 0;
  memset(&u, 0, sizeof u);
  if ((rv = ring_open(&u)) != APR_SUCCESS)
    return rv;
  pr = calloc(1, len);
  if (!pr) {
    ring_unmap(&u);
    return APR_ENOMEM;
  }
  if (sys_register(u.fd, IORING_REGISTER_PROBE, pr, 256) < 0) {
    rv = pal__fail("io_uring_register");
    goto out;
  }
  for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (ops[i] > pr->last_op ||
        !(pr->ops[ops[i]].flags & IO_URING_OP_SUPPORTED)) {
      errno = ENOSYS;
      rv = pal__fail("io_uring_register");
      goto out;
    }
  ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) {
    rv = pal__fail("mmap");
    goto out;
  }
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uintptr_t)ring;
  reg.ring_entries = NBUFS;
  reg.bgid = BGID;
  if (sys_register(u.fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
    rv = pal__fail("io_uring_register");
  munmap(ring, 4096);
  if (rv == APR_SUCCESS) {
    /* A message to this ring, which is closed below. */
    *full = msg_ring(u.fd, UD_NONE) == 0;
    atomic_store(&have_msg_ring, *full);
  }
out:
  free(pr);
  ring_unmap(&u);
  return rv;
}

/* ---- 2. descriptors ----------------------------------------------------- */

static ufd_t *ufd_get(uring_t *u, int fd) {
  if (fd >= u->nfds) {
    int n = u->nfds ? u->nfds : 64;
    ufd_t *f;
    while (n <= fd)
      n *= 2;
    f = realloc(u->fds, (size_t)n * sizeof *f);
    if (!f)
      return NULL;
    memset(f + u->nfds, 0, (size_t)(n - u->nfds) * sizeof *f);
    u->fds = f;
    u->nfds = n;
  }
  return &u->fds[fd];
}

_Static_assert(POLLIN == 0x001 && POLLOUT == 0x004 && POLLERR == 0x008 &&
                   POLLHUP == 0x010 && POLLRDHUP == 0x2000,
               "pal__revents() reads poll(2)'s bits");

static apr_status_t arm(uring_t *u, int fd, ufd_t *f) {
  struct io_uring_sqe *sqe = sqe_get(u);
  if (!sqe) {
    errno = EBUSY;
    return pal__fail("io_uring_enter");
  }
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = fd;
  sqe->poll32_events = pal__to_pollbits(f->events);
  if (f->events & PAL__EDGE)
    sqe->len = IORING_POLL_ADD_MULTI;   /* stays armed */
  sqe->user_data = UD_POLL_MAKE(fd, f->gen);
  f->armed = 1;
  return APR_SUCCESS;
}

static void disarm(uring_t *u, int fd, ufd_t *f) {
  if (f->armed) {
    struct io_uring_sqe *sqe = sqe_get(u);
    if (sqe) {
      sqe->opcode = IORING_OP_POLL_REMOVE;
      sqe->fd = -1;
      sqe->addr = UD_POLL_MAKE(fd, f->gen);
      sqe->user_data = UD_NONE;
    }
    f->armed = 0;
  }
  f->gen++;   /* whatever the old registration still reports is stale */
}

static apr_status_t ur_add(pal_poll_t *p, int fd, unsigned events,
                           uintptr_t token) {
  uring_t *u = p->backend;
  ufd_t *f;
  if (PAL__SYS(PAL_SYS_POLL_CTL, 0) < 0)
    return pal__fail("io_uring_enter");
  if (!(f = ufd_get(u, fd)))
    return APR_ENOMEM;
  disarm(u, fd, f);
  f->token = token;
  f->events = (unsigned short)events;
  return arm(u, fd, f);
}

static apr_status_t ur_del(pal_poll_t *p, int fd) {
  uring_t *u = p->backend;
  ufd_t *f;
  if (fd >= u->nfds)
    return APR_SUCCESS;
  f = &u->fds[fd];
  disarm(u, fd, f);
  f->events = 0;
  f->token = 0;
  return APR_SUCCESS;
}

/* ---- 3. completion reads ------------------------------------------------ */

static apr_status_t bufs_open(uring_t *u) {
  struct io_uring_buf_reg reg;
  size_t rlen = NBUFS * sizeof(struct io_uring_buf);
  unsigned i;
  if (rlen < 4096)
    rlen = 4096;
  /* mmap, not malloc: the kernel writes the buffers, and memory a
   * checker (valgrind) saw zero-filled at the start is never reported as
   * uninitialised when the bytes are read. */
  u->br = mmap(NULL, rlen, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (u->br == MAP_FAILED) {
    u->br = NULL;
    return pal__fail("mmap");
  }
  u->bufs = mmap(NULL, (size_t)NBUFS * BUFSZ, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (u->bufs == MAP_FAILED) {
    u->bufs = NULL;
    munmap(u->br, rlen);
    u->br = NULL;
    return pal__fail("mmap");
  }
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uintptr_t)u->br;
  reg.ring_entries = NBUFS;
  reg.bgid = BGID;
  if (sys_register(u->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
    apr_status_t rv = pal__fail("io_uring_register");
    munmap(u->bufs, (size_t)NBUFS * BUFSZ);
    munmap(u->br, rlen);
    u->br = NULL;
    u->bufs = NULL;
    return rv;
  }
  for (i = 0; i < NBUFS; i++) {
    struct io_uring_buf *b = &u->br->bufs[i];
    b->addr = (uintptr_t)(u->bufs + (size_t)i * BUFSZ);
    b->len = BUFSZ;
    b->bid = (unsigned short)i;
  }
  u->br_tail = NBUFS;
  atomic_store_explicit((_Atomic unsigned short *)&u->br->tail, u->br_tail,
                        memory_order_release);
  return APR_SUCCESS;
}

static char *ur_buf(pal_poll_t *p, int bid, size_t *len) {
  uring_t *u = p->backend;
  *len = u->blen[bid];
  return u->bufs + (size_t)bid * BUFSZ;
}

static void ur_buf_link(pal_poll_t *p, int bid, int next) {
  uring_t *u = p->backend;
  u->bnext[bid] = next;
}

/* Give buffer bid back to the kernel; the one after it in its queue. */
static int ur_buf_release(pal_poll_t *p, int bid) {
  uring_t *u = p->backend;
  int next = u->bnext[bid];
  struct io_uring_buf *b = &u->br->bufs[u->br_tail & (NBUFS - 1)];
  b->addr = (uintptr_t)(u->bufs + (size_t)bid * BUFSZ);
  b->len = BUFSZ;
  b->bid = (unsigned short)bid;
  u->br_tail++;
  atomic_store_explicit((_Atomic unsigned short *)&u->br->tail, u->br_tail,
                        memory_order_release);
  return next;
}

static int slot_take(uring_t *u, pal_io_t *io, intptr_t *where) {
  int s = u->free_slot;
  if (s < 0) {
    int n = u->nslots ? u->nslots * 2 : 16, i;
    slot_t *t = realloc(u->slots, (size_t)n * sizeof *t);
    if (!t)
      return -1;
    for (i = u->nslots; i < n; i++)
      t[i].next_free = i + 1 < n ? i + 1 : -1;
    u->slots = t;
    s = u->nslots;
    u->nslots = n;
  }
  u->free_slot = u->slots[s].next_free;
  u->slots[s].io = io;
  u->slots[s].where = where;
  return s;
}

static void slot_free(uring_t *u, int s) {
  u->slots[s].io = NULL;
  u->slots[s].next_free = u->free_slot;
  u->free_slot = s;
}

/* Start reading a stream (io.c holds the slot in *slot): a multishot
 * RECV, each completion in a provided buffer, until it fails, ends or is
 * cancelled; or, with `nop`, a no-op whose completion lets io.c deliver
 * what it already holds (never from the submitting call). */
static apr_status_t ur_read_submit(pal_poll_t *p, pal_io_t *io, int nop,
                                   intptr_t *slot) {
  uring_t *u = p->backend;
  struct io_uring_sqe *sqe;
  apr_status_t rv;
  int s;
  if (!u->br && !nop && (rv = bufs_open(u)) != APR_SUCCESS)
    return rv;
  if ((s = slot_take(u, io, slot)) < 0)
    return APR_ENOMEM;
  if (!(sqe = sqe_get(u))) {
    slot_free(u, s);
    errno = EBUSY;
    return pal__fail("io_uring_enter");
  }
  if (nop) {
    sqe->opcode = IORING_OP_NOP;
    sqe->user_data = UD_SLOT_MAKE(UD_NOP, s);
  } else {
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = (int)io->fd;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    sqe->user_data = UD_SLOT_MAKE(UD_READ, s);
  }
  *slot = s;
  return APR_SUCCESS;
}

/* Cancel a stream's reading.  It stopped reading: what the kernel
 * completes until the cancellation is still reported, the last
 * completion without IORING_CQE_F_MORE.  It is closing (`detach`): the
 * slot forgets it, and its completions only give their buffers back. */
static void ur_read_cancel(pal_poll_t *p, intptr_t slot, int detach) {
  uring_t *u = p->backend;
  struct io_uring_sqe *sqe;
  if (detach)
    u->slots[slot].io = NULL;
  if ((sqe = sqe_get(u)) != NULL) {
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = UD_SLOT_MAKE(UD_READ, slot);
    sqe->user_data = UD_NONE;
  }
}

/* ---- 3b. the wake-up ----------------------------------------------------- */

/* Post the wake-up's CQE into the ring of fd: MSG_RING sent from no ring
 * (6.13).  Any thread, async-signal-safe: one system call. */
static int msg_ring(int fd, uint64_t ud) {
  struct io_uring_sqe sqe;
  memset(&sqe, 0, sizeof sqe);
  sqe.opcode = IORING_OP_MSG_RING;
  sqe.fd = fd;
  sqe.off = ud;           /* the posted CQE's user_data */
  return sys_register(-1, IORING_REGISTER_SEND_MSG_RING, &sqe, 1);
}

/* The wake-up as a USER source: another thread posts its CQE straight
 * into the ring, so the woken loop has no eventfd to read (epoll and the
 * eventfd: the loop's wait, a read and the sender's write; here the
 * loop's wait and the sender's call).  A kernel without it (before 6.13,
 * EINVAL) gets the eventfd (PAL_EUNSUPPORTED), as the probe learnt from
 * a message to its ring (else a message to this one, which reap_one
 * drops).  Only a named io_uring runs so: the default is epoll there. */
static apr_status_t ur_add_source(pal_poll_t *p, int kind, long ident,
                                  uintptr_t token) {
  uring_t *u = p->backend;
  int h;
  (void)ident;
  if (kind != PAL__SRC_USER)
    return PAL_EUNSUPPORTED;   /* pidfds and the self-pipe */
  if ((h = atomic_load(&have_msg_ring)) < 0) {
    h = msg_ring(u->fd, UD_NONE) == 0;
    atomic_store(&have_msg_ring, h);
  }
  if (!h)
    return PAL_EUNSUPPORTED;
  u->wake_token = token;
  return APR_SUCCESS;
}

static apr_status_t ur_del_source(pal_poll_t *p, int kind, long ident) {
  uring_t *u = p->backend;
  (void)ident;
  if (kind == PAL__SRC_USER)
    u->wake_token = 0;
  return APR_SUCCESS;
}

static apr_status_t ur_trigger(pal_poll_t *p, long ident, uintptr_t token) {
  uring_t *u = p->backend;
  (void)ident;
  (void)token;
  /* No pal__fail (TLS, in a signal handler); no fault seam (the wait
   * has one). */
  if (msg_ring(u->fd, UD_WAKE) < 0)
    return pal_err_from_os(errno);
  return APR_SUCCESS;
}

/* ---- 4. create, wait, destroy ------------------------------------------- */

static apr_status_t ur_create(pal_poll_t *p) {
  uring_t *u = calloc(1, sizeof *u);
  apr_status_t rv;
  if (!u)
    return APR_ENOMEM;
  if ((rv = ring_open(u)) != APR_SUCCESS) {
    free(u);
    return rv;
  }
  u->free_slot = -1;
  p->backend = u;
  p->backend_fd = u->fd;
  return APR_SUCCESS;
}

static void ur_destroy(pal_poll_t *p) {
  uring_t *u = p->backend;
  if (!u)
    return;
  ring_unmap(u);   /* closing the ring cancels what is in flight */
  if (u->bufs)
    munmap(u->bufs, (size_t)NBUFS * BUFSZ);
  if (u->br)
    munmap(u->br, NBUFS * sizeof(struct io_uring_buf) < 4096
                      ? 4096
                      : NBUFS * sizeof(struct io_uring_buf));
  free(u->fds);
  free(u->rearm);
  free(u->slots);
  free(u);
  p->backend = NULL;
  p->backend_fd = -1;
}

static void rearm_push(uring_t *u, int fd, ufd_t *f) {
  if (f->queued)
    return;
  if (u->nrearm == u->rearm_cap) {
    int n = u->rearm_cap ? u->rearm_cap * 2 : 64;
    int *r = realloc(u->rearm, (size_t)n * sizeof *r);
    if (!r)
      return;   /* not re-armed: the next interest change re-arms it */
    u->rearm = r;
    u->rearm_cap = n;
  }
  u->rearm[u->nrearm++] = fd;
  f->queued = 1;
}

/* Polls that fired last time and are still wanted are armed again:
 * the level-triggered half of the contract. */
static void rearm_all(uring_t *u) {
  int i, kept = 0;
  for (i = 0; i < u->nrearm; i++) {
    int fd = u->rearm[i];
    ufd_t *f = &u->fds[fd];
    if (f->events && !f->armed && arm(u, fd, f) != APR_SUCCESS) {
      u->rearm[kept++] = fd;   /* no room (EBUSY): at the next wait */
      continue;
    }
    f->queued = 0;
  }
  u->nrearm = kept;
}

/* One CQE into out (1), or nothing to report (0). */
static int reap_one(pal_poll_t *p, const struct io_uring_cqe *c,
                    pal__event_t *out) {
  uring_t *u = p->backend;
  uint64_t ud = c->user_data;
  switch (UD_KIND(ud)) {
  case UD_POLL: {
    int fd = UD_FD(ud);
    ufd_t *f;
    if (fd >= u->nfds)
      return 0;
    f = &u->fds[fd];
    if (UD_GEN(ud) != (f->gen & 0x3fffffffu) || !f->armed)
      return 0;   /* a registration since removed */
    if (!(c->flags & IORING_CQE_F_MORE)) {   /* a multishot one goes on */
      f->armed = 0;
      if (f->events)
        rearm_push(u, fd, f);
    }
    if (c->res == -ECANCELED)
      return 0;
    out->token = f->token;
    out->events = c->res < 0 ? PAL__ERR : pal__revents((unsigned)c->res);
    out->ident = 0;
    return 1;
  }
  case UD_READ:
  case UD_NOP: {
    int s = (int)(uint32_t)ud;
    int bid = (c->flags & IORING_CQE_F_BUFFER)
                  ? (int)(c->flags >> IORING_CQE_BUFFER_SHIFT)
                  : -1;
    int more = (c->flags & IORING_CQE_F_MORE) != 0;
    pal_io_t *io = u->slots[s].io;
    if (bid >= 0) {
      u->blen[bid] = c->res > 0 ? (unsigned)c->res : 0;
      u->bnext[bid] = -1;
    }
    if (!more) {
      if (io)
        *u->slots[s].where = -1;   /* out of the kernel */
      slot_free(u, s);
    }
    if (!io) {   /* its stream was closed */
      if (bid >= 0)
        ur_buf_release(p, bid);
      return 0;
    }
    out->token = PAL__TOKEN(io, PAL__TOK_IO);
    out->events = PAL__DONE | (more ? PAL__MORE : 0);
    out->ident = UD_KIND(ud) == UD_NOP ? PAL__READ_NONE : bid;
    out->res = c->res;
    return 1;
  }
  default:
    if (ud == UD_WAKE && u->wake_token) {
      out->token = u->wake_token;
      out->events = PAL__IN;
      out->ident = 0;
      return 1;
    }
    return 0;   /* a removal's or a cancellation's own result */
  }
}

static int ur_wait(pal_poll_t *p, pal__event_t *out, int max,
                   int timeout_ms) {
  uring_t *u = p->backend;
  struct io_uring_getevents_arg arg;
  struct __kernel_timespec ts;
  unsigned head, tail, submit, min, flags = IORING_ENTER_GETEVENTS;
  int n = 0, r;

  /* The fault seam first: an injected failure is a wait that never
   * happened, whichever way this one would wait. */
  if (PAL__SYS(PAL_SYS_POLL_WAIT, 0) < 0)
    return -(int)pal__fail("io_uring_enter");
  if (u->nrearm)
    rearm_all(u);
  atomic_store_explicit((_Atomic unsigned *)u->sq_tail, u->sq_local,
                        memory_order_release);
  submit = u->sq_local - atomic_load_explicit((_Atomic unsigned *)u->sq_head,
                                              memory_order_acquire);
  head = *u->cq_head;
  tail = atomic_load_explicit((_Atomic unsigned *)u->cq_tail,
                              memory_order_acquire);
  /* Completions already there: nothing to submit, nothing kept back in
   * the kernel (an overflow), and they are reaped without a system call.
   * That is the common case of a busy stream: the task work that receives
   * a stream's bytes runs when this thread leaves the kernel, so the
   * write(2) that sent the other end's bytes returns with their
   * completion posted.  Work still pending is run at the next system
   * call, whichever it is, and the ring is entered whenever these run
   * out.  A wait that may not sleep (timeout 0, a loop run with NOWAIT)
   * with nothing posted, nothing to submit and no task work pending
   * (TASKRUN_FLAG: the kernel sets IORING_SQ_TASKRUN while there is)
   * has nothing to fetch either: no system call.  Otherwise: completions
   * there (more than a batch last time), do not sleep; none, wait for
   * one, up to the timeout. */
  if (submit == 0) {
    unsigned sqf = atomic_load_explicit((_Atomic unsigned *)u->sq_flags,
                                        memory_order_acquire);
    if (!(sqf & IORING_SQ_CQ_OVERFLOW) &&
        (head != tail || (timeout_ms == 0 && u->taskrun_flag &&
                          !(sqf & IORING_SQ_TASKRUN))))
      goto reap;
  }
  memset(&arg, 0, sizeof arg);
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
    arg.ts = (uintptr_t)&ts;
  }
  flags |= IORING_ENTER_EXT_ARG;
  min = head != tail || timeout_ms == 0 ? 0 : 1;
#ifdef PAL_HAVE_VALGRIND_H
  if (min && RUNNING_ON_VALGRIND) {
    /* valgrind (3.19) takes io_uring_enter for a call that never blocks
     * and holds its lock on the process's threads through it: no other
     * thread runs while the loop waits, so a wake-up from one never
     * comes.  There: submit without waiting, then wait in poll(2) on the
     * ring's descriptor (readable once a completion is posted; pending
     * task work interrupts it), which valgrind knows may block. */
    struct pollfd pfd;
    r = sys_enter(u->fd, submit, 0, flags, &arg, sizeof arg);
    submit = 0;
    pfd.fd = u->fd;
    pfd.events = POLLIN;
    if (r >= 0 && *u->cq_head == atomic_load_explicit(
                                     (_Atomic unsigned *)u->cq_tail,
                                     memory_order_acquire))
      (void)poll(&pfd, 1, timeout_ms);
    min = 0;
  }
#endif
  r = sys_enter(u->fd, submit, min, flags, &arg, sizeof arg);
  if (r < 0 && errno != ETIME && errno != EBUSY)
    return -(int)pal__fail("io_uring_enter");
reap:
  head = *u->cq_head;
  tail = atomic_load_explicit((_Atomic unsigned *)u->cq_tail,
                              memory_order_acquire);
  while (head != tail && n < max) {
    n += reap_one(p, &u->cqes[head & u->cq_mask], &out[n]);
    head++;
  }
  atomic_store_explicit((_Atomic unsigned *)u->cq_head, head,
                        memory_order_release);
  return n;
}

const pal__backend_t pal__backend_uring = {
  "io_uring", ur_create, ur_destroy, ur_add, ur_add, ur_del, ur_wait,
  ur_add_source, ur_del_source, ur_trigger,
  ur_read_submit, ur_read_cancel, ur_buf, ur_buf_link, ur_buf_release
};
