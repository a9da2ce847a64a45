// xlens/run/forward.hpp — running a model on tokens: plain, with a cache, with hooks, incrementally.
//
//   auto logits = xlens::run(model, {1, 2, 3});                    // [3, d_vocab]
//   auto [logits, cache] = xlens::run_with_cache(model, tokens, xlens::hook_filter::suffix("hook_pattern"));
//   auto logits = xlens::run_with_hooks(model, tokens, hooks);
//   xlens::kv_cache kv = xlens::make_kv_cache(model);              // incremental decoding
//   xlens::run_options step;  step.kv = &kv;
//   xlens::forward(model, prompt, step);  then  xlens::forward(model, {next}, step);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xlens/blocks/embedding.hpp"
#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/kv_cache.hpp"
#include "xlens/blocks/norm.hpp"
#include "xlens/blocks/transformer_block.hpp"
#include "xlens/blocks/unembed.hpp"
#include "xlens/model/model.hpp"
#include "xlens/run/activation_cache.hpp"
#include "xlens/run/hooks.hpp"
#include "xlens/token_id.hpp"

namespace xlens {

/// Everything a run may use besides the model and tokens. All optional; all owned by the caller.
struct run_options {
    const hook_set* hooks = nullptr;           // read/modify hooks, called before the cache records
    activation_cache* cache = nullptr;         // records the activations `cache_filter` selects
    hook_filter cache_filter = hook_filter::all();
    kv_cache* kv = nullptr;                    // earlier positions' keys/values; new ones are appended
};

/// Logits [T, d_vocab] for `tokens` (continuing the sequence in `options.kv`, if given).
/// Throws input_error 501 (no tokens), 502 (token outside the vocabulary), 503 (longer than the
/// context), 504 (kv cache made for another model); hook_error 602 if a hook changes a shape.
inline activation forward(const model& m, const std::vector<token_id>& tokens, const run_options& options = {});

/// The residual stream after the last block ([T, d_model], before the final norm) of a run resumed
/// at block `layer`: `resid` is that block's resid_pre for positions first … first + T − 1, where
/// first = options.kv->length() (0 without a kv cache) and the kv cache holds the earlier positions'
/// keys and values of blocks `layer` … n_layers − 1. Hooks and the cache see blocks ≥ `layer` only.
/// Activation patching uses it to restart a run at the patched layer instead of from the embedding.
/// Throws input_error 505 if `layer` ≥ n_layers or `resid` is not [T, d_model] with T ≥ 1.
inline activation forward_from_layer(const model& m, activation resid, std::size_t layer, const run_options& options = {});

/// Logits [T, d_vocab]; no hooks, nothing recorded.
inline activation run(const model& m, const std::vector<token_id>& tokens) { return forward(m, tokens); }

struct cached_run {
    activation logits;      // [T, d_vocab]
    activation_cache cache;
};

/// Logits and the activations at every hook point `filter` selects (all of them by default).
inline cached_run run_with_cache(const model& m, const std::vector<token_id>& tokens,
                                 const hook_filter& filter = hook_filter::all()) {
    cached_run out;
    run_options o;
    o.cache = &out.cache;
    o.cache_filter = filter;
    out.logits = forward(m, tokens, o);
    return out;
}

/// Logits, with the activations `filter` selects recorded into `into`. Reusing one cache across
/// runs keeps its memory (arrays of unchanged shape are overwritten in place); afterwards it holds
/// exactly this run's activations.
inline activation run_with_cache(const model& m, const std::vector<token_id>& tokens, activation_cache& into,
                                 const hook_filter& filter = hook_filter::all()) {
    run_options o;
    o.cache = &into;
    o.cache_filter = filter;
    return forward(m, tokens, o);
}

/// Logits of a run in which `hooks` read or change activations.
inline activation run_with_hooks(const model& m, const std::vector<token_id>& tokens, const hook_set& hooks) {
    run_options o;
    o.hooks = &hooks;
    return forward(m, tokens, o);
}

/// An empty key/value cache shaped for `m`.
inline kv_cache make_kv_cache(const model& m) {
    const auto& c = m.config();
    return kv_cache(c.n_layers, c.attn.n_kv_heads * c.attn.d_head);
}

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline void validate_tokens(const model_config& c, const std::vector<token_id>& tokens, std::size_t past) {
    if (tokens.empty()) throw input_error(501, "no tokens to run: the sequence is empty");
    for (std::size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || static_cast<std::size_t>(tokens[i]) >= c.d_vocab)
            throw input_error(502, "token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                                       " is outside the vocabulary [0, " + std::to_string(c.d_vocab) + ")");
    if (past + tokens.size() > c.n_ctx)
        throw input_error(503, "sequence of " + std::to_string(past + tokens.size()) + " tokens" +
                                   (past ? " (" + std::to_string(past) + " cached)" : std::string()) +
                                   " is longer than the model's context of " + std::to_string(c.n_ctx));
}

/// What a run does at its hook points: the user's hooks, then the cache's recorder.
inline hook_context make_hook_context(const model_config& c, const run_options& options) {
    hook_context hooks;  // empty: nobody listens, and each hook point costs one test
    if (options.hooks || options.cache) {
        hooks = hook_context(c.n_layers);
        auto points = all_hook_points(c);
        if (options.hooks) options.hooks->attach(hooks, points);
        if (options.cache) {
            activation_cache* cache = options.cache;
            hooks.listen(points, options.cache_filter, [cache](activation& a, hook_point p) { cache->store(p, a); },
                         /*read_only=*/true);
        }
    }
    return hooks;
}

inline void check_kv_cache(const model_config& c, const kv_cache* kv) {
    if (kv && (kv->layers() != c.n_layers || kv->width() != c.attn.n_kv_heads * c.attn.d_head))
        throw input_error(504, "the kv cache was made for a different model (use make_kv_cache(model))");
}

}  // namespace detail

inline activation forward(const model& m, const std::vector<token_id>& tokens, const run_options& options) {
    const auto& c = m.config();
    const auto& w = m.weights();
    kv_cache* kv = options.kv;
    detail::check_kv_cache(c, kv);
    const std::size_t first = kv ? kv->length() : 0;
    detail::validate_tokens(c, tokens, first);
    const hook_context hooks = detail::make_hook_context(c, options);

    if (options.cache) options.cache->begin_run();
    try {
        activation resid = blocks::embed(w.embed, tokens);
        if (c.embed_scale != 1.0) resid *= static_cast<float>(c.embed_scale);
        hooks({hook_kind::embed, -1}, resid);
        if (c.attn.positions == position_kind::learned) {
            activation pos = blocks::pos_embed(w.pos_embed, first, tokens.size());
            hooks({hook_kind::pos_embed, -1}, pos);
            blocks::detail::add_into(resid, pos);
        }
        for (std::size_t L = 0; L < c.n_layers; ++L)
            resid = blocks::transformer_block(std::move(resid), w.layers[L], c, static_cast<int>(L), first, kv, hooks);
        activation x = blocks::norm(resid, w.ln_final, c.norm, hooks,
                                    {{hook_kind::ln_final_scale, -1}, {hook_kind::ln_final_normalized, -1}});
        activation logits = blocks::unembed(x, w.unembed);
        blocks::soft_cap(logits, c.final_logit_softcap);
        hooks({hook_kind::logits, -1}, logits);
        if (kv) kv->advance(tokens.size());
        if (options.cache) options.cache->end_run();
        return logits;
    } catch (...) {
        if (kv) kv->rollback();  // a failed run leaves the kv cache as it found it
        if (options.cache) options.cache->end_run();  // and the activation cache with only what it recorded
        throw;
    }
}

inline activation forward_from_layer(const model& m, activation resid, std::size_t layer, const run_options& options) {
    const auto& c = m.config();
    if (layer >= c.n_layers)
        throw input_error(505, "cannot resume at block " + std::to_string(layer) + ": the model has " +
                                   std::to_string(c.n_layers) + " blocks");
    if (resid.dimension() != 2 || resid.shape()[0] == 0 || resid.shape()[1] != c.d_model)
        throw input_error(505, "resuming needs residual rows [T, " + std::to_string(c.d_model) + "] with T >= 1");
    kv_cache* kv = options.kv;
    detail::check_kv_cache(c, kv);
    const std::size_t first = kv ? kv->length() : 0;
    if (first + resid.shape()[0] > c.n_ctx)
        throw input_error(503, "sequence of " + std::to_string(first + resid.shape()[0]) +
                                   " tokens is longer than the model's context of " + std::to_string(c.n_ctx));
    const hook_context hooks = detail::make_hook_context(c, options);
    if (options.cache) options.cache->begin_run();
    try {
        for (std::size_t L = layer; L < c.n_layers; ++L)
            resid = blocks::transformer_block(std::move(resid), m.weights().layers[L], c, static_cast<int>(L), first,
                                              kv, hooks);
        if (kv) kv->advance(resid.shape()[0]);
        if (options.cache) options.cache->end_run();
        return resid;
    } catch (...) {
        if (kv) kv->rollback();
        if (options.cache) options.cache->end_run();
        throw;
    }
}

}  // namespace xlens
