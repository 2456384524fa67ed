#!/usr/bin/env bash
# scripts/bench.sh -- build and run the perf/ benchmarks: libvigil against
# libuv, libev, libevent and a plain epoll loop, in the same run.
#
# Usage: scripts/bench.sh [options]
#   --reps N          repetitions of every measurement (default 5)
#   --stat median|best  which repetition to report: the median by
#                     ops_per_s (default) or the best (the least disturbed
#                     by other load, for A/B work on a noisy machine)
#   --quick           small workloads (a smoke test, not a measurement)
#   --check           CI's check of perf/: --quick --reps 1, and strict:
#                     a program that does not build, a peer that is
#                     missing, or a run that fails is an error (exit 1
#                     after the summary), where a measurement run skips
#                     them with a warning
#   --only LIST       benchmarks to run, comma-separated
#                     (timers,pingpong,async,spawn; default all); timers
#                     runs its three variants (fire, cancel, churn), and
#                     timers-fire, timers-cancel, timers-churn run one
#   --impls LIST      implementations (default vigil,libuv,libev,libevent,epoll);
#                     vigil-epoll and vigil-uring are bench_vigil with
#                     VIGIL_BACKEND=epoll / io_uring (reported under those
#                     names), so one run can pair the two backends: vigil
#                     itself runs on the backend VIGIL_BACKEND names;
#                     uring is a plain io_uring loop (pingpong only)
#   --no-1cpu         skip the async run with both threads on one CPU
#                     (reported as impl=NAME-1cpu)
#   --no-cancel       skip the timers variant with distinct deadlines that
#                     are cancelled, not fired (reported as impl=NAME-cancel)
#   --no-churn        skip the timers variant that re-arms 100,000 idle
#                     timeouts at random (reported as impl=NAME-churn)
#   --no-extras       skip the idle system-call check (strace)
#   --pairs K         paired mode instead of rounds: for every benchmark and
#                     peer, K back-to-back pairs (vigil, peer) at a fifth
#                     of the default sizes (timers churn at its full
#                     3,000,000 re-arms: its first fifth is mostly the
#                     moves of the timers' first placement, see
#                     docs/PERFORMANCE.md), the order alternating; reports
#                     the median ratio peer/vigil of the pairs' times (> 1:
#                     vigil faster) with quartiles.  Adjacent runs see the
#                     same background load, so the ratio is much steadier
#                     than one of medians on a shared machine.
#   --markdown FILE   also write the results as a markdown table to FILE
#   --build-dir DIR   build tree (default build-perf)
#   --no-build        use the programs already built in the build tree
#   --no-install      never install the peer libraries
#   --windows         the Windows build instead: cross-build bench_vigil.exe
#                     with mingw-w64 (cmake/toolchain-mingw64.cmake, the
#                     dependencies from scripts/build-win-deps.sh) into
#                     build-win/perf and run it under Wine (WINEPREFIX
#                     defaults to build-win/wineprefix).  vigil only (the
#                     peers are not built for Windows), 3 rounds unless
#                     --reps, pingpong 10,000 round trips and spawn 200
#                     `cmd /c exit 0` (Wine makes both slow), no idle check,
#                     no --pairs.  Figures under Wine are indicative only
#                     (docs/PERFORMANCE.md).
#
# Output (stdout): the median measurement of every (benchmark, impl) as
#   bench=NAME impl=IMPL ops=N seconds=T ops_per_s=X
# then the median "detail" lines (CPU time per op and allocations in the
# timed section, see perf/common.h), the idle system-call check
# ("idle ..."), and two tables: ops/s (wall clock) and CPU µs per op, each
# with vigil's ratio to the best peer and to the epoll floor.  Every
# individual run is echoed to stderr and kept in BUILD_DIR/bench-raw.txt.
#
# Method: within one repetition each benchmark runs every implementation
# in turn, the order rotating from one repetition to the next, so slow
# drifts of a noisy machine are spread over all of them.  See
# docs/PERFORMANCE.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=""
REPS=""
STAT=median
QUICK=0
CHECK=0
FAILED=0
IMPLS_SET=0
ONLY="timers,pingpong,async,spawn"
IMPLS="vigil,libuv,libev,libevent,epoll"
ONECPU=1
CANCEL=1
CHURN=1
EXTRAS=1
MARKDOWN=""
PAIRS=0
DO_BUILD=1
DO_INSTALL=1
WINDOWS=0

