/*
 * cron.c -- <schedule>: cron's five fields, and the next run after an
 * instant in local time (cfg_cron.h).
 *
 * The search walks "naive" local times (calendar fields without a zone)
 * field by field, as cron's own matching does, and maps each match to
 * the instants at which the local clock shows it: none (a gap, clocks
 * spring forward), one, or two (an overlap, clocks fall back).  The
 * local time of an instant is the only thing asked of the C library
 * (through `local`), so the zone's rules are the system's.
 *
 * Invariant of the search: every zone's UTC offsets on either side of a
 * transition differ by at most SHIFT (real zones: 2 hours at most), so a
 * match whose naive time is more than SHIFT past the best candidate's
 * cannot be earlier, and no match earlier than `after` + SHIFT in naive
 * time is missed by starting SHIFT before it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cfg_cron.h"
#include "pal.h"

#define SHIFT (3 * 3600)        /* bound on an offset change, seconds */
#define SEARCH_YEARS 30         /* Feb 29 on a Monday: < 30 years */

/* ---- parsing ----------------------------------------------------------- */

typedef struct field_s {
  const char *name;
  int lo, hi;                   /* values as written (day-of-week 0..7) */
  const char *const *names;     /* 3-letter names for lo.., or NULL */
} field_t;

static const char *const months[] = {"jan", "feb", "mar", "apr",
                                     "may", "jun", "jul", "aug",
                                     "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu",
                                   "fri", "sat", NULL};

static const field_t fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, months},
    {"day-of-week", 0, 7, days},
};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* A number or (where the field has them) a name at *p; advances *p. */
static int value(const field_t *f, const char **p, int *v) {
  const char *s = *p;
  int n = 0, i;
  if (*s >= '0' && *s <= '9') {
    for (; *s >= '0' && *s <= '9'; s++) {
      if (n > 1000)
        return 0;
      n = n * 10 + (*s - '0');
    }
    *v = n;
    *p = s;
    return 1;
  }
  for (i = 0; f->names && f->names[i]; i++)
    if (lower(s[0]) == f->names[i][0] && s[0] && lower(s[1]) == f->names[i][1]
        && s[1] && lower(s[2]) == f->names[i][2]) {
      *v = f->lo + i;
      *p = s + 3;
      return 1;
    }
  return 0;
}

