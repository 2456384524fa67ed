# shellcheck shell=bash
# timed.sh -- sourced by the set-up and test scripts: a long step says so
# on one line before it runs, and how long it took after, so that the
# first run on a fresh machine is never silent for minutes.  Kept out of
# the build stamps of build-libxml2.sh and build-win-deps.sh (which hash
# their own text): a change here rebuilds nothing.
#
#   timed "WHO: WHAT" "ESTIMATE" CMD...
#
# prints "WHO: WHAT (ESTIMATE) ..." and runs CMD; then
# "WHO: WHAT: done in N s", or "WHO: WHAT: FAILED after N s (exit RC)"
# and returns RC.
timed() {
  local what=$1 estimate=$2 t0=$SECONDS rc=0
  shift 2
  echo "$what${estimate:+ ($estimate)} ..."
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "$what: done in $((SECONDS - t0)) s"
  else
    echo "$what: FAILED after $((SECONDS - t0)) s (exit $rc)" >&2
  fi
  return "$rc"
}

# quiet CMD...: CMD with its standard output discarded (errors still
# show), for use under timed.
quiet() { "$@" >/dev/null; }
