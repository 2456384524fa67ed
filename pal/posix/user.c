/*
 * user.c -- the user and group database for a spawn that switches user:
 * getpwnam_r, getgrnam_r and getgrouplist, run in the caller (never in
 * the child between fork and exec, where they are not async-signal-safe:
 * NSS may load modules, take locks and open sockets).
 */
#include "pal_posix.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

/* A decimal id ("0", "1000"): 1 and *id, else 0. */
static int parse_id(const char *s, long *id) {
  long v = 0;
  if (!*s)
    return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (LONG_MAX - 9) / 10)
      return 0;
    v = v * 10 + (*s - '0');
  }
  *id = v;
  return 1;
}

/* The buffer for the *_r calls: their own hint, grown on ERANGE up to
 * 1 MiB (a group with thousands of members). */
#define DB_BUF_MAX (1u << 20)

static size_t db_buf_size(int which) {
  long n = sysconf(which);
  return n > 0 && n < (long)DB_BUF_MAX ? (size_t)n : 16384;
}

/* One *_r lookup of NAME (a name or a decimal id) into `ent`, its
 * strings in *buf (malloc'ed, the caller frees it), the buffer grown on
 * ERANGE.  APR_SUCCESS with *found, APR_ENOENT when there is no such
 * entry, else the error (pal__last_call: `call`). */
typedef int (*db_fn)(const char *name, long id, int by_id, void *ent,
                     char *buf, size_t size, void **res);

static apr_status_t db_lookup(const char *name, int which, db_fn fn,
                              void *ent, char **buf, const char *call) {
  size_t size = db_buf_size(which);
  void *res = NULL;
  long id = 0;
  int by_id = parse_id(name, &id), e;

  *buf = NULL;
  for (;;) {
    char *b = realloc(*buf, size);
    if (!b)
      return APR_ENOMEM;
    *buf = b;
    e = fn(name, id, by_id, ent, b, size, &res);
    if (e != ERANGE || size >= DB_BUF_MAX)
      break;
    size *= 2;
  }
  /* "Not found" is 0 with no result, or one of the errors that glibc and
   * others report for it (POSIX lists none). */
  if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
    return res ? APR_SUCCESS : APR_ENOENT;
  pal__last_call = call;
  return pal_err_from_os(e);
}

static int pw_fn(const char *name, long id, int by_id, void *ent, char *buf,
                 size_t size, void **res) {
  return by_id ? getpwuid_r((uid_t)id, ent, buf, size, (struct passwd **)res)
               : getpwnam_r(name, ent, buf, size, (struct passwd **)res);
}

static int gr_fn(const char *name, long id, int by_id, void *ent, char *buf,
                 size_t size, void **res) {
  return by_id ? getgrgid_r((gid_t)id, ent, buf, size, (struct group **)res)
               : getgrnam_r(name, ent, buf, size, (struct group **)res);
}

apr_status_t pal_user_lookup(const char *name, pal_user_t *out,
                             apr_pool_t *pool) {
  struct passwd pw;
  char *buf;
  apr_status_t rv = db_lookup(name, _SC_GETPW_R_SIZE_MAX, pw_fn, &pw, &buf,
                              "getpwnam_r");
  if (rv == APR_SUCCESS) {
    out->uid = (long)pw.pw_uid;
    out->gid = (long)pw.pw_gid;
    out->name = apr_pstrdup(pool, pw.pw_name);
    out->home = apr_pstrdup(pool, pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
  }
  free(buf);
  return rv;
}

apr_status_t pal_group_lookup(const char *name, long *gid) {
  struct group gr;
  char *buf;
  apr_status_t rv = db_lookup(name, _SC_GETGR_R_SIZE_MAX, gr_fn, &gr, &buf,
                              "getgrnam_r");
  if (rv == APR_SUCCESS)
    *gid = (long)gr.gr_gid;
  free(buf);
  return rv;
}

/* getgrouplist's group type: int on macOS and the BSDs' older
 * prototype, gid_t elsewhere. */
#if defined(__APPLE__)
typedef int pal__grp_t;
#else
typedef gid_t pal__grp_t;
#endif

apr_status_t pal_user_groups(const char *name, long gid, long **groups,
                             int *n, apr_pool_t *pool) {
  int cap = 64, got, i;
  pal__grp_t *list = NULL;
  long max = sysconf(_SC_NGROUPS_MAX);

  if (max <= 0)
    max = 65536;
  for (;;) {
    pal__grp_t *l = realloc(list, (size_t)cap * sizeof *l);
    if (!l) {
      free(list);
      return APR_ENOMEM;
    }
    list = l;
    got = cap;
    if (getgrouplist(name, (pal__grp_t)gid, list, &got) >= 0)
      break;
    /* Too small: glibc says how many it needs in got; others do not. */
    if (cap >= max + 1) {
      got = cap;   /* more than the kernel takes: keep what fits */
      break;
    }
    cap = got > cap ? got : cap * 2;
    if (cap > max + 1)
      cap = (int)max + 1;
  }
  if (got > max)
    got = (int)max;
  *groups = apr_palloc(pool, (size_t)(got > 0 ? got : 1) * sizeof **groups);
  for (i = 0; i < got; i++)
    (*groups)[i] = (long)list[i];
  *n = got;
  free(list);
  return APR_SUCCESS;
}
