/*
 * svc_log.h -- capture of a child's stdout/stderr into rotated log files
 * (services layer, prefix svc_).
 *
 * Three objects:
 *
 *   svc_logfile_t    one output file (NAME under log-dir) with rotation by
 *                    size and daily, retention by count, optional gzip of
 *                    rotated files, optional per-line timestamps.
 *                    Library-allocated: svc_logfile_open() / _close().
 *   svc_logcap_t     one child pipe (stdout or stderr) feeding a
 *                    svc_logfile_t until EOF.  Caller-allocated (embed it
 *                    in the service): svc_logcap_init() / _start() /
 *                    _close().
 *   svc_logfollow_t  a reader for `vigil logs -f`: returns what was
 *                    appended since the last call and follows rotation.
 *
 * The <log> element (config/README.md) maps onto this module as follows:
 *
 *   stdout="FILE"      VG_STDIO_PIPE + a svc_logcap_t on a svc_logfile_t
 *                      opened on LOG-DIR/FILE
 *   stderr="stdout"    a second svc_logcap_t on the SAME svc_logfile_t;
 *                      the two streams interleave at read-chunk
 *                      granularity (a chunk is what one read() returned:
 *                      whole writes of up to PIPE_BUF bytes stay whole)
 *   "syslog", "journal", "eventlog"
 *                      as a FILE target on the default NAME.out.log /
 *                      NAME.err.log, with opts.sink: the lines go to the
 *                      daemon, the file is the fallback ("Log daemons")
 *   "null"             VG_STDIO_IGNORE; this module is not involved
 *   "inherit"          VG_STDIO_INHERIT; this module is not involved
 *   max-size, keep, rotate="daily", compress, timestamps
 *                      svc_logfile_opts_t fields of the same meaning
 *
 * Files and rotation.  The current file is NAME, opened for append
 * (created 0644 if missing; its existing size counts towards max_size).
 * Rotated files are NAME.1 (newest) ... NAME.KEEP, each either plain or,
 * once compressed, NAME.k.gz.  A rotation closes NAME, removes NAME.KEEP
 * (both forms), renames NAME.k -> NAME.k+1 (both forms) for k = KEEP-1
 * down to 1, renames NAME -> NAME.1 and reopens NAME.  With keep == 0
 * a rotation simply starts NAME again (its content is discarded), as
 * supervisord does with backups=0.  These are a handful of quick
 * metadata calls on the loop thread.  Removing a file frees its blocks,
 * which takes about a millisecond per 10 MB, so a regular file to remove
 * is renamed to NAME.del<k>.tmp (k < 4) there and unlinked on the loop's
 * thread pool (up to four at a time per log file; past that, the file is
 * removed on the loop thread).
 *
 *   - By size: a write that would make NAME exceed max_size is cut after
 *     the last newline that still fits; NAME is rotated and the rest goes
 *     to the new NAME.  If NAME ends inside a line (an earlier write ended
 *     mid-line), that line is finished first, even past max_size by up to
 *     SLACK = min(max_size, 64 KiB) bytes.  So rotated files end at line
 *     boundaries (for lines up to SLACK long) and never exceed max_size +
 *     SLACK; a longer line is split there (a hard cap: a child that never
 *     writes a newline cannot grow a file without bound).  With
 *     timestamps the size counts the prefixes.
 *   - Daily: a one-shot vg_timer armed for the next local midnight
 *     (svc_logfile_next_midnight(), which uses apr_time_exp_lt and copes
 *     with DST changes); no polling.  The timer is monotonic: if the wall
 *     clock says it fired before midnight (clock stepped back) it is simply
 *     re-armed; after a suspend it fires late.  An empty NAME is not
 *     rotated.  At open, a non-empty NAME last modified before today
 *     (local) is rotated at once, so a supervisor restarted across
 *     midnight does not mix two days.
 *   - Retention: files NAME.k / NAME.k.gz with k > KEEP (left by a larger
 *     keep in an older config, or by a crash) are removed at open (for a
 *     lazy log file, at its first use): k = KEEP+1, KEEP+2, ... up to the
 *     first number with neither form (two stats when there is nothing to
 *     remove; no scan of log-dir), and so are leftover NAME.del<k>.tmp.
 *
 * Compression (compress = 1) runs on the loop's thread pool
 * (vg_queue_work), never on the loop thread, one file at a time per log
 * file: NAME.k is deflated into NAME.gz.tmp (gzip format, zlib level 6,
 * then flushed to disk), and when the work is done the loop thread renames
 * NAME.gz.tmp -> NAME.k.gz and removes NAME.k, where k is the file's slot
 * *at that moment*: rotations that happen meanwhile keep shifting names,
 * and the loop thread (the only one that renames) tracks the slot of the
 * file being compressed.  If that file is shifted past KEEP while being
 * compressed it is moved to NAME.(KEEP+1) and removed when the work ends.
 * Rotations that happen while a file is being compressed leave their
 * NAME.1 plain until the worker is free; the lowest-numbered plain file is
 * compressed next.  At any moment every slot holds one valid file
 * (plain, or a complete .gz); only NAME.gz.tmp is ever incomplete.  At
 * open, a leftover NAME.gz.tmp is removed and plain NAME.k files are
 * queued for compression.  Closing the log file aborts a compression in
 * progress (checked every 64 KiB), leaving that file plain.
 *
 * Writes are synchronous on the loop thread: one pal_file_write() per
 * chunk read, on an unbuffered file opened for append (O_APPEND, or
 * FILE_APPEND_DATA on Windows).
 * No user-space buffer means no flush timer and nothing held back if the
 * supervisor dies; with 64 KiB reads a 1 GiB capture makes the same
 * read/write calls as `cat` and costs the same CPU per byte.  (A log
 * directory on a blocking network file system would stall the loop.)
 *
 * Timestamps (timestamps = 1): each line is prefixed with the UTC time
 * its first byte was read, "2026-11-21T23:53:01.123Z " (ISO-8601, ms).
 * A line split across writes gets one prefix: the partial-line state lives
 * in a svc_logline_t owned by the writer (each svc_logcap_t has its own),
 * so stdout and stderr sharing a file each keep their own state.  The
 * output is built in a 64 KiB buffer of the log file (one copy), and all
 * lines of one write share one timestamp.
 *
 * Errors are reported and survived, never fatal.  If NAME cannot be
 * opened (missing directory, a directory in its place, EACCES...) or a
 * write fails (ENOSPC, EIO...), the file is closed, the error is logged
 * once at WARN on `diag` (component "logfile", with path and error; the
 * same error is not repeated), the bytes are counted as dropped, and a
 * one-shot timer retries opening every retry_ms (default 5 s; no timer
 * runs while healthy).  Captures keep reading their pipes meanwhile, so
 * the child never blocks on a full pipe.  The first successful write
 * after a failure logs NOTICE with the number of bytes dropped.  A line
 * a failed write cut short is ended, when NAME can be written again, with
 * " [vigil: line cut short: log write failed]" and a newline, so that
 * what follows starts a line of its own (unless NAME was rotated away
 * meanwhile).  A failed
 * rotation rename is logged and the current file is kept (size rotation
 * is retried once the file has grown by another max_size).  On POSIX a
 * log file deleted by someone else keeps receiving data in the deleted
 * inode; svc_logfile_reopen() (e.g. on SIGHUP) reopens NAME.
 *
 * Log daemons (opts.sink; <log stdout="syslog|journal|eventlog">).  The
 * pipe is read as for a file, but each line (without its "\n", and a
 * "\r" before it) becomes one record sent to the daemon, with the tag
 * opts.ident and severity info (stdout) or err (is_err):
 *   syslog    one RFC 5424 datagram to /dev/log,
 *             "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG",
 *             facility daemon (PRI 30 or 27), APP-NAME the ident (cut to
 *             48 characters), PROCID the pid (svc_logfile_set_pid()),
 *             MSGID "stdout" or "stderr", no structured data;
 *   journal   one datagram of journald's native protocol: PRIORITY,
 *             SYSLOG_FACILITY=3, SYSLOG_IDENTIFIER, SYSLOG_PID, MESSAGE;
 *             a record too large for a datagram is passed as a sealed
 *             memory file instead, as sd_journal_send() does (if that
 *             fails: in datagrams of SVC_LOGSINK_JOURNAL_PIECE bytes,
 *             with one warning);
 *   eventlog  one event (pal_eventlog_report(), source Vigil), its text
 *             "IDENT: line".
 * A line's start with no newline yet is held (in the writer's
 * svc_logline_t) until its newline, SVC_LOGSINK_*_MSG bytes (then it is
 * sent as a record of that size and the rest goes on in the next: long
 * lines are split, never cut), or the end of the writer
 * (svc_logfile_end_line()).  Nothing is sent while a service is idle;
 * the socket is connected at the first line.  Sending never blocks: a
 * daemon whose queue is full (EAGAIN, ENOBUFS) loses the record, which
 * is counted in `dropped` (its bytes) and reported at WARN (at most once
 * every SVC_LOGSINK_RETRY_MS); the next record that gets through logs a
 * NOTICE with the number of lines lost since the last one (after a
 * WARN; else at most once every SVC_LOGSINK_RETRY_MS).
 * A daemon that cannot be reached (no socket, ECONNREFUSED, no such
 * target on this OS) is reported once at WARN and the lines go to the
 * file at opts.path, as a file target would write them (rotation,
 * timestamps); at the first line SVC_LOGSINK_RETRY_MS after the last
 * attempt the daemon is tried again and, once it answers, it gets the
 * lines again (NOTICE).  The service never notices any of it.
 *
 * Threading: every function runs on the loop thread, except
 * svc_logfile_tail(), svc_logfollow_*() and svc_logfile_next_midnight(),
 * which touch no loop and may run anywhere (they use the given pool).
 *
 * Memory and lifetimes: a svc_logfile_t is malloc'd (a few hundred bytes;
 * no APR pool, which would cost 8 KiB or more for each of the two log
 * files of every service) and freed after svc_logfile_close()'s
 * callback.  A svc_logfile_t stays open while captures are attached:
 * svc_logfile_close() waits for them (so lines still in the pipes are
 * written), then for its timers, any compression work and any removal.
 * The 64 KiB buffers for reading captures and for timestamps are one of
 * each per thread, shared by every log file of that thread's loop, and
 * allocated at their first use.
 *
 * This header includes only vigil.h and APR (layering rule).
 */
