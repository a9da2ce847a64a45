// Logit lens, direct logit attribution and activation patching: properties that hold for any weights
// (sums, exact corner cases, resumed runs equal full reruns). Agreement with TransformerLens is
// tools/reference/compare_analysis.py's job.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>

#include <xtensor/xview.hpp>

#include <xlens/analysis/activation_patching.hpp>
#include <xlens/analysis/direct_logit_attribution.hpp>
#include <xlens/analysis/logit_lens.hpp>
#include <xlens/model/model.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "test_data.hpp"
#include "tiny_model.hpp"
#include "helpers.hpp"

namespace {

const char* families[] = {"gpt2", "gpt_neox", "llama", "qwen2", "mistral"};

std::vector<xlens::token_id> prompt_tokens() { return {3, 17, 5, 40, 22, 9, 31, 2}; }


}  // namespace

TEST_CASE("logit lens grid: last row is the model's logits, rows are the lens of each resid_pre, targets ranked") {
    for (const char* family : families) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        auto tokens = prompt_tokens();
        xlens::lens_options o;
        o.top_k = 4;
        o.target = 7;
        o.keep_logits = true;
        auto r = xlens::logit_lens(m, tokens, o);
        REQUIRE(r.layers.size() == c.n_layers + 1);
        CHECK(r.layers.front() == "0_pre");
        CHECK(r.layers.back() == "final_post");
        const std::size_t T = tokens.size(), V = c.d_vocab;
        auto [logits, cache] = xlens::run_with_cache(m, tokens);
        xlens::activation last = xt::view(r.logits, c.n_layers);
        CHECK(test::max_abs_diff(last, logits) == 0.0);
        xlens::activation lens1 = xlens::logit_lens(m, cache.at({xlens::hook_kind::resid_pre, 1}));
        xlens::activation row1 = xt::view(r.logits, 1);
        CHECK(test::max_abs_diff(row1, lens1) < 1e-6);
        for (std::size_t l = 0; l <= c.n_layers; ++l)
            for (std::size_t t = 0; t < T; ++t) {
                const auto& top = r.top[l][t];
                REQUIRE(top.size() == 4);
                const float* row = r.logits.data() + (l * T + t) * V;
                CHECK(top[0].id == xlens::argmax(row, V));
                for (std::size_t k = 1; k < top.size(); ++k) CHECK(top[k].logit <= top[k - 1].logit);
                const auto& target = r.target_cells[l][t];
                CHECK(target.logit == row[7]);
                std::size_t above = 0;
                for (std::size_t v = 0; v < V; ++v) above += row[v] > row[7];
                CHECK(target.rank >= above + 1);
                for (const auto& p : top)
                    if (p.id == 7) CHECK(p.rank == target.rank);
            }
        // The frozen-scale lens agrees on the last row and differs elsewhere.
        o.norm = xlens::lens_norm::frozen;
        auto frozen = xlens::logit_lens(m, tokens, o);
        xlens::activation frozen_last = xt::view(frozen.logits, c.n_layers);
        CHECK(test::max_abs_diff(frozen_last, logits) == 0.0);
        xlens::activation frozen0 = xt::view(frozen.logits, 0), recomputed0 = xt::view(r.logits, 0);
        CHECK(test::max_abs_diff(frozen0, recomputed0) > 1e-3);
        auto j = xlens::to_json(r);
        CHECK(j["schema"] == "xlens.lens/1");
        CHECK(j["cells"].size() == c.n_layers + 1);
        CHECK(j["cells"][0].size() == T);
        CHECK(j["cells"][2][3]["target"]["rank"] == r.target_cells[2][3].rank);
    }
}

TEST_CASE("logit lens grid: bad input") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::lens_options o;
    test::expect_error<xlens::input_error>([&] { xlens::logit_lens(m, std::vector<xlens::token_id>{}, o); }, 501, {"empty"});
    o.target = 53;
    test::expect_error<xlens::input_error>([&] { xlens::logit_lens(m, prompt_tokens(), o); }, 534, {"target", "53"});
    o.target.reset();
    o.top_k = 0;
    test::expect_error<xlens::input_error>([&] { xlens::logit_lens(m, prompt_tokens(), o); }, 523, {"top_k"});
}

