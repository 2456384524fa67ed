#!/usr/bin/env bash
# test.sh -- set up, build and run every test suite.
#
#   scripts/test.sh              three legs: the Linux suites (plain build,
#                                warnings are errors), the macOS compile
#                                check, then the Windows build and its suites
#                                under Wine (VIGIL_SKIP_WINDOWS=1 skips that
#                                leg).  Every leg runs even when one before
#                                it failed; the last line names the legs
#                                that failed (exit 1) or says all passed.
#   scripts/test.sh --asan       the same suites under ASan + UBSan
#   scripts/test.sh --tsan       the same suites under ThreadSanitizer
#                                (but the supervisor's suites on the
#                                default backend only, not again on epoll)
#   scripts/test.sh --valgrind   the same suites under valgrind (leaks = failure)
#   scripts/test.sh --windows    cross-build for Windows (mingw-w64) and run
#                                the suites under Wine
#   scripts/test.sh --real       install the daemons of tests/real
#                                (bootstrap.sh --real), then run that suite
#                                alone (ctest -L real) in build/
#
# The real-daemon suite (vigil_real, ctest label "real") runs with the
# others where its daemons are installed.  Where they are not, it says
# SKIP and why, and ctest counts it skipped; with CI=true it fails.
#
# Build trees: build/ (plain), build-asan/, build-tsan/, build-win/vigil.
# Each CUnit suite is its own ctest test; ctest prints the summary line.
# After it, the cases this machine could not run are listed, each with
# why (their "SKIPPED [TAG]: WHY" lines; e.g. no usable cgroup v2 in a
# container; VIGIL_TEST_REQUIRE_CGROUP=1 makes that a failure).  Long
# steps (installing packages, building dependencies, the builds) say so
# before they start and how long they took (scripts/lib/timed.sh).
# Works from any clone location (a 0700 /root/vigil too), as root or not.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh

mode=plain
case "${1:-}" in
  "") ;;
  --asan) mode=asan ;;
  --tsan) mode=tsan ;;
  --valgrind) mode=valgrind ;;
  --windows) mode=windows ;;
  --real) mode=real ;;
  *) echo "usage: scripts/test.sh [--asan|--tsan|--valgrind|--windows|--real]" >&2; exit 2 ;;
esac

jobs=$(nproc 2>/dev/null || echo 2)

# build DIR ESTIMATE CMAKE-ARGS...: configure and build one tree.
build() {
  local dir=$1 estimate=$2
  shift 2
  cmake -S . -B "$dir" -DVIGIL_WERROR=ON -DVIGIL_BUILD_TESTS=ON "$@" >/dev/null &&
    timed "test.sh: building $dir/" "$estimate" \
      quiet cmake --build "$dir" -j"$jobs"
}

# suites DIR [CTEST-ARGS...]: every suite of that tree (or those the
# arguments select), then what this machine skipped.
suites() {
  local dir=$1 rc=0 log n
  shift
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" "$@") || rc=$?
  log="$dir/Testing/Temporary/LastTest.log"
  n=$(grep -c 'SKIPPED \[' "$log" 2>/dev/null || true)
  if [ "${n:-0}" -gt 0 ]; then
    echo "test.sh: $n case(s) in $dir/ not run on this machine:"
    grep -h 'SKIPPED \[' "$log" | sed 's/^[[:space:]]*/  /'
  fi
  return "$rc"
}

if [ "$mode" = windows ]; then
  # mingw-w64, Wine, and APR/libxml2/CUnit cross-built from Debian's source
  # packages into build-win/deps (once per machine; quiet when present).
  scripts/build-win-deps.sh
  export WINEDEBUG=-all
  export WINEPREFIX="${WINEPREFIX:-$PWD/build-win/wineprefix}"
  # No Mono/Gecko installers when the prefix is created (there is no
  # network to fetch them, and nothing here needs them).
  export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree=;mshtml=}"
  dir=build-win/vigil
  build "$dir" "about 1 min from nothing" \
    -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
  # The first wine call creates the prefix (~10 s); do it outside ctest's
  # per-test timeouts.
  if [ -d "$WINEPREFIX" ]; then
    wine cmd /c exit 0 >/dev/null 2>&1 || true
  else
    timed "test.sh: creating the Wine prefix $WINEPREFIX" "about 10 s" \
      sh -c 'wine cmd /c exit 0 >/dev/null 2>&1 || true'
  fi
  suites "$dir"
  exit
fi

# The README's test command runs every suite, so it installs the daemons
# of tests/real too (not started as services: bootstrap.sh).
if [ "$mode" = valgrind ]; then
  scripts/bootstrap.sh --check
