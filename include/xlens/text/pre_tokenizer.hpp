// xlens/text/pre_tokenizer.hpp — splitting text into words before BPE, and GPT-2's byte↔character map.
//
// A pre-tokenizer is a list of steps, as in HF tokenizers' `pre_tokenizer` (a Sequence of Split,
// Digits and ByteLevel). Each step splits every current piece further; ByteLevel also marks that the
// words are to be spelled in GPT-2's byte alphabet, where each of the 256 bytes is one printable
// character. The patterns of the families xlens knows:
//   GPT-2        'pattern_gpt2' inside ByteLevel
//   SmolLM2      Digits(individual) then ByteLevel              (llama.cpp's "smollm", "starcoder")
//   Llama 3      Split('pattern_llama3') then ByteLevel(no regex)   (llama.cpp's "llama-bpe")
//   Qwen2        Split('pattern_qwen2') then ByteLevel(no regex), after NFC normalisation
//   SentencePiece models (Llama 2, Mistral, Phi-3) as transformers converts them without "legacy":
//                Metaspace: spaces spelled "▁", one "▁" put in front of the text's first piece
//                (prepend_scheme "first"; "always": of every piece), no split (split: false)
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/text/normalizer.hpp"
#include "xlens/text/regex.hpp"
#include "xlens/text/utf8.hpp"

namespace xlens::text {

inline constexpr std::string_view pattern_gpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view pattern_llama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view pattern_qwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

/// What happens to the parts a pattern matches (HF's SplitDelimiterBehavior).
enum class split_behavior { isolated, removed, merged_with_previous, merged_with_next, contiguous };

/// When a Metaspace step puts its replacement in front of a piece that does not start with one.
enum class prepend_scheme { always, first, never };  // first: only the piece at the start of the input

/// One step of a pre-tokenizer.
struct pre_tokenizer_step {
    enum class kind { split, digits, byte_level, metaspace } type = kind::split;
    std::shared_ptr<const regex> pattern;              // split; byte_level when use_regex
    split_behavior behavior = split_behavior::isolated;  // split
    bool invert = false;                               // split: the pattern matches the pieces, not the delimiters
    bool add_prefix_space = false;                     // byte_level: prepend ' ' to a piece not starting with one
    std::string replacement;                           // metaspace: what a space is spelled as ("▁")
    prepend_scheme prepend = prepend_scheme::always;   // metaspace
    bool split_on_replacement = false;                 // metaspace: then split before each replacement
};

/// A whole pre-tokenizer: its steps and whether words end up in the byte alphabet.
struct pre_tokenizer {
    std::vector<pre_tokenizer_step> steps;
    bool byte_level = false;

    /// Splits valid UTF-8 `text` into words (in the byte alphabet if byte_level), appended to `words`.
    /// `at_input_start`: `text` begins the whole input (no added token before it), which is what a
    /// Metaspace step with prepend_scheme::first asks.
    void split(std::string_view text, std::vector<std::string>& words, bool at_input_start = true) const;

