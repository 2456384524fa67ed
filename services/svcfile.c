/*
 * svcfile.c -- the files `vigil service install` writes for the OS
 * service manager: a systemd unit and a launchd plist.
 *
 * Paths go into them as data, never as syntax.  Each file format has its
 * own quoting, applied here to every path (the vigil executable and the
 * config file; the service name is limited to [A-Za-z0-9_.-] by the
 * caller):
 *
 *   systemd (systemd.service(5), "Command lines"; systemd.unit(5),
 *   "Specifiers"): a word is put in double quotes when it holds anything
 *   but plain characters; inside, '"' and '\' are backslash-escaped and
 *   other control characters are C escapes (\xNN).  '%' is written '%%'
 *   (specifiers are expanded first) and, in arguments, '$' is written
 *   '$$' (environment variables are expanded in arguments, not in the
 *   program's path).  A newline or carriage return is refused: a unit is
 *   read line by line, and a path with one is almost surely an attack or
 *   a mistake.  Invalid UTF-8 is refused, as systemd itself ignores such
 *   a line.  The program's own path may hold no quote, backslash or
 *   control character at all: systemd refuses those there ("Executable
 *   name contains special characters").
 *
 *   launchd (a property list, XML 1.0): '&', '<', '>' are entities, a
 *   carriage return is &#13; (an XML parser would turn a bare one into a
 *   newline); other control characters but tab and newline cannot be
 *   represented in XML 1.0 and are refused, as is invalid UTF-8.
 *
 * Windows (the SCM's command line) is quoted in the PAL
 * (pal_svcmgr_command_line()).
 */
#include "svc_int.h"

#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

/* The length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s) {
  size_t n, i;
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4;
  else
    return 0;
  for (i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  /* overlong forms, surrogates, beyond U+10FFFF */
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
      (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
    return 0;
  return n;
}

/* NULL if every character of s can be written by a format that refuses
 * `refused` control characters; else why not. */
static const char *unrepresentable(const char *s, const char *refused,
                                   const char *what, apr_pool_t *pool) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t n = utf8_len(p);
    if (n == 0)
      return apr_psprintf(pool, "the path '%s' is not valid UTF-8, which "
                          "%s cannot hold", s, what);
    if (n == 1 && *p < 0x20 && strchr(refused, (char)*p))
      return apr_psprintf(pool, "the path '%s' holds a control character "
                          "(0x%02x), which %s cannot hold safely", s,
                          (unsigned)*p, what);
    p += n;
  }
  return NULL;
}

/* One word of a systemd command line (see above).  The executable's
 * word is not subject to environment expansion, so its '$' stays. */
static const char *sd_word(const char *s, int is_exe, apr_pool_t *pool) {
  const unsigned char *p;
  int quote = *s == '\0';
  char *o = apr_palloc(pool, 4 * strlen(s) + 3), *q = o;
  for (p = (const unsigned char *)s; *p && !quote; p++)
    quote = *p <= ' ' || *p == 0x7f || strchr("\"'\\;", *p) != NULL;
  if (quote)
    *q++ = '"';
  for (p = (const unsigned char *)s; *p; p++) {
    if (*p == '%' || (*p == '$' && !is_exe)) {
      *q++ = (char)*p;           /* %% and $$ */
      *q++ = (char)*p;
    } else if (*p == '"' || *p == '\\') {
      *q++ = '\\';
      *q++ = (char)*p;
    } else if (*p < ' ' || *p == 0x7f) {
      q += sprintf(q, "\\x%02x", (unsigned)*p);
    } else {
      *q++ = (char)*p;
    }
  }
  if (quote)
    *q++ = '"';
  *q = '\0';
  return o;
}

/* Text content of an XML element (see above). */
static const char *xml_text(const char *s, apr_pool_t *pool) {
  const char *p;
  char *o = apr_palloc(pool, 6 * strlen(s) + 1), *q = o;
  for (p = s; *p; p++) {
    const char *r = *p == '&' ? "&amp;" : *p == '<' ? "&lt;"
                  : *p == '>' ? "&gt;" : *p == '\r' ? "&#13;" : NULL;
    if (r) {
      memcpy(q, r, strlen(r));
      q += strlen(r);
    } else
      *q++ = *p;
  }
  *q = '\0';
  return o;
}

/* The control characters XML 1.0 has no room for: all but tab, newline
 * and carriage return (written &#13;). */
#define XML_REFUSED                                                          \
  "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14"     \
  "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
/* Every control character. */
#define CTRL_ALL "\t\n\r" XML_REFUSED

const char *svc_systemd_unit(const char *name, const char *exe,
                             const char *config, uint64_t stop_ms,
                             apr_pool_t *pool, const char **why) {
  const char *e, *c;
  static const char *const what = "a systemd unit";
  if ((*why = unrepresentable(exe, "\n\r", what, pool)) != NULL ||
      (*why = unrepresentable(config, "\n\r", what, pool)) != NULL)
    return NULL;
  if (strpbrk(exe, "\"'\\\x7f") || unrepresentable(exe, CTRL_ALL, what,
                                                   pool)) {
    *why = apr_psprintf(pool, "the executable's path '%s' holds a quote, a "
                        "backslash or a control character, which systemd "
                        "refuses in an ExecStart= program", exe);
    return NULL;
  }
  e = sd_word(exe, 1, pool);
  c = sd_word(config, 0, pool);
  return apr_psprintf(
      pool,
      "# Written by `vigil service install`; remove with "
      "`vigil service uninstall --name %s`.\n"
      "[Unit]\n"
      "Description=Vigil process supervisor (%s)\n"
      "After=network.target\n"
      "\n"
      "[Service]\n"
      "Type=notify\n"
      "NotifyAccess=main\n"
      "ExecStart=%s run -c %s\n"
      "ExecReload=%s reload -c %s\n"
      "KillMode=mixed\n"
      "Delegate=yes\n"
      "Restart=on-failure\n"
      "TimeoutStopSec=%lu\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      name, name, e, c, e, c, (unsigned long)((stop_ms + 999) / 1000));
}

const char *svc_launchd_plist(const char *name, const char *exe,
                              const char *config, uint64_t stop_ms,
                              apr_pool_t *pool, const char **why) {
  static const char *const what = "a launchd property list (XML)";
  if ((*why = unrepresentable(exe, XML_REFUSED, what, pool)) != NULL ||
      (*why = unrepresentable(config, XML_REFUSED, what, pool)) != NULL)
    return NULL;
  return apr_psprintf(
      pool,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n"
      "<dict>\n"
      "  <key>Label</key><string>org.vigil.%s</string>\n"
      "  <key>ProgramArguments</key>\n"
      "  <array>\n"
      "    <string>%s</string>\n"
      "    <string>run</string>\n"
      "    <string>-c</string>\n"
      "    <string>%s</string>\n"
      "  </array>\n"
      "  <key>RunAtLoad</key><true/>\n"
      "  <key>KeepAlive</key>\n"
      "  <dict><key>SuccessfulExit</key><false/></dict>\n"
      "  <key>ExitTimeOut</key><integer>%lu</integer>\n"
      "</dict>\n"
      "</plist>\n",
      xml_text(name, pool), xml_text(exe, pool), xml_text(config, pool),
      (unsigned long)((stop_ms + 999) / 1000));
}
