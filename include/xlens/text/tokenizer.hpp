// xlens/text/tokenizer.hpp — text ↔ token ids: BPE as HF tokenizers and llama.cpp do it (byte-level, and SentencePiece's).
//
//   auto tok = xlens::load_tokenizer("SmolLM2-135M-Instruct.Q4_1.gguf");   // or a folder with tokenizer.json
//   std::vector<xlens::token_id> ids = tok.encode("The Eiffel Tower is in");
//   std::string text = tok.decode(ids);
//
// encode: text → added/special tokens found → each other piece normalised (NFC; SentencePiece's
// "▁" for spaces) → pre-tokenized into words → each word BPE-encoded → BOS/EOS added as the
// tokenizer's template says. decode: each token's bytes, concatenated, invalid UTF-8 repaired with
// U+FFFD; for SentencePiece models "▁" reads as a space and the space the encoder put in front is
// dropped again, as HF's decoders do.
// Files are read by text/tokenizer_files.hpp.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/text/bpe.hpp"
#include "xlens/text/normalizer.hpp"
#include "xlens/text/pre_tokenizer.hpp"
#include "xlens/text/unicode_normalization.hpp"
#include "xlens/text/utf8.hpp"
#include "xlens/token_id.hpp"

namespace xlens {

/// A token matched literally in text before BPE: special tokens (<|im_start|>) and user additions.
struct added_token {
    token_id id = -1;
    std::string content;
    bool special = false;      // control token: skipped by decode(..., skip_special = true)
    bool normalized = false;   // matched in normalised text (else in the raw text)
    bool lstrip = false;       // swallows white space on its left
    bool rstrip = false;       // swallows white space on its right
    bool single_word = false;  // only matches when not inside a word
};

/// How the pieces of a tokenizer that is not byte-level become text again (HF's decoders
/// Replace, ByteFallback, Fuse, Strip, Metaspace).
struct piece_decoder {
    std::vector<std::pair<std::string, std::string>> replace;  // in every piece, e.g. "▁" → " "
    bool byte_fallback = false;            // <0xXX> is that byte; an ill-formed run is one U+FFFD per byte
    std::size_t strip_leading_spaces = 0;  // spaces removed from the start of the whole text
    std::string first_piece_drops;         // Metaspace's decoder: this vanishes from the first piece
};

/// Everything a tokenizer is made of; filled by the file readers, checked by the tokenizer.
struct tokenizer_spec {
    std::string source;                           // the file it came from, for messages
    text::bpe_model model;
    text::pre_tokenizer pre;
    text::normalizer normalizer;                  // applied to each piece between added tokens
    piece_decoder decoder;                        // used when pre.byte_level is false
    std::vector<added_token> added;
    std::vector<token_id> prefix, suffix;         // added around a text by encode(add_special_tokens)
    std::optional<token_id> bos, eos;
    std::vector<token_id> stop;                   // ids that end generation (eos and e.g. <|im_end|>)
    std::string chat_template;                    // Jinja source, if the files carry one
};

/// How encode() treats its input.
struct encode_options {
    bool add_special_tokens = true;  // BOS/EOS (or the template's tokens), as transformers does by default
    bool parse_special = true;       // "<|im_start|>" in the text becomes that token (as HF does); when
                                     // false, special tokens are text, other added tokens still match
    bool strict_utf8 = false;        // ill-formed UTF-8: replaced by U+FFFD (false), or input_error 510
};

class tokenizer {  // NOLINT(bugprone-reserved-identifier): clang-tidy 14 flags the implicit copy constructor's parameter
public:
    /// Takes `spec`; throws config_error 313 if an added token's id is outside the vocabulary.
    explicit tokenizer(tokenizer_spec spec);

    /// Token ids of `text` (UTF-8). Empty text gives just the template's tokens (none for most).
    std::vector<token_id> encode(std::string_view text, const encode_options& options = {}) const;

    /// The text of `ids`, invalid UTF-8 repaired (as HF's decode). Throws input_error 502 on a bad id.
    std::string decode(const std::vector<token_id>& ids, bool skip_special = false) const;
    /// The raw bytes of `ids`, token after token (a token may end inside a character; see
    /// text::utf8_stream). SentencePiece's "▁" is a space here, and the space in front is kept.
    std::string decode_bytes(const std::vector<token_id>& ids, bool skip_special = false) const;
    /// One token's text, for display: repaired, so a piece of a character shows as U+FFFD; a
    /// SentencePiece word keeps its leading space (" Paris", where decode gives "Paris"). An id
    /// the tokenizer lacks (a model's padding rows beyond the vocabulary) shows as "".
    std::string token_text(token_id id) const {
        return id >= 0 && static_cast<std::size_t>(id) < vocab_size_ ? text::repair_utf8(decode_bytes({id})) : std::string();
    }

