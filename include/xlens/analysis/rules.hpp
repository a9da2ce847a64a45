// xlens/analysis/rules.hpp — a model's knowledge as readable rules, and rules.json.
//
//   xlens::rule_set rules = xlens::build_rules(model, values, harvester, windows, &tok);
//   xlens::save_rules(rules, "rules.json");
//   xlens::rule_set again = xlens::load_rules("rules.json");   // schema-checked
//
// A rule says "when the recent tokens are X, add these logits". Three kinds, which together form a
// first-order expansion of the model's logits around their corpus average:
//   prior   always fires: the log of the model's next-token distribution averaged over the harvest
//           corpus (centred), the prediction it makes before knowing anything about the context;
//   direct  fires on the current token t: (E[t] − Ē) read straight through the final norm's gain and
//           the unembedding, where Ē is the corpus's mean embedding (the prior already holds it),
//           times the mean of 1/scale of the final norm where t occurs;
//   neuron  fires when the context ends with one of its triggers (the tokens at the neuron's top
//           activating contexts): (s − s̄) × the neuron's value scores, where s is the neuron's
//           activation divided by the final norm's scale at the same position ("scaled activation":
//           what reaches the logits per unit of value score), averaged over every corpus position
//           where the context ends with the trigger, and s̄ its mean over all positions.
// Measuring the scaled activation per position matters: a few neurons fire with "massive"
// activations (hundreds) exactly where the residual stream is so large that the final norm divides
// them back down; an activation times the corpus-mean 1/scale overstates them several times over.
// Each token list is centred (the row's mean score over the vocabulary subtracted), so a token a rule
// does not list gets what the rule gives an average token: 0. The format is docs/rules.schema.json.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/analysis/neuron_harvest.hpp"
#include "xlens/analysis/neuron_values.hpp"
#include "xlens/error.hpp"
#include "xlens/io/file_writer.hpp"
#include "xlens/io/json.hpp"
#include "xlens/model/model.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/text/tokenizer.hpp"

namespace xlens {

enum class rule_kind { prior, direct, neuron };
inline const char* rule_kind_name(rule_kind k) {
    return k == rule_kind::prior ? "prior" : k == rule_kind::direct ? "direct" : "neuron";
}

/// The rule fires when the context ends with `tokens` (an empty list: always).
struct rule_trigger {
    std::vector<token_id> tokens;
    std::string text;
    float activation = 1;         // the neuron's mean activation where the context ends so (1 for direct rules)
    float scaled_activation = 1;  // the mean of activation / (final norm scale) there (direct: of 1 / scale)
    std::size_t count = 0;        // corpus positions whose context ends so
};

struct token_bias {
    token_id token = 0;
    std::string text;
    float bias = 0;  // logit added when the rule fires at its typical activation
};

struct rule {
    rule_kind kind = rule_kind::prior;
    int layer = -1, neuron = -1;          // neuron rules only
    float mean_activation = 0;            // the neuron's corpus mean activation (0 for prior and direct)
    float typical_activation = 1;         // count-weighted mean of its triggers' activations
    float mean_scaled_activation = 0;     // s̄: the corpus mean of activation / scale (0 for prior and direct)
    float typical_scaled_activation = 1;  // count-weighted mean of its triggers' scaled activations
    std::vector<rule_trigger> triggers;
    std::vector<token_bias> promoted;     // highest bias first
    std::vector<token_bias> suppressed;   // lowest bias first

