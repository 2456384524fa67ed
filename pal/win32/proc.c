/*
 * proc.c -- child processes on Windows: CreateProcessW inside a job object
 * whose messages arrive on the loop's completion port.
 *
 * Map:
 *   1. the command line: argv -> the UTF-16 string that CommandLineToArgvW
 *      and the MSVC runtime read back as the same argv
 *   2. the environment block
 *   3. finding the program (PATH, PATHEXT)
 *   4. stdio: three handles inheritable by this one child
 *   5. the job context -- what the completion key points to -- and the
 *      process-wide list of live leaders that pal_pid_kill() consults
 *   6. spawn: create suspended, put in the job, resume
 *   7. job messages: exit notification, limits, orphans
 *   8. kill, kill tree, close, pid helpers
 *   9. usage: the job's accounting and its members' working sets
 *  10. users (none: a spawn cannot switch account)
 *
 * Containment (STYLE 13): every child gets its own job object with
 * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE.  The only handle to the job is
 * ours, so when Vigil ends -- cleanly, by a crash or killed -- the kernel
 * closes it and terminates the whole tree: nothing outlives the
 * supervisor.  A tree is killed with TerminateJobObject, never by walking
 * parent pids (pids are reused; walking them is how other supervisors
 * have killed system processes).  The child is created suspended and
 * assigned to the job before its first instruction, so everything it
 * starts is in the job as well.
 *
 * Exit notification: the job reports to the poll's port.  The key is a
 * heap job context (section 5), not the pal_proc_t, because a job's
 * completion key cannot be changed once set (before Windows 8 not at
 * all), yet the caller may free its pal_proc_t after pal_proc_close()
 * while the job still has packets to deliver.
 *
 * Invariants:
 *   - a context lives until its owner has closed it, its job is empty,
 *     and a packet of our own posted after that (MSG_RETIRE) has been
 *     dequeued -- or until the poll is destroyed.  The port is FIFO, so
 *     every packet with its key comes before that one and finds valid
 *     memory.  Counting messages would not do: a job our child creates
 *     is nested in ours, and (Windows 8 and later) its messages, its own
 *     ACTIVE_PROCESS_ZERO included, reach our port under our key too.
 *   - exit_cb runs at most once, from pal_poll_wait(), never after
 *     pal_proc_close().
 *   - the process and job handles belong to the context; the pal_proc_t
 *     fields handle and job mirror them for reading only.
 *
 * MSDN: job messages other than notification limits "are not guaranteed"
 * to arrive.  The leader's exit is taken from JOB_OBJECT_MSG_EXIT_PROCESS
 * or, failing that, from ACTIVE_PROCESS_ZERO (Wine 8, for one, posts no
 * EXIT_PROCESS for processes ended by TerminateJobObject or by closing
 * the job).  Were both lost, exit_cb would not run; a closed context then
 * waits for the poll's end.
 */
#include "proc_win32.h"

#include <psapi.h>
#include <stdlib.h>
#include <string.h>

/* The exit code of what we terminate (taskkill /F uses the same). */
#define TERM_CODE 1
/* How long the loop waits for a process object to be signalled after
 * the job said the process left (a window of microseconds). */
#define EXIT_WAIT_MS 5000
/* Our own packet, after which a context is freed; no JOB_OBJECT_MSG_*
 * has this id. */
#define MSG_RETIRE 0xffffffffu

/* pal__fail(), but reading the error first: with mingw's emulated TLS,
 * a thread's first store to pal__last_call calls TlsGetValue, which
 * resets GetLastError() to 0 (and the status would be APR_EGENERAL). */
static apr_status_t win_fail(const char *call) {
  DWORD err = GetLastError();
  pal__last_call = call;
  return pal_err_from_os((int)err);
}

/* ---- 1. the command line ------------------------------------------------- */

static wchar_t *put_backslashes(wchar_t *d, size_t n) {
  while (n--)
    *d++ = L'\\';
  return d;
}

/* Characters cmd.exe acts on outside quotes. */
static int cmd_special(wchar_t c) {
  return c != L'\0' && wcschr(L"&|<>^(),;=", c) != NULL;
}

/* Append one argument after argv[0].  The MSVC / CommandLineToArgvW
 * rules: backslashes are literal unless they precede a '"'; 2n
 * backslashes + '"' give n backslashes and toggle quoting, 2n+1 give n
 * and a literal '"'.  So inside quotes a run of backslashes is doubled
 * when a '"' (or the closing quote) follows it, and each '"' is escaped.
 * for_cmd also quotes anything cmd.exe would act on.  Room needed:
 * 2 * len + 3. */
static wchar_t *quote_arg(wchar_t *d, const wchar_t *a, int for_cmd) {
  const wchar_t *s;
  int quote = *a == L'\0';
  for (s = a; *s && !quote; s++)
    quote = *s == L' ' || *s == L'\t' || *s == L'\n' || *s == L'\v' ||
            *s == L'"' || (for_cmd && cmd_special(*s));
  if (!quote) {
    size_t n = wcslen(a);
    memcpy(d, a, n * sizeof *d);
    return d + n;
  }
  *d++ = L'"';
  for (;;) {
    size_t nbs = 0;
    while (*a == L'\\') {
      a++;
      nbs++;
    }
    if (*a == L'\0') {
      d = put_backslashes(d, 2 * nbs);   /* then the closing quote */
      break;
    }
    if (*a == L'"') {
      d = put_backslashes(d, 2 * nbs + 1);
    } else {
      d = put_backslashes(d, nbs);
    }
    *d++ = *a++;
  }
  *d++ = L'"';
  return d;
}

/* argv[0] is read by another rule in both parsers: up to the next '"' if
 * it starts with one, else up to a space or tab, backslashes literal. */
static wchar_t *quote_arg0(wchar_t *d, const wchar_t *a) {
  size_t n = wcslen(a);
  int quote = n == 0 || wcspbrk(a, L" \t\n\v") != NULL;
  if (quote)
    *d++ = L'"';
  memcpy(d, a, n * sizeof *d);
  d += n;
  if (quote)
    *d++ = L'"';
  return d;
}

apr_status_t pal__win_quote_args(const char *const *argv, int for_cmd,
                                wchar_t **out) {
  wchar_t **w, *line, *d;
  size_t n, i, len = 1;
  apr_status_t rv = APR_SUCCESS;

  *out = NULL;
  if (!argv || !argv[0])
    return APR_EINVAL;
  for (n = 0; argv[n]; n++)
    ;
  w = calloc(n, sizeof *w);
  if (!w)
    return APR_ENOMEM;
  for (i = 0; i < n; i++) {
    if (!(w[i] = pal__to_wide(argv[i]))) {
      rv = win_fail("MultiByteToWideChar");
      goto done;
    }
    /* A '"' in argv[0] cannot be represented; for cmd.exe, '%' and '!'
     * expand even inside quotes and a '"' cannot be escaped at all, so
     * such arguments to a batch file are refused rather than risked. */
    if ((i == 0 && wcschr(w[i], L'"')) ||
        (for_cmd && i > 0 && wcspbrk(w[i], L"\"%!\r\n"))) {
      rv = APR_EINVAL;
      goto done;
    }
    len += 2 * wcslen(w[i]) + 3;
  }
  line = malloc(len * sizeof *line);
  if (!line) {
    rv = APR_ENOMEM;
    goto done;
  }
  d = quote_arg0(line, w[0]);
  for (i = 1; i < n; i++) {
    *d++ = L' ';
    d = quote_arg(d, w[i], for_cmd);
  }
  *d = L'\0';
  *out = line;
done:
  for (i = 0; i < n; i++)
    free(w[i]);
  free(w);
  return rv;
}

/* ---- 2. the environment block -------------------------------------------- */

typedef struct {
  wchar_t *s;
  size_t name_len;
  size_t idx;          /* original position: the sort keeps it stable */
} env_ent_t;

/* "NAME=value"; "=C:=C:\dir" (a drive's cwd) is named "=C:". */
static size_t env_name_len(const wchar_t *e) {
  const wchar_t *eq = wcschr(e[0] == L'=' ? e + 1 : e, L'=');
  return eq ? (size_t)(eq - e) : wcslen(e);
}

