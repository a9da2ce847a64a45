// xlens/analysis/interventions.hpp — ablating or scaling a neuron or a head, and what it changes.
//
//   auto edits = xlens::parse_interventions("L12N403,L3H2=0.5");   // zero L12 N403, halve head L3H2
//   xlens::edit_effect e = xlens::measure_edit(model, tokens, target, edits);
//   // e.before.prob 0.41 → e.after.prob 0.07
//   auto top = xlens::neuron_contributions(model, tokens, target);  // which neurons push the target
//
// A neuron edit multiplies its activation (blocks.L.mlp.hook_post[:, n]) by `scale`; a head edit
// multiplies its output before W_O (blocks.L.attn.hook_z[:, h, :]). Scale 0 is zero-ablation.
// Edits are ordinary hooks (add_intervention_hooks), so they compose with any other run.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "xlens/analysis/direct_logit_attribution.hpp"
#include "xlens/analysis/logit_lens.hpp"
#include "xlens/blocks/matmul.hpp"
#include "xlens/blocks/unembed.hpp"
#include "xlens/error.hpp"
#include "xlens/model/model.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/run/hooks.hpp"

namespace xlens {

struct intervention {
    enum class target { neuron, head } what = target::neuron;
    std::size_t layer = 0;
    std::size_t index = 0;  // neuron or head
    float scale = 0;        // 0: ablate
    /// "L12N403", "L3H2=0.5".
    std::string label() const;
};

/// "L12N403" (ablate), "L12N403=2" (scale), comma-separated. Throws input_error 556 naming the bad item.
inline std::vector<intervention> parse_interventions(const std::string& text);

/// Adds hooks applying `edits` to runs that use `hooks`; they stay while the returned handles live.
/// Throws input_error 551 (layer, neuron or head out of range).
inline std::vector<hook_set::scoped_hook> add_intervention_hooks(const model& m, hook_set& hooks,
                                                                 const std::vector<intervention>& edits);

struct edit_effect {
    token_probability before, after;  // the target at `position`, without and with the edits
    std::size_t position = 0;
};

/// The target token's probability and rank at `position` (default: last) with and without `edits`.
/// Throws input_error 501 (no tokens), 531 (position past the end), 534 (target out of range), 551.
inline edit_effect measure_edit(const model& m, const std::vector<token_id>& tokens, token_id target,
                                const std::vector<intervention>& edits, std::optional<std::size_t> position = {},
                                const tokenizer* tok = nullptr);

/// One neuron's direct effect on a token's logit at a position: activation × (γ ⊙ c(W_out[:, n])) ·
/// W_U[:, target] / final scale — the neuron's share of direct logit attribution's "L_mlp" part.
struct neuron_contribution {
    std::size_t layer = 0, neuron = 0;
    float activation = 0;
    double logit = 0;
};

/// Every neuron's direct contribution to `target`'s logit at `position` (default: last), largest
/// first: where to look for a neuron to edit. Throws input_error 501, 531, 534.
inline std::vector<neuron_contribution> neuron_contributions(const model& m, const std::vector<token_id>& tokens, token_id target,
                                                             std::optional<std::size_t> position = {});

// ---- definitions -------------------------------------------------------------------------------

inline std::vector<neuron_contribution> neuron_contributions(const model& m, const std::vector<token_id>& tokens, token_id target,
                                                             std::optional<std::size_t> position) {
    const auto& c = m.config();
    const auto& w = m.weights();
    detail::check_token(c, target, "target");
    if (tokens.empty()) throw input_error(501, "neuron contributions need at least one token");
    const std::size_t pos = position.value_or(tokens.size() - 1);
    if (pos >= tokens.size())
        throw input_error(531, "position " + std::to_string(pos) + " is past the end of the " + std::to_string(tokens.size()) +
                                   "-token sequence");
    auto [logits, cache] = run_with_cache(m, tokens, hook_filter::kinds({hook_kind::mlp_post, hook_kind::ln_final_scale}));
    const auto u = detail::logit_reading_direction(m, blocks::unembed_direction(w.unembed, static_cast<std::size_t>(target)));
    const double inverse_scale = 1.0 / static_cast<double>(cache.at({hook_kind::ln_final_scale, -1}).data()[pos]);
    std::vector<neuron_contribution> out;
    std::vector<float> read(c.mlp.d_mlp);
    for (std::size_t L = 0; L < c.n_layers; ++L) {
        blocks::gemv_transposed(w.layers[L].mlp.out, u.data(), read.data());  // W_outᵀ u: each neuron's logit per unit
        const float* a = cache.at({hook_kind::mlp_post, static_cast<int>(L)}).data() + pos * c.mlp.d_mlp;
        for (std::size_t n = 0; n < c.mlp.d_mlp; ++n)
            out.push_back({L, n, a[n], static_cast<double>(a[n]) * read[n] * inverse_scale});
    }
    std::stable_sort(out.begin(), out.end(), [](const neuron_contribution& x, const neuron_contribution& y) { return x.logit > y.logit; });
    return out;
}

inline std::string intervention::label() const {
    std::string s = "L" + std::to_string(layer) + (what == target::neuron ? "N" : "H") + std::to_string(index);
    if (scale != 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "=%g", static_cast<double>(scale));
        s += buf;
    }
    return s;
}

