// xlens/model/config.hpp — the shape and arithmetic of a transformer, independent of file format.
//
// One model_config describes every supported family; families differ only in the values here and in
// their tensor-name tables (model/architecture.hpp). It is filled from an HF config.json or from GGUF
// metadata, and validated once, at construction, so the forward pass can trust it.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "xlens/error.hpp"

namespace xlens {

enum class norm_kind { layer_norm, rms_norm };

/// Elementwise nonlinearity of the MLP. gelu is the exact erf form; gelu_tanh is the tanh
/// approximation (HF "gelu_new", "gelu_pytorch_tanh", "gelu_fast"); silu is x·sigmoid(x).
enum class activation_kind { gelu, gelu_tanh, silu, relu };

enum class position_kind { learned, rotary };

struct norm_config {
    norm_kind kind = norm_kind::rms_norm;
    double eps = 1e-5;  // added to the variance before the square root
};

/// Normalisation of queries and keys before rotary (Qwen3, Gemma 3: each head's d_head values;
/// OLMo 2: the whole projection, n_heads·d_head values), RMSNorm with the model's eps.
enum class qk_norm_kind { none, per_head, whole };

/// Rotary position embedding (RoPE), HF "rotate_half" convention: dimension i of a head pairs with
/// i + rotary_dim/2. Partial rotary (GPT-NeoX / Pythia) rotates only the first rotary_dim dimensions.
/// Frequency i is theta^(−2i / frequency_dim): frequency_dim = ⌊d_head × partial⌋ may be odd, and
/// then, as in transformers, rotary_dim = frequency_dim + 1 dimensions turn.
struct rotary_config {
    double theta = 10000.0;
    std::size_t rotary_dim = 0;      // ≤ d_head, even
    std::size_t frequency_dim = 0;   // the exponent's denominator; 0: rotary_dim
    /// Per-frequency divisors of the inverse frequencies (llama.cpp's rope_freqs.weight, which its
    /// converter writes for Llama 3 scaling); empty: none. Applied after `scaling`.
    std::vector<float> frequency_factors;
    /// Phi-3's LongRoPE: the divisors used instead of `frequency_factors` (its short factors) when
    /// the sequence is longer than original_max_positions, as transformers switches; empty: none.
    std::vector<float> long_frequency_factors;
    /// cos and sin are multiplied by it (LongRoPE's √(1 + ln factor / ln original_max_positions)).
    double attention_factor = 1.0;
    /// "default", "linear" (positions divided by factor), "llama3" (frequency-dependent scaling) or
    /// "longrope" (per-frequency factors, short or long by sequence length, and attention_factor).
    std::string scaling = "default";
    double factor = 1.0;
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    double original_max_positions = 8192;
};

struct attention_config {
    std::size_t n_heads = 0;
    std::size_t n_kv_heads = 0;  // < n_heads for grouped-query attention; each kv head serves n_heads/n_kv_heads query heads
    std::size_t d_head = 0;
    bool qkv_bias = false;       // Qwen2, GPT-2, GPT-NeoX have biases on the q, k, v projections
    bool o_bias = false;
    position_kind positions = position_kind::rotary;
    rotary_config rotary;        // used when positions == rotary
    std::size_t sliding_window = 0;  // 0: full causal attention; else a query sees keys with q − k < window (Mistral)
    /// Per layer, whether it is a local (sliding-window) layer (Gemma 2/3's alternation); empty:
    /// every layer uses sliding_window. Local layers may have their own rotary (Gemma 3's base 10000).
    std::vector<bool> local_layers;
    bool local_rotary_differs = false;
    rotary_config local_rotary;
    qk_norm_kind qk_norm = qk_norm_kind::none;
    double qk_norm_eps = 1e-6;   // the model's norm eps
    double scale = 0.0;          // scores = q·k × scale; 0: 1/sqrt(d_head) (Gemma 2/3: query_pre_attn_scalar^−½)
    double logit_softcap = 0.0;  // Gemma 2: scores = cap · tanh(scores / cap) before the mask; 0: none

    bool is_local(std::size_t layer) const { return local_layers.empty() ? sliding_window > 0 : layer < local_layers.size() && local_layers[layer]; }
    std::size_t window(std::size_t layer) const { return is_local(layer) ? sliding_window : 0; }
    const rotary_config& rotary_of(std::size_t layer) const { return local_rotary_differs && is_local(layer) ? local_rotary : rotary; }
};

struct mlp_config {
    std::size_t d_mlp = 0;
    bool gated = false;          // SwiGLU / GeGLU: act(x W_gate) * (x W_in)
    activation_kind activation = activation_kind::silu;
    bool bias = false;
};

struct model_config {
    std::string architecture;    // family name from model/architecture.hpp, e.g. "llama"
    std::size_t d_model = 0;
    std::size_t n_layers = 0;
    std::size_t d_vocab = 0;
    std::size_t n_ctx = 0;       // longest sequence the model was built for (positions table / rope range)
    norm_config norm;
    attention_config attn;
    mlp_config mlp;
    bool parallel_residual = false;  // GPT-NeoX: attention and MLP both read resid_pre
    bool tied_embeddings = false;    // unembedding reuses the token embedding matrix
    /// Norms around attention and MLP: before them (ln1, ln2), after them (ln1_post, ln2_post, on
    /// their output before it joins the residual: Gemma 2/3 have both, OLMo 2 only the after ones).
    bool pre_norms = true;
    bool post_norms = false;
    double embed_scale = 1.0;          // Gemma: token embeddings × sqrt(d_model), rounded to float32
    double final_logit_softcap = 0.0;  // Gemma 2: logits = cap · tanh(logits / cap); 0: none