static int env_name_cmp(const wchar_t *a, size_t alen, const wchar_t *b,
                        size_t blen) {
  /* Ordinal and case-insensitive: the order Windows keeps (uppercase
   * code points), independent of the locale. */
  return CompareStringOrdinal(a, (int)alen, b, (int)blen, TRUE) -
         CSTR_EQUAL;
}

static int env_cmp(const void *x, const void *y) {
  const env_ent_t *a = x, *b = y;
  int r = env_name_cmp(a->s, a->name_len, b->s, b->name_len);
  if (r != 0)
    return r;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* A variable of this process, malloc'ed; NULL if unset. */
static wchar_t *getenv_w(const wchar_t *name) {
  DWORD n = GetEnvironmentVariableW(name, NULL, 0), m;
  wchar_t *v;
  if (n == 0)
    return NULL;
  for (;;) {
    if (!(v = malloc(n * sizeof *v)))
      return NULL;
    m = GetEnvironmentVariableW(name, v, n);
    if (m < n)
      return v;
    free(v);   /* it grew in between */
    n = m;
  }
}

apr_status_t pal__win_env_block(const char *const *env, int add_systemroot,
                                wchar_t **out) {
  static const wchar_t sysroot[] = L"SYSTEMROOT";
  const size_t sysroot_len = sizeof sysroot / sizeof sysroot[0] - 1;
  env_ent_t *ents;
  wchar_t *block, *d;
  size_t n = 0, cnt = 0, i, total = 2;
  int have_root = 0;
  apr_status_t rv = APR_SUCCESS;

  *out = NULL;
  while (env && env[n])
    n++;
  ents = calloc(n + 1, sizeof *ents);
  if (!ents)
    return APR_ENOMEM;
  for (i = 0; i < n; i++) {
    wchar_t *s;
    if (env[i][0] == '\0')
      continue;   /* would end the block early */
    if (!(s = pal__to_wide(env[i]))) {
      rv = win_fail("MultiByteToWideChar");
      goto done;
    }
    ents[cnt].s = s;
    ents[cnt].name_len = env_name_len(s);
    ents[cnt].idx = cnt;
    if (env_name_cmp(s, ents[cnt].name_len, sysroot, sysroot_len) == 0)
      have_root = 1;
    cnt++;
  }
  if (add_systemroot && !have_root) {
    wchar_t *v = getenv_w(sysroot);
    if (v) {
      size_t vlen = wcslen(v);
      wchar_t *s = malloc((sysroot_len + vlen + 2) * sizeof *s);
      if (s) {
        memcpy(s, sysroot, sysroot_len * sizeof *s);
        s[sysroot_len] = L'=';
        memcpy(s + sysroot_len + 1, v, (vlen + 1) * sizeof *s);
        ents[cnt].s = s;
        ents[cnt].name_len = sysroot_len;
        ents[cnt].idx = cnt;
        cnt++;
      }
      free(v);
    }
  }
  qsort(ents, cnt, sizeof *ents, env_cmp);
  for (i = 0; i < cnt; i++)
    total += wcslen(ents[i].s) + 1;
  block = malloc(total * sizeof *block);
  if (!block) {
    rv = APR_ENOMEM;
    goto done;
  }
  d = block;
  for (i = 0; i < cnt; i++) {
    size_t len;
    /* A name given twice keeps its first value, as getenv() would. */
    if (i > 0 && env_name_cmp(ents[i].s, ents[i].name_len, ents[i - 1].s,
                              ents[i - 1].name_len) == 0)
      continue;
    len = wcslen(ents[i].s) + 1;
    memcpy(d, ents[i].s, len * sizeof *d);
    d += len;
  }
  *d++ = L'\0';
  if (d == block + 1)
    *d = L'\0';   /* an empty block is two NULs */
  *out = block;
done:
  for (i = 0; i < cnt; i++)
    free(ents[i].s);
  free(ents);
  return rv;
}

/* ---- 3. finding the program ---------------------------------------------- */

static const wchar_t default_pathext[] = L".COM;.EXE;.BAT;.CMD";

static int is_sep(wchar_t c) { return c == L'\\' || c == L'/'; }

static int has_dir(const wchar_t *f) { return wcspbrk(f, L"\\/:") != NULL; }

/* Absolute or drive-relative: not to be joined to a cwd. */
static int is_rooted(const wchar_t *f) {
  return is_sep(f[0]) || (f[0] != L'\0' && f[1] == L':');
}

static int has_ext(const wchar_t *f) {
  const wchar_t *base = f, *s;
  for (s = f; *s; s++)
    if (is_sep(*s) || *s == L':')
      base = s + 1;
  return wcschr(base, L'.') != NULL;
}

static int is_file(const wchar_t *path) {
  DWORD a = GetFileAttributesW(path);
  return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

/* dir[0..dlen) + separator + name + ext[0..elen), malloc'ed. */
static wchar_t *join(const wchar_t *dir, size_t dlen, const wchar_t *name,
                     const wchar_t *ext, size_t elen) {
  size_t nlen = wcslen(name);
  int sep = dlen > 0 && !is_sep(dir[dlen - 1]) && dir[dlen - 1] != L':';
  wchar_t *p = malloc((dlen + (size_t)sep + nlen + elen + 1) * sizeof *p);
  wchar_t *d = p;
  if (!p)
    return NULL;
  memcpy(d, dir, dlen * sizeof *d);
  d += dlen;
  if (sep)
    *d++ = L'\\';
  memcpy(d, name, nlen * sizeof *d);
  d += nlen;
  memcpy(d, ext, elen * sizeof *d);
  d[elen] = L'\0';
  return p;
}

/* dir\name as given if it has an extension, then dir\name + each PATHEXT
 * extension, as cmd.exe tries them; the first file found, or NULL. */
static wchar_t *try_exts(const wchar_t *dir, size_t dlen, const wchar_t *name,
                         const wchar_t *exts) {
  const wchar_t *e = exts, *end;
  wchar_t *p;
  if (has_ext(name)) {
    if ((p = join(dir, dlen, name, L"", 0)) && is_file(p))
      return p;
    free(p);
  }
  for (; *e; e = *end ? end + 1 : end) {
    end = wcschr(e, L';');
    if (!end)
      end = e + wcslen(e);
    if (end == e)
      continue;
    if ((p = join(dir, dlen, name, e, (size_t)(end - e))) && is_file(p))
      return p;
    free(p);
  }
  return NULL;
}

/* A variable from an explicit UTF-8 environment (names compare without
 * case, as Windows does), as UTF-16; NULL if absent. */
static wchar_t *env_lookup(const char *const *env, const char *name) {
  size_t len = strlen(name), i;
  for (; *env; env++) {
    for (i = 0; i < len; i++) {
      char c = (*env)[i];
      if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
      if (c != name[i])
        break;
    }
    if (i == len && (*env)[len] == '=')
      return pal__to_wide(*env + len + 1);
  }
  return NULL;
}

/* Search the directories of PATH (o->env's, else ours); without any
 * PATH, the system and Windows directories.  The current directory is
 * not searched (as execvp, unlike CreateProcessW's own search). */
static wchar_t *search_path(const pal_spawn_opts_t *o, const wchar_t *name,
                            const wchar_t *exts) {
  wchar_t *path = o->env ? env_lookup(o->env, "PATH") : getenv_w(L"PATH");
  wchar_t *found = NULL;
  const wchar_t *s, *end;
  if (!path) {
    wchar_t dir[MAX_PATH + 1];
    UINT n = GetSystemDirectoryW(dir, MAX_PATH);
    if (n > 0 && n < MAX_PATH)
      found = try_exts(dir, n, name, exts);
    n = GetWindowsDirectoryW(dir, MAX_PATH);
    if (!found && n > 0 && n < MAX_PATH)
      found = try_exts(dir, n, name, exts);
    return found;
  }
  for (s = path; *s && !found; s = *end ? end + 1 : end) {
    const wchar_t *dir = s;
    size_t dlen;
    end = wcschr(s, L';');
    if (!end)
      end = s + wcslen(s);
    dlen = (size_t)(end - s);
    if (dlen >= 2 && dir[0] == L'"' && dir[dlen - 1] == L'"') {
      dir++;   /* "C:\Program Files\x" */
      dlen -= 2;
    }
    if (dlen > 0)
      found = try_exts(dir, dlen, name, exts);
  }
  free(path);
  return found;
}

/* The application name for CreateProcessW, malloc'ed.  A relative name
 * with a directory is relative to the child's cwd (as after the chdir
 * before execve on POSIX); a name without extension that does not exist
 * as given is tried with the PATHEXT extensions.  A search that finds
 * nothing fails as CreateProcessW would, with ERROR_FILE_NOT_FOUND. */
static apr_status_t find_program(const pal_spawn_opts_t *o, const wchar_t *cwd,
                                 wchar_t **out) {
  const char *file = o->file ? o->file : o->argv[0];
  wchar_t *name, *exts, *found = NULL;
  apr_status_t rv = APR_SUCCESS;

  *out = NULL;
  if (!(name = pal__to_wide(file)))
    return win_fail("MultiByteToWideChar");
  exts = o->env ? env_lookup(o->env, "PATHEXT") : getenv_w(L"PATHEXT");
  if ((o->flags & PAL_SPAWN_SEARCH_PATH) && !has_dir(name)) {
    found = search_path(o, name, exts ? exts : default_pathext);
    if (!found) {
      SetLastError(ERROR_FILE_NOT_FOUND);
      rv = win_fail("CreateProcessW");
    }
  } else {
    if (cwd && !is_rooted(name)) {
      found = join(cwd, wcslen(cwd), name, L"", 0);
    } else {
      size_t n = wcslen(name) + 1;
      if ((found = malloc(n * sizeof *found)))
        memcpy(found, name, n * sizeof *found);
    }
    if (!found) {
      rv = APR_ENOMEM;
    } else if (!is_file(found) && !has_ext(found)) {
      wchar_t *alt = try_exts(L"", 0, found, exts ? exts : default_pathext);
      if (alt) {
        free(found);
        found = alt;
      }
    }
    /* Otherwise as given: CreateProcessW reports exactly what is wrong. */
  }
  free(exts);
  free(name);
  *out = found;
  return rv;
}

static int is_batch(const wchar_t *app) {
  size_t n = wcslen(app);
  return n >= 4 && (CompareStringOrdinal(app + n - 4, 4, L".bat", 4, TRUE) ==
                        CSTR_EQUAL ||
                    CompareStringOrdinal(app + n - 4, 4, L".cmd", 4, TRUE) ==
                        CSTR_EQUAL);
}

/* A batch file runs in cmd.exe, named here rather than left to
 * CreateProcessW (which passes our command line to "cmd /c", where
 * argv[0] is looked up again by cmd's own search).  The script goes by
 * its full name, as %0; /d: no AutoRun commands, /v:OFF: no delayed
 * expansion, /s: only the outer quotes are stripped.  *app becomes
 * cmd.exe; *cmdline is set. */
static apr_status_t batch_command(wchar_t **app, const char *const *argv,
                                  wchar_t **cmdline) {
  static const wchar_t pre[] = L"\\cmd.exe\" /d /e:ON /v:OFF /s /c \"\"";
  const char **tmp;
  wchar_t sys[MAX_PATH + 1], *args = NULL, *line, *cmd;
  size_t n, slen, alen, qlen;
  apr_status_t rv;
  UINT sl = GetSystemDirectoryW(sys, MAX_PATH - 8);

  if (sl == 0 || sl >= MAX_PATH - 8)
    return win_fail("GetSystemDirectoryW");
  for (n = 0; argv[n]; n++)
    ;
  /* The arguments, quoted for cmd.exe, after a one-letter stand-in for
   * argv[0] that is cut off again. */
  if (!(tmp = malloc((n + 1) * sizeof *tmp)))
    return APR_ENOMEM;
  memcpy(tmp, argv, (n + 1) * sizeof *tmp);
  tmp[0] = "x";
  rv = pal__win_quote_args(tmp, 1, &args);
  free(tmp);
  if (rv != APR_SUCCESS)
    return rv;
  slen = sl;
  alen = wcslen(*app);
  qlen = wcslen(args + 1);
  /* "sys\cmd.exe" /d ... /c ""app"args" */
  line = malloc((1 + slen + wcslen(pre) + alen + 1 + qlen + 2) * sizeof *line);
  cmd = malloc((slen + 9) * sizeof *cmd);
  if (!line || !cmd) {
    free(line);
    free(cmd);
    free(args);
    return APR_ENOMEM;
  }
  memcpy(cmd, sys, slen * sizeof *cmd);
  memcpy(cmd + slen, L"\\cmd.exe", 9 * sizeof *cmd);
  line[0] = L'"';
  memcpy(line + 1, sys, slen * sizeof *line);
  wcscpy(line + 1 + slen, pre);
  wcscat(line, *app);
  wcscat(line, L"\"");
  wcscat(line, args + 1);
  wcscat(line, L"\"");
  free(args);
  free(*app);
  *app = cmd;
  *cmdline = line;
  return APR_SUCCESS;
}

/* ---- 4. stdio ------------------------------------------------------------ */

/* An inheritable handle of our own for the child's descriptor i (NULL:
 * none).  Borrowed handles (ours, the caller's) are duplicated; NUL and
 * files are opened inheritable.  They reach only this child: it inherits
 * through PROC_THREAD_ATTRIBUTE_HANDLE_LIST, and we close them as soon as
 * CreateProcessW returns. */
static apr_status_t open_stdio(const pal_stdio_t *s, int i, HANDLE *out) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  HANDLE self = GetCurrentProcess(), src, h;
  wchar_t *w;

  *out = NULL;
  switch (s->kind) {
  case PAL_STDIO_INHERIT:
    src = GetStdHandle(i == 0 ? STD_INPUT_HANDLE
                              : i == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE);
    if (src == NULL || src == INVALID_HANDLE_VALUE)
      return APR_SUCCESS;   /* we have none to pass on */
    break;
  case PAL_STDIO_FD:
    if (s->fd == PAL_INVALID_FD)
      return APR_EINVAL;
    src = (HANDLE)s->fd;
    break;
  case PAL_STDIO_NULL:
    h = CreateFileW(L"NUL", i == 0 ? GENERIC_READ : GENERIC_WRITE, share, &sa,
                    OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
      return win_fail("CreateFileW(NUL)");
    *out = h;
    return APR_SUCCESS;
  case PAL_STDIO_FILE:
    if (!s->path)
      return APR_EINVAL;
    if (!(w = pal__to_wide(s->path)))
      return win_fail("MultiByteToWideChar");
    /* stdout/stderr append: with FILE_APPEND_DATA and no FILE_WRITE_DATA
     * every write goes to the end, whoever else writes the file. */
    if (i == 0)
      h = CreateFileW(w, GENERIC_READ, share, &sa, OPEN_EXISTING,
                      FILE_ATTRIBUTE_NORMAL, NULL);
    else
      h = CreateFileW(w, FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                      share, &sa, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
      apr_status_t rv = win_fail("CreateFileW");
      free(w);
      return rv;
    }
    free(w);
    *out = h;
    return APR_SUCCESS;
  default:
    return APR_EINVAL;
  }
  if (!DuplicateHandle(self, src, self, &h, 0, TRUE, DUPLICATE_SAME_ACCESS))
    return win_fail("DuplicateHandle");
  *out = h;
  return APR_SUCCESS;
}

/* Windows 7 console handles are pseudo handles (low bits 11): the child
 * reaches them through its console, and HANDLE_LIST refuses them. */
static int is_console_pseudo(HANDLE h) { return ((ULONG_PTR)h & 3) == 3; }

/* ---- 5. the job context -------------------------------------------------- */

enum {
  JOB_EXITED = 1u << 0,   /* the leader's exit has been handled */
  JOB_EMPTY = 1u << 1,    /* its ACTIVE_PROCESS_ZERO has been dequeued */
  JOB_ORPHAN = 1u << 2,   /* on poll->orphans (owner closed) */
  JOB_RETIRING = 1u << 3, /* MSG_RETIRE posted: freed when it comes */
  JOB_ATTACHED = 1u << 4  /* pal_proc_attach: no job, a wait on the
                             process posts its exit (section 11) */
};

typedef struct pal__job_s pal__job_t;
struct pal__job_s {
  /* First member: the completion key points here, so pal__proc_message()
   * receives a real pal_proc_t.  It is also the orphan record linked on
   * poll->orphans once the owner has closed (exit_cb NULL, os[0] = this
   * context, os[1] = the limit bits). */
  pal_proc_t node;
  pal_proc_t *owner;          /* NULL once pal_proc_close()d */
  pal_poll_t *poll;
  HANDLE process;             /* NULL once the exit has been handled */
  HANDLE job;
  DWORD pid;
  int group;                  /* own console process group (BREAK) */
  unsigned limits;            /* PAL__PROC_HIT_* limits we set */
  unsigned flags;             /* JOB_*; loop thread only */
  volatile LONG kill_sig;     /* portable signal we terminated it with */
  HANDLE wait;                /* JOB_ATTACHED: RegisterWaitForSingleObject */
  pal__job_t *live_next;      /* live_list, under live_lock */
  pal__job_t **live_prev;
};

/* Leaders that have not exited, process-wide, for pal_pid_kill(): a kill
 * by pid of one of our children goes through its handle (no pid-reuse
 * race) and records the signal, so exit_cb can report it.  Other threads
 * touch only pid, group, process, job and kill_sig of a listed context,
 * under the shared lock; the loop thread unlists it (exclusive) before
 * closing the process handle or freeing it. */
static SRWLOCK live_lock = SRWLOCK_INIT;
static pal__job_t *live_list;

static void live_add(pal__job_t *j) {
  AcquireSRWLockExclusive(&live_lock);
  j->live_next = live_list;
  if (live_list)
    live_list->live_prev = &j->live_next;
  j->live_prev = &live_list;
  live_list = j;
  ReleaseSRWLockExclusive(&live_lock);
}

static void live_remove(pal__job_t *j) {
  if (!j->live_prev)
    return;
  AcquireSRWLockExclusive(&live_lock);
  *j->live_prev = j->live_next;
  if (j->live_next)
    j->live_next->live_prev = j->live_prev;
  j->live_next = NULL;
  j->live_prev = NULL;
  ReleaseSRWLockExclusive(&live_lock);
}

static pal__job_t *job_of(const pal_proc_t *proc) {
  return (pal__job_t *)proc->os[0];
}

static void orphan_unlink(pal__job_t *j) {
  pal_proc_t **pp;
  for (pp = &j->poll->orphans; *pp; pp = &(*pp)->next)
    if (*pp == &j->node) {
      *pp = j->node.next;
      break;
    }
  j->node.next = NULL;
  j->flags &= ~(unsigned)JOB_ORPHAN;
}

static void orphan_link(pal__job_t *j) {
  j->owner = NULL;
  j->node.next = j->poll->orphans;
  j->poll->orphans = &j->node;
  j->flags |= JOB_ORPHAN;
}

/* Closing the job handle terminates whatever still runs in it
 * (KILL_ON_JOB_CLOSE): only a retired (empty) job is freed, or any at the
 * poll's end, where that is the point. */
static void job_free(pal__job_t *j) {
  if (j->wait)   /* waits for a callback under way: then none comes */
    UnregisterWaitEx(j->wait, INVALID_HANDLE_VALUE);
  if (j->flags & JOB_ORPHAN)
    orphan_unlink(j);
  live_remove(j);
  if (j->process)
    CloseHandle(j->process);
  if (j->job)
    CloseHandle(j->job);
  free(j);
}

/* Processes in the job now, or -1 if it cannot tell. */
static long job_active(pal__job_t *j) {
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION ai;
  if (!QueryInformationJobObject(j->job, JobObjectBasicAccountingInformation,
                                 &ai, sizeof ai, NULL))
    return -1;
  return (long)ai.ActiveProcesses;
}

/* An empty job whose owner has closed: free it after every packet queued
 * so far, behind which MSG_RETIRE goes (nothing is posted after it: the
 * job is empty, and so is every job nested in it).  Until then it stays
 * an orphan, which the poll's end frees should the post fail. */
static void job_retire(pal__job_t *j) {
  if (j->flags & JOB_RETIRING)
    return;
  if (!(j->flags & JOB_ORPHAN))
    orphan_link(j);
  j->flags |= JOB_RETIRING;
  PostQueuedCompletionStatus(j->poll->iocp, MSG_RETIRE,
                             PAL__KEY(&j->node, PAL__KEY_PROC), NULL);
}

/* Processors the scheduler may use, in every processor group. */
static DWORD cpu_count(void) {
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  return n > 0 ? n : 1;
}

/* A hard cap on the job's CPU time.  percent counts CPUs (100 = one
 * whole CPU, as on POSIX); CpuRate counts hundredths of a percent of the
 * whole machine (1..10000).  So CpuRate = percent * 100 / ncpu, rounded
 * to the nearest and at least 1: 50% of one CPU on a 4-CPU machine is
 * 50 * 100 / 4 = 1250 (12.5% of the machine), and anything from 100% per
 * CPU up is 10000, the whole machine.
 *
 * Windows 7 and Wine 8 do not know this class (ERROR_INVALID_PARAMETER):
 * PAL_EUNSUPPORTED naming this call.  The child then runs without the
 * cap and proc->unapplied says so, for the supervisor's warning (a limit
 * the platform cannot apply is a warning at start: config/README.md). */
static apr_status_t job_cpu_rate(HANDLE job, unsigned percent) {
  JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
  uint64_t ncpu = cpu_count(), rate;
  DWORD err;

  rate = ((uint64_t)percent * 100 + ncpu / 2) / ncpu;
  memset(&cr, 0, sizeof cr);
  cr.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE |
                    JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
  cr.CpuRate = rate < 1 ? 1 : rate > 10000 ? 10000 : (DWORD)rate;
  if (SetInformationJobObject(job, JobObjectCpuRateControlInformation, &cr,
                              sizeof cr))
    return APR_SUCCESS;
  err = GetLastError();
  pal__last_call =
      "SetInformationJobObject(JobObjectCpuRateControlInformation)";
  if (err == ERROR_INVALID_PARAMETER || err == ERROR_NOT_SUPPORTED)
    return PAL_EUNSUPPORTED;
  return pal_err_from_os((int)err);
}

/* Nice values as priority classes: the class whose base priority is
 * nearest (-20..-11 high, -10..-1 above normal, 0 normal, 1..10 below
 * normal, 11..19 idle).  Realtime is never chosen: it can starve the
 * system's own threads, which no nice value does. */
static DWORD nice_class(int nice) {
  if (nice <= -11)
    return HIGH_PRIORITY_CLASS;
  if (nice < 0)
    return ABOVE_NORMAL_PRIORITY_CLASS;
  if (nice == 0)
    return NORMAL_PRIORITY_CLASS;
  if (nice <= 10)
    return BELOW_NORMAL_PRIORITY_CLASS;
  return IDLE_PRIORITY_CLASS;
}

const char *pal_nice_class(int nice) {
  switch (nice_class(nice)) {
  case HIGH_PRIORITY_CLASS: return "high";
  case ABOVE_NORMAL_PRIORITY_CLASS: return "above normal";
  case NORMAL_PRIORITY_CLASS: return "normal";
  case BELOW_NORMAL_PRIORITY_CLASS: return "below normal";
  default: return "idle";
  }
}

const char *pal_spawn_unsupported(unsigned flag) {
  if (flag & (PAL_SPAWN_SETUID | PAL_SPAWN_SETGID))
    return "Windows cannot start a process as another account without "
           "that account's password";
  if (flag & PAL_SPAWN_UMASK)
    return "Windows has no umask (files get their directory's ACL)";
  return NULL;
}

/* The job's processor affinity: CPUs 0..63 of the set, those of the
 * system's mask (processor group 0; more needs group affinity, which a
 * job cannot take before Windows 11).  None of them there: APR_EINVAL,
 * as Linux refuses a set of CPUs it does not have. */
static apr_status_t job_affinity(const pal_spawn_opts_t *o,
                                 ULONG_PTR *mask) {
  DWORD_PTR self, sys;
  ULONG_PTR want = (ULONG_PTR)o->cpus->bits[0];
  if (!GetProcessAffinityMask(GetCurrentProcess(), &self, &sys))
    return win_fail("GetProcessAffinityMask");
  *mask = want & (ULONG_PTR)sys;
  if (*mask == 0) {
    pal__last_call = "SetInformationJobObject(affinity)";
    return APR_EINVAL;
  }
  return APR_SUCCESS;
}

/* The job: KILL_ON_JOB_CLOSE (see the top of this file); a crash ends the
 * process at once instead of waiting on an error-reporting dialog or a
 * debugger, so it can be restarted; the caller's limits; and the port.
 * open_files has no Windows counterpart: ignored here, the supervisor
 * warns. */
static apr_status_t job_create(pal__job_t *j, const pal_spawn_opts_t *o) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  JOBOBJECT_ASSOCIATE_COMPLETION_PORT acp;
  apr_status_t rv;

  j->job = CreateJobObjectW(NULL, NULL);
  if (!j->job)
    return win_fail("CreateJobObjectW");
  memset(&li, 0, sizeof li);
  li.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
      JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
  if (o->limits && o->limits->memory) {
    j->limits |= PAL__PROC_HIT_MEMORY;
    li.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
    li.JobMemoryLimit = o->limits->memory > (uint64_t)(SIZE_T)-1
                            ? (SIZE_T)-1
                            : (SIZE_T)o->limits->memory;
  }
  if (o->limits && o->limits->processes) {
    j->limits |= PAL__PROC_HIT_PROCESSES;
    li.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
    li.BasicLimitInformation.ActiveProcessLimit =
        o->limits->processes > 0xffffffffu ? 0xffffffffu
                                           : (DWORD)o->limits->processes;
  }
  /* The priority class and affinity of every process in the job, so the
   * service's own children get them too (as a nice value and an
   * affinity are inherited on POSIX). */
  if (o->flags & PAL_SPAWN_NICE) {
    li.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PRIORITY_CLASS;
    li.BasicLimitInformation.PriorityClass = nice_class(o->nice);
  }
  if ((o->flags & PAL_SPAWN_AFFINITY) && o->cpus) {
    rv = job_affinity(o, &li.BasicLimitInformation.Affinity);
    if (rv != APR_SUCCESS)
      return rv;
    li.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_AFFINITY;
  }
  if (!SetInformationJobObject(j->job, JobObjectExtendedLimitInformation, &li,
                               sizeof li))
    return win_fail("SetInformationJobObject");
  if (o->limits && o->limits->cpu_percent) {
    rv = job_cpu_rate(j->job, o->limits->cpu_percent);
    if (rv == PAL_EUNSUPPORTED)
      j->owner->unapplied |= 1u << PAL_LIMIT_CPU;
    else if (rv != APR_SUCCESS)
      return rv;
    else
      j->limits |= PAL__PROC_HIT_CPU;
  }
  acp.CompletionKey = (PVOID)PAL__KEY(&j->node, PAL__KEY_PROC);
  acp.CompletionPort = j->poll->iocp;
  if (!SetInformationJobObject(j->job,
                               JobObjectAssociateCompletionPortInformation,
                               &acp, sizeof acp))
    return win_fail("SetInformationJobObject");
  return APR_SUCCESS;
}

/* ---- 6. spawn ------------------------------------------------------------ */

/* A child shares our console, and so can receive CTRL_BREAK from us (the
 * first step of a stop: GenerateConsoleCtrlEvent reaches only processes
 * on the caller's console).  When we have none, one is made, hidden,
 * before the first child (pal__console_for_children).  Sharing it also
 * spares each child a console host of its own (conhost.exe, which Wine
 * starts inside the child's job, where it counts as a member; Windows 8
 * and later start it as the child's child too).  Only if no console can
 * be made does a child get a hidden one of its own (BREAK cannot reach
 * it then). */
static DWORD console_flags(void) {
  return pal__console_for_children() ? 0 : CREATE_NO_WINDOW;
}

apr_status_t pal_proc_spawn(pal_poll_t *p, pal_proc_t *proc,
                            const pal_spawn_opts_t *o, pal_exit_cb exit_cb) {
  wchar_t *cmdline = NULL, *app = NULL, *env = NULL, *cwd = NULL;
  HANDLE std[3] = {NULL, NULL, NULL}, list[3];
  LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
  SIZE_T attrs_size = 0;
  STARTUPINFOEXW si;
  PROCESS_INFORMATION pi;
  DWORD nlist = 0, cflags;
  pal__job_t *j = NULL;
  void *data = proc->data;
  apr_status_t rv;
  BOOL ok;
  int i, group;

  if (!o || !o->argv || !o->argv[0])
    return APR_EINVAL;
  /* No uids on Windows: refuse rather than run as ourselves.  PDEATHSIG
   * is what KILL_ON_JOB_CLOSE always gives; there is no umask (ignored:
   * pal_spawn_unsupported says so). */
  if (o->flags & (PAL_SPAWN_SETUID | PAL_SPAWN_SETGID))
    return PAL_EUNSUPPORTED;
  pal__proc_init(proc, p, exit_cb);
  proc->limit_cb = o->limit_cb;

  if (o->cwd && !(cwd = pal__to_wide(o->cwd))) {
    rv = win_fail("MultiByteToWideChar");
    goto fail;
  }
  if ((rv = find_program(o, cwd, &app)) != APR_SUCCESS)
    goto fail;
  if (is_batch(app))
    rv = batch_command(&app, o->argv, &cmdline);
  else
    rv = pal__win_quote_args(o->argv, 0, &cmdline);
  if (rv != APR_SUCCESS)
    goto fail;
  if (o->env && (rv = pal__win_env_block(o->env, 1, &env)) != APR_SUCCESS)
    goto fail;
  for (i = 0; i < 3; i++) {
    if ((rv = open_stdio(&o->stdio[i], i, &std[i])) != APR_SUCCESS)
      goto fail;
    if (std[i] && !is_console_pseudo(std[i]))
      list[nlist++] = std[i];
  }
  if (!(j = calloc(1, sizeof *j))) {
    rv = APR_ENOMEM;
    goto fail;
  }

  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si.StartupInfo;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = std[0];
  si.StartupInfo.hStdOutput = std[1];
  si.StartupInfo.hStdError = std[2];
  group = (o->flags & (PAL_SPAWN_NEW_GROUP | PAL_SPAWN_SETSID)) != 0;
  cflags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | console_flags();
  if (group)
    cflags |= CREATE_NEW_PROCESS_GROUP;
  if (nlist > 0) {
    /* Inherit exactly these handles -- Windows' close-on-exec.  Other
     * threads spawning at the same time cannot pass ours on, nor we
     * theirs, whatever else in the process is inheritable. */
    InitializeProcThreadAttributeList(NULL, 1, 0, &attrs_size);
    if (!(attrs = malloc(attrs_size))) {
      rv = APR_ENOMEM;
      goto fail;
    }
    if (!InitializeProcThreadAttributeList(attrs, 1, 0, &attrs_size)) {
      free(attrs);
      attrs = NULL;
      rv = win_fail("InitializeProcThreadAttributeList");
      goto fail;
    }
    if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                   list, nlist * sizeof list[0], NULL, NULL)) {
      rv = win_fail("UpdateProcThreadAttribute");
      goto fail;
    }
    si.StartupInfo.cb = sizeof si;
    si.lpAttributeList = attrs;
    cflags |= EXTENDED_STARTUPINFO_PRESENT;
  }

  ok = PAL__SYS(PAL_SYS_SPAWN,
                CreateProcessW(app, cmdline, NULL, NULL, nlist > 0, cflags,
                               env, cwd, &si.StartupInfo, &pi),
                FALSE);
  if (!ok) {
    rv = win_fail("CreateProcessW");
    goto fail;
  }

  /* Suspended: in the job before it runs a single instruction. */
  j->poll = p;
  j->owner = proc;
  j->process = pi.hProcess;
  j->pid = pi.dwProcessId;
  j->group = group;
  if ((rv = job_create(j, o)) != APR_SUCCESS)
    goto fail_process;
  /* In a job already (a service manager's, say)?  Nested jobs need
   * Windows 8; before, this fails and the child must not run half
   * supervised. */
  if (!AssignProcessToJobObject(j->job, pi.hProcess)) {
    rv = win_fail("AssignProcessToJobObject");
    goto fail_process;
  }
  if (ResumeThread(pi.hThread) == (DWORD)-1) {
    rv = win_fail("ResumeThread");
    /* The job already has packets on their way: the context stays, as an
     * orphan, and is retired after its ACTIVE_PROCESS_ZERO. */
    TerminateJobObject(j->job, TERM_CODE);
    CloseHandle(pi.hThread);
    orphan_link(j);
    j->node.poll = p;
    j->node.os[0] = (intptr_t)j;
    j = NULL;
    goto fail;
  }
  CloseHandle(pi.hThread);

  j->node.poll = p;
  j->node.pid = (long)j->pid;
  j->node.handle = (pal_fd_t)j->process;
  j->node.job = (pal_fd_t)j->job;
  j->node.os[0] = (intptr_t)j;
  live_add(j);
  proc->pid = (long)j->pid;
  proc->handle = (pal_fd_t)j->process;
  proc->job = (pal_fd_t)j->job;
  proc->os[0] = (intptr_t)j;
  j = NULL;
  rv = APR_SUCCESS;
  goto done;

