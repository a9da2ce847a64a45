// One doctest runner for all C++ unit tests: a single binary keeps link time low on 2 cores.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
