/*
 * hello.c -- a program built against an installed libvigil, by
 * scripts/test-packages.sh: once with `pkg-config --cflags --libs
 * libvigil`, once through find_package(vigil) (CMakeLists.txt here).
 * It runs a loop with a repeating timer and checks that the headers and
 * the library it links agree on the version.  Prints one line; exit 0.
 */
#include <stdio.h>
#include <string.h>

#include <vigil.h>
#include <vigil_fiber.h>

static int ticks;

static void on_tick(vg_timer_t *t) {
  if (++ticks == 3)
    vg_close((vg_handle_t *)t, NULL);
}

int main(void) {
  vg_loop_t *loop;
  vg_timer_t timer;
  char eb[128];
  apr_status_t rv;

  if ((rv = vg_initialize()) != APR_SUCCESS ||
      (rv = vg_loop_create(&loop, NULL)) != APR_SUCCESS ||
      (rv = vg_timer_init(loop, &timer)) != APR_SUCCESS ||
      (rv = vg_timer_start(&timer, on_tick, 1, 1)) != APR_SUCCESS) {
    fprintf(stderr, "hello: %s\n", vg_strerror(rv, eb, sizeof eb));
    return 1;
  }
  vg_run(loop, VG_RUN_DEFAULT);
  if ((rv = vg_loop_close(loop)) != APR_SUCCESS) {
    fprintf(stderr, "hello: vg_loop_close: %s\n",
            vg_strerror(rv, eb, sizeof eb));
    return 1;
  }
  if (strcmp(vg_version(), VG_VERSION_STRING) != 0 || ticks != 3) {
    fprintf(stderr, "hello: library %s, headers %s, %d ticks\n",
            vg_version(), VG_VERSION_STRING, ticks);
    return 1;
  }
  printf("libvigil %s (%s backend): %d ticks\n", vg_version(), vg_backend(),
         ticks);
  return 0;
}
