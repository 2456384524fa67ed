#!/usr/bin/env bash
# run-example.sh -- set up, build and run the bundled example in the
# foreground: vigil-echo, a TCP echo server on libvigil
# (127.0.0.1:7007; try `nc 127.0.0.1 7007`), stopped gracefully by Ctrl+C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target vigil-echo >/dev/null
exec build/vigil-echo "$@"
