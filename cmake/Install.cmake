# Install.cmake -- what `cmake --install BUILD [--prefix P]` puts in place:
#
#   bin/vigil                               the supervisor (vigil.exe)
#   lib/libvigil.a                          libvigil, pal inside it; with
#                                           -DBUILD_SHARED_LIBS=ON the
#                                           shared library instead, soname
#                                           libvigil.so.MAJOR (0.x: .0.MINOR)
#   include/vigil/                          vigil.h, vigil_fiber.h, pal.h:
#                                           what libvigil's users include
#   lib/pkgconfig/libvigil.pc               Requires: apr-1
#   lib/cmake/vigil/                        find_package(vigil): vigil::vigil
#   share/vigil/vigil.xsd                   the schema of the config
#   share/man/man1/vigil.1,
#   share/man/man5/vigil.xml.5              when scdoc is there (docs/man/)
#   share/bash-completion/completions/vigil
#
# The version is project(VERSION), read from core/include/vigil.h.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# --- libvigil ------------------------------------------------------------
# An ABI is not promised before 1.0: each 0.MINOR is its own soname.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(VIGIL_SOVERSION 0.${PROJECT_VERSION_MINOR})
else()
  set(VIGIL_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
set_target_properties(vigil PROPERTIES
  VERSION ${PROJECT_VERSION} SOVERSION ${VIGIL_SOVERSION})
if(BUILD_SHARED_LIBS)
  set_target_properties(pal PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # Only the public API is exported: the vg_ and pal_ functions of the
  # installed headers; internals are vg__/pal__ (cmake/libvigil.map).
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" AND NOT APPLE AND NOT WIN32)
    set(_vigil_map ${CMAKE_CURRENT_LIST_DIR}/libvigil.map)
    target_link_options(vigil PRIVATE "LINKER:--version-script=${_vigil_map}")
    set_property(TARGET vigil APPEND PROPERTY LINK_DEPENDS ${_vigil_map})
  endif()
endif()
target_include_directories(vigil INTERFACE
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/vigil>)

set(VIGIL_PUBLIC_HEADERS
  ${PROJECT_SOURCE_DIR}/core/include/vigil.h
  ${PROJECT_SOURCE_DIR}/core/include/vigil_fiber.h
  ${PROJECT_SOURCE_DIR}/pal/include/pal.h)
set(VIGIL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/vigil)

install(TARGETS vigil EXPORT vigilTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib
          NAMELINK_COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT lib)
install(FILES ${VIGIL_PUBLIC_HEADERS}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vigil COMPONENT dev)
install(EXPORT vigilTargets NAMESPACE vigil:: FILE vigilTargets.cmake
  DESTINATION ${VIGIL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vigilConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vigilConfig.cmake
  INSTALL_DESTINATION ${VIGIL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vigilConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vigilConfig.cmake
              ${PROJECT_BINARY_DIR}/vigilConfigVersion.cmake
  DESTINATION ${VIGIL_CMAKEDIR} COMPONENT dev)

# pkg-config: APR is public (vigil.h includes its headers); the thread
# and OS libraries are private (static linking: pkg-config --static).
# The prefix is found from the .pc file's own place, so that an install
# with --prefix P (or DESTDIR) is right wherever it lands.
set(VIGIL_PC_LIBS_PRIVATE "${CMAKE_THREAD_LIBS_INIT}")
foreach(lib ${PAL_OS_LIBS})
  string(APPEND VIGIL_PC_LIBS_PRIVATE " -l${lib}")
endforeach()
string(STRIP "${VIGIL_PC_LIBS_PRIVATE}" VIGIL_PC_LIBS_PRIVATE)
if(VIGIL_PC_LIBS_PRIVATE)
  set(VIGIL_PC_LIBS_PRIVATE "Libs.private: ${VIGIL_PC_LIBS_PRIVATE}")
endif()
file(RELATIVE_PATH VIGIL_PC_UP /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
string(REGEX REPLACE "/$" "" VIGIL_PC_UP "${VIGIL_PC_UP}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/libvigil.pc.in
  ${PROJECT_BINARY_DIR}/libvigil.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/libvigil.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# --- the vigil program and its files ---------------------------------------
if(BUILD_SHARED_LIBS AND NOT WIN32 AND NOT APPLE)
  # An installed vigil finds its libvigil wherever the prefix lands.
  file(RELATIVE_PATH _vigil_bin_to_lib /x/${CMAKE_INSTALL_BINDIR}
       /x/${CMAKE_INSTALL_LIBDIR})
  set_target_properties(vigil-bin PROPERTIES
    INSTALL_RPATH "$ORIGIN/${_vigil_bin_to_lib}")
endif()
install(TARGETS vigil-bin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT bin)
install(FILES ${PROJECT_SOURCE_DIR}/config/vigil.xsd
  DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil COMPONENT bin)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/bash-completion/vigil
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  COMPONENT bin)

# Man pages from their scdoc sources (docs/man/*.scd), when scdoc is
# there; VIGIL_MAN=ON makes its absence an error (scripts/package.sh).
find_program(VIGIL_SCDOC scdoc)
option(VIGIL_MAN "Require scdoc and build the man pages" OFF)
if(VIGIL_SCDOC)
  set(_vigil_man_out "")
  foreach(page vigil.1 vigil.xml.5)
    set(_src ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
    set(_out ${PROJECT_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${_out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND sh -c "\"$0\" <\"$1\" >\"$2\"" ${VIGIL_SCDOC} ${_src} ${_out}
      DEPENDS ${_src} COMMENT "scdoc ${page}" VERBATIM)
    list(APPEND _vigil_man_out ${_out})
    string(REGEX REPLACE ".*\\." "" _sect ${page})
    install(FILES ${_out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_sect}
      COMPONENT bin)
  endforeach()
  add_custom_target(vigil-man ALL DEPENDS ${_vigil_man_out})
elseif(VIGIL_MAN)
  message(FATAL_ERROR "VIGIL_MAN=ON but scdoc is missing "
                      "(apt-get install scdoc; scripts/bootstrap.sh)")
else()
  message(STATUS "scdoc not found: the man pages are not built or installed")
endif()

# The man pages document every command, option and exit code of the CLI
# and every element and attribute of the schema (cmake/CheckMan.cmake).
if(VIGIL_BUILD_TESTS AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME man_vigil1 COMMAND ${CMAKE_COMMAND} -DPAGE=vigil.1
    -DSCD=${PROJECT_SOURCE_DIR}/docs/man/vigil.1.scd
    -DVIGIL=$<TARGET_FILE:vigil-bin>
    -DCLI_H=${PROJECT_SOURCE_DIR}/services/cli.h
    -P ${CMAKE_CURRENT_LIST_DIR}/CheckMan.cmake)
  add_test(NAME man_vigil_xml5 COMMAND ${CMAKE_COMMAND} -DPAGE=vigil.xml.5
    -DSCD=${PROJECT_SOURCE_DIR}/docs/man/vigil.xml.5.scd
    -DXSD=${PROJECT_SOURCE_DIR}/config/vigil.xsd
    -P ${CMAKE_CURRENT_LIST_DIR}/CheckMan.cmake)
endif()
