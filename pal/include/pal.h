/*
 * pal.h -- the Vigil platform abstraction layer (internal to libvigil).
 *
 * The PAL is the only code in Vigil that includes operating-system headers.
 * This header includes nothing but C11 headers and APR, so core/, config/
 * and services/ can use it everywhere.
 *
 * Design: completion, not readiness.  Every I/O operation is *submitted*
 * (a read stream is started, a write request is queued, a connect is
 * issued) and its result is delivered later, from inside pal_poll_wait(),
 * through a callback.  This is the native model of Windows I/O completion
 * ports; the POSIX backends (epoll, kqueue) emulate it on top of readiness
 * by performing the operation when the descriptor becomes ready.  No
 * callback is ever invoked from inside the submitting call: results that
 * are known at once are queued and delivered by the next pal_poll_wait(),
 * exactly as a completion port would deliver them.
 *
 * Objects:
 *   pal_poll_t   one per event loop; opaque, created by pal_poll_create()
 *   pal_io_t     a socket or pipe end; caller-allocated, fields below are
 *                private to the PAL except `data`
 *   pal_req_t    one outstanding operation (write, connect, send,
 *                shutdown); caller-allocated, embedded in core requests
 *   pal_proc_t   a child process; caller-allocated
 *
 * OS handles are carried as pal_fd_t (an int descriptor on POSIX, a HANDLE
 * or SOCKET on Windows).  Storage the Windows backend needs per request
 * (an OVERLAPPED) lives in the opaque `os` words of pal_req_t, whose size
 * each backend checks with a static assertion.
 *
 * Errors are apr_status_t everywhere (APR_SUCCESS == 0).  OS error numbers
 * are translated in exactly one function per platform (pal__err_from_os),
 * and never cross this interface as -1 plus errno.
 */
#ifndef PAL_H
#define PAL_H

#include <stddef.h>
#include <stdint.h>

#include <apr.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------- */

/* Vigil's own status codes, in the range APR reserves for applications. */
#define PAL_ECANCELED   (APR_OS_START_USERERR + 1)  /* request cancelled  */
#define PAL_ECLOSING    (APR_OS_START_USERERR + 2)  /* handle is closing  */
#define PAL_EBUSY       (APR_OS_START_USERERR + 3)  /* resource in use    */
#define PAL_EQUEUEFULL  (APR_OS_START_USERERR + 4)  /* bounded queue full */
#define PAL_ELOCKED     (APR_OS_START_USERERR + 5)  /* lock held elsewhere*/
#define PAL_EUNSUPPORTED (APR_OS_START_USERERR + 6) /* not on this OS     */
/* + 7 is not used: no call returned it; it stays free so that the codes
 * after it keep their numbers. */
#define PAL_ENOPROC     (APR_OS_START_USERERR + 8)  /* no such process    */
/* The OS service manager (pal_svcmgr_*), from the Windows SCM's errors. */
#define PAL_ESVCEXISTS  (APR_OS_START_USERERR + 9)  /* already installed  */
#define PAL_ESVCNOENT   (APR_OS_START_USERERR + 10) /* no such service    */
#define PAL_ESVCDELETED (APR_OS_START_USERERR + 11) /* marked for deletion*/
#define PAL_ESVCRUNNING (APR_OS_START_USERERR + 12) /* already running    */
#define PAL_ESVCSTOPPED (APR_OS_START_USERERR + 13) /* not running        */
#define PAL_ESVCNOTSCM  (APR_OS_START_USERERR + 14) /* not started by SCM */
#define PAL_ENOTREG     (APR_OS_START_USERERR + 15) /* not a regular file */
#define PAL_ETOOBIG     (APR_OS_START_USERERR + 16) /* too big to send as
                                                       one datagram */

/* Like apr_strerror(), but also knows the PAL_E* codes above. */
const char *pal_strerror(apr_status_t rv, char *buf, size_t bufsize);

/* Name of the OS call that last failed in this thread inside the PAL
 * (for example "epoll_ctl" or "CreateProcessW"), or "" if none. */
const char *pal_last_call(void);

/* The portable form of an OS error number (errno / GetLastError()). */
apr_status_t pal_err_from_os(int oserr);

/* ------------------------------------------------------------------------
 * Types shared by the whole interface
 * --------------------------------------------------------------------- */

typedef intptr_t pal_fd_t;               /* int fd, HANDLE or SOCKET */
#define PAL_INVALID_FD ((pal_fd_t)-1)

typedef struct pal_poll_s pal_poll_t;
typedef struct pal_io_s pal_io_t;
typedef struct pal_req_s pal_req_t;
typedef struct pal_proc_s pal_proc_t;

/* A buffer descriptor.  Same layout as vg_buf_t. */
typedef struct pal_buf_s {
  char *base;
  size_t len;
} pal_buf_t;

/* A socket address: IPv4, IPv6 or a local (Unix-domain) path. */
typedef struct pal_addr_s {
  union {
    unsigned char bytes[128];      /* >= sizeof(struct sockaddr_storage) */
    int64_t align_;
  } u;
  unsigned len;                    /* 0 = unset */
} pal_addr_t;

enum { PAL_AF_INET = 1, PAL_AF_INET6 = 2, PAL_AF_UNIX = 3 };

/* Parse a numeric host ("127.0.0.1", "::1") and port into `addr`. */
apr_status_t pal_addr_ip(pal_addr_t *addr, const char *host, int port);
/* A local socket path (Unix socket; on Windows, a named pipe name). */
apr_status_t pal_addr_local(pal_addr_t *addr, const char *path);
/* Family (PAL_AF_*) and port (0 for local) of an address. */
int pal_addr_family(const pal_addr_t *addr);
int pal_addr_port(const pal_addr_t *addr);
/* "127.0.0.1:80", "[::1]:80" or the path. */
const char *pal_addr_format(const pal_addr_t *addr, char *buf, size_t size);
/* Resolve `host` -- a name, or a numeric IPv4 or IPv6 address -- with the
 * system resolver (getaddrinfo: hosts file, DNS, ...) into at most `max`
 * addresses with `port`, in the resolver's order of preference, without
 * duplicates; *count says how many.  family: 0 (any), PAL_AF_INET or
 * PAL_AF_INET6.  BLOCKS, possibly for seconds: call it from a pool
 * thread (vg_getaddrinfo does), never from a loop thread.  Errors: the
 * resolver's, as a status whose pal_strerror() message is its text
 * ("Name or service not known"; on Windows "No such host is known.");
 * APR_EINVAL for bad arguments. */
apr_status_t pal_addr_resolve(const char *host, int port, int family,
                              pal_addr_t *out, size_t max, size_t *count);

/* ------------------------------------------------------------------------
 * Clock
 * --------------------------------------------------------------------- */

/* Monotonic, high-resolution time in nanoseconds (arbitrary origin). */
uint64_t pal_hrtime(void);

struct tm;
/* The local civil time of `t` (seconds since the Unix epoch) in the
 * process's time zone (TZ, else the system's), as localtime() gives it
 * but reentrant: localtime_r on POSIX, localtime_s on Windows (whose C
 * library knows TZ=NAME[+-]H[DST] and the system's zone, not zoneinfo
 * names).  APR_EINVAL if the C library cannot represent `t`. */
apr_status_t pal_localtime(int64_t t, struct tm *out);

