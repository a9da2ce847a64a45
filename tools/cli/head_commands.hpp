// tools/cli/head_commands.hpp — `xlens heads`: score every attention head, cluster, name the roles.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xlens/analysis/attention_heads.hpp>
#include <xlens/analysis/head_clustering.hpp>
#include <xlens/model/model.hpp>
#include <xlens/report/heads_html.hpp>
#include <xlens/text/corpus.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "cli/analysis_commands.hpp"
#include "cli/arguments.hpp"
#include "cli/text_commands.hpp"

namespace cli {

/// Each head's attention pattern on one prompt, rounded to 4 decimals: [layer][head][query][key].
inline nlohmann::json example_patterns(const xlens::model& m, const std::vector<xlens::token_id>& tokens) {
    auto [logits, cache] = xlens::run_with_cache(m, tokens, xlens::hook_filter::suffix("hook_pattern"));
    nlohmann::json layers = nlohmann::json::array();
    for (std::size_t L = 0; L < m.config().n_layers; ++L) {
        const auto& p = cache.at({xlens::hook_kind::pattern, static_cast<int>(L)});
        nlohmann::json heads = nlohmann::json::array();
        for (std::size_t h = 0; h < p.shape()[0]; ++h) {
            nlohmann::json rows = nlohmann::json::array();
            for (std::size_t i = 0; i < p.shape()[1]; ++i) {
                nlohmann::json row = nlohmann::json::array();
                for (std::size_t j = 0; j <= i; ++j) row.push_back(std::round(p(h, i, j) * 1e4) / 1e4);
                rows.push_back(std::move(row));
            }
            heads.push_back(std::move(rows));
        }
        layers.push_back(std::move(heads));
    }
    return layers;
}

/// One letter per role for the terminal map.
inline char role_letter(const std::string& role) {
    static const std::map<std::string, char> letters = {{"previous_token", 'P'}, {"induction", 'I'}, {"duplicate_token", 'D'},
                                                        {"first_token", 'F'},    {"self", 'S'},      {"local", 'L'}};
    auto it = letters.find(role);
    return it == letters.end() ? '.' : it->second;
}

inline int cmd_heads(const arguments& a) {
    auto tok = tokenizer_for(a, a.has("corpus") || a.has("prompt"));
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto m = cli::load_model(a);
    const auto& c = m.config();
    std::vector<xlens::token_id> prefix;
    if (t && t->bos()) prefix.push_back(*t->bos());

    xlens::head_score_options score_options;
    score_options.local_window = number_option<std::size_t>(a, "window", 4);
    const std::uint64_t seed = number_option<std::uint64_t>(a, "seed", 0);
    const std::size_t repeats = number_option<std::size_t>(a, "random-repeats", 20);
    const std::size_t default_length = std::min<std::size_t>(32, (c.n_ctx - prefix.size()) / 2);
    const std::size_t repeat_length = number_option<std::size_t>(a, "repeat-length", default_length);
    if (repeats == 0) throw usage_error("--random-repeats must be at least 1");

    // Induction and duplicate-token heads are scored where their targets exist by construction.
    auto sequences = xlens::repeated_random_tokens(m, repeats, repeat_length, seed, prefix);
    xlens::head_scorer on_repeats(m, score_options);
    for (const auto& s : sequences) on_repeats.add(s);
    const xlens::head_scores repeat_scores = on_repeats.result();
    xlens::head_scores scores = repeat_scores;
    std::optional<xlens::head_scores> text_scores;
    if (a.has("corpus")) {
        const std::string text = xlens::read_corpus(a.get("corpus"));
        const std::size_t length = std::min(number_option<std::size_t>(a, "seq-len", 128), c.n_ctx - prefix.size());
        auto windows = xlens::corpus_windows(*t, text, length, number_option<std::size_t>(a, "sequences", 100), prefix);
        xlens::head_scorer on_text(m, score_options);
        for (const auto& w : windows) on_text.add(w);
        text_scores = on_text.result();
        scores = xlens::combine_scores(*text_scores, repeat_scores);
    }

    const std::size_t heads = c.n_layers * c.attn.n_heads;
    const std::string method = a.get("method", "kmeans");
    if (method != "kmeans" && method != "ward") throw usage_error("--method is kmeans or ward");
    xlens::kmeans_options k_options;
    k_options.k = number_option<std::size_t>(a, "k", 0);
    k_options.seed = seed;
    if (k_options.k > heads)
        throw xlens::input_error(544, "cannot make " + std::to_string(k_options.k) + " clusters of " + std::to_string(heads) + " heads");
    const auto features = xlens::standardise(xlens::head_feature_matrix(scores));
    const xlens::clustering clusters =
        method == "ward" ? xlens::ward_auto(features, k_options.k) : xlens::kmeans_auto(features, k_options);
    const double threshold = number_option<double>(a, "threshold", 0.4);
    auto roles = xlens::head_roles(scores, clusters, threshold);
    auto pcs = xlens::principal_components_2d(features);

    nlohmann::json report = xlens::to_json(roles, scores, clusters);
    report["schema"] = "xlens.heads/1";
    report["model"] = a.model;
    report["method"] = method;
    report["threshold"] = threshold;
    report["layers"] = c.n_layers;
    report["heads"] = c.attn.n_heads;
    report["sequences"] = sequences;
    report["scores"] = xlens::to_json(repeat_scores)["scores"];
    report["induction_rows"] = repeat_scores.induction_rows;
    report["text"] = text_scores ? xlens::to_json(*text_scores) : nlohmann::json(nullptr);
    report["profile_labels"] = scores.profile_labels();
    for (std::size_t i = 0; i < heads; ++i) report["pca"].push_back({pcs(i, 0), pcs(i, 1)});
    // The example whose patterns the report draws: --prompt, else the first random repeat.
    std::vector<xlens::token_id> example = a.has("prompt") ? t->encode(a.get("prompt")) : sequences.front();
    report["example"] = {{"tokens", example}, {"token_texts", token_labels(example, t)}};
    if (a.has("html")) report["example"]["patterns"] = example_patterns(m, example);
    if (a.has("json")) write_json_file(a.get("json"), report);
    if (a.has("html")) write_text_file(a.get("html"), xlens::heads_html(report));

    // The map: one letter per head, then the strongest heads of each role.
    std::printf("%zu heads in %zu clusters (%s, silhouette %.3f); scores over %zu random repeats of %zu tokens%s\n", heads,
                clusters.k, method.c_str(), clusters.silhouette, repeats, repeat_length,
                text_scores ? (" and " + std::to_string(text_scores->sequences) + " corpus windows").c_str() : "");
    std::printf("roles: P previous_token  I induction  D duplicate_token  F first_token  S self  L local  . diffuse\n");
    for (std::size_t L = 0; L < c.n_layers; ++L) {
        std::printf("  L%-3zu ", L);
        for (std::size_t h = 0; h < c.attn.n_heads; ++h) std::printf("%c", role_letter(roles[L * c.attn.n_heads + h].role));
        std::printf("\n");
    }
    for (auto f : xlens::role_features()) {
        std::vector<std::pair<double, std::size_t>> ranked;
        for (std::size_t i = 0; i < heads; ++i) {
            const std::size_t L = i / c.attn.n_heads, h = i % c.attn.n_heads;
            ranked.push_back({f == xlens::head_feature::induction ? scores.induction_attainable(L, h) : scores.at(f, L, h), i});
        }
        std::partial_sort(ranked.begin(), ranked.begin() + std::min<std::ptrdiff_t>(3, ranked.size()), ranked.end(),
                          [](const auto& x, const auto& y) { return x.first > y.first; });
        std::printf("%-16s", xlens::head_feature_name(f));
        for (std::size_t r = 0; r < 3 && r < ranked.size(); ++r)
            std::printf("  L%zuH%zu %.2f (%s)", ranked[r].second / c.attn.n_heads, ranked[r].second % c.attn.n_heads,
                        ranked[r].first, roles[ranked[r].second].role.c_str());
        std::printf("\n");
    }
    return 0;
}

}  // namespace cli
