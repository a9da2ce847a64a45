// Head scores and head clustering: scores equal their definitions on cached patterns, clustering
// recovers known clusters (adjusted Rand index 1) deterministically. Agreement with TransformerLens's
// head detector and the planted-heads model are tools/reference/compare_heads.py's job.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include <xlens/analysis/attention_heads.hpp>
#include <xlens/analysis/head_clustering.hpp>
#include <xlens/model/model.hpp>
#include <xlens/text/corpus.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "test_data.hpp"
#include "tiny_model.hpp"

namespace {

/// `per_cluster` points around each of `centres` (rows), spread `sd`, in a fixed order.
xt::xarray<double> blobs(const std::vector<std::vector<double>>& centres, std::size_t per_cluster, double sd,
                         std::vector<std::size_t>& truth, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, sd);
    const std::size_t d = centres[0].size();
    xt::xarray<double> x = xt::xarray<double>::from_shape({centres.size() * per_cluster, d});
    truth.clear();
    for (std::size_t i = 0; i < per_cluster; ++i)  // interleaved, so order says nothing about clusters
        for (std::size_t c = 0; c < centres.size(); ++c) {
            const std::size_t row = truth.size();
            for (std::size_t j = 0; j < d; ++j) x(row, j) = centres[c][j] + noise(rng);
            truth.push_back(c);
        }
    return x;
}

}  // namespace

TEST_CASE("head scores equal their definitions on the cached patterns") {
    for (const char* family : {"gpt2", "llama"}) {
        CAPTURE(family);
        auto m = xlens::model::load(test::tiny_model(family));
        const auto& c = m.config();
        auto sequences = xlens::repeated_random_tokens(m, 3, 6, /*seed=*/5, {0});
        REQUIRE(sequences.size() == 3);
        for (const auto& s : sequences) {
            REQUIRE(s.size() == 13);
            CHECK(std::equal(s.begin() + 1, s.begin() + 7, s.begin() + 7));  // the second repeat is the first
        }
        CHECK(xlens::repeated_random_tokens(m, 3, 6, 5, {0}) == sequences);  // seeded
        xlens::head_scorer scorer(m);
        for (const auto& s : sequences) scorer.add(s);
        auto scores = scorer.result();
        REQUIRE(scores.sequences == 3);
        // Recompute previous-token, induction, first-token and entropy from run_with_cache's patterns.
        for (std::size_t L = 0; L < c.n_layers; ++L)
            for (std::size_t h = 0; h < c.attn.n_heads; ++h) {
                double prev = 0, induction = 0, first = 0, entropy = 0, rows = 0;
                for (const auto& s : sequences) {
                    auto [logits, cache] = xlens::run_with_cache(m, s, xlens::hook_filter::suffix("hook_pattern"));
                    const auto& p = cache.at({xlens::hook_kind::pattern, int(L)});
                    const std::size_t T = s.size();
                    double sp = 0, si = 0, sf = 0, se = 0, total = 0, r = 0;
                    for (std::size_t i = 0; i < T; ++i) {
                        bool seen = false;
                        for (std::size_t j = 0; j <= i; ++j) {
                            total += p(h, i, j);
                            if (j >= 1 && s[j - 1] == s[i]) si += p(h, i, j);
                            if (j < i && s[j] == s[i]) seen = true;
                        }
                        r += seen;
                        if (i == 0) continue;
                        sp += p(h, i, i - 1);
                        sf += p(h, i, 0);
                        double e = 0;
                        for (std::size_t j = 0; j <= i; ++j) e -= p(h, i, j) > 0 ? p(h, i, j) * std::log(double(p(h, i, j))) : 0.0;
                        se += e / std::log(double(i + 1));
                    }
                    prev += sp / total / 3;
                    induction += si / total / 3;
                    first += sf / double(T - 1) / 3;
                    entropy += se / double(T - 1) / 3;
                    rows += r / double(T) / 3;
                }
                CHECK(scores.at(xlens::head_feature::previous_token, L, h) == doctest::Approx(prev).epsilon(1e-9));
                CHECK(scores.at(xlens::head_feature::induction, L, h) == doctest::Approx(induction).epsilon(1e-9));
                CHECK(scores.at(xlens::head_feature::first_token, L, h) == doctest::Approx(first).epsilon(1e-9));
                CHECK(scores.at(xlens::head_feature::entropy, L, h) == doctest::Approx(entropy).epsilon(1e-9));
                CHECK(scores.induction_rows == doctest::Approx(rows).epsilon(1e-12));
                // The profile's mass at every offset, beyond K and at 0 adds up to 1 per row.
                double mass = 0;
                for (std::size_t k = 0; k < scores.local_window + 2; ++k) mass += scores.profile(L, h, k);
                CHECK(mass == doctest::Approx(1.0).epsilon(1e-5));
            }
        auto j = xlens::to_json(scores);
        CHECK(j["schema"] == "xlens.head_scores/1");
        CHECK(j["scores"]["induction"].size() == c.n_layers);
    }
}