/* ------------------------------------------------------------------------
 * The poller: one per loop.
 *
 * pal_poll_wait() blocks for at most timeout_ms (-1: no limit, 0: do not
 * block) and then runs the callbacks of what happened -- I/O readiness
 * turned into reads and accepts, child exits, signals, wake-ups -- in the
 * order the OS reported them, and last the completion callbacks of
 * requests (writes, connects, shutdowns, sends, cancellations) in the
 * order they completed.
 * It returns APR_SUCCESS, or an error only if the OS wait itself failed
 * (EINTR is absorbed).  Completions known before the wait make it not
 * block, so a submit followed by a wait always delivers.
 * --------------------------------------------------------------------- */

typedef void (*pal_wakeup_cb)(pal_poll_t *poll, void *data);
typedef void (*pal_signal_cb)(pal_poll_t *poll, int signum, void *data);
typedef void (*pal_waited_cb)(pal_poll_t *poll, void *data);

apr_status_t pal_poll_create(pal_poll_t **poll);
void pal_poll_destroy(pal_poll_t *poll);
apr_status_t pal_poll_wait(pal_poll_t *poll, int64_t timeout_ms);
/* Name of the event backend: "io_uring", "epoll", "kqueue" or "iocp". */
const char *pal_poll_name(void);
/* Why the default backend is not io_uring on a build that has it (the
 * kernel refused it, or a ring could not be made): "io_uring
 * unavailable: io_uring_setup failed: ..."; NULL when it is, when
 * VIGIL_BACKEND chose the backend, and on other systems. */
const char *pal_poll_fallback(void);

/* Cross-thread wake-up.  Safe from any thread and (on POSIX) from a signal
 * handler.  `cb` runs on the poll thread, once per wait even if woken
 * several times.  Coalescing of redundant calls is the caller's business
 * (core/async.c does it with an atomic flag). */
void pal_poll_set_wakeup_cb(pal_poll_t *poll, pal_wakeup_cb cb, void *data);
apr_status_t pal_poll_wakeup(pal_poll_t *poll);

/* `cb` runs once per pal_poll_wait(), as soon as the OS wait returns and
 * before any callback of what it fetched: the loop refreshes its cached
 * time there, so that work started from those callbacks (a timer, a
 * timeout) counts from the end of the wait, not from before it. */
void pal_poll_set_waited_cb(pal_poll_t *poll, pal_waited_cb cb, void *data);

/* Number of requests submitted and not yet completed. */
unsigned pal_poll_pending(const pal_poll_t *poll);

/* ------------------------------------------------------------------------
 * Signals (portable numbers; a backend maps them to its own).
 *
 * A poll watches a signal or not; the core multiplexes several watchers.
 * On Windows, console control events map as: Ctrl+C -> INT, Ctrl+Break ->
 * BREAK, close -> HUP, logoff/shutdown -> TERM.
 * --------------------------------------------------------------------- */

enum {
  PAL_SIGHUP = 1, PAL_SIGINT = 2, PAL_SIGQUIT = 3, PAL_SIGKILL = 9,
  PAL_SIGUSR1 = 10, PAL_SIGUSR2 = 12, PAL_SIGPIPE = 13, PAL_SIGALRM = 14,
  PAL_SIGTERM = 15, PAL_SIGCHLD = 17, PAL_SIGCONT = 18, PAL_SIGSTOP = 19,
  PAL_SIGBREAK = 21, PAL_SIGWINCH = 28,
  PAL_NSIG = 32
};

void pal_poll_set_signal_cb(pal_poll_t *poll, pal_signal_cb cb, void *data);
/* Start (on != 0) or stop delivering `signum` to this poll. */
apr_status_t pal_signal_watch(pal_poll_t *poll, int signum, int on);
/* Send a signal to the calling process (tests, self-shutdown). */
apr_status_t pal_signal_raise(int signum);
/* The OS-native number of a portable signal, or -1 if it has none. */
int pal_signal_native(int signum);
/* The portable number of a native signal, or 0. */
int pal_signal_portable(int native);

/* ------------------------------------------------------------------------
 * Requests
 * --------------------------------------------------------------------- */

typedef void (*pal_req_cb)(pal_req_t *req, apr_status_t status);

enum {
  PAL_REQ_WRITE = 1, PAL_REQ_CONNECT, PAL_REQ_SHUTDOWN, PAL_REQ_SEND
};

struct pal_req_s {
  void *data;                 /* owner's; the PAL never touches it */
  /* private to the PAL: */
  pal_req_cb cb;
  pal_io_t *io;
  pal_req_t *next;            /* write queue / completion queue link */
  apr_status_t status;
  int type;
  const pal_buf_t *bufs;      /* caller keeps bufs array alive until cb */
  unsigned nbufs;
  unsigned bufidx;            /* first buffer not fully written */
  size_t bufoff;              /* bytes of bufs[bufidx] already written */
  pal_addr_t *addr;           /* send: destination (caller-owned) */
  intptr_t os[8];             /* backend storage (Windows: OVERLAPPED) */
};

/* ------------------------------------------------------------------------
 * Streams and datagram sockets
 * --------------------------------------------------------------------- */

typedef void (*pal_alloc_cb)(pal_io_t *io, size_t suggested, pal_buf_t *buf);
/* status: APR_SUCCESS with nread >= 0 bytes in buf (nread 0: nothing now,
 * the buffer is returned unused), APR_EOF at end of stream, or an error.
 * After APR_EOF or an error the read side is stopped. */
typedef void (*pal_read_cb)(pal_io_t *io, apr_status_t status, size_t nread,
                            const pal_buf_t *buf);
/* Datagram receive; `from` is valid during the call only. */
typedef void (*pal_recv_cb)(pal_io_t *io, apr_status_t status, size_t nread,
                            const pal_buf_t *buf, const pal_addr_t *from);
/* A connection is waiting on a listener: call pal_io_accept(). */
typedef void (*pal_conn_cb)(pal_io_t *server, apr_status_t status);

enum {
  PAL_IO_TCP = 1, PAL_IO_UNIX = 2, PAL_IO_PIPE = 3, PAL_IO_UDP = 4,
  PAL_IO_UNIXDGRAM = 5
};
/* Or'ed into pal_io_open()'s kind: fd is the parent's end of a
 * pal_pipe(), already as pal_io_open() makes it (POSIX: non-blocking and
 * close-on-exec), so nothing is asked of the OS again. */
enum { PAL_IO_PREPARED = 0x100 };

struct pal_io_s {
  void *data;                 /* owner's */
  /* private to the PAL: */
  pal_poll_t *poll;
  pal_fd_t fd;
  int kind;                   /* PAL_IO_* */
  unsigned flags;             /* state bits, backend-defined */
  unsigned events;            /* interest registered with the OS */
  pal_alloc_cb alloc_cb;
  union { pal_read_cb read; pal_recv_cb recv; } rcb;
  pal_conn_cb conn_cb;
  pal_req_t *writes_head, *writes_tail; /* queued writes / sends */
  pal_req_t *connect_req;
  pal_req_t *shutdown_req;
  intptr_t os[8];             /* backend storage */
};

/* Wrap an existing descriptor (e.g. an inherited pipe).  It is made
 * non-blocking and close-on-exec; PAL owns it from now on. */
apr_status_t pal_io_open(pal_io_t *io, pal_poll_t *poll, int kind,
                         pal_fd_t fd);
