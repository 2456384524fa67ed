/*
 * vigil.h -- libvigil, the portable async core (public API, prefix vg_).
 *
 * One thread runs a loop; everything that happens -- timers, I/O, child
 * exits, signals, wake-ups from other threads, thread-pool completions,
 * channel messages -- arrives there as a callback.  The API follows the
 * completion model: you submit an operation and are called back when it
 * is done, which maps directly onto Windows I/O completion ports and is
 * emulated on epoll and kqueue by the PAL.
 *
 * Handles (vg_timer_t, vg_tcp_t, ...) are allocated by the caller and
 * initialised with vg_*_init().  They are closed asynchronously with
 * vg_close(h, cb): the memory may be released only in or after cb, which
 * runs in the loop's close phase.  vg_loop_close() refuses (PAL_EBUSY)
 * while any handle lives.  Requests (vg_write_t, vg_connect_t, ...) are
 * caller-allocated too and must stay alive until their callback runs.
 *
 * Errors are apr_status_t: APR_SUCCESS (0) or an APR / VG_E* code.  Use
 * vg_strerror() for a message and APR_STATUS_IS_*() to test them.
 *
 * Fields of the structs below are private unless documented otherwise;
 * `data` is always the caller's.
 */
#ifndef VIGIL_H
#define VIGIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "pal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one source of the version: CMakeLists.txt reads these three lines
 * for project(VERSION), hence the library's soname, libvigil.pc, the
 * CMake package and the package names (scripts/package.sh). */
#define VG_VERSION_MAJOR 0
#define VG_VERSION_MINOR 2
#define VG_VERSION_PATCH 0
#define VG__STR2(x) #x
#define VG__STR(x) VG__STR2(x)
#define VG_VERSION_STRING                                                    \
  VG__STR(VG_VERSION_MAJOR) "." VG__STR(VG_VERSION_MINOR) "."                \
  VG__STR(VG_VERSION_PATCH)

/* ------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------- */

#define VG_ECANCELED    PAL_ECANCELED
#define VG_ECLOSING     PAL_ECLOSING
#define VG_EBUSY        PAL_EBUSY
#define VG_EQUEUEFULL   PAL_EQUEUEFULL
#define VG_ELOCKED      PAL_ELOCKED
#define VG_EUNSUPPORTED PAL_EUNSUPPORTED
#define VG_ENOPROC      PAL_ENOPROC

/* A message for any status (APR's, the OS's or Vigil's own). */
const char *vg_strerror(apr_status_t rv, char *buf, size_t size);

/* "io_uring", "epoll", "kqueue" or "iocp". */
const char *vg_backend(void);
const char *vg_version(void);

/* Initialise APR once for the process (idempotent, thread-unsafe: call it
 * from main before anything else). */
apr_status_t vg_initialize(void);

/* ------------------------------------------------------------------------
 * Addresses (numeric here; names: vg_getaddrinfo, on the work queue)
 * --------------------------------------------------------------------- */

/* "127.0.0.1" or "::1" and a port; APR_EINVAL for anything else. */
apr_status_t vg_addr_ip(pal_addr_t *addr, const char *host, int port);
/* "127.0.0.1:80", "[::1]:80", or a local path. */
const char *vg_addr_format(const pal_addr_t *addr, char *buf, size_t size);
int vg_addr_port(const pal_addr_t *addr);

/* ------------------------------------------------------------------------
 * Loop
 * --------------------------------------------------------------------- */

typedef struct vg_loop_s vg_loop_t;
typedef struct vg_handle_s vg_handle_t;
typedef struct vg_timer_s vg_timer_t;
typedef struct vg_stream_s vg_stream_t;
typedef struct vg_stream_s vg_tcp_t;     /* a stream of kind VG_TCP  */
typedef struct vg_stream_s vg_pipe_t;    /* a stream of kind VG_PIPE */
typedef struct vg_udp_s vg_udp_t;
typedef struct vg_process_s vg_process_t;
typedef struct vg_signal_s vg_signal_t;
typedef struct vg_async_s vg_async_t;
typedef struct vg_chan_s vg_chan_t;
typedef struct vg_write_s vg_write_t;
typedef struct vg_connect_s vg_connect_t;
typedef struct vg_shutdown_req_s vg_shutdown_req_t;
typedef struct vg_send_s vg_send_t;
typedef struct vg_work_s vg_work_t;
typedef pal_buf_t vg_buf_t;
typedef pal_addr_t vg_addr_t;

