// xlens/run/generate.hpp — text continuation with a KV cache: the prompt is read once, then each
// new token costs one single-position forward pass.
//
//   xlens::generate_options o;  o.max_new_tokens = 32;  o.stop_tokens = tok.stop_tokens();
//   auto out = xlens::generate(model, tok.encode("The Eiffel Tower is in"), o,
//                              [&](xlens::token_id t) { std::cout << tok.token_text(t); return true; });
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "xlens/run/forward.hpp"
#include "xlens/run/sampling.hpp"

namespace xlens {

struct generate_options {
    std::size_t max_new_tokens = 32;   // the budget; 0 generates nothing
    sampling_options sampling;         // greedy by default
    std::vector<token_id> stop_tokens; // generation ends after emitting one of these (it is kept)
    bool keep_logits = false;          // record the logits each new token was chosen from
};

/// Why generation ended.
enum class stop_reason { budget, stop_token, context_full, callback };

inline const char* to_string(stop_reason r) {
    switch (r) {
        case stop_reason::budget: return "budget";
        case stop_reason::stop_token: return "stop_token";
        case stop_reason::context_full: return "context_full";
        case stop_reason::callback: return "callback";
    }
    return "?";
}

struct generation {
    std::vector<token_id> tokens;  // the new tokens only
    stop_reason reason = stop_reason::budget;
    std::vector<std::vector<float>> logits;  // with keep_logits: [tokens.size()][d_vocab]
};

/// Called with each new token as soon as it is chosen; return false to stop.
using token_callback = std::function<bool(token_id)>;

/// Continues `prompt` by up to `options.max_new_tokens` tokens. Stops early on a stop token, when
/// the context is full (the prompt itself must fit: input_error 503), or when `on_token` says so.
/// Throws input_error 501 (empty prompt), 502, 503, 520/521 (sampling options).
inline generation generate(const model& m, const std::vector<token_id>& prompt, const generate_options& options,
                           const token_callback& on_token = {}) {
    sampler choose(options.sampling);
    generation out;
    if (prompt.empty()) throw input_error(501, "cannot generate from an empty prompt: give at least one token");
    kv_cache kv = make_kv_cache(m);
    run_options step;
    step.kv = &kv;
    const std::size_t d_vocab = m.config().d_vocab, n_ctx = m.config().n_ctx;
    if (options.max_new_tokens == 0) {
        detail::validate_tokens(m.config(), prompt, 0);
        return out;
    }
    activation logits = forward(m, prompt, step);  // [T, d_vocab]
    while (true) {
        const float* last = logits.data() + (logits.shape()[0] - 1) * d_vocab;
        token_id next = choose(last, d_vocab);
        out.tokens.push_back(next);
        if (options.keep_logits) out.logits.emplace_back(last, last + d_vocab);
        if (on_token && !on_token(next)) {
            out.reason = stop_reason::callback;
            break;
        }
        if (std::find(options.stop_tokens.begin(), options.stop_tokens.end(), next) != options.stop_tokens.end()) {
            out.reason = stop_reason::stop_token;
            break;
        }
        if (out.tokens.size() >= options.max_new_tokens) {
            out.reason = stop_reason::budget;
            break;
        }
        if (kv.length() >= n_ctx) {
            out.reason = stop_reason::context_full;
            break;
        }
        logits = forward(m, {next}, step);  // [1, d_vocab]
    }
    return out;
}

}  // namespace xlens
