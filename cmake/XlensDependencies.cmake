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
