/*
 * json.c -- strict JSON (RFC 8259) parser and writer on APR pools.
 *
 * Sections:
 *   1. representation and shared helpers (UTF-8, locale-free numbers)
 *   2. errors
 *   3. parser (recursive descent, depth-limited)
 *   4. accessors
 *   5. writer
 *
 * Invariants:
 *   - The parser reads text[0..len) and nothing else: every access is
 *     preceded by an explicit `pos < len` check; the end of input is
 *     reported as "truncated".  It never relies on a terminating NUL.
 *   - Recursion happens only for arrays and objects, and only after the
 *     depth check, so the C stack holds at most max_depth (<= 512) frames
 *     of each of parse_value() and parse_array()/parse_object().
 *   - Every allocation comes from the caller's pool (plus whatever libc's
 *     strtod() uses internally).  Containers are built as linked lists
 *     while parsing and flattened into exact-size arrays when they close,
 *     so memory stays linear in the input (about 60 bytes per value).
 *   - A decoded string never needs more bytes than its escaped form (an
 *     escape of 2, 6 or 12 bytes yields 1, <= 3 or 4 bytes), so its buffer
 *     is sized from the raw span up to the closing quote.
 *   - Objects never hold duplicate keys; ones with more than
 *     JSON_INDEX_MIN members get an apr_hash_t index (used for duplicate
 *     detection while parsing and by svc_json_getn() afterwards), smaller
 *     ones are scanned linearly.
 *   - The writer's buffer always has room for a NUL after `len` bytes; its
 *     output is valid JSON whatever bytes the caller passes as strings.
 *   - Numbers are converted with strtod()/snprintf(), which obey
 *     LC_NUMERIC: the decimal point is translated to and from the locale's
 *     so that "1.5" means 1.5 under any locale.
 */
#include <assert.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "svc_json.h"
#include "vigil.h"

/* ------------------------------------------------------------------------
 * 1. Representation and shared helpers
 * --------------------------------------------------------------------- */

#define JSON_INDEX_MIN 8      /* objects above this get a hash index */

/* svc_json_t.flags */
#define JF_NEG     0x01       /* number: integer lexeme with a '-' sign */
#define JF_INTEGER 0x02       /* number: integer lexeme, mag is exact */
#define JF_HAS_NUL 0x04       /* string: contains U+0000 */

typedef struct json_member_s {
  const char *key;
  size_t key_len;
  svc_json_t *value;
} json_member_t;

struct svc_json_s {
  unsigned char type;         /* svc_json_type_t */
  unsigned char flags;        /* JF_* */
  svc_json_t *next;           /* next sibling, only while parsing */
  union {
    int b;
    struct {
      const char *lex;        /* NUL-terminated copy of the lexeme */
      size_t len;
      double d;
      uint64_t mag;           /* |value| if JF_INTEGER */
    } num;
    struct {
      const char *s;          /* NUL-terminated */
      size_t len;
    } str;
    struct {
      svc_json_t **items;
      size_t n;
    } arr;
    struct {
      json_member_t *m;
      size_t n;
      apr_hash_t *index;      /* key -> svc_json_t *, or NULL */
    } obj;
  } u;
};

