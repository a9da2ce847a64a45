// xlens/analysis/neuron_harvest.hpp — what makes each MLP neuron fire, harvested over a corpus.
//
//   xlens::neuron_harvester h(model, {/*k*/ 8});
//   for (const auto& window : xlens::corpus_windows(tok, text, 64, 200)) h.add(window);
//   auto a = h.activity(12, 403);   // a.top[0].window, .position, .activation; a.mean, a.frequency
//
// The key side of a neuron's key-value memory: the contexts where its activation (TransformerLens's
// blocks.L.mlp.hook_post, after the nonlinearity and, in gated MLPs, the gate) is highest. Each run
// streams through a hook, so memory is neurons × k whatever the corpus size (plus one window's
// activations, layers × T × d_mlp floats, kept until the run reaches the final norm). Ranking is by signed
// activation: in a gated MLP a strongly negative activation flips the neuron's output vector, and
// those contexts are not its "firing" ones. The first `skip_first` positions of every window are
// left out (position 0 is an attention sink whose activations are unlike any other position's).
//
// Alongside, for the rules builder: each neuron's mean of activation ÷ the final norm's scale at
// the same position (what reaches the logits per unit of the neuron's value score: a few "massive"
// activations come with a residual stream so large that the norm divides them right back down), the
// mean of 1/scale itself, and the mean next-token distribution (the model's default prediction).
// A harvest can be saved and resumed (state()/restore()), so a long run is interrupt-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/analysis/neuron_values.hpp"
#include "xlens/error.hpp"
#include "xlens/model/model.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/run/sampling.hpp"

namespace xlens {

/// One place a neuron fired: position `position` of harvested window `window`.
struct activating_context {
    std::uint32_t window = 0;
    std::uint32_t position = 0;
    float activation = 0;
};

struct neuron_activity {
    double mean = 0;        // mean activation over every harvested position
    double mean_scaled = 0; // mean of activation / (final norm scale) over the same positions
    double frequency = 0;   // share of positions with activation > 0
    float max = 0;
    std::vector<activating_context> top;  // highest first; ties: earlier window, then position
};

struct harvest_options {
    std::size_t k = 8;                 // contexts kept per neuron
    std::size_t skip_first = 1;        // positions at the start of each window that are not harvested
    std::vector<std::size_t> layers;   // empty: every layer
};

class neuron_harvester {
public:
    /// Throws input_error 550 (k = 0), 551 (layer out of range).
    neuron_harvester(const model& m, harvest_options options);

    /// Runs the model on `window` (the next window, index windows()) and folds in its activations.
    void add(const std::vector<token_id>& window);

    std::size_t windows() const { return windows_; }
    std::uint64_t positions() const { return positions_; }
    const harvest_options& options() const { return options_; }
    std::size_t d_mlp() const { return d_mlp_; }

    /// Throws input_error 551 if the layer was not harvested or the neuron is out of range.
    neuron_activity activity(std::size_t layer, std::size_t neuron) const;
    /// Mean over harvested positions of 1 / (final norm scale).
    double mean_inverse_final_scale() const { return positions_ ? inverse_scale_sum_ / static_cast<double>(positions_) : 0.0; }
    /// The model's next-token distribution [d_vocab], averaged over harvested positions.
    std::vector<double> mean_probabilities() const;

    /// Everything needed to continue later, tagged with `fingerprint` (what the caller harvests:
    /// corpus and options); restore() refuses a state with another fingerprint or shape.
    nlohmann::json state(const std::string& fingerprint) const;
    /// Throws input_error 554 (another fingerprint, model shape or options), format_error 287 (malformed).
    void restore(const nlohmann::json& state, const std::string& fingerprint);

private:
    struct slot {
        double sum = 0, scaled_sum = 0;
        std::uint64_t positive = 0;
        float max = -std::numeric_limits<float>::infinity();
        float threshold = -std::numeric_limits<float>::infinity();  // weakest kept activation once full
        std::vector<activating_context> heap;                       // min-heap: weakest first
    };
    static bool stronger(const activating_context& a, const activating_context& b) {
        if (a.activation != b.activation) return a.activation > b.activation;
        if (a.window != b.window) return a.window < b.window;
        return a.position < b.position;
    }
    void offer(slot& s, const activating_context& c);
    std::size_t layer_slot(std::size_t layer) const;

