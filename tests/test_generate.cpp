// Generation, sampling and the token probe: properties that must hold for any model. Agreement with
// transformers' generate and hidden states is tools/reference/compare_generation.py's job.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>

#include <xlens/analysis/token_probe.hpp>
#include <xlens/report/probe_text.hpp>
#include <xlens/run/generate.hpp>
#include <xlens/text/chat_template.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "test_data.hpp"
#include "tiny_model.hpp"
#include "helpers.hpp"

namespace {


/// Greedy generation's step logits against one full run over prompt + generated tokens.
float max_step_vs_rerun(const xlens::model& m, const std::vector<xlens::token_id>& prompt, std::size_t n) {
    xlens::generate_options o;
    o.max_new_tokens = n;
    o.keep_logits = true;
    xlens::generation g = xlens::generate(m, prompt, o);
    REQUIRE(g.tokens.size() == n);
    std::vector<xlens::token_id> all = prompt;
    all.insert(all.end(), g.tokens.begin(), g.tokens.end());
    xlens::activation full = xlens::run(m, all);
    const std::size_t V = m.config().d_vocab;
    float worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const float* row = full.data() + (prompt.size() - 1 + i) * V;
        for (std::size_t v = 0; v < V; ++v) worst = std::max(worst, std::abs(row[v] - g.logits[i][v]));
        CHECK(xlens::argmax(row, V) == g.tokens[i]);  // greedy: each token is the re-run's argmax
    }
    return worst;
}

}  // namespace

TEST_CASE("KV-cached generation gives the logits of a full re-run (within 1e-4)") {
    for (std::string family : {"llama", "gpt2", "gpt_neox", "qwen2", "qwen3", "olmo2", "gemma2", "gemma3"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        CHECK(max_step_vs_rerun(m, {3, 1, 4, 1, 5}, 20) <= 1e-4f);
    }
    if (auto path = test::smollm2_path(); !path.empty()) {
        auto m = xlens::model::load(path);
        float worst = max_step_vs_rerun(m, {504, 414, 46682, 18669, 314, 281}, 16);
        MESSAGE("SmolLM2: max |step logits - re-run logits| = " << worst);
        CHECK(worst <= 1e-4f);
    }
}

TEST_CASE("generate: budget, stop tokens, full context, callback, bad input") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::generate_options o;
    o.max_new_tokens = 7;
    auto g = xlens::generate(m, {1, 2, 3}, o);
    CHECK(g.tokens.size() == 7);
    CHECK(g.reason == xlens::stop_reason::budget);

    o.stop_tokens = {g.tokens[2]};  // greedy is deterministic: the third token now ends it
    auto stopped = xlens::generate(m, {1, 2, 3}, o);
    CHECK(stopped.reason == xlens::stop_reason::stop_token);
    CHECK(stopped.tokens.size() <= 3);
    CHECK(stopped.tokens.back() == g.tokens[2]);

    o.stop_tokens.clear();
    o.max_new_tokens = 1000;  // more than the tiny model's context
    auto full = xlens::generate(m, {1, 2, 3}, o);
    CHECK(full.reason == xlens::stop_reason::context_full);
    CHECK(full.tokens.size() == m.config().n_ctx - 3 + 1);  // the last one is chosen but never read

    std::size_t seen = 0;
    auto cut = xlens::generate(m, {1, 2, 3}, o, [&](xlens::token_id) { return ++seen < 4; });
    CHECK(cut.reason == xlens::stop_reason::callback);
    CHECK(cut.tokens.size() == 4);

    o.max_new_tokens = 0;  // documented: nothing to generate is not an error
    CHECK(xlens::generate(m, {1, 2, 3}, o).tokens.empty());
    test::expect_error<xlens::input_error>([&] { (void)xlens::generate(m, {}, o); }, 501, {"empty prompt"});
    std::vector<xlens::token_id> too_long(65, 1);
    test::expect_error<xlens::input_error>([&] { (void)xlens::generate(m, too_long, o); }, 503, {"longer than the model's context"});
    o.max_new_tokens = 5;
    test::expect_error<xlens::input_error>([&] { (void)xlens::generate(m, too_long, o); }, 503, {"longer than the model's context"});
}

