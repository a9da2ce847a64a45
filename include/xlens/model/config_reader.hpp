// xlens/model/config_reader.hpp — filling a model_config from config.json or from GGUF metadata.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/io/gguf.hpp"
#include "xlens/model/architecture.hpp"
#include "xlens/model/config.hpp"

namespace xlens {

/// The family whose table accepts this config.json (by "architectures", then "model_type").
/// Throws config_error 302 naming the file and listing the supported families.
const family& family_for_hf_config(const nlohmann::json& config, const std::string& path);

/// The family whose GGUF architecture name is `arch`; throws config_error 302 if none.
const family& family_for_gguf(const std::string& arch, const std::string& path);

/// Reads and validates an HF config.json already parsed from `path`.
model_config config_from_hf(const nlohmann::json& config, const family& fam, const std::string& path);

/// Reads and validates GGUF metadata; `d_vocab` comes from the embedding tensor when no key holds it.
model_config config_from_gguf(const io::gguf_file& file, const family& fam);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline std::string supported_families() {
    std::string s;
    for (const auto& f : families()) s += (s.empty() ? "" : ", ") + std::string(f.name);
    return s;
}

/// The value at a dotted key ("rope_parameters.rope_theta"), or nullptr when absent or null.
inline const nlohmann::json* find_key(const nlohmann::json& j, const std::string& dotted) {
    const nlohmann::json* cur = &j;
    std::size_t start = 0;
    while (true) {
        auto dot = dotted.find('.', start);
        auto part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!cur->is_object()) return nullptr;
        auto it = cur->find(part);
        if (it == cur->end() || it->is_null()) return nullptr;
        cur = &*it;
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

/// The number under the first present key of `k`, its fallback, or config_error 303 if required.
inline double number(const nlohmann::json& j, const config_key& k, const std::string& field, const std::string& path) {
    for (const auto& name : k.names) {
        const auto* v = find_key(j, name);
        if (!v) continue;
        if (v->is_boolean()) return v->get<bool>() ? 1.0 : 0.0;
        if (!v->is_number()) throw config_error(304, path + ": field '" + name + "' must be a number");
        double d = v->get<double>();
        if (!std::isfinite(d) || d < 0) throw config_error(304, path + ": field '" + name + "' must be a finite non-negative number");
        return d;
    }
    if (k.fallback < 0) {
        std::string names;
        for (const auto& n : k.names) names += (names.empty() ? "'" : " or '") + n + "'";
        throw config_error(303, path + ": missing field " + (names.empty() ? field : names) + " (" + field + ")");
    }
    return k.fallback;
}

inline std::size_t count(const nlohmann::json& j, const config_key& k, const std::string& field, const std::string& path) {
    double d = number(j, k, field, path);
    if (d != std::floor(d) || d > 1e12) throw config_error(304, path + ": field '" + field + "' must be a whole number");
    return static_cast<std::size_t>(d);
}

inline activation_kind activation_from_name(const std::string& name, const std::string& where) {
    if (name == "gelu") return activation_kind::gelu;
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return activation_kind::gelu_tanh;
    if (name == "silu" || name == "swish") return activation_kind::silu;
    if (name == "relu") return activation_kind::relu;
    throw config_error(305, where + ": activation '" + name + "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, relu)");
}

/// Rope scaling keys of one rope object (transformers 5's rope_parameters, 4's rope_scaling, or
/// Gemma 3's per-layer-type entries); `where` names it in errors.
inline void read_rope_object(const nlohmann::json& s, rotary_config& r, const std::string& where, const std::string& path) {
    for (const char* type_key : {"rope_type", "type"}) {
        auto it = s.find(type_key);
        if (it != s.end() && it->is_string()) r.scaling = it->get<std::string>();
    }
    auto num = [&](const char* key, double& out) {
        auto it = s.find(key);
        if (it == s.end() || it->is_null()) return;
        if (!it->is_number()) throw config_error(304, path + ": field '" + where + "." + std::string(key) + "' must be a number");
        out = it->get<double>();
    };
    num("rope_theta", r.theta);
    num("factor", r.factor);
    num("low_freq_factor", r.low_freq_factor);
    num("high_freq_factor", r.high_freq_factor);
    num("original_max_position_embeddings", r.original_max_positions);
    num("attention_factor", r.attention_factor);
    if (r.scaling == "su") r.scaling = "longrope";  // Phi-3's first name for it, as transformers maps it
    auto factors = [&](const char* key, std::vector<float>& out) {
        auto it = s.find(key);
        if (it == s.end() || it->is_null()) return;
        if (!it->is_array()) throw config_error(304, path + ": field '" + where + "." + std::string(key) + "' must be a list of numbers");
        out.clear();
        for (const auto& v : *it) {
            if (!v.is_number()) throw config_error(304, path + ": field '" + where + "." + std::string(key) + "' must be a list of numbers");
            out.push_back(v.get<float>());
        }
    };
    factors("short_factor", r.frequency_factors);
    factors("long_factor", r.long_frequency_factors);
}

/// The rope scaling object: transformers 4's rope_scaling when the key is there, else 5's
/// rope_parameters; nullptr when neither is an object. `where` receives the key's name.
inline const nlohmann::json* rope_scaling_object(const nlohmann::json& j, const char*& where) {
    where = "rope_scaling";
    const nlohmann::json* s = find_key(j, where);
    if (!s) s = find_key(j, where = "rope_parameters");
    return s && s->is_object() ? s : nullptr;
}

/// LongRoPE's defaults as transformers derives them: the pretraining length from the rope object or
/// the top-level `original_max_position_embeddings` (Phi-3), factor = n_ctx / that length, and
/// attention_factor = √(1 + ln factor / ln length) unless given.
inline void finish_longrope(const nlohmann::json& j, rotary_config& r, std::size_t n_ctx, const std::string& path) {
    if (r.scaling != "longrope") return;
    const char* where = nullptr;
    const nlohmann::json* s = rope_scaling_object(j, where);  // the object read_rope_scaling read
    auto in_rope = [&](const char* key) { return s && s->contains(key) && !s->at(key).is_null(); };
    if (!in_rope("original_max_position_embeddings")) {
        const nlohmann::json* top = find_key(j, "original_max_position_embeddings");
        r.original_max_positions = top && top->is_number() ? top->get<double>() : static_cast<double>(n_ctx);
    }
    if (!(r.original_max_positions >= 1.0 && std::isfinite(r.original_max_positions)))
        throw config_error(304, path + ": field 'original_max_position_embeddings' must be a positive count");
    if (r.frequency_factors.empty() || r.long_frequency_factors.empty())
        throw config_error(303, path + ": longrope rope scaling needs both 'short_factor' and 'long_factor'");
    if (r.frequency_factors.size() != r.rotary_dim / 2)
        throw config_error(304, path + ": field 'rope_scaling.short_factor' holds " + std::to_string(r.frequency_factors.size()) +
                                    " factors, expected " + std::to_string(r.rotary_dim / 2) + " (rotary dimensions / 2)");
    if (!in_rope("factor")) r.factor = static_cast<double>(n_ctx) / r.original_max_positions;
    if (!in_rope("attention_factor"))
        r.attention_factor = r.factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(r.factor) / std::log(r.original_max_positions));
}

/// Rope scaling from transformers 5's rope_parameters or transformers 4's rope_scaling.
inline void read_rope_scaling(const nlohmann::json& j, rotary_config& r, const std::string& path) {
    const char* where = nullptr;
    const nlohmann::json* s = rope_scaling_object(j, where);
    if (!s) return;
    const double theta = r.theta;  // read from its own key list, which knows the legacy names
    read_rope_object(*s, r, where, path);
    r.theta = theta;
}

/// A positive number under `key`, or 0 when absent or null; zero, negative or non-numbers are errors.
inline double positive_or_absent(const nlohmann::json& j, const char* key, const std::string& path) {
    const nlohmann::json* v = find_key(j, key);
    if (!v) return 0.0;
    if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>()))
        throw config_error(304, path + ": field '" + std::string(key) + "' must be a positive number (or null for none)");
    return v->get<double>();
}

