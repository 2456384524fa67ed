/*
 * svc_json.h -- a small, strict JSON (RFC 8259) parser and writer on APR
 * pools, for the control protocol and `vigil status --json` (prefix
 * svc_json_).
 *
 * Parser.  svc_json_parse() turns a buffer into a read-only tree of
 * svc_json_t values allocated from the caller's pool.  It is strict:
 *   - exactly one value, surrounded by optional JSON whitespace (space,
 *     tab, CR, LF); anything after it is "trailing garbage"; no BOM, no
 *     comments, no trailing commas, no unquoted keys, no NaN/Infinity;
 *   - numbers follow the RFC grammar (no leading zeros, no "1.", ".5",
 *     "+1"); each keeps its lexeme, a double (the C library's strtod(),
 *     made locale-independent; +-HUGE_VAL or 0 when the magnitude is out
 *     of range, yet the number still parses) and, for integer lexemes
 *     that fit, an exact int64/uint64;
 *   - strings must be well-formed UTF-8 (no overlongs, no surrogates
 *     encoded in UTF-8, nothing above U+10FFFF) without raw control
 *     characters (< 0x20); escapes are the RFC's eight plus \uXXXX, with
 *     surrogate pairs combined and unpaired surrogates rejected.  A
 *     decoded string may contain U+0000: svc_json_string() refuses such
 *     strings (so "web\u0000x" cannot pass as "web"), svc_json_stringn()
 *     returns them with their length;
 *   - object members keep their order; a DUPLICATE KEY IS AN ERROR (two
 *     readers of the same message must never disagree about its meaning);
 *   - nesting is limited (default 32 arrays/objects deep) and so is the
 *     input size (default 1 MiB); the recursion depth of the parser is
 *     bounded by the nesting limit;
 *   - it never reads text[len] or beyond (text need not be NUL-terminated)
 *     and allocates only from the pool, about 60 bytes per value (so up to
 *     ~30x the input, for "[0,0,...]": size the limit for that).  On
 *     failure *out is NULL and what was allocated stays in the pool:
 *     parse untrusted messages in a per-message subpool.
 *
 * Accessors take NULL and wrong types gracefully (returning NULL / 0), so
 * lookups chain:  svc_json_int(svc_json_get(root, "pid"), &pid).
 *
 * Writer.  svc_json_w_t builds one JSON text in a pool buffer, inserting
 * separators itself: begin/end containers, key, then values.  Strings are
 * escaped by vg_json_escape_step(), the escaper of libvigil's JSON logger
 * ('"', '\\', control characters and DEL; \b \f \n \r \t short, the rest
 * \u00xx); well-formed UTF-8 passes through and each maximal ill-formed
 * subpart becomes U+FFFD, so the output is always valid JSON.
 * Non-finite doubles are written as null.  A call out of order (a value
 * where a key is expected, an unbalanced end, nesting deeper than
 * SVC_JSON_W_MAX_DEPTH) makes the writer fail with APR_EINVAL from
 * svc_json_w_finish(); later calls are ignored.  Output is compact by default; SVC_JSON_W_SPACED
 * gives the ", " and ": " separators of docs/control.md's examples, still on
 * one line.
 *
 * Nothing here keeps global state; a tree or writer may be used by one
 * thread at a time (different ones concurrently).  Numbers read the
 * locale's decimal point (localeconv()), so do not call setlocale() while
 * other threads parse or write.
 */
#ifndef SVC_JSON_H
#define SVC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------- */

/* Status codes in APR's application range (the PAL uses +1..99 and
 * config/ +100; these take +101..103). */
#define SVC_JSON_ESYNTAX (APR_OS_START_USERERR + 101) /* malformed JSON    */
#define SVC_JSON_EDEPTH  (APR_OS_START_USERERR + 102) /* nesting too deep  */
#define SVC_JSON_ETOOBIG (APR_OS_START_USERERR + 103) /* input over limit  */

/* Where and why a parse failed.  `message` is a complete, printable,
 * NUL-terminated sentence, with the offset where one applies, for example
 * "unexpected character 'x' at offset 12", "truncated at offset 40",
 * "empty input"; it echoes at most one (printable ASCII) input byte, so it
 * is safe to send back to a client. */
typedef struct svc_json_error_s {
  size_t offset;       /* byte offset into the text (== len: truncated) */
  char message[112];
} svc_json_error_t;

/* A static description of the SVC_JSON_E* codes; NULL for other codes. */
const char *svc_json_strerror(apr_status_t rv);

/* ------------------------------------------------------------------------
 * Parser
 * --------------------------------------------------------------------- */

typedef enum {
  SVC_JSON_NULL,
  SVC_JSON_BOOL,
  SVC_JSON_NUMBER,
  SVC_JSON_STRING,
  SVC_JSON_ARRAY,
  SVC_JSON_OBJECT
} svc_json_type_t;

typedef struct svc_json_s svc_json_t;

#define SVC_JSON_DEFAULT_MAX_DEPTH 32
#define SVC_JSON_DEFAULT_MAX_SIZE  ((size_t)1 << 20)
#define SVC_JSON_MAX_DEPTH_CAP     512  /* larger max_depth is clamped */

typedef struct svc_json_limits_s {
  size_t max_size;     /* bytes of input; 0: SVC_JSON_DEFAULT_MAX_SIZE */
  unsigned max_depth;  /* nested arrays/objects; 0: the default (32) */
} svc_json_limits_t;

/* Parse text[0..len) with the default limits.  Returns APR_SUCCESS and
 * the root in *out, or SVC_JSON_ESYNTAX / SVC_JSON_EDEPTH /
 * SVC_JSON_ETOOBIG with *out = NULL and *err filled in (err may be NULL),
 * APR_EINVAL for bad arguments, APR_ENOMEM if the pool fails.  Empty or
 * all-whitespace input is SVC_JSON_ESYNTAX ("empty input"). */
