/*
 * lockfile.c -- single-instance lock: an exclusive, non-blocking lock on
 * a file that also records the holder's pid.
 *
 * The lock is apr_file_lock(APR_FLOCK_EXCLUSIVE | APR_FLOCK_NONBLOCK):
 * fcntl(F_SETLK) record locks on POSIX, LockFileEx on Windows.  The OS
 * drops it when the holder dies, so a stale file never blocks a restart.
 *
 * Invariants and the traps they avoid:
 *   - The descriptor is close-on-exec, so children spawned by the PAL do
 *     not inherit it.  apr_file_open() opens with O_CLOEXEC on Unix unless
 *     APR_FOPEN_NOCLEANUP is given (checked with APR 1.7: F_GETFD reports
 *     FD_CLOEXEC for a default open, not with NOCLEANUP); we never pass
 *     NOCLEANUP and never call apr_file_inherit_set().  (fcntl locks are
 *     not inherited across fork anyway, but a leaked descriptor would keep
 *     the file open in the child.)
 *   - fcntl locks belong to the process, and closing ANY descriptor of the
 *     file drops them.  So a second acquisition of the same file within
 *     one process must never open it: a process-wide registry of held
 *     locks, keyed by (device, inode), answers VG_ELOCKED with our own pid
 *     before any open.  That also makes POSIX behave like Windows, where
 *     LockFileEx conflicts between handles of one process.
 *   - Release removes the file while still holding the lock.  Someone who
 *     opened the old file just before may then lock the unlinked inode;
 *     acquire therefore re-checks, after locking, that `path` still names
 *     the inode it locked, and starts over if not.
 *   - The pid is written after locking, truncating first; a holder read
 *     during that window reports 0 ("unknown").
 *
 * Memory: each lock lives in its own subpool of the caller's pool, with a
 * cleanup that releases it; vg_lockfile_release() runs that cleanup and
 * destroys the subpool, and destroying the parent pool releases it too.
 */
#include <stdio.h>
#include <stdlib.h>

#include <apr_atomic.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include "internal.h"

#define VG__LOCK_TRIES 8        /* acquire attempts against unlink races */

struct vg_lockfile_s {
  apr_pool_t *pool;             /* own subpool */
  apr_file_t *file;
  const char *path;
  apr_dev_t dev;
  apr_ino_t ino;
  int have_ident;               /* dev/ino valid (not on every OS) */
  vg_lockfile_t *next;          /* registry link */
};

/* The process-wide registry.  Its mutex is created on first use in a
 * child of APR's global pool; apr_terminate() destroys it, and the pool
 * cleanup forgets it so a later apr_initialize() starts afresh. */
static apr_thread_mutex_t *volatile registry_mu;
static vg_lockfile_t *registry;

static apr_status_t registry_forget(void *data) {
  (void)data;
  registry_mu = NULL;
  registry = NULL;
  return APR_SUCCESS;
}

static apr_status_t registry_lock(void) {
  apr_thread_mutex_t *mu;
  apr_pool_t *pool;
  apr_status_t rv;

  mu = apr_atomic_casptr((volatile void **)&registry_mu, NULL, NULL);
  if (mu == NULL) {
    rv = apr_pool_create(&pool, NULL);
    if (rv != APR_SUCCESS)
      return rv;
    rv = apr_thread_mutex_create(&mu, APR_THREAD_MUTEX_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
      apr_pool_destroy(pool);
      return rv;
    }
    if (apr_atomic_casptr((volatile void **)&registry_mu, mu, NULL) !=
        NULL) {
      apr_pool_destroy(pool);    /* another thread won the race */
      mu = apr_atomic_casptr((volatile void **)&registry_mu, NULL, NULL);
    } else {
      apr_pool_cleanup_register(pool, NULL, registry_forget,
                                apr_pool_cleanup_null);
    }
  }
  return apr_thread_mutex_lock(mu);
}