fail_process:
  /* It never ran: nothing of it is left once it is gone. */
  TerminateProcess(pi.hProcess, TERM_CODE);
  WaitForSingleObject(pi.hProcess, EXIT_WAIT_MS);
  CloseHandle(pi.hThread);
  /* No process ever joined the job, so it posted nothing: j can go. */
fail:
  if (j)
    job_free(j);
  memset(proc, 0, sizeof *proc);
  proc->data = data;
  proc->handle = PAL_INVALID_FD;
  proc->job = PAL_INVALID_FD;
done:
  /* The child has its copies (or never will). */
  for (i = 0; i < 3; i++)
    if (std[i])
      CloseHandle(std[i]);
  if (attrs) {
    DeleteProcThreadAttributeList(attrs);
    free(attrs);
  }
  free(cmdline);
  free(app);
  free(env);
  free(cwd);
  return rv;
}

/* ---- 7. job messages ----------------------------------------------------- */

/* A limit message counts only for a limit we set: a nested job's limits
 * report to our port as well (one of the same kind is taken for ours).
 * It reaches limit_cb only while the handle is open (j->owner); after
 * pal_proc_close() the orphan record keeps the bit, no one is told. */
static void note_limit(pal__job_t *j, unsigned bit, int which) {
  pal_proc_t *proc = j->owner;
  if (!(j->limits & bit))
    return;
  j->node.os[1] |= bit;
  if (!proc)
    return;
  proc->os[1] |= bit;
  if (proc->limit_cb)
    proc->limit_cb(proc, which);
}

