// xlens/text/bpe.hpp — byte-pair encoding of one word: a vocabulary and ranked merges.
//
// A word starts as one symbol per character; the adjacent pair with the lowest merge rank (the
// leftmost on ties) is merged, repeatedly, until no pair has a merge (Sennrich et al. 2016, with
// GPT-2's byte alphabet). This is the order HF tokenizers' BPE model applies merges in.
#pragma once

#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/text/utf8.hpp"
#include "xlens/token_id.hpp"

namespace xlens::text {

class bpe_model {
public:
    bpe_model() = default;

    /// `tokens[i]` is the spelling of id i; `merges` are "left right" pairs, best (rank 0) first.
    /// `unknown` is the id emitted for a character outside the vocabulary (-1: such characters are
    /// dropped, as HF does without an unk token). Throws config_error 312 naming a bad merge.
    bpe_model(std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
              token_id unknown = -1, bool ignore_merges = false)
        : tokens_(std::move(tokens)), unknown_(unknown), ignore_merges_(ignore_merges) {
        if (unknown_ >= static_cast<token_id>(tokens_.size()))
            throw config_error(313, "unknown-token id " + std::to_string(unknown_) + " is outside the vocabulary");
        ids_.reserve(tokens_.size());
        for (std::size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<token_id>(i));
        merges_.reserve(merges.size());
        for (std::size_t rank = 0; rank < merges.size(); ++rank) {
            const auto& [left, right] = merges[rank];
            token_id a = find(left), b = find(right), merged = find(left + right);
            if (a < 0 || b < 0 || merged < 0)
                throw config_error(312, "merge " + std::to_string(rank) + " '" + left + " " + right + "' uses or makes '" +
                                            (a < 0 ? left : b < 0 ? right : left + right) + "', which is not in the vocabulary");
            merges_.emplace(pair_key(a, b), merge{static_cast<std::uint32_t>(rank), merged});
        }
    }

    /// Number of ids.
    std::size_t size() const { return tokens_.size(); }
    /// Spelling of `id` (in the byte alphabet for byte-level models).
    const std::string& spelling(token_id id) const { return tokens_.at(static_cast<std::size_t>(id)); }
    /// The id spelled `s`, or -1.
    token_id find(std::string_view s) const {
        auto it = ids_.find(std::string(s));
        return it == ids_.end() ? -1 : it->second;
    }

    /// Appends the ids of `word` (valid UTF-8, already in the model's alphabet) to `out`.
    void encode_word(std::string_view word, std::vector<token_id>& out) const {
        if (word.empty()) return;
        if (ignore_merges_) {
            if (token_id whole = find(word); whole >= 0) {
                out.push_back(whole);
                return;
            }
        }
        // Symbols as a doubly linked list over a vector; merged-away symbols get id -1.
        struct symbol {
            token_id id;
            int prev, next;
        };
        std::vector<symbol> symbols;
        symbols.reserve(word.size());
        for (std::size_t i = 0; i < word.size();) {
            std::size_t start = i;
            next_code_point(word, i);
            token_id id = find(word.substr(start, i - start));
            if (id < 0) {
                if (unknown_ < 0) continue;
                id = unknown_;
            }
            int index = static_cast<int>(symbols.size());
            symbols.push_back({id, index - 1, index + 1});
        }
        if (symbols.empty()) return;
        symbols.back().next = -1;

        struct candidate {
            std::uint32_t rank;
            int pos;
            token_id merged;
            bool operator>(const candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
        };
        std::priority_queue<candidate, std::vector<candidate>, std::greater<candidate>> queue;
        auto at = [&](int pos) -> symbol& { return symbols[static_cast<std::size_t>(pos)]; };  // pos ≥ 0
        auto consider = [&](int pos) {
            int next = at(pos).next;
            if (next < 0) return;
            auto it = merges_.find(pair_key(at(pos).id, at(next).id));
            if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.merged});
        };
        for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) consider(i);
        while (!queue.empty()) {
            candidate top = queue.top();
            queue.pop();
            symbol& left = at(top.pos);
            if (left.id < 0 || left.next < 0) continue;
            auto it = merges_.find(pair_key(left.id, at(left.next).id));
            if (it == merges_.end() || it->second.merged != top.merged) continue;  // a stale entry
            symbol& right = at(left.next);
            left.id = top.merged;
            right.id = -1;
            left.next = right.next;
            if (left.next >= 0) at(left.next).prev = top.pos;
            if (left.prev >= 0) consider(left.prev);
            consider(top.pos);
        }
        for (const auto& s : symbols)
            if (s.id >= 0) out.push_back(s.id);
    }

private:
    struct merge {
        std::uint32_t rank;
        token_id merged;
    };
    static std::uint64_t pair_key(token_id a, token_id b) {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
    }

    std::vector<std::string> tokens_;
    std::unordered_map<std::string, token_id> ids_;
    std::unordered_map<std::uint64_t, merge> merges_;
    token_id unknown_ = -1;
    bool ignore_merges_ = false;
};

}  // namespace xlens::text
