/*
 * load.c -- reading vigil XML files into a cfg_t.
 *
 * Map of this file:
 *   1. libxml2 error plumbing (parser and XSD validator -> cfg_errors_t)
 *   2. lines: element, attribute and text positions (scan.c results
 *      hung on xmlNode._private)
 *   3. the structural walk (unknown / misplaced elements and attributes,
 *      required attributes, stray text, repeated single elements)
 *   4. values: substitution and the typed getters, each reporting with
 *      the line of the offending attribute or text
 *   5. <service> -> cfg_service_t, once per instance (its children and
 *      their parse functions: fields.def)
 *   6. <supervisor>, <include>, one file, cfg_load()
 *
 * Invariants:
 *   - Every problem is reported and loading goes on; only a file that is
 *     not well-formed (or has a DOCTYPE) is skipped after its own errors.
 *   - The structural walk runs before the XSD validator and marks each
 *     problem it reports with a key (see mark_key()); the validator's
 *     report of the same problem is then dropped, its other reports are
 *     kept.  The validator alone would miss problems: libxml2 stops
 *     checking an element's content at its first unexpected child.
 *   - A value whose substitution failed is reported once and then treated
 *     as absent (the default stays), so it causes no second error.
 *   - Instances load the same <service> element once per index with its
 *     own ${VIGIL_INSTANCE}; the error list drops repeated problems.
 *   - Strings that outlive the load are copied into the config pool; the
 *     libxml2 documents are freed before cfg_load() returns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_fnmatch.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "vigil.h"
#include "cfg_int.h"

#define CFG__MAX_FILE (16u << 20)     /* bytes in one config file */
#define CFG__MAX_DEPTH 8              /* nested includes */
#define CFG__MAX_INSTANCES 1000
#define CFG__ETOOBIG (CFG_EINVALID + 1)  /* internal: file too large */
#define CFG__ENOTREG (CFG_EINVALID + 2)  /* internal: not a regular file */
#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

/* Defaults (config/README.md lists them too). */
#define DEF_RESTART_DELAY     100
#define DEF_RESTART_MAX_DELAY 30000
#define DEF_RESTART_MAX       5
#define DEF_RESTART_WINDOW    60000
#define DEF_READY_AFTER       1000
#define DEF_READY_TIMEOUT     60000
#define DEF_STOP_TIMEOUT      10000
#define DEF_HEALTH_INTERVAL   10000
#define DEF_HEALTH_TIMEOUT    2000
#define DEF_HEALTH_FAILURES   3
#define DEF_LOG_MAX_SIZE      ((uint64_t)10 << 20)
#define DEF_LOG_KEEP          5
#define DEF_SHUTDOWN_TIMEOUT  30000

#if LIBXML_VERSION >= 21200
typedef const xmlError *cfg__xml_error_t;
#else
typedef xmlErrorPtr cfg__xml_error_t;
#endif

/* One file being read. */
typedef struct file_s {
  const char *display;          /* name in messages */
  const char *abs;              /* absolute path */
  const char *dir_display;      /* directory part of display ("" = cwd) */
  const char *dir_abs;
  int is_main;
} file_t;

/* A supervisor setting, kept raw until every file is read. */
typedef struct {
  const char *value;
  int line;
} raw_t;

typedef struct loader_s {
  apr_pool_t *pool;             /* the config's */
  apr_pool_t *tmp;              /* scratch, destroyed at the end */
  cfg_errors_t *errs;
  cfg_getenv_fn lookup;
  void *baton;
  const char *instance;         /* ${VIGIL_INSTANCE} inside a <service> */
  cfg_t *cfg;
  const file_t *file;           /* being read */
  apr_array_header_t *decls;    /* cfg__decl_t */
  apr_hash_t *loaded;           /* absolute path -> "FILE:LINE" */
  int depth;
  int incomplete;               /* a file could not be read or parsed */
  raw_t state_dir, control, log_dir;
  xmlSchemaPtr schema;
  xmlSchemaValidCtxtPtr vctxt;
  int parse_failed;             /* errors while parsing the current file
                                   (quiet_parse: the first one's line) */
  int quiet_parse;              /* recovering: keep parse errors back */
  const char *parse_msg;        /* quiet_parse: the first one */
} loader_t;

static void load_file(loader_t *ld, const char *display, const char *abs,
                      const file_t *from, int from_line);

/* ------------------------------------------------------------------------
 * 1. libxml2 errors
 * --------------------------------------------------------------------- */

