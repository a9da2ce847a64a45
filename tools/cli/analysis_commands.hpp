// tools/cli/analysis_commands.hpp — subcommands over the analysis layer: lens, attribute, patch.
//
// Prompts come as text (--prompt, --clean, --corrupt; needs the model's tokenizer) or as token ids
// (--tokens, --clean-tokens, --corrupt-tokens). A TOKEN argument (--target, --versus, --answer,
// --wrong) is text that must be exactly one token, such as " Paris", or an id written id:12345.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xlens/analysis/activation_patching.hpp>
#include <xlens/analysis/direct_logit_attribution.hpp>
#include <xlens/analysis/logit_lens.hpp>
#include <xlens/io/npy.hpp>
#include <xlens/model/model.hpp>
#include <xlens/report/attribution_svg.hpp>
#include <xlens/report/lens_svg.hpp>
#include <xlens/report/patching_svg.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "cli/arguments.hpp"
#include "cli/text_commands.hpp"

namespace cli {

/// The model's tokenizer when the command needs one (text prompts or text tokens), else the
/// tokenizer if the model has one (for labels), else none.
inline std::optional<xlens::tokenizer> tokenizer_for(const arguments& a, bool required) {
    if (required) return xlens::load_tokenizer(a.model);
    try {
        return xlens::load_tokenizer(a.model);
    } catch (const xlens::error&) {
        return std::nullopt;  // token ids only: figures and tables show ids
    }
}

inline bool is_token_id(const std::string& s) { return s.rfind("id:", 0) == 0; }

/// A TOKEN argument: "id:N" or text that is exactly one token.
inline xlens::token_id token_argument(const arguments& a, const std::string& name, const xlens::tokenizer* tok) {
    const std::string v = a.require(name);
    if (is_token_id(v)) {
        auto ids = parse_tokens(v.substr(3));
        if (ids.size() != 1) throw usage_error("--" + name + ": 'id:' takes one token id");
        return ids[0];
    }
    if (!tok) throw usage_error("--" + name + ": this model has no tokenizer; give the token as id:N");
    return xlens::single_token(*tok, v);
}

/// Token ids of a prompt given as --TEXT_NAME text or --IDS_NAME ids.
inline std::vector<xlens::token_id> prompt_argument(const arguments& a, const std::string& text_name,
                                                    const std::string& ids_name, const xlens::tokenizer* tok) {
    if (a.has(text_name) == a.has(ids_name)) throw usage_error("give either --" + text_name + " or --" + ids_name);
    if (a.has(ids_name)) return parse_tokens(a.get(ids_name));
    std::string text = a.get(text_name);
    if (text.empty()) throw xlens::input_error(512, "the --" + text_name + " prompt is empty");
    warn_if_not_utf8(text);
    return tok->encode(xlens::text::repair_utf8(text));
}

inline bool needs_tokenizer(const arguments& a, const std::vector<std::string>& text_options,
                            const std::vector<std::string>& token_options) {
    for (const auto& o : text_options)
        if (a.has(o)) return true;
    for (const auto& o : token_options)
        if (a.has(o) && !is_token_id(a.get(o))) return true;
    return false;
}

inline std::vector<std::string> token_labels(const std::vector<xlens::token_id>& ids, const xlens::tokenizer* tok) {
    std::vector<std::string> out;
    for (auto id : ids) out.push_back(tok ? tok->token_text(id) : std::to_string(id));
    return out;
}

/// A token as a table shows it: quoted, whitespace visible, at most `width` characters.
inline std::string shown(const std::string& text, std::size_t width = 10) {
    std::string s;
    for (char ch : text) s += ch == '\n' ? std::string("\\n") : ch == '\t' ? std::string("\\t") : std::string(1, ch);
    std::size_t chars = 0, cut = s.size();
    for (std::size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == width) { cut = i; break; }
    return "'" + s.substr(0, cut) + (cut < s.size() ? "…" : "") + "'";
}

inline void write_text_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    if (!out || !(out << content)) throw usage_error("cannot write '" + path + "'");
    std::cerr << "xlens: wrote " << path << "\n";
}