    /// The id of the token spelled `piece` (an added token's content or a vocabulary entry).
    /// Throws input_error 511 naming it if there is none.
    token_id token_to_id(std::string_view piece) const;
    /// Number of ids (vocabulary plus added tokens).
    std::size_t vocab_size() const { return vocab_size_; }
    /// Whether `id` is a special (control) token.
    bool is_special(token_id id) const {
        auto it = added_by_id_.find(id);
        return it != added_by_id_.end() && spec_.added[it->second].special;
    }
    std::optional<token_id> bos() const { return spec_.bos; }
    std::optional<token_id> eos() const { return spec_.eos; }
    /// Ids that end generation: EOS and the chat template's end-of-turn token.
    const std::vector<token_id>& stop_tokens() const { return spec_.stop; }
    const std::string& chat_template() const { return spec_.chat_template; }
    const std::string& source() const { return spec_.source; }

private:
    /// Splits `text` on the added tokens of one kind (normalized or not), leftmost-longest; special
    /// ones only if `special` (HF's encode_special_tokens, llama.cpp's parse_special).
    void split_added(std::string_view text, bool normalized, bool special,
                     std::vector<std::pair<std::string, token_id>>& out) const;
    /// BPE ids of a piece with no added tokens in it (`at_input_start`: nothing comes before it).
    void encode_plain(std::string_view piece, bool at_input_start, std::vector<token_id>& out) const;
    /// The spelling of `id` (an added token's content or a vocabulary piece).
    const std::string& piece_of(token_id id) const;
    /// Throws input_error 502 if `id` (at `position` of the ids decoded) is outside the vocabulary.
    void check_id(token_id id, std::size_t position) const {
        if (id < 0 || static_cast<std::size_t>(id) >= vocab_size_)
            throw input_error(502, "token " + std::to_string(id) + " at position " + std::to_string(position) +
                                       " is outside the vocabulary [0, " + std::to_string(vocab_size_) + ")");
    }
    /// A piece of a tokenizer that is not byte-level as text: the decoder's replacements ("▁" → " "),
    /// and on the `first` piece what Metaspace's decoder drops.
    std::string spell_piece(const std::string& piece, bool first) const;
    /// The byte a SentencePiece byte piece "<0xXX>" stands for, or -1.
    int fallback_byte(const std::string& piece) const;

    tokenizer_spec spec_;
    std::size_t vocab_size_ = 0;
    std::unordered_map<token_id, std::size_t> added_by_id_;
    std::unordered_map<std::string, std::size_t> added_by_content_;
    std::vector<std::vector<std::size_t>> added_by_first_byte_[2];  // [normalized][byte] → indices, longest first
    /// Whether the last (first) character of `s` is a word character (\w), as HF's single_word asks.
    bool ends_with_word(std::string_view s) const {
        std::size_t start = s.size();
        while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start - 1]) & 0xC0) == 0x80) --start;
        return start > 0 && !word_char_.find_all(s.substr(start - 1)).empty();
    }
    bool starts_with_word(std::string_view s) const {
        if (s.empty()) return false;
        std::size_t end = 0;
        text::next_code_point(s, end);
        return !word_char_.find_all(s.substr(0, end)).empty();
    }
    text::regex word_char_{R"(^\w\z)"};
};

// ---- definitions -------------------------------------------------------------------------------