static void err(loader_t *ld, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void err(loader_t *ld, int line, const char *fmt, ...) {
  va_list ap;
  char *msg;
  va_start(ap, fmt);
  msg = apr_pvsprintf(ld->tmp, fmt, ap);
  va_end(ap);
  cfg_errors_add(ld->errs, ld->file ? ld->file->display : ld->cfg->file,
                 line, "%s", msg);
}

/* Parser errors (not well-formed, encoding, ...).  Warnings are not
 * problems of the config. */
static void parse_error(void *ctx, cfg__xml_error_t e) {
  loader_t *ld = ctx;
  if (!e || e->level == XML_ERR_WARNING)
    return;
  if (ld->quiet_parse) {
    /* Recovering: only the first problem is kept, for when nothing
     * could be recovered. */
    if (!ld->parse_failed) {
      ld->parse_failed = e->line > 0 ? e->line : 1;
      ld->parse_msg = apr_pstrdup(ld->tmp, e->message ? e->message
                                                      : "malformed XML");
    }
    return;
  }
  ld->parse_failed = 1;
  cfg_errors_add(ld->errs, ld->file->display, e->line, "%s",
                 e->message ? e->message : "malformed XML");
}

static void ignore_generic(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
}

static int elem_line(xmlNodePtr n);

static const char *node_key(loader_t *ld, const char *kind, xmlNodePtr n,
                            const char *extra) {
  return apr_psprintf(ld->tmp, "%s|%p|%s", kind, (void *)n,
                      extra ? extra : "");
}

static void mark_key(loader_t *ld, const char *kind, xmlNodePtr n,
                     const char *extra) {
  cfg__errors_mark(ld->errs, node_key(ld, kind, n, extra));
}

static int marked(loader_t *ld, const char *kind, xmlNodePtr n,
                  const char *extra) {
  return cfg__errors_marked(ld->errs, node_key(ld, kind, n, extra));
}

/* XSD validation errors.  Those the structural walk reports too (with a
 * better message) carry the same key and are dropped; any other is
 * passed on with libxml2's own message. */
static void schema_error(void *ctx, cfg__xml_error_t e) {
  loader_t *ld = ctx;
  xmlNodePtr n;
  const char *kind = NULL, *extra = NULL, *msg;
  int line;

  if (!e || e->level == XML_ERR_WARNING)
    return;
  n = (xmlNodePtr)e->node;
  switch (e->code) {
  case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_1:       /* attribute not allowed */
  case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_2:
    kind = "A";
    extra = e->str1;
    break;
  case XML_SCHEMAV_CVC_COMPLEX_TYPE_4:           /* required attribute */
    kind = "M";
    extra = e->str1;
    break;
  case XML_SCHEMAV_ELEMENT_CONTENT:              /* unexpected element */
    kind = "E";
    break;
  case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_1:         /* content in empty */
  case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_2:         /* element in simple */
  case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_3:         /* text in element-only */
    kind = "X";
    break;
  case XML_SCHEMAV_CVC_ELT_1:                    /* unknown root */
    kind = "R";
    n = NULL;
    break;
  default:
    break;
  }
  if (kind && marked(ld, kind, n, extra))
    return;
  line = e->node ? elem_line((xmlNodePtr)e->node) : e->line;
  msg = e->message ? e->message : "schema validation failed";
  cfg_errors_add(ld->errs, ld->file->display, line, "%s", msg);
}

/* ------------------------------------------------------------------------
 * 2. Lines
 * --------------------------------------------------------------------- */

static const char *local_name(const char *qname) {
  const char *c = strchr(qname, ':');
  return c ? c + 1 : qname;
}

/* Hang the scanned tags on the element nodes (document order); all or
 * nothing. */
static void attach_tags(xmlNodePtr n, apr_array_header_t *tags, int *idx,
                        int *ok) {
  for (; n && *ok; n = n->next) {
    cfg__tag_t *t;
    if (n->type != XML_ELEMENT_NODE)
      continue;
    if (*idx >= tags->nelts) {
      *ok = 0;
      return;
    }
    t = &APR_ARRAY_IDX(tags, *idx, cfg__tag_t);
    (*idx)++;
    if (strcmp(local_name(t->name), (const char *)n->name) != 0) {
      *ok = 0;
      return;
    }
    n->_private = t;
    attach_tags(n->children, tags, idx, ok);
  }
}

static void detach_tags(xmlNodePtr n) {
  for (; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE) {
      n->_private = NULL;
      detach_tags(n->children);
    }
}

/* The line of an element's '<'. */
static int elem_line(xmlNodePtr n) {
  const cfg__tag_t *t = n ? n->_private : NULL;
  if (t)
    return t->start_line;
  return n ? (int)xmlGetLineNo(n) : 0;
}

/* The line of an attribute's name (the element's if unknown). */
static int attr_line(xmlNodePtr n, const char *name) {
  const cfg__tag_t *t = n->_private;
  int i;
  if (t)
    for (i = 0; i < t->nattrs; i++)
      if (strcmp(t->attrs[i].name, name) == 0)
        return t->attrs[i].line;
  return elem_line(n);
}

/* The line where an element's content starts (its start tag's '>'). */
static int content_line(xmlNodePtr n) {
  const cfg__tag_t *t = n->_private;
  if (t)
    return t->end_line;
  return n ? (int)xmlGetLineNo(n) : 0;
}

static int text_line(xmlNodePtr n) {
  const cfg__tag_t *t = n->_private;
  if (t && t->text_line)
    return t->text_line;
  return elem_line(n);
}

static int count_lines(const char *s, size_t n) {
  int lines = 0;
  size_t i;
  for (i = 0; i < n && s[i]; i++)
    if (s[i] == '\n' || (s[i] == '\r' && s[i + 1] != '\n'))
      lines++;
  return lines;
}

/* ------------------------------------------------------------------------
 * 3. Structure
 * --------------------------------------------------------------------- */

static int blank_text(const char *s) {
  for (; s && *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
      return 0;
  return 1;
}

/* The start of a text for a message: its first line, at most 30 bytes,
 * with "..." if there is more. */
static const char *shorten(loader_t *ld, const char *s) {
  const char *b = s, *e;
  while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
    b++;
  e = b;
  while (*e && *e != '\n' && *e != '\r' && e - b < 30)
    e++;
  return apr_pstrcat(ld->tmp, apr_pstrmemdup(ld->tmp, b, (size_t)(e - b)),
                     blank_text(e) ? "" : "...", NULL);
}

static const char *qname(loader_t *ld, xmlNodePtr n) {
  if (n->ns && n->ns->prefix)
    return apr_pstrcat(ld->tmp, (const char *)n->ns->prefix, ":",
                       (const char *)n->name, NULL);
  return (const char *)n->name;
}

static void check_elem(loader_t *ld, xmlNodePtr n, const cfg__elem_t *def);

static void check_attrs(loader_t *ld, xmlNodePtr n, const cfg__elem_t *def) {
  xmlAttrPtr a;
  const char *const *r;
  for (a = n->properties; a; a = a->next) {
    const char *name = (const char *)a->name, *hint;
    if (a->ns && a->ns->href &&
        strcmp((const char *)a->ns->href, XSI_NS) == 0)
      continue;                 /* xsi:noNamespaceSchemaLocation, ... */
    if (!a->ns && cfg__vocab_has(def->attrs, name))
      continue;
    if (a->ns && a->ns->prefix)
      name = apr_pstrcat(ld->tmp, (const char *)a->ns->prefix, ":", name,
                         NULL);
    /* libxml2's validator names a namespaced attribute {URI}name. */
    mark_key(ld, "A", n,
             a->ns ? apr_pstrcat(ld->tmp, "{", (const char *)a->ns->href, "}",
                                 (const char *)a->name, NULL)
                   : (const char *)a->name);
    if (!def->attrs[0]) {
      err(ld, attr_line(n, name), "<%s> takes no attributes (found '%s')",
          def->name, name);
      continue;
    }
    hint = cfg__vocab_suggest(def->attrs, name);
    if (hint)
      err(ld, attr_line(n, name),
          "unknown attribute '%s' on <%s> (did you mean '%s'?)", name,
          def->name, hint);
    else
      err(ld, attr_line(n, name), "unknown attribute '%s' on <%s>", name,
          def->name);
  }
  for (r = def->required; *r; r++)
    if (!xmlHasNsProp(n, (const xmlChar *)*r, NULL)) {
      mark_key(ld, "M", n, *r);
      err(ld, elem_line(n), "<%s> needs the attribute '%s'", def->name, *r);
    }
}

static void check_children(loader_t *ld, xmlNodePtr n,
                           const cfg__elem_t *def) {
  xmlNodePtr c;
  apr_hash_t *seen = NULL;
  int content_err = 0;

  for (c = n->children; c; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE ||
        c->type == XML_ENTITY_REF_NODE) {
      xmlChar *t;
      if (def->content == CFG__TEXT || content_err)
        continue;
      t = xmlNodeGetContent(c);
      if (c->type == XML_ENTITY_REF_NODE || !blank_text((const char *)t)) {
        content_err = 1;
        mark_key(ld, "X", n, NULL);
        if (def->content == CFG__EMPTY)
          err(ld, text_line(n), "<%s> must be empty (found text '%s')",
              def->name, shorten(ld, t ? (const char *)t : ""));
        else
          err(ld, text_line(n), "unexpected text '%s' in <%s>",
              shorten(ld, t ? (const char *)t : ""), def->name);
      }
      xmlFree(t);
      continue;
    }
    if (c->type != XML_ELEMENT_NODE)
      continue;                 /* comments, processing instructions */
    {
      const char *name = (const char *)c->name;
      const cfg__elem_t *cdef = c->ns ? NULL : cfg__vocab_elem(name);

      if (def->content != CFG__ELEMENTS) {
        if (!content_err) {
          content_err = 1;
          mark_key(ld, "X", n, NULL);
          err(ld, elem_line(c), "<%s> cannot contain elements (found <%s>)",
              def->name, qname(ld, c));
        }
        continue;
      }
      if (!cdef || !cfg__vocab_has(def->children, name)) {
        const char *hint = cfg__vocab_suggest(def->children, name);
        mark_key(ld, "E", c, NULL);
        if (cdef)
          err(ld, elem_line(c), "<%s> is not allowed inside <%s>", name,
              def->name);
        else if (hint)
          err(ld, elem_line(c),
              "unknown element <%s> in <%s> (did you mean <%s>?)",
              qname(ld, c), def->name, hint);
        else
          err(ld, elem_line(c), "unknown element <%s> in <%s>", qname(ld, c),
              def->name);
        continue;
      }
      if (cdef->flags & CFG__ONCE) {
        xmlNodePtr first;
        if (!seen)
          seen = apr_hash_make(ld->tmp);
        first = apr_hash_get(seen, name, APR_HASH_KEY_STRING);
        if (first)
          err(ld, elem_line(c), "<%s> appears twice in <%s> (first at line %d)",
              name, def->name, elem_line(first));
        else
          apr_hash_set(seen, name, APR_HASH_KEY_STRING, c);
      }
      check_elem(ld, c, cdef);
    }
  }
}

static void check_elem(loader_t *ld, xmlNodePtr n, const cfg__elem_t *def) {
  check_attrs(ld, n, def);
  check_children(ld, n, def);
}

/* ------------------------------------------------------------------------
 * 4. Values
 * --------------------------------------------------------------------- */

/* A value with what is needed to report a problem with it. */
typedef struct {
  const char *s;                /* substituted */
  int line;
  const char *where;            /* "attribute 'delay' of <restart>" */
  xmlNodePtr node;
} val_t;

static const char *getenv_inst(void *baton, const char *name,
                               apr_pool_t *pool) {
  loader_t *ld = baton;
  if (ld->instance && strcmp(name, "VIGIL_INSTANCE") == 0)
    return ld->instance;
  if (ld->lookup)
    return ld->lookup(ld->baton, name, pool);
  {
    char *v = NULL;
    if (apr_env_get(&v, name, pool) != APR_SUCCESS)
      return NULL;
    return v;
  }
}

typedef struct {
  loader_t *ld;
  const char *text;             /* the value before substitution */
  int line;                     /* of its first character */
  int count_newlines;           /* text content: add lines before '$' */
  const char *where;
} subst_site_t;

static void subst_err(void *baton, size_t off, const char *msg) {
  subst_site_t *s = baton;
  int line = s->line;
  if (s->count_newlines)
    line += count_lines(s->text, off);
  err(s->ld, line, "%s (in %s)", msg, s->where);
}

/* Attribute `name` of n, substituted: 1 and *v, or 0 if it is absent or
 * its substitution failed (then reported). */
static int get_attr(loader_t *ld, xmlNodePtr n, const char *name, val_t *v) {
  xmlChar *raw = xmlGetNoNsProp(n, (const xmlChar *)name);
  subst_site_t site;
  const char *out = NULL;
  apr_status_t rv;

  if (!raw)
    return 0;
  site.ld = ld;
  site.text = apr_pstrdup(ld->tmp, (const char *)raw);
  xmlFree(raw);
  site.line = attr_line(n, name);
  site.count_newlines = 0;      /* attribute values are normalised */
  site.where = apr_psprintf(ld->tmp, "attribute '%s' of <%s>", name,
                            (const char *)n->name);
  rv = cfg__subst_all(&out, site.text, getenv_inst, ld, ld->tmp, subst_err,
                      &site);
  if (rv != APR_SUCCESS)
    return 0;
  v->s = out;
  v->line = site.line;
  v->where = site.where;
  v->node = n;
  return 1;
}

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* The text of element n, substituted; trimmed of surrounding blanks
 * unless `verbatim`.  1 and *v, or 0 if substitution failed. */
static int get_text(loader_t *ld, xmlNodePtr n, int verbatim, val_t *v) {
  xmlChar *raw = xmlNodeGetContent(n);
  const char *s = raw ? (const char *)raw : "";
  size_t b = 0, e = strlen(s);
  subst_site_t site;
  const char *out = NULL;
  apr_status_t rv;

  if (!verbatim) {
    while (b < e && is_blank(s[b]))
      b++;
    while (e > b && is_blank(s[e - 1]))
      e--;
  }
  site.ld = ld;
  site.line = content_line(n) + count_lines(s, b);
  site.text = apr_pstrmemdup(ld->tmp, s + b, e - b);
  site.count_newlines = 1;
  site.where = apr_psprintf(ld->tmp, "<%s>", (const char *)n->name);
  xmlFree(raw);
  rv = cfg__subst_all(&out, site.text, getenv_inst, ld, ld->tmp, subst_err,
                      &site);
  if (rv != APR_SUCCESS)
    return 0;
  v->s = out;
  v->line = b < e ? site.line : elem_line(n);
  v->where = site.where;
  v->node = n;
  return 1;
}

static const char *keep(loader_t *ld, const char *s) {
  return apr_pstrdup(ld->pool, s);
}

static int val_duration(loader_t *ld, const val_t *v, uint64_t *ms) {
  apr_status_t rv = cfg_parse_duration(v->s, ms);
  if (rv == APR_ERANGE)
    err(ld, v->line, "duration '%s' is too long (in %s)", v->s, v->where);
  else if (rv != APR_SUCCESS)
    err(ld, v->line,
        "bad duration '%s' in %s (expected a whole number and a unit: "
        "250ms, 10s, 5m, 1h)",
        v->s, v->where);
  return rv == APR_SUCCESS;
}

static int val_size(loader_t *ld, const val_t *v, uint64_t *bytes) {
  apr_status_t rv = cfg_parse_size(v->s, bytes);
  if (rv == APR_ERANGE)
    err(ld, v->line, "size '%s' is too large (in %s)", v->s, v->where);
  else if (rv != APR_SUCCESS)
    err(ld, v->line,
        "bad size '%s' in %s (expected bytes or a number with KB, MB, GB: "
        "512KB, 10MB, 1GB)",
        v->s, v->where);
  return rv == APR_SUCCESS;
}

static int val_bool(loader_t *ld, const val_t *v, int *b) {
  if (cfg_parse_bool(v->s, b) == APR_SUCCESS)
    return 1;
  err(ld, v->line, "bad boolean '%s' in %s (expected true or false)", v->s,
      v->where);
  return 0;
}

static int val_uint(loader_t *ld, const val_t *v, uint64_t min, uint64_t max,
                    uint64_t *n) {
  apr_status_t rv = cfg_parse_uint(v->s, min, max, n);
  if (rv == APR_ERANGE)
    err(ld, v->line, "%s is out of range in %s (%" APR_UINT64_T_FMT
        " to %" APR_UINT64_T_FMT ")", v->s, v->where, (apr_uint64_t)min,
        (apr_uint64_t)max);
  else if (rv != APR_SUCCESS)
    err(ld, v->line, "bad number '%s' in %s (expected a whole number)", v->s,
        v->where);
  return rv == APR_SUCCESS;
}

/* One of `names` (NULL-terminated): its index, or -1 (reported). */
static int val_enum(loader_t *ld, const val_t *v, const char *const *names) {
  const char *hint, *list = "";
  int i;
  for (i = 0; names[i]; i++)
    if (strcmp(v->s, names[i]) == 0)
      return i;
  for (i = 0; names[i]; i++)
    list = apr_pstrcat(ld->tmp, list, i == 0 ? "" : names[i + 1] ? ", " :
                       " or ", names[i], NULL);
  hint = cfg__vocab_suggest(names, v->s);
  if (hint)
    err(ld, v->line, "bad value '%s' in %s (expected %s; did you mean '%s'?)",
        v->s, v->where, list, hint);
  else
    err(ld, v->line, "bad value '%s' in %s (expected %s)", v->s, v->where,
        list);
  return -1;
}

static int val_nonempty(loader_t *ld, const val_t *v) {
  if (*v->s)
    return 1;
  err(ld, v->line, "%s is empty", v->where);
  return 0;
}

/* A path made absolute against the directory of the current file. */
static const char *resolve_path(loader_t *ld, const char *dir,
                                const char *path) {
  char *out = NULL;
  if (apr_filepath_merge(&out, dir, path, 0, ld->pool) != APR_SUCCESS)
    return apr_pstrdup(ld->pool, path);
  return out;
}

/* [A-Za-z0-9_.-]{1,64}, not "all". */
static const char *name_problem(const char *s) {
  size_t n = strlen(s), i;
  if (n == 0)
    return "is empty";
  if (n > 64)
    return "is longer than 64 characters";
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return "may hold only letters, digits, '_', '.' and '-'";
  }
  if (strcmp(s, "all") == 0)
    return "is reserved (vigil start all)";
  return NULL;
}

