#!/usr/bin/env bash
# test.sh -- set up, build and run every test suite.
#
#   scripts/test.sh              plain build (warnings are errors), all suites,
#                                the macOS compile check, then the Windows
#                                build and its suites under Wine
#                                (VIGIL_SKIP_WINDOWS=1 skips that leg)
#   scripts/test.sh --asan       the same suites under ASan + UBSan
#   scripts/test.sh --tsan       the same suites under ThreadSanitizer
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
# Build trees: build/ (plain), build-asan/, build-tsan/.  Each CUnit suite is its own
# ctest test; ctest prints the summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

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
  cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
        -DVIGIL_WERROR=ON -DVIGIL_BUILD_TESTS=ON >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  # The first wine call creates the prefix (~10 s); do it outside ctest's
  # per-test timeouts.
  wine cmd /c exit 0 >/dev/null 2>&1 || true
  cd "$dir"
  exec ctest --output-on-failure --no-tests=error -j"$jobs"
fi
if [ "$mode" = valgrind ]; then
  scripts/bootstrap.sh --check
elif [ "$mode" = real ]; then
  scripts/bootstrap.sh --real
else
  scripts/bootstrap.sh
fi

case "$mode" in
  plain|valgrind|real) dir=build; extra=() ;;
  asan) dir=build-asan; extra=(-DVIGIL_SANITIZE=ON) ;;
  tsan) dir=build-tsan; extra=(-DVIGIL_TSAN=ON) ;;
esac

cmake -S . -B "$dir" -DVIGIL_WERROR=ON -DVIGIL_BUILD_TESTS=ON "${extra[@]}" >/dev/null
cmake --build "$dir" -j"$jobs" >/dev/null
if [ "$mode" = plain ]; then
  # The kqueue backend and everything above it, compiled for macOS
  # (compile-only: nothing macOS can run here; docs/macos.md).
  scripts/check-macos.sh
fi

if [ "$mode" = real ]; then
  cd "$dir"
  exec ctest --output-on-failure --no-tests=error -L real
fi

if [ "$mode" = valgrind ]; then
  # Every suite under memcheck; children re-exec'd by tests run natively.
  fail=0
  for s in $("$dir"/tests/run_tests --list); do
    if [ "$s" = vigil_real ]; then
      # vigil and the daemons run natively there: memcheck would check
      # only the runner's polling, slowly.  Plain, ASan and TSan run it.
      echo "valgrind: vigil_real not run under memcheck (it checks real daemons under a native vigil)"
      continue
    fi
    if valgrind -q --error-exitcode=99 --leak-check=full \
         --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
         "$dir"/tests/run_tests "$s" >"$dir/valgrind-$s.log" 2>&1; then
      echo "valgrind: $s ok"
    else
      echo "valgrind: $s FAILED (see $dir/valgrind-$s.log)"; tail -30 "$dir/valgrind-$s.log"; fail=1
    fi
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
(cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs")
if [ "$mode" = plain ] && [ -z "${VIGIL_SKIP_WINDOWS:-}" ]; then
  # The same suites for Windows (IOCP), cross-built and run under Wine.
  exec scripts/test.sh --windows
fi