#ifndef SVC_LOG_H
#define SVC_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <apr_tables.h>
#include <apr_time.h>

#include "vigil.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default interval between attempts to reopen a failed log file. */
#define SVC_LOGFILE_RETRY_MS 5000
/* Largest accepted `keep`. */
#define SVC_LOGFILE_KEEP_MAX 1000
/* Read buffer of one capture (pipes hold 64 KiB on Linux by default). */
#define SVC_LOGCAP_BUFSIZE 65536
/* Length of a timestamp prefix, "2026-11-21T23:53:01.123Z ". */
#define SVC_LOG_TS_LEN 25

typedef struct svc_logfile_s svc_logfile_t;
typedef struct svc_logcap_s svc_logcap_t;
typedef struct svc_logfollow_s svc_logfollow_t;

/* ------------------------------------------------------------------------
 * Log files
 * --------------------------------------------------------------------- */

typedef struct svc_logfile_opts_s {
  const char *path;      /* the file (LOG-DIR/NAME); copied */
  apr_off_t max_size;    /* rotate before NAME would exceed this; 0: never */
  unsigned keep;         /* rotated files kept, 0..SVC_LOGFILE_KEEP_MAX */
  int daily;             /* also rotate at local midnight */
  int compress;          /* gzip rotated files (NAME.k.gz) */
  int timestamps;        /* prefix each line with the UTC time */
  uint64_t retry_ms;     /* reopen interval after an error; 0: default */
  int lazy;              /* defer all file work (pruning, compression of
                            leftovers, the stale-day rotation, opening
                            NAME) until the first write, rotation or
                            reopen: a service that writes nothing costs
                            no file and no system call */
  int sink;              /* SVC_LOGSINK_*: send lines to a log daemon,
                            with path as the fallback file (see "Log
                            daemons" above) */
  const char *ident;     /* sink: the tag (the service's name); copied */
  int is_err;            /* sink: severity err (stderr), else info */
} svc_logfile_opts_t;

