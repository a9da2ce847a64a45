// Test helpers several test files share: differences of activations, the SmolLM2 path, counting
// substrings, UTF-8 from code points. (Shared, and not file-local, so the unity build that compiles
// several test files as one unit sees each once.)
#pragma once

#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/text/utf8.hpp"

namespace test {

/// max |a − b| over the elements of two activations of the same size.
inline double max_abs_diff(const xlens::activation& a, const xlens::activation& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    return worst;
}

/// The SmolLM2 GGUF named by XLENS_MODEL_GGUF, or "" (the test then says it is skipped).
inline std::string smollm2_path() {
    const char* p = std::getenv("XLENS_MODEL_GGUF");
    return p && *p ? p : "";
}

/// How many times `part` occurs in `text` (overlaps counted).
inline std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

/// UTF-8 of the code points in `s` (written as U"..." so the tests do not depend on the source encoding).
inline std::string utf8(std::u32string_view s) {
    std::string out;
    for (char32_t c : s) xlens::text::append_utf8(out, c);
    return out;
}

}  // namespace test
