// xlens/run/sampling.hpp — choosing the next token from logits: argmax, or temperature / top-k /
// top-p sampling from a seeded generator (same seed, same choices, on every platform).
//
//   xlens::sampler pick({/*temperature*/ 0.8f, /*top_k*/ 40, /*top_p*/ 0.95f, /*seed*/ 7});
//   xlens::token_id next = pick(logits_row, d_vocab);
//
// The filters apply in transformers' order: logits / temperature, keep the top_k largest, keep the
// smallest set of most likely tokens whose probabilities reach top_p, renormalise, draw.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/token_id.hpp"

namespace xlens {

struct sampling_options {
    float temperature = 0.0f;  // 0: argmax (greedy); > 0: sample
    std::size_t top_k = 0;     // 0: no top-k filter
    float top_p = 1.0f;        // in (0, 1]; 1: no nucleus filter
    std::uint64_t seed = 0;

    bool greedy() const { return temperature == 0.0f; }
    /// Throws input_error 520 (temperature negative or not finite) or 521 (top_p outside (0, 1]).
    void validate() const {
        if (!(temperature >= 0.0f) || !std::isfinite(temperature))
            throw input_error(520, "temperature must be a finite number >= 0 (0 = greedy), got " + std::to_string(temperature));
        if (!(top_p > 0.0f && top_p <= 1.0f))
            throw input_error(521, "top_p must be in (0, 1], got " + std::to_string(top_p));
    }
};

/// Index of the largest of `n` logits (the first, on ties, as torch.argmax). NaNs never win.
inline token_id argmax(const float* logits, std::size_t n) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; ++i)
        if (logits[i] > logits[best] || std::isnan(logits[best])) best = i;
    return static_cast<token_id>(best);
}

/// softmax(logits) in double precision, for reporting probabilities.
inline std::vector<double> softmax(const float* logits, std::size_t n) {
    std::vector<double> p(n);
    double top = logits[argmax(logits, n)], sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += p[i] = std::exp(static_cast<double>(logits[i]) - top);
    for (auto& x : p) x /= sum;
    return p;
}

class sampler {
public:
    /// Validates `options` (see sampling_options::validate).
    explicit sampler(sampling_options options) : options_(options), rng_(options.seed) { options_.validate(); }

    const sampling_options& options() const { return options_; }

    /// The next token for one row of `n` logits. Advances the generator when sampling.
    token_id operator()(const float* logits, std::size_t n) {
        if (n == 0) throw input_error(522, "cannot choose a token from an empty vocabulary");
        if (options_.greedy()) return argmax(logits, n);
        // Candidates, most likely first: all of them, or the top_k.
        std::vector<token_id> order(n);
        std::iota(order.begin(), order.end(), 0);
        auto value = [&](token_id t) { return std::isnan(logits[t]) ? -HUGE_VALF : logits[t]; };  // a strict weak order
        auto more_likely = [&](token_id a, token_id b) { return value(a) > value(b) || (value(a) == value(b) && a < b); };
        std::size_t keep = options_.top_k ? std::min(options_.top_k, n) : n;
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), more_likely);
        order.resize(keep);
        // In double, so a tiny temperature cannot overflow; a NaN logit never wins, and if the row has
        // no finite weight at all (NaN or infinite logits) the choice falls back to argmax.
        std::vector<double> weight(keep);
        auto scaled = [&](token_id t) {
            double x = static_cast<double>(logits[t]) / options_.temperature;
            return std::isnan(x) ? -HUGE_VAL : x;
        };
        const double top = scaled(order[0]);
        double total = 0;
        for (std::size_t i = 0; i < keep; ++i) total += weight[i] = std::exp(scaled(order[i]) - top);
        if (!std::isfinite(top) || !(total > 0) || !std::isfinite(total)) return argmax(logits, n);
        if (options_.top_p < 1.0f) {
            double reached = 0;
            std::size_t cut = 0;
            while (cut < keep && reached < options_.top_p * total) reached += weight[cut++];
            keep = std::max<std::size_t>(cut, 1);
            total = std::accumulate(weight.begin(), weight.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
        }
        // A uniform double in [0, 1) from 53 random bits: the same on every platform, unlike
        // std::uniform_real_distribution, whose algorithm the standard leaves open.
        const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
        double sum = 0;
        for (std::size_t i = 0; i < keep; ++i) {
            sum += weight[i];
            if (u < sum) return order[i];
        }
        return order[keep - 1];
    }

private:
    sampling_options options_;
    std::mt19937_64 rng_;  // its output sequence is fixed by the C++ standard
};

}  // namespace xlens
