// xlens/text/tokenizer_files.hpp — reading tokenizers: HF tokenizer.json and GGUF tokenizer metadata.
//
//   xlens::tokenizer t = xlens::load_tokenizer(path);   // a .gguf, a tokenizer.json, or a model folder
//
// Supported: byte-level BPE ("model": BPE with a ByteLevel pre-tokenizer; GGUF tokenizer.ggml.model
// "gpt2") with the normalizers, pre-tokenizers and post-processors GPT-2, SmolLM2, Llama 3 and Qwen2
// use; and SentencePiece's BPE with byte fallback as transformers converts it (Llama 2, Mistral,
// Phi-3: Prepend + Replace normalizers, or a Metaspace pre-tokenizer; Gemma: Replace) and as
// llama.cpp stores it (GGUF tokenizer.ggml.model "llama": pieces and scores). Anything else is
// refused with config_error 314 naming the part, never tokenized differently.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/error.hpp"
#include "xlens/io/gguf.hpp"
#include "xlens/io/json.hpp"
#include "xlens/model/database_reader.hpp"
#include "xlens/text/tokenizer.hpp"

namespace xlens {

/// The tokenizer of an HF `tokenizer.json`; tokenizer_config.json, generation_config.json and
/// config.json beside it supply BOS/EOS, stop ids and the chat template when present.
inline tokenizer read_hf_tokenizer(const std::string& tokenizer_json);
/// What tokenizer.json's neighbours say (each an empty object when the file is absent).
struct hf_tokenizer_sidecars {
    nlohmann::json tokenizer_config = nlohmann::json::object();   // tokenizer_config.json
    nlohmann::json generation_config = nlohmann::json::object();  // generation_config.json
    nlohmann::json config = nlohmann::json::object();             // config.json
};
/// The tokenizer of tokenizer.json content already parsed (e.g. read back from a weight database);
/// `where` names it in messages.
inline tokenizer read_hf_tokenizer(const nlohmann::json& tokenizer_json, const hf_tokenizer_sidecars& sidecars,
                                   const std::string& where);
/// The tokenizer stored in a GGUF file's tokenizer.ggml.* metadata.
inline tokenizer read_gguf_tokenizer(const io::gguf_file& file);
/// The tokenizer kept in a weight database (its source's tokenizer.json or GGUF metadata).
inline tokenizer read_database_tokenizer(const std::string& path);
/// The tokenizer of a model: `path` is a weight database, a .gguf file, a tokenizer.json, a folder holding one, or a
/// .safetensors file with tokenizer.json beside it. Throws io_error 105 if there is none.
inline tokenizer load_tokenizer(const std::string& path);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

[[noreturn]] inline void unsupported_tokenizer(const std::string& where, const std::string& what) {
    throw config_error(314, where + ": " + what + " is not supported (xlens reads BPE tokenizers: byte-level as "
                                "GPT-2, SmolLM2/StarCoder, Llama 3 and Qwen2 have, and SentencePiece's with byte "
                                "fallback as Llama 2, Mistral, Phi-3 and Gemma have)");
}

inline std::string json_type(const nlohmann::json& j) { return j.is_object() ? j.value("type", std::string()) : ""; }

/// A token id from JSON: an integer in [0, 2^26) (no vocabulary is larger), else config_error 313.
inline token_id json_id(const nlohmann::json& v, const std::string& where, const std::string& what) {
    const bool integer = v.is_number_integer();
    const std::int64_t i = integer ? v.get<std::int64_t>() : 0;
    if (!integer || i < 0 || i >= (std::int64_t{1} << 26))
        throw config_error(313, where + ": " + what + " has id " + v.dump() +
                                    (!integer ? ", not an integer" : i < 0 ? ", which is negative" : ", beyond 2^26"));
    return static_cast<token_id>(i);
}

/// Rethrows a config_error raised while building part of `where`'s tokenizer, naming the file.
[[noreturn]] inline void rethrow_naming(const std::string& where, const config_error& e) {
    const std::string what = e.what();  // "[xlens.config_error.312] merge ..."
    throw config_error(e.id(), where + ": " + what.substr(what.find("] ") + 2));
}

inline text::split_behavior behavior_from_name(const std::string& name, const std::string& where) {
    if (name == "Isolated") return text::split_behavior::isolated;
    if (name == "Removed") return text::split_behavior::removed;
    if (name == "MergedWithPrevious") return text::split_behavior::merged_with_previous;
    if (name == "MergedWithNext") return text::split_behavior::merged_with_next;
    if (name == "Contiguous") return text::split_behavior::contiguous;
    unsupported_tokenizer(where, "Split behavior '" + name + "'");
}

/// A Replace's {"String": s} pattern (a {"Regex": ...} one is refused: no family uses it).
inline std::string literal_pattern(const nlohmann::json& j, const std::string& where, const std::string& what) {
    const auto& pattern = j.at("pattern");
    if (!pattern.contains("String")) unsupported_tokenizer(where, what + " with a regex pattern");
    std::string literal = pattern.at("String").get<std::string>();
    if (literal.empty()) throw config_error(304, where + ": " + what + " replaces the empty string");
    return literal;
}

/// Metaspace's replacement (one character) and when it is put in front of a piece.
inline std::pair<std::string, text::prepend_scheme> read_metaspace(const nlohmann::json& j, const std::string& where) {
    std::string replacement = j.value("replacement", std::string("\xE2\x96\x81"));
    std::size_t end = 0;
    if (replacement.empty() || !text::is_valid_utf8(replacement) || (text::next_code_point(replacement, end), end != replacement.size()))
        throw config_error(304, where + ": Metaspace replacement '" + text::repair_utf8(replacement) + "' is not one character");
    text::prepend_scheme scheme = j.value("add_prefix_space", true) ? text::prepend_scheme::always : text::prepend_scheme::never;
    if (j.contains("prepend_scheme")) {  // tokenizers 0.15 on; before, add_prefix_space
        const std::string name = j.at("prepend_scheme").get<std::string>();
        if (name == "always") scheme = text::prepend_scheme::always;
        else if (name == "first") scheme = text::prepend_scheme::first;
        else if (name == "never") scheme = text::prepend_scheme::never;
        else unsupported_tokenizer(where, "Metaspace prepend_scheme '" + name + "'");
    }
    return {replacement, scheme};
}

inline void read_pre_tokenizer(const nlohmann::json& j, text::pre_tokenizer& pre, const std::string& where) {
    if (j.is_null()) return;
    const std::string type = json_type(j);
    if (type == "Sequence") {
        for (const auto& step : j.at("pretokenizers")) read_pre_tokenizer(step, pre, where);
    } else if (type == "ByteLevel") {
        pre.steps.push_back(text::pre_tokenizer::byte_level_step(j.value("use_regex", true), j.value("add_prefix_space", false)));
        pre.byte_level = true;
    } else if (type == "Digits") {
        pre.steps.push_back(text::pre_tokenizer::digits(j.value("individual_digits", false)));
    } else if (type == "Metaspace") {
        auto [replacement, scheme] = read_metaspace(j, where);
        pre.steps.push_back(text::pre_tokenizer::metaspace(replacement, scheme, j.value("split", true)));
    } else if (type == "Split") {
        const auto& pattern = j.at("pattern");
        std::string regex;
        if (pattern.contains("Regex")) {
            regex = pattern.at("Regex").get<std::string>();
        } else {
            // A literal string: escape it so PCRE2 matches it verbatim.
            for (char c : pattern.at("String").get<std::string>()) {
                if (std::string_view(R"(\^$.|?*+()[]{}/-)").find(c) != std::string_view::npos) regex += '\\';
                regex += c;
            }
        }
        text::pre_tokenizer_step step;
        try {
            step = text::pre_tokenizer::split_on(regex, behavior_from_name(j.value("behavior", "Isolated"), where));
        } catch (const config_error& e) {
            if (e.id() != 311) throw;
            rethrow_naming(where, e);
        }
        step.invert = j.value("invert", false);
        pre.steps.push_back(std::move(step));
    } else {
        unsupported_tokenizer(where, "pre_tokenizer '" + (type.empty() ? j.dump() : type) + "'");
    }
}

inline void read_normalizer(const nlohmann::json& j, text::normalizer& out, const std::string& where) {
    if (j.is_null()) return;
    const std::string type = json_type(j);
    if (type == "NFC") {
        out.steps.push_back(text::normalizer_step::nfc());
    } else if (type == "Prepend") {
        out.steps.push_back(text::normalizer_step::prepend(j.at("prepend").get<std::string>()));
    } else if (type == "Replace") {
        out.steps.push_back(text::normalizer_step::replace(literal_pattern(j, where, "normalizer Replace"), j.at("content").get<std::string>()));
    } else if (type == "Sequence") {
        for (const auto& n : j.at("normalizers")) read_normalizer(n, out, where);
    } else {
        unsupported_tokenizer(where, "normalizer '" + (type.empty() ? j.dump() : type) + "'");
    }
}

/// The decoder of a tokenizer that is not byte-level: Replace steps, ByteFallback, Fuse, then
/// Strip of leading spaces (what transformers writes for SentencePiece models), or Metaspace.
inline void read_piece_decoder(const nlohmann::json& j, piece_decoder& d, const std::string& where) {
    const std::string type = json_type(j);
    if (type == "Metaspace") {
        auto [replacement, scheme] = read_metaspace(j, where);
        d.replace.emplace_back(replacement, " ");
        if (scheme != text::prepend_scheme::never) d.first_piece_drops = replacement;
        return;
    }
    if (type != "Sequence") unsupported_tokenizer(where, "decoder '" + (type.empty() ? j.dump() : type) + "'");
    bool fused = false;
    for (const auto& step : j.at("decoders")) {
        const std::string kind = json_type(step);
        if (kind == "Replace" && !fused && !d.byte_fallback) {
            d.replace.emplace_back(literal_pattern(step, where, "decoder Replace"), step.at("content").get<std::string>());
        } else if (kind == "ByteFallback" && !fused) {
            d.byte_fallback = true;
        } else if (kind == "Fuse") {
            fused = true;
        } else if (kind == "Strip" && fused && step.value("content", std::string()) == " " && step.value("stop", 0) == 0) {
            d.strip_leading_spaces += step.value("start", std::size_t{0});
        } else {
            unsupported_tokenizer(where, "decoder step '" + (kind.empty() ? step.dump() : kind) +
                                             "' here (known: Replace, ByteFallback, Fuse, then Strip of leading spaces)");
        }
    }
}

inline void read_post_processor(const nlohmann::json& j, tokenizer_spec& spec, const std::string& where) {
    if (j.is_null()) return;
    const std::string type = json_type(j);
    if (type == "ByteLevel") return;  // offsets only
    if (type == "Sequence") {
        for (const auto& p : j.at("processors")) read_post_processor(p, spec, where);
        return;
    }
    if (type != "TemplateProcessing") unsupported_tokenizer(where, "post_processor '" + type + "'");
    bool before = true;
    for (const auto& item : j.at("single")) {
        if (item.contains("Sequence")) {
            before = false;
            continue;
        }
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        for (const auto& id : j.at("special_tokens").at(name).at("ids"))
            (before ? spec.prefix : spec.suffix).push_back(json_id(id, where, "post_processor special token " + name));
    }
}

/// "left right" → {left, right} (the first space after the first character separates them; GGUF
/// strings are checked for UTF-8 here too). Throws config_error 312 naming merge `index`.
inline std::pair<std::string, std::string> split_merge(const std::string& m, const std::string& where, std::size_t index) {
    auto space = m.find(' ', 1);
    if (space == std::string::npos || !text::is_valid_utf8(m))
        throw config_error(312, where + ": merge " + std::to_string(index) + " '" + text::repair_utf8(m.substr(0, 60)) +
                                    "' is not two UTF-8 tokens separated by a space");
    return {m.substr(0, space), m.substr(space + 1)};
}

inline std::vector<std::pair<std::string, std::string>> read_merges(const nlohmann::json& merges, const std::string& where) {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(merges.size());
    for (const auto& m : merges) {
        if (m.is_array() && m.size() == 2) {
            out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
            continue;
        }
        out.push_back(split_merge(m.get<std::string>(), where, out.size()));
    }
    return out;
}

/// bpe_model(...), with `where` (the file) put in front of the message of its config_error 312.
inline text::bpe_model make_bpe_model(const std::string& where, std::vector<std::string> tokens,
                                      const std::vector<std::pair<std::string, std::string>>& merges, token_id unknown,
                                      bool ignore_merges, bool byte_fallback = false, bool fuse_unk = false) {
    try {
        return text::bpe_model(std::move(tokens), merges, unknown, ignore_merges, byte_fallback, fuse_unk);
    } catch (const config_error& e) {
        rethrow_naming(where, e);
    }
}

/// A token named in tokenizer_config.json: a string or {"content": ...}.
inline std::optional<std::string> config_token(const nlohmann::json& config, const char* key) {
    if (!config.contains(key) || config[key].is_null()) return std::nullopt;
    const auto& v = config[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
    return std::nullopt;
}

/// EOS, plus the end-of-turn tokens llama.cpp also stops on, when the vocabulary has them.
inline void add_stop_tokens(tokenizer_spec& spec, const std::vector<token_id>& more) {
    auto add = [&](token_id id) {
        if (std::find(spec.stop.begin(), spec.stop.end(), id) == spec.stop.end()) spec.stop.push_back(id);
    };
    if (spec.eos) add(*spec.eos);
    for (token_id id : more) add(id);
    for (const auto& a : spec.added)
        if (a.special && (a.content == "<|im_end|>" || a.content == "<|eot_id|>" || a.content == "<|endoftext|>" ||
                          a.content == "<|end|>" || a.content == "<|end_of_text|>"))
            add(a.id);
}

}  // namespace detail

inline tokenizer read_hf_tokenizer(const std::string& tokenizer_json) {
    namespace fs = std::filesystem;
    const nlohmann::json j = io::read_json_file(tokenizer_json, 256u << 20);
    // BOS/EOS/stop ids and the chat template live in the files beside tokenizer.json.
    const fs::path folder = fs::path(tokenizer_json).parent_path();
    auto sidecar = [&](const char* name) {
        fs::path p = folder / name;
        return fs::exists(p) ? io::read_json_file(p.string()) : nlohmann::json::object();
    };
    return read_hf_tokenizer(j, {sidecar("tokenizer_config.json"), sidecar("generation_config.json"), sidecar("config.json")},
                             tokenizer_json);
}

inline tokenizer read_hf_tokenizer(const nlohmann::json& j, const hf_tokenizer_sidecars& sidecars, const std::string& where) {
    tokenizer_spec spec;
    spec.source = where;
    try {
        const auto& model = j.at("model");
        const std::string type = detail::json_type(model);
        if (type != "BPE" && !(type.empty() && model.contains("merges")))
            detail::unsupported_tokenizer(where, "model type '" + type + "'");
        if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() != 0.0)
            detail::unsupported_tokenizer(where, "BPE dropout");
        const bool byte_fallback = model.value("byte_fallback", false);
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
            if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty())
                detail::unsupported_tokenizer(where, std::string("BPE ") + key);
        // Ids must be exactly 0..N-1: a gap would be a token spelled "" (and a huge id a huge allocation).
        const auto& vocab = model.at("vocab");
        std::vector<std::string> tokens(vocab.size());
        std::vector<bool> taken(vocab.size());
        for (const auto& [piece, id] : vocab.items()) {
            auto i = static_cast<std::size_t>(detail::json_id(id, where, "vocabulary entry '" + piece + "'"));
            if (i >= tokens.size() || taken[i])
                throw config_error(313, where + ": vocabulary id " + std::to_string(i) + " of '" + piece + "' is " +
                                            (i >= tokens.size() ? "beyond the " + std::to_string(tokens.size()) + " entries" : "used twice"));
            tokens[i] = piece;
            taken[i] = true;
        }
        token_id unknown = -1;
        std::vector<std::pair<std::string, std::string>> merges = detail::read_merges(model.at("merges"), where);
        if (model.contains("unk_token") && model["unk_token"].is_string()) {
            auto it = std::find(tokens.begin(), tokens.end(), model["unk_token"].get<std::string>());
            if (it != tokens.end()) unknown = static_cast<token_id>(it - tokens.begin());
        }
        spec.model = detail::make_bpe_model(where, std::move(tokens), merges, unknown, model.value("ignore_merges", false),
                                            byte_fallback, model.value("fuse_unk", false));
        detail::read_normalizer(j.value("normalizer", nlohmann::json()), spec.normalizer, where);
        detail::read_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json()), spec.pre, where);
        detail::read_post_processor(j.value("post_processor", nlohmann::json()), spec, where);
        // Without the byte alphabet or byte fallback, characters outside the vocabulary would vanish.
        if (!spec.pre.byte_level && !byte_fallback)
            detail::unsupported_tokenizer(where, "a pre_tokenizer without ByteLevel in a model without byte_fallback");
        const nlohmann::json decoder = j.value("decoder", nlohmann::json());
        if (spec.pre.byte_level && !decoder.is_null() && detail::json_type(decoder) != "ByteLevel")
            detail::unsupported_tokenizer(where, "decoder '" + detail::json_type(decoder) + "'");
        if (!spec.pre.byte_level) {
            if (decoder.is_null()) detail::unsupported_tokenizer(where, "a SentencePiece-style tokenizer without a decoder");
            detail::read_piece_decoder(decoder, spec.decoder, where);
        }
        for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
            added_token t;
            t.content = a.at("content").get<std::string>();
            t.id = detail::json_id(a.at("id"), where, "added token '" + t.content + "'");
            t.special = a.value("special", false);
            t.normalized = a.value("normalized", !t.special);
            t.lstrip = a.value("lstrip", false);
            t.rstrip = a.value("rstrip", false);
            t.single_word = a.value("single_word", false);
            spec.added.push_back(std::move(t));
        }

        const nlohmann::json &config = sidecars.tokenizer_config, &generation = sidecars.generation_config,
                             &model_config = sidecars.config;
        auto id_of = [&](const std::string& piece) -> std::optional<token_id> {
            for (const auto& a : spec.added)
                if (a.content == piece) return a.id;
            token_id id = spec.model.find(piece);
            return id >= 0 ? std::optional<token_id>(id) : std::nullopt;
        };
        auto ids_of = [&](const nlohmann::json& entry, const char* key) {
            std::vector<token_id> ids;
            if (entry.contains(key) && entry[key].is_number_integer()) ids.push_back(detail::json_id(entry[key], where, key));
            if (entry.contains(key) && entry[key].is_array())
                for (const auto& v : entry[key]) ids.push_back(detail::json_id(v, where, key));
            return ids;
        };
        if (auto b = detail::config_token(config, "bos_token")) spec.bos = id_of(*b);
        if (auto e = detail::config_token(config, "eos_token")) spec.eos = id_of(*e);
        if (!spec.bos && !ids_of(model_config, "bos_token_id").empty()) spec.bos = ids_of(model_config, "bos_token_id")[0];
        if (!spec.eos && !ids_of(model_config, "eos_token_id").empty()) spec.eos = ids_of(model_config, "eos_token_id")[0];
        detail::add_stop_tokens(spec, ids_of(generation, "eos_token_id"));
        if (config.contains("chat_template")) {
            const auto& t = config["chat_template"];
            if (t.is_string()) spec.chat_template = t.get<std::string>();
            if (t.is_array())
                for (const auto& named : t)
                    if (named.value("name", "") == "default") spec.chat_template = named.value("template", "");
        }
    } catch (const nlohmann::json::exception& e) {
        throw config_error(304, where + " (or a file beside it): unexpected structure: " + e.what());
    }
    return tokenizer(std::move(spec));
}