/* One field ("1,5-9/2,*\/15") into bits; the text ends at blank or NUL. */
static int parse_field(const field_t *f, const char *s, size_t len,
                       uint64_t *bits, int *star, char *why, size_t size) {
  const char *p = s, *end = s + len;
  *bits = 0;
  *star = len > 0 && s[0] == '*';
  for (;;) {
    int lo, hi, step = 1, v;
    const char *item = p;
    if (p < end && *p == '*') {
      lo = f->lo;
      hi = f->hi;
      p++;
    } else if (p < end && value(f, &p, &lo)) {
      hi = lo;
      if (p < end && *p == '-') {
        p++;
        if (!value(f, &p, &hi)) {
          snprintf(why, size, "%s field: a range needs an end in '%.*s'",
                   f->name, (int)len, s);
          return 0;
        }
      } else if (p < end && *p == '/') {
        hi = f->hi;   /* N/STEP: from N to the end, as cronie reads it */
      }
    } else {
      snprintf(why, size, "%s field: expected a number%s or * in '%.*s'",
               f->name, f->names ? ", a name" : "", (int)len, s);
      return 0;
    }
    if (p < end && *p == '/') {
      p++;
      if (!value(f, &p, &step) || step < 1 || step > f->hi) {
        snprintf(why, size, "%s field: bad step in '%.*s'", f->name,
                 (int)len, s);
        return 0;
      }
    }
    if (lo < f->lo || hi > f->hi || lo > f->hi || hi < f->lo) {
      snprintf(why, size, "%s field: '%.*s' is out of range %d-%d", f->name,
               (int)(p - item), item, f->lo, f->hi);
      return 0;
    }
    if (lo > hi) {
      snprintf(why, size, "%s field: range '%.*s' runs backwards", f->name,
               (int)(p - item), item);
      return 0;
    }
    for (v = lo; v <= hi; v += step)
      *bits |= (uint64_t)1 << v;
    if (p == end)
      return 1;
    if (*p != ',' || p + 1 == end) {
      snprintf(why, size, "%s field: unexpected '%c' in '%.*s'", f->name, *p,
               (int)len, s);
      return 0;
    }
    p++;
  }
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int mdays(int y, int m) {
  static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : n[m - 1];
}

apr_status_t cfg_cron_parse(const char *text, cfg_cron_t *out, char *why,
                            size_t why_size) {
  static const struct {
    const char *name, *fields;
  } nick[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},
              {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
              {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
              {"@annually", "0 0 1 1 *"}};
  static const unsigned star_flag[5] = {CFG_CRON_MIN_STAR,
                                        CFG_CRON_HOUR_STAR,
                                        CFG_CRON_DOM_STAR, 0,
                                        CFG_CRON_DOW_STAR};
  uint64_t bits[5];
  const char *p = text;
  int i, star;
  memset(out, 0, sizeof *out);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  if (*p == '@') {
    size_t n = strcspn(p, " \t\r\n");
    const char *rest = p + n;
    while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
      rest++;
    for (i = 0; i < (int)(sizeof nick / sizeof nick[0]); i++)
      if (strlen(nick[i].name) == n && strncmp(p, nick[i].name, n) == 0 &&
          !*rest)
        return cfg_cron_parse(nick[i].fields, out, why, why_size);
    snprintf(why, why_size,
             "'%s' is not one of @hourly, @daily, @midnight, @weekly, "
             "@monthly, @yearly, @annually", text);
    return APR_EINVAL;
  }
  for (i = 0; i < 5; i++) {
    size_t n;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      p++;
    n = strcspn(p, " \t\r\n");
    if (n == 0) {
      snprintf(why, why_size,
               "'%s' has %d fields; a schedule has 5 (minute hour "
               "day-of-month month day-of-week) or is @hourly, @daily...",
               text, i);
      return APR_EINVAL;
    }
    if (!parse_field(&fields[i], p, n, &bits[i], &star, why, why_size))
      return APR_EINVAL;
    if (star)
      out->flags |= star_flag[i];
    p += n;
  }
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  if (*p) {
    snprintf(why, why_size,
             "'%s' has more than 5 fields (seconds and years are not "
             "supported)", text);
    return APR_EINVAL;
  }
  out->minute = bits[0];
  out->hour = (uint32_t)bits[1];
  out->mday = (uint32_t)bits[2];
  out->month = (uint32_t)bits[3];
  out->wday = (uint32_t)((bits[4] | bits[4] >> 7) & 0x7f);   /* 7 = 0 */
  /* With day-of-week "*", day-of-month alone decides: some chosen month
   * must have some chosen day (February counted with 29). */
  if (out->flags & CFG_CRON_DOW_STAR) {
    int m, d, ok = 0;
    for (m = 1; m <= 12 && !ok; m++)
      for (d = 1; d <= mdays(2000, m) && !ok; d++)
        ok = (out->month >> m & 1) && (out->mday >> d & 1);
    if (!ok) {
      snprintf(why, why_size, "'%s' never runs: no chosen month has the "
               "chosen day", text);
      return APR_EINVAL;
    }
  }
  return APR_SUCCESS;
}

/* ---- the next run -------------------------------------------------------- */

/* A local time without a zone, to the minute. */
typedef struct naive_s {
  int y, mon, d, h, mi;
} naive_t;

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int y, int m, int d) {
  int64_t era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* The naive time as seconds, as if it were UTC. */
static int64_t naive_secs(const naive_t *n) {
  return days_from_civil(n->y, n->mon, n->d) * 86400 + n->h * 3600 +
         n->mi * 60;
}

static int wday_of(const naive_t *n) {
  int64_t w = (days_from_civil(n->y, n->mon, n->d) + 4) % 7;   /* Thu */
  return (int)(w < 0 ? w + 7 : w);
}

static int day_matches(const cfg_cron_t *c, const naive_t *n) {
  int dom = (int)(c->mday >> n->d & 1), dow = (int)(c->wday >> wday_of(n) & 1);
  /* Vixie cron: OR'ed when both are restricted, else both must match. */
  if (c->flags & (CFG_CRON_DOM_STAR | CFG_CRON_DOW_STAR))
    return dom && dow;
  return dom || dow;
}

static void next_day(naive_t *n) {
  n->h = n->mi = 0;
  if (++n->d > mdays(n->y, n->mon)) {
    n->d = 1;
    if (++n->mon > 12) {
      n->mon = 1;
      n->y++;
    }
  }
}

/* Advance *n to the first naive time at or after it that matches; 0 when
 * the year passes `ylimit`. */
static int naive_match(const cfg_cron_t *c, naive_t *n, int ylimit) {
  while (n->y <= ylimit) {
    if (!(c->month >> n->mon & 1)) {
      n->d = 1;
      n->h = n->mi = 0;
      if (++n->mon > 12) {
        n->mon = 1;
        n->y++;
      }
    } else if (!day_matches(c, n)) {
      next_day(n);
    } else if (!(c->hour >> n->h & 1)) {
      n->mi = 0;
      if (++n->h > 23)
        next_day(n);
    } else if (!(c->minute >> n->mi & 1)) {
      if (++n->mi > 59) {
        n->mi = 0;
        if (++n->h > 23)
          next_day(n);
      }
    } else {
      return 1;
    }
  }
  return 0;
}

static void next_minute(naive_t *n) {
  if (++n->mi > 59) {
    n->mi = 0;
    if (++n->h > 23)
      next_day(n);
  }
}

/* The naive local time of instant t, and its offset from UTC (seconds). */
static int local_of(cfg_localtime_fn local, int64_t t, naive_t *n,
                    int64_t *off) {
  struct tm tm;
  if (local(t, &tm) != APR_SUCCESS)
    return 0;
  n->y = tm.tm_year + 1900;
  n->mon = tm.tm_mon + 1;
  n->d = tm.tm_mday;
  n->h = tm.tm_hour;
  n->mi = tm.tm_min;
  if (off)
    *off = naive_secs(n) + tm.tm_sec - t;
  return 1;
}

/* Whether the local clock shows naive time L (seconds) at instant t. */
static int shows(cfg_localtime_fn local, int64_t t, int64_t L) {
  naive_t n;
  return local_of(local, t, &n, NULL) && naive_secs(&n) == L &&
         t % 60 == 0;
}

/* The instant at which the run of naive time L falls, or 0 if none after
 * `after`; 1 with *at set otherwise.  See cfg_cron_next() for the rules. */
static int resolve(const cfg_cron_t *c, cfg_localtime_fn local, int64_t L,
                   int64_t after, int64_t *at) {
  int wildcard = (c->flags & (CFG_CRON_MIN_STAR | CFG_CRON_HOUR_STAR)) != 0;
  int64_t o1, o2, t1, t2, lo, hi;
  int s1, s2;
  naive_t scratch;
  /* The instant is within 14 hours of L read as UTC; the offsets before
   * and after that window are the two it can have (one transition at
   * most in 28 hours). */
  if (!local_of(local, L - 14 * 3600, &scratch, &o1) ||
      !local_of(local, L + 14 * 3600, &scratch, &o2))
    return 0;
  t1 = L - (o1 > o2 ? o1 : o2);   /* the earlier reading */
  t2 = L - (o1 > o2 ? o2 : o1);
  s1 = shows(local, t1, L);
  s2 = t2 != t1 && shows(local, t2, L);
  if (s1 || s2) {
    /* Shown twice (an overlap): a fixed-time job runs at the first only,
     * even when `after` fell between the two. */
    if ((s1 ? t1 : t2) > after) {
      *at = s1 ? t1 : t2;
      return 1;
    }
    if (s1 && s2 && wildcard && t2 > after) {
      *at = t2;
      return 1;
    }
    return 0;
  }
  if (t1 == t2 || wildcard)
    return 0;   /* L does not exist; a wildcard job skips it */
  /* The gap: the clock jumps over L between t1 and t2; the run is at the
   * jump, the first instant showing a later time. */
  lo = t1;
  hi = t2;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    naive_t m;
    int64_t moff;
    if (!local_of(local, mid, &m, &moff))
      return 0;
    if (mid + moff > L)
      hi = mid;
    else
      lo = mid;
  }
  if (hi <= after)
    return 0;
  *at = hi;
  return 1;
}

apr_status_t cfg_cron_next(const cfg_cron_t *c, int64_t after,
                           cfg_localtime_fn local, int64_t *next) {
  naive_t n;
  int64_t best = 0, best_L = 0, L, at;
  int found = 0, ylimit;
  if (!local)
    local = pal_localtime;
  if (!local_of(local, after - SHIFT, &n, NULL))
    return APR_EINVAL;
  ylimit = n.y + SEARCH_YEARS;
  for (;;) {
    if (!naive_match(c, &n, ylimit))
      break;
    L = naive_secs(&n);
    if (found && L > best_L + SHIFT)
      break;
    if (resolve(c, local, L, after, &at) && (!found || at < best)) {
      best = at;
      best_L = L;
      found = 1;
    }
    next_minute(&n);
  }
  if (!found)
    return APR_ENOENT;
  *next = best;
  return APR_SUCCESS;
}