/* The leader is gone (its exit message, or the job is empty): report it
 * once.  Killed by us with TERM_CODE, it reads as -1 and the signal. */
static void leader_exited(pal__job_t *j) {
  pal_proc_t *proc;
  DWORD code = (DWORD)-1;
  LONG sig;
  int status;

  if (j->flags & JOB_EXITED)
    return;
  j->flags |= JOB_EXITED;
  /* The job may speak a moment before the process object is signalled
   * (and its exit code final); bounded, as this blocks the loop. */
  WaitForSingleObject(j->process, EXIT_WAIT_MS);
  live_remove(j);   /* from now on no other thread writes kill_sig */
  if (!GetExitCodeProcess(j->process, &code) || code == STILL_ACTIVE)
    code = (DWORD)-1;
  CloseHandle(j->process);
  j->process = NULL;
  sig = j->kill_sig;
  if (j->flags & JOB_ATTACHED) {
    status = -1;   /* not our child: its status is not ours (pal.h) */
    sig = 0;
  } else if (sig != 0 && code == TERM_CODE) {
    status = -1;
  } else {
    status = (int)code;
    sig = 0;
  }
  j->node.pid = 0;
  j->node.handle = PAL_INVALID_FD;
  proc = j->owner;
  if (!proc)
    return;
  proc->pid = 0;
  proc->handle = PAL_INVALID_FD;
  if (proc->exit_cb)
    proc->exit_cb(proc, status, (int)sig);
}