/* Log daemons (opts.sink); numbered as config's cfg_log_sink. */
enum {
  SVC_LOGSINK_NONE = 0, SVC_LOGSINK_SYSLOG, SVC_LOGSINK_JOURNAL,
  SVC_LOGSINK_EVENTLOG
};
/* The longest message of one record; a longer line is split into
 * records of this size (nothing is cut).  syslog: a datagram stays
 * within 8 KiB, rsyslog's default maxMessageSize; journal: 1 MiB, a
 * bound on what a service's line may hold of vigil's memory (journald
 * itself takes far more: a record too large for a datagram goes as a
 * memory file); eventlog: ReportEventW's insertion strings hold 31839
 * characters.  SVC_LOGSINK_JOURNAL_PIECE: the records of a long journal
 * line when the memory file cannot be used (journald's own LINE_MAX for
 * stdout streams). */
#define SVC_LOGSINK_SYSLOG_MSG 7680
#define SVC_LOGSINK_JOURNAL_MSG (1024 * 1024)
#define SVC_LOGSINK_JOURNAL_PIECE 49152
#define SVC_LOGSINK_EVENTLOG_MSG 30000
/* While the daemon is unreachable, lines go to the fallback file and a
 * reconnection is tried at the first line after this long. */
#define SVC_LOGSINK_RETRY_MS 10000

