/*
 * vigil_fiber.h -- fibers: green threads on a libvigil loop, written in
 * blocking style.
 *
 * A fiber is a function with its own stack that runs on its loop's thread.
 * When it calls one of the blocking functions below, the fiber submits the
 * same completion-style request a callback user would (a read, a write, a
 * connect, a timer), parks, and the loop goes on; the request's
 * completion resumes the fiber where it stopped.  There is no thread per
 * fiber and no preemption: a fiber runs until it blocks, yields or
 * returns, so fibers of one loop need no locks among themselves.  Fibers
 * and callbacks mix freely on one loop; nothing changes for code that
 * uses callbacks only.
 *
 *   static void echo(void *arg) {
 *     vg_tcp_t *c = arg;  char buf[4096];  size_t n;
 *     while (vg_fiber_read(c, buf, sizeof buf, &n) == APR_SUCCESS)
 *       if (vg_fiber_write(c, buf, n) != APR_SUCCESS)
 *         break;
 *     vg_close((vg_handle_t *)c, free_tcp);
 *   }
 *
 * Rules:
 *   - Every function here is called on the loop's thread.  The blocking
 *     ones (sleep, join, connect, accept, read, write, chan send/recv) and
 *     vg_fiber_yield() only from inside a fiber: outside one they return
 *     APR_EINVAL at once.
 *   - A fiber created with vg_fiber_create() starts on a later iteration
 *     of the loop, never inside the call.  It keeps the loop alive while
 *     it is runnable or sleeping; while it waits for I/O the request or
 *     handle it waits on does.  vg_loop_close() refuses (VG_EBUSY) while a
 *     fiber has not been freed.
 *   - Stacks: 64 KiB by default (VG_FIBER_STACK_DEFAULT), with a guard page
 *     below: overflowing it kills the process with SIGSEGV (a stack
 *     overflow exception on Windows) instead of corrupting memory.  Deep
 *     recursion and large arrays on the stack need a larger stack_size.
 *   - A stream is read either with vg_read_start() or with
 *     vg_fiber_read(), not both; one fiber reads a stream at a time
 *     (another gets PAL_EBUSY).
 *   - Closing a handle a fiber is blocked on wakes the fiber with
 *     VG_ECLOSING (read, accept, channel receive) or VG_ECANCELED (a
 *     pending connect or write, whose request the close cancels).
 *
 * Shutdown: vg_fiber_shutdown(loop) cancels every blocking call of the
 * loop's fibers: the calls return VG_ECANCELED, and so does every
 * blocking call made afterwards, so each fiber unwinds through its normal
 * error paths, closes its handles and returns.  Call it from a graceful
 * shutdown's on_request (vg_graceful_init) or from any callback or fiber;
 * the loop then ends by itself once the fibers have returned.
 */
#ifndef VIGIL_FIBER_H
#define VIGIL_FIBER_H

#include "vigil.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_fiber_s vg_fiber_t;

#define VG_FIBER_STACK_DEFAULT (64u * 1024u)
/* The backlog vg_fiber_accept() listens with when the server does not
 * listen yet (vg_fiber_listen() chooses another). */
#define VG_FIBER_BACKLOG 511

/* Create a fiber that runs fn(arg) on `loop` with a stack of stack_size
 * bytes (0: VG_FIBER_STACK_DEFAULT; rounded up to whole pages).  With
 * fiber != NULL the fiber must be joined (vg_fiber_join frees it); with
 * fiber == NULL it is detached and freed when fn returns.  VG_ECANCELED
 * after vg_fiber_shutdown(loop); APR_ENOMEM if no stack can be mapped. */
apr_status_t vg_fiber_create(vg_loop_t *loop, vg_fiber_t **fiber,
                             void (*fn)(void *arg), void *arg,
                             size_t stack_size);
/* The running fiber, or NULL outside a fiber. */
vg_fiber_t *vg_fiber_self(void);
/* Let the loop run one iteration (timers, I/O, other fibers) and continue
 * after it.  Does nothing outside a fiber. */