typedef enum {
  VG_UNKNOWN_HANDLE = 0,
  VG_TIMER, VG_TCP, VG_PIPE, VG_UDP, VG_PROCESS, VG_SIGNAL, VG_ASYNC,
  VG_CHAN,
  VG_HANDLE_TYPE_MAX
} vg_handle_type;

typedef enum {
  VG_RUN_DEFAULT = 0,   /* until no active, referenced handle or request */
  VG_RUN_ONCE,          /* one iteration; block for I/O if needed */
  VG_RUN_NOWAIT         /* one iteration; never block */
} vg_run_mode;

typedef void (*vg_close_cb)(vg_handle_t *handle);
typedef void (*vg_walk_cb)(vg_handle_t *handle, void *arg);

/* Create a loop.  Its memory comes from a subpool of `parent` (NULL: a
 * new root pool).  Fails only if the OS refuses the poller. */
apr_status_t vg_loop_create(vg_loop_t **loop, apr_pool_t *parent);
/* Release the loop.  PAL_EBUSY while any handle is open or closing, or a
 * request is pending; then nothing is released. */
apr_status_t vg_loop_close(vg_loop_t *loop);
/* Run the loop.  Returns non-zero if there is still work (handles or
 * requests) that would keep it running, zero otherwise.  If the OS wait
 * itself fails (not EINTR: that is retried), vg_run() stops and returns
 * non-zero; vg_loop_error() tells why. */
int vg_run(vg_loop_t *loop, vg_run_mode mode);
/* The error that last stopped vg_run(), or APR_SUCCESS. */
apr_status_t vg_loop_error(const vg_loop_t *loop);
/* Make vg_run() return after the current iteration. */
void vg_stop(vg_loop_t *loop);
/* Non-zero if active, referenced handles or pending requests remain. */
int vg_loop_alive(const vg_loop_t *loop);
/* Loop time in milliseconds, cached at the start of each iteration, again
 * when the wait for I/O returns (before any callback of that wait) and
 * after a successful vg_spawn(): a timer started from any callback counts
 * from the end of the wait, one started after a spawn from its end. */
uint64_t vg_now(const vg_loop_t *loop);
/* Refresh the cached time (after a long computation in a callback). */
void vg_update_time(vg_loop_t *loop);
/* The loop's pool, for allocations that live as long as the loop. */
apr_pool_t *vg_loop_pool(const vg_loop_t *loop);
/* Number of iterations run so far (idle-wakeup accounting). */
uint64_t vg_loop_iterations(const vg_loop_t *loop);
/* Call cb for every handle that is not closing. */
void vg_walk(vg_loop_t *loop, vg_walk_cb cb, void *arg);
/* The caller's pointer attached to the loop. */
void vg_loop_set_data(vg_loop_t *loop, void *data);
void *vg_loop_get_data(const vg_loop_t *loop);

/* ------------------------------------------------------------------------
 * Handles
 * --------------------------------------------------------------------- */

/* loop and the flags come last, next to the fields of the handle's type
 * that are used with them (fewer cache lines per operation on a handle
 * at a random place among many). */
#define VG_HANDLE_FIELDS                                                     \
  void *data;                 /* caller's */                                 \
  vg_close_cb close_cb;                                                      \
  vg_handle_t *hnext, *hprev;    /* loop's handle list */                    \
  vg_handle_t *next_closing;                                                 \
  vg_loop_t *loop;                                                           \
  vg_handle_type type;                                                       \
  unsigned hflags;

struct vg_handle_s {
  VG_HANDLE_FIELDS
};

/* Close a handle.  Stops it at once (no more callbacks but close_cb,
 * which may be NULL and runs in the loop's close phase).  Pending requests
 * on it complete with VG_ECANCELED before close_cb.  Closing twice is a
 * programming error and is ignored. */
void vg_close(vg_handle_t *handle, vg_close_cb close_cb);
int vg_is_active(const vg_handle_t *handle);
int vg_is_closing(const vg_handle_t *handle);
/* An unreferenced handle does not keep vg_run() going. */
void vg_ref(vg_handle_t *handle);
void vg_unref(vg_handle_t *handle);
int vg_has_ref(const vg_handle_t *handle);
const char *vg_handle_type_name(vg_handle_type type);

/* ------------------------------------------------------------------------
 * Timers: a hierarchical timing wheel with millisecond slots.  Start and
 * stop are O(1) and allocate nothing.  Timers due at the same time fire
 * in start order.
 * --------------------------------------------------------------------- */

typedef void (*vg_timer_cb)(vg_timer_t *timer);

