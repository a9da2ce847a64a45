// xlens/blocks/kv_cache.hpp — keys and values of positions already processed, for incremental decoding.
#pragma once

#include <cstddef>
#include <vector>

namespace xlens {

/// Per-layer keys and values (after rotary) of the first `length()` positions of a sequence.
/// Owned by a run, never by the model. Feed a run the new tokens only; it attends to these too.
class kv_cache {
public:
    kv_cache() = default;
    kv_cache(std::size_t n_layers, std::size_t width) : keys_(n_layers), values_(n_layers), width_(width) {}

    /// Number of positions cached.
    std::size_t length() const { return length_; }
    /// Forgets everything (start a new sequence with the same cache object).
    void clear() {
        for (auto& k : keys_) k.clear();
        for (auto& v : values_) v.clear();
        length_ = 0;
    }
    bool empty() const { return keys_.empty(); }

    // Used by attention: layer L's keys/values, rows of n_kv_heads · d_head floats.
    std::vector<float>& keys(std::size_t layer) { return keys_[layer]; }
    std::vector<float>& values(std::size_t layer) { return values_[layer]; }
    std::size_t width() const { return width_; }
    std::size_t layers() const { return keys_.size(); }

    /// Drops rows a failed run may have appended, so the cache always holds exactly length() positions.
    void rollback() {
        for (auto& k : keys_) if (k.size() > length_ * width_) k.resize(length_ * width_);
        for (auto& v : values_) if (v.size() > length_ * width_) v.resize(length_ * width_);
    }
    /// Marks `n` more positions as cached, after every layer has appended them.
    void advance(std::size_t n) { length_ += n; }
    /// Makes the cache hold the first `n` positions, with layer L's rows (n · width floats each of
    /// keys and values) copied from `keys[L]`, `values[L]` for L ≥ `from_layer`; earlier layers
    /// are left empty (a run resumed at `from_layer` never reads them).
    void assign_prefix(std::size_t n, std::size_t from_layer, const std::vector<const float*>& keys,
                       const std::vector<const float*>& values) {
        for (std::size_t L = 0; L < keys_.size(); ++L) {
            keys_[L].clear();
            values_[L].clear();
            if (L < from_layer || n == 0) continue;
            keys_[L].assign(keys[L], keys[L] + n * width_);
            values_[L].assign(values[L], values[L] + n * width_);
        }
        length_ = n;
    }

private:
    std::vector<std::vector<float>> keys_, values_;  // [layer][position · width]
    std::size_t width_ = 0;
    std::size_t length_ = 0;
};

}  // namespace xlens
