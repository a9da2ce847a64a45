// Loading: paths, config fields, family tables, shapes — and the errors that name what is wrong.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include <xlens/blocks/hook_points.hpp>
#include <xlens/model/inventory.hpp>
#include <xlens/model/model.hpp>

#include "tiny_model.hpp"

namespace {

std::string model_with(const std::string& name, nlohmann::json config) {
    auto dir = test::temp_dir(name);
    test::write_model(dir, config);
    return dir;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("a model loads from a folder, from its .safetensors file, and maps f32 weights without copying") {
    auto dir = test::tiny_model("llama");
    auto a = xlens::model::load(dir);
    auto b = xlens::model::load(dir + "/model.safetensors");
    CHECK(a.config().architecture == "llama");
    CHECK(a.config().attn.n_heads == 6);
    CHECK(a.config().attn.n_kv_heads == 2);
    CHECK(a.config().attn.rotary.rotary_dim == 4);
    CHECK(b.config().d_model == 24);
    CHECK(a.format() == "safetensors");
    // Aligned float32 tensors are views into the mapping: nothing converted, nothing owned.
    for (const auto& note : a.load_notes()) CHECK(note.find("converted") == std::string::npos);
    CHECK(a.inventory().size() == 3 + 2 * 9);  // embed, final norm, lm_head + 9 per layer
    auto counts = xlens::parameter_counts(a);
    CHECK(counts.back().first == "total");
    std::uint64_t expected = 0;
    for (const auto& t : a.inventory()) expected += t.bytes / 4;
    CHECK(counts.back().second == expected);
}

TEST_CASE("GPT-NeoX partial rotary and GPT-2 defaults are read from the config") {
    auto neox = xlens::model::load(test::tiny_model("gpt_neox"));
    CHECK(neox.config().attn.rotary.rotary_dim == 2);  // 0.25 × d_head 8
    CHECK(neox.config().parallel_residual);
    CHECK(neox.config().attn.qkv_bias);
    auto gpt2 = xlens::model::load(test::tiny_model("gpt2"));
    CHECK(gpt2.config().mlp.d_mlp == 96);  // n_inner null → 4 × n_embd
    CHECK(gpt2.config().attn.positions == xlens::position_kind::learned);
    CHECK(gpt2.config().tied_embeddings);
    CHECK(gpt2.weights().unembed.w.data == gpt2.weights().embed.data);
    CHECK(gpt2.weights().layers[0].attn.q.in_by_out);
}

TEST_CASE("config errors name the file and the field") {
    auto config = test::tiny_config("llama");
    auto dir = model_with("cfg_ok", config);

    auto missing = config;
    missing.erase("num_attention_heads");
    write_text(dir + "/config.json", missing.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("config.json: missing field 'num_attention_heads'"), xlens::config_error);

    auto unknown = config;
    unknown["architectures"] = {"MambaForCausalLM"};
    unknown["model_type"] = "mamba";
    write_text(dir + "/config.json", unknown.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("unsupported architecture 'MambaForCausalLM' (model_type 'mamba'); xlens supports"), xlens::config_error);

    auto indivisible = config;
    indivisible["num_key_value_heads"] = 4;
    write_text(dir + "/config.json", indivisible.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("field 'n_kv_heads' (4) must divide n_heads (6)"), xlens::config_error);

    auto wrong_type = config;
    wrong_type["hidden_size"] = "24";
    write_text(dir + "/config.json", wrong_type.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("field 'hidden_size' must be a number"), xlens::config_error);

    auto bad_act = config;
    bad_act["hidden_act"] = "mish";
    write_text(dir + "/config.json", bad_act.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("activation 'mish' is not supported"), xlens::config_error);

    auto scaling = config;
    scaling["rope_parameters"]["rope_type"] = "yarn";
    write_text(dir + "/config.json", scaling.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("type 'yarn' is not supported"), xlens::config_error);

    write_text(dir + "/config.json", "{\"hidden_size\": 24,");
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("[xlens.format_error.205]"), xlens::format_error);
    write_text(dir + "/config.json", std::string(100000, '[') + std::string(100000, ']'));
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("nested deeper than 64"), xlens::format_error);
    write_text(dir + "/config.json", "{\"hidden_size\": 24, \"hidden_size\": 25}");
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("duplicate key 'hidden_size'"), xlens::format_error);
    std::filesystem::remove(dir + "/config.json");
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("no config.json beside the weights"), xlens::io_error);

    auto gpt2 = test::tiny_config("gpt2");
    gpt2["scale_attn_by_inverse_layer_idx"] = true;
    CHECK_THROWS_WITH_AS(model_with("cfg_gpt2", gpt2), doctest::Contains("'scale_attn_by_inverse_layer_idx' is not supported"),
                         xlens::config_error);
}