/// Local (sliding-window) layers: every layer but each `period`-th, (L + 1) % period != 0.
inline std::vector<bool> periodic_local_layers(std::size_t period, std::size_t n_layers) {
    std::vector<bool> local;
    for (std::size_t L = 0; L < n_layers; ++L) local.push_back((L + 1) % period != 0);
    return local;
}

/// Local layers' rope (Gemma 3): the global one's dimensions with base `theta` and no scaling.
inline void set_local_rotary(attention_config& a, double theta) {
    a.local_rotary = a.rotary;
    a.local_rotary.scaling = "default";
    a.local_rotary.factor = 1.0;
    a.local_rotary.theta = theta;
    a.local_rotary_differs = true;
}

/// Which layers are local (sliding-window): transformers 5's layer_types, else the family's period
/// (Gemma 2: every other layer; Gemma 3: `sliding_window_pattern`, 5 local then 1 global).
inline std::vector<bool> read_local_layers(const nlohmann::json& j, const family& fam, std::size_t n_layers,
                                           const std::string& path) {
    std::vector<bool> local;
    if (const auto* types = find_key(j, "layer_types")) {
        if (!types->is_array()) throw config_error(304, path + ": field 'layer_types' must be a list of strings");
        for (const auto& t : *types) {
            const std::string name = t.is_string() ? t.get<std::string>() : t.dump();
            if (name != "sliding_attention" && name != "full_attention")
                throw config_error(307, path + ": layer type '" + name + "' in 'layer_types' is not supported (sliding_attention, full_attention)");
            local.push_back(name == "sliding_attention");
        }
        return local;
    }
    if (fam.local_period == 0) return local;
    std::size_t period = fam.local_period;
    for (const char* key : {"sliding_window_pattern", "_sliding_window_pattern"})
        if (const auto* p = find_key(j, key); p && p->is_number_unsigned() && p->get<std::size_t>() > 0) period = p->get<std::size_t>();
    return periodic_local_layers(period, n_layers);
}

