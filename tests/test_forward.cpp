// Properties of the forward pass that hold for any weights: caches, hooks, kv cache, input checks,
// threads. Agreement with transformers is tools/reference/compare_forward.py's job (ctest "oracle_*").
#include <doctest/doctest.h>

#include <cmath>
#include <thread>

#include <xtensor/xview.hpp>

#include <xlens/run/forward.hpp>

#include "tiny_model.hpp"
#include "helpers.hpp"

namespace {

const std::vector<xlens::token_id> tokens = {3, 17, 52, 0, 17, 9, 41, 3, 17, 52, 5};


}  // namespace

TEST_CASE("run_with_cache records every hook point of every family and does not change the logits") {
    for (std::string family : {"llama", "qwen2", "mistral", "gpt2", "gpt_neox"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        auto plain = xlens::run(m, tokens);
        auto [logits, cache] = xlens::run_with_cache(m, tokens);
        CHECK(test::max_abs_diff(plain, logits) == 0.0f);
        auto points = xlens::all_hook_points(m.config());
        CHECK(cache.size() == points.size());
        for (auto p : points) CHECK(cache.contains(p));
        CHECK(test::max_abs_diff(cache["hook_logits"], logits) == 0.0f);
        const auto T = tokens.size();
        const auto& c = m.config();
        CHECK(cache["blocks.1.attn.hook_pattern"].shape() == std::vector<std::size_t>{c.attn.n_heads, T, T});
        CHECK(cache["blocks.0.attn.hook_k"].shape() == std::vector<std::size_t>{T, c.attn.n_kv_heads, c.attn.d_head});
        CHECK(cache["blocks.0.attn.hook_result"].shape() == std::vector<std::size_t>{T, c.attn.n_heads, c.d_model});
        CHECK(cache.contains("blocks.0.hook_resid_mid") == !c.parallel_residual);
        CHECK(cache.contains("blocks.0.attn.hook_rot_q") == (c.attn.positions == xlens::position_kind::rotary));
        CHECK(cache.contains("hook_pos_embed") == (c.attn.positions == xlens::position_kind::learned));

        // Pattern rows are distributions over the past only; softmax(scores) is the pattern.
        const auto& scores = cache["blocks.1.attn.hook_attn_scores"];
        const auto& pattern = cache["blocks.1.attn.hook_pattern"];
        for (std::size_t h = 0; h < c.attn.n_heads; ++h)
            for (std::size_t i = 0; i < T; ++i) {
                double sum = 0.0, denom = 0.0;
                float max = -INFINITY;
                for (std::size_t j = 0; j <= i; ++j) max = std::max(max, scores(h, i, j));
                for (std::size_t j = 0; j <= i; ++j) denom += std::exp(double(scores(h, i, j)) - max);
                for (std::size_t j = 0; j < T; ++j) {
                    sum += pattern(h, i, j);
                    if (j > i) {
                        CHECK(pattern(h, i, j) == 0.0f);
                        CHECK(std::isinf(scores(h, i, j)));
                    } else {
                        CHECK(pattern(h, i, j) == doctest::Approx(std::exp(double(scores(h, i, j)) - max) / denom).epsilon(1e-5));
                    }
                }
                CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
            }

        // Heads' results add up to attn_out (plus the output bias, if any); residuals add up.
        auto result_sum = xt::eval(xt::sum(cache["blocks.0.attn.hook_result"], {1}));
        auto attn_out = cache["blocks.0.hook_attn_out"];
        const auto& ob = m.weights().layers[0].attn.o.b;
        if (!ob.empty()) attn_out -= xt::view(ob.view(), xt::newaxis(), xt::all());
        CHECK(test::max_abs_diff(result_sum, attn_out) < 1e-5f);
        xlens::activation post = cache["blocks.0.hook_resid_pre"] + cache["blocks.0.hook_attn_out"] + cache["blocks.0.hook_mlp_out"];
        CHECK(test::max_abs_diff(post, cache["blocks.0.hook_resid_post"]) < 1e-5f);
        CHECK(test::max_abs_diff(cache["blocks.0.hook_resid_post"], cache["blocks.1.hook_resid_pre"]) == 0.0f);
    }
}

TEST_CASE("a cache filter keeps only what it selects") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    auto [logits, cache] = xlens::run_with_cache(m, tokens, xlens::hook_filter::suffix("hook_pattern"));
    CHECK(cache.names() == std::vector<std::string>{"blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"});
    CHECK_THROWS_WITH_AS(cache["blocks.0.hook_resid_pre"], doctest::Contains("[xlens.hook_error.603]"), xlens::hook_error);
    CHECK_THROWS_WITH_AS(cache["blocks.0.hook_nonsense"], doctest::Contains("unknown hook point 'blocks.0.hook_nonsense'"), xlens::hook_error);
    auto [l2, by_prefix] = xlens::run_with_cache(m, tokens, xlens::hook_filter::prefixes({"blocks.1.attn."}));
    for (const auto& n : by_prefix.names()) CHECK(n.rfind("blocks.1.attn.", 0) == 0);
    CHECK(by_prefix.size() == 9);  // q k v rot_q rot_k scores pattern z result
    CHECK_THROWS_AS(xlens::hook_filter::names({"blocks.0.attn.hook_patern"}), xlens::hook_error);
    auto [l3, by_kind] = xlens::run_with_cache(
        m, tokens, xlens::hook_filter::kinds({xlens::hook_kind::z, xlens::hook_kind::ln_final_scale}, {{xlens::hook_kind::resid_post, 1}}));
    CHECK(by_kind.names() == std::vector<std::string>{"blocks.0.attn.hook_z", "blocks.1.attn.hook_z", "blocks.1.hook_resid_post",
                                                      "ln_final.hook_scale"});
}