/* ------------------------------------------------------------------------
 * 5. <service>
 * --------------------------------------------------------------------- */

/* A <service> record being loaded: what the parse functions of its
 * children (fields.def's svc_*) fill in. */
typedef struct {
  cfg_service_t *s;
  cfg__decl_t *d;               /* its declaration */
  int idx;                      /* its instance index */
  apr_hash_t *env_seen;         /* <env> name -> int *: line of the first */
  int autostart_set;            /* <autostart> was given */
} svc_load_t;

static void svc_command(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (get_text(ld, n, 0, &v) && val_nonempty(ld, &v) && !rec->s->command)
    rec->s->command = keep(ld, v.s);
}

static void svc_arg(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (get_text(ld, n, 1, &v))
    APR_ARRAY_PUSH(rec->s->args, const char *) = keep(ld, v.s);
}

static void svc_workdir(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (get_text(ld, n, 0, &v) && val_nonempty(ld, &v))
    rec->s->workdir = resolve_path(ld, ld->file->dir_abs, v.s);
}

static void svc_autostart(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  rec->autostart_set = 1;
  if (get_text(ld, n, 0, &v))
    val_bool(ld, &v, &rec->s->autostart);
}

/* Into the declaration, once (instance 0): every instance depends on the
 * same services, resolved by cfg__validate(). */
static void svc_depends_on(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  const char *why;
  cfg__dep_t *dep;
  if (!get_text(ld, n, 0, &v) || !val_nonempty(ld, &v) || rec->idx != 0)
    return;
  why = name_problem(v.s);
  if (why) {
    err(ld, v.line, "bad service name '%s' in <depends-on>: it %s", v.s, why);
    return;
  }
  dep = apr_array_push(rec->d->deps);
  dep->name = keep(ld, v.s);
  dep->line = v.line;
}

static void svc_restart(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_restart_t *r = &rec->s->restart;
  static const char *const policies[] = {"on-failure", "always", "never",
                                         NULL};
  val_t v, d, m;
  uint64_t x;
  int i, have_d = 0, have_m = 0;

  if (get_attr(ld, n, "policy", &v) && (i = val_enum(ld, &v, policies)) >= 0)
    r->policy = (cfg_restart_policy)i;
  if (get_attr(ld, n, "delay", &d))
    have_d = val_duration(ld, &d, &r->delay_ms);
  if (get_attr(ld, n, "max-delay", &m))
    have_m = val_duration(ld, &m, &r->max_delay_ms);
  if (get_attr(ld, n, "max-restarts", &v) &&
      val_uint(ld, &v, 0, 1000000, &x))
    r->max_restarts = (unsigned)x;
  if (get_attr(ld, n, "window", &v) && val_duration(ld, &v, &x)) {
    if (x == 0)
      err(ld, v.line, "%s must be more than 0", v.where);
    else
      r->window_ms = x;
  }
  if ((have_d || have_m) && r->max_delay_ms < r->delay_ms)
    err(ld, have_m ? m.line : d.line,
        "max-delay (%" APR_UINT64_T_FMT "ms) is less than delay (%"
        APR_UINT64_T_FMT "ms) in <restart>",
        (apr_uint64_t)r->max_delay_ms, (apr_uint64_t)r->delay_ms);
}

/* A HOST:PORT (url 0) or http:// URL (url 1) through the one target
 * parser (target.c), the probes' own; the parts are kept for status and
 * reload diffs.  0 with *why set on a bad value. */
static int val_target(loader_t *ld, const val_t *v, int url,
                      const char **host, int *port, const char **path,
                      const char **why) {
  cfg_target_t t;
  apr_status_t rv = url ? cfg_parse_url(v->s, &t, why)
                        : cfg_parse_hostport(v->s, &t, why);
  if (rv != APR_SUCCESS)
    return 0;
  *host = apr_pstrdup(ld->pool, t.host);
  *port = t.port;
  if (path)
    *path = apr_pstrdup(ld->pool, t.path);
  return 1;
}

static void svc_ready(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_ready_t *r = &rec->s->ready;
  val_t v;
  int has_after = xmlHasNsProp(n, (const xmlChar *)"after", NULL) != NULL;
  int has_tcp = xmlHasNsProp(n, (const xmlChar *)"tcp", NULL) != NULL;
  int has_notify = xmlHasNsProp(n, (const xmlChar *)"notify", NULL) != NULL;
  int has_timeout = xmlHasNsProp(n, (const xmlChar *)"timeout", NULL) != NULL;
  int notify = 0;

  if (get_attr(ld, n, "after", &v))
    val_duration(ld, &v, &r->after_ms);
  if (get_attr(ld, n, "notify", &v) && val_bool(ld, &v, &notify) && notify)
    r->kind = CFG_READY_NOTIFY;
  if (get_attr(ld, n, "tcp", &v)) {
    const char *why;
    r->kind = CFG_READY_TCP;
    r->target = keep(ld, v.s);
    if (!val_target(ld, &v, 0, &r->host, &r->port, NULL, &why))
      err(ld, v.line, "bad address '%s' in %s: %s (expected HOST:PORT, "
          "e.g. 127.0.0.1:8080 or db.internal:5432)", v.s, v.where, why);
  }
  if (get_attr(ld, n, "timeout", &v) && val_duration(ld, &v, &r->timeout_ms) &&
      r->timeout_ms == 0)
    err(ld, v.line, "%s must be more than 0", v.where);

  if (has_after + has_tcp + (has_notify && notify) > 1)
    err(ld, elem_line(n),
        "<ready> takes only one of after, tcp and notify=\"true\"");
  else if (has_timeout && !has_tcp && !(has_notify && notify) &&
           rec->s->type != CFG_TYPE_ATTACH)   /* also bounds its launch */
    err(ld, attr_line(n, "timeout"),
        "timeout in <ready> applies only with tcp or notify=\"true\"");
  if (r->kind == CFG_READY_AFTER) {
    r->target = NULL;
    r->host = NULL;
    r->port = 0;
  }
}

static void svc_stop(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_stop_t *s = &rec->s->stop;
  val_t v;
  if (get_attr(ld, n, "signal", &v)) {
    int sig = vg_signal_from_name(v.s);
    if (sig == 0)
      err(ld, v.line, "unknown signal '%s' in %s (expected a name such as "
          "TERM, INT, HUP, QUIT, KILL, USR1, USR2)", v.s, v.where);
    else
      s->signal = sig;
  }
  if (get_attr(ld, n, "timeout", &v))
    val_duration(ld, &v, &s->timeout_ms);
}

/* The <command> (the first) and <arg>s of a <hook>, an <on> or a <reload>
 * into c (its args array made here), and the element's line. */
static void load_command(loader_t *ld, xmlNodePtr n, cfg_command_t *c) {
  xmlNodePtr k;
  val_t v;
  if (!c->args)
    c->args = apr_array_make(ld->pool, 2, sizeof(const char *));
  c->line = elem_line(n);
  for (k = n->children; k; k = k->next) {
    if (k->type != XML_ELEMENT_NODE || k->ns)
      continue;
    if (strcmp((const char *)k->name, "command") == 0) {
      if (get_text(ld, k, 0, &v) && val_nonempty(ld, &v) && !c->command)
        c->command = keep(ld, v.s);
    } else if (strcmp((const char *)k->name, "arg") == 0) {
      if (get_text(ld, k, 1, &v))
        APR_ARRAY_PUSH(c->args, const char *) = keep(ld, v.s);
    }
  }
}

/* A <hook>'s or an <on>'s: a command is required, and its timeout
 * (default CFG_COMMAND_TIMEOUT_MS) must be more than 0. */
static void load_timed_command(loader_t *ld, xmlNodePtr n, const char *what,
                               cfg_command_t *c) {
  val_t v;
  c->timeout_ms = CFG_COMMAND_TIMEOUT_MS;
  if (get_attr(ld, n, "timeout", &v) && val_duration(ld, &v, &c->timeout_ms) &&
      c->timeout_ms == 0)
    err(ld, v.line, "%s must be more than 0", v.where);
  load_command(ld, n, c);
  if (!c->command)
    err(ld, c->line, "%s has no <command>", what);
}

/* <reload signal="HUP"/>, or <reload timeout="30s"> with <command> and
 * <arg> children: what `vigil reload NAME` does.  The signal is checked
 * for this platform by the plan (services/plan.c). */
static void svc_reload(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_reload_t *r = &rec->s->reload;
  val_t v, sig;
  uint64_t x;
  int has_sig = get_attr(ld, n, "signal", &sig);
  if (has_sig) {
    r->signal = vg_signal_from_name(sig.s);
    if (r->signal == 0)
      err(ld, sig.line, "unknown signal '%s' in %s (expected a name such as "
          "HUP, USR1, USR2, INT, TERM)", sig.s, sig.where);
  }
  load_command(ld, n, &r->cmd);
  if (get_attr(ld, n, "timeout", &v) && val_duration(ld, &v, &x)) {
    if (x == 0)
      err(ld, v.line, "%s must be more than 0", v.where);
    else if (!r->cmd.command)
      err(ld, v.line, "timeout in <reload> applies only to a <command>");
    else
      r->cmd.timeout_ms = x;
  }
  if (has_sig && r->cmd.command)
    err(ld, sig.line, "<reload> takes a signal or a <command>, not both");
  else if (r->cmd.args->nelts > 0 && !r->cmd.command)
    err(ld, elem_line(n), "<arg> in <reload> needs a <command>");
}

