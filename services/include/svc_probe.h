/*
 * svc_probe.h -- one-shot asynchronous probes for readiness and health
 * checks: "does HOST:PORT accept a connection", "does this URL answer a
 * GET with 2xx/3xx", "does this command exit 0".
 *
 * A probe is a caller-allocated, reusable object (embed one per service
 * and per check).  It runs one check at a time:
 *
 *   svc_probe_init(&p);                      once; an idle probe owns nothing
 *   svc_probe_tcp(&p, loop, "127.0.0.1:8080", 2000, on_result);
 *   ...  on_result(&p, status, detail)       exactly once, from the loop
 *   svc_probe_http(&p, loop, url, 2000, on_result);   and again, and again
 *
 * Contract:
 *   - A start call either fails synchronously (APR_EINVAL for a bad target
 *     or argument, VG_EBUSY while a check is in progress, or the error of
 *     vg_timer_init()), and then nothing happened and cb will not run, or
 *     it returns APR_SUCCESS and cb runs exactly once, later, from the
 *     loop -- never from inside the start call.  Run-time failures
 *     (refused, spawn of a missing program, ...) all arrive through cb.
 *   - cb runs after every handle of the check has been closed: inside cb
 *     the probe is idle again, so cb may start the next check on it, or
 *     free the memory that holds it.
 *   - svc_probe_cancel() stops a check in flight; cb then still runs
 *     once, with VG_ECANCELED and detail "canceled", from the loop (the
 *     close phase of this or the next iteration; for exec, once the child,
 *     killed with its group, has been reaped: normally at once, at most
 *     SVC_PROBE_KILL_GRACE_MS).  That call is the owner's signal that the
 *     probe is idle (reusable and freeable).  Cancel is a no-op on an idle
 *     probe, including from inside cb, and safe from any callback on the
 *     loop thread.  A cancel wins over a result that was decided but not
 *     yet delivered.
 *   - Close the loop only with every probe idle (cancel, then run the
 *     loop until the callbacks came).
 *
 * Results (status, detail) -- detail is a short message for the log that
 * says why, valid only during the call:
 *   APR_SUCCESS        healthy: "connected", "HTTP 204", "exit 0"
 *   APR_TIMEUP         "timed out after 2000 ms", with "resolving HOST"
 *                      or "connecting to ADDR" when it got no further
 *                      (an exec child is killed)
 *   APR_EGENERAL       an answer that means unhealthy: "HTTP 503",
 *                      "exit 2", "killed by signal KILL", "bad HTTP reply"
 *   APR_EOF            the server closed before a complete status line
 *   resolver error     "resolve db.internal: Name or service not known"
 *   I/O or spawn error the status of the failing call, e.g.
 *                      APR_ECONNREFUSED "connect 127.0.0.1:5432:
 *                      Connection refused" (the last address tried),
 *                      APR_ENOENT "exec /x: No such file or directory"
 *   VG_ECANCELED       "canceled"
 *
 * Targets are parsed by cfg_parse_hostport() and cfg_parse_url() (the
 * config loader's own rules).  A host name is resolved at every check,
 * asynchronously (vg_getaddrinfo, on the work queue; the timeout covers
 * it), and its addresses are tried in the resolver's order until one
 * accepts; a numeric IPv4 or bracketed IPv6 address is used as it is.
 *
 * Threading: loop thread only, like every vg_ handle.
 */
#ifndef SVC_PROBE_H
#define SVC_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <apr.h>
#include <apr_errno.h>

#include "cfg.h"
#include "vigil.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SVC_PROBE_PATH_MAX CFG_URL_PATH_MAX   /* path + query, NUL */
#define SVC_PROBE_ADDRS_MAX 8      /* addresses of a name tried in turn */
#define SVC_PROBE_REPLY_MAX 4096   /* bytes read looking for a status line */
#define SVC_PROBE_DETAIL_MAX 128
/* After a timeout, how long an exec child killed with its group may take
 * to be reaped before the probe reports anyway (the PAL still reaps it). */
#define SVC_PROBE_KILL_GRACE_MS 2000

typedef struct svc_probe_s svc_probe_t;

/* status: see the table above; detail: never NULL, valid during the call.
 * The probe is idle when this runs. */
typedef void (*svc_probe_cb)(svc_probe_t *probe, apr_status_t status,
                             const char *detail);