TEST_CASE("hook names round-trip and unknown names are refused") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    for (auto p : xlens::all_hook_points(m.config())) {
        auto back = xlens::parse_hook_name(xlens::hook_name(p));
        CHECK(back == p);
    }
    CHECK(xlens::hook_name({xlens::hook_kind::pattern, 3}) == "blocks.3.attn.hook_pattern");
    CHECK(xlens::hook_name({xlens::hook_kind::ln1_normalized, 0}) == "blocks.0.ln1.hook_normalized");
    CHECK(xlens::hook_name({xlens::hook_kind::mlp_pre_linear, 7}) == "blocks.7.mlp.hook_pre_linear");
    for (const char* bad : {"", "blocks.", "blocks.x.hook_resid_pre", "blocks.0.hook_embed", "hook_resid_pre", "blocks.1234567.hook_z"})
        CHECK_THROWS_AS(xlens::parse_hook_name(bad), xlens::hook_error);
}

TEST_CASE("hooks change a run, run in order, and are removed when their handle goes") {
    auto m = xlens::model::load(test::tiny_model("qwen2"));
    auto baseline = xlens::run(m, tokens);
    xlens::hook_set hooks;
    {
        int calls = 0;
        auto ablate = hooks.add("blocks.0.hook_attn_out", [&](xlens::activation& a, xlens::hook_point p) {
            CHECK(p == xlens::hook_point{xlens::hook_kind::attn_out, 0});
            a.fill(0.0f);
            ++calls;
        });
        // A later hook sees what the earlier one wrote, and the cache records the final value.
        auto observe = hooks.add("blocks.0.hook_attn_out", [&](xlens::activation& a, xlens::hook_point) {
            CHECK(xt::amax(xt::abs(a))() == 0.0f);
        });
        xlens::activation_cache cache;
        xlens::run_options o;
        o.hooks = &hooks;
        o.cache = &cache;
        auto ablated = xlens::forward(m, tokens, o);
        CHECK(calls == 1);
        CHECK(test::max_abs_diff(ablated, baseline) > 1e-3f);
        CHECK(xt::amax(xt::abs(cache["blocks.0.hook_attn_out"]))() == 0.0f);
        // The ablated run equals a run where resid_mid is replaced by resid_pre by hand.
        xlens::hook_set by_hand;
        auto [l0, clean] = xlens::run_with_cache(m, tokens);
        auto patch = by_hand.add("blocks.0.hook_resid_mid", [&](xlens::activation& a, xlens::hook_point) {
            a = clean["blocks.0.hook_resid_pre"];
        });
        CHECK(test::max_abs_diff(xlens::run_with_hooks(m, tokens, by_hand), ablated) < 1e-5f);
    }
    CHECK(hooks.size() == 0);
    CHECK(test::max_abs_diff(xlens::run_with_hooks(m, tokens, hooks), baseline) == 0.0f);
}