static size_t utf8_put(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The locale's decimal point, or NULL when it is plain ".". */
static const char *locale_point(void) {
  const struct lconv *lc = localeconv();
  if (lc == NULL || lc->decimal_point == NULL ||
      strcmp(lc->decimal_point, ".") == 0 || lc->decimal_point[0] == '\0')
    return NULL;
  return lc->decimal_point;
}

/* strtod() of a validated JSON number lexeme (NUL-terminated, len bytes)
 * under any locale.  Returns 0 and sets *ok = 0 only if the pool fails. */
static double lexeme_to_double(const char *lex, size_t len,
                               apr_pool_t *pool, int *ok) {
  const char *pt = locale_point(), *dot;
  char small[64], *tmp;
  size_t plen, head;

  *ok = 1;
  if (pt == NULL || (dot = memchr(lex, '.', len)) == NULL)
    return strtod(lex, NULL);
  plen = strlen(pt);
  if (len + plen <= sizeof(small)) {
    tmp = small;
  } else if ((tmp = apr_palloc(pool, len + plen)) == NULL) {
    *ok = 0;
    return 0;
  }
  head = (size_t)(dot - lex);
  memcpy(tmp, lex, head);
  memcpy(tmp + head, pt, plen);
  memcpy(tmp + head + plen, dot + 1, len - head);   /* with the NUL */
  return strtod(tmp, NULL);
}

/* ------------------------------------------------------------------------
 * 2. Errors
 * --------------------------------------------------------------------- */

const char *svc_json_strerror(apr_status_t rv) {
  switch (rv) {
  case SVC_JSON_ESYNTAX:
    return "malformed JSON";
  case SVC_JSON_EDEPTH:
    return "JSON nesting too deep";
  case SVC_JSON_ETOOBIG:
    return "JSON text too large";
  default:
    return NULL;
  }
}

/* ------------------------------------------------------------------------
 * 3. Parser
 * --------------------------------------------------------------------- */

typedef struct {
  const unsigned char *s;
  size_t len;
  size_t pos;
  unsigned max_depth;
  apr_pool_t *pool;
  svc_json_error_t *err;
  apr_status_t rv;            /* first failure */
} parser_t;

/* A member while its object is open. */
typedef struct member_link_s {
  json_member_t m;
  struct member_link_s *next;
} member_link_t;

/* Record the first failure: `what` then " at offset N". */
static void fail_at(parser_t *p, apr_status_t rv, size_t off,
                    const char *what) {
  if (p->rv != APR_SUCCESS)
    return;
  p->rv = rv;
  if (p->err != NULL) {
    p->err->offset = off;
    apr_snprintf(p->err->message, sizeof(p->err->message),
                 "%s at offset %" APR_SIZE_T_FMT, what, (apr_size_t)off);
  }
}

static void fail_oom(parser_t *p) {
  if (p->rv != APR_SUCCESS)
    return;
  p->rv = APR_ENOMEM;
  if (p->err != NULL) {
    p->err->offset = p->pos;
    apr_cpystrn(p->err->message, "out of memory", sizeof(p->err->message));
  }
}

/* The byte at `off` was not expected there (or the input ended). */
static void fail_unexpected(parser_t *p, size_t off) {
  char what[48];
  unsigned char c;

  if (off >= p->len) {
    fail_at(p, SVC_JSON_ESYNTAX, p->len, "truncated");
    return;
  }
  c = p->s[off];
  if (c > 0x20 && c < 0x7F)
    apr_snprintf(what, sizeof(what), "unexpected character '%c'", c);
  else
    apr_snprintf(what, sizeof(what), "unexpected byte 0x%02x", c);
  fail_at(p, SVC_JSON_ESYNTAX, off, what);
}

static void *palloc(parser_t *p, size_t size) {
  void *mem = apr_palloc(p->pool, size);
  if (mem == NULL)
    fail_oom(p);
  return mem;
}

static svc_json_t *new_value(parser_t *p, svc_json_type_t type) {
  svc_json_t *v = apr_pcalloc(p->pool, sizeof(*v));
  if (v == NULL) {
    fail_oom(p);
    return NULL;
  }
  v->type = (unsigned char)type;
  return v;
}

static void skip_ws(parser_t *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    p->pos++;
  }
}

static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Read the 4 hex digits of a \u escape whose backslash is at `bs`.
 * Returns the code unit, or -1 after recording the failure. */
static long parse_hex4(parser_t *p, size_t bs) {
  long v = 0;
  size_t k;
  int h;

  for (k = bs + 2; k < bs + 6; k++) {
    if (k >= p->len) {
      fail_at(p, SVC_JSON_ESYNTAX, p->len, "truncated");
      return -1;
    }
    if ((h = hex_value(p->s[k])) < 0) {
      fail_at(p, SVC_JSON_ESYNTAX, bs, "invalid \\u escape");
      return -1;
    }
    v = (v << 4) | h;
  }
  return v;
}

/* Parse the string whose opening quote is at p->pos.  On success the
 * decoded bytes (NUL-terminated, in the pool) are in *out and *outlen,
 * *has_nul tells whether they contain U+0000, and p->pos is past the
 * closing quote. */
