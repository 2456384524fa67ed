#!/usr/bin/env bash
# test-packages.sh -- build the packages (scripts/package.sh) and check
# that each installs and works where its users put it.  CI runs it
# (.ci/run); about 1 min once the build trees, the bookworm root and the
# Wine prefix exist, 5 to 8 min from nothing (two builds, a debootstrap).
#
#   install   cmake --install into a prefix: a program built against it
#             with pkg-config and with find_package(vigil) (tests/install)
#             runs; and the same with -DBUILD_SHARED_LIBS=ON: soname
#             libvigil.so.0.MINOR, only vg_ and pal_ symbols exported,
#             the installed vigil runs on it (RUNPATH $ORIGIN/../lib)
#   dev-deb   the same program against libvigil-dev's files, both ways
#   unit      systemd-analyze verify of the .deb's vigil.service, which
#             must carry the settings `vigil service install` writes
#   chroot    a minimal Debian bookworm (debootstrap, cached in
#             build-pkg/bookworm-root; VIGIL_CHROOT_CACHE=DIR elsewhere):
#             dpkg -i the .deb into a fresh copy, then vigil version,
#             vigil validate -c /etc/vigil/vigil.xml, the packaged config
#             run, status and shutdown, the directories and the conffile;
#             dpkg --purge removes it all
#   completion  bash completion: commands, options, and the service names
#             of a running supervisor
#   zip       vigil.exe version and validate from the unpacked zip (Wine)
#   msi       msiexec /i under Wine: files in Program Files\Vigil, PATH,
#             vigil.exe version; ADDLOCAL=ALL registers the service;
#             msiexec /x removes the files, the service and the PATH entry
#
# scripts/test-packages.sh CHECK... runs only those checks (after the
# build).
#
# A check that cannot run (a missing tool, no chroot permission) says
# SKIPPED and why; under CI=true it fails instead.  The last line names
# the checks that failed (exit 1), or says all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh

top=$PWD
pkg=$top/build-pkg
work=$pkg/test
rm -rf "$work"
mkdir -p "$work"
failed=() skipped=()
jobs=$(nproc 2>/dev/null || echo 2)

only=" $* "
# check NAME CMD...: run one check, record its outcome.
check() {
  local name=$1
  shift
  case "$only" in "  " | *" $name "*) ;; *) return 0 ;; esac
  echo "== test-packages: $name"
  if "$@"; then
    echo "test-packages: $name ok"
  else
    echo "test-packages: $name FAILED" >&2
    failed+=("$name")
  fi
}

# skip NAME WHY: a check this machine cannot run.
skip() {
  case "$only" in "  " | *" $1 "*) ;; *) return 0 ;; esac
  if [ "${CI:-}" = true ]; then
    echo "test-packages: $1 cannot run: $2 (CI=true: a failure)" >&2
    failed+=("$1")
  else
    echo "SKIPPED [$1]: $2"
    skipped+=("$1")
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# expect "WHAT" WANT GOT: equal, or say what differed.
expect() {
  if [ "$2" != "$3" ]; then
    echo "  $1: expected '$2', got '$3'" >&2
    return 1
  fi
}

scripts/package.sh
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' \
            "$pkg/linux/CMakeCache.txt")
minor=$(echo "$version" | cut -d. -f1-2)
deb=$top/dist/vigil_${version}_amd64.deb
devdeb=$top/dist/libvigil-dev_${version}_amd64.deb

# hello_both PREFIX PKGCONFIGDIR TAG: tests/install/hello.c built with
# pkg-config and through find_package(vigil); both must run.
# shellcheck disable=SC2086 # $flags: pkg-config's words
hello_both() {
  local prefix=$1 pcdir=$2 tag=$3 flags out
  flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs libvigil) &&
    gcc -std=c11 -Wall -Werror -o "$work/hello-$tag-pc" tests/install/hello.c \
      $flags &&
    out=$(LD_LIBRARY_PATH=$prefix/lib "$work/hello-$tag-pc") &&
    echo "  pkg-config: $out" &&
    expect "pkg-config build" "libvigil $version" "${out%% (*}" || return 1
  cmake -S tests/install -B "$work/hello-$tag-cmake" \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
    cmake --build "$work/hello-$tag-cmake" >/dev/null &&
    out=$(LD_LIBRARY_PATH=$prefix/lib "$work/hello-$tag-cmake/hello") &&
    echo "  find_package: $out" &&
    expect "find_package build" "libvigil $version" "${out%% (*}"
}