TEST_CASE("weights that disagree with the config are errors naming the tensor and both shapes") {
    auto config = test::tiny_config("llama");
    auto dir = model_with("w_shape", config);
    auto bigger = config;
    bigger["intermediate_size"] = 40;  // config now says 40, the file holds 36
    write_text(dir + "/config.json", bigger.dump());
    const std::string expected = "tensor 'model.layers.0.mlp.up_proj.weight' in '" + dir +
                                 "/model.safetensors' has shape [36, 24], expected [40, 24]";
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains(expected.c_str()), xlens::weights_error);
    auto untied = test::tiny_config("qwen2");
    auto qdir = model_with("w_missing", untied);  // written tied: no lm_head.weight
    untied["tie_word_embeddings"] = false;
    write_text(qdir + "/config.json", untied.dump());
    CHECK_THROWS_WITH_AS(xlens::model::load(qdir), doctest::Contains("missing tensor 'lm_head.weight' required by the qwen2 architecture"),
                         xlens::weights_error);
}

TEST_CASE("paths that are not models are refused with a reason") {
    CHECK_THROWS_WITH_AS(xlens::model::load("/nonexistent/model"), doctest::Contains("no such file or folder"), xlens::io_error);
    auto dir = test::temp_dir("pickle");
    write_text(dir + "/pytorch_model.bin", "not really a pickle");
    CHECK_THROWS_WITH_AS(xlens::model::load(dir + "/pytorch_model.bin"), doctest::Contains("save_pretrained"), xlens::error);
    CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains("pickle"), xlens::error);
    write_text(dir + "/weights.npz", "x");
    CHECK_THROWS_WITH_AS(xlens::model::load(dir + "/weights.npz"), doctest::Contains("not a model"), xlens::io_error);
}