static int parse_string(parser_t *p, const char **out, size_t *outlen,
                        int *has_nul) {
  const unsigned char *s = p->s;
  size_t start = p->pos + 1, end, i, n = 0, cap;
  char *buf;

  /* Pass 1: find the closing quote (or the end) to size the buffer.
   * Pass 2 below is the one that validates. */
  for (i = start; i < p->len; i++) {
    if (s[i] == '"')
      break;
    if (s[i] == '\\')
      i++;
  }
  end = i < p->len ? i : p->len;
  cap = end - start;
  if ((buf = palloc(p, cap + 1)) == NULL)
    return -1;
  *has_nul = 0;

  i = start;
  for (;;) {
    unsigned char c;

    if (i >= p->len) {
      fail_at(p, SVC_JSON_ESYNTAX, p->len, "truncated");
      return -1;
    }
    c = s[i];
    if (c == '"')
      break;
    if (c < 0x20) {
      char what[48];
      apr_snprintf(what, sizeof(what), "control character 0x%02x in string",
                   c);
      fail_at(p, SVC_JSON_ESYNTAX, i, what);
      return -1;
    }
    if (c == '\\') {
      long u, lo;
      char e;

      if (i + 1 >= p->len) {
        fail_at(p, SVC_JSON_ESYNTAX, p->len, "truncated");
        return -1;
      }
      switch (s[i + 1]) {
      case '"':  e = '"';  break;
      case '\\': e = '\\'; break;
      case '/':  e = '/';  break;
      case 'b':  e = '\b'; break;
      case 'f':  e = '\f'; break;
      case 'n':  e = '\n'; break;
      case 'r':  e = '\r'; break;
      case 't':  e = '\t'; break;
      case 'u':  e = 0;    break;
      default: {
        char what[48];
        unsigned char x = s[i + 1];
        if (x > 0x20 && x < 0x7F)
          apr_snprintf(what, sizeof(what), "invalid escape '\\%c'", x);
        else
          apr_snprintf(what, sizeof(what), "invalid escape");
        fail_at(p, SVC_JSON_ESYNTAX, i, what);
        return -1;
      }
      }
      if (e != 0) {
        assert(n + 1 <= cap);
        buf[n++] = e;
        i += 2;
        continue;
      }
      if ((u = parse_hex4(p, i)) < 0)
        return -1;
      if (u >= 0xDC00 && u <= 0xDFFF) {
        fail_at(p, SVC_JSON_ESYNTAX, i, "unpaired surrogate");
        return -1;
      }
      if (u >= 0xD800 && u <= 0xDBFF) {
        /* A high surrogate must be followed by an escaped low one. */
        if (i + 6 >= p->len ||
            (s[i + 6] == '\\' && i + 7 >= p->len)) {
          fail_at(p, SVC_JSON_ESYNTAX, p->len, "truncated");
          return -1;
        }
        if (s[i + 6] != '\\' || s[i + 7] != 'u') {
          fail_at(p, SVC_JSON_ESYNTAX, i, "unpaired surrogate");
          return -1;
        }
        if ((lo = parse_hex4(p, i + 6)) < 0)
          return -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
          fail_at(p, SVC_JSON_ESYNTAX, i, "unpaired surrogate");
          return -1;
        }
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        i += 12;
      } else {
        i += 6;
      }
      if (u == 0)
        *has_nul = 1;
      assert(n + 4 <= cap);
      n += utf8_put(buf + n, (uint32_t)u);
      continue;
    }
    if (c < 0x80) {
      assert(n + 1 <= cap);
      buf[n++] = (char)c;
      i++;
    } else {
      size_t bad, k = vg_utf8_seq((const char *)s + i, p->len - i, &bad);
      if (k == 0) {
        /* A sequence cut short by the end of input is a truncation. */
        if (i + bad >= p->len)
          fail_at(p, SVC_JSON_ESYNTAX, p->len, "truncated");
        else
          fail_at(p, SVC_JSON_ESYNTAX, i, "invalid UTF-8");
        return -1;
      }
      assert(n + k <= cap);
      memcpy(buf + n, s + i, k);
      n += k;
      i += k;
    }
  }
  buf[n] = '\0';
  *out = buf;
  *outlen = n;
  p->pos = i + 1;
  return 0;
}

static svc_json_t *parse_number(parser_t *p) {
  const unsigned char *s = p->s;
  size_t start = p->pos, i = start;
  int neg = 0, integer = 1, overflow = 0, ok;
  uint64_t mag = 0;
  svc_json_t *v;
  char *lex;

  if (s[i] == '-') {
    neg = 1;
    i++;
  }
  if (i >= p->len) {
    fail_unexpected(p, i);
    return NULL;
  }
  if (s[i] == '0') {
    i++;
    if (i < p->len && is_digit(s[i])) {
      fail_at(p, SVC_JSON_ESYNTAX, i - 1, "leading zero");
      return NULL;
    }
  } else if (s[i] >= '1' && s[i] <= '9') {
    for (; i < p->len && is_digit(s[i]); i++) {
      unsigned d = (unsigned)(s[i] - '0');
      if (mag > (UINT64_MAX - d) / 10)
        overflow = 1;
      else
        mag = mag * 10 + d;
    }
  } else {
    fail_unexpected(p, i);
    return NULL;
  }
  if (i < p->len && s[i] == '.') {
    integer = 0;
    i++;
    if (i >= p->len || !is_digit(s[i])) {
      fail_unexpected(p, i);
      return NULL;
    }
    while (i < p->len && is_digit(s[i]))
      i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    integer = 0;
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= p->len || !is_digit(s[i])) {
      fail_unexpected(p, i);
      return NULL;
    }
    while (i < p->len && is_digit(s[i]))
      i++;
  }

  if ((v = new_value(p, SVC_JSON_NUMBER)) == NULL)
    return NULL;
  if ((lex = apr_pstrmemdup(p->pool, (const char *)s + start,
                            i - start)) == NULL) {
    fail_oom(p);
    return NULL;
  }
  v->u.num.lex = lex;
  v->u.num.len = i - start;
  v->u.num.d = lexeme_to_double(lex, i - start, p->pool, &ok);
  if (!ok) {
    fail_oom(p);
    return NULL;
  }
  if (integer && !overflow) {
    v->flags |= JF_INTEGER;
    v->u.num.mag = mag;
    if (neg)
      v->flags |= JF_NEG;
  }
  p->pos = i;
  return v;
}