    const model* model_;
    harvest_options options_;
    std::size_t d_mlp_;
    std::vector<int> layer_index_;  // model layer → position in options_.layers, or −1
    std::vector<slot> slots_;
    std::size_t windows_ = 0;
    std::uint64_t positions_ = 0;
    double inverse_scale_sum_ = 0;
    std::vector<double> probability_sum_;
    std::vector<float> window_post_;  // this window's activations [layer, t, neuron], until its scales are known
};

// ---- definitions -------------------------------------------------------------------------------

inline neuron_harvester::neuron_harvester(const model& m, harvest_options options)
    : model_(&m), options_(std::move(options)), d_mlp_(m.config().mlp.d_mlp) {
    const auto& c = m.config();
    if (options_.k == 0) throw input_error(550, "k (contexts per neuron) must be at least 1");
    if (options_.layers.empty())
        for (std::size_t L = 0; L < c.n_layers; ++L) options_.layers.push_back(L);
    std::sort(options_.layers.begin(), options_.layers.end());  // "2-4,3" harvests each layer once
    options_.layers.erase(std::unique(options_.layers.begin(), options_.layers.end()), options_.layers.end());
    layer_index_.assign(c.n_layers, -1);
    for (std::size_t i = 0; i < options_.layers.size(); ++i) {
        detail::check_layer(c, options_.layers[i]);
        layer_index_[options_.layers[i]] = static_cast<int>(i);
    }
    slots_.resize(options_.layers.size() * d_mlp_);
    probability_sum_.assign(c.d_vocab, 0.0);
}

inline void neuron_harvester::offer(slot& s, const activating_context& c) {
    auto weakest_first = [](const activating_context& a, const activating_context& b) { return stronger(a, b); };
    if (s.heap.size() < options_.k) {
        s.heap.push_back(c);
        std::push_heap(s.heap.begin(), s.heap.end(), weakest_first);
    } else if (stronger(c, s.heap.front())) {
        std::pop_heap(s.heap.begin(), s.heap.end(), weakest_first);
        s.heap.back() = c;
        std::push_heap(s.heap.begin(), s.heap.end(), weakest_first);
    } else {
        return;
    }
    if (s.heap.size() == options_.k) s.threshold = s.heap.front().activation;
}

inline void neuron_harvester::add(const std::vector<token_id>& window) {
    const std::size_t T = window.size(), first = std::min(options_.skip_first, T), n = d_mlp_;
    const std::size_t rows = T - first, layers = options_.layers.size();
    const auto w = static_cast<std::uint32_t>(windows_);
    window_post_.assign(layers * rows * n, 0.0f);
    std::vector<double> inverse_scale(rows, 0.0);
    hook_set hooks;
    std::vector<hook_point> points;
    for (auto L : options_.layers) points.push_back({hook_kind::mlp_post, static_cast<int>(L)});
    auto on_post = hooks.add(hook_filter::kinds({}, points), [&](activation& post, hook_point p) {
        const std::size_t index = layer_slot(static_cast<std::size_t>(p.layer));
        slot* layer_slots = slots_.data() + index * n;
        std::copy(post.data() + first * n, post.data() + T * n, window_post_.begin() + static_cast<std::ptrdiff_t>(index * rows * n));
        for (std::size_t t = first; t < T; ++t) {
            const float* row = post.data() + t * n;
            for (std::size_t i = 0; i < n; ++i) {
                const float a = row[i];
                slot& s = layer_slots[i];
                s.sum += a;
                s.positive += a > 0;
                if (a > s.max) s.max = a;
                if (a >= s.threshold) offer(s, {w, static_cast<std::uint32_t>(t), a});
            }
        }
    });
    auto on_scale = hooks.add(hook_filter::kinds({hook_kind::ln_final_scale}), [&](activation& scale, hook_point) {
        for (std::size_t t = first; t < T; ++t) inverse_scale[t - first] = 1.0 / static_cast<double>(scale.data()[t]);
    });
    run_options o;
    o.hooks = &hooks;
    activation logits = forward(*model_, window, o);
    // The final norm's scale is known only now, after every layer's activations went by.
    for (std::size_t l = 0; l < layers; ++l)
        for (std::size_t r = 0; r < rows; ++r) {
            const float* row = window_post_.data() + (l * rows + r) * n;
            slot* layer_slots = slots_.data() + l * n;
            for (std::size_t i = 0; i < n; ++i) layer_slots[i].scaled_sum += row[i] * inverse_scale[r];
        }
    for (double v : inverse_scale) inverse_scale_sum_ += v;
    const std::size_t V = probability_sum_.size();
    for (std::size_t t = first; t < T; ++t) {
        const auto p = softmax(logits.data() + t * V, V);
        for (std::size_t v = 0; v < V; ++v) probability_sum_[v] += p[v];
    }
    positions_ += rows;
    ++windows_;
}

inline std::size_t neuron_harvester::layer_slot(std::size_t layer) const {
    if (layer >= layer_index_.size() || layer_index_[layer] < 0)
        throw input_error(551, "layer " + std::to_string(layer) + " was not harvested");
    return static_cast<std::size_t>(layer_index_[layer]);
}

inline neuron_activity neuron_harvester::activity(std::size_t layer, std::size_t neuron) const {
    if (neuron >= d_mlp_)
        throw input_error(551, "neuron " + std::to_string(neuron) + " is out of range: layers have " + std::to_string(d_mlp_) + " neurons");
    const slot& s = slots_[layer_slot(layer) * d_mlp_ + neuron];
    neuron_activity a;
    const double count = static_cast<double>(positions_);
    a.mean = positions_ ? s.sum / count : 0.0;
    a.mean_scaled = positions_ ? s.scaled_sum / count : 0.0;
    a.frequency = positions_ ? static_cast<double>(s.positive) / count : 0.0;
    a.max = positions_ ? s.max : 0.0f;
    a.top = s.heap;
    std::sort(a.top.begin(), a.top.end(), stronger);
    return a;
}

inline std::vector<double> neuron_harvester::mean_probabilities() const {
    std::vector<double> out(probability_sum_.size(), 0.0);
    if (positions_)
        for (std::size_t v = 0; v < out.size(); ++v) out[v] = probability_sum_[v] / static_cast<double>(positions_);
    return out;
}

inline nlohmann::json neuron_harvester::state(const std::string& fingerprint) const {
    nlohmann::json j;
    j["format"] = "xlens-harvest-state";
    j["version"] = 2;
    j["fingerprint"] = fingerprint;
    j["k"] = options_.k;
    j["skip_first"] = options_.skip_first;
    j["layers"] = options_.layers;
    j["d_mlp"] = d_mlp_;
    j["windows"] = windows_;
    j["positions"] = positions_;
    j["inverse_scale_sum"] = inverse_scale_sum_;
    j["probability_sum"] = probability_sum_;
    auto& neurons = j["neurons"] = nlohmann::json::array();
    for (const auto& s : slots_) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& c : s.heap) top.push_back({c.window, c.position, c.activation});
        neurons.push_back({s.sum, s.scaled_sum, s.positive, s.max, std::move(top)});
    }
    return j;
}