die() { echo "bench.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=${2:?}; shift 2 ;;
    --stat) STAT=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --check) CHECK=1; QUICK=1; REPS=1; shift ;;
    --only) ONLY=${2:?}; shift 2 ;;
    --impls) IMPLS=${2:?}; IMPLS_SET=1; shift 2 ;;
    --no-1cpu) ONECPU=0; shift ;;
    --no-cancel) CANCEL=0; shift ;;
    --no-churn) CHURN=0; shift ;;
    --no-extras) EXTRAS=0; shift ;;
    --markdown) MARKDOWN=${2:?}; shift 2 ;;
    --pairs) PAIRS=${2:?}; shift 2 ;;
    --build-dir) BUILD=${2:?}; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-install) DO_INSTALL=0; shift ;;
    --windows) WINDOWS=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
if [ "$WINDOWS" = 1 ]; then
  [ "$PAIRS" = 0 ] || die "--pairs compares with the peers: not with --windows"
  [ -n "$BUILD" ] || BUILD="$ROOT/build-win/perf"
  [ -n "$REPS" ] || REPS=3
  IMPLS=vigil        # the peers are POSIX builds (perf/CMakeLists.txt)
  EXTRAS=0           # the idle check traces Linux system calls
fi
[ "$CHECK" = 0 ] || [ "$PAIRS" = 0 ] || die "--check and --pairs: one or the other"
[ -n "$BUILD" ] || BUILD="$ROOT/build-perf"
[ -n "$REPS" ] || REPS=5
case "$REPS" in ''|*[!0-9]*|0) die "--reps wants a positive number" ;; esac
case "$STAT" in median|best) ;; *) die "--stat is median or best" ;; esac
case "$PAIRS" in ''|*[!0-9]*) die "--pairs wants a number" ;; esac
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
PERF="$BUILD/perf"

# How a benchmark program is started: directly, or (--windows) as
# bench_IMPL.exe under Wine.  Wine's C runtime ends lines with CR LF.
RUN=()
EXE=""
if [ "$WINDOWS" = 1 ]; then
  RUN=(wine)
  EXE=".exe"
  export WINEDEBUG="${WINEDEBUG:--all}"
  export WINEPREFIX="${WINEPREFIX:-$ROOT/build-win/wineprefix}"
fi

# fail MESSAGE: with --check an error (counted, exit 1 at the end),
# otherwise a warning.
fail() {
  echo "bench.sh: $*" >&2
  if [ "$CHECK" = 1 ]; then FAILED=$((FAILED + 1)); fi
}

# --- the peers -------------------------------------------------------
have_peers() {
  pkg-config --exists libuv libevent libevent_pthreads 2>/dev/null &&
    { [ -e /usr/include/ev.h ] || [ -e /usr/local/include/ev.h ]; }
}
if [ "$WINDOWS" = 1 ]; then
  # mingw-w64, Wine and the static APR/libxml2/CUnit in build-win/deps
  # (once per machine; quiet when present).
  if [ "$DO_BUILD" = 1 ] && [ "$DO_INSTALL" = 1 ]; then
    "$ROOT/scripts/build-win-deps.sh" >&2
  fi
elif [ "$DO_INSTALL" = 1 ]; then
  if [ -x "$ROOT/scripts/bootstrap.sh" ] &&
     grep -q -- '--perf' "$ROOT/scripts/bootstrap.sh"; then
    "$ROOT/scripts/bootstrap.sh" --perf   # idempotent, quiet when done
  elif ! have_peers; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "bench.sh: installing the comparison peers" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        libuv1-dev libev-dev libevent-dev strace >&2
    else
      echo "bench.sh: libuv/libev/libevent missing and cannot install;" \
           "the missing peers are skipped" >&2
    fi
  fi
fi