inline std::vector<intervention> parse_interventions(const std::string& text) {
    std::vector<intervention> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(',', start), text.size());
        const std::string item = text.substr(start, end - start);
        auto bad = [&]() {
            throw input_error(556, "'" + item + "' is not an edit: write L<layer>N<neuron> or L<layer>H<head>, optionally =<scale>");
        };
        intervention e;
        const char* p = item.c_str();
        char* q = nullptr;
        if (*p++ != 'L' || !std::isdigit(static_cast<unsigned char>(*p))) bad();
        e.layer = std::strtoul(p, &q, 10);
        if (*q != 'N' && *q != 'H') bad();
        e.what = *q == 'N' ? intervention::target::neuron : intervention::target::head;
        p = q + 1;
        if (!std::isdigit(static_cast<unsigned char>(*p))) bad();
        e.index = std::strtoul(p, &q, 10);
        if (*q == '=') {
            p = q + 1;
            e.scale = std::strtof(p, &q);
            if (q == p || !std::isfinite(e.scale)) bad();
        }
        if (*q != '\0') bad();
        out.push_back(e);
        start = end + 1;
    }
    return out;
}

inline std::vector<hook_set::scoped_hook> add_intervention_hooks(const model& m, hook_set& hooks,
                                                                 const std::vector<intervention>& edits) {
    const auto& c = m.config();
    std::vector<hook_set::scoped_hook> handles;
    for (const auto& e : edits) {
        const bool neuron = e.what == intervention::target::neuron;
        const std::size_t limit = neuron ? c.mlp.d_mlp : c.attn.n_heads;
        if (e.layer >= c.n_layers || e.index >= limit)
            throw input_error(551, e.label() + " is out of range: the model has " + std::to_string(c.n_layers) + " layers of " +
                                       std::to_string(limit) + (neuron ? " neurons" : " heads"));
        const hook_point at{neuron ? hook_kind::mlp_post : hook_kind::z, static_cast<int>(e.layer)};
        handles.push_back(hooks.add(hook_filter::kinds({}, {at}), [e, neuron](activation& a, hook_point) {
            // mlp_post [T, d_mlp]: one column; z [T, heads, d_head]: one head's slice at every position.
            const std::size_t T = a.shape()[0], row = a.size() / std::max<std::size_t>(T, 1);
            const std::size_t width = neuron ? 1 : a.shape()[2], offset = neuron ? e.index : e.index * a.shape()[2];
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < width; ++i) a.data()[t * row + offset + i] *= e.scale;
        }));
    }
    return handles;
}

inline edit_effect measure_edit(const model& m, const std::vector<token_id>& tokens, token_id target,
                                const std::vector<intervention>& edits, std::optional<std::size_t> position,
                                const tokenizer* tok) {
    const auto& c = m.config();
    detail::check_token(c, target, "target");
    if (tokens.empty()) throw input_error(501, "the edit needs at least one token");
    edit_effect out;
    out.position = position.value_or(tokens.size() - 1);
    if (out.position >= tokens.size())
        throw input_error(531, "position " + std::to_string(out.position) + " is past the end of the " +
                                   std::to_string(tokens.size()) + "-token sequence");
    hook_set hooks;
    auto handles = add_intervention_hooks(m, hooks, edits);
    const activation before = forward(m, tokens);
    const activation after = run_with_hooks(m, tokens, hooks);
    const std::size_t V = c.d_vocab;
    out.before = detail::token_in_row(tok, before.data() + out.position * V, V, target);
    out.after = detail::token_in_row(tok, after.data() + out.position * V, V, target);
    return out;
}

}  // namespace xlens
