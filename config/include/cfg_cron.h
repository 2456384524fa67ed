/*
 * cfg_cron.h -- calendar schedules (<schedule>): cron's five fields and
 * the "next run after T" computation (config/cron.c).
 *
 * Pure functions: the one OS call, the local civil time of an instant,
 * is passed in (pal_localtime by default), so the tests can walk DST
 * transitions of named zones through the C library.
 */
#ifndef VIGIL_CFG_CRON_H
#define VIGIL_CFG_CRON_H

#include <stddef.h>
#include <stdint.h>

#include <apr.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tm;

/* Which fields were written starting with '*' ("*" or "*\/N"): cron's
 * rules depend on it (day-of-month and day-of-week are OR'ed only when
 * neither is; a job is a "wildcard" job for DST when minute or hour is). */
enum {
  CFG_CRON_MIN_STAR = 1u << 0,
  CFG_CRON_HOUR_STAR = 1u << 1,
  CFG_CRON_DOM_STAR = 1u << 2,
  CFG_CRON_DOW_STAR = 1u << 3
};

/* A parsed schedule: one bit per allowed value of each field. */
typedef struct cfg_cron_s {
  uint64_t minute;              /* bits 0..59 */
  uint32_t hour;                /* bits 0..23 */
  uint32_t mday;                /* bits 1..31 */
  uint32_t month;               /* bits 1..12 */
  uint32_t wday;                /* bits 0..6, Sunday 0 (7 is read as 0) */
  unsigned flags;               /* CFG_CRON_*_STAR */
} cfg_cron_t;

/* Parse `text`: five fields "minute hour day-of-month month day-of-week"
 * (each a comma list of *, N, N-M, with /STEP after * or a range, or
 * after N meaning N-max; names jan..dec and sun..sat in any case), or
 * @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually).
 * On error APR_EINVAL with a sentence in why (why_size bytes). */
apr_status_t cfg_cron_parse(const char *text, cfg_cron_t *out, char *why,
                            size_t why_size);

/* The local civil time of instant t (seconds since the Unix epoch). */
typedef apr_status_t (*cfg_localtime_fn)(int64_t t, struct tm *out);

/* The first instant strictly after `after` (seconds since the Unix
 * epoch) at which the schedule runs, in the local time `local` gives
 * (NULL: pal_localtime, the process's zone), into *next.  Daylight
 * saving time as Vixie/ISC cron treats it: a local time that does not
 * exist (clocks spring forward) runs at the end of the gap, unless the
 * minute or hour field starts with '*' (then it is simply skipped); a
 * local time that happens twice (clocks fall back) runs once, at its
 * first occurrence, unless the minute or hour field starts with '*'
 * (then at both).  APR_ENOENT if it does not run within 30 years (the
 * parser already refuses days that no month has, "0 0 31 2 *"). */
apr_status_t cfg_cron_next(const cfg_cron_t *c, int64_t after,
                           cfg_localtime_fn local, int64_t *next);

#ifdef __cplusplus
}
#endif

#endif