TEST_CASE("sampling: seeded, reproducible, filters as documented, bad options refused") {
    const std::vector<float> logits = {0.0f, std::log(3.0f), -1e9f, 1.0f};
    auto draw = [&](xlens::sampling_options s, int n) {
        xlens::sampler pick(s);
        std::vector<xlens::token_id> out;
        for (int i = 0; i < n; ++i) out.push_back(pick(logits.data(), logits.size()));
        return out;
    };
    xlens::sampling_options s;
    s.temperature = 1.0f;
    s.seed = 42;
    CHECK(draw(s, 200) == draw(s, 200));  // same seed, same choices
    auto other = s;
    other.seed = 43;
    CHECK(draw(s, 200) != draw(other, 200));

    // Frequencies follow softmax: p(1) = 3 / (1 + 3 + e) at temperature 1.
    auto many = draw(s, 40000);
    double p1 = std::count(many.begin(), many.end(), 1) / 40000.0;
    CHECK(std::abs(p1 - 3.0 / (4.0 + std::exp(1.0))) < 0.01);
    CHECK(std::count(many.begin(), many.end(), 2) == 0);

    auto k1 = s;  // top_k = 1 is greedy whatever the temperature
    k1.top_k = 1;
    k1.temperature = 5.0f;
    for (auto t : draw(k1, 50)) CHECK(t == 1);
    auto k2 = s;  // top_k = 2 keeps tokens 1 and 3 only
    k2.top_k = 2;
    for (auto t : draw(k2, 500)) CHECK((t == 1 || t == 3));
    auto nucleus = s;  // p(1) ≈ 0.45 < 0.5: the nucleus needs tokens 1 and 3
    nucleus.top_p = 0.5f;
    auto nuc = draw(nucleus, 2000);
    CHECK(std::count(nuc.begin(), nuc.end(), 0) == 0);
    CHECK(std::count(nuc.begin(), nuc.end(), 3) > 0);
    nucleus.top_p = 0.01f;  // the most likely token alone
    for (auto t : draw(nucleus, 50)) CHECK(t == 1);

    xlens::sampling_options greedy;
    CHECK(draw(greedy, 3) == std::vector<xlens::token_id>{1, 1, 1});

    for (float bad_t : {-0.5f, NAN, INFINITY}) {
        xlens::sampling_options b;
        b.temperature = bad_t;
        test::expect_error<xlens::input_error>([&] { xlens::sampler pick(b); }, 520, {"temperature"});
    }
    for (float bad_p : {0.0f, -0.1f, 1.5f, NAN}) {
        xlens::sampling_options b;
        b.top_p = bad_p;
        test::expect_error<xlens::input_error>([&] { xlens::sampler pick(b); }, 521, {"top_p"});
    }
}

