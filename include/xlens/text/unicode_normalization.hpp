// xlens/text/unicode_normalization.hpp — Unicode Normalization Form C, the "NFC" normalizer of
// tokenizer.json (Qwen2 and others), as HF tokenizers applies it before pre-tokenizing.
//
//   std::string s = xlens::text::nfc("e\u0301");   // "\u00E9": e + COMBINING ACUTE ACCENT → é
//
// The algorithm of UAX #15 (https://unicode.org/reports/tr15/), over the generated tables of
// text/unicode_tables.hpp (Unicode version: detail::unicode_version):
//   1. decompose every character canonically and fully (table lookup; Hangul syllables by arithmetic),
//   2. put each run of combining marks in canonical order (stable sort by combining class),
//   3. compose: each mark joins the last starter if the pair has a primary composite and no
//      character between them blocks it (combining class 0, or not lower than the mark's);
//      Hangul L+V and LV+T by arithmetic.
// Only the stretches that need it go through these steps. A "stable starter" (see the table
// generator) is NFC by itself and nothing before it can change it, so text is cut before each one:
// a piece that is one stable starter, possibly followed by more of them, is copied as it is;
// a piece holding anything else is normalised alone. Pure ASCII is returned without further work.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "xlens/text/unicode_tables.hpp"
#include "xlens/text/utf8.hpp"

namespace xlens::text {

/// The Unicode Normalization Form C of UTF-8 text.
///
/// @param utf8  text in UTF-8. It should be valid; if it is not, each maximal ill-formed subpart is
///              read as U+FFFD (as repair_utf8 does), so nfc(s) == nfc(repair_utf8(s)) and nothing is
///              read outside `utf8`.
/// @return      the NFC of the text, in UTF-8; equal to the input when the input is already NFC
/// @throws      only std::bad_alloc
/// @complexity  linear in the input (a binary search per non-ASCII character; a run of combining
///              marks longer than 32 is sorted in O(k log k))
///
///   nfc("A\u030A") == "\u00C5"   nfc("\u212B") == "\u00C5"   nfc("\u1100\u1161\u11A8") == "\uAC01"
std::string nfc(std::string_view utf8);

// ---- implementation --------------------------------------------------------------------------------

namespace detail {

/// A character being normalised, with its canonical combining class.
struct marked_code_point {
    char32_t c;
    std::uint8_t ccc;
};

// Hangul syllables: S = S_BASE + (L_index * V_COUNT + V_index) * T_COUNT + T_index (Unicode §3.12).
inline constexpr char32_t hangul_s_base = 0xAC00, hangul_l_base = 0x1100, hangul_v_base = 0x1161,
                          hangul_t_base = 0x11A7;  // T_index 0 (no trailing consonant) is not a jamo
inline constexpr char32_t hangul_l_count = 19, hangul_v_count = 21, hangul_t_count = 28,
                          hangul_n_count = hangul_v_count * hangul_t_count,  // 588 syllables per L
                          hangul_s_count = hangul_l_count * hangul_n_count;  // 11172

/// The run of `table` that holds `c`, or nullptr. `table` is sorted and its runs are disjoint.
template <typename Range, std::size_t N>
const Range* find_range(const Range (&table)[N], char32_t c) {
    const Range* it = std::upper_bound(std::begin(table), std::end(table), c,
                                       [](char32_t v, const Range& r) { return v < r.first; });
    if (it == std::begin(table)) return nullptr;
    --it;
    return c <= it->last ? it : nullptr;
}

/// Canonical combining class of `c` (0 for starters and unassigned code points).
inline std::uint8_t combining_class(char32_t c) {
    if (c < ccc_ranges[0].first) return 0;
    const ccc_range* r = find_range(ccc_ranges, c);
    return r ? r->ccc : 0;
}

/// Whether `c` is a stable starter: its own NFC, combining class 0, and never combining with or
/// reordered behind anything before it, so normalisation can restart at `c`.
inline bool is_stable_starter(char32_t c) { return c < first_unstable || !find_range(unstable_ranges, c); }

/// Appends the full canonical decomposition of `c` (or `c` itself) to `out`.
inline void append_decomposition(char32_t c, std::vector<marked_code_point>& out) {
    if (c >= hangul_s_base && c < hangul_s_base + hangul_s_count) {
        const char32_t s = c - hangul_s_base;
        out.push_back({hangul_l_base + s / hangul_n_count, 0});
        out.push_back({hangul_v_base + s % hangul_n_count / hangul_t_count, 0});
        if (s % hangul_t_count != 0) out.push_back({hangul_t_base + s % hangul_t_count, 0});
        return;
    }
    if (c >= decompositions[0].code_point) {
        const decomposition* it = std::lower_bound(std::begin(decompositions), std::end(decompositions), c,
                                                   [](const decomposition& d, char32_t v) { return d.code_point < v; });
        if (it != std::end(decompositions) && it->code_point == c) {
            for (std::size_t k = it->offset; k < it->offset + it->length; ++k)
                out.push_back({decomposition_data[k], combining_class(decomposition_data[k])});
            return;
        }
    }
    out.push_back({c, combining_class(c)});
}

/// The primary composite of `first` followed by `second`, or 0 if they do not compose.
inline char32_t compose_pair(char32_t first, char32_t second) {
    if (first >= hangul_l_base && first < hangul_l_base + hangul_l_count && second >= hangul_v_base &&
        second < hangul_v_base + hangul_v_count)
        return hangul_s_base + ((first - hangul_l_base) * hangul_v_count + (second - hangul_v_base)) * hangul_t_count;
    if (first >= hangul_s_base && first < hangul_s_base + hangul_s_count &&
        (first - hangul_s_base) % hangul_t_count == 0 && second > hangul_t_base &&
        second < hangul_t_base + hangul_t_count)
        return first + (second - hangul_t_base);
    const composition* it = std::lower_bound(
        std::begin(compositions), std::end(compositions), first, [second](const composition& p, char32_t f) {
            return p.first < f || (p.first == f && p.second < second);
        });
    if (it != std::end(compositions) && it->first == first && it->second == second) return it->composite;
    return 0;
}

/// Sorts each run of combining marks (ccc != 0) stably by combining class.
inline void canonical_order(std::vector<marked_code_point>& s) {
    auto by_class = [](const marked_code_point& a, const marked_code_point& b) { return a.ccc < b.ccc; };
    for (std::size_t i = 0; i < s.size();) {
        if (s[i].ccc == 0) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < s.size() && s[end].ccc != 0) ++end;
        if (end - i > 32) {
            std::stable_sort(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(end), by_class);
        } else {
            for (std::size_t j = i + 1; j < end; ++j)  // insertion sort: runs are nearly always 1–3 marks
                for (std::size_t k = j; k > i && s[k - 1].ccc > s[k].ccc; --k) std::swap(s[k - 1], s[k]);
        }
        i = end;
    }
}

/// Canonical composition of decomposed, canonically ordered `s`, in place.
inline void canonical_compose(std::vector<marked_code_point>& s) {
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t starter = none;  // index in the output of the last starter
    std::size_t w = 0;           // output size: s[0, w) is composed
    for (std::size_t r = 0; r < s.size(); ++r) {
        const marked_code_point m = s[r];
        if (starter != none) {
            // Blocked if something lies between with class 0 or a class not below m's; after canonical
            // ordering the last character written has the highest class of those between.
            const bool adjacent = w == starter + 1;
            const bool blocked = !adjacent && (s[w - 1].ccc == 0 || s[w - 1].ccc >= m.ccc);
            if (!blocked) {
                if (char32_t composite = compose_pair(s[starter].c, m.c)) {
                    s[starter].c = composite;  // a primary composite of a starter is a starter
                    continue;
                }
            }
        }
        if (m.ccc == 0) starter = w;
        s[w++] = m;
    }
    s.resize(w);
}

/// The code point at s[i], U+FFFD for a maximal ill-formed subpart; advances i past what it read.
inline char32_t decode_or_replace(std::string_view s, std::size_t& i) {
    std::size_t valid = 0;
    if (utf8_sequence_at(s, i, valid) == 0) {
        i += valid;
        return 0xFFFD;
    }
    return next_code_point(s, i);
}

/// Reads the character at s[i] and advances i past it. Returns whether it is a well-formed stable
/// starter, where normalisation may restart; `ill_formed` tells whether it was an ill-formed subpart.
inline bool next_is_restart_point(std::string_view s, std::size_t& i, bool& ill_formed) {
    ill_formed = false;
    if (static_cast<unsigned char>(s[i]) < 0x80) {
        ++i;
        return true;
    }
    std::size_t valid = 0;
    if (utf8_sequence_at(s, i, valid) == 0) {
        ill_formed = true;
        i += valid;
        return false;
    }
    return is_stable_starter(next_code_point(s, i));
}

/// Appends the NFC of s[begin, end) to `out`, `buf` being scratch space.
inline void append_nfc_piece(std::string_view s, std::size_t begin, std::size_t end,
                             std::vector<marked_code_point>& buf, std::string& out) {
    buf.clear();
    for (std::size_t i = begin; i < end;) append_decomposition(decode_or_replace(s, i), buf);
    canonical_order(buf);
    canonical_compose(buf);
    for (const marked_code_point& m : buf) append_utf8(out, m.c);
}

}  // namespace detail

