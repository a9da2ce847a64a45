// xlens/blocks/attention.hpp — causal multi-head / grouped-query attention with optional rotary.
//
//   q, k, v = x W_Qᵀ + b_Q, x W_Kᵀ + b_K, x W_Vᵀ + b_V         [T, heads, d_head]
//   q, k    = rmsnorm(q), rmsnorm(k)                            (qk-norm models: per head or whole)
//   q, k    = rotary(q), rotary(k)                              (rotary models; local layers may differ)
//   scores  = q_h · k_g(h)ᵀ × scale  (scale = 1/sqrt(d_head) unless the config sets it)
//   scores  = cap · tanh(scores / cap)                          (soft-capped models, Gemma 2)
//   scores  : future (and, in local layers, beyond the window) masked −inf   [heads, T, T_k]
//   pattern = softmax(scores)                                   [heads, T, T_k]
//   z_h     = pattern_h · v_g(h)                                [T, heads, d_head]
//   out     = Σ_h z_h W_O,hᵀ + b_O                               [T, d_model]
// where g(h) = h / (heads / kv_heads) is the key/value head that query head h shares (GQA).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/kv_cache.hpp"
#include "xlens/blocks/matmul.hpp"
#include "xlens/blocks/norm.hpp"
#include "xlens/blocks/rotary.hpp"
#include "xlens/model/config.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

