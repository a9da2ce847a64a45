// xlens/blocks/norm.hpp — LayerNorm and RMSNorm over the last axis, with their two hook points.
#pragma once

#include <cmath>
#include <vector>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/model/config.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

/// The hook points one norm exposes (ln1, ln2 or ln_final).
struct norm_hooks {
    hook_point scale;
    hook_point normalized;
};

/// Normalises each row (the last axis) of x [..., d] as the config says, calling `hooks` at scale
/// [..., 1] and normalized [..., d].
///   LayerNorm: scale = sqrt(var(x) + eps); normalized = (x − mean) / scale · w + b = output
///   RMSNorm:   scale = sqrt(mean(x²) + eps); normalized = x / scale;  output = normalized · w
/// (TransformerLens hooks RMSNorm before the gain and LayerNorm after it; xlens keeps both conventions.)
inline activation norm(const activation& x, const norm_weight& w, const norm_config& c, const hook_context& hooks,
                       norm_hooks at) {
    const std::size_t d = x.shape().back(), T = x.size() / d;
    std::vector<std::size_t> scale_shape(x.shape().begin(), x.shape().end());
    scale_shape.back() = 1;
    activation scale = activation::from_shape(scale_shape);
    activation y = activation::from_shape(x.shape());
    for (std::size_t t = 0; t < T; ++t) {
        const float* row = x.data() + t * d;
        double mean = 0.0;
        if (c.kind == norm_kind::layer_norm) {
            for (std::size_t i = 0; i < d; ++i) mean += row[i];
            mean /= static_cast<double>(d);
        }
        double sq = 0.0;
        for (std::size_t i = 0; i < d; ++i) {
            double centred = row[i] - mean;
            sq += centred * centred;
        }
        float s = static_cast<float>(std::sqrt(sq / static_cast<double>(d) + c.eps));
        scale.data()[t] = s;
        float* out = y.data() + t * d;
        for (std::size_t i = 0; i < d; ++i) out[i] = static_cast<float>(row[i] - mean) / s;
    }
    hooks(at.scale, scale);
    if (c.kind == norm_kind::layer_norm) {
        for (std::size_t t = 0; t < T; ++t) {
            float* out = y.data() + t * d;
            for (std::size_t i = 0; i < d; ++i) out[i] = out[i] * w.w.data[i] + w.b.data[i];
        }
        hooks(at.normalized, y);
        return y;
    }
    hooks(at.normalized, y);
    for (std::size_t t = 0; t < T; ++t) {
        float* out = y.data() + t * d;
        for (std::size_t i = 0; i < d; ++i) out[i] *= w.w.data[i];
    }
    return y;
}

}  // namespace xlens::blocks
