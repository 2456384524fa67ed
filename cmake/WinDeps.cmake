# WinDeps.cmake -- dependencies for the Windows builds.
#
# Included from Dependencies.cmake under if(WIN32) instead of pkg-config.
# Defines the same imported targets pkg_check_modules(... IMPORTED_TARGET)
# gives on POSIX -- PkgConfig::APR, PkgConfig::LIBXML2 and PkgConfig::CUNIT
# -- from one of three sources (VIGIL_WIN_DEPS_SOURCE):
#
#   prefix      the static libraries scripts/build-win-deps.sh puts into
#               VIGIL_WIN_DEPS (the mingw-w64 cross build; the toolchain file
#               cmake/toolchain-mingw64.cmake sets VIGIL_WIN_DEPS):
#                 PkgConfig::APR      include/apr-1, lib/libapr-1.a   APR_DECLARE_STATIC
#                 PkgConfig::LIBXML2  include/libxml2, lib/libxml2.a  LIBXML_STATIC
#                 PkgConfig::CUNIT    include (CUnit/*.h), lib/libcunit.a
#               libxml2 was built against mingw's winpthreads, hence
#               -lpthread; link executables with -static (the toolchain file
#               does) so that Wine needs no libwinpthread-1.dll.
#   pkg-config  a native MinGW build, e.g. MSYS2 UCRT64 with its packages:
#               the modules apr-1, libxml-2.0 and cunit, as on Linux.
#   find        a native MSVC build, e.g. with vcpkg's toolchain file
#               (-DCMAKE_TOOLCHAIN_FILE=.../vcpkg/scripts/buildsystems/vcpkg.cmake):
#               find_package(LibXml2), and find_path/find_library for APR
#               (apr.h; apr-1.lib static or libapr-1.lib for the DLL) and
#               CUnit (CUnit/CUnit.h; cunit.lib or libcunit.lib).  Anything
#               on CMAKE_PREFIX_PATH is searched the same way.
#
# The default, "auto": prefix when cross-compiling or when VIGIL_WIN_DEPS is
# given (-DVIGIL_WIN_DEPS=... or the environment variable); otherwise
# pkg-config with a MinGW compiler if pkg-config is there, else find.
# docs/windows-build.md describes the native builds.

set(VIGIL_WIN_DEPS_SOURCE "auto" CACHE STRING
    "Where the Windows build finds APR, libxml2, CUnit: auto, prefix, pkg-config or find")
set_property(CACHE VIGIL_WIN_DEPS_SOURCE PROPERTY STRINGS
             auto prefix pkg-config find)

set(_vigil_deps_source "${VIGIL_WIN_DEPS_SOURCE}")
if(_vigil_deps_source STREQUAL "auto")
  if(CMAKE_CROSSCOMPILING OR VIGIL_WIN_DEPS OR
     (DEFINED ENV{VIGIL_WIN_DEPS} AND NOT "$ENV{VIGIL_WIN_DEPS}" STREQUAL ""))
    set(_vigil_deps_source prefix)
  else()
    if(MINGW)
      find_package(PkgConfig QUIET)
    endif()
    if(MINGW AND PKG_CONFIG_FOUND)
      set(_vigil_deps_source pkg-config)
    else()
      set(_vigil_deps_source find)
    endif()
  endif()
endif()
if(NOT _vigil_deps_source MATCHES "^(prefix|pkg-config|find)$")
  message(FATAL_ERROR "VIGIL_WIN_DEPS_SOURCE must be auto, prefix, "
                      "pkg-config or find, not '${VIGIL_WIN_DEPS_SOURCE}'")
endif()
message(STATUS "Windows dependencies: ${_vigil_deps_source}")

# APR's own libraries on Windows need these (static APR; harmless for the DLL).
set(_vigil_apr_os_libs ws2_32 advapi32 shell32 rpcrt4 mswsock iphlpapi)