TEST_CASE("head scores: bad input") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));  // context 32
    test::expect_error<xlens::input_error>([&] { xlens::head_scorer(m, {0}); }, 540, {"local window"});
    xlens::head_scorer scorer(m);
    test::expect_error<xlens::input_error>([&] { scorer.result(); }, 542, {"no sequences"});
    test::expect_error<xlens::input_error>([&] { scorer.add({3}); }, 541, {"1 token"});
    test::expect_error<xlens::input_error>([&] { scorer.add({}); }, 501, {"empty"});
    test::expect_error<xlens::input_error>([&] { xlens::repeated_random_tokens(m, 2, 1, 0); }, 543, {"at least 2"});
    test::expect_error<xlens::input_error>([&] { xlens::repeated_random_tokens(m, 2, 17, 0); }, 543, {"2 × 17", "context of 32"});
}

TEST_CASE("clustering: k-means++ and Ward recover separated clusters (adjusted Rand index 1), deterministically") {
    std::vector<std::size_t> truth;
    auto x = blobs({{0, 0, 0, 0, 0}, {6, 0, 0, 6, 0}, {0, 6, 6, 0, 0}, {6, 6, 0, 0, 6}}, 12, 0.6, truth, 3);
    auto z = xlens::standardise(x);
    for (std::size_t j = 0; j < z.shape()[1]; ++j) {
        double mean = 0;
        for (std::size_t i = 0; i < z.shape()[0]; ++i) mean += z(i, j);
        CHECK(std::fabs(mean) < 1e-9);
    }
    xlens::kmeans_options o;
    o.seed = 11;
    auto chosen = xlens::kmeans_auto(z, o);
    CHECK(chosen.k == 4);  // by silhouette
    CHECK(xlens::adjusted_rand_index(chosen.labels, truth) == doctest::Approx(1.0));
    CHECK(chosen.silhouette > 0.6);
    auto again = xlens::kmeans_auto(z, o);
    CHECK(again.labels == chosen.labels);
    o.seed = 12;
    CHECK(xlens::adjusted_rand_index(xlens::kmeans_auto(z, o).labels, truth) == doctest::Approx(1.0));
    auto w = xlens::ward(z, 4);
    CHECK(xlens::adjusted_rand_index(w.labels, truth) == doctest::Approx(1.0));
    auto w_chosen = xlens::ward_auto(z);
    CHECK(w_chosen.k == 4);  // by silhouette, as k-means
    CHECK(w_chosen.labels == w.labels);
    CHECK(w.labels[0] == 0);  // numbered by first appearance
    // Known values: identical partitions up to renaming, and sklearn's adjusted_rand_score([0,0,1,1], [0,1,0,1]) = -0.5.
    CHECK(xlens::adjusted_rand_index({0, 0, 1, 1, 2}, {5, 5, 3, 3, 4}) == doctest::Approx(1.0));
    CHECK(xlens::adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}) == doctest::Approx(-0.5));
    auto pcs = xlens::principal_components_2d(x);
    REQUIRE(pcs.shape()[1] == 2);
    double variance0 = 0, variance1 = 0;
    for (std::size_t i = 0; i < pcs.shape()[0]; ++i) variance0 += pcs(i, 0) * pcs(i, 0), variance1 += pcs(i, 1) * pcs(i, 1);
    CHECK(variance0 >= variance1);
}

TEST_CASE("clustering: bad input") {
    std::vector<std::size_t> truth;
    auto x = blobs({{0, 0}, {5, 5}}, 3, 0.1, truth, 1);
    test::expect_error<xlens::input_error>([&] { xlens::kmeans(x, 7); }, 544, {"7 clusters of 6 heads"});
    test::expect_error<xlens::input_error>([&] { xlens::kmeans(x, 0); }, 544, {"0 clusters"});
    test::expect_error<xlens::input_error>([&] { xlens::ward(x, 9); }, 544, {"9 clusters"});
    xt::xarray<double> two = xt::zeros<double>({std::size_t(2), std::size_t(3)});
    test::expect_error<xlens::input_error>([&] { xlens::kmeans_auto(two); }, 544, {"at least 3"});
}

