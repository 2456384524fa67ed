/*
 * errors.c -- the list of configuration problems and its formatting.
 *
 * Invariants:
 *   - A problem is recorded once: the same (file, line, message) again is
 *     dropped.  Instances load the same XML several times, and the
 *     validator and the structural walk may see the same thing.
 *   - Files are numbered in the order they are first named, so sorting
 *     keeps the main file first and included files in inclusion order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "vigil.h"
#include "cfg_int.h"

const char *cfg_strerror(apr_status_t rv, char *buf, size_t size) {
  if (rv == CFG_EINVALID) {
    apr_cpystrn(buf, "invalid configuration", size);
    return buf;
  }
  return vg_strerror(rv, buf, size);
}

cfg_errors_t *cfg_errors_create(apr_pool_t *pool) {
  cfg_errors_t *errs = apr_pcalloc(pool, sizeof(*errs));
  errs->pool = pool;
  errs->items = apr_array_make(pool, 8, sizeof(cfg_error_t));
  errs->seen = apr_hash_make(pool);
  errs->keys = apr_hash_make(pool);
  errs->files = apr_hash_make(pool);
  return errs;
}

void cfg_errors_add(cfg_errors_t *errs, const char *file, int line,
                    const char *fmt, ...) {
  va_list ap;
  char *msg, *key;
  size_t n;
  cfg_error_t *e;

  if (!errs)
    return;
  if (!file)
    file = "";
  va_start(ap, fmt);
  msg = apr_pvsprintf(errs->pool, fmt, ap);
  va_end(ap);
  /* Messages are single lines without a trailing newline or period
   * (libxml2's end in "\n"). */
  n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' ||
                   msg[n - 1] == ' '))
    msg[--n] = '\0';
  for (key = msg; *key; key++)
    if (*key == '\n' || *key == '\r')
      *key = ' ';

  /* \x1f (unit separator) cannot be confused with text in a message. */
  key = apr_psprintf(errs->pool, "%s\x1f%d\x1f%s", file, line, msg);
  if (apr_hash_get(errs->seen, key, APR_HASH_KEY_STRING))
    return;
  apr_hash_set(errs->seen, key, APR_HASH_KEY_STRING, key);
  if (!apr_hash_get(errs->files, file, APR_HASH_KEY_STRING)) {
    int *order = apr_palloc(errs->pool, sizeof(*order));
    *order = (int)apr_hash_count(errs->files) + 1;
    apr_hash_set(errs->files, apr_pstrdup(errs->pool, file),
                 APR_HASH_KEY_STRING, order);
  }
  e = apr_array_push(errs->items);
  e->file = apr_pstrdup(errs->pool, file);
  e->line = line;
  e->message = msg;
}

void cfg__errors_mark(cfg_errors_t *errs, const char *key) {
  apr_hash_set(errs->keys, apr_pstrdup(errs->pool, key), APR_HASH_KEY_STRING,
               "");
}

int cfg__errors_marked(const cfg_errors_t *errs, const char *key) {
  return apr_hash_get(errs->keys, key, APR_HASH_KEY_STRING) != NULL;
}

int cfg_errors_count(const cfg_errors_t *errs) {
  return errs ? errs->items->nelts : 0;
}

const cfg_error_t *cfg_errors_get(const cfg_errors_t *errs, int i) {
  if (!errs || i < 0 || i >= errs->items->nelts)
    return NULL;
  return &APR_ARRAY_IDX(errs->items, i, cfg_error_t);
}

static int file_order(const cfg_errors_t *errs, const char *file) {
  int *o = apr_hash_get(errs->files, file, APR_HASH_KEY_STRING);
  return o ? *o : 0;
}

void cfg_errors_sort(cfg_errors_t *errs) {
  cfg_error_t *a, tmp;
  int i, j;

  if (!errs)
    return;
  /* Insertion sort: stable, and lists are short. */
  a = (cfg_error_t *)errs->items->elts;
  for (i = 1; i < errs->items->nelts; i++) {
    tmp = a[i];
    for (j = i - 1; j >= 0; j--) {
      int fa = file_order(errs, a[j].file), fb = file_order(errs, tmp.file);
      if (fa < fb || (fa == fb && a[j].line <= tmp.line))
        break;
      a[j + 1] = a[j];
    }
    a[j + 1] = tmp;
  }
}

const char *cfg_error_format(const cfg_error_t *err, apr_pool_t *pool) {
  if (err->line > 0)
    return apr_psprintf(pool, "%s:%d: error: %s", err->file, err->line,
                        err->message);
  return apr_psprintf(pool, "%s: error: %s", err->file, err->message);
}

apr_status_t cfg_errors_print(const cfg_errors_t *errs, apr_file_t *out) {
  apr_pool_t *tmp;
  apr_status_t rv = APR_SUCCESS;
  int i;

  if (!errs)
    return APR_SUCCESS;
  rv = apr_pool_create(&tmp, errs->pool);
  if (rv != APR_SUCCESS)
    return rv;
  for (i = 0; i < errs->items->nelts && rv == APR_SUCCESS; i++) {
    const char *line = apr_pstrcat(
        tmp, cfg_error_format(cfg_errors_get(errs, i), tmp), "\n", NULL);
    rv = apr_file_write_full(out, line, strlen(line), NULL);
  }
  apr_pool_destroy(tmp);
  return rv;
}
