# Runs ports/xlens/portfile.cmake without vcpkg: the vcpkg helper functions the port calls are
# stood in for by plain CMake that does what vcpkg's do for a header-only, release-only port, plus
# the vcpkg post-build checks that apply. Usage:
#   cmake -DPORT_DIR=<src>/ports/xlens -DSTAGING=<prefix> -DBUILDTREES=<dir> -P vcpkg_shim.cmake
# What this cannot check: vcpkg's own resolution of the dependencies (xtensor, openblas, ... come
# from Debian here) and its binary caching.
cmake_minimum_required(VERSION 3.25)
foreach(var PORT_DIR STAGING BUILDTREES)
  if(NOT ${var})
    message(FATAL_ERROR "vcpkg_shim: -D${var}=... is required")
  endif()
endforeach()

file(READ "${PORT_DIR}/vcpkg.json" manifest)
string(JSON PORT GET "${manifest}" name)
string(JSON VERSION GET "${manifest}" version)
set(CURRENT_PACKAGES_DIR "${STAGING}")
set(CURRENT_BUILDTREES_DIR "${BUILDTREES}")
set(TARGET_TRIPLET x64-linux)
set(VCPKG_TARGET_IS_LINUX ON)
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}" "${CURRENT_BUILDTREES_DIR}")
file(MAKE_DIRECTORY "${CURRENT_PACKAGES_DIR}" "${CURRENT_BUILDTREES_DIR}")

function(shim_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "vcpkg_shim: '${ARGN}' failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

function(vcpkg_cmake_configure)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS;OPTIONS_RELEASE;OPTIONS_DEBUG")
  if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
    message(FATAL_ERROR "vcpkg_shim: a header-only port should set VCPKG_BUILD_TYPE release")
  endif()
  shim_run(${CMAKE_COMMAND} -S "${arg_SOURCE_PATH}" -B "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel"
           -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}" ${arg_OPTIONS} ${arg_OPTIONS_RELEASE})
endfunction()

function(vcpkg_cmake_install)
  shim_run(${CMAKE_COMMAND} --build "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel")
  shim_run(${CMAKE_COMMAND} --install "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel")
endfunction()

# vcpkg's version moves a config from CONFIG_PATH to share/<PACKAGE_NAME> and rewrites its relative
# paths; the shim accepts only a config already there (as xlens installs it), so nothing needs rewriting.
function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "PACKAGE_NAME;CONFIG_PATH" "")
  if(NOT arg_CONFIG_PATH STREQUAL "share/${arg_PACKAGE_NAME}")
    message(FATAL_ERROR "vcpkg_shim: config expected at share/${arg_PACKAGE_NAME}, the port says ${arg_CONFIG_PATH}")
  endif()
  if(NOT EXISTS "${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH}/${arg_PACKAGE_NAME}Config.cmake")
    message(FATAL_ERROR "vcpkg_shim: no ${arg_PACKAGE_NAME}Config.cmake in ${arg_CONFIG_PATH}")
  endif()
endfunction()

function(vcpkg_fixup_pkgconfig)
  file(GLOB pcs "${CURRENT_PACKAGES_DIR}/share/pkgconfig/*.pc" "${CURRENT_PACKAGES_DIR}/lib/pkgconfig/*.pc")
  if(NOT pcs)
    message(FATAL_ERROR "vcpkg_shim: the port installs no pkg-config file")
  endif()
endfunction()

function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
  set(text "")
  foreach(f ${arg_FILE_LIST})
    file(READ "${f}" part)
    string(APPEND text "${part}")
  endforeach()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${text}")
endfunction()

include("${PORT_DIR}/portfile.cmake")

# ---- vcpkg's post-build checks that apply to a header-only port -----------------------------------
file(GLOB top RELATIVE "${CURRENT_PACKAGES_DIR}" "${CURRENT_PACKAGES_DIR}/*")
list(SORT top)
if(NOT top STREQUAL "include;share")
  message(FATAL_ERROR "vcpkg_shim: the package should hold only include/ and share/, it holds: ${top}")
endif()
foreach(f copyright usage xlensConfig.cmake xlensConfigVersion.cmake xlensTargets.cmake)
  if(NOT EXISTS "${CURRENT_PACKAGES_DIR}/share/${PORT}/${f}")
    message(FATAL_ERROR "vcpkg_shim: share/${PORT}/${f} is missing")
  endif()
endforeach()
# No absolute path into the staging prefix or the build tree may remain: the package is relocated.
file(GLOB_RECURSE installed "${CURRENT_PACKAGES_DIR}/share/*")
foreach(f ${installed})
  file(READ "${f}" text)
  foreach(absolute "${CURRENT_PACKAGES_DIR}" "${CURRENT_BUILDTREES_DIR}")
    string(FIND "${text}" "${absolute}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "vcpkg_shim: ${f} holds the absolute path ${absolute}")
    endif()
  endforeach()
endforeach()
message(STATUS "vcpkg_shim: port ${PORT} ${VERSION} staged in ${CURRENT_PACKAGES_DIR}")
