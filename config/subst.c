/*
 * subst.c -- ${VAR}, ${VAR:-default} and Windows' %VAR% substitution (the
 * one place where values are expanded; see cfg.h and config/README.md
 * for the syntax).
 *
 * The expander is a small recursive-descent parser over the value:
 * expand() copies text to the output until the end of the string or, in
 * a default, the '}' that closes it.  A default is parsed even when it is
 * not used, so that its syntax errors are found whatever the environment
 * is; only "not set" errors depend on the environment, and are reported
 * only for references whose value is needed.  After a problem, expansion
 * goes on, so one value can report several.
 *
 * %NAME% is read on every platform, so that one file serves both; it
 * has no default form, and a '%' that does not open a %NAME% stays as it
 * is, as cmd.exe leaves it: "50%" (cpu="50%"), "%1", "%(name)s".  Names
 * are looked up as given: the Windows environment is case-insensitive
 * itself (apr_env_get is GetEnvironmentVariableW there), so %path% finds
 * Path, with either form.
 */
#include <string.h>

#include <apr_env.h>
#include <apr_strings.h>

#include "cfg_int.h"

#define CFG__SUBST_DEPTH 8      /* nested ${A:-${B:-...}} */

typedef struct {
  cfg_getenv_fn lookup;
  void *baton;
  apr_pool_t *pool;
  cfg__subst_err_fn on_err;
  void *err_baton;
  const char *base;             /* start of the input, for offsets */
  int failed;
} sctx_t;

static void fail(sctx_t *c, const char *at, const char *msg) {
  c->failed = 1;
  if (c->on_err)
    c->on_err(c->err_baton, (size_t)(at - c->base), msg);
}

static const char *env_default(void *baton, const char *name,
                               apr_pool_t *pool) {
  char *v = NULL;
  (void)baton;
  if (apr_env_get(&v, name, pool) != APR_SUCCESS)
    return NULL;
  return v;
}