    /// A Split step on `pattern` (isolated, not inverted).
    static pre_tokenizer_step split_on(std::string_view pattern, split_behavior b = split_behavior::isolated) {
        pre_tokenizer_step s;
        s.type = pre_tokenizer_step::kind::split;
        s.pattern = std::make_shared<regex>(std::string(pattern));
        s.behavior = b;
        return s;
    }
    /// Digits: each digit alone (individual) or runs of digits.
    static pre_tokenizer_step digits(bool individual) {
        pre_tokenizer_step s = split_on(individual ? R"(\p{N})" : R"(\p{N}+)");
        s.type = pre_tokenizer_step::kind::digits;
        return s;
    }
    /// Metaspace: spaces become `replacement`, which `scheme` may put in front; optionally a split
    /// before each replacement (HF's MergedWithNext).
    static pre_tokenizer_step metaspace(std::string replacement, prepend_scheme scheme, bool split) {
        pre_tokenizer_step s;
        s.type = pre_tokenizer_step::kind::metaspace;
        s.replacement = std::move(replacement);
        s.prepend = scheme;
        s.split_on_replacement = split;
        return s;
    }
    /// ByteLevel: optionally GPT-2's split, then the byte alphabet.
    static pre_tokenizer_step byte_level_step(bool use_regex, bool add_prefix_space) {
        pre_tokenizer_step s;
        s.type = pre_tokenizer_step::kind::byte_level;
        if (use_regex) s.pattern = std::make_shared<regex>(std::string(pattern_gpt2));
        s.add_prefix_space = add_prefix_space;
        return s;
    }
};

/// GPT-2's bijection between bytes and printable characters, both directions.
class byte_alphabet {
public:
    static const byte_alphabet& get() {
        static const byte_alphabet instance;
        return instance;
    }
    /// The character (UTF-8) that spells byte `b`.
    const std::string& spell(unsigned char b) const { return spelling_[b]; }
    /// `bytes` spelled in the byte alphabet.
    std::string spell(std::string_view bytes) const {
        std::string out;
        out.reserve(bytes.size() * 2);
        for (char c : bytes) out += spelling_[static_cast<unsigned char>(c)];
        return out;
    }
    /// The byte spelled by code point `c`, or -1 if `c` is not in the alphabet.
    int byte_of(char32_t c) const { return c < byte_of_.size() ? byte_of_[c] : -1; }

private:
    byte_alphabet() {
        byte_of_.fill(-1);
        // Printable Latin-1 bytes stand for themselves; the other 68 take code points from U+0100 on.
        auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
        int next = 256;
        for (int b = 0; b < 256; ++b) {
            char32_t c = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
            append_utf8(spelling_[static_cast<std::size_t>(b)], c);
            byte_of_[c] = b;
        }
    }
    std::array<std::string, 256> spelling_;
    std::array<int, 324> byte_of_{};  // code points up to U+0143
};

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

/// Splits `piece` by the spans a pattern matched, as HF's NormalizedString::split does.
inline void split_piece(std::string_view piece, const std::vector<std::pair<std::size_t, std::size_t>>& matches,
                        split_behavior behavior, bool invert, std::vector<std::string>& out) {
    // (begin, end, is_match) in order, covering the whole piece.
    std::vector<std::tuple<std::size_t, std::size_t, bool>> parts;
    std::size_t at = 0;
    for (auto [b, e] : matches) {
        if (b > at) parts.emplace_back(at, b, invert);
        parts.emplace_back(b, e, !invert);
        at = e;
    }
    if (at < piece.size()) parts.emplace_back(at, piece.size(), invert);

    std::vector<std::pair<std::size_t, std::size_t>> kept;
    bool previous_match = false;
    for (auto [b, e, is_match] : parts) {
        switch (behavior) {
            case split_behavior::isolated: kept.emplace_back(b, e); break;
            case split_behavior::removed:
                if (!is_match) kept.emplace_back(b, e);
                break;
            case split_behavior::merged_with_previous:
                if (is_match && !kept.empty() && !previous_match) kept.back().second = e;
                else kept.emplace_back(b, e);
                break;
            case split_behavior::merged_with_next:  // a match takes the non-match after it
                if (!is_match && previous_match && !kept.empty()) kept.back().second = e;
                else kept.emplace_back(b, e);
                break;
            case split_behavior::contiguous:  // runs of parts of one kind (inverted: of non-matches too)
                if (is_match == previous_match && !kept.empty()) kept.back().second = e;
                else kept.emplace_back(b, e);
                break;
        }
        previous_match = is_match;
    }
    for (auto [b, e] : kept)
        if (e > b) out.emplace_back(piece.substr(b, e - b));
}

}  // namespace detail

namespace detail {

/// A Metaspace step on one piece: spaces spelled as the replacement, which may go in front; split
/// before each replacement if asked.
inline void metaspace_piece(const std::string& piece, const pre_tokenizer_step& step, bool at_input_start,
                            std::vector<std::string>& out) {
    std::string spelled = replace_all(piece, " ", step.replacement);
    const bool prepend = step.prepend == prepend_scheme::always || (step.prepend == prepend_scheme::first && at_input_start);
    if (prepend && spelled.compare(0, step.replacement.size(), step.replacement) != 0) spelled.insert(0, step.replacement);
    if (!step.split_on_replacement) {
        if (!spelled.empty()) out.push_back(std::move(spelled));
        return;
    }
    std::vector<std::pair<std::size_t, std::size_t>> matches;
    for (std::size_t at = 0; (at = spelled.find(step.replacement, at)) != std::string::npos; at += step.replacement.size())
        matches.emplace_back(at, at + step.replacement.size());
    split_piece(spelled, matches, split_behavior::merged_with_next, false, out);
}

}  // namespace detail

inline void pre_tokenizer::split(std::string_view text, std::vector<std::string>& words, bool at_input_start) const {
    if (text.empty()) return;  // HF makes no word of an empty piece (a Metaspace step would make "▁")
    std::vector<std::string> pieces{std::string(text)}, next;
    for (const auto& step : steps) {
        next.clear();
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            auto& piece = pieces[i];
            if (step.type == pre_tokenizer_step::kind::metaspace) {
                detail::metaspace_piece(piece, step, at_input_start && i == 0, next);
                continue;
            }
            if (step.type == pre_tokenizer_step::kind::byte_level && step.add_prefix_space &&
                (piece.empty() || piece[0] != ' '))
                piece.insert(piece.begin(), ' ');
            if (!step.pattern) {
                next.push_back(std::move(piece));
                continue;
            }
            detail::split_piece(piece, step.pattern->find_all(piece), step.behavior, step.invert, next);
        }
        pieces.swap(next);
    }
    const auto& alphabet = byte_alphabet::get();
    for (auto& p : pieces) words.push_back(byte_level ? alphabet.spell(p) : std::move(p));
}

}  // namespace xlens::text
