/*
 * validate.c -- the checks that span services and files: unique names
 * (of services and of their instances), depends-on targets, dependency
 * cycles, and log files written by two streams.  Then each record's
 * depends_on is resolved to service (instance) names.
 *
 * Dependencies are checked between declared services ("groups"): a
 * depends-on may name a group (meaning all its instances) or one instance
 * (web-1); either way the edge goes to the group, so a cycle is found
 * once however many instances there are.  Each back edge met by the
 * depth-first search is one cycle, reported at the <depends-on> that
 * closes it, with the whole path.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "cfg_int.h"

typedef struct edge_s {
  int to;                       /* decl index */
  int line;                     /* of the <depends-on> */
} edge_t;

typedef struct {
  cfg_t *cfg;
  cfg_errors_t *errs;
  apr_pool_t *tmp;
  apr_array_header_t *decls;
  apr_array_header_t **edges;   /* per decl: edge_t */
  int *color;                   /* 0 new, 1 on the path, 2 done */
  int *path;
  int depth;
} vctx_t;

#define DECL(v, i) (&APR_ARRAY_IDX((v)->decls, (i), cfg__decl_t))
#define REC(v, i) APR_ARRAY_IDX((v)->cfg->services, (i), cfg_service_t *)

/* "line 12" in the same file, "conf.d/db.xml:12" in another. */
static const char *where(vctx_t *v, const char *here, const char *file,
                         int line) {
  if (strcmp(here, file) == 0)
    return apr_psprintf(v->tmp, "line %d", line);
  return apr_psprintf(v->tmp, "%s:%d", file, line);
}

static void check_names(vctx_t *v, apr_hash_t *groups, apr_hash_t *records) {
  int i, k;
  for (i = 0; i < v->decls->nelts; i++) {
    cfg__decl_t *d = DECL(v, i);
    int *first;
    if (d->bad || !d->name)
      continue;
    first = apr_hash_get(groups, d->name, APR_HASH_KEY_STRING);
    if (first) {
      cfg__decl_t *f = DECL(v, *first);
      cfg_errors_add(v->errs, d->file, d->line,
                     "duplicate service name '%s' (first defined at %s)",
                     d->name, where(v, d->file, f->file, f->line));
      d->bad = 2;
      continue;
    }
    first = apr_palloc(v->tmp, sizeof(*first));
    *first = i;
    apr_hash_set(groups, d->name, APR_HASH_KEY_STRING, first);
  }
  for (i = 0; i < v->decls->nelts; i++) {
    cfg__decl_t *d = DECL(v, i);
    if (d->bad)
      continue;
    for (k = 0; k < d->instances; k++) {
      cfg_service_t *r = REC(v, d->first + k), *other;
      if (strlen(r->name) > 64) {
        cfg_errors_add(v->errs, d->file, d->line,
                       "instance name '%s' is longer than 64 characters",
                       r->name);
        continue;
      }
      other = apr_hash_get(records, r->name, APR_HASH_KEY_STRING);
      if (other) {
        const char *loc = where(v, d->file, other->file, other->line);
        if (d->instances > 1)
          cfg_errors_add(v->errs, d->file, d->line,
                         "instance %d of service '%s' is named '%s', which "
                         "is already the name of a service (%s)",
                         k, d->name, r->name, loc);
        else
          cfg_errors_add(v->errs, d->file, d->line,
                         "service name '%s' is already the name of an "
                         "instance of service '%s' (%s)",
                         r->name, other->group, loc);
        d->bad = 3;             /* no further checks: they would repeat it */
        continue;
      }
      apr_hash_set(records, r->name, APR_HASH_KEY_STRING, r);
    }
  }
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The known name closest to `name`.  Among equally close ones, the first
 * in byte order: the hash tables' order changes from load to load (APR
 * seeds each table), and the message must not. */
static const char *suggest(vctx_t *v, apr_hash_t *groups, apr_hash_t *records,
                           const char *name) {
  apr_array_header_t *names = apr_array_make(v->tmp, 16, sizeof(char *));
  apr_hash_index_t *hi;
  for (hi = apr_hash_first(v->tmp, groups); hi; hi = apr_hash_next(hi))
    APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
  for (hi = apr_hash_first(v->tmp, records); hi; hi = apr_hash_next(hi))
    APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
  qsort(names->elts, (size_t)names->nelts, sizeof(char *), cmp_names);
  APR_ARRAY_PUSH(names, const char *) = NULL;
  return cfg__vocab_suggest((const char *const *)names->elts, name);
}

static void add_dep(vctx_t *v, cfg__decl_t *d, apr_hash_t *seen,
                    const char *name) {
  int k;
  if (apr_hash_get(seen, name, APR_HASH_KEY_STRING))
    return;
  apr_hash_set(seen, name, APR_HASH_KEY_STRING, "");
  for (k = 0; k < d->instances; k++)
    APR_ARRAY_PUSH(REC(v, d->first + k)->depends_on, const char *) = name;
}