namespace detail {

/// llama.cpp's pre-tokenizer names for byte-level BPE; each stands for a fixed HF pipeline.
inline void read_gguf_byte_level(const io::gguf_file& f, std::vector<std::string> tokens, token_id unknown, tokenizer_spec& spec) {
    const std::string& where = f.path();
    std::vector<std::pair<std::string, std::string>> merges;
    for (const auto& m : f.get_string_array("tokenizer.ggml.merges")) merges.push_back(split_merge(m, where, merges.size()));
    const std::string pre = f.get_string("tokenizer.ggml.pre", "");
    bool ignore_merges = false;
    using text::pre_tokenizer;
    if (pre == "gpt2" || pre == "gpt-2") {
        spec.pre.steps.push_back(pre_tokenizer::byte_level_step(true, false));
    } else if (pre == "smollm" || pre == "starcoder" || pre == "refact") {
        spec.pre.steps.push_back(pre_tokenizer::digits(true));
        spec.pre.steps.push_back(pre_tokenizer::byte_level_step(true, false));
    } else if (pre == "llama-bpe" || pre == "llama3") {
        spec.pre.steps.push_back(pre_tokenizer::split_on(text::pattern_llama3));
        spec.pre.steps.push_back(pre_tokenizer::byte_level_step(false, false));
        ignore_merges = true;
    } else if (pre == "qwen2") {
        spec.pre.steps.push_back(pre_tokenizer::split_on(text::pattern_qwen2));
        spec.pre.steps.push_back(pre_tokenizer::byte_level_step(false, false));
        spec.normalizer.steps.push_back(text::normalizer_step::nfc());  // Qwen2's tokenizer.json does; llama.cpp does not
    } else {
        unsupported_tokenizer(where, "tokenizer.ggml.pre '" + pre + "' (known: gpt2, smollm, starcoder, refact, llama-bpe, qwen2)");
    }
    spec.pre.byte_level = true;
    spec.model = make_bpe_model(where, std::move(tokens), merges, unknown, ignore_merges);
}

/// llama.cpp's SentencePiece tokenizer ("llama"): spaces spelled "▁", one put in front of each
/// piece of text (after the start and after every added token) unless add_space_prefix is false
/// (Gemma), pieces merged by score, byte fallback; decoding drops that leading space again.
inline void read_gguf_sentencepiece(const io::gguf_file& f, std::vector<std::string> tokens, token_id unknown,
                                    tokenizer_spec& spec) {
    const std::string& where = f.path();
    std::vector<float> scores;
    if (f.has("tokenizer.ggml.scores")) {
        for (double v : f.get_float_array("tokenizer.ggml.scores")) {
            if (!std::isfinite(v)) throw config_error(313, where + ": tokenizer.ggml.scores holds " + std::to_string(v));
            scores.push_back(static_cast<float>(v));
        }
    } else {  // as transformers' converter does: earlier pieces first
        for (std::size_t i = 0; i < tokens.size(); ++i) scores.push_back(-static_cast<float>(i));
    }
    if (scores.size() != tokens.size())
        throw config_error(313, where + ": tokenizer.ggml.scores has " + std::to_string(scores.size()) + " entries for " +
                                    std::to_string(tokens.size()) + " tokens");
    const std::string space = "\xE2\x96\x81";  // ▁
    const bool prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
    if (prefix) spec.normalizer.steps.push_back(text::normalizer_step::prepend(space));
    spec.normalizer.steps.push_back(text::normalizer_step::replace(" ", space));
    spec.decoder.replace.emplace_back(space, " ");
    spec.decoder.byte_fallback = true;
    spec.decoder.strip_leading_spaces = prefix ? 1 : 0;
    // Without the key llama.cpp takes piece 0 (sentencepiece's <unk>) as unknown, so text no piece
    // or byte piece spells is not dropped.
    if (unknown < 0 && !tokens.empty()) unknown = 0;
    try {
        spec.model = text::bpe_model::from_scores(std::move(tokens), scores, unknown);
    } catch (const config_error& e) {
        rethrow_naming(where, e);
    }
}

}  // namespace detail

