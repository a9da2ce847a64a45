// xlens/analysis/direct_logit_attribution.hpp — one logit as the sum of what each component wrote.
//
//   xlens::attribution_options o;
//   o.target = xlens::single_token(tok, " Paris");
//   o.versus = xlens::single_token(tok, " London");                  // optional: explain a logit difference
//   auto receipt = xlens::direct_logit_attribution(model, tokens, o);
//   for (const auto& c : receipt.ranked()) std::cout << c.label << " " << c.value << "\n";
//
// The final residual stream is a sum: embeddings + every head's write z_h W_O,hᵀ + each attention
// output bias + every MLP's output (+ its bias). With the final norm's scale s frozen at the value the
// run computed, the logit is linear in that sum, so each part's share is exact:
//   logit(t) = Σ_c (c − mean(c)) / s · (γ ⊙ W_U[:, t])  +  β · W_U[:, t]  +  b_U[t]
// (RMSNorm: no centring, no β). Centring a part before the dot product equals dotting it with the
// centred direction, which is what is computed: one d_model vector per component, no d_vocab work.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/analysis/logit_lens.hpp"
#include "xlens/blocks/matmul.hpp"
#include "xlens/blocks/unembed.hpp"
#include "xlens/run/forward.hpp"

namespace xlens {

enum class component_kind { embed, pos_embed, head, attn_bias, mlp, mlp_bias, ln_final_bias, unembed_bias };

/// "embed", "pos_embed", "head", "attn_bias", "mlp", "mlp_bias", "ln_final_bias", "unembed_bias".
inline const char* component_kind_name(component_kind k) {
    static const char* names[] = {"embed", "pos_embed", "head", "attn_bias", "mlp", "mlp_bias", "ln_final_bias", "unembed_bias"};
    return names[static_cast<int>(k)];
}

struct attribution_component {
    component_kind kind;
    int layer = -1;     // −1 outside the blocks
    int head = -1;      // heads only
    std::string label;  // "embed", "L3H2", "L3_attn_bias", "L3_mlp", "L3_mlp_bias", "ln_final_bias", ...
    double value = 0;   // this part's share of the logit (or logit difference)
};

struct attribution_options {
    token_id target = -1;
    std::optional<token_id> versus;        // explain logit(target) − logit(versus)
    std::optional<std::size_t> position;   // default: the last position
};

struct attribution_result {
    std::vector<token_id> tokens;
    std::size_t position = 0;
    token_id target = -1;
    std::optional<token_id> versus;
    float final_scale = 0;   // the final norm's scale at `position`, frozen from the run
    double model_value = 0;  // the run's logit (or logit difference) at `position`, before any final soft-cap
    double total = 0;        // Σ components; equals model_value up to float rounding
    /// Soft-capped models (Gemma 2): the cap, and the run's capped logit (difference); the parts
    /// explain the logit before the cap, which tanh then bends (it is not linear). 0 / = model_value otherwise.
    double final_logit_softcap = 0;
    double capped_value = 0;
    std::vector<attribution_component> components;  // in the order the model computes them

    /// The components, largest |value| first (ties in model order).
    std::vector<attribution_component> ranked() const {
        auto out = components;
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return std::fabs(a.value) > std::fabs(b.value); });
        return out;
    }
};

/// Direct logit attribution of `options.target` (− `options.versus`) at `options.position` of `tokens`.
/// Throws input_error 501–503 (tokens), 531 (position past the end), 534 (target or versus outside
/// the vocabulary).
inline attribution_result direct_logit_attribution(const model& m, const std::vector<token_id>& tokens,
                                                   const attribution_options& options);

/// {"schema": "xlens.attribution/1", "tokens", "position", "target", "versus", "final_scale",
///  "model_value", "total", "final_logit_softcap", "capped_value",
///  "components": [{"label", "kind", "layer", "head", "value"}]}.
inline nlohmann::json to_json(const attribution_result& r);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline double dot(const float* a, const float* b, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

/// u = c(γ ⊙ direction): a residual vector v moves direction's logit by v · u / scale. LayerNorm's
/// centring moves onto u because Σ (v − v̄) γ U = Σ v (γ U − mean(γ U)).
inline std::vector<float> logit_reading_direction(const model& m, const std::vector<float>& direction) {
    const std::size_t d = direction.size();
    std::vector<float> u(d);
    for (std::size_t i = 0; i < d; ++i) u[i] = direction[i] * m.weights().ln_final.w.data[i];
    if (m.config().norm.kind == norm_kind::layer_norm) {
        double mean = 0;
        for (float x : u) mean += x;
        mean /= static_cast<double>(d);
        for (auto& x : u) x = static_cast<float>(x - mean);
    }
    return u;
}

}  // namespace detail