# ---------------------------------------------------------------------------
if(_vigil_deps_source STREQUAL "prefix")
  if(NOT VIGIL_WIN_DEPS)
    if(DEFINED ENV{VIGIL_WIN_DEPS} AND NOT "$ENV{VIGIL_WIN_DEPS}" STREQUAL "")
      set(VIGIL_WIN_DEPS "$ENV{VIGIL_WIN_DEPS}")
    else()
      get_filename_component(VIGIL_WIN_DEPS
        "${CMAKE_CURRENT_LIST_DIR}/../build-win/deps" ABSOLUTE)
    endif()
    set(VIGIL_WIN_DEPS "${VIGIL_WIN_DEPS}" CACHE PATH
        "Prefix holding the mingw builds of APR, libxml2 and CUnit")
  endif()

  foreach(_f include/apr-1/apr.h lib/libapr-1.a
             include/libxml2/libxml/xmlversion.h lib/libxml2.a
             include/CUnit/CUnit.h lib/libcunit.a)
    if(NOT EXISTS "${VIGIL_WIN_DEPS}/${_f}")
      message(FATAL_ERROR
        "Windows dependencies not found: ${VIGIL_WIN_DEPS}/${_f} is missing.\n"
        "Run scripts/build-win-deps.sh (or pass -DVIGIL_WIN_DEPS=<prefix>).")
    endif()
  endforeach()

  if(NOT TARGET PkgConfig::APR)
    add_library(PkgConfig::APR INTERFACE IMPORTED)
    set_target_properties(PkgConfig::APR PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_WIN_DEPS}/include/apr-1"
      INTERFACE_COMPILE_DEFINITIONS "APR_DECLARE_STATIC"
      INTERFACE_LINK_LIBRARIES
        "${VIGIL_WIN_DEPS}/lib/libapr-1.a;${_vigil_apr_os_libs}")
  endif()

  if(NOT TARGET PkgConfig::LIBXML2)
    add_library(PkgConfig::LIBXML2 INTERFACE IMPORTED)
    set_target_properties(PkgConfig::LIBXML2 PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_WIN_DEPS}/include/libxml2"
      INTERFACE_COMPILE_DEFINITIONS "LIBXML_STATIC"
      INTERFACE_LINK_LIBRARIES "${VIGIL_WIN_DEPS}/lib/libxml2.a;ws2_32;pthread")
  endif()

  if(NOT TARGET PkgConfig::CUNIT)
    add_library(PkgConfig::CUNIT INTERFACE IMPORTED)
    set_target_properties(PkgConfig::CUNIT PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_WIN_DEPS}/include"
      INTERFACE_LINK_LIBRARIES "${VIGIL_WIN_DEPS}/lib/libcunit.a")
  endif()

  set(APR_FOUND TRUE)
  set(LIBXML2_FOUND TRUE)
  set(CUNIT_FOUND TRUE)

# ---------------------------------------------------------------------------
elseif(_vigil_deps_source STREQUAL "pkg-config")
  # As on POSIX (Dependencies.cmake): MSYS2 ships apr-1.pc, libxml-2.0.pc
  # and cunit.pc with its mingw-w64-* packages.
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(APR REQUIRED IMPORTED_TARGET apr-1)
  pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
  if(VIGIL_BUILD_TESTS)
    pkg_check_modules(CUNIT REQUIRED IMPORTED_TARGET cunit)
  endif()

