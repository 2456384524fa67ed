#!/usr/bin/env bash
# build-win-deps.sh -- build static mingw-w64 (x86_64-w64-mingw32) libraries
# of APR, libxml2 and CUnit for the Windows cross build, from the Debian 12
# source packages.  Once per machine; idempotent and quiet.
#
#   scripts/build-win-deps.sh [PREFIX]
#
# PREFIX: the argument, else $VIGIL_WIN_DEPS, else build-win/deps in the
# repository.  Build trees, downloaded sources and the log live next to it
# in PREFIX-build (build-win/deps-build by default; log: PREFIX-build/build.log).
# Then configure Vigil with -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
# (and -DVIGIL_WIN_DEPS=PREFIX if not the default); cmake/WinDeps.cmake turns
# the prefix into PkgConfig::APR / PkgConfig::LIBXML2 / PkgConfig::CUNIT.
#
# Result:
#   PREFIX/include/apr-1/*.h      APR public headers + generated (win32) apr.h
#                                 (own subdirectory, like Debian's apr-1.0)
#   PREFIX/lib/libapr-1.a         APR 1.7.2, CMake target apr-1 (static)
#   PREFIX/include/libxml2/libxml/*.h, PREFIX/lib/libxml2.a
#                                 libxml2 2.9.14 (its CMake, static; the name
#                                 is libxml2.a as built by mingw, not libxml2s)
#                                 + lib/pkgconfig, lib/cmake, bin/xml2-config
#   PREFIX/include/CUnit/*.h, PREFIX/lib/libcunit.a
#                                 CUnit 2.1-3: Framework, Basic, Automated
#   PREFIX/.build-win-deps.stamp  hash of this script, the APR patch and the
#                                 toolchain file; if it matches and the three
#                                 libraries exist, the script exits at once.
# Consumers: -DAPR_DECLARE_STATIC -DLIBXML_STATIC, link -static with
#   -lws2_32 -ladvapi32 -lshell32 -lrpcrt4 -lmswsock -liphlpapi -lpthread.
#
# Cost from nothing: ~2 min on 2 cores with the tools installed (APR ~90 s:
# every file includes the full windows.h, see 2. below; libxml2 ~30 s), plus
# apt-get install of mingw-w64 and wine (~1 min) on a fresh machine.
#
# What it does:
#  * installs, if missing: mingw-w64 wine wine64 libz-mingw-w64-dev cmake make
#    gcc dpkg-dev patch xz-utils bzip2 (apt-get; sudo when not root);
#  * if no deb-src entry is configured, adds
#    /etc/apt/sources.list.d/vigil-deb-src.sources (debian.sources with
#    "Types: deb-src"), apt-get update, and
#    `apt-get source --download-only apr libxml2 cunit` into PREFIX-build/download
#    (kept: later rebuilds do not download again);
#  * unpacks them with dpkg-source -x (Debian's patches, security fixes
#    included, are applied).
#  * APR does not cross-build as shipped.  Three changes, nothing else:
#     1. its build runs the cross-built gen_test_char.exe to write
#        apr_escape_test_char.h.  We build that target, then compile
#        tools/gen_test_char.c natively with gcc and write the header into the
#        build directory ourselves; being newer than the .exe, make keeps it.
#     2. CMAKE_C_FLAGS "-D_WIN32_WINNT=0x0601 -include winsock2.h -include
#        ws2tcpip.h -include mswsock.h -include windows.h -include iphlpapi.h":
#        the generated apr.h includes a lean windows.h, and apr_private.h then
#        trips over OLE, NET_IFINDEX and TransmitFile types.
#     3. cmake/apr-mingw.patch: apr_atomic_init() must not call
#        apr__atomic_generic64_init() (see the patch's header).
#    Only the static target apr-1 is built (not libapr-1.dll, aprapp, tests);
#    headers and library are copied by hand since `make install` would build
#    every target.
#  * libxml2: its CMake as is, -DBUILD_SHARED_LIBS=OFF and ICONV, LZMA, ZLIB,
#    PYTHON, TESTS, PROGRAMS, HTTP, FTP off; `cmake --install --component
#    development`.  It picks up mingw's winpthreads (hence -lpthread).
#  * CUnit (autotools upstream): compile CUnit/Sources/Framework/*.c,
#    Basic/Basic.c, Automated/Automated.c with x86_64-w64-mingw32-gcc and
#    generate CUnit/Headers/CUnit.h from CUnit.h.in (the shipped CUnit.h is
#    stale) with the version from configure.in.  Console/Curses/wx
#    interfaces are not built and their headers not installed.
#
# Output: nothing when up to date; otherwise a line saying what is built,
# a line before each long step (apt-get, the APR and libxml2 builds) and
# its duration after (scripts/lib/timed.sh), one line per library built,
# and the total time.  On failure:
# the step and the tail of the log.
set -Eeuo pipefail

