// xlens/model/model.hpp — a loaded model: config, canonical weights, and what the loader did.
//
//   auto m = xlens::model::load("SmolLM2-135M-Instruct.Q4_1.gguf");
//   m.config().n_layers;                              // 30
//   m.weights().layers[0].attn.q.w.view();            // xt view [576, 576]
//
// A model is immutable once loaded and cheap to copy (copies share the same weights), so one model
// can serve many threads; everything a run changes lives in the run (see run/forward.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xlens/model/config.hpp"
#include "xlens/model/weights.hpp"

namespace xlens {

/// One tensor of the source checkpoint, as `xlens info` lists it.
struct tensor_record {
    std::string name;
    std::string dtype;                  // "F32", "BF16", "Q4_1", ...
    std::vector<std::uint64_t> shape;   // row-major
    std::uint64_t bytes = 0;
    std::string file;
};

/// What load() may do to weights. Nothing that changes values happens unless asked.
struct load_options {
    /// Extra validation: check every weight value is finite (costs one pass over all weights;
    /// quantised weights are dequantised row by row to check them).
    bool check_finite = false;
    /// Convert every weight to float32 at load, as xlens did before weights could stay quantised:
    /// four to eight times the memory of a quantised file, and every matmul through BLAS. By default
    /// matrices stay in their stored type (F16, BF16, any ggml block type) and are dequantised on the
    /// fly inside the matmul; vectors (norm gains, biases) are always float32.
    bool dequantize = false;
};

class model {
public:
    /// Loads a Hugging Face folder (config.json + safetensors, single or sharded), a .safetensors
    /// file with config.json beside it, or a .gguf file. Pickled checkpoints (.bin/.pt) are refused.
    /// Throws io_error, format_error, config_error or weights_error naming the file and field.
    static model load(const std::string& path, const load_options& options = {});

    const model_config& config() const { return data_->config; }
    const model_weights& weights() const { return data_->weights; }
    /// Every tensor in the source files, in file order.
    const std::vector<tensor_record>& inventory() const { return data_->inventory; }
    /// Human-readable record of each non-trivial step the loader took (dequantised, split, re-ordered…).
    const std::vector<std::string>& load_notes() const { return data_->notes; }
    /// The path given to load().
    const std::string& source() const { return data_->source; }
    /// Source format: "safetensors" or "gguf".
    const std::string& format() const { return data_->format; }
    /// Metadata strings worth showing (GGUF general.name, tokenizer model, ...).
    const std::vector<std::pair<std::string, std::string>>& metadata() const { return data_->metadata; }

    struct state {
        model_config config;
        model_weights weights;
        std::vector<tensor_record> inventory;
        std::vector<std::string> notes;
        std::vector<std::pair<std::string, std::string>> metadata;
        std::string source, format;
        std::vector<std::shared_ptr<const void>> keep_alive;       // mapped files the weights point into
        std::vector<std::unique_ptr<float[]>> owned;               // converted / re-laid-out weights
        std::vector<std::unique_ptr<std::uint32_t[]>> row_orders;  // rows of stored weights read out of order
    };
    explicit model(std::shared_ptr<const state> s) : data_(std::move(s)) {}

private:
    std::shared_ptr<const state> data_;
};

}  // namespace xlens

#include "xlens/model/loader.hpp"
