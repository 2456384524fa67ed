/*
 * test_cron.c -- config/cron.c: the five-field parser (every field kind,
 * names, steps, hostile text, the messages) and the next run after an
 * instant: month ends, leap years, day-of-month OR day-of-week, and
 * daylight saving time, both in a synthetic zone (every platform) and in
 * Europe/Berlin and America/New_York through the C library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_env.h>

#include "test.h"
#include "cfg_cron.h"

/* Seconds since the epoch of a UTC civil time (test oracle). */
static int64_t utc(int y, int m, int d, int h, int mi) {
  int64_t era, yoe, doy, doe;
  int yy = y - (m <= 2);
  era = (yy >= 0 ? yy : yy - 399) / 400;
  yoe = yy - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60;
}

static cfg_cron_t parse_ok(const char *text) {
  cfg_cron_t c;
  char why[256] = "";
  apr_status_t rv = cfg_cron_parse(text, &c, why, sizeof why);
  if (rv != APR_SUCCESS)
    fprintf(stderr, "cron: '%s' refused: %s\n", text, why);
  CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
  return c;
}

static void test_parse(void) {
  cfg_cron_t c;
  uint64_t q = 1ull << 0 | 1ull << 15 | 1ull << 30 | 1ull << 45;
  c = parse_ok("*/15 * * * *");
  CU_ASSERT_EQUAL(c.minute, q);
  CU_ASSERT_EQUAL(c.hour, 0xffffffu);
  CU_ASSERT_EQUAL(c.mday, 0xfffffffeu);
  CU_ASSERT_EQUAL(c.month, 0x1ffeu);
  CU_ASSERT_EQUAL(c.wday, 0x7fu);
  CU_ASSERT_EQUAL(c.flags, 0xfu);
  c = parse_ok("0 9-17/2 * * mon-fri");
  CU_ASSERT_EQUAL(c.minute, 1u);
  CU_ASSERT_EQUAL(c.hour, 1u << 9 | 1u << 11 | 1u << 13 | 1u << 15 |
                              1u << 17);
  CU_ASSERT_EQUAL(c.wday, 0x3eu);
  CU_ASSERT_EQUAL(c.flags, CFG_CRON_DOM_STAR);
  c = parse_ok("  5,10 0 1,15 jan,JUL Sun  ");
  CU_ASSERT_EQUAL(c.minute, 1u << 5 | 1u << 10);
  CU_ASSERT_EQUAL(c.mday, 1u << 1 | 1u << 15);
  CU_ASSERT_EQUAL(c.month, 1u << 1 | 1u << 7);
  CU_ASSERT_EQUAL(c.wday, 1u);
  CU_ASSERT_EQUAL(c.flags, 0u);
  c = parse_ok("0 0 * * 7");   /* 7 is Sunday too */
  CU_ASSERT_EQUAL(c.wday, 1u);
  c = parse_ok("0 0 * * 5-7");
  CU_ASSERT_EQUAL(c.wday, 1u | 1u << 5 | 1u << 6);
  c = parse_ok("5/20 * * * *");   /* N/STEP: N to the end */
  CU_ASSERT_EQUAL(c.minute, 1ull << 5 | 1ull << 25 | 1ull << 45);
  c = parse_ok("0 0 1-31/10 * *");
  CU_ASSERT_EQUAL(c.mday, 1u << 1 | 1u << 11 | 1u << 21 | 1u << 31);
  c = parse_ok("0\t0\n1 dec-dec *");
  CU_ASSERT_EQUAL(c.month, 1u << 12);
  c = parse_ok("59 23 31 12 6");
  CU_ASSERT_EQUAL(c.minute, 1ull << 59);
  /* Nicknames, as the five fields they stand for. */
  c = parse_ok("@hourly");
  CU_ASSERT_EQUAL(c.minute, 1u);
  CU_ASSERT_EQUAL(c.flags, CFG_CRON_HOUR_STAR | CFG_CRON_DOM_STAR |
                               CFG_CRON_DOW_STAR);
  c = parse_ok("@daily");
  CU_ASSERT_EQUAL(c.hour, 1u);
  c = parse_ok("@midnight");
  CU_ASSERT_EQUAL(c.hour, 1u);
  c = parse_ok("@weekly");
  CU_ASSERT_EQUAL(c.wday, 1u);
  c = parse_ok("@monthly");
  CU_ASSERT_EQUAL(c.mday, 2u);
  c = parse_ok(" @yearly ");
  CU_ASSERT_EQUAL(c.month, 2u);
  c = parse_ok("@annually");
  CU_ASSERT_EQUAL(c.mday, 2u);
}