/* A link of a wheel slot's list (the loop's; not for callers). */
typedef struct vg_tlink_s {
  struct vg_tlink_s *next, *prev;
} vg_tlink_t;

/* The fields a start or a stop touches come first, next to the handle's
 * (one cache line fewer for a timer at a random place among many). */
struct vg_timer_s {
  VG_HANDLE_FIELDS
  uint64_t at;                  /* its wheel slot's time, UINT64_MAX when
                                   in no slot */
  uint64_t due;                 /* loop time (ms) */
  uint64_t order;               /* start order (ties of `due`) */
  vg_timer_cb cb;
  uint64_t repeat;
  vg_tlink_t link;              /* in its wheel slot's list */
};

apr_status_t vg_timer_init(vg_loop_t *loop, vg_timer_t *timer);
/* Fire cb after timeout ms, then every repeat ms if repeat > 0.
 * Restarting an active timer moves it. */
apr_status_t vg_timer_start(vg_timer_t *timer, vg_timer_cb cb,
                            uint64_t timeout, uint64_t repeat);
apr_status_t vg_timer_stop(vg_timer_t *timer);
/* Restart a repeating timer from now with its repeat interval.
 * APR_EINVAL if it was never started. */
apr_status_t vg_timer_again(vg_timer_t *timer);
void vg_timer_set_repeat(vg_timer_t *timer, uint64_t repeat);
uint64_t vg_timer_get_repeat(const vg_timer_t *timer);
/* Milliseconds until it fires (0 if due or inactive). */
uint64_t vg_timer_due_in(const vg_timer_t *timer);

/* ------------------------------------------------------------------------
 * Streams: TCP connections and pipes (local sockets, child stdio pipes,
 * Windows named pipes).
 * --------------------------------------------------------------------- */

typedef void (*vg_alloc_cb)(vg_handle_t *handle, size_t suggested,
                            vg_buf_t *buf);
/* status APR_SUCCESS with nread >= 0 (0: the buffer is handed back unused),
 * APR_EOF at end of stream, or an error; after EOF or an error, reading
 * has stopped. */
typedef void (*vg_read_cb)(vg_stream_t *stream, apr_status_t status,
                           size_t nread, const vg_buf_t *buf);
typedef void (*vg_write_cb)(vg_write_t *req, apr_status_t status);
typedef void (*vg_connect_cb)(vg_connect_t *req, apr_status_t status);
typedef void (*vg_shutdown_cb)(vg_shutdown_req_t *req, apr_status_t status);
typedef void (*vg_connection_cb)(vg_stream_t *server, apr_status_t status);

struct vg_stream_s {
  VG_HANDLE_FIELDS
  pal_io_t io;
  vg_alloc_cb alloc_cb;
  vg_read_cb read_cb;
  vg_connection_cb connection_cb;
  size_t write_queue_size;      /* public, read-only: bytes not yet written */
  unsigned write_queue_count;   /* public, read-only: write requests pending */
  unsigned sflags;
};

#define VG_WRITE_BUFS_SMALL 4

struct vg_write_s {
  void *data;
  pal_req_t req;
  vg_stream_t *handle;
  vg_write_cb cb;
  vg_buf_t *bufs;
  vg_buf_t bufsml[VG_WRITE_BUFS_SMALL];
  size_t size;
};

struct vg_connect_s {
  void *data;
  pal_req_t req;
  vg_stream_t *handle;
  vg_connect_cb cb;
};

struct vg_shutdown_req_s {
  void *data;
  pal_req_t req;
  vg_stream_t *handle;
  vg_shutdown_cb cb;
};

apr_status_t vg_tcp_init(vg_loop_t *loop, vg_tcp_t *tcp);
/* Bind to addr (creates the socket for its family). */
apr_status_t vg_tcp_bind(vg_tcp_t *tcp, const vg_addr_t *addr,
                         unsigned flags);
apr_status_t vg_tcp_connect(vg_connect_t *req, vg_tcp_t *tcp,
                            const vg_addr_t *addr, vg_connect_cb cb);
apr_status_t vg_tcp_nodelay(vg_tcp_t *tcp, int on);
apr_status_t vg_tcp_sockname(const vg_tcp_t *tcp, vg_addr_t *addr);
apr_status_t vg_tcp_peername(const vg_tcp_t *tcp, vg_addr_t *addr);

