#!/usr/bin/env bash
# fuzz.sh -- build the libFuzzer harnesses of tests/fuzz with clang (ASan +
# UBSan) and run each for a bounded time from its seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]   default: 60 s each, all of
#                                            fuzz_json fuzz_config
#
# Installs clang and libclang-rt-14-dev (the libFuzzer runtime) when
# missing.  Build tree: build-fuzz/.  Each harness NAME (fuzz_NAME) starts
# from tests/fuzz/corpus-NAME (read only) and keeps what it finds in
# build-fuzz/corpus-NAME (kept between runs); tests/fuzz/NAME.dict is its
# dictionary when present.  A crash, leak, timeout (10 s for one input)
# or out-of-memory (2 GiB) leaves the input in build-fuzz/artifacts/ and
# fails the run.  Output: a line before each harness and, after it, its
# executions, coverage and outcome; on failure the tail of its log
# (build-fuzz/fuzz_NAME.log).  Exit 1 if any harness failed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh

secs=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_json fuzz_config)
case "$secs" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [HARNESS...]" >&2; exit 2 ;; esac

scripts/bootstrap.sh
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  timed "fuzz: installing ${missing[*]}" "apt-get" sh -c \
    "$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null"
fi

out=build-fuzz
cmake -S . -B "$out" -DCMAKE_C_COMPILER=clang -DVIGIL_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
timed "fuzz: building ${harnesses[*]} in $out/" "" \
  quiet cmake --build "$out" -j"$(nproc 2>/dev/null || echo 2)" \
  --target "${harnesses[@]}"

mkdir -p "$out/artifacts"
failed=()
for h in "${harnesses[@]}"; do
  name=${h#fuzz_}
  seed=tests/fuzz/corpus-$name
  work=$out/corpus-$name
  log=$out/$h.log
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  mkdir -p "$work"
  echo "fuzz: $h for $secs s (seeds: $seed; log: $log) ..."
  rc=0
  "$out/tests/fuzz/$h" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$h-" "${dict[@]}" \
    "$work" "$seed" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $h: ${runs:-?} executions, ${cov:-no coverage line}, no crash"
  else
    echo "fuzz: $h: FAILED (exit $rc) after ${runs:-?} executions; input:" \
         "$(grep -o "Test unit written to .*" "$log" | tail -n 1 | cut -d' ' -f5-)" >&2
    tail -n 40 "$log" >&2
    failed+=("$h")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