inline tokenizer read_gguf_tokenizer(const io::gguf_file& f) {
    const std::string& where = f.path();
    const std::string kind = f.get_string("tokenizer.ggml.model", "");
    if (kind != "gpt2" && kind != "llama")
        detail::unsupported_tokenizer(where, "tokenizer.ggml.model '" + kind + "' (known: gpt2, llama)");
    tokenizer_spec spec;
    spec.source = where;
    std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
    for (std::size_t i = 0; i < tokens.size(); ++i)  // GGUF strings are bytes; the tokenizer works on UTF-8
        if (!text::is_valid_utf8(tokens[i]))
            throw config_error(313, where + ": tokenizer.ggml.tokens[" + std::to_string(i) + "] is not valid UTF-8");
    std::vector<std::int64_t> types;
    if (f.has("tokenizer.ggml.token_type")) types = f.get_int_array("tokenizer.ggml.token_type");
    if (!types.empty() && types.size() != tokens.size())
        throw config_error(313, where + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                                    " entries for " + std::to_string(tokens.size()) + " tokens");
    const std::int64_t unknown_id = f.get_int("tokenizer.ggml.unknown_token_id", -1);
    if (unknown_id < -1 || unknown_id >= static_cast<std::int64_t>(tokens.size()))
        throw config_error(313, where + ": tokenizer.ggml.unknown_token_id " + std::to_string(unknown_id) + " is outside the vocabulary");
    const auto unknown = static_cast<token_id>(unknown_id);

    // Control (3) and user-defined (4) tokens are matched literally, as HF's added tokens are; so is
    // SentencePiece's unknown piece (2), "<unk>", which transformers' converter makes special too.
    for (std::size_t i = 0; i < types.size(); ++i) {
        const bool control = types[i] == 3 || (kind == "llama" && types[i] == 2);
        if (control || types[i] == 4) spec.added.push_back({static_cast<token_id>(i), tokens[i], control, false, false, false, false});
    }
    if (kind == "gpt2") detail::read_gguf_byte_level(f, std::move(tokens), unknown, spec);
    else detail::read_gguf_sentencepiece(f, std::move(tokens), unknown, spec);

    auto special_id = [&](const char* key) {  // beyond int32 an id would wrap to another token
        const std::uint64_t id = f.get_uint(key);
        if (id > static_cast<std::uint64_t>(INT32_MAX))
            throw config_error(313, where + ": " + key + " " + std::to_string(id) + " is outside the vocabulary");
        return static_cast<token_id>(id);
    };
    if (f.has("tokenizer.ggml.bos_token_id")) spec.bos = special_id("tokenizer.ggml.bos_token_id");
    if (f.has("tokenizer.ggml.eos_token_id")) spec.eos = special_id("tokenizer.ggml.eos_token_id");
    // llama.cpp adds BOS when the key is absent for SentencePiece vocabularies, not for byte-level ones.
    if (f.get_bool("tokenizer.ggml.add_bos_token", kind == "llama") && spec.bos) spec.prefix.push_back(*spec.bos);
    if (f.get_bool("tokenizer.ggml.add_eos_token", false) && spec.eos) spec.suffix.push_back(*spec.eos);
    std::vector<token_id> more;
    if (f.has("tokenizer.ggml.eot_token_id")) more.push_back(special_id("tokenizer.ggml.eot_token_id"));
    detail::add_stop_tokens(spec, more);
    spec.chat_template = f.get_string("tokenizer.chat_template", "");
    return tokenizer(std::move(spec));
}