static void svc_health(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_health_t *h = &rec->s->health;
  static const char *const types[] = {"none", "tcp", "http", "exec", NULL};
  const char *why;
  val_t v;
  xmlNodePtr c;
  uint64_t x;
  int t = -1;

  if (get_attr(ld, n, "type", &v) && (t = val_enum(ld, &v, types)) >= 0)
    h->type = (cfg_health_type)t;
  if (get_attr(ld, n, "target", &v)) {
    h->target = keep(ld, v.s);
    switch (t) {
    case CFG_HEALTH_NONE:
      err(ld, v.line, "target has no use with <health type=\"none\">");
      break;
    case CFG_HEALTH_TCP:
      if (!val_target(ld, &v, 0, &h->host, &h->port, NULL, &why))
        err(ld, v.line, "bad health target '%s' for type tcp: %s (expected "
            "HOST:PORT, e.g. 127.0.0.1:5432 or db.internal:5432)", v.s, why);
      break;
    case CFG_HEALTH_HTTP:
      if (!val_target(ld, &v, 1, &h->host, &h->port, &h->path, &why))
        err(ld, v.line, "bad health target '%s' for type http: %s (expected "
            "an http:// URL, e.g. http://127.0.0.1:8080/health)", v.s, why);
      break;
    case CFG_HEALTH_EXEC:
      if (val_nonempty(ld, &v))
        h->command = h->target;
      break;
    default:
      break;
    }
  } else if (t > 0 && !xmlHasNsProp(n, (const xmlChar *)"target", NULL)) {
    err(ld, elem_line(n), "<health type=\"%s\"> needs a target (%s)",
        types[t],
        t == CFG_HEALTH_TCP    ? "HOST:PORT"
        : t == CFG_HEALTH_HTTP ? "an http:// URL"
                               : "the program to run");
  }
  if (get_attr(ld, n, "interval", &v) && val_duration(ld, &v, &x)) {
    if (x == 0)
      err(ld, v.line, "%s must be more than 0", v.where);
    else
      h->interval_ms = x;
  }
  if (get_attr(ld, n, "timeout", &v) && val_duration(ld, &v, &x)) {
    if (x == 0)
      err(ld, v.line, "%s must be more than 0", v.where);
    else
      h->timeout_ms = x;
  }
  if (get_attr(ld, n, "failures", &v) && val_uint(ld, &v, 1, 1000, &x))
    h->failures = (unsigned)x;
  for (c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns ||
        strcmp((const char *)c->name, "arg") != 0)
      continue;
    if (t >= 0 && t != CFG_HEALTH_EXEC) {
      err(ld, elem_line(c), "<arg> in <health> is only for type=\"exec\"");
      continue;
    }
    if (get_text(ld, c, 1, &v))
      APR_ARRAY_PUSH(h->args, const char *) = keep(ld, v.s);
  }
  if (h->type == CFG_HEALTH_NONE) {
    h->interval_ms = h->timeout_ms = 0;
    h->failures = 0;
  }
}

/* Whether a path component (between '/' or '\\', either separator,
 * since a config may be shared with Windows) of s is `c`. */
static int has_component(const char *s, const char *c) {
  size_t cn = strlen(c);
  while (*s) {
    size_t n = strcspn(s, "/\\");
    if (n == cn && strncmp(s, c, n) == 0)
      return 1;
    s += n;
    if (*s)
      s++;
  }
  return 0;
}

static int last_component_is(const char *s, const char *c) {
  const char *slash = s + strlen(s);
  while (slash > s && slash[-1] != '/' && slash[-1] != '\\')
    slash--;
  return strcmp(slash, c) == 0;
}

static void log_target(loader_t *ld, const val_t *v, int is_err,
                       cfg_log_target_t *t) {
  static const char *const sinks[] = {"syslog", "journal", "eventlog", NULL};
  int k;
  t->sink = CFG_SINK_NONE;
  for (k = 0; sinks[k]; k++)
    if (strcmp(v->s, sinks[k]) == 0) {
      /* A log daemon, with the service's default file (kept as set
       * before the <log> element) as its fallback; "./syslog" is the
       * file of that name. */
      t->kind = CFG_LOG_FILE;
      t->sink = (cfg_log_sink)(CFG_SINK_SYSLOG + k);
      return;
    }
  if (strcmp(v->s, "null") == 0)
    t->kind = CFG_LOG_NULL;
  else if (strcmp(v->s, "inherit") == 0)
    t->kind = CFG_LOG_INHERIT;
  else if (strcmp(v->s, "stdout") == 0) {
    if (is_err)
      t->kind = CFG_LOG_STDOUT;
    else {
      err(ld, v->line, "stdout=\"stdout\" in <log> makes no sense (expected a "
          "file name, null or inherit)");
      return;
    }
  } else if (!*v->s) {
    err(ld, v->line, "%s is empty (expected a file name, null or inherit%s)",
        v->where, is_err ? " or stdout" : "");
    return;
  } else {
    size_t n = strlen(v->s);
    const char *root = NULL, *rel = v->s;
    int absolute = apr_filepath_root(&root, &rel, 0, ld->tmp) ==
                   APR_SUCCESS;
    if (v->s[n - 1] == '/' || v->s[n - 1] == '\\' ||
        last_component_is(v->s, ".")) {
      err(ld, v->line, "log file '%s' in %s names a directory", v->s,
          v->where);
      return;
    }
    /* Relative names are inside log-dir, and stay there: a ".." would
     * write wherever the config's author (or a ${VAR}) points it, and
     * two services' "../x" and "x" could not be told apart by reading
     * log-dir.  An absolute path is the way to write elsewhere (as with
     * systemd's file:PATH and supervisord's stdout_logfile). */
    if (!absolute && has_component(v->s, "..")) {
      err(ld, v->line, "log file '%s' in %s leaves the log directory: a "
          "relative name may not contain '..' (give an absolute path to "
          "write outside log-dir)", v->s, v->where);
      return;
    }
    t->kind = CFG_LOG_FILE;
    t->name = keep(ld, v->s);
    return;
  }
  t->name = NULL;
}

static void svc_log(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_log_t *l = &rec->s->log;
  static const char *const rotations[] = {"size", "daily", NULL};
  val_t v;
  uint64_t x;
  int i;

  if (get_attr(ld, n, "stdout", &v))
    log_target(ld, &v, 0, &l->out);
  if (get_attr(ld, n, "stderr", &v))
    log_target(ld, &v, 1, &l->err);
  if (get_attr(ld, n, "max-size", &v))
    val_size(ld, &v, &l->max_size);
  if (get_attr(ld, n, "keep", &v) && val_uint(ld, &v, 0, 1000, &x))
    l->keep = (unsigned)x;
  if (get_attr(ld, n, "rotate", &v) && (i = val_enum(ld, &v, rotations)) >= 0)
    l->rotate_daily = i == 1;
  if (get_attr(ld, n, "compress", &v))
    val_bool(ld, &v, &l->compress);
  if (get_attr(ld, n, "timestamps", &v))
    val_bool(ld, &v, &l->timestamps);
}

static void svc_limits(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_limits_t *l = &rec->s->limits;
  val_t v;
  uint64_t x;
  if (get_attr(ld, n, "memory", &v))
    val_size(ld, &v, &l->memory);
  if (get_attr(ld, n, "cpu", &v)) {
    size_t len = strlen(v.s);
    val_t num = v;
    if (len > 0 && v.s[len - 1] == '%')
      num.s = apr_pstrmemdup(ld->tmp, v.s, len - 1);
    if (cfg_parse_uint(num.s, 1, 102400, &x) == APR_SUCCESS)
      l->cpu_percent = (unsigned)x;
    else
      err(ld, v.line, "bad cpu limit '%s' in %s (expected a percentage of "
          "one CPU from 1%% to 102400%%, e.g. 50%%)", v.s, v.where);
  }
  if (get_attr(ld, n, "processes", &v) &&
      val_uint(ld, &v, 1, (uint64_t)1 << 31, &x))
    l->processes = x;
  if (get_attr(ld, n, "open-files", &v) &&
      val_uint(ld, &v, 1, (uint64_t)1 << 31, &x))
    l->open_files = x;
}

static void svc_env(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_service_t *s = rec->s;
  apr_hash_t *seen = rec->env_seen;
  val_t name, value;
  int *first;
  cfg_env_t *e;

  if (!get_attr(ld, n, "name", &name))
    return;
  if (!*name.s || strchr(name.s, '=')) {
    err(ld, name.line, "bad environment variable name '%s' in <env> (it "
        "must not be empty or hold '=')", name.s);
    return;
  }
  if (strcmp(name.s, "VIGIL_INSTANCE") == 0) {
    err(ld, name.line, "VIGIL_INSTANCE is set by vigil; it cannot be set "
        "in <env>");
    return;
  }
  first = apr_hash_get(seen, name.s, APR_HASH_KEY_STRING);
  if (first) {
    err(ld, name.line, "<env> '%s' is set twice in this service (first at "
        "line %d)", name.s, *first);
    return;
  }
  first = apr_palloc(ld->tmp, sizeof(*first));
  *first = name.line;
  apr_hash_set(seen, name.s, APR_HASH_KEY_STRING, first);
  if (!get_attr(ld, n, "value", &value))
    return;
  e = apr_array_push(s->env);
  e->name = keep(ld, name.s);
  e->value = keep(ld, value.s);
}

/* <user>, <group>, <env-file>, <umask>, <nice>, <cpu-affinity>: what the
 * child runs as and with.  Users and groups are looked up by the plan
 * (services/plan.c), where the platform is known. */
static void svc_user(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (get_text(ld, n, 0, &v) && val_nonempty(ld, &v)) {
    rec->s->user = keep(ld, v.s);
    rec->s->user_line = v.line;
  }
}

static void svc_group(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (get_text(ld, n, 0, &v) && val_nonempty(ld, &v)) {
    rec->s->user_group = keep(ld, v.s);
    rec->s->user_group_line = v.line;
  }
}

static void svc_env_file(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  cfg_env_file_t *f;
  val_t v;
  if (!get_text(ld, n, 0, &v) || !val_nonempty(ld, &v))
    return;
  f = apr_array_push(rec->s->env_files);
  f->optional = v.s[0] == '-';
  f->line = v.line;
  if (f->optional && !v.s[1])
    err(ld, v.line, "%s names no file after '-'", v.where);
  f->path = resolve_path(ld, ld->file->dir_abs, v.s + f->optional);
}

static void svc_umask(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  unsigned mask;
  val_t v;
  if (!get_text(ld, n, 0, &v))
    return;
  if (cfg_parse_umask(v.s, &mask) == APR_SUCCESS)
    rec->s->umask = (int)mask;
  else
    err(ld, v.line, "bad umask '%s' in %s (expected octal 0000 to 0777, "
        "such as 0027)", v.s, v.where);
}

static void svc_nice(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (!get_text(ld, n, 0, &v))
    return;
  if (cfg_parse_nice(v.s, &rec->s->nice) == APR_SUCCESS)
    rec->s->has_nice = 1;
  else
    err(ld, v.line, "bad nice value '%s' in %s (expected -20 to 19)", v.s,
        v.where);
}

