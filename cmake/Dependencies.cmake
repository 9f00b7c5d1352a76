# Third-party dependencies, all from Debian 12 packages (see scripts/packages.txt).
find_package(OpenSSL 3.0 REQUIRED)
find_package(GTest REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(CLI11 2.1 CONFIG REQUIRED)
find_package(Threads REQUIRED)
if(FPCONFORM_BENCH)
  find_package(benchmark REQUIRED)
endif()
find_package(PkgConfig REQUIRED)
# The C++ build of Lua, so that a Lua error raised through C++ frames runs destructors.
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4-c++)
# RE2 for the scenarios' diagnostic patterns: linear-time matching without recursion.
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
include(GoogleTest)
