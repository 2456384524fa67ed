/*
 * req.c -- request bookkeeping shared by every backend.
 *
 * Map:
 *   1. a request: what a write or send covers, and how far it has got
 *   2. an io's requests: the write queue, and the cancellations of close
 */
#include "pal_common.h"

/* ---- 1. a request ------------------------------------------------------ */

size_t pal__req_pending_bytes(const pal_req_t *req) {
  size_t n = 0;
  unsigned i;
  for (i = req->bufidx; i < req->nbufs; i++)
    n += req->bufs[i].len;
  return n - req->bufoff;
}

void pal__req_advance(pal_req_t *req, size_t w) {
  while (w > 0 && req->bufidx < req->nbufs) {
    size_t left = req->bufs[req->bufidx].len - req->bufoff;
    if (w < left) {
      req->bufoff += w;
      return;
    }
    w -= left;
    req->bufidx++;
    req->bufoff = 0;
  }
  while (req->bufidx < req->nbufs && req->bufs[req->bufidx].len == 0)
    req->bufidx++;
}

/* ---- 2. an io's requests ------------------------------------------------ */

void pal__writes_complete_all(pal_io_t *io, apr_status_t status) {
  while (io->writes_head != NULL)
    pal__complete(io->poll, pal__writes_pop(io), status);
}

void pal__io_cancel_all(pal_io_t *io) {
  if (io->connect_req) {
    pal__complete(io->poll, io->connect_req, PAL_ECANCELED);
    io->connect_req = NULL;
  }
  pal__writes_complete_all(io, PAL_ECANCELED);
  if (io->shutdown_req) {
    pal__complete(io->poll, io->shutdown_req, PAL_ECANCELED);
    io->shutdown_req = NULL;
  }
}
