// tools/cli/text_commands.hpp — subcommands that start from text: tokenize, generate, probe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <xlens/analysis/token_probe.hpp>
#include <xlens/model/model.hpp>
#include <xlens/report/probe_html.hpp>
#include <xlens/report/probe_text.hpp>
#include <xlens/run/generate.hpp>
#include <xlens/text/chat_template.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "cli/arguments.hpp"

namespace cli {

/// The whole of a file, as bytes. Throws usage_error if it cannot be read.
inline std::string read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read '" + path + "'");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Records of a --batch file: each a little-endian uint32 byte count, then the bytes.
inline std::vector<std::string> read_records(const std::string& path) {
    std::string data = read_file_bytes(path);
    std::vector<std::string> records;
    std::size_t at = 0;
    while (at < data.size()) {
        if (data.size() - at < 4) throw usage_error(path + ": truncated record header at byte " + std::to_string(at));
        std::uint32_t n = 0;
        for (int k = 3; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(data[at + static_cast<std::size_t>(k)]);
        at += 4;
        if (n > data.size() - at) throw usage_error(path + ": record at byte " + std::to_string(at - 4) + " runs past the end");
        records.push_back(data.substr(at, n));
        at += n;
    }
    return records;
}

/// The text a command works on: --prompt TEXT or --file PATH.
inline std::string prompt_text(const arguments& a) {
    if (a.has("prompt") && a.has("file")) throw usage_error("give --prompt or --file, not both");
    if (a.has("file")) return read_file_bytes(a.get("file"));
    if (!a.has("prompt")) throw usage_error("missing --prompt (or --file)");
    return a.get("prompt");
}

/// Ill-formed UTF-8 is tokenized as U+FFFD (as Python's errors="replace" would give HF); say so.
inline void warn_if_not_utf8(const std::string& text) {
    if (auto at = xlens::text::first_invalid_utf8(text))
        std::cerr << "xlens: the text is not valid UTF-8 (byte " << *at << "); ill-formed bytes are read as U+FFFD\n";
}

inline xlens::encode_options encode_flags(const arguments& a) {
    xlens::encode_options o;
    o.add_special_tokens = !a.has("no-special");
    o.parse_special = !a.has("split-special");
    return o;
}

inline int cmd_tokenize(const arguments& a) {
    xlens::tokenizer tok = xlens::load_tokenizer(a.model);
    const xlens::encode_options options = encode_flags(a);
    if (a.has("batch")) {
        std::vector<std::string> records = read_records(a.get("batch"));
        std::string decoded;
        std::string out;
        for (const auto& r : records) {
            std::vector<xlens::token_id> ids = tok.encode(r, options);
            for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
            out += '\n';
            if (a.has("decoded")) {
                std::string text = tok.decode(ids);
                auto n = static_cast<std::uint32_t>(text.size());
                for (int k = 0; k < 4; ++k) decoded += static_cast<char>((n >> (8 * k)) & 0xFF);
                decoded += text;
            }
        }
        std::cout << out;
        if (a.has("decoded")) {
            std::ofstream f(a.get("decoded"), std::ios::binary);
            if (!(f << decoded)) throw usage_error("cannot write '" + a.get("decoded") + "'");
        }
        return 0;
    }
    const std::string text = prompt_text(a);
    warn_if_not_utf8(text);
    std::vector<xlens::token_id> ids = tok.encode(text, options);
    if (a.has("json")) {
        nlohmann::json j;
        j["ids"] = ids;
        for (auto id : ids) j["pieces"].push_back(tok.token_text(id));
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << ids.size() << " tokens\n";
    for (std::size_t i = 0; i < ids.size(); ++i)
        std::printf("%5zu %8d  %s%s\n", i, ids[i], nlohmann::json(tok.token_text(ids[i])).dump().c_str(),
                    tok.is_special(ids[i]) ? "  (special)" : "");
    return 0;
}

/// A number option, or `fallback` when absent. Throws usage_error naming the option if malformed.
template <typename T>
T number_option(const arguments& a, const std::string& name, T fallback) {
    if (!a.has(name)) return fallback;
    const std::string v = a.get(name);
    try {
        std::size_t used = 0;
        T out;
        if constexpr (std::is_floating_point_v<T>) out = static_cast<T>(std::stod(v, &used));
        else {
            if (!v.empty() && v[0] == '-') throw std::invalid_argument(v);
            out = static_cast<T>(std::stoull(v, &used));
        }
        if (used != v.size()) throw std::invalid_argument(v);
        if constexpr (std::is_floating_point_v<T>)
            if (out == 0 && std::stod(v) != 0) throw std::invalid_argument(v);  // 1e-50 must not become 0 (greedy)
        return out;
    } catch (const std::logic_error&) {
        throw usage_error("--" + name + ": '" + v + "' is not a valid number");
    }
}

inline xlens::sampling_options sampling_flags(const arguments& a) {
    xlens::sampling_options s;
    s.temperature = number_option<float>(a, "temperature", 0.0f);
    s.top_k = number_option<std::size_t>(a, "top-k", 0);
    s.top_p = number_option<float>(a, "top-p", 1.0f);
    s.seed = number_option<std::uint64_t>(a, "seed", 0);
    s.validate();
    return s;
}

/// The prompt text, wrapped in the chat template with --chat. An empty prompt is refused (512).
inline std::string prompt_for_model(const arguments& a, const xlens::tokenizer& tok) {
    std::string text = prompt_text(a);
    if (text.empty()) throw xlens::input_error(512, "the prompt is empty");
    warn_if_not_utf8(text);
    text = xlens::text::repair_utf8(text);  // what the tokenizer reads anyway; and JSON output needs UTF-8
    return a.has("chat") ? xlens::apply_chat_template(tok, {{"user", text}}) : text;
}

inline int cmd_generate(const arguments& a) {
    const std::size_t n = number_option<std::size_t>(a, "n", 32);
    if (n == 0) throw usage_error("-n must be at least 1 (the number of tokens to generate)");
    xlens::generate_options o;
    o.max_new_tokens = n;
    o.sampling = sampling_flags(a);
    auto m = cli::load_model(a);
    xlens::tokenizer tok = xlens::load_tokenizer(a.model);
    if (!a.has("ignore-eos")) o.stop_tokens = tok.stop_tokens();
    const std::string prompt = prompt_for_model(a, tok);
    std::vector<xlens::token_id> ids = tok.encode(prompt);
    const bool json = a.has("json");
    xlens::text::utf8_stream stream;
    if (!json) std::cout << prompt << std::flush;
    auto start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point first_token;
    xlens::generation g = xlens::generate(m, ids, o, [&](xlens::token_id t) {
        if (first_token == std::chrono::steady_clock::time_point()) first_token = std::chrono::steady_clock::now();
        const bool printable = static_cast<std::size_t>(t) < tok.vocab_size() && !tok.is_special(t);  // not padding
        if (!json && printable) std::cout << stream.push(tok.decode_bytes({t})) << std::flush;
        return true;
    });
    auto end = std::chrono::steady_clock::now();
    double decode_s = std::chrono::duration<double>(end - first_token).count();
    double prefill_s = std::chrono::duration<double>(first_token - start).count();
    if (json) {
        std::vector<xlens::token_id> known;  // a model may pad its vocabulary beyond the tokenizer's
        for (auto t : g.tokens)
            if (static_cast<std::size_t>(t) < tok.vocab_size()) known.push_back(t);
        nlohmann::json j = {{"prompt", prompt}, {"prompt_ids", ids}, {"ids", g.tokens},
                            {"text", tok.decode(known, /*skip_special=*/true)}, {"stop_reason", xlens::to_string(g.reason)}};
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << stream.finish() << std::endl;  // before the statistics on stderr
    }
    std::fprintf(stderr, "xlens: %zu prompt tokens in %.3f s; %zu new tokens, %.1f tokens/s; stopped: %s\n", ids.size(),
                 prefill_s, g.tokens.size(), g.tokens.size() > 1 ? static_cast<double>(g.tokens.size() - 1) / decode_s : 0.0,
                 xlens::to_string(g.reason));
    return 0;
}

inline int cmd_probe(const arguments& a) {
    xlens::probe_options o;
    o.max_new_tokens = number_option<std::size_t>(a, "n", 0);
    o.sampling = sampling_flags(a);
    o.top_k = number_option<std::size_t>(a, "top", 5);
    auto m = cli::load_model(a);
    xlens::tokenizer tok = xlens::load_tokenizer(a.model);
    o.stop_tokens = tok.stop_tokens();
    xlens::probe_result r = xlens::probe(m, tok, prompt_for_model(a, tok), o);
    if (a.has("json") || a.has("html")) {
        nlohmann::json j = xlens::to_json(r, m);
        auto write = [](const std::string& path, const std::string& data) {
            std::ofstream f(path, std::ios::binary);
            if (!(f << data)) throw usage_error("cannot write '" + path + "'");
        };
        if (a.has("json")) write(a.get("json"), j.dump(1));
        if (a.has("html")) write(a.get("html"), xlens::probe_html(j));
    }
    const char* no_colour = std::getenv("NO_COLOR");
    std::cout << xlens::probe_table(r, isatty(STDOUT_FILENO) && !(no_colour && *no_colour));
    return 0;
}

}  // namespace cli