check_install() {
  local p=$work/prefix f lib
  cmake --install "$pkg/linux" --prefix "$p" >/dev/null || return 1
  # lib, or lib/x86_64-linux-gnu (GNUInstallDirs with the /usr prefix).
  lib=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$pkg/linux/CMakeCache.txt")
  for f in bin/vigil "$lib/libvigil.a" include/vigil/vigil.h \
           include/vigil/vigil_fiber.h include/vigil/pal.h \
           "$lib/pkgconfig/libvigil.pc" "$lib/cmake/vigil/vigilConfig.cmake" \
           share/vigil/vigil.xsd share/man/man1/vigil.1 \
           share/man/man5/vigil.xml.5 \
           share/bash-completion/completions/vigil; do
    [ -e "$p/$f" ] || { echo "  missing: $f" >&2; return 1; }
  done
  # Only the public headers: nothing of config/ or services/.
  expect "include/vigil" "pal.h vigil.h vigil_fiber.h" \
    "$(cd "$p/include/vigil" && echo *)" || return 1
  expect "vigil version" "vigil $version" \
    "$("$p/bin/vigil" version | cut -d' ' -f1-2)" || return 1
  expect "pkg-config --modversion" "$version" \
    "$(PKG_CONFIG_PATH=$p/$lib/pkgconfig pkg-config --modversion libvigil)" ||
    return 1
  hello_both "$p" "$p/$lib/pkgconfig" static
}

check_shared() {
  local b=$pkg/shared p=$work/prefix-shared bad
  cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF \
      -DVIGIL_WERROR=ON -DBUILD_SHARED_LIBS=ON >/dev/null &&
    timed "test-packages: building $b/" "about 1 min from nothing" \
      quiet cmake --build "$b" -j"$jobs" &&
    cmake --install "$b" --prefix "$p" >/dev/null || return 1
  # The installed program finds the installed library (its RUNPATH).
  expect "vigil version (shared)" "vigil $version" \
    "$(env -u LD_LIBRARY_PATH "$p/bin/vigil" version | cut -d' ' -f1-2)" ||
    return 1
  local so
  so=$(env -u LD_LIBRARY_PATH ldd "$p/bin/vigil" |
       awk -v n="libvigil.so.$minor" '$1 == n {print $3}')
  expect "bin/vigil's libvigil" "$(realpath "$p/lib/libvigil.so.$minor")" \
    "$(realpath -m "${so:-none}")" || return 1
  expect "soname" "libvigil.so.$minor" \
    "$(objdump -p "$p/lib/libvigil.so" | awk '/SONAME/ {print $2}')" ||
    return 1
  # Exported: the vg_ and pal_ functions of the public headers, not the
  # internals (vg__, pal__) or anything else.
  bad=$(nm -D --defined-only "$p/lib/libvigil.so" |
        awk '$3 !~ /^(vg|pal)_[^_]/ && $3 !~ /^VIGIL_/ {print $3}')
  [ -z "$bad" ] || { echo "  exported beyond the API: $bad" >&2; return 1; }
  echo "  $(nm -D --defined-only "$p/lib/libvigil.so" | grep -c ' T ')" \
       "functions exported"
  hello_both "$p" "$p/lib/pkgconfig" shared
}

check_dev_deb() {
  local root=$work/dev-deb
  dpkg-deb -x "$devdeb" "$root" || return 1
  # The .pc file finds its prefix from its own place: right here too.
  hello_both "$root/usr" \
    "$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig" dev
}

check_unit() {
  local s=$pkg/deb/vigil u out
  u=$s/lib/systemd/system/vigil.service
  # What `vigil service install` writes, line for line (but for the
  # comment, Description= and the lines the package adds).
  local cfg=$work/unit/etc/vigil/vigil.xml
  mkdir -p "${cfg%/*}"
  cp "$s/etc/vigil/vigil.xml" "$cfg"
  "$s/usr/bin/vigil" service install --print --name vigil -c "$cfg" |
    sed -e "s|$s||g; s|$work/unit||g" | grep -v '^#\|^Description=' \
    >"$work/unit/want"
  grep -v '^#\|^Description=\|^Documentation=\|Directory' "$u" \
    >"$work/unit/got"
  diff -u "$work/unit/want" "$work/unit/got" || return 1
  grep -qx 'Type=notify' "$u" && grep -qx 'Delegate=yes' "$u" || return 1
  if ! have systemd-analyze; then
    skip unit-verify "systemd-analyze is missing (apt-get install systemd)"
    return 0
  fi
  # Verified on this host with the packaged paths pointing into the
  # staging tree (vigil, the man pages of Documentation=).
  sed "s|/usr/bin/vigil|$s/usr/bin/vigil|g" "$u" >"$work/unit/vigil.service"
  out=$(MANPATH=$s/usr/share/man \
        systemd-analyze verify "$work/unit/vigil.service" 2>&1) || true
  # verify exits 0 after mere warnings: any word from it is a failure.
  [ -z "$out" ] || { echo "$out" >&2; return 1; }
}

