/*
 * req.c -- request bookkeeping shared by every backend: what a write or
 * send request covers, and how far it has got.
 */
#include "pal_common.h"

void pal__req_init(pal_req_t *req, pal_io_t *io, int type,
                   const pal_buf_t *bufs, unsigned nbufs, pal_req_cb cb) {
  unsigned i;
  req->cb = cb;
  req->io = io;
  req->next = NULL;
  req->status = APR_SUCCESS;
  req->type = type;
  req->bufs = bufs;
  req->nbufs = nbufs;
  req->bufidx = 0;
  req->bufoff = 0;
  req->nbytes = 0;
  for (i = 0; i < nbufs; i++)
    req->nbytes += bufs[i].len;
}

size_t pal_req_pending_bytes(const pal_req_t *req) {
  size_t n = 0;
  unsigned i;
  if (req->bufidx >= req->nbufs)
    return 0;   /* the common case: written at submit time */
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
