#!/usr/bin/env bash
# build-libxml2.sh -- build a minimal static libxml2 for the native vigil,
# from the Debian 12 source package, into build-deps/libxml2.  Called by
# scripts/bootstrap.sh; once per machine, idempotent and quiet.
#
#   scripts/build-libxml2.sh [PREFIX]      (default: build-deps/libxml2)
#
# Why: Debian's libxml2.so links ICU, which pulls in libstdc++; vigil needs
# none of it (UTF-8 configs, iconv from glibc), yet their relocated pages
# cost about 2.7 MiB of the supervisor's memory when no other process
# shares them, where the issue's target is 4 MiB in all at 100 services.
# Linked statically, only the parser and schema code vigil calls is
# mapped (docs/PERFORMANCE.md, "Supervisor").
#
# Result: PREFIX/include/libxml2/libxml/*.h and PREFIX/lib/libxml2.a
# (libxml2's own CMake: static, position-independent, with threads,
# iconv and schemas; without ICU, lzma, zlib, HTTP, FTP, modules, HTML,
# catalogs, C14N, XPath, XPointer, XInclude, the reader and writer APIs,
# Python, programs and tests; optimised for size (-Os: it runs only while
# a configuration loads, 10,000 services in some 130 ms either way) and
# with a section per function and per object, so that vigil's link
# (--gc-sections) leaves out the code it never calls; and
# cmake/libxml2-nolibm.patch applied, so that it needs nothing from libm),
# and PREFIX/.stamp (a hash of this
# script; when it matches and the library exists, the script exits at
# once).  A line before the build and its duration after.  CMake uses it
# when present: cmake/Dependencies.cmake,
# VIGIL_BUNDLED_LIBXML2 (AUTO, ON, OFF).  Work files: PREFIX-build
# (download/ is kept, so a rebuild does not download again; build.log).
# Cost from nothing: about 30 s on 2 cores, plus the download.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/build-libxml2.sh"
PREFIX=${1:-$ROOT/build-deps/libxml2}
case "$PREFIX" in /*) ;; *) PREFIX="$PWD/$PREFIX" ;; esac
PREFIX=${PREFIX%/}
BUILD="$PREFIX-build"
STAMP="$PREFIX/.stamp"

# shellcheck source=scripts/lib/debsrc.sh
. "$ROOT/scripts/lib/debsrc.sh"
# shellcheck source=scripts/lib/timed.sh
. "$ROOT/scripts/lib/timed.sh"
PATCH="$ROOT/cmake/libxml2-nolibm.patch"
# "nolibm": the library needs nothing from libm (the patch), which
# cmake/Dependencies.cmake reads to leave libm out of vigil's link.
stamp_value() {
  echo "build-libxml2 nolibm $(cat "$SELF" "$ROOT/scripts/lib/debsrc.sh" "$PATCH" | sha256sum | cut -c1-64)"
}
up_to_date() {
  [ -f "$PREFIX/lib/libxml2.a" ] && [ -f "$STAMP" ] &&
    [ "$(cat "$STAMP")" = "$(stamp_value)" ]
}

up_to_date && exit 0
NAME=build-libxml2
debsrc_begin
up_to_date && exit 0
T0=$SECONDS
echo "$NAME: building a minimal static libxml2 from Debian's source package" \
     "into $PREFIX (once, about 1 min; log: $LOG) ..."
mkdir -p "$BUILD/download"
DL="$BUILD/download"

# --- the source package ---------------------------------------------------
# shellcheck disable=SC2012
dsc() { ls -v "$DL"/libxml2_*.dsc 2>/dev/null | tail -n 1; }
if [ -z "$(dsc)" ]; then
  if debsrc_ensure_entry; then
    run "apt-get update" $SUDO apt-get update -qq
  fi
  timed "$NAME: downloading the libxml2 source package" "" \
    run "apt-get source" env -C "$DL" apt-get source --download-only libxml2
fi

# --- build ------------------------------------------------------------------
SRC="$BUILD/src"
X="$BUILD/build"
rm -rf "$SRC" "$X" "$STAMP" "$PREFIX/lib/libxml2.a" "$PREFIX/include/libxml2"
run "unpack" dpkg-source -x "$(dsc)" "$SRC"
run "patch (no libm)" patch -p1 -N -d "$SRC" -i "$PATCH"
run "configure" cmake -S "$SRC" -B "$X" -G "Unix Makefiles" \
  -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED_LIBS=OFF \
  -DLIBXML2_WITH_ICU=OFF -DLIBXML2_WITH_LZMA=OFF -DLIBXML2_WITH_ZLIB=OFF \
  -DLIBXML2_WITH_PYTHON=OFF -DLIBXML2_WITH_TESTS=OFF \
  -DLIBXML2_WITH_PROGRAMS=OFF -DLIBXML2_WITH_HTTP=OFF -DLIBXML2_WITH_FTP=OFF \
  -DLIBXML2_WITH_MODULES=OFF -DLIBXML2_WITH_HTML=OFF -DLIBXML2_WITH_DOCB=OFF \
  -DLIBXML2_WITH_C14N=OFF -DLIBXML2_WITH_CATALOG=OFF -DLIBXML2_WITH_DEBUG=OFF \
  -DLIBXML2_WITH_LEGACY=OFF -DLIBXML2_WITH_SCHEMATRON=OFF \
  -DLIBXML2_WITH_READER=OFF -DLIBXML2_WITH_WRITER=OFF \
  -DLIBXML2_WITH_XPATH=OFF -DLIBXML2_WITH_XPTR=OFF -DLIBXML2_WITH_XINCLUDE=OFF \
  -DCMAKE_C_FLAGS="-ffunction-sections -fdata-sections"
run "build" cmake --build "$X" -j "$(nproc 2>/dev/null || echo 2)"
run "install" cmake --install "$X" --component development
[ -f "$PREFIX/lib/libxml2.a" ] || { STEP="lib/libxml2.a not installed"; false; }
stamp_value >"$STAMP"
echo "$NAME: libxml2 $(basename "$(dsc)" .dsc | cut -d_ -f2) -> $PREFIX/lib/libxml2.a:" \
     "done in $((SECONDS - T0)) s"