static void test_parse_errors(void) {
  static const struct {
    const char *text, *why;   /* a part of the message */
  } bad[] = {
      {"", "has 0 fields"},
      {"   ", "has 0 fields"},
      {"* * * *", "has 4 fields"},
      {"* * * * * *", "more than 5 fields"},
      {"60 * * * *", "minute field: '60' is out of range 0-59"},
      {"* 24 * * *", "hour field: '24' is out of range 0-23"},
      {"* * 0 * *", "day-of-month field: '0' is out of range 1-31"},
      {"* * 32 * *", "out of range 1-31"},
      {"* * * 0 *", "month field"},
      {"* * * 13 *", "out of range 1-12"},
      {"* * * * 8", "day-of-week field"},
      {"*/0 * * * *", "bad step"},
      {"*/61 * * * *", "bad step"},
      {"*/ * * * *", "bad step"},
      {"5-1 * * * *", "runs backwards"},
      {"a * * * *", "expected a number or *"},
      {"-1 * * * *", "expected a number"},
      {"1- * * * *", "a range needs an end"},
      {"1,,2 * * * *", "expected a number"},
      {"1, * * * *", "unexpected ','"},
      {",1 * * * *", "expected a number"},
      {"1x * * * *", "unexpected 'x'"},
      {"* * * foo *", "expected a number, a name or *"},
      {"* * * * frx", "expected a number, a name or *"},
      {"* * * * monday", "unexpected 'd'"},
      {"99999999999 * * * *", "expected a number"},
      {"** * * * *", "unexpected '*'"},
      {"@reboot", "is not one of @hourly"},
      {"@daily 5", "is not one of"},
      {"@", "is not one of"},
      {"0 0 31 2 *", "never runs"},
      {"0 0 30,31 2 *", "never runs"},
      {"0 0 31 4,6,9,11 *", "never runs"},
  };
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cfg_cron_t c;
    char why[256] = "";
    apr_status_t rv = cfg_cron_parse(bad[i].text, &c, why, sizeof why);
    if (rv != APR_EINVAL || !strstr(why, bad[i].why))
      fprintf(stderr, "cron: '%s': rv %d, '%s' (want '%s')\n", bad[i].text,
              rv, why, bad[i].why);
    CU_ASSERT_EQUAL(rv, APR_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
  }
  /* A day that some month has is fine with day-of-week restricted (OR):
   * it runs on the chosen weekdays. */
  parse_ok("0 0 31 2 mon");
  parse_ok("0 0 29 2 *");
}

/* ---- a synthetic zone: every platform, no C library rules ------------- */

/* +1h, then +2h from `spring` (02:00 -> 03:00 local), then +1h again
 * from `fall` (03:00 -> 02:00 local). */
static int64_t z_spring, z_fall;

static apr_status_t synth_local(int64_t t, struct tm *out) {
  int64_t off = t >= z_spring && t < z_fall ? 7200 : 3600;
  int64_t s = t + off, days = s / 86400, rem = s % 86400;
  int64_t z, era, doe, yoe, y, doy, mp, d, m;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  /* civil_from_days */
  z = days + 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  memset(out, 0, sizeof *out);
  out->tm_year = (int)(y + (m <= 2) - 1900);
  out->tm_mon = (int)m - 1;
  out->tm_mday = (int)d;
  out->tm_hour = (int)(rem / 3600);
  out->tm_min = (int)(rem / 60 % 60);
  out->tm_sec = (int)(rem % 60);
  return APR_SUCCESS;
}

