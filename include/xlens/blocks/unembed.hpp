// xlens/blocks/unembed.hpp — from the final residual stream to logits over the vocabulary.
#pragma once

#include <cmath>
#include <vector>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/matmul.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

/// logits [T, d_vocab] = x [T, d_model] · W_Uᵀ (+ b_U).
inline activation unembed(const activation& x, const linear_weight& w) { return linear(x, w); }

/// Gemma 2's final soft-cap, in place: logit = cap · tanh(logit / cap); a no-op for cap 0.
inline void soft_cap(activation& logits, double cap) {
    if (cap <= 0) return;
    const float c = static_cast<float>(cap);
    for (float& v : logits) v = std::tanh(v / c) * c;
}

/// The soft-capped value of one logit.
inline double soft_capped(double logit, double cap) { return cap > 0 ? std::tanh(logit / cap) * cap : logit; }

/// W_U[:, token]: the direction [d_model] whose dot product with the normalised final residual is
/// the token's logit (before b_U). Reads either stored orientation.
inline std::vector<float> unembed_direction(const linear_weight& w, std::size_t token) {
    std::vector<float> out(w.d_in());
    w.read_output_row(token, out.data());
    return out;
}

/// b_U[token], or 0 for models without an unembedding bias.
inline float unembed_bias(const linear_weight& w, std::size_t token) { return w.b.empty() ? 0.0f : w.b.data[token]; }

}  // namespace xlens::blocks
