// Tests for xlens/text/unicode_normalization.hpp: NFC on examples from the Unicode standard (UAX #15,
// chapter 3), ill-formed input, and the invariants the generated tables must keep for binary search.
// Exhaustive agreement with Python's unicodedata.normalize("NFC", ·) was checked when the tables
// were generated (every code point in several contexts, and random strings).
#include <doctest/doctest.h>

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

#include "xlens/text/unicode_normalization.hpp"
#include "xlens/text/utf8.hpp"
#include "helpers.hpp"

namespace {

using xlens::text::nfc;
namespace ucd = xlens::text::detail;  // (not "detail": test_tokenizer.cpp, in the same unity unit, uses xlens::text)


/// nfc of the code points `in`, compared in UTF-8 with `want`.
void check_nfc(std::u32string_view in, std::u32string_view want) { CHECK(nfc(test::utf8(in)) == test::utf8(want)); }

}  // namespace

TEST_CASE("nfc: ASCII and empty text are returned unchanged") {
    CHECK(nfc("") == "");
    CHECK(nfc("The Eiffel Tower is in Paris.\n\t~") == "The Eiffel Tower is in Paris.\n\t~");
    const std::string all_ascii = [] {
        std::string s;
        for (int c = 0; c < 0x80; ++c) s += static_cast<char>(c);
        return s;
    }();
    CHECK(nfc(all_ascii) == all_ascii);
}

TEST_CASE("nfc: text already in NFC is unchanged") {
    const std::string text = test::utf8(U"Gr\u00F6\u00DFe caf\u00E9 \u65E5\u672C\u8A9E \uD55C\uAD6D\uC5B4 "
                                  U"\u0395\u03BB\u03BB\u03B7\u03BD\u03B9\u03BA\u03AC \u0939\u093F\u0928\u094D\u0926\u0940 "
                                  U"\U0001F600 \u1EAD\u0301 \u00E1\u0301");
    CHECK(nfc(test::utf8(U"\u1EAD")) == test::utf8(U"\u1EAD"));
    CHECK(nfc(text) == text);
    check_nfc(U"\u00E9\u00C5\uAC01 ok", U"\u00E9\u00C5\uAC01 ok");
}

TEST_CASE("nfc: a base letter and a combining mark compose") {
    check_nfc(U"e\u0301", U"\u00E9");          // e + COMBINING ACUTE ACCENT → é
    check_nfc(U"A\u030A", U"\u00C5");          // A + COMBINING RING ABOVE → Å
    check_nfc(U"caf" U"e\u0301!", U"caf\u00E9!");
    check_nfc(U"\u00E2\u0301", U"\u1EA5");     // â + acute → ấ: a composite composes further
}

TEST_CASE("nfc: singletons are replaced by their canonical equivalents") {
    check_nfc(U"\u212B", U"\u00C5");  // ANGSTROM SIGN → Å
    check_nfc(U"\u2126", U"\u03A9");  // OHM SIGN → GREEK CAPITAL LETTER OMEGA
    check_nfc(U"\u212A", U"K");       // KELVIN SIGN → K
    check_nfc(U"\u0340", U"\u0300");  // COMBINING GRAVE TONE MARK → COMBINING GRAVE ACCENT
}

TEST_CASE("nfc: composition exclusions stay decomposed") {
    check_nfc(U"\u0958", U"\u0915\u093C");        // DEVANAGARI LETTER QA → KA + NUKTA
    check_nfc(U"\u0915\u093C", U"\u0915\u093C");  // and KA + NUKTA is not composed back
    check_nfc(U"\uFB2A", U"\u05E9\u05C1");        // HEBREW LETTER SHIN WITH SHIN DOT
    check_nfc(U"\u0344", U"\u0308\u0301");        // non-starter decomposition
}

TEST_CASE("nfc: combining marks are put in canonical order before composing") {
    // a + dot below (ccc 220) + circumflex (230) and the other order both give ậ.
    check_nfc(U"a\u0323\u0302", U"\u1EAD");
    check_nfc(U"a\u0302\u0323", U"\u1EAD");
    check_nfc(U"\u00E2\u0323", U"\u1EAD");
    // q has no precomposed forms: only the reordering is visible.
    check_nfc(U"q\u0307\u0323", U"q\u0323\u0307");
    // Marks of equal class keep their order (the sort is stable).
    check_nfc(U"q\u0301\u0300", U"q\u0301\u0300");
}

