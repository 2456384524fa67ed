# Dependencies through pkg-config on POSIX.  (The Windows cross build
# supplies them from its own prefix; see the toolchain file.)
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(APR REQUIRED IMPORTED_TARGET apr-1)
pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
if(VIGIL_BUILD_TESTS)
  pkg_check_modules(CUNIT REQUIRED IMPORTED_TARGET cunit)
endif()
