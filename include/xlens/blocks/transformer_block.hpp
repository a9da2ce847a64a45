// xlens/blocks/transformer_block.hpp — one block: norm → attention, norm → MLP, with residuals.
//
//   sequential (GPT-2, Llama):  mid = pre + attn(ln1(pre));  post = mid + mlp(ln2(mid))
//   parallel   (GPT-NeoX):      post = pre + attn(ln1(pre)) + mlp(ln2(pre))
#pragma once

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
    hooks(at(hook_kind::resid_pre), resid);
    activation attn_in = norm(resid, w.ln1, c.norm, hooks, {at(hook_kind::ln1_scale), at(hook_kind::ln1_normalized)});
    activation attn_out = attention(attn_in, w.attn, c.attn, layer, first, cache, hooks);
    hooks(at(hook_kind::attn_out), attn_out);
    activation mlp_out;
    if (c.parallel_residual) {
        activation mlp_in = norm(resid, w.ln2, c.norm, hooks, {at(hook_kind::ln2_scale), at(hook_kind::ln2_normalized)});
        mlp_out = mlp(mlp_in, w.mlp, c.mlp, layer, hooks);
        hooks(at(hook_kind::mlp_out), mlp_out);
        detail::add_into(resid, attn_out);
        detail::add_into(resid, mlp_out);
    } else {
        detail::add_into(resid, attn_out);
        hooks(at(hook_kind::resid_mid), resid);
        activation mlp_in = norm(resid, w.ln2, c.norm, hooks, {at(hook_kind::ln2_scale), at(hook_kind::ln2_normalized)});
        mlp_out = mlp(mlp_in, w.mlp, c.mlp, layer, hooks);
        hooks(at(hook_kind::mlp_out), mlp_out);
        detail::add_into(resid, mlp_out);
    }
    hooks(at(hook_kind::resid_post), resid);
    return resid;
}

}  // namespace xlens::blocks
