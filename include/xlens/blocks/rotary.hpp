// xlens/blocks/rotary.hpp — rotary position embeddings (RoPE), "rotate half" convention.
//
// Dimension i < rotary_dim/2 of a head pairs with i + rotary_dim/2 and the pair is rotated by
// angle position · inv_freq[i]. Frequencies and angles are computed in float32, as transformers
// does, so long positions round the same way.
#pragma once

#include <cmath>
#include <vector>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/model/config.hpp"

namespace xlens::blocks {

/// cos and sin of every (position, frequency) pair for positions first … first + T − 1.
struct rotary_table {
    std::size_t half = 0;     // rotary_dim / 2
    std::vector<float> cos;   // [T, half]
    std::vector<float> sin;   // [T, half]
};

/// The per-frequency divisors for a sequence of `seq_len` positions: LongRoPE's long factors past
/// its pretraining length (transformers picks by the largest position + 1), else the usual ones.
inline const std::vector<float>& rotary_frequency_factors(const rotary_config& r, std::size_t seq_len) {
    const bool long_sequence = static_cast<double>(seq_len) > r.original_max_positions;
    return long_sequence && !r.long_frequency_factors.empty() ? r.long_frequency_factors : r.frequency_factors;
}

/// inv_freq[i] = 1 / theta^(2i / frequency_dim), with the config's scaling and the factors for a
/// sequence of `seq_len` positions applied.
inline std::vector<float> rotary_inverse_frequencies(const rotary_config& r, std::size_t seq_len = 0) {
    const std::size_t half = r.rotary_dim / 2;
    std::vector<float> inv(half);
    const float dim = static_cast<float>(r.frequency_dim ? r.frequency_dim : r.rotary_dim);
    for (std::size_t i = 0; i < half; ++i)
        inv[i] = 1.0f / std::pow(static_cast<float>(r.theta), static_cast<float>(2 * i) / dim);
    if (r.scaling == "linear") {
        for (auto& f : inv) f = f / static_cast<float>(r.factor);
    } else if (r.scaling == "llama3") {
        // Long wavelengths are slowed by `factor`, short ones kept, and the band between blended.
        const double low_wavelen = r.original_max_positions / r.low_freq_factor;
        const double high_wavelen = r.original_max_positions / r.high_freq_factor;
        const double pi = 3.14159265358979323846;
        for (auto& f : inv) {
            double wavelen = 2 * pi / f;
            if (wavelen < high_wavelen) continue;
            if (wavelen > low_wavelen) {
                f = static_cast<float>(f / r.factor);
                continue;
            }
            double smooth = (r.original_max_positions / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
            f = static_cast<float>((1 - smooth) * f / r.factor + smooth * f);
        }
    }
    const auto& factors = rotary_frequency_factors(r, seq_len);
    for (std::size_t i = 0; i < factors.size() && i < half; ++i) inv[i] /= factors[i];
    return inv;
}

inline rotary_table make_rotary_table(const rotary_config& r, std::size_t first, std::size_t T) {
    rotary_table table;
    table.half = r.rotary_dim / 2;
    auto inv = rotary_inverse_frequencies(r, first + T);
    const auto scale = static_cast<float>(r.attention_factor);  // 1 but for LongRoPE
    table.cos.resize(T * table.half);
    table.sin.resize(T * table.half);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < table.half; ++i) {
            float angle = static_cast<float>(first + t) * inv[i];
            table.cos[t * table.half + i] = static_cast<float>(std::cos(static_cast<double>(angle))) * scale;
            table.sin[t * table.half + i] = static_cast<float>(std::sin(static_cast<double>(angle))) * scale;
        }
    return table;
}

/// Rotates x [T, n_heads, d_head] in place; dimensions past rotary_dim are left as they are.
inline void apply_rotary(activation& x, const rotary_table& table) {
    const std::size_t T = x.shape()[0], heads = x.shape()[1], dh = x.shape()[2], half = table.half;
    for (std::size_t t = 0; t < T; ++t) {
        const float* c = table.cos.data() + t * half;
        const float* s = table.sin.data() + t * half;
        for (std::size_t h = 0; h < heads; ++h) {
            float* v = x.data() + (t * heads + h) * dh;
            for (std::size_t i = 0; i < half; ++i) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

}  // namespace xlens::blocks