inline void neuron_harvester::restore(const nlohmann::json& j, const std::string& fingerprint) {
    auto mismatch = [](const std::string& what) {
        throw input_error(554, "the saved harvest was made " + what + "; delete it to start again");
    };
    try {
        if (j.at("format") != "xlens-harvest-state" || j.at("version") != 2) mismatch("by another version of xlens");
        if (j.at("fingerprint") != fingerprint) mismatch("over another corpus or with other options");
        if (j.at("k").get<std::size_t>() != options_.k || j.at("skip_first").get<std::size_t>() != options_.skip_first ||
            j.at("layers").get<std::vector<std::size_t>>() != options_.layers || j.at("d_mlp").get<std::size_t>() != d_mlp_)
            mismatch("with other options or another model");
        auto probability_sum = j.at("probability_sum").get<std::vector<double>>();
        const auto& neurons = j.at("neurons");
        if (probability_sum.size() != probability_sum_.size() || neurons.size() != slots_.size()) mismatch("for another model");
        std::vector<slot> slots(slots_.size());
        for (std::size_t i = 0; i < slots.size(); ++i) {
            const auto& e = neurons[i];
            slot& s = slots[i];
            s.sum = e.at(0).get<double>();
            s.scaled_sum = e.at(1).get<double>();
            s.positive = e.at(2).get<std::uint64_t>();
            s.max = e.at(3).is_null() ? -std::numeric_limits<float>::infinity() : e.at(3).get<float>();
            for (const auto& c : e.at(4)) {
                const activating_context ctx{c.at(0).get<std::uint32_t>(), c.at(1).get<std::uint32_t>(), c.at(2).get<float>()};
                if (ctx.window >= j.at("windows").get<std::size_t>())
                    throw format_error(287, "the saved harvest is malformed: a context in window " + std::to_string(ctx.window) +
                                                " of " + j.at("windows").dump());
                offer(s, ctx);
            }
        }
        slots_ = std::move(slots);
        probability_sum_ = std::move(probability_sum);
        windows_ = j.at("windows").get<std::size_t>();
        positions_ = j.at("positions").get<std::uint64_t>();
        inverse_scale_sum_ = j.at("inverse_scale_sum").get<double>();
    } catch (const nlohmann::json::exception& e) {
        throw format_error(287, std::string("the saved harvest is malformed: ") + e.what());
    }
}

}  // namespace xlens