/* New socket of `kind` for the family of addr (TCP/UDP), or local. */
apr_status_t pal_io_socket(pal_io_t *io, pal_poll_t *poll, int kind,
                           int family);

/* PAL_BIND_PASSCRED (a local datagram socket): have the kernel attach the
 * sender's credentials to every datagram, for pal_io_sender().  Linux
 * only (SO_PASSCRED); elsewhere the flag is ignored and pal_io_sender()
 * says PAL_EUNSUPPORTED. */
enum { PAL_BIND_REUSEADDR = 1, PAL_BIND_IPV6ONLY = 2, PAL_BIND_PASSCRED = 4 };
apr_status_t pal_io_bind(pal_io_t *io, const pal_addr_t *addr,
                         unsigned flags);
apr_status_t pal_io_listen(pal_io_t *io, int backlog, pal_conn_cb cb);
/* Accept one pending connection into `client` (uninitialised). Returns
 * APR_EAGAIN if none is pending. */
apr_status_t pal_io_accept(pal_io_t *server, pal_io_t *client);
apr_status_t pal_io_connect(pal_io_t *io, pal_req_t *req,
                            const pal_addr_t *addr, pal_req_cb cb);

apr_status_t pal_io_read_start(pal_io_t *io, pal_alloc_cb alloc_cb,
                               pal_read_cb read_cb);
apr_status_t pal_io_read_stop(pal_io_t *io);
apr_status_t pal_io_recv_start(pal_io_t *io, pal_alloc_cb alloc_cb,
                               pal_recv_cb recv_cb);
apr_status_t pal_io_recv_stop(pal_io_t *io);

/* Queue a write of bufs[0..n).  The array and the memory it describes
 * must stay valid until cb runs.  Writes complete in order. */
apr_status_t pal_io_write(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                          unsigned nbufs, pal_req_cb cb);
/* Bytes of a submitted write or send that are not yet written.  Inline
 * for its common case, a request written whole at submit time. */
size_t pal__req_pending_bytes(const pal_req_t *req);
static inline size_t pal_req_pending_bytes(const pal_req_t *req) {
  return req->bufidx >= req->nbufs ? 0 : pal__req_pending_bytes(req);
}
/* Best effort, non-queued write (nothing queued ahead).  Returns the byte
 * count written in *written, APR_EAGAIN when nothing could be written
 * (always, on Windows pipes, as in libuv). */
apr_status_t pal_io_try_write(pal_io_t *io, const pal_buf_t *bufs,
                              unsigned nbufs, size_t *written);
/* Send a datagram to addr (NULL on a connected socket). */
apr_status_t pal_io_send(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                         unsigned nbufs, const pal_addr_t *addr,
                         pal_req_cb cb);
/* Half-close after every queued write has completed.  Windows local
 * streams (named pipes) have no half-close: the peer sees EOF at close. */
apr_status_t pal_io_shutdown(pal_io_t *io, pal_req_t *req, pal_req_cb cb);
/* Close the OS handle now; every pending request completes (in a later
 * wait) with PAL_ECANCELED; nothing else is delivered for this io. */
void pal_io_close(pal_io_t *io);
/* Non-zero while the OS still owns memory of this io: after
 * pal_io_close() a completion port may still hold operations that were
 * cancelled but not yet dequeued.  The io (and its requests) must stay
 * allocated until this returns 0.  Always 0 on readiness backends. */
int pal_io_busy(const pal_io_t *io);

apr_status_t pal_io_sockname(const pal_io_t *io, pal_addr_t *addr);
apr_status_t pal_io_peername(const pal_io_t *io, pal_addr_t *addr);
apr_status_t pal_io_nodelay(pal_io_t *io, int on);
/* Inside a recv callback of a socket bound with PAL_BIND_PASSCRED: the
 * process id and user id of the datagram's sender, as the kernel saw
 * them (SCM_CREDENTIALS), not as the sender claims.  APR_ENOENT when the
 * datagram came without them (not bound so, or outside a callback);
 * PAL_EUNSUPPORTED where the OS does not pass a datagram's sender
 * (macOS and the BSDs have no pid for datagrams; Windows has no local
 * datagram sockets). */
apr_status_t pal_io_sender(const pal_io_t *io, long *pid, long *uid);
/* The user id of a local-socket peer (SO_PEERCRED); PAL_EUNSUPPORTED
 * where the OS cannot tell. */
apr_status_t pal_io_peer_uid(const pal_io_t *io, long *uid);
/* Whether the peer of an accepted local stream runs as someone this
 * process trusts with itself: *trusted is 1 for the same user or the
 * system's administrator, else 0.  POSIX: the peer's uid (above) is our
 * effective uid or 0.  Windows (a named-pipe client): the client
 * process's token user is ours or LocalSystem, or the token has the
 * Administrators group enabled.  PAL_EUNSUPPORTED where the OS cannot tell
 * (the endpoint's own permissions are then the only guard); another error
 * when the peer cannot be identified (it may be gone already). */
apr_status_t pal_io_peer_trusted(const pal_io_t *io, int *trusted);

/* A connected pair of non-blocking, close-on-exec pipe ends for talking
 * to a child: fds[0] is read, fds[1] is write.  `child_end` (0 or 1) is
 * left blocking and inheritable-on-request for the child's side. */
apr_status_t pal_pipe(pal_fd_t fds[2], int child_end);
/* Close a raw descriptor that is not wrapped in a pal_io_t. */
void pal_fd_close(pal_fd_t fd);

/* ------------------------------------------------------------------------
 * Child processes
 * --------------------------------------------------------------------- */

enum {
  PAL_STDIO_INHERIT = 0,   /* the parent's own descriptor */
  PAL_STDIO_NULL,          /* /dev/null or NUL */
  PAL_STDIO_FD,            /* `fd`, which the child inherits */
  PAL_STDIO_FILE           /* open `path` (append for out/err) */
};

typedef struct pal_stdio_s {
  int kind;
  pal_fd_t fd;
  const char *path;
} pal_stdio_t;

enum {
  PAL_SPAWN_NEW_GROUP = 1 << 0,   /* own process group (kill tree) */
  PAL_SPAWN_SETSID    = 1 << 1,   /* new session (implies new group) */
  PAL_SPAWN_SETUID    = 1 << 2,   /* uid (POSIX; Windows refuses) */
  PAL_SPAWN_SETGID    = 1 << 3,   /* gid and groups (POSIX; idem) */
  PAL_SPAWN_PDEATHSIG = 1 << 4,   /* Linux: SIGKILL when parent dies */
  PAL_SPAWN_SEARCH_PATH = 1 << 5, /* look file up on PATH */
  PAL_SPAWN_UMASK     = 1 << 6,   /* set umask (POSIX; Windows has none) */
  PAL_SPAWN_NICE      = 1 << 7,   /* set nice (Windows: priority class) */
  PAL_SPAWN_AFFINITY  = 1 << 8    /* CPU affinity (cpus; not macOS) */
};

/* A set of CPUs by number, 0 .. PAL_CPUSET_MAX - 1 (Linux's CPU_SETSIZE). */
#define PAL_CPUSET_MAX 1024
typedef struct pal_cpuset_s {
  uint64_t bits[PAL_CPUSET_MAX / 64];   /* cpu n: bits[n / 64] >> n % 64 */
} pal_cpuset_t;

