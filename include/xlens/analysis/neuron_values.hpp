// xlens/analysis/neuron_values.hpp — what each MLP neuron writes, read through the unembedding.
//
//   xlens::neuron_value_options o;  o.k = 10;  o.layers = {12};
//   xlens::neuron_value_table t = xlens::neuron_values(model, o);
//   t.at(12, 403).promoted[0].token, t.at(12, 403).promoted[0].score
//
// An MLP neuron is a key-value memory (Geva et al., 2021): its input weights decide when it fires,
// and its output vector — column n of W_out — is what it adds to the residual stream, scaled by its
// activation. Read through the final norm and the unembedding, that vector is a score per token:
//
//     score(n, t) = (γ ⊙ c(W_out[:, n])) · W_U[:, t]
//
// with γ the final norm's gain and c() the LayerNorm centring (identity for RMSNorm). The norm's
// 1/scale is data-dependent, so scores are per unit of activation *before* it; the rules builder
// (analysis/rules.hpp) multiplies by a measured mean 1/scale. The final norm's bias and b_U do not
// depend on the neuron and are left out. Scores are computed blockwise — all of a layer's neurons
// against 4096 tokens at a time, one BLAS gemm each — and only the k best and k worst per neuron are
// kept, so memory is one block plus neurons × k, never neurons × vocabulary.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "xlens/blocks/matmul.hpp"
#include "xlens/error.hpp"
#include "xlens/model/model.hpp"
#include "xlens/token_id.hpp"

namespace xlens {

struct token_score {
    token_id token = 0;
    float score = 0;
};

/// One row's k highest and k lowest scores over the vocabulary, best first, and its mean score.
struct vocab_extremes {
    std::vector<token_score> promoted;    // highest first
    std::vector<token_score> suppressed;  // lowest first
    double mean_score = 0;                // over every token: what centring a row's scores subtracts
};

struct neuron_value_options {
    std::size_t k = 10;
    std::vector<std::size_t> layers;  // empty: every layer
    std::size_t vocab_block = 4096;   // tokens per gemm
};

struct neuron_value_table {
    std::size_t k = 0;
    std::size_t d_mlp = 0;
    std::vector<std::size_t> layers;
    std::vector<vocab_extremes> neurons;  // layers[i]'s neuron n at i · d_mlp + n

    /// Throws input_error 551 if `layer` was not computed or `neuron` ≥ d_mlp.
    const vocab_extremes& at(std::size_t layer, std::size_t neuron) const;
};

/// Every neuron's top-k promoted and suppressed tokens for the chosen layers.
/// Throws input_error 550 (k = 0 or k > vocabulary), 551 (layer out of range).
inline neuron_value_table neuron_values(const model& m, const neuron_value_options& options = {});

/// Rows [n, d_model] read through the final norm's gain (and centring): what neuron_values and the
/// direct-path rules project. `rows` is row-major; the result is a copy.
inline std::vector<float> through_final_gain(const model& m, const float* rows, std::size_t n);

/// The output vectors of layer `layer`'s neurons as rows [d_mlp, d_model] (W_out's columns); for
/// post-norm models (Gemma 2/3, OLMo 2) through the gain of the norm on the MLP output, as they join
/// the residual (that norm's per-token scale is left out, as the final norm's is).
inline std::vector<float> neuron_output_vectors(const model& m, std::size_t layer);

/// Top-k and bottom-k of rows [n, d_model] · W_Uᵀ, streamed over vocabulary blocks.
inline std::vector<vocab_extremes> project_to_vocab(const model& m, const float* rows, std::size_t n, std::size_t k,
                                                    std::size_t vocab_block = 4096);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

/// The k largest values seen, as a min-heap so the weakest is at the front; ties keep the lower id
/// (what a stable sort over the vocabulary would give).
class top_k_tracker {
public:
    explicit top_k_tracker(std::size_t k) : k_(k) { heap_.reserve(k); }
    /// Below this no value can enter (−∞ until full).
    float threshold() const { return heap_.size() < k_ ? -std::numeric_limits<float>::infinity() : heap_.front().score; }
    void offer(token_id id, float v) {
        if (heap_.size() < k_) {
            heap_.push_back({id, v});
            std::push_heap(heap_.begin(), heap_.end(), worse_first);
        } else if (better(v, id, heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), worse_first);
            heap_.back() = {id, v};
            std::push_heap(heap_.begin(), heap_.end(), worse_first);
        }
    }
    std::vector<token_score> sorted() const {
        auto out = heap_;
        std::sort(out.begin(), out.end(), [](const token_score& a, const token_score& b) { return better(a.score, a.token, b); });
        return out;
    }

private:
    static bool better(float v, token_id id, const token_score& o) { return v > o.score || (v == o.score && id < o.token); }
    static bool worse_first(const token_score& a, const token_score& b) { return better(a.score, a.token, b); }
    std::size_t k_;
    std::vector<token_score> heap_;
};

