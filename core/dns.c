/*
 * dns.c -- vg_getaddrinfo: the PAL's blocking resolver on the work queue.
 *
 * The lookup itself lives in a job the library allocates, not in the
 * caller's request, so that a cancel is never late:
 *
 *   vg_getaddrinfo()  job = malloc; job->req = req; vg_queue_work(job)
 *   pool thread       job->status = pal_addr_resolve(...)
 *   after_work        req = job->req; if (req) cb(req, result); free(job)
 *
 *   cancel, job still queued:  vg_work_cancel() -> after_work(ECANCELED)
 *   cancel, job running (or done, not yet delivered): detach the job
 *     (job->req = NULL: its result is dropped and it frees itself) and
 *     post req->cancel_work, whose after_cb runs cb(req, ECANCELED).
 *
 * Either way cb comes from the loop, on the next iteration, and once the
 * caller has it the request is theirs again.  A detached job still holds
 * its place in the loop's pending requests until its thread returns:
 * vg_loop_close() never frees a pool a lookup is still using.
 *
 * req->state is touched on the loop thread only; job fields are written
 * by the pool thread before the work queue's lock hands the job back.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { GAI_IDLE = 0, GAI_RESOLVING, GAI_CANCELLED };

struct vg__gai_job_s {
  vg_work_t work;
  vg_getaddrinfo_t *req;        /* NULL once detached by a cancel */
  int port, family;
  apr_status_t status;
  size_t naddrs;
  vg_addr_t addrs[VG_GETADDRINFO_MAX];
  char host[1];                 /* the name, NUL-terminated (allocated) */
};

static void deliver(vg_getaddrinfo_t *req, apr_status_t status,
                    const vg_addr_t *addrs, size_t naddrs) {
  req->state = GAI_IDLE;
  req->job = NULL;
  req->cb(req, status, status == APR_SUCCESS ? addrs : NULL,
          status == APR_SUCCESS ? naddrs : 0);
}

static void gai_work(vg_work_t *w) {
  struct vg__gai_job_s *job = w->data;
  job->status = pal_addr_resolve(job->host, job->port, job->family,
                                 job->addrs, VG_GETADDRINFO_MAX,
                                 &job->naddrs);
}

static void gai_after(vg_work_t *w, apr_status_t status) {
  struct vg__gai_job_s *job = w->data;
  if (job->req)
    deliver(job->req, status == VG_ECANCELED ? VG_ECANCELED : job->status,
            job->addrs, job->naddrs);
  free(job);
}

static void gai_cancelled(vg_work_t *w, apr_status_t status) {
  vg_getaddrinfo_t *req = w->data;
  (void)status;
  deliver(req, VG_ECANCELED, NULL, 0);
}

apr_status_t vg_getaddrinfo(vg_loop_t *loop, vg_getaddrinfo_t *req,
                            vg_getaddrinfo_cb cb, const char *host, int port,
                            int family) {
  struct vg__gai_job_s *job;
  size_t n;
  apr_status_t rv;

  if (!loop || !req || !cb || !host || !*host || port < 0 || port > 65535 ||
      (family != 0 && family != PAL_AF_INET && family != PAL_AF_INET6))
    return APR_EINVAL;
  if (req->loop == loop && req->state != GAI_IDLE)
    return VG_EBUSY;
  n = strlen(host);
  job = malloc(sizeof *job + n);
  if (!job)
    return APR_ENOMEM;
  memset(job, 0, sizeof *job);
  memcpy(job->host, host, n + 1);
  job->port = port;
  job->family = family;
  job->req = req;
  job->work.data = job;
  rv = vg_queue_work(loop, &job->work, gai_work, gai_after);
  if (rv != APR_SUCCESS) {
    free(job);
    return rv;
  }
  req->loop = loop;
  req->cb = cb;
  req->job = job;
  req->state = GAI_RESOLVING;
  return APR_SUCCESS;
}

apr_status_t vg_getaddrinfo_cancel(vg_getaddrinfo_t *req) {
  if (!req || !req->loop || req->state == GAI_IDLE)
    return APR_EINVAL;
  if (req->state == GAI_CANCELLED)
    return APR_SUCCESS;
  req->state = GAI_CANCELLED;
  if (vg_work_cancel(&req->job->work) == APR_SUCCESS)
    return APR_SUCCESS;   /* gai_after delivers VG_ECANCELED */
  /* Running, or done and not yet delivered: let it finish alone. */
  req->job->req = NULL;
  req->job = NULL;
  req->cancel_work.data = req;
  vg__wq_post(req->loop, &req->cancel_work, gai_cancelled, VG_ECANCELED);
  return APR_SUCCESS;
}