/// The traits a family fixes whatever the file says: norms before/after, q/k norms, embedding scale.
inline void apply_family_traits(model_config& c, const family& fam) {
    c.pre_norms = fam.pre_norms;
    c.post_norms = fam.post_norms;
    c.attn.qk_norm = fam.qk_norm;
    c.attn.qk_norm_eps = c.norm.eps;
    if (fam.embed_scaled) c.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(c.d_model)));
}

/// transformers' rule for ⌊d_head × partial⌋ frequencies: an odd count still turns pairs, one more
/// dimension than the count (see rotary_config).
inline void set_rotary_dims(rotary_config& r, std::size_t frequency_dim) {
    r.rotary_dim = 2 * ((frequency_dim + 1) / 2);
    r.frequency_dim = frequency_dim % 2 ? frequency_dim : 0;
}

/// llama.cpp's per-frequency rope factors (tensor rope_freqs.weight), as float32.
inline std::vector<float> rope_frequency_factors(const io::gguf_file& f, const io::tensor_ref& t) {
    if (t.shape.size() != 1 || (t.type != io::dtype::f32 && t.type != io::dtype::f16))
        throw config_error(304, f.path() + ": tensor '" + t.name + "' must be a vector of F32 or F16 values");
    std::vector<float> out(static_cast<std::size_t>(t.shape[0]));
    io::dequantize(t.type, t.data, out.size(), out.data());
    return out;
}

}  // namespace detail

inline const family& family_for_hf_config(const nlohmann::json& config, const std::string& path) {
    if (!config.is_object()) throw config_error(306, path + ": config must be a JSON object");
    std::string architecture, model_type;  // the first architectures entry and the model_type, for the message
    if (const auto* archs = detail::find_key(config, "architectures"); archs && archs->is_array()) {
        for (const auto& a : *archs) {
            if (!a.is_string()) continue;
            const std::string asked = a.get<std::string>();
            if (architecture.empty()) architecture = asked;
            for (const auto& f : families())
                for (const auto& name : f.hf_architectures)
                    if (name == asked) return f;
        }
    }
    if (const auto* type = detail::find_key(config, "model_type"); type && type->is_string()) {
        model_type = type->get<std::string>();
        for (const auto& f : families())
            for (const auto& name : f.hf_model_types)
                if (name == model_type) return f;
    }
    // Both names: a model_type alone can read like a family xlens has ('gemma3' is Gemma 3's
    // multimodal Gemma3ForConditionalGeneration; the text model is 'gemma3_text').
    std::string asked = architecture.empty() ? model_type : architecture;
    if (asked.empty()) asked = "(none given)";
    const std::string also = architecture.empty() || model_type.empty() ? "" : " (model_type '" + model_type + "')";
    throw config_error(302, path + ": unsupported architecture '" + asked + "'" + also +
                                "; xlens supports: " + detail::supported_families());
}