inline void check_k(std::size_t k, std::size_t limit, const char* what) {
    if (k == 0 || k > limit)
        throw input_error(550, std::string(what) + " must be between 1 and " + std::to_string(limit) + ", not " + std::to_string(k));
}

inline void check_layer(const model_config& c, std::size_t layer) {
    if (layer >= c.n_layers)
        throw input_error(551, "layer " + std::to_string(layer) + " is out of range: the model has " +
                                   std::to_string(c.n_layers) + " layers");
}

}  // namespace detail

inline const vocab_extremes& neuron_value_table::at(std::size_t layer, std::size_t neuron) const {
    auto it = std::find(layers.begin(), layers.end(), layer);
    if (it == layers.end()) throw input_error(551, "layer " + std::to_string(layer) + " was not computed");
    if (neuron >= d_mlp)
        throw input_error(551, "neuron " + std::to_string(neuron) + " is out of range: layers have " + std::to_string(d_mlp) + " neurons");
    return neurons[static_cast<std::size_t>(it - layers.begin()) * d_mlp + neuron];
}

inline std::vector<float> through_final_gain(const model& m, const float* rows, std::size_t n) {
    const auto& c = m.config();
    const std::size_t d = c.d_model;
    const float* gain = m.weights().ln_final.w.data;
    std::vector<float> out(n * d);
    for (std::size_t i = 0; i < n; ++i) {
        const float* x = rows + i * d;
        float* y = out.data() + i * d;
        double mean = 0;
        if (c.norm.kind == norm_kind::layer_norm) {  // LayerNorm removes a vector's mean before scaling
            for (std::size_t j = 0; j < d; ++j) mean += x[j];
            mean /= static_cast<double>(d);
        }
        for (std::size_t j = 0; j < d; ++j) y[j] = static_cast<float>(x[j] - mean) * gain[j];
    }
    return out;
}

inline std::vector<float> neuron_output_vectors(const model& m, std::size_t layer) {
    detail::check_layer(m.config(), layer);
    const auto& out = m.weights().layers[layer].mlp.out;
    const std::size_t d = out.d_out(), n = out.d_in();
    std::vector<float> rows(n * d);
    const float32_values values(out.w);  // this layer only, dequantised if kept stored
    const float* w = values.data();
    if (out.in_by_out) {  // stored [d_mlp, d_model]: already one row per neuron
        std::copy(w, w + n * d, rows.begin());
    } else {  // stored [d_model, d_mlp]
        for (std::size_t j = 0; j < d; ++j)
            for (std::size_t i = 0; i < n; ++i) rows[i * d + j] = w[j * n + i];
    }
    if (const auto& post = m.weights().layers[layer].ln2_post.w; !post.empty())
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < d; ++j) rows[i * d + j] *= post.data[j];
    return rows;
}