# The cached minimal bookworm, with libapr1 (vigil's one dependency that
# minbase lacks), made once.
chroot_cache() {
  local c=${VIGIL_CHROOT_CACHE:-$pkg/bookworm-root}
  if [ ! -e "$c/.complete" ]; then
    rm -rf "$c.tmp"
    timed "test-packages: debootstrap bookworm into $c" "2 to 5 min, once" \
      quiet debootstrap --variant=minbase --include=libapr1 bookworm \
        "$c.tmp" "${VIGIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}" ||
      return 1
    rm -rf "$c"
    mv "$c.tmp" "$c"
    touch "$c/.complete"
  fi
  echo "$c"
}

# Nothing may be mounted under a root that is copied or removed (an
# interrupted debootstrap leaves its /proc mounted).
unmounted() {
  if awk -v d="$(realpath -m "$1")" 'index($2, d "/") == 1 {found = 1}
                                     END {exit !found}' /proc/mounts; then
    echo "  something is mounted under $1: unmount it first" >&2
    return 1
  fi
}

check_chroot() {
  local c r=$work/root rc=0
  c=$(chroot_cache | tail -1) || return 1
  [ -d "$c" ] && unmounted "$c" && unmounted "$r" || return 1
  rm -rf "$r"
  cp -a "$c" "$r"
  cp "$deb" "$r/tmp/vigil.deb"
  cat >"$r/tmp/check.sh" <<EOF
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
dpkg -i /tmp/vigil.deb >/dev/null
out=\$(vigil version)
echo "  \$out"
case "\$out" in
  "vigil $version ("*) ;;
  *) echo "  wrong version" >&2; exit 1 ;;
esac
vigil validate -c /etc/vigil/vigil.xml
[ "\$(stat -c %a /var/lib/vigil)" = 700 ] && [ -d /var/log/vigil ]
grep -qx /etc/vigil/vigil.xml /var/lib/dpkg/info/vigil.conffiles
[ -f /usr/share/man/man1/vigil.1.gz ]
[ -f /usr/share/man/man5/vigil.xml.5.gz ]
[ -f /usr/share/vigil/vigil.xsd ] && [ -f /lib/systemd/system/vigil.service ]
# The packaged configuration runs: a supervisor, asked and stopped.
vigil run -c /etc/vigil/vigil.xml >/tmp/run.log 2>&1 &
pid=\$!
i=0
until vigil status -c /etc/vigil/vigil.xml >/dev/null 2>&1; do
  i=\$((i + 1))
  if [ \$i -gt 100 ]; then cat /tmp/run.log >&2; exit 1; fi
  sleep 0.1
done
vigil shutdown -c /etc/vigil/vigil.xml >/dev/null
wait \$pid
echo "  ran, answered status, shut down (exit 0)"
dpkg --purge vigil >/dev/null
for f in /usr/bin/vigil /etc/vigil /var/lib/vigil /var/log/vigil; do
  if [ -e \$f ]; then echo "  \$f left after purge" >&2; exit 1; fi
done
echo "  purged: nothing left"
EOF
  # The supervisor reads /proc (its own executable, its children's
  # trees), as on a booted system.
  mount -t proc proc "$r/proc" || return 1
  chroot "$r" /bin/sh /tmp/check.sh || rc=$?
  umount "$r/proc" || return 1
  unmounted "$r" && rm -rf "$r"
  return "$rc"
}

check_completion() {
  local b=$pkg/linux/services/vigil d=$work/comp out
  mkdir -p "$d"
  cat >"$d/vigil.xml" <<'EOF'
<vigil>
  <service name="alpha"><command>sleep</command><arg>60</arg></service>
  <service name="beta"><command>sleep</command><arg>60</arg></service>
</vigil>
EOF
  "$b" run -c "$d/vigil.xml" >"$d/run.log" 2>&1 &
  local pid=$! i=0 rc=0
  until "$b" status -c "$d/vigil.xml" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 100 ] || { kill "$pid"; cat "$d/run.log" >&2; return 1; }
    sleep 0.1
  done
  # complete WORDS...: what bash would offer for the last word.
  complete_words() {
    bash -c '. packaging/bash-completion/vigil
             COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vigil
             printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$@"
  }
  out=$(complete_words vigil st)
  expect "vigil st<TAB>" "start status stop " "$out" || rc=1
  out=$(complete_words vigil logs --st)
  expect "vigil logs --st<TAB>" "--stderr " "$out" || rc=1
  out=$(complete_words "$b" restart -c "$d/vigil.xml" "")
  expect "vigil restart -c FILE <TAB>" "all alpha beta " "$out" || rc=1
  out=$(complete_words vigil service "")
  expect "vigil service <TAB>" "install start status stop uninstall " \
    "$out" || rc=1
  "$b" shutdown -c "$d/vigil.xml" >/dev/null || rc=1
  wait "$pid" || rc=1
  return "$rc"
}

