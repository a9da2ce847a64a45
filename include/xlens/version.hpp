// xlens/version.hpp — the library version (kept in step with project(VERSION) in CMakeLists.txt).
#pragma once

#define XLENS_VERSION_MAJOR 0
#define XLENS_VERSION_MINOR 1
#define XLENS_VERSION_PATCH 0
#define XLENS_VERSION_STRING "0.1.0"
