# CMake toolchain file: cross-compile for 64-bit Windows with mingw-w64
# (Debian 12 packages mingw-w64, wine, wine64), run under Wine.
#
#   scripts/build-win-deps.sh            # once per machine: APR, libxml2, CUnit
#   cmake -S . -B build-win/vigil \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
#   cmake --build build-win/vigil
#   (cd build-win/vigil && WINEDEBUG=-all ctest)
#
# The dependency prefix is the cache variable VIGIL_WIN_DEPS (default: the
# environment variable VIGIL_WIN_DEPS, else build-win/deps in the source
# tree -- the same default as scripts/build-win-deps.sh).  The imported
# targets PkgConfig::APR / ::LIBXML2 / ::CUNIT are defined from it by
# cmake/WinDeps.cmake.
#
# Executables are linked with -static: libgcc and winpthreads (which libxml2
# uses) are then inside the .exe, and Wine needs no mingw DLLs on its path.
# This file is also used by build-win-deps.sh to build the dependencies.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VIGIL_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER   ${VIGIL_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${VIGIL_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER  ${VIGIL_MINGW_TRIPLE}-windres)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Dependency prefix.
if(DEFINED ENV{VIGIL_WIN_DEPS} AND NOT "$ENV{VIGIL_WIN_DEPS}" STREQUAL "")
  set(_vigil_win_deps_default "$ENV{VIGIL_WIN_DEPS}")
else()
  get_filename_component(_vigil_win_deps_default
    "${CMAKE_CURRENT_LIST_DIR}/../build-win/deps" ABSOLUTE)
endif()
set(VIGIL_WIN_DEPS "${_vigil_win_deps_default}" CACHE PATH
    "Prefix holding the mingw builds of APR, libxml2 and CUnit (scripts/build-win-deps.sh)")

# Run cross-built programs (ctest, try_run, custom commands on targets)
# under Wine.  Set WINEDEBUG=-all in the environment to quiet it.
find_program(VIGIL_WINE wine)
if(VIGIL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${VIGIL_WINE}")
endif()

# Search the mingw sysroot and the deps prefix only, for libraries,
# headers and packages; programs come from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${VIGIL_MINGW_TRIPLE} "${VIGIL_WIN_DEPS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
