# vcpkg port for xlens, used as an overlay port from this repository:
#   vcpkg install xlens --overlay-ports=<xlens checkout>/ports
# It builds from the checkout it sits in (a registry port would use vcpkg_from_github with a REF and
# SHA512 instead of the line below).
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

# Headers only: one (release) configuration, nothing compiled.
set(VCPKG_BUILD_TYPE release)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DXLENS_BUILD_TESTS=OFF
        -DXLENS_BUILD_TOOLS=OFF
        -DXLENS_BUILD_BENCHMARKS=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME xlens CONFIG_PATH share/xlens)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/COPYING.md")
