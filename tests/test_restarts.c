/*
 * test_restarts.c -- the restarts of the max-restarts window
 * (services/restarts.c), with times given, not waited for: the edge of
 * the window, the limit reached exactly, and a max-restarts of a million
 * in bounded memory.
 */
#include <stdint.h>

#include "test.h"
#include "../services/svc_int.h"

/* What schedule_restart() does on each exit at time now: fatal (1) when
 * max restarts already happened within the window, else one more. */
static int exit_at(svc_restarts_t *h, uint64_t now) {
  if (svc_restarts_recent(h, now) >= h->max)
    return 1;
  svc_restarts_add(h, now);
  return 0;
}

static size_t bytes_of(const svc_restarts_t *h) {
  return sizeof *h + (h->times ? h->max * sizeof *h->times : 0) +
         (h->counts ? SVC_RESTARTS_SLICES * sizeof *h->counts : 0);
}

/* Exactly max-restarts within the window, then one more: fatal, at both
 * sizes (exact times, slices). */
static void test_limit_exact(void) {
  static const unsigned maxes[] = {1, 3, SVC_RESTARTS_EXACT,
                                   SVC_RESTARTS_EXACT + 1, 1000, 1000000};
  size_t k;
  for (k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
    svc_restarts_t h;
    unsigned i, max = maxes[k];
    uint64_t window = 3600000, t = 5000000;   /* 1 h */
    CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, max, window), APR_SUCCESS);
    for (i = 0; i < max; i++)
      CU_ASSERT_EQUAL(exit_at(&h, t + i % 1000), 0);
    CU_ASSERT_EQUAL(svc_restarts_recent(&h, t + 1000), max);
    CU_ASSERT_EQUAL(exit_at(&h, t + 1000), 1);
    /* Still so at the last ms of the first one's window (with slices,
     * up to a slice earlier: the one the window's start falls in is not
     * counted). */
    CU_ASSERT_EQUAL(exit_at(&h, t + window - (h.width ? h.width : 1)), 1);
    /* And not once the window has passed them all. */
    CU_ASSERT_EQUAL(svc_restarts_recent(&h, t + 999 + window), 0);
    svc_restarts_free(&h);
  }
}

/* Restarts spaced so that the window never holds max-restarts of them
 * (each max-th one exactly a window after the first of its group, which
 * `now - t < window` leaves out) never turn fatal, however many. */
static void test_spaced_never_fatal(void) {
  static const unsigned maxes[] = {1, 3, SVC_RESTARTS_EXACT + 1, 100000};
  size_t k;
  for (k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
    svc_restarts_t h;
    unsigned max = maxes[k], i, burst;
    uint64_t window = 1000, t = 123456;
    int fatal = 0;
    CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, max, window), APR_SUCCESS);
    /* Bursts of max restarts at the same ms, one window apart. */
    for (burst = 0; burst < 50 && !fatal; burst++)
      for (i = 0; i < max && !fatal; i++)
        fatal = exit_at(&h, t + burst * window);
    CU_ASSERT_EQUAL(fatal, 0);
    svc_restarts_free(&h);
    /* One restart every window / max ms (rounded up): never more than
     * max within any window. */
    CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, max, window), APR_SUCCESS);
    if (max <= window) {
      uint64_t step = (window + max - 1) / max;
      for (i = 0; i < 20 * max + 100 && !fatal; i++)
        fatal = exit_at(&h, t + i * step);
      CU_ASSERT_EQUAL(fatal, 0);
    }
    svc_restarts_free(&h);
  }
}

/* max-restarts of a million: 256 bytes of slices, and a crash loop of a
 * restart a ms still turns fatal, having made at least a million
 * restarts within the window and at most one slice's worth more. */
