// xlens/analysis/attention_heads.hpp — what each attention head does, measured from its patterns.
//
//   xlens::head_scorer scorer(model);
//   for (const auto& seq : xlens::repeated_random_tokens(model, 20, 32, /*seed=*/0)) scorer.add(seq);
//   xlens::head_scores s = scorer.result();
//   s.at(xlens::head_feature::induction, layer, head);   // mean over the sequences
//
// stream_attention_patterns hands each layer's pattern [heads, T, T] to a function through a hook
// on hook_pattern and keeps nothing else; the scorer is built on it, so memory is one layer's
// pattern whatever the number of sequences. Every score is a mean over query positions i of attention mass A[i, j] on some keys j,
// then a mean over sequences (t_i is the token at position i; K = options.local_window):
//
//   previous_token  Σ_i A[i, i−1] / Σ A                          (TransformerLens's detect_head, "mul")
//   duplicate_token Σ_i Σ_{j<i, t_j = t_i} A[i, j] / Σ A          (detect_head)
//   induction       Σ_i Σ_{0<j≤i, t_{j−1} = t_i, j−1<i} A[i, j] / Σ A   (detect_head)
//   first_token     mean_{i≥1} A[i, 0]                             (attention sink)
//   self            mean_{i≥1} A[i, i]
//   local           mean_{i≥1} Σ_{2 ≤ i−j ≤ K} A[i, j]             (the recent past, beyond the previous token)
//   mean_distance   mean_i Σ_j A[i, j] (i − j)                     (in positions)
//   entropy         mean_{i≥1} −Σ_j A[i, j] ln A[i, j] / ln(i + 1)  (0: one key; 1: uniform over the prefix)
//
// Σ A is the pattern's total mass (T when every row sums to 1), as in detect_head, so a perfect
// induction head scores about ½ on a sequence repeated twice (the first half has nothing to find);
// induction_attainable() divides by the share of rows that have a target, for naming roles.
// The profile is, per head, the mean over i ≥ 1 of the mass at offsets 1 … K (A[i, i−k]), at 0 (self),
// beyond K, and on position 0.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "xlens/error.hpp"
#include "xlens/model/model.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/run/hooks.hpp"

namespace xlens {

enum class head_feature { previous_token, duplicate_token, induction, first_token, self, local, mean_distance, entropy };
inline constexpr std::size_t head_feature_count = 8;

/// "previous_token", "duplicate_token", "induction", "first_token", "self", "local", "mean_distance", "entropy".
inline const char* head_feature_name(head_feature f) {
    static const char* names[] = {"previous_token", "duplicate_token", "induction", "first_token",
                                  "self",           "local",           "mean_distance", "entropy"};
    return names[static_cast<int>(f)];
}

struct head_score_options {
    std::size_t local_window = 4;  // K: "local" and the profile look at offsets up to K
};

struct head_scores {
    std::size_t layers = 0, heads = 0, local_window = 4;
    std::size_t sequences = 0, tokens = 0;
    xt::xarray<double> features;  // [layer, head, head_feature_count], in head_feature order
    xt::xarray<double> profile;   // [layer, head, K + 3]: offsets 1 … K, 0, beyond K, position 0
    double induction_rows = 0;    // share of query rows (over all sequences) that have an induction target

    double at(head_feature f, std::size_t layer, std::size_t head) const {
        return features(layer, head, static_cast<std::size_t>(f));
    }
    /// The induction score divided by the share of rows that had anything to find (≈ 1 for a
    /// perfect induction head on repeated random tokens).
    double induction_attainable(std::size_t layer, std::size_t head) const {
        return induction_rows > 0 ? at(head_feature::induction, layer, head) / induction_rows : 0.0;
    }
    /// Labels of the profile's columns: "-1" … "-K", "0", ">K", "first".
    std::vector<std::string> profile_labels() const {
        std::vector<std::string> out;
        for (std::size_t k = 1; k <= local_window; ++k) out.push_back("-" + std::to_string(k));
        out.push_back("0");
        out.push_back(">" + std::to_string(local_window));
        out.push_back("first");
        return out;
    }
};

/// Runs each sequence and hands `fn(sequence_index, layer, pattern [heads, T, T], tokens)` every
/// layer's attention pattern as the run reaches it; nothing else is recorded, so memory is one
/// layer's pattern whatever the number of sequences. Throws what forward throws (501–503).
template <class Fn>
void stream_attention_patterns(const model& m, const std::vector<std::vector<token_id>>& sequences, Fn&& fn) {
    for (std::size_t n = 0; n < sequences.size(); ++n) {
        hook_set hooks;
        auto listen = hooks.add(hook_filter::suffix("hook_pattern"), [&](activation& pattern, hook_point p) {
            fn(n, static_cast<std::size_t>(p.layer), static_cast<const activation&>(pattern), sequences[n]);
        });
        run_with_hooks(m, sequences[n], hooks);
    }
}

/// Accumulates head scores over sequences, one run each.
class head_scorer {
public:
    /// Throws input_error 540 if options.local_window is 0.
    explicit head_scorer(const model& m, head_score_options options = {});

