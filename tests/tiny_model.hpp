// Test helper: writes a tiny random model of any supported family (config.json + model.safetensors),
// generated from the family's own tensor table, so C++ tests need no Python. Numerical correctness
// against transformers is checked by tools/reference/compare_forward.py; these models serve tests of
// properties (hooks, caches, errors, threads) that hold for any weights.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xlens/io/safetensors.hpp>
#include <xlens/model/architecture.hpp>
#include <xlens/model/config_reader.hpp>

namespace test {

inline std::string temp_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("xlens_test_" + std::to_string(::getpid())) / name;
    std::filesystem::create_directories(dir);
    return dir.string();
}

/// A small config.json for each family, odd sizes so layout mistakes show.
inline nlohmann::json tiny_config(const std::string& family) {
    if (family == "gpt2")
        return {{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"n_embd", 24}, {"n_layer", 2},
                {"n_head", 3}, {"n_positions", 32}, {"vocab_size", 53}, {"activation_function", "gelu_new"},
                {"layer_norm_epsilon", 1e-5}, {"n_inner", nullptr}, {"tie_word_embeddings", true}};
    if (family == "gpt_neox")
        return {{"architectures", {"GPTNeoXForCausalLM"}}, {"model_type", "gpt_neox"}, {"hidden_size", 32},
                {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"intermediate_size", 40},
                {"max_position_embeddings", 32}, {"vocab_size", 53}, {"hidden_act", "gelu"}, {"layer_norm_eps", 1e-5},
                {"rope_parameters", {{"rope_theta", 10000.0}, {"partial_rotary_factor", 0.25}, {"rope_type", "default"}}},
                {"use_parallel_residual", true}, {"tie_word_embeddings", false}};
    nlohmann::json c = {{"hidden_size", 24}, {"num_hidden_layers", 2}, {"num_attention_heads", 6},
                        {"num_key_value_heads", 2}, {"head_dim", 4}, {"intermediate_size", 36},
                        {"max_position_embeddings", 32}, {"vocab_size", 53}, {"hidden_act", "silu"},
                        {"rms_norm_eps", 1e-6}, {"rope_parameters", {{"rope_theta", 10000.0}, {"rope_type", "default"}}},
                        {"tie_word_embeddings", family == "qwen2"}};
    c["architectures"] = {family == "qwen2" ? "Qwen2ForCausalLM" : family == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"};
    c["model_type"] = family;
    if (family == "phi3") {  // fused q/k/v and gate/up, LongRoPE as Phi-3-mini-128k configures it (su, top-level length)
        c["architectures"] = {"Phi3ForCausalLM"};
        c.erase("head_dim");  // Phi-3 derives it: 24 / 6 = 4
        c["original_max_position_embeddings"] = 8;
        c["rope_scaling"] = {{"type", "su"}, {"short_factor", {1.0, 2.0}}, {"long_factor", {3.0, 5.0}}};
        c.erase("rope_parameters");
        c["rope_theta"] = 10000.0;
    }
    // The newer families: every mechanism on (soft-caps, a window of 3, local/global layers).
    if (family == "qwen3" || family == "olmo2") {
        c["architectures"] = {family == "qwen3" ? "Qwen3ForCausalLM" : "Olmo2ForCausalLM"};
    } else if (family == "gemma2" || family == "gemma3") {
        c["architectures"] = {family == "gemma2" ? "Gemma2ForCausalLM" : "Gemma3ForCausalLM"};
        c["model_type"] = family == "gemma2" ? "gemma2" : "gemma3_text";
        c["num_hidden_layers"] = 3;
        c["hidden_activation"] = "gelu_pytorch_tanh";
        c["query_pre_attn_scalar"] = 5;
        c["sliding_window"] = 3;
        c["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention"};
        c["attn_logit_softcapping"] = 2.0;
        c["final_logit_softcapping"] = 3.0;
        if (family == "gemma3")
            c["rope_parameters"] = {{"full_attention", {{"rope_theta", 1e6}, {"rope_type", "linear"}, {"factor", 4.0}}},
                                    {"sliding_attention", {{"rope_theta", 1e4}, {"rope_type", "default"}}}};
    }
    return c;
}

/// Writes config.json and model.safetensors for `config` into `dir`, weights ~ N(0, 0.3) (norm gains ~ 1 ± 0.3).
inline void write_model(const std::string& dir, const nlohmann::json& config, unsigned seed = 1) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/config.json") << config.dump(2);
    const auto& fam = xlens::family_for_hf_config(config, dir);
    auto c = xlens::config_from_hf(config, fam, dir);
    const std::size_t d = c.d_model, H = c.attn.n_heads, KV = c.attn.n_kv_heads, dh = c.attn.d_head, m = c.mlp.d_mlp;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    std::vector<std::vector<float>> buffers;
    std::vector<xlens::io::tensor_to_write> tensors;
    auto add = [&](xlens::role r, std::size_t layer, std::vector<std::uint64_t> shape, float offset = 0.0f) {
        auto name = xlens::tensor_name(fam.hf_tensors, r, layer);
        if (name.empty()) return;
        std::size_t n = 1;
        for (auto s : shape) n *= s;
        buffers.emplace_back(n);
        for (auto& v : buffers.back()) v = offset + normal(rng);
        tensors.push_back({name, xlens::io::dtype::f32, shape, buffers.back().data()});
    };
    buffers.reserve(512);
    auto lin = [&](xlens::role w, xlens::role b, std::size_t L, std::size_t out, std::size_t in, bool bias) {
        add(w, L, fam.linear_in_by_out ? std::vector<std::uint64_t>{in, out} : std::vector<std::uint64_t>{out, in});
        if (bias) add(b, L, {out});
    };
    bool ln = c.norm.kind == xlens::norm_kind::layer_norm;
    add(xlens::role::embed, 0, {c.d_vocab, d});
    if (c.attn.positions == xlens::position_kind::learned) add(xlens::role::pos_embed, 0, {c.n_ctx, d});
    const float gain = fam.norm_gain_offset != 0.0f ? 0.0f : 1.0f;  // Gemma stores w for the gain 1 + w
    for (std::size_t L = 0; L < c.n_layers; ++L) {
        add(xlens::role::ln1_w, L, {d}, gain);
        add(xlens::role::ln1_post_w, L, {d}, gain);
        add(xlens::role::ln2_post_w, L, {d}, gain);
        const bool whole = c.attn.qk_norm == xlens::qk_norm_kind::whole;
        add(xlens::role::q_norm_w, L, {whole ? H * dh : dh}, gain);
        add(xlens::role::k_norm_w, L, {whole ? KV * dh : dh}, gain);
        if (ln) add(xlens::role::ln1_b, L, {d});
        if (fam.qkv == xlens::qkv_layout::separate) {
            lin(xlens::role::q_w, xlens::role::q_b, L, H * dh, d, c.attn.qkv_bias);
            lin(xlens::role::k_w, xlens::role::k_b, L, KV * dh, d, c.attn.qkv_bias);
            lin(xlens::role::v_w, xlens::role::v_b, L, KV * dh, d, c.attn.qkv_bias);
        } else {
            lin(xlens::role::qkv_w, xlens::role::qkv_b, L, (H + 2 * KV) * dh, d, c.attn.qkv_bias);
        }
        lin(xlens::role::o_w, xlens::role::o_b, L, d, H * dh, c.attn.o_bias);
        add(xlens::role::ln2_w, L, {d}, gain);
        if (ln) add(xlens::role::ln2_b, L, {d});
        if (fam.gate_up_fused) {
            add(xlens::role::mlp_gate_up_w, L, {2 * m, d});
        } else {
            lin(xlens::role::mlp_in_w, xlens::role::mlp_in_b, L, m, d, c.mlp.bias);
            if (c.mlp.gated) lin(xlens::role::mlp_gate_w, xlens::role::mlp_gate_b, L, m, d, c.mlp.bias);
        }
        lin(xlens::role::mlp_out_w, xlens::role::mlp_out_b, L, d, m, c.mlp.bias);
    }
    add(xlens::role::ln_final_w, 0, {d}, gain);
    if (ln) add(xlens::role::ln_final_b, 0, {d});
    if (!c.tied_embeddings) add(xlens::role::unembed, 0, {c.d_vocab, d});
    xlens::io::write_safetensors(dir + "/model.safetensors", tensors);
}

/// A tiny model of `family` in a fresh temporary folder; returns the folder.
inline std::string tiny_model(const std::string& family, unsigned seed = 1) {
    auto dir = temp_dir("tiny_" + family + "_" + std::to_string(seed));
    write_model(dir, tiny_config(family), seed);
    return dir;
}

}  // namespace test