TEST_CASE("head roles: a head is named after its most distinctive role score above the threshold") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    xlens::head_scorer scorer(m);
    for (const auto& s : xlens::repeated_random_tokens(m, 4, 8, 1)) scorer.add(s);
    auto scores = scorer.result();
    xlens::clustering c;
    c.k = 1;
    c.labels.assign(scores.layers * scores.heads, 0);
    const double threshold = 0.1;
    auto roles = xlens::head_roles(scores, c, threshold);
    REQUIRE(roles.size() == c.labels.size());
    // The same rule computed here: z-scores over the heads, the largest among raw scores ≥ threshold.
    const auto& features = xlens::role_features();
    auto raw = [&](std::size_t i, xlens::head_feature f) {
        return f == xlens::head_feature::induction ? scores.induction_attainable(i / scores.heads, i % scores.heads)
                                                   : scores.at(f, i / scores.heads, i % scores.heads);
    };
    const std::size_t n = roles.size();
    std::size_t named = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double best_z = -1e300;
        std::string expected = "diffuse";
        for (auto f : features) {
            double mean = 0, var = 0;
            for (std::size_t k = 0; k < n; ++k) mean += raw(k, f) / double(n);
            for (std::size_t k = 0; k < n; ++k) var += (raw(k, f) - mean) * (raw(k, f) - mean) / double(n);
            const double z = var > 0 ? (raw(i, f) - mean) / std::sqrt(var) : 0.0;
            if (raw(i, f) >= threshold && z > best_z) best_z = z, expected = xlens::head_feature_name(f);
        }
        CHECK(roles[i].role == expected);
        named += expected != "diffuse";
    }
    CHECK(named > 0);  // the check above compared real names, not only "diffuse"
    auto j = xlens::to_json(roles, scores, c);
    CHECK(j["schema"] == "xlens.head_roles/1");
    CHECK(j["roles"].size() == n);
    // A cluster with no role score at the threshold is diffuse, and so are its heads.
    auto none = xlens::head_roles(scores, c, 2.0);
    for (const auto& r : none) CHECK((r.role == "diffuse" && r.cluster_name == "diffuse"));
}

TEST_CASE("corpus: read as UTF-8, cut into windows spread over the whole text; bad files refused") {
    test::scratch dir("corpus");
    const std::string good = dir.file("good.txt"), empty = dir.file("empty.txt"), latin1 = dir.file("latin1.txt");
    std::ofstream(good) << "one two three four five six seven eight nine ten";
    std::ofstream(empty) << " \n\t ";
    std::ofstream(latin1) << "caf\xe9 au lait";
    test::expect_error<xlens::io_error>([&] { xlens::read_corpus(dir.file("missing.txt")); }, 101, {"cannot open the corpus", "missing.txt"});
    test::expect_error<xlens::input_error>([&] { xlens::read_corpus(empty); }, 545, {"empty"});
    test::expect_error<xlens::input_error>([&] { xlens::read_corpus(latin1); }, 546, {"not UTF-8", "byte 3"});
    const char* gguf = std::getenv("XLENS_MODEL_GGUF");
    if (!gguf || !*gguf) {
        MESSAGE("skipped the windows: XLENS_MODEL_GGUF is not set");
        return;
    }
    auto tok = xlens::load_tokenizer(gguf);
    const std::string text = xlens::read_corpus(good);
    xlens::encode_options plain;
    plain.add_special_tokens = false;
    const auto ids = tok.encode(text, plain);  // 10 words, 10 tokens
    REQUIRE(ids.size() == 10);
    auto windows = xlens::corpus_windows(tok, text, 3, 2, {7});
    REQUIRE(windows.size() == 2);
    CHECK(windows[0] == std::vector<xlens::token_id>{7, ids[0], ids[1], ids[2]});
    CHECK(windows[1] == std::vector<xlens::token_id>{7, ids[7], ids[8], ids[9]});  // the last window ends the text
    CHECK(xlens::corpus_windows(tok, text, 3, 100).size() == 3);  // as many whole windows as fit
    CHECK(xlens::corpus_windows(tok, text, 50, 100).front().size() == 10);  // shorter than one window: all of it
    test::expect_error<xlens::input_error>([&] { xlens::corpus_windows(tok, "a", 8, 1); }, 545, {"1 tokens"});
}

TEST_CASE("stream_attention_patterns: every layer of every sequence, equal to the cached patterns") {
    auto m = xlens::model::load(test::tiny_model("llama"));
    std::vector<std::vector<xlens::token_id>> sequences = {{1, 2, 3}, {4, 5, 6, 7, 8}};
    std::size_t calls = 0;
    xlens::stream_attention_patterns(m, sequences, [&](std::size_t n, std::size_t layer, const xlens::activation& pattern,
                                                       const std::vector<xlens::token_id>& tokens) {
        ++calls;
        CHECK(tokens == sequences[n]);
        auto [logits, cache] = xlens::run_with_cache(m, tokens);
        const auto& expected = cache.at({xlens::hook_kind::pattern, int(layer)});
        REQUIRE(pattern.shape() == expected.shape());
        CHECK(std::equal(pattern.begin(), pattern.end(), expected.begin()));
    });
    CHECK(calls == 2 * m.config().n_layers);
}