# --- build -----------------------------------------------------------
if [ "$DO_BUILD" = 1 ]; then
  mkdir -p "$BUILD"
  cross=()
  targets="bench_libuv bench_libev bench_libevent bench_epoll bench_uring bench_vigil idle_syscalls"
  if [ "$WINDOWS" = 1 ]; then
    cross=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-mingw64.cmake")
    targets="bench_vigil"
  fi
  cmake -S "$ROOT" -B "$BUILD" "${cross[@]}" -DVIGIL_BUILD_PERF=ON \
    -DVIGIL_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
    >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log" >&2; die "cmake configure failed"; }
  jobs=$(nproc 2>/dev/null || echo 2)
  # --check: everything the perf build configures (the fibers benchmark
  # and the supervisor benchmark's helpers too), first of all.
  if [ "$CHECK" = 1 ] &&
     ! cmake --build "$BUILD" -j "$jobs" >"$BUILD/build-all.log" 2>&1; then
    cat "$BUILD/build-all.log" >&2
    fail "the perf build failed (see $BUILD/build-all.log)"
  fi
  # One target at a time, so that a peer missing or libvigil not linking
  # does not stop the others.
  for t in $targets; do
    if ! cmake --build "$BUILD" --target "$t" -j "$jobs" \
         >"$BUILD/build-$t.log" 2>&1; then
      fail "$t not built (see $BUILD/build-$t.log)"
    fi
  done
fi
if [ "$WINDOWS" = 1 ]; then
  # The first wine call creates the prefix (~10 s): not inside a run.
  wine cmd /c exit 0 >/dev/null 2>&1 || true
fi

if [ "$CHECK" = 1 ] && [ "$IMPLS_SET" = 0 ] && [ "$WINDOWS" = 0 ]; then
  IMPLS="vigil,vigil-epoll,libuv,libev,libevent,epoll,uring"
fi
IFS=, read -r -a BENCHES <<<"$ONLY"
IFS=, read -r -a IMPL_LIST <<<"$IMPLS"
for b in "${BENCHES[@]}"; do
  case "$b" in
    timers|timers-fire|timers-cancel|timers-churn|pingpong|async|spawn) ;;
    *) die "unknown benchmark $b" ;;
  esac
done

# vigil-epoll, vigil-uring: bench_vigil on that backend.
impl_bin() {   # impl -> program
  case "$1" in
    vigil-*) echo "$PERF/bench_vigil$EXE" ;;
    *) echo "$PERF/bench_$1$EXE" ;;
  esac
}
impl_run() {   # impl args...: run it, its lines named after impl
  local impl=$1 be=""; shift
  case "$impl" in
    vigil-uring) be=io_uring ;;
    vigil-*) be=${impl#vigil-} ;;
  esac
  if [ -n "$be" ]; then
    VIGIL_BACKEND=$be "${RUN[@]}" "$(impl_bin "$impl")" "$@" |
      sed "s/ impl=vigil/ impl=$impl/"
    return "${PIPESTATUS[0]}"
  fi
  "${RUN[@]}" "$(impl_bin "$impl")" "$@"
}

# --check: every program asked for, and the idle check's, must be there.
if [ "$CHECK" = 1 ]; then
  for impl in "${IMPL_LIST[@]}"; do
    [ -x "$(impl_bin "$impl")" ] || fail "$(impl_bin "$impl") is missing"
  done
  [ -x "$PERF/idle_syscalls$EXE" ] || fail "$PERF/idle_syscalls$EXE is missing"
fi

# Which implementations provide which benchmark.
provides() {   # impl bench
  [ -x "$(impl_bin "$1")" ] || return 1
  [ "$1" = epoll ] && [ "$2" = timers ] && return 1
  [ "$1" = uring ] && [ "$2" != pingpong ] && return 1
  return 0
}

size_args() {  # bench -> -n N in quick mode (and for Wine)
  if [ "$QUICK" = 1 ]; then   # (timers churn: 100,000 re-arms)
    case "$1" in
      timers) echo "-n 100000" ;;
      pingpong) echo "-n 10000" ;;
      async) echo "-n 2000" ;;
      spawn) echo "-n 100" ;;
    esac
  elif [ "$WINDOWS" = 1 ]; then
    # Under Wine a loopback round trip takes ~1.5 ms and a process ~0.1 s.
    case "$1" in
      pingpong) echo "-n 10000" ;;
      spawn) echo "-n 200" ;;
    esac
  fi
}