static svc_json_t *parse_literal(parser_t *p, const char *word,
                                 svc_json_type_t type, int b) {
  size_t k;
  svc_json_t *v;

  for (k = 0; word[k] != '\0'; k++)
    if (p->pos + k >= p->len || p->s[p->pos + k] != (unsigned char)word[k]) {
      fail_unexpected(p, p->pos + k);
      return NULL;
    }
  if ((v = new_value(p, type)) == NULL)
    return NULL;
  v->u.b = b;
  p->pos += k;
  return v;
}

static svc_json_t *parse_value(parser_t *p, unsigned depth);

/* `depth` is the nesting level of this array (1 for a top-level one). */
/* After an array element or object member: the closing `close` (0,
 * consumed), or a comma followed by more (1, consumed), or an error (-1,
 * reported; a comma right before `close` is a trailing comma). */
static int after_item(parser_t *p, char close) {
  skip_ws(p);
  if (p->pos >= p->len) {
    fail_unexpected(p, p->pos);
    return -1;
  }
  if (p->s[p->pos] == close) {
    p->pos++;
    return 0;
  }
  if (p->s[p->pos] != ',') {
    fail_unexpected(p, p->pos);
    return -1;
  }
  p->pos++;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    fail_at(p, SVC_JSON_ESYNTAX, p->pos, "trailing comma");
    return -1;
  }
  return 1;
}

static svc_json_t *parse_array(parser_t *p, unsigned depth) {
  svc_json_t *v, *head = NULL, **tail = &head, *e;
  size_t n = 0, k;
  int more;

  if ((v = new_value(p, SVC_JSON_ARRAY)) == NULL)
    return NULL;
  p->pos++;                                     /* '[' */
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
    return v;
  }
  for (;;) {
    if ((e = parse_value(p, depth)) == NULL)
      return NULL;
    *tail = e;
    tail = &e->next;
    n++;
    if ((more = after_item(p, ']')) <= 0) {
      if (more < 0)
        return NULL;
      break;
    }
  }
  if ((v->u.arr.items = palloc(p, n * sizeof(*v->u.arr.items))) == NULL)
    return NULL;
  for (k = 0, e = head; e != NULL; e = e->next)
    v->u.arr.items[k++] = e;
  v->u.arr.n = n;
  return v;
}

static svc_json_t *parse_object(parser_t *p, unsigned depth) {
  svc_json_t *v, *val;
  member_link_t *head = NULL, **tail = &head, *ml;
  apr_hash_t *index = NULL;
  size_t n = 0, k;
  int more;

  if ((v = new_value(p, SVC_JSON_OBJECT)) == NULL)
    return NULL;
  p->pos++;                                     /* '{' */
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
    return v;
  }
  for (;;) {
    const char *key;
    size_t key_len, key_pos = p->pos;
    int has_nul, dup = 0;

    if (p->pos >= p->len || p->s[p->pos] != '"') {
      fail_unexpected(p, p->pos);
      return NULL;
    }
    if (parse_string(p, &key, &key_len, &has_nul) != 0)
      return NULL;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':') {
      fail_unexpected(p, p->pos);
      return NULL;
    }
    p->pos++;
    if ((val = parse_value(p, depth)) == NULL)
      return NULL;

    if (index != NULL) {
      dup = apr_hash_get(index, key, (apr_ssize_t)key_len) != NULL;
    } else {
      for (ml = head; ml != NULL && !dup; ml = ml->next)
        dup = ml->m.key_len == key_len &&
              memcmp(ml->m.key, key, key_len) == 0;
    }
    if (dup) {
      fail_at(p, SVC_JSON_ESYNTAX, key_pos, "duplicate key");
      return NULL;
    }
    if ((ml = palloc(p, sizeof(*ml))) == NULL)
      return NULL;
    ml->m.key = key;
    ml->m.key_len = key_len;
    ml->m.value = val;
    ml->next = NULL;
    *tail = ml;
    tail = &ml->next;
    n++;
    if (index != NULL) {
      apr_hash_set(index, key, (apr_ssize_t)key_len, val);
    } else if (n > JSON_INDEX_MIN) {
      if ((index = apr_hash_make(p->pool)) == NULL) {
        fail_oom(p);
        return NULL;
      }
      for (ml = head; ml != NULL; ml = ml->next)
        apr_hash_set(index, ml->m.key, (apr_ssize_t)ml->m.key_len,
                     ml->m.value);
    }

    if ((more = after_item(p, '}')) <= 0) {
      if (more < 0)
        return NULL;
      break;
    }
  }
  if ((v->u.obj.m = palloc(p, n * sizeof(*v->u.obj.m))) == NULL)
    return NULL;
  for (k = 0, ml = head; ml != NULL; ml = ml->next)
    v->u.obj.m[k++] = ml->m;
  v->u.obj.n = n;
  v->u.obj.index = index;
  return v;
}