TEST_CASE("token probe on SmolLM2: distributions, argmax choice, last lens = output, attention rows") {
    auto path = test::smollm2_path();
    if (path.empty()) {
        MESSAGE("XLENS_MODEL_GGUF not set: SmolLM2 probe test skipped");
        return;
    }
    auto m = xlens::model::load(path);
    auto tok = xlens::load_tokenizer(path);
    xlens::probe_options o;
    o.max_new_tokens = 3;
    o.top_k = 8;
    const std::string prompt = "The Eiffel Tower is in";
    xlens::probe_result r = xlens::probe(m, tok, prompt, o);
    const auto& c = m.config();
    const std::vector<xlens::token_id> prompt_ids = tok.encode(prompt);
    REQUIRE(r.steps.size() == prompt_ids.size() + 3);

    std::vector<xlens::token_id> all;
    for (const auto& s : r.steps) all.push_back(s.token);
    xlens::activation logits = xlens::run(m, all);
    for (std::size_t t = 0; t < r.steps.size(); ++t) {
        const auto& s = r.steps[t];
        CAPTURE(t);
        CHECK(s.position == t);
        CHECK(s.generated == (t >= prompt_ids.size()));
        REQUIRE(s.resid_norm.size() == c.n_layers + 1);
        REQUIRE(s.lens.size() == c.n_layers);
        REQUIRE(s.attention.size() == c.n_layers);
        // The whole output distribution sums to 1, and the probe's candidates are its top entries.
        std::vector<double> p = xlens::softmax(logits.data() + t * c.d_vocab, c.d_vocab);
        CHECK(std::abs(std::accumulate(p.begin(), p.end(), 0.0) - 1.0) < 1e-5);
        double top_mass = 0;
        for (std::size_t k = 0; k < s.candidates.size(); ++k) {
            CHECK(std::abs(s.candidates[k].prob - p[s.candidates[k].id]) < 1e-5);
            if (k) CHECK(s.candidates[k].prob <= s.candidates[k - 1].prob);
            top_mass += s.candidates[k].prob;
        }
        CHECK(top_mass <= 1.0 + 1e-5);
        // The last layer's lens is the model's output distribution.
        for (std::size_t k = 0; k < s.lens.back().size(); ++k) {
            CHECK(s.lens.back()[k].id == s.candidates[k].id);
            CHECK(std::abs(s.lens.back()[k].prob - s.candidates[k].prob) < 1e-5);
        }
        // Attention: a head's row is a distribution over positions 0..t.
        for (const auto& layer : s.attention) {
            REQUIRE(layer.size() == c.attn.n_heads);
            for (const auto& head : layer) {
                float mass = 0;
                for (const auto& a : head) {
                    CHECK(a.position <= t);
                    mass += a.weight;
                }
                CHECK(mass <= 1.0f + 1e-5f);
                CHECK(mass > 0.0f);
            }
        }
        if (t + 1 < r.steps.size()) {
            REQUIRE(s.chosen.has_value());
            CHECK(s.chosen->id == r.steps[t + 1].token);
            if (s.rule == "argmax") {  // temperature 0: the chosen token is the argmax, rank 1
                CHECK(s.chosen->id == xlens::argmax(logits.data() + t * c.d_vocab, c.d_vocab));
                CHECK(s.chosen->rank == 1);
            } else {
                CHECK(s.rule == "prompt");
            }
        } else {
            CHECK_FALSE(s.chosen.has_value());
        }
    }
    CHECK(r.steps[prompt_ids.size() - 1].rule == "argmax");
    CHECK(r.steps[prompt_ids.size()].text == " Paris");  // the fact the demo shows

    const std::string table = xlens::probe_table(r, false);
    CHECK(table.find("→ Paris (") != std::string::npos);
    CHECK(table.find("\033[") == std::string::npos);  // no colour codes when not asked
    CHECK(xlens::probe_table(r, true).find("\033[") != std::string::npos);

    nlohmann::json j = xlens::to_json(r, m);
    CHECK(j["steps"].size() == r.steps.size());
    CHECK(j["steps"].back()["next"]["chosen"].is_null());
    CHECK(j["sampling"]["rule"] == "argmax");
}

TEST_CASE("token probe: bad input") {
    auto path = test::smollm2_path();
    if (path.empty()) return;
    auto m = xlens::model::load(path);
    auto tok = xlens::load_tokenizer(path);
    auto expect = [&](int id, const std::string& prompt, const xlens::probe_options& o) {
        test::expect_error<xlens::input_error>([&] { (void)xlens::probe(m, tok, prompt, o); }, id, {});
    };
    expect(512, "", {});
    xlens::probe_options too_many;
    too_many.max_new_tokens = m.config().n_ctx;
    expect(503, "Hello", too_many);
    xlens::probe_options no_top;
    no_top.top_k = 0;
    expect(523, "Hello", no_top);
    xlens::probe_options hot;
    hot.sampling.temperature = -1;
    expect(520, "Hello", hot);

    // Sampling with a seed: reproducible, recorded as the rule.
    xlens::probe_options s;
    s.max_new_tokens = 4;
    s.sampling.temperature = 0.9f;
    s.sampling.seed = 11;
    auto a = xlens::probe(m, tok, "Once upon a time", s), b = xlens::probe(m, tok, "Once upon a time", s);
    REQUIRE(a.steps.size() == b.steps.size());
    for (std::size_t i = 0; i < a.steps.size(); ++i) CHECK(a.steps[i].token == b.steps[i].token);
    CHECK(a.steps[3].rule == "sample");
}

