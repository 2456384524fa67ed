#!/usr/bin/env bash
# bootstrap.sh -- install, on Debian, what building and testing Vigil needs.
# Idempotent: says nothing when everything is already installed; else a
# line before each long step and its duration after.  Then builds the
# minimal static libxml2 that vigil links when it is there
# (scripts/build-libxml2.sh, into build-deps/libxml2: once, ~1 min).
#
#   scripts/bootstrap.sh            build + test dependencies
#   scripts/bootstrap.sh --perf     also the benchmark peers (libuv, libev,
#                                   libevent) and strace
#   scripts/bootstrap.sh --check    also valgrind
set -euo pipefail
# shellcheck source=scripts/lib/timed.sh
. "$(dirname "$0")/lib/timed.sh"

pkgs=(gcc make cmake pkg-config libapr1-dev libaprutil1-dev libxml2-dev
      libxml2-utils libcunit1-dev zlib1g-dev dpkg-dev xz-utils)
for arg in "$@"; do
  case "$arg" in
    --perf) pkgs+=(libuv1-dev libev-dev libevent-dev strace) ;;
    --check) pkgs+=(valgrind) ;;
    *) echo "bootstrap: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  install_missing() {
    $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
  }
  timed "bootstrap: installing ${missing[*]}" "apt-get" install_missing
fi

"$(dirname "$0")/build-libxml2.sh"
