#!/usr/bin/env bash
# package.sh -- build vigil's packages into dist/.
#
#   scripts/package.sh            all of them
#   scripts/package.sh --deb      the Debian packages only
#   scripts/package.sh --win      the Windows zip and MSI only
#
#   dist/vigil_VERSION_amd64.deb           the supervisor: /usr/bin/vigil,
#        man pages, schema, docs, bash completion, the unit
#        /lib/systemd/system/vigil.service (not enabled by the package) and
#        the conffile /etc/vigil/vigil.xml; state /var/lib/vigil, logs
#        /var/log/vigil
#   dist/libvigil-dev_VERSION_amd64.deb    libvigil for C programmers:
#        headers, libvigil.a, libvigil.pc, the CMake package
#   dist/vigil-VERSION-win64.zip           vigil.exe, vigil-echo.exe,
#        vigil.xsd, example configs, the docs
#   dist/vigil-VERSION-win64.msi           the same, installed to
#        Program Files\Vigil and added to PATH; the optional feature
#        "Service" runs `vigil service install` (packaging/windows/vigil.wxs)
#
# VERSION is libvigil's (core/include/vigil.h, through CMake's project()).
# Build trees: build-pkg/linux, build-pkg/win (Release, no tests); the
# staging trees under build-pkg/.  The .debs are checked with lintian
# where it is installed (scripts/bootstrap.sh --package installs it);
# the tags it may still give are explained in packaging/README.md.
# Installs what it needs (scripts/bootstrap.sh --package: scdoc, fakeroot,
# lintian, wixl, zip...; scripts/build-win-deps.sh: mingw-w64, Wine and
# the cross-built APR, libxml2, CUnit), quiet when they are there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh

want_deb=1 want_win=1
case "${1:-}" in
  "") ;;
  --deb) want_win=0 ;;
  --win) want_deb=0 ;;
  *) echo "usage: scripts/package.sh [--deb|--win]" >&2; exit 2 ;;
esac

top=$PWD
out=$top/dist
pkg=$top/build-pkg
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$out" "$pkg"

need() {
  local tool=$1 why=$2
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "package.sh: $tool is missing ($why);" \
         "scripts/bootstrap.sh --package installs it" >&2
    exit 1
  fi
}

# configure_build DIR ARGS...: a Release tree without tests.
configure_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF \
    -DVIGIL_WERROR=ON "$@" >/dev/null &&
    timed "package.sh: building $dir/" "about 1 min from nothing" \
      quiet cmake --build "$dir" -j"$jobs"
}

say_built() {
  echo "package.sh: dist/$1 ($(du -h "$out/$1" | cut -f1))"
}

version=""
cmake_version() {
  sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$1/CMakeCache.txt"
}

# --- Debian ---------------------------------------------------------------
# Documents every package ships (/usr/share/doc/PKG): copyright and a
# changelog.gz (a native package) dated as the commit it was built from.
deb_doc() {
  local root=$1 name=$2 doc
  doc=$root/usr/share/doc/$name
  install -d "$doc"
  install -m 0644 packaging/debian/copyright "$doc/copyright"
  {
    printf '%s (%s) unstable; urgency=medium\n\n' "$name" "$version"
    printf '  * Vigil %s, built by scripts/package.sh from %s.\n\n' \
      "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo source)"
    printf ' -- %s  %s\n' "$maintainer" "$date"
  } | gzip -9n >"$doc/changelog.gz"
}

# deb_control ROOT NAME DEPENDS SECTION DESCRIPTION...: DEBIAN/control.
deb_control() {
  local root=$1 name=$2 depends=$3 section=$4 size
  shift 4
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  install -d "$root/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    echo "Section: $section"
    echo "Priority: optional"
    [ -z "$homepage" ] || echo "Homepage: $homepage"
    printf '%s\n' "$@"
  } >"$root/DEBIAN/control"
}

# dpkg-deb as root of every file, with the mtimes of the commit, and
# DEBIAN/md5sums (what debsums checks).
deb_build() {
  local root=$1 file=$2
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
     LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  find "$root" -depth -newermt "@$epoch" -exec touch -h -d "@$epoch" {} +
  fakeroot dpkg-deb -Zxz --build "$root" "$out/$file" >/dev/null
  say_built "$file"
}

