// xlens/blocks/hook_points.hpp — where a run can be observed or changed, named as TransformerLens names them.
//
// Inside, a hook point is a kind plus a layer; its TransformerLens name ("blocks.3.attn.hook_pattern")
// is made only at the edges (filters, caches, files, the command line). Shapes have no batch axis:
// a run is one sequence of T tokens attending to T_k = past + T keys.
//
//   name                          shape                  what
//   hook_embed                    [T, d_model]           token embeddings (× sqrt(d_model) for Gemma)
//   hook_pos_embed                [T, d_model]           learned position embeddings (GPT-2)
//   blocks.L.hook_resid_pre       [T, d_model]           residual stream entering block L
//   blocks.L.ln1.hook_scale       [T, 1]                 norm denominator sqrt(mean(x²) + eps)
//   blocks.L.ln1.hook_normalized  [T, d_model]           LayerNorm: its output (after gain, bias);
//                                                        RMSNorm: x / scale, before the gain (as in TransformerLens)
//   blocks.L.attn.hook_q          [T, n_heads, d_head]   queries, after bias, before rotary
//   blocks.L.attn.hook_k|hook_v   [T, n_kv_heads, d_head]
//   blocks.L.attn.q_norm.hook_scale [T, n_heads, 1]      qk-norm models: per head (Qwen3, Gemma 3);
//                                 or [T, 1]              over the whole projection (OLMo 2)
//   blocks.L.attn.q_norm.hook_normalized                 q / scale, before the gain: [T, n_heads, d_head],
//                                                        or [T, n_heads·d_head] over the whole projection
//   blocks.L.attn.k_norm.*        as q_norm, over n_kv_heads
//   blocks.L.attn.hook_rot_q      [T, n_heads, d_head]   rotary models only (after the qk-norm)
//   blocks.L.attn.hook_rot_k      [T, n_kv_heads, d_head]
//   blocks.L.attn.hook_attn_scores [n_heads, T, T_k]     q·k / sqrt(d_head); masked entries −inf
//   blocks.L.attn.hook_pattern    [n_heads, T, T_k]      softmax of the scores
//   blocks.L.attn.hook_z          [T, n_heads, d_head]   pattern · v, per head
//   blocks.L.attn.hook_result     [T, n_heads, d_model]  each head's write to the residual (no bias); computed only when asked for
//   blocks.L.ln1_post.hook_scale / hook_normalized       post-norm models (Gemma 2/3, OLMo 2): on the
//                                                        attention output, before it joins the residual
//   blocks.L.hook_attn_out        [T, d_model]           sum of heads + output bias (after ln1_post if any)
//   blocks.L.hook_resid_mid       [T, d_model]           resid_pre + attn_out (absent with parallel residual)
//   blocks.L.ln2.hook_scale / ln2.hook_normalized        as ln1
//   blocks.L.mlp.hook_pre         [T, d_mlp]             first projection (gate projection for gated MLPs)
//   blocks.L.mlp.hook_pre_linear  [T, d_mlp]             gated MLPs: the linear (up) projection
//   blocks.L.mlp.hook_post        [T, d_mlp]             after the nonlinearity (× pre_linear when gated)
//   blocks.L.ln2_post.hook_scale / hook_normalized       as ln1_post, on the MLP output
//   blocks.L.hook_mlp_out         [T, d_model]           (after ln2_post if any)
//   blocks.L.hook_resid_post      [T, d_model]
//   ln_final.hook_scale / ln_final.hook_normalized       as ln1
//   hook_logits                   [T, d_vocab]           (after the final soft-cap, Gemma 2)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "xlens/error.hpp"
#include "xlens/model/config.hpp"