RAW="$BUILD/bench-raw.txt"
: >"$RAW"

# run_one IMPL BENCH [EXTRA ARGS...]: one run, appended to $RAW.
run_one() {
  local impl=$1 bench=$2 out; shift 2
  # shellcheck disable=SC2046
  if ! out=$(impl_run "$impl" -a "$@" $(size_args "$bench") "$bench" 2>&1)
  then
    fail "bench_$impl $bench $* failed: ${out//$'\r'/}"
    return 0
  fi
  out=${out//$'\r'/}
  if [ "$CHECK" = 1 ] && ! printf '%s\n' "$out" | grep -q '^bench=.* ops_per_s='
  then
    fail "bench_$impl $bench $*: no result line in: $out"
  fi
  printf '%s\n' "$out" | grep -E '^(bench=|detail )' >>"$RAW" || true
  printf '%s\n' "$out" | grep -E '^bench=' | sed "s/^/  run: /" >&2 || true
}

# run_all BENCH [EXTRA ARGS...]: REPS rounds over the implementations,
# the order rotating by one each round.
run_all() {
  local bench=$1 rep k impl; shift
  for ((rep = 0; rep < REPS; rep++)); do
    for ((k = 0; k < n_impl; k++)); do
      impl=${IMPL_LIST[$(((k + rep) % n_impl))]}
      provides "$impl" "$bench" || continue
      run_one "$impl" "$bench" "$@"
    done
  done
}

# --- paired mode ----------------------------------------------------------
pair_n() {   # bench [EXTRA ARGS...]
  case "$*" in
    "timers -t churn") echo 3000000 ;;   # the whole workload (--help)
    timers*) echo 200000 ;;
    pingpong*) echo 10000 ;;
    async*) echo 2000 ;;
    spawn*) echo 200 ;;
  esac
}

# run_pairs BENCH [EXTRA ARGS...]: append "pair=PEER k=K <line>" to $PAIRRAW.
run_pairs() {
  local bench=$1 peer k impl out; shift
  for peer in "${IMPL_LIST[@]}"; do
    [ "$peer" = vigil ] && continue
    if ! provides "$peer" "$bench" || ! provides vigil "$bench"; then
      continue
    fi
    for ((k = 0; k < PAIRS; k++)); do
      for impl in $( ((k % 2)) && echo "$peer vigil" || echo "vigil $peer"); do
        if ! out=$(impl_run "$impl" -a "$@" -n "$(pair_n "$bench" "$@")" \
                   "$bench" 2>&1); then
          echo "bench.sh: bench_$impl $bench failed: $out" >&2
          continue
        fi
        printf '%s\n' "$out" | grep -E '^(bench=|detail )' |
          sed "s/^/pair=$peer k=$k /" >>"$PAIRRAW"
      done
    done
    echo "  pairs: $bench vigil/$peer done" >&2
  done
}