void vg_fiber_yield(void);
/* Sleep ms milliseconds on the loop's clock.  VG_ECANCELED on shutdown. */
apr_status_t vg_fiber_sleep(uint64_t ms);
/* Wait until `fiber` has returned, then free it.  From another fiber of
 * the same loop, once per fiber, never on a detached one (APR_EINVAL).
 * On shutdown it returns VG_ECANCELED and the fiber becomes detached (it
 * is freed when it returns). */
apr_status_t vg_fiber_join(vg_fiber_t *fiber);

/* Connect `tcp` (initialised with vg_tcp_init) to addr. */
apr_status_t vg_fiber_tcp_connect(vg_tcp_t *tcp, const vg_addr_t *addr);
/* Start listening on `server` (bound) for vg_fiber_accept(), so that
 * connections are taken before any fiber accepts (say, before the
 * program announces its port).  Any context on the loop's thread;
 * APR_SUCCESS if it already listens for fibers, APR_EINVAL if it listens
 * with a callback of its own. */
apr_status_t vg_fiber_listen(vg_stream_t *server, int backlog);
/* Accept one connection of `server` (bound) into `client` (initialised
 * with vg_tcp_init / vg_pipe_init, not yet accepted).  The first call
 * starts listening (backlog VG_FIBER_BACKLOG) if the server does not
 * listen yet; a server listening with a callback of its own is refused
 * (APR_EINVAL).  Several fibers may accept on one server: connections go
 * to them in the order they called. */
apr_status_t vg_fiber_accept(vg_stream_t *server, vg_stream_t *client);
/* Read what is there, at most len bytes, waiting until there is at least
 * one: *nread bytes, APR_SUCCESS; APR_EOF at the end of the stream. */
apr_status_t vg_fiber_read(vg_stream_t *s, void *buf, size_t len,
                           size_t *nread);
/* Write all len bytes.  buf may be reused as soon as the call returns,
 * whatever it returns (what the socket did not take at once is copied).
 * VG_ECANCELED on shutdown: the bytes not yet written may still go out
 * until the stream is closed. */
apr_status_t vg_fiber_write(vg_stream_t *s, const void *buf, size_t len);

/* A channel whose messages go to fibers (vg_fiber_chan_recv).  Producers
 * are any threads (vg_chan_send, vg_chan_try_send) or fibers
 * (vg_fiber_chan_send); it is closed with vg_close() like any channel,
 * and drop_cb (vg_chan_set_drop_cb) gets what no fiber received.  The
 * bound applies to the channel's ring: the loop moves messages to the
 * receiving side each time it runs, where they wait in order for a
 * receiver. */
apr_status_t vg_fiber_chan_init(vg_loop_t *loop, vg_chan_t *chan,
                                size_t bound);
/* Send msg on any channel (vg_chan_init or vg_fiber_chan_init).  On a
 * full bounded channel the fiber, not the thread, waits: it yields to the
 * loop until there is room.  VG_ECLOSING once the channel is closing. */
apr_status_t vg_fiber_chan_send(vg_chan_t *c, void *msg);
/* Receive the next message of a channel made with vg_fiber_chan_init
 * (APR_EINVAL for any other).  Receivers are served in the order they
 * called.  VG_ECLOSING when the channel is closed. */
apr_status_t vg_fiber_chan_recv(vg_chan_t *c, void **msg);

/* Cancel the blocking calls of every fiber of `loop`, now and from now on
 * (see the top of this file).  Idempotent; any context on the loop's
 * thread. */
void vg_fiber_shutdown(vg_loop_t *loop);
/* Fibers of `loop` not yet freed (running, parked, or done and not yet
 * joined). */
unsigned vg_fiber_count(const vg_loop_t *loop);
/* "asm-x86_64", "asm-aarch64", "ucontext" or "winfiber". */
const char *vg_fiber_impl(void);

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_FIBER_H */
