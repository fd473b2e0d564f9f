# Helpers that give every Strata target the same flags. Warnings apply to our
# code only; third-party headers come in as SYSTEM includes.
set(STRATA_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(STRATA_WERROR)
  list(APPEND STRATA_WARNINGS -Werror)
endif()

if(STRATA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# strata_library(NAME SOURCES... DEPS ...): one library target per folder.
function(strata_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${STRATA_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# strata_test(NAME SOURCES... DEPS ...): a Catch2 test binary registered with CTest.
function(strata_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${STRATA_WARNINGS})
  target_link_libraries(${name} PRIVATE Catch2::Catch2WithMain ${A_DEPS})
  catch_discover_tests(${name} PROPERTIES LABELS "unit;${A_LABELS}")
endfunction()
