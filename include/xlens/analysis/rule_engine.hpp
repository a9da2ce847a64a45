// xlens/analysis/rule_engine.hpp — predicting the next token from rules alone, and how well it does.
//
//   xlens::rule_engine engine(xlens::load_rules("rules.json"));
//   xlens::rule_prediction p = engine.predict(tokens);        // no transformer is run
//   for (const auto& line : engine.receipt(p, p.top(5)[0].token)) ...   // which rules added what
//
// The engine fires every rule whose trigger ends the context, sums the biases they list, and ranks
// tokens by that sum (a token no fired rule lists gets 0). Fidelity compares any predictor with the
// full model position by position on held-out text: top-1 agreement (same argmax), top-5 agreement
// (the model's argmax among the predictor's 5 best), and mean KL(full ‖ predictor) in nats.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/analysis/rules.hpp"
#include "xlens/run/forward.hpp"

namespace xlens {

/// One rule that fired: rules[rule] on its trigger `trigger` (−1 for a prior), biases × strength.
struct fired_rule {
    std::size_t rule = 0;
    int trigger = -1;
    double strength = 1;
};

struct rule_prediction {
    std::vector<float> logits;  // [d_vocab]
    std::vector<fired_rule> fired;
    /// The k highest-scoring tokens, best first (ties: lower id).
    std::vector<token_score> top(std::size_t k) const;
};

/// One line of a receipt: what a fired rule added to one token's logit.
struct receipt_line {
    std::size_t rule = 0;
    std::string label;    // "prior", "direct ' the'", "L12 N403"
    std::string trigger;  // the trigger's text ("" for the prior)
    double added = 0;
};

class rule_engine {
public:
    explicit rule_engine(rule_set rules);

    /// Fires the rules on `context` (token ids; the last is the current token). Throws input_error
    /// 501 (empty), 502 (a token outside the vocabulary).
    rule_prediction predict(const std::vector<token_id>& context) const;
    /// What each fired rule added to `token`'s logit, largest magnitude first (zero entries left out).
    std::vector<receipt_line> receipt(const rule_prediction& p, token_id token) const;

    const rule_set& rules() const { return rules_; }

private:
    struct entry {
        std::size_t rule;
        std::size_t trigger;
    };
    rule_set rules_;
    std::vector<std::size_t> always_;
    std::unordered_map<token_id, std::vector<entry>> by_last_token_;
};

struct fidelity_result {
    std::string name;
    std::size_t positions = 0;
    double top1 = 0, top5 = 0, kl = 0;
};

/// Accumulates agreement between model logits and a predictor's, one position at a time.
class fidelity_meter {
public:
    explicit fidelity_meter(std::string name) { result_.name = std::move(name); }
    void add(const float* model_logits, const float* predicted, std::size_t vocab);
    fidelity_result result() const;

private:
    fidelity_result result_;
    double top1_ = 0, top5_ = 0, kl_ = 0;
};

/// A predictor: fills `logits` (sized to the model's vocabulary, zeroed) for the token after `context`.
using next_token_predictor = std::function<void(const std::vector<token_id>& context, std::vector<float>& logits)>;

/// Runs `full` on each held-out window and scores every predictor at every position from
/// `skip_first` on. Throws input_error 557 if no position is scored, and what the predictors throw.
inline std::vector<fidelity_result> measure_fidelity(const model& full, const std::vector<std::vector<token_id>>& windows,
                                                     const std::vector<std::pair<std::string, next_token_predictor>>& predictors,
                                                     std::size_t skip_first = 1);

/// A predictor from a rule engine (which must outlive it). Throws input_error 558 when asked for a
/// vocabulary other than the rules'.
inline next_token_predictor rules_predictor(const rule_engine& engine);
next_token_predictor rules_predictor(rule_engine&&) = delete;  // would dangle
/// The unigram baseline: log((count + α) / (N + α V)) for every context, counts of the tokens at
/// positions ≥ skip_first of `windows` (the harvest corpus).
inline next_token_predictor unigram_predictor(const std::vector<std::vector<token_id>>& windows, std::size_t vocab,
                                              std::size_t skip_first = 1, double alpha = 0.01);

inline nlohmann::json to_json(const std::vector<fidelity_result>& rows);

// ---- definitions -------------------------------------------------------------------------------

inline std::vector<token_score> rule_prediction::top(std::size_t k) const {
    if (k == 0 || logits.empty()) return {};
    detail::top_k_tracker t(std::min(k, logits.size()));
    for (std::size_t i = 0; i < logits.size(); ++i) t.offer(static_cast<token_id>(i), logits[i]);
    return t.sorted();
}

inline rule_engine::rule_engine(rule_set rules) : rules_(std::move(rules)) {
    for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
        const auto& r = rules_.rules[i];
        if (r.triggers.empty()) always_.push_back(i);
        for (std::size_t t = 0; t < r.triggers.size(); ++t) by_last_token_[r.triggers[t].tokens.back()].push_back({i, t});
    }
}

