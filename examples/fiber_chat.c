/*
 * fiber_chat.c -- vigil-fiber-chat: a TCP chat server in blocking style.
 *
 *   vigil-fiber-chat [PORT]     (default 7009; 0 picks a free port)
 *
 * A client is greeted with "welcome ID\n"; every chunk it sends then goes
 * to every other client as "ID> chunk".
 * Each client has two fibers: a reader that broadcasts, and a writer that
 * drains the client's outbox (a fiber channel), so a slow client delays
 * nobody but itself.  Prints "listening on 127.0.0.1:PORT"; TERM or INT
 * shut it down (vg_fiber_shutdown) and it exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiber_example.h"   /* main(): listen, run, TERM/INT */

typedef struct client_s {
  vg_tcp_t tcp;                 /* first: the close callback frees it */
  vg_chan_t *outbox;            /* malloc'ed strings to send */
  struct client_s *next, *prev;
  unsigned id;
} client_t;

static client_t *clients;
static unsigned next_id = 1;

static void closed(vg_handle_t *h) { free(h); }
static void drop(vg_chan_t *c, void *msg) { (void)c; free(msg); }

static void writer(void *arg) {
  client_t *c = arg;
  vg_tcp_t *tcp = &c->tcp;
  vg_chan_t *outbox = c->outbox;
  void *msg;
  apr_status_t rv = APR_SUCCESS;

  /* After a failure nothing of c is touched: the reader frees it. */
  while (rv == APR_SUCCESS && vg_fiber_chan_recv(outbox, &msg) == 0) {
    rv = vg_fiber_write(tcp, msg, strlen(msg));
    free(msg);
  }
}

static void reader(void *arg) {
  client_t *c = arg, *o;
  char buf[1024], *msg;
  size_t n;

  while (vg_fiber_read(&c->tcp, buf, sizeof buf, &n) == APR_SUCCESS)
    for (o = clients; o != NULL; o = o->next)
      if (o != c && (msg = malloc(n + 16)) != NULL) {
        snprintf(msg, n + 16, "%u> %.*s", c->id, (int)n, buf);
        if (vg_chan_try_send(o->outbox, msg) != APR_SUCCESS)
          free(msg);
      }
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    clients = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  vg_close((vg_handle_t *)c->outbox, closed);   /* the writer leaves */
  vg_close((vg_handle_t *)&c->tcp, closed);
}

static void acceptor(void *arg) {
  vg_tcp_t *server = arg;
  client_t *c;
  char *msg;

  while ((c = calloc(1, sizeof *c)) != NULL) {
    vg_tcp_init(loop, &c->tcp);
    if (vg_fiber_accept(server, &c->tcp) != APR_SUCCESS ||
        (c->outbox = malloc(sizeof *c->outbox)) == NULL ||
        vg_fiber_chan_init(loop, c->outbox, 0) != APR_SUCCESS) {
      free(c->outbox);
      vg_close((vg_handle_t *)&c->tcp, closed);
      break;
    }
    vg_chan_set_drop_cb(c->outbox, drop);
    c->id = next_id++;
    if ((msg = malloc(32)) != NULL) {
      snprintf(msg, 32, "welcome %u\n", c->id);
      vg_chan_try_send(c->outbox, msg);
    }
    c->next = clients;
    if (clients != NULL)
      clients->prev = c;
    clients = c;
    vg_fiber_create(loop, NULL, writer, c, 0);
    vg_fiber_create(loop, NULL, reader, c, 0);
  }
  vg_close((vg_handle_t *)server, NULL);
}

int main(int argc, char **argv) {
  return fiber_example_main(argc, argv, 7009, acceptor);
}