static void resolve_deps(vctx_t *v, apr_hash_t *groups, apr_hash_t *records,
                         int incomplete) {
  int i, j;
  for (i = 0; i < v->decls->nelts; i++) {
    cfg__decl_t *d = DECL(v, i);
    apr_hash_t *seen = apr_hash_make(v->tmp);
    v->edges[i] = apr_array_make(v->tmp, 2, sizeof(edge_t));
    if (d->bad)
      continue;
    for (j = 0; j < d->deps->nelts; j++) {
      cfg__dep_t *dep = &APR_ARRAY_IDX(d->deps, j, cfg__dep_t);
      int *g = apr_hash_get(groups, dep->name, APR_HASH_KEY_STRING);
      cfg_service_t *r = NULL;
      edge_t *e;
      int to, k;

      if (g) {
        to = *g;
      } else if ((r = apr_hash_get(records, dep->name,
                                   APR_HASH_KEY_STRING)) != NULL) {
        int *gr = apr_hash_get(groups, r->group, APR_HASH_KEY_STRING);
        if (!gr)
          continue;
        to = *gr;
      } else {
        const char *hint;
        if (incomplete)
          continue;
        hint = suggest(v, groups, records, dep->name);
        if (hint)
          cfg_errors_add(v->errs, d->file, dep->line,
                         "<depends-on> names an unknown service '%s' (did "
                         "you mean '%s'?)",
                         dep->name, hint);
        else
          cfg_errors_add(v->errs, d->file, dep->line,
                         "<depends-on> names an unknown service '%s'",
                         dep->name);
        continue;
      }
      if (to == i) {
        cfg_errors_add(v->errs, d->file, dep->line,
                       "service '%s' depends on itself", d->name);
        continue;
      }
      for (k = 0; k < v->edges[i]->nelts; k++)
        if (APR_ARRAY_IDX(v->edges[i], k, edge_t).to == to)
          break;
      if (k == v->edges[i]->nelts) {
        e = apr_array_push(v->edges[i]);
        e->to = to;
        e->line = dep->line;
      }
      if (r) {
        add_dep(v, d, seen, r->name);
      } else {
        cfg__decl_t *t = DECL(v, to);
        for (k = 0; k < t->instances; k++)
          add_dep(v, d, seen, REC(v, t->first + k)->name);
      }
    }
  }
}

static void dfs(vctx_t *v, int u) {
  int k;
  v->color[u] = 1;
  v->path[v->depth++] = u;
  for (k = 0; k < v->edges[u]->nelts; k++) {
    edge_t *e = &APR_ARRAY_IDX(v->edges[u], k, edge_t);
    if (v->color[e->to] == 0) {
      dfs(v, e->to);
    } else if (v->color[e->to] == 1) {
      /* Back edge u -> to: the cycle is to ... u -> to. */
      const char *cycle = "";
      int p = v->depth - 1;
      while (p > 0 && v->path[p] != e->to)
        p--;
      for (; p < v->depth; p++)
        cycle = apr_pstrcat(v->tmp, cycle, DECL(v, v->path[p])->name, " -> ",
                            NULL);
      cycle = apr_pstrcat(v->tmp, cycle, DECL(v, e->to)->name, NULL);
      cfg_errors_add(v->errs, DECL(v, u)->file, e->line,
                     "dependency cycle: %s", cycle);
    }
  }
  v->depth--;
  v->color[u] = 2;
}

static void check_logs(vctx_t *v) {
  static const cfg_log_target_t none = {CFG_LOG_NULL, NULL, NULL,
                                        CFG_SINK_NONE};
  apr_hash_t *files = apr_hash_make(v->tmp);
  int i, j, k;
  for (i = 0; i < v->decls->nelts; i++) {
    cfg__decl_t *d = DECL(v, i);
    if (d->bad)
      continue;
    for (k = 0; k < d->instances; k++) {
      cfg_service_t *r = REC(v, d->first + k);
      const cfg_log_target_t *t[2];
      t[0] = &r->log.out;
      t[1] = &r->log.err;
      if (t[0]->kind == CFG_LOG_FILE && t[1]->kind == CFG_LOG_FILE &&
          strcmp(t[0]->path, t[1]->path) == 0) {
        cfg_errors_add(v->errs, d->file, d->line,
                       "stdout and stderr of service '%s' both go to '%s' "
                       "(use stderr=\"stdout\" to merge them)",
                       r->name, t[0]->name);
        t[1] = &none;           /* the file still counts as used, once */
      }
      for (j = 0; j < 2; j++) {
        cfg_service_t *other;
        if (t[j]->kind != CFG_LOG_FILE)
          continue;
        other = apr_hash_get(files, t[j]->path, APR_HASH_KEY_STRING);
        if (!other) {
          apr_hash_set(files, t[j]->path, APR_HASH_KEY_STRING, r);
          continue;
        }
        if (strcmp(other->group, r->group) == 0)
          cfg_errors_add(v->errs, d->file, d->line,
                         "instances '%s' and '%s' both write the log file "
                         "'%s' (put ${VIGIL_INSTANCE} in its name)",
                         other->name, r->name, t[j]->name);
        else
          cfg_errors_add(v->errs, d->file, d->line,
                         "log file '%s' of service '%s' is also written by "
                         "service '%s' (%s)",
                         t[j]->name, r->name, other->name,
                         where(v, d->file, other->file, other->line));
      }
    }
  }
}

void cfg__validate(cfg_t *cfg, apr_array_header_t *decls, int incomplete,
                   cfg_errors_t *errs) {
  vctx_t v;
  apr_hash_t *groups, *records;
  int i, n = decls->nelts;

  memset(&v, 0, sizeof(v));
  if (apr_pool_create(&v.tmp, cfg->pool) != APR_SUCCESS)
    return;
  v.cfg = cfg;
  v.errs = errs;
  v.decls = decls;
  v.edges = apr_pcalloc(v.tmp, sizeof(*v.edges) * (size_t)(n + 1));
  v.color = apr_pcalloc(v.tmp, sizeof(int) * (size_t)(n + 1));
  v.path = apr_pcalloc(v.tmp, sizeof(int) * (size_t)(n + 1));
  groups = apr_hash_make(v.tmp);
  records = apr_hash_make(v.tmp);

  check_names(&v, groups, records);
  resolve_deps(&v, groups, records, incomplete);
  for (i = 0; i < n; i++)
    if (v.color[i] == 0 && !DECL(&v, i)->bad)
      dfs(&v, i);
  check_logs(&v);
  apr_pool_destroy(v.tmp);
}