namespace xlens {

/// Every activation a hook sees or a cache holds.
using activation = xt::xarray<float>;

enum class hook_kind : std::uint8_t {
    embed, pos_embed,
    resid_pre, ln1_scale, ln1_normalized,
    q, k, v, q_norm_scale, q_norm_normalized, k_norm_scale, k_norm_normalized,
    rot_q, rot_k, attn_scores, pattern, z, result, ln1_post_scale, ln1_post_normalized, attn_out,
    resid_mid, ln2_scale, ln2_normalized,
    mlp_pre, mlp_pre_linear, mlp_post, ln2_post_scale, ln2_post_normalized, mlp_out, resid_post,
    ln_final_scale, ln_final_normalized, logits,
};
inline constexpr std::size_t hook_kind_count = static_cast<std::size_t>(hook_kind::logits) + 1;

/// A hook kind at a layer; `layer` is −1 for points outside the blocks (embeddings, final norm, logits).
struct hook_point {
    hook_kind kind;
    int layer = -1;
    bool operator==(const hook_point& o) const { return kind == o.kind && layer == o.layer; }
};

namespace detail {
struct hook_kind_info {
    hook_kind kind;
    bool per_layer;
    const char* suffix;  // name after "blocks.L." (per-layer) or the whole name
};
inline const hook_kind_info* hook_kind_table() {
    static const hook_kind_info table[hook_kind_count] = {
        {hook_kind::embed, false, "hook_embed"},
        {hook_kind::pos_embed, false, "hook_pos_embed"},
        {hook_kind::resid_pre, true, "hook_resid_pre"},
        {hook_kind::ln1_scale, true, "ln1.hook_scale"},
        {hook_kind::ln1_normalized, true, "ln1.hook_normalized"},
        {hook_kind::q, true, "attn.hook_q"},
        {hook_kind::k, true, "attn.hook_k"},
        {hook_kind::v, true, "attn.hook_v"},
        {hook_kind::q_norm_scale, true, "attn.q_norm.hook_scale"},
        {hook_kind::q_norm_normalized, true, "attn.q_norm.hook_normalized"},
        {hook_kind::k_norm_scale, true, "attn.k_norm.hook_scale"},
        {hook_kind::k_norm_normalized, true, "attn.k_norm.hook_normalized"},
        {hook_kind::rot_q, true, "attn.hook_rot_q"},
        {hook_kind::rot_k, true, "attn.hook_rot_k"},
        {hook_kind::attn_scores, true, "attn.hook_attn_scores"},
        {hook_kind::pattern, true, "attn.hook_pattern"},
        {hook_kind::z, true, "attn.hook_z"},
        {hook_kind::result, true, "attn.hook_result"},
        {hook_kind::ln1_post_scale, true, "ln1_post.hook_scale"},
        {hook_kind::ln1_post_normalized, true, "ln1_post.hook_normalized"},
        {hook_kind::attn_out, true, "hook_attn_out"},
        {hook_kind::resid_mid, true, "hook_resid_mid"},
        {hook_kind::ln2_scale, true, "ln2.hook_scale"},
        {hook_kind::ln2_normalized, true, "ln2.hook_normalized"},
        {hook_kind::mlp_pre, true, "mlp.hook_pre"},
        {hook_kind::mlp_pre_linear, true, "mlp.hook_pre_linear"},
        {hook_kind::mlp_post, true, "mlp.hook_post"},
        {hook_kind::ln2_post_scale, true, "ln2_post.hook_scale"},
        {hook_kind::ln2_post_normalized, true, "ln2_post.hook_normalized"},
        {hook_kind::mlp_out, true, "hook_mlp_out"},
        {hook_kind::resid_post, true, "hook_resid_post"},
        {hook_kind::ln_final_scale, false, "ln_final.hook_scale"},
        {hook_kind::ln_final_normalized, false, "ln_final.hook_normalized"},
        {hook_kind::logits, false, "hook_logits"},
    };
    return table;
}
}  // namespace detail

/// The TransformerLens name of a hook point, e.g. "blocks.3.attn.hook_pattern".
inline std::string hook_name(hook_point p) {
    const auto& info = detail::hook_kind_table()[static_cast<std::size_t>(p.kind)];
    if (!info.per_layer) return info.suffix;
    return "blocks." + std::to_string(p.layer) + "." + info.suffix;
}

/// Parses a TransformerLens hook name. Throws hook_error 601 for unknown names.
inline hook_point parse_hook_name(const std::string& name) {
    const auto* table = detail::hook_kind_table();
    const std::string prefix = "blocks.";
    if (name.compare(0, prefix.size(), prefix) == 0) {
        std::size_t i = prefix.size(), start = i;
        while (i < name.size() && name[i] >= '0' && name[i] <= '9' && i - start < 6) ++i;
        if (i > start && i < name.size() && name[i] == '.') {
            int layer = std::stoi(name.substr(start, i - start));
            std::string suffix = name.substr(i + 1);
            for (std::size_t k = 0; k < hook_kind_count; ++k)
                if (table[k].per_layer && suffix == table[k].suffix) return {table[k].kind, layer};
        }
    } else {
        for (std::size_t k = 0; k < hook_kind_count; ++k)
            if (!table[k].per_layer && name == table[k].suffix) return {table[k].kind, -1};
    }
    throw hook_error(601, "unknown hook point '" + name + "' (names follow TransformerLens, e.g. 'blocks.0.attn.hook_pattern')");
}

/// Whether this model has the hook point (e.g. no hook_rot_q without rotary, no hook_resid_mid with parallel residual).
inline bool has_hook_point(const model_config& c, hook_point p) {
    bool per_layer = detail::hook_kind_table()[static_cast<std::size_t>(p.kind)].per_layer;
    if (per_layer != (p.layer >= 0)) return false;
    if (per_layer && static_cast<std::size_t>(p.layer) >= c.n_layers) return false;
    switch (p.kind) {
        case hook_kind::pos_embed: return c.attn.positions == position_kind::learned;
        case hook_kind::rot_q:
        case hook_kind::rot_k: return c.attn.positions == position_kind::rotary;
        case hook_kind::resid_mid: return !c.parallel_residual;
        case hook_kind::mlp_pre_linear: return c.mlp.gated;
        case hook_kind::ln1_scale:
        case hook_kind::ln1_normalized:
        case hook_kind::ln2_scale:
        case hook_kind::ln2_normalized: return c.pre_norms;
        case hook_kind::ln1_post_scale:
        case hook_kind::ln1_post_normalized:
        case hook_kind::ln2_post_scale:
        case hook_kind::ln2_post_normalized: return c.post_norms;
        case hook_kind::q_norm_scale:
        case hook_kind::q_norm_normalized:
        case hook_kind::k_norm_scale:
        case hook_kind::k_norm_normalized: return c.attn.qk_norm != qk_norm_kind::none;
        default: return true;
    }
}

/// Every hook point of this model, in the order a run reaches them.
inline std::vector<hook_point> all_hook_points(const model_config& c) {
    std::vector<hook_point> out;
    const auto* table = detail::hook_kind_table();
    for (std::size_t k = 0; k < hook_kind_count; ++k)
        if (!table[k].per_layer && static_cast<hook_kind>(k) < hook_kind::resid_pre && has_hook_point(c, {table[k].kind, -1}))
            out.push_back({table[k].kind, -1});
    for (std::size_t L = 0; L < c.n_layers; ++L)
        for (std::size_t k = 0; k < hook_kind_count; ++k)
            if (table[k].per_layer && has_hook_point(c, {table[k].kind, static_cast<int>(L)}))
                out.push_back({table[k].kind, static_cast<int>(L)});
    for (auto kind : {hook_kind::ln_final_scale, hook_kind::ln_final_normalized, hook_kind::logits}) out.push_back({kind, -1});
    return out;
}

/// Chooses hook points by name: all of them, exact names, name prefixes, or any predicate on the name.
/// Evaluated once per point per run, so a filter may be as slow as it likes.
class hook_filter {
public:
    using predicate = std::function<bool(const std::string&)>;
    hook_filter() : pred_([](const std::string&) { return true; }) {}
    explicit hook_filter(predicate p) : pred_(std::move(p)) {}

