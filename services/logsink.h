/*
 * logsink.h -- log daemons behind a svc_logfile_t (logsink.c; private to
 * logfile.c, which owns the fallback file).  The behaviour is described
 * in svc_log.h, "Log daemons".
 */
#ifndef SVC_LOGSINK_H
#define SVC_LOGSINK_H

#include "pal.h"
#include "svc_log.h"

typedef struct svc_logsink_s svc_logsink_t;

/* Where a record goes while the daemon cannot be reached: `len` bytes of
 * one line, its "\n" included. */
typedef void (*svc_logsink_fallback_cb)(void *arg, const char *p,
                                        size_t len);

/* malloc'd; NULL if memory is short.  `diag` gets the warnings, which
 * name `fallback` (the file). */
svc_logsink_t *svc_logsink_new(int kind, const char *ident, int is_err,
                               const char *fallback, vg_log_t *diag,
                               svc_logsink_fallback_cb cb, void *cb_arg);
void svc_logsink_free(svc_logsink_t *sk);
/* Split into lines and send; hold a line's start in `line`. */
void svc_logsink_write(svc_logsink_t *sk, svc_logline_t *line,
                       const char *p, size_t n);
/* Send what `line` holds, and free it. */
void svc_logsink_end_line(svc_logsink_t *sk, svc_logline_t *line);
void svc_logsink_set_pid(svc_logsink_t *sk, int64_t pid);
/* Bytes sent to the daemon, and lost to a full queue. */
void svc_logsink_counts(const svc_logsink_t *sk, uint64_t *sent,
                        uint64_t *dropped);

#endif /* SVC_LOGSINK_H */
