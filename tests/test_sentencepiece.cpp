// Tests for SentencePiece-style tokenizers (xlens/text/{normalizer,pre_tokenizer,bpe,tokenizer,
// tokenizer_files}.hpp): the pipelines transformers' converters write for Llama 2 (legacy: Prepend +
// Replace), for Llama without legacy (Metaspace, prepend_scheme "first") and for Gemma (Replace and
// no prefix); byte fallback; the decoders that undo them; and the parts still refused. Expected
// ids and texts are literals from HF `tokenizers` 0.23.3 on exactly the JSON these tests write:
//   Tokenizer.from_file(path).encode(text, add_special_tokens=False).ids, .decode(ids[, skip_special_tokens])
// Agreement on a whole corpus, with a tokenizer trained by `sentencepiece` and with llama.cpp's
// GGUF form of it, is checked by tools/reference/compare_tokenizer.py (oracle_tokenizer_spm_*).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_data.hpp"
#include "xlens/text/bpe.hpp"
#include "xlens/text/normalizer.hpp"
#include "xlens/text/tokenizer.hpp"
#include "xlens/text/tokenizer_files.hpp"

namespace sentencepiece_tests {  // named: the unity build puts this file beside the other tokenizer tests

using token_ids = std::vector<xlens::token_id>;
const std::string space = "\xE2\x96\x81";  // ▁

/// Merges as JSON pairs (a braced list of two strings would read as an object).
nlohmann::json merge_list(const std::vector<std::pair<std::string, std::string>>& merges) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [left, right] : merges) out.push_back(nlohmann::json::array({left, right}));
    return out;
}