build_deb() {
  need scdoc "the man pages"
  need dpkg-deb "the .deb"
  need dpkg-shlibdeps "the .deb's dependencies"
  need fakeroot "the .deb's file owners"
  local b=$pkg/linux stage=$pkg/deb multiarch
  # libxml2: the minimal static build vigil links everywhere (2.7 MiB
  # less memory than Debian's, with ICU; docs/PERFORMANCE.md), else with
  # VIGIL_DEB_LIBXML2=system Debian's shared one (security updates reach
  # vigil through the libxml2 package).  packaging/README.md.
  local xml=AUTO
  [ "${VIGIL_DEB_LIBXML2:-bundled}" = system ] && xml=OFF
  # APR: linked statically (0.2 MiB less per supervisor), else with
  # VIGIL_DEB_APR=shared Debian's libapr1 (packaging/README.md).
  local apr=AUTO
  [ "${VIGIL_DEB_APR:-static}" = shared ] && apr=OFF
  # Debian's build flags, every hardening feature on (as a package built
  # by debhelper would have: fortify, stack protector, relro, bindnow).
  local cflags ldflags
  cflags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS)
  cflags="$cflags $(DEB_BUILD_MAINT_OPTIONS=hardening=+all \
                    dpkg-buildflags --get CPPFLAGS)"
  ldflags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all \
            dpkg-buildflags --get LDFLAGS)
  configure_build "$b" -DCMAKE_INSTALL_PREFIX=/usr -DVIGIL_MAN=ON \
    -DVIGIL_BUNDLED_LIBXML2=$xml -DVIGIL_STATIC_APR=$apr \
    -DCMAKE_C_FLAGS="$cflags" \
    -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags"
  version=$(cmake_version "$b")
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  rm -rf "$stage"
  DESTDIR=$stage/all cmake --install "$b" --strip >/dev/null
  strip --remove-section=.comment --remove-section=.note \
    "$stage/all/usr/bin/vigil"

  # vigil: the program and its files.
  local v=$stage/vigil
  install -d "$v/usr/bin" "$v/usr/share" "$v/lib/systemd/system" \
    "$v/etc/vigil/conf.d"
  mv "$stage/all/usr/bin/vigil" "$v/usr/bin/"
  mv "$stage/all/usr/share/vigil" "$stage/all/usr/share/bash-completion" \
    "$v/usr/share/"
  install -d "$v/usr/share/man/man1" "$v/usr/share/man/man5"
  gzip -9n <"$stage/all/usr/share/man/man1/vigil.1" \
    >"$v/usr/share/man/man1/vigil.1.gz"
  gzip -9n <"$stage/all/usr/share/man/man5/vigil.xml.5" \
    >"$v/usr/share/man/man5/vigil.xml.5.gz"
  install -m 0644 packaging/debian/vigil.xml "$v/etc/vigil/vigil.xml"
  deb_doc "$v" vigil
  install -m 0644 README.md docs/guide.md docs/control.md docs/systemd.md \
    "$v/usr/share/doc/vigil/"
  install -m 0644 config/README.md "$v/usr/share/doc/vigil/config.md"
  # The unit is the one `vigil service install` writes for this config
  # (one source of its settings), with the packaged paths, the man pages,
  # and the state and log directories made by systemd as well.
  local head dirs
  # shellcheck disable=SC2016 # the backquotes are the comment's
  head='# Installed by the vigil package: the unit `vigil service install`'
  head="$head writes for /etc/vigil/vigil.xml."
  dirs='StateDirectory=vigil\nStateDirectoryMode=0700'
  dirs="$dirs\\nLogsDirectory=vigil\\nLogsDirectoryMode=0750"
  "$v/usr/bin/vigil" service install --print --name vigil \
      -c "$v/etc/vigil/vigil.xml" |
    sed -e "s|$v||g" -e "1s|.*|$head|" \
        -e 's|^Description=.*|Description=Vigil process supervisor|' \
        -e '/^After=/i Documentation=man:vigil(1) man:vigil.xml(5)' \
        -e "/^TimeoutStopSec=/a $dirs" \
      >"$v/lib/systemd/system/vigil.service"
  chmod 0644 "$v/lib/systemd/system/vigil.service"
  grep -q '^ExecStart=/usr/bin/vigil run -c /etc/vigil/vigil.xml$' \
    "$v/lib/systemd/system/vigil.service"
  install -d "$v/DEBIAN"
  install -m 0755 packaging/debian/postinst packaging/debian/prerm \
    packaging/debian/postrm "$v/DEBIAN/"
  echo /etc/vigil/vigil.xml >"$v/DEBIAN/conffiles"
  if ! grep -q '^VIGIL_BUNDLED_LIBXML2:STRING=OFF' "$b/CMakeCache.txt" &&
     [ -f build-deps/libxml2/lib/libxml2.a ]; then
    install -d "$v/usr/share/lintian/overrides"
    install -m 0644 packaging/debian/vigil.lintian-overrides \
      "$v/usr/share/lintian/overrides/vigil"
  fi
  # Shared-library dependencies of the binary, as Debian's tools find
  # them (a debian/control is what dpkg-shlibdeps reads).
  local deps
  install -d "$stage/shlibs/debian"
  printf 'Source: vigil\n\nPackage: vigil\nArchitecture: amd64\n' \
    >"$stage/shlibs/debian/control"
  deps=$(cd "$stage/shlibs" &&
         dpkg-shlibdeps -O "$v/usr/bin/vigil" 2>/dev/null |
         sed -n 's/^shlibs:Depends=//p')
  [ -n "$deps" ]
  deb_control "$v" vigil "$deps" admin \
    "Description: process supervisor configured in XML" \
    " vigil supervises the services one XML file describes: restart" \
    " policies with exponential backoff, readiness (a delay, a TCP port or" \
    " the systemd notify protocol), health checks, dependencies, log capture" \
    " with rotation and compression, resource limits (rlimits, cgroup v2)," \
    " a control socket with a CLI, and reloads that restart only what" \
    " changed.  It uses no CPU while its services are idle." \
    " ." \
    " The package installs vigil.service (not enabled) for the configuration" \
    " /etc/vigil/vigil.xml."
  deb_build "$v" "vigil_${version}_amd64.deb"

  # libvigil-dev: the library for C programs (static; pal inside).
  local d=$stage/libvigil-dev
  install -d "$d/usr"
  mv "$stage/all/usr/include" "$stage/all/usr/lib" "$d/usr/"
  # As dh_strip does a static library: no debug sections, no .comment.
  strip --strip-debug --remove-section=.comment --remove-section=.note \
    --enable-deterministic-archives "$d/usr/lib/$multiarch/libvigil.a"
  deb_doc "$d" libvigil-dev
  install -m 0644 docs/core.md "$d/usr/share/doc/libvigil-dev/"
  deb_control "$d" libvigil-dev "libapr1-dev" libdevel \
    "Description: portable async runtime for C (development files)" \
    " libvigil is the runtime under the vigil supervisor: a completion-style" \
    " event loop (epoll, kqueue, IOCP) with timers, TCP and pipe streams," \
    " datagram sockets, child processes, signals, cross-thread wake-ups, a" \
    " work queue, channels and fibers, on APR." \
    " ." \
    " This package has the headers, the static library, libvigil.pc and the" \
    " CMake package (find_package(vigil): vigil::vigil)."
  deb_build "$d" "libvigil-dev_${version}_amd64.deb"

  if command -v lintian >/dev/null 2>&1; then
    # Each tag left is explained in packaging/README.md.
    # A warning or an error fails the build; info tags are shown.
    local tags rc=0
    tags=$(lintian --tag-display-limit 0 --display-info \
             --fail-on error,warning "$out/vigil_${version}_amd64.deb" \
             "$out/libvigil-dev_${version}_amd64.deb" 2>&1) || rc=$?
    printf '%s\n' "$tags" | grep -v '^running with root privileges\|^$' || true
    if [ "$rc" -ne 0 ]; then
      echo "package.sh: lintian: FAILED (exit $rc)" >&2
      return 1
    fi
    echo "package.sh: lintian: no warning or error"
  elif [ "${CI:-}" = true ]; then
    echo "package.sh: lintian is missing (scripts/bootstrap.sh --package)" >&2
    exit 1
  else
    echo "package.sh: lintian is not installed: the .debs were not checked"
  fi
}

