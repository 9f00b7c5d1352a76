# Compiler flags shared by every target of the project.
add_compile_options(-Wall -Wextra -Wpedantic -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_compile_options(-Wshadow=local)
endif()
if(FPCONFORM_WERROR)
  add_compile_options(-Werror)
endif()

if(FPCONFORM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

if(FPCONFORM_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# concurrency_tests builds every test labelled "concurrency" and what those tests run: the
# set the tsan presets build and run (CMakePresets.json).
add_custom_target(concurrency_tests)

# fpconform_test(NAME SOURCES... LIBS... [LABELS label...] [PREFIX prefix] [TIMEOUT s]): a
# GoogleTest executable registered with ctest, one ctest test per test case (named
# PREFIX<Suite>.<Case>), labelled "unit" unless told. Label the tests that exercise threads,
# processes and signals "concurrency" as well: the tsan preset runs exactly those, and
# concurrency_tests builds them. (LABEL is the older spelling of LABELS.)
function(fpconform_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;LABEL;PREFIX" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set(labels ${ARG_LABEL} ${ARG_LABELS})
  if(NOT labels)
    set(labels unit)
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${ARG_PREFIX}" TEST_LIST ${name}_TESTS
                       DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  # PROPERTIES is a flat list, so a list of labels cannot go through it: a script run by
  # ctest after the discovered tests are added sets them on every one (${name}_TESTS).
  set(labels_script "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
  file(WRITE "${labels_script}"
       "if(DEFINED ${name}_TESTS)\n"
       "  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${labels}\")\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_script}")
  if("concurrency" IN_LIST labels)
    add_dependencies(concurrency_tests ${name})
  endif()
endfunction()
