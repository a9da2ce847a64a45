// xlens/text/utf8.hpp — UTF-8 validation, repair and decoding, including streams cut mid-character.
//
// Invalid input is repaired the way Python's bytes.decode("utf-8", errors="replace") and Rust's
// String::from_utf8_lossy do it (the Unicode standard's "maximal subpart" practice): each maximal
// prefix of a well-formed sequence that cannot be completed, and each byte that cannot start one,
// becomes one U+FFFD. Tokenizing repaired text therefore gives the ids HF tokenizers give for
// the same bytes decoded in Python with errors="replace".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xlens::text {

/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

namespace detail {

/// Length of the well-formed sequence starting at s[i] (1–4), or 0 if none starts there; `valid`
/// receives how many of its bytes are present and correct (the maximal subpart, at least 1).
inline std::size_t utf8_sequence_at(std::string_view s, std::size_t i, std::size_t& valid) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    valid = 1;
    if (b0 < 0x80) return 1;
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte (Unicode Table 3-7)
    if (b0 >= 0xC2 && b0 <= 0xDF) need = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;  // no overlong forms
        if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return 0;  // 80–C1, F5–FF never start a sequence
    }
    for (std::size_t k = 1; k < need; ++k) {
        if (i + k >= s.size()) return 0;
        const unsigned char b = byte(i + k);
        const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) return 0;
        valid = k + 1;
    }
    return need;
}

}  // namespace detail

/// Byte offset of the first ill-formed sequence in `s`, or nothing if `s` is valid UTF-8.
inline std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
    std::size_t i = 0, valid = 0;
    while (i < s.size()) {
        std::size_t n = detail::utf8_sequence_at(s, i, valid);
        if (n == 0) return i;
        i += n;
    }
    return std::nullopt;
}

/// Whether `s` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view s) { return !first_invalid_utf8(s).has_value(); }

/// `s` with every maximal ill-formed subpart replaced by U+FFFD (valid input is returned as is).
inline std::string repair_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0, valid = 0;
    while (i < s.size()) {
        std::size_t n = detail::utf8_sequence_at(s, i, valid);
        if (n) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.append(replacement_character);
            i += valid;
        }
    }
    return out;
}

/// The code point starting at s[i] of valid UTF-8 `s`; advances i past it.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    auto cont = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
    char32_t c;
    if (b0 < 0x80) {
        c = b0;
        i += 1;
    } else if (b0 < 0xE0) {
        c = (static_cast<char32_t>(b0 & 0x1F) << 6) | cont(1);
        i += 2;
    } else if (b0 < 0xF0) {
        c = (static_cast<char32_t>(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2);
        i += 3;
    } else {
        c = (static_cast<char32_t>(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
        i += 4;
    }
    return c;
}

/// Appends code point `c` to `out` in UTF-8.
inline void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

/// Turns a stream of byte chunks (e.g. one token's bytes at a time) into displayable text: each
/// call returns the complete characters so far and keeps an unfinished character for the next
/// call; ill-formed bytes become U+FFFD. finish() flushes what is left.
class utf8_stream {
public:
    /// The text that `bytes` completes, repaired.
    std::string push(std::string_view bytes) {
        pending_.append(bytes);
        // Keep back a tail that is a proper prefix of a well-formed sequence: it may still complete.
        std::size_t keep = 0;
        for (std::size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
            std::size_t start = pending_.size() - back, valid = 0;
            if (detail::utf8_sequence_at(pending_, start, valid) == 0 && valid == back &&
                static_cast<unsigned char>(pending_[start]) >= 0xC2 &&
                static_cast<unsigned char>(pending_[start]) <= 0xF4) {
                keep = back;
                break;
            }
        }
        std::string out = repair_utf8(std::string_view(pending_).substr(0, pending_.size() - keep));
        pending_.erase(0, pending_.size() - keep);
        return out;
    }
    /// Whatever is left, repaired (an unfinished character becomes U+FFFD).
    std::string finish() {
        std::string out = repair_utf8(pending_);
        pending_.clear();
        return out;
    }

private:
    std::string pending_;
};

}  // namespace xlens::text