TEST_CASE("direct logit attribution: the parts sum to the logit on every family, heads equal hook_result") {
    for (const char* family : families) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        auto tokens = prompt_tokens();
        for (std::size_t pos : {std::size_t(7), std::size_t(3)})
            for (bool versus : {false, true}) {
                xlens::attribution_options o;
                o.target = 11;
                if (versus) o.versus = 29;
                o.position = pos;
                auto r = xlens::direct_logit_attribution(m, tokens, o);
                auto logits = xlens::run(m, tokens);
                const double expected = logits(pos, 11) - (versus ? logits(pos, 29) : 0.0f);
                CHECK(std::fabs(r.model_value - expected) < 1e-6);
                CHECK(std::fabs(r.total - r.model_value) < 1e-3);
                std::size_t heads = 0, mlps = 0;
                for (const auto& part : r.components) heads += part.kind == xlens::component_kind::head, mlps += part.kind == xlens::component_kind::mlp;
                CHECK(heads == c.n_layers * c.attn.n_heads);
                CHECK(mlps == c.n_layers);

                // Each head's share, recomputed from its own write (hook_result) and the frozen scale.
                auto [lg, cache] = xlens::run_with_cache(m, tokens);
                const std::size_t d = c.d_model, H = c.attn.n_heads;
                auto dir = xlens::blocks::unembed_direction(m.weights().unembed, 11);
                if (versus) {
                    auto other = xlens::blocks::unembed_direction(m.weights().unembed, 29);
                    for (std::size_t i = 0; i < d; ++i) dir[i] -= other[i];
                }
                const float s = cache.at({xlens::hook_kind::ln_final_scale, -1}).data()[pos];
                const bool ln = c.norm.kind == xlens::norm_kind::layer_norm;
                for (const auto& part : r.components) {
                    if (part.kind != xlens::component_kind::head) continue;
                    const auto& result = cache.at({xlens::hook_kind::result, part.layer});  // [T, H, d]
                    const float* x = result.data() + (pos * H + static_cast<std::size_t>(part.head)) * d;
                    double mean = 0;
                    if (ln) for (std::size_t i = 0; i < d; ++i) mean += x[i];
                    mean /= double(d);
                    double expected_share = 0;
                    for (std::size_t i = 0; i < d; ++i) expected_share += (x[i] - mean) / s * m.weights().ln_final.w.data[i] * dir[i];
                    CHECK(std::fabs(part.value - expected_share) < 1e-5);
                }
            }
    }
}

TEST_CASE("direct logit attribution on SmolLM2: the receipt sums to the logit") {
    const std::string path = test::smollm2_path();
    if (path.empty()) {
        MESSAGE("skipped: XLENS_MODEL_GGUF is not set");
        return;
    }
    auto m = xlens::model::load(path);
    auto tok = xlens::load_tokenizer(path);
    auto tokens = tok.encode("The Eiffel Tower is in the city of");
    xlens::attribution_options o;
    o.target = xlens::single_token(tok, " Paris");
    o.versus = xlens::single_token(tok, " London");
    auto r = xlens::direct_logit_attribution(m, tokens, o);
    CHECK(std::fabs(r.total - r.model_value) < 1e-3);
    CHECK(r.model_value > 0);  // the model prefers Paris
    CHECK(r.components.size() == 1 + 30 * 9 + 30);
    test::expect_error<xlens::input_error>([&] { xlens::single_token(tok, " Parisian"); }, 536, {"2 tokens", "' Paris' + 'ian'"});
    test::expect_error<xlens::input_error>([&] { xlens::single_token(tok, ""); }, 536, {"0 tokens"});
}

TEST_CASE("direct logit attribution: bad input") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    xlens::attribution_options o;
    o.target = 60;
    test::expect_error<xlens::input_error>([&] { xlens::direct_logit_attribution(m, prompt_tokens(), o); }, 534, {"target", "60"});
    o.target = 1;
    o.versus = -2;
    test::expect_error<xlens::input_error>([&] { xlens::direct_logit_attribution(m, prompt_tokens(), o); }, 534, {"versus"});
    o.versus.reset();
    o.position = 8;
    test::expect_error<xlens::input_error>([&] { xlens::direct_logit_attribution(m, prompt_tokens(), o); }, 531, {"position 8", "8-token"});
    o.position.reset();
    test::expect_error<xlens::input_error>([&] { xlens::direct_logit_attribution(m, {}, o); }, 501, {"empty"});
}