if [ "$PAIRS" -gt 0 ]; then
  PAIRRAW="$BUILD/bench-pairs.txt"
  : >"$PAIRRAW"
  for bench in "${BENCHES[@]}"; do
    case "$bench" in
      timers-fire) run_pairs timers; continue ;;
      timers-cancel) run_pairs timers -t cancel; continue ;;
      timers-churn) run_pairs timers -t churn; continue ;;
    esac
    run_pairs "$bench"
    if [ "$bench" = async ] && [ "$ONECPU" = 1 ]; then
      run_pairs async -c same
    fi
    if [ "$bench" = timers ] && [ "$CANCEL" = 1 ]; then
      run_pairs timers -t cancel
    fi
    if [ "$bench" = timers ] && [ "$CHURN" = 1 ]; then
      run_pairs timers -t churn
    fi
  done
  echo "# paired: $PAIRS pairs per benchmark and peer; ratio = peer time /" \
       "vigil time (> 1: vigil faster); median [first quartile, third]"
  PAIR_TABLE=$(awk '
    {
      delete f
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      b = f["bench"]; m = f["impl"]
      if (match(m, /-(1cpu|cancel|churn)$/)) {
        v_ = substr(m, RSTART + 1); m = substr(m, 1, RSTART - 1)
        b = b " (" (v_ == "1cpu" ? "1 CPU" : v_) ")"
      }
      key = b SUBSEP f["pair"]
      if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
      if (f["k"] + 1 > npairs[key]) npairs[key] = f["k"] + 1
      side = (m == "vigil") ? "v" : "p"
      if ($2 ~ /^k=/ && $3 ~ /^bench=/) wall[key, f["k"], side] = f["seconds"]
      else cpu[key, f["k"], side] = f["cpu_s"]
    }
    function stats(arr, n,   i, j, t, q1, q3) {
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && arr[j - 1] > arr[j]; j--) {
          t = arr[j]; arr[j] = arr[j - 1]; arr[j - 1] = t
        }
      q1 = arr[int((n + 3) / 4)]; q3 = arr[int((3 * n + 3) / 4)]
      return sprintf("%.3f [%.3f, %.3f]", arr[int((n + 1) / 2)], q1, q3)
    }
    END {
      print "| benchmark | vs | pairs | wall ratio | CPU ratio |"
      print "| --- | --- | ---: | ---: | ---: |"
      for (j = 1; j <= nk; j++) {
        key = order[j]; split(key, kp, SUBSEP); nw = nc = 0
        delete w; delete c
        for (k = 0; k < npairs[key]; k++) {
          if (wall[key, k, "v"] > 0 && wall[key, k, "p"] > 0)
            w[++nw] = wall[key, k, "p"] / wall[key, k, "v"]
          if (cpu[key, k, "v"] > 0 && cpu[key, k, "p"] > 0)
            c[++nc] = cpu[key, k, "p"] / cpu[key, k, "v"]
        }
        if (nw == 0) continue
        printf "| %s | %s | %d | %s | %s |\n", kp[1], kp[2], nw,
               stats(w, nw), nc ? stats(c, nc) : "–"
      }
    }' "$PAIRRAW")
  echo "$PAIR_TABLE"
  if [ -n "$MARKDOWN" ]; then
    {
      echo "Paired runs $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs" \
           "($(uname -sr)): $PAIRS pairs per benchmark and peer."
      echo "Ratio = peer time / vigil time (> 1: vigil faster)," \
           "median [first quartile, third quartile]."
      echo
      echo "$PAIR_TABLE"
    } >"$MARKDOWN"
    echo "bench.sh: wrote $MARKDOWN" >&2
  fi
  exit 0
fi

n_impl=${#IMPL_LIST[@]}
for bench in "${BENCHES[@]}"; do
  case "$bench" in
    timers-fire) run_all timers; continue ;;
    timers-cancel) run_all timers -t cancel; continue ;;
    timers-churn) run_all timers -t churn; continue ;;
  esac
  # async: threads on two CPUs (-c split, the default), then on one.
  run_all "$bench"
  if [ "$bench" = async ] && [ "$ONECPU" = 1 ]; then
    run_all async -c same
  fi
  # timers: fire (the default), then cancel (distinct deadlines), then
  # churn (idle timeouts re-armed at random).
  if [ "$bench" = timers ] && [ "$CANCEL" = 1 ]; then
    run_all timers -t cancel
  fi
  if [ "$bench" = timers ] && [ "$CHURN" = 1 ]; then
    run_all timers -t churn
  fi
done