/* Resource limits applied in the child before exec; 0 = leave as is. */
typedef struct pal_limits_s {
  uint64_t memory;        /* bytes (POSIX RLIMIT_AS; Windows job memory) */
  uint64_t open_files;
  uint64_t processes;
  unsigned cpu_percent;   /* CPU rate, 100 = one CPU (Windows job CPU rate
                           * control; POSIX: the supervisor's cgroup) */
} pal_limits_t;

/* A limit the OS reports as reached (pal_spawn_opts_t.limit_cb). */
enum {
  PAL_LIMIT_MEMORY = 1,   /* job / process memory limit hit */
  PAL_LIMIT_PROCESSES,    /* active-process limit hit */
  PAL_LIMIT_CPU,          /* CPU rate or time limit */
  PAL_LIMIT_OOM_KILL,     /* a member was killed for memory (cgroup) */
  PAL_LIMIT_OPEN_FILES    /* never reported: for pal_limit_hold() */
};
typedef void (*pal_limit_cb)(pal_proc_t *proc, int which);

/* Resource usage of a child's process tree at the time of the call. */
typedef struct pal_usage_s {
  uint64_t rss_bytes;     /* resident memory of the live members */
  uint64_t cpu_usec;      /* user + system CPU time (see pal_proc_usage) */
  unsigned processes;     /* live members counted */
} pal_usage_t;

typedef struct pal_spawn_opts_s {
  const char *file;               /* program; argv[0] if NULL */
  const char *const *argv;        /* NULL-terminated */
  const char *const *env;         /* NULL-terminated; NULL = inherit */
  const char *cwd;                /* NULL = inherit */
  pal_stdio_t stdio[3];
  unsigned flags;                 /* PAL_SPAWN_* */
  long uid, gid;
  /* PAL_SPAWN_SETGID: the supplementary groups (setgroups), ngroups of
   * them (0: none; pal_user_groups() makes the list).  The child sets
   * them, then gid, then uid, as initgroups + setgid + setuid would,
   * without reading the user database after the fork (not
   * async-signal-safe). */
  const long *groups;
  int ngroups;
  unsigned umask;                 /* PAL_SPAWN_UMASK: 0000..0777 */
  int nice;                       /* PAL_SPAWN_NICE: -20..19; Windows:
                                   * the priority class it falls in
                                   * (pal_nice_class) */
  const pal_cpuset_t *cpus;       /* PAL_SPAWN_AFFINITY: where it may run;
                                   * Windows: the job's affinity, CPUs 0..63
                                   * (of processor group 0) */
  const pal_limits_t *limits;     /* NULL = none */
  const char *cgroup;             /* Linux: a cgroup v2 directory the child
                                   * joins before exec; NULL = stay */
  pal_limit_cb limit_cb;          /* NULL = not told; from pal_poll_wait() */
} pal_spawn_opts_t;

/* exit_status is the exit code (or -1 if killed), term_signal the
 * portable signal that ended it (or 0). */
typedef void (*pal_exit_cb)(pal_proc_t *proc, int exit_status,
                            int term_signal);

struct pal_proc_s {
  void *data;                     /* owner's */
  /* private to the PAL: */
  pal_poll_t *poll;
  long pid;
  pal_exit_cb exit_cb;
  pal_fd_t handle;                /* pidfd / process HANDLE */
  pal_fd_t job;                   /* Windows job object */
  pal_limit_cb limit_cb;
  unsigned unapplied;             /* public, read-only: 1u << PAL_LIMIT_* the
                                   * OS refused at spawn (the child runs
                                   * without them; Windows CPU cap before
                                   * Windows 8, Wine) */
  unsigned flags;
  pal_proc_t *next;               /* poll's list of live children */
  intptr_t os[4];
};

/* Spawn a child.  On failure nothing is left behind, and the status says
 * why (APR_ENOENT for a missing program, APR_EACCES, ...); the failing
 * step is named by pal_last_call().  On success exit_cb runs once, from
 * pal_poll_wait(), when the child has exited and been reaped. */
apr_status_t pal_proc_spawn(pal_poll_t *poll, pal_proc_t *proc,
                            const pal_spawn_opts_t *opts, pal_exit_cb exit_cb);
/* Why this platform does not apply spawn option `flag` (PAL_SPAWN_UMASK,
 * PAL_SPAWN_AFFINITY, PAL_SPAWN_SETUID...), as a clause for a warning
 * ("macOS has no CPU affinity"), or NULL if it does.  pal_proc_spawn()
 * ignores an option the platform lacks, except SETUID and SETGID, which
 * Windows refuses (PAL_EUNSUPPORTED) rather than run the child as the
 * caller. */
const char *pal_spawn_unsupported(unsigned flag);
/* The name of what nice value `nice` (-20..19) becomes on this platform
 * when it is not a nice value: Windows' priority class ("high",
 * "above normal", "normal", "below normal", "idle"); NULL on POSIX. */
const char *pal_nice_class(int nice);
/* Whether a pal_proc_spawn() failure is one that the same spawn cannot
 * get past by being retried: the program exists but cannot be run (not
 * executable, not an executable format, arguments or path too long, a
 * name that is not a directory), or the request itself is wrong.  A
 * missing program or directory is not (a package install may bring it),
 * nor a lack of resources (EAGAIN, ENOMEM, EMFILE). */
int pal_spawn_permanent(apr_status_t rv);
/* Why the rlimit that pal_spawn_opts_t.limits sets for `which`
 * (PAL_LIMIT_MEMORY: RLIMIT_AS, PAL_LIMIT_PROCESSES: RLIMIT_NPROC) does
 * not bind a child this process spawns, as a clause ("does not bind root
 * ..."), or NULL if it does.  RLIMIT_NPROC does not bind root (Linux:
 * CAP_SYS_RESOURCE, CAP_SYS_ADMIN) until the child switches to another
 * user; macOS does not enforce RLIMIT_AS.  NULL on Windows (job
 * objects). */
const char *pal_rlimit_unenforced(int which);
/* How pal_spawn_opts_t.limits holds limit `which` (PAL_LIMIT_MEMORY,
 * _PROCESSES, _CPU, _OPEN_FILES) on this platform, outside a cgroup:
 * PAL_HOLD_EXACT (a Windows job object; RLIMIT_NOFILE), PAL_HOLD_RLIMIT
 * (an rlimit that counts something else: *rlimit names it, *counts says
 * what it counts) or PAL_HOLD_NONE (only a cgroup could; *why, when not
 * NULL, says why the platform has no other way).  Out-pointers may be
 * NULL. */
enum { PAL_HOLD_EXACT = 0, PAL_HOLD_RLIMIT, PAL_HOLD_NONE };
int pal_limit_hold(int which, const char **rlimit, const char **counts,
                   const char **why);
/* The signal that asks a child to stop, for a configured stop signal
 * (portable number): itself on POSIX; on Windows every signal but KILL
 * becomes BREAK, since a console program can only be asked to stop by a
 * console event (Ctrl+Break to its group, which shares the supervisor's
 * console), and pal_proc_kill_tree() would turn TERM into
 * TerminateJobObject. */
