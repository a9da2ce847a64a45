// xlens/analysis/activation_patching.hpp — which activations carry the difference between two prompts.
//
//   xlens::patching_options o;
//   o.target = xlens::patch_target::resid_pre;
//   o.answer = xlens::single_token(tok, " Mary");  o.wrong = xlens::single_token(tok, " John");
//   auto r = xlens::activation_patching(model, clean, corrupted, o);   // r.values [layer, position]
//
// Denoising (the default) runs the corrupted prompt with one clean activation patched in; noising
// runs the clean prompt with one corrupted activation patched in. The metric defaults to the logit
// difference answer − wrong at the last position, normalised so the clean run scores 1 and the
// corrupted run 0; any function of a run_outcome can replace it.
//
// A patch at layer L and position p cannot change anything before them, so each patched run is
// resumed at block L from the unpatched run's cached residual stream, for positions p … T − 1 only,
// with the earlier positions' keys and values taken from the cache. Patches that replace an
// activation by an identical one (positions before the first token where the prompts differ) are
// not run at all: their outcome is the unpatched run's. Jobs are spread over threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "xlens/analysis/logit_lens.hpp"
#include "xlens/blocks/norm.hpp"
#include "xlens/blocks/unembed.hpp"
#include "xlens/run/forward.hpp"
#include "xlens/run/hooks.hpp"

namespace xlens {

/// What a patching metric sees of one run: its final residual stream, and logits on demand.
class run_outcome {
public:
    /// Positions [0, first) are read from `prefix`, positions [first, T) from `suffix` (both
    /// [·, d_model] final residual streams, before the final norm; `suffix` has T − first rows).
    run_outcome(const model& m, const activation& prefix, std::size_t first, const activation* suffix)
        : model_(&m), prefix_(&prefix), first_(first), suffix_(suffix) {}
    explicit run_outcome(const model& m, const activation& final_resid) : run_outcome(m, final_resid, final_resid.shape()[0], nullptr) {}

