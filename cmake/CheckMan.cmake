# CheckMan.cmake -- the man pages cannot fall behind the program (ctest
# man_vigil1, man_vigil_xml5; cmake/Install.cmake registers them):
#
#   cmake -DPAGE=vigil.1 -DSCD=docs/man/vigil.1.scd -DVIGIL=BIN
#         -DCLI_H=services/cli.h -P cmake/CheckMan.cmake
#     every command `vigil help` lists (as *COMMAND*), every option of
#     each command's help (as *--long* and *-x*), and every exit code of
#     services/cli.h (as *N*) is in vigil(1);
#   cmake -DPAGE=vigil.xml.5 -DSCD=docs/man/vigil.xml.5.scd
#         -DXSD=config/vigil.xsd -P cmake/CheckMan.cmake
#     every element of the schema (as <NAME>, <NAME/ or <NAME followed by
#     a space) and every attribute (as *NAME*) is in vigil.xml(5).
#
# Each missing name is printed; any makes the test fail.
file(READ "${SCD}" scd)
set(missing "")

macro(need text what)
  string(FIND "${scd}" "${text}" _at)
  if(_at EQUAL -1)
    list(APPEND missing "${what}")
  endif()
endmacro()

if(PAGE STREQUAL "vigil.1")
  execute_process(COMMAND "${VIGIL}" help OUTPUT_VARIABLE overview
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${VIGIL} help failed (${rc})")
  endif()
  # The overview's command lines: two spaces, then lowercase words up to
  # the first argument or option (start NAME|all: start; service
  # install -c FILE: service install).
  string(REPLACE "\n" ";" lines "${overview}")
  set(commands "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^  ([a-z][a-z-]*( [a-z][a-z-]*)*)( |$)")
      list(APPEND commands "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  list(LENGTH commands n)
  if(n LESS 8)
    message(FATAL_ERROR
            "found only ${n} commands in `vigil help`:\n${overview}")
  endif()
  foreach(cmd IN LISTS commands)
    need("*${cmd}*" "the command ${cmd}")
    string(REPLACE " " ";" words "${cmd}")
    execute_process(COMMAND "${VIGIL}" ${words} --help
                    OUTPUT_VARIABLE help RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      list(APPEND missing "(vigil ${cmd} --help failed: ${rc})")
    endif()
    string(REPLACE "\n" ";" hl "${help}")
    foreach(line IN LISTS hl)
      if(line MATCHES "^  (-[a-zA-Z])(, (--[a-z-]+))?( |$)")
        need("*${CMAKE_MATCH_1}*" "the option ${CMAKE_MATCH_1} of ${cmd}")
        if(CMAKE_MATCH_3)
          need("*${CMAKE_MATCH_3}*" "the option ${CMAKE_MATCH_3} of ${cmd}")
        endif()
      elseif(line MATCHES "^      (--[a-z-]+)( |$)")
        need("*${CMAKE_MATCH_1}*" "the option ${CMAKE_MATCH_1} of ${cmd}")
      endif()
    endforeach()
  endforeach()
  file(STRINGS "${CLI_H}" codes REGEX "SVC_EX_[A-Z]+ = [0-9]+")
  list(LENGTH codes n)
  if(n LESS 5)
    message(FATAL_ERROR "found only ${n} exit codes in ${CLI_H}")
  endif()
  foreach(line IN LISTS codes)
    string(REGEX MATCH "= ([0-9]+)" _ "${line}")
    need("\n*${CMAKE_MATCH_1}*\n" "the exit code ${CMAKE_MATCH_1}")
  endforeach()
elseif(PAGE STREQUAL "vigil.xml.5")
  file(READ "${XSD}" xsd)
  string(REGEX MATCHALL "<xs:element name=\"[^\"]+\"" els "${xsd}")
  string(REGEX MATCHALL "<xs:attribute name=\"[^\"]+\"" atts "${xsd}")
  list(LENGTH els ne)
  list(LENGTH atts na)
  if(ne LESS 20 OR na LESS 20)
    message(FATAL_ERROR "found only ${ne} elements, ${na} attributes in ${XSD}")
  endif()
  list(REMOVE_DUPLICATES els)
  list(REMOVE_DUPLICATES atts)
  foreach(e IN LISTS els)
    string(REGEX REPLACE ".*name=\"([^\"]+)\"" "\\1" e "${e}")
    string(FIND "${scd}" "<${e}>" a1)
    string(FIND "${scd}" "<${e} " a2)
    string(FIND "${scd}" "<${e}/" a3)
    if(a1 EQUAL -1 AND a2 EQUAL -1 AND a3 EQUAL -1)
      list(APPEND missing "the element <${e}>")
    endif()
  endforeach()
  foreach(a IN LISTS atts)
    string(REGEX REPLACE ".*name=\"([^\"]+)\"" "\\1" a "${a}")
    need("*${a}*" "the attribute ${a}")
  endforeach()
else()
  message(FATAL_ERROR "PAGE must be vigil.1 or vigil.xml.5")
endif()

if(missing)
  list(JOIN missing "\n  " m)
  message(FATAL_ERROR "${SCD} does not document:\n  ${m}")
endif()
message(STATUS "${SCD}: documents everything it must")
