// xlens/text/normalizer.hpp — what a tokenizer does to text before splitting it: HF's normalizers.
//
//   text::normalizer n{{text::normalizer_step::nfc()}};   // Qwen2
//   text::normalizer llama2{{text::normalizer_step::prepend("\u2581"), text::normalizer_step::replace(" ", "\u2581")}};
//   std::string s = llama2.apply("Hello world");         // "▁Hello▁world"
//
// The steps the families xlens reads use: NFC (Qwen2); Prepend and Replace (SentencePiece models
// converted by transformers: Llama 2, Mistral and Phi-3 prepend "▁" and spell spaces "▁"; Gemma only
// spells them). Each step sees the output of the one before, as in HF's normalizers.Sequence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xlens/text/unicode_normalization.hpp"

namespace xlens::text {

/// `s` with every occurrence of `from` (not empty; else `s` as it is) replaced by `to`, left to right.
inline std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    if (from.empty()) return std::string(s);
    std::string out;
    out.reserve(s.size());
    std::size_t at = 0;
    for (std::size_t hit; (hit = s.find(from, at)) != std::string_view::npos; at = hit + from.size()) {
        out.append(s.substr(at, hit - at));
        out.append(to);
    }
    out.append(s.substr(at));
    return out;
}

/// One normalisation step.
struct normalizer_step {
    enum class kind { nfc, prepend, replace } type = kind::nfc;
    std::string text;         // prepend: what is put in front; replace: what is replaced (not empty)
    std::string replacement;  // replace: what it becomes

    static normalizer_step nfc() { return {}; }
    static normalizer_step prepend(std::string s) { return {kind::prepend, std::move(s), {}}; }
    static normalizer_step replace(std::string from, std::string to) { return {kind::replace, std::move(from), std::move(to)}; }
};

/// A whole normaliser: its steps in order (none: the text is used as it is).
struct normalizer {
    std::vector<normalizer_step> steps;

    bool empty() const { return steps.empty(); }
    /// `s` normalised (valid UTF-8 in, valid UTF-8 out).
    std::string apply(std::string s) const;
};

inline std::string normalizer::apply(std::string s) const {
    for (const auto& step : steps) {
        switch (step.type) {
            case normalizer_step::kind::nfc: s = text::nfc(s); break;
            case normalizer_step::kind::prepend:  // HF leaves an empty piece empty
                if (!s.empty()) s.insert(0, step.text);
                break;
            case normalizer_step::kind::replace: s = replace_all(s, step.text, step.replacement); break;
        }
    }
    return s;
}

}  // namespace xlens::text
