// xlens/blocks/transformer_block.hpp — one block: norm → attention, norm → MLP, with residuals.
//
//   sequential (GPT-2, Llama):  mid = pre + attn(ln1(pre));  post = mid + mlp(ln2(mid))
//   parallel   (GPT-NeoX):      post = pre + attn(ln1(pre)) + mlp(ln2(pre))
//   post-norms (Gemma 2/3):     mid = pre + ln1_post(attn(ln1(pre)));  post = mid + ln2_post(mlp(ln2(mid)))
//   post-norms only (OLMo 2):   mid = pre + ln1_post(attn(pre));       post = mid + ln2_post(mlp(mid))
#pragma once

#include <utility>

#include "xlens/blocks/attention.hpp"
#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/kv_cache.hpp"
#include "xlens/blocks/mlp.hpp"
#include "xlens/blocks/norm.hpp"
#include "xlens/model/config.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

namespace detail {
inline void add_into(activation& acc, const activation& x) {
    float* a = acc.data();
    const float* b = x.data();
    for (std::size_t i = 0, n = acc.size(); i < n; ++i) a[i] += b[i];
}
}  // namespace detail

/// Block `layer` applied to resid [T, d_model] (resid_pre in, resid_post out).
inline activation transformer_block(activation resid, const layer_weight& w, const model_config& c, int layer,
                                    std::size_t first, kv_cache* cache, const hook_context& hooks) {
    auto at = [layer](hook_kind k) { return hook_point{k, layer}; };
    // Pre-norm (ln1, ln2) on a sublayer's input, post-norm (ln1_post, ln2_post) on its output.
    auto pre = [&](const activation& x, const norm_weight& nw, hook_kind scale, hook_kind normalized) {
        return c.pre_norms ? norm(x, nw, c.norm, hooks, {at(scale), at(normalized)}) : x;
    };
    auto post = [&](activation&& x, const norm_weight& nw, hook_kind scale, hook_kind normalized) -> activation {
        if (!c.post_norms) return std::move(x);
        return norm(x, nw, c.norm, hooks, {at(scale), at(normalized)});
    };
    auto attention_sublayer = [&](const activation& x) {
        activation out = attention(pre(x, w.ln1, hook_kind::ln1_scale, hook_kind::ln1_normalized), w.attn, c.attn, layer,
                                   first, cache, hooks);
        out = post(std::move(out), w.ln1_post, hook_kind::ln1_post_scale, hook_kind::ln1_post_normalized);
        hooks(at(hook_kind::attn_out), out);
        return out;
    };
    auto mlp_sublayer = [&](const activation& x) {
        activation out = mlp(pre(x, w.ln2, hook_kind::ln2_scale, hook_kind::ln2_normalized), w.mlp, c.mlp, layer, hooks);
        out = post(std::move(out), w.ln2_post, hook_kind::ln2_post_scale, hook_kind::ln2_post_normalized);
        hooks(at(hook_kind::mlp_out), out);
        return out;
    };
    hooks(at(hook_kind::resid_pre), resid);
    if (c.parallel_residual) {
        activation attn_out = attention_sublayer(resid);
        activation mlp_out = mlp_sublayer(resid);
        detail::add_into(resid, attn_out);
        detail::add_into(resid, mlp_out);
    } else {
        detail::add_into(resid, attention_sublayer(resid));
        hooks(at(hook_kind::resid_mid), resid);
        detail::add_into(resid, mlp_sublayer(resid));
    }
    hooks(at(hook_kind::resid_post), resid);
    return resid;
}

}  // namespace xlens::blocks
