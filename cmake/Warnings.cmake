# One place for compiler warnings (-Wall -Wextra and more), applied per target.
include(CheckCCompilerFlag)

set(VIGIL_WARNING_FLAGS "")
foreach(flag
    -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wundef -Wwrite-strings
    -Wold-style-definition -Wnested-externs -Wno-unused-parameter
    -Wimplicit-fallthrough -Wvla)
  string(MAKE_C_IDENTIFIER "HAVE_FLAG${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    list(APPEND VIGIL_WARNING_FLAGS ${flag})
  endif()
endforeach()
if(VIGIL_WERROR)
  list(APPEND VIGIL_WARNING_FLAGS -Werror)
endif()

function(vigil_warnings target)
  target_compile_options(${target} PRIVATE ${VIGIL_WARNING_FLAGS})
endfunction()