apr_status_t svc_json_parse(svc_json_t **out, const char *text, size_t len,
                            apr_pool_t *pool, svc_json_error_t *err);

/* The same with explicit limits (lim may be NULL: the defaults). */
apr_status_t svc_json_parse_ex(svc_json_t **out, const char *text,
                               size_t len, const svc_json_limits_t *lim,
                               apr_pool_t *pool, svc_json_error_t *err);

/* The type of v; SVC_JSON_NULL for v == NULL as well (test for absence
 * with v == NULL). */
svc_json_type_t svc_json_type(const svc_json_t *v);
/* "null", "bool", "number", "string", "array" or "object". */
const char *svc_json_type_name(svc_json_type_t t);
/* Non-zero if v is a JSON null (not for v == NULL). */
int svc_json_is_null(const svc_json_t *v);

/* Non-zero (and *out set; out may be NULL) if v is true or false. */
int svc_json_bool(const svc_json_t *v, int *out);
/* Non-zero if v is a number whose lexeme is an integer (no fraction, no
 * exponent) that fits the type exactly; "-0" is 0. */
int svc_json_int(const svc_json_t *v, int64_t *out);
int svc_json_uint(const svc_json_t *v, uint64_t *out);
/* Non-zero if v is a number; *out is its nearest double (see above). */
int svc_json_double(const svc_json_t *v, double *out);
/* The number's text exactly as in the input (NUL-terminated), or NULL. */
const char *svc_json_number_lexeme(const svc_json_t *v, size_t *len);

/* The decoded string (NUL-terminated), or NULL if v is not a string or
 * the string contains U+0000. */
const char *svc_json_string(const svc_json_t *v);
/* The decoded string and its length in bytes (it may contain NULs; it is
 * still NUL-terminated), or NULL if v is not a string.  len may be NULL. */
const char *svc_json_stringn(const svc_json_t *v, size_t *len);

/* Arrays and objects: the number of elements or members (0 otherwise). */
size_t svc_json_size(const svc_json_t *v);
/* The i-th element of an array or the i-th member value of an object (in
 * input order), or NULL if out of range or not a container. */
svc_json_t *svc_json_at(const svc_json_t *v, size_t i);
/* The i-th member key of an object (NUL-terminated; *len if len != NULL),
 * or NULL. */
const char *svc_json_key_at(const svc_json_t *v, size_t i, size_t *len);
/* The member value for key, or NULL if v is not an object or has no such
 * member.  O(1) for large objects (an index is built while parsing). */
svc_json_t *svc_json_get(const svc_json_t *obj, const char *key);
svc_json_t *svc_json_getn(const svc_json_t *obj, const char *key,
                          size_t len);

/* ------------------------------------------------------------------------
 * Writer
 * --------------------------------------------------------------------- */

#define SVC_JSON_W_MAX_DEPTH 64

/* svc_json_w_init() flags. */
#define SVC_JSON_W_SPACED 0x1u  /* ", " and ": " instead of "," and ":" */

/* Caller-allocated (usually on the stack); fields are private. */
typedef struct svc_json_w_s {
  apr_pool_t *pool;
  char *buf;
  size_t len, cap;
  apr_status_t status;       /* first error; sticky */
  unsigned flags;
  unsigned depth;            /* open containers */
  int after_key;             /* a key was written, its value is due */
  int done;                  /* the top-level value is complete */
  unsigned char stack[SVC_JSON_W_MAX_DEPTH];  /* per level: kind | first */
} svc_json_w_t;

/* Prepare w to write into memory from pool (flags: SVC_JSON_W_*). */
void svc_json_w_init(svc_json_w_t *w, apr_pool_t *pool, unsigned flags);

void svc_json_w_begin_object(svc_json_w_t *w);
void svc_json_w_end_object(svc_json_w_t *w);
void svc_json_w_begin_array(svc_json_w_t *w);
void svc_json_w_end_array(svc_json_w_t *w);

/* A member key (only directly inside an object, before each value). */
void svc_json_w_key(svc_json_w_t *w, const char *key);
void svc_json_w_keyn(svc_json_w_t *w, const char *key, size_t len);

/* A string value; s == NULL writes null. */
void svc_json_w_string(svc_json_w_t *w, const char *s);
void svc_json_w_stringn(svc_json_w_t *w, const char *s, size_t len);
void svc_json_w_int64(svc_json_w_t *w, int64_t v);
void svc_json_w_uint64(svc_json_w_t *w, uint64_t v);
/* Shortest "%.Ng" that reads back as the same double; null if non-finite. */
void svc_json_w_double(svc_json_w_t *w, double v);
void svc_json_w_bool(svc_json_w_t *w, int v);
void svc_json_w_null(svc_json_w_t *w);
/* A value already serialised by the caller, copied verbatim (the caller
 * vouches that it is one valid JSON value). */
void svc_json_w_raw(svc_json_w_t *w, const char *json, size_t len);
/* A parsed tree (numbers keep their lexemes), e.g. to echo a request;
 * NULL writes null.  Fails like the other calls if v nests deeper than
 * SVC_JSON_W_MAX_DEPTH minus the current depth. */
void svc_json_w_value(svc_json_w_t *w, const svc_json_t *v);

/* Finish: APR_SUCCESS with *out (NUL-terminated, in the pool; out may be
 * NULL) and *len (may be NULL) once exactly one complete value has been
 * written; APR_EINVAL after misuse or if containers are still open,
 * APR_ENOMEM if the pool failed.  The writer may be finished again (the
 * result is the same) but not extended. */
apr_status_t svc_json_w_finish(svc_json_w_t *w, const char **out,
                               size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SVC_JSON_H */
