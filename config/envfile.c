/*
 * envfile.c -- <env-file>: files of KEY=VALUE lines in the syntax of
 * systemd's EnvironmentFile= (systemd.exec(5)), so that a file written
 * for a systemd unit (/etc/default/NAME, /etc/sysconfig/NAME) means the
 * same here:
 *
 *   - blank lines and lines whose first non-blank character is # or ;
 *     are comments (a # later in a line is part of the value);
 *   - KEY=VALUE; blanks around the key and before the value are
 *     dropped, and so are trailing blanks of an unquoted value;
 *   - a value that starts with ' runs to the next ' verbatim; one that
 *     starts with " runs to the next unescaped ", where \" \\ \` \$ stand
 *     for the character and any other \X is kept as both characters;
 *     text after the closing quote is appended (A="x"y is xy), as in
 *     systemd, and a quoted value may span lines;
 *   - in an unquoted value, \X stands for X; a backslash at the end of a
 *     line joins the next line (both are dropped, nothing is inserted);
 *   - "export KEY=VALUE" is shell, not this syntax: an error here (systemd
 *     silently ignores the line), as is any line that is not a comment
 *     and has no '=', a name that is not a variable name (letters,
 *     digits, _; not starting with a digit), a quote left open at the end
 *     of the file, a NUL byte or text that is not UTF-8 (UTF-16 is named
 *     as such; a UTF-8 byte-order mark at the start is skipped).  systemd logs
 *     and skips such lines; a supervisor that starts a service with a
 *     variable silently missing is worse than one that refuses the start
 *     and says which line is wrong.
 *
 * A later assignment of the same name in the file replaces the earlier
 * one (the caller applies the list in order).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "vigil.h"
#include "cfg_int.h"

typedef struct parser_s {
  apr_array_header_t *out;      /* cfg_env_t */
  apr_pool_t *pool;
  char *key, *val;              /* buffers of the input's size + 1 */
  size_t nkey, nval;
  size_t key_trim;              /* length without trailing blanks */
  size_t val_trim;              /* idem for an unquoted value; SIZE_MAX:
                                   no trailing blank */
  int key_line;                 /* where the assignment started */
  int quote_line;               /* where the open quote is */
  int *eline;
  const char **why;
} parser_t;

static int is_blank(char c) { return c == ' ' || c == '\t'; }
static int is_newline(char c) { return c == '\n' || c == '\r'; }

/* A name the shell could assign, as systemd requires of these files. */
static int valid_name(const char *k, size_t n) {
  size_t i;
  if (n == 0 || (k[0] >= '0' && k[0] <= '9'))
    return 0;
  for (i = 0; i < n; i++) {
    char c = k[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i], need, cp, min, k;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xe0) == 0xc0) {
      need = 1; cp = c & 0x1f; min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      need = 2; cp = c & 0x0f; min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      need = 3; cp = c & 0x07; min = 0x10000;
    } else {
      return 0;
    }
    if (n - i <= need)
      return 0;
    for (k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += need + 1;
  }
  return 1;
}