    static hook_filter all() { return hook_filter(); }
    static hook_filter none() { return hook_filter([](const std::string&) { return false; }); }
    /// Exact TransformerLens names; unknown names are rejected (hook_error 601) rather than never matching.
    static hook_filter names(std::vector<std::string> names) {
        for (const auto& n : names) parse_hook_name(n);
        return hook_filter([names = std::move(names)](const std::string& s) {
            for (const auto& n : names) if (n == s) return true;
            return false;
        });
    }
    /// Names starting with any of `prefixes`, e.g. {"blocks.3.", "hook_embed"}.
    static hook_filter prefixes(std::vector<std::string> prefixes) {
        return hook_filter([prefixes = std::move(prefixes)](const std::string& s) {
            for (const auto& p : prefixes) if (s.compare(0, p.size(), p) == 0) return true;
            return false;
        });
    }
    /// Names ending with `suffix`, e.g. "hook_pattern" for every layer's attention pattern.
    static hook_filter suffix(std::string suffix) {
        return hook_filter([suffix = std::move(suffix)](const std::string& s) {
            return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
        });
    }
    /// Every point of the given kinds, plus the given points, e.g.
    /// kinds({hook_kind::resid_pre}, {{hook_kind::resid_post, 11}}).
    static hook_filter kinds(std::vector<hook_kind> kinds, std::vector<hook_point> points = {}) {
        return hook_filter([kinds = std::move(kinds), points = std::move(points)](const std::string& s) {
            const hook_point p = parse_hook_name(s);
            return std::find(kinds.begin(), kinds.end(), p.kind) != kinds.end() ||
                   std::find(points.begin(), points.end(), p) != points.end();
        });
    }
    bool operator()(hook_point p) const { return pred_(hook_name(p)); }

private:
    predicate pred_;
};

/// A function a hook point calls. It may read the activation or change it in place (or assign a new
/// array of the same shape); a changed shape is an error (hook_error 602).
using hook_fn = std::function<void(activation&, hook_point)>;

/// What one run does at each hook point: resolved once per run into a table, so a point nobody
/// listens to costs one lookup. Blocks call `wants` to skip work only a listener needs (hook_result).
class hook_context {
public:
    hook_context() = default;
    explicit hook_context(std::size_t n_layers)
        : layers_(n_layers), slots_(hook_kind_count * (n_layers + 1)), writers_(slots_.size(), 0) {}

