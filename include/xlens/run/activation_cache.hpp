// xlens/run/activation_cache.hpp — the activations one run recorded, by hook point.
//
//   auto [logits, cache] = xlens::run_with_cache(model, tokens);
//   const auto& pattern = cache["blocks.0.attn.hook_pattern"];   // [heads, T, T]
//   cache.save_safetensors("cache.safetensors");                   // safetensors.numpy.load_file() reads it
//
// A cache passed to another run is refilled in place: arrays of unchanged shape keep their memory,
// so sweeps over many prompts do not pay the kernel for hundreds of MB of fresh pages per run.
// After a run, the cache holds exactly what that run recorded (entries from earlier runs are dropped).
//
// A cache that is destroyed leaves its arrays to the next cache made on the same thread (at most one
// cache's worth is kept), so a loop of one-shot run_with_cache calls does not either: glibc would
// hand the freed memory back to the kernel, and the next run would fault and zero every page again
// (+70% over a plain run for SmolLM2 with every hook cached). release_activation_memory() frees it.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/io/npy.hpp"
#include "xlens/io/safetensors.hpp"

namespace xlens {

namespace detail {

/// Arrays left by destroyed caches on this thread, by element count, for the next cache to fill.
class spare_activations {
public:
    /// This thread's spares, or nullptr once they are gone: a cache with static storage is destroyed
    /// after the thread's thread_local objects, and must then just free its arrays.
    static spare_activations* here() {
        thread_local bool gone = false;  // trivially destructible, so still readable at exit
        if (gone) return nullptr;
        thread_local spare_activations spares(gone);
        return &spares;
    }
    explicit spare_activations(bool& gone) : gone_(gone) {}
    ~spare_activations() { gone_ = true; }
    spare_activations(const spare_activations&) = delete;
    spare_activations& operator=(const spare_activations&) = delete;

    /// An array of `shape`, recycled when one of the same size is spare.
    activation take(const activation::shape_type& shape) {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        auto it = arrays_.find(n);
        if (it == arrays_.end()) return activation::from_shape(shape);
        activation a = std::move(it->second);
        arrays_.erase(it);
        a.reshape(shape);
        return a;
    }
    /// Keeps the arrays of a cache being destroyed, replacing what an earlier cache left.
    void keep(std::vector<std::pair<hook_point, activation>>& entries) {
        arrays_.clear();
        for (auto& e : entries) arrays_.emplace(e.second.size(), std::move(e.second));
    }
    void release() { arrays_.clear(); }

private:
    bool& gone_;
    std::multimap<std::size_t, activation> arrays_;
};

}  // namespace detail

/// Frees the arrays destroyed activation caches left for reuse on the calling thread.
inline void release_activation_memory() {
    if (auto* spares = detail::spare_activations::here()) spares->release();
}

class activation_cache {
public:
    activation_cache() = default;
    activation_cache(activation_cache&&) noexcept = default;
    activation_cache& operator=(activation_cache&& o) noexcept {
        if (this != &o) {
            donate();
            entries_ = std::move(o.entries_);
            index_ = std::move(o.index_);
            recorded_ = std::move(o.recorded_);
        }
        return *this;
    }
    activation_cache(const activation_cache&) = default;
    activation_cache& operator=(const activation_cache&) = default;
    ~activation_cache() { donate(); }

    /// The activation recorded at `name`. Throws hook_error 601 (unknown name) or 603 (not recorded).
    const activation& operator[](const std::string& name) const { return at(parse_hook_name(name)); }
    const activation& at(hook_point p) const {
        auto it = index_.find(key(p));
        if (it == index_.end())
            throw hook_error(603, "'" + hook_name(p) + "' is not in the cache (not reached, filtered out, or absent from this model)");
        return entries_[it->second].second;
    }
    bool contains(const std::string& name) const { return index_.count(key(parse_hook_name(name))) != 0; }
    bool contains(hook_point p) const { return index_.count(key(p)) != 0; }
    /// Names of the recorded hook points, in the order the run reached them.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : entries_) out.push_back(hook_name(e.first));
        return out;
    }
    std::size_t size() const { return entries_.size(); }
    /// Bytes held by all recorded activations.
    std::size_t bytes() const {
        std::size_t n = 0;
        for (const auto& e : entries_) n += e.second.size() * sizeof(float);
        return n;
    }

    /// Records a copy of `a` at `p`, in the memory of an earlier entry of the same shape if there is one.
    void store(hook_point p, const activation& a) {
        auto it = index_.find(key(p));
        activation* target;
        if (it != index_.end()) {
            target = &entries_[it->second].second;
            recorded_[it->second] = true;
            if (!std::equal(a.shape().begin(), a.shape().end(), target->shape().begin(), target->shape().end()))
                *target = fresh_array(a.shape());
        } else {
            index_.emplace(key(p), entries_.size());
            entries_.emplace_back(p, fresh_array(a.shape()));
            recorded_.push_back(true);
            target = &entries_.back().second;
        }
        std::copy(a.data(), a.data() + a.size(), target->data());  // flat copy: xtensor's iterators step per index
    }
    void clear() {
        entries_.clear();
        index_.clear();
        recorded_.clear();
    }

    /// Called by forward() around a run: entries the run does not record are dropped at the end.
    void begin_run() { std::fill(recorded_.begin(), recorded_.end(), false); }
    void end_run() {
        if (std::all_of(recorded_.begin(), recorded_.end(), [](bool r) { return r; })) return;
        std::vector<std::pair<hook_point, activation>> kept;
        for (std::size_t i = 0; i < entries_.size(); ++i)
            if (recorded_[i]) kept.push_back(std::move(entries_[i]));
        clear();
        for (auto& e : kept) {
            index_.emplace(key(e.first), entries_.size());
            entries_.push_back(std::move(e));
            recorded_.push_back(true);
        }
    }

    /// One safetensors file, tensors named by hook point, float32, shapes without a batch axis.
    void save_safetensors(const std::string& path) const {
        std::vector<io::tensor_to_write> tensors;
        for (const auto& [p, a] : entries_)
            tensors.push_back({hook_name(p), io::dtype::f32, std::vector<std::uint64_t>(a.shape().begin(), a.shape().end()), a.data()});
        io::write_safetensors(path, tensors, {{"format", "pt"}, {"producer", "xlens"}});
    }
    /// One .npy file per hook point in `folder` (created if needed): `folder/<hook name>.npy`.
    void save_npy(const std::string& folder) const {
        std::filesystem::create_directories(folder);
        for (const auto& [p, a] : entries_)
            io::write_npy(folder + "/" + hook_name(p) + ".npy", a.data(),
                          std::vector<std::uint64_t>(a.shape().begin(), a.shape().end()));
    }

private:
    static activation fresh_array(const activation::shape_type& shape) {
        auto* spares = detail::spare_activations::here();
        return spares ? spares->take(shape) : activation::from_shape(shape);
    }
    void donate() {
        if (entries_.empty()) return;
        if (auto* spares = detail::spare_activations::here()) spares->keep(entries_);
    }
    static long key(hook_point p) { return static_cast<long>(p.kind) * 1000000L + p.layer; }
    std::vector<std::pair<hook_point, activation>> entries_;
    std::unordered_map<long, std::size_t> index_;
    std::vector<bool> recorded_;  // per entry: written by the current run
};

}  // namespace xlens