inline tokenizer read_database_tokenizer(const std::string& path) {
    auto db = weight_database::open(path);
    auto file = [&](const std::string& name) { return db.file_bytes(name); };
    if (db.source_format() == "gguf") {
        for (const auto& f : db.files())
            if (f.kind == "weights") return read_gguf_tokenizer(io::gguf_file(io::mapped_file::from_memory(path + ":" + f.name, file(f.name))));
    }
    if (!db.has_file("tokenizer.json"))
        throw io_error(105, "'" + path + "': the model it was exported from had no tokenizer.json (pass token ids instead)");
    auto json = [&](const std::string& name) {
        if (!db.has_file(name)) return nlohmann::json::object();
        const auto bytes = file(name);
        return io::parse_json(std::string(bytes.begin(), bytes.end()), path + ":" + name);
    };
    return read_hf_tokenizer(json("tokenizer.json"), {json("tokenizer_config.json"), json("generation_config.json"), json("config.json")},
                             path + ":tokenizer.json");
}

inline tokenizer load_tokenizer(const std::string& path) {
    namespace fs = std::filesystem;
    fs::path p(path);
    if (!fs::exists(p)) throw io_error(105, "'" + path + "': no such file or folder");
    auto ends_with = [&](const std::string& suffix) {
        return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with(".gguf")) return read_gguf_tokenizer(io::gguf_file(path));
    if (!fs::is_directory(p) && detail::is_sqlite_file(path)) return read_database_tokenizer(path);
    if (ends_with(".json") && !ends_with(".safetensors.index.json")) return read_hf_tokenizer(path);
    fs::path folder = fs::is_directory(p) ? p : p.parent_path();
    fs::path json = folder / "tokenizer.json";
    if (!fs::exists(json))
        throw io_error(105, "'" + path + "': no tokenizer.json in " + folder.string() +
                                " (xlens reads tokenizer.json or GGUF tokenizer metadata; pass token ids instead)");
    return read_hf_tokenizer(json.string());
}

}  // namespace xlens