    /// Throws config_error 301 naming `source` and the field when a value is impossible.
    void validate(const std::string& source) const;
};

/// Name of an activation as HF spells it, for messages and `xlens info`.
inline const char* activation_name(activation_kind a) {
    switch (a) {
        case activation_kind::gelu: return "gelu";
        case activation_kind::gelu_tanh: return "gelu_tanh";
        case activation_kind::silu: return "silu";
        case activation_kind::relu: return "relu";
    }
    return "?";
}

// ---- definitions -------------------------------------------------------------------------------

inline void model_config::validate(const std::string& source) const {
    auto fail = [&](const std::string& field, const std::string& why) {
        throw config_error(301, source + ": field '" + field + "' " + why);
    };
    auto positive = [&](std::size_t v, const char* field) {
        if (v == 0) fail(field, "must be positive");
        if (v > (std::size_t(1) << 31)) fail(field, "is implausibly large (" + std::to_string(v) + ")");
    };
    positive(d_model, "d_model");
    positive(n_layers, "n_layers");
    positive(d_vocab, "d_vocab");
    positive(n_ctx, "n_ctx");
    positive(attn.n_heads, "n_heads");
    positive(attn.n_kv_heads, "n_kv_heads");
    positive(attn.d_head, "d_head");
    positive(mlp.d_mlp, "d_mlp");
    if (attn.n_heads % attn.n_kv_heads != 0)
        fail("n_kv_heads", "(" + std::to_string(attn.n_kv_heads) + ") must divide n_heads (" +
                               std::to_string(attn.n_heads) + ")");
    if (!(norm.eps >= 0.0 && norm.eps < 1.0)) fail("norm_eps", "must be in [0, 1)");
    if (!(attn.logit_softcap >= 0.0 && std::isfinite(attn.logit_softcap))) fail("attn_logit_softcapping", "must be positive (or null for none)");
    if (!(final_logit_softcap >= 0.0 && std::isfinite(final_logit_softcap))) fail("final_logit_softcapping", "must be positive (or null for none)");
    // The scale multiplies float32 scores: beyond float32's range (query_pre_attn_scalar below ~1e-77) it is inf.
    if (!(attn.scale >= 0.0 && attn.scale <= static_cast<double>(std::numeric_limits<float>::max())))
        fail("query_pre_attn_scalar", "must be positive and give a scale (its -1/2 power) within float32's range");
    if (!attn.local_layers.empty() && attn.local_layers.size() != n_layers)
        fail("layer_types", "lists " + std::to_string(attn.local_layers.size()) + " layers, the model has " + std::to_string(n_layers));
    if (!pre_norms && !post_norms) fail("norms", "a block needs norms before or after attention and MLP");
    if (attn.positions == position_kind::rotary) {
        const auto& r = attn.rotary;
        if (r.rotary_dim == 0 || r.rotary_dim > attn.d_head || r.rotary_dim % 2 != 0)
            fail("rotary_dim", "(" + std::to_string(r.rotary_dim) + ") must be even and in (0, d_head]");
        if (!(r.theta > 0.0)) fail("rope_theta", "must be positive");
        if (attn.local_rotary_differs && !(attn.local_rotary.theta > 0.0)) fail("local rope_theta", "must be positive");
        if (r.scaling != "default" && r.scaling != "linear" && r.scaling != "llama3" && r.scaling != "longrope")
            fail("rope_scaling", "type '" + r.scaling + "' is not supported (default, linear, llama3, longrope)");
        if (!(r.attention_factor > 0.0 && std::isfinite(r.attention_factor))) fail("rope_scaling.attention_factor", "must be positive");
        if (!(r.factor > 0.0)) fail("rope_scaling.factor", "must be positive");
        if (r.frequency_dim != 0 && (r.frequency_dim > r.rotary_dim || (r.frequency_dim + 1) / 2 != r.rotary_dim / 2))
            fail("rotary frequency_dim", "(" + std::to_string(r.frequency_dim) + ") must round up to rotary_dim (" +
                                             std::to_string(r.rotary_dim) + ")");
        if (!r.frequency_factors.empty()) {
            if (r.frequency_factors.size() != r.rotary_dim / 2)
                fail("rope_freqs", "holds " + std::to_string(r.frequency_factors.size()) + " factors, expected rotary_dim / 2 = " +
                                       std::to_string(r.rotary_dim / 2));
            for (float f : r.frequency_factors)
                if (!(std::isfinite(f) && f > 0.0f)) fail("rope_freqs", "factors must be finite and positive");
        }
        if (!r.long_frequency_factors.empty()) {
            if (r.long_frequency_factors.size() != r.rotary_dim / 2)
                fail("rope_scaling.long_factor", "holds " + std::to_string(r.long_frequency_factors.size()) +
                                                     " factors, expected rotary_dim / 2 = " + std::to_string(r.rotary_dim / 2));
            for (float f : r.long_frequency_factors)
                if (!(std::isfinite(f) && f > 0.0f)) fail("rope_scaling.long_factor", "factors must be finite and positive");
        }
    }
}

}  // namespace xlens