TEST_CASE("nfc: a mark of the same class between starter and mark blocks composition") {
    check_nfc(U"a\u0301\u0301", U"\u00E1\u0301");
    check_nfc(U"a\u0301\u0302", U"\u00E1\u0302");  // ấ is not formed: it composes from â, not á
    check_nfc(U"a\u0323\u0301", U"\u1EA1\u0301");  // dot below (220) composes first, acute is free…
    check_nfc(U"e\u0327\u0306", U"\u1E1D");         // …and may compose further: ȩ + breve → ḝ
}

TEST_CASE("nfc: Hangul jamo compose algorithmically") {
    check_nfc(U"\u1100\u1161\u11A8", U"\uAC01");  // L + V + T → GA + G
    check_nfc(U"\u1100\u1161", U"\uAC00");        // L + V
    check_nfc(U"\uAC00\u11A8", U"\uAC01");        // LV syllable + T
    check_nfc(U"\uAC01\u11A8", U"\uAC01\u11A8");  // LVT + T: nothing to compose
    check_nfc(U"\uAC00\u11A7", U"\uAC00\u11A7");  // U+11A7 is below the first trailing consonant
    check_nfc(U"\u1100\u0301\u1161", U"\u1100\u0301\u1161");  // blocked by a mark
    check_nfc(U"\uD7A3", U"\uD7A3");              // the last syllable
}

TEST_CASE("nfc: characters outside the BMP") {
    check_nfc(U"\U00011099\U000110BA", U"\U0001109A");  // KAITHI LETTER DDDHA
    check_nfc(U"\U0002F800", U"\u4E3D");                // CJK COMPATIBILITY IDEOGRAPH → U+4E3D
    check_nfc(U"\U0001D15E", U"\U0001D157\U0001D165");  // MUSICAL SYMBOL HALF NOTE: excluded
}

TEST_CASE("nfc: a long run of combining marks is sorted stably") {
    std::u32string in = U"x", want = U"x";
    for (int i = 0; i < 40; ++i) in += i % 2 ? U'\u0301' : U'\u0323';  // 230 and 220, alternating
    want.append(20, U'\u0323');
    want.append(20, U'\u0301');
    check_nfc(in, want);
}

TEST_CASE("nfc: ill-formed UTF-8 is read as U+FFFD, never past the end") {
    CHECK(nfc("\xC3") == "\xEF\xBF\xBD");                                     // truncated sequence
    CHECK(nfc("e\x80\xCC\x81") == "e\xEF\xBF\xBD\xCC\x81");                   // the mark follows U+FFFD
    CHECK(nfc("e\xCC\x81\xE2\x82") == "\xC3\xA9\xEF\xBF\xBD");                // é, then a cut-off €
    CHECK(nfc("\xED\xA0\x80" "a") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "a");  // a surrogate: 3 subparts
    for (std::string s : {"\xF0\x9F\x98", "\xCC", "a\xFF\xCC\x81", "\xE1\x84\x80\xE1\x85"}) {
        CAPTURE(s);
        CHECK(nfc(s) == nfc(xlens::text::repair_utf8(s)));
    }
}

TEST_CASE("unicode tables: sorted and disjoint, as the binary searches assume") {
    for (std::size_t i = 1; i < std::size(ucd::ccc_ranges); ++i)
        CHECK(ucd::ccc_ranges[i - 1].last < ucd::ccc_ranges[i].first);
    for (std::size_t i = 1; i < std::size(ucd::unstable_ranges); ++i)
        CHECK(ucd::unstable_ranges[i - 1].last + 1 < ucd::unstable_ranges[i].first);
    for (std::size_t i = 1; i < std::size(ucd::decompositions); ++i)
        CHECK(ucd::decompositions[i - 1].code_point < ucd::decompositions[i].code_point);
    for (std::size_t i = 1; i < std::size(ucd::compositions); ++i) {
        const auto& a = ucd::compositions[i - 1];
        const auto& b = ucd::compositions[i];
        CHECK((a.first < b.first || (a.first == b.first && a.second < b.second)));
    }
    const auto& last = ucd::decompositions[std::size(ucd::decompositions) - 1];
    CHECK(last.offset + last.length == std::size(ucd::decomposition_data));
    CHECK(ucd::combining_class(U'\u0301') == 230);
    CHECK(ucd::combining_class(U'a') == 0);
    CHECK(std::string_view(ucd::unicode_version).size() > 0);
}