TEST_CASE("check_finite finds a NaN weight and names where it is") {
    auto dir = test::tiny_model("llama", 7);
    std::uint64_t offset = 0;
    {
        xlens::io::safetensors_file f(dir + "/model.safetensors");
        const auto& t = f.at("model.layers.1.mlp.down_proj.weight");
        offset = static_cast<std::uint64_t>(t.data - f.mapping().data()) + 4 * 5;  // element 5
    }
    {
        std::fstream file(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        file.seekp(static_cast<std::streamoff>(offset));
        file.write(reinterpret_cast<const char*>(&nan), sizeof nan);
    }
    CHECK_NOTHROW(xlens::model::load(dir));  // the default trusts the file's values
    xlens::load_options strict;
    strict.check_finite = true;
    CHECK_THROWS_WITH_AS(xlens::model::load(dir, strict),
                         doctest::Contains("layer 1 mlp out weight holds a non-finite value at flat index 5"), xlens::weights_error);
}

TEST_CASE("the newer families' options are read, and impossible values are errors naming the field") {
    auto gemma2 = test::tiny_config("gemma2");
    auto m = xlens::model::load(model_with("fam_gemma2", gemma2));
    const auto& c = m.config();
    CHECK(c.architecture == "gemma2");
    CHECK(c.pre_norms);
    CHECK(c.post_norms);
    CHECK(c.attn.is_local(0));
    CHECK_FALSE(c.attn.is_local(1));
    CHECK(c.attn.window(0) == 3);
    CHECK(c.attn.window(1) == 0);
    CHECK(c.attn.scale == doctest::Approx(1.0 / std::sqrt(5.0)));
    CHECK(c.attn.logit_softcap == 2.0);
    CHECK(c.final_logit_softcap == 3.0);
    CHECK(c.embed_scale == doctest::Approx(std::sqrt(24.0)));
    // Gemma stores w; the loaded gain is 1 + w.
    auto checkpoint = xlens::io::safetensors_file(m.source() + "/model.safetensors");
    auto w = checkpoint.view<float, 1>("model.norm.weight");
    for (std::size_t i = 0; i < 24; ++i) CHECK(m.weights().ln_final.w.data[i] == 1.0f + w(i));

    auto gemma3 = xlens::model::load(model_with("fam_gemma3", test::tiny_config("gemma3")));
    CHECK(gemma3.config().attn.qk_norm == xlens::qk_norm_kind::per_head);
    CHECK(gemma3.config().attn.rotary_of(0).theta == 1e4);
    CHECK(gemma3.config().attn.rotary_of(1).theta == 1e6);
    CHECK(gemma3.config().attn.rotary_of(1).scaling == "linear");
    auto olmo2 = xlens::model::load(model_with("fam_olmo2", test::tiny_config("olmo2")));
    CHECK_FALSE(olmo2.config().pre_norms);
    CHECK(olmo2.config().attn.qk_norm == xlens::qk_norm_kind::whole);
    CHECK(olmo2.weights().layers[0].attn.q_norm.w.size() == 6 * 4);
    CHECK_FALSE(xlens::has_hook_point(olmo2.config(), {xlens::hook_kind::ln1_scale, 0}));
    CHECK(xlens::has_hook_point(olmo2.config(), {xlens::hook_kind::ln1_post_scale, 0}));

    // Legacy Gemma 2 configs have no layer_types: every other layer is local, starting with layer 0.
    auto legacy = gemma2;
    legacy.erase("layer_types");
    CHECK(xlens::model::load(model_with("fam_gemma2_legacy", legacy)).config().attn.local_layers == std::vector<bool>{true, false, true});

    auto dir = model_with("fam_bad", gemma2);
    auto refused = [&](nlohmann::json config, const char* message) {
        write_text(dir + "/config.json", config.dump());
        CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains(message), xlens::config_error);
    };
    auto bad = gemma2;
    bad["attn_logit_softcapping"] = 0.0;
    refused(bad, "field 'attn_logit_softcapping' must be a positive number (or null for none)");
    bad = gemma2;
    bad["final_logit_softcapping"] = -1.0;
    refused(bad, "final_logit_softcapping");
    bad = gemma2;
    bad["query_pre_attn_scalar"] = 0;
    refused(bad, "field 'query_pre_attn_scalar' must be a positive number");
    bad = gemma2;
    bad["query_pre_attn_scalar"] = 1e-300;  // positive, but its scale 1e150 is inf in float32
    refused(bad, "'query_pre_attn_scalar' must be positive and give a scale (its -1/2 power) within float32's range");
    bad = gemma2;
    bad["layer_types"] = {"sliding_attention", "chunked_attention", "full_attention"};
    refused(bad, "layer type 'chunked_attention' in 'layer_types' is not supported");
    bad = gemma2;
    bad["layer_types"] = {"sliding_attention", "full_attention"};
    refused(bad, "field 'layer_types' lists 2 layers, the model has 3");
    bad = gemma2;
    bad.erase("sliding_window");
    refused(bad, "'layer_types' has sliding_attention layers but 'sliding_window' is not set");
    bad = gemma2;
    bad["rope_parameters"] = {{"rope_type", "dynamic"}, {"rope_theta", 10000.0}};
    refused(bad, "type 'dynamic' is not supported");
}