static int name_start(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static int name_char(char ch) {
  return name_start(ch) || (ch >= '0' && ch <= '9');
}

/* %NAME% also allows the parentheses of %ProgramFiles(x86)%. */
static int pct_name_char(char ch) {
  return name_char(ch) || ch == '(' || ch == ')';
}

static void put(apr_array_header_t *out, const char *s, size_t n) {
  size_t i;
  if (!out)
    return;
  for (i = 0; i < n; i++)
    *(char *)apr_array_push(out) = s[i];
}

/* The reference starting at `dollar` up to its '}' (or the end), quoted
 * for a message. */
static const char *ref_text(sctx_t *c, const char *dollar) {
  const char *end = strchr(dollar, '}');
  size_t n = end ? (size_t)(end - dollar) + 1 : strlen(dollar);
  if (n > 40)
    return apr_pstrcat(c->pool, apr_pstrmemdup(c->pool, dollar, 37), "...",
                       NULL);
  return apr_pstrmemdup(c->pool, dollar, n);
}

/* The value of variable `name`, referred to at `at`, into out; if it is
 * not set, an error when `need`s it. */
static void put_var(sctx_t *c, const char *at, const char *name, int need,
                    apr_array_header_t *out) {
  const char *v = c->lookup(c->baton, name, c->pool);
  if (v) {
    put(out, v, strlen(v));
  } else if (need) {
    fail(c, at,
         apr_psprintf(c->pool, "environment variable '%s' is not set%s",
                      name,
                      *at == '%' ? " (a literal '%' is written '%%')" : ""));
  }
}

/* At p, a '%': "%%" is a literal '%', "%NAME%" a variable; any other '%'
 * is itself.  Returns where to go on. */
static const char *percent(sctx_t *c, const char *p, int need,
                           apr_array_header_t *out) {
  const char *q = p + 1;
  if (*q == '%') {
    put(out, "%", 1);
    return p + 2;
  }
  if (name_start(*q)) {
    while (pct_name_char(*q))
      q++;
    if (*q == '%') {
      put_var(c, p, apr_pstrmemdup(c->pool, p + 1, (size_t)(q - p - 1)),
              need, out);
      return q + 1;
    }
  }
  put(out, "%", 1);
  return p + 1;
}

/* Expand from p into out (NULL: parse only) until the end of the string
 * or, when in_default, an unmatched '}'.  need: the value is used, so an
 * unset variable is an error.  Returns where it stopped. */
static const char *expand(sctx_t *c, const char *p, int in_default, int need,
                          int depth, apr_array_header_t *out) {
  while (*p) {
    const char *dollar, *q, *name, *v;

    if (in_default && *p == '}')
      return p;
    if (*p == '%') {
      p = percent(c, p, need, out);
      continue;
    }
    if (*p != '$' || (p[1] != '$' && p[1] != '{')) {
      put(out, p, 1);
      p++;
      continue;
    }
    if (p[1] == '$') {
      put(out, "$", 1);
      p += 2;
      continue;
    }
    /* ${ */
    dollar = p;
    q = p + 2;
    if (!name_start(*q)) {
      const char *close = strchr(q, '}');
      if (!close) {
        fail(c, dollar, apr_psprintf(c->pool, "unterminated '%s'",
                                     ref_text(c, dollar)));
        return q + strlen(q);
      }
      fail(c, dollar, apr_psprintf(c->pool,
                                   "bad variable reference '%s': a name is "
                                   "letters, digits and '_', not starting "
                                   "with a digit",
                                   ref_text(c, dollar)));
      p = close + 1;
      continue;
    }
    while (name_char(*q))
      q++;
    name = apr_pstrmemdup(c->pool, dollar + 2, (size_t)(q - dollar - 2));

    if (*q == '}') {
      put_var(c, dollar, name, need, out);
      p = q + 1;
      continue;
    }
    if (q[0] == ':' && q[1] == '-') {
      const char *end;
      int use_default;
      if (depth >= CFG__SUBST_DEPTH) {
        fail(c, dollar, "defaults nested too deeply");
        return q + strlen(q);
      }
      v = c->lookup(c->baton, name, c->pool);
      use_default = !v || !*v;
      if (!use_default)
        put(out, v, strlen(v));
      end = expand(c, q + 2, 1, need && use_default, depth + 1,
                   use_default ? out : NULL);
      if (*end != '}') {
        fail(c, dollar, apr_psprintf(c->pool, "unterminated '${%s:-'",
                                     name));
        return end;
      }
      p = end + 1;
      continue;
    }
    if (*q == '\0') {
      fail(c, dollar, apr_psprintf(c->pool, "unterminated '${%s'", name));
      return q;
    }
    {
      const char *close = strchr(q, '}');
      fail(c, dollar,
           apr_psprintf(c->pool,
                        "bad variable reference '%s': expected ${NAME} or "
                        "${NAME:-DEFAULT}",
                        ref_text(c, dollar)));
      if (!close)
        return q + strlen(q);
      p = close + 1;
    }
  }
  return p;
}

apr_status_t cfg__subst_all(const char **out, const char *in,
                            cfg_getenv_fn lookup, void *baton,
                            apr_pool_t *pool, cfg__subst_err_fn on_err,
                            void *err_baton) {
  sctx_t c;
  apr_array_header_t *buf;

  if (!in)
    return APR_EINVAL;
  if (!strpbrk(in, "$%")) {     /* the common case: nothing to do */
    *out = in;
    return APR_SUCCESS;
  }
  memset(&c, 0, sizeof(c));
  c.lookup = lookup ? lookup : env_default;
  c.baton = baton;
  c.pool = pool;
  c.on_err = on_err;
  c.err_baton = err_baton;
  c.base = in;
  buf = apr_array_make(pool, (int)strlen(in) + 16, 1);
  expand(&c, in, 0, 1, 0, buf);
  *(char *)apr_array_push(buf) = '\0';
  *out = buf->elts;
  return c.failed ? APR_EINVAL : APR_SUCCESS;
}

typedef struct {
  const char *msg;
  size_t off;
  int seen;
} first_err_t;

static void keep_first(void *baton, size_t offset, const char *msg) {
  first_err_t *f = baton;
  if (!f->seen) {
    f->seen = 1;
    f->msg = msg;
    f->off = offset;
  }
}

apr_status_t cfg_subst(const char **out, const char *in, cfg_getenv_fn lookup,
                       void *baton, apr_pool_t *pool, const char **errmsg,
                       size_t *erroff) {
  first_err_t f;
  const char *res = NULL;
  apr_status_t rv;

  memset(&f, 0, sizeof(f));
  rv = cfg__subst_all(&res, in, lookup, baton, pool, keep_first, &f);
  if (rv == APR_SUCCESS) {
    *out = res;
    return APR_SUCCESS;
  }
  if (errmsg)
    *errmsg = f.seen ? f.msg : "invalid value";
  if (erroff)
    *erroff = f.off;
  return APR_EINVAL;
}