static apr_status_t fail(parser_t *p, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static apr_status_t fail(parser_t *p, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  *p->why = apr_pvsprintf(p->pool, fmt, ap);
  va_end(ap);
  *p->eline = line;
  return CFG_EINVALID;
}

/* The assignment is complete: check it and add it. */
static apr_status_t push(parser_t *p, int trim_value) {
  cfg_env_t *e;
  size_t nk = p->key_trim, nv = p->nval;
  if (trim_value && p->val_trim != (size_t)-1)
    nv = p->val_trim;
  if (!valid_name(p->key, nk)) {
    const char *k = apr_pstrmemdup(p->pool, p->key, nk);
    if (nk == 0)
      return fail(p, p->key_line, "no variable name before '='");
    if (strncmp(k, "export", 6) == 0 && is_blank(k[6]))
      return fail(p, p->key_line,
                  "'%s' is not a variable name: \"export\" is shell "
                  "syntax, not an environment file's (write %s=...)",
                  k, k + 7);
    return fail(p, p->key_line,
                "'%s' is not a variable name (letters, digits and _, not "
                "starting with a digit)", k);
  }
  if (!valid_utf8((const unsigned char *)p->val, nv))
    return fail(p, p->key_line, "the value of %.*s is not UTF-8", (int)nk,
                p->key);
  e = apr_array_push(p->out);
  e->name = apr_pstrmemdup(p->pool, p->key, nk);
  e->value = apr_pstrmemdup(p->pool, p->val, nv);
  p->nkey = p->nval = 0;
  return APR_SUCCESS;
}

enum {
  S_LINE, S_COMMENT, S_KEY, S_PRE_VALUE, S_VALUE, S_VALUE_ESC, S_SQUOTE,
  S_DQUOTE, S_DQUOTE_ESC
};

static apr_status_t parse(parser_t *p, const char *text, size_t len) {
  int state = S_LINE, line = 1;
  apr_status_t rv;
  size_t i;

  for (i = 0; i < len; i++) {
    char c = text[i];
    if (c == '\0')
      return fail(p, line, "a NUL byte (this is not a text file)");
    switch (state) {
    case S_LINE:
      if (c == '#' || c == ';') {
        state = S_COMMENT;
      } else if (c == '=') {
        state = S_PRE_VALUE;    /* no name: push() says so */
        p->key_line = line;
        p->nkey = p->key_trim = 0;
        p->val_trim = (size_t)-1;
      } else if (!is_blank(c) && !is_newline(c)) {
        state = S_KEY;
        p->key_line = line;
        p->key[0] = c;
        p->nkey = p->key_trim = 1;
      }
      break;
    case S_COMMENT:
      /* Never continued by a trailing backslash (systemd 254 and later). */
      if (is_newline(c))
        state = S_LINE;
      break;
    case S_KEY:
      if (is_newline(c))
        return fail(p, p->key_line, "'%.*s' has no '=' (KEY=VALUE lines, "
                    "# comments)", (int)p->key_trim, p->key);
      if (c == '=') {
        state = S_PRE_VALUE;
        p->val_trim = (size_t)-1;
        break;
      }
      p->key[p->nkey++] = c;
      if (!is_blank(c))
        p->key_trim = p->nkey;
      break;
    case S_PRE_VALUE:
      if (is_newline(c)) {
        if ((rv = push(p, 0)) != APR_SUCCESS)
          return rv;
        state = S_LINE;
      } else if (c == '\'') {
        state = S_SQUOTE;
        p->quote_line = line;
      } else if (c == '"') {
        state = S_DQUOTE;
        p->quote_line = line;
      } else if (c == '\\') {
        state = S_VALUE_ESC;
      } else if (!is_blank(c)) {
        state = S_VALUE;
        p->val[p->nval++] = c;
      }
      break;
    case S_VALUE:
      if (is_newline(c)) {
        if ((rv = push(p, 1)) != APR_SUCCESS)
          return rv;
        state = S_LINE;
      } else if (c == '\\') {
        state = S_VALUE_ESC;
        p->val_trim = (size_t)-1;
      } else {
        if (!is_blank(c))
          p->val_trim = (size_t)-1;
        else if (p->val_trim == (size_t)-1)
          p->val_trim = p->nval;
        p->val[p->nval++] = c;
      }
      break;
    case S_VALUE_ESC:
      /* \X is X; a backslash before the end of the line joins lines. */
      state = S_VALUE;
      if (!is_newline(c))
        p->val[p->nval++] = c;
      break;
    case S_SQUOTE:
      if (c == '\'')
        state = S_PRE_VALUE;
      else
        p->val[p->nval++] = c;
      break;
    case S_DQUOTE:
      if (c == '"')
        state = S_PRE_VALUE;
      else if (c == '\\')
        state = S_DQUOTE_ESC;
      else
        p->val[p->nval++] = c;
      break;
    case S_DQUOTE_ESC:
      state = S_DQUOTE;
      if (c == '"' || c == '\\' || c == '`' || c == '$') {
        p->val[p->nval++] = c;
      } else if (c != '\n') {
        p->val[p->nval++] = '\\';   /* kept, as the shell keeps it */
        p->val[p->nval++] = c;
      }
      break;
    }
    if (c == '\n')
      line++;
  }
  switch (state) {
  case S_KEY:
    return fail(p, p->key_line, "'%.*s' has no '=' (KEY=VALUE lines, "
                "# comments)", (int)p->key_trim, p->key);
  case S_SQUOTE:
  case S_DQUOTE:
  case S_DQUOTE_ESC:
    return fail(p, p->quote_line, "the quote opened here is not closed");
  case S_PRE_VALUE:
  case S_VALUE:
  case S_VALUE_ESC:
    return push(p, state == S_VALUE);
  default:
    return APR_SUCCESS;
  }
}

apr_status_t cfg_envfile_parse(const char *text, size_t len,
                               apr_array_header_t *out, apr_pool_t *pool,
                               int *line, const char **why) {
  parser_t p;
  apr_status_t rv;
  memset(&p, 0, sizeof p);
  p.out = out;
  p.pool = pool;
  p.eline = line;
  p.why = why;
  /* Neither a key nor a value is longer than the text; "\X" inside
   * double quotes keeps both characters, never more. */
  p.key = malloc(len + 1);
  p.val = malloc(len + 1);
  if (!p.key || !p.val) {
    free(p.key);
    free(p.val);
    return APR_ENOMEM;
  }
  *line = 0;
  *why = NULL;
  /* A byte-order mark is the file's, not its first name's: UTF-8's is
   * skipped (Windows editors write it); UTF-16 is not this format. */
  if (len >= 2 && ((memcmp(text, "\xff\xfe", 2) == 0 ||
                    memcmp(text, "\xfe\xff", 2) == 0))) {
    free(p.key);
    free(p.val);
    return fail(&p, 1, "UTF-16 text (save the file as UTF-8)");
  }
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
    text += 3;
    len -= 3;
  }
  rv = parse(&p, text, len);
  free(p.key);
  free(p.val);
  return rv;
}