elif [ "$mode" = real ] || [ "$mode" = plain ]; then
  scripts/bootstrap.sh --real
else
  scripts/bootstrap.sh
fi

case "$mode" in
  plain|valgrind|real) dir=build; extra=() ;;
  asan) dir=build-asan; extra=(-DVIGIL_SANITIZE=ON) ;;
  tsan) dir=build-tsan; extra=(-DVIGIL_TSAN=ON) ;;
esac

if [ "$mode" = real ]; then
  build "$dir" "about 1 min from nothing"
  cd "$dir"
  exec ctest --output-on-failure --no-tests=error -L real
fi

if [ "$mode" = valgrind ]; then
  build "$dir" "about 1 min from nothing" "${extra[@]}"
  # Every suite under memcheck; children re-exec'd by tests run natively.
  fail=0
  # The suites ctest runs on each Linux backend (tests/CMakeLists.txt:
  # SUITE and SUITE_io_uring) run on each here too.
  both=" $(cd "$dir" && ctest -N | sed -n 's/^ *Test *#[0-9]*: \(.*\)_io_uring$/\1/p' | tr '\n' ' ') "
  for s in $("$dir"/tests/run_tests --list); do
    if [ "$s" = vigil_real ]; then
      # vigil and the daemons run natively there: memcheck would check
      # only the runner's polling, slowly.  Plain, ASan and TSan run it.
      echo "valgrind: vigil_real not run under memcheck (it checks real daemons under a native vigil)"
      continue
    fi
    backends=default
    case "$both" in *" $s "*) backends="epoll io_uring" ;; esac
    for b in $backends; do
      log="$dir/valgrind-$s.log" name=$s rc=0
      [ "$b" = default ] || { log="$dir/valgrind-$s-$b.log"; name="$s ($b)"; }
      if [ "$b" = default ]; then be=${VIGIL_BACKEND:-}; else be=$b; fi
      VIGIL_BACKEND=$be valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        "$dir"/tests/run_tests "$s" >"$log" 2>&1 || rc=$?
      if [ $rc -eq 0 ]; then
        echo "valgrind: $name ok"
      elif [ $rc -eq 77 ]; then
        echo "valgrind: $name skipped: $(grep -m1 'SKIPPED \[' "$log")"
      else
        echo "valgrind: $name FAILED (see $log)"; tail -30 "$log"; fail=1
      fi
    done
  done
  exit $fail
fi

# Say up front when the real-daemon suite will skip itself.
real_missing=""
for p in psql pg_isready redis-server redis-cli nginx memcached curl; do
  command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || real_missing+=" $p"
done
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || real_missing+=" postgres"
if [ -n "$real_missing" ] && [ "${CI:-}" != true ]; then
  echo "SKIP: vigil_real (tests/real): not installed:$real_missing; scripts/bootstrap.sh --real installs them"
fi
if [ "$mode" != plain ]; then
  build "$dir" "about 1 min from nothing" "${extra[@]}"
  if [ "$mode" = tsan ]; then
    # The supervisor's suites run on io_uring (the default) here; their
    # second run on epoll (label "epoll") is left to the plain and ASan
    # legs: what threads do in a backend (wake-ups from other threads)
    # is checked here by the core suites on both backends, and those
    # runs would add minutes to CI.
    echo "test.sh: the supervisor's suites on epoll (ctest label epoll) are run by the plain and --asan legs, not here"
    suites "$dir" -LE epoll
  else
    suites "$dir"
  fi
  exit
fi

# The three legs of the README's test command: each runs whatever
# happened to the ones before; the summary comes last.
failed=()
if ! build "$dir" "about 1 min from nothing"; then
  failed+=("Linux (build)")
elif ! suites "$dir"; then
  failed+=("Linux (suites)")
fi
# The kqueue backend and everything above it, compiled for macOS
# (compile-only: nothing macOS can run here; docs/macos.md).
scripts/check-macos.sh || failed+=("macOS compile check")
legs="Linux, macOS compile check"
if [ -z "${VIGIL_SKIP_WINDOWS:-}" ]; then
  # The same suites for Windows (IOCP), cross-built and run under Wine.
  legs="$legs, Windows (Wine)"
  scripts/test.sh --windows || failed+=("Windows (Wine)")
else
  echo "test.sh: the Windows leg was not run (VIGIL_SKIP_WINDOWS is set)"
fi
if [ ${#failed[@]} -gt 0 ]; then
  msg=$(printf '%s; ' "${failed[@]}")
  echo "test.sh: FAILED: ${msg%; } (of: $legs)" >&2
  exit 1
fi
echo "test.sh: all passed: $legs"