    /// What firing on `t` multiplies the listed biases by: (s_t − s̄) / (typical − s̄), s scaled activations.
    double strength(const rule_trigger& t) const {
        return (static_cast<double>(t.scaled_activation) - mean_scaled_activation) /
               (static_cast<double>(typical_scaled_activation) - mean_scaled_activation);
    }
    /// "prior", "direct ' the'", "L12 N403".
    std::string label() const;
};

struct rule_set {
    nlohmann::json model;     // source, architecture, d_vocab, n_layers, d_mlp
    nlohmann::json corpus;    // what the rules were harvested from
    double final_inverse_scale = 1;
    std::size_t d_vocab = 0;
    std::vector<rule> rules;
    nlohmann::json fidelity;  // filled by whoever measures it (null until then)
};

struct rule_options {
    std::size_t tokens = 10;          // promoted and suppressed tokens listed per neuron or direct rule
    std::size_t prior_tokens = 0;     // tokens the prior lists (0: every token)
    std::size_t trigger_length = 1;   // tokens per trigger: 1 the current token, 2 the previous one too
    double min_bias = 0.1;            // neuron rules whose largest |logit bias| is smaller are left out
    std::size_t min_count = 1;        // triggers seen at fewer corpus positions are left out
    bool direct_all_tokens = false;   // direct rules for every token, not only those the corpus holds
    bool prior = true, direct = true, neurons = true;
};

/// Rules from a neuron value table (k ≥ options.tokens), a harvest over `windows` (the same windows,
/// in order), and the model's embeddings. `tok` supplies token texts (ids only without it).
/// Throws input_error 550 (options.tokens = 0 or > the table's k, trigger_length = 0), 555 (nothing harvested).
inline rule_set build_rules(const model& m, const neuron_value_table& values, const neuron_harvester& keys,
                            const std::vector<std::vector<token_id>>& windows, const tokenizer* tok,
                            const rule_options& options = {});

inline nlohmann::json to_json(const rule_set& r);
/// Checks every field against the schema; throws format_error 288 naming the record and field
/// (e.g. "rules[12].promoted[3].token"), 289 for another format or version.
inline rule_set rules_from_json(const nlohmann::json& j, const std::string& where = "rules.json");
/// Written atomically (path.tmp, then renamed). Throws io_error 110–112.
inline void save_rules(const rule_set& r, const std::string& path);
/// Throws io_error 104, format_error 205–207, 288, 289.
inline rule_set load_rules(const std::string& path);

// ---- definitions -------------------------------------------------------------------------------

inline std::string rule::label() const {
    if (kind == rule_kind::neuron) return "L" + std::to_string(layer) + " N" + std::to_string(neuron);
    if (kind == rule_kind::direct) return "direct '" + (triggers.empty() ? std::string() : triggers[0].text) + "'";
    return "prior";
}

namespace detail {

inline std::string text_of(const tokenizer* tok, const std::vector<token_id>& ids) {
    std::string s;
    if (tok)
        for (auto id : ids) s += tok->token_text(id);
    return s;
}

/// Centred biases `scale` × (score − mean) of one row's extremes, the first `n` of each list.
inline void fill_biases(rule& r, const vocab_extremes& e, std::size_t n, double scale, const tokenizer* tok) {
    for (std::size_t i = 0; i < std::min(n, e.promoted.size()); ++i)
        r.promoted.push_back({e.promoted[i].token, text_of(tok, {e.promoted[i].token}),
                              static_cast<float>(scale * (e.promoted[i].score - e.mean_score))});
    for (std::size_t i = 0; i < std::min(n, e.suppressed.size()); ++i)
        r.suppressed.push_back({e.suppressed[i].token, text_of(tok, {e.suppressed[i].token}),
                                static_cast<float>(scale * (e.suppressed[i].score - e.mean_score))});
}

inline void add_prior_rule(rule_set& out, const std::vector<double>& mean_probabilities, std::size_t n, const tokenizer* tok) {
    rule r;
    r.kind = rule_kind::prior;
    std::vector<double> mean_logits(mean_probabilities.size());
    for (std::size_t i = 0; i < mean_logits.size(); ++i) mean_logits[i] = std::log(std::max(mean_probabilities[i], 1e-30));
    double mean = 0;
    for (double v : mean_logits) mean += v;
    mean /= static_cast<double>(mean_logits.size());
    std::vector<token_id> order(mean_logits.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<token_id>(i);
    std::stable_sort(order.begin(), order.end(), [&](token_id a, token_id b) {
        return mean_logits[static_cast<std::size_t>(a)] > mean_logits[static_cast<std::size_t>(b)];
    });
    const std::size_t keep = n == 0 ? order.size() : std::min(n, order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        const double bias = mean_logits[static_cast<std::size_t>(order[i])] - mean;
        const bool listed = n == 0 || i < keep || order.size() - i <= keep;
        if (!listed) continue;
        token_bias b{order[i], text_of(tok, {order[i]}), static_cast<float>(bias)};
        (bias >= 0 ? r.promoted : r.suppressed).push_back(std::move(b));
    }
    std::reverse(r.suppressed.begin(), r.suppressed.end());  // lowest first
    out.rules.push_back(std::move(r));
}

/// What one more pass over the corpus measures for the rules: per candidate trigger, the neuron's
/// mean activation and mean activation / scale over every position whose context ends with it; per
/// token, the mean 1/scale where it is the current token. Memory: a few numbers per trigger and token.
struct corpus_calibration {
    struct sums {
        double activation = 0, scaled = 0;
        std::size_t count = 0;
    };
    std::vector<std::vector<sums>> triggers;  // [candidate][trigger]
    std::vector<sums> tokens;                 // [token]: scaled = Σ 1/scale
};

inline corpus_calibration calibrate(const std::vector<rule>& candidates, const model& m,
                                    const std::vector<std::vector<token_id>>& windows, std::size_t skip_first) {
    struct site {
        std::size_t rule, trigger, neuron;
    };
    const std::size_t n_layers = m.config().n_layers, d_mlp = m.config().mlp.d_mlp;
    corpus_calibration out;
    out.tokens.assign(m.config().d_vocab, {});
    std::vector<std::unordered_map<token_id, std::vector<site>>> by_layer(n_layers);
    for (std::size_t r = 0; r < candidates.size(); ++r) {
        out.triggers.emplace_back(candidates[r].triggers.size());
        for (std::size_t t = 0; t < candidates[r].triggers.size(); ++t)
            by_layer[static_cast<std::size_t>(candidates[r].layer)][candidates[r].triggers[t].tokens.back()].push_back(
                {r, t, static_cast<std::size_t>(candidates[r].neuron)});
    }
    std::vector<hook_point> points;
    for (std::size_t L = 0; L < n_layers; ++L)
        if (!by_layer[L].empty()) points.push_back({hook_kind::mlp_post, static_cast<int>(L)});
    struct hit {
        std::size_t rule, trigger, position;
        float activation;
    };
    for (const auto& w : windows) {
        const std::size_t first = std::min(skip_first, w.size());
        std::vector<hit> hits;  // the scale is known only once the run reaches the final norm
        std::vector<double> inverse_scale(w.size(), 0.0);
        hook_set hooks;
        auto on_post = hooks.add(hook_filter::kinds({}, points), [&](activation& post, hook_point p) {
            const auto& sites = by_layer[static_cast<std::size_t>(p.layer)];
            for (std::size_t t = first; t < w.size(); ++t) {
                auto it = sites.find(w[t]);
                if (it == sites.end()) continue;
                for (const auto& s : it->second) {
                    const auto& pattern = candidates[s.rule].triggers[s.trigger].tokens;
                    if (pattern.size() > t + 1 || !std::equal(pattern.begin(), pattern.end(), w.begin() + static_cast<std::ptrdiff_t>(t + 1 - pattern.size())))
                        continue;
                    hits.push_back({s.rule, s.trigger, t, post.data()[t * d_mlp + s.neuron]});
                }
            }
        });
        auto on_scale = hooks.add(hook_filter::kinds({hook_kind::ln_final_scale}), [&](activation& scale, hook_point) {
            for (std::size_t t = 0; t < w.size(); ++t) inverse_scale[t] = 1.0 / static_cast<double>(scale.data()[t]);
        });
        run_with_hooks(m, w, hooks);
        for (const auto& h : hits) {
            auto& s = out.triggers[h.rule][h.trigger];
            s.activation += h.activation;
            s.scaled += h.activation * inverse_scale[h.position];
            s.count += 1;
        }
        for (std::size_t t = first; t < w.size(); ++t) {
            auto& s = out.tokens[static_cast<std::size_t>(w[t])];
            s.scaled += inverse_scale[t];
            s.count += 1;
        }
    }
    return out;
}

inline void add_direct_rules(rule_set& out, const model& m, const std::vector<std::vector<token_id>>& windows,
                             std::size_t skip_first, const corpus_calibration& calibration, const rule_options& o,
                             const tokenizer* tok) {
    const auto& c = m.config();
    const std::size_t d = c.d_model, V = c.d_vocab;
    const weight& E = m.weights().embed;
    std::vector<double> mean_embedding(d, 0.0);
    std::vector<float> row(d);
    std::vector<bool> present(V, o.direct_all_tokens);
    std::size_t count = 0;
    for (const auto& w : windows)
        for (std::size_t t = 0; t < w.size(); ++t) {
            present[static_cast<std::size_t>(w[t])] = true;
            if (t < skip_first) continue;
            ++count;
            E.read_rows(static_cast<std::size_t>(w[t]), 1, row.data());
            for (std::size_t j = 0; j < d; ++j) mean_embedding[j] += row[j];
        }
    for (auto& x : mean_embedding) x /= static_cast<double>(std::max<std::size_t>(count, 1));
    std::vector<token_id> ids;
    for (std::size_t t = 0; t < V; ++t)
        if (present[t]) ids.push_back(static_cast<token_id>(t));
    constexpr std::size_t chunk = 2048;  // tokens per projection: keeps the score block near 32 MB
    std::vector<float> rows(chunk * d);
    for (std::size_t i0 = 0; i0 < ids.size(); i0 += chunk) {
        const std::size_t nt = std::min(chunk, ids.size() - i0);
        for (std::size_t i = 0; i < nt; ++i) {
            float* r = rows.data() + i * d;
            E.read_rows(static_cast<std::size_t>(ids[i0 + i]), 1, r);
            for (std::size_t j = 0; j < d; ++j) r[j] = static_cast<float>(r[j] - mean_embedding[j]);
        }
        auto extremes = project_to_vocab(m, through_final_gain(m, rows.data(), nt).data(), nt, o.tokens);
        for (std::size_t i = 0; i < nt; ++i) {
            rule r;
            r.kind = rule_kind::direct;
            const token_id id = ids[i0 + i];
            const auto& seen = calibration.tokens[static_cast<std::size_t>(id)];
            // Where the token never is the current one (at position 0 only, or --direct-all), the corpus mean.
            const double inverse_scale = seen.count ? seen.scaled / static_cast<double>(seen.count) : out.final_inverse_scale;
            r.typical_scaled_activation = static_cast<float>(inverse_scale);
            r.triggers.push_back({{id}, text_of(tok, {id}), 1.0f, static_cast<float>(inverse_scale), seen.count});
            fill_biases(r, extremes[i], o.tokens, inverse_scale, tok);
            out.rules.push_back(std::move(r));
        }
    }
}

/// Candidate neuron rules: one per neuron, its triggers the distinct context endings of its top contexts.
inline std::vector<rule> neuron_candidates(const neuron_harvester& keys, const std::vector<std::vector<token_id>>& windows,
                                           const rule_options& o, const tokenizer* tok) {
    std::vector<rule> candidates;
    for (auto L : keys.options().layers)
        for (std::size_t n = 0; n < keys.d_mlp(); ++n) {
            const neuron_activity a = keys.activity(L, n);
            rule r;
            r.kind = rule_kind::neuron;
            r.layer = static_cast<int>(L);
            r.neuron = static_cast<int>(n);
            r.mean_activation = static_cast<float>(a.mean);
            r.mean_scaled_activation = static_cast<float>(a.mean_scaled);
            for (const auto& ctx : a.top) {
                const auto& w = windows.at(ctx.window);
                const std::size_t end = std::size_t{ctx.position} + 1;  // one past the trigger's last token
                const std::size_t len = std::min<std::size_t>(o.trigger_length, end);
                std::vector<token_id> pattern(w.begin() + static_cast<std::ptrdiff_t>(end - len),
                                              w.begin() + static_cast<std::ptrdiff_t>(end));
                bool seen = false;
                for (const auto& t : r.triggers) seen = seen || t.tokens == pattern;
                if (!seen) r.triggers.push_back({pattern, text_of(tok, pattern), 0.0f, 0.0f, 0});
            }
            if (!r.triggers.empty()) candidates.push_back(std::move(r));
        }
    return candidates;
}

inline void add_neuron_rules(rule_set& out, std::vector<rule> candidates, const corpus_calibration& calibration,
                             const neuron_value_table& values, const rule_options& o, const tokenizer* tok) {
    for (std::size_t c = 0; c < candidates.size(); ++c) {
        rule& r = candidates[c];
        // Keep the triggers on which the neuron's scaled activation is, on average, above its mean.
        std::vector<rule_trigger> kept;
        double activation = 0, scaled = 0;
        std::size_t occurrences = 0;
        for (std::size_t t = 0; t < r.triggers.size(); ++t) {
            const auto& s = calibration.triggers[c][t];
            if (s.count == 0 || s.count < o.min_count) continue;
            rule_trigger trig = r.triggers[t];
            trig.count = s.count;
            trig.activation = static_cast<float>(s.activation / static_cast<double>(s.count));
            trig.scaled_activation = static_cast<float>(s.scaled / static_cast<double>(s.count));
            if (!(trig.scaled_activation > r.mean_scaled_activation)) continue;
            activation += s.activation;
            scaled += s.scaled;
            occurrences += s.count;
            kept.push_back(std::move(trig));
        }
        if (kept.empty()) continue;
        r.triggers = std::move(kept);
        r.typical_activation = static_cast<float>(activation / static_cast<double>(occurrences));
        r.typical_scaled_activation = static_cast<float>(scaled / static_cast<double>(occurrences));
        if (!(r.typical_scaled_activation > r.mean_scaled_activation)) continue;  // float rounding of a tiny margin
        const double scale = static_cast<double>(r.typical_scaled_activation) - r.mean_scaled_activation;
        fill_biases(r, values.at(static_cast<std::size_t>(r.layer), static_cast<std::size_t>(r.neuron)), o.tokens, scale, tok);
        double strongest = 0;
        for (const auto* list : {&r.promoted, &r.suppressed})
            for (const auto& b : *list) strongest = std::max(strongest, std::abs(static_cast<double>(b.bias)));
        if (strongest < o.min_bias) continue;
        out.rules.push_back(std::move(r));
    }
}

}  // namespace detail

inline rule_set build_rules(const model& m, const neuron_value_table& values, const neuron_harvester& keys,
                            const std::vector<std::vector<token_id>>& windows, const tokenizer* tok,
                            const rule_options& options) {
    const auto& c = m.config();
    if (options.tokens == 0 || options.tokens > values.k)
        throw input_error(550, "rules list between 1 and " + std::to_string(values.k) + " tokens (the value table's k), not " +
                                   std::to_string(options.tokens));
    if (options.trigger_length == 0 || options.trigger_length > 8)
        throw input_error(550, "a trigger is 1 to 8 tokens, not " + std::to_string(options.trigger_length));
    if (keys.positions() == 0 || keys.windows() != windows.size())
        throw input_error(555, "the harvest covers " + std::to_string(keys.windows()) + " windows and " +
                                   std::to_string(keys.positions()) + " positions; rules need a complete, non-empty harvest of the " +
                                   std::to_string(windows.size()) + " windows given");
    rule_set out;
    out.d_vocab = c.d_vocab;
    out.model = {{"source", m.source()}, {"architecture", c.architecture}, {"d_vocab", c.d_vocab},
                 {"n_layers", c.n_layers}, {"d_mlp", c.mlp.d_mlp}};
    out.final_inverse_scale = keys.mean_inverse_final_scale();
    out.corpus = {{"windows", keys.windows()}, {"positions", keys.positions()}, {"contexts_per_neuron", keys.options().k},
                  {"skip_first", keys.options().skip_first}};
    auto candidates = options.neurons ? detail::neuron_candidates(keys, windows, options, tok) : std::vector<rule>();
    const auto calibration = detail::calibrate(candidates, m, windows, keys.options().skip_first);
    if (options.prior) detail::add_prior_rule(out, keys.mean_probabilities(), options.prior_tokens, tok);
    if (options.direct) detail::add_direct_rules(out, m, windows, keys.options().skip_first, calibration, options, tok);
    if (options.neurons) detail::add_neuron_rules(out, std::move(candidates), calibration, values, options, tok);
    return out;
}

inline nlohmann::json to_json(const rule_set& r) {
    auto biases = [](const std::vector<token_bias>& list) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& b : list) a.push_back({{"token", b.token}, {"text", b.text}, {"logit_bias", b.bias}});
        return a;
    };
    nlohmann::json rules = nlohmann::json::array();
    for (std::size_t i = 0; i < r.rules.size(); ++i) {
        const auto& x = r.rules[i];
        nlohmann::json triggers = nlohmann::json::array();
        for (const auto& t : x.triggers)
            triggers.push_back({{"tokens", t.tokens}, {"text", t.text}, {"activation", t.activation},
                                {"scaled_activation", t.scaled_activation}, {"count", t.count}});
        nlohmann::json j = {{"id", i}, {"kind", rule_kind_name(x.kind)}};
        j["layer"] = x.kind == rule_kind::neuron ? nlohmann::json(x.layer) : nlohmann::json(nullptr);
        j["neuron"] = x.kind == rule_kind::neuron ? nlohmann::json(x.neuron) : nlohmann::json(nullptr);
        j["mean_activation"] = x.mean_activation;
        j["typical_activation"] = x.typical_activation;
        j["mean_scaled_activation"] = x.mean_scaled_activation;
        j["typical_scaled_activation"] = x.typical_scaled_activation;
        j["triggers"] = std::move(triggers);
        j["promoted"] = biases(x.promoted);
        j["suppressed"] = biases(x.suppressed);
        rules.push_back(std::move(j));
    }
    return {{"format", "xlens-rules"}, {"version", 1},          {"model", r.model},
            {"corpus", r.corpus},      {"final_inverse_scale", r.final_inverse_scale},
            {"fidelity", r.fidelity},  {"rules", std::move(rules)}};
}

