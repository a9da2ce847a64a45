// xlens/model/weights.hpp — the canonical weights every block reads, whatever file they came from.
//
// A weight is either float32 in place (`data`: a view into the mapped checkpoint, or a buffer the
// loader owns) or kept in its stored type (`stored`: F16, BF16 or a ggml block type, pointing into
// the mapping), so an 8B Q4_K_M model costs its file size in memory, not four times it. Matmuls read
// either (blocks/matmul.hpp); everything else reads float32 rows through read_rows(), which
// dequantises exactly as gguf-py does. Linear layers are stored as HF stores them, [d_out, d_in],
// unless `in_by_out` says the checkpoint keeps them transposed (GPT-2's Conv1D).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "xlens/error.hpp"
#include "xlens/io/quants.hpp"
#include "xlens/io/tensor_ref.hpp"

namespace xlens {

/// A read-only tensor, row-major. Non-owning: the model keeps the memory alive.
struct weight {
    const float* data = nullptr;  // float32 values in place, contiguous; null when kept in `type`
    std::vector<std::size_t> shape;
    io::dtype type = io::dtype::f32;            // the stored type when `data` is null
    const std::uint8_t* stored = nullptr;       // first stored byte when `data` is null
    const std::uint32_t* row_order = nullptr;   // logical row i is stored row row_order[i]; null: in order

    bool empty() const noexcept { return data == nullptr && stored == nullptr; }
    /// Whether the values are float32 in place (a plain pointer, usable by BLAS and view()).
    bool in_float32() const noexcept { return data != nullptr; }
    std::size_t size() const noexcept {
        std::size_t n = empty() ? 0 : 1;
        for (auto d : shape) n *= d;
        return n;
    }
    /// Rows of a matrix (1 for a vector) and their length.
    std::size_t rows() const noexcept { return shape.size() < 2 ? 1 : size() / shape.back(); }
    std::size_t row_length() const noexcept { return shape.empty() ? 0 : shape.back(); }
    /// Bytes of one stored row.
    std::size_t row_bytes() const {
        const auto tr = io::traits(in_float32() ? io::dtype::f32 : type);
        return row_length() / tr.block_elements * tr.block_bytes;
    }
    /// The stored bytes of logical row i.
    const std::uint8_t* stored_row(std::size_t i) const {
        if (in_float32()) return reinterpret_cast<const std::uint8_t*>(data + i * row_length());
        return stored + (row_order ? row_order[i] : i) * row_bytes();
    }
    /// Logical rows first … first + count − 1 as float32 into dst [count, row_length()]: a copy
    /// for float32, dequantised (bit-identical to gguf.quants.dequantize) otherwise.
    void read_rows(std::size_t first, std::size_t count, float* dst) const {
        const std::size_t n = row_length();
        if (in_float32()) {
            std::memcpy(dst, data + first * n, count * n * sizeof(float));
            return;
        }
        for (std::size_t i = 0; i < count; ++i) io::dequantize(type, stored_row(first + i), n, dst + i * n);
    }
    /// One logical row as float32 (a copy).
    std::vector<float> row(std::size_t i) const {
        std::vector<float> out(row_length());
        read_rows(i, 1, out.data());
        return out;
    }
    /// Every value as float32, row-major (a copy: for a quantised weight, its dequantised values).
    std::vector<float> to_f32() const {
        std::vector<float> out(size());
        if (!out.empty()) read_rows(0, rows(), out.data());
        return out;
    }
    /// A non-owning xtensor view, e.g. `model.weights().layers[3].attn.q.w.view()`. Only for weights
    /// held as float32 (safetensors F32, or any model loaded with load_options::dequantize); for
    /// others it throws weights_error 406: use dequantized(), which copies.
    auto view() const {
        if (!in_float32() && !empty())
            throw weights_error(406, std::string("this weight is kept as ") + io::dtype_name(type) +
                                         ", not float32: use dequantized() for a float32 copy, or load with "
                                         "load_options::dequantize");
        return xt::adapt(data, size(), xt::no_ownership(), shape);
    }
    /// A float32 copy of the values in this weight's shape, whatever its stored type.
    xt::xarray<float> dequantized() const {
        auto values = to_f32();
        return xt::adapt(std::move(values), shape);
    }
    /// Whether two weights are the same memory (a tied embedding and unembedding).
    bool same_memory(const weight& o) const noexcept { return data == o.data && stored == o.stored && !empty(); }
};

/// A weight's values as float32 for code that reads a whole matrix at once (one layer's W_O, W_V):
/// the weight's own memory when it is float32, else a dequantised copy owned by this object.
class float32_values {
public:
    explicit float32_values(const weight& w) : data_(w.data) {
        if (!w.in_float32() && !w.empty()) {
            copy_ = w.to_f32();
            data_ = copy_.data();
        }
    }
    float32_values(const float32_values&) = delete;
    float32_values& operator=(const float32_values&) = delete;
    const float* data() const noexcept { return data_; }

private:
    std::vector<float> copy_;
    const float* data_;
};

/// y = x Wᵀ + b for x [T, d_in].
struct linear_weight {
    weight w;              // [d_out, d_in], or [d_in, d_out] when in_by_out (then always float32)
    weight b;              // [d_out] or empty; always float32
    bool in_by_out = false;

    std::size_t d_out() const { return in_by_out ? w.shape[1] : w.shape[0]; }
    std::size_t d_in() const { return in_by_out ? w.shape[0] : w.shape[1]; }
    /// Row `i` of W (the weights of output feature i), whatever the stored orientation.
    void read_output_row(std::size_t i, float* dst) const {
        if (!in_by_out) return w.read_rows(i, 1, dst);
        const std::size_t n = d_out();
        for (std::size_t k = 0; k < d_in(); ++k) dst[k] = w.data[k * n + i];
    }
};


struct norm_weight {
    weight w;  // [d_model] gain, always float32 (Gemma's stored w becomes 1 + w at load)
    weight b;  // [d_model] bias (LayerNorm) or empty (RMSNorm)
};

struct attention_weight {
    linear_weight q;  // [n_heads·d_head, d_model]; head h owns rows h·d_head … (h+1)·d_head − 1
    linear_weight k;  // [n_kv_heads·d_head, d_model]
    linear_weight v;  // [n_kv_heads·d_head, d_model]
    linear_weight o;  // [d_model, n_heads·d_head]
    norm_weight q_norm;  // qk-norm models: [d_head] (per head) or [n_heads·d_head] (whole projection)
    norm_weight k_norm;  // [d_head] or [n_kv_heads·d_head]
};

struct mlp_weight {
    linear_weight in;    // [d_mlp, d_model]  (HF up_proj / c_fc / dense_h_to_4h)
    linear_weight gate;  // [d_mlp, d_model]  gated MLPs only (HF gate_proj)
    linear_weight out;   // [d_model, d_mlp]  (HF down_proj / c_proj / dense_4h_to_h)
};

struct layer_weight {
    norm_weight ln1;       // empty without pre-norms (OLMo 2)
    attention_weight attn;
    norm_weight ln1_post;  // post-norm models only: on the attention output
    norm_weight ln2;
    mlp_weight mlp;
    norm_weight ln2_post;  // on the MLP output
};

struct model_weights {
    weight embed;          // [d_vocab, d_model]
    weight pos_embed;      // [n_ctx, d_model], learned-position models only; always float32
    std::vector<layer_weight> layers;
    norm_weight ln_final;
    linear_weight unembed; // [d_vocab, d_model]; the same memory as embed when tied
};

}  // namespace xlens