/* The completion key is &j->node (see pal__job_s); msg and pid as the
 * job posted them. */
void pal__proc_message(pal_proc_t *key, DWORD msg, DWORD pid) {
  pal__job_t *j = (pal__job_t *)key;

  switch (msg) {
  case JOB_OBJECT_MSG_EXIT_PROCESS:
  case JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS:
    if (pid == j->pid)
      leader_exited(j);
    if (j->flags & JOB_ATTACHED) {
      /* Its wait's one packet: nothing follows it. */
      if (j->wait) {
        UnregisterWaitEx(j->wait, NULL);   /* its callback has posted */
        j->wait = NULL;
      }
      j->flags |= JOB_EMPTY;
      if (!j->owner)
        job_retire(j);
    }
    break;
  case JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO:
    /* Ours, or a nested job's (see the top): only an empty job counts.
     * Then the leader is gone even if its own message was lost.  An
     * exit_cb that closes the handle makes j an orphan, not yet EMPTY,
     * so it is not retired under us. */
    if ((j->flags & JOB_EMPTY) || job_active(j) > 0)
      break;
    leader_exited(j);
    j->flags |= JOB_EMPTY;
    if (!j->owner)
      job_retire(j);
    break;
  case MSG_RETIRE:
    job_free(j);
    break;
  /* Our job sets a job-wide memory limit, so PROCESS_MEMORY_LIMIT and
   * the END_OF_*_TIME messages (we set no time limits; the CPU rate cap
   * sends none) can only be a nested job's, taken as ours when we limit
   * the same resource (see note_limit). */
  case JOB_OBJECT_MSG_JOB_MEMORY_LIMIT:
  case JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT:
    note_limit(j, PAL__PROC_HIT_MEMORY, PAL_LIMIT_MEMORY);
    break;
  case JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT:
    note_limit(j, PAL__PROC_HIT_PROCESSES, PAL_LIMIT_PROCESSES);
    break;
  case JOB_OBJECT_MSG_END_OF_JOB_TIME:
  case JOB_OBJECT_MSG_END_OF_PROCESS_TIME:
    note_limit(j, PAL__PROC_HIT_CPU, PAL_LIMIT_CPU);
    break;
  default:
    break;   /* NEW_PROCESS, other notifications: nothing */
  }
}