apr_status_t vg_pipe_init(vg_loop_t *loop, vg_pipe_t *pipe);
/* Adopt an existing descriptor (e.g. stdin). */
apr_status_t vg_pipe_open(vg_pipe_t *pipe, pal_fd_t fd);
/* Local stream socket: bind a path (Unix socket / named pipe). */
apr_status_t vg_pipe_bind(vg_pipe_t *pipe, const char *path);
apr_status_t vg_pipe_connect(vg_connect_t *req, vg_pipe_t *pipe,
                             const char *path, vg_connect_cb cb);
/* Uid of the connected peer (SO_PEERCRED); VG_EUNSUPPORTED elsewhere. */
apr_status_t vg_pipe_peer_uid(const vg_pipe_t *pipe, long *uid);
/* Whether the connected peer runs as this process's user or as the
 * system's administrator (root; Windows: LocalSystem or an elevated
 * Administrator): *trusted 1 or 0.  VG_EUNSUPPORTED where the OS cannot
 * tell.  See pal_io_peer_trusted(). */
apr_status_t vg_pipe_peer_trusted(const vg_pipe_t *pipe, int *trusted);

apr_status_t vg_listen(vg_stream_t *server, int backlog,
                       vg_connection_cb cb);
/* Accept into `client` (initialised with vg_tcp_init / vg_pipe_init). */
apr_status_t vg_accept(vg_stream_t *server, vg_stream_t *client);
apr_status_t vg_read_start(vg_stream_t *stream, vg_alloc_cb alloc_cb,
                           vg_read_cb read_cb);
apr_status_t vg_read_stop(vg_stream_t *stream);
/* Queue bufs for writing.  The memory they point to must stay valid
 * until cb; the array itself is copied. */
apr_status_t vg_write(vg_write_t *req, vg_stream_t *stream,
                      const vg_buf_t bufs[], unsigned nbufs, vg_write_cb cb);
/* Write what can be written now, without queueing.  Returns the number
 * of bytes written in *written, APR_EAGAIN if none could be. */
apr_status_t vg_try_write(vg_stream_t *stream, const vg_buf_t bufs[],
                          unsigned nbufs, size_t *written);
/* Half-close once queued writes are done. */
apr_status_t vg_shutdown(vg_shutdown_req_t *req, vg_stream_t *stream,
                         vg_shutdown_cb cb);
size_t vg_stream_write_queue_size(const vg_stream_t *stream);

/* ------------------------------------------------------------------------
 * Datagram sockets: UDP and local datagram (the systemd notify socket).
 * --------------------------------------------------------------------- */

typedef void (*vg_recv_cb)(vg_udp_t *udp, apr_status_t status, size_t nread,
                           const vg_buf_t *buf, const vg_addr_t *from);
typedef void (*vg_send_cb)(vg_send_t *req, apr_status_t status);

struct vg_udp_s {
  VG_HANDLE_FIELDS
  pal_io_t io;
  vg_alloc_cb alloc_cb;
  vg_recv_cb recv_cb;
  size_t send_queue_size;       /* public, read-only */
  unsigned send_queue_count;
};

struct vg_send_s {
  void *data;
  pal_req_t req;
  vg_udp_t *handle;
  vg_send_cb cb;
  vg_buf_t *bufs;
  vg_buf_t bufsml[VG_WRITE_BUFS_SMALL];
  vg_addr_t addr;
  size_t size;
};

/* family: PAL_AF_INET, PAL_AF_INET6 or PAL_AF_UNIX (local datagram). */
apr_status_t vg_udp_init(vg_loop_t *loop, vg_udp_t *udp, int family);
/* flags: PAL_BIND_REUSEADDR, PAL_BIND_IPV6ONLY, PAL_BIND_PASSCRED (a local
 * socket: the sender of each datagram is known, see vg_udp_sender). */
apr_status_t vg_udp_bind(vg_udp_t *udp, const vg_addr_t *addr,
                         unsigned flags);
apr_status_t vg_udp_sockname(const vg_udp_t *udp, vg_addr_t *addr);
/* In recv_cb, on a local socket bound with PAL_BIND_PASSCRED: the pid
 * and uid of the process that sent the datagram, as the kernel saw them.
 * APR_ENOENT when unknown for this datagram; PAL_EUNSUPPORTED where the
 * OS does not tell (everywhere but Linux). */
apr_status_t vg_udp_sender(const vg_udp_t *udp, long *pid, long *uid);
apr_status_t vg_udp_recv_start(vg_udp_t *udp, vg_alloc_cb alloc_cb,
                               vg_recv_cb recv_cb);
apr_status_t vg_udp_recv_stop(vg_udp_t *udp);
apr_status_t vg_udp_send(vg_send_t *req, vg_udp_t *udp, const vg_buf_t bufs[],
                         unsigned nbufs, const vg_addr_t *addr, vg_send_cb cb);

