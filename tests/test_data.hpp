// Test helper: where the fixtures written by the reference scripts live ($XLENS_TEST_DATA, which ctest
// sets), the path of one fixture or a failed test saying how to make it, and scratch files for tests
// that build their inputs byte by byte.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>
#include <string>

#include <unistd.h>

#include <doctest/doctest.h>

#include "xlens/error.hpp"

namespace test {

/// How to make the fixtures under data_dir(), for fixture()'s failure message.
inline const std::string make_safetensors_fixtures =
    "create the fixtures with `build/cache/venv/bin/python tools/reference/make_safetensors_fixtures.py DIR` "
    "and set XLENS_TEST_DATA=DIR";
inline const std::string make_gguf_fixtures =
    "generate it with: build/cache/venv/bin/python tools/reference/make_gguf_fixtures.py "
    "\"$XLENS_TEST_DATA\" [--model build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf] "
    "(ctest runs this as a fixture)";

/// The test data directory: $XLENS_TEST_DATA, else the XLENS_TEST_DATA compile definition, else "" (unknown).
inline std::string data_dir() {
    if (const char* e = std::getenv("XLENS_TEST_DATA"); e != nullptr && *e != '\0') return e;
#ifdef XLENS_TEST_DATA
    return XLENS_TEST_DATA;
#else
    return "";
#endif
}

/// Path of the fixture `relative` under data_dir(); fails the test with `how_to_make` if it cannot be read.
inline std::string fixture(const std::string& relative, const std::string& how_to_make) {
    const std::string dir = data_dir();
    if (dir.empty()) FAIL("missing fixture '" << relative << "' ($XLENS_TEST_DATA is not set): " << how_to_make);
    const std::string path = (std::filesystem::path(dir) / relative).string();
    if (!std::ifstream(path)) FAIL("missing fixture '" << path << "': " << how_to_make);
    return path;
}

/// A scratch folder xlens_<prefix>_<pid>[_<name>] under the system temp dir, emptied on entry, removed at scope exit.
struct scratch {
    std::filesystem::path dir;
    explicit scratch(const std::string& prefix, const std::string& name = "")
        : dir(std::filesystem::temp_directory_path() /
              ("xlens_" + prefix + "_" + std::to_string(::getpid()) + (name.empty() ? "" : "_" + name))) {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
    ~scratch() { std::filesystem::remove_all(dir); }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

/// Writes `bytes` to `path` (replacing it); requires that the write succeeded.
inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(f.good());
}

/// Runs `f`, which must throw an E with id `id` whose message contains every one of `parts`.
template <class E = xlens::error, class F>
void expect_error(F&& f, int id, const std::vector<std::string>& parts) {
    try {
        f();
    } catch (const E& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(e.id() == id, what);
        for (const auto& part : parts) CHECK_MESSAGE(what.find(part) != std::string::npos, what << "\n  lacks: " << part);
        return;
    } catch (const std::exception& e) {
        FAIL("expected error " << id << ", got a different exception: " << e.what());
    }
    FAIL("expected error " << id << " was not thrown");
}

}  // namespace test