TEST_CASE("editing one head's z or result changes only through that head") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    auto [logits, cache] = xlens::run_with_cache(m, tokens);
    xlens::hook_set hooks;
    auto zero_head = hooks.add("blocks.1.attn.hook_z", [](xlens::activation& z, xlens::hook_point) {
        xt::view(z, xt::all(), 2, xt::all()) = 0.0f;
    });
    xlens::activation_cache after;
    xlens::run_options o;
    o.hooks = &hooks;
    o.cache = &after;
    xlens::forward(m, tokens, o);
    auto expected = xt::eval(cache["blocks.1.hook_attn_out"] - xt::view(cache["blocks.1.attn.hook_result"], xt::all(), 2, xt::all()));
    CHECK(test::max_abs_diff(after["blocks.1.hook_attn_out"], expected) < 1e-5f);

    // The same edit made on hook_result instead of hook_z.
    xlens::hook_set on_result;
    auto zero_result = on_result.add("blocks.1.attn.hook_result", [](xlens::activation& r, xlens::hook_point) {
        xt::view(r, xt::all(), 2, xt::all()) = 0.0f;
    });
    xlens::activation_cache after_result;
    o.hooks = &on_result;
    o.cache = &after_result;
    xlens::forward(m, tokens, o);
    CHECK(test::max_abs_diff(after_result["blocks.1.hook_attn_out"], expected) < 1e-5f);
    CHECK(test::max_abs_diff(after_result["hook_logits"], after["hook_logits"]) < 1e-4f);
}

TEST_CASE("a hook that changes an activation's shape is an error naming the hook") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::hook_set hooks;
    auto bad = hooks.add("blocks.1.mlp.hook_post", [](xlens::activation& a, xlens::hook_point) {
        a = xt::zeros<float>({a.shape()[0], a.shape()[1] + 1});
    });
    CHECK_THROWS_WITH_AS(xlens::run_with_hooks(m, tokens, hooks),
                         doctest::Contains("[xlens.hook_error.602] a hook at 'blocks.1.mlp.hook_post' changed the activation's shape from [11, 36] to [11, 37]"),
                         xlens::hook_error);
}

TEST_CASE("incremental decoding with a kv cache equals a full rerun") {
    for (std::string family : {"llama", "gpt2", "gpt_neox", "qwen2"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        auto full = xlens::run(m, tokens);
        auto kv = xlens::make_kv_cache(m);
        xlens::run_options o;
        o.kv = &kv;
        const std::size_t prefix = 4;
        auto first = xlens::forward(m, std::vector<xlens::token_id>(tokens.begin(), tokens.begin() + prefix), o);
        CHECK(kv.length() == prefix);
        double worst = test::max_abs_diff(first, xt::view(full, xt::range(0, prefix), xt::all()));
        for (std::size_t t = prefix; t < tokens.size(); ++t) {
            auto step = xlens::forward(m, {tokens[t]}, o);
            worst = std::max(worst, test::max_abs_diff(step, xt::view(full, xt::range(t, t + 1), xt::all())));
        }
        CHECK(kv.length() == tokens.size());
        CHECK(worst < 1e-4f);
        // A failed step leaves the cache as it was.
        CHECK_THROWS_AS(xlens::forward(m, {999}, o), xlens::input_error);
        CHECK(kv.length() == tokens.size());
        CHECK(kv.keys(0).size() == tokens.size() * kv.width());
    }
}

TEST_CASE("bad tokens and sequences are input errors naming the problem") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    CHECK_THROWS_WITH_AS(xlens::run(m, {}), doctest::Contains("[xlens.input_error.501]"), xlens::input_error);
    CHECK_THROWS_WITH_AS(xlens::run(m, {1, 53}), doctest::Contains("token 53 at position 1 is outside the vocabulary [0, 53)"),
                         xlens::input_error);
    CHECK_THROWS_WITH_AS(xlens::run(m, {-1}), doctest::Contains("token -1 at position 0"), xlens::input_error);
    std::vector<xlens::token_id> too_long(33, 1);
    CHECK_THROWS_WITH_AS(xlens::run(m, too_long), doctest::Contains("33 tokens is longer than the model's context of 32"),
                         xlens::input_error);
    std::vector<xlens::token_id> exactly(32, 1);
    CHECK(xlens::run(m, exactly).shape()[0] == 32);
    auto other = xlens::model::load(test::tiny_model("gpt2"));
    auto kv = xlens::make_kv_cache(other);
    xlens::run_options o;
    o.kv = &kv;
    CHECK_THROWS_AS(xlens::forward(m, {1}, o), xlens::input_error);
}

