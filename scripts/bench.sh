#!/usr/bin/env bash
# scripts/bench.sh -- build and run the perf/ benchmarks: libvigil against
# libuv, libev, libevent and a plain epoll loop, in the same run.
#
# Usage: scripts/bench.sh [options]
#   --reps N          repetitions of every measurement (default 3); the
#                     figure reported is the median by ops_per_s
#   --quick           small workloads (a smoke test, not a measurement)
#   --only LIST       benchmarks to run, comma-separated
#                     (timers,pingpong,async,spawn; default all)
#   --impls LIST      implementations (default vigil,libuv,libev,libevent,epoll)
#   --no-1cpu         skip the async run with both threads on one CPU
#                     (reported as impl=NAME-1cpu)
#   --no-extras       skip the allocation and idle-syscall checks
#   --markdown FILE   also write the results as a markdown table to FILE
#   --build-dir DIR   build tree (default build-perf)
#   --no-build        use the programs already built in the build tree
#   --no-install      never install the peer libraries
#
# Output (stdout): the median measurement of every (benchmark, impl) as
#   bench=NAME impl=IMPL ops=N seconds=T ops_per_s=X
# then the allocation lines ("alloc bench=... per_op=R") and the idle
# system-call check ("idle ..."), and a table of ratios.  Every individual
# run is echoed to stderr and kept in BUILD_DIR/bench-raw.txt.
#
# Method: within one repetition each benchmark runs every implementation
# in turn, the order rotating from one repetition to the next, so slow
# drifts of a noisy machine are spread over all of them.  See
# docs/PERFORMANCE.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-perf"
REPS=3
QUICK=0
ONLY="timers,pingpong,async,spawn"
IMPLS="vigil,libuv,libev,libevent,epoll"
ONECPU=1
EXTRAS=1
MARKDOWN=""
DO_BUILD=1
DO_INSTALL=1

die() { echo "bench.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --only) ONLY=${2:?}; shift 2 ;;
    --impls) IMPLS=${2:?}; shift 2 ;;
    --no-1cpu) ONECPU=0; shift ;;
    --no-extras) EXTRAS=0; shift ;;
    --markdown) MARKDOWN=${2:?}; shift 2 ;;
    --build-dir) BUILD=${2:?}; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-install) DO_INSTALL=0; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
case "$REPS" in ''|*[!0-9]*|0) die "--reps wants a positive number" ;; esac
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
PERF="$BUILD/perf"

# --- the peers -------------------------------------------------------
have_peers() {
  pkg-config --exists libuv libevent libevent_pthreads 2>/dev/null &&
    [ -e /usr/include/ev.h -o -e /usr/local/include/ev.h ]
}
if [ "$DO_INSTALL" = 1 ] && ! have_peers; then
  if [ -x "$ROOT/scripts/bootstrap.sh" ] &&
     grep -q -- '--perf' "$ROOT/scripts/bootstrap.sh"; then
    "$ROOT/scripts/bootstrap.sh" --perf
  elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bench.sh: installing the comparison peers" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      libuv1-dev libev-dev libevent-dev >&2
  else
    echo "bench.sh: libuv/libev/libevent missing and cannot install;" \
         "the missing peers are skipped" >&2
  fi
fi

# --- build -----------------------------------------------------------
if [ "$DO_BUILD" = 1 ]; then
  cmake -S "$ROOT" -B "$BUILD" -DVIGIL_BUILD_PERF=ON -DVIGIL_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release >"$BUILD.configure.log" 2>&1 ||
    { cat "$BUILD.configure.log" >&2; die "cmake configure failed"; }
  jobs=$(nproc 2>/dev/null || echo 2)
  # One target at a time, so that a peer missing or libvigil not linking
  # does not stop the others.
  for t in bench_libuv bench_libev bench_libevent bench_epoll bench_vigil \
           idle_syscalls; do
    if ! cmake --build "$BUILD" --target "$t" -j "$jobs" \
         >"$BUILD/build-$t.log" 2>&1; then
      echo "bench.sh: $t not built (see $BUILD/build-$t.log)" >&2
    fi
  done
fi

IFS=, read -r -a BENCHES <<<"$ONLY"
IFS=, read -r -a IMPL_LIST <<<"$IMPLS"
for b in "${BENCHES[@]}"; do
  case "$b" in timers|pingpong|async|spawn) ;; *) die "unknown benchmark $b" ;; esac
done

# Which implementations provide which benchmark.
provides() {   # impl bench
  [ -x "$PERF/bench_$1" ] || return 1
  [ "$1" = epoll ] && [ "$2" = timers ] && return 1
  return 0
}

size_args() {  # bench -> -n N in quick mode
  [ "$QUICK" = 1 ] || return 0
  case "$1" in
    timers) echo "-n 100000" ;;
    pingpong) echo "-n 10000" ;;
    async) echo "-n 2000" ;;
    spawn) echo "-n 100" ;;
  esac
}

RAW="$BUILD/bench-raw.txt"
: >"$RAW"