inline rule_prediction rule_engine::predict(const std::vector<token_id>& context) const {
    if (context.empty()) throw input_error(501, "the rules engine needs at least one context token");
    for (std::size_t i = 0; i < context.size(); ++i)
        if (context[i] < 0 || static_cast<std::size_t>(context[i]) >= rules_.d_vocab)
            throw input_error(502, "token " + std::to_string(context[i]) + " at position " + std::to_string(i) +
                                       " is outside the rules' vocabulary of " + std::to_string(rules_.d_vocab));
    rule_prediction p;
    p.logits.assign(rules_.d_vocab, 0.0f);
    auto fire = [&](std::size_t index, int trigger, double strength) {
        const rule& r = rules_.rules[index];
        for (const auto* list : {&r.promoted, &r.suppressed})
            for (const auto& b : *list) p.logits[static_cast<std::size_t>(b.token)] += static_cast<float>(strength * b.bias);
        p.fired.push_back({index, trigger, strength});
    };
    for (auto i : always_) fire(i, -1, 1.0);
    auto it = by_last_token_.find(context.back());
    if (it != by_last_token_.end())
        for (const auto& e : it->second) {
            const auto& trig = rules_.rules[e.rule].triggers[e.trigger].tokens;
            if (trig.size() > context.size() || !std::equal(trig.begin(), trig.end(), context.end() - static_cast<std::ptrdiff_t>(trig.size())))
                continue;
            fire(e.rule, static_cast<int>(e.trigger), rules_.rules[e.rule].strength(rules_.rules[e.rule].triggers[e.trigger]));
        }
    return p;
}

inline std::vector<receipt_line> rule_engine::receipt(const rule_prediction& p, token_id token) const {
    std::vector<receipt_line> out;
    for (const auto& f : p.fired) {
        const rule& r = rules_.rules[f.rule];
        double added = 0;
        for (const auto* list : {&r.promoted, &r.suppressed})
            for (const auto& b : *list)
                if (b.token == token) added += f.strength * b.bias;
        if (added != 0)
            out.push_back({f.rule, r.label(), f.trigger < 0 ? std::string() : r.triggers[static_cast<std::size_t>(f.trigger)].text, added});
    }
    std::stable_sort(out.begin(), out.end(), [](const receipt_line& a, const receipt_line& b) { return std::abs(a.added) > std::abs(b.added); });
    return out;
}

namespace detail {
/// log-softmax in double precision.
inline std::vector<double> log_softmax(const float* x, std::size_t n) {
    if (n == 0) return {};
    double mx = -INFINITY;
    for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
    // cppcheck-suppress invalidFunctionArg ; sum >= 1: the maximum contributes exp(0)
    const double log_z = mx + std::log(sum);
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = x[i] - log_z;
    return out;
}
inline std::size_t argmax(const float* x, std::size_t n) {
    return static_cast<std::size_t>(std::max_element(x, x + n) - x);  // first of ties: the lower id
}
}  // namespace detail