    /// Runs `tokens` and adds their patterns' scores. Throws input_error 501–503 (tokens) and 541
    /// (fewer than 2 tokens: no query has a past).
    void add(const std::vector<token_id>& tokens);

    /// Means over the sequences added so far. Throws input_error 542 if none was.
    head_scores result() const;

private:
    void score_layer(std::size_t layer, const activation& pattern, const std::vector<token_id>& tokens);

    const model* model_;
    head_score_options options_;
    std::size_t sequences_ = 0, tokens_ = 0;
    double induction_rows_ = 0;
    std::vector<double> features_;  // running sums [layer, head, feature]
    std::vector<double> profile_;   // running sums [layer, head, K + 3]
};

/// `count` sequences of `length` random tokens, each repeated twice (2 · length tokens), after
/// `prefix` (e.g. the tokenizer's BOS). Tokens are drawn uniformly from [first_id, d_vocab) by a
/// generator seeded with `seed`, the same on every platform. Throws input_error 543 if length < 2
/// or the sequence does not fit the context.
inline std::vector<std::vector<token_id>> repeated_random_tokens(const model& m, std::size_t count, std::size_t length,
                                                                 std::uint64_t seed, const std::vector<token_id>& prefix = {},
                                                                 token_id first_id = 0);

/// The scores roles are read from: induction and duplicate-token from `repeats` (repeated random
/// tokens, where a target exists by construction), every other score and the profile from `text`.
/// Throws input_error 544 if the two come from different models.
inline head_scores combine_scores(const head_scores& text, const head_scores& repeats) {
    if (text.layers != repeats.layers || text.heads != repeats.heads)
        throw input_error(544, "head scores of different models cannot be combined");
    head_scores out = text;
    for (head_feature f : {head_feature::induction, head_feature::duplicate_token})
        for (std::size_t l = 0; l < text.layers; ++l)
            for (std::size_t h = 0; h < text.heads; ++h)
                out.features(l, h, static_cast<std::size_t>(f)) = repeats.at(f, l, h);
    out.induction_rows = repeats.induction_rows;
    return out;
}

/// {"schema": "xlens.head_scores/1", "layers", "heads", "sequences", "tokens", "local_window",
///  "scores": {feature: [layer][head]}, "induction_rows", "profile_labels", "profile": [layer][head][…]}.
inline nlohmann::json to_json(const head_scores& s);

// ---- definitions -------------------------------------------------------------------------------

inline head_scorer::head_scorer(const model& m, head_score_options options) : model_(&m), options_(options) {
    if (options_.local_window == 0) throw input_error(540, "the local window of head scores must be at least 1");
    const auto& c = m.config();
    features_.assign(c.n_layers * c.attn.n_heads * head_feature_count, 0.0);
    profile_.assign(c.n_layers * c.attn.n_heads * (options_.local_window + 3), 0.0);
}

inline void head_scorer::add(const std::vector<token_id>& tokens) {
    if (tokens.size() == 1)
        throw input_error(541, "a sequence of 1 token cannot be scored: no position has an earlier one to attend to");
    // Validates the tokens (501–503) before any pattern arrives.
    stream_attention_patterns(*model_, {tokens}, [&](std::size_t, std::size_t layer, const activation& pattern,
                                                     const std::vector<token_id>& seq) { score_layer(layer, pattern, seq); });
    ++sequences_;
    tokens_ += tokens.size();
    // Rows with an induction target: i such that some j − 1 < i has t_{j−1} = t_i (j ≤ i).
    std::size_t rows = 0;
    for (std::size_t i = 1; i < tokens.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (tokens[j] == tokens[i]) { ++rows; break; }
    induction_rows_ += static_cast<double>(rows) / static_cast<double>(tokens.size());
}

inline void head_scorer::score_layer(std::size_t layer, const activation& pattern, const std::vector<token_id>& tokens) {
    const std::size_t H = pattern.shape()[0], T = pattern.shape()[1], Tk = pattern.shape()[2], K = options_.local_window;
    const std::size_t P = K + 3;
    for (std::size_t h = 0; h < H; ++h) {
        const float* A = pattern.data() + h * T * Tk;
        double total = 0, prev = 0, dup = 0, induction = 0, first = 0, self = 0, local = 0, distance = 0, entropy = 0;
        std::vector<double> profile(P, 0.0);
        for (std::size_t i = 0; i < T; ++i) {
            const float* row = A + i * Tk;
            for (std::size_t j = 0; j <= i; ++j) {
                const double a = row[j];
                total += a;
                distance += a * static_cast<double>(i - j);
                if (j < i && tokens[j] == tokens[i]) dup += a;
                if (j >= 1 && tokens[j - 1] == tokens[i]) induction += a;
            }
            if (i == 0) continue;
            prev += row[i - 1];
            first += row[0];
            self += row[i];
            double row_entropy = 0, beyond = 0;
            for (std::size_t j = 0; j <= i; ++j) {
                const double a = row[j];
                if (a > 0) row_entropy -= a * std::log(a);
                const std::size_t offset = i - j;
                if (offset >= 2 && offset <= K) local += a;
                if (offset >= 1 && offset <= K) profile[offset - 1] += a;
                if (offset > K) beyond += a;
            }
            entropy += row_entropy / std::log(static_cast<double>(i + 1));
            profile[K] += row[i];
            profile[K + 1] += beyond;
            profile[K + 2] += row[0];
        }
        const double queries = static_cast<double>(T - 1);  // rows i ≥ 1
        const double sums[head_feature_count] = {
            total > 0 ? prev / total : 0, total > 0 ? dup / total : 0, total > 0 ? induction / total : 0,
            first / queries, self / queries, local / queries, distance / static_cast<double>(T), entropy / queries};
        double* f = features_.data() + (layer * H + h) * head_feature_count;
        for (std::size_t k = 0; k < head_feature_count; ++k) f[k] += sums[k];
        double* p = profile_.data() + (layer * H + h) * P;
        for (std::size_t k = 0; k < P; ++k) p[k] += profile[k] / queries;
    }
}

inline head_scores head_scorer::result() const {
    if (sequences_ == 0) throw input_error(542, "no sequences were scored");
    const auto& c = model_->config();
    head_scores s;
    s.layers = c.n_layers;
    s.heads = c.attn.n_heads;
    s.local_window = options_.local_window;
    s.sequences = sequences_;
    s.tokens = tokens_;
    s.induction_rows = induction_rows_ / static_cast<double>(sequences_);
    s.features = xt::xarray<double>::from_shape({s.layers, s.heads, head_feature_count});
    s.profile = xt::xarray<double>::from_shape({s.layers, s.heads, options_.local_window + 3});
    for (std::size_t i = 0; i < features_.size(); ++i) s.features.data()[i] = features_[i] / static_cast<double>(sequences_);
    for (std::size_t i = 0; i < profile_.size(); ++i) s.profile.data()[i] = profile_[i] / static_cast<double>(sequences_);
    return s;
}

inline std::vector<std::vector<token_id>> repeated_random_tokens(const model& m, std::size_t count, std::size_t length,
                                                                 std::uint64_t seed, const std::vector<token_id>& prefix,
                                                                 token_id first_id) {
    const auto& c = m.config();
    if (length < 2) throw input_error(543, "a repeated sequence needs at least 2 tokens per repeat, not " + std::to_string(length));
    if (prefix.size() + 2 * length > c.n_ctx)
        throw input_error(543, "2 × " + std::to_string(length) + " repeated tokens" +
                                   (prefix.empty() ? std::string() : " plus " + std::to_string(prefix.size())) +
                                   " do not fit the model's context of " + std::to_string(c.n_ctx));
    if (first_id < 0 || static_cast<std::size_t>(first_id) >= c.d_vocab)
        throw input_error(534, "the first token id to draw from, " + std::to_string(first_id) + ", is outside the vocabulary");
    std::mt19937_64 rng(seed);
    const std::uint64_t span = c.d_vocab - static_cast<std::size_t>(first_id);
    std::vector<std::vector<token_id>> out;
    for (std::size_t n = 0; n < count; ++n) {
        std::vector<token_id> seq = prefix;
        std::vector<token_id> half;
        for (std::size_t i = 0; i < length; ++i) half.push_back(first_id + static_cast<token_id>(rng() % span));
        seq.insert(seq.end(), half.begin(), half.end());
        seq.insert(seq.end(), half.begin(), half.end());
        out.push_back(std::move(seq));
    }
    return out;
}

inline nlohmann::json to_json(const head_scores& s) {
    using json = nlohmann::json;
    json scores;
    for (std::size_t f = 0; f < head_feature_count; ++f) {
        json grid = json::array();
        for (std::size_t l = 0; l < s.layers; ++l) {
            json row = json::array();
            for (std::size_t h = 0; h < s.heads; ++h) row.push_back(s.features(l, h, f));
            grid.push_back(std::move(row));
        }
        scores[head_feature_name(static_cast<head_feature>(f))] = std::move(grid);
    }
    json profile = json::array();
    for (std::size_t l = 0; l < s.layers; ++l) {
        json row = json::array();
        for (std::size_t h = 0; h < s.heads; ++h) {
            json cell = json::array();
            for (std::size_t k = 0; k < s.profile.shape()[2]; ++k) cell.push_back(s.profile(l, h, k));
            row.push_back(std::move(cell));
        }
        profile.push_back(std::move(row));
    }
    return {{"schema", "xlens.head_scores/1"}, {"layers", s.layers}, {"heads", s.heads}, {"sequences", s.sequences},
            {"tokens", s.tokens}, {"local_window", s.local_window}, {"scores", std::move(scores)},
            {"induction_rows", s.induction_rows}, {"profile_labels", s.profile_labels()}, {"profile", std::move(profile)}};
}

}  // namespace xlens