TEST_CASE("chat template: ChatML rendered with the template's default system message; others refused") {
    auto path = test::smollm2_path();
    if (path.empty()) return;
    auto tok = xlens::load_tokenizer(path);
    std::string p = xlens::apply_chat_template(tok, {{"user", "Hi"}});
    CHECK(p.rfind("<|im_start|>system\n", 0) == 0);
    CHECK(p.find("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") != std::string::npos);
    std::string with_system = xlens::apply_chat_template(tok, {{"system", "Be brief."}, {"user", "Hi"}}, false);
    CHECK(with_system == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
    test::expect_error<xlens::input_error>([&] { (void)xlens::apply_chat_template(tok, {}); }, 516, {"message"});
}

TEST_CASE("chat template: the default system message is the first plain literal; non-ChatML refused") {
    auto with_template = [](std::string tmpl) {
        xlens::tokenizer_spec spec;
        spec.source = "test";
        spec.chat_template = std::move(tmpl);
        return xlens::tokenizer(std::move(spec));
    };
    // Shaped like Qwen2.5's: a system turn opened in the tools branch (Jinja), the default one later.
    auto qwen = with_template(
        "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
        "{%- endif %}{{- '<|im_end|>\\n' }}{%- else %}{%- if messages[0]['role'] != 'system' %}"
        "{{- '<|im_start|>system\\nYou are Qwen.\\nBe helpful.<|im_end|>\\n' }}{%- endif %}{%- endif %}");
    CHECK(xlens::apply_chat_template(qwen, {{"user", "Hi"}}) ==
          "<|im_start|>system\nYou are Qwen.\nBe helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    auto bare = with_template("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}");
    CHECK(xlens::apply_chat_template(bare, {{"user", "Hi"}}, false) == "<|im_start|>user\nHi<|im_end|>\n");
    auto llama = with_template("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>{% endfor %}");
    test::expect_error<xlens::config_error>([&] { (void)xlens::apply_chat_template(llama, {{"user", "Hi"}}); }, 315, {"not ChatML"});
    auto none = with_template("");
    test::expect_error<xlens::config_error>([&] { (void)xlens::apply_chat_template(none, {{"user", "Hi"}}); }, 315, {"no chat template"});
}

TEST_CASE("sampling: NaN and infinite logits never produce garbage") {
    const std::vector<float> with_nan = {NAN, 1.0f, 2.0f, NAN};
    xlens::sampling_options s;
    s.temperature = 1.0f;
    s.seed = 5;
    xlens::sampler pick(s);
    for (int i = 0; i < 200; ++i) {
        auto t = pick(with_nan.data(), with_nan.size());
        CHECK((t == 1 || t == 2));
    }
    const std::vector<float> with_inf = {0.0f, INFINITY, 1.0f};
    for (int i = 0; i < 20; ++i) CHECK(pick(with_inf.data(), with_inf.size()) == 1);
    xlens::sampling_options cold = s;
    cold.temperature = 1e-30f;  // logits / T overflow float; computed in double it is argmax
    xlens::sampler frozen(cold);
    const std::vector<float> row = {0.5f, 3.0f, 2.0f};
    for (int i = 0; i < 20; ++i) CHECK(frozen(row.data(), row.size()) == 1);
}