static void svc_cpu_affinity(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  vg_cpuset_t *set;
  apr_status_t rv;
  val_t v;
  if (!get_text(ld, n, 0, &v))
    return;
  set = apr_palloc(ld->pool, sizeof *set);
  rv = cfg_parse_cpus(v.s, set);
  if (rv == APR_SUCCESS)
    rec->s->cpus = set;
  else
    err(ld, v.line, "bad CPU list '%s' in %s (expected CPU numbers and "
        "ranges below %d, such as 0,2-3)%s", v.s, v.where, PAL_CPUSET_MAX,
        rv == APR_ERANGE ? ": a CPU number is too large" : "");
}

/* <hook when timeout> with its <command> and <arg>s. */
static void svc_hook(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  static const char *const whens[] = {"pre-start", "post-start", "pre-stop",
                                      "post-stop", NULL};
  cfg_hook_t *h = apr_array_push(rec->s->hooks);
  val_t v;
  int w;
  memset(h, 0, sizeof *h);
  if (get_attr(ld, n, "when", &v) && (w = val_enum(ld, &v, whens)) >= 0)
    h->when = (cfg_hook_when)w;
  load_timed_command(ld, n, "<hook>", &h->cmd);
}

const char *const cfg_event_names[CFG_EVENT_N + 1] = {
    "started", "running", "exited", "restarting", "fatal", "health-failed",
    "stopped", NULL};

/* <on event timeout><command/><arg/>...</on> into `list`. */
static void load_on(loader_t *ld, xmlNodePtr n, apr_array_header_t *list) {
  cfg_on_t *h = apr_array_push(list);
  val_t v;
  int e;
  memset(h, 0, sizeof *h);
  if (get_attr(ld, n, "event", &v) &&
      (e = val_enum(ld, &v, cfg_event_names)) >= 0)
    h->event = (cfg_event)e;
  load_timed_command(ld, n, "<on>", &h->cmd);
}

static void svc_on(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  load_on(ld, n, rec->s->on);
}

static void svc_watchdog(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  val_t v;
  if (get_attr(ld, n, "timeout", &v) &&
      val_duration(ld, &v, &rec->s->watchdog_ms) && rec->s->watchdog_ms == 0)
    err(ld, v.line, "%s must be more than 0", v.where);
}

static void svc_schedule(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  char why[256];
  val_t v;
  if (!get_text(ld, n, 0, &v) || !val_nonempty(ld, &v))
    return;
  if (cfg_cron_parse(v.s, &rec->s->cron, why, sizeof why) != APR_SUCCESS) {
    err(ld, v.line, "bad <schedule>: %s", why);
    return;
  }
  rec->s->schedule = keep(ld, v.s);
}

/* <service type>: simple, oneshot or attach. */
static void svc_type(loader_t *ld, xmlNodePtr n, cfg_service_t *s) {
  static const char *const types[] = {"simple", "oneshot", "attach", NULL};
  val_t v;
  int t;
  if (!get_attr(ld, n, "type", &v))
    return;
  t = val_enum(ld, &v, types);
  if (t >= 0)
    s->type = (cfg_service_type)t;
}

/* <pid-file>: absolute as written -- it names the process vigil will
 * signal, so it must not depend on where the config file lies. */
static void svc_pid_file(loader_t *ld, xmlNodePtr n, svc_load_t *rec) {
  const char *root, *rel;
  val_t v;
  if (!get_text(ld, n, 0, &v) || !val_nonempty(ld, &v))
    return;
  rel = v.s;
  if (apr_filepath_root(&root, &rel, 0, ld->tmp) != APR_SUCCESS) {
    err(ld, v.line, "%s must be an absolute path, not '%s'", v.where, v.s);
    return;
  }
  rec->s->pid_file = keep(ld, v.s);
}

/* What type="attach" needs and what it cannot have.  Its process is not
 * vigil's child: it was started by someone else, or by <command>, which
 * daemonizes and returns; so nothing that vigil applies to the process
 * it spawns, or that the process must be given at its start (the
 * notify socket), can reach it.  <user> says whose process it must be. */
static void check_attach(loader_t *ld, xmlNodePtr n, const cfg_service_t *s,
                         int line) {
  static const struct {
    const char *elem, *why;
  } no[] = {
      {"limits", "they are applied to a process vigil spawns, and the "
                 "attached daemon is not one"},
      {"watchdog", "the daemon is not given vigil's notify socket"},
      {"schedule", "a daemon runs until it is stopped"},
  };
  xmlNodePtr c;
  size_t i;
  if (s->type != CFG_TYPE_ATTACH) {
    for (c = n->children; c; c = c->next)
      if (c->type == XML_ELEMENT_NODE && !c->ns &&
          strcmp((const char *)c->name, "pid-file") == 0)
        err(ld, elem_line(c), "<pid-file> is only for type=\"attach\" "
            "(the pid file of a daemon vigil did not start)");
    return;
  }
  for (c = n->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && !c->ns &&
        strcmp((const char *)c->name, "pid-file") == 0)
      break;
  if (!c)   /* (a bad one was reported by svc_pid_file) */
    err(ld, line, "service '%s' is type=\"attach\" and has no <pid-file> "
        "(the file in which its daemon writes its pid)", s->group);
  if (s->instances > 1)
    err(ld, line, "service '%s' is type=\"attach\" and has %d <instances>: "
        "one pid file names one process", s->group, s->instances);
  for (c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns)
      continue;
    for (i = 0; i < sizeof no / sizeof no[0]; i++)
      if (strcmp((const char *)c->name, no[i].elem) == 0)
        err(ld, elem_line(c), "<%s> cannot be used with type=\"attach\": "
            "%s", no[i].elem, no[i].why);
    if (strcmp((const char *)c->name, "ready") == 0 &&
        s->ready.kind == CFG_READY_NOTIFY)
      err(ld, attr_line(c, "notify"), "<ready notify> cannot be used with "
          "type=\"attach\": the daemon is not given vigil's notify socket "
          "(use after or tcp)");
  }
}

/* What a oneshot cannot have: a ready condition (it is done when it
 * exits 0), health checks (it never runs in the ready sense) and
 * restart policy="always" (it would run again after each success;
 * systemd refuses Restart=always for Type=oneshot too). */
static void check_oneshot(loader_t *ld, xmlNodePtr n, const cfg_service_t *s) {
  xmlNodePtr c;
  for (c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns)
      continue;
    if (strcmp((const char *)c->name, "ready") == 0)
      err(ld, elem_line(c), "<ready> has no use with type=\"oneshot\": a "
          "oneshot is done when it exits with code 0");
    else if (strcmp((const char *)c->name, "health") == 0 &&
             s->health.type != CFG_HEALTH_NONE)
      err(ld, elem_line(c), "<health> has no use with type=\"oneshot\": "
          "it is checked only while a service runs");
    else if (strcmp((const char *)c->name, "restart") == 0 &&
             s->restart.policy == CFG_RESTART_ALWAYS)
      err(ld, attr_line(c, "policy"), "restart policy=\"always\" cannot be "
          "used with type=\"oneshot\" (it would run again after each "
          "success): use on-failure or never");
  }
}

static void svc_defaults(loader_t *ld, cfg_service_t *s) {
  s->args = apr_array_make(ld->pool, 4, sizeof(const char *));
  s->env = apr_array_make(ld->pool, 4, sizeof(cfg_env_t));
  s->depends_on = apr_array_make(ld->pool, 2, sizeof(const char *));
  s->hooks = apr_array_make(ld->pool, 1, sizeof(cfg_hook_t));
  s->on = apr_array_make(ld->pool, 1, sizeof(cfg_on_t));
  s->autostart = 1;
  s->restart.policy = CFG_RESTART_ON_FAILURE;
  s->restart.delay_ms = DEF_RESTART_DELAY;
  s->restart.max_delay_ms = DEF_RESTART_MAX_DELAY;
  s->restart.max_restarts = DEF_RESTART_MAX;
  s->restart.window_ms = DEF_RESTART_WINDOW;
  s->ready.kind = CFG_READY_AFTER;
  s->ready.after_ms = DEF_READY_AFTER;
  s->ready.timeout_ms = DEF_READY_TIMEOUT;
  s->stop.signal = VG_SIGTERM;
  s->stop.timeout_ms = DEF_STOP_TIMEOUT;
  s->reload.signal = VG_SIGHUP;
  s->reload.cmd.args = apr_array_make(ld->pool, 1, sizeof(const char *));
  s->reload.cmd.timeout_ms = CFG_RELOAD_TIMEOUT_MS;
  s->health.type = CFG_HEALTH_NONE;
  s->health.args = apr_array_make(ld->pool, 2, sizeof(const char *));
  s->health.interval_ms = DEF_HEALTH_INTERVAL;
  s->health.timeout_ms = DEF_HEALTH_TIMEOUT;
  s->health.failures = DEF_HEALTH_FAILURES;
  s->log.out.kind = CFG_LOG_FILE;
  s->log.out.name = apr_pstrcat(ld->pool, s->name, ".out.log", NULL);
  s->log.err.kind = CFG_LOG_FILE;
  s->log.err.name = apr_pstrcat(ld->pool, s->name, ".err.log", NULL);
  s->log.max_size = DEF_LOG_MAX_SIZE;
  s->log.keep = DEF_LOG_KEEP;
  s->env_files = apr_array_make(ld->pool, 1, sizeof(cfg_env_file_t));
  s->umask = -1;
}

static int is_elem(xmlNodePtr c, const char *name) {
  return c->type == XML_ELEMENT_NODE && !c->ns &&
         strcmp((const char *)c->name, name) == 0;
}

/* The children of <service> (fields.def): name, flags, parse function. */
typedef void (*svc_parse_fn)(loader_t *ld, xmlNodePtr n, svc_load_t *rec);

static const struct {
  const char *name;
  unsigned flags;
  svc_parse_fn parse;
} svc_children[] = {
#define CFG__CHILD(name, content, attrs, required, children, flags, parse,  \
                   ...)                                                      \
  {name, flags, parse},
#include "fields.def"
#undef CFG__CHILD
};

#define SVC_NCHILDREN (sizeof(svc_children) / sizeof(svc_children[0]))

