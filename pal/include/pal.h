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
#define PAL_EEXEC       (APR_OS_START_USERERR + 7)  /* reserved           */
#define PAL_ENOPROC     (APR_OS_START_USERERR + 8)  /* no such process    */

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

/* ------------------------------------------------------------------------
 * Clock
 * --------------------------------------------------------------------- */

/* Monotonic, high-resolution time in nanoseconds (arbitrary origin). */
uint64_t pal_hrtime(void);

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

apr_status_t pal_poll_create(pal_poll_t **poll);
void pal_poll_destroy(pal_poll_t *poll);
apr_status_t pal_poll_wait(pal_poll_t *poll, int64_t timeout_ms);
/* Name of the event backend: "epoll", "kqueue" or "iocp". */
const char *pal_poll_name(void);

/* Cross-thread wake-up.  Safe from any thread and (on POSIX) from a signal
 * handler.  `cb` runs on the poll thread, once per wait even if woken
 * several times.  Coalescing of redundant calls is the caller's business
 * (core/async.c does it with an atomic flag). */
void pal_poll_set_wakeup_cb(pal_poll_t *poll, pal_wakeup_cb cb, void *data);
apr_status_t pal_poll_wakeup(pal_poll_t *poll);

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
  size_t nbytes;              /* total bytes in the request */
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
  pal_req_t *wq_head, *wq_tail;   /* queued writes / sends */
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

enum { PAL_BIND_REUSEADDR = 1, PAL_BIND_IPV6ONLY = 2 };
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
/* Bytes of a submitted write or send that are not yet written. */
size_t pal_req_pending_bytes(const pal_req_t *req);
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
/* The user id of a local-socket peer (SO_PEERCRED); PAL_EUNSUPPORTED
 * where the OS cannot tell. */
apr_status_t pal_io_peer_uid(const pal_io_t *io, long *uid);

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
  PAL_SPAWN_SETUID    = 1 << 2,
  PAL_SPAWN_SETGID    = 1 << 3,
  PAL_SPAWN_PDEATHSIG = 1 << 4,   /* Linux: SIGKILL when parent dies */
  PAL_SPAWN_SEARCH_PATH = 1 << 5  /* look file up on PATH */
};

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
  PAL_LIMIT_OOM_KILL      /* a member was killed for memory (cgroup) */
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
/* Signal the child (portable number). PAL_ENOPROC if it is gone. */
apr_status_t pal_proc_kill(pal_proc_t *proc, int signum);
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
/* Signal an arbitrary pid (the supervisor's leftover cleanup). */
apr_status_t pal_pid_kill(long pid, int signum, int group);
long pal_getpid(void);

/* ------------------------------------------------------------------------
 * Process-wide facts and settings a supervisor needs
 * --------------------------------------------------------------------- */

/* Become the reaper of orphaned descendants (Linux
 * PR_SET_CHILD_SUBREAPER), so that grandchildren whose parent died are
 * reparented to us instead of init.  PAL_EUNSUPPORTED elsewhere (Windows
 * job objects contain trees instead). */
apr_status_t pal_set_subreaper(void);
/* An opaque start-time stamp of process `pid` (Linux: clock ticks since
 * boot from /proc; Windows: creation FILETIME), or 0 if there is no such
 * process or the OS cannot tell.  pid + start time names a process
 * uniquely across pid reuse. */
uint64_t pal_pid_start_time(long pid);
/* The effective user id (POSIX) or -1 (Windows). */
long pal_geteuid(void);
/* The process environment as NULL-terminated "K=V" strings (UTF-8),
 * read at the time of the call; valid until the environment changes. */
const char *const *pal_environ(void);
/* Number of CPUs online. */
unsigned pal_ncpu(void);
/* The host name, into buf. */
apr_status_t pal_hostname(char *buf, size_t size);
/* The absolute path of the running executable (UTF-8) into buf: Linux
 * /proc/self/exe, macOS _NSGetExecutablePath, Windows GetModuleFileNameW.
 * APR_ENAMETOOLONG if it does not fit, PAL_EUNSUPPORTED if the OS cannot
 * tell. */
apr_status_t pal_self_exe(char *buf, size_t size);

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
  PAL_SYS_READ, PAL_SYS_WRITE /* reserved */, PAL_SYS_WRITEV, PAL_SYS_ACCEPT,
  PAL_SYS_CONNECT, PAL_SYS_POLL_WAIT, PAL_SYS_POLL_CTL, PAL_SYS_SOCKET,
  PAL_SYS_SPAWN, PAL_SYS_RECVFROM, PAL_SYS_SENDMSG,
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