int pal_stop_signal(int sig);
/* The default name of a supervisor's control endpoint, into buf: on
 * POSIX the socket file STATE-DIR/control.sock; on Windows, where named
 * pipes share one machine-wide namespace, \\.\pipe\vigil-HASH, HASH the
 * FNV-1a 64-bit hash (16 hex digits) of the config's absolute path with
 * ASCII letters folded to lower case and '/' to '\' (Windows paths are
 * case-insensitive and take either slash), so every spelling of one file
 * names one pipe.  APR_ENAMETOOLONG if it does not fit. */
apr_status_t pal_control_endpoint(char *buf, size_t size,
                                  const char *config_path,
                                  const char *state_dir);
/* Signal the child (portable number). PAL_ENOPROC if it is gone. */
apr_status_t pal_proc_kill(pal_proc_t *proc, int signum);
/* `vigil signal`: send the child's main process the signal an
 * administrator named.  signum: a portable number (PAL_SIG*), or with
 * `native` the OS's own number, as kill(1) takes it.  POSIX: any signal
 * the OS has.  Windows: INT and BREAK are console events (CTRL_C_EVENT,
 * CTRL_BREAK_EVENT) to the child's process group, TERM and KILL
 * terminate the child (its exit is then reported as any other); native
 * numbers are the C runtime's (2 INT, 15 TERM, 21 BREAK) and 9 for
 * KILL; anything else is PAL_EUNSUPPORTED.  APR_EINVAL for a number the
 * OS has no signal for; PAL_ENOPROC once the child is gone.  proc NULL:
 * sends nothing, only says whether the signal could be sent (a CLI
 * checks before it asks the supervisor). */
apr_status_t pal_proc_signal(pal_proc_t *proc, int signum, int native);
/* Signal the child's whole tree: its process group (POSIX) or its job
 * object (Windows; any signal but BREAK terminates the job). */
apr_status_t pal_proc_kill_tree(pal_proc_t *proc, int signum);
/* Stop watching the child (it is not killed); no exit_cb after this. */
void pal_proc_close(pal_proc_t *proc);
/* Resource usage of the child's tree: the members of its process group
 * (Linux /proc, macOS proc_pidinfo; CPU time of live members) or of its
 * job object (Windows; CPU time includes members that have exited).
 * PAL_ENOPROC once the child is gone, PAL_EUNSUPPORTED where the OS
 * cannot tell. */
apr_status_t pal_proc_usage(pal_proc_t *proc, pal_usage_t *out);
/* pal_proc_usage() of n children at once, into out[0..n-1] (a gone child
 * reads as all zeros).  On Linux each member is read from its own /proc
 * entry; members are found from the kernel's children lists where it
 * keeps them, else by a walk of all of /proc made only for a group not
 * looked for yet or every 10 s at most (a process that joins a group
 * after a walk is counted from the next one): see pal/posix/proc_usage.c. */
void pal_proc_usage_many(pal_proc_t *const *procs, size_t n,
                         pal_usage_t *out);
/* Signal what a child left outside its process group, where no cgroup
 * holds its tree: every process, other than this one and those in the
 * child's process group (pal_proc_kill_tree's), that descends from this
 * process (a subreaper keeps orphans among its descendants, and nothing
 * else is looked at) and is the child, has the entry `mark` ("NAME=VALUE",
 * NULL for none) in the environment it started with, or descends from
 * such a process.  proc may have exited (its group is still known), or
 * be NULL: then the mark alone says, and the call touches no handle (a
 * worker thread may make it once the child is gone).  *count (may be
 * NULL): how many were signalled.  Linux (/proc); PAL_EUNSUPPORTED
 * elsewhere (Windows: the job object holds the whole tree, whatever it
 * does, and pal_proc_kill_tree ends it). */
apr_status_t pal_proc_kill_escaped(pal_proc_t *proc, const char *mark,
                                   int signum, unsigned *count);
/* One search of pal_proc_kill_escaped's, for a child identified by
 * value: pid 0 when it has exited, pgid 0 when its group is not known;
 * mark "NAME=VALUE" or NULL. */
typedef struct pal_escape_s {
  long pid, pgid;
  uint64_t start;               /* pal_proc_start_id(pid) when asked, or 0:
                                   a pid that is no longer that process
                                   (reused since) is not trusted, nor its
                                   group */
  const char *mark;
  int signum;
} pal_escape_t;
/* What tells this process from a later one with its pid (Linux: its start
 * time in clock ticks since boot), 0 if unknown or elsewhere. */
uint64_t pal_proc_start_id(long pid);
/* pal_proc_kill_escaped for each of the n searches, in order, in one walk
 * of /proc: the stops and exits of many services searched for at once,
 * on a worker thread, so that a shutdown of N services on a host of M
 * processes costs one walk, not N on the loop.  Each search signals what
 * it finds then (a stop signal, SIGCONT, SIGKILL).  *count (may be NULL):
 * how many signals were sent.  Linux; PAL_EUNSUPPORTED elsewhere. */
apr_status_t pal_proc_kill_escaped_all(const pal_escape_t *v, size_t n,
                                       unsigned *count);
/* Signal every process of the machine (but this one) whose environment
 * holds one of the nmarks entries `marks` ("NAME=VALUE"): what a
 * supervisor that was killed left behind outside its children's process
 * groups, found by the invocation ids it recorded (ids of 128 random
 * bits: nothing else carries them).  Linux; PAL_EUNSUPPORTED elsewhere. */
apr_status_t pal_proc_kill_marked(const char *const *marks, size_t nmarks,
                                  int signum, unsigned *count);
/* Signal every descendant of this process, then reap the orphans among
 * them for up to wait_ms, until none is left: the last act of a
 * supervisor, when no handle waits for any child any more.  *count (may
 * be NULL): how many were signalled.  Linux; PAL_EUNSUPPORTED elsewhere
 * (Windows: job objects close with the supervisor, KILL_ON_JOB_CLOSE). */
apr_status_t pal_proc_sweep(int signum, unsigned wait_ms, unsigned *count);
/* The process group the child leads (PAL_SPAWN_NEW_GROUP, SETSID; it
 * outlives the child), or 0.  0 on Windows, where a job holds the tree. */
long pal_proc_group(const pal_proc_t *proc);
/* Watch a process this one did not spawn (a daemon named by a pid file,
 * type="attach"), as pal_proc_spawn() watches a child: exit_cb runs once,
 * from pal_poll_wait(), when it has exited, with exit_status -1 and
 * term_signal 0 (the status of a process that is not our child is not
 * ours to read), and pal_proc_kill/_signal/_usage/_close work on it;
 * pal_proc_kill_tree() signals it alone (its group is not ours).  Linux:
 * a pidfd (pidfd_open, 5.3), so no signal can reach a later process with
 * the same pid; BSD/macOS: EVFILT_PROC; Windows: OpenProcess and a wait
 * whose end is posted to the poll's port.  PAL_ENOPROC if there is no
 * such process, PAL_EUNSUPPORTED where the OS has no way to learn of a
 * non-child's exit (Linux before 5.3).  The caller checks who the
 * process is (pal_pid_info) first, and passes its `id` (0: none): if pid
 * is no longer that process when it is watched (it died and the pid was
 * given to another), PAL_ENOPROC, so that what is watched is what was
 * checked. */
apr_status_t pal_proc_attach(pal_poll_t *poll, pal_proc_t *proc, long pid,
                             uint64_t id, pal_exit_cb exit_cb);
