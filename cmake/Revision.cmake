# FPCONFORM_REVISION: the git commit the source tree is at, read at configure time; empty
# when the source is not a git checkout or git is missing (never an error). The configure
# step runs again when the checked-out commit changes, so the revision does not go stale.
set(FPCONFORM_REVISION "")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse HEAD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE _fpconform_revision OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _fpconform_git_status ERROR_QUIET)
  if(_fpconform_git_status EQUAL 0 AND _fpconform_revision MATCHES "^[0-9a-f]+$")
    set(FPCONFORM_REVISION ${_fpconform_revision})
    # HEAD, the branch it names and packed-refs: what a commit or a checkout changes.
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --symbolic-full-name HEAD
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                    OUTPUT_VARIABLE _fpconform_ref OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    foreach(_fpconform_git_file HEAD packed-refs ${_fpconform_ref})
      execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --path-format=absolute
                              --git-path ${_fpconform_git_file}
                      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                      OUTPUT_VARIABLE _fpconform_git_path OUTPUT_STRIP_TRAILING_WHITESPACE
                      ERROR_QUIET)
      if(_fpconform_git_path AND EXISTS "${_fpconform_git_path}")
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_fpconform_git_path})
      endif()
    endforeach()
  endif()
endif()
