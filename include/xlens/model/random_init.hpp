// xlens/model/random_init.hpp — an untrained model of the same shape, as a baseline.
//
//   xlens::model untrained = xlens::random_init_like(trained, /*seed*/ 0);
//
// What Hugging Face's `from_config` would give before training (initializer_range 0.02): every
// matrix and embedding drawn from N(0, std²), norm gains 1, every bias 0. Analyses run on it the
// same way as on the trained model; whatever they find there is not knowledge from training.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "xlens/model/model.hpp"

namespace xlens {

/// A model with `like`'s config and weight shapes (tied embeddings stay tied), freshly initialised
/// from `seed`. Its weights are owned, so it outlives `like`.
inline model random_init_like(const model& like, std::uint64_t seed, float stddev = 0.02f) {
    auto st = std::make_shared<model::state>();
    st->config = like.config();
    st->source = like.source() + " (random init, seed " + std::to_string(seed) + ")";
    st->format = "random";
    st->notes.push_back("random init like " + like.source() + ": matrices ~ N(0, " + std::to_string(stddev) +
                        "²), norm gains 1, biases 0, seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, stddev);
    auto fresh = [&](const weight& w, float fill, bool random) {
        weight out;
        if (w.empty()) return out;
        out.shape = w.shape;
        st->owned.emplace_back(new float[w.size()]);
        float* p = st->owned.back().get();
        for (std::size_t i = 0; i < w.size(); ++i) p[i] = random ? normal(rng) : fill;
        out.data = p;
        return out;
    };
    auto linear = [&](const linear_weight& l) {
        return linear_weight{fresh(l.w, 0, true), fresh(l.b, 0, false), l.in_by_out};
    };
    auto norm = [&](const norm_weight& n) { return norm_weight{fresh(n.w, 1, false), fresh(n.b, 0, false)}; };
    const auto& w = like.weights();
    auto& out = st->weights;
    out.embed = fresh(w.embed, 0, true);
    out.pos_embed = fresh(w.pos_embed, 0, true);
    for (const auto& L : w.layers) {
        layer_weight n;
        n.ln1 = norm(L.ln1);
        n.attn = {linear(L.attn.q), linear(L.attn.k), linear(L.attn.v), linear(L.attn.o), norm(L.attn.q_norm), norm(L.attn.k_norm)};
        n.ln1_post = norm(L.ln1_post);
        n.ln2 = norm(L.ln2);
        n.ln2_post = norm(L.ln2_post);
        n.mlp = {linear(L.mlp.in), linear(L.mlp.gate), linear(L.mlp.out)};
        out.layers.push_back(std::move(n));
    }
    out.ln_final = norm(w.ln_final);
    if (w.unembed.w.same_memory(w.embed)) out.unembed = {out.embed, fresh(w.unembed.b, 0, false), w.unembed.in_by_out};
    else out.unembed = linear(w.unembed);
    return model(std::move(st));
}

}  // namespace xlens