TEST_CASE("one model serves several threads, each with its own cache and hooks") {
    auto m = xlens::model::load(test::tiny_model("gpt_neox"));
    std::vector<std::vector<xlens::token_id>> prompts = {{1, 2, 3, 4}, {5, 6, 7}, {8, 9, 10, 11, 12}, {13}};
    std::vector<xlens::activation> expected;
    for (const auto& p : prompts) expected.push_back(xlens::run_with_cache(m, p).cache["blocks.1.hook_resid_post"]);
    std::vector<xlens::activation> got(prompts.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < prompts.size(); ++i)
        threads.emplace_back([&, i] {
            xlens::model shared = m;  // copies share the weights
            for (int rep = 0; rep < 5; ++rep) got[i] = xlens::run_with_cache(shared, prompts[i]).cache["blocks.1.hook_resid_post"];
        });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < prompts.size(); ++i) CHECK(test::max_abs_diff(got[i], expected[i]) == 0.0f);
}

TEST_CASE("a cache saved as .npy files and as safetensors reads back identically") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    auto [logits, cache] = xlens::run_with_cache(m, tokens, xlens::hook_filter::prefixes({"blocks.1.attn.", "hook_"}));
    auto dir = test::temp_dir("cache_files");
    cache.save_npy(dir + "/npy");
    cache.save_safetensors(dir + "/cache.safetensors");
    xlens::io::safetensors_file saved(dir + "/cache.safetensors");
    CHECK(saved.tensors().size() == cache.size());
    for (const auto& name : cache.names()) {
        CAPTURE(name);
        const auto& expected = cache[name];
        auto npy = xlens::io::read_npy(dir + "/npy/" + name + ".npy");
        CHECK(npy.shape == std::vector<std::uint64_t>(expected.shape().begin(), expected.shape().end()));
        CHECK(std::equal(npy.data.begin(), npy.data.end(), expected.begin()));
        const auto& ref = saved.at(name);
        CHECK(ref.shape == npy.shape);
        CHECK(std::memcmp(ref.data, expected.data(), expected.size() * sizeof(float)) == 0);
    }
}

TEST_CASE("a reused activation cache keeps its memory and holds only the latest run") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::activation_cache cache;
    auto logits = xlens::run_with_cache(m, tokens, cache);
    const float* pattern_memory = cache["blocks.0.attn.hook_pattern"].data();
    std::vector<xlens::token_id> other = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11};  // same length, other tokens
    auto fresh = xlens::run_with_cache(m, other);
    xlens::run_with_cache(m, other, cache);
    CHECK(cache["blocks.0.attn.hook_pattern"].data() == pattern_memory);  // overwritten in place
    CHECK(cache.size() == fresh.cache.size());
    for (const auto& name : fresh.cache.names()) CHECK(test::max_abs_diff(cache[name], fresh.cache[name]) == 0.0f);
    // A narrower filter on the same cache leaves no stale entries behind.
    xlens::run_with_cache(m, tokens, cache, xlens::hook_filter::suffix("hook_resid_post"));
    CHECK(cache.names() == std::vector<std::string>{"blocks.0.hook_resid_post", "blocks.1.hook_resid_post"});
    CHECK(test::max_abs_diff(cache["blocks.1.hook_resid_post"], xlens::run_with_cache(m, tokens).cache["blocks.1.hook_resid_post"]) == 0.0f);
}

TEST_CASE("a new cache on the same thread reuses the arrays a destroyed one left, with correct values") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    xlens::release_activation_memory();
    const float* logits_memory = nullptr;
    {
        auto first = xlens::run_with_cache(m, tokens);
        logits_memory = first.cache["hook_logits"].data();
    }  // destroyed: its arrays become the thread's spares
    std::vector<xlens::token_id> other = {1, 1, 2, 3, 5, 8, 13, 21, 34, 3, 7};
    auto second = xlens::run_with_cache(m, other);
    CHECK(second.cache["hook_logits"].data() == logits_memory);  // the only array of that size
    CHECK(test::max_abs_diff(second.cache["hook_logits"], second.logits) == 0.0f);
    CHECK(test::max_abs_diff(second.cache["blocks.1.hook_resid_post"], xlens::run_with_cache(m, other).cache["blocks.1.hook_resid_post"]) == 0.0f);
    xlens::release_activation_memory();
}

TEST_CASE("a cache with static storage outlives the thread's spares without touching them") {
    // Destroyed at exit after the main thread's thread_local objects; under the sanitizer build a
    // cache that reached for the destroyed spares there was a heap-use-after-free.
    static xlens::activation_cache survivor;
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::run_with_cache(m, tokens, survivor);
    { auto made_spares = xlens::run_with_cache(m, tokens); }
    CHECK(survivor.size() == xlens::all_hook_points(m.config()).size());
}