STAMP_VERSION=1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/build-win-deps.sh"
TOOLCHAIN="$ROOT/cmake/toolchain-mingw64.cmake"
APR_PATCH="$ROOT/cmake/apr-mingw.patch"

PREFIX=${1:-${VIGIL_WIN_DEPS:-$ROOT/build-win/deps}}
case "$PREFIX" in /*) ;; *) PREFIX="$PWD/$PREFIX" ;; esac
PREFIX=${PREFIX%/}
BUILD="$PREFIX-build"
STAMP="$PREFIX/.build-win-deps.stamp"
LIBS=(libapr-1.a libxml2.a libcunit.a)

# shellcheck source=scripts/lib/debsrc.sh
. "$ROOT/scripts/lib/debsrc.sh"
# shellcheck source=scripts/lib/timed.sh
. "$ROOT/scripts/lib/timed.sh"
stamp_value() {
  echo "build-win-deps v$STAMP_VERSION $(cat "$SELF" "$APR_PATCH" "$TOOLCHAIN" "$ROOT/scripts/lib/debsrc.sh" | sha256sum | cut -c1-64)"
}

up_to_date() {
  local l
  for l in "${LIBS[@]}"; do [ -f "$PREFIX/lib/$l" ] || return 1; done
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_value)" ]
}

up_to_date && exit 0

NAME=build-win-deps
debsrc_begin
up_to_date && exit 0

T0=$SECONDS
echo "$NAME: mingw-w64, Wine, and APR, libxml2 and CUnit cross-built from" \
     "Debian's source packages into $PREFIX (once, about 2 min, plus" \
     "installing Wine; log: $LOG) ..."
JOBS=$(nproc 2>/dev/null || echo 2)
DL="$BUILD/download"
SRC="$BUILD/src"
mkdir -p "$DL"

# --- tools and source packages ------------------------------------------
pkgs=(mingw-w64 wine wine64 libz-mingw-w64-dev cmake make gcc dpkg-dev patch
      xz-utils bzip2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

# newest GLOB: the highest version of a downloaded file (GLOB unquoted on purpose)
# shellcheck disable=SC2012,SC2086
newest() { ls -v "$DL"/$1 2>/dev/null | tail -n 1; }
have_sources() { [ -n "$(newest 'apr_*.dsc')" ] && [ -n "$(newest 'libxml2_*.dsc')" ] \
                   && [ -n "$(newest 'cunit_*.dsc')" ]; }

if [ ${#missing[@]} -gt 0 ] || ! have_sources; then
  have_sources || debsrc_ensure_entry || true
  timed "$NAME: apt-get update" "log: $LOG" \
    run "apt-get update" $SUDO apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    timed "$NAME: installing ${missing[*]}" "about 2 min with Wine" \
      run "apt-get install ${missing[*]}" $SUDO env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "${missing[@]}"
  fi
  if ! have_sources; then
    timed "$NAME: downloading the apr, libxml2 and cunit source packages" "" \
      run "apt-get source" env -C "$DL" apt-get source --download-only apr libxml2 cunit
  fi
fi

APR_DSC=$(newest 'apr_*.dsc')
XML_DSC=$(newest 'libxml2_*.dsc')
CUNIT_DSC=$(newest 'cunit_*.dsc')
debver() { basename "$1" .dsc | cut -d_ -f2; }

# Fresh build trees and sources every time (a rebuild means something changed).
rm -rf "$SRC" "$BUILD/apr" "$BUILD/libxml2" "$BUILD/cunit"
mkdir -p "$SRC"
run "unpack apr"     dpkg-source -x "$APR_DSC"   "$SRC/apr"
run "unpack libxml2" dpkg-source -x "$XML_DSC"   "$SRC/libxml2"
run "unpack cunit"   dpkg-source -x "$CUNIT_DSC" "$SRC/cunit"

# Remove what a previous run installed (never the prefix itself: it may be
# shared), and the stamp, which is written last.
rm -f "$STAMP" "$PREFIX"/lib/{libapr-1.a,libxml2.a,libcunit.a}
rm -rf "$PREFIX/include/apr-1" "$PREFIX/include/libxml2" "$PREFIX/include/CUnit"
mkdir -p "$PREFIX/include" "$PREFIX/lib"

CMAKE_COMMON=(-G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN"
              -DVIGIL_WIN_DEPS="$PREFIX" -DCMAKE_BUILD_TYPE=Release)

# --- APR ----------------------------------------------------------------
A="$BUILD/apr"
run "apr: patch" patch -p1 -N -d "$SRC/apr" -i "$APR_PATCH"
run "apr: configure" cmake -S "$SRC/apr" -B "$A" "${CMAKE_COMMON[@]}" \
  -DCMAKE_C_FLAGS="-D_WIN32_WINNT=0x0601 -include winsock2.h -include ws2tcpip.h -include mswsock.h -include windows.h -include iphlpapi.h" \
  -DAPR_BUILD_TESTAPR=OFF -DINSTALL_PDB=OFF
run "apr: build gen_test_char.exe" cmake --build "$A" --target gen_test_char
run "apr: native gen_test_char" gcc -O2 -o "$A/gen_test_char.native" "$SRC/apr/tools/gen_test_char.c"
STEP="apr: generate apr_escape_test_char.h"
"$A/gen_test_char.native" >"$A/apr_escape_test_char.h" 2>>"$LOG"
timed "$NAME: cross-building APR" "about 90 s" \
  run "apr: build apr-1" cmake --build "$A" --target apr-1 -j "$JOBS"
mkdir -p "$PREFIX/include/apr-1"
cp "$SRC/apr/include"/apr_*.h "$A/apr.h" "$PREFIX/include/apr-1/"
cp "$A/libapr-1.a" "$PREFIX/lib/"
echo "build-win-deps: APR $(debver "$APR_DSC") -> $PREFIX/lib/libapr-1.a"

# --- libxml2 ------------------------------------------------------------
X="$BUILD/libxml2"
run "libxml2: configure" cmake -S "$SRC/libxml2" -B "$X" "${CMAKE_COMMON[@]}" \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=OFF \
  -DLIBXML2_WITH_ICONV=OFF -DLIBXML2_WITH_LZMA=OFF -DLIBXML2_WITH_ZLIB=OFF \
  -DLIBXML2_WITH_PYTHON=OFF -DLIBXML2_WITH_TESTS=OFF -DLIBXML2_WITH_PROGRAMS=OFF \
  -DLIBXML2_WITH_HTTP=OFF -DLIBXML2_WITH_FTP=OFF
timed "$NAME: cross-building libxml2" "about 30 s" \
  run "libxml2: build" cmake --build "$X" -j "$JOBS"
run "libxml2: install" cmake --install "$X" --component development
[ -f "$PREFIX/lib/libxml2.a" ] || { STEP="libxml2: lib/libxml2.a not installed"; false; }
echo "build-win-deps: libxml2 $(debver "$XML_DSC") -> $PREFIX/lib/libxml2.a"

# --- CUnit --------------------------------------------------------------
C="$BUILD/cunit"
CU="$SRC/cunit/CUnit"
mkdir -p "$C"
STEP="cunit: generate CUnit.h"
cu_major=$(sed -n 's/^VERSION_MAJOR=//p' "$SRC/cunit/configure.in")
cu_minor=$(sed -n 's/^VERSION_MINOR=//p' "$SRC/cunit/configure.in")
cu_release=$(sed -n 's/^RELEASE=//p' "$SRC/cunit/configure.in")
[[ -n $cu_major && -n $cu_minor && -n $cu_release ]]
sed -e "s/@VERSION@/$cu_major.$cu_minor/" -e "s/@RELEASE@/$cu_release/" \
  "$CU/Headers/CUnit.h.in" >"$CU/Headers/CUnit.h"
cu_objs=()
for f in "$CU"/Sources/Framework/*.c "$CU/Sources/Basic/Basic.c" \
         "$CU/Sources/Automated/Automated.c"; do
  o="$C/$(basename "$f" .c).o"
  run "cunit: compile $(basename "$f")" x86_64-w64-mingw32-gcc -O2 \
    -I"$CU/Headers" -c "$f" -o "$o"
  cu_objs+=("$o")
done
run "cunit: archive" x86_64-w64-mingw32-ar rcs "$C/libcunit.a" "${cu_objs[@]}"
mkdir -p "$PREFIX/include/CUnit"
for h in CUnit.h CUError.h CUnit_intl.h MyMem.h TestDB.h TestRun.h Util.h \
         Basic.h Automated.h; do
  cp "$CU/Headers/$h" "$PREFIX/include/CUnit/"
done
cp "$C/libcunit.a" "$PREFIX/lib/"
echo "build-win-deps: CUnit $(debver "$CUNIT_DSC") -> $PREFIX/lib/libcunit.a"

echo "=== [$(date +%T)] done" >>"$LOG"
stamp_value >"$STAMP"
echo "$NAME: done in $((SECONDS - T0)) s"
