// FFN neurons, rules and edits: value tables equal a brute-force projection, harvested activations
// equal run_with_cache's, a resumed harvest equals an uninterrupted one, rules.json round-trips and
// its schema errors name the field, the engine's receipts add up, edits change exactly what they
// should. Agreement with transformers is tools/reference/compare_neurons.py's job.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>

#include <xlens/analysis/direct_logit_attribution.hpp>
#include <xlens/analysis/interventions.hpp>
#include <xlens/analysis/neuron_harvest.hpp>
#include <xlens/analysis/neuron_values.hpp>
#include <xlens/analysis/rule_engine.hpp>
#include <xlens/analysis/rules.hpp>
#include <xlens/model/model.hpp>
#include <xlens/model/random_init.hpp>
#include <xlens/text/corpus.hpp>

#include "tiny_model.hpp"

namespace {

/// W[i, j] of a linear layer y_i = Σ_j W[i, j] x_j, whichever way it is stored.
float element(const xlens::linear_weight& l, std::size_t i, std::size_t j) {
    return l.in_by_out ? l.w.data[j * l.d_out() + i] : l.w.data[i * l.d_in() + j];
}

std::vector<std::vector<xlens::token_id>> random_windows(const xlens::model& m, std::size_t count, std::size_t length, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, static_cast<int>(m.config().d_vocab) - 1);
    std::vector<std::vector<xlens::token_id>> out(count);
    for (auto& w : out)
        for (std::size_t t = 0; t < length; ++t) w.push_back(pick(rng));
    for (std::size_t t = 0; t < 4; ++t) out[1][t + 4] = out[0][t];  // repeated bigrams give triggers company
    return out;
}

/// What rules are built from: value tables (k tokens), a harvest (3 contexts per neuron) over random windows.
struct rule_inputs {
    std::vector<std::vector<xlens::token_id>> windows;
    xlens::neuron_value_table values;
    xlens::neuron_harvester keys;
    rule_inputs(const xlens::model& m, std::size_t k, unsigned seed)
        : windows(random_windows(m, 6, 16, seed)), values(xlens::neuron_values(m, {k})), keys(m, {3}) {
        for (const auto& w : windows) keys.add(w);
    }
    xlens::rule_set build(const xlens::model& m, xlens::rule_options o) const {
        return xlens::build_rules(m, values, keys, windows, nullptr, o);
    }
};