static void test_huge_max_small_memory(void) {
  svc_restarts_t h;
  uint64_t window = 3600000, t = 0, slice = window / SVC_RESTARTS_SLICES;
  unsigned n = 0;
  CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, 1000000, window),
                        APR_SUCCESS);
  CU_ASSERT(bytes_of(&h) <= 512);
  CU_ASSERT(h.times == NULL);
  while (!exit_at(&h, t) && n < 3000000) {
    n++;
    t++;
  }
  CU_ASSERT(n >= 1000000);
  CU_ASSERT(n <= 1000000 + slice + 1);
  CU_ASSERT(bytes_of(&h) <= 512);
  svc_restarts_free(&h);
  /* The exact ring never holds more than SVC_RESTARTS_EXACT times. */
  CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, SVC_RESTARTS_EXACT, 1000),
                        APR_SUCCESS);
  CU_ASSERT(bytes_of(&h) <= 512 + sizeof h);
  svc_restarts_free(&h);
}

/* A service that never restarts costs no history, whatever max-restarts
 * is: it is allocated at the first restart. */
static void test_allocated_at_first_restart(void) {
  static const unsigned maxes[] = {1, SVC_RESTARTS_EXACT, 1000000};
  size_t k;
  for (k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
    svc_restarts_t h;
    CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, maxes[k], 1000),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL(bytes_of(&h), sizeof h);
    CU_ASSERT_EQUAL(svc_restarts_recent(&h, 5000), 0);
    CU_ASSERT_EQUAL(svc_restarts_add(&h, 5000), APR_SUCCESS);
    CU_ASSERT(bytes_of(&h) > sizeof h);
    CU_ASSERT_EQUAL(svc_restarts_recent(&h, 5000), 1);
    svc_restarts_free(&h);
  }
}

/* Old restarts leave the window; reset forgets; a reload keeps exact
 * times for a new window and starts over for a new max-restarts. */
static void test_expiry_reset_config(void) {
  svc_restarts_t h;
  unsigned i;
  CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, 1000, 60000), APR_SUCCESS);
  for (i = 0; i < 1000; i++)
    svc_restarts_add(&h, 10000 + i);
  CU_ASSERT_EQUAL(svc_restarts_recent(&h, 20000), 1000);
  CU_ASSERT_EQUAL(svc_restarts_recent(&h, 10000 + 60000 + 1000), 0);
  /* A restart long after: the old slices are gone. */
  svc_restarts_add(&h, 10000000);
  CU_ASSERT_EQUAL(svc_restarts_recent(&h, 10000000), 1);
  svc_restarts_reset(&h);
  CU_ASSERT_EQUAL(svc_restarts_recent(&h, 10000000), 0);
  svc_restarts_free(&h);

  CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, 3, 10000), APR_SUCCESS);
  svc_restarts_add(&h, 1000);
  svc_restarts_add(&h, 2000);
  CU_ASSERT_EQUAL(svc_restarts_config(&h, 3, 500), APR_SUCCESS);
  CU_ASSERT_EQUAL(svc_restarts_recent(&h, 2100), 1);
  CU_ASSERT_EQUAL(svc_restarts_config(&h, 1000000, 500), APR_SUCCESS);
  CU_ASSERT_EQUAL(svc_restarts_recent(&h, 2100), 0);
  svc_restarts_free(&h);

  /* max-restarts="0": nothing is kept, the first exit is fatal. */
  CU_ASSERT_EQUAL_FATAL(svc_restarts_init(&h, 0, 1000), APR_SUCCESS);
  CU_ASSERT_EQUAL(exit_at(&h, 5), 1);
  svc_restarts_free(&h);
}

static CU_TestInfo restarts_tests[] = {
  {"max-restarts within the window, then one more: fatal", test_limit_exact},
  {"restarts spaced just outside the window: never fatal",
   test_spaced_never_fatal},
  {"max-restarts of a million in 256 bytes", test_huge_max_small_memory},
  {"expiry, reset, and a reload's new settings", test_expiry_reset_config},
  {"no history before the first restart", test_allocated_at_first_restart},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo restarts_suite = {
  .pName = "restarts",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = restarts_tests
};