# --- summaries ----------------------------------------------------------
# pick PREFIX FIELD DIR: for every (bench, impl), the line starting with
# PREFIX whose FIELD is the median (or, with --stat best, the best: the
# highest if DIR is "up", the lowest if "down") of the repetitions.
pick() {
  awk -v pre="$1" -v fld="$2" -v dir="$3" -v stat="$STAT" '
    index($0, pre) == 1 {
      delete f
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      key = f["bench"] " " f["impl"]
      if (!(key in cnt)) order[++nk] = key
      c = ++cnt[key]; val[key, c] = f[fld] + 0; line[key, c] = $0
    }
    END {
      for (j = 1; j <= nk; j++) {
        key = order[j]; n = cnt[key]
        for (a = 1; a <= n; a++) idx[a] = a
        for (a = 1; a <= n; a++)          # insertion sort, ascending
          for (b = a; b > 1 && val[key, idx[b - 1]] > val[key, idx[b]]; b--) {
            t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t
          }
        k = int((n + 1) / 2)
        if (stat == "best") k = (dir == "up") ? n : 1
        print line[key, idx[k]]
      }
    }' "$RAW"
}

SUMMARY="$BUILD/bench-summary.txt"
DETAIL="$BUILD/bench-detail.txt"
pick "bench=" ops_per_s up >"$SUMMARY"
pick "detail " cpu_us_per_op down >"$DETAIL"

PLATFORM="$(uname -sr)"
if [ "$WINDOWS" = 1 ]; then
  PLATFORM="Windows build (mingw-w64) under $(wine --version 2>/dev/null) on $PLATFORM"
fi
echo "# $STAT of $REPS run(s); $(nproc) CPUs; $PLATFORM"
if [ "$WINDOWS" = 1 ]; then
  echo "# Wine: indicative only; no allocation hook on Windows (mallocs=0)," \
       "CPU time from GetProcessTimes"
fi
cat "$SUMMARY"
cat "$DETAIL"