/* Read on the supervisor's loop, at every start: the file is small and
 * local, so its read is bounded by CFG_ENVFILE_MAX rather than moved off
 * the loop.  What could stall the loop is refused before any read: a
 * path that is not a regular file by its type (a FIFO would wait for a
 * writer, /dev/zero would never end), checked by name and again on the
 * open file (pal_file_open_apr: a non-blocking open, so a FIFO that
 * appears between the two checks does not wait either). */
apr_status_t cfg_envfile_read(const char *path, apr_array_header_t *out,
                              apr_pool_t *pool, int *line,
                              const char **why) {
  apr_finfo_t fi;
  apr_file_t *f;
  apr_status_t rv;
  apr_size_t got = 0;
  char *buf, eb[128];

  *line = 0;
  *why = NULL;
  rv = apr_stat(&fi, path, APR_FINFO_TYPE, pool);
  if (rv == APR_SUCCESS && fi.filetype != APR_REG)
    rv = PAL_ENOTREG;
  if (rv == APR_SUCCESS)
    rv = pal_file_open_apr(&f, path, pool);
  if (rv == PAL_ENOTREG) {
    *why = "not a regular file (a FIFO, device or directory is never read)";
    return CFG_EINVALID;
  }
  if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
    *why = "no such file";
    return APR_ENOENT;
  }
  if (rv != APR_SUCCESS) {
    *why = apr_pstrdup(pool, cfg_strerror(rv, eb, sizeof eb));
    return rv;
  }
  buf = apr_palloc(pool, CFG_ENVFILE_MAX + 1);
  rv = apr_file_read_full(f, buf, CFG_ENVFILE_MAX + 1, &got);
  apr_file_close(f);
  if (rv != APR_SUCCESS && rv != APR_EOF) {
    *why = apr_pstrdup(pool, cfg_strerror(rv, eb, sizeof eb));
    return rv;
  }
  if (got > CFG_ENVFILE_MAX) {
    *why = apr_psprintf(pool, "larger than %u KiB", CFG_ENVFILE_MAX >> 10);
    return CFG_EINVALID;
  }
  return cfg_envfile_parse(buf, got, out, pool, line, why);
}