/* `depth` is the number of containers around this value. */
static svc_json_t *parse_value(parser_t *p, unsigned depth) {
  svc_json_t *v;

  skip_ws(p);
  if (p->pos >= p->len) {
    fail_unexpected(p, p->pos);
    return NULL;
  }
  switch (p->s[p->pos]) {
  case '[':
  case '{':
    if (depth >= p->max_depth) {
      char what[48];
      apr_snprintf(what, sizeof(what), "nesting too deep (limit %u)",
                   p->max_depth);
      fail_at(p, SVC_JSON_EDEPTH, p->pos, what);
      return NULL;
    }
    return p->s[p->pos] == '[' ? parse_array(p, depth + 1)
                               : parse_object(p, depth + 1);
  case '"': {
    const char *str;
    size_t len;
    int has_nul;

    if ((v = new_value(p, SVC_JSON_STRING)) == NULL ||
        parse_string(p, &str, &len, &has_nul) != 0)
      return NULL;
    v->u.str.s = str;
    v->u.str.len = len;
    if (has_nul)
      v->flags |= JF_HAS_NUL;
    return v;
  }
  case 't':
    return parse_literal(p, "true", SVC_JSON_BOOL, 1);
  case 'f':
    return parse_literal(p, "false", SVC_JSON_BOOL, 0);
  case 'n':
    return parse_literal(p, "null", SVC_JSON_NULL, 0);
  case '-':
  case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    return parse_number(p);
  default:
    fail_unexpected(p, p->pos);
    return NULL;
  }
}

apr_status_t svc_json_parse_ex(svc_json_t **out, const char *text,
                               size_t len, const svc_json_limits_t *lim,
                               apr_pool_t *pool, svc_json_error_t *err) {
  parser_t p;
  svc_json_t *root;
  size_t max_size = SVC_JSON_DEFAULT_MAX_SIZE;
  unsigned max_depth = SVC_JSON_DEFAULT_MAX_DEPTH;

  if (out != NULL)
    *out = NULL;
  if (err != NULL) {
    err->offset = 0;
    err->message[0] = '\0';
  }
  if (out == NULL || pool == NULL || (text == NULL && len > 0)) {
    if (err != NULL)
      apr_cpystrn(err->message, "invalid argument", sizeof(err->message));
    return APR_EINVAL;
  }
  if (lim != NULL) {
    if (lim->max_size != 0)
      max_size = lim->max_size;
    if (lim->max_depth != 0)
      max_depth = lim->max_depth;
  }
  if (max_depth > SVC_JSON_MAX_DEPTH_CAP)
    max_depth = SVC_JSON_MAX_DEPTH_CAP;

  if (len > max_size) {
    if (err != NULL) {
      err->offset = max_size;
      apr_snprintf(err->message, sizeof(err->message),
                   "input too large (%" APR_SIZE_T_FMT " bytes, limit %"
                   APR_SIZE_T_FMT ")", (apr_size_t)len,
                   (apr_size_t)max_size);
    }
    return SVC_JSON_ETOOBIG;
  }

  memset(&p, 0, sizeof(p));
  p.s = (const unsigned char *)text;
  p.len = len;
  p.max_depth = max_depth;
  p.pool = pool;
  p.err = err;
  p.rv = APR_SUCCESS;

  skip_ws(&p);
  if (p.pos >= p.len) {
    if (err != NULL) {
      err->offset = len;
      apr_cpystrn(err->message, "empty input", sizeof(err->message));
    }
    return SVC_JSON_ESYNTAX;
  }
  root = parse_value(&p, 0);
  if (root != NULL) {
    skip_ws(&p);
    if (p.pos < p.len)
      fail_at(&p, SVC_JSON_ESYNTAX, p.pos, "trailing garbage");
  }
  if (p.rv != APR_SUCCESS)
    return p.rv;
  *out = root;
  return APR_SUCCESS;
}

apr_status_t svc_json_parse(svc_json_t **out, const char *text, size_t len,
                            apr_pool_t *pool, svc_json_error_t *err) {
  return svc_json_parse_ex(out, text, len, NULL, pool, err);
}

/* ------------------------------------------------------------------------
 * 4. Accessors
 * --------------------------------------------------------------------- */

svc_json_type_t svc_json_type(const svc_json_t *v) {
  return v == NULL ? SVC_JSON_NULL : (svc_json_type_t)v->type;
}

const char *svc_json_type_name(svc_json_type_t t) {
  switch (t) {
  case SVC_JSON_NULL:   return "null";
  case SVC_JSON_BOOL:   return "bool";
  case SVC_JSON_NUMBER: return "number";
  case SVC_JSON_STRING: return "string";
  case SVC_JSON_ARRAY:  return "array";
  case SVC_JSON_OBJECT: return "object";
  }
  return "unknown";
}

int svc_json_is_null(const svc_json_t *v) {
  return v != NULL && v->type == SVC_JSON_NULL;
}

