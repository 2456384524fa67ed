# debsrc.sh -- sourced by the scripts that build libraries from Debian's
# source packages (build-libxml2.sh, build-win-deps.sh): the build log,
# the failure trap and the deb-src entry, written once here.
#
# The caller sets BUILD (its work directory) and NAME (for messages),
# then calls debsrc_begin; it may use run, $SUDO and debsrc_ensure_entry.

# debsrc_begin: one build at a time per work directory, a fresh log, and
# on failure the step that failed and the log's tail.
debsrc_begin() {
  mkdir -p "$BUILD"
  exec 9>"$BUILD/.lock"
  flock 9                   # another run may be building the same prefix
  LOG="$BUILD/build.log"
  : >"$LOG"
  STEP="start"
  # shellcheck disable=SC2154
  trap 'rc=$?; echo "$NAME: FAILED at: $STEP (exit $rc); last lines of $LOG:" >&2;
        tail -n 40 "$LOG" >&2; exit $rc' ERR
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  return 0
}

# run STEP-DESCRIPTION CMD...: log the command and its output.
run() {
  STEP=$1; shift
  printf '\n=== [%s] %s\n+ %s\n' "$(date +%T)" "$STEP" "$*" >>"$LOG"
  "$@" >>"$LOG" 2>&1
}

debsrc_has_entry() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
           /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -qE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' "$f" && return 0
  done
  return 1
}

# debsrc_ensure_entry: add a deb-src entry mirroring the deb ones when
# there is none (vigil-deb-src.sources or .list).  Returns 0 if it added
# one (the caller runs apt-get update), 1 if one was there.
debsrc_ensure_entry() {
  debsrc_has_entry && return 1
  STEP="add deb-src entry"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      | $SUDO tee /etc/apt/sources.list.d/vigil-deb-src.sources >/dev/null
  else
    grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list \
      | sed 's/^[[:space:]]*deb[[:space:]]/deb-src /' \
      | $SUDO tee /etc/apt/sources.list.d/vigil-deb-src.list >/dev/null
  fi
  return 0
}