inline std::vector<vocab_extremes> project_to_vocab(const model& m, const float* rows, std::size_t n, std::size_t k,
                                                    std::size_t vocab_block) {
    const auto& c = m.config();
    const auto& U = m.weights().unembed;  // [vocab, d] or, in_by_out, [d, vocab]
    const std::size_t d = c.d_model, V = c.d_vocab;
    detail::check_k(k, V, "k (tokens per list)");
    vocab_block = std::max<std::size_t>(1, std::min(vocab_block, V));

    // Mean score over the vocabulary = row · (mean of W_U's columns): one pass, no d_vocab work per row.
    std::vector<double> mean_direction(d, 0.0);
    std::vector<float> direction(d);
    for (std::size_t t = 0; t < V; ++t) {
        U.read_output_row(t, direction.data());
        for (std::size_t j = 0; j < d; ++j) mean_direction[j] += direction[j];
    }
    std::vector<vocab_extremes> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < d; ++j) s += static_cast<double>(rows[i * d + j]) * mean_direction[j];
        out[i].mean_score = s / static_cast<double>(V);
    }

    std::vector<detail::top_k_tracker> high(n, detail::top_k_tracker(k)), low(n, detail::top_k_tracker(k));
    std::vector<float> scores(n * vocab_block);
    std::vector<float> block_rows(U.w.in_float32() ? 0 : vocab_block * d);  // W_U rows dequantised per block
    for (std::size_t v0 = 0; v0 < V; v0 += vocab_block) {
        const std::size_t vb = std::min(vocab_block, V - v0);
        if (U.in_by_out) {
            blocks::gemm(n, vb, d, rows, d, U.w.data + v0, V, false, scores.data(), vb);
        } else {
            const float* u = block_rows.data();
            if (U.w.in_float32()) u = U.w.data + v0 * d;
            else U.w.read_rows(v0, vb, block_rows.data());
            blocks::gemm(n, vb, d, rows, d, u, d, true, scores.data(), vb);
        }
        for (std::size_t i = 0; i < n; ++i) {
            const float* s = scores.data() + i * vb;
            // Most values fall between the two thresholds; only those that beat one touch a heap.
            float hi = high[i].threshold(), lo = -low[i].threshold();
            for (std::size_t t = 0; t < vb; ++t) {
                const float v = s[t];
                if (v >= hi) {
                    high[i].offer(static_cast<token_id>(v0 + t), v);
                    hi = high[i].threshold();
                }
                if (v <= lo) {
                    low[i].offer(static_cast<token_id>(v0 + t), -v);
                    lo = -low[i].threshold();
                }
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        out[i].promoted = high[i].sorted();
        out[i].suppressed = low[i].sorted();
        for (auto& e : out[i].suppressed) e.score = -e.score;
    }
    return out;
}

inline neuron_value_table neuron_values(const model& m, const neuron_value_options& options) {
    const auto& c = m.config();
    neuron_value_table table;
    table.k = options.k;
    table.d_mlp = c.mlp.d_mlp;
    detail::check_k(options.k, c.d_vocab, "k (tokens per list)");
    if (options.layers.empty())
        for (std::size_t L = 0; L < c.n_layers; ++L) table.layers.push_back(L);
    else table.layers = options.layers;
    std::sort(table.layers.begin(), table.layers.end());  // each layer once, in order
    table.layers.erase(std::unique(table.layers.begin(), table.layers.end()), table.layers.end());
    for (auto L : table.layers) detail::check_layer(c, L);
    table.neurons.reserve(table.layers.size() * table.d_mlp);
    for (auto L : table.layers) {
        auto rows = through_final_gain(m, neuron_output_vectors(m, L).data(), table.d_mlp);
        auto layer = project_to_vocab(m, rows.data(), table.d_mlp, options.k, options.vocab_block);
        for (auto& e : layer) table.neurons.push_back(std::move(e));
    }
    return table;
}

}  // namespace xlens