int svc_json_bool(const svc_json_t *v, int *out) {
  if (v == NULL || v->type != SVC_JSON_BOOL)
    return 0;
  if (out != NULL)
    *out = v->u.b;
  return 1;
}

int svc_json_int(const svc_json_t *v, int64_t *out) {
  uint64_t mag;

  if (v == NULL || v->type != SVC_JSON_NUMBER || !(v->flags & JF_INTEGER))
    return 0;
  mag = v->u.num.mag;
  if (v->flags & JF_NEG) {
    if (mag > (uint64_t)INT64_MAX + 1)
      return 0;
    if (out != NULL)   /* -(mag - 1) - 1 avoids overflow at INT64_MIN */
      *out = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
  } else {
    if (mag > (uint64_t)INT64_MAX)
      return 0;
    if (out != NULL)
      *out = (int64_t)mag;
  }
  return 1;
}

int svc_json_uint(const svc_json_t *v, uint64_t *out) {
  if (v == NULL || v->type != SVC_JSON_NUMBER || !(v->flags & JF_INTEGER))
    return 0;
  if ((v->flags & JF_NEG) && v->u.num.mag != 0)
    return 0;
  if (out != NULL)
    *out = v->u.num.mag;
  return 1;
}

int svc_json_double(const svc_json_t *v, double *out) {
  if (v == NULL || v->type != SVC_JSON_NUMBER)
    return 0;
  if (out != NULL)
    *out = v->u.num.d;
  return 1;
}

const char *svc_json_number_lexeme(const svc_json_t *v, size_t *len) {
  if (v == NULL || v->type != SVC_JSON_NUMBER)
    return NULL;
  if (len != NULL)
    *len = v->u.num.len;
  return v->u.num.lex;
}

const char *svc_json_string(const svc_json_t *v) {
  if (v == NULL || v->type != SVC_JSON_STRING || (v->flags & JF_HAS_NUL))
    return NULL;
  return v->u.str.s;
}

const char *svc_json_stringn(const svc_json_t *v, size_t *len) {
  if (v == NULL || v->type != SVC_JSON_STRING)
    return NULL;
  if (len != NULL)
    *len = v->u.str.len;
  return v->u.str.s;
}

size_t svc_json_size(const svc_json_t *v) {
  if (v == NULL)
    return 0;
  if (v->type == SVC_JSON_ARRAY)
    return v->u.arr.n;
  if (v->type == SVC_JSON_OBJECT)
    return v->u.obj.n;
  return 0;
}

svc_json_t *svc_json_at(const svc_json_t *v, size_t i) {
  if (v == NULL)
    return NULL;
  if (v->type == SVC_JSON_ARRAY && i < v->u.arr.n)
    return v->u.arr.items[i];
  if (v->type == SVC_JSON_OBJECT && i < v->u.obj.n)
    return v->u.obj.m[i].value;
  return NULL;
}

const char *svc_json_key_at(const svc_json_t *v, size_t i, size_t *len) {
  if (v == NULL || v->type != SVC_JSON_OBJECT || i >= v->u.obj.n)
    return NULL;
  if (len != NULL)
    *len = v->u.obj.m[i].key_len;
  return v->u.obj.m[i].key;
}

svc_json_t *svc_json_getn(const svc_json_t *obj, const char *key,
                          size_t len) {
  size_t i;

  if (obj == NULL || obj->type != SVC_JSON_OBJECT || key == NULL)
    return NULL;
  if (obj->u.obj.index != NULL)
    return apr_hash_get(obj->u.obj.index, key, (apr_ssize_t)len);
  for (i = 0; i < obj->u.obj.n; i++)
    if (obj->u.obj.m[i].key_len == len &&
        memcmp(obj->u.obj.m[i].key, key, len) == 0)
      return obj->u.obj.m[i].value;
  return NULL;
}

svc_json_t *svc_json_get(const svc_json_t *obj, const char *key) {
  return key == NULL ? NULL : svc_json_getn(obj, key, strlen(key));
}

/* ------------------------------------------------------------------------
 * 5. Writer
 * --------------------------------------------------------------------- */

#define W_OBJECT 0x1          /* stack entry: object (else array) */
#define W_FIRST  0x2          /* stack entry: nothing written yet */

void svc_json_w_init(svc_json_w_t *w, apr_pool_t *pool, unsigned flags) {
  memset(w, 0, sizeof(*w));
  w->pool = pool;
  w->flags = flags;
  w->status = pool == NULL ? APR_EINVAL : APR_SUCCESS;
}

static void w_fail(svc_json_w_t *w, apr_status_t rv) {
  if (w->status == APR_SUCCESS)
    w->status = rv;
}

