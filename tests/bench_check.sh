#!/usr/bin/env bash
# bench_check.sh -- scripts/bench.sh --check (CI's check of perf/, run by
# .ci/run) must fail when a benchmark program is missing, fails, prints
# no result line, or when churn_floor or bench_fiber do not give theirs;
# and pass when every program answers.  Stub programs stand in for the
# benchmarks (--no-build), so that each can be broken on purpose; the
# real programs are what CI's own run of the check builds and runs.
#
# Usage: tests/bench_check.sh   (exit 0: every case as expected)
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-check.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
perf="$dir/perf"
fails=0

# A benchmark stub: prints the contract line and the detail line for the
# benchmark it is asked for (the last argument), as bench_IMPL -a does
# (impl=NAME-churn for -t churn, and so on).
stub_bench() {
  cat >"$perf/$1" <<'EOF'
#!/bin/sh
for a; do b=$a; done
n=1000 v=
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2 ;;
    -t) v=-$2 ;;
    -c) [ "$2" = same ] && v=-1cpu ;;
  esac
  shift
done
i=${0##*/bench_}$v
echo "bench=$b impl=$i ops=$n seconds=0.001000 ops_per_s=1000000.0"
echo "detail bench=$b impl=$i ops=$n cpu_s=0.001000 cpu_us_per_op=1.000 mallocs=0 pallocs=0 allocs_per_op=0.0000"
EOF
  chmod +x "$perf/$1"
}

setup() {
  rm -rf "$perf"
  mkdir -p "$perf"
  for i in vigil libuv libev libevent epoll uring; do stub_bench "bench_$i"; done
  printf '#!/bin/sh\necho idle\n' >"$perf/idle_syscalls"
  cat >"$perf/churn_floor" <<'EOF'
#!/bin/sh
echo "floor ratio=1.1000 vigil_ns=11.00 floor_ns=10.00 chunks=4 warm=0"
EOF
  cat >"$perf/bench_fiber" <<'EOF'
#!/bin/sh
echo "pairs bench=fiber_switch vigil=vigil baseline=ucontext k=1 ratio_median=20.0"
echo "pairs bench=fiber_echo vigil=vigil-fiber baseline=vigil k=1 ratio_median=1.0"
echo "memory bench=fiber_memory impl=vigil fibers=10"
EOF
  chmod +x "$perf/idle_syscalls" "$perf/churn_floor" "$perf/bench_fiber"
}

# expect CASE RC PATTERN: run the check; its exit status must be RC and,
# if PATTERN is not empty, its output must contain it.
expect() {
  local name=$1 want=$2 pat=$3 out rc=0
  out=$("$root/scripts/bench.sh" --check --no-build --no-install \
        --no-extras --build-dir "$dir" 2>&1) || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: $name: exit $rc, expected $want"
    printf '%s\n' "$out" | tail -15
    fails=$((fails + 1))
  elif [ -n "$pat" ] && ! printf '%s\n' "$out" | grep -qF -- "$pat"; then
    echo "FAIL: $name: no \"$pat\" in the output"
    printf '%s\n' "$out" | tail -15
    fails=$((fails + 1))
  else
    echo "ok: $name"
  fi
}

setup
expect "every program answers" 0 "timers (churn)"

setup
rm "$perf/bench_libev"
expect "a peer's program missing" 1 "bench_libev is missing"

setup
printf '#!/bin/sh\necho broken >&2\nexit 3\n' >"$perf/bench_libuv"
expect "a run that fails" 1 "failed: broken"

setup
printf '#!/bin/sh\necho "bench=timers impl=libevent ops=1 seconds=0"\n' \
  >"$perf/bench_libevent"
expect "a run without its result line" 1 "no result line"

setup
printf '#!/bin/sh\necho "bench=x impl=vigil ops=1 seconds=1 ops_per_s=1"\nexit 0\n' \
  >"$perf/churn_floor"
expect "churn_floor without its ratio" 1 "churn_floor: no ratio line"

setup
printf '#!/bin/sh\necho "pairs bench=fiber_switch k=1"\necho "memory bench=fiber_memory"\n' \
  >"$perf/bench_fiber"
expect "bench_fiber with one pair" 1 "bench_fiber: the switch and echo pairs"

setup
rm "$perf/idle_syscalls"
expect "the idle check's program missing" 1 "idle_syscalls is missing"

[ "$fails" = 0 ] && echo "bench_check: all cases as expected" && exit 0
echo "bench_check: $fails case(s) not as expected"
exit 1