# --- Windows --------------------------------------------------------------
build_win() {
  need x86_64-w64-mingw32-gcc "the Windows cross-build"
  need zip "the .zip"
  need wixl "the .msi (msitools)"
  scripts/build-win-deps.sh
  local b=$pkg/win stage=$pkg/win-stage
  configure_build "$b" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
  version=$(cmake_version "$b")
  rm -rf "$stage"
  local z=$stage/vigil-$version-win64
  install -d "$z/docs" "$z/examples"
  install -m 0755 "$b/services/vigil.exe" "$b/vigil-echo.exe" "$z/"
  x86_64-w64-mingw32-strip "$z/vigil.exe" "$z/vigil-echo.exe"
  install -m 0644 config/vigil.xsd packaging/windows/vigil.xml "$z/"
  install -m 0644 docs/examples/vigil-windows.xml \
    "$z/examples/"
  install -m 0644 README.md "$z/README.md"
  install -m 0644 docs/guide.md docs/windows.md docs/control.md \
    "$z/docs/"
  install -m 0644 config/README.md "$z/docs/config.md"
  # Text files with Windows line ends (Notepad before Windows 10 1809).
  find "$z" -name '*.md' -o -name '*.xml' -o -name '*.xsd' |
    while read -r f; do sed -i 's/\r*$/\r/' "$f"; done
  find "$stage" -exec touch -h -d "@$epoch" {} +
  rm -f "$out/vigil-$version-win64.zip"
  (cd "$stage" && zip -qrX "$out/vigil-$version-win64.zip" \
     "vigil-$version-win64")
  say_built "vigil-$version-win64.zip"

  # The MSI: wixl reads the sources from the staged zip tree.  What
  # wixl 0.101 cannot say is added with msibuild: the Environment table
  # (PATH: "=-*" set at install, removed at uninstall, system-wide;
  # "[~];" appends) with its two standard actions, and the place of the
  # deferred `service uninstall` (wixl puts Before="RemoveFiles" first of
  # all, outside the install transaction).
  local msi=$out/vigil-$version-win64.msi
  rm -f "$msi"
  need msibuild "the .msi's PATH entry (msitools)"
  wixl -a x64 -D Version="$version" -D SourceDir="${z#"$top"/}" -o "$msi" \
    packaging/windows/vigil.wxs
  printf '%s\t%s\t%s\t%s\n' Environment Name Value Component_ \
    s72 l255 L255 s72 >"$stage/Environment.idt"
  printf '%s\t%s\n' Environment Environment >>"$stage/Environment.idt"
  printf '%s\t%s\t%s\t%s\n' PATH '=-*PATH' '[~];[INSTALLDIR]' VigilExe \
    >>"$stage/Environment.idt"
  local seq="INSERT INTO InstallExecuteSequence (Action, Sequence) VALUES"
  msibuild "$msi" -i "$stage/Environment.idt" \
    -q "$seq ('RemoveEnvironmentStrings', 3300)" \
    -q "$seq ('WriteEnvironmentStrings', 5200)" \
    -q "UPDATE InstallExecuteSequence SET Sequence = 3400
        WHERE Action = 'ServiceUninstall'"
  say_built "vigil-$version-win64.msi"
}

# What packaging needs (quiet when present).
scripts/bootstrap.sh --package

maintainer=${VIGIL_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null ||
                                 echo 'Vigil maintainers <vigil@localhost>')}
homepage=${VIGIL_HOMEPAGE:-}
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
date=$(date -R -u -d "@$epoch")
export SOURCE_DATE_EPOCH=$epoch

[ "$want_deb" = 1 ] && build_deb
[ "$want_win" = 1 ] && build_win
exit 0
