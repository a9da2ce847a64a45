// xlens/analysis/logit_lens.hpp — reading the residual stream as if it were the last layer's.
//
//   activation logits = xlens::logit_lens(model, resid);          // resid [N, d_model] → [N, d_vocab]
//   xlens::lens_options o;  o.target = xlens::single_token(tok, " Paris");
//   xlens::lens_result grid = xlens::logit_lens(model, tokens, o, &tok);  // every layer × position
//   grid.top[layer][position][0].text, grid.target_cells[layer][position].rank
//
// The logit lens (nostalgebraist, 2020) decodes an intermediate residual stream with the model's own
// final norm and unembedding. By default each row is normalised afresh, as TransformerLens's
// accumulated_resid(apply_ln=True) does; lens_norm::frozen divides every layer by the final layer's
// norm scale at that position instead (apply_ln_to_stack with recompute_ln=False), which keeps the
// lens linear in the residual. On the last row (final_post) both give exactly the model's logits.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/blocks/norm.hpp"
#include "xlens/blocks/unembed.hpp"
#include "xlens/error.hpp"
#include "xlens/model/model.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/run/sampling.hpp"
#include "xlens/text/tokenizer.hpp"

namespace xlens {

/// Logits [N, d_vocab] of residual-stream rows `resid` [N, d_model]: final norm, then unembedding.
/// Throws input_error 530 if `resid` is not [N, d_model].
inline activation logit_lens(const model& m, const activation& resid);

/// One token's place in a distribution over the vocabulary.
struct token_probability {
    token_id id = -1;
    std::string text;      // empty when no tokenizer was given
    double prob = 0;       // softmax at temperature 1
    float logit = 0;
    std::size_t rank = 0;  // 1 = most likely
};

enum class lens_norm { recompute, frozen };

struct lens_options {
    std::size_t top_k = 5;
    std::optional<token_id> target;  // also report this token's logit, probability and rank everywhere
    lens_norm norm = lens_norm::recompute;
    bool keep_logits = false;        // keep the whole [layers, T, d_vocab] grid in lens_result::logits
};

struct lens_result {
    std::vector<token_id> tokens;
    std::vector<std::string> token_texts;  // empty when no tokenizer was given
    std::vector<std::string> layers;  // TransformerLens labels: "0_pre" … "{n-1}_pre", "final_post"
    lens_norm norm = lens_norm::recompute;
    std::optional<token_id> target;
    std::vector<std::vector<std::vector<token_probability>>> top;  // [layer][position][k]
    std::vector<std::vector<token_probability>> target_cells;     // [layer][position]; empty without a target
    activation logits;                                             // [layers, T, d_vocab] with keep_logits
};

/// The logit lens of `tokens` at every layer (resid_pre of each block, then the final resid_post) and
/// every position. `tok` (optional) fills in token texts.
/// Throws input_error 501–503 (tokens), 523 (top_k of 0), 534 (target outside the vocabulary).
inline lens_result logit_lens(const model& m, const std::vector<token_id>& tokens, const lens_options& options = {},
                              const tokenizer* tok = nullptr);

/// The grid as JSON: {"schema": "xlens.lens/1", "tokens", "token_texts", "layers", "norm", "target",
/// "cells": [layer][position] {"top": [{"id","text","prob","logit"}], "target": {"logit","prob","rank"}}}.
inline nlohmann::json to_json(const lens_result& r);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline std::string token_text_or_empty(const tokenizer* tok, token_id id) { return tok ? tok->token_text(id) : std::string(); }

/// The k most likely entries of one logits row, with softmax probabilities and ranks.
inline std::vector<token_probability> top_tokens(const tokenizer* tok, const float* logits, std::size_t n, std::size_t k,
                                                 const std::vector<double>& p) {
    std::vector<token_id> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<token_id>(i);
    k = std::min(k, n);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      // cppcheck-suppress arrayIndexThenCheck ; `a < b` breaks ties, it is not a bounds check
                      [&](token_id a, token_id b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    std::vector<token_probability> out;
    for (std::size_t i = 0; i < k; ++i) {
        token_id id = order[i];
        out.push_back({id, token_text_or_empty(tok, id), p[static_cast<std::size_t>(id)], logits[id], i + 1});
    }
    return out;
}
inline std::vector<token_probability> top_tokens(const tokenizer* tok, const float* logits, std::size_t n, std::size_t k) {
    return top_tokens(tok, logits, n, k, softmax(logits, n));
}

/// `id`'s probability and rank in one logits row (ties ranked by id, as argmax breaks them).
inline token_probability token_in_row(const tokenizer* tok, const float* logits, std::size_t n, token_id id,
                                      const std::vector<double>& p) {
    std::size_t better = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (logits[i] > logits[id] || (logits[i] == logits[id] && static_cast<token_id>(i) < id)) ++better;
    return {id, token_text_or_empty(tok, id), p[static_cast<std::size_t>(id)], logits[id], better + 1};
}
inline token_probability token_in_row(const tokenizer* tok, const float* logits, std::size_t n, token_id id) {
    return token_in_row(tok, logits, n, id, softmax(logits, n));
}

inline void check_token(const model_config& c, token_id id, const std::string& role) {
    if (id < 0 || static_cast<std::size_t>(id) >= c.d_vocab)
        throw input_error(534, "the " + role + " token " + std::to_string(id) + " is outside the vocabulary [0, " +
                                   std::to_string(c.d_vocab) + ")");
}

/// The final norm applied to residual rows [T, d_model] using the given per-row scales [T, 1]
/// instead of each row's own statistics (LayerNorm still centres each row).
inline activation final_norm_with_scale(const model& m, const activation& resid, const activation& scale) {
    const auto& c = m.config();
    const auto& w = m.weights().ln_final;
    const std::size_t T = resid.shape()[0], d = c.d_model;
    activation y = activation::from_shape({T, d});
    for (std::size_t t = 0; t < T; ++t) {
        const float* row = resid.data() + t * d;
        double mean = 0;
        if (c.norm.kind == norm_kind::layer_norm) {
            for (std::size_t i = 0; i < d; ++i) mean += row[i];
            mean /= static_cast<double>(d);
        }
        const float s = scale.data()[t];
        float* out = y.data() + t * d;
        for (std::size_t i = 0; i < d; ++i) {
            out[i] = static_cast<float>(row[i] - mean) / s * w.w.data[i];
            if (!w.b.empty()) out[i] += w.b.data[i];
        }
    }
    return y;
}

}  // namespace detail

inline activation logit_lens(const model& m, const activation& resid) {
    const auto& c = m.config();
    if (resid.dimension() != 2 || resid.shape()[1] != c.d_model)
        throw input_error(530, "logit_lens expects residual rows [N, " + std::to_string(c.d_model) + "]");
    hook_context nobody;  // the lens is not a run: no hook fires
    activation x = blocks::norm(resid, m.weights().ln_final, c.norm, nobody,
                                {{hook_kind::ln_final_scale, -1}, {hook_kind::ln_final_normalized, -1}});
    activation logits = blocks::unembed(x, m.weights().unembed);
    blocks::soft_cap(logits, c.final_logit_softcap);  // the model's own head, soft-cap included
    return logits;
}

inline lens_result logit_lens(const model& m, const std::vector<token_id>& tokens, const lens_options& options,
                              const tokenizer* tok) {
    const auto& c = m.config();
    if (options.top_k == 0) throw input_error(523, "the logit lens's top_k must be at least 1");
    if (options.target) detail::check_token(c, *options.target, "target");
    const std::size_t L = c.n_layers, T = tokens.size(), V = c.d_vocab;
    auto [final_logits, cache] = run_with_cache(
        m, tokens, hook_filter::kinds({hook_kind::resid_pre, hook_kind::resid_post, hook_kind::ln_final_scale}));

    lens_result r;
    r.tokens = tokens;
    if (tok)
        for (token_id id : tokens) r.token_texts.push_back(tok->token_text(id));
    r.norm = options.norm;
    r.target = options.target;
    if (options.keep_logits) r.logits = activation::from_shape({L + 1, T, V});
    for (std::size_t l = 0; l <= L; ++l) {
        const bool last = l == L;
        r.layers.push_back(last ? "final_post" : std::to_string(l) + "_pre");
        const activation& resid = last ? cache.at({hook_kind::resid_post, static_cast<int>(L - 1)})
                                       : cache.at({hook_kind::resid_pre, static_cast<int>(l)});
        // The last row is the model's own output, whichever way the norm is taken.
        activation logits = last ? final_logits
                            : options.norm == lens_norm::recompute
                                ? logit_lens(m, resid)
                                : blocks::unembed(detail::final_norm_with_scale(m, resid, cache.at({hook_kind::ln_final_scale, -1})),
                                                  m.weights().unembed);
        if (!last && options.norm != lens_norm::recompute) blocks::soft_cap(logits, c.final_logit_softcap);
        if (options.keep_logits) std::copy(logits.begin(), logits.end(), r.logits.data() + l * T * V);
        auto& top = r.top.emplace_back();
        std::vector<token_probability>* target_row = options.target ? &r.target_cells.emplace_back() : nullptr;
        for (std::size_t t = 0; t < T; ++t) {
            const float* row = logits.data() + t * V;
            std::vector<double> p = softmax(row, V);
            top.push_back(detail::top_tokens(tok, row, V, options.top_k, p));
            if (target_row) target_row->push_back(detail::token_in_row(tok, row, V, *options.target, p));
        }
    }
    return r;
}

inline nlohmann::json to_json(const lens_result& r) {
    using json = nlohmann::json;
    json cells = json::array();
    for (std::size_t l = 0; l < r.top.size(); ++l) {
        json row = json::array();
        for (std::size_t t = 0; t < r.top[l].size(); ++t) {
            json cell;
            for (const auto& p : r.top[l][t]) cell["top"].push_back({{"id", p.id}, {"text", p.text}, {"prob", p.prob}, {"logit", p.logit}});
            if (!r.target_cells.empty()) {
                const auto& p = r.target_cells[l][t];
                cell["target"] = {{"logit", p.logit}, {"prob", p.prob}, {"rank", p.rank}};
            }
            row.push_back(std::move(cell));
        }
        cells.push_back(std::move(row));
    }
    return {{"schema", "xlens.lens/1"}, {"tokens", r.tokens}, {"token_texts", r.token_texts}, {"layers", r.layers},
            {"norm", r.norm == lens_norm::recompute ? "recompute" : "frozen"},
            {"target", r.target ? json(*r.target) : json(nullptr)}, {"cells", std::move(cells)}};
}

}  // namespace xlens