wine_env() {
  export WINEDEBUG=-all WINEPREFIX=$pkg/wineprefix
  export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree=;mshtml=}"
  if [ ! -d "$WINEPREFIX" ]; then
    timed "test-packages: creating the Wine prefix $WINEPREFIX" "about 15 s" \
      sh -c 'wine cmd /c exit 0 >/dev/null 2>&1 || true'
  fi
}

check_zip() {
  local d=$work/zip out
  mkdir -p "$d"
  (cd "$d" && unzip -q "$top/dist/vigil-$version-win64.zip") || return 1
  d=$d/vigil-$version-win64
  out=$(wine "$d/vigil.exe" version | tr -d '\r')
  echo "  $out"
  expect "vigil.exe version" "vigil $version (windows, iocp backend)" \
    "$out" || return 1
  wine "$d/vigil.exe" validate -c "$(winepath -w "$d/vigil.xml")" | tr -d '\r'
}

check_msi() {
  local msi pf out path rc=0
  msi=$(winepath -w "$top/dist/vigil-$version-win64.msi")
  pf="$WINEPREFIX/drive_c/Program Files/Vigil"
  wine msiexec /x "$msi" /qn >/dev/null 2>&1 || true   # a leftover
  wine msiexec /i "$msi" /qn || return 1
  for f in vigil.exe vigil-echo.exe vigil.xsd vigil.xml docs/config.md \
           examples/vigil-windows.xml; do
    [ -f "$pf/$f" ] || { echo "  not installed: $f" >&2; rc=1; }
  done
  out=$(wine 'C:\Program Files\Vigil\vigil.exe' version | tr -d '\r')
  echo "  $out"
  expect "vigil.exe version" "vigil $version (windows, iocp backend)" \
    "$out" || rc=1
  path=$(wine reg query \
    'HKLM\System\CurrentControlSet\Control\Session Manager\Environment' \
    /v PATH | tr -d '\r')
  case "$path" in
    *"C:\\Program Files\\Vigil\\"*) echo "  PATH has Program Files\\Vigil" ;;
    *) echo "  PATH lacks Program Files\\Vigil: $path" >&2; rc=1 ;;
  esac
  # The optional feature: the service, registered by `vigil service
  # install` as the installer runs it.
  wine msiexec /i "$msi" /qn ADDLOCAL=ALL || rc=1
  out=$(wine 'C:\Program Files\Vigil\vigil.exe' service status --name vigil |
        tr -d '\r')
  case "$out" in
    *'run -c "C:\Program Files\Vigil\vigil.xml" --service vigil'*)
      echo "  service vigil registered" ;;
    *) echo "  service not registered: $out" >&2; rc=1 ;;
  esac
  wine msiexec /x "$msi" /qn || rc=1
  [ ! -e "$pf" ] || { echo "  left after uninstall: $(ls "$pf")" >&2; rc=1; }
  if wine sc query vigil 2>/dev/null | tr -d '\r' | grep -q SERVICE_NAME; then
    echo "  service vigil left after uninstall" >&2; rc=1
  fi
  path=$(wine reg query \
    'HKLM\System\CurrentControlSet\Control\Session Manager\Environment' \
    /v PATH | tr -d '\r')
  case "$path" in
    *Vigil*) echo "  PATH keeps Vigil after uninstall: $path" >&2; rc=1 ;;
  esac
  [ "$rc" -ne 0 ] || echo "  uninstalled: files, service and PATH entry gone"
  return "$rc"
}

check install check_install
check shared-lib check_shared
check dev-deb check_dev_deb
check unit check_unit
if ! have debootstrap; then
  skip chroot "debootstrap is missing (scripts/bootstrap.sh --package)"
elif ! chroot / true 2>/dev/null; then
  skip chroot "chroot is not permitted here (needs root)"
else
  check chroot check_chroot
fi
check completion check_completion
if have wine && have winepath; then
  case "$only" in "  " | *" zip "* | *" msi "*) wine_env ;; esac
  check zip check_zip
  check msi check_msi
else
  skip zip "wine is missing (scripts/build-win-deps.sh installs it)"
  skip msi "wine is missing (scripts/build-win-deps.sh installs it)"
fi

if [ ${#skipped[@]} -gt 0 ]; then
  echo "test-packages: not run here: ${skipped[*]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-packages: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test-packages: all passed (vigil $version: .deb, libvigil-dev, zip, msi)"