template <class F>
void check_error(F&& f, int id, const std::string& words) {
    try {
        f();
        FAIL("no error thrown; expected " << id);
    } catch (const xlens::error& e) {
        CHECK(e.id() == id);
        CHECK_MESSAGE(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
}

}  // namespace

TEST_CASE("neuron values: streamed top-k equals a brute-force projection through the final gain") {
    for (const char* family : {"gpt2", "llama", "gpt_neox", "qwen2"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        const auto& w = m.weights();
        xlens::neuron_value_options o;
        o.k = 5;
        o.vocab_block = 7;  // blocks that do not divide the vocabulary
        auto table = xlens::neuron_values(m, o);
        o.vocab_block = 4096;
        auto one_block = xlens::neuron_values(m, o);
        REQUIRE(table.neurons.size() == c.n_layers * c.mlp.d_mlp);
        for (std::size_t L = 0; L < c.n_layers; ++L)
            for (std::size_t n = 0; n < c.mlp.d_mlp; ++n) {
                std::vector<double> u(c.d_model);
                double mean = 0;
                for (std::size_t j = 0; j < c.d_model; ++j) mean += u[j] = element(w.layers[L].mlp.out, j, n);
                mean = c.norm.kind == xlens::norm_kind::layer_norm ? mean / double(c.d_model) : 0.0;
                for (std::size_t j = 0; j < c.d_model; ++j) u[j] = (u[j] - mean) * w.ln_final.w.data[j];
                std::vector<std::pair<double, int>> scores;
                double total = 0;
                for (std::size_t t = 0; t < c.d_vocab; ++t) {
                    double s = 0;
                    for (std::size_t j = 0; j < c.d_model; ++j) s += u[j] * element(w.unembed, t, j);
                    scores.push_back({s, int(t)});
                    total += s;
                }
                std::sort(scores.begin(), scores.end(), [](auto a, auto b) { return a.first > b.first; });
                const auto& got = table.at(L, n);
                CHECK(std::abs(got.mean_score - total / double(c.d_vocab)) < 1e-4);
                REQUIRE(got.promoted.size() == 5);
                REQUIRE(got.suppressed.size() == 5);
                for (std::size_t i = 0; i < 5; ++i) {
                    CHECK(got.promoted[i].token == scores[i].second);
                    CHECK(std::abs(got.promoted[i].score - scores[i].first) < 1e-4);
                    CHECK(got.suppressed[i].token == scores[scores.size() - 1 - i].second);
                    CHECK(std::abs(got.suppressed[i].score - scores[scores.size() - 1 - i].first) < 1e-4);
                    CHECK(one_block.at(L, n).promoted[i].token == got.promoted[i].token);
                }
            }
    }
}

TEST_CASE("neuron values and harvest: bad input") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::neuron_value_options o;
    o.k = 0;
    check_error([&] { xlens::neuron_values(m, o); }, 550, "must be between 1 and 53");
    o.k = 54;
    check_error([&] { xlens::neuron_values(m, o); }, 550, "not 54");
    o.k = 3;
    o.layers = {2};
    check_error([&] { xlens::neuron_values(m, o); }, 551, "layer 2 is out of range: the model has 2 layers");
    o.layers = {1};
    auto t = xlens::neuron_values(m, o);
    check_error([&] { t.at(1, 36); }, 551, "neuron 36 is out of range");
    check_error([&] { t.at(0, 0); }, 551, "layer 0 was not computed");
    check_error([&] { xlens::neuron_harvester(m, {0}); }, 550, "at least 1");
    check_error([&] { xlens::neuron_harvester(m, {3, 1, {7}}); }, 551, "layer 7");
}

TEST_CASE("harvest: activations, means and top contexts equal run_with_cache's") {
    for (const char* family : {"gpt2", "llama"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        auto windows = random_windows(m, 4, 12, 3);
        xlens::neuron_harvester h(m, {3});
        for (const auto& w : windows) h.add(w);
        CHECK(h.positions() == 4 * 11);
        std::vector<xlens::cached_run> runs;
        for (const auto& w : windows) runs.push_back(xlens::run_with_cache(m, w));
        double inverse_scale = 0;
        std::vector<double> probabilities(c.d_vocab, 0.0);
        for (const auto& r : runs)
            for (std::size_t t = 1; t < 12; ++t) {
                inverse_scale += 1.0 / r.cache.at({xlens::hook_kind::ln_final_scale, -1}).data()[t];
                double z = 0;
                for (std::size_t v = 0; v < c.d_vocab; ++v) z += std::exp(double(r.logits(t, v)));
                for (std::size_t v = 0; v < c.d_vocab; ++v) probabilities[v] += std::exp(double(r.logits(t, v))) / z;
            }
        CHECK(std::abs(h.mean_inverse_final_scale() - inverse_scale / 44) < 1e-9);
        auto mean_p = h.mean_probabilities();
        for (std::size_t v = 0; v < c.d_vocab; ++v) CHECK(std::abs(mean_p[v] - probabilities[v] / 44) < 1e-7);
        for (std::size_t L = 0; L < c.n_layers; ++L)
            for (std::size_t n = 0; n < c.mlp.d_mlp; ++n) {
                std::vector<xlens::activating_context> all;
                double sum = 0, positive = 0, scaled = 0;
                for (std::size_t w = 0; w < 4; ++w)
                    for (std::size_t t = 1; t < 12; ++t) {
                        const float a = runs[w].cache.at({xlens::hook_kind::mlp_post, int(L)})(t, n);
                        all.push_back({std::uint32_t(w), std::uint32_t(t), a});
                        sum += a;
                        scaled += a / runs[w].cache.at({xlens::hook_kind::ln_final_scale, -1}).data()[t];
                        positive += a > 0;
                    }
                std::stable_sort(all.begin(), all.end(), [](auto a, auto b) { return a.activation > b.activation; });
                auto got = h.activity(L, n);
                CHECK(std::abs(got.mean - sum / 44) < 1e-6);
                CHECK(std::abs(got.mean_scaled - scaled / 44) < 1e-6);
                CHECK(got.frequency == doctest::Approx(positive / 44));
                CHECK(std::abs(got.max - all[0].activation) < 1e-5);
                REQUIRE(got.top.size() == 3);
                for (std::size_t i = 0; i < 3; ++i) {
                    CHECK(got.top[i].window == all[i].window);
                    CHECK(got.top[i].position == all[i].position);
                    CHECK(std::abs(got.top[i].activation - all[i].activation) < 1e-5);
                }
            }
    }
}

TEST_CASE("harvest: a saved and restored harvest continues exactly where it stopped") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    auto windows = random_windows(m, 4, 10, 7);
    xlens::neuron_harvester whole(m, {4});
    for (const auto& w : windows) whole.add(w);
    xlens::neuron_harvester first(m, {4});
    first.add(windows[0]);
    first.add(windows[1]);
    const std::string saved = first.state("corpus-a").dump();
    xlens::neuron_harvester resumed(m, {4});
    resumed.restore(nlohmann::json::parse(saved), "corpus-a");
    CHECK(resumed.windows() == 2);
    resumed.add(windows[2]);
    resumed.add(windows[3]);
    CHECK(resumed.state("x") == whole.state("x"));
    xlens::neuron_harvester other(m, {4});
    check_error([&] { other.restore(nlohmann::json::parse(saved), "corpus-b"); }, 554, "another corpus");
    xlens::neuron_harvester fewer(m, {2});
    check_error([&] { fewer.restore(nlohmann::json::parse(saved), "corpus-a"); }, 554, "other options");
    auto broken = nlohmann::json::parse(saved);
    broken["neurons"][5] = "x";
    check_error([&] { other.restore(broken, "corpus-a"); }, 287, "malformed");
}

TEST_CASE("rules: built from a harvest, calibrated on the corpus, round-tripped through rules.json") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    const auto& c = m.config();
    const rule_inputs in(m, 4, 11);
    const auto& windows = in.windows;
    const auto& values = in.values;
    const auto& h = in.keys;
    xlens::rule_options ro;
    ro.tokens = 4;
    ro.min_bias = 0;
    auto rules = in.build(m, ro);
    REQUIRE(rules.rules.size() > 2);
    CHECK(rules.rules[0].kind == xlens::rule_kind::prior);
    std::size_t direct = 0, neurons = 0;
    for (const auto& r : rules.rules) {
        if (r.kind == xlens::rule_kind::direct) {
            ++direct;
            bool in_corpus = false;
            for (const auto& w : windows) in_corpus = in_corpus || std::count(w.begin(), w.end(), r.triggers[0].tokens[0]) > 0;
            CHECK(in_corpus);
            CHECK(r.strength(r.triggers[0]) == doctest::Approx(1.0));
            if (direct == 1) {  // its 1/scale is the mean over the positions where it is the current token
                double inverse = 0;
                std::size_t count = 0;
                for (const auto& w : windows) {
                    auto cached = xlens::run_with_cache(m, w, xlens::hook_filter::kinds({xlens::hook_kind::ln_final_scale}));
                    for (std::size_t t = 1; t < w.size(); ++t)
                        if (w[t] == r.triggers[0].tokens[0]) {
                            inverse += 1.0 / cached.cache.at({xlens::hook_kind::ln_final_scale, -1}).data()[t];
                            ++count;
                        }
                }
                CHECK(r.triggers[0].count == count);
                if (count) CHECK(std::abs(r.triggers[0].scaled_activation - inverse / double(count)) < 1e-6);
            }
        }
        if (r.kind != xlens::rule_kind::neuron) continue;
        ++neurons;
        // A trigger's activation (and activation / final scale) is the neuron's mean over every
        // position where the trigger occurs.
        const auto& trig = r.triggers[0];
        double sum = 0, scaled = 0;
        std::size_t count = 0;
        for (const auto& w : windows) {
            auto cached = xlens::run_with_cache(m, w, xlens::hook_filter::kinds({xlens::hook_kind::mlp_post, xlens::hook_kind::ln_final_scale}));
            for (std::size_t t = 1; t < w.size(); ++t)
                if (w[t] == trig.tokens[0]) {
                    const double a = cached.cache.at({xlens::hook_kind::mlp_post, r.layer})(t, std::size_t(r.neuron));
                    sum += a;
                    scaled += a / cached.cache.at({xlens::hook_kind::ln_final_scale, -1}).data()[t];
                    ++count;
                }
        }
        CHECK(trig.count == count);
        CHECK(std::abs(trig.activation - sum / double(count)) < 1e-5);
        CHECK(std::abs(trig.scaled_activation - scaled / double(count)) < 1e-5);
        CHECK(trig.scaled_activation > r.mean_scaled_activation);
        CHECK(std::abs(r.mean_scaled_activation - h.activity(std::size_t(r.layer), std::size_t(r.neuron)).mean_scaled) < 1e-6);
        // Its biases: (typical − mean) scaled activation × (score − mean score).
        const auto& v = values.at(std::size_t(r.layer), std::size_t(r.neuron));
        const double scale = double(r.typical_scaled_activation) - r.mean_scaled_activation;
        CHECK(r.promoted[0].token == v.promoted[0].token);
        CHECK(std::abs(r.promoted[0].bias - scale * (v.promoted[0].score - v.mean_score)) < 1e-5);
        if (neurons > 20) break;  // each check reruns the corpus
    }
    CHECK(direct > 0);
    CHECK(neurons > 0);
    auto j = xlens::to_json(rules);
    CHECK(xlens::to_json(xlens::rules_from_json(j)) == j);
    const std::string path = test::temp_dir("rules") + "/rules.json";
    xlens::save_rules(rules, path);
    CHECK(xlens::to_json(xlens::load_rules(path)) == j);
    CHECK(c.d_vocab == xlens::load_rules(path).d_vocab);

    // Schema errors name the record and the field.
    auto broken = [&](auto&& edit, int id, const std::string& words) {
        auto k = j;
        edit(k);
        check_error([&] { xlens::rules_from_json(k, "my.json"); }, id, words);
    };
    const std::size_t last = rules.rules.size() - 1;
    broken([&](auto& k) { k["rules"][last]["promoted"][0].erase("token"); }, 288,
           "my.json: rules[" + std::to_string(last) + "].promoted[0].token: is missing");
    broken([&](auto& k) { k["rules"][1]["promoted"][1]["token"] = 53; }, 288, "rules[1].promoted[1].token: 53 is outside [0, 52]");
    broken([&](auto& k) { k["rules"][1]["promoted"][1]["logit_bias"] = "big"; }, 288, "rules[1].promoted[1].logit_bias: expected a number");
    broken([&](auto& k) { k["rules"][1]["promoted"][1]["logit_bias"] = 1e39; }, 288, "logit_bias: is not a finite float32 number");
    broken([&](auto& k) { k["format"] = 1; }, 289, "not an xlens rules file");
    broken([&](auto& k) { k["model"]["d_vocab"] = 1ll << 40; }, 288, "model.d_vocab");
    broken([&](auto& k) { k["rules"][last]["typical_scaled_activation"] = -5; }, 288, "must exceed mean_scaled_activation");
    broken([&](auto& k) { k["rules"][2]["kind"] = "bogus"; }, 288, "rules[2].kind: 'bogus' is not");
    broken([&](auto& k) { k["rules"][last]["layer"] = 9; }, 288, "rules[" + std::to_string(last) + "].layer: 9 is outside");
    broken([&](auto& k) { k["rules"][1]["triggers"] = nlohmann::json::array(); }, 288, "rules[1].triggers: a direct rule needs a trigger");
    broken([&](auto& k) { k["rules"][1]["id"] = 7; }, 288, "rules[1].id: ids must count");
    broken([&](auto& k) { k.erase("final_inverse_scale"); }, 288, "final_inverse_scale: is missing");
    broken([&](auto& k) { k["version"] = 2; }, 289, "version 2 is not the version 1");
    broken([&](auto& k) { k["format"] = "other"; }, 289, "not an xlens rules file");
    std::ofstream(path) << "{\"format\": \"xlens-rules\", \"rules\": [";
    check_error([&] { xlens::load_rules(path); }, 205, "invalid JSON");
}