/* ------------------------------------------------------------------------
 * Child processes
 * --------------------------------------------------------------------- */

/* Exit code (or -1 when killed) and the portable signal that killed it
 * (or 0). */
typedef void (*vg_exit_cb)(vg_process_t *proc, int exit_status,
                           int term_signal);

typedef enum {
  VG_STDIO_INHERIT = 0,   /* same as the parent's */
  VG_STDIO_IGNORE,        /* /dev/null (NUL on Windows) */
  VG_STDIO_PIPE,          /* a new pipe; parent end opened in `pipe` */
  VG_STDIO_FILE,          /* open `path` (stdout/stderr append) */
  VG_STDIO_FD             /* this descriptor */
} vg_stdio_kind;

typedef struct vg_stdio_s {
  vg_stdio_kind kind;
  vg_pipe_t *pipe;        /* VG_STDIO_PIPE: initialised, not yet opened */
  const char *path;       /* VG_STDIO_FILE */
  pal_fd_t fd;            /* VG_STDIO_FD */
} vg_stdio_t;

enum {
  VG_PROCESS_NEW_GROUP = PAL_SPAWN_NEW_GROUP,
  VG_PROCESS_SETSID = PAL_SPAWN_SETSID,
  VG_PROCESS_SETUID = PAL_SPAWN_SETUID,
  VG_PROCESS_SETGID = PAL_SPAWN_SETGID,
  VG_PROCESS_PDEATHSIG = PAL_SPAWN_PDEATHSIG,
  VG_PROCESS_SEARCH_PATH = PAL_SPAWN_SEARCH_PATH,
  VG_PROCESS_UMASK = PAL_SPAWN_UMASK,
  VG_PROCESS_NICE = PAL_SPAWN_NICE,
  VG_PROCESS_AFFINITY = PAL_SPAWN_AFFINITY
};

typedef pal_cpuset_t vg_cpuset_t;

typedef pal_limits_t vg_limits_t;
typedef pal_usage_t vg_usage_t;
/* A limit reached by the child's tree (PAL_LIMIT_*: memory, processes,
 * cpu, oom kill), as the OS reports it; runs from the loop. */
typedef void (*vg_limit_cb)(vg_process_t *proc, int which);

typedef struct vg_process_options_s {
  const char *file;             /* program (args[0] if NULL) */
  const char *const *args;      /* NULL-terminated, passed verbatim */
  const char *const *env;       /* NULL-terminated "K=V"; NULL inherits */
  const char *cwd;
  unsigned flags;               /* VG_PROCESS_* */
  long uid, gid;                /* VG_PROCESS_SETUID, _SETGID */
  const long *groups;           /* VG_PROCESS_SETGID: supplementary */
  int ngroups;                  /*   groups (0: none) */
  unsigned umask;               /* VG_PROCESS_UMASK */
  int nice;                     /* VG_PROCESS_NICE: -20..19 */
  const vg_cpuset_t *cpus;      /* VG_PROCESS_AFFINITY */
  vg_stdio_t stdio[3];
  const vg_limits_t *limits;
  const char *cgroup;           /* Linux: cgroup v2 dir joined before exec */
  vg_exit_cb exit_cb;
  vg_limit_cb limit_cb;         /* NULL = not told */
} vg_process_options_t;

struct vg_process_s {
  VG_HANDLE_FIELDS
  pal_proc_t proc;
  vg_exit_cb exit_cb;
  vg_limit_cb limit_cb;
  long pid;                     /* public, read-only; 0 after exit */
};

/* Spawn a child and start watching it.  On failure the handle is not
 * initialised (do not close it) and the status tells why: APR_ENOENT for
 * a program that does not exist, APR_EACCES, ...  PIPE stdio handles are
 * opened on success only. */
apr_status_t vg_spawn(vg_loop_t *loop, vg_process_t *proc,
                      const vg_process_options_t *options);
/* Watch a process this one did not spawn (pal_proc_attach): the handle
 * behaves as a spawned one -- exit_cb once, kill, usage, vg_close --
 * except that the exit status is unknown (exit_cb gets -1 and 0) and
 * vg_process_kill_tree() signals the process alone.  VG_ENOPROC if there
 * is no such process, or if it is no longer process `id` (pal_pid_info's,
 * 0: not checked); the handle is not initialised on failure. */
apr_status_t vg_process_attach(vg_loop_t *loop, vg_process_t *proc, long pid,
                               uint64_t id, vg_exit_cb exit_cb);