/* What a pid file may hold: one decimal pid, 1 < pid < 2^31, with
 * optional ASCII white space around it (a trailing newline, CRLF); no
 * sign, nothing else.  APR_EINVAL otherwise, and *why (may be NULL)
 * says what is wrong in a clause ("is empty", "holds 'abc', not a
 * pid"), in a static string or in why_buf. */
#define PAL_PIDFILE_MAX 64      /* bytes: no pid file is longer */
apr_status_t pal_pidfile_parse(const char *buf, size_t len, long *pid,
                               char *why_buf, size_t why_size,
                               const char **why);
/* Read the pid file at path, as pal_pidfile_parse() takes it, without
 * following a symbolic link and without waiting (a FIFO is refused by
 * its type, never opened for reading until a writer comes): *pid and
 * the file's modification time *mtime (microseconds since the epoch,
 * as apr_time_t).  APR_ENOENT when there is none;
 * PAL_ENOTREG for a symbolic link, FIFO, directory or device; APR_EINVAL
 * (with *why) when it is longer than PAL_PIDFILE_MAX bytes or malformed.
 * why_buf as for pal_pidfile_parse. */
apr_status_t pal_pidfile_read(const char *path, long *pid, int64_t *mtime,
                              char *why_buf, size_t why_size,
                              const char **why);
/* Who a process is: its owner and when it started (type="attach" checks
 * a pid file's pid with it). */
typedef struct pal_pidinfo_s {
  long uid, euid;               /* real and effective user (POSIX); -1 on
                                   Windows */
  int same_user;                /* owned by this process's user (POSIX:
                                   uid and euid are our euid; Windows: its
                                   token's user is ours) */
  int64_t start;                /* wall-clock start time, microseconds
                                   since the epoch (as apr_time_t); 0 if
                                   unknown */
  int64_t start_error;          /* how far start may be early or late:
                                   Linux reckons it from clock ticks since
                                   boot (10 ms) */
  uint64_t id;                  /* exact start stamp (Linux: ticks since
                                   boot; macOS: microseconds; Windows:
                                   creation FILETIME): pal_proc_attach's */
} pal_pidinfo_t;
/* PAL_ENOPROC when there is no such process (or a zombie, Linux);
 * PAL_EUNSUPPORTED where the OS cannot tell (BSDs but macOS). */
apr_status_t pal_pid_info(long pid, pal_pidinfo_t *out);
/* Signal an arbitrary pid (the supervisor's leftover cleanup). */
apr_status_t pal_pid_kill(long pid, int signum, int group);
long pal_getpid(void);

/* ------------------------------------------------------------------------
 * Files (pal/posix/file.c, pal/win32/file.c)
 *
 * Plain, unbuffered, blocking files named by a UTF-8 path, carried as a
 * pal_fd_t (a descriptor, or a HANDLE), for the log writer: a log file
 * lives and rotates for as long as the supervisor runs, and an APR file
 * needs a pool of its own to be closed and reopened without growing one
 * (8 KiB at least, per open file); a pal_fd_t needs no memory at all.
 * Files are opened close-on-exec (not inherited by children) and, on
 * Windows, shared for reading, writing and deletion, so that readers
 * (`vigil logs -f`) never stop a rename.  PAL_INVALID_FD is never a
 * valid file.
 * --------------------------------------------------------------------- */

enum {
  PAL_FILE_READ = 1,      /* read only; the file must exist */
  PAL_FILE_APPEND = 2,    /* write only, every write at the end (O_APPEND);
                             created (0644 on POSIX) if missing */
  PAL_FILE_TRUNCATE = 3   /* write only, from an emptied file; created
                             (0644) if missing */
};

/* Open path in one of the PAL_FILE_* modes into *fd (PAL_INVALID_FD on
 * failure).  The failing call is named by pal_last_call().  Only a
 * regular file is opened: PAL_ENOTREG for a FIFO, socket or device,
 * without waiting (a FIFO's open waits for its other end; its writes
 * block when it is full) and without writing to it (a log file is
 * rotated by renaming it, which must never rename a device node). */
apr_status_t pal_file_open(pal_fd_t *fd, const char *path, int mode);
/* The file's current size. */
apr_status_t pal_file_size(pal_fd_t fd, apr_off_t *size);
/* Write all len bytes, retrying short writes and interruptions; *done
 * (may be NULL) says how many reached the file, also on failure. */
apr_status_t pal_file_write(pal_fd_t fd, const void *buf, size_t len,
                            size_t *done);
/* Read up to len bytes into *got; APR_EOF (with *got == 0) at the end. */
apr_status_t pal_file_read(pal_fd_t fd, void *buf, size_t len, size_t *got);
/* Flush the file's data to the device (fsync / FlushFileBuffers). */
apr_status_t pal_file_sync(pal_fd_t fd);
/* Close; PAL_INVALID_FD is ignored. */
void pal_file_close(pal_fd_t fd);
/* Open path for reading as an APR file (binary, large-file), for readers
 * that need APR's seek and identity: PAL_ENOTREG, and nothing opened,
 * when it is not a regular file, decided without waiting (the open of a
 * FIFO does not wait for a writer, as with pal_file_open).  The reads of
 * a regular file block as usual.  Closed by apr_file_close() or with
 * the pool. */
struct apr_file_t;
struct apr_pool_t;
apr_status_t pal_file_open_apr(struct apr_file_t **f, const char *path,
                               struct apr_pool_t *pool);
/* Remove the file at path (unlink / DeleteFileW). */
apr_status_t pal_file_remove(const char *path);

/* ------------------------------------------------------------------------
 * Process-wide facts and settings a supervisor needs
 * --------------------------------------------------------------------- */

/* Become the reaper of orphaned descendants (Linux
 * PR_SET_CHILD_SUBREAPER), so that grandchildren whose parent died are
 * reparented to us instead of init.  From then on every poll that spawns
 * a child also watches SIGCHLD and reaps, on its loop thread, each exited
 * child that pal_proc_spawn() did not make (the orphans: no zombie is
 * left under us), never one that it did (its status stays its handle's).
 * So a subreaper process must create children through pal_proc_spawn()
 * only.  PAL_EUNSUPPORTED elsewhere (Windows job objects contain trees
 * instead). */
apr_status_t pal_set_subreaper(void);
/* An opaque start-time stamp of process `pid` (Linux: clock ticks since
 * boot from /proc; Windows: creation FILETIME), or 0 if there is no such
 * process or the OS cannot tell.  pid + start time names a process
 * uniquely across pid reuse. */
uint64_t pal_pid_start_time(long pid);
/* The effective user id (POSIX) or -1 (Windows). */
long pal_geteuid(void);

/* A user of the user database (POSIX: passwd, through NSS). */
typedef struct pal_user_s {
  long uid;
  long gid;                       /* the primary group */
  const char *name;               /* as the database spells it */
  const char *home;               /* "/" when the entry has none */
} pal_user_t;
/* Look up user `name`, or a decimal uid, in the user database
 * (getpwnam_r / getpwuid_r); strings in pool.  APR_ENOENT when there is
 * no such user.  It may block (NSS may ask a directory server), as
 * getpwnam does: callers look up when they load or start a service,
 * never per event.  PAL_EUNSUPPORTED on Windows. */
apr_status_t pal_user_lookup(const char *name, pal_user_t *out,
                             struct apr_pool_t *pool);
/* The same for group `name` or a decimal gid: *gid.  APR_ENOENT when
 * there is none; PAL_EUNSUPPORTED on Windows. */
