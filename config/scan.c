/*
 * scan.c -- positions of start tags and attributes in the source text.
 *
 * Run only on documents libxml2 found well-formed, so the scan can be
 * simple: inside a start tag no '<' can appear (attribute values may not
 * hold one), comments, CDATA sections, processing instructions and the
 * DOCTYPE are skipped whole, and every start tag, in order, is an element
 * of the tree, in document order.  Lines count '\n', and a '\r' not
 * followed by '\n', as libxml2 does.
 */
#include <string.h>

#include <apr_strings.h>

#include "cfg_int.h"

typedef struct {
  const char *buf;
  size_t len, i;
  int line;
} scanner_t;

static int at(const scanner_t *s, const char *lit) {
  size_t n = strlen(lit);
  return s->i + n <= s->len && memcmp(s->buf + s->i, lit, n) == 0;
}

static void adv(scanner_t *s) {
  char ch = s->buf[s->i];
  if (ch == '\n' ||
      (ch == '\r' && (s->i + 1 >= s->len || s->buf[s->i + 1] != '\n')))
    s->line++;
  s->i++;
}

static int blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static void skip_blanks(scanner_t *s) {
  while (s->i < s->len && blank(s->buf[s->i]))
    adv(s);
}

/* Advance past the next occurrence of lit (or to the end). */
static void skip_past(scanner_t *s, const char *lit) {
  while (s->i < s->len && !at(s, lit))
    adv(s);
  if (s->i < s->len)
    s->i += strlen(lit);
}

static void note_text(apr_array_header_t *tags, apr_array_header_t *stack,
                      int line) {
  cfg__tag_t *t;
  if (stack->nelts == 0)
    return;
  t = &APR_ARRAY_IDX(tags, APR_ARRAY_IDX(stack, stack->nelts - 1, int),
                     cfg__tag_t);
  if (t->text_line == 0)
    t->text_line = line;
}

static void start_tag(scanner_t *s, apr_array_header_t *tags,
                      apr_array_header_t *stack, apr_array_header_t *attrs,
                      apr_pool_t *pool) {
  cfg__tag_t *t;
  size_t j;
  int idx;

  idx = tags->nelts;
  t = apr_array_push(tags);
  t->start_line = s->line;
  s->i++;                                       /* '<' */
  j = s->i;
  while (s->i < s->len && !blank(s->buf[s->i]) && s->buf[s->i] != '/' &&
         s->buf[s->i] != '>')
    s->i++;
  t->name = apr_pstrmemdup(pool, s->buf + j, s->i - j);
  apr_array_clear(attrs);
  while (s->i < s->len) {
    cfg__attr_pos_t *a;
    char q;
    skip_blanks(s);
    if (s->i >= s->len)
      break;
    if (s->buf[s->i] == '>') {
      t = &APR_ARRAY_IDX(tags, idx, cfg__tag_t);
      t->end_line = s->line;
      s->i++;
      *(int *)apr_array_push(stack) = idx;
      break;
    }
    if (at(s, "/>")) {
      t = &APR_ARRAY_IDX(tags, idx, cfg__tag_t);
      t->end_line = s->line;
      s->i += 2;
      break;
    }
    j = s->i;
    while (s->i < s->len && !blank(s->buf[s->i]) && s->buf[s->i] != '=' &&
           s->buf[s->i] != '>' && s->buf[s->i] != '/')
      s->i++;
    if (s->i == j) {                  /* cannot happen if well-formed */
      s->i++;
      continue;
    }
    a = apr_array_push(attrs);
    a->name = apr_pstrmemdup(pool, s->buf + j, s->i - j);
    a->line = s->line;
    skip_blanks(s);
    if (s->i < s->len && s->buf[s->i] == '=')
      s->i++;
    skip_blanks(s);
    if (s->i < s->len && (s->buf[s->i] == '"' || s->buf[s->i] == '\'')) {
      q = s->buf[s->i++];
      while (s->i < s->len && s->buf[s->i] != q)
        adv(s);
      if (s->i < s->len)
        s->i++;
    }
  }
  t = &APR_ARRAY_IDX(tags, idx, cfg__tag_t);
  t->nattrs = attrs->nelts;
  t->attrs = NULL;
  if (attrs->nelts)
    t->attrs = apr_pmemdup(pool, attrs->elts,
                           (apr_size_t)attrs->nelts * sizeof(cfg__attr_pos_t));
}

apr_array_header_t *cfg__scan(const char *buf, size_t len,
                              int *doctype_line, apr_pool_t *pool) {
  apr_array_header_t *tags = apr_array_make(pool, 64, sizeof(cfg__tag_t));
  apr_array_header_t *stack = apr_array_make(pool, 16, sizeof(int));
  apr_array_header_t *attrs = apr_array_make(pool, 8,
                                             sizeof(cfg__attr_pos_t));
  scanner_t s;

  s.buf = buf;
  s.len = len;
  s.i = 0;
  s.line = 1;
  *doctype_line = 0;
  while (s.i < s.len) {
    if (s.buf[s.i] != '<') {
      if (!blank(s.buf[s.i]))
        note_text(tags, stack, s.line);
      adv(&s);
    } else if (at(&s, "<!--")) {
      s.i += 4;
      skip_past(&s, "-->");
    } else if (at(&s, "<![CDATA[")) {
      s.i += 9;
      while (s.i < s.len && !at(&s, "]]>")) {
        if (!blank(s.buf[s.i]))
          note_text(tags, stack, s.line);
        adv(&s);
      }
      if (s.i < s.len)
        s.i += 3;
    } else if (at(&s, "<?")) {
      s.i += 2;
      skip_past(&s, "?>");
    } else if (at(&s, "<!")) {
      /* DOCTYPE, with a possible internal subset in [...] holding quoted
       * strings and comments. */
      int depth = 0;
      if (at(&s, "<!DOCTYPE") && !*doctype_line)
        *doctype_line = s.line;
      s.i += 2;
      while (s.i < s.len) {
        char ch = s.buf[s.i];
        if (at(&s, "<!--")) {
          s.i += 4;
          skip_past(&s, "-->");
          continue;
        }
        if (ch == '"' || ch == '\'') {
          adv(&s);
          while (s.i < s.len && s.buf[s.i] != ch)
            adv(&s);
        } else if (ch == '[') {
          depth++;
        } else if (ch == ']') {
          depth--;
        } else if (ch == '>' && depth <= 0) {
          s.i++;
          break;
        }
        if (s.i < s.len)
          adv(&s);
      }
    } else if (at(&s, "</")) {
      if (stack->nelts > 0)
        apr_array_pop(stack);
      skip_past(&s, ">");
    } else {
      start_tag(&s, tags, stack, attrs, pool);
    }
  }
  return tags;
}
