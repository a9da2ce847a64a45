// xlens/analysis/token_probe.hpp — text → trajectory: what the model saw and chose at every step.
//
//   xlens::probe_options o;  o.max_new_tokens = 4;
//   xlens::probe_result r = xlens::probe(model, tok, "The Eiffel Tower is in", o);
//   nlohmann::json j = xlens::to_json(r);       // the schema of docs/probe.md
//
// For every prompt position and every generated token the probe records: the token; the norm of
// the residual stream after the embedding and after each layer; the logit lens of each layer (final
// norm applied, as TransformerLens does) as top-k tokens; each head's attention row at that position
// (its most attended positions); the output distribution's top-k; and the next token with its
// probability, rank and the rule that chose it ("prompt" for a prompt token, teacher-forced;
// "argmax" or "sample" for generated ones). Probabilities are softmax(logits) at temperature 1.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/analysis/logit_lens.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/run/sampling.hpp"
#include "xlens/text/tokenizer.hpp"

namespace xlens {

struct probe_options {
    std::size_t max_new_tokens = 0;    // tokens to generate after the prompt (0: the prompt only)
    sampling_options sampling;         // how they are chosen (greedy by default)
    std::vector<token_id> stop_tokens; // generation ends after one of these
    std::size_t top_k = 5;             // candidates kept per distribution
    std::size_t top_attended = 5;      // positions kept per attention row
};


struct attended_position {
    std::size_t position;
    float weight;
};

struct probe_step {
    std::size_t position = 0;
    bool generated = false;                                       // false: a prompt token
    token_id token = -1;
    std::string text;
    std::vector<float> resid_norm;                                // [n_layers + 1]: embedding, each layer
    std::vector<std::vector<token_probability>> lens;             // [n_layers][top_k]
    std::vector<std::vector<std::vector<attended_position>>> attention;  // [n_layers][n_heads][<= top_attended]
    std::vector<token_probability> candidates;                    // the output's top_k
    std::optional<token_probability> chosen;                      // the next token; none after the last step
    std::string rule;                                             // "prompt", "argmax", "sample", or ""
};

struct probe_result {
    std::string prompt;
    probe_options options;
    std::vector<probe_step> steps;
};

/// Probes `prompt` (text, encoded with `tok`) and `options.max_new_tokens` generated tokens.
/// Throws input_error 512 (empty prompt), 503 (prompt plus new tokens longer than the context),
/// 520/521 (sampling options), 523 (top_k of 0).
inline probe_result probe(const model& m, const tokenizer& tok, const std::string& prompt, const probe_options& options);

/// The probe as JSON (schema version 1, documented in docs/probe.md).
inline nlohmann::json to_json(const probe_result& r, const model& m);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline float row_norm(const activation& a, std::size_t row) {
    const std::size_t d = a.shape()[1];
    double sum = 0;
    for (std::size_t j = 0; j < d; ++j) sum += static_cast<double>(a.data()[row * d + j]) * a.data()[row * d + j];
    return static_cast<float>(std::sqrt(sum));
}

/// Fills the steps for the positions of one run's `tokens` (which started at position `first`).
inline void record_run(const model& m, const tokenizer& tok, const activation_cache& cache, const activation& logits,
                       const std::vector<token_id>& tokens, std::size_t first, bool generated,
                       const probe_options& o, std::vector<probe_step>& steps) {
    const auto& c = m.config();
    const std::size_t count = tokens.size(), L = c.n_layers, V = c.d_vocab;
    for (std::size_t t = 0; t < count; ++t) {
        probe_step s;
        s.position = first + t;
        s.generated = generated;
        s.token = tokens[t];
        s.text = tok.token_text(tokens[t]);
        s.resid_norm.push_back(row_norm(cache.at({hook_kind::resid_pre, 0}), t));
        activation stacked = activation::from_shape({L, c.d_model});  // this position after every layer
        for (std::size_t l = 0; l < L; ++l) {
            const activation& r = cache.at({hook_kind::resid_post, static_cast<int>(l)});
            s.resid_norm.push_back(row_norm(r, t));
            std::copy_n(r.data() + t * c.d_model, c.d_model, stacked.data() + l * c.d_model);
        }
        activation lens = logit_lens(m, stacked);  // [L, V]
        for (std::size_t l = 0; l < L; ++l) s.lens.push_back(top_tokens(&tok, lens.data() + l * V, V, o.top_k));
        for (std::size_t l = 0; l < L; ++l) {
            const activation& pattern = cache.at({hook_kind::pattern, static_cast<int>(l)});  // [heads, count, keys]
            const std::size_t heads = pattern.shape()[0], keys = pattern.shape()[2];
            std::vector<std::vector<attended_position>> per_head;
            for (std::size_t h = 0; h < heads; ++h) {
                const float* row = pattern.data() + (h * count + t) * keys;
                std::vector<attended_position> row_top;
                for (std::size_t k = 0; k <= first + t && k < keys; ++k) row_top.push_back({k, row[k]});
                std::size_t keep = std::min(o.top_attended, row_top.size());
                std::partial_sort(row_top.begin(), row_top.begin() + static_cast<std::ptrdiff_t>(keep), row_top.end(),
                                  [](const attended_position& a, const attended_position& b) {
                                      return a.weight > b.weight || (a.weight == b.weight && a.position < b.position);
                                  });
                row_top.resize(keep);
                per_head.push_back(std::move(row_top));
            }
            s.attention.push_back(std::move(per_head));
        }
        s.candidates = top_tokens(&tok, logits.data() + t * V, V, o.top_k);
        steps.push_back(std::move(s));
    }
}

}  // namespace detail

