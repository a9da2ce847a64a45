// xlens/text/regex.hpp — the Unicode regular expressions of pre-tokenizers, on PCRE2.
//
// Pre-tokenizer patterns (GPT-2's, Llama-3's, Qwen2's) are written for Oniguruma, which HF
// tokenizers uses. PCRE2 in UTF + UCP mode gives the same \p{L} / \p{N} classes and the same
// leftmost-first backtracking semantics. One difference is corrected here: under UCP, PCRE2's \s
// also matches U+180E and Oniguruma's does not, so \s and \S are rewritten to the exact Unicode
// White_Space set (which is what Oniguruma and Rust's char::is_whitespace use).
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xlens/error.hpp"

namespace xlens::text {

/// The Unicode White_Space property (stable since Unicode 6.3), as PCRE2 class members.
inline constexpr std::string_view white_space_class_members =
    R"(\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

/// Whether `c` has the Unicode White_Space property (the same set as white_space_class_members).
inline bool is_white_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// A compiled pattern; immutable and shareable between threads.
class regex {
public:
    /// Compiles `pattern` (Oniguruma/Perl syntax) for UTF-8 text. Throws config_error 311 naming the
    /// pattern and the offset of the problem.
    explicit regex(std::string pattern) : pattern_(std::move(pattern)) {
        std::string translated = translate_white_space(pattern_);
        int code = 0;
        PCRE2_SIZE offset = 0;
        pcre2_code* compiled =
            pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                          // \C (one byte) could end a match inside a character: refused at compile time
                          PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK | PCRE2_NEVER_BACKSLASH_C, &code, &offset, nullptr);
        if (!compiled) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(code, message, sizeof message);
            throw config_error(311, "pre-tokenizer regex '" + pattern_ + "' does not compile at offset " +
                                        std::to_string(offset) + ": " + reinterpret_cast<const char*>(message));
        }
        code_.reset(compiled, pcre2_code_free);
        // JIT is an optimisation only: without it (or when its stack is too small) matching falls back.
        jit_ = pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE) == 0;
    }

    /// The pattern as given.
    const std::string& pattern() const { return pattern_; }

    /// Byte spans [begin, end) of the successive non-overlapping matches in valid UTF-8 `text`.
    /// Throws input_error 515 if matching exceeds PCRE2's resource limits.
    std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view text) const {
        std::vector<std::pair<std::size_t, std::size_t>> spans;
        std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
            pcre2_match_data_create_from_pattern(code_.get(), nullptr), pcre2_match_data_free);
        if (!match) throw std::bad_alloc();
        std::size_t at = 0;
        while (at <= text.size()) {
            int rc = run(text, at, match.get());
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR message[256];
                pcre2_get_error_message(rc, message, sizeof message);
                throw input_error(515, "pre-tokenizer regex failed at byte " + std::to_string(at) + " of a " +
                                           std::to_string(text.size()) + "-byte text: " +
                                           reinterpret_cast<const char*>(message));
            }
            const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
            std::size_t begin = ovector[0], end = ovector[1];
            if (end == begin) {  // an empty match: step one character so the scan always advances
                if (begin >= text.size()) break;
                at = begin + 1;
                while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
                continue;
            }
            spans.emplace_back(begin, end);
            at = end;
        }
        return spans;
    }

private:
    int run(std::string_view text, std::size_t at, pcre2_match_data* match) const {
        auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        if (jit_) {
            int rc = pcre2_jit_match(code_.get(), subject, text.size(), at, 0, match, nullptr);
            if (rc != PCRE2_ERROR_JIT_STACKLIMIT) return rc;
        }
        return pcre2_match(code_.get(), subject, text.size(), at, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
    }

    /// \s → [White_Space], \S → [^White_Space]; inside a class, \s → its members (\S there is refused).
    static std::string translate_white_space(const std::string& p) {
        std::string out;
        bool in_class = false;
        for (std::size_t i = 0; i < p.size(); ++i) {
            char ch = p[i];
            if (ch == '\\' && i + 1 < p.size()) {
                char next = p[++i];
                if (next == 's') {
                    out += in_class ? std::string(white_space_class_members)
                                    : "[" + std::string(white_space_class_members) + "]";
                } else if (next == 'S') {
                    if (in_class)
                        throw config_error(311, "pre-tokenizer regex '" + p + "': \\S inside a character class is not supported");
                    out += "[^" + std::string(white_space_class_members) + "]";
                } else {
                    out += ch;
                    out += next;
                }
                continue;
            }
            if (ch == '[' && !in_class) {
                in_class = true;
                out += ch;
                if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
                if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a leading ] is literal
                continue;
            }
            if (ch == ']' && in_class) in_class = false;
            out += ch;
        }
        return out;
    }

    std::string pattern_;
    std::shared_ptr<pcre2_code> code_;
    bool jit_ = false;
};

}  // namespace xlens::text
