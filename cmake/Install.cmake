# `cmake --install` and the .deb (CPack): the three programs in <prefix>/bin, the data in
# <prefix>/share/fpconform (the layout of the source tree: certs/pki.json, fixtures/,
# scenarios/, harness/targets/), the documents in <prefix>/share/doc/fpconform. An installed
# program finds the data relative to itself (base/installed.h), so the prefix can be anything
# and the tree can move. tests/install/ checks both.
include(GNUInstallDirs)

install(TARGETS fpconform fpref fpcerts RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(_fpconform_data ${CMAKE_INSTALL_DATADIR}/fpconform)
install(FILES certs/pki.json DESTINATION ${_fpconform_data}/certs)
install(DIRECTORY fixtures/ DESTINATION ${_fpconform_data}/fixtures)
install(DIRECTORY scenarios/ DESTINATION ${_fpconform_data}/scenarios)

# The built-in descriptors name fpref as {build}/reference/fpref; installed, {build} is the
# directory of the installed programs, where fpref lies beside fpconform.
file(GLOB _fpconform_descriptors CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/harness/targets/*.json)
foreach(_descriptor IN LISTS _fpconform_descriptors)
  get_filename_component(_name ${_descriptor} NAME)
  file(READ ${_descriptor} _text)
  string(REPLACE "{build}/reference/fpref" "{build}/fpref" _text "${_text}")
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/install/targets/${_name} CONTENT "${_text}" @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/install/targets/${_name}
          DESTINATION ${_fpconform_data}/harness/targets)
endforeach()

install(FILES README.md CHANGELOG.md LICENSE harness/PORTING.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ci/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/ci)

# The .deb: `cpack -G DEB --config <build>/CPackConfig.cmake` writes
# fpconform_<version>_<arch>.deb; `apt-get install ./fpconform_*.deb` pulls in the shared
# libraries. With dpkg-shlibdeps (dpkg-dev) the dependencies come from the binaries, else
# from the list below (Debian 12's packages of the libraries the programs link).
set(CPACK_PACKAGE_NAME fpconform)
set(CPACK_PACKAGE_VENDOR "fpconform")
set(CPACK_PACKAGE_CONTACT "fpconform maintainers <fpconform@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Conformance suite for certificate fingerprint validation in ThingWorx EMS and LSR clients")
set(CPACK_PACKAGE_DESCRIPTION
    "fpconform runs an EMS or LSR client against loopback TLS servers and reports, clause by\n"
    "clause, whether it accepts, rejects and exits as its documentation says. It installs\n"
    "fpconform, the reference target fpref, the test PKI generator fpcerts and the catalog.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "curl, openssl")
find_program(FPCONFORM_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(FPCONFORM_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), libssl3 (>= 3.0.0), liblua5.4-0 (>= 5.4.4), libre2-9 (>= 20220601)")
endif()
set(CPACK_GENERATOR DEB)
include(CPack)
