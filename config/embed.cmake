# embed.cmake -- write a C source holding the bytes of a file, so that the
# library carries config/vigil.xsd and needs no file at run time.
#
#   cmake -DIN=vigil.xsd -DOUT=cfg_schema.c -P embed.cmake
#
# Defines `const unsigned char cfg__schema_xsd[]` (NUL-terminated) and
# `const size_t cfg__schema_xsd_len` (without the NUL).  The output is
# rewritten only when it changes.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f]," 12 row)
string(REGEX REPLACE "(${row})" "\\1\n  " bytes "${bytes}")
get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
"/* Generated from config/${name} by config/embed.cmake: do not edit. */
#include \"cfg_int.h\"

const unsigned char cfg__schema_xsd[] = {
  ${bytes}0x00
};
const size_t cfg__schema_xsd_len = ${len};
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different
                "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