namespace detail {

/// In-place softmax of one row of n scores whose visible keys are [first, last]; the masked rest
/// becomes 0 without being exponentiated (half of a causal matrix).
inline void softmax_row(float* row, std::size_t n, std::size_t first, std::size_t last) {
    std::fill(row, row + first, 0.0f);
    std::fill(row + last + 1, row + n, 0.0f);
    float max = -std::numeric_limits<float>::infinity();
    for (std::size_t j = first; j <= last; ++j) max = std::max(max, row[j]);
    if (max == -std::numeric_limits<float>::infinity()) {  // a hook masked everything: attend nowhere, as TransformerLens does
        std::fill(row + first, row + last + 1, 0.0f);
        return;
    }
    float sum = 0.0f;
    for (std::size_t j = first; j <= last; ++j) {
        row[j] = std::exp(row[j] - max);
        sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (std::size_t j = first; j <= last; ++j) row[j] *= inv;
}

}  // namespace detail

/// Attention of block `layer` on normalized input x [T, d_model] at positions first … first + T − 1.
/// With a kv_cache, the new keys/values are appended and earlier positions are attended to as well.
/// Returns attn_out [T, d_model] (hook_attn_out is called by the caller).
inline activation attention(const activation& x, const attention_weight& w, const attention_config& c,
                            int layer, std::size_t first, kv_cache* cache, const hook_context& hooks) {
    const std::size_t T = x.shape()[0], H = c.n_heads, KV = c.n_kv_heads, dh = c.d_head;
    const std::size_t group = H / KV;
    auto at = [layer](hook_kind k) { return hook_point{k, layer}; };

    activation q = linear(x, w.q);  // [T, H·dh]
    activation k = linear(x, w.k);  // [T, KV·dh]
    activation v = linear(x, w.v);  // [T, KV·dh]
    q.reshape({T, H, dh});
    k.reshape({T, KV, dh});
    v.reshape({T, KV, dh});
    hooks(at(hook_kind::q), q);
    hooks(at(hook_kind::k), k);
    hooks(at(hook_kind::v), v);
    if (c.qk_norm != qk_norm_kind::none) {
        const norm_config rms{norm_kind::rms_norm, c.qk_norm_eps};
        if (c.qk_norm == qk_norm_kind::whole) {  // over all heads at once: normalise [T, heads·d_head]
            q.reshape({T, H * dh});
            k.reshape({T, KV * dh});
        }
        q = norm(q, w.q_norm, rms, hooks, {at(hook_kind::q_norm_scale), at(hook_kind::q_norm_normalized)});
        k = norm(k, w.k_norm, rms, hooks, {at(hook_kind::k_norm_scale), at(hook_kind::k_norm_normalized)});
        q.reshape({T, H, dh});
        k.reshape({T, KV, dh});
    }
    if (c.positions == position_kind::rotary) {
        auto table = make_rotary_table(c.rotary_of(static_cast<std::size_t>(layer)), first, T);
        apply_rotary(q, table);
        apply_rotary(k, table);
        hooks(at(hook_kind::rot_q), q);
        hooks(at(hook_kind::rot_k), k);
    }

    // Keys and values of every position this query block may see: cached ones, then the new ones.
    const std::size_t width = KV * dh;
    const float* keys = k.data();
    const float* values = v.data();
    std::size_t past = 0;
    if (cache) {
        auto& ck = cache->keys(static_cast<std::size_t>(layer));
        auto& cv = cache->values(static_cast<std::size_t>(layer));
        past = ck.size() / width;
        ck.insert(ck.end(), k.data(), k.data() + T * width);
        cv.insert(cv.end(), v.data(), v.data() + T * width);
        keys = ck.data();
        values = cv.data();
    }
    const std::size_t Tk = past + T;

    // Scores and pattern for all heads are materialised only if a hook wants them; otherwise one
    // head's [T, T_k] buffer is reused, so memory stays O(T · T_k) rather than O(heads · T · T_k).
    const bool keep_all = hooks.wants(at(hook_kind::attn_scores)) || hooks.wants(at(hook_kind::pattern));
    activation scores = activation::from_shape({keep_all ? H : 1, T, Tk});
    activation z = activation::from_shape({T, H, dh});
    const float scale = c.scale > 0 ? static_cast<float>(c.scale) : 1.0f / std::sqrt(static_cast<float>(dh));
    const float cap = static_cast<float>(c.logit_softcap);
    const float neg_inf = -std::numeric_limits<float>::infinity();
    const std::size_t window = c.window(static_cast<std::size_t>(layer));

    // Keys query row i may see: [first_key(i), past + i] (causal, and within the sliding window).
    auto first_key = [&](std::size_t i) {
        const std::size_t query_pos = past + i;
        return window > 0 && query_pos >= window ? query_pos - window + 1 : 0;
    };
    auto compute_scores = [&](std::size_t h, float* s) {
        const std::size_t g = h / group;
        gemm(T, Tk, dh, q.data() + h * dh, H * dh, keys + g * dh, width, true, s, Tk, scale);
        if (cap > 0)
            for (std::size_t i = 0; i < T * Tk; ++i) s[i] = std::tanh(s[i] / cap) * cap;
        for (std::size_t i = 0; i < T; ++i) {
            float* row = s + i * Tk;
            std::fill(row, row + first_key(i), neg_inf);
            std::fill(row + past + i + 1, row + Tk, neg_inf);
        }
    };
    // A hook that may edit the scores may also unmask entries; then, as in TransformerLens, the
    // softmax spans the whole row and the −inf it left in place are what mask.
    const bool full_rows = hooks.may_change(at(hook_kind::attn_scores));
    auto softmax_rows = [&](float* s) {
        for (std::size_t i = 0; i < T; ++i)
            detail::softmax_row(s + i * Tk, Tk, full_rows ? 0 : first_key(i), full_rows ? Tk - 1 : past + i);
    };
    auto apply_pattern = [&](std::size_t h, const float* p) {
        const std::size_t g = h / group;
        gemm(T, dh, Tk, p, Tk, values + g * dh, width, false, z.data() + h * dh, H * dh);
    };

    if (keep_all) {
        for (std::size_t h = 0; h < H; ++h) compute_scores(h, scores.data() + h * T * Tk);
        hooks(at(hook_kind::attn_scores), scores);
        activation& pattern = scores;  // softmax in place: the scores were already handed to their hooks
        for (std::size_t h = 0; h < H; ++h) softmax_rows(pattern.data() + h * T * Tk);
        hooks(at(hook_kind::pattern), pattern);
        for (std::size_t h = 0; h < H; ++h) apply_pattern(h, pattern.data() + h * T * Tk);
    } else {
        for (std::size_t h = 0; h < H; ++h) {
            compute_scores(h, scores.data());
            softmax_rows(scores.data());
            apply_pattern(h, scores.data());
        }
    }
    hooks(at(hook_kind::z), z);

    const std::size_t d = w.o.d_out();
    z.reshape({T, H * dh});  // heads side by side: one matmul with W_O
    activation out = linear(z, w.o);
    z.reshape({T, H, dh});
    if (hooks.wants(at(hook_kind::result))) {
        // Each head's own write, z_h · W_O[:, h]ᵀ, so hooks can read or edit one head's contribution.
        activation result = activation::from_shape({T, H, d});
        if (w.o.w.in_float32()) {
            for (std::size_t h = 0; h < H; ++h) {
                const float* wo = w.o.in_by_out ? w.o.w.data + h * dh * d : w.o.w.data + h * dh;
                gemm(T, d, dh, z.data() + h * dh, H * dh, wo, w.o.in_by_out ? d : H * dh, !w.o.in_by_out,
                     result.data() + h * d, H * d);
            }
        } else {  // W_O kept stored: the same products, over dequantised tiles of its rows
            for_each_f32_tile(w.o.w, [&](std::size_t r0, std::size_t rows, const float* tile) {
                for (std::size_t h = 0; h < H; ++h)
                    gemm(T, rows, dh, z.data() + h * dh, H * dh, tile + h * dh, H * dh, true, result.data() + h * d + r0, H * d);
            });
        }
        // Only an edited result is summed back: reading it must not change the numbers (a per-head
        // sum rounds differently from the single matmul above).
        const bool may_change = hooks.may_change(at(hook_kind::result));
        activation before;
        if (may_change) before = result;
        hooks(at(hook_kind::result), result);
        if (may_change && !std::equal(before.data(), before.data() + before.size(), result.data())) {
            out.fill(0.0f);
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t h = 0; h < H; ++h) {
                    const float* r = result.data() + (t * H + h) * d;
                    float* o = out.data() + t * d;
                    for (std::size_t i = 0; i < d; ++i) o[i] += r[i];
                }
            if (!w.o.b.empty())
                for (std::size_t t = 0; t < T; ++t)
                    for (std::size_t i = 0; i < d; ++i) out.data()[t * d + i] += w.o.b.data[i];
        }
    }
    return out;
}

}  // namespace xlens::blocks