inline const family& family_for_gguf(const std::string& arch, const std::string& path) {
    for (const auto& f : families())
        if (f.gguf_architecture && arch == f.gguf_architecture && !f.gguf_tensors.empty()) return f;
    std::string supported;
    for (const auto& f : families())
        if (f.gguf_architecture && !f.gguf_tensors.empty()) supported += (supported.empty() ? "" : ", ") + std::string(f.gguf_architecture);
    throw config_error(302, path + ": unsupported GGUF architecture '" + arch + "'; xlens reads GGUF for: " + supported);
}

inline model_config config_from_hf(const nlohmann::json& j, const family& fam, const std::string& path) {
    using detail::count;
    using detail::number;
    const auto& k = fam.keys;
    model_config c;
    c.architecture = fam.name;
    c.d_model = count(j, k.d_model, "d_model", path);
    c.n_layers = count(j, k.n_layers, "n_layers", path);
    c.d_vocab = count(j, k.d_vocab, "d_vocab", path);
    c.n_ctx = count(j, k.n_ctx, "n_ctx", path);
    c.norm = {fam.norm, number(j, k.norm_eps, "norm_eps", path)};
    auto& a = c.attn;
    a.n_heads = count(j, k.n_heads, "n_heads", path);
    a.n_kv_heads = count(j, k.n_kv_heads, "n_kv_heads", path);
    if (a.n_kv_heads == 0) a.n_kv_heads = a.n_heads;
    a.d_head = count(j, k.d_head, "d_head", path);
    if (a.d_head == 0) {
        if (a.n_heads == 0 || c.d_model % a.n_heads != 0)
            throw config_error(301, path + ": field 'n_heads' (" + std::to_string(a.n_heads) + ") must divide d_model (" +
                                        std::to_string(c.d_model) + ")");
        a.d_head = c.d_model / a.n_heads;
    }
    a.qkv_bias = number(j, k.qkv_bias, "qkv_bias", path) != 0;
    a.o_bias = number(j, k.o_bias, "o_bias", path) != 0;
    a.positions = fam.positions;
    if (fam.positions == position_kind::rotary) {
        a.rotary.theta = number(j, k.rope_theta, "rope_theta", path);
        double fraction = number(j, k.partial_rotary, "partial_rotary_factor", path);
        if (!(fraction > 0.0 && fraction <= 1.0))
            throw config_error(304, path + ": field 'partial_rotary_factor' must be in (0, 1]");
        detail::set_rotary_dims(a.rotary, static_cast<std::size_t>(static_cast<double>(a.d_head) * fraction));
        detail::read_rope_scaling(j, a.rotary, path);
        detail::finish_longrope(j, a.rotary, c.n_ctx, path);
        // Gemma 3: local and global layers have their own rope (transformers 5 nests them by layer
        // type; older configs give the local base as rope_local_base_freq).
        const auto* nested = detail::find_key(j, "rope_parameters");
        if (nested && nested->is_object() && nested->contains("full_attention")) {
            detail::read_rope_object(nested->at("full_attention"), a.rotary, "rope_parameters.full_attention", path);
            if (nested->contains("sliding_attention")) {
                detail::set_local_rotary(a, a.rotary.theta);
                detail::read_rope_object(nested->at("sliding_attention"), a.local_rotary, "rope_parameters.sliding_attention", path);
            }
        } else if (const auto* local_base = detail::find_key(j, "rope_local_base_freq"); local_base && local_base->is_number()) {
            detail::set_local_rotary(a, local_base->get<double>());
        }
    }
    if (const auto* w = detail::find_key(j, "sliding_window"); w && w->is_number_integer() && w->get<long long>() > 0) {
        bool enabled = true;  // Qwen2 keeps a window in the config but switches it off with use_sliding_window
        if (const auto* use = detail::find_key(j, "use_sliding_window"); use && use->is_boolean()) enabled = use->get<bool>();
        if (enabled) a.sliding_window = static_cast<std::size_t>(w->get<long long>());
    }
    a.local_layers = detail::read_local_layers(j, fam, c.n_layers, path);
    if (std::find(a.local_layers.begin(), a.local_layers.end(), true) != a.local_layers.end() && a.sliding_window == 0)
        throw config_error(303, path + ": 'layer_types' has sliding_attention layers but 'sliding_window' is not set");
    detail::apply_family_traits(c, fam);
    a.logit_softcap = detail::positive_or_absent(j, "attn_logit_softcapping", path);
    if (const double scalar = detail::positive_or_absent(j, "query_pre_attn_scalar", path); scalar > 0) a.scale = 1.0 / std::sqrt(scalar);
    c.final_logit_softcap = detail::positive_or_absent(j, "final_logit_softcapping", path);
    c.mlp.gated = fam.gated_mlp;
    c.mlp.d_mlp = count(j, k.d_mlp, "d_mlp", path);
    if (c.mlp.d_mlp == 0) c.mlp.d_mlp = static_cast<std::size_t>(fam.d_mlp_multiple * static_cast<double>(c.d_model));
    c.mlp.bias = number(j, k.mlp_bias, "mlp_bias", path) != 0;
    std::string act = fam.keys.default_activation;
    for (const auto& name : k.activation)
        if (const auto* v = detail::find_key(j, name)) {
            if (!v->is_string()) throw config_error(304, path + ": field '" + name + "' must be a string");
            act = v->get<std::string>();
        }
    c.mlp.activation = detail::activation_from_name(act, path);
    c.parallel_residual = number(j, k.parallel_residual, "parallel_residual", path) != 0;
    c.tied_embeddings = number(j, k.tied_embeddings, "tie_word_embeddings", path) != 0;
    // Options that change the arithmetic and that xlens does not implement are refused, not ignored.
    if (const auto* v = detail::find_key(j, "scale_attn_by_inverse_layer_idx"); v && v->is_boolean() && v->get<bool>())
        throw config_error(307, path + ": 'scale_attn_by_inverse_layer_idx' is not supported");
    if (const auto* v = detail::find_key(j, "scale_attn_weights"); v && v->is_boolean() && !v->get<bool>())
        throw config_error(307, path + ": 'scale_attn_weights: false' is not supported");
    c.validate(path);
    return c;
}

