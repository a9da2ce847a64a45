// xlens/blocks/embedding.hpp — token and learned position embeddings.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

/// Rows of the embedding matrix [d_vocab, d_model] for each token → [T, d_model]. Tokens are
/// validated by the caller (run/forward.hpp) before any block runs.
inline activation embed(const weight& embedding, const std::vector<std::int32_t>& tokens) {
    const std::size_t d = embedding.shape[1];
    activation out = activation::from_shape({tokens.size(), d});
    for (std::size_t t = 0; t < tokens.size(); ++t)  // a row copied, or dequantised from its stored type
        embedding.read_rows(static_cast<std::size_t>(tokens[t]), 1, out.data() + t * d);
    return out;
}

/// Learned position embeddings for positions first … first + T − 1 → [T, d_model].
inline activation pos_embed(const weight& positions, std::size_t first, std::size_t T) {
    const std::size_t d = positions.shape[1];
    activation out = activation::from_shape({T, d});
    std::memcpy(out.data(), positions.data + first * d, T * d * sizeof(float));
    return out;
}

}  // namespace xlens::blocks
