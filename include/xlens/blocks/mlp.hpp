// xlens/blocks/mlp.hpp — the feed-forward block, plain or gated.
//
//   plain: pre = x W_inᵀ + b_in;  post = act(pre)
//   gated: pre = x W_gateᵀ;  pre_linear = x W_inᵀ;  post = act(pre) ⊙ pre_linear   (SwiGLU, GeGLU)
//   out  = post W_outᵀ + b_out
#pragma once

#include <cmath>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/matmul.hpp"
#include "xlens/model/config.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

/// act(x) for one value.
inline float activate(activation_kind kind, float x) {
    switch (kind) {
        case activation_kind::gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
        case activation_kind::gelu_tanh: {
            const float k = 0.79788456080286536f;  // sqrt(2 / pi)
            return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
        }
        case activation_kind::silu: return x / (1.0f + std::exp(-x));
        case activation_kind::relu: return x > 0.0f ? x : 0.0f;
    }
    return x;
}

/// y[i] = act(x[i]) for n values, the switch hoisted out of the loop.
inline void activate(activation_kind kind, const float* x, float* y, std::size_t n) {
    switch (kind) {
        case activation_kind::gelu: for (std::size_t i = 0; i < n; ++i) y[i] = activate(activation_kind::gelu, x[i]); break;
        case activation_kind::gelu_tanh: for (std::size_t i = 0; i < n; ++i) y[i] = activate(activation_kind::gelu_tanh, x[i]); break;
        case activation_kind::silu: for (std::size_t i = 0; i < n; ++i) y[i] = activate(activation_kind::silu, x[i]); break;
        case activation_kind::relu: for (std::size_t i = 0; i < n; ++i) y[i] = activate(activation_kind::relu, x[i]); break;
    }
}

/// MLP of block `layer` on normalized input x [T, d_model] → [T, d_model] (hook_mlp_out is the caller's).
inline activation mlp(const activation& x, const mlp_weight& w, const mlp_config& c, int layer, const hook_context& hooks) {
    auto at = [layer](hook_kind k) { return hook_point{k, layer}; };
    activation pre = linear(x, c.gated ? w.gate : w.in);  // [T, d_mlp]
    hooks(at(hook_kind::mlp_pre), pre);
    activation post = activation::from_shape(pre.shape());
    const std::size_t n = pre.size();
    activate(c.activation, pre.data(), post.data(), n);
    if (c.gated) {
        activation pre_linear = linear(x, w.in);  // [T, d_mlp]
        hooks(at(hook_kind::mlp_pre_linear), pre_linear);
        for (std::size_t i = 0; i < n; ++i) post.data()[i] *= pre_linear.data()[i];
    }
    hooks(at(hook_kind::mlp_post), post);
    return linear(post, w.out);
}

}  // namespace xlens::blocks
