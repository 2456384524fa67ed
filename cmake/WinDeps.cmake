# WinDeps.cmake -- dependencies for the Windows (mingw-w64) cross build.
#
# Included from Dependencies.cmake under if(WIN32) instead of pkg-config.
# Defines the same imported targets pkg_check_modules(... IMPORTED_TARGET)
# gives on POSIX, from the static libraries scripts/build-win-deps.sh puts
# into VIGIL_WIN_DEPS (set by cmake/toolchain-mingw64.cmake):
#
#   PkgConfig::APR      include/apr-1, lib/libapr-1.a        APR_DECLARE_STATIC
#   PkgConfig::LIBXML2  include/libxml2, lib/libxml2.a       LIBXML_STATIC
#   PkgConfig::CUNIT    include (CUnit/*.h), lib/libcunit.a
#
# libxml2 was built against mingw's winpthreads, hence -lpthread; link
# executables with -static (the toolchain file does) so that Wine needs no
# libwinpthread-1.dll.

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
      "${VIGIL_WIN_DEPS}/lib/libapr-1.a;ws2_32;advapi32;shell32;rpcrt4;mswsock;iphlpapi")
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

# What pkg_check_modules would have set, for messages and checks.
set(APR_FOUND TRUE)
set(LIBXML2_FOUND TRUE)
set(CUNIT_FOUND TRUE)
