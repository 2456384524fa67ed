/*
 * vocab.c -- the elements and attributes of a vigil config.
 *
 * The same vocabulary as vigil.xsd (test_config.c checks that each names
 * exactly what the other does); <service>'s children come from
 * fields.def.  The structural walk in load.c uses it to
 * report every unknown or misplaced element and attribute -- libxml2's
 * validator stops checking an element's content at its first unexpected
 * child -- and to suggest the likely intended name.
 */
#include <string.h>

#include "cfg_int.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* <service>'s children, from the one table of per-service options. */
static const char *const service_children[] = {
#define CFG__CHILD(name, ...) name,
#include "fields.def"
#undef CFG__CHILD
  NULL};

static const cfg__elem_t elems[] = {
  {"vigil", CFG__ELEMENTS, NONE, NONE,
   L("supervisor", "service", "include"), 0},
  {"include", CFG__EMPTY, L("file"), L("file"), NONE, 0},
  {"supervisor", CFG__ELEMENTS, NONE, NONE,
   L("state-dir", "control", "log-dir", "shutdown-timeout", "cgroup",
     "http", "on"),
   CFG__ONCE},
  {"http", CFG__EMPTY, L("listen", "token-file"), L("listen"), NONE,
   CFG__ONCE},
  {"state-dir", CFG__TEXT, NONE, NONE, NONE, CFG__ONCE},
  {"control", CFG__TEXT, NONE, NONE, NONE, CFG__ONCE},
  {"log-dir", CFG__TEXT, NONE, NONE, NONE, CFG__ONCE},
  {"shutdown-timeout", CFG__TEXT, NONE, NONE, NONE, CFG__ONCE},
  {"cgroup", CFG__TEXT, NONE, NONE, NONE, CFG__ONCE},
  {"service", CFG__ELEMENTS, L("name", "type"), L("name"), service_children,
   0},
#define CFG__CHILD(name, content, attrs, required, children, flags, ...)     \
  {name, content, attrs, required, children, flags},
#include "fields.def"
#undef CFG__CHILD
};

#define NELEMS (sizeof(elems) / sizeof(elems[0]))

const cfg__elem_t *cfg__vocab_elem(const char *name) {
  size_t i;
  for (i = 0; i < NELEMS; i++)
    if (strcmp(elems[i].name, name) == 0)
      return &elems[i];
  return NULL;
}

const cfg__elem_t *cfg__vocab_root(void) { return &elems[0]; }

const cfg__elem_t *const *cfg__vocab_all(void) {
  static const cfg__elem_t *all[NELEMS + 1];
  size_t i;
  if (!all[0])
    for (i = 0; i < NELEMS; i++)
      all[i] = &elems[i];
  return all;
}

int cfg__vocab_has(const char *const *list, const char *name) {
  for (; list && *list; list++)
    if (strcmp(*list, name) == 0)
      return 1;
  return 0;
}

/* Levenshtein distance, ASCII case-insensitive, for short words; anything
 * longer than 64 bytes is "far". */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), i, j;
  size_t row[65];
  if (la > 64 || lb > 64)
    return 1000;
  for (j = 0; j <= lb; j++)
    row[j] = j;
  for (i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (j = 1; j <= lb; j++) {
      char x = a[i - 1], y = b[j - 1];
      size_t up = row[j], best;
      if (x >= 'A' && x <= 'Z')
        x = (char)(x - 'A' + 'a');
      if (y >= 'A' && y <= 'Z')
        y = (char)(y - 'A' + 'a');
      best = diag + (x != y);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

const char *cfg__vocab_suggest(const char *const *list, const char *word) {
  const char *best = NULL;
  size_t bestd = (size_t)-1, len = strlen(word);
  /* Close enough: 1 edit for short words, 2 from 5 letters, 3 from 9. */
  size_t limit = len < 5 ? 1 : len < 9 ? 2 : 3;
  for (; list && *list; list++) {
    size_t d = distance(word, *list);
    if (d < bestd) {
      bestd = d;
      best = *list;
    }
  }
  return bestd <= limit ? best : NULL;
}