inline void fidelity_meter::add(const float* model_logits, const float* predicted, std::size_t vocab) {
    const std::size_t best = detail::argmax(model_logits, vocab);
    std::size_t better = 0;  // tokens the predictor ranks above the model's choice (ties by id)
    for (std::size_t i = 0; i < vocab; ++i)
        // cppcheck-suppress arrayIndexThenCheck ; `i < best` breaks ties, it is not a bounds check
        if (predicted[i] > predicted[best] || (predicted[i] == predicted[best] && i < best)) ++better;
    top1_ += better == 0;
    top5_ += better < 5;
    auto lp = detail::log_softmax(model_logits, vocab), lq = detail::log_softmax(predicted, vocab);
    double kl = 0;
    for (std::size_t i = 0; i < vocab; ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
    kl_ += kl;
    ++result_.positions;
}

inline fidelity_result fidelity_meter::result() const {
    fidelity_result r = result_;
    const double n = static_cast<double>(std::max<std::size_t>(r.positions, 1));
    r.top1 = top1_ / n;
    r.top5 = top5_ / n;
    r.kl = kl_ / n;
    return r;
}

inline std::vector<fidelity_result> measure_fidelity(const model& full, const std::vector<std::vector<token_id>>& windows,
                                                     const std::vector<std::pair<std::string, next_token_predictor>>& predictors,
                                                     std::size_t skip_first) {
    const std::size_t V = full.config().d_vocab;
    std::vector<fidelity_meter> meters;
    meters.reserve(predictors.size());
    for (const auto& [name, fn] : predictors) meters.emplace_back(name);
    std::vector<float> predicted(V);
    for (const auto& w : windows) {
        if (w.size() <= skip_first) continue;
        activation logits = forward(full, w);
        std::vector<token_id> context;
        for (std::size_t t = 0; t < w.size(); ++t) {
            context.push_back(w[t]);
            if (t < skip_first) continue;
            for (std::size_t i = 0; i < predictors.size(); ++i) {
                std::fill(predicted.begin(), predicted.end(), 0.0f);
                predictors[i].second(context, predicted);
                meters[i].add(logits.data() + t * V, predicted.data(), V);
            }
        }
    }
    std::vector<fidelity_result> out;
    out.reserve(meters.size());
    for (const auto& m : meters) out.push_back(m.result());
    if (out.empty() || out[0].positions == 0)
        throw input_error(557, "no held-out position to measure fidelity on (windows must be longer than " + std::to_string(skip_first) + " tokens)");
    return out;
}

inline next_token_predictor rules_predictor(const rule_engine& engine) {
    return [&engine](const std::vector<token_id>& context, std::vector<float>& logits) {
        if (logits.size() != engine.rules().d_vocab)
            throw input_error(558, "the rules are for a vocabulary of " + std::to_string(engine.rules().d_vocab) +
                                       " tokens, not the model's " + std::to_string(logits.size()));
        logits = engine.predict(context).logits;
    };
}

inline next_token_predictor unigram_predictor(const std::vector<std::vector<token_id>>& windows, std::size_t vocab,
                                              std::size_t skip_first, double alpha) {
    std::vector<double> counts(vocab, 0.0);
    double total = 0;
    for (const auto& w : windows)
        for (std::size_t t = std::min(skip_first, w.size()); t < w.size(); ++t) {
            if (w[t] < 0 || static_cast<std::size_t>(w[t]) >= vocab)
                throw input_error(502, "token " + std::to_string(w[t]) + " is outside the vocabulary of " + std::to_string(vocab));
            counts[static_cast<std::size_t>(w[t])] += 1;
            total += 1;
        }
    auto log_p = std::make_shared<std::vector<float>>(vocab);
    for (std::size_t i = 0; i < vocab; ++i)
        (*log_p)[i] = static_cast<float>(std::log((counts[i] + alpha) / (total + alpha * static_cast<double>(vocab))));
    return [log_p](const std::vector<token_id>&, std::vector<float>& logits) { logits = *log_p; };
}

inline nlohmann::json to_json(const std::vector<fidelity_result>& rows) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows)
        out.push_back({{"predictor", r.name}, {"positions", r.positions}, {"top1", r.top1}, {"top5", r.top5}, {"kl", r.kl}});
    return out;
}

}  // namespace xlens
