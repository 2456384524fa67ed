/*
 * child_logfile.c -- child modes for the logfile suite
 * (`run_tests --child NAME ARGS...`).
 *
 *   log-lines N [out|err|both]   write N lines "out I\n" to stdout and/or
 *                                "err I\n" to stderr (I = 0..N-1, one
 *                                write per line, alternating with both),
 *                                then exit 0 at once: whatever is still in
 *                                the pipes must be drained by the reader.
 *
 * Only APR is used, so the mode behaves the same on Windows (APR files
 * are binary: no "\r\n" translation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_pools.h>

#include "test.h"

extern const vg_child_mode_t vg_child_logfile_modes[];

static int child_log_lines(int argc, char **argv) {
  apr_pool_t *pool;
  apr_file_t *out = NULL, *err = NULL;
  unsigned long n, i;
  const char *which = argc > 2 ? argv[2] : "out";
  char line[64];

  if (argc < 2) {
    fprintf(stderr, "child log-lines: needs N\n");
    return 125;
  }
  n = strtoul(argv[1], NULL, 10);
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return 124;
  if (strcmp(which, "err") != 0 &&
      apr_file_open_stdout(&out, pool) != APR_SUCCESS)
    return 124;
  if (strcmp(which, "out") != 0 &&
      apr_file_open_stderr(&err, pool) != APR_SUCCESS)
    return 124;
  for (i = 0; i < n; i++) {
    int len;
    if (out) {
      len = snprintf(line, sizeof line, "out %lu\n", i);
      if (apr_file_write_full(out, line, (apr_size_t)len, NULL))
        return 1;
    }
    if (err) {
      len = snprintf(line, sizeof line, "err %lu\n", i);
      if (apr_file_write_full(err, line, (apr_size_t)len, NULL))
        return 1;
    }
  }
  return 0;
}

const vg_child_mode_t vg_child_logfile_modes[] = {
    {"log-lines", child_log_lines},
    {NULL, NULL}};