/* One record of a <service>: instance `idx` of `d`. */
static void load_service(loader_t *ld, xmlNodePtr n, cfg__decl_t *d,
                         int idx) {
  cfg_service_t *s = apr_pcalloc(ld->pool, sizeof(*s));
  svc_load_t rec;
  int present[SVC_NCHILDREN] = {0};
  xmlNodePtr c;
  size_t i;

  s->group = d->name ? keep(ld, d->name) : "";
  s->instance = idx;
  s->instances = d->instances;
  s->name = d->instances > 1 ? apr_psprintf(ld->pool, "%s-%d", s->group, idx)
                             : s->group;
  s->file = keep(ld, ld->file->display);
  s->line = d->line;
  svc_defaults(ld, s);
  if (d->instances > 1) {
    cfg_env_t *e = apr_array_push(s->env);
    e->name = "VIGIL_INSTANCE";
    e->value = apr_psprintf(ld->pool, "%d", idx);
  }
  rec.s = s;
  rec.d = d;
  rec.idx = idx;
  rec.env_seen = apr_hash_make(ld->tmp);
  rec.autostart_set = 0;
  svc_type(ld, n, s);

  for (c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns)
      continue;
    /* An unknown element was reported by the structural walk. */
    for (i = 0; i < SVC_NCHILDREN; i++)
      if (strcmp((const char *)c->name, svc_children[i].name) == 0)
        break;
    if (i == SVC_NCHILDREN)
      continue;
    present[i] = 1;
    if (svc_children[i].parse)
      svc_children[i].parse(ld, c, &rec);
  }
  for (i = 0; i < SVC_NCHILDREN; i++)
    if ((svc_children[i].flags & CFG__REQUIRED) && !present[i])
      err(ld, d->line, "service '%s' has no <%s>", s->group,
          svc_children[i].name);
  /* A scheduled service starts at its schedule, not with the supervisor,
   * unless <autostart> says so. */
  if (s->schedule && !rec.autostart_set)
    s->autostart = 0;
  if (s->type == CFG_TYPE_ONESHOT)
    check_oneshot(ld, n, s);
  if (idx == 0)
    check_attach(ld, n, s, d->line);
  APR_ARRAY_PUSH(ld->cfg->services, cfg_service_t *) = s;
}

static void load_decl(loader_t *ld, xmlNodePtr n) {
  cfg__decl_t *d = apr_array_push(ld->decls);
  xmlNodePtr c;
  val_t v;
  int i;

  memset(d, 0, sizeof(*d));
  d->file = keep(ld, ld->file->display);
  d->line = elem_line(n);
  d->instances = 1;
  d->deps = apr_array_make(ld->pool, 2, sizeof(cfg__dep_t));
  ld->instance = "0";
  if (get_attr(ld, n, "name", &v)) {
    const char *why = name_problem(v.s);
    d->name = keep(ld, v.s);
    if (why) {
      err(ld, v.line, "bad service name '%s': it %s", v.s, why);
      d->bad = 1;
    }
  } else {
    d->bad = 1;                 /* missing (reported) or unset variable */
  }
  for (c = n->children; c; c = c->next)
    if (is_elem(c, "instances")) {
      uint64_t x;
      if (get_text(ld, c, 0, &v) &&
          val_uint(ld, &v, 1, CFG__MAX_INSTANCES, &x))
        d->instances = (int)x;
      break;
    }
  d->first = ld->cfg->services->nelts;
  for (i = 0; i < d->instances; i++) {
    ld->instance = apr_psprintf(ld->tmp, "%d", i);
    load_service(ld, n, d, i);
  }
  ld->instance = NULL;
}

/* ------------------------------------------------------------------------
 * 6. <supervisor>, <include>, files
 * --------------------------------------------------------------------- */

/* <cgroup>: auto, off, or the absolute path of a cgroup v2 directory (a
 * relative one would hang off the config's directory, which is never
 * what a cgroup path means). */
static void val_cgroup(loader_t *ld, const val_t *v) {
  static const char *const modes[] = {"auto", "off", NULL};
  cfg_t *cfg = ld->cfg;
  if (strcmp(v->s, "auto") == 0) {
    cfg->cgroup_mode = CFG_CGROUP_AUTO;
  } else if (strcmp(v->s, "off") == 0) {
    cfg->cgroup_mode = CFG_CGROUP_OFF;
  } else if (v->s[0] == '/') {
    cfg->cgroup_mode = CFG_CGROUP_PATH;
    cfg->cgroup = keep(ld, v->s);
  } else {
    const char *hint = cfg__vocab_suggest(modes, v->s);
    err(ld, v->line,
        "bad value '%s' in %s (expected auto, off or the absolute path of a "
        "cgroup v2 directory%s%s%s)",
        v->s, v->where, hint ? "; did you mean '" : "", hint ? hint : "",
        hint ? "'?" : "");
  }
}

/* <supervisor>; paths_only: its state-dir, control and log-dir alone
 * (cfg_load_supervisor()). */
#define CFG_TOKEN_MAX 4096

apr_status_t cfg_http_token_read(const char *path, const char **token,
                                 const char **why, apr_pool_t *pool) {
  apr_finfo_t fi;
  apr_file_t *f = NULL;
  char buf[CFG_TOKEN_MAX + 2];
  apr_size_t n = sizeof buf - 1;
  apr_status_t rv;
  char eb[128];
  *token = NULL;
  rv = apr_stat(&fi, path, APR_FINFO_PROT | APR_FINFO_TYPE, pool);
  if ((rv == APR_SUCCESS || rv == APR_INCOMPLETE) &&
      (fi.valid & APR_FINFO_PROT) && (fi.protection & APR_FPROT_WREAD)) {
    *why = "is readable by every user (chmod o-r it)";
    return APR_EINVAL;
  }
  rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                     APR_FPROT_OS_DEFAULT, pool);
  if (rv == APR_SUCCESS) {
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv == APR_EOF)
      rv = APR_SUCCESS;
  }
  if (rv != APR_SUCCESS) {
    *why = apr_pstrcat(pool, "cannot be read: ",
                       apr_strerror(rv, eb, sizeof eb), NULL);
    return rv;
  }
  if (n > CFG_TOKEN_MAX + 1 ||
      (n == CFG_TOKEN_MAX + 1 && buf[n - 1] != '\n')) {
    *why = "holds more than 4096 bytes";
    return APR_EINVAL;
  }
  if (n > 0 && buf[n - 1] == '\n')
    n--;
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  if (n == 0) {
    *why = "is empty";
    return APR_EINVAL;
  }
  *token = apr_pstrmemdup(pool, buf, n);
  return APR_SUCCESS;
}

/* <http listen="IP:PORT" token-file="PATH"/>: a numeric address (it is
 * bound at start, before any resolver could be trusted), and a token
 * wherever the listener is reachable from other hosts. */
static void load_http(loader_t *ld, xmlNodePtr n) {
  cfg_t *cfg = ld->cfg;
  cfg_target_t t;
  pal_addr_t a;
  const char *why = NULL, *tok;
  val_t v;
  int line = elem_line(n);
  if (!get_attr(ld, n, "listen", &v))
    return;
  line = v.line;
  if (cfg_parse_hostport(v.s, &t, &why) != APR_SUCCESS ||
      pal_addr_ip(&a, t.host, t.port) != APR_SUCCESS) {
    err(ld, v.line, "bad address '%s' in %s: %s (expected a numeric "
        "IP:PORT, e.g. 127.0.0.1:9273 or [::1]:9273)", v.s, v.where,
        why ? why : "the host must be a numeric IP address");
    return;
  }
  cfg->http_listen = keep(ld, v.s);
  cfg->http_host = apr_pstrdup(ld->pool, t.host);
  cfg->http_port = t.port;
  cfg->http_loopback = strncmp(t.host, "127.", 4) == 0 ||
                       strcmp(t.host, "::1") == 0;
  if (get_attr(ld, n, "token-file", &v) && val_nonempty(ld, &v)) {
    cfg->http_token_file = resolve_path(ld, ld->file->dir_abs, v.s);
    if (cfg_http_token_read(cfg->http_token_file, &tok, &why, ld->tmp) !=
        APR_SUCCESS)
      err(ld, v.line, "token-file %s %s", cfg->http_token_file, why);
  } else if (!cfg->http_loopback) {
    err(ld, line, "<http listen=\"%s\"> is not on loopback: it requires "
        "token-file (clients then send Authorization: Bearer TOKEN)",
        cfg->http_listen);
  }
}

static void load_supervisor(loader_t *ld, xmlNodePtr n, int paths_only) {
  xmlNodePtr c;
  val_t v;
  if (!ld->file->is_main) {
    err(ld, elem_line(n), "<supervisor> is allowed only in the main "
        "config file, not in an included one");
    return;
  }
  for (c = n->children; c; c = c->next) {
    raw_t *r = NULL;
    if (c->type != XML_ELEMENT_NODE || c->ns)
      continue;
    if (paths_only && !is_elem(c, "state-dir") && !is_elem(c, "control") &&
        !is_elem(c, "log-dir"))
      continue;
    if (is_elem(c, "shutdown-timeout")) {
      if (get_text(ld, c, 0, &v))
        val_duration(ld, &v, &ld->cfg->shutdown_timeout_ms);
      continue;
    }
    if (is_elem(c, "cgroup")) {
      if (get_text(ld, c, 0, &v))
        val_cgroup(ld, &v);
      continue;
    }
    if (is_elem(c, "http")) {
      if (!ld->cfg->http_listen)
        load_http(ld, c);
      continue;
    }
    if (is_elem(c, "on")) {
      if (!ld->cfg->on)
        ld->cfg->on = apr_array_make(ld->pool, 1, sizeof(cfg_on_t));
      load_on(ld, c, ld->cfg->on);
      continue;
    }
    if (is_elem(c, "state-dir"))
      r = &ld->state_dir;
    else if (is_elem(c, "control"))
      r = &ld->control;
    else if (is_elem(c, "log-dir"))
      r = &ld->log_dir;
    if (r && get_text(ld, c, 0, &v) && val_nonempty(ld, &v) && !r->value) {
      pal_addr_t a;
      r->value = keep(ld, v.s);
      r->line = v.line;
      /* An abstract socket is Linux's alone: say so here, not when
       * `vigil run` fails to bind it. */
      if (r == &ld->control && v.s[0] == '@' &&
          pal_addr_local(&a, v.s) == PAL_EUNSUPPORTED)
        err(ld, v.line, "<control> %s: an abstract socket (@NAME) exists "
                        "only on Linux", v.s);
    }
  }
}

static int has_wildcard(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n && s[i]; i++)
    if (s[i] == '*' || s[i] == '?' || s[i] == '[')
      return 1;
  return 0;
}