typedef struct svc_logfile_stats_s {
  uint64_t written;          /* bytes written (prefixes included) */
  uint64_t dropped;          /* bytes lost to errors */
  unsigned rotations;        /* successful rotations */
  unsigned compressed;       /* rotated files gzipped */
  unsigned compress_pending; /* files waiting for or under compression */
  apr_off_t size;            /* size of NAME */
  apr_status_t error;        /* APR_SUCCESS while NAME is open, else why
                                it is not */
  apr_time_t next_daily;     /* next daily rotation (wall clock), or 0 */
} svc_logfile_stats_t;

/* The partial-line state of one writer, for timestamps.  Zero it (or
 * use SVC_LOGLINE_INIT) before the first write. */
typedef struct svc_logline_s {
  int partial;               /* the last byte written was not a newline */
  char *held;                /* sink: a line's start not yet sent
                                (malloc'd at its first use) */
  size_t nheld;
  size_t cap;                /* bytes held can hold (grows) */
} svc_logline_t;

#define SVC_LOGLINE_INIT {0, NULL, 0, 0}

typedef void (*svc_logfile_close_cb)(void *arg);

/* Open a log file.  Fails only for invalid options (APR_EINVAL: no path,
 * keep > SVC_LOGFILE_KEEP_MAX) or when memory or a loop handle cannot be
 * had; a file that cannot be opened is reported on `diag` (may be NULL)
 * and retried (see "Errors" above), and *lf is returned all the same.
 * Existing rotated files are pruned and, with compress, queued for
 * compression; a stale day is rotated (see "Daily").  With opts->lazy
 * all of that waits for the first write, rotation or reopen.  `pool` is
 * not used (the object is malloc'd); it stays for the callers' sake. */
apr_status_t svc_logfile_open(svc_logfile_t **lf, vg_loop_t *loop,
                              const svc_logfile_opts_t *opts,
                              apr_pool_t *pool, vg_log_t *diag);

