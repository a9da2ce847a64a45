// xlens/run/hooks.hpp — user hooks that read or change activations, removed when their handle dies.
//
//   xlens::hook_set hooks;
//   {
//       auto ablate = hooks.add("blocks.2.attn.hook_z", [](xlens::activation& z, xlens::hook_point) {
//           xt::view(z, xt::all(), 4, xt::all()) = 0.0f;  // zero head 4
//       });
//       auto logits = xlens::run_with_hooks(model, tokens, hooks);
//   }   // the hook is gone here
//
// Runs only read a hook_set, so several threads may run with the same one; adding or removing hooks
// while a run that uses the set is in flight is a data race (hook functions themselves must be
// safe to call from every thread that runs with them).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "xlens/blocks/hook_points.hpp"

namespace xlens {

class hook_set {
    struct entry {
        hook_filter filter;
        hook_fn fn;
    };
    struct registry {
        std::map<std::uint64_t, entry> entries;  // ordered by id = order of addition
        std::uint64_t next_id = 0;
    };

public:
    /// Removes its hook when destroyed (or on reset()). Move-only.
    class scoped_hook {
    public:
        scoped_hook() = default;
        scoped_hook(std::weak_ptr<registry> r, std::uint64_t id) : registry_(std::move(r)), id_(id) {}
        scoped_hook(scoped_hook&& o) noexcept : registry_(std::move(o.registry_)), id_(o.id_) { o.registry_.reset(); }
        scoped_hook& operator=(scoped_hook&& o) noexcept {
            if (this != &o) {
                reset();
                registry_ = std::move(o.registry_);
                id_ = o.id_;
                o.registry_.reset();
            }
            return *this;
        }
        scoped_hook(const scoped_hook&) = delete;
        scoped_hook& operator=(const scoped_hook&) = delete;
        ~scoped_hook() { reset(); }
        void reset() {
            if (auto r = registry_.lock()) r->entries.erase(id_);
            registry_.reset();
        }

    private:
        std::weak_ptr<registry> registry_;
        std::uint64_t id_ = 0;
    };

    /// Adds `fn` at the hook point named `name` (TransformerLens name; hook_error 601 if unknown).
    [[nodiscard]] scoped_hook add(const std::string& name, hook_fn fn) {
        return add(hook_filter::names({name}), std::move(fn));
    }
    /// Adds `fn` at every hook point `filter` selects.
    [[nodiscard]] scoped_hook add(hook_filter filter, hook_fn fn) {
        auto id = registry_->next_id++;
        registry_->entries.emplace(id, entry{std::move(filter), std::move(fn)});
        return scoped_hook(registry_, id);
    }
    std::size_t size() const { return registry_->entries.size(); }

    /// Registers every hook with a run's context, in the order they were added.
    void attach(hook_context& context, const std::vector<hook_point>& points) const {
        for (const auto& [id, e] : registry_->entries) context.listen(points, e.filter, e.fn);
    }

private:
    std::shared_ptr<registry> registry_ = std::make_shared<registry>();
};

}  // namespace xlens