TEST_CASE("Phi-3: LongRoPE is read from its config, and the fused q/k/v and gate/up are split as transformers splits them") {
    auto phi3 = test::tiny_config("phi3");
    phi3["max_position_embeddings"] = 32;
    auto m = xlens::model::load(model_with("fam_phi3", phi3));
    const auto& r = m.config().attn.rotary;
    CHECK(m.config().architecture == "phi3");
    CHECK(r.scaling == "longrope");  // "su", Phi-3's first name for it
    CHECK(r.original_max_positions == 8.0);  // the top-level key
    CHECK(r.factor == 4.0);                  // max_position_embeddings / original
    CHECK(r.frequency_factors == std::vector<float>{1.0f, 2.0f});
    CHECK(r.long_frequency_factors == std::vector<float>{3.0f, 5.0f});
    CHECK(r.attention_factor == doctest::Approx(std::sqrt(1.0 + std::log(4.0) / std::log(8.0))));
    // Phi-3-mini-128k: 131072 positions over 4096 gives the attention factor its GGUFs carry, 1.190238.
    phi3["max_position_embeddings"] = 131072;
    phi3["original_max_position_embeddings"] = 4096;
    auto mini128k = xlens::model::load(model_with("fam_phi3_128k", phi3));
    CHECK(mini128k.config().attn.rotary.attention_factor == doctest::Approx(1.190238).epsilon(1e-6));

    // Rows [q | k | v] with q 6 heads and k, v 2 heads of 4; rows [gate | up] of 36 each.
    auto checkpoint = xlens::io::safetensors_file(m.source() + "/model.safetensors");
    auto qkv = checkpoint.view<float, 2>("model.layers.1.self_attn.qkv_proj.weight");
    auto gate_up = checkpoint.view<float, 2>("model.layers.1.mlp.gate_up_proj.weight");
    REQUIRE(qkv.shape()[0] == 40);
    const auto& L1 = m.weights().layers[1];
    REQUIRE(L1.attn.k.w.shape == std::vector<std::size_t>{8, 24});
    for (std::size_t j = 0; j < 24; ++j) {
        CHECK(L1.attn.q.w.data[23 * 24 + j] == qkv(23, j));
        CHECK(L1.attn.k.w.data[0 * 24 + j] == qkv(24, j));
        CHECK(L1.attn.v.w.data[7 * 24 + j] == qkv(39, j));
        CHECK(L1.mlp.gate.w.data[35 * 24 + j] == gate_up(35, j));
        CHECK(L1.mlp.in.w.data[0 * 24 + j] == gate_up(36, j));
    }

    auto dir = model_with("fam_phi3_bad", test::tiny_config("phi3"));
    auto refused = [&](nlohmann::json config, const char* message) {
        write_text(dir + "/config.json", config.dump());
        CHECK_THROWS_WITH_AS(xlens::model::load(dir), doctest::Contains(message), xlens::config_error);
    };
    auto bad = test::tiny_config("phi3");
    bad["rope_scaling"].erase("long_factor");
    refused(bad, "longrope rope scaling needs both 'short_factor' and 'long_factor'");
    bad = test::tiny_config("phi3");
    bad["rope_scaling"]["short_factor"] = {1.0, 2.0, 3.0};
    refused(bad, "field 'rope_scaling.short_factor' holds 3 factors, expected 2");
    bad = test::tiny_config("phi3");
    bad["rope_scaling"]["long_factor"] = {1.0, -2.0};
    refused(bad, "field 'rope_scaling.long_factor' factors must be finite and positive");
    bad = test::tiny_config("phi3");
    bad["rope_scaling"]["short_factor"] = "1, 2";
    refused(bad, "field 'rope_scaling.short_factor' must be a list of numbers");
}
