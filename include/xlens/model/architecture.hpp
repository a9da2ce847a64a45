// xlens/model/architecture.hpp — each supported family, described as data.
//
// A family is a table: which checkpoint tensor plays which canonical role, which config.json keys
// hold which model_config field, and a few structural traits. The forward pass never asks which
// family it runs; adding a family (Mistral was added this way) means adding a table, not code.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "xlens/model/config.hpp"

namespace xlens {

/// What a checkpoint tensor is for, whatever the file calls it. Per-layer roles carry "{L}" in names.
enum class role {
    embed, pos_embed, ln_final_w, ln_final_b, unembed, unembed_b,                 // global
    ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, qkv_w, qkv_b, o_w, o_b,           // per layer: attention
    ln2_w, ln2_b, mlp_in_w, mlp_in_b, mlp_gate_w, mlp_gate_b, mlp_out_w, mlp_out_b, // per layer: MLP
    ln1_post_w, ln2_post_w, q_norm_w, k_norm_w,                                     // per layer: extra norms
    mlp_gate_up_w,                                                                  // per layer: [gate | up] fused (Phi-3)
};

/// How q, k, v are stored when a checkpoint fuses them into one projection.
enum class qkv_layout {
    separate,         // three tensors (Llama, Qwen2, Mistral)
    fused_blocks,     // one tensor, output rows [q | k | v] (GPT-2's c_attn; Phi-3's qkv_proj, k and v n_kv_heads wide)
    fused_per_head,   // one tensor, output rows grouped per head as [head][q, k, v][d_head] (GPT-NeoX)
};

/// The row (output feature) of a fused q/k/v tensor that holds output `i` of projection `part`
/// (0 q, 1 k, 2 v): [q | k | v] blocks, k and v n_kv_heads wide, or GPT-NeoX's [head][q, k, v][d_head].
inline std::size_t fused_qkv_row(qkv_layout layout, std::size_t H, std::size_t KV, std::size_t dh, std::size_t part, std::size_t i) {
    if (layout == qkv_layout::fused_blocks) return (part == 0 ? 0 : (H + (part - 1) * KV) * dh) + i;
    return (i / dh) * 3 * dh + part * dh + i % dh;  // fused_per_head (n_kv_heads = n_heads)
}

/// Which config.json key holds each model_config field, in the order tried (HF renamed some keys
/// over the years). An empty list means the family has no such key and `default` applies.
struct config_key {
    std::vector<std::string> names;
    double fallback = -1;  // used when no key is present; -1 means the field is required
};

struct hf_config_keys {
    config_key d_model, n_layers, n_heads, n_kv_heads, d_head, d_mlp, d_vocab, n_ctx, norm_eps;
    config_key rope_theta, partial_rotary;        // rotary families
    std::vector<std::string> activation;          // key names holding the activation string
    const char* default_activation = "silu";
    config_key tied_embeddings, qkv_bias, o_bias, mlp_bias, parallel_residual;
};

struct family {
    const char* name;                          // canonical family name, model_config::architecture
    std::vector<std::string> hf_architectures; // config.json "architectures" entries it accepts
    std::vector<std::string> hf_model_types;   // config.json "model_type" values it accepts
    const char* gguf_architecture;             // GGUF "general.architecture", or nullptr
    norm_kind norm;
    position_kind positions;
    bool gated_mlp;
    qkv_layout qkv;
    bool linear_in_by_out;  // GPT-2's Conv1D stores weights [in, out]; everyone else [out, in]
    double d_mlp_multiple;  // d_mlp = multiple × d_model when the config leaves it null (GPT-2)
    /// llama.cpp's converter reorders Q/K rows of Llama-family checkpoints to pair rotary dimensions
    /// (2i, 2i+1) instead of (i, i + d/2); the loader undoes it so one rotary convention serves all.
    bool gguf_qk_permuted;
    hf_config_keys keys;
    std::vector<std::pair<role, const char*>> hf_tensors;
    std::vector<std::pair<role, const char*>> gguf_tensors;
    /// How llama.cpp's converter lays out what the HF checkpoint fuses or transposes: it stores every
    /// matrix [out, in] (GPT-2's Conv1D transposed back) and GPT-NeoX's per-head q/k/v as [q | k | v].
    qkv_layout gguf_qkv = qkv_layout::separate;
    /// Traits of the newer families (Gemma, Qwen3, OLMo 2); the defaults are everyone else's.
    bool pre_norms = true;             // ln1/ln2 before attention and MLP
    bool post_norms = false;           // ln1_post/ln2_post on their outputs
    qk_norm_kind qk_norm = qk_norm_kind::none;
    float norm_gain_offset = 0.0f;     // Gemma: HF checkpoints store w, the gain is 1 + w (llama.cpp's converter adds the 1)
    bool embed_scaled = false;         // Gemma: embeddings × sqrt(d_model)
    /// Configs without layer_types: layer L is local (sliding) when (L + 1) % period != 0; 0: none.
    std::size_t local_period = 0;
    /// Phi-3 stores the gated MLP's gate and up projections as one matrix, rows [gate | up].
    bool gate_up_fused = false;