    /// Adds `fn` at every point of `points` that `filter` selects. A listener declared read-only
    /// (a cache) promises not to change the activation, which lets blocks skip change detection.
    void listen(const std::vector<hook_point>& points, const hook_filter& filter, const hook_fn& fn,
                bool read_only = false) {
        for (auto p : points)
            if (filter(p)) add(p, fn, read_only);
    }
    void listen(hook_point p, const hook_fn& fn, bool read_only = false) { add(p, fn, read_only); }

    /// Whether anyone listens at `p`.
    bool wants(hook_point p) const { return !slots_.empty() && !slots_[index(p)].empty(); }
    /// Whether a listener at `p` may change the activation.
    bool may_change(hook_point p) const { return !slots_.empty() && writers_[index(p)] > 0; }

    /// Runs every listener of `p` on `a`, in the order they were added; checks none changed its shape.
    void operator()(hook_point p, activation& a) const {
        if (!wants(p)) return;
        const bool check_shape = may_change(p);  // read-only listeners cannot change it
        for (const auto& fn : slots_[index(p)]) {
            std::vector<std::size_t> before;
            if (check_shape) before.assign(a.shape().begin(), a.shape().end());
            fn(a, p);
            if (check_shape && !std::equal(before.begin(), before.end(), a.shape().begin(), a.shape().end()))
                throw hook_error(602, "a hook at '" + hook_name(p) + "' changed the activation's shape from " +
                                          shape_string(before) + " to " +
                                          shape_string(std::vector<std::size_t>(a.shape().begin(), a.shape().end())));
        }
    }

private:
    void add(hook_point p, const hook_fn& fn, bool read_only) {
        slots_[index(p)].push_back(fn);
        if (!read_only) ++writers_[index(p)];
    }
    std::size_t index(hook_point p) const {
        std::size_t layer = p.layer < 0 ? layers_ : static_cast<std::size_t>(p.layer);
        return static_cast<std::size_t>(p.kind) * (layers_ + 1) + layer;
    }
    static std::string shape_string(const std::vector<std::size_t>& s) {
        std::string out = "[";
        for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
        return out + "]";
    }
    std::size_t layers_ = 0;
    std::vector<std::vector<hook_fn>> slots_;
    std::vector<std::uint32_t> writers_;  // listeners per slot that may change the activation
};

}  // namespace xlens