inline void write_json_file(const std::string& path, const nlohmann::json& j) {
    write_text_file(path, j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

/// "3,5-8" as {3, 5, 6, 7, 8}.
inline std::vector<std::size_t> index_list(const arguments& a, const std::string& name) {
    std::vector<std::size_t> out;
    if (!a.has(name)) return out;
    std::stringstream ss(a.get(name));
    for (std::string item; std::getline(ss, item, ',');) {
        try {
            std::size_t dash = item.find('-'), used = 0, used_to = 0;
            const unsigned long long from = std::stoull(item.substr(0, dash), &used);
            const unsigned long long to = dash == std::string::npos ? from : std::stoull(item.substr(dash + 1), &used_to);
            if (item.empty() || item[0] == '-' || used != (dash == std::string::npos ? item.size() : dash) ||
                (dash != std::string::npos && used_to != item.size() - dash - 1) || to < from || to - from > 100000)
                throw std::invalid_argument(item);
            for (auto i = from; i <= to; ++i) out.push_back(static_cast<std::size_t>(i));
        } catch (const std::logic_error&) {
            throw usage_error("--" + name + ": '" + item + "' is not an index or a range like 3-7");
        }
    }
    return out;
}

inline int cmd_lens(const arguments& a) {
    auto tok = tokenizer_for(a, needs_tokenizer(a, {"prompt"}, {"target"}));
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto tokens = prompt_argument(a, "prompt", "tokens", t);
    auto m = cli::load_model(a);
    xlens::lens_options o;
    o.top_k = number_option<std::size_t>(a, "top", 5);
    if (a.has("target")) o.target = token_argument(a, "target", t);
    if (a.has("frozen-scale")) o.norm = xlens::lens_norm::frozen;
    o.keep_logits = a.has("npy");
    auto r = xlens::logit_lens(m, tokens, o, t);
    if (a.has("json")) write_json_file(a.get("json"), xlens::to_json(r));
    if (a.has("npy")) {
        const auto& s = r.logits.shape();
        xlens::io::write_npy(a.get("npy"), r.logits.data(), {s[0], s[1], s[2]});
    }
    if (a.has("svg")) write_text_file(a.get("svg"), xlens::lens_svg(r));

    // The top token of every layer at every position, last layer last; then the target's rank.
    auto labels = token_labels(tokens, t);
    std::printf("%-11s", "layer");
    for (const auto& l : labels) std::printf(" %-14s", shown(l, 10).c_str());
    std::printf("\n");
    for (std::size_t l = 0; l < r.layers.size(); ++l) {
        std::printf("%-11s", r.layers[l].c_str());
        for (std::size_t p = 0; p < tokens.size(); ++p) {
            const auto& top = r.top[l][p][0];
            std::string cell = shown(t ? top.text : std::to_string(top.id), 6) + " " + std::to_string(int(std::lround(top.prob * 100))) + "%";
            std::printf(" %-14s", cell.c_str());
        }
        std::printf("\n");
    }
    if (o.target) {
        std::printf("\ntarget %s at the last position, by layer:\n", shown(token_labels({*o.target}, t)[0]).c_str());
        for (std::size_t l = 0; l < r.layers.size(); ++l) {
            const auto& c = r.target_cells[l].back();
            std::printf("  %-11s rank %6zu  p = %.4f  logit %8.3f\n", r.layers[l].c_str(), c.rank, c.prob, c.logit);
        }
    }
    return 0;
}

inline int cmd_attribute(const arguments& a) {
    auto tok = tokenizer_for(a, needs_tokenizer(a, {"prompt"}, {"target", "versus"}));
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto tokens = prompt_argument(a, "prompt", "tokens", t);
    auto m = cli::load_model(a);
    xlens::attribution_options o;
    o.target = token_argument(a, "target", t);
    if (a.has("versus")) o.versus = token_argument(a, "versus", t);
    if (a.has("position")) o.position = number_option<std::size_t>(a, "position", 0);
    const std::size_t top = number_option<std::size_t>(a, "top", 12);
    auto r = xlens::direct_logit_attribution(m, tokens, o);
    if (a.has("json")) write_json_file(a.get("json"), xlens::to_json(r));
    if (a.has("npy")) {
        std::vector<float> values;
        for (const auto& c : r.components) values.push_back(static_cast<float>(c.value));
        xlens::io::write_npy(a.get("npy"), values.data(), {values.size()});
    }
    auto labels = token_labels(tokens, t);
    const std::string target_text = token_labels({o.target}, t)[0];
    const std::string versus_text = o.versus ? token_labels({*o.versus}, t)[0] : "";
    if (a.has("svg"))  // without a tokenizer the figure labels tokens by id itself
        write_text_file(a.get("svg"), t ? xlens::attribution_svg(r, top, labels, target_text, versus_text) : xlens::attribution_svg(r, top));

    // The receipt: the largest parts, the rest, and the check that they add up.
    std::printf("logit(%s)%s at position %zu (%s)\n", shown(target_text, 20).c_str(),
                o.versus ? (" - logit(" + shown(versus_text, 20) + ")").c_str() : "", r.position,
                shown(labels[r.position], 20).c_str());
    auto ranked = r.ranked();
    double biggest = ranked.empty() ? 1 : std::max(std::fabs(ranked[0].value), 1e-12);
    double rest = 0;
    for (std::size_t i = 0; i < ranked.size(); ++i) {
        if (i >= top) {
            rest += ranked[i].value;
            continue;
        }
        const int bar = static_cast<int>(std::lround(std::fabs(ranked[i].value) / biggest * 30));
        std::string bars;
        for (int k = 0; k < bar; ++k) bars += ranked[i].value >= 0 ? "+" : "-";
        std::printf("  %-16s %+10.4f  %s\n", ranked[i].label.c_str(), ranked[i].value, bars.c_str());
    }
    if (ranked.size() > top) std::printf("  %-16s %+10.4f  (%zu more components)\n", "other", rest, ranked.size() - top);
    std::printf("  %-16s %+10.4f\n  %-16s %+10.4f  (frozen final-norm scale %.4f)\n", "total", r.total, "model", r.model_value,
                r.final_scale);
    const double gap = std::fabs(r.total - r.model_value);
    std::printf("  check: |total - model| = %.2e %s\n", gap, gap < 1e-3 ? "(sums)" : "(DOES NOT SUM)");
    return gap < 1e-3 ? 0 : 1;
}

inline int cmd_patch(const arguments& a) {
    auto tok = tokenizer_for(a, needs_tokenizer(a, {"clean", "corrupt"}, {"answer", "wrong"}));
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto clean = prompt_argument(a, "clean", "clean-tokens", t);
    auto corrupted = prompt_argument(a, "corrupt", "corrupt-tokens", t);
    auto m = cli::load_model(a);
    xlens::patching_options o;
    o.answer = token_argument(a, "answer", t);
    o.wrong = token_argument(a, "wrong", t);
    o.target = xlens::parse_patch_target(a.get("target", "resid_pre"));
    const std::string direction = a.get("direction", "denoising");
    if (direction != "denoising" && direction != "noising") throw usage_error("--direction is denoising or noising");
    o.direction = direction == "noising" ? xlens::patch_direction::noising : xlens::patch_direction::denoising;
    o.normalise = !a.has("raw");
    o.threads = number_option<std::size_t>(a, "threads", 0);
    o.layers = index_list(a, "layers");
    o.heads = index_list(a, "heads");
    if (a.has("brute-force")) o.method = xlens::patching_method::full_rerun;
    auto r = xlens::activation_patching(m, clean, corrupted, o);
    if (a.has("json")) write_json_file(a.get("json"), xlens::to_json(r));
    if (a.has("npy")) {
        std::vector<float> values(r.values.begin(), r.values.end());
        std::vector<std::uint64_t> shape(r.values.shape().begin(), r.values.shape().end());
        xlens::io::write_npy(a.get("npy"), values.data(), shape);
    }
    auto labels = token_labels(clean, t);
    if (a.has("svg")) write_text_file(a.get("svg"), t ? xlens::patching_svg(r, labels) : xlens::patching_svg(r));

    std::printf("%s patching of %s: clean metric %.4f, corrupted %.4f%s\n", direction.c_str(), xlens::patch_target_name(o.target),
                r.clean_metric, r.corrupted_metric, r.normalised ? " (values normalised: clean = 1, corrupted = 0)" : "");
    if (r.axes.size() == 2) {  // the whole grid
        std::printf("%-8s", r.axes[0].c_str());
        for (std::size_t j = 0; j < r.values.shape()[1]; ++j)
            std::printf(" %8s", (r.axes[1] == "head" ? "H" + std::to_string(r.heads[j]) : shown(labels[j], 6)).c_str());
        std::printf("\n");
        for (std::size_t i = 0; i < r.values.shape()[0]; ++i) {
            std::printf("%-8zu", r.layers[i]);
            for (std::size_t j = 0; j < r.values.shape()[1]; ++j) std::printf(" %8.3f", r.values(i, j));
            std::printf("\n");
        }
    } else {  // layer × head × position: the strongest cells
        std::vector<std::size_t> order(r.values.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::size_t keep = std::min<std::size_t>(15, order.size());
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                          [&](std::size_t x, std::size_t y) { return std::fabs(r.values.data()[x]) > std::fabs(r.values.data()[y]); });
        const std::size_t H = r.values.shape()[1], T = r.values.shape()[2];
        for (std::size_t k = 0; k < keep; ++k) {
            std::size_t i = order[k];
            std::printf("  L%zuH%zu at %zu %-12s %8.4f\n", r.layers[i / (H * T)], r.heads[(i / T) % H], i % T, shown(labels[i % T], 10).c_str(),
                        r.values.data()[i]);
        }
    }
    std::fprintf(stderr, "xlens: %zu patched runs (%zu unchanged, not run) in %.3f s\n", r.runs, r.unchanged, r.seconds);
    return 0;
}

}  // namespace cli