static void registry_unlock(void) {
  apr_thread_mutex_unlock(registry_mu);
}

/* Identity of the file at path.  APR_SUCCESS with *have = 0 where the OS
 * cannot tell (then no in-process check happens). */
static apr_status_t ident_of_path(const char *path, apr_dev_t *dev,
                                  apr_ino_t *ino, int *have,
                                  apr_pool_t *pool) {
  apr_finfo_t fi;
  apr_status_t rv;

  *have = 0;
  rv = apr_stat(&fi, path, APR_FINFO_IDENT, pool);
  if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
    return rv;
  if ((fi.valid & APR_FINFO_IDENT) == APR_FINFO_IDENT) {
    *dev = fi.device;
    *ino = fi.inode;
    *have = 1;
  }
  return APR_SUCCESS;
}

static int ident_of_file(apr_file_t *f, apr_dev_t *dev, apr_ino_t *ino) {
  apr_finfo_t fi;
  apr_status_t rv;

  rv = apr_file_info_get(&fi, APR_FINFO_IDENT, f);
  if ((rv != APR_SUCCESS && rv != APR_INCOMPLETE) ||
      (fi.valid & APR_FINFO_IDENT) != APR_FINFO_IDENT)
    return 0;
  *dev = fi.device;
  *ino = fi.inode;
  return 1;
}

static vg_lockfile_t *registry_find(apr_dev_t dev, apr_ino_t ino) {
  vg_lockfile_t *l;

  for (l = registry; l != NULL; l = l->next)
    if (l->have_ident && l->dev == dev && l->ino == ino)
      return l;
  return NULL;
}

/* The pid recorded in an open lock file, or 0. */
static long read_pid(apr_file_t *f) {
  char buf[32];
  apr_size_t n = sizeof(buf) - 1;
  apr_off_t off = 0;
  char *end;
  long pid;

  if (apr_file_seek(f, APR_SET, &off) != APR_SUCCESS)
    return 0;
  if (apr_file_read(f, buf, &n) != APR_SUCCESS)
    return 0;
  buf[n] = '\0';
  pid = strtol(buf, &end, 10);
  if (end == buf || pid <= 0)
    return 0;
  return pid;
}

static apr_status_t write_pid(apr_file_t *f) {
  char buf[32];
  apr_off_t off = 0;
  apr_status_t rv;
  int n;

  n = snprintf(buf, sizeof(buf), "%ld\n", pal_getpid());
  rv = apr_file_trunc(f, 0);
  if (rv == APR_SUCCESS)
    rv = apr_file_seek(f, APR_SET, &off);
  if (rv == APR_SUCCESS)
    rv = apr_file_write_full(f, buf, (apr_size_t)n, NULL);
  if (rv == APR_SUCCESS)
    rv = apr_file_flush(f);
  return rv;
}

/* Pool cleanup, also run by vg_lockfile_release(): unregister, remove the
 * file while still locked, unlock, close. */
static apr_status_t lockfile_cleanup(void *data) {
  vg_lockfile_t *lock = data;
  vg_lockfile_t **link;
  apr_status_t rv, rv2;

  if (registry_lock() == APR_SUCCESS) {
    for (link = &registry; *link != NULL; link = &(*link)->next)
      if (*link == lock) {
        *link = lock->next;
        break;
      }
    registry_unlock();
  }
  rv = apr_file_remove(lock->path, lock->pool);
  if (APR_STATUS_IS_ENOENT(rv))
    rv = APR_SUCCESS;
  rv2 = apr_file_unlock(lock->file);
  if (rv == APR_SUCCESS)
    rv = rv2;
  rv2 = apr_file_close(lock->file);
  if (rv == APR_SUCCESS)
    rv = rv2;
  return rv;
}

/* One attempt, with the registry locked.  APR_EAGAIN: the file was
 * replaced under us, try again. */