# run_one IMPL BENCH [EXTRA ARGS...]: one run, appended to $RAW.
run_one() {
  local impl=$1 bench=$2 out; shift 2
  # shellcheck disable=SC2046
  if ! out=$("$PERF/bench_$impl" -a "$@" $(size_args "$bench") "$bench" 2>&1)
  then
    echo "bench.sh: bench_$impl $bench failed: $out" >&2
    return 0
  fi
  printf '%s\n' "$out" | grep -E '^(bench=|alloc )' >>"$RAW" || true
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

n_impl=${#IMPL_LIST[@]}
for bench in "${BENCHES[@]}"; do
  # async: threads on two CPUs (-c split, the default), then on one.
  run_all "$bench"
  if [ "$bench" = async ] && [ "$ONECPU" = 1 ]; then
    run_all async -c same
  fi
done

# --- summary: the median run of each (bench, impl) --------------------
SUMMARY="$BUILD/bench-summary.txt"
awk '
  /^bench=/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = f["bench"] " " f["impl"]
    if (!(key in cnt)) order[++nk] = key
    c = ++cnt[key]; val[key, c] = f["ops_per_s"] + 0; line[key, c] = $0
  }
  END {
    for (j = 1; j <= nk; j++) {
      key = order[j]; n = cnt[key]
      for (a = 1; a <= n; a++) idx[a] = a
      for (a = 1; a <= n; a++)            # insertion sort by ops_per_s
        for (b = a; b > 1 && val[key, idx[b - 1]] > val[key, idx[b]]; b--) {
          t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t
        }
      print line[key, idx[int((n + 1) / 2)]]
    }
  }' "$RAW" >"$SUMMARY"

echo "# median of $REPS run(s); $(nproc) CPUs; $(uname -sr)"
cat "$SUMMARY"
# Allocation counts: the last run of each (bench, impl).
awk '/^alloc / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                 k = f["bench"] " " f["impl"]; if (!(k in l)) o[++n] = k; l[k] = $0 }
     END { for (j = 1; j <= n; j++) print l[o[j]] }' "$RAW"

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
          for (s in n) if (s ~ /^epoll_(p?wait|pwait2)$/) waits += n[s]
          other = total - waits; list = ""
          for (s in n) list = list " " s "=" n[s]
          li = prog; sub(/.*iterations=/, "", li); sub(/ .*/, "", li)
          printf "idle impl=vigil ticks=%d loop_iterations=%s syscalls=%d " \
                 "waits=%d other=%d per_tick=%.2f calls:%s\n", want, li,
                 total, waits, other, want ? total / want : 0, list
        }' "$trace")
    else
      IDLE_LINE="idle impl=vigil failed: $out"
    fi
  else
    IDLE_LINE="idle impl=vigil skipped: strace not installed"
  fi
  echo "$IDLE_LINE"
fi

# --- table -------------------------------------------------------------
TABLE=$(awk -v impls="$IMPLS" -v ncpu="$(nproc)" '
  BEGIN { ni = split(impls, im, ",") }
  /^bench=/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    b = f["bench"]; im_ = f["impl"]
    if (im_ ~ /-1cpu$/) { sub(/-1cpu$/, "", im_); b = b " (1 CPU)" }
    if (!(b in seen)) { seen[b] = 1; bo[++nb] = b }
    v[b, im_] = f["ops_per_s"] + 0
  }
  function fmt(x) {
    if (x == "") return "–"
    if (x >= 100000) return sprintf("%.0f k", x / 1000)
    if (x >= 10000) return sprintf("%.1f k", x / 1000)
    return sprintf("%.0f", x)
  }
  END {
    hdr = "| benchmark (ops/s) |"; sep = "| --- |"
    for (i = 1; i <= ni; i++) { hdr = hdr " " im[i] " |"; sep = sep " ---: |" }
    print hdr " vigil / best peer | vigil / epoll |"
    print sep " ---: | ---: |"
    for (j = 1; j <= nb; j++) {
      b = bo[j]; row = "| " b " |"; best = 0; bestn = ""
      for (i = 1; i <= ni; i++) {
        x = ((b, im[i]) in v) ? v[b, im[i]] : ""
        row = row " " fmt(x) " |"
        if (x != "" && im[i] != "vigil" && im[i] != "epoll" && x > best) {
          best = x; bestn = im[i]
        }
      }
      vg = ((b, "vigil") in v) ? v[b, "vigil"] : ""
      ep = ((b, "epoll") in v) ? v[b, "epoll"] : ""
      r1 = (vg != "" && best > 0) ? sprintf("%.2fx (%s)", vg / best, bestn) : "–"
      r2 = (vg != "" && ep != "") ? sprintf("%.1f%%", 100 * vg / ep) : "–"
      print row " " r1 " | " r2 " |"
    }
  }' "$SUMMARY")
echo
echo "$TABLE"

if [ -n "$MARKDOWN" ]; then
  {
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs," \
         "$(uname -sr), median of $REPS run(s)."
    echo
    echo "$TABLE"
    echo
    echo '```'
    cat "$SUMMARY"
    awk '/^alloc / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                     k = f["bench"] " " f["impl"]; if (!(k in l)) o[++n] = k; l[k] = $0 }
         END { for (j = 1; j <= n; j++) print l[o[j]] }' "$RAW"
    [ -n "$IDLE_LINE" ] && echo "$IDLE_LINE"
    echo '```'
  } >"$MARKDOWN"
  echo "bench.sh: wrote $MARKDOWN" >&2
fi
