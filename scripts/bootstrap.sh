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
#   scripts/bootstrap.sh --real     also the daemons of the real-daemon suite
#                                   (tests/real: PostgreSQL, Redis, nginx,
#                                   memcached, and their clients), installed
#                                   without being started or enabled as
#                                   system services
#   scripts/bootstrap.sh --package  also what scripts/package.sh and
#                                   scripts/test-packages.sh use: fakeroot,
#                                   lintian, debootstrap, msitools and wixl
#                                   (the MSI), zip, systemd-analyze
set -euo pipefail
# shellcheck source=scripts/lib/timed.sh
. "$(dirname "$0")/lib/timed.sh"

pkgs=(gcc make cmake pkg-config libapr1-dev libaprutil1-dev libxml2-dev
      libxml2-utils libcunit1-dev zlib1g-dev dpkg-dev patch xz-utils locales
      scdoc prometheus)   # prometheus: promtool, for suite vigil_http
for arg in "$@"; do
  case "$arg" in
    --perf) pkgs+=(libuv1-dev libev-dev libevent-dev strace) ;;
    --check) pkgs+=(valgrind) ;;
    --package) pkgs+=(fakeroot lintian debootstrap msitools wixl zip unzip
                      systemd) ;;
    --real) pkgs+=(postgresql postgresql-client redis-server redis-tools
                   nginx-light memcached curl) ;;
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
  # Daemons are installed for the tests to run under vigil, not as system
  # services: a policy-rc.d that answers 101 ("action forbidden") keeps
  # their postinst scripts from starting them, and the one that was there
  # (containers often have one) comes back afterwards.
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then
    saved=$($sudo mktemp)
    $sudo cp -p "$policy" "$saved"
  fi
  restore_policy() {
    if [ -n "$saved" ]; then
      $sudo mv -f "$saved" "$policy"
    else
      $sudo rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  install_missing() {
    $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
  }
  timed "bootstrap: installing ${missing[*]}" "apt-get" install_missing
  restore_policy
  trap - EXIT
  # Under systemd, packages enable their units even when policy-rc.d
  # forbids starting them: disable the ones just installed (no --now:
  # nothing was started).
  if [ -d /run/systemd/system ]; then
    for unit in postgresql redis-server nginx memcached prometheus; do
      case " ${missing[*]} " in
        *" $unit "*|*" ${unit}-light "*) ;;
        *) continue ;;
      esac
      $sudo systemctl disable --quiet "$unit" 2>/dev/null || true
    done
  fi
fi

# A locale whose decimal separator is a comma: the JSON suite checks that
# numbers are written with a point whatever LC_NUMERIC says.
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi

"$(dirname "$0")/build-libxml2.sh"