    std::size_t positions() const { return prefix_->shape()[0]; }
    /// The final residual stream (before the final norm) at `position`: d_model floats.
    const float* final_residual(std::size_t position) const {
        const std::size_t d = model_->config().d_model;
        return position < first_ ? prefix_->data() + position * d : suffix_->data() + (position - first_) * d;
    }
    /// One logit: the final norm of one row, dotted with W_U[:, token], plus b_U, soft-capped if the
    /// model caps its logits. O(d_model).
    float logit(std::size_t position, token_id token) const {
        const auto& c = model_->config();
        activation row = activation::from_shape({1, c.d_model});
        std::copy_n(final_residual(position), c.d_model, row.data());
        hook_context nobody;
        activation x = blocks::norm(row, model_->weights().ln_final, c.norm, nobody,
                                    {{hook_kind::ln_final_scale, -1}, {hook_kind::ln_final_normalized, -1}});
        const auto& u = model_->weights().unembed;
        auto direction = blocks::unembed_direction(u, static_cast<std::size_t>(token));
        double s = 0;
        for (std::size_t i = 0; i < c.d_model; ++i) s += static_cast<double>(x.data()[i]) * direction[i];
        return static_cast<float>(blocks::soft_capped(s + blocks::unembed_bias(u, static_cast<std::size_t>(token)), c.final_logit_softcap));
    }
    /// The logits of one position [1, d_vocab]: one row through the final norm and unembedding.
    activation logits_at(std::size_t position) const {
        const std::size_t d = model_->config().d_model;
        activation row = activation::from_shape({1, d});
        std::copy_n(final_residual(position), d, row.data());
        return logit_lens(*model_, row);
    }
    /// Every logit [T, d_vocab], computed at the first call (T rows of unembedding: prefer logit()
    /// or logits_at() when a metric reads one position).
    const activation& logits() const {
        if (!have_logits_) {
            const std::size_t T = positions(), d = model_->config().d_model;
            activation all = activation::from_shape({T, d});
            for (std::size_t t = 0; t < T; ++t) std::copy_n(final_residual(t), d, all.data() + t * d);
            logits_ = logit_lens(*model_, all);
            have_logits_ = true;
        }
        return logits_;
    }

private:
    const model* model_;
    const activation* prefix_;
    std::size_t first_;
    const activation* suffix_;
    mutable activation logits_;
    mutable bool have_logits_ = false;
};

/// A function of a run's outcome; must be safe to call from several threads at once.
using patching_metric = std::function<double(const run_outcome&)>;

/// logit(answer) − logit(wrong) at the last position.
inline patching_metric logit_difference(token_id answer, token_id wrong) {
    return [answer, wrong](const run_outcome& o) {
        const std::size_t last = o.positions() - 1;
        return static_cast<double>(o.logit(last, answer)) - o.logit(last, wrong);
    };
}

enum class patch_target {
    resid_pre,         // blocks.L.hook_resid_pre, one position           → values [layer, position]
    attn_out,          // blocks.L.hook_attn_out, one position            → [layer, position]
    mlp_out,           // blocks.L.hook_mlp_out, one position             → [layer, position]
    head,              // blocks.L.attn.hook_z, one head, every position  → [layer, head]
    head_by_position,  // blocks.L.attn.hook_z, one head, one position    → [layer, head, position]
};
enum class patch_direction { denoising, noising };
enum class patching_method {
    resume,       // restart each patched run at the patched block and position (the default)
    full_rerun,   // run every patched prompt from the embedding (slow; the reference for tests)
};

struct patching_options {
    patch_target target = patch_target::resid_pre;
    patch_direction direction = patch_direction::denoising;
    token_id answer = -1, wrong = -1;  // the default metric: logit_difference(answer, wrong)
    patching_metric metric;            // replaces the default when set
    bool normalise = true;             // (m − m_corrupted) / (m_clean − m_corrupted)
    std::vector<std::size_t> layers;   // the layers to patch (ascending); empty: all
    std::vector<std::size_t> heads;    // head targets: the heads to patch (ascending); empty: all
    std::size_t threads = 0;           // 0: one per hardware thread; with more than one, OpenBLAS is
                                       // set to one thread per call while the sweep runs (process-wide)
    patching_method method = patching_method::resume;
};

struct patching_result {
    patch_target target = patch_target::resid_pre;
    patch_direction direction = patch_direction::denoising;
    std::vector<std::string> axes;     // {"layer", "position"}, {"layer", "head"} or {"layer", "head", "position"}
    xt::xarray<double> values;         // values(i, …) is layer layers[i] (and head heads[j])
    std::vector<std::size_t> layers, heads;  // what each index of the layer (head) axis stands for
    double clean_metric = 0, corrupted_metric = 0;
    bool normalised = true;
    std::vector<token_id> clean_tokens, corrupted_tokens;
    std::size_t runs = 0;              // patched runs computed
    std::size_t unchanged = 0;         // patches that changed nothing, so were not run
    double seconds = 0;                // wall time of the whole sweep, both unpatched runs included
};

/// Patches every layer × position (× head) of `options.target` and scores each patched run.
/// Throws input_error 501–503 (tokens), 532 (a layer or head index out of range, or not ascending),
/// 533 (clean and corrupted lengths differ), 534 (answer or wrong token outside the vocabulary),
/// 535 (normalising with equal clean and corrupted metrics), 537 (no metric: neither answer/wrong
/// nor a metric function).
inline patching_result activation_patching(const model& m, const std::vector<token_id>& clean,
                                           const std::vector<token_id>& corrupted, const patching_options& options);

/// "resid_pre", "attn_out", "mlp_out", "head", "head_by_position"; parse_patch_target throws
/// input_error 538 for other names.
inline const char* patch_target_name(patch_target t) {
    static const char* names[] = {"resid_pre", "attn_out", "mlp_out", "head", "head_by_position"};
    return names[static_cast<int>(t)];
}
inline patch_target parse_patch_target(const std::string& name) {
    for (int i = 0; i < 5; ++i)
        if (name == patch_target_name(static_cast<patch_target>(i))) return static_cast<patch_target>(i);
    throw input_error(538, "unknown patch target '" + name + "' (resid_pre, attn_out, mlp_out, head, head_by_position)");
}

/// {"schema": "xlens.patching/1", "target", "direction", "axes", "shape", "layers", "heads", "values", "clean_metric",
///  "corrupted_metric", "normalised", "clean_tokens", "corrupted_tokens", "runs", "unchanged", "seconds"}.
inline nlohmann::json to_json(const patching_result& r);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline hook_kind patched_hook_kind(patch_target t) {
    switch (t) {
        case patch_target::resid_pre: return hook_kind::resid_pre;
        case patch_target::attn_out: return hook_kind::attn_out;
        case patch_target::mlp_out: return hook_kind::mlp_out;
        default: return hook_kind::z;
    }
}

/// One patched run: which activation, and which part of it (head −1: the whole row; position −1:
/// every position).
struct patch_job {
    std::size_t layer;
    int head;
    int position;
    std::size_t index;  // into patching_result::values
};

/// The unpatched run a sweep patches into, and the run its patches come from.
struct patching_runs {
    activation_cache base, source;
    hook_kind kind;
    hook_kind key_kind;  // the keys a kv cache holds: after rotary when there is one
    std::size_t T, layers;