inline tokenizer::tokenizer(tokenizer_spec spec) : spec_(std::move(spec)) {
    vocab_size_ = spec_.model.size();
    for (const auto& a : spec_.added) vocab_size_ = std::max(vocab_size_, static_cast<std::size_t>(a.id) + 1);
    for (std::size_t k = 0; k < 2; ++k) added_by_first_byte_[k].resize(256);
    for (std::size_t i = 0; i < spec_.added.size(); ++i) {
        const auto& a = spec_.added[i];
        if (a.id < 0) throw config_error(313, spec_.source + ": added token '" + a.content + "' has a negative id");
        if (a.content.empty()) throw config_error(313, spec_.source + ": added token " + std::to_string(a.id) + " is empty");
        added_by_id_[a.id] = i;
        added_by_content_[a.content] = i;
        added_by_first_byte_[a.normalized][static_cast<unsigned char>(a.content[0])].push_back(i);
    }
    for (auto& table : added_by_first_byte_)
        for (auto& bucket : table)
            std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t x, std::size_t y) {
                return spec_.added[x].content.size() > spec_.added[y].content.size();
            });
    auto check = [&](std::optional<token_id> id, const char* what) {
        if (id && (*id < 0 || static_cast<std::size_t>(*id) >= vocab_size_))
            throw config_error(313, spec_.source + ": " + what + " id " + std::to_string(*id) + " is outside the vocabulary");
    };
    check(spec_.bos, "BOS");
    check(spec_.eos, "EOS");
    for (token_id id : spec_.prefix) check(id, "template");
    for (token_id id : spec_.suffix) check(id, "template");
    for (token_id id : spec_.stop) check(id, "stop");
}

inline void tokenizer::split_added(std::string_view text, bool normalized, bool special,
                                   std::vector<std::pair<std::string, token_id>>& out) const {
    const auto& table = added_by_first_byte_[normalized];
    std::size_t emitted = 0;  // text before this offset is already in `out`
    std::size_t at = 0;
    while (at < text.size()) {
        const added_token* match = nullptr;
        for (std::size_t index : table[static_cast<unsigned char>(text[at])]) {
            const auto& a = spec_.added[index];
            if (a.special && !special) continue;
            if (text.compare(at, a.content.size(), a.content) != 0) continue;
            std::size_t stop = at + a.content.size();
            if (a.single_word && (ends_with_word(text.substr(0, at)) || starts_with_word(text.substr(stop)))) continue;
            match = &a;
            break;  // longest first
        }
        if (!match) {
            ++at;
            continue;
        }
        std::size_t start = at, stop = at + match->content.size();
        if (match->lstrip)  // white space before it joins the token (back to the previous match)
            while (start > emitted) {
                std::size_t lead = start - 1;
                while (lead > emitted && (static_cast<unsigned char>(text[lead]) & 0xC0) == 0x80) --lead;
                std::size_t i = lead;
                if (!text::is_white_space(text::next_code_point(text, i))) break;
                start = lead;
            }
        if (match->rstrip)
            while (stop < text.size()) {
                std::size_t i = stop;
                if (!text::is_white_space(text::next_code_point(text, i))) break;
                stop = i;
            }
        if (start > emitted) out.emplace_back(std::string(text.substr(emitted, start - emitted)), -1);
        out.emplace_back(std::string(), match->id);
        emitted = at = stop;
    }
    if (emitted < text.size()) out.emplace_back(std::string(text.substr(emitted)), -1);
}

inline void tokenizer::encode_plain(std::string_view piece, bool at_input_start, std::vector<token_id>& out) const {
    std::vector<std::string> words;
    spec_.pre.split(piece, words, at_input_start);
    for (const auto& w : words) spec_.model.encode_word(w, out);
}

inline std::vector<token_id> tokenizer::encode(std::string_view input, const encode_options& options) const {
    std::string repaired;
    if (auto bad = text::first_invalid_utf8(input)) {
        if (options.strict_utf8)
            throw input_error(510, "text is not valid UTF-8: ill-formed byte " +
                                       std::to_string(static_cast<unsigned char>(input[*bad])) + " at offset " +
                                       std::to_string(*bad) + " (encode_options::strict_utf8)");
        repaired = text::repair_utf8(input);
        input = repaired;
    }
    std::vector<token_id> ids(spec_.prefix.begin(), options.add_special_tokens ? spec_.prefix.end() : spec_.prefix.begin());

    // Raw-text added tokens first; then, in each remaining piece normalised, the normalised ones.
    std::vector<std::pair<std::string, token_id>> raw, pieces;
    split_added(input, false, options.parse_special, raw);
    for (auto& [text, id] : raw) {
        if (id >= 0) {
            pieces.emplace_back(std::string(), id);
            continue;
        }
        split_added(spec_.normalizer.apply(std::move(text)), true, options.parse_special, pieces);
    }
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const auto& [text, id] = pieces[i];
        if (id >= 0) ids.push_back(id);
        else encode_plain(text, i == 0, ids);
    }
    if (options.add_special_tokens) ids.insert(ids.end(), spec_.suffix.begin(), spec_.suffix.end());
    return ids;
}

