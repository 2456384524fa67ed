#!/usr/bin/env bash
# run-example.sh -- set up, build and run the supervisor in the foreground
# on the bundled example config (examples/vigil.xml): an echo server with a
# health check, a chatty service with rotated logs, a crashing service that
# is restarted with backoff, and a dependent worker.  Ctrl+C stops every
# service (in reverse dependency order) and vigil exits 0.
#
# Works from any clone location; set-up is quiet when done already, and a
# long step (installing packages, building libxml2 or vigil) prints a line
# before it and its duration after.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh
scripts/bootstrap.sh
cmake -S . -B build >/dev/null
timed "run-example: building vigil and vigil-echo in build/" "about 1 min from nothing" \
  quiet cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target vigil-bin vigil-echo
export VIGIL_ECHO="$PWD/build/vigil-echo"
echo "vigil: supervising examples/vigil.xml (state in examples/.vigil); try, in another terminal:"
echo "  build/services/vigil status -c examples/vigil.xml"
exec build/services/vigil run -c examples/vigil.xml "$@"