    const activation& base_at(std::size_t L) const { return base.at({kind, static_cast<int>(L)}); }
    const activation& source_at(std::size_t L) const { return source.at({kind, static_cast<int>(L)}); }
    const activation& base_final() const { return base.at({hook_kind::resid_post, static_cast<int>(layers - 1)}); }
};

/// Where a job's patch lies in an activation with one row per position: positions [from, to), and
/// in each row `length` floats from `offset` (one head's slice, or the whole row).
struct patch_region {
    std::size_t row, offset, length, from, to;
};
inline patch_region region_of(const activation& a, const patch_job& j, std::size_t first, std::size_t T) {
    patch_region r;
    r.row = a.size() / a.shape()[0];
    r.length = j.head < 0 ? r.row : r.row / a.shape()[1];
    r.offset = j.head < 0 ? 0 : static_cast<std::size_t>(j.head) * r.length;
    r.from = j.position < 0 ? first : static_cast<std::size_t>(j.position);
    r.to = j.position < 0 ? T : r.from + 1;
    return r;
}

/// The first position at which the job's slice of the source activation differs from the base's,
/// or T if it never does (the patch would change nothing).
inline std::size_t first_changed_position(const patching_runs& runs, const patch_job& j) {
    const activation& base = runs.base_at(j.layer);
    const activation& source = runs.source_at(j.layer);
    const patch_region r = region_of(base, j, 0, runs.T);
    for (std::size_t t = r.from; t < r.to; ++t) {
        const float* b = base.data() + t * r.row + r.offset;
        if (!std::equal(b, b + r.length, source.data() + t * r.row + r.offset)) return t;
    }
    return runs.T;
}

/// The hook that writes the job's source slice into an activation whose row i is position first + i.
inline hook_fn patch_hook(const patching_runs& runs, const patch_job& j, std::size_t first) {
    const activation* source = &runs.source_at(j.layer);
    const patch_region r = region_of(*source, j, first, runs.T);
    return [source, r, first](activation& a, hook_point) {
        for (std::size_t t = r.from; t < r.to; ++t)
            std::copy_n(source->data() + t * r.row + r.offset, r.length, a.data() + (t - first) * r.row + r.offset);
    };
}

/// The patched run of job `j`, resumed at its block from position `first` (its first changed position).
inline double resumed_patch_metric(const model& m, const patching_runs& runs, const patch_job& j, std::size_t first,
                                   const patching_metric& metric, kv_cache& kv) {
    const auto& c = m.config();
    const std::size_t d = c.d_model;
    std::vector<const float*> keys(runs.layers), values(runs.layers);
    for (std::size_t L = j.layer; L < runs.layers; ++L) {
        keys[L] = runs.base.at({runs.key_kind, static_cast<int>(L)}).data();
        values[L] = runs.base.at({hook_kind::v, static_cast<int>(L)}).data();
    }
    kv.assign_prefix(first, j.layer, keys, values);
    const activation& resid_pre = runs.base.at({hook_kind::resid_pre, static_cast<int>(j.layer)});
    activation resid = activation::from_shape({runs.T - first, d});
    std::copy(resid_pre.data() + first * d, resid_pre.data() + runs.T * d, resid.data());
    hook_set hooks;
    auto patch = hooks.add(hook_filter::names({hook_name({runs.kind, static_cast<int>(j.layer)})}), patch_hook(runs, j, first));
    run_options o;
    o.hooks = &hooks;
    o.kv = &kv;
    activation final_resid = forward_from_layer(m, std::move(resid), j.layer, o);
    return metric(run_outcome(m, runs.base_final(), first, &final_resid));
}

/// The same patched run from the embedding, for checking the resumed one.
inline double rerun_patch_metric(const model& m, const std::vector<token_id>& tokens, const patching_runs& runs,
                                 const patch_job& j, const patching_metric& metric) {
    hook_set hooks;
    auto patch = hooks.add(hook_filter::names({hook_name({runs.kind, static_cast<int>(j.layer)})}), patch_hook(runs, j, 0));
    activation final_resid;
    auto keep = hooks.add(hook_filter::names({hook_name({hook_kind::resid_post, static_cast<int>(runs.layers - 1)})}),
                          [&final_resid](activation& a, hook_point) { final_resid = a; });
    run_with_hooks(m, tokens, hooks);
    return metric(run_outcome(m, final_resid));
}

/// `chosen` (ascending, each below `count`), or 0 … count − 1 when empty. Throws input_error 532.
inline std::vector<std::size_t> chosen_indices(const std::vector<std::size_t>& chosen, std::size_t count, const char* what) {
    if (chosen.empty()) {
        std::vector<std::size_t> all(count);
        for (std::size_t i = 0; i < count; ++i) all[i] = i;
        return all;
    }
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        if (chosen[i] >= count)
            throw input_error(532, std::string(what) + " " + std::to_string(chosen[i]) + " is out of range: the model has " +
                                       std::to_string(count) + " " + what + "s (0 … " + std::to_string(count - 1) + ")");
        if (i > 0 && chosen[i] <= chosen[i - 1])
            throw input_error(532, std::string("the ") + what + "s to patch must be ascending, without repeats");
    }
    return chosen;
}

