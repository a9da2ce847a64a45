// xlens/model/inventory.hpp — how many parameters each component of a model holds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xlens/model/model.hpp"

namespace xlens {

/// Parameter counts by component, in the order a forward pass meets them. A tied unembedding is
/// counted once (under "embedding"), as transformers' num_parameters() counts it.
inline std::vector<std::pair<std::string, std::uint64_t>> parameter_counts(const model& m) {
    const auto& w = m.weights();
    std::uint64_t attention = 0, mlp = 0, norms = 0;
    auto lin = [](const linear_weight& l) { return static_cast<std::uint64_t>(l.w.size() + l.b.size()); };
    for (const auto& l : w.layers) {
        attention += lin(l.attn.q) + lin(l.attn.k) + lin(l.attn.v) + lin(l.attn.o);
        mlp += lin(l.mlp.in) + lin(l.mlp.gate) + lin(l.mlp.out);
        for (const norm_weight* n : {&l.ln1, &l.ln2, &l.ln1_post, &l.ln2_post, &l.attn.q_norm, &l.attn.k_norm})
            norms += n->w.size() + n->b.size();
    }
    norms += w.ln_final.w.size() + w.ln_final.b.size();
    bool tied = w.unembed.w.same_memory(w.embed);
    std::vector<std::pair<std::string, std::uint64_t>> out = {
        {"embedding", w.embed.size()},
        {"position embedding", w.pos_embed.size()},
        {"attention", attention},
        {"mlp", mlp},
        {"norms", norms},
        {"unembedding", (tied ? 0 : w.unembed.w.size()) + w.unembed.b.size()},
    };
    std::uint64_t total = 0;
    for (const auto& [name, n] : out) total += n;
    out.emplace_back("total", total);
    return out;
}

}  // namespace xlens