apr_status_t pal_group_lookup(const char *name, long *gid);
/* The groups user `name` belongs to, `gid` first (getgrouplist, what
 * initgroups sets), as an array in pool: *groups, *n of them.  For
 * pal_spawn_opts_t.groups.  PAL_EUNSUPPORTED on Windows. */
apr_status_t pal_user_groups(const char *name, long gid, long **groups,
                             int *n, struct apr_pool_t *pool);
/* The process environment as NULL-terminated "K=V" strings (UTF-8),
 * read at the time of the call; valid until the environment changes. */
const char *const *pal_environ(void);
/* The absolute path of the running executable (UTF-8) into buf: Linux
 * /proc/self/exe, macOS _NSGetExecutablePath, Windows GetModuleFileNameW.
 * APR_ENAMETOOLONG if it does not fit, PAL_EUNSUPPORTED if the OS cannot
 * tell. */
apr_status_t pal_self_exe(char *buf, size_t size);

/* ------------------------------------------------------------------------
 * Linux cgroup v2 (pal/posix/cgroup.c).  A cgroup is named by its
 * directory in the cgroup2 mount (e.g. /sys/fs/cgroup/system.slice/x or,
 * on a hybrid host, /sys/fs/cgroup/unified/...).  Everywhere else every
 * call returns PAL_EUNSUPPORTED.  A child joins one at spawn through
 * pal_spawn_opts_t.cgroup.
 * --------------------------------------------------------------------- */

/* Controllers a supervisor uses (bits of a mask). */
enum {
  PAL_CGROUP_MEMORY = 1u << 0,
  PAL_CGROUP_CPU = 1u << 1,
  PAL_CGROUP_PIDS = 1u << 2
};

/* What a cgroup's files tell; -1 where the file is absent (its
 * controller is not enabled for that cgroup). */
typedef struct pal_cgroup_stat_s {
  int64_t memory_current;       /* memory.current, bytes */
  int64_t cpu_usec;             /* cpu.stat usage_usec */
  int64_t oom_kills;            /* memory.events oom_kill */
  int populated;                /* cgroup.events populated: 1 or 0 */
} pal_cgroup_stat_t;

/* The directory of this process's cgroup v2 ("0::PATH" in
 * /proc/self/cgroup under the cgroup2 mount point of
 * /proc/self/mountinfo) into buf; *is_root is set when it is the root of
 * the hierarchy.  PAL_EUNSUPPORTED without a cgroup2 hierarchy,
 * APR_ENAMETOOLONG if buf is too small. */
apr_status_t pal_cgroup_self(char *buf, size_t size, int *is_root);
/* APR_SUCCESS if this process may create cgroups under dir and move
 * processes into them (cgroup.procs and cgroup.subtree_control
 * writable: the subtree is delegated to us), else why not. */
apr_status_t pal_cgroup_writable(const char *dir);
/* Create the cgroup dir (an existing one is fine) / remove it (an absent
 * one is fine; members that are still exiting are waited for briefly,
 * then PAL_EBUSY). */
apr_status_t pal_cgroup_create(const char *dir);
apr_status_t pal_cgroup_remove(const char *dir);
/* Read dir/file (NUL-terminated, trailing newline removed) / write value
 * to it.  The failing call is named by pal_last_call(). */
apr_status_t pal_cgroup_read(const char *dir, const char *file, char *buf,
                             size_t size);
apr_status_t pal_cgroup_write(const char *dir, const char *file,
                              const char *value);
/* The controllers among PAL_CGROUP_* that dir's parent offers it
 * (cgroup.controllers) / that dir offers its children
 * (cgroup.subtree_control). */
apr_status_t pal_cgroup_controllers(const char *dir, unsigned *mask);
apr_status_t pal_cgroup_subtree(const char *dir, unsigned *mask);
/* Enable controllers for dir's children (cgroup.subtree_control). */
apr_status_t pal_cgroup_enable(const char *dir, unsigned mask);
/* Move process pid (0: the caller) into dir. */
apr_status_t pal_cgroup_join(const char *dir, long pid);
/* SIGKILL every member of dir and of its descendants with cgroup.kill;
 * on kernels before 5.14, each pid of dir's own cgroup.procs (a few
 * rounds, for members that fork meanwhile; descendant cgroups are not
 * walked).  Returns at once: members die asynchronously (cgroup.events
 * populated turns 0). */
apr_status_t pal_cgroup_kill(const char *dir);
/* Send signum once to each member of dir's own cgroup.procs but those in
 * process group except_pgid (0: none excepted), which the caller signals
 * itself (pal_proc_kill_tree): the stop signal reaches a daemon that left
 * the group, and no process gets it twice. */
apr_status_t pal_cgroup_signal(const char *dir, int signum,
                               long except_pgid);
/* memory.current, cpu.stat usage_usec, memory.events oom_kill and
 * cgroup.events populated of dir. */
apr_status_t pal_cgroup_stat(const char *dir, pal_cgroup_stat_t *out);
/* Resident memory and CPU time of dir's live members (cgroup.procs, each
 * from /proc: no memory controller needed), as pal_proc_usage() counts a
 * process group; PAL_ENOPROC if it has none. */
apr_status_t pal_cgroup_usage(const char *dir, pal_usage_t *out);

/* ------------------------------------------------------------------------
 * OS service manager
 *
 * Windows: the Service Control Manager (pal/win32/svcmgr.c) -- install,
 * remove, start, stop and query a service, and run as one.  POSIX: every
 * call returns PAL_EUNSUPPORTED (systemd and launchd are driven through
 * their own tools by services/main.c, and readiness through sd_notify).
 *
 * Errors: APR_EACCES (APR_STATUS_IS_EACCES) when the caller may not open
 * the service manager for writing (not elevated), PAL_ESVCEXISTS,
 * PAL_ESVCNOENT, PAL_ESVCDELETED (marked for deletion: it goes once
 * every handle to it, a services.msc window included, is closed),
 * PAL_ESVCRUNNING, PAL_ESVCSTOPPED, APR_TIMEUP (a wait ran out);
 * pal_last_call() names the failing call.
 * --------------------------------------------------------------------- */

/* The states of a service, numbered as Windows numbers them. */
enum {
  PAL_SVC_STOPPED = 1, PAL_SVC_START_PENDING = 2, PAL_SVC_STOP_PENDING = 3,
  PAL_SVC_RUNNING = 4, PAL_SVC_CONTINUE_PENDING = 5,
  PAL_SVC_PAUSE_PENDING = 6, PAL_SVC_PAUSED = 7
};

typedef struct pal_svc_install_s {
  const char *name;               /* the key: `sc query NAME` */
  const char *display_name;       /* NULL: the name */
  const char *description;        /* NULL: none */
  const char *const *argv;        /* the program (absolute) and its
                                   * arguments, quoted into the command
                                   * line the manager runs */
  const char *account;            /* NULL: LocalSystem */
  const char *password;           /* with account; NULL: none */
  uint64_t preshutdown_ms;        /* 0: the system's default */
} pal_svc_install_t;

typedef struct pal_svc_status_s {
  int state;                      /* PAL_SVC_* */
  long pid;                       /* 0 when not running */
  uint32_t exit_code;             /* the last run's Win32 exit code ... */
  uint32_t service_exit_code;     /* ... and, when that is
                                   * ERROR_SERVICE_SPECIFIC_ERROR (1066),
                                   * the program's own exit status */
  char command_line[1024];        /* as configured (cut to fit) */
  char account[256];              /* the account it runs as */
  int auto_start, delayed;        /* starts at boot; delayed auto-start */
} pal_svc_status_t;