inline std::vector<patch_job> patch_jobs(patch_target target, const std::vector<std::size_t>& layers,
                                         const std::vector<std::size_t>& heads, std::size_t T,
                                         std::vector<std::size_t>& shape) {
    std::vector<patch_job> jobs;
    const std::size_t L = layers.size(), H = heads.size();
    if (target == patch_target::head) {
        shape = {L, H};
        for (std::size_t l = 0; l < L; ++l)
            for (std::size_t h = 0; h < H; ++h) jobs.push_back({layers[l], static_cast<int>(heads[h]), -1, l * H + h});
    } else if (target == patch_target::head_by_position) {
        shape = {L, H, T};
        for (std::size_t l = 0; l < L; ++l)
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t t = 0; t < T; ++t)
                    jobs.push_back({layers[l], static_cast<int>(heads[h]), static_cast<int>(t), (l * H + h) * T + t});
    } else {
        shape = {L, T};
        for (std::size_t l = 0; l < L; ++l)
            for (std::size_t t = 0; t < T; ++t) jobs.push_back({layers[l], -1, static_cast<int>(t), l * T + t});
    }
    return jobs;
}

}  // namespace detail

inline patching_result activation_patching(const model& m, const std::vector<token_id>& clean,
                                           const std::vector<token_id>& corrupted, const patching_options& options) {
    const auto started = std::chrono::steady_clock::now();
    const auto& c = m.config();
    if (clean.empty() || corrupted.empty())
        throw input_error(501, std::string("no tokens to patch: the ") + (clean.empty() ? "clean" : "corrupted") + " prompt is empty");
    if (clean.size() != corrupted.size())
        throw input_error(533, "the clean prompt is " + std::to_string(clean.size()) + " tokens and the corrupted one " +
                                   std::to_string(corrupted.size()) + ": patching needs equal lengths");
    patching_metric metric = options.metric;
    if (!metric) {
        if (options.answer < 0 && options.wrong < 0)
            throw input_error(537, "no patching metric: set answer and wrong tokens, or a metric function");
        detail::check_token(c, options.answer, "answer");
        detail::check_token(c, options.wrong, "wrong");
        metric = logit_difference(options.answer, options.wrong);
    }
    const bool by_head = options.target == patch_target::head || options.target == patch_target::head_by_position;
    std::vector<std::size_t> layers = detail::chosen_indices(options.layers, c.n_layers, "layer");
    std::vector<std::size_t> heads = by_head ? detail::chosen_indices(options.heads, c.attn.n_heads, "head") : std::vector<std::size_t>{};

    detail::patching_runs runs;
    runs.kind = detail::patched_hook_kind(options.target);
    runs.key_kind = c.attn.positions == position_kind::rotary ? hook_kind::rot_k : hook_kind::k;
    runs.T = clean.size();
    runs.layers = c.n_layers;
    const bool denoising = options.direction == patch_direction::denoising;
    const auto& base_tokens = denoising ? corrupted : clean;
    const auto& source_tokens = denoising ? clean : corrupted;
    const hook_point last_post{hook_kind::resid_post, static_cast<int>(c.n_layers - 1)};
    run_with_cache(m, base_tokens, runs.base,
                   hook_filter::kinds({runs.kind, hook_kind::resid_pre, runs.key_kind, hook_kind::v}, {last_post}));
    run_with_cache(m, source_tokens, runs.source, hook_filter::kinds({runs.kind}, {last_post}));
    const double base_metric = metric(run_outcome(m, runs.base_final()));
    const double source_metric = metric(run_outcome(m, runs.source.at({hook_kind::resid_post, static_cast<int>(c.n_layers - 1)})));

    patching_result r;
    r.target = options.target;
    r.direction = options.direction;
    r.clean_tokens = clean;
    r.corrupted_tokens = corrupted;
    r.clean_metric = denoising ? source_metric : base_metric;
    r.corrupted_metric = denoising ? base_metric : source_metric;
    r.normalised = options.normalise;
    const double span = r.clean_metric - r.corrupted_metric;
    if (options.normalise && !(std::fabs(span) > 0))
        throw input_error(535, "the metric is " + std::to_string(r.clean_metric) +
                                   " on both the clean and the corrupted prompt, so it cannot be normalised");
    auto score = [&](double value) { return options.normalise ? (value - r.corrupted_metric) / span : value; };

    std::vector<std::size_t> shape;
    std::vector<detail::patch_job> jobs = detail::patch_jobs(options.target, layers, heads, runs.T, shape);
    r.layers = layers;
    r.heads = heads;
    r.axes = options.target == patch_target::head               ? std::vector<std::string>{"layer", "head"}
             : options.target == patch_target::head_by_position ? std::vector<std::string>{"layer", "head", "position"}
                                                                 : std::vector<std::string>{"layer", "position"};
    r.values = xt::xarray<double>::from_shape(shape);

    std::atomic<std::size_t> next{0}, computed{0}, unchanged{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto worker = [&]() {
        kv_cache kv = make_kv_cache(m);
        try {
            for (std::size_t i; (i = next++) < jobs.size();) {
                const auto& j = jobs[i];
                const std::size_t first = detail::first_changed_position(runs, j);
                double value;
                if (first == runs.T) {
                    value = base_metric;
                    ++unchanged;
                } else {
                    value = options.method == patching_method::resume
                                ? detail::resumed_patch_metric(m, runs, j, first, metric, kv)
                                : detail::rerun_patch_metric(m, base_tokens, runs, j, metric);
                    ++computed;
                }
                r.values.data()[j.index] = score(value);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(failure_mutex);
            if (!failure) failure = std::current_exception();
            next = jobs.size();
        }
    };
    std::size_t threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, jobs.size());
    // Patched runs are small matmuls (a few rows each): one thread per run beats OpenBLAS's threads
    // inside each (1.7 s against 2.7 s for SmolLM2's resid_pre sweep on 2 cores).
    std::optional<blocks::single_threaded_blas> blas_on_caller;
    if (threads > 1) blas_on_caller.emplace();
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    r.runs = computed;
    r.unchanged = unchanged;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return r;
}

inline nlohmann::json to_json(const patching_result& r) {
    using json = nlohmann::json;
    std::vector<std::size_t> shape(r.values.shape().begin(), r.values.shape().end());
    // Nested lists in the axes' order, as numpy.array(values) would read them.
    std::function<json(std::size_t, std::size_t)> nest = [&](std::size_t axis, std::size_t offset) {
        json out = json::array();
        std::size_t stride = 1;
        for (std::size_t a = axis + 1; a < shape.size(); ++a) stride *= shape[a];
        for (std::size_t i = 0; i < shape[axis]; ++i)
            out.push_back(axis + 1 == shape.size() ? json(r.values.data()[offset + i]) : nest(axis + 1, offset + i * stride));
        return out;
    };
    return {{"schema", "xlens.patching/1"}, {"target", patch_target_name(r.target)},
            {"direction", r.direction == patch_direction::denoising ? "denoising" : "noising"}, {"axes", r.axes},
            {"shape", shape}, {"layers", r.layers}, {"heads", r.heads}, {"values", nest(0, 0)}, {"clean_metric", r.clean_metric},
            {"corrupted_metric", r.corrupted_metric}, {"normalised", r.normalised}, {"clean_tokens", r.clean_tokens},
            {"corrupted_tokens", r.corrupted_tokens}, {"runs", r.runs}, {"unchanged", r.unchanged}, {"seconds", r.seconds}};
}

}  // namespace xlens
