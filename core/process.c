/*
 * process.c -- child processes: vg_spawn over pal_proc_spawn, with the
 * PIPE stdio kind creating the pipe pair and opening the parent's end in
 * the caller's vg_pipe_t.
 *
 * The handle is active until the child has exited; exit_cb runs once.
 * Closing it before then stops the notification (the PAL still reaps the
 * child, so no zombie is left).
 */
#include "internal.h"

#include <string.h>

static void on_limit(pal_proc_t *pp, int which) {
  vg_process_t *p = pp->data;
  if (p->limit_cb)
    p->limit_cb(p, which);
}

static void on_exit(pal_proc_t *pp, int status, int sig) {
  vg_process_t *p = pp->data;
  p->pid = 0;
  vg__handle_stop((vg_handle_t *)p);
  if (p->exit_cb)
    p->exit_cb(p, status, sig);
}

apr_status_t vg_spawn(vg_loop_t *loop, vg_process_t *p,
                      const vg_process_options_t *o) {
  pal_spawn_opts_t po;
  pal_fd_t parent_end[3] = {PAL_INVALID_FD, PAL_INVALID_FD, PAL_INVALID_FD};
  pal_fd_t child_end[3] = {PAL_INVALID_FD, PAL_INVALID_FD, PAL_INVALID_FD};
  apr_status_t rv = APR_SUCCESS;
  int i;

  if (!o || !o->args || !o->args[0])
    return APR_EINVAL;
  memset(&po, 0, sizeof po);
  po.file = o->file;
  po.argv = o->args;
  po.env = o->env;
  po.cwd = o->cwd;
  po.flags = o->flags;
  po.uid = o->uid;
  po.gid = o->gid;
  po.groups = o->groups;
  po.ngroups = o->ngroups;
  po.umask = o->umask;
  po.nice = o->nice;
  po.cpus = o->cpus;
  po.limits = o->limits;
  po.cgroup = o->cgroup;
  po.limit_cb = o->limit_cb ? on_limit : NULL;

  for (i = 0; i < 3; i++) {
    const vg_stdio_t *s = &o->stdio[i];
    switch (s->kind) {
    case VG_STDIO_INHERIT:
      po.stdio[i].kind = PAL_STDIO_INHERIT;
      break;
    case VG_STDIO_IGNORE:
      po.stdio[i].kind = PAL_STDIO_NULL;
      break;
    case VG_STDIO_FILE:
      po.stdio[i].kind = PAL_STDIO_FILE;
      po.stdio[i].path = s->path;
      break;
    case VG_STDIO_FD:
      po.stdio[i].kind = PAL_STDIO_FD;
      po.stdio[i].fd = s->fd;
      break;
    case VG_STDIO_PIPE: {
      pal_fd_t fds[2];
      /* stdin: the child reads fds[0]; stdout/stderr: it writes fds[1]. */
      int child_side = i == 0 ? 0 : 1;
      if (!s->pipe || (s->pipe->sflags & VG__S_OPEN)) {
        rv = APR_EINVAL;
        goto fail;
      }
      rv = pal_pipe(fds, child_side);
      if (rv != APR_SUCCESS)
        goto fail;
      child_end[i] = fds[child_side];
      parent_end[i] = fds[1 - child_side];
      po.stdio[i].kind = PAL_STDIO_FD;
      po.stdio[i].fd = child_end[i];
      break;
    }
    default:
      rv = APR_EINVAL;
      goto fail;
    }
  }

  p->proc.data = p;
  rv = pal_proc_spawn(loop->poll, &p->proc, &po, on_exit);
  for (i = 0; i < 3; i++) {
    pal_fd_close(child_end[i]);
    child_end[i] = PAL_INVALID_FD;
  }
  if (rv != APR_SUCCESS)
    goto fail;

  for (i = 0; i < 3; i++) {
    if (parent_end[i] == PAL_INVALID_FD)
      continue;
    if (vg__pipe_open(o->stdio[i].pipe, parent_end[i], 1) != APR_SUCCESS)
      pal_fd_close(parent_end[i]);   /* the child sees EOF / EPIPE */
    parent_end[i] = PAL_INVALID_FD;
  }

  vg__handle_init(loop, (vg_handle_t *)p, VG_PROCESS);
  p->exit_cb = o->exit_cb;
  p->limit_cb = o->limit_cb;
  p->pid = p->proc.pid;
  vg__handle_start((vg_handle_t *)p);
  /* A spawn blocks (fork/exec, CreateProcess: milliseconds, more under
   * load), and the caller usually times the child next (a readiness
   * timeout): that must count from the spawn's end, not from the
   * iteration's start -- so the last thing done here. */
  vg_update_time(loop);
  return APR_SUCCESS;

fail:
  for (i = 0; i < 3; i++) {
    pal_fd_close(child_end[i]);
    pal_fd_close(parent_end[i]);
  }
  return rv;
}

apr_status_t vg_process_attach(vg_loop_t *loop, vg_process_t *p, long pid,
                               uint64_t id, vg_exit_cb exit_cb) {
  apr_status_t rv;
  p->proc.data = p;
  rv = pal_proc_attach(loop->poll, &p->proc, pid, id, on_exit);
  if (rv != APR_SUCCESS)
    return rv;
  vg__handle_init(loop, (vg_handle_t *)p, VG_PROCESS);
  p->exit_cb = exit_cb;
  p->limit_cb = NULL;
  p->pid = p->proc.pid;
  vg__handle_start((vg_handle_t *)p);
  return APR_SUCCESS;
}

apr_status_t vg_process_kill(vg_process_t *p, int signum) {
  return pal_proc_kill(&p->proc, signum);
}

apr_status_t vg_process_kill_tree(vg_process_t *p, int signum) {
  return pal_proc_kill_tree(&p->proc, signum);
}

apr_status_t vg_process_usage(vg_process_t *p, vg_usage_t *out) {
  return pal_proc_usage(&p->proc, out);
}

apr_status_t vg_kill(long pid, int signum) {
  return pal_pid_kill(pid, signum, 0);
}

void vg__process_close(vg_process_t *p) { pal_proc_close(&p->proc); }
