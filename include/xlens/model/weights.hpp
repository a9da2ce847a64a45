// xlens/model/weights.hpp — the canonical weights every block reads, whatever file they came from.
//
// Each weight is a float32 array that either points into the mapped checkpoint (zero copy) or into a
// buffer the loader owns (dequantised, converted, or re-laid-out). Linear layers are stored as HF
// stores them, [d_out, d_in], unless `in_by_out` says the checkpoint keeps them transposed (GPT-2's
// Conv1D): the matmul reads either without a copy.
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xadapt.hpp>

namespace xlens {

/// A read-only float32 tensor, row-major and contiguous. Non-owning: the model keeps the memory alive.
struct weight {
    const float* data = nullptr;
    std::vector<std::size_t> shape;

    bool empty() const noexcept { return data == nullptr; }
    std::size_t size() const noexcept {
        std::size_t n = data ? 1 : 0;
        for (auto d : shape) n *= d;
        return n;
    }
    /// A non-owning xtensor view, e.g. `model.weights().layers[3].attn.q.w.view()`.
    auto view() const { return xt::adapt(data, size(), xt::no_ownership(), shape); }
};

/// y = x Wᵀ + b for x [T, d_in].
struct linear_weight {
    weight w;              // [d_out, d_in], or [d_in, d_out] when in_by_out
    weight b;              // [d_out] or empty
    bool in_by_out = false;

    std::size_t d_out() const { return in_by_out ? w.shape[1] : w.shape[0]; }
    std::size_t d_in() const { return in_by_out ? w.shape[0] : w.shape[1]; }
};

struct norm_weight {
    weight w;  // [d_model] gain
    weight b;  // [d_model] bias (LayerNorm) or empty (RMSNorm)
};

struct attention_weight {
    linear_weight q;  // [n_heads·d_head, d_model]; head h owns rows h·d_head … (h+1)·d_head − 1
    linear_weight k;  // [n_kv_heads·d_head, d_model]
    linear_weight v;  // [n_kv_heads·d_head, d_model]
    linear_weight o;  // [d_model, n_heads·d_head]
};

struct mlp_weight {
    linear_weight in;    // [d_mlp, d_model]  (HF up_proj / c_fc / dense_h_to_4h)
    linear_weight gate;  // [d_mlp, d_model]  gated MLPs only (HF gate_proj)
    linear_weight out;   // [d_model, d_mlp]  (HF down_proj / c_proj / dense_4h_to_h)
};

struct layer_weight {
    norm_weight ln1;
    attention_weight attn;
    norm_weight ln2;
    mlp_weight mlp;
};

struct model_weights {
    weight embed;          // [d_vocab, d_model]
    weight pos_embed;      // [n_ctx, d_model], learned-position models only
    std::vector<layer_weight> layers;
    norm_weight ln_final;
    linear_weight unembed; // [d_vocab, d_model]; the same memory as embed when tied
};

}  // namespace xlens