inline model_config config_from_gguf(const io::gguf_file& f, const family& fam) {
    const std::string arch = fam.gguf_architecture;
    const std::string& path = f.path();
    auto required = [&](const std::string& suffix) -> std::uint64_t {
        auto key = arch + "." + suffix;
        if (!f.has(key)) throw config_error(303, path + ": missing GGUF metadata '" + key + "'");
        return f.get_uint(key);
    };
    auto optional_uint = [&](const std::string& suffix, std::uint64_t fallback) {
        auto key = arch + "." + suffix;
        return f.has(key) ? f.get_uint(key) : fallback;
    };
    auto optional_float = [&](const std::string& suffix, double fallback) {
        auto key = arch + "." + suffix;
        return f.has(key) ? f.get_float(key) : fallback;
    };
    model_config c;
    c.architecture = fam.name;
    c.d_model = required("embedding_length");
    c.n_layers = required("block_count");
    c.n_ctx = required("context_length");
    c.mlp.d_mlp = required("feed_forward_length");
    c.mlp.gated = fam.gated_mlp;
    c.mlp.activation = detail::activation_from_name(fam.keys.default_activation, path);
    c.attn.n_heads = required("attention.head_count");
    c.attn.n_kv_heads = optional_uint("attention.head_count_kv", c.attn.n_heads);
    if (c.attn.n_heads == 0 || c.d_model % c.attn.n_heads != 0)
        throw config_error(301, path + ": GGUF '" + arch + ".attention.head_count' must divide the embedding length");
    c.attn.d_head = optional_uint("attention.key_length", c.d_model / c.attn.n_heads);
    c.attn.positions = fam.positions;
    if (fam.positions == position_kind::rotary) {
        c.attn.rotary.theta = optional_float("rope.freq_base", 10000.0);
        detail::set_rotary_dims(c.attn.rotary, optional_uint("rope.dimension_count", c.attn.d_head));
        if (f.has(arch + ".rope.scaling.type")) {
            auto type = f.get_string(arch + ".rope.scaling.type");
            if (type != "none") c.attn.rotary.scaling = type;
            c.attn.rotary.factor = optional_float("rope.scaling.factor", 1.0);
        }
        if (const auto* freqs = f.find("rope_freqs.weight"))
            c.attn.rotary.frequency_factors = detail::rope_frequency_factors(f, *freqs);
        // Phi-3's LongRoPE: the converter stores both factor sets and the attention factor it derived.
        const auto* short_factors = f.find("rope_factors_short.weight");
        const auto* long_factors = f.find("rope_factors_long.weight");
        if (short_factors || long_factors) {
            if (!short_factors || !long_factors)
                throw config_error(303, path + ": GGUF has one of 'rope_factors_short.weight' and 'rope_factors_long.weight' but not both");
            auto& r = c.attn.rotary;
            r.scaling = "longrope";
            r.frequency_factors = detail::rope_frequency_factors(f, *short_factors);
            r.long_frequency_factors = detail::rope_frequency_factors(f, *long_factors);
            r.original_max_positions = static_cast<double>(optional_uint("rope.scaling.original_context_length", c.n_ctx));
            r.attention_factor = optional_float("rope.scaling.attn_factor", 1.0);
        }
    }
    // The converter writes Mixtral as "llama" with experts; refused by name until experts are supported.
    if (optional_uint("expert_count", 0) > 0)
        throw config_error(307, path + ": mixture-of-experts GGUF ('" + arch + ".expert_count' = " +
                                    std::to_string(f.get_uint(arch + ".expert_count")) + ") is not supported yet");
    c.parallel_residual = f.get_bool(arch + ".use_parallel_residual", fam.keys.parallel_residual.fallback > 0);
    c.norm = {fam.norm, optional_float(fam.norm == norm_kind::rms_norm ? "attention.layer_norm_rms_epsilon"
                                                                       : "attention.layer_norm_epsilon", 1e-5)};
    // Biases and the output matrix are present or absent as tensors in GGUF, not as flags.
    const bool fused_qkv = fam.gguf_qkv != qkv_layout::separate;
    c.attn.qkv_bias = f.find(tensor_name(fam.gguf_tensors, fused_qkv ? role::qkv_b : role::q_b, 0)) != nullptr;
    c.attn.o_bias = f.find(tensor_name(fam.gguf_tensors, role::o_b, 0)) != nullptr;
    c.mlp.bias = f.find(tensor_name(fam.gguf_tensors, role::mlp_out_b, 0)) != nullptr;
    c.tied_embeddings = f.find(tensor_name(fam.gguf_tensors, role::unembed, 0)) == nullptr;
    const auto* embed = f.find(tensor_name(fam.gguf_tensors, role::embed, 0));
    c.d_vocab = optional_uint("vocab_size", embed && embed->shape.size() == 2 ? embed->shape[0] : 0);
    detail::apply_family_traits(c, fam);
    // Soft-caps, windows and local layers (Gemma 2/3): what the converter stores, and llama.cpp's
    // defaults for what it leaves out (the local/global pattern; query_pre_attn_scalar).
    auto positive_float = [&](const std::string& suffix) {
        const double v = optional_float(suffix, 0.0);
        if (f.has(arch + "." + suffix) && !(v > 0 && std::isfinite(v)))
            throw config_error(304, path + ": GGUF '" + arch + "." + suffix + "' must be positive");
        return v;
    };
    c.attn.logit_softcap = positive_float("attn_logit_softcapping");
    c.final_logit_softcap = positive_float("final_logit_softcapping");
    c.attn.sliding_window = optional_uint("attention.sliding_window", 0);
    if (const io::gguf_value* pattern = f.find_value(arch + ".attention.sliding_window_pattern")) {
        const auto* values = std::get_if<std::vector<bool>>(&pattern->data);
        if (!values) throw config_error(304, path + ": GGUF '" + arch + ".attention.sliding_window_pattern' must be an array of booleans");
        c.attn.local_layers.assign(values->begin(), values->end());
    } else if (fam.local_period > 0 && c.attn.sliding_window > 0) {
        c.attn.local_layers = detail::periodic_local_layers(fam.local_period, c.n_layers);
    }
    if (f.has(arch + ".rope.freq_base_swa")) detail::set_local_rotary(c.attn, f.get_float(arch + ".rope.freq_base_swa"));
    // llama.cpp scales Gemma 2/3 scores by 1/sqrt(d_head), except the 27B models (46 and 62 layers),
    // whose query_pre_attn_scalar is d_model / n_heads.
    if ((fam.name == std::string("gemma2") && c.n_layers == 46) || (fam.name == std::string("gemma3") && c.n_layers == 62))
        c.attn.scale = 1.0 / std::sqrt(static_cast<double>(c.d_model) / static_cast<double>(c.attn.n_heads));
    // The MLP width is what the tensors hold: the GPT-2 converter writes 4 × d_model whatever n_inner is.
    if (const auto* up = f.find(tensor_name(fam.gguf_tensors, role::mlp_in_w, 0)); up && up->shape.size() == 2)
        c.mlp.d_mlp = static_cast<std::size_t>(up->shape[0]);
    c.validate(path);
    return c;
}

}  // namespace xlens