# ---------------------------------------------------------------------------
else() # find
  # libxml2: the config file its own CMake build installs (vcpkg's port
  # too), whose LibXml2::LibXml2 carries LIBXML_STATIC and ws2_32 when the
  # library is static; else CMake's FindLibXml2, which does not -- so a
  # static MinGW archive (libxml2.a) gets them here.
  find_package(LibXml2 CONFIG QUIET)
  if(NOT TARGET LibXml2::LibXml2)
    find_package(LibXml2 MODULE REQUIRED)
    if(LIBXML2_LIBRARY MATCHES "\\.a$" AND NOT LIBXML2_LIBRARY MATCHES "\\.dll\\.a$")
      set_property(TARGET LibXml2::LibXml2 APPEND PROPERTY
                   INTERFACE_COMPILE_DEFINITIONS LIBXML_STATIC)
      set_property(TARGET LibXml2::LibXml2 APPEND PROPERTY
                   INTERFACE_LINK_LIBRARIES ws2_32 Threads::Threads)
    endif()
  endif()
  if(NOT TARGET PkgConfig::LIBXML2)
    add_library(PkgConfig::LIBXML2 INTERFACE IMPORTED)
    set_target_properties(PkgConfig::LIBXML2 PROPERTIES
      INTERFACE_LINK_LIBRARIES LibXml2::LibXml2)
  endif()
  set(LIBXML2_FOUND TRUE)
  if(LibXml2_DIR AND NOT LIBXML2_LIBRARY)
    message(STATUS "libxml2: LibXml2::LibXml2 from ${LibXml2_DIR}")
  else()
    message(STATUS "libxml2: ${LIBXML2_LIBRARY}")
  endif()

  # APR: its CMake build (vcpkg's port uses it) installs apr.h into
  # include/ and builds apr-1.lib (static) and libapr-1.lib (import library
  # of libapr-1.dll); autotools installs include/apr-1.  A static triplet
  # prefers the static library.
  if(VCPKG_TARGET_TRIPLET MATCHES "static")
    set(_vigil_apr_names apr-1 libapr-1)
  else()
    set(_vigil_apr_names libapr-1 apr-1)
  endif()
  find_path(VIGIL_APR_INCLUDE_DIR apr.h PATH_SUFFIXES apr-1 apr)
  find_library(VIGIL_APR_LIBRARY NAMES ${_vigil_apr_names})
  if(NOT VIGIL_APR_INCLUDE_DIR OR NOT VIGIL_APR_LIBRARY)
    message(FATAL_ERROR
      "APR not found (apr.h: ${VIGIL_APR_INCLUDE_DIR}, library: "
      "${VIGIL_APR_LIBRARY}).  With vcpkg: `vcpkg install apr` and "
      "-DCMAKE_TOOLCHAIN_FILE=<vcpkg>/scripts/buildsystems/vcpkg.cmake; "
      "otherwise put its prefix on CMAKE_PREFIX_PATH, or set "
      "VIGIL_APR_INCLUDE_DIR and VIGIL_APR_LIBRARY.  See docs/windows-build.md.")
  endif()
  get_filename_component(_vigil_apr_file "${VIGIL_APR_LIBRARY}" NAME)
  if(NOT TARGET PkgConfig::APR)
    add_library(PkgConfig::APR INTERFACE IMPORTED)
    set_target_properties(PkgConfig::APR PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_APR_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${VIGIL_APR_LIBRARY};${_vigil_apr_os_libs}")
    # apr-1.lib (MSVC) and libapr-1.a (MinGW) are the static library: its
    # declarations must not be dllimport.
    if(_vigil_apr_file MATCHES "^(apr-1\\.lib|libapr-1\\.a)$")
      set_property(TARGET PkgConfig::APR PROPERTY
                   INTERFACE_COMPILE_DEFINITIONS APR_DECLARE_STATIC)
    endif()
  endif()
  set(APR_FOUND TRUE)
  message(STATUS "APR: ${VIGIL_APR_LIBRARY} (headers ${VIGIL_APR_INCLUDE_DIR})")

  if(VIGIL_BUILD_TESTS)
    # vcpkg's cunit port installs include/cunit/CUnit.h, which Windows'
    # case-insensitive file system serves as <CUnit/CUnit.h>.
    find_path(VIGIL_CUNIT_INCLUDE_DIR CUnit/CUnit.h)
    find_library(VIGIL_CUNIT_LIBRARY NAMES cunit libcunit)
    if(NOT VIGIL_CUNIT_INCLUDE_DIR OR NOT VIGIL_CUNIT_LIBRARY)
      message(FATAL_ERROR
        "CUnit not found (CUnit/CUnit.h: ${VIGIL_CUNIT_INCLUDE_DIR}, "
        "library: ${VIGIL_CUNIT_LIBRARY}).  With vcpkg: `vcpkg install "
        "cunit`; or configure with -DVIGIL_BUILD_TESTS=OFF.")
    endif()
    if(NOT TARGET PkgConfig::CUNIT)
      add_library(PkgConfig::CUNIT INTERFACE IMPORTED)
      set_target_properties(PkgConfig::CUNIT PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_CUNIT_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "${VIGIL_CUNIT_LIBRARY}")
    endif()
    set(CUNIT_FOUND TRUE)
  endif()
endif()

# ---------------------------------------------------------------------------
# MSVC: the C compiler takes /std:c11 (Visual Studio 2019 16.8 or later,
# and CMake 3.21 or later to pass it) but has no _Thread_local keyword in
# C; its __declspec(thread) means the same for the static and extern
# variables the PAL declares with it.  Only where the keyword is missing.
if(MSVC)
  include(CheckCSourceCompiles)
  check_c_source_compiles(
    "static _Thread_local int vigil_tls; int main(void) { return vigil_tls; }"
    VIGIL_HAVE_THREAD_LOCAL_KEYWORD)
  if(NOT VIGIL_HAVE_THREAD_LOCAL_KEYWORD)
    add_compile_definitions("_Thread_local=__declspec(thread)")
  endif()
endif()