apr_status_t vg_process_kill(vg_process_t *proc, int signum);
/* Signal the process group (POSIX) / terminate the job (Windows). */
apr_status_t vg_process_kill_tree(vg_process_t *proc, int signum);
apr_status_t vg_kill(long pid, int signum);
/* Memory and CPU time of the child's tree (pal_proc_usage). */
apr_status_t vg_process_usage(vg_process_t *proc, vg_usage_t *out);

/* ------------------------------------------------------------------------
 * Signals: portable numbers and names; many watchers per signal.
 * --------------------------------------------------------------------- */

enum {
  VG_SIGHUP = PAL_SIGHUP, VG_SIGINT = PAL_SIGINT, VG_SIGQUIT = PAL_SIGQUIT,
  VG_SIGKILL = PAL_SIGKILL, VG_SIGUSR1 = PAL_SIGUSR1,
  VG_SIGUSR2 = PAL_SIGUSR2, VG_SIGTERM = PAL_SIGTERM,
  VG_SIGBREAK = PAL_SIGBREAK, VG_SIGWINCH = PAL_SIGWINCH,
  VG_SIGCHLD = PAL_SIGCHLD
};

typedef void (*vg_signal_cb)(vg_signal_t *sig, int signum);

struct vg_signal_s {
  VG_HANDLE_FIELDS
  vg_signal_cb cb;
  int signum;
  vg_signal_t *sig_next;        /* loop's watchers of the same signal */
};

apr_status_t vg_signal_init(vg_loop_t *loop, vg_signal_t *sig);
apr_status_t vg_signal_start(vg_signal_t *sig, vg_signal_cb cb, int signum);
apr_status_t vg_signal_stop(vg_signal_t *sig);
/* "TERM" for VG_SIGTERM, ...; NULL for an unknown number. */
const char *vg_signal_name(int signum);
/* VG_SIG* for "TERM", "SIGTERM", "term"; 0 if unknown. */
int vg_signal_from_name(const char *name);

/* ------------------------------------------------------------------------
 * Async: wake the loop from any thread.  Sends are coalesced: several
 * vg_async_send() before the loop runs give one callback.
 * --------------------------------------------------------------------- */

typedef void (*vg_async_cb)(vg_async_t *async);

struct vg_async_s {
  VG_HANDLE_FIELDS
  vg_async_cb cb;
  volatile apr_uint32_t pending;
  vg_async_t *anext;
};

apr_status_t vg_async_init(vg_loop_t *loop, vg_async_t *async,
                           vg_async_cb cb);
/* Thread-safe; async-signal-safe on POSIX. */
apr_status_t vg_async_send(vg_async_t *async);

/* ------------------------------------------------------------------------
 * Thread-pool work queue.  work_cb runs on a pool thread; after_cb runs
 * on the loop thread with APR_SUCCESS, or VG_ECANCELED if the work was
 * cancelled before it started.  The pool (APR threads) is created on
 * first use with vg_loop_set_pool_size() threads (default 4, or the
 * environment variable VIGIL_THREADPOOL_SIZE).
 * --------------------------------------------------------------------- */

typedef void (*vg_work_cb)(vg_work_t *req);
typedef void (*vg_after_work_cb)(vg_work_t *req, apr_status_t status);

struct vg_work_s {
  void *data;
  vg_loop_t *loop;
  vg_work_cb work_cb;
  vg_after_work_cb after_cb;
  vg_work_t *next;
  int state;
  apr_status_t status;
};

/* vg_loop_set_pool_size, vg_queue_work and vg_work_cancel are called on
 * the loop thread only. */
apr_status_t vg_loop_set_pool_size(vg_loop_t *loop, unsigned threads);
apr_status_t vg_queue_work(vg_loop_t *loop, vg_work_t *req,
                           vg_work_cb work_cb, vg_after_work_cb after_cb);
/* Cancel work that has not started: APR_SUCCESS (after_cb will run with
 * VG_ECANCELED), or VG_EBUSY if it is running or done. */
apr_status_t vg_work_cancel(vg_work_t *req);

/* ------------------------------------------------------------------------
 * Name resolution: the system resolver (getaddrinfo) on the work queue,
 * so the loop never blocks on a name.  Like uv_getaddrinfo: the request
 * is caller-allocated; cb runs once, on the loop thread, never from
 * inside vg_getaddrinfo() or vg_getaddrinfo_cancel():
 *   APR_SUCCESS    addrs[0..naddrs-1] (naddrs >= 1), in the resolver's
 *                  order of preference, each with `port`; valid during
 *                  the call only (copy what you keep)
 *   VG_ECANCELED   cancelled (addrs NULL, naddrs 0)
 *   other          the resolver's error, e.g. for a name that does not
 *                  exist; vg_strerror() gives its text ("Name or service
 *                  not known", Windows: "No such host is known.")
 * A numeric host ("127.0.0.1", "::1") resolves to itself, still through
 * the work queue.  In cb the request is idle again: it may be reused or
 * freed.  A pending request keeps the loop alive.
 * --------------------------------------------------------------------- */

