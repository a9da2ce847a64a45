# Finds what xlens's headers need. Used both by the source tree and by the installed package config,
# so a consumer's find_package(xlens) pulls the same dependencies. A missing one stops configuration
# with the Debian package that provides it.
include(CMakeFindDependencyMacro)

macro(xlens_require package debian_package)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR "xlens needs ${package}: install it with 'apt-get install ${debian_package}' "
                        "(or run tools/setup.sh, which installs everything xlens needs).")
  endif()
endmacro()

xlens_require(xtl xtl-dev)
xlens_require(xtensor libxtensor-dev)
xlens_require(xtensor-blas libxtensor-blas-dev)
xlens_require(nlohmann_json nlohmann-json3-dev)
if(NOT TARGET BLAS::BLAS)
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS QUIET)
  if(NOT BLAS_FOUND)
    message(FATAL_ERROR "xlens needs OpenBLAS: install it with 'apt-get install libopenblas-dev'.")
  endif()
endif()
# PCRE2 (8-bit, with Unicode properties) runs the tokenizer's pre-tokenizer patterns.
if(NOT TARGET xlens::pcre2)
  find_path(XLENS_PCRE2_INCLUDE_DIR pcre2.h)
  find_library(XLENS_PCRE2_LIBRARY pcre2-8)
  if(NOT XLENS_PCRE2_INCLUDE_DIR OR NOT XLENS_PCRE2_LIBRARY)
    message(FATAL_ERROR "xlens needs PCRE2: install it with 'apt-get install libpcre2-dev'.")
  endif()
  add_library(xlens::pcre2 UNKNOWN IMPORTED)
  set_target_properties(xlens::pcre2 PROPERTIES IMPORTED_LOCATION "${XLENS_PCRE2_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${XLENS_PCRE2_INCLUDE_DIR}")
endif()
# LAPACK (OpenBLAS's) for eigenvalues (analysis/ov_circuits.hpp); SQLite for weight databases.
if(NOT TARGET LAPACK::LAPACK)
  set(BLA_VENDOR OpenBLAS)
  find_package(LAPACK QUIET)
  if(NOT LAPACK_FOUND)
    message(FATAL_ERROR "xlens needs LAPACK (OpenBLAS's): install it with 'apt-get install libopenblas-dev'.")
  endif()
endif()
if(NOT TARGET SQLite::SQLite3)
  find_package(SQLite3 QUIET)
  if(NOT SQLite3_FOUND)
    message(FATAL_ERROR "xlens needs SQLite 3: install it with 'apt-get install libsqlite3-dev'.")
  endif()
endif()