// Vocabulary: <unk> 0, <s> 1, </s> 2, the byte pieces <0x00>..<0xFF> 3..258, then ▁ 259, a 260,
// b 261, é 262, ▁a 263, ab 264, ▁ab 265, ▁b 266; merges (▁ a), (a b), (▁a b), (▁ b).
nlohmann::json spm_json(const nlohmann::json& normalizer, const nlohmann::json& pre, const nlohmann::json& decoder) {
    nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) vocab[std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">"] = 3 + b;
    for (const std::string piece : {space, std::string("a"), std::string("b"), std::string("\xC3\xA9"), space + "a",
                                    std::string("ab"), space + "ab", space + "b"})
        vocab[piece] = vocab.size();
    nlohmann::json j;
    j["version"] = "1.0";
    j["added_tokens"] = nlohmann::json::array();
    for (int id = 0; id < 3; ++id)
        j["added_tokens"].push_back({{"id", id}, {"content", id == 0 ? "<unk>" : id == 1 ? "<s>" : "</s>"}, {"single_word", false},
                                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
    j["normalizer"] = normalizer;
    j["pre_tokenizer"] = pre;
    j["post_processor"] = nullptr;
    j["decoder"] = decoder;
    j["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                  {"vocab", vocab}, {"merges", merge_list({{space, "a"}, {"a", "b"}, {space + "a", "b"}, {space, "b"}})}};
    return j;
}

nlohmann::json replace_json(const std::string& from, const std::string& to) {
    return {{"type", "Replace"}, {"pattern", {{"String", from}}}, {"content", to}};
}
nlohmann::json llama_decoder(bool strip) {
    nlohmann::json steps = {replace_json(space, " "), {{"type", "ByteFallback"}}, {{"type", "Fuse"}}};
    if (strip) steps.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    return {{"type", "Sequence"}, {"decoders", steps}};
}
nlohmann::json legacy_json() {  // transformers' LlamaConverter with legacy: Llama 2, Mistral, Phi-3
    return spm_json({{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", space}}, replace_json(" ", space)}}},
                    nullptr, llama_decoder(true));
}
nlohmann::json metaspace_json() {  // LlamaConverter without legacy, with Metaspace's own decoder
    return spm_json(nullptr, {{"type", "Metaspace"}, {"replacement", space}, {"prepend_scheme", "first"}, {"split", false}},
                    {{"type", "Metaspace"}, {"replacement", space}, {"prepend_scheme", "first"}, {"split", false}});
}
nlohmann::json gemma_json() {  // GemmaConverter: spaces spelled ▁, nothing put in front
    return spm_json(replace_json(" ", space),
                    {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}},
                    llama_decoder(false));
}

xlens::tokenizer load(const nlohmann::json& j, const char* name) {
    test::scratch s("sentencepiece", name);
    const std::string path = s.file("tokenizer.json");
    test::write_bytes(path, j.dump(1));
    return xlens::read_hf_tokenizer(path);
}

token_ids encode(const xlens::tokenizer& tok, const std::string& text) {
    xlens::encode_options o;
    o.add_special_tokens = false;
    return tok.encode(text, o);
}

template <class E>
void expect_refused(const nlohmann::json& j, int id, const std::vector<std::string>& parts) {
    test::scratch s("sentencepiece", "bad");
    const std::string path = s.file("tokenizer.json");
    test::write_bytes(path, j.dump(1));
    std::vector<std::string> all = parts;
    all.push_back(path);
    test::expect_error<E>([&] { xlens::read_hf_tokenizer(path); }, id, all);
}

}  // namespace sentencepiece_tests

using namespace sentencepiece_tests;

TEST_CASE("sentencepiece: Llama 2's legacy pipeline encodes and decodes as HF tokenizers does") {
    const xlens::tokenizer tok = load(legacy_json(), "legacy");
    CHECK(encode(tok, "ab ab") == token_ids{265, 265});
    CHECK(encode(tok, " ab") == token_ids{259, 265});
    CHECK(encode(tok, "a\xC3\xA9z") == token_ids{263, 262, 125});   // z is not a piece: its byte, <0x7A>
    CHECK(encode(tok, "\xE2\x82\xAC") == token_ids{259, 229, 133, 175});  // € as three byte pieces
    CHECK(encode(tok, "a<s>b") == token_ids{263, 1, 266});          // every piece of text gets its ▁
    CHECK(encode(tok, "ab<s>ab") == token_ids{265, 1, 265});
    CHECK(encode(tok, "ab  b") == token_ids{265, 259, 266});
    CHECK(encode(tok, "").empty());
    // Decoding: ▁ is a space, byte runs that are not UTF-8 are one U+FFFD per byte, one leading space goes.
    CHECK(tok.decode({1, 265, 229, 133}) == "<s> ab\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(tok.decode({265, 265}) == "ab ab");
    CHECK(tok.decode({1, 265}, /*skip_special=*/true) == "ab");
    CHECK(tok.decode({259, 259, 265}) == "  ab");
    // A token on its own keeps its space (how lenses and tables show it); decode_bytes streams bytes.
    CHECK(tok.token_text(265) == " ab");
    CHECK(tok.token_text(125) == "z");
    CHECK(tok.decode_bytes({263, 229, 133, 175}) == " a\xE2\x82\xAC");
    CHECK(xlens::single_token(tok, "ab") == 265);
}

TEST_CASE("sentencepiece: Metaspace with prepend_scheme first, and Metaspace's decoder") {
    const xlens::tokenizer tok = load(metaspace_json(), "metaspace");
    CHECK(encode(tok, "ab ab") == token_ids{265, 265});
    CHECK(encode(tok, " ab") == token_ids{265});       // already starts with ▁: none put in front
    CHECK(encode(tok, "a<s>b") == token_ids{263, 1, 261});  // only the input's first piece gets one
    CHECK(encode(tok, "ab<s>ab") == token_ids{265, 1, 264});
    CHECK(encode(tok, "a\xC3\xA9z") == token_ids{263, 262, 125});
    // Metaspace's decoder drops the first token's ▁ and does no byte fallback.
    CHECK(tok.decode({1, 265, 229, 133}) == "<s> ab<0xE2><0x82>");
    CHECK(tok.decode({265, 265}) == "ab ab");
    CHECK(tok.decode({1, 265}, true) == "ab");
    CHECK(tok.decode({259, 259, 265}) == "  ab");
}

TEST_CASE("sentencepiece: Metaspace that splits before each ▁, prepending always") {
    nlohmann::json j = metaspace_json();
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", space}, {"prepend_scheme", "always"}, {"split", true}};
    j["decoder"] = llama_decoder(true);
    const xlens::tokenizer tok = load(j, "metaspace_split");
    CHECK(encode(tok, "ab ab") == token_ids{265, 265});
    CHECK(encode(tok, "a<s>b") == token_ids{263, 1, 266});
    CHECK(encode(tok, "ab  b") == token_ids{265, 259, 266});
    CHECK(tok.decode({1, 265, 229, 133}) == "<s> ab\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("sentencepiece: Gemma's pipeline spells spaces and puts nothing in front") {
    const xlens::tokenizer tok = load(gemma_json(), "gemma");
    CHECK(encode(tok, "ab ab") == token_ids{264, 265});
    CHECK(encode(tok, " ab") == token_ids{265});
    CHECK(encode(tok, "a\xC3\xA9z") == token_ids{260, 262, 125});
    CHECK(encode(tok, "\xE2\x82\xAC") == token_ids{229, 133, 175});
    CHECK(encode(tok, "a<s>b") == token_ids{260, 1, 261});
    CHECK(encode(tok, "ab  b") == token_ids{264, 259, 266});
    CHECK(tok.decode({265, 265}) == " ab ab");  // no Strip: the space stays
    CHECK(tok.decode({259, 259, 265}) == "   ab");
}

TEST_CASE("sentencepiece: unknown characters without byte pieces fuse into one <unk>") {
    nlohmann::json j = legacy_json();  // with byte_fallback, but no byte pieces to fall back to
    nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {space, 3}, {"a", 4}, {space + "a", 5}};
    j["model"]["vocab"] = vocab;
    j["model"]["merges"] = merge_list({{space, "a"}});
    const xlens::tokenizer tok = load(j, "fused_unk");
    // Expected: HF, the same JSON: "a" + two characters outside the vocabulary, then "a".
    CHECK(encode(tok, "axya") == token_ids{5, 0, 4});
    j["model"]["fuse_unk"] = false;
    CHECK(encode(load(j, "unfused_unk"), "axya") == token_ids{5, 0, 0, 4});
}

TEST_CASE("sentencepiece: scores make the merges (llama.cpp's and sentencepiece's order)") {
    // "abab" from a b a b: the adjacent pair whose joined piece scores best merges first, the
    // leftmost of equals first (sentencepiece's BPE; llama.cpp's llm_tokenizer_spm), until no joined
    // pair is a piece.
    auto run = [](const std::vector<std::string>& pieces, const std::vector<float>& scores) {
        auto m = xlens::text::bpe_model::from_scores(pieces, scores, -1);
        token_ids out;
        m.encode_word("abab", out);
        return out;
    };
    const std::vector<std::string> four = {"a", "b", "ab", "ba"}, five = {"a", "b", "ab", "ba", "aba"};
    CHECK(run(four, {0, 0, -1, -2}) == token_ids{2, 2});     // ab first: ab + ab
    CHECK(run(four, {0, 0, -2, -1}) == token_ids{0, 3, 1});  // ba first: a + ba + b
    CHECK(run(five, {0, 0, -2, -1, -3}) == token_ids{4, 1}); // then a + ba is aba, however low it scores
    CHECK(run(five, {0, 0, -1, -2, -3}) == token_ids{2, 2}); // ab + a would be aba, but ab + ab came first
    // No piece and no byte pieces for x and y: one unknown for the run, as HF's converted models do.
    auto no_bytes = xlens::text::bpe_model::from_scores({"<unk>", "a", "b"}, {0, -1, -2}, 0);
    token_ids out;
    no_bytes.encode_word("axyb", out);
    CHECK(out == token_ids{1, 0, 2});
    test::expect_error<xlens::config_error>([&] { xlens::text::bpe_model::from_scores(five, {0, 0}, -1); }, 313,
                                             {"2 scores for 5 tokens"});
}

TEST_CASE("sentencepiece: normalizer steps") {
    using xlens::text::normalizer_step;
    const xlens::text::normalizer n{{normalizer_step::prepend(space), normalizer_step::replace(" ", space)}};
    CHECK(n.apply("a b") == space + "a" + space + "b");
    CHECK(n.apply("").empty());  // HF leaves an empty piece empty
    const xlens::text::normalizer none;
    CHECK(none.apply(" x ") == " x ");
}

TEST_CASE("sentencepiece: parts still refused are config_error 314 or 304 naming them") {
    nlohmann::json scheme = metaspace_json();
    scheme["pre_tokenizer"]["prepend_scheme"] = "sometimes";
    expect_refused<xlens::config_error>(scheme, 314, {"prepend_scheme 'sometimes'"});
    nlohmann::json wide = metaspace_json();
    wide["pre_tokenizer"]["replacement"] = "ab";
    expect_refused<xlens::config_error>(wide, 304, {"Metaspace replacement 'ab' is not one character"});
    nlohmann::json regex = legacy_json();
    regex["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", space}};
    expect_refused<xlens::config_error>(regex, 314, {"normalizer Replace with a regex pattern"});
    nlohmann::json empty = legacy_json();
    empty["normalizer"] = replace_json("", space);
    expect_refused<xlens::config_error>(empty, 304, {"replaces the empty string"});
    nlohmann::json late_strip = legacy_json();  // Strip before Fuse would strip every token
    late_strip["decoder"]["decoders"] = {{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}, {{"type", "Fuse"}}};
    expect_refused<xlens::config_error>(late_strip, 314, {"decoder step 'Strip'"});
    nlohmann::json no_decoder = legacy_json();
    no_decoder["decoder"] = nullptr;
    expect_refused<xlens::config_error>(no_decoder, 314, {"without a decoder"});
    nlohmann::json no_fallback = legacy_json();  // characters outside the vocabulary would vanish
    no_fallback["model"]["byte_fallback"] = false;
    expect_refused<xlens::config_error>(no_fallback, 314, {"without ByteLevel in a model without byte_fallback"});
}