typedef struct vg_getaddrinfo_s vg_getaddrinfo_t;
typedef void (*vg_getaddrinfo_cb)(vg_getaddrinfo_t *req, apr_status_t status,
                                  const vg_addr_t *addrs, size_t naddrs);

/* At most this many addresses are reported (the resolver's first). */
#define VG_GETADDRINFO_MAX 16

struct vg_getaddrinfo_s {
  void *data;
  vg_loop_t *loop;
  vg_getaddrinfo_cb cb;
  int state;                    /* idle, resolving, cancelled */
  struct vg__gai_job_s *job;    /* the lookup on the pool, while attached */
  vg_work_t cancel_work;        /* delivers a cancellation */
};

/* Resolve `host` (a name in ASCII -- an IDN in its xn-- form -- or a
 * numeric address) for `port` (0..65535).
 * family: 0 (any), PAL_AF_INET or PAL_AF_INET6.  APR_EINVAL for a NULL
 * or empty host, a bad port or family, VG_EBUSY if `req` is pending,
 * APR_ENOMEM; then cb will not run.  Loop thread only. */
apr_status_t vg_getaddrinfo(vg_loop_t *loop, vg_getaddrinfo_t *req,
                            vg_getaddrinfo_cb cb, const char *host, int port,
                            int family);
/* Cancel a pending resolution: cb runs with VG_ECANCELED on the next
 * loop iteration, even if the lookup is already running on a pool
 * thread (its result is then discarded when it ends; until then it
 * keeps the loop alive, not the request).  APR_SUCCESS, also if already
 * cancelled; APR_EINVAL if nothing is pending.  Loop thread only. */
apr_status_t vg_getaddrinfo_cancel(vg_getaddrinfo_t *req);

/* ------------------------------------------------------------------------
 * Channels: multi-producer queues of pointers, consumed on the loop
 * thread.  Bounded channels apply backpressure: vg_chan_send() blocks
 * while full, vg_chan_try_send() returns VG_EQUEUEFULL.  Closing the
 * handle wakes blocked senders with VG_ECLOSING; messages still queued
 * are handed to drop_cb (if set) so their owners can free them.  Every
 * accepted message reaches exactly one of cb and drop_cb, in send order.
 * A blocking send from the loop thread itself on a full channel would
 * deadlock (the loop is the only consumer) and returns VG_EQUEUEFULL.
 * Sending after the channel's close_cb has run is a use-after-free.
 * --------------------------------------------------------------------- */

typedef void (*vg_chan_cb)(vg_chan_t *chan, void *msg);

struct vg_chan_s {
  VG_HANDLE_FIELDS
  vg_chan_cb cb;
  vg_chan_cb drop_cb;
  apr_thread_mutex_t *mu;
  apr_thread_cond_t *not_full;
  void **ring;
  size_t cap, head, count;
  size_t bound;                  /* 0 = unbounded */
  unsigned waiters;
  int closed;
  vg_async_t async;
  apr_pool_t *pool;
};

/* bound 0 makes the channel unbounded. */
apr_status_t vg_chan_init(vg_loop_t *loop, vg_chan_t *chan, size_t bound,
                          vg_chan_cb cb);
void vg_chan_set_drop_cb(vg_chan_t *chan, vg_chan_cb drop_cb);
apr_status_t vg_chan_send(vg_chan_t *chan, void *msg);
apr_status_t vg_chan_try_send(vg_chan_t *chan, void *msg);
/* Messages queued and not yet delivered. */
size_t vg_chan_size(vg_chan_t *chan);

/* ------------------------------------------------------------------------
 * Daemon helpers: single-instance lock, graceful shutdown, logging.
 * --------------------------------------------------------------------- */

typedef struct vg_lockfile_s vg_lockfile_t;

/* Take an exclusive lock on `path` (created if needed) and write our pid
 * into it.  VG_ELOCKED if another process holds it; then *holder_pid (if
 * not NULL) is the pid written by the holder, or 0 if unknown.  A lock
 * left by a process that died is free again (the OS drops it).  A second
 * acquisition of the same file within one process is refused too
 * (VG_ELOCKED, with our own pid), although POSIX record locks would not
 * conflict there. */