inline probe_result probe(const model& m, const tokenizer& tok, const std::string& prompt, const probe_options& options) {
    if (options.top_k == 0) throw input_error(523, "the probe's top_k must be at least 1");
    sampler choose(options.sampling);
    std::vector<token_id> ids = tok.encode(prompt);
    if (ids.empty()) throw input_error(512, "the prompt is empty: it encodes to no tokens");
    const auto& c = m.config();
    if (ids.size() > c.n_ctx || options.max_new_tokens > c.n_ctx - ids.size())
        throw input_error(503, "prompt of " + std::to_string(ids.size()) + " tokens plus " +
                                   std::to_string(options.max_new_tokens) + " new tokens is longer than the model's context of " +
                                   std::to_string(c.n_ctx));
    probe_result out;
    out.prompt = prompt;
    out.options = options;

    kv_cache kv = make_kv_cache(m);
    activation_cache cache;
    run_options run;
    run.kv = &kv;
    run.cache = &cache;
    run.cache_filter = hook_filter::kinds({hook_kind::resid_post, hook_kind::pattern}, {{hook_kind::resid_pre, 0}});

    activation logits = forward(m, ids, run);
    detail::record_run(m, tok, cache, logits, ids, 0, false, options, out.steps);
    for (std::size_t t = 0; t + 1 < ids.size(); ++t) {  // each prompt token "chose" the next one
        out.steps[t].chosen = detail::token_in_row(&tok, logits.data() + t * c.d_vocab, c.d_vocab, ids[t + 1]);
        out.steps[t].rule = "prompt";
    }
    const std::string rule = options.sampling.greedy() ? "argmax" : "sample";
    for (std::size_t n = 0; n < options.max_new_tokens; ++n) {
        const float* last = logits.data() + (logits.shape()[0] - 1) * c.d_vocab;
        token_id next = choose(last, c.d_vocab);
        out.steps.back().chosen = detail::token_in_row(&tok, last, c.d_vocab, next);
        out.steps.back().rule = rule;
        const std::size_t position = kv.length();
        logits = forward(m, {next}, run);
        detail::record_run(m, tok, cache, logits, {next}, position, true, options, out.steps);
        if (std::find(options.stop_tokens.begin(), options.stop_tokens.end(), next) != options.stop_tokens.end()) break;
    }
    return out;
}

inline nlohmann::json to_json(const probe_result& r, const model& m) {
    using nlohmann::json;
    auto token_json = [](const token_probability& t, bool with_logit) {
        json j = {{"id", t.id}, {"text", t.text}, {"prob", t.prob}};
        if (with_logit) j["logit"] = t.logit;
        return j;
    };
    const auto& c = m.config();
    const auto& s = r.options.sampling;
    json sampling = s.greedy() ? json{{"rule", "argmax"}}
                               : json{{"rule", "sample"}, {"temperature", s.temperature}, {"top_k", s.top_k},
                                      {"top_p", s.top_p}, {"seed", s.seed}};
    json steps = json::array();
    for (const auto& step : r.steps) {
        json lens = json::array(), attention = json::array(), candidates = json::array();
        for (const auto& layer : step.lens) {
            json row = json::array();
            for (const auto& t : layer) row.push_back(token_json(t, false));
            lens.push_back(std::move(row));
        }
        for (const auto& layer : step.attention) {
            json heads = json::array();
            for (const auto& head : layer) {
                json row = json::array();
                for (const auto& a : head) row.push_back({{"pos", a.position}, {"weight", a.weight}});
                heads.push_back(std::move(row));
            }
            attention.push_back(std::move(heads));
        }
        for (const auto& t : step.candidates) candidates.push_back(token_json(t, true));
        json chosen = nullptr;
        if (step.chosen) chosen = {{"id", step.chosen->id}, {"text", step.chosen->text}, {"prob", step.chosen->prob}, {"rank", step.chosen->rank}};
        steps.push_back({{"position", step.position}, {"source", step.generated ? "generated" : "prompt"},
                         {"token", {{"id", step.token}, {"text", step.text}}}, {"resid_norm", step.resid_norm},
                         {"lens", std::move(lens)}, {"attention", std::move(attention)},
                         {"next", {{"candidates", std::move(candidates)}, {"chosen", std::move(chosen)},
                                   {"rule", step.rule.empty() ? json(nullptr) : json(step.rule)}}}});
    }
    return {{"xlens_probe", 1}, {"model", m.source()}, {"architecture", c.architecture}, {"n_layers", c.n_layers},
            {"n_heads", c.attn.n_heads}, {"d_vocab", c.d_vocab}, {"prompt", r.prompt}, {"top_k", r.options.top_k},
            {"sampling", std::move(sampling)}, {"steps", std::move(steps)}};
}

}  // namespace xlens