inline const std::string& tokenizer::piece_of(token_id id) const {
    auto added = added_by_id_.find(id);
    if (added != added_by_id_.end()) return spec_.added[added->second].content;
    static const std::string none;
    return static_cast<std::size_t>(id) < spec_.model.size() ? spec_.model.spelling(id) : none;
}

inline int tokenizer::fallback_byte(const std::string& piece) const {
    if (!spec_.decoder.byte_fallback || piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
    auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
    const int high = digit(piece[3]), low = digit(piece[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
}

inline std::string tokenizer::spell_piece(const std::string& piece, bool first) const {
    const piece_decoder& d = spec_.decoder;
    std::string spelled = first && !d.first_piece_drops.empty() ? text::replace_all(piece, d.first_piece_drops, "") : piece;
    for (const auto& [from, to] : d.replace) spelled = text::replace_all(spelled, from, to);
    return spelled;
}

inline std::string tokenizer::decode_bytes(const std::vector<token_id>& ids, bool skip_special) const {
    const auto& alphabet = text::byte_alphabet::get();
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        token_id id = ids[i];
        check_id(id, i);
        if (skip_special && is_special(id)) continue;
        const std::string& piece = piece_of(id);
        if (!spec_.pre.byte_level) {
            if (int b = fallback_byte(piece); b >= 0) {
                out += static_cast<char>(b);
                continue;
            }
            out += spell_piece(piece, false);
            continue;
        }
        // A piece wholly in the byte alphabet stands for those bytes; any other piece for itself.
        std::string bytes;
        bool all_mapped = true;
        for (std::size_t k = 0; k < piece.size() && all_mapped;) {
            int b = alphabet.byte_of(text::next_code_point(piece, k));
            if (b < 0) all_mapped = false;
            else bytes += static_cast<char>(b);
        }
        out += all_mapped ? bytes : piece;
    }
    return out;
}

inline std::string tokenizer::decode(const std::vector<token_id>& ids, bool skip_special) const {
    if (spec_.pre.byte_level) return text::repair_utf8(decode_bytes(ids, skip_special));
    // HF's decoder chain: Replace in each piece, ByteFallback over runs of byte pieces, Fuse, Strip.
    const piece_decoder& d = spec_.decoder;
    std::string out, run;
    auto flush_bytes = [&] {
        if (text::is_valid_utf8(run)) out += run;
        else
            for (std::size_t k = 0; k < run.size(); ++k) out += "\xEF\xBF\xBD";  // one U+FFFD per byte, as HF
        run.clear();
    };
    bool first = true;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        token_id id = ids[i];
        check_id(id, i);
        if (skip_special && is_special(id)) continue;
        const std::string& piece = piece_of(id);
        const bool was_first = first;
        first = false;
        if (int b = fallback_byte(piece); b >= 0) {
            run += static_cast<char>(b);
            continue;
        }
        flush_bytes();
        out += spell_piece(piece, was_first);
    }
    flush_bytes();
    std::size_t strip = 0;
    while (strip < d.strip_leading_spaces && strip < out.size() && out[strip] == ' ') ++strip;
    return text::repair_utf8(out.substr(strip));
}

inline token_id tokenizer::token_to_id(std::string_view piece) const {
    if (auto it = added_by_content_.find(std::string(piece)); it != added_by_content_.end())
        return spec_.added[it->second].id;
    if (token_id id = spec_.model.find(piece); id >= 0) return id;
    throw input_error(511, "'" + std::string(piece) + "' is not a token of " + spec_.source);
}

/// The one token `text` encodes to without special tokens, e.g. single_token(tok, " Paris") — what
/// an analysis's answer or target word must be. Throws input_error 536 naming the pieces when the
/// text is several tokens (" Parisian" → " Paris" + "ian") or none.
inline token_id single_token(const tokenizer& tok, std::string_view text) {
    encode_options o;
    o.add_special_tokens = false;
    std::vector<token_id> ids = tok.encode(text, o);
    if (ids.size() == 1) return ids[0];
    std::string pieces;
    for (token_id id : ids) pieces += (pieces.empty() ? "'" : " + '") + tok.token_text(id) + "'";
    throw input_error(536, "'" + std::string(text) + "' is " + std::to_string(ids.size()) + " tokens" +
                               (ids.empty() ? std::string() : " (" + pieces + ")") +
                               ", not one: give a single token (mind the leading space, e.g. ' Paris') or its id");
}

}  // namespace xlens
