/*
 * cfg_int.h -- internals shared by the files of config/ (prefix cfg__).
 * Not installed; tests may include it.
 */
#ifndef VIGIL_CFG_INT_H
#define VIGIL_CFG_INT_H

#include <libxml/tree.h>

#include "cfg.h"

/* ------------------------------------------------------------------------
 * errors.c
 * --------------------------------------------------------------------- */

/* Remember that a structural problem identified by `key` (see load.c:
 * "E|<node>", "A|<node>|attr", ...) was reported, so that the XSD
 * validator's report of the same problem is not added again. */
void cfg__errors_mark(cfg_errors_t *errs, const char *key);
int cfg__errors_marked(const cfg_errors_t *errs, const char *key);

/* ------------------------------------------------------------------------
 * subst.c
 * --------------------------------------------------------------------- */

/* Called for every problem found in a value, with the offset of its '$';
 * expansion goes on after it. */
typedef void (*cfg__subst_err_fn)(void *baton, size_t offset,
                                  const char *msg);

/* cfg_subst() that reports every problem through `on_err` (which may be
 * NULL) and returns APR_EINVAL if there was any (*out is then set to the
 * best-effort expansion). */
apr_status_t cfg__subst_all(const char **out, const char *in,
                            cfg_getenv_fn lookup, void *baton,
                            apr_pool_t *pool, cfg__subst_err_fn on_err,
                            void *err_baton);

/* ------------------------------------------------------------------------
 * scan.c: where things are in the source text.
 *
 * libxml2 gives an element the line where its start tag *ends*, and no
 * line at all to attributes.  A light scan of the (well-formed) source
 * finds, for every start tag in document order, the line of its '<', of
 * its '>', of each attribute name, and of its first non-blank character
 * data.  Tags are matched to element nodes by document order, checked by
 * name; on any mismatch the caller falls back to libxml2's lines.
 * --------------------------------------------------------------------- */

typedef struct cfg__attr_pos_s {
  const char *name;             /* qualified name as written */
  int line;
} cfg__attr_pos_t;

typedef struct cfg__tag_s {
  const char *name;             /* qualified name as written */
  int start_line;               /* line of '<' */
  int end_line;                 /* line of the start tag's '>' */
  int text_line;                /* first non-blank direct text, or 0 */
  int nattrs;
  cfg__attr_pos_t *attrs;
} cfg__tag_t;

/* Scan `len` bytes of XML.  Returns an array of cfg__tag_t (document
 * order) and sets *doctype_line to the line of a <!DOCTYPE (or 0). */
apr_array_header_t *cfg__scan(const char *buf, size_t len,
                              int *doctype_line, apr_pool_t *pool);

/* ------------------------------------------------------------------------
 * vocab.c: the element and attribute vocabulary (kept equal to
 * vigil.xsd; a test checks both ways).
 * --------------------------------------------------------------------- */

typedef enum {
  CFG__ELEMENTS = 0,            /* child elements only */
  CFG__TEXT,                    /* text only */
  CFG__EMPTY                    /* nothing */
} cfg__content;

/* How a child may appear in its parent (fields.def's flags). */
#define CFG__ONCE 1u            /* at most once */
#define CFG__REQUIRED 2u        /* <service> only: at least once */

typedef struct cfg__elem_s {
  const char *name;
  cfg__content content;
  const char *const *attrs;     /* NULL-terminated */
  const char *const *required;  /* NULL-terminated */
  const char *const *children;  /* NULL-terminated (ELEMENTS) */
  unsigned flags;               /* CFG__ONCE: at most once in its parent
                                   (an element means the same wherever
                                   it is allowed) */
} cfg__elem_t;

/* The definition of an element name, or NULL if it is unknown. */
const cfg__elem_t *cfg__vocab_elem(const char *name);
/* The root definition (<vigil>). */
const cfg__elem_t *cfg__vocab_root(void);
int cfg__vocab_has(const char *const *list, const char *name);
/* The entry of `list` closest to `word` by edit distance, if it is close
 * enough to be a likely typo; else NULL. */
const char *cfg__vocab_suggest(const char *const *list, const char *word);
/* Every element definition, NULL-terminated (tests). */
const cfg__elem_t *const *cfg__vocab_all(void);

/* ------------------------------------------------------------------------
 * diff.c: the reload fields of a service, one per CFG_F_* bit (the
 * CFG__FIELD()s of fields.def).
 * --------------------------------------------------------------------- */

typedef struct cfg__field_s {
  unsigned bit;                 /* one CFG_F_* */
  const char *name;             /* cfg_fields_string()'s */
  int (*eq)(const cfg_service_t *a, const cfg_service_t *b);
} cfg__field_t;

/* Every field, in fields.def's order; *n gets their number. */
const cfg__field_t *cfg__fields(size_t *n);

/* ------------------------------------------------------------------------
 * schema.c (generated from vigil.xsd at build time)
 * --------------------------------------------------------------------- */

extern const unsigned char cfg__schema_xsd[];
extern const size_t cfg__schema_xsd_len;

/* ------------------------------------------------------------------------
 * load.c / validate.c
 * --------------------------------------------------------------------- */

/* A declared <service> before checks across files. */
typedef struct cfg__decl_s {
  const char *name;             /* group name (may be NULL if bad) */
  const char *file;
  int line;
  int instances;
  int first;                    /* index of its first record in services */
  apr_array_header_t *deps;     /* cfg__dep_t */
  int bad;                      /* its name is unusable */
} cfg__decl_t;

typedef struct cfg__dep_s {
  const char *name;             /* as written */
  int line;
} cfg__dep_t;

/* Checks across all files: names (unique, including instance names),
 * depends-on (known, no cycle), log files (not shared), then resolve
 * depends_on of every record.  `decls` is an array of cfg__decl_t.
 * `incomplete`: some file could not be read or parsed, so a depends-on
 * naming no known service is not reported (it may be in that file). */
void cfg__validate(cfg_t *cfg, apr_array_header_t *decls, int incomplete,
                   cfg_errors_t *errs);

#endif /* VIGIL_CFG_INT_H */