void pal__proc_destroy(pal_poll_t *p) {
  pal_proc_t *n, *next;
  /* Closing their jobs kills what closed handles left running: nothing
   * outlives the loop that started it (KILL_ON_JOB_CLOSE, by design). */
  for (n = p->orphans; n; n = next) {
    pal__job_t *j = (pal__job_t *)n;
    next = n->next;
    j->flags &= ~(unsigned)JOB_ORPHAN;
    job_free(j);
  }
  p->orphans = NULL;
}

/* ---- 8. kill, kill tree, close ------------------------------------------- */

/* Signals whose POSIX default ends the process; on Windows all of them
 * terminate it.  INT cannot reach another process group (CTRL_C_EVENT
 * goes to a whole console, and a new group has it disabled), and CHLD,
 * CONT, WINCH and STOP have no counterpart: PAL_EUNSUPPORTED. */
static int terminates(int signum) {
  switch (signum) {
  case PAL_SIGHUP:
  case PAL_SIGQUIT:
  case PAL_SIGKILL:
  case PAL_SIGUSR1:
  case PAL_SIGUSR2:
  case PAL_SIGPIPE:
  case PAL_SIGALRM:
  case PAL_SIGTERM:
    return 1;
  default:
    return 0;
  }
}

/* CTRL_BREAK_EVENT to a console process group: only a child created with
 * CREATE_NEW_PROCESS_GROUP that shares our console receives it. */
static apr_status_t ctrl_break(DWORD group) {
  if (!GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group))
    return win_fail("GenerateConsoleCtrlEvent");
  return APR_SUCCESS;
}

/* Signal 0 probes; any thread (pal_pid_kill, under live_lock). */
static apr_status_t kill_leader(pal__job_t *j, int signum) {
  if (signum == PAL_SIGBREAK)
    return j->group ? ctrl_break(j->pid) : PAL_EUNSUPPORTED;
  if (signum != 0 && !terminates(signum))
    return PAL_EUNSUPPORTED;
  if (WaitForSingleObject(j->process, 0) == WAIT_OBJECT_0)
    return PAL_ENOPROC;   /* exited; its message is on the way */
  if (signum == 0)
    return APR_SUCCESS;
  if (!TerminateProcess(j->process, TERM_CODE)) {
    if (WaitForSingleObject(j->process, 0) == WAIT_OBJECT_0)
      return PAL_ENOPROC;
    return win_fail("TerminateProcess");
  }
  InterlockedCompareExchange(&j->kill_sig, signum, 0);
  return APR_SUCCESS;
}