inline attribution_result direct_logit_attribution(const model& m, const std::vector<token_id>& tokens,
                                                   const attribution_options& options) {
    const auto& c = m.config();
    const auto& w = m.weights();
    detail::check_token(c, options.target, "target");
    if (options.versus) detail::check_token(c, *options.versus, "versus");
    const std::size_t T = tokens.size(), d = c.d_model, H = c.attn.n_heads, dh = c.attn.d_head;
    const std::size_t pos = options.position.value_or(T == 0 ? 0 : T - 1);
    if (T > 0 && pos >= T)
        throw input_error(531, "position " + std::to_string(pos) + " is past the end of the " + std::to_string(T) +
                                   "-token sequence");

    auto [logits, cache] = run_with_cache(m, tokens, hook_filter::kinds({hook_kind::embed, hook_kind::pos_embed,
                                                                         hook_kind::ln_final_scale, hook_kind::z,
                                                                         hook_kind::mlp_out, hook_kind::ln1_post_scale},
                                                                        {{hook_kind::resid_post, static_cast<int>(c.n_layers) - 1}}));

    attribution_result r;
    r.tokens = tokens;
    r.position = pos;
    r.target = options.target;
    r.versus = options.versus;
    r.final_scale = cache.at({hook_kind::ln_final_scale, -1}).data()[pos];
    const float* row = logits.data() + pos * c.d_vocab;
    r.capped_value = row[options.target] - (options.versus ? static_cast<double>(row[*options.versus]) : 0.0);
    r.model_value = r.capped_value;
    r.final_logit_softcap = c.final_logit_softcap;

    // u = γ ⊙ (W_U[:, target] − W_U[:, versus]); every residual part is read through ũ / s.
    std::vector<float> raw = blocks::unembed_direction(w.unembed, static_cast<std::size_t>(options.target));
    if (options.versus) {
        auto other = blocks::unembed_direction(w.unembed, static_cast<std::size_t>(*options.versus));
        for (std::size_t i = 0; i < d; ++i) raw[i] -= other[i];
    }
    const std::vector<float> u = detail::logit_reading_direction(m, raw);
    const double inv_scale = 1.0 / static_cast<double>(r.final_scale);
    auto read = [&](const float* x) { return detail::dot(x, u.data(), d) * inv_scale; };
    auto add = [&](component_kind kind, int layer, int head, std::string label, double value) {
        r.components.push_back({kind, layer, head, std::move(label), value});
    };

    add(component_kind::embed, -1, -1, "embed", read(cache.at({hook_kind::embed, -1}).data() + pos * d));
    if (cache.contains({hook_kind::pos_embed, -1}))
        add(component_kind::pos_embed, -1, -1, "pos_embed", read(cache.at({hook_kind::pos_embed, -1}).data() + pos * d));
    std::vector<float> through_o(H * dh), u_attn(d);
    for (std::size_t L = 0; L < c.n_layers; ++L) {
        const auto& lw = w.layers[L];
        const int layer = static_cast<int>(L);
        const std::string prefix = "L" + std::to_string(L);
        // A norm on the attention output (Gemma 2/3, OLMo 2) is linear once its scale at this
        // position is frozen, as the final norm's is: heads are read through its gain over its scale.
        double attn_scale = inv_scale;
        u_attn = u;
        if (c.post_norms) {
            for (std::size_t i = 0; i < d; ++i) u_attn[i] *= lw.ln1_post.w.data[i];
            attn_scale /= static_cast<double>(cache.at({hook_kind::ln1_post_scale, layer}).data()[pos]);
        }
        blocks::gemv_transposed(lw.attn.o, u_attn.data(), through_o.data());  // W_Oᵀ ũ, all heads side by side
        const float* z = cache.at({hook_kind::z, layer}).data() + pos * H * dh;
        for (std::size_t h = 0; h < H; ++h)
            add(component_kind::head, layer, static_cast<int>(h), prefix + "H" + std::to_string(h),
                detail::dot(z + h * dh, through_o.data() + h * dh, dh) * attn_scale);
        if (!lw.attn.o.b.empty())
            add(component_kind::attn_bias, layer, -1, prefix + "_attn_bias", detail::dot(lw.attn.o.b.data, u_attn.data(), d) * attn_scale);
        // Behind a post-norm the MLP's bias is no longer a separate term: it stays in the MLP's part.
        const double bias = lw.mlp.out.b.empty() || c.post_norms ? 0.0 : read(lw.mlp.out.b.data);
        add(component_kind::mlp, layer, -1, prefix + "_mlp", read(cache.at({hook_kind::mlp_out, layer}).data() + pos * d) - bias);
        if (!lw.mlp.out.b.empty() && !c.post_norms) add(component_kind::mlp_bias, layer, -1, prefix + "_mlp_bias", bias);
    }
    if (!w.ln_final.b.empty()) add(component_kind::ln_final_bias, -1, -1, "ln_final_bias", detail::dot(w.ln_final.b.data, raw.data(), d));
    if (!w.unembed.b.empty()) {
        double b = blocks::unembed_bias(w.unembed, static_cast<std::size_t>(options.target));
        if (options.versus) b -= blocks::unembed_bias(w.unembed, static_cast<std::size_t>(*options.versus));
        add(component_kind::unembed_bias, -1, -1, "unembed_bias", b);
    }
    for (const auto& part : r.components) r.total += part.value;
    if (c.final_logit_softcap > 0) {  // the logit before the cap, from the final residual, as the parts read it
        r.model_value = read(cache.at({hook_kind::resid_post, static_cast<int>(c.n_layers) - 1}).data() + pos * d);
        for (const auto& part : r.components)
            if (part.kind == component_kind::ln_final_bias || part.kind == component_kind::unembed_bias) r.model_value += part.value;
    }
    return r;
}

inline nlohmann::json to_json(const attribution_result& r) {
    using json = nlohmann::json;
    json parts = json::array();
    for (const auto& p : r.components)
        parts.push_back({{"label", p.label}, {"kind", component_kind_name(p.kind)}, {"layer", p.layer}, {"head", p.head},
                         {"value", p.value}});
    return {{"schema", "xlens.attribution/1"}, {"tokens", r.tokens}, {"position", r.position}, {"target", r.target},
            {"versus", r.versus ? json(*r.versus) : json(nullptr)}, {"final_scale", r.final_scale},
            {"model_value", r.model_value}, {"total", r.total}, {"final_logit_softcap", r.final_logit_softcap},
            {"capped_value", r.capped_value}, {"components", std::move(parts)}};
}

}  // namespace xlens