/* Append len bytes, rotating as needed.  `line` is the writer's
 * partial-line state (NULL: the file's own, for a single writer); it only
 * matters with timestamps.  Returns APR_SUCCESS if every byte reached the
 * file, otherwise the error (the bytes not written are counted as dropped
 * and the error has been reported).  Never blocks on anything but the
 * write itself. */
apr_status_t svc_logfile_write(svc_logfile_t *lf, svc_logline_t *line,
                               const void *data, size_t len);

/* A writer is done (its pipe reached EOF or was closed): a sink sends
 * the line it still holds, and frees what `line` holds.  Harmless
 * without a sink. */
void svc_logfile_end_line(svc_logfile_t *lf, svc_logline_t *line);

/* The pid a sink reports with each record (PROCID, SYSLOG_PID): the
 * service's current process.  0: vigil's own. */
void svc_logfile_set_pid(svc_logfile_t *lf, int64_t pid);

/* Rotate now (an empty NAME is rotated too).  Returns the error of the
 * rename or reopen, if any (also reported on diag). */
apr_status_t svc_logfile_rotate(svc_logfile_t *lf);

/* Close and reopen NAME (after an external rotation, or on SIGHUP). */
apr_status_t svc_logfile_reopen(svc_logfile_t *lf);

void svc_logfile_get_stats(const svc_logfile_t *lf, svc_logfile_stats_t *st);
const char *svc_logfile_path(const svc_logfile_t *lf);

/* Close the log file: close its timers at once (no more retries or daily
 * rotations); once no capture is attached, close NAME and abort a
 * compression in progress; then call cb(arg) (may be NULL) on the loop
 * thread and free everything.  Writes are accepted until the last
 * capture detaches.  Closing twice is ignored. */
void svc_logfile_close(svc_logfile_t *lf, svc_logfile_close_cb cb,
                       void *arg);

/* The first instant of the next local day after `now` (wall clock): what
 * the daily timer is armed for.  Pure; for tests and status output. */
apr_time_t svc_logfile_next_midnight(apr_time_t now);

/* The last n lines of the log at `path`, oldest first, into *lines (an
 * array of const char *, NUL-terminated, without their '\n'; a last line
 * without a newline counts as a line).  The current file is read
 * backwards in 64 KiB blocks from its end, so the cost is proportional to
 * the lines returned, not to the file.  If it holds fewer than n lines,
 * the rotated files PATH.1, PATH.2, ... (plain, or .gz decompressed
 * through zlib) are consulted in turn until n lines are found or a file is
 * missing.  Files are read independently: a line split by a rotation
 * counts as two.  A line longer than 64 KiB is returned cut to its first
 * 64 KiB plus " [vigil: N more bytes not shown]": memory is bounded by n
 * such lines, however long a line in the file is.  Only regular files
 * are read: PAL_ENOTREG, at once, for a FIFO or device at one of the
 * paths.  APR_ENOENT if neither PATH nor PATH.1[.gz] exists. */
apr_status_t svc_logfile_tail(const char *path, unsigned n, apr_pool_t *pool,
                              apr_array_header_t **lines);

/* ------------------------------------------------------------------------
 * Captures: a child's pipe into a log file.
 *
 *   svc_logcap_init(loop, &svc->out);
 *   opts.stdio[1].kind = VG_STDIO_PIPE;
 *   opts.stdio[1].pipe = &svc->out.pipe;
 *   if (vg_spawn(loop, &svc->proc, &opts) == APR_SUCCESS)
 *     svc_logcap_start(&svc->out, lf, on_drained);
 *   else
 *     svc_logcap_close(&svc->out, NULL);  (the pipe was initialised)
 *
 * on_drained runs once the pipe has reached EOF (every byte the child
 * wrote is in the file) or failed, and the pipe is closed.  The
 * supervisor reports a child's exit only after its exit callback AND
 * on_drained of each capture, so no line written before the exit is lost.
 * A grandchild that inherited the pipe keeps it open after the child
 * exits: the supervisor should then give the captures a grace period
 * (after killing the process group, EOF comes at once) and call
 * svc_logcap_close(), which drops whatever has not been read yet.
 *
 * Captures read into one SVC_LOGCAP_BUFSIZE buffer per thread: every
 * backend asks for a buffer only when data is there (on Windows after a
 * zero-byte read completes) and hands it back with the data in the same
 * callback, so no read owns it in between, and no memory is spent per
 * capture, nor per read.
 * --------------------------------------------------------------------- */