/* The whole job, also after its leader exited. */
static apr_status_t kill_job(pal__job_t *j, int signum) {
  if (signum != 0 && !terminates(signum))
    return PAL_EUNSUPPORTED;
  if (job_active(j) == 0)
    return PAL_ENOPROC;
  if (signum == 0)
    return APR_SUCCESS;
  if (!TerminateJobObject(j->job, TERM_CODE))
    return win_fail("TerminateJobObject");
  InterlockedCompareExchange(&j->kill_sig, signum, 0);
  return APR_SUCCESS;
}

apr_status_t pal_proc_kill(pal_proc_t *proc, int signum) {
  pal__job_t *j = job_of(proc);
  if (!j || (j->flags & JOB_EXITED))
    return PAL_ENOPROC;
  /* An attached process is in no console group of ours: its stop signal
   * (BREAK, pal_stop_signal) can only be termination. */
  if ((j->flags & JOB_ATTACHED) && signum == PAL_SIGBREAK)
    signum = PAL_SIGTERM;
  return kill_leader(j, signum);
}

/* What Windows can do of a signal an administrator names: console events
 * (to the child's own group; without one they would reach every process
 * of the console, the supervisor included) and termination.  The C
 * runtime's numbers are accepted for those (SIGINT 2, SIGTERM 15,
 * SIGBREAK 21), and 9 for KILL as everywhere. */
apr_status_t pal_proc_signal(pal_proc_t *proc, int signum, int native) {
  pal__job_t *j;
  DWORD ev;
  if (native) {
    if (signum <= 0)
      return APR_EINVAL;
    if (signum != PAL_SIGINT && signum != PAL_SIGTERM &&
        signum != PAL_SIGBREAK && signum != PAL_SIGKILL)
      return PAL_EUNSUPPORTED;
  }
  switch (signum) {
  case PAL_SIGTERM:
  case PAL_SIGKILL:
    return proc ? pal_proc_kill(proc, signum) : APR_SUCCESS;
  case PAL_SIGINT:
    ev = CTRL_C_EVENT;
    break;
  case PAL_SIGBREAK:
    ev = CTRL_BREAK_EVENT;
    break;
  default:
    return PAL_EUNSUPPORTED;
  }
  if (!proc)
    return APR_SUCCESS;
  j = job_of(proc);
  if (!j || (j->flags & JOB_EXITED) ||
      WaitForSingleObject(j->process, 0) == WAIT_OBJECT_0)
    return PAL_ENOPROC;
  if (!j->group)
    return PAL_EUNSUPPORTED;
  if (!GenerateConsoleCtrlEvent(ev, j->pid))
    return win_fail("GenerateConsoleCtrlEvent");
  return APR_SUCCESS;
}

apr_status_t pal_proc_kill_tree(pal_proc_t *proc, int signum) {
  pal__job_t *j = job_of(proc);
  if (j && (j->flags & JOB_ATTACHED))
    return pal_proc_kill(proc, signum);   /* it alone: no job of ours */
  if (signum == PAL_SIGBREAK)
    return pal_proc_kill(proc, signum);   /* the group is the tree */
  if (!j || (j->flags & JOB_EMPTY))
    return PAL_ENOPROC;
  return kill_job(j, signum);
}

void pal_proc_close(pal_proc_t *proc) {
  pal__job_t *j = job_of(proc);
  if (!j)
    return;
  proc->os[0] = 0;
  proc->pid = 0;
  proc->handle = PAL_INVALID_FD;
  proc->job = PAL_INVALID_FD;
  if (j->flags & JOB_ATTACHED) {
    /* No callback after this one; the packet of one that ran comes
     * before MSG_RETIRE (the port is FIFO). */
    if (j->wait) {
      UnregisterWaitEx(j->wait, INVALID_HANDLE_VALUE);
      j->wait = NULL;
    }
    orphan_link(j);
    job_retire(j);
    return;
  }
  /* Closing does not kill: while something runs in the job (or its last
   * message is on the way), the context stays as an orphan record, and
   * is retired after ACTIVE_PROCESS_ZERO (or freed at the poll's end). */
  orphan_link(j);
  if (j->flags & JOB_EMPTY)
    job_retire(j);
}

/* Our own children are found in live_list and killed through their
 * handle (group: their job); another pid is opened and terminated, and
 * `group` means nothing for it (Windows has no process groups to signal
 * but console ones, which only BREAK addresses). */
apr_status_t pal_pid_kill(long pid, int signum, int group) {
  pal__job_t *j;
  apr_status_t rv = APR_SUCCESS;
  DWORD err;
  HANDLE h;

  if (pid <= 0)
    return APR_EINVAL;
  AcquireSRWLockShared(&live_lock);
  for (j = live_list; j; j = j->live_next)
    if (j->pid == (DWORD)pid)
      break;
  if (j)
    rv = group && signum != PAL_SIGBREAK ? kill_job(j, signum)
                                         : kill_leader(j, signum);
  ReleaseSRWLockShared(&live_lock);
  if (j)
    return rv;

  if (signum == PAL_SIGBREAK)
    return ctrl_break((DWORD)pid);
  if (signum != 0 && !terminates(signum))
    return PAL_EUNSUPPORTED;
  h = OpenProcess((signum == 0 ? PROCESS_QUERY_LIMITED_INFORMATION
                               : PROCESS_TERMINATE) |
                      SYNCHRONIZE,
                  FALSE, (DWORD)pid);
  if (!h) {
    err = GetLastError();
    /* No such pid: ERROR_INVALID_PARAMETER (Wine 8: no error at all). */
    if (err == ERROR_INVALID_PARAMETER || err == 0)
      return PAL_ENOPROC;
    return win_fail("OpenProcess");
  }
  if (WaitForSingleObject(h, 0) == WAIT_OBJECT_0)
    rv = PAL_ENOPROC;   /* exited; someone still holds a handle */
  else if (signum != 0 && !TerminateProcess(h, TERM_CODE))
    rv = win_fail("TerminateProcess");
  CloseHandle(h);
  return rv;
}

long pal_proc_group(const pal_proc_t *proc) {
  (void)proc;
  return 0;   /* the job object, not a group, holds the tree */
}

const char *pal_rlimit_unenforced(int which) {
  (void)which;
  return NULL;   /* no rlimits: the job object's limits bind */
}

int pal_limit_hold(int which, const char **rlimit, const char **counts,
                   const char **why) {
  if (rlimit)
    *rlimit = NULL;
  if (counts)
    *counts = NULL;
  if (why)
    *why = which == PAL_LIMIT_OPEN_FILES
               ? "Windows has no per-process handle limit"
               : NULL;
  /* The job object holds memory, processes and the CPU rate. */
  return which == PAL_LIMIT_OPEN_FILES ? PAL_HOLD_NONE : PAL_HOLD_EXACT;
}

int pal_stop_signal(int sig) {
  return sig == PAL_SIGKILL ? sig : PAL_SIGBREAK;
}

int pal_spawn_permanent(apr_status_t rv) {
  if (rv == APR_EINVAL || rv == PAL_EUNSUPPORTED)
    return 1;
  switch (rv - APR_OS_START_SYSERR) {   /* pal_err_from_os() */
  case ERROR_ACCESS_DENIED:
  case ERROR_BAD_EXE_FORMAT:            /* not a program Windows runs */
  case ERROR_EXE_MACHINE_TYPE_MISMATCH:
  case ERROR_EXE_MARKED_INVALID:
  case ERROR_FILENAME_EXCED_RANGE:      /* command line or path too long */
  case ERROR_DIRECTORY:
  case ERROR_INVALID_NAME:
    return 1;
  default:
    return 0;
  }
}

long pal_getpid(void) { return (long)GetCurrentProcessId(); }

/* ---- 9. usage ------------------------------------------------------------ */