/* Register a service: automatic, delayed start; restarted by the manager
 * 5 s, 10 s and 30 s after failures (a crash or a non-zero exit), the
 * count reset after a day. */
apr_status_t pal_svcmgr_install(const pal_svc_install_t *opts);
/* Stop it if it runs (waiting up to timeout_ms), then delete it. */
apr_status_t pal_svcmgr_uninstall(const char *name, uint64_t timeout_ms);
/* Start it and wait up to timeout_ms until it runs (APR_SUCCESS) or
 * stops again (APR_EGENERAL; see pal_svcmgr_query's exit codes). */
apr_status_t pal_svcmgr_start(const char *name, uint64_t timeout_ms);
/* Ask it to stop and wait until it has, up to timeout_ms. */
apr_status_t pal_svcmgr_stop(const char *name, uint64_t timeout_ms);
apr_status_t pal_svcmgr_query(const char *name, pal_svc_status_t *st);
/* The command line the manager would run for argv (UTF-8, into buf),
 * quoted so that CommandLineToArgvW gives argv back.  APR_EINVAL for what
 * it cannot hold: a '"' in argv[0], and a '%' (the SCM expands %NAME% in
 * it; nothing escapes a '%') or a line break anywhere -- also from
 * pal_svcmgr_install().  APR_ENAMETOOLONG if it does not fit. */
apr_status_t pal_svcmgr_command_line(const char *const *argv, char *buf,
                                     size_t size);

/* Running as a service.  pal_svcmgr_dispatch() connects to the manager
 * (PAL_ESVCNOTSCM when this process was not started by it) and runs
 * main_fn(arg) on the service's thread while this thread answers the
 * manager; stop, shutdown and pre-shutdown controls are raised as
 * PAL_SIGTERM (pal_signal_raise), once.  It returns when the service has
 * stopped; *code is what main_fn returned, reported to the manager as
 * ERROR_SERVICE_SPECIFIC_ERROR with that code when it is not 0. */
typedef int (*pal_svcmgr_main_fn)(void *arg);
apr_status_t pal_svcmgr_dispatch(const char *name, pal_svcmgr_main_fn main_fn,
                                 void *arg, int *code);
/* From main_fn's side: report START_PENDING or STOP_PENDING (each call
 * advances the checkpoint: progress) with a wait hint, or RUNNING (from
 * then on stop controls are accepted).  RUNNING after STOP_PENDING is
 * ignored.  A no-op outside pal_svcmgr_dispatch(). */
void pal_svcmgr_report(int state, uint64_t wait_hint_ms);

/* Write one event to the system log: the Windows Event Log, source
 * "Vigil", event id 0, the message as its one insertion string (there is
 * no message DLL, so the Event Viewer prefixes it with a note that the
 * description of id 0 cannot be found).  PAL_EUNSUPPORTED on POSIX. */
enum { PAL_EVENT_INFO = 0, PAL_EVENT_WARN = 1, PAL_EVENT_ERROR = 2 };
apr_status_t pal_eventlog_report(int level, const char *message);
/* 1 where pal_eventlog_report() can work (Windows), else 0. */
int pal_eventlog_supported(void);

/* Make the Event Log know the source (the key
 * HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\Vigil,
 * TypesSupported 7, EventMessageFile `exe`): `vigil service install`
 * does it so events are filed under their own source.  Idempotent.
 * PAL_EUNSUPPORTED on POSIX. */
apr_status_t pal_eventlog_register(const char *exe);

/* ------------------------------------------------------------------------
 * Local log daemons (POSIX): a connected, non-blocking local datagram
 * socket to syslog (PAL_LOGSOCK_SYSLOG: /dev/log; /var/run/syslog on
 * macOS) or journald (PAL_LOGSOCK_JOURNAL: /run/systemd/journal/socket,
 * Linux).  PAL_EUNSUPPORTED where the daemon has no such socket (Windows;
 * journald off Linux).  A missing socket is APR_ENOENT, one nobody
 * listens on APR_ECONNREFUSED.  Close with pal_fd_close().
 * --------------------------------------------------------------------- */
enum { PAL_LOGSOCK_SYSLOG = 1, PAL_LOGSOCK_JOURNAL = 2 };
apr_status_t pal_logsock_open(pal_fd_t *fd, int which);
/* The socket's path, for messages; NULL where there is none. */
const char *pal_logsock_path(int which);
/* Send one record, gathered from its n pieces, as one datagram, never
 * blocking: APR_EAGAIN when the daemon's queue is full (the record is
 * lost, the socket still fine); PAL_ETOOBIG when the record is larger
 * than one datagram can be (EMSGSIZE: nothing sent, the socket fine);
 * any other error (the daemon went away: ECONNREFUSED, ENOTCONN) means
 * reconnecting. */
apr_status_t pal_logsock_send(pal_fd_t fd, const pal_buf_t *parts,
                              unsigned n);
/* journald's way for a record too large for a datagram: the pieces are
 * written to a memory file (memfd_create) sealed against every change,
 * so the daemon may map it, whose descriptor is passed alone in an empty
 * datagram (SCM_RIGHTS).  PAL_EUNSUPPORTED where there are no sealed
 * memory files (off Linux; a kernel before 3.17); APR_EAGAIN when the
 * daemon's queue is full; any other error (no memory or descriptors for
 * the file, the send failed): the record was not sent, and the caller
 * may still send it in datagram-sized pieces. */
apr_status_t pal_logsock_send_fd(pal_fd_t fd, const pal_buf_t *parts,
                                 unsigned n);

/* ------------------------------------------------------------------------
 * Fault-injection seam (tests).
 *
 * Every system call the PAL makes on a hot or error-prone path is wrapped
 * at its call site (PAL__SYS in the backend) and can be made to fail: a
 * test makes the next `count` calls of one kind fail with `err` (a
 * portable status such as APR_EINTR or APR_EAGAIN), after letting `skip`
 * calls through.  Unarmed, the cost is one predictable branch on a
 * global.  Not thread-safe: arm it from the test thread only.
 * --------------------------------------------------------------------- */

enum {
  PAL_SYS_READ, PAL_SYS_WRITE /* pal_file_write */, PAL_SYS_WRITEV,
  PAL_SYS_ACCEPT,
  PAL_SYS_CONNECT, PAL_SYS_POLL_WAIT, PAL_SYS_POLL_CTL, PAL_SYS_SOCKET,
  PAL_SYS_SPAWN, PAL_SYS_RECVFROM, PAL_SYS_SENDMSG,
  PAL_SYS_MEMFD /* memfd_create (pal_logsock_send_fd) */,
  PAL_SYS_PIDFD /* a spawn's pidfd (clone's CLONE_PIDFD, pidfd_open): the
                 * child is watched as on a kernel without pidfds */,
  PAL_SYS_COUNT_
};

void pal_fault_inject(int call, apr_status_t err, unsigned skip,
                      unsigned count);
void pal_fault_clear(void);
/* How many injected failures of `call` have fired since the last clear. */
unsigned pal_fault_fired(int call);

#ifdef __cplusplus
}
#endif
#endif /* PAL_H */
