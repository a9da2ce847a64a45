// xlens/text/bpe.hpp — byte-pair encoding of one word: a vocabulary and ranked merges.
//
// A word starts as one symbol per character; the adjacent pair with the lowest merge rank (the
// leftmost on ties) is merged, repeatedly, until no pair has a merge (Sennrich et al. 2016, with
// GPT-2's byte alphabet). This is the order HF tokenizers' BPE model applies merges in.
//
// SentencePiece's BPE (Llama 2, Gemma, Phi-3; llama.cpp's "llama" tokenizer) is the same loop with
// the ranks given by the merged piece's score, so every pair that makes one piece has one rank and
// the leftmost such pair goes first (bpe_model::from_scores). A character outside the vocabulary
// becomes its UTF-8 bytes as the pieces <0x00>..<0xFF> (byte fallback), else the unknown token.
#pragma once

#include <algorithm>
#include <array>
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
    /// `byte_fallback`: a character outside the vocabulary becomes its bytes' <0xXX> pieces (when
    /// the vocabulary has all of them); `fuse_unk`: a run of unknown characters is one unknown token.
    bpe_model(std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
              token_id unknown = -1, bool ignore_merges = false, bool byte_fallback = false, bool fuse_unk = false)
        : bpe_model(vocabulary_only{}, std::move(tokens), unknown, ignore_merges, byte_fallback, fuse_unk) {
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

    /// SentencePiece's BPE: every split of a piece into two pieces of the vocabulary is a merge,
    /// ranked by the merged piece's score (higher first; equal scores by id), with byte fallback;
    /// a run of characters with no piece and no byte pieces is one `unknown` (as HF converts it).
    /// `scores[i]` belongs to `tokens[i]`; throws config_error 313 if the counts differ.
    static bpe_model from_scores(std::vector<std::string> tokens, const std::vector<float>& scores, token_id unknown) {
        if (scores.size() != tokens.size())
            throw config_error(313, std::to_string(scores.size()) + " scores for " + std::to_string(tokens.size()) + " tokens");
        bpe_model m(vocabulary_only{}, std::move(tokens), unknown, false, true, true);
        std::vector<token_id> order(m.tokens_.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<token_id>(i);
        std::stable_sort(order.begin(), order.end(), [&](token_id x, token_id y) {
            return scores[static_cast<std::size_t>(x)] > scores[static_cast<std::size_t>(y)];
        });
        for (std::size_t rank = 0; rank < order.size(); ++rank) {
            const std::string& piece = m.tokens_[static_cast<std::size_t>(order[rank])];
            for (std::size_t cut = 1; cut < piece.size(); ++cut) {
                if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) continue;  // inside a character
                token_id a = m.find(std::string_view(piece).substr(0, cut)), b = m.find(std::string_view(piece).substr(cut));
                if (a >= 0 && b >= 0) m.merges_.emplace(pair_key(a, b), merge{static_cast<std::uint32_t>(rank), order[rank]});
            }
        }
        return m;
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
        bool last_unknown = false;
        auto push = [&](token_id id) {
            int index = static_cast<int>(symbols.size());
            symbols.push_back({id, index - 1, index + 1});
        };
        for (std::size_t i = 0; i < word.size();) {
            std::size_t start = i;
            next_code_point(word, i);
            const std::string_view character = word.substr(start, i - start);
            token_id id = find(character);
            if (id < 0 && byte_fallback_ && has_all_bytes(character)) {
                for (char c : character) push(byte_ids_[static_cast<unsigned char>(c)]);
                last_unknown = false;
                continue;
            }
            if (id < 0) {
                if (unknown_ < 0 || (fuse_unk_ && last_unknown)) continue;
                id = unknown_;
            }
            last_unknown = id == unknown_ && id >= 0;
            push(id);
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
    struct vocabulary_only {};  // the vocabulary and options; merges added by the caller
    bpe_model(vocabulary_only, std::vector<std::string> tokens, token_id unknown, bool ignore_merges, bool byte_fallback, bool fuse_unk)
        : tokens_(std::move(tokens)), unknown_(unknown), ignore_merges_(ignore_merges), byte_fallback_(byte_fallback),
          fuse_unk_(fuse_unk) {
        if (unknown_ >= static_cast<token_id>(tokens_.size()))
            throw config_error(313, "unknown-token id " + std::to_string(unknown_) + " is outside the vocabulary");
        ids_.reserve(tokens_.size());
        for (std::size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<token_id>(i));
        byte_ids_.fill(-1);
        static const char hex[] = "0123456789ABCDEF";
        if (byte_fallback_)
            for (std::size_t b = 0; b < 256; ++b) byte_ids_[b] = find(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
    }
    bool has_all_bytes(std::string_view character) const {
        for (char c : character)
            if (byte_ids_[static_cast<unsigned char>(c)] < 0) return false;
        return true;
    }

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
    bool byte_fallback_ = false, fuse_unk_ = false;
    std::array<token_id, 256> byte_ids_{};  // byte_fallback: the id of <0xXX>, or -1
};

}  // namespace xlens::text