/* Room for `extra` more bytes plus the NUL. */
static int w_reserve(svc_json_w_t *w, size_t extra) {
  size_t cap;
  char *buf;

  if (w->status != APR_SUCCESS)
    return 0;
  if (extra < w->cap - w->len)            /* invariant: len < cap or 0 */
    return 1;
  if (extra > (size_t)-1 / 2 - w->len) {
    w_fail(w, APR_ENOMEM);
    return 0;
  }
  cap = w->cap != 0 ? w->cap : 256;
  while (cap <= w->len + extra)
    cap *= 2;
  if ((buf = apr_palloc(w->pool, cap)) == NULL) {
    w_fail(w, APR_ENOMEM);
    return 0;
  }
  if (w->len != 0)
    memcpy(buf, w->buf, w->len);
  w->buf = buf;
  w->cap = cap;
  return 1;
}

static void w_put(svc_json_w_t *w, const char *s, size_t n) {
  if (!w_reserve(w, n))
    return;
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static void w_putc(svc_json_w_t *w, char c) {
  if (!w_reserve(w, 1))
    return;
  w->buf[w->len++] = c;
}

static void w_comma(svc_json_w_t *w) {
  if (w->flags & SVC_JSON_W_SPACED)
    w_put(w, ", ", 2);
  else
    w_putc(w, ',');
}

/* Called before every value: checks that one may come here and writes
 * the separator.  Returns 0 (after failing w) if not. */
static int w_value_begin(svc_json_w_t *w) {
  unsigned char *top;

  if (w->status != APR_SUCCESS)
    return 0;
  if (w->depth == 0) {
    if (w->done) {
      w_fail(w, APR_EINVAL);
      return 0;
    }
    return 1;
  }
  top = &w->stack[w->depth - 1];
  if (*top & W_OBJECT) {
    if (!w->after_key) {
      w_fail(w, APR_EINVAL);
      return 0;
    }
    w->after_key = 0;
    return 1;
  }
  if (!(*top & W_FIRST))
    w_comma(w);
  *top &= (unsigned char)~W_FIRST;
  return w->status == APR_SUCCESS;
}

static void w_value_end(svc_json_w_t *w) {
  if (w->depth == 0 && w->status == APR_SUCCESS)
    w->done = 1;
}

/* A JSON string literal for s[0..n): vg_json_escape_step(), the escaper
 * the JSON logger uses too (see the header for the policy). */
static void w_quoted(svc_json_w_t *w, const char *s, size_t n) {
  const char *piece;
  size_t i = 0, m;

  w_putc(w, '"');
  while (i < n && w->status == APR_SUCCESS) {
    i += vg_json_escape_step(s + i, n - i, &piece, &m);
    w_put(w, piece, m);
  }
  w_putc(w, '"');
}

static void w_open(svc_json_w_t *w, unsigned char kind, char c) {
  if (!w_value_begin(w))
    return;
  if (w->depth >= SVC_JSON_W_MAX_DEPTH) {
    w_fail(w, APR_EINVAL);
    return;
  }
  w->stack[w->depth++] = (unsigned char)(kind | W_FIRST);
  w_putc(w, c);
}

static void w_close(svc_json_w_t *w, unsigned char kind, char c) {
  if (w->status != APR_SUCCESS)
    return;
  if (w->depth == 0 || (w->stack[w->depth - 1] & W_OBJECT) != kind ||
      w->after_key) {
    w_fail(w, APR_EINVAL);
    return;
  }
  w->depth--;
  w_putc(w, c);
  w_value_end(w);
}

void svc_json_w_begin_object(svc_json_w_t *w) {
  w_open(w, W_OBJECT, '{');
}

void svc_json_w_end_object(svc_json_w_t *w) {
  w_close(w, W_OBJECT, '}');
}

void svc_json_w_begin_array(svc_json_w_t *w) {
  w_open(w, 0, '[');
}

void svc_json_w_end_array(svc_json_w_t *w) {
  w_close(w, 0, ']');
}

void svc_json_w_keyn(svc_json_w_t *w, const char *key, size_t len) {
  unsigned char *top;

  if (w->status != APR_SUCCESS)
    return;
  top = w->depth != 0 ? &w->stack[w->depth - 1] : NULL;
  if (top == NULL || !(*top & W_OBJECT) || w->after_key ||
      (key == NULL && len > 0)) {
    w_fail(w, APR_EINVAL);
    return;
  }
  if (!(*top & W_FIRST))
    w_comma(w);
  *top &= (unsigned char)~W_FIRST;
  w_quoted(w, key != NULL ? key : "", len);
  if (w->flags & SVC_JSON_W_SPACED)
    w_put(w, ": ", 2);
  else
    w_putc(w, ':');
  w->after_key = 1;
}

void svc_json_w_key(svc_json_w_t *w, const char *key) {
  if (key == NULL) {
    w_fail(w, APR_EINVAL);
    return;
  }
  svc_json_w_keyn(w, key, strlen(key));
}

void svc_json_w_stringn(svc_json_w_t *w, const char *s, size_t len) {
  if (s == NULL && len > 0) {
    w_fail(w, APR_EINVAL);
    return;
  }
  if (!w_value_begin(w))
    return;
  w_quoted(w, s != NULL ? s : "", len);
  w_value_end(w);
}

void svc_json_w_string(svc_json_w_t *w, const char *s) {
  if (s == NULL)
    svc_json_w_null(w);
  else
    svc_json_w_stringn(w, s, strlen(s));
}

/* Decimal digits of v at the end of buf[0..24); returns where they start. */
static char *u64_digits(uint64_t v, char *end) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return end;
}

