# Dependencies: pkg-config on POSIX; on the mingw cross build, the prefix
# that scripts/build-win-deps.sh fills (cmake/WinDeps.cmake defines the same
# imported target names).
find_package(Threads REQUIRED)
if(WIN32)
  include(WinDeps)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(APR REQUIRED IMPORTED_TARGET apr-1)
  # libxml2: the minimal static build scripts/build-libxml2.sh leaves in
  # build-deps/libxml2 (no ICU, hence no libstdc++: about 2.7 MiB less
  # memory for the supervisor; docs/PERFORMANCE.md), else the system's.
  # AUTO picks the bundled one when it is there, at every configure.
  set(VIGIL_BUNDLED_LIBXML2 AUTO CACHE STRING
      "Link build-deps/libxml2 (ON), the pkg-config libxml-2.0 (OFF), or the first if present (AUTO)")
  set_property(CACHE VIGIL_BUNDLED_LIBXML2 PROPERTY STRINGS AUTO ON OFF)
  set(VIGIL_LIBXML2_DIR "${PROJECT_SOURCE_DIR}/build-deps/libxml2" CACHE PATH
      "Prefix of the bundled static libxml2")
  set(_vigil_xml_lib "${VIGIL_LIBXML2_DIR}/lib/libxml2.a")
  if(VIGIL_BUNDLED_LIBXML2 STREQUAL "AUTO")
    if(EXISTS "${_vigil_xml_lib}")
      set(_vigil_xml_bundled ON)
    else()
      set(_vigil_xml_bundled OFF)
    endif()
  elseif(VIGIL_BUNDLED_LIBXML2)
    if(NOT EXISTS "${_vigil_xml_lib}")
      message(FATAL_ERROR "VIGIL_BUNDLED_LIBXML2=ON, but ${_vigil_xml_lib} "
              "is missing: run scripts/build-libxml2.sh")
    endif()
    set(_vigil_xml_bundled ON)
  else()
    set(_vigil_xml_bundled OFF)
  endif()
  if(_vigil_xml_bundled)
    add_library(PkgConfig::LIBXML2 INTERFACE IMPORTED)
    set_target_properties(PkgConfig::LIBXML2 PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_LIBXML2_DIR}/include/libxml2"
      INTERFACE_COMPILE_DEFINITIONS "LIBXML_STATIC"
      INTERFACE_LINK_LIBRARIES "${_vigil_xml_lib};m;Threads::Threads")
    set(LIBXML2_FOUND TRUE)
    message(STATUS "libxml2: bundled, ${_vigil_xml_lib}")
  else()
    pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
    message(STATUS "libxml2: system, ${LIBXML2_LINK_LIBRARIES}")
  endif()
  if(VIGIL_BUILD_TESTS)
    pkg_check_modules(CUNIT REQUIRED IMPORTED_TARGET cunit)
  endif()
endif()
