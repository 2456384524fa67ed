/*
 * proc_win32.h -- internals of the Windows child processes (proc.c),
 * exposed for unit tests of the pure parts (command-line quoting, the
 * environment block) and of job messages Wine never sends; and the
 * console the children share (signal.c).
 *
 * The completion key of a child's job object is not its pal_proc_t but a
 * heap "job context" that proc.c allocates at spawn time and that
 * outlives pal_proc_close() until the job's last message has been
 * dequeued.  poll_iocp.c passes the key pointer through unchanged, so the
 * `proc` argument of pal__proc_message() (pal_win32.h) is that context:
 * its first member is a pal_proc_t (the orphan-list node), which keeps
 * the declared type honest.
 */
#ifndef PAL_PROC_WIN32_H
#define PAL_PROC_WIN32_H

#include "pal_win32.h"

/* Bits of pal_proc_t.os[1]: job limits the child's tree ran into, as
 * reported by the job's messages (JOB_OBJECT_MSG_*_MEMORY_LIMIT,
 * ACTIVE_PROCESS_LIMIT, END_OF_*_TIME).  Sticky; each message is also
 * passed on to limit_cb (PAL_LIMIT_*) while the handle is open. */
enum {
  PAL__PROC_HIT_MEMORY = 1 << 0,
  PAL__PROC_HIT_PROCESSES = 1 << 1,
  PAL__PROC_HIT_CPU = 1 << 2
};

/* argv (UTF-8, NULL-terminated, at least argv[0]) -> one malloc'ed UTF-16
 * command line that CommandLineToArgvW and the MSVC runtime parse back to
 * the same argv.  argv[0] follows the program-name rule of both parsers
 * (quotes only, no escapes), so it must not contain '"': APR_EINVAL.
 * for_cmd (the program is a .bat/.cmd, which cmd.exe parses by rules of
 * its own): arguments holding cmd.exe operators are quoted too, and
 * those holding '"', '%', '!', CR or LF -- which cmd.exe expands or ends
 * quoting on, whatever the quoting -- are refused with APR_EINVAL.
 * Invalid UTF-8: the error of pal__to_wide(). */
apr_status_t pal__win_quote_args(const char *const *argv, int for_cmd,
                                 wchar_t **out);

/* env ("K=V", UTF-8, NULL-terminated) -> a malloc'ed
 * CREATE_UNICODE_ENVIRONMENT block: sorted case-insensitively by name
 * (ordinal, as Windows keeps its own), a name given twice keeps its
 * first value, double-NUL terminated.  With add_systemroot, SYSTEMROOT is
 * copied from this process when env lacks it (Winsock and much else fail
 * without it). */
apr_status_t pal__win_env_block(const char *const *env, int add_systemroot,
                                wchar_t **out);

/* signal.c: make sure this process has a console its children can
 * share, so that CTRL_BREAK_EVENT to a child's process group reaches it
 * (GenerateConsoleCtrlEvent works only within one console).  Without one
 * (a service, a detached start), allocates a hidden console, once; on
 * it, Ctrl+C and Ctrl+Break are ignored by this process (only a child
 * broadcasting to its whole console can send them there).  1 if the
 * process has a console afterwards. */
int pal__console_for_children(void);

/* Post a job message (JOB_OBJECT_MSG_*) for the child to its poll's port,
 * under the job's own key, as the job itself would: a test seam for the
 * limit messages Wine never sends.  PAL_ENOPROC after pal_proc_close(). */
apr_status_t pal__proc_post_message(pal_proc_t *proc, unsigned long msg);

#endif