void svc_json_w_uint64(svc_json_w_t *w, uint64_t v) {
  char buf[24], *p;

  if (!w_value_begin(w))
    return;
  p = u64_digits(v, buf + sizeof(buf));
  w_put(w, p, (size_t)(buf + sizeof(buf) - p));
  w_value_end(w);
}

void svc_json_w_int64(svc_json_w_t *w, int64_t v) {
  char buf[24], *p;
  /* |INT64_MIN| does not fit an int64_t: negate v + 1, then add 1. */
  uint64_t mag = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;

  if (!w_value_begin(w))
    return;
  p = u64_digits(mag, buf + sizeof(buf));
  if (v < 0)
    *--p = '-';
  w_put(w, p, (size_t)(buf + sizeof(buf) - p));
  w_value_end(w);
}

void svc_json_w_double(svc_json_w_t *w, double v) {
  char buf[48];
  const char *pt;
  int prec, n = 0;

  if (!isfinite(v)) {
    svc_json_w_null(w);
    return;
  }
  if (!w_value_begin(w))
    return;
  /* The shortest of 15, 16, 17 significant digits that reads back
   * exactly (17 always does). */
  for (prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
    if (prec == 17 || strtod(buf, NULL) == v)
      break;
  }
  if (n <= 0 || (size_t)n >= sizeof(buf)) {
    w_fail(w, APR_EINVAL);             /* cannot happen for a finite v */
    return;
  }
  if ((pt = locale_point()) != NULL) {
    /* "1,5" -> "1.5": JSON's decimal point is always '.'. */
    char *at = strstr(buf, pt);
    if (at != NULL) {
      size_t plen = strlen(pt);
      *at = '.';
      memmove(at + 1, at + plen, strlen(at + plen) + 1);
      n = (int)strlen(buf);
    }
  }
  w_put(w, buf, (size_t)n);
  w_value_end(w);
}

void svc_json_w_bool(svc_json_w_t *w, int v) {
  if (!w_value_begin(w))
    return;
  if (v)
    w_put(w, "true", 4);
  else
    w_put(w, "false", 5);
  w_value_end(w);
}

void svc_json_w_null(svc_json_w_t *w) {
  if (!w_value_begin(w))
    return;
  w_put(w, "null", 4);
  w_value_end(w);
}

void svc_json_w_raw(svc_json_w_t *w, const char *json, size_t len) {
  if (json == NULL || len == 0) {
    w_fail(w, APR_EINVAL);
    return;
  }
  if (!w_value_begin(w))
    return;
  w_put(w, json, len);
  w_value_end(w);
}

void svc_json_w_value(svc_json_w_t *w, const svc_json_t *v) {
  size_t i;

  if (w->status != APR_SUCCESS)
    return;
  if (v == NULL) {
    svc_json_w_null(w);
    return;
  }
  switch ((svc_json_type_t)v->type) {
  case SVC_JSON_NULL:
    svc_json_w_null(w);
    break;
  case SVC_JSON_BOOL:
    svc_json_w_bool(w, v->u.b);
    break;
  case SVC_JSON_NUMBER:
    svc_json_w_raw(w, v->u.num.lex, v->u.num.len);
    break;
  case SVC_JSON_STRING:
    svc_json_w_stringn(w, v->u.str.s, v->u.str.len);
    break;
  case SVC_JSON_ARRAY:
    svc_json_w_begin_array(w);
    for (i = 0; i < v->u.arr.n && w->status == APR_SUCCESS; i++)
      svc_json_w_value(w, v->u.arr.items[i]);
    svc_json_w_end_array(w);
    break;
  case SVC_JSON_OBJECT:
    svc_json_w_begin_object(w);
    for (i = 0; i < v->u.obj.n && w->status == APR_SUCCESS; i++) {
      svc_json_w_keyn(w, v->u.obj.m[i].key, v->u.obj.m[i].key_len);
      svc_json_w_value(w, v->u.obj.m[i].value);
    }
    svc_json_w_end_object(w);
    break;
  default:
    w_fail(w, APR_EINVAL);
  }
}

apr_status_t svc_json_w_finish(svc_json_w_t *w, const char **out,
                               size_t *len) {
  if (w->status != APR_SUCCESS)
    return w->status;
  if (w->depth != 0 || !w->done)
    return APR_EINVAL;
  w->buf[w->len] = '\0';       /* w_reserve() left room for it */
  if (out != NULL)
    *out = w->buf;
  if (len != NULL)
    *len = w->len;
  return APR_SUCCESS;
}