/* The pids of the job's members now, malloc'ed (*n of them); NULL with
 * *n = 0 for an empty job.  The list may grow between the calls. */
static apr_status_t job_pids(HANDLE job, DWORD hint, ULONG_PTR **pids,
                             DWORD *n) {
  JOBOBJECT_BASIC_PROCESS_ID_LIST *l;
  DWORD want = hint + 8;

  *pids = NULL;
  *n = 0;
  for (;;) {
    size_t size = sizeof *l + want * sizeof l->ProcessIdList[0];
    if (!(l = malloc(size)))
      return APR_ENOMEM;
    if (QueryInformationJobObject(job, JobObjectBasicProcessIdList, l,
                                  (DWORD)size, NULL))
      break;
    if (GetLastError() != ERROR_MORE_DATA) {
      apr_status_t rv =
          win_fail("QueryInformationJobObject(JobObjectBasicProcessIdList)");
      free(l);
      return rv;
    }
    want = l->NumberOfAssignedProcesses + 8;
    free(l);
  }
  *n = l->NumberOfProcessIdsInList;
  if (*n > 0) {
    *pids = malloc(*n * sizeof **pids);
    if (*pids)
      memcpy(*pids, l->ProcessIdList, *n * sizeof **pids);
  }
  free(l);
  return *n > 0 && !*pids ? APR_ENOMEM : APR_SUCCESS;
}

/* CPU time from the job's accounting: it counts the members that have
 * exited too, in 100 ns units.  Memory is not there: the job knows only
 * committed bytes (JobObjectMemoryUsageInformation, Windows 10, or the
 * peak in JobObjectExtendedLimitInformation), no working set, so the
 * resident size is the sum of each live member's WorkingSetSize.  A pid
 * that left the job between the list and OpenProcess() (and was reused)
 * is skipped by IsProcessInJob(); where that call fails (Wine 8 has no
 * answer), the listed pid is trusted.  A member that ended meanwhile is
 * not counted. */
apr_status_t pal_proc_usage(pal_proc_t *proc, pal_usage_t *out) {
  pal__job_t *j = job_of(proc);
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION ai;
  ULONG_PTR *pids;
  DWORD n, i;
  apr_status_t rv;

  memset(out, 0, sizeof *out);
  if (!j || (j->flags & JOB_EMPTY))
    return PAL_ENOPROC;
  if (j->flags & JOB_ATTACHED) {
    FILETIME c, e, k, u;
    PROCESS_MEMORY_COUNTERS pmc;
    if (WaitForSingleObject(j->process, 0) != WAIT_TIMEOUT)
      return PAL_ENOPROC;
    if (GetProcessTimes(j->process, &c, &e, &k, &u))
      out->cpu_usec = ((((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime) +
                       (((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime)) /
                      10;
    if (K32GetProcessMemoryInfo(j->process, &pmc, sizeof pmc))
      out->rss_bytes = pmc.WorkingSetSize;
    out->processes = 1;
    return APR_SUCCESS;
  }
  if (!QueryInformationJobObject(j->job, JobObjectBasicAccountingInformation,
                                 &ai, sizeof ai, NULL))
    return win_fail("QueryInformationJobObject");
  if (ai.ActiveProcesses == 0)
    return PAL_ENOPROC;
  out->cpu_usec = ((uint64_t)ai.TotalUserTime.QuadPart +
                   (uint64_t)ai.TotalKernelTime.QuadPart) / 10;
  if ((rv = job_pids(j->job, ai.ActiveProcesses, &pids, &n)) != APR_SUCCESS)
    return rv;
  for (i = 0; i < n; i++) {
    PROCESS_MEMORY_COUNTERS pmc;
    BOOL in = TRUE;
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION |
                               PROCESS_VM_READ | SYNCHRONIZE,
                           FALSE, (DWORD)pids[i]);
    if (!h)
      continue;   /* gone since the list was made */
    if (!IsProcessInJob(h, j->job, &in))
      in = TRUE;
    if (in && WaitForSingleObject(h, 0) == WAIT_TIMEOUT &&
        K32GetProcessMemoryInfo(h, &pmc, sizeof pmc)) {
      out->rss_bytes += pmc.WorkingSetSize;
      out->processes++;
    }
    CloseHandle(h);
  }
  free(pids);
  return out->processes > 0 ? APR_SUCCESS : PAL_ENOPROC;
}

apr_status_t pal__proc_post_message(pal_proc_t *proc, unsigned long msg) {
  pal__job_t *j = job_of(proc);
  if (!j)
    return PAL_ENOPROC;
  if (!PostQueuedCompletionStatus(j->poll->iocp, (DWORD)msg,
                                  PAL__KEY(&j->node, PAL__KEY_PROC),
                                  (LPOVERLAPPED)(ULONG_PTR)j->pid))
    return win_fail("PostQueuedCompletionStatus");
  return APR_SUCCESS;
}

/* ---- 10. users: none a spawn can switch to (pal_spawn_unsupported) --- */

apr_status_t pal_user_lookup(const char *name, pal_user_t *out,
                             struct apr_pool_t *pool) {
  (void)name;
  (void)out;
  (void)pool;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_group_lookup(const char *name, long *gid) {
  (void)name;
  (void)gid;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_user_groups(const char *name, long gid, long **groups,
                             int *n, struct apr_pool_t *pool) {
  (void)name;
  (void)gid;
  (void)groups;
  (void)n;
  (void)pool;
  return PAL_EUNSUPPORTED;
}

/* ---- 11. attached processes (type="attach") ---------------------------- */

/* A thread-pool wait on the process handle, run once when it is
 * signalled: the exit goes to the loop's port as the job of a child
 * would post it, under the context's key (section 5's lifetime rules). */
static VOID CALLBACK attached_exited(PVOID arg, BOOLEAN timed_out) {
  pal__job_t *j = arg;
  (void)timed_out;
  PostQueuedCompletionStatus(j->poll->iocp, JOB_OBJECT_MSG_EXIT_PROCESS,
                             PAL__KEY(&j->node, PAL__KEY_PROC),
                             (LPOVERLAPPED)(ULONG_PTR)j->pid);
}

apr_status_t pal_proc_attach(pal_poll_t *poll, pal_proc_t *proc, long pid,
                             uint64_t id, pal_exit_cb exit_cb) {
  FILETIME created, exited, kernel, user;
  pal__job_t *j;
  HANDLE h;
  if (pid <= 0 || (DWORD)pid == GetCurrentProcessId())
    return APR_EINVAL;
  pal__proc_init(proc, NULL, NULL);
  h = OpenProcess(SYNCHRONIZE | PROCESS_TERMINATE |
                      PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ,
                  FALSE, (DWORD)pid);
  if (!h)
    return GetLastError() == ERROR_INVALID_PARAMETER ? PAL_ENOPROC
                                                      : win_fail("OpenProcess");
  /* The handle holds that very process: if it is not `id`, the pid was
   * given to another since it was checked. */
  if (WaitForSingleObject(h, 0) != WAIT_TIMEOUT ||
      (id && (!GetProcessTimes(h, &created, &exited, &kernel, &user) ||
              (((uint64_t)created.dwHighDateTime << 32) |
               created.dwLowDateTime) != id))) {
    CloseHandle(h);   /* exited; the object lives on while held */
    return PAL_ENOPROC;
  }
  if (!(j = calloc(1, sizeof *j))) {
    CloseHandle(h);
    return APR_ENOMEM;
  }
  j->owner = proc;
  j->poll = poll;
  j->process = h;
  j->pid = (DWORD)pid;
  j->flags = JOB_ATTACHED;
  pal__proc_init(&j->node, poll, NULL);
  j->node.pid = pid;
  j->node.handle = (pal_fd_t)h;
  j->node.os[0] = (intptr_t)j;
  if (!RegisterWaitForSingleObject(&j->wait, h, attached_exited, j, INFINITE,
                                   WT_EXECUTEONLYONCE)) {
    apr_status_t rv = win_fail("RegisterWaitForSingleObject");
    j->wait = NULL;
    job_free(j);
    return rv;
  }
  proc->poll = poll;
  proc->exit_cb = exit_cb;
  proc->pid = pid;
  proc->handle = (pal_fd_t)h;
  proc->os[0] = (intptr_t)j;
  return APR_SUCCESS;
}
