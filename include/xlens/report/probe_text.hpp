// xlens/report/probe_text.hpp — the token probe as an aligned terminal table.
//
//   std::cout << xlens::probe_table(result, /*colour=*/isatty(1));
//
//   pos  token        next            prob  rank  rule    lens@  top candidates
//     5  " in"      → " Paris"       0.620     1  argmax     22  " Paris" 0.62  " the" 0.11  " France" 0.04
//   The Eiffel Tower is in → Paris (0.62)
//
// "lens@" is the first layer whose logit lens already ranks the chosen token first.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "xlens/analysis/token_probe.hpp"

namespace xlens {

namespace detail {

/// A token's text as a quoted, escaped literal, cut to `width` characters.
inline std::string quoted(const std::string& text, std::size_t width) {
    std::string q = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::size_t chars = 0, cut = q.size();
    for (std::size_t i = 0; i < q.size(); ++i)
        if ((static_cast<unsigned char>(q[i]) & 0xC0) != 0x80 && ++chars > width) {
            cut = i;
            break;
        }
    if (cut < q.size()) {
        q.resize(cut);
        q += "…";
    }
    return q;
}

/// `s` padded with spaces to `width` characters (not bytes).
inline std::string pad(const std::string& s, std::size_t width) {
    std::size_t chars = 0;
    for (char c : s) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return chars >= width ? s : s + std::string(width - chars, ' ');
}

}  // namespace detail

/// One row per step, then the chosen path in one line. ANSI colour when `colour`.
inline std::string probe_table(const probe_result& r, bool colour) {
    auto paint = [&](const char* code, const std::string& s) { return colour ? std::string(code) + s + "\033[0m" : s; };
    const char* bold = "\033[1m";
    const char* dim = "\033[2m";
    const char* green = "\033[32m";
    const char* yellow = "\033[33m";
    std::string out = paint(bold, "pos  token           next              prob   rank  rule    lens@  top candidates") + "\n";
    char buf[64];
    for (const auto& s : r.steps) {
        std::snprintf(buf, sizeof buf, "%3zu  ", s.position);
        std::string line = buf + detail::pad(detail::quoted(s.text, 14), 16);
        if (s.chosen) {
            const char* tint = s.rule == "prompt" ? dim : s.rule == "sample" ? yellow : green;
            line += "→ " + paint(tint, detail::pad(detail::quoted(s.chosen->text, 14), 16));
            std::snprintf(buf, sizeof buf, "%6.3f %6zu  %-6s ", s.chosen->prob, s.chosen->rank, s.rule.c_str());
            line += buf;
            std::string at = "-";
            for (std::size_t l = 0; l < s.lens.size(); ++l)
                if (!s.lens[l].empty() && s.lens[l][0].id == s.chosen->id) {
                    at = std::to_string(l);
                    break;
                }
            std::snprintf(buf, sizeof buf, "%5s  ", at.c_str());
            line += buf;
        } else {
            line += detail::pad("", 18) + detail::pad("", 28) + "  ";
        }
        for (std::size_t k = 0; k < s.candidates.size() && k < 3; ++k) {
            std::snprintf(buf, sizeof buf, " %.2f  ", s.candidates[k].prob);
            line += detail::quoted(s.candidates[k].text, 12) + buf;
        }
        out += line + "\n";
    }
    // The path: the prompt as read, then each chosen continuation with its probability.
    std::string path = r.prompt;
    for (const auto& s : r.steps)
        if (s.chosen && s.rule != "prompt") {
            std::snprintf(buf, sizeof buf, " (%.2f)", s.chosen->prob);
            std::string text = s.chosen->text;
            if (!text.empty() && text[0] == ' ') text.erase(0, 1);  // the arrow already separates
            for (std::size_t at; (at = text.find_first_of("\n\t\r")) != std::string::npos;)
                text.replace(at, 1, text[at] == '\n' ? "↵" : text[at] == '\t' ? "⇥" : "␍");
            for (char& ch : text)  // no other control bytes (an escape sequence) reach the terminal
                if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) ch = '?';
            path += " → " + paint(bold, text) + buf;
        }
    return out + path + "\n" +
           paint(dim, "prob/rank: of the next token under the model; lens@: first layer whose logit lens ranks it first") + "\n";
}

}  // namespace xlens