TEST_CASE("rule engine: fires by trigger, receipts add up to the logits") {
    xlens::rule_set set;
    set.d_vocab = 10;
    auto make = [](xlens::rule_kind kind, std::vector<xlens::rule_trigger> triggers, std::vector<xlens::token_bias> promoted) {
        xlens::rule r;
        r.kind = kind;
        r.triggers = std::move(triggers);
        r.promoted = std::move(promoted);
        return r;
    };
    set.rules.push_back(make(xlens::rule_kind::prior, {}, {{1, "", 0.5f}, {2, "", 0.25f}}));
    set.rules.push_back(make(xlens::rule_kind::direct, {{{3}, "c", 1, 1, 0}}, {{4, "", 2.0f}}));
    // Strength follows the scaled activations, not the raw ones (here deliberately different).
    auto bigram = make(xlens::rule_kind::neuron, {{{5, 3}, "ec", 30.0f, 3.0f, 2}, {{6}, "f", 15.0f, 1.5f, 1}}, {{4, "", 1.0f}, {1, "", 1.0f}});
    bigram.mean_activation = 10.0f;
    bigram.typical_activation = 20.0f;
    bigram.mean_scaled_activation = 1.0f;
    bigram.typical_scaled_activation = 2.0f;
    set.rules.push_back(bigram);
    const xlens::rule_engine engine(set);
    auto p = engine.predict({5, 3});  // prior, direct on 3, and the bigram at strength (3 − 1)/(2 − 1) = 2
    CHECK(p.fired.size() == 3);
    CHECK(p.logits[4] == doctest::Approx(2.0 + 2 * 1.0));
    CHECK(p.logits[1] == doctest::Approx(0.5 + 2 * 1.0));
    CHECK(p.top(1)[0].token == 4);
    auto q = engine.predict({7, 3});  // the bigram's first token differs: it does not fire
    CHECK(q.fired.size() == 2);
    CHECK(q.logits[4] == doctest::Approx(2.0));
    auto r = engine.predict({6});  // the unigram trigger at strength (1.5 − 1)/(2 − 1) = 0.5
    CHECK(r.logits[4] == doctest::Approx(0.5));
    for (const auto& pred : {p, q, r})
        for (xlens::token_id t = 0; t < 10; ++t) {
            double sum = 0;
            for (const auto& line : engine.receipt(pred, t)) sum += line.added;
            CHECK(sum == doctest::Approx(pred.logits[std::size_t(t)]));
        }
    auto lines = engine.receipt(p, 4);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].label == "direct 'c'");  // 2.0 and 2.0: ties keep firing order
    CHECK(lines[1].label == "L-1 N-1");
    CHECK(lines[1].trigger == "ec");
    check_error([&] { engine.predict({}); }, 501, "at least one");
    check_error([&] { engine.predict({3, 10}); }, 502, "token 10 at position 1");
}