static int64_t next_in(apr_status_t (*local)(int64_t, struct tm *),
                       const char *text, int64_t after) {
  cfg_cron_t c = parse_ok(text);
  int64_t next = -1;
  apr_status_t rv = cfg_cron_next(&c, after, local, &next);
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  return rv == APR_SUCCESS ? next : -1;
}

/* A chain of runs from `after`: each the next after the one before. */
static void chain(apr_status_t (*local)(int64_t, struct tm *),
                  const char *text, int64_t after, const int64_t *want,
                  size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    int64_t got = next_in(local, text, after);
    if (got != want[i])
      fprintf(stderr, "cron: '%s' run %u after %lld: got %lld, want %lld "
              "(%+lld s)\n", text, (unsigned)i, (long long)after,
              (long long)got, (long long)want[i],
              (long long)(got - want[i]));
    CU_ASSERT_EQUAL(got, want[i]);
    after = got;
  }
}

static apr_status_t utc_local(int64_t t, struct tm *out) {
  int64_t save_s = z_spring, save_f = z_fall;
  apr_status_t rv;
  z_spring = z_fall = 0;   /* no transitions: +1h all year */
  rv = synth_local(t - 3600, out);
  z_spring = save_s;
  z_fall = save_f;
  return rv;
}

static void test_next_calendar(void) {
  /* UTC: month ends, leap days, year ends, strictly after. */
  CU_ASSERT_EQUAL(next_in(utc_local, "*/15 * * * *",
                          utc(2026, 5, 4, 10, 7) + 30),
                  utc(2026, 5, 4, 10, 15));
  CU_ASSERT_EQUAL(next_in(utc_local, "*/15 * * * *", utc(2026, 5, 4, 10, 15)),
                  utc(2026, 5, 4, 10, 30));
  CU_ASSERT_EQUAL(next_in(utc_local, "* * * * *", utc(2026, 5, 4, 10, 15) - 1),
                  utc(2026, 5, 4, 10, 15));
  CU_ASSERT_EQUAL(next_in(utc_local, "59 23 * * *", utc(2026, 12, 31, 23, 59)),
                  utc(2027, 1, 1, 23, 59));
  CU_ASSERT_EQUAL(next_in(utc_local, "@yearly", utc(2026, 12, 31, 23, 59)),
                  utc(2027, 1, 1, 0, 0));
  CU_ASSERT_EQUAL(next_in(utc_local, "@monthly", utc(2026, 1, 31, 12, 0)),
                  utc(2026, 2, 1, 0, 0));
  CU_ASSERT_EQUAL(next_in(utc_local, "0 0 31 * *", utc(2026, 4, 1, 0, 0)),
                  utc(2026, 5, 31, 0, 0));
  CU_ASSERT_EQUAL(next_in(utc_local, "0 0 29 2 *", utc(2025, 3, 1, 0, 0)),
                  utc(2028, 2, 29, 0, 0));
  /* 2100 is not a leap year. */
  CU_ASSERT_EQUAL(next_in(utc_local, "0 0 29 2 *", utc(2096, 3, 1, 0, 0)),
                  utc(2104, 2, 29, 0, 0));
  /* 2026-05-04 is a Monday. */
  CU_ASSERT_EQUAL(next_in(utc_local, "@weekly", utc(2026, 5, 4, 0, 0)),
                  utc(2026, 5, 10, 0, 0));
  CU_ASSERT_EQUAL(next_in(utc_local, "30 8 * * mon-fri",
                          utc(2026, 5, 8, 9, 0)),   /* Fri after 08:30 */
                  utc(2026, 5, 11, 8, 30));
  /* Both day fields restricted: either (the 13th, or a Friday). */
  CU_ASSERT_EQUAL(next_in(utc_local, "0 0 13 * fri", utc(2026, 5, 4, 0, 0)),
                  utc(2026, 5, 8, 0, 0));
  CU_ASSERT_EQUAL(next_in(utc_local, "0 0 13 * fri", utc(2026, 5, 8, 0, 0)),
                  utc(2026, 5, 13, 0, 0));
  /* A '*' day field: both must match (odd days that are Mondays). */
  CU_ASSERT_EQUAL(next_in(utc_local, "0 0 */2 * mon", utc(2026, 5, 4, 0, 0)),
                  utc(2026, 5, 11, 0, 0));
  /* Fields that skip: month and hour lists. */
  CU_ASSERT_EQUAL(next_in(utc_local, "15 4,16 * mar,sep *",
                          utc(2026, 3, 31, 16, 15)),
                  utc(2026, 9, 1, 4, 15));
  /* Before the epoch and far ahead are fine. */
  CU_ASSERT_EQUAL(next_in(utc_local, "@daily", utc(1969, 12, 31, 12, 0)),
                  utc(1970, 1, 1, 0, 0));
}