static apr_status_t try_acquire(vg_lockfile_t *lock, long *holder_pid) {
  apr_dev_t dev, dev2;
  apr_ino_t ino, ino2;
  apr_status_t rv;
  int have;

  rv = ident_of_path(lock->path, &dev, &ino, &have, lock->pool);
  if (rv == APR_SUCCESS && have && registry_find(dev, ino) != NULL) {
    if (holder_pid != NULL)
      *holder_pid = pal_getpid();
    return VG_ELOCKED;
  }

  rv = apr_file_open(&lock->file, lock->path,
                     APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                     APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD |
                         APR_FPROT_WREAD,
                     lock->pool);
  if (rv != APR_SUCCESS)
    return rv;
  rv = apr_file_lock(lock->file, APR_FLOCK_EXCLUSIVE | APR_FLOCK_NONBLOCK);
  if (rv != APR_SUCCESS) {
    if (APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_EACCES(rv) ||
        APR_STATUS_IS_EBUSY(rv)) {
      if (holder_pid != NULL)
        *holder_pid = read_pid(lock->file);
      rv = VG_ELOCKED;
    }
    goto fail_close;
  }
  /* Still the file that `path` names?  (Release unlinks under lock.) */
  lock->have_ident = ident_of_file(lock->file, &lock->dev, &lock->ino);
  if (lock->have_ident) {
    rv = ident_of_path(lock->path, &dev2, &ino2, &have, lock->pool);
    if (APR_STATUS_IS_ENOENT(rv) ||
        (rv == APR_SUCCESS && have &&
         (dev2 != lock->dev || ino2 != lock->ino))) {
      rv = APR_EAGAIN;          /* unlinked or replaced meanwhile */
      goto fail_unlock;
    }
    if (rv != APR_SUCCESS)
      goto fail_unlock;
  }
  rv = write_pid(lock->file);
  if (rv != APR_SUCCESS)
    goto fail_unlock;
  return APR_SUCCESS;

fail_unlock:
  apr_file_unlock(lock->file);
fail_close:
  apr_file_close(lock->file);
  lock->file = NULL;
  return rv;
}

apr_status_t vg_lockfile_acquire(vg_lockfile_t **lockp, const char *path,
                                 apr_pool_t *pool, long *holder_pid) {
  vg_lockfile_t *lock;
  apr_pool_t *sub;
  apr_status_t rv;
  int tries;

  if (lockp == NULL || path == NULL || pool == NULL)
    return APR_EINVAL;
  *lockp = NULL;
  if (holder_pid != NULL)
    *holder_pid = 0;

  rv = apr_pool_create(&sub, pool);
  if (rv != APR_SUCCESS)
    return rv;
  lock = apr_pcalloc(sub, sizeof(*lock));
  lock->pool = sub;
  lock->path = apr_pstrdup(sub, path);

  rv = registry_lock();
  if (rv != APR_SUCCESS)
    goto fail_pool;
  tries = 0;
  do
    rv = try_acquire(lock, holder_pid);
  while (rv == APR_EAGAIN && ++tries < VG__LOCK_TRIES);
  if (rv == APR_EAGAIN)
    rv = VG_ELOCKED;            /* others keep replacing it: contended */
  if (rv == APR_SUCCESS) {
    lock->next = registry;
    registry = lock;
  }
  registry_unlock();
  if (rv != APR_SUCCESS)
    goto fail_pool;

  /* Registered after apr_file_open()'s own cleanup, so it runs first. */
  apr_pool_cleanup_register(sub, lock, lockfile_cleanup,
                            apr_pool_cleanup_null);
  *lockp = lock;
  return APR_SUCCESS;

fail_pool:
  apr_pool_destroy(sub);
  return rv;
}

apr_status_t vg_lockfile_release(vg_lockfile_t *lock) {
  apr_status_t rv;

  if (lock == NULL)
    return APR_EINVAL;
  rv = apr_pool_cleanup_run(lock->pool, lock, lockfile_cleanup);
  apr_pool_destroy(lock->pool);
  return rv;
}