TEST_CASE("fidelity: agreement and KL on known distributions; the unigram baseline counts the corpus") {
    const float model_logits[2] = {0.0f, std::log(3.0f)};  // p = (0.25, 0.75)
    const float uniform[2] = {0.0f, 0.0f};
    xlens::fidelity_meter same("same"), flat("flat");
    same.add(model_logits, model_logits, 2);
    flat.add(model_logits, uniform, 2);
    CHECK(same.result().top1 == 1.0);
    CHECK(same.result().kl == doctest::Approx(0.0));
    CHECK(flat.result().top1 == 0.0);  // a tie ranks the lower id first: token 0, not the model's 1
    CHECK(flat.result().top5 == 1.0);
    CHECK(flat.result().kl == doctest::Approx(0.25 * std::log(0.5) + 0.75 * std::log(1.5)));

    auto m = xlens::model::load(test::tiny_model("gpt2"));
    auto windows = random_windows(m, 3, 10, 5);
    auto unigram = xlens::unigram_predictor({{9, 1, 1, 2}}, 4, 1, 0.0);
    std::vector<float> out(4);
    unigram({0}, out);
    CHECK(out[1] == doctest::Approx(std::log(2.0 / 3)));
    CHECK(std::isinf(out[0]));
    xlens::next_token_predictor exact = [&](const std::vector<xlens::token_id>& context, std::vector<float>& logits) {
        auto l = xlens::forward(m, context);
        std::copy(l.data() + (context.size() - 1) * 53, l.data() + context.size() * 53, logits.begin());
    };
    auto rows = xlens::measure_fidelity(m, windows, {{"the model itself", exact}});
    CHECK(rows[0].positions == 27);
    CHECK(rows[0].top1 == 1.0);
    CHECK(rows[0].kl < 1e-9);
    check_error([&] { xlens::measure_fidelity(m, {{1}}, {{"x", exact}}); }, 557, "no held-out position");
}