static void test_next_dst_synthetic(void) {
  /* Local 2026-03-29 02:00 (+1) is 01:00 UTC: clocks go to 03:00. */
  z_spring = utc(2026, 3, 29, 1, 0);
  z_fall = utc(2026, 10, 25, 1, 0);   /* local 03:00 (+2) -> 02:00 */
  {
    /* A fixed time in the gap runs at its end, once. */
    const int64_t want[] = {z_spring, utc(2026, 3, 30, 0, 30)};
    chain(synth_local, "30 2 * * *", utc(2026, 3, 28, 12, 0), want, 2);
  }
  {
    const int64_t want[] = {z_spring, utc(2026, 3, 30, 0, 0)};
    chain(synth_local, "0,30 2 * * *", utc(2026, 3, 28, 12, 0), want, 2);
  }
  {
    /* Wildcard jobs skip the gap's times. */
    const int64_t want[] = {utc(2026, 3, 29, 0, 30), z_spring,
                            utc(2026, 3, 29, 1, 30)};
    chain(synth_local, "*/30 * * * *", utc(2026, 3, 29, 0, 10), want, 3);
  }
  {
    /* The repeated hour: a fixed time runs at its first occurrence... */
    const int64_t want[] = {utc(2026, 10, 25, 0, 30),
                            utc(2026, 10, 26, 1, 30)};
    chain(synth_local, "30 2 * * *", utc(2026, 10, 24, 12, 0), want, 2);
  }
  {
    /* ...a wildcard one at both. */
    const int64_t want[] = {utc(2026, 10, 25, 0, 30), z_fall,
                            utc(2026, 10, 25, 1, 30),
                            utc(2026, 10, 25, 2, 0)};
    chain(synth_local, "*/30 * * * *", utc(2026, 10, 25, 0, 10), want, 4);
  }
  /* After the first 02:30 but before the second: not again. */
  CU_ASSERT_EQUAL(next_in(synth_local, "30 2 * * *", z_fall + 60),
                  utc(2026, 10, 26, 1, 30));
  /* Midnight in a gap: a zone whose clocks go from 00:00 to 01:00. */
  z_spring = utc(2026, 4, 24, 23, 0);   /* local 00:00 (+1) -> 01:00 */
  CU_ASSERT_EQUAL(next_in(synth_local, "@daily", utc(2026, 4, 24, 12, 0)),
                  z_spring);
  CU_ASSERT_EQUAL(next_in(synth_local, "0 */2 * * *",
                          utc(2026, 4, 24, 21, 30)),
                  utc(2026, 4, 25, 0, 0));    /* 02:00: 00:00 skipped */
  CU_ASSERT_EQUAL(next_in(synth_local, "0 */2 * * *",
                          utc(2026, 4, 25, 0, 0)),
                  utc(2026, 4, 25, 2, 0));    /* 04:00 */
  z_spring = z_fall = 0;
}

/* ---- real zones through the C library -------------------------------- */

static char *saved_tz;

static void set_tz(const char *tz) {
  if (tz)
    apr_env_set("TZ", tz, vg_test_pool);
  else
    apr_env_delete("TZ", vg_test_pool);
#ifdef _WIN32
  _tzset();
#else
  tzset();
#endif
}

/* Whether the C library knows `tz`: its offset in January. */
static int zone_ok(const char *tz, int jan_offset_h) {
  struct tm tm;
  int64_t t = utc(2026, 1, 15, 12, 0);
  set_tz(tz);
  return pal_localtime(t, &tm) == APR_SUCCESS &&
         tm.tm_hour == 12 + jan_offset_h;
}