/* dir + rel for messages: rel itself if dir is "" or rel is absolute. */
static const char *join_display(loader_t *ld, const char *dir,
                                const char *rel) {
  const char *root = NULL, *r = rel;
  if (!*dir || apr_filepath_root(&root, &r, 0, ld->tmp) == APR_SUCCESS)
    return apr_pstrdup(ld->pool, rel);
  return apr_pstrcat(ld->pool, dir, "/", rel, NULL);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void load_include(loader_t *ld, xmlNodePtr n) {
  const file_t *f = ld->file;
  val_t v;
  const char *base, *dir_part, *dir_abs, *dir_disp;
  int line;

  if (!get_attr(ld, n, "file", &v) || !val_nonempty(ld, &v))
    return;
  line = v.line;
  if (ld->depth >= CFG__MAX_DEPTH) {
    err(ld, line, "includes are nested more than %d deep", CFG__MAX_DEPTH);
    return;
  }
  base = apr_filepath_name_get(v.s);
  dir_part = apr_pstrmemdup(ld->tmp, v.s, (size_t)(base - v.s));
  if (has_wildcard(dir_part, strlen(dir_part))) {
    err(ld, line, "bad include '%s': wildcards are allowed only in the "
        "file name, not in directories", v.s);
    return;
  }
  if (!*base) {
    err(ld, line, "bad include '%s': it names a directory (use e.g. "
        "conf.d/*.xml)", v.s);
    return;
  }
  dir_abs = resolve_path(ld, f->dir_abs, *dir_part ? dir_part : ".");
  {
    /* the directory part without its trailing separator */
    size_t dn = strlen(dir_part);
    while (dn > 1 && (dir_part[dn - 1] == '/' || dir_part[dn - 1] == '\\'))
      dn--;
    dir_disp = dn ? join_display(ld, f->dir_display,
                                 apr_pstrmemdup(ld->tmp, dir_part, dn))
                  : f->dir_display;
  }

  if (!has_wildcard(base, strlen(base))) {
    load_file(ld, join_display(ld, dir_disp, base),
              resolve_path(ld, dir_abs, base), f, line);
    return;
  }
  {
    apr_dir_t *dir;
    apr_finfo_t fi;
    apr_array_header_t *names = apr_array_make(ld->tmp, 8, sizeof(char *));
    apr_status_t rv = apr_dir_open(&dir, dir_abs, ld->tmp);
    int i;

    if (APR_STATUS_IS_ENOENT(rv))
      return;                   /* no directory, no match: fine */
    if (rv != APR_SUCCESS) {
      char buf[256];
      err(ld, line, "cannot read directory '%s' for include '%s': %s",
          dir_abs, v.s, cfg_strerror(rv, buf, sizeof(buf)));
      return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) ==
           APR_SUCCESS) {
      if (!fi.name || fi.name[0] == '\0')
        continue;
      if (apr_fnmatch(base, fi.name, APR_FNM_PERIOD) != APR_SUCCESS)
        continue;
      if (fi.filetype != APR_REG) {
        apr_finfo_t st;
        const char *p = resolve_path(ld, dir_abs, fi.name);
        if (apr_stat(&st, p, APR_FINFO_TYPE, ld->tmp) != APR_SUCCESS ||
            st.filetype != APR_REG)
          continue;             /* directories and the like */
      }
      APR_ARRAY_PUSH(names, char *) = apr_pstrdup(ld->tmp, fi.name);
    }
    apr_dir_close(dir);
    qsort(names->elts, (size_t)names->nelts, sizeof(char *), cmp_str);
    for (i = 0; i < names->nelts; i++) {
      const char *name = APR_ARRAY_IDX(names, i, char *);
      load_file(ld, join_display(ld, dir_disp, name),
                resolve_path(ld, dir_abs, name), f, line);
    }
  }
}

/* What a path that is not a regular file is, for messages. */
static const char *type_name(apr_filetype_e t) {
  switch (t) {
  case APR_DIR: return "a directory";
  case APR_CHR: return "a character device";
  case APR_BLK: return "a block device";
  case APR_PIPE: return "a FIFO";
  case APR_SOCK: return "a socket";
  default: return "a special file";
  }
}

/* Open a config file for reading, refusing anything but a regular file
 * *before* reading from it: loads run on the supervisor (a reload), and
 * a FIFO without a writer, a terminal or /dev/zero would block it or
 * feed it forever.  The type is checked twice: by name, so that a device
 * or FIFO is never even opened (opening one can block or have effects:
 * a tape rewinds, a terminal becomes ours); then on the open file, which
 * closes the race with a rename between the two -- and the open itself
 * does not wait for a FIFO's writer, since it is non-blocking where the
 * platform has that (O_NONBLOCK; Windows has no FIFOs in the file
 * system, and APR there refuses the flag).  On a regular file the flag
 * changes nothing.  *what names the type when CFG__ENOTREG is returned. */
static apr_status_t open_regular(apr_file_t **fp, const char *path,
                                 const char **what, apr_pool_t *pool) {
  apr_finfo_t fi;
  apr_int32_t flags = APR_FOPEN_READ | APR_FOPEN_BINARY;
  apr_status_t rv;

  rv = apr_stat(&fi, path, APR_FINFO_TYPE, pool);
  if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
    *what = type_name(fi.filetype);
    return CFG__ENOTREG;
  }
  rv = apr_file_open(fp, path, flags | APR_FOPEN_NONBLOCK,
                     APR_FPROT_OS_DEFAULT, pool);
  if (rv == APR_ENOTIMPL)
    rv = apr_file_open(fp, path, flags, APR_FPROT_OS_DEFAULT, pool);
  if (rv != APR_SUCCESS)
    return rv;
  rv = apr_file_info_get(&fi, APR_FINFO_TYPE, *fp);
  if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
    *what = type_name(fi.filetype);
    rv = CFG__ENOTREG;
  }
  if (rv != APR_SUCCESS)
    apr_file_close(*fp);
  return rv;
}

/* Read a whole regular file into memory (NUL-terminated).  *what: see
 * open_regular(). */
static apr_status_t slurp(const char *path, apr_pool_t *pool, char **buf,
                          apr_size_t *len, const char **what) {
  apr_file_t *fp;
  apr_finfo_t fi;
  apr_status_t rv;

  rv = open_regular(&fp, path, what, pool);
  if (rv != APR_SUCCESS)
    return rv;
  rv = apr_file_info_get(&fi, APR_FINFO_SIZE, fp);
  if (rv == APR_SUCCESS && fi.size > (apr_off_t)CFG__MAX_FILE)
    rv = CFG__ETOOBIG;
  if (rv == APR_SUCCESS) {
    *len = (apr_size_t)fi.size;
    *buf = apr_palloc(pool, *len + 1);
    rv = apr_file_read_full(fp, *buf, *len, len);
    if (rv == APR_EOF)
      rv = APR_SUCCESS;   /* it shrank meanwhile: what was there */
    (*buf)[*len] = '\0';
  }
  apr_file_close(fp);
  return rv;
}

static void walk_root(loader_t *ld, xmlNodePtr root) {
  xmlNodePtr c;
  for (c = root->children; c; c = c->next) {
    if (is_elem(c, "service"))
      load_decl(ld, c);
    else if (is_elem(c, "supervisor"))
      load_supervisor(ld, c, 0);
    else if (is_elem(c, "include")) {
      ld->depth++;
      load_include(ld, c);
      ld->depth--;
    }
  }
}

static void file_init(loader_t *ld, file_t *f, const char *display,
                      const char *abs, int is_main) {
  const char *base;
  size_t dn;
  memset(f, 0, sizeof(*f));
  f->display = display;
  f->abs = abs;
  f->is_main = is_main;
  base = apr_filepath_name_get(abs);
  f->dir_abs = apr_pstrmemdup(ld->pool, abs, (size_t)(base - abs));
  base = apr_filepath_name_get(display);
  f->dir_display = apr_pstrmemdup(ld->pool, display,
                                  (size_t)(base - display));
  dn = strlen(f->dir_display);
  if (dn > 1 && (f->dir_display[dn - 1] == '/' ||
                 f->dir_display[dn - 1] == '\\'))
    ((char *)f->dir_display)[dn - 1] = '\0';
}

/* Read and parse the file f, with lines hung on its elements.  NULL if
 * it cannot be read, is not well-formed (unless `recover`: then whatever
 * libxml2 made of it) or has a DOCTYPE; each is reported (an unreadable
 * include at the line of its <include> in `from`).  ld->file is f while
 * a document is returned. */
static xmlDocPtr read_doc(loader_t *ld, const file_t *f, const file_t *from,
                          int from_line, int recover) {
  const file_t *saved = ld->file;
  const char *what = NULL;
  char *buf = NULL;
  apr_size_t len = 0;
  apr_status_t rv;
  xmlDocPtr doc;
  int doctype_line = 0, idx = 0, ok = 1;
  apr_array_header_t *tags;

  rv = slurp(f->abs, ld->tmp, &buf, &len, &what);
  if (rv != APR_SUCCESS) {
    char ebuf[256];
    const char *why;
    if (rv == CFG__ETOOBIG)
      why = apr_psprintf(ld->tmp, "larger than %u MB", CFG__MAX_FILE >> 20);
    else if (rv == CFG__ENOTREG)
      why = apr_psprintf(ld->tmp, "it is %s (only regular files are read)",
                         what);
    else
      why = cfg_strerror(rv, ebuf, sizeof(ebuf));
    ld->incomplete = 1;
    if (from) {
      ld->file = from;
      err(ld, from_line, "cannot read included file '%s': %s", f->display,
          why);
    } else {
      ld->file = f;
      err(ld, 0, "cannot read: %s", why);
    }
    ld->file = saved;
    return NULL;
  }

  ld->file = f;
  ld->parse_failed = 0;
  ld->quiet_parse = recover;
  doc = xmlReadMemory(buf, (int)len, f->display, NULL,
                      XML_PARSE_NONET | XML_PARSE_BIG_LINES |
                          XML_PARSE_NOCDATA |
                          (recover ? XML_PARSE_RECOVER : 0));
  ld->quiet_parse = 0;
  if (!doc || (ld->parse_failed && !recover)) {
    if (!ld->parse_failed)
      err(ld, 0, "not an XML file");
    else if (recover)
      err(ld, ld->parse_failed, "%s", ld->parse_msg);
    ld->incomplete = 1;
    if (doc)
      xmlFreeDoc(doc);
    ld->file = saved;
    return NULL;
  }
  tags = cfg__scan(buf, len, &doctype_line, ld->tmp);
  if (doc->intSubset || doc->extSubset) {
    err(ld, doctype_line ? doctype_line : 1,
        "a DOCTYPE is not allowed in a vigil config (the schema is "
        "vigil.xsd)");
    ld->incomplete = 1;
    xmlFreeDoc(doc);
    ld->file = saved;
    return NULL;
  }
  attach_tags(doc->children, tags, &idx, &ok);
  if (!ok || idx != tags->nelts)
    detach_tags(doc->children);
  return doc;
}