TEST_CASE("random_init_like: same shapes, fresh seeded weights, tied stays tied") {
    for (const char* family : {"gpt2", "llama"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        auto r = xlens::random_init_like(m, 1), again = xlens::random_init_like(m, 1), other = xlens::random_init_like(m, 2);
        const auto& a = m.weights();
        const auto& b = r.weights();
        CHECK(b.embed.shape == a.embed.shape);
        CHECK(b.layers.size() == a.layers.size());
        CHECK(b.layers[1].mlp.out.w.shape == a.layers[1].mlp.out.w.shape);
        CHECK(b.layers[1].mlp.out.in_by_out == a.layers[1].mlp.out.in_by_out);
        CHECK((b.unembed.w.data == b.embed.data) == (a.unembed.w.data == a.embed.data));
        CHECK(b.ln_final.w.data[3] == 1.0f);
        CHECK(b.embed.data[5] == again.weights().embed.data[5]);
        CHECK(b.embed.data[5] != other.weights().embed.data[5]);
        double sq = 0;
        for (std::size_t i = 0; i < b.embed.size(); ++i) sq += double(b.embed.data[i]) * b.embed.data[i];
        CHECK(std::sqrt(sq / double(b.embed.size())) == doctest::Approx(0.02).epsilon(0.15));
        auto logits = xlens::forward(r, {1, 2, 3});
        CHECK(logits.shape()[1] == m.config().d_vocab);
    }
}

TEST_CASE("interventions: parsed, range-checked, and changing exactly the edited neuron or head") {
    auto edits = xlens::parse_interventions("L1N3,L0H2=0.5");
    REQUIRE(edits.size() == 2);
    CHECK(edits[0].label() == "L1N3");
    CHECK(edits[1].what == xlens::intervention::target::head);
    CHECK(edits[1].scale == 0.5f);
    for (const char* bad : {"L1", "N3", "L1X3", "L1N3=", "L1N3=x", "L1N3,", "l1n3"})
        check_error([&] { xlens::parse_interventions(bad); }, 556, "is not an edit");

    for (const char* family : {"gpt2", "llama"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        const std::vector<xlens::token_id> tokens = {3, 9, 4, 1, 7};
        xlens::hook_set hooks;
        check_error([&] { xlens::add_intervention_hooks(m, hooks, {{xlens::intervention::target::neuron, 0, c.mlp.d_mlp, 0}}); },
                    551, "out of range");
        {
            auto h = xlens::add_intervention_hooks(m, hooks, xlens::parse_interventions("L1N3=1,L0H1=1"));
            auto same = xlens::run_with_hooks(m, tokens, hooks);
            CHECK(xt::amax(xt::abs(same - xlens::forward(m, tokens)))() == 0.0f);
        }
        auto clean = xlens::run_with_cache(m, tokens);
        auto edited_run = [&](const std::string& spec) {
            xlens::hook_set hs;
            auto h = xlens::add_intervention_hooks(m, hs, xlens::parse_interventions(spec));
            xlens::activation_cache cache;
            xlens::run_options o;
            o.hooks = &hs;
            o.cache = &cache;
            xlens::forward(m, tokens, o);
            return cache;
        };
        // Ablating L0 N3 removes a·W_out[:, 3] from layer 0's MLP output, nothing else.
        auto ablated = edited_run("L0N3");
        const auto& post = clean.cache.at({xlens::hook_kind::mlp_post, 0});
        const auto& out = m.weights().layers[0].mlp.out;
        double worst = 0;
        for (std::size_t t = 0; t < tokens.size(); ++t)
            for (std::size_t j = 0; j < c.d_model; ++j) {
                const double expected = clean.cache.at({xlens::hook_kind::mlp_out, 0})(t, j) - post(t, 3) * element(out, j, 3);
                worst = std::max(worst, std::abs(ablated.at({xlens::hook_kind::mlp_out, 0})(t, j) - expected));
            }
        CHECK(worst < 1e-5);
        // Scaling head L0H1 by 0.25 changes layer 0's attention output by −0.75 · z_h W_O,hᵀ.
        auto scaled = edited_run("L0H1=0.25");
        const auto& z = clean.cache.at({xlens::hook_kind::z, 0});
        const auto& o = m.weights().layers[0].attn.o;
        const std::size_t dh = c.attn.d_head;
        worst = 0;
        for (std::size_t t = 0; t < tokens.size(); ++t)
            for (std::size_t j = 0; j < c.d_model; ++j) {
                double delta = 0;
                for (std::size_t e = 0; e < dh; ++e) delta += z(t, 1, e) * element(o, j, 1 * dh + e);
                const double expected = clean.cache.at({xlens::hook_kind::attn_out, 0})(t, j) - 0.75 * delta;
                worst = std::max(worst, std::abs(scaled.at({xlens::hook_kind::attn_out, 0})(t, j) - expected));
            }
        CHECK(worst < 1e-5);
        auto effect = xlens::measure_edit(m, tokens, 7, xlens::parse_interventions("L1N3"));
        CHECK(effect.position == 4);
        CHECK(effect.before.prob == doctest::Approx(xlens::softmax(clean.logits.data() + 4 * c.d_vocab, c.d_vocab)[7]));
        CHECK(effect.after.prob != effect.before.prob);
        check_error([&] { xlens::measure_edit(m, tokens, 99, {}); }, 534, "target token 99");
        check_error([&] { xlens::measure_edit(m, tokens, 7, {}, 5); }, 531, "position 5");
    }
}

TEST_CASE("corpus: a held-out split at a line break; JSON Lines texts") {
    auto [learn, test_part] = xlens::split_held_out("first line\nsecond line\nthird line\nlast line\n", 0.3);
    CHECK(learn == "first line\nsecond line");
    CHECK(test_part == "\nthird line\nlast line\n");
    check_error([] { xlens::split_held_out("text", 1.0); }, 545, "between 0 and 1");
    check_error([] { xlens::split_held_out("\n\n\nx", 0.5); }, 545, "too short");
    const std::string dir = test::temp_dir("corpus");
    std::ofstream(dir + "/c.jsonl") << "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"id\": 2}\n";
    CHECK(xlens::read_corpus(dir + "/c.jsonl") == "one\n\ntwo");
    std::ofstream(dir + "/bad.jsonl") << "{\"text\": \"one\"}\n{\"body\": 1}\n";
    check_error([&] { xlens::read_corpus(dir + "/bad.jsonl"); }, 547, "line 2 is not a JSON object");
}

TEST_CASE("neuron contributions sum, per layer, to direct logit attribution's MLP parts") {
    for (const char* family : {"gpt2", "llama", "gpt_neox"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const std::vector<xlens::token_id> tokens = {5, 17, 2, 40, 8, 8};
        xlens::attribution_options o;
        o.target = 11;
        o.position = 4;
        auto dla = xlens::direct_logit_attribution(m, tokens, o);
        auto parts = xlens::neuron_contributions(m, tokens, 11, 4);
        REQUIRE(parts.size() == m.config().n_layers * m.config().mlp.d_mlp);
        for (std::size_t i = 1; i < parts.size(); ++i) CHECK(parts[i - 1].logit >= parts[i].logit);
        for (const auto& comp : dla.components) {
            if (comp.kind != xlens::component_kind::mlp) continue;
            double sum = 0;
            for (const auto& p : parts)
                if (int(p.layer) == comp.layer) sum += p.logit;
            CHECK(std::abs(sum - comp.value) < 1e-4);
        }
        check_error([&] { xlens::neuron_contributions(m, tokens, 11, 6); }, 531, "position 6");
    }
}

TEST_CASE("rules: two-token triggers are calibrated on exactly the positions that end with both tokens") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    const rule_inputs in(m, 3, 21);
    const auto& windows = in.windows;
    xlens::rule_options ro;
    ro.tokens = 3;
    ro.trigger_length = 2;
    ro.min_bias = 0;
    ro.direct = false;
    auto rules = in.build(m, ro);
    std::size_t checked = 0;
    for (const auto& r : rules.rules) {
        if (r.kind != xlens::rule_kind::neuron) continue;
        for (const auto& trig : r.triggers) {
            REQUIRE(trig.tokens.size() == 2);
            double sum = 0;
            std::size_t count = 0;
            for (const auto& w : windows) {
                auto cached = xlens::run_with_cache(m, w, xlens::hook_filter::suffix("mlp.hook_post"));
                for (std::size_t t = 1; t < w.size(); ++t)
                    if (w[t - 1] == trig.tokens[0] && w[t] == trig.tokens[1]) {
                        sum += cached.cache.at({xlens::hook_kind::mlp_post, r.layer})(t, std::size_t(r.neuron));
                        ++count;
                    }
            }
            CHECK(trig.count == count);
            CHECK(std::abs(trig.activation - sum / double(count)) < 1e-5);
        }
        if (++checked == 8) break;
    }
    CHECK(checked == 8);
    ro.trigger_length = 1;
    ro.min_count = 3;  // triggers seen at fewer positions are dropped, and only those
    auto frequent = in.build(m, ro);
    ro.min_count = 1;
    auto all = in.build(m, ro);
    std::size_t kept = 0, eligible = 0;
    for (const auto& r : frequent.rules)
        for (const auto& t : r.triggers) {
            ++kept;
            CHECK(t.count >= 3);
        }
    for (const auto& r : all.rules)
        for (const auto& t : r.triggers) eligible += t.count >= 3;
    CHECK(kept == eligible);
    CHECK(kept > 0);
    ro.trigger_length = 9;
    check_error([&] { in.build(m, ro); }, 550, "1 to 8 tokens, not 9");
    // A rules engine predicts only for its own vocabulary.
    const xlens::rule_engine engine(rules);
    auto predictor = xlens::rules_predictor(engine);
    std::vector<float> wrong_size(52);
    check_error([&] { predictor({1, 2}, wrong_size); }, 558, "vocabulary of 53 tokens, not the model's 52");
    CHECK(engine.predict({1, 2}).top(0).empty());
}

TEST_CASE("top-k: ties keep the lower token id, also at the k-th place; repeated layers count once") {
    xlens::detail::top_k_tracker t(2);
    t.offer(7, 1.0f);
    t.offer(5, 2.0f);
    t.offer(3, 1.0f);  // ties with 7 for the last place: the lower id wins
    t.offer(9, 1.0f);
    auto best = t.sorted();
    REQUIRE(best.size() == 2);
    CHECK(best[0].token == 5);
    CHECK(best[1].token == 3);
    auto m = xlens::model::load(test::tiny_model("llama"));
    xlens::neuron_value_options o;
    o.k = 2;
    o.layers = {1, 0, 1};
    CHECK(xlens::neuron_values(m, o).layers == std::vector<std::size_t>{0, 1});
    xlens::neuron_harvester h(m, {2, 1, {1, 1}});
    CHECK(h.options().layers == std::vector<std::size_t>{1});
}

TEST_CASE("corpus: a held-out split never moves far from its share, and never cuts a character") {
    const std::string title = "Title\n" + std::string(5000, 'a');
    auto [learn, test_part] = xlens::split_held_out(title, 0.5);
    CHECK(learn.size() == 2503);  // at the target, not after "Title"
    const std::string accents = "\nxx\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";  // the target, byte 6, is inside an 'é'
    auto [a, b] = xlens::split_held_out(accents, 0.5);
    CHECK((static_cast<unsigned char>(b[0]) & 0xC0) != 0x80);
    CHECK(a + b == accents);
}