# --- idle loop: system calls per iteration -----------------------------
IDLE_LINE=""
if [ "$EXTRAS" = 1 ] && [ -x "$PERF/idle_syscalls" ]; then
  if command -v strace >/dev/null 2>&1; then
    trace="$BUILD/idle-strace.txt"
    iters=20
    if out=$(strace -f -qq -o "$trace" "$PERF/idle_syscalls" "$iters" 50 2>&1); then
      IDLE_LINE=$(awk -v prog="$out" -v want="$iters" '
        /vigil-idle-begin/ { on = 1; next }
        /vigil-idle-end/   { on = 0; next }
        on && !/resumed>/ && !/^[0-9]+ +\+\+\+/ && !/^[0-9]+ +---/ {
          s = $0; sub(/^[0-9]+ +/, "", s); sub(/\(.*/, "", s)
          n[s]++; total++
        }
        END {
          waits = 0
          for (s in n) if (s ~ /^(epoll_(p?wait|pwait2)|io_uring_enter)$/) waits += n[s]
          other = total - waits; list = ""
          for (s in n) list = list " " s "=" n[s]
          li = prog; sub(/.*iterations=/, "", li); sub(/ .*/, "", li)
          printf "idle impl=vigil ticks=%d loop_iterations=%s syscalls=%d " \
                 "waits=%d other=%d per_tick=%.2f calls:%s\n", want, li,
                 total, waits, other, want ? total / want : 0, list
        }' "$trace")
    else
      IDLE_LINE="idle impl=vigil failed: $out"
      fail "the idle check failed: $out"
    fi
  else
    IDLE_LINE="idle impl=vigil skipped: strace not installed"
    fail "the idle check needs strace"
  fi
  echo "$IDLE_LINE"
fi

# --- tables -------------------------------------------------------------
# table FILE FIELD DIR TITLE: implementations as columns, benchmarks as
# rows, the ratio of vigil to the best peer and to the epoll floor (> 1 or
# > 100% means vigil is faster, whichever way FIELD runs).
table() {
  awk -v impls="$IMPLS" -v fld="$2" -v dir="$3" -v title="$4" '
    BEGIN { ni = split(impls, im, ",") }
    {
      delete f
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      b = f["bench"]; m = f["impl"]
      if (match(m, /-(1cpu|cancel|churn)$/)) {
        v_ = substr(m, RSTART + 1); m = substr(m, 1, RSTART - 1)
        b = b " (" (v_ == "1cpu" ? "1 CPU" : v_) ")"
      }
      if (!(b in seen)) { seen[b] = 1; bo[++nb] = b }
      v[b, m] = f[fld] + 0
      if (m == "vigil") al[b] = f["allocs_per_op"]
    }
    function fmt(x) {
      if (x == "") return "–"
      if (dir == "down") return sprintf(x >= 100 ? "%.0f" : "%.2f", x)
      if (x >= 100000) return sprintf("%.0f k", x / 1000)
      if (x >= 10000) return sprintf("%.1f k", x / 1000)
      return sprintf("%.0f", x)
    }
    function faster(a, b) { return dir == "up" ? a / b : b / a }
    END {
      hdr = "| " title " |"; sep = "| --- |"
      for (i = 1; i <= ni; i++) { hdr = hdr " " im[i] " |"; sep = sep " ---: |" }
      if (dir == "down") { hdr = hdr " vigil allocs/op |"; sep = sep " ---: |" }
      print hdr " vigil vs best peer | vigil vs epoll |"
      print sep " ---: | ---: |"
      for (j = 1; j <= nb; j++) {
        b = bo[j]; row = "| " b " |"; best = ""; bestn = ""
        for (i = 1; i <= ni; i++) {
          x = ((b, im[i]) in v) ? v[b, im[i]] : ""
          row = row " " fmt(x) " |"
          if (x != "" && im[i] !~ /^vigil/ && im[i] != "epoll" &&
              (best == "" || faster(x, best) > 1)) { best = x; bestn = im[i] }
        }
        if (dir == "down") row = row " " ((b in al) ? al[b] : "–") " |"
        vg = ((b, "vigil") in v) ? v[b, "vigil"] : ""
        ep = ((b, "epoll") in v) ? v[b, "epoll"] : ""
        r1 = "–"; r2 = "–"
        if (vg != "" && best != "" && vg > 0 && best > 0)
          r1 = sprintf("%.2fx (%s)", faster(vg, best), bestn)
        if (vg != "" && ep != "" && vg > 0 && ep > 0)
          r2 = sprintf("%.1f%%", 100 * faster(vg, ep))
        print row " " r1 " | " r2 " |"
      }
    }' "$1"
}

TABLE_WALL=$(table "$SUMMARY" ops_per_s up "ops/s (wall clock)")
TABLE_CPU=$(table "$DETAIL" cpu_us_per_op down "CPU µs per op")
echo
echo "$TABLE_WALL"
echo
echo "$TABLE_CPU"

if [ -n "$MARKDOWN" ]; then
  {
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs" \
         "($PLATFORM), $STAT of $REPS runs."
    echo
    echo "$TABLE_WALL"
    echo
    echo "$TABLE_CPU"
    echo
    echo '```'
    cat "$SUMMARY" "$DETAIL"
    [ -n "$IDLE_LINE" ] && echo "$IDLE_LINE"
    echo '```'
  } >"$MARKDOWN"
  echo "bench.sh: wrote $MARKDOWN" >&2
fi

# --check: the fibers benchmark once, small (it pairs its runs itself),
# and timers churn against its floor.
if [ "$CHECK" = 1 ] && [ "$WINDOWS" = 0 ]; then
  if ! out=$("$PERF/churn_floor" -n 20000 -c 5000 2>&1); then
    fail "churn_floor failed: $out"
  elif ! printf '%s\n' "$out" | grep -q '^floor ratio='; then
    fail "churn_floor: no ratio line in: $out"
  else
    printf '%s\n' "$out" | grep '^floor ' | sed 's/^/  /'
  fi
  if ! out=$("$PERF/bench_fiber" -n 2000 -k 1 all 2>&1); then
    fail "bench_fiber failed: $out"
  elif [ "$(printf '%s\n' "$out" | grep -c '^pairs bench=')" -lt 2 ] ||
       ! printf '%s\n' "$out" | grep -q '^memory bench=fiber_memory'; then
    fail "bench_fiber: the switch and echo pairs or the memory line missing in: $out"
  else
    printf '%s\n' "$out" | grep -E '^(pairs|memory) ' | cut -c1-160
  fi
fi

if [ "$FAILED" -gt 0 ]; then
  echo "bench.sh --check: $FAILED failure(s) (above)" >&2
  exit 1
fi