static int cron_init(void) {
  char *tz = NULL;
  if (apr_env_get(&tz, "TZ", vg_test_pool) == APR_SUCCESS && tz)
    saved_tz = tz;
  return 0;
}

static int cron_clean(void) {
  set_tz(saved_tz);
  return 0;
}

static void test_next_berlin(void) {
  if (!zone_ok("Europe/Berlin", 1)) {
    printf("\n  SKIP: cron next_berlin: the C library does not know "
           "Europe/Berlin (no zoneinfo: install tzdata)%s\n",
#ifdef _WIN32
           "; the Windows C library reads no zoneinfo names"
#else
           ""
#endif
    );
    set_tz(saved_tz);
    return;
  }
  {
    /* 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC. */
    const int64_t want[] = {utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)};
    chain(NULL, "30 2 * * *", utc(2026, 3, 28, 12, 0), want, 2);
  }
  {
    const int64_t want[] = {utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1, 0),
                            utc(2026, 3, 29, 1, 15)};
    chain(NULL, "*/15 * * * *", utc(2026, 3, 29, 0, 40), want, 3);
  }
  {
    /* 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC. */
    const int64_t want[] = {utc(2026, 10, 25, 0, 30),
                            utc(2026, 10, 26, 1, 30)};
    chain(NULL, "30 2 * * *", utc(2026, 10, 24, 12, 0), want, 2);
  }
  {
    const int64_t want[] = {utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0),
                            utc(2026, 10, 25, 2, 0)};
    chain(NULL, "0 * * * *", utc(2026, 10, 24, 23, 30), want, 3);
  }
  /* A weekday schedule across the change keeps its local time. */
  CU_ASSERT_EQUAL(next_in(NULL, "0 9 * * mon", utc(2026, 3, 27, 0, 0)),
                  utc(2026, 3, 30, 7, 0));
  CU_ASSERT_EQUAL(next_in(NULL, "0 9 * * mon", utc(2026, 3, 20, 0, 0)),
                  utc(2026, 3, 23, 8, 0));
  set_tz(saved_tz);
}

static void test_next_new_york(void) {
  if (!zone_ok("America/New_York", -5)) {
    printf("\n  SKIP: cron next_new_york: the C library does not know "
           "America/New_York (no zoneinfo: install tzdata)\n");
    set_tz(saved_tz);
    return;
  }
  /* 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00 UTC. */
  CU_ASSERT_EQUAL(next_in(NULL, "30 2 * * *", utc(2026, 3, 7, 12, 0)),
                  utc(2026, 3, 8, 7, 0));
  CU_ASSERT_EQUAL(next_in(NULL, "30 2 * * *", utc(2026, 3, 8, 7, 0)),
                  utc(2026, 3, 9, 6, 30));
  {
    /* 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00 UTC. */
    const int64_t want[] = {utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)};
    chain(NULL, "30 1 * * *", utc(2026, 10, 31, 12, 0), want, 2);
  }
  /* In the second 01:xx, a fixed 01:30 already ran: tomorrow. */
  CU_ASSERT_EQUAL(next_in(NULL, "30 1 * * *", utc(2026, 11, 1, 6, 0)),
                  utc(2026, 11, 2, 6, 30));
  {
    /* Minute '*': a wildcard job, both 01:xx hours. */
    const int64_t want[] = {utc(2026, 11, 1, 5, 40), utc(2026, 11, 1, 6, 0),
                            utc(2026, 11, 1, 6, 20)};
    chain(NULL, "*/20 1 * * *", utc(2026, 11, 1, 5, 30), want, 3);
  }
  set_tz(saved_tz);
}

static CU_TestInfo cron_tests[] = {
    {"parse", test_parse},
    {"parse_errors", test_parse_errors},
    {"next_calendar", test_next_calendar},
    {"next_dst_synthetic", test_next_dst_synthetic},
    {"next_berlin", test_next_berlin},
    {"next_new_york", test_next_new_york},
    CU_TEST_INFO_NULL};

CU_SuiteInfo cron_suite = {
    .pName = "cron",
    .pInitFunc = cron_init,
    .pCleanupFunc = cron_clean,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = cron_tests};
