# Dependencies: pkg-config on POSIX; on the mingw cross build, the prefix
# that scripts/build-win-deps.sh fills (cmake/WinDeps.cmake defines the same
# imported target names).
find_package(Threads REQUIRED)
if(WIN32)
  include(WinDeps)
else()
  find_package(PkgConfig REQUIRED)
  # APR: the shared library, or (VIGIL_STATIC_APR) its static archive
  # and libuuid's, which libapr1-dev and uuid-dev ship.  Linked
  # statically, the supervisor maps only the APR code it calls, with no
  # relocations of its own: about 0.2 MiB less memory per supervisor
  # (docs/PERFORMANCE.md, "the supervisor's memory").  AUTO: static when
  # both archives are there and the libraries are static (a shared
  # libvigil links the shared APR), except with VIGIL_BUILD_PERF:
  # perf/alloc_hook.c counts APR's allocations by interposing the shared
  # library's apr_palloc.  The target keeps the name PkgConfig::APR, so
  # the installed CMake package (which finds APR itself) is the same.
  set(VIGIL_STATIC_APR AUTO CACHE STRING
      "Link APR statically (ON), the shared libapr-1 (OFF), or the first if possible (AUTO)")
  set_property(CACHE VIGIL_STATIC_APR PROPERTY STRINGS AUTO ON OFF)
  set(_vigil_apr_static OFF)
  if(NOT VIGIL_STATIC_APR STREQUAL "OFF" AND NOT BUILD_SHARED_LIBS AND
     NOT APPLE AND
     NOT (VIGIL_BUILD_PERF AND VIGIL_STATIC_APR STREQUAL "AUTO"))
    pkg_check_modules(APR REQUIRED apr-1)
    find_library(VIGIL_APR_ARCHIVE NAMES libapr-1.a
                 HINTS ${APR_LIBRARY_DIRS} ${APR_LIBDIR})
    find_library(VIGIL_UUID_ARCHIVE NAMES libuuid.a
                 HINTS ${APR_LIBRARY_DIRS} ${APR_LIBDIR})
    if(VIGIL_APR_ARCHIVE AND VIGIL_UUID_ARCHIVE)
      set(_vigil_apr_static ON)
    elseif(NOT VIGIL_STATIC_APR STREQUAL "AUTO")   # ON
      message(FATAL_ERROR "VIGIL_STATIC_APR=ON, but libapr-1.a or libuuid.a "
              "is missing (libapr1-dev, uuid-dev)")
    endif()
  elseif(VIGIL_STATIC_APR AND NOT VIGIL_STATIC_APR STREQUAL "AUTO")
    message(FATAL_ERROR "VIGIL_STATIC_APR=ON needs static libraries "
            "(BUILD_SHARED_LIBS OFF) and ELF")
  endif()
  if(_vigil_apr_static)
    add_library(PkgConfig::APR STATIC IMPORTED)
    set_target_properties(PkgConfig::APR PROPERTIES
      IMPORTED_LOCATION "${VIGIL_APR_ARCHIVE}"
      INTERFACE_INCLUDE_DIRECTORIES "${APR_INCLUDE_DIRS}"
      INTERFACE_COMPILE_OPTIONS "${APR_CFLAGS_OTHER}"
      INTERFACE_LINK_LIBRARIES "${VIGIL_UUID_ARCHIVE};Threads::Threads")
    message(STATUS "APR: static, ${VIGIL_APR_ARCHIVE}")
  else()
    pkg_check_modules(APR REQUIRED IMPORTED_TARGET apr-1)
    message(STATUS "APR: shared, ${APR_LINK_LIBRARIES}")
  endif()
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
    # libm only for a build made before cmake/libxml2-nolibm.patch (its
    # stamp does not say "nolibm"): no libm mapped, up to 170 KiB less.
    set(_vigil_xml_libm m)
    if(EXISTS "${VIGIL_LIBXML2_DIR}/.stamp")
      # A rebuilt library (a new stamp) configures again.
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                   "${VIGIL_LIBXML2_DIR}/.stamp")
      file(READ "${VIGIL_LIBXML2_DIR}/.stamp" _vigil_xml_stamp)
      if(_vigil_xml_stamp MATCHES "^build-libxml2 nolibm ")
        set(_vigil_xml_libm "")
      endif()
    endif()
    add_library(PkgConfig::LIBXML2 INTERFACE IMPORTED)
    set_target_properties(PkgConfig::LIBXML2 PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${VIGIL_LIBXML2_DIR}/include/libxml2"
      INTERFACE_COMPILE_DEFINITIONS "LIBXML_STATIC"
      INTERFACE_LINK_LIBRARIES
        "${_vigil_xml_lib};${_vigil_xml_libm};Threads::Threads")
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