static void load_file(loader_t *ld, const char *display, const char *abs,
                      const file_t *from, int from_line) {
  file_t f;
  const file_t *saved = ld->file;
  const char *first;
  xmlDocPtr doc;
  xmlNodePtr root;
  int root_ok;

  first = apr_hash_get(ld->loaded, abs, APR_HASH_KEY_STRING);
  if (first) {
    err(ld, from_line, "'%s' is included again (%s)", display,
        strcmp(first, "main") == 0 ? "it is the main config file" :
        apr_psprintf(ld->tmp, "already included at %s", first));
    return;
  }
  apr_hash_set(ld->loaded, abs, APR_HASH_KEY_STRING,
               from ? apr_psprintf(ld->pool, "%s:%d", from->display,
                                   from_line)
                    : "main");
  APR_ARRAY_PUSH(ld->cfg->files, const char *) = abs;

  file_init(ld, &f, display, abs, from == NULL);
  doc = read_doc(ld, &f, from, from_line, 0);
  if (!doc)
    return;

  root = xmlDocGetRootElement(doc);
  root_ok = root && !root->ns && strcmp((const char *)root->name, "vigil") == 0;
  if (!root_ok) {
    /* Marked for this file only: the validator says the same. */
    mark_key(ld, "R", NULL, NULL);
    if (root && root->ns && strcmp((const char *)root->name, "vigil") == 0)
      err(ld, elem_line(root), "<vigil> must not be in a namespace (remove "
          "its xmlns)");
    else
      err(ld, root ? elem_line(root) : 1,
          "the root element must be <vigil>, not <%s>",
          root ? qname(ld, root) : "");
    ld->incomplete = 1;
  } else {
    check_elem(ld, root, cfg__vocab_root());
  }
  if (ld->vctxt)
    xmlSchemaValidateDoc(ld->vctxt, doc);
  apr_hash_set(ld->errs->keys, node_key(ld, "R", NULL, NULL),
               APR_HASH_KEY_STRING, NULL);
  if (root_ok)
    walk_root(ld, root);
  xmlFreeDoc(doc);
  ld->file = saved;
}

/* cfg_load_supervisor(): the main file's <supervisor> paths and nothing
 * else -- no structural check, no schema, no <service>, no <include>
 * (<supervisor> may only be in the main file).  A file that is not
 * well-formed is read as far as libxml2 recovers it: a control command
 * must find a supervisor whose file is being edited. */
static void load_paths(loader_t *ld) {
  file_t f;
  xmlDocPtr doc;
  xmlNodePtr root, n;

  file_init(ld, &f, ld->cfg->file, ld->cfg->path, 1);
  doc = read_doc(ld, &f, NULL, 0, 1);
  if (!doc)
    return;
  root = xmlDocGetRootElement(doc);
  if (!root && ld->parse_failed) {
    err(ld, ld->parse_failed, "%s", ld->parse_msg);
    ld->incomplete = 1;
  } else if (!root || root->ns ||
             strcmp((const char *)root->name, "vigil") != 0) {
    err(ld, root ? elem_line(root) : 1,
        "the root element must be <vigil>, not <%s>",
        root ? qname(ld, root) : "");
    ld->incomplete = 1;
  } else {
    for (n = root->children; n; n = n->next)
      if (is_elem(n, "supervisor"))
        load_supervisor(ld, n, 1);
  }
  xmlFreeDoc(doc);
  ld->file = NULL;
}

/* The supervisor settings and log paths, once every file is read. */
static void finish(loader_t *ld) {
  cfg_t *cfg = ld->cfg;
  int i;

  cfg->state_dir = ld->state_dir.value
                       ? resolve_path(ld, cfg->dir, ld->state_dir.value)
                       : resolve_path(ld, cfg->dir, ".vigil");
  cfg->log_dir = ld->log_dir.value
                     ? resolve_path(ld, cfg->dir, ld->log_dir.value)
                     : resolve_path(ld, cfg->state_dir, "logs");
  if (ld->control.value) {
    const char *c = ld->control.value;
    /* \\.\pipe\NAME (Windows) and @NAME (a Linux abstract socket) are
     * names, not paths: taken as they are. */
    cfg->control = (c[0] == '\\' && c[1] == '\\') || c[0] == '@'
                       ? c
                       : resolve_path(ld, cfg->dir, c);
  }
  for (i = 0; i < cfg->services->nelts; i++) {
    cfg_service_t *s = APR_ARRAY_IDX(cfg->services, i, cfg_service_t *);
    cfg_log_target_t *t[2];
    int k;
    t[0] = &s->log.out;
    t[1] = &s->log.err;
    for (k = 0; k < 2; k++)
      t[k]->path = t[k]->kind == CFG_LOG_FILE
                       ? resolve_path(ld, cfg->log_dir, t[k]->name)
                       : NULL;
    apr_hash_set(cfg->by_name, s->name, APR_HASH_KEY_STRING, s);
  }
}

static apr_status_t make_schema(loader_t *ld) {
  xmlSchemaParserCtxtPtr pctxt;
  pctxt = xmlSchemaNewMemParserCtxt((const char *)cfg__schema_xsd,
                                    (int)cfg__schema_xsd_len);
  if (!pctxt)
    return APR_ENOMEM;
  ld->schema = xmlSchemaParse(pctxt);
  xmlSchemaFreeParserCtxt(pctxt);
  if (!ld->schema) {
    cfg_errors_add(ld->errs, "vigil.xsd", 0,
                   "internal error: the built-in schema does not load");
    return CFG_EINVALID;
  }
  ld->vctxt = xmlSchemaNewValidCtxt(ld->schema);
  if (!ld->vctxt)
    return APR_ENOMEM;
  xmlSchemaSetValidStructuredErrors(ld->vctxt, schema_error, ld);
  return APR_SUCCESS;
}

/* What a load saves of libxml2's per-thread error handlers. */
typedef struct {
  xmlStructuredErrorFunc serror;
  void *sctx;
  xmlGenericErrorFunc generic;
  void *gctx;
} xml_handlers_t;

/* The start of every load: the loader, an empty config for `path` in a
 * new subpool of `pool`, and our libxml2 error handlers (per thread)
 * until load_end(). */
static apr_status_t load_begin(loader_t *ld, xml_handlers_t *saved,
                               const char *path, const cfg_options_t *opts,
                               apr_pool_t *pool, cfg_errors_t **errs_out) {
  apr_pool_t *cpool;
  cfg_t *cfg;
  cfg_errors_t *errs;
  apr_status_t rv;
  char *abs = NULL;

  memset(ld, 0, sizeof(*ld));
  errs = cfg_errors_create(pool);
  if (errs_out)
    *errs_out = errs;
  if (!path || !*path) {
    cfg_errors_add(errs, "", 0, "no config file named");
    return CFG_EINVALID;
  }
  rv = apr_pool_create(&cpool, pool);
  if (rv != APR_SUCCESS)
    return rv;
  ld->pool = cpool;
  ld->errs = errs;
  if (opts) {
    ld->lookup = opts->lookup;
    ld->baton = opts->baton;
  }
  rv = apr_pool_create(&ld->tmp, cpool);
  if (rv != APR_SUCCESS) {
    apr_pool_destroy(cpool);
    return rv;
  }
  cfg = apr_pcalloc(cpool, sizeof(*cfg));
  cfg->pool = cpool;
  cfg->file = apr_pstrdup(cpool, path);
  cfg->services = apr_array_make(cpool, 16, sizeof(cfg_service_t *));
  cfg->files = apr_array_make(cpool, 4, sizeof(const char *));
  cfg->by_name = apr_hash_make(cpool);
  cfg->shutdown_timeout_ms = DEF_SHUTDOWN_TIMEOUT;
  ld->cfg = cfg;
  ld->decls = apr_array_make(ld->tmp, 16, sizeof(cfg__decl_t));
  ld->loaded = apr_hash_make(ld->tmp);

  if (apr_filepath_merge(&abs, NULL, path, 0, cpool) != APR_SUCCESS)
    abs = apr_pstrdup(cpool, path);
  cfg->path = abs;
  cfg->dir = apr_pstrmemdup(cpool, abs,
                            (size_t)(apr_filepath_name_get(abs) - abs));

  /* libxml2's error handlers are per thread: ours for the duration. */
  xmlInitParser();
  saved->serror = xmlStructuredError;
  saved->sctx = xmlStructuredErrorContext;
  saved->generic = xmlGenericError;
  saved->gctx = xmlGenericErrorContext;
  xmlSetStructuredErrorFunc(ld, parse_error);
  xmlSetGenericErrorFunc(NULL, ignore_generic);
  return APR_SUCCESS;
}

/* The end of a load begun: *out is the config if rv is APR_SUCCESS and
 * no problem was found; else the config is freed and the problems
 * sorted. */
static apr_status_t load_end(loader_t *ld, const xml_handlers_t *saved,
                             apr_status_t rv, cfg_t **out) {
  if (ld->vctxt)
    xmlSchemaFreeValidCtxt(ld->vctxt);
  if (ld->schema)
    xmlSchemaFree(ld->schema);
  xmlSetStructuredErrorFunc(saved->sctx, saved->serror);
  xmlSetGenericErrorFunc(saved->gctx, saved->generic);

  apr_pool_destroy(ld->tmp);
  if (rv == APR_SUCCESS && cfg_errors_count(ld->errs) > 0)
    rv = CFG_EINVALID;
  if (rv != APR_SUCCESS) {
    cfg_errors_sort(ld->errs);
    apr_pool_destroy(ld->pool);
    return rv;
  }
  *out = ld->cfg;
  return APR_SUCCESS;
}

/* cfg_load_ex(), or with paths_only cfg_load_supervisor(). */
static apr_status_t load(cfg_t **out, const char *path,
                         const cfg_options_t *opts, apr_pool_t *pool,
                         cfg_errors_t **errs_out, int paths_only) {
  loader_t ld;
  xml_handlers_t saved;
  apr_status_t rv;

  *out = NULL;
  rv = load_begin(&ld, &saved, path, opts, pool, errs_out);
  if (rv != APR_SUCCESS)
    return rv;
  if (paths_only) {
    load_paths(&ld);
    finish(&ld);
  } else if ((rv = make_schema(&ld)) == APR_SUCCESS) {
    load_file(&ld, ld.cfg->file, ld.cfg->path, NULL, 0);
    finish(&ld);
    cfg__validate(ld.cfg, ld.decls, ld.incomplete, ld.errs);
  }
  return load_end(&ld, &saved, rv, out);
}

apr_status_t cfg_load_ex(cfg_t **out, const char *path,
                         const cfg_options_t *opts, apr_pool_t *pool,
                         cfg_errors_t **errs_out) {
  return load(out, path, opts, pool, errs_out, 0);
}

apr_status_t cfg_load_supervisor(cfg_t **out, const char *path,
                                 const cfg_options_t *opts, apr_pool_t *pool,
                                 cfg_errors_t **errs_out) {
  return load(out, path, opts, pool, errs_out, 1);
}

apr_status_t cfg_load(cfg_t **out, const char *path, apr_pool_t *pool,
                      cfg_errors_t **errs) {
  return cfg_load_ex(out, path, NULL, pool, errs);
}

void cfg_destroy(cfg_t *cfg) {
  if (cfg)
    apr_pool_destroy(cfg->pool);
}

const cfg_service_t *cfg_service_find(const cfg_t *cfg, const char *name) {
  if (!cfg || !name)
    return NULL;
  return apr_hash_get(cfg->by_name, name, APR_HASH_KEY_STRING);
}

const char *cfg_schema_text(size_t *len) {
  if (len)
    *len = cfg__schema_xsd_len;
  return (const char *)cfg__schema_xsd;
}
