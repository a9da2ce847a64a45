// The Conan test package: writes a tiny random Llama (config.json + model.safetensors), opens it with
// the packaged xlens, runs it with a hook and a cache, and checks what comes back.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <xlens/xlens.hpp>

namespace {

std::string write_tiny_llama(const std::filesystem::path& dir) {
    const std::uint64_t d = 16, heads = 4, kv_heads = 2, d_head = 4, d_mlp = 24, vocab = 40, layers = 2;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "config.json") << nlohmann::json{
        {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", d},
        {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"num_key_value_heads", kv_heads},
        {"intermediate_size", d_mlp}, {"max_position_embeddings", 32}, {"vocab_size", vocab},
        {"hidden_act", "silu"}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}, {"tie_word_embeddings", true}}.dump();
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    std::vector<std::vector<float>> data;
    std::vector<xlens::io::tensor_to_write> tensors;
    data.reserve(64);
    auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, float mean = 0.0f) {
        std::uint64_t n = 1;
        for (auto s : shape) n *= s;
        data.emplace_back(n);
        for (auto& v : data.back()) v = mean + normal(rng);
        tensors.push_back({name, xlens::io::dtype::f32, shape, data.back().data()});
    };
    add("model.embed_tokens.weight", {vocab, d});
    for (std::uint64_t l = 0; l < layers; ++l) {
        auto p = "model.layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {d}, 1.0f);
        add(p + "self_attn.q_proj.weight", {heads * d_head, d});
        add(p + "self_attn.k_proj.weight", {kv_heads * d_head, d});
        add(p + "self_attn.v_proj.weight", {kv_heads * d_head, d});
        add(p + "self_attn.o_proj.weight", {d, heads * d_head});
        add(p + "post_attention_layernorm.weight", {d}, 1.0f);
        add(p + "mlp.gate_proj.weight", {d_mlp, d});
        add(p + "mlp.up_proj.weight", {d_mlp, d});
        add(p + "mlp.down_proj.weight", {d, d_mlp});
    }
    add("model.norm.weight", {d}, 1.0f);
    xlens::io::write_safetensors((dir / "model.safetensors").string(), tensors);
    return dir.string();
}

}  // namespace

int main() {
    auto dir = write_tiny_llama(std::filesystem::temp_directory_path() / "xlens_conan_test_package");
    auto model = xlens::model::load(dir);
    std::vector<xlens::token_id> tokens = {1, 5, 9, 2};

    int calls = 0;
    xlens::hook_set hooks;
    auto counter = hooks.add("blocks.1.attn.hook_pattern", [&](xlens::activation&, xlens::hook_point) { ++calls; });
    xlens::activation_cache cache;
    xlens::run_options options;
    options.hooks = &hooks;
    options.cache = &cache;
    auto logits = xlens::forward(model, tokens, options);
    const auto& pattern = cache["blocks.1.attn.hook_pattern"];

    bool ok = logits.shape()[0] == tokens.size() && logits.shape()[1] == 40 && calls == 1 &&
              pattern.shape()[0] == 4 && pattern.shape()[1] == tokens.size();
    std::printf("xlens %s from the Conan package: %s, logits [%zu, %zu], hook calls %d: %s\n", XLENS_VERSION_STRING,
                model.config().architecture.c_str(), logits.shape()[0], logits.shape()[1], calls, ok ? "ok" : "WRONG");
    std::filesystem::remove_all(dir);
    return ok ? 0 : 1;
}