apr_status_t vg_lockfile_acquire(vg_lockfile_t **lock, const char *path,
                                 apr_pool_t *pool, long *holder_pid);
/* Release the lock and remove the file. */
apr_status_t vg_lockfile_release(vg_lockfile_t *lock);

typedef struct vg_shutdown_s vg_shutdown_t;
typedef void (*vg_shutdown_fn)(vg_shutdown_t *sd, int signum);

struct vg_shutdown_s {
  void *data;
  vg_signal_t sigterm, sigint, sigbreak;
  vg_timer_t deadline;
  vg_shutdown_fn on_request;
  vg_shutdown_fn on_deadline;
  uint64_t timeout;
  int requested;                /* public: signal that asked (or -1) */
  int again;                    /* public, in on_deadline: 1 for a further
                                   request, 0 at the deadline */
  int open;
};

/* Watch TERM and INT (and BREAK on Windows).  On the first one, call
 * on_request and arm a deadline of timeout ms; if it passes before
 * vg_graceful_done(), call on_deadline.  Each further signal calls
 * on_deadline at once.  timeout 0 means no deadline.  The watchers are unreferenced: they do not keep
 * the loop alive on their own. */
apr_status_t vg_graceful_init(vg_loop_t *loop, vg_shutdown_t *sd,
                              uint64_t timeout, vg_shutdown_fn on_request,
                              vg_shutdown_fn on_deadline);
/* Ask for shutdown as a signal would (signum 0: programmatic). */
void vg_graceful_request(vg_shutdown_t *sd, int signum);
/* Shutdown finished: stop the deadline and close the watchers. */
void vg_graceful_done(vg_shutdown_t *sd);

typedef enum {
  VG_LOG_DEBUG = 0, VG_LOG_INFO, VG_LOG_NOTICE, VG_LOG_WARN, VG_LOG_ERROR
} vg_log_level;

typedef enum { VG_LOG_TEXT = 0, VG_LOG_JSON } vg_log_format;

typedef struct vg_log_s vg_log_t;

/* A logger writing lines to `out` (not closed by the logger).  Lines below
 * `level` are dropped.  Thread-safe: one write per line. */
apr_status_t vg_log_create(vg_log_t **log, apr_pool_t *pool, apr_file_t *out,
                           vg_log_level level, vg_log_format format);
void vg_log_set_level(vg_log_t *log, vg_log_level level);
vg_log_level vg_log_get_level(const vg_log_t *log);
/* text:  2026-11-21T23:53:01.123Z INFO  component: message key=value
 * json:  {"ts":"...","level":"info","component":"...","msg":"...",
 *         "key":"value"}
 * `kv` is NULL or a NULL-terminated list of key, value strings.  A NULL
 * logger drops everything, so components may log unconditionally. */
void vg_log_kv(vg_log_t *log, vg_log_level level, const char *component,
               const char *const *kv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
void vg_log(vg_log_t *log, vg_log_level level, const char *component,
            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
const char *vg_log_level_name(vg_log_level level);
/* "debug", "info", ... -> level; -1 if unknown. */
int vg_log_level_parse(const char *name);

/* JSON strings and UTF-8, as the JSON logger writes them (libvigil users
 * writing their own JSON get the same escaping).
 *
 * vg_utf8_seq: length (1-4) of the well-formed UTF-8 sequence that starts
 * s[0..n); 0 if it is ill-formed (overlong, surrogate, above U+10FFFF,
 * cut short, or a byte that cannot start one), with the length of its
 * maximal ill-formed subpart (1-3, Unicode 3.9) in *bad; 0 with *bad 0 if
 * n is 0. */
size_t vg_utf8_seq(const char *s, size_t n, size_t *bad);
/* One piece of the JSON string escaping of s[0..n) (no quotes added).
 * Consumes at least one byte if n > 0 and returns how many; *out and
 * *out_len give what to write for them: a run of ASCII that needs no
 * escaping or one whole well-formed UTF-8 sequence (both pointing into s),
 * or an escape in static storage (backslash-quote, backslash-backslash,
 * the short forms of BS FF LF CR TAB, backslash-u00xx for the other
 * controls and DEL), or U+FFFD as UTF-8 for each maximal ill-formed
 * subpart.  Loop until all n bytes are consumed: NUL is escaped, not an
 * end.  Thread-safe, no allocation. */
size_t vg_json_escape_step(const char *s, size_t n, const char **out,
                           size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_H */
