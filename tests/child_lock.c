/*
 * child_lock.c -- child modes for the lockfile suite.  fcntl locks never
 * conflict within one process, so contention needs a second process:
 *
 *   lock-hold PATH   acquire PATH, print "locked PID\n" on stdout, then
 *                    wait until stdin reaches EOF (or the process is
 *                    killed); release and exit 0.  Exit 3 if the lock is
 *                    held elsewhere, 4 on another error.
 *   lock-try PATH    try once: exit 0 if acquired (then release), 3 with
 *                    "holder PID\n" on stdout if VG_ELOCKED, 4 otherwise.
 */
#include <stdio.h>

#include <apr_file_io.h>
#include <apr_pools.h>

#include "test.h"

static int child_lock_hold(int argc, char **argv) {
  vg_lockfile_t *lock;
  apr_pool_t *pool;
  apr_file_t *in;
  apr_status_t rv;
  long holder = 0;
  char buf[64];
  apr_size_t n;

  if (argc < 2)
    return 2;
  apr_pool_create(&pool, NULL);
  rv = vg_lockfile_acquire(&lock, argv[1], pool, &holder);
  if (rv == VG_ELOCKED) {
    printf("holder %ld\n", holder);
    fflush(stdout);
    return 3;
  }
  if (rv != APR_SUCCESS)
    return 4;
  printf("locked %ld\n", pal_getpid());
  fflush(stdout);

  if (apr_file_open_stdin(&in, pool) == APR_SUCCESS) {
    do {
      n = sizeof(buf);
      rv = apr_file_read(in, buf, &n);
    } while (rv == APR_SUCCESS || APR_STATUS_IS_EINTR(rv));
  }
  vg_lockfile_release(lock);
  apr_pool_destroy(pool);
  return 0;
}

static int child_lock_try(int argc, char **argv) {
  vg_lockfile_t *lock;
  apr_pool_t *pool;
  apr_status_t rv;
  long holder = 0;

  if (argc < 2)
    return 2;
  apr_pool_create(&pool, NULL);
  rv = vg_lockfile_acquire(&lock, argv[1], pool, &holder);
  if (rv == APR_SUCCESS) {
    vg_lockfile_release(lock);
    apr_pool_destroy(pool);
    return 0;
  }
  apr_pool_destroy(pool);
  if (rv == VG_ELOCKED) {
    printf("holder %ld\n", holder);
    fflush(stdout);
    return 3;
  }
  return 4;
}

const vg_child_mode_t vg_child_lock_modes[] = {
  {"lock-hold", child_lock_hold},
  {"lock-try", child_lock_try},
  {NULL, NULL}
};