/* Every field is private except `data`. */
struct svc_probe_s {
  void *data;                      /* caller's */
  vg_loop_t *loop;
  svc_probe_cb cb;
  int kind;                        /* SVC__PROBE_TCP, _HTTP, _EXEC */
  int state;                       /* idle, running, finishing */
  unsigned flags;                  /* which handles are open, ... */
  unsigned closing;                /* close callbacks still due */
  apr_status_t result;
  uint64_t timeout_ms;
  vg_timer_t timer;
  vg_tcp_t tcp;
  vg_connect_t connect_req;
  vg_write_t write_req;
  vg_process_t proc;
  vg_getaddrinfo_t gai;
  char host[CFG_HOST_MAX];         /* as parsed, for messages */
  vg_addr_t addr;                  /* being connected to */
  vg_addr_t addrs[SVC_PROBE_ADDRS_MAX];
  unsigned naddrs, next_addr;
  size_t req_len;
  size_t reply_len;
  char req[SVC_PROBE_PATH_MAX + 256];
  char reply[SVC_PROBE_REPLY_MAX];
  char detail[SVC_PROBE_DETAIL_MAX];
};

/* Make `probe` idle.  Call once before its first use (not while a check
 * runs).  Leaves `data` alone.  An idle probe holds no resource and needs
 * no teardown. */
void svc_probe_init(svc_probe_t *probe);

/* Non-zero from a successful start until its cb is called. */
int svc_probe_busy(const svc_probe_t *probe);

/* Healthy if `hostport` ("127.0.0.1:8080", "[::1]:80", "db.internal:80")
 * accepts a TCP connection within timeout_ms (0: no time limit).  The
 * connection is closed at once. */
apr_status_t svc_probe_tcp(svc_probe_t *probe, vg_loop_t *loop,
                           const char *hostport, uint64_t timeout_ms,
                           svc_probe_cb cb);

/* Healthy if a GET of `url` (http:// only, see cfg_parse_url) is
 * answered with a status in 200-399 within timeout_ms (0: no limit).
 * Request: "GET PATH HTTP/1.1", Host (with ":PORT" unless 80),
 * "User-Agent: vigil/MAJOR.MINOR", "Connection: close".  Only the status
 * line is read (HTTP/1.0 or 1.1; interim 1xx replies are skipped); the
 * connection is then closed. */
apr_status_t svc_probe_http(svc_probe_t *probe, vg_loop_t *loop,
                            const char *url, uint64_t timeout_ms,
                            svc_probe_cb cb);

/* The same two with the target already parsed (cfg_parse_hostport(),
 * cfg_parse_url()): a service's plan parses its targets once, and a
 * check is never parsed by other rules than the loader's. */
apr_status_t svc_probe_tcp_at(svc_probe_t *probe, vg_loop_t *loop,
                              const cfg_target_t *t, uint64_t timeout_ms,
                              svc_probe_cb cb);
apr_status_t svc_probe_http_at(svc_probe_t *probe, vg_loop_t *loop,
                               const cfg_target_t *t, uint64_t timeout_ms,
                               svc_probe_cb cb);

/* Healthy if the command exits 0 within timeout_ms (0: no limit).
 * argv[0] is the program, looked up on PATH unless it contains a slash;
 * env is NULL (inherit) or NULL-terminated "K=V"; cwd NULL inherits.
 * argv, env and cwd are used during the call only.  stdin, stdout and
 * stderr are the null device.  The child gets its own process group
 * (a job object on Windows): on timeout or cancel the whole group is
 * killed (KILL), and anything the command left behind in its group is
 * killed when it exits. */
apr_status_t svc_probe_exec(svc_probe_t *probe, vg_loop_t *loop,
                            const char *const *argv, const char *const *env,
                            const char *cwd, uint64_t timeout_ms,
                            svc_probe_cb cb);
/* The same as another user: `as` (NULL: vigil's own) gives the uid,
 * gid, supplementary groups and umask, and which of them apply
 * (VG_PROCESS_SETUID, _SETGID, _UMASK in its flags; its other fields are
 * not read), as vg_spawn() takes them. */
apr_status_t svc_probe_exec_as(svc_probe_t *probe, vg_loop_t *loop,
                               const char *const *argv,
                               const char *const *env, const char *cwd,
                               const vg_process_options_t *as,
                               uint64_t timeout_ms, svc_probe_cb cb);

/* Stop the check in flight; cb follows with VG_ECANCELED.  No-op when
 * idle. */
void svc_probe_cancel(svc_probe_t *probe);

#ifdef __cplusplus
}
#endif
#endif /* SVC_PROBE_H */