    /// The q/k/v layout and matrix orientation of this family's checkpoints in one format.
    qkv_layout qkv_in(bool gguf) const { return gguf ? gguf_qkv : qkv; }
    bool in_by_out_in(bool gguf) const { return gguf ? false : linear_in_by_out; }
};

namespace detail {

inline config_key key(std::vector<std::string> names, double fallback = -1) { return {std::move(names), fallback}; }

inline family llama_like(const char* name, std::vector<std::string> archs, std::vector<std::string> types,
                         const char* gguf_arch, bool qkv_bias_by_default) {
    hf_config_keys k;
    k.d_model = key({"hidden_size"});
    k.n_layers = key({"num_hidden_layers"});
    k.n_heads = key({"num_attention_heads"});
    k.n_kv_heads = key({"num_key_value_heads"}, 0);  // 0: same as n_heads
    k.d_head = key({"head_dim"}, 0);                 // 0: d_model / n_heads
    k.d_mlp = key({"intermediate_size"});
    k.d_vocab = key({"vocab_size"});
    k.n_ctx = key({"max_position_embeddings"});
    k.norm_eps = key({"rms_norm_eps"}, 1e-6);
    k.rope_theta = key({"rope_parameters.rope_theta", "rope_theta"}, 10000.0);
    k.partial_rotary = key({"rope_parameters.partial_rotary_factor", "partial_rotary_factor"}, 1.0);
    k.activation = {"hidden_act"};
    k.default_activation = "silu";
    k.tied_embeddings = key({"tie_word_embeddings"}, 0);
    // Qwen2 always has q/k/v biases and no o bias; Llama's "attention_bias" switches all four.
    k.qkv_bias = qkv_bias_by_default ? key({}, 1) : key({"attention_bias"}, 0);
    k.o_bias = qkv_bias_by_default ? key({}, 0) : key({"attention_bias"}, 0);
    k.mlp_bias = key({"mlp_bias"}, 0);
    k.parallel_residual = key({}, 0);
    return family{
        name, std::move(archs), std::move(types), gguf_arch, norm_kind::rms_norm, position_kind::rotary,
        /*gated_mlp=*/true, qkv_layout::separate, /*linear_in_by_out=*/false, 0.0,
        /*gguf_qk_permuted=*/gguf_arch != nullptr && std::string(gguf_arch) == "llama", std::move(k),
        {
            {role::embed, "model.embed_tokens.weight"},
            {role::ln1_w, "model.layers.{L}.input_layernorm.weight"},
            {role::q_w, "model.layers.{L}.self_attn.q_proj.weight"},
            {role::q_b, "model.layers.{L}.self_attn.q_proj.bias"},
            {role::k_w, "model.layers.{L}.self_attn.k_proj.weight"},
            {role::k_b, "model.layers.{L}.self_attn.k_proj.bias"},
            {role::v_w, "model.layers.{L}.self_attn.v_proj.weight"},
            {role::v_b, "model.layers.{L}.self_attn.v_proj.bias"},
            {role::o_w, "model.layers.{L}.self_attn.o_proj.weight"},
            {role::o_b, "model.layers.{L}.self_attn.o_proj.bias"},
            {role::ln2_w, "model.layers.{L}.post_attention_layernorm.weight"},
            {role::mlp_gate_w, "model.layers.{L}.mlp.gate_proj.weight"},
            {role::mlp_gate_b, "model.layers.{L}.mlp.gate_proj.bias"},
            {role::mlp_in_w, "model.layers.{L}.mlp.up_proj.weight"},
            {role::mlp_in_b, "model.layers.{L}.mlp.up_proj.bias"},
            {role::mlp_out_w, "model.layers.{L}.mlp.down_proj.weight"},
            {role::mlp_out_b, "model.layers.{L}.mlp.down_proj.bias"},
            {role::ln_final_w, "model.norm.weight"},
            {role::unembed, "lm_head.weight"},
        },
        {
            {role::embed, "token_embd.weight"},
            {role::ln1_w, "blk.{L}.attn_norm.weight"},
            {role::q_w, "blk.{L}.attn_q.weight"},
            {role::q_b, "blk.{L}.attn_q.bias"},
            {role::k_w, "blk.{L}.attn_k.weight"},
            {role::k_b, "blk.{L}.attn_k.bias"},
            {role::v_w, "blk.{L}.attn_v.weight"},
            {role::v_b, "blk.{L}.attn_v.bias"},
            {role::o_w, "blk.{L}.attn_output.weight"},
            {role::o_b, "blk.{L}.attn_output.bias"},
            {role::ln2_w, "blk.{L}.ffn_norm.weight"},
            {role::mlp_gate_w, "blk.{L}.ffn_gate.weight"},
            {role::mlp_in_w, "blk.{L}.ffn_up.weight"},
            {role::mlp_out_w, "blk.{L}.ffn_down.weight"},
            {role::ln_final_w, "output_norm.weight"},
            {role::unembed, "output.weight"},
        },
    };
}

/// llama.cpp's names for the norms after attention and MLP and for the q/k norms, where the family has them.
inline void add_newer_norms_gguf(family& f) {
    if (f.post_norms) {
        f.gguf_tensors.push_back({role::ln1_post_w, "blk.{L}.post_attention_norm.weight"});
        f.gguf_tensors.push_back({role::ln2_post_w, "blk.{L}.post_ffw_norm.weight"});
    }
    if (f.qk_norm != qk_norm_kind::none) {
        f.gguf_tensors.push_back({role::q_norm_w, "blk.{L}.attn_q_norm.weight"});
        f.gguf_tensors.push_back({role::k_norm_w, "blk.{L}.attn_k_norm.weight"});
    }
}

/// Qwen3: Llama's tables plus an RMSNorm over each head's queries and keys.
inline family qwen3_family() {
    family f = llama_like("qwen3", {"Qwen3ForCausalLM"}, {"qwen3"}, "qwen3", false);
    f.qk_norm = qk_norm_kind::per_head;
    f.hf_tensors.push_back({role::q_norm_w, "model.layers.{L}.self_attn.q_norm.weight"});
    f.hf_tensors.push_back({role::k_norm_w, "model.layers.{L}.self_attn.k_norm.weight"});
    add_newer_norms_gguf(f);
    return f;
}

/// OLMo 2: no norms before attention and MLP, RMSNorms on their outputs, and q/k normalised over
/// the whole projection (all heads at once).
inline family olmo2_family() {
    family f = llama_like("olmo2", {"Olmo2ForCausalLM"}, {"olmo2"}, "olmo2", false);
    f.pre_norms = false;
    f.post_norms = true;
    f.qk_norm = qk_norm_kind::whole;
    // Llama's names less the two pre-norms. HF names the attention output's norm
    // post_attention_layernorm, Llama's name for its pre-MLP norm: that entry changes role.
    auto drop = [](std::vector<std::pair<role, const char*>>& table, role r) {
        table.erase(std::remove_if(table.begin(), table.end(), [r](const auto& t) { return t.first == r; }), table.end());
    };
    drop(f.hf_tensors, role::ln1_w);
    drop(f.gguf_tensors, role::ln1_w);
    drop(f.gguf_tensors, role::ln2_w);
    for (auto& [r, name] : f.hf_tensors)
        if (r == role::ln2_w) r = role::ln1_post_w;
    f.hf_tensors.push_back({role::ln2_post_w, "model.layers.{L}.post_feedforward_layernorm.weight"});
    f.hf_tensors.push_back({role::q_norm_w, "model.layers.{L}.self_attn.q_norm.weight"});
    f.hf_tensors.push_back({role::k_norm_w, "model.layers.{L}.self_attn.k_norm.weight"});
    add_newer_norms_gguf(f);
    return f;
}

/// Phi-3: Llama's block with q/k/v fused as [q | k | v] (k and v n_kv_heads wide), gate and up
/// fused as [gate | up], and LongRoPE scaling (read with the rope keys); the same fusions in GGUF.
inline family phi3_family() {
    family f = llama_like("phi3", {"Phi3ForCausalLM"}, {"phi3"}, "phi3", false);
    f.qkv = qkv_layout::fused_blocks;
    f.gguf_qkv = qkv_layout::fused_blocks;
    f.gate_up_fused = true;
    f.gguf_qk_permuted = false;  // llama.cpp runs Phi-3 with GPT-NeoX-style rotary: rows stay in HF order
    // Llama's tables with q and gate renamed to the fused tensors, and the other parts dropped.
    const role fused_away[] = {role::k_w, role::v_w, role::q_b, role::k_b, role::v_b,
                               role::mlp_in_w, role::mlp_in_b, role::mlp_gate_b};
    for (auto* table : {&f.hf_tensors, &f.gguf_tensors}) {
        const bool hf = table == &f.hf_tensors;
        table->erase(std::remove_if(table->begin(), table->end(),
                                    [&](const auto& t) { return std::count(std::begin(fused_away), std::end(fused_away), t.first) > 0; }),
                     table->end());
        for (auto& [r, name] : *table) {
            if (r == role::q_w) r = role::qkv_w, name = hf ? "model.layers.{L}.self_attn.qkv_proj.weight" : "blk.{L}.attn_qkv.weight";
            if (r == role::mlp_gate_w) r = role::mlp_gate_up_w, name = hf ? "model.layers.{L}.mlp.gate_up_proj.weight" : "blk.{L}.ffn_up.weight";
        }
    }
    return f;
}

/// Gemma 1/2/3: RMSNorm gains stored as w (the gain is 1 + w), embeddings × sqrt(d_model), GeGLU.
/// Gemma 2 and 3 add norms after attention and MLP and alternate local and global layers
/// (`local_period`); Gemma 3 also normalises each head's queries and keys.
inline family gemma_family(int generation) {
    const char* names[] = {"gemma", "gemma2", "gemma3"};
    const char* archs[] = {"GemmaForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM"};
    const char* types[] = {"gemma", "gemma2", "gemma3_text"};
    const int g = generation - 1;
    family f = llama_like(names[g], {archs[g]}, {types[g]}, names[g], false);
    f.norm_gain_offset = 1.0f;
    f.embed_scaled = true;
    f.keys.activation = {generation == 1 ? "hidden_act" : "hidden_activation"};
    f.keys.default_activation = "gelu_pytorch_tanh";
    f.keys.tied_embeddings = key({"tie_word_embeddings"}, 1);
    if (generation == 1) return f;
    f.post_norms = true;
    f.local_period = generation == 2 ? 2 : 6;
    for (auto& [r, name] : f.hf_tensors)
        if (r == role::ln2_w) name = "model.layers.{L}.pre_feedforward_layernorm.weight";
    f.hf_tensors.push_back({role::ln1_post_w, "model.layers.{L}.post_attention_layernorm.weight"});
    f.hf_tensors.push_back({role::ln2_post_w, "model.layers.{L}.post_feedforward_layernorm.weight"});
    if (generation == 3) {
        f.qk_norm = qk_norm_kind::per_head;
        f.hf_tensors.push_back({role::q_norm_w, "model.layers.{L}.self_attn.q_norm.weight"});
        f.hf_tensors.push_back({role::k_norm_w, "model.layers.{L}.self_attn.k_norm.weight"});
    }
    add_newer_norms_gguf(f);
    return f;
}

/// llama.cpp's names for GPT-2 and GPT-NeoX tensors (LayerNorm with biases, fused q/k/v, biased MLP).
inline std::vector<std::pair<role, const char*>> gpt2_like_gguf_tensors(bool learned_positions) {
    std::vector<std::pair<role, const char*>> t = {
        {role::embed, "token_embd.weight"},
        {role::ln1_w, "blk.{L}.attn_norm.weight"},
        {role::ln1_b, "blk.{L}.attn_norm.bias"},
        {role::qkv_w, "blk.{L}.attn_qkv.weight"},
        {role::qkv_b, "blk.{L}.attn_qkv.bias"},
        {role::o_w, "blk.{L}.attn_output.weight"},
        {role::o_b, "blk.{L}.attn_output.bias"},
        {role::ln2_w, "blk.{L}.ffn_norm.weight"},
        {role::ln2_b, "blk.{L}.ffn_norm.bias"},
        {role::mlp_in_w, "blk.{L}.ffn_up.weight"},
        {role::mlp_in_b, "blk.{L}.ffn_up.bias"},
        {role::mlp_out_w, "blk.{L}.ffn_down.weight"},
        {role::mlp_out_b, "blk.{L}.ffn_down.bias"},
        {role::ln_final_w, "output_norm.weight"},
        {role::ln_final_b, "output_norm.bias"},
        {role::unembed, "output.weight"},
    };
    if (learned_positions) t.push_back({role::pos_embed, "position_embd.weight"});
    return t;
}

inline family gpt2_family() {
    hf_config_keys k;
    k.d_model = key({"n_embd"});
    k.n_layers = key({"n_layer"});
    k.n_heads = key({"n_head"});
    k.n_kv_heads = key({}, 0);
    k.d_head = key({}, 0);
    k.d_mlp = key({"n_inner"}, 0);  // null in most configs: 4 × d_model
    k.d_vocab = key({"vocab_size"});
    k.n_ctx = key({"n_positions"});
    k.norm_eps = key({"layer_norm_epsilon"}, 1e-5);
    k.activation = {"activation_function"};
    k.default_activation = "gelu_new";
    k.tied_embeddings = key({"tie_word_embeddings"}, 1);
    k.qkv_bias = key({}, 1);
    k.o_bias = key({}, 1);
    k.mlp_bias = key({}, 1);
    k.parallel_residual = key({}, 0);
    return family{
        "gpt2", {"GPT2LMHeadModel", "GPT2Model"}, {"gpt2"}, "gpt2", norm_kind::layer_norm, position_kind::learned,
        /*gated_mlp=*/false, qkv_layout::fused_blocks, /*linear_in_by_out=*/true, 4.0, false, std::move(k),
        {
            {role::embed, "transformer.wte.weight"},
            {role::pos_embed, "transformer.wpe.weight"},
            {role::ln1_w, "transformer.h.{L}.ln_1.weight"},
            {role::ln1_b, "transformer.h.{L}.ln_1.bias"},
            {role::qkv_w, "transformer.h.{L}.attn.c_attn.weight"},
            {role::qkv_b, "transformer.h.{L}.attn.c_attn.bias"},
            {role::o_w, "transformer.h.{L}.attn.c_proj.weight"},
            {role::o_b, "transformer.h.{L}.attn.c_proj.bias"},
            {role::ln2_w, "transformer.h.{L}.ln_2.weight"},
            {role::ln2_b, "transformer.h.{L}.ln_2.bias"},
            {role::mlp_in_w, "transformer.h.{L}.mlp.c_fc.weight"},
            {role::mlp_in_b, "transformer.h.{L}.mlp.c_fc.bias"},
            {role::mlp_out_w, "transformer.h.{L}.mlp.c_proj.weight"},
            {role::mlp_out_b, "transformer.h.{L}.mlp.c_proj.bias"},
            {role::ln_final_w, "transformer.ln_f.weight"},
            {role::ln_final_b, "transformer.ln_f.bias"},
            {role::unembed, "lm_head.weight"},
        },
        gpt2_like_gguf_tensors(/*learned_positions=*/true),
        qkv_layout::fused_blocks,
    };
}

inline family gpt_neox_family() {
    hf_config_keys k;
    k.d_model = key({"hidden_size"});
    k.n_layers = key({"num_hidden_layers"});
    k.n_heads = key({"num_attention_heads"});
    k.n_kv_heads = key({}, 0);
    k.d_head = key({}, 0);
    k.d_mlp = key({"intermediate_size"});
    k.d_vocab = key({"vocab_size"});
    k.n_ctx = key({"max_position_embeddings"});
    k.norm_eps = key({"layer_norm_eps"}, 1e-5);
    k.rope_theta = key({"rope_parameters.rope_theta", "rope_theta", "rotary_emb_base"}, 10000.0);
    k.partial_rotary = key({"rope_parameters.partial_rotary_factor", "partial_rotary_factor", "rotary_pct"}, 0.25);
    k.activation = {"hidden_act"};
    k.default_activation = "gelu";
    k.tied_embeddings = key({"tie_word_embeddings"}, 0);
    k.qkv_bias = key({"attention_bias"}, 1);
    k.o_bias = key({"attention_bias"}, 1);
    k.mlp_bias = key({}, 1);
    k.parallel_residual = key({"use_parallel_residual"}, 1);
    return family{
        "gpt_neox", {"GPTNeoXForCausalLM"}, {"gpt_neox"}, "gptneox", norm_kind::layer_norm, position_kind::rotary,
        /*gated_mlp=*/false, qkv_layout::fused_per_head, /*linear_in_by_out=*/false, 0.0, false, std::move(k),
        {
            {role::embed, "gpt_neox.embed_in.weight"},
            {role::ln1_w, "gpt_neox.layers.{L}.input_layernorm.weight"},
            {role::ln1_b, "gpt_neox.layers.{L}.input_layernorm.bias"},
            {role::qkv_w, "gpt_neox.layers.{L}.attention.query_key_value.weight"},
            {role::qkv_b, "gpt_neox.layers.{L}.attention.query_key_value.bias"},
            {role::o_w, "gpt_neox.layers.{L}.attention.dense.weight"},
            {role::o_b, "gpt_neox.layers.{L}.attention.dense.bias"},
            {role::ln2_w, "gpt_neox.layers.{L}.post_attention_layernorm.weight"},
            {role::ln2_b, "gpt_neox.layers.{L}.post_attention_layernorm.bias"},
            {role::mlp_in_w, "gpt_neox.layers.{L}.mlp.dense_h_to_4h.weight"},
            {role::mlp_in_b, "gpt_neox.layers.{L}.mlp.dense_h_to_4h.bias"},
            {role::mlp_out_w, "gpt_neox.layers.{L}.mlp.dense_4h_to_h.weight"},
            {role::mlp_out_b, "gpt_neox.layers.{L}.mlp.dense_4h_to_h.bias"},
            {role::ln_final_w, "gpt_neox.final_layer_norm.weight"},
            {role::ln_final_b, "gpt_neox.final_layer_norm.bias"},
            {role::unembed, "embed_out.weight"},
        },
        gpt2_like_gguf_tensors(/*learned_positions=*/false),
        qkv_layout::fused_blocks,
    };
}

}  // namespace detail

/// Every family xlens can run, in the order they are matched against a checkpoint.
inline const std::vector<family>& families() {
    static const std::vector<family> all = {
        detail::llama_like("llama", {"LlamaForCausalLM"}, {"llama"}, "llama", false),
        detail::llama_like("mistral", {"MistralForCausalLM"}, {"mistral"}, nullptr, false),
        detail::llama_like("qwen2", {"Qwen2ForCausalLM"}, {"qwen2"}, "qwen2", true),
        detail::qwen3_family(),
        detail::gemma_family(1),
        detail::gemma_family(2),
        detail::gemma_family(3),
        detail::olmo2_family(),
        detail::phi3_family(),
        detail::gpt2_family(),
        detail::gpt_neox_family(),
    };
    return all;
}

/// Checkpoint name of `r` in layer `layer` according to `table`, or "" if the family has no such tensor.
inline std::string tensor_name(const std::vector<std::pair<role, const char*>>& table, role r, std::size_t layer) {
    for (const auto& [rr, pattern] : table) {
        if (rr != r) continue;
        std::string name = pattern;
        auto at = name.find("{L}");
        if (at != std::string::npos) name.replace(at, 3, std::to_string(layer));
        return name;
    }
    return "";
}

}  // namespace xlens
