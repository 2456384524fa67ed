# Dependencies: pkg-config on POSIX; on the mingw cross build, the prefix
# that scripts/build-win-deps.sh fills (cmake/WinDeps.cmake defines the same
# imported target names).
find_package(Threads REQUIRED)
if(WIN32)
  include(WinDeps)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(APR REQUIRED IMPORTED_TARGET apr-1)
  pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
  if(VIGIL_BUILD_TESTS)
    pkg_check_modules(CUNIT REQUIRED IMPORTED_TARGET cunit)
  endif()
endif()