namespace detail {

/// Reads rules.json fields, each failure naming the path to the field.
struct rule_reader {
    std::string where;
    std::size_t d_vocab = 0;

    [[noreturn]] void fail(const std::string& path, const std::string& why) const {
        throw format_error(288, where + ": " + path + ": " + why);
    }
    const nlohmann::json& field(const nlohmann::json& obj, const std::string& path, const char* key) const {
        if (!obj.is_object()) fail(path, "expected an object");
        auto it = obj.find(key);
        if (it == obj.end()) fail(path + "." + key, "is missing");
        return *it;
    }
    double number(const nlohmann::json& v, const std::string& path) const {
        if (!v.is_number()) fail(path, "expected a number, got " + v.dump());
        double x = v.get<double>();
        if (!std::isfinite(x) || std::abs(x) > std::numeric_limits<float>::max()) fail(path, "is not a finite float32 number");
        return x;
    }
    long long integer(const nlohmann::json& v, const std::string& path, long long lo, long long hi) const {
        if (!v.is_number_integer()) fail(path, "expected an integer, got " + v.dump());
        long long x = v.get<long long>();
        if (x < lo || x > hi) fail(path, std::to_string(x) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return x;
    }
    std::string string(const nlohmann::json& v, const std::string& path) const {
        if (!v.is_string()) fail(path, "expected a string, got " + v.dump());
        return v.get<std::string>();
    }
    const nlohmann::json& array(const nlohmann::json& v, const std::string& path) const {
        if (!v.is_array()) fail(path, "expected an array");
        return v;
    }
    token_id token(const nlohmann::json& v, const std::string& path) const {
        return static_cast<token_id>(integer(v, path, 0, static_cast<long long>(d_vocab) - 1));
    }
    std::vector<token_bias> biases(const nlohmann::json& list, const std::string& path) const {
        std::vector<token_bias> out;
        std::size_t i = 0;
        for (const auto& e : array(list, path)) {
            const std::string p = path + "[" + std::to_string(i++) + "]";
            out.push_back({token(field(e, p, "token"), p + ".token"), string(field(e, p, "text"), p + ".text"),
                           static_cast<float>(number(field(e, p, "logit_bias"), p + ".logit_bias"))});
        }
        return out;
    }
    rule read_rule(const nlohmann::json& j, const std::string& p, long long n_layers, long long d_mlp) const {
        rule r;
        const std::string kind = string(field(j, p, "kind"), p + ".kind");
        if (kind == "prior") r.kind = rule_kind::prior;
        else if (kind == "direct") r.kind = rule_kind::direct;
        else if (kind == "neuron") r.kind = rule_kind::neuron;
        else fail(p + ".kind", "'" + kind + "' is not prior, direct or neuron");
        if (r.kind == rule_kind::neuron) {
            r.layer = static_cast<int>(integer(field(j, p, "layer"), p + ".layer", 0, n_layers - 1));
            r.neuron = static_cast<int>(integer(field(j, p, "neuron"), p + ".neuron", 0, d_mlp - 1));
        }
        r.mean_activation = static_cast<float>(number(field(j, p, "mean_activation"), p + ".mean_activation"));
        r.typical_activation = static_cast<float>(number(field(j, p, "typical_activation"), p + ".typical_activation"));
        r.mean_scaled_activation = static_cast<float>(number(field(j, p, "mean_scaled_activation"), p + ".mean_scaled_activation"));
        r.typical_scaled_activation =
            static_cast<float>(number(field(j, p, "typical_scaled_activation"), p + ".typical_scaled_activation"));
        if (!(r.typical_scaled_activation > r.mean_scaled_activation))
            fail(p + ".typical_scaled_activation", "must exceed mean_scaled_activation (a rule fires above its average)");
        std::size_t i = 0;
        for (const auto& t : array(field(j, p, "triggers"), p + ".triggers")) {
            const std::string q = p + ".triggers[" + std::to_string(i++) + "]";
            rule_trigger trig;
            std::size_t k = 0;
            for (const auto& id : array(field(t, q, "tokens"), q + ".tokens"))
                trig.tokens.push_back(token(id, q + ".tokens[" + std::to_string(k++) + "]"));
            if (trig.tokens.empty()) fail(q + ".tokens", "is empty (a rule that always fires has no triggers)");
            trig.text = string(field(t, q, "text"), q + ".text");
            trig.activation = static_cast<float>(number(field(t, q, "activation"), q + ".activation"));
            trig.scaled_activation = static_cast<float>(number(field(t, q, "scaled_activation"), q + ".scaled_activation"));
            trig.count = static_cast<std::size_t>(integer(field(t, q, "count"), q + ".count", 0, 1ll << 40));
            r.triggers.push_back(std::move(trig));
        }
        if (r.kind == rule_kind::prior && !r.triggers.empty()) fail(p + ".triggers", "a prior rule has no triggers");
        if (r.kind != rule_kind::prior && r.triggers.empty()) fail(p + ".triggers", "a " + kind + " rule needs a trigger");
        r.promoted = biases(field(j, p, "promoted"), p + ".promoted");
        r.suppressed = biases(field(j, p, "suppressed"), p + ".suppressed");
        return r;
    }
};

}  // namespace detail

inline rule_set rules_from_json(const nlohmann::json& j, const std::string& where) {
    detail::rule_reader in{where};
    if (!j.is_object() || !j.contains("format") || j["format"] != "xlens-rules")
        throw format_error(289, where + ": not an xlens rules file (its \"format\" is not \"xlens-rules\")");
    if (!j.contains("version") || j["version"] != 1)
        throw format_error(289, where + ": rules format version " + (j.contains("version") ? j["version"].dump() : "(missing)") +
                                    " is not the version 1 this xlens reads");
    rule_set r;
    r.model = in.field(j, "(top level)", "model");
    in.d_vocab = static_cast<std::size_t>(in.integer(in.field(r.model, "model", "d_vocab"), "model.d_vocab", 1, 1ll << 24));
    const long long n_layers = in.integer(in.field(r.model, "model", "n_layers"), "model.n_layers", 1, 1 << 20);
    const long long d_mlp = in.integer(in.field(r.model, "model", "d_mlp"), "model.d_mlp", 1, 1ll << 31);
    r.d_vocab = in.d_vocab;
    r.corpus = in.field(j, "(top level)", "corpus");
    r.final_inverse_scale = in.number(in.field(j, "(top level)", "final_inverse_scale"), "final_inverse_scale");
    r.fidelity = j.value("fidelity", nlohmann::json());
    std::size_t i = 0;
    for (const auto& x : in.array(in.field(j, "(top level)", "rules"), "rules")) {
        const std::string p = "rules[" + std::to_string(i) + "]";
        if (in.integer(in.field(x, p, "id"), p + ".id", 0, 1ll << 40) != static_cast<long long>(i))
            in.fail(p + ".id", "ids must count 0, 1, 2, … in order");
        r.rules.push_back(in.read_rule(x, p, n_layers, d_mlp));
        ++i;
    }
    return r;
}

inline void save_rules(const rule_set& r, const std::string& path) {
    const std::string text = to_json(r).dump() + "\n";
    io::detail::write_file_atomically(path, {{text.data(), text.size()}});
}

inline rule_set load_rules(const std::string& path) { return rules_from_json(io::read_json_file(path, std::size_t(1) << 30), path); }

}  // namespace xlens
