/*
 * json_escape.c -- the one JSON string escaper and UTF-8 check, shared by
 * the logger (core/log.c) and the supervisor's protocol writer
 * (services/json.c), so a byte string reads the same in both.
 *
 * Invariants:
 *   - Output is valid JSON string content (without the quotes) for any
 *     input bytes, NUL included: '"' and '\\' are escaped, \b \f \n \r \t
 *     get their short forms, other controls and DEL become \u00xx
 *     (lowercase hex); '/' and well-formed UTF-8 (U+2028 too) pass as is.
 *   - Ill-formed UTF-8 becomes U+FFFD, written as its UTF-8 bytes, one per
 *     maximal ill-formed subpart (Unicode 3.9, table 3-7: overlongs,
 *     surrogates, code points above U+10FFFF and truncated sequences are
 *     ill-formed).  This is the WHATWG decoder's policy, so a consumer
 *     that decodes with replacement sees the same text.
 *   - vg_json_escape_step() returns pieces, not a buffer: a run of ASCII
 *     that needs no escaping or one whole UTF-8 sequence (both pointing
 *     into the input), or one escape (static storage).  Callers decide how
 *     to store them; only ASCII runs may be cut without breaking a
 *     character.
 */
#include "vigil.h"

size_t vg_utf8_seq(const char *str, size_t n, size_t *bad) {
  const unsigned char *s = (const unsigned char *)str;
  unsigned char c, lo = 0x80, hi = 0xBF;
  size_t need, k;

  if (n == 0) {
    *bad = 0;
    return 0;
  }
  c = s[0];
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0)
      lo = 0xA0;              /* overlong */
    else if (c == 0xED)
      hi = 0x9F;              /* UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0)
      lo = 0x90;              /* overlong */
    else if (c == 0xF4)
      hi = 0x8F;              /* above U+10FFFF */
  } else {
    *bad = 1;                 /* C0, C1, F5-FF, or a lone continuation */
    return 0;
  }
  for (k = 1; k <= need; k++) {
    if (k >= n || s[k] < lo || s[k] > hi) {
      *bad = k;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

/* Escapes of the bytes below 0x20, then '"', '\\' and DEL. */
static const char esc_ctl[0x20][7] = {
  "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005",
  "\\u0006", "\\u0007", "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r",
  "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013",
  "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
  "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
static const char esc_quote[] = "\\\"";
static const char esc_bslash[] = "\\\\";
static const char esc_del[] = "\\u007f";
static const char replacement[] = "\xEF\xBF\xBD";     /* U+FFFD */

size_t vg_json_escape_step(const char *str, size_t n, const char **out,
                           size_t *out_len) {
  const unsigned char *s = (const unsigned char *)str;
  unsigned char c;
  size_t run, k, bad;

  if (n == 0) {
    *out = str;
    *out_len = 0;
    return 0;
  }
  for (run = 0; run < n; run++) {
    c = s[run];
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7F)
      break;
  }
  if (run > 0) {
    *out = str;
    *out_len = run;
    return run;
  }
  c = s[0];
  if (c >= 0x80) {
    k = vg_utf8_seq(str, n, &bad);
    if (k != 0) {
      *out = str;
      *out_len = k;
      return k;
    }
    *out = replacement;
    *out_len = sizeof(replacement) - 1;
    return bad;
  }
  if (c < 0x20)
    *out = esc_ctl[c];
  else if (c == '"')
    *out = esc_quote;
  else if (c == '\\')
    *out = esc_bslash;
  else
    *out = esc_del;
  *out_len = (*out)[1] == 'u' ? 6 : 2;
  return 1;
}
