// xlens/text/corpus.hpp — a text file as token sequences for analyses that average over text.
//
//   std::string text = xlens::read_corpus("sotu.txt");                  // UTF-8 checked
//   auto windows = xlens::corpus_windows(tok, text, 128, 100);           // ≤ 100 sequences of 128 tokens
//   auto [harvest, held_out] = xlens::split_held_out(text, 0.1);         // last 10% kept apart
//
// A corpus is plain UTF-8 text, or JSON Lines (a ".jsonl" file: one object per line whose "text"
// field is taken; the texts are joined by blank lines).
#pragma once

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/error.hpp"
#include "xlens/text/tokenizer.hpp"
#include "xlens/text/utf8.hpp"

namespace xlens {

namespace detail {
/// The "text" fields of a JSON Lines file, joined by blank lines. Throws input_error 547 naming the line.
inline std::string jsonl_texts(const std::string& raw, const std::string& path) {
    std::string out;
    std::size_t line_no = 0, start = 0;
    while (start < raw.size()) {
        std::size_t end = raw.find('\n', start);
        if (end == std::string::npos) end = raw.size();
        const std::string line = raw.substr(start, end - start);
        start = end + 1;
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("text") || !j["text"].is_string())
            throw input_error(547, "the corpus '" + path + "' line " + std::to_string(line_no) +
                                       " is not a JSON object with a string \"text\" field");
        if (!out.empty()) out += "\n\n";
        out += j["text"].get<std::string>();
    }
    return out;
}
}  // namespace detail

/// The whole of a UTF-8 text file (or the texts of a .jsonl file). Throws io_error 101 (cannot
/// open), input_error 545 (empty, or only whitespace), 546 (not UTF-8: the first bad byte's offset
/// named) and 547 (a .jsonl line without a "text" string).
inline std::string read_corpus(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(101, "cannot open the corpus '" + path + "'");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (auto at = text::first_invalid_utf8(text))
        throw input_error(546, "the corpus '" + path + "' is not UTF-8: byte " + std::to_string(*at) + " is ill-formed");
    if (path.size() > 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0) text = detail::jsonl_texts(text, path);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        throw input_error(545, "the corpus '" + path + "' is empty");
    return text;
}

/// The text cut in two at a line break near (1 − held_out) of its length: the first part to learn
/// from, the last to test on, so test text is never seen while learning. Throws input_error 545 if
/// held_out is not in (0, 1) or either part would be empty.
inline std::pair<std::string, std::string> split_held_out(const std::string& text, double held_out) {
    if (!(held_out > 0 && held_out < 1)) throw input_error(545, "the held-out share must be between 0 and 1");
    const auto target = static_cast<std::size_t>(static_cast<double>(text.size()) * (1 - held_out));
    std::size_t cut = text.rfind('\n', target);
    // A line break far before the target (a title line, then one long line) would move the share
    // (far: over 5% of the text and over 1 KB):
    // then cut at the target itself, backed up to the start of a UTF-8 character.
    if (cut == std::string::npos || cut == 0 || target - cut > std::max<std::size_t>(text.size() / 20, 1024)) {
        cut = target;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    }
    std::pair<std::string, std::string> out{text.substr(0, cut), text.substr(cut)};
    if (out.first.find_first_not_of(" \t\r\n") == std::string::npos ||
        out.second.find_first_not_of(" \t\r\n") == std::string::npos)
        throw input_error(545, "the corpus is too short to keep a held-out part apart");
    return out;
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