TEST_CASE("forward_from_layer: resuming at a block from its cached resid_pre and kv prefix gives the same stream") {
    for (const char* family : {"gpt2", "gpt_neox", "llama"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        auto tokens = prompt_tokens();
        auto [logits, cache] = xlens::run_with_cache(m, tokens);
        const auto& final_resid = cache.at({xlens::hook_kind::resid_post, int(c.n_layers) - 1});
        // From block 1, positions 3…7, with positions 0…2 from the kv cache.
        const xlens::hook_kind keys = c.attn.positions == xlens::position_kind::rotary ? xlens::hook_kind::rot_k : xlens::hook_kind::k;
        xlens::kv_cache kv = xlens::make_kv_cache(m);
        std::vector<const float*> k(c.n_layers), v(c.n_layers);
        for (std::size_t L = 1; L < c.n_layers; ++L) {
            k[L] = cache.at({keys, int(L)}).data();
            v[L] = cache.at({xlens::hook_kind::v, int(L)}).data();
        }
        kv.assign_prefix(3, 1, k, v);
        xlens::activation resid = xt::view(cache.at({xlens::hook_kind::resid_pre, 1}), xt::range(3, 8));
        xlens::run_options o;
        o.kv = &kv;
        xlens::activation out = xlens::forward_from_layer(m, resid, 1, o);
        xlens::activation expected = xt::view(final_resid, xt::range(3, 8));
        CHECK(test::max_abs_diff(out, expected) < 1e-5);
        CHECK(kv.length() == 8);
        test::expect_error<xlens::input_error>([&] { xlens::forward_from_layer(m, resid, c.n_layers); }, 505, {"block"});
        xlens::activation wrong = xlens::activation::from_shape({2, c.d_model + 1});
        test::expect_error<xlens::input_error>([&] { xlens::forward_from_layer(m, wrong, 0); }, 505, {"[T, "});
    }
}

TEST_CASE("activation patching: resumed runs equal full reruns for every target, direction and family") {
    for (const char* family : {"gpt2", "gpt_neox", "llama"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        std::vector<xlens::token_id> clean = prompt_tokens(), corrupted = clean;
        corrupted[2] = 44;
        corrupted[5] = 12;
        for (auto target : {xlens::patch_target::resid_pre, xlens::patch_target::attn_out, xlens::patch_target::mlp_out,
                            xlens::patch_target::head, xlens::patch_target::head_by_position})
            for (auto direction : {xlens::patch_direction::denoising, xlens::patch_direction::noising}) {
                CAPTURE(xlens::patch_target_name(target));
                CAPTURE(int(direction));
                xlens::patching_options o;
                o.target = target;
                o.direction = direction;
                o.answer = 11;
                o.wrong = 29;
                auto fast = xlens::activation_patching(m, clean, corrupted, o);
                o.method = xlens::patching_method::full_rerun;
                o.threads = 1;
                auto slow = xlens::activation_patching(m, clean, corrupted, o);
                REQUIRE(fast.values.shape() == slow.values.shape());
                double worst = 0;
                for (std::size_t i = 0; i < fast.values.size(); ++i)
                    worst = std::max(worst, std::fabs(fast.values.data()[i] - slow.values.data()[i]));
                CHECK(worst < 1e-4);
                CHECK(fast.runs + fast.unchanged == fast.values.size());
                if (target != xlens::patch_target::head) CHECK(fast.unchanged > 0);  // positions before the first difference
            }
    }
}

TEST_CASE("activation patching: exact corner cases, custom metrics, threads") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    const auto& c = m.config();
    std::vector<xlens::token_id> clean = prompt_tokens(), corrupted = clean;
    corrupted[4] = 44;  // one differing position
    xlens::patching_options o;
    o.answer = 11;
    o.wrong = 29;
    auto r = xlens::activation_patching(m, clean, corrupted, o);
    REQUIRE(r.values.shape()[0] == c.n_layers);
    REQUIRE(r.values.shape()[1] == clean.size());
    // Layer 0's resid_pre at the differing position is the whole difference: patching it restores the clean run.
    CHECK(r.values(0, 4) == doctest::Approx(1.0).epsilon(1e-4));
    for (std::size_t t = 0; t < clean.size(); ++t)
        if (t != 4) CHECK(r.values(0, t) == 0.0);
    for (std::size_t L = 0; L < c.n_layers; ++L)
        for (std::size_t t = 0; t < 4; ++t) CHECK(r.values(L, t) == 0.0);  // before the difference nothing changes
    // Noising: putting the corrupted token's embedding into the clean run gives the corrupted run.
    o.direction = xlens::patch_direction::noising;
    auto noised = xlens::activation_patching(m, clean, corrupted, o);
    CHECK(noised.values(0, 4) == doctest::Approx(0.0).scale(1).epsilon(1e-4));
    CHECK(noised.values(0, 0) == 1.0);
    // The same sweep on one thread and on two, and with a user metric (unnormalised).
    o.direction = xlens::patch_direction::denoising;
    o.threads = 1;
    auto one = xlens::activation_patching(m, clean, corrupted, o);
    o.threads = 2;
    auto two = xlens::activation_patching(m, clean, corrupted, o);
    for (std::size_t i = 0; i < one.values.size(); ++i) CHECK(std::fabs(one.values.data()[i] - two.values.data()[i]) < 1e-6);
    o.metric = [](const xlens::run_outcome& out) { return double(out.logits()(out.positions() - 1, 11)); };
    o.normalise = false;
    auto custom = xlens::activation_patching(m, clean, corrupted, o);
    CHECK(custom.clean_metric == doctest::Approx(xlens::run(m, clean)(7, 11)).epsilon(1e-5));
    CHECK(custom.values(0, 4) == doctest::Approx(custom.clean_metric).epsilon(1e-4));
    // A chosen subset of layers and heads gives exactly those cells of the whole sweep.
    xlens::patching_options all_heads;
    all_heads.answer = 11;
    all_heads.wrong = 29;
    all_heads.target = xlens::patch_target::head;
    auto every = xlens::activation_patching(m, clean, corrupted, all_heads);
    all_heads.layers = {1};
    all_heads.heads = {0, 4};
    auto some = xlens::activation_patching(m, clean, corrupted, all_heads);
    REQUIRE(some.values.shape()[0] == 1);
    REQUIRE(some.values.shape()[1] == 2);
    CHECK(some.layers == std::vector<std::size_t>{1});
    CHECK(some.values(0, 0) == every.values(1, 0));
    CHECK(some.values(0, 1) == every.values(1, 4));
    auto j = xlens::to_json(r);
    CHECK(j["schema"] == "xlens.patching/1");
    CHECK(j["values"][0][4].get<double>() == r.values(0, 4));
}

TEST_CASE("activation patching: bad input") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    auto clean = prompt_tokens();
    xlens::patching_options o;
    o.answer = 11;
    o.wrong = 29;
    auto shorter = clean;
    shorter.pop_back();
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, shorter, o); }, 533, {"8 tokens", "7", "equal lengths"});
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, {}, {}, o); }, 501, {"clean", "empty"});
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, clean, o); }, 535, {"cannot be normalised"});
    auto corrupted = clean;
    corrupted[1] = 4;
    o.wrong = 99;
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, corrupted, o); }, 534, {"wrong", "99"});
    o.answer = o.wrong = -1;
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, corrupted, o); }, 537, {"metric"});
    test::expect_error<xlens::input_error>([&] { xlens::parse_patch_target("resid_mid"); }, 538, {"resid_mid"});
    o.answer = 11;
    o.wrong = 29;
    o.layers = {0, 2};
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, corrupted, o); }, 532, {"layer 2 is out of range", "2 layers"});
    o.layers = {1, 0};
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, corrupted, o); }, 532, {"ascending"});
    o.layers = {};
    o.target = xlens::patch_target::head;
    o.heads = {0, 3};
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, corrupted, o); }, 532, {"head 3 is out of range", "3 heads"});
    o.heads = {};
    o.target = xlens::patch_target::resid_pre;
    corrupted[3] = 70;
    o.answer = 1;
    o.wrong = 2;
    test::expect_error<xlens::input_error>([&] { xlens::activation_patching(m, clean, corrupted, o); }, 502, {"70"});
}
