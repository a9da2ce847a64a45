// xlens/version.hpp — the library version. This file is the one place it is written: CMakeLists.txt,
// conanfile.py and the pkg-config file read it from here, and a test checks the vcpkg manifests agree.
#pragma once

#define XLENS_VERSION_MAJOR 0
#define XLENS_VERSION_MINOR 1
#define XLENS_VERSION_PATCH 0

#define XLENS_VERSION_STRINGIFY_(x) #x
#define XLENS_VERSION_STRINGIFY(x) XLENS_VERSION_STRINGIFY_(x)
/// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
#define XLENS_VERSION_STRING                                                                        \
    XLENS_VERSION_STRINGIFY(XLENS_VERSION_MAJOR) "." XLENS_VERSION_STRINGIFY(XLENS_VERSION_MINOR) "." \
        XLENS_VERSION_STRINGIFY(XLENS_VERSION_PATCH)
