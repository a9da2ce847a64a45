// xlens/text/corpus.hpp — a text file as token sequences for analyses that average over text.
//
//   std::string text = xlens::read_corpus("sotu.txt");                  // UTF-8 checked
//   auto windows = xlens::corpus_windows(tok, text, 128, 100);           // ≤ 100 sequences of 128 tokens
#pragma once

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/text/tokenizer.hpp"
#include "xlens/text/utf8.hpp"

namespace xlens {

/// The whole of a UTF-8 text file. Throws io_error 101 (cannot open), input_error 545 (empty, or
/// only whitespace) and 546 (not UTF-8: the first bad byte's offset named).
inline std::string read_corpus(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(101, "cannot open the corpus '" + path + "'");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        throw input_error(545, "the corpus '" + path + "' is empty");
    if (auto at = text::first_invalid_utf8(text))
        throw input_error(546, "the corpus '" + path + "' is not UTF-8: byte " + std::to_string(*at) + " is ill-formed");
    return text;
}

/// Up to `max_windows` windows of `length` tokens of `text` (encoded without special tokens, each
/// after `prefix`, e.g. the BOS), spread evenly over the whole text rather than taken from its start
/// (a corpus in date order would otherwise be judged by its first pages). A text shorter than one
/// window gives one shorter window. Throws input_error 545 if the text has fewer than 2 tokens.
inline std::vector<std::vector<token_id>> corpus_windows(const tokenizer& tok, const std::string& text, std::size_t length,
                                                         std::size_t max_windows, const std::vector<token_id>& prefix = {}) {
    if (length < 2) throw input_error(545, "corpus windows need at least 2 tokens each");
    encode_options o;
    o.add_special_tokens = false;
    std::vector<token_id> ids = tok.encode(text, o);
    if (ids.size() < 2) throw input_error(545, "the corpus has " + std::to_string(ids.size()) + " tokens; at least 2 are needed");
    auto window_at = [&](std::size_t at, std::size_t n) {
        std::vector<token_id> window = prefix;
        window.insert(window.end(), ids.begin() + static_cast<std::ptrdiff_t>(at), ids.begin() + static_cast<std::ptrdiff_t>(at + n));
        return window;
    };
    if (ids.size() <= length) return {window_at(0, ids.size())};
    const std::size_t fit = ids.size() / length;  // whole windows the text holds
    const std::size_t count = std::min(max_windows, fit);
    std::vector<std::vector<token_id>> out;
    for (std::size_t w = 0; w < count; ++w) {
        // Evenly spaced starts over [0, ids.size() − length]; with count == fit they tile the text.
        const std::size_t start = count == 1 ? 0 : w * (ids.size() - length) / (count - 1);
        out.push_back(window_at(start, length));
    }
    return out;
}

}  // namespace xlens