inline std::string nfc(std::string_view utf8) {
    const std::string_view s = utf8;
    const std::size_t n = s.size();
    std::size_t pos = 0;
    while (pos < n && static_cast<unsigned char>(s[pos]) < 0x80) ++pos;
    if (pos == n) return std::string(s);  // ASCII is NFC

    std::string out;
    out.reserve(n + n / 16);
    std::vector<detail::marked_code_point> buf;
    std::size_t copied = 0;                        // s[0, copied) is in `out`
    std::size_t restart = pos == 0 ? 0 : pos - 1;  // start of the last stable starter (or 0)
    bool ill_formed = false;
    while (pos < n) {
        const std::size_t here = pos;
        if (detail::next_is_restart_point(s, pos, ill_formed)) {
            restart = here;
            continue;
        }
        // A character that may change or combine with its neighbours, or an ill-formed subpart
        // (U+FFFD: a stable starter, but its bytes must be replaced). Normalise the piece from the
        // last restart point before it up to the next restart point or ill-formed subpart.
        const std::size_t begin = ill_formed ? here : restart;
        for (std::size_t next = pos; pos < n; pos = next)
            if (detail::next_is_restart_point(s, next, ill_formed) || ill_formed) break;
        out.append(s, copied, begin - copied);
        detail::append_nfc_piece(s, begin, pos, buf, out);
        copied = pos;
        restart = pos;
    }
    out.append(s, copied, n - copied);
    return out;
}

}  // namespace xlens::text