typedef void (*svc_logcap_cb)(svc_logcap_t *cap);

struct svc_logcap_s {
  void *data;                /* caller's */
  vg_pipe_t pipe;            /* public: pass &cap->pipe to vg_spawn();
                                its `data` belongs to the capture */
  apr_status_t status;       /* public, read-only: why it ended: APR_EOF,
                                a read error, or VG_ECANCELED (closed) */
  uint64_t bytes;            /* public, read-only: bytes read */
  /* private */
  svc_logfile_t *lf;
  svc_logline_t line;
  svc_logcap_cb cb;
  int state;
};

/* Initialise the capture and its pipe (vg_pipe_init). */
apr_status_t svc_logcap_init(vg_loop_t *loop, svc_logcap_t *cap);

/* Start reading the opened pipe into lf.  on_drained(cap) runs on EOF or
 * a read error, after the pipe is closed: cap may be freed or
 * re-initialised there.  APR_EBADF (pipe not open) or VG_ECLOSING (lf is
 * closing) leave the capture as it was. */
apr_status_t svc_logcap_start(svc_logcap_t *cap, svc_logfile_t *lf,
                              svc_logcap_cb on_drained);

/* Stop early: stop reading, close the pipe (unread data is lost) and call
 * cb(cap) (may be NULL) from the loop's close phase; on_drained is then
 * not called.  Also closes a capture that was never started.  Ignored on
 * a capture that has already drained or is closing. */
void svc_logcap_close(svc_logcap_t *cap, svc_logcap_cb cb);

/* Non-zero from svc_logcap_init() until on_drained / close cb. */
int svc_logcap_is_open(const svc_logcap_t *cap);

/* ------------------------------------------------------------------------
 * Following (`vigil logs -f`), for a reader that polls: tail -F semantics.
 * --------------------------------------------------------------------- */

/* Follow `path` from its current end (from_start 0) or beginning.  A
 * missing file is waited for; one that is not a regular file is
 * PAL_ENOTREG (here, or from a later svc_logfollow_read). */
apr_status_t svc_logfollow_open(svc_logfollow_t **f, const char *path,
                                int from_start, apr_pool_t *pool);
/* Copy up to size new bytes into buf; *n == 0 means nothing new.  When
 * the file has been rotated (PATH names another file, or it shrank),
 * the rest of the old file is returned first (it is still open), then
 * the new file from its beginning. */
apr_status_t svc_logfollow_read(svc_logfollow_t *f, char *buf, size_t size,
                                size_t *n);
void svc_logfollow_close(svc_logfollow_t *f);

/* ------------------------------------------------------------------------
 * Merging logs (`vigil logs A B`): the time of a line.
 * --------------------------------------------------------------------- */

/* Non-zero if `line` starts with a timestamp as <log timestamps="true">
 * writes it ("2026-11-21T23:53:01.123Z "); its first SVC_LOG_TS_LEN - 1
 * bytes, which sort as the times do, are then copied to key. */
int svc_log_line_time(const char *line, char key[SVC_LOG_TS_LEN]);
/* The same key for a wall-clock time (apr_time_now(), a file's mtime). */
void svc_log_time_key(apr_time_t t, char key[SVC_LOG_TS_LEN]);

/* ------------------------------------------------------------------------
 * Test hooks (not API)
 * --------------------------------------------------------------------- */

/* Run the daily timer's callback now as if the wall clock said `now`:
 * rotate if the local date has changed since NAME was started, and
 * re-arm for the midnight after `now`. */
void svc__logfile_daily_fire(svc_logfile_t *lf, apr_time_t now);

#ifdef __cplusplus
}
#endif
#endif /* SVC_LOG_H */
