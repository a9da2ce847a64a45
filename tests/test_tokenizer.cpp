// Tests for xlens/text/{utf8,regex,pre_tokenizer,bpe,tokenizer,tokenizer_files}.hpp: UTF-8 repair and
// streaming, pre-tokenizer splits, BPE merge order, tokenizer.json / GGUF reading and the errors for
// files xlens refuses. Expected values are literals taken from the references named beside them
// (CPython 3.11's UTF-8 decoder; HF `tokenizers` 0.23.3; transformers for the GGUF ids), so this
// file needs no Python to run. Agreement with HF on a large corpus is checked separately by
// tools/reference/compare_tokenizer.py.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_data.hpp"
#include "xlens/text/bpe.hpp"
#include "xlens/text/pre_tokenizer.hpp"
#include "xlens/text/tokenizer.hpp"
#include "xlens/text/tokenizer_files.hpp"
#include "xlens/text/utf8.hpp"
#include "helpers.hpp"

namespace doctest {
/// Failed CHECKs on token ids and word lists print the vectors.
template <class T>
struct StringMaker<std::vector<T>> {
    static String convert(const std::vector<T>& v) {
        std::string out = "{";
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) out += ", ";
            if constexpr (std::is_same_v<T, std::string>) out += '"' + v[i] + '"';
            else out += std::to_string(v[i]);
        }
        return (out + "}").c_str();
    }
};
}  // namespace doctest

namespace {

namespace fs = std::filesystem;
using xlens::token_id;
using ids = std::vector<token_id>;
using words = std::vector<std::string>;
using namespace xlens::text;


/// UTF-8 of each element of `list`.
words utf8s(std::initializer_list<std::u32string_view> list) {
    words out;
    for (auto s : list) out.push_back(test::utf8(s));
    return out;
}

/// U+FFFD, `n` times.
std::string fffd(int n = 1) {
    std::string out;
    for (int i = 0; i < n; ++i) out += replacement_character;
    return out;
}

/// GPT-2's bytes_to_unicode() (openai/gpt-2 encoder.py), written out independently of byte_alphabet.
std::vector<char32_t> gpt2_bytes_to_unicode() {
    std::vector<char32_t> map(256, 0);
    std::vector<bool> listed(256, false);
    for (int b = '!'; b <= '~'; ++b) listed[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) listed[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) listed[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) map[b] = listed[b] ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    return map;
}

using test::expect_error;

/// Pre-tokenizer of one Split step on `pattern`.
words split_with(std::string_view pattern, split_behavior b, bool invert, std::string_view text) {
    pre_tokenizer pre;
    auto step = pre_tokenizer::split_on(pattern, b);
    step.invert = invert;
    pre.steps.push_back(step);
    words out;
    pre.split(text, out);
    return out;
}

/// BPE of `word` with the given model.
ids bpe(const bpe_model& m, std::string_view word) {
    ids out;
    m.encode_word(word, out);
    return out;
}

// ---- the tiny byte-level tokenizer.json ---------------------------------------------------------
//
// Vocabulary: ids 0–255 are the bytes 0–255 spelled in GPT-2's alphabet, then the merged tokens
// 256–264; added tokens 265–268; a TemplateProcessing that puts <|bos|> first. The expected ids in
// the tests below come from HF tokenizers 0.23.3 on exactly this JSON:
//   Tokenizer.from_file(<the file this writes>).encode(text[, add_special_tokens=False]).ids
const std::vector<std::pair<std::string, std::string>> tiny_merges = {
    {"\xC4\xA0", "t"},  {"h", "e"},      {"\xC4\xA0t", "he"}, {"l", "l"},  {"e", "ll"},
    {"h", "ell"},       {"hell", "o"},   {"\xC4\xA0", "w"},   {"o", "r"},
};  // make Ġt 256, he 257, Ġthe 258, ll 259, ell 260, hell 261, hello 262, Ġw 263, or 264

nlohmann::json added_token_json(int id, const std::string& content, bool special, bool lstrip = false, bool rstrip = false) {
    return {{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", lstrip},
            {"rstrip", rstrip}, {"normalized", false}, {"special", special}};
}

nlohmann::json tiny_tokenizer_json() {
    const auto alphabet = gpt2_bytes_to_unicode();
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) vocab[test::utf8(std::u32string(1, alphabet[b]))] = b;
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& [l, r] : tiny_merges) {
        vocab[l + r] = vocab.size();
        merges.push_back({l, r});
    }
    nlohmann::json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = {added_token_json(265, "<|bos|>", true), added_token_json(266, "<|x|>", true),
                         added_token_json(267, "<mask>", false, true, true),
                         added_token_json(268, "<|endoftext|>", true)};
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    const nlohmann::json bos = {{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}};
    j["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {265}}, {"tokens", {"<|bos|>"}}}}}}};
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    j["model"] = {{"type", "BPE"},         {"dropout", nullptr},    {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},           {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},     {"byte_fallback", false}, {"ignore_merges", false},
                  {"vocab", vocab},        {"merges", merges}};
    return j;
}

/// Writes `j` as tokenizer.json into `s` and returns its path.
std::string write_tokenizer_json(const test::scratch& s, const nlohmann::json& j) {
    const std::string path = s.file("tokenizer.json");
    test::write_bytes(path, j.dump(1));
    return path;
}

/// Expects read_hf_tokenizer on `j` to throw E `id` naming the file and each of `parts`.
template <class E>
void expect_bad_tokenizer_json(const nlohmann::json& j, int id, std::initializer_list<std::string> parts) {
    test::scratch s("tokenizer", "bad");
    const std::string path = write_tokenizer_json(s, j);
    std::vector<std::string> all(parts);
    all.push_back(path);
    expect_error<E>([&] { xlens::read_hf_tokenizer(path); }, id, all);
}

}  // namespace

// ---- utf8 ---------------------------------------------------------------------------------------

TEST_CASE("utf8: repair_utf8 replaces ill-formed bytes as CPython's decoder does") {
    // Expected values: CPython 3.11, bytes.decode("utf-8", errors="replace") (one U+FFFD per maximal
    // ill-formed subpart).
    CHECK(repair_utf8("") == "");
    CHECK(repair_utf8("plain ASCII") == "plain ASCII");
    CHECK(repair_utf8("a\x80" "b") == "a" + fffd() + "b");                 // lone continuation byte
    CHECK(repair_utf8("\x80\xBF") == fffd(2));                             // two lone continuation bytes
    CHECK(repair_utf8("\xC0\x80") == fffd(2));                             // overlong NUL
    CHECK(repair_utf8("\xC1\xBF") == fffd(2));                             // overlong
    CHECK(repair_utf8("\xE0\x80\xAF") == fffd(3));                         // overlong '/'
    CHECK(repair_utf8("\xED\xA0\x80") == fffd(3));                         // surrogate U+D800
    CHECK(repair_utf8("x\xE2\x82") == "x" + fffd());                       // truncated at the end
    CHECK(repair_utf8("\xE2\x82x") == fffd() + "x");                       // truncated mid-text
    CHECK(repair_utf8("\xE2\x82\xE2\x82\xAC") == fffd() + "\xE2\x82\xAC");  // truncated, then a whole €
    CHECK(repair_utf8("\xE0\xA0") == fffd());                              // valid prefix, cut
    CHECK(repair_utf8("\xF0\x9F\x98") == fffd());                          // 3 of an emoji's 4 bytes
    CHECK(repair_utf8("\xF0\x9F\x98x") == fffd() + "x");
    CHECK(repair_utf8("\xF4\x90\x80\x80") == fffd(4));                     // above U+10FFFF
    CHECK(repair_utf8("\xF5\xF8\xFE\xFF") == fffd(4));                     // bytes that never start a sequence
    CHECK(repair_utf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");          // U+1F600, valid
    CHECK(repair_utf8(std::string("a\0b", 3)) == std::string("a\0b", 3));  // NUL is valid UTF-8
}

TEST_CASE("utf8: first_invalid_utf8 gives the offset of the first ill-formed sequence") {
    CHECK_FALSE(first_invalid_utf8("").has_value());
    CHECK_FALSE(first_invalid_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80 \xE2\x82\xAC").has_value());
    CHECK(is_valid_utf8("h\xC3\xA9llo"));
    CHECK_FALSE(is_valid_utf8("h\xC3"));
    CHECK(first_invalid_utf8("\x80") == std::optional<std::size_t>(0));
    CHECK(first_invalid_utf8("a\x80") == std::optional<std::size_t>(1));
    CHECK(first_invalid_utf8("h\xC3\xA9llo\xFF") == std::optional<std::size_t>(6));
    CHECK(first_invalid_utf8("x\xC0\x80") == std::optional<std::size_t>(1));
    CHECK(first_invalid_utf8("ab\xF0\x9F\x98\x80\xED\xA0\x80") == std::optional<std::size_t>(6));
    CHECK(first_invalid_utf8("abc\xE2\x82") == std::optional<std::size_t>(3));
    CHECK(first_invalid_utf8("\xF4\x8F\xBF\xBF!\xF4\x90\x80\x80") == std::optional<std::size_t>(5));  // U+10FFFF ok
}

TEST_CASE("utf8: utf8_stream holds back an unfinished character until it completes") {
    utf8_stream s;
    CHECK(s.push("\xF0") == "");
    CHECK(s.push("\x9F") == "");
    CHECK(s.push("\x98") == "");
    CHECK(s.push("\x80") == "\xF0\x9F\x98\x80");
    CHECK(s.push("ok ") == "ok ");
    CHECK(s.finish() == "");

    utf8_stream t;  // a truncated character at the end becomes U+FFFD on finish()
    CHECK(t.push("a\xE2\x82") == "a");
    CHECK(t.finish() == fffd());
    CHECK(t.finish() == "");

    utf8_stream u;  // a character that cannot complete is replaced as soon as that is known
    CHECK(u.push("\xE2\x82") == "");
    CHECK(u.push("x") == fffd() + "x");
    CHECK(u.push("\xFF") == fffd());
    CHECK(u.push("\xE0\x80") == fffd(2));  // E0 80 is never a prefix of a well-formed sequence
}

TEST_CASE("utf8: utf8_stream gives repair_utf8 of the whole text however it is cut") {
    const std::string text = "a\xF0\x9F\x98\x80\xE2\x82" "b\xC3\xA9\xED\xA0\x80\xF0\x9F\x98\xE2\x82\xAC\xFF\xC2";
    const std::string whole = repair_utf8(text);
    for (std::size_t i = 0; i <= text.size(); ++i)
        for (std::size_t j = i; j <= text.size(); ++j) {
            utf8_stream s;
            std::string out = s.push(text.substr(0, i));
            out += s.push(text.substr(i, j - i));
            out += s.push(text.substr(j));
            out += s.finish();
            CHECK_MESSAGE(out == whole, "cut at " << i << " and " << j);
        }
}

// ---- pre_tokenizer ------------------------------------------------------------------------------

TEST_CASE("pre_tokenizer: Split behaviours and invert match HF") {
    // Expected: HF tokenizers 0.23.3,
    //   pre_tokenizers.Split(Regex("-"), behavior=B, invert=I).pre_tokenize_str(text)
    using b = split_behavior;
    CHECK(split_with("-", b::isolated, false, "a--b-c-") == words{"a", "-", "-", "b", "-", "c", "-"});
    CHECK(split_with("-", b::removed, false, "a--b-c-") == words{"a", "b", "c"});
    CHECK(split_with("-", b::merged_with_previous, false, "a--b-c-") == words{"a-", "-", "b-", "c-"});
    CHECK(split_with("-", b::merged_with_next, false, "a--b-c-") == words{"a", "-", "-b", "-c", "-"});
    CHECK(split_with("-", b::contiguous, false, "a--b-c-") == words{"a", "--", "b", "-", "c", "-"});
    CHECK(split_with("-", b::isolated, true, "a--b-c-") == words{"a", "-", "-", "b", "-", "c", "-"});
    CHECK(split_with("-", b::removed, true, "a--b-c-") == words{"-", "-", "-", "-"});
    CHECK(split_with("-", b::merged_with_previous, true, "a--b-c-") == words{"a", "-", "-b", "-c", "-"});
    CHECK(split_with("-", b::merged_with_next, true, "a--b-c-") == words{"a-", "-", "b-", "c-"});
    CHECK(split_with("-", b::contiguous, true, "a--b-c-") == words{"a", "--", "b", "-", "c", "-"});

    CHECK(split_with("-", b::isolated, false, "-a-b--") == words{"-", "a", "-", "b", "-", "-"});
    CHECK(split_with("-", b::removed, false, "-a-b--") == words{"a", "b"});
    CHECK(split_with("-", b::merged_with_previous, false, "-a-b--") == words{"-", "a-", "b-", "-"});
    CHECK(split_with("-", b::merged_with_next, false, "-a-b--") == words{"-a", "-b", "-", "-"});
    CHECK(split_with("-", b::contiguous, false, "-a-b--") == words{"-", "a", "-", "b", "--"});
    CHECK(split_with("-", b::removed, true, "-a-b--") == words{"-", "-", "-", "-"});
    CHECK(split_with("-", b::merged_with_previous, true, "-a-b--") == words{"-a", "-b", "-", "-"});
    CHECK(split_with("-", b::merged_with_next, true, "-a-b--") == words{"-", "a-", "b-", "-"});
    CHECK(split_with("-", b::contiguous, true, "-a-b--") == words{"-", "a", "-", "b", "--"});

    CHECK(split_with("-", b::merged_with_next, false, "ab") == words{"ab"});
    CHECK(split_with("-", b::removed, true, "ab") == words{});
    CHECK(split_with("-", b::isolated, false, "") == words{});
}

TEST_CASE("pre_tokenizer: byte_alphabet is GPT-2's bytes_to_unicode and round-trips all 256 bytes") {
    const auto& a = byte_alphabet::get();
    CHECK(a.spell(static_cast<unsigned char>(0x20)) == "\xC4\xA0");  // 'Ġ' U+0120
    CHECK(a.spell(static_cast<unsigned char>(0x0A)) == "\xC4\x8A");  // 'Ċ' U+010A
    CHECK(a.spell(static_cast<unsigned char>('A')) == "A");
    CHECK(a.spell(static_cast<unsigned char>(0xAD)) == test::utf8(U"\u0143"));  // the last one assigned
    CHECK(a.spell(std::string_view("a b\n")) == test::utf8(U"a\u0120b\u010A"));
    CHECK(a.byte_of(U'\u0120') == 0x20);
    CHECK(a.byte_of(U'\u0144') == -1);
    CHECK(a.byte_of(U'\u20AC') == -1);
    CHECK(a.byte_of(U' ') == -1);  // a raw space is not in the alphabet

    const auto reference = gpt2_bytes_to_unicode();
    std::set<std::string> seen;
    for (int b = 0; b < 256; ++b) {
        const std::string& s = a.spell(static_cast<unsigned char>(b));
        CHECK_MESSAGE(s == test::utf8(std::u32string(1, reference[b])), "byte " << b);
        std::size_t i = 0;
        const char32_t c = next_code_point(s, i);
        CHECK(i == s.size());
        CHECK_MESSAGE(a.byte_of(c) == b, "byte " << b);
        seen.insert(s);
    }
    CHECK(seen.size() == 256);
}

TEST_CASE("pre_tokenizer: GPT-2's pattern inside ByteLevel splits as HF ByteLevel does") {
    // Expected: HF tokenizers 0.23.3, pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text);
    // U+180E is not white space for Oniguruma (nor here), though PCRE2's \s would match it.
    pre_tokenizer gpt2;
    gpt2.steps.push_back(pre_tokenizer::byte_level_step(true, false));
    gpt2.byte_level = true;
    auto split = [&](std::string_view text) {
        words out;
        gpt2.split(text, out);
        return out;
    };
    CHECK(split(test::utf8(U"I'm   fine\u180E.")) == utf8s({U"I", U"'m", U"\u0120\u0120", U"\u0120fine", U"\u00E1\u0142\u0130."}));
    CHECK(split("Hello  world\n\n  x") ==
          utf8s({U"Hello", U"\u0120", U"\u0120world", U"\u010A\u010A\u0120", U"\u0120x"}));
    CHECK(split(test::utf8(U"don't 123 \u00FCn\u00EF")) ==
          utf8s({U"don", U"'t", U"\u0120123", U"\u0120\u00C3\u00BCn\u00C3\u00AF"}));

    // Expected: HF, pre_tokenizers.Sequence([Digits(individual_digits=True),
    //   ByteLevel(add_prefix_space=True)]).pre_tokenize_str("ab12 c") — the prefix space goes on every piece.
    pre_tokenizer smol;
    smol.steps.push_back(pre_tokenizer::digits(true));
    smol.steps.push_back(pre_tokenizer::byte_level_step(true, true));
    smol.byte_level = true;
    words out;
    smol.split("ab12 c", out);
    CHECK(out == utf8s({U"\u0120ab", U"\u01201", U"\u01202", U"\u0120c"}));
}

TEST_CASE("regex: a pattern that does not compile is config_error 311 naming it") {
    expect_error<xlens::config_error>([] { regex r("(unclosed"); }, 311, {"(unclosed", "offset"});
    expect_error<xlens::config_error>([] { regex r("[\\S]"); }, 311, {"[\\S]"});
}

// ---- bpe_model ----------------------------------------------------------------------------------

TEST_CASE("bpe_model: merges apply by rank, leftmost first on ties") {
    // Expected: HF tokenizers 0.23.3, Tokenizer(models.BPE(vocab, merges)).encode(text).ids, no pre-tokenizer.
    const std::vector<std::string> abc = {"a", "b", "c", "ab", "bc", "abc"};
    const bpe_model bc_first(abc, {{"b", "c"}, {"a", "b"}, {"a", "bc"}});
    CHECK(bpe(bc_first, "abc") == ids{5});
    CHECK(bpe(bc_first, "abcabc") == ids{5, 5});
    CHECK(bpe(bc_first, "cab") == ids{2, 3});
    const bpe_model ab_first(abc, {{"a", "b"}, {"b", "c"}, {"a", "bc"}});
    CHECK(bpe(ab_first, "abc") == ids{3, 2});
    CHECK(bpe(ab_first, "abcabc") == ids{3, 2, 3, 2});
    CHECK(bpe(ab_first, "") == ids{});

    const std::vector<std::string> as = {"a", "aa", "aaa"};
    const bpe_model pairs(as, {{"a", "a"}});
    CHECK(bpe(pairs, "aaa") == ids{1, 0});
    CHECK(bpe(pairs, "aaaa") == ids{1, 1});
    CHECK(bpe(pairs, "aaaaa") == ids{1, 1, 0});
    const bpe_model triples(as, {{"a", "a"}, {"aa", "a"}});
    CHECK(bpe(triples, "aaa") == ids{2});
    CHECK(bpe(triples, "aaaa") == ids{1, 1});
    CHECK(bpe(triples, "aaaaa") == ids{1, 2});

    CHECK(bc_first.size() == 6);
    CHECK(bc_first.find("bc") == 4);
    CHECK(bc_first.find("ca") == -1);
    CHECK(bc_first.spelling(5) == "abc");
}

TEST_CASE("bpe_model: ignore_merges takes a whole word in the vocabulary as one token") {
    // Expected: HF, models.BPE(vocab, [("a", "b")], ignore_merges=True / False).
    const std::vector<std::string> v = {"a", "b", "c", "ab", "abc"};
    const bpe_model merging(v, {{"a", "b"}}, -1, false);
    CHECK(bpe(merging, "abc") == ids{3, 2});
    const bpe_model ignoring(v, {{"a", "b"}}, -1, true);
    CHECK(bpe(ignoring, "abc") == ids{4});
    CHECK(bpe(ignoring, "ab") == ids{3});
    CHECK(bpe(ignoring, "abcc") == ids{3, 2, 2});  // not in the vocabulary: merges as usual
}

TEST_CASE("bpe_model: unknown characters are dropped without an unk id and mapped to it otherwise") {
    // Expected: HF, models.BPE(vocab, [("a", "b")][, unk_token="<unk>"]) (fuse_unk=False).
    const std::vector<std::string> v = {"<unk>", "a", "b", "ab"};
    const bpe_model dropping(v, {{"a", "b"}});
    CHECK(bpe(dropping, "abxxb") == ids{3, 2});
    CHECK(bpe(dropping, "xab") == ids{3});
    CHECK(bpe(dropping, "a\xC3\xA9" "b") == ids{3});  // a and b become neighbours and merge
    CHECK(bpe(dropping, "xyz") == ids{});
    const bpe_model mapping(v, {{"a", "b"}}, 0);
    CHECK(bpe(mapping, "abxxb") == ids{3, 0, 0, 2});
    CHECK(bpe(mapping, "xab") == ids{0, 3});
    CHECK(bpe(mapping, "a\xC3\xA9" "b") == ids{1, 0, 2});
}

TEST_CASE("bpe_model: a merge outside the vocabulary is config_error 312 naming it") {
    const std::vector<std::string> v = {"a", "b", "ab"};
    expect_error<xlens::config_error>([&] { bpe_model m(v, {{"a", "b"}, {"a", "z"}}); }, 312, {"merge 1", "'a z'", "'z'"});
    expect_error<xlens::config_error>([&] { bpe_model m(v, {{"b", "a"}}); }, 312, {"merge 0", "'ba'"});
}

// ---- tokenizer from tokenizer.json --------------------------------------------------------------

TEST_CASE("tokenizer: a tiny byte-level tokenizer.json encodes as HF tokenizers does") {
    test::scratch s("tokenizer", "tiny");
    const std::string path = write_tokenizer_json(s, tiny_tokenizer_json());
    test::write_bytes(s.file("tokenizer_config.json"),
                      R"({"bos_token": "<|bos|>", "eos_token": {"content": "<|endoftext|>"}, "chat_template": "{{ bos_token }}"})");
    const xlens::tokenizer tok = xlens::load_tokenizer(s.dir.string());
    CHECK(tok.source() == path);
    CHECK(tok.vocab_size() == 269);
    CHECK(tok.bos() == std::optional<token_id>(265));
    CHECK(tok.eos() == std::optional<token_id>(268));
    CHECK(tok.stop_tokens() == ids{268});
    CHECK(tok.chat_template() == "{{ bos_token }}");
    CHECK(tok.is_special(266));
    CHECK_FALSE(tok.is_special(267));
    CHECK_FALSE(tok.is_special(97));

    // Expected ids: HF tokenizers 0.23.3 on this JSON, encode(text).ids (the template adds <|bos|> 265).
    const xlens::encode_options plain{false, true, false};
    CHECK(tok.encode("hello the world") == ids{265, 257, 259, 111, 258, 263, 264, 108, 100});
    CHECK(tok.encode("hello the world", plain) == ids{257, 259, 111, 258, 263, 264, 108, 100});
    CHECK(tok.encode(" the  the\n") == ids{265, 258, 32, 258, 10});
    CHECK(tok.encode("h\xC3\xA9llo \xF0\x9F\x98\x80") == ids{265, 104, 195, 169, 259, 111, 32, 240, 159, 152, 128});
    CHECK(tok.encode("hello<|x|>the") == ids{265, 257, 259, 111, 266, 116, 257});
    CHECK(tok.encode("<|bos|>the") == ids{265, 265, 116, 257});
    // <mask> has lstrip and rstrip: it swallows the white space on both sides.
    CHECK(tok.encode("a <mask> b") == ids{265, 97, 267, 98});
    CHECK(tok.encode("a<mask>b") == ids{265, 97, 267, 98});
    CHECK(tok.encode("a <mask>") == ids{265, 97, 267});
    CHECK(tok.encode("<mask>  z") == ids{265, 267, 122});
    CHECK(tok.encode("x\t<mask>\n y") == ids{265, 120, 267, 121});
    // Empty text: just the template's tokens.
    CHECK(tok.encode("") == ids{265});
    CHECK(tok.encode("", plain) == ids{});

    // decode: HF's decode(ids[, skip_special_tokens=True]) with the ByteLevel decoder.
    CHECK(tok.decode({265, 257, 259, 111, 266, 116, 257}) == "<|bos|>hello<|x|>the");
    CHECK(tok.decode({265, 257, 259, 111, 266, 116, 257}, true) == "hellothe");
    CHECK(tok.decode({265, 97, 267, 98}, true) == "a<mask>b");  // <mask> is not special
    for (const std::string& text : std::vector<std::string>{"hello the world", " the  the\n", "h\xC3\xA9llo \xF0\x9F\x98\x80",
                                                           "a<mask>b<|x|>", "\t\r\n~\x7F", std::string("nul\0byte", 8)})
        CHECK(tok.decode(tok.encode(text), true) == (text == "a<mask>b<|x|>" ? "a<mask>b" : text));
    CHECK(tok.decode({}) == "");
    CHECK(tok.decode_bytes({240, 159}) == "\xF0\x9F");  // a piece of a character, raw
    CHECK(tok.decode({240, 159}) == fffd());
    CHECK(tok.token_text(240) == fffd());
    CHECK(tok.token_text(258) == " the");
    expect_error<xlens::input_error>([&] { tok.decode({97, 269}); }, 502, {"token 269", "position 1", "[0, 269)"});
    expect_error<xlens::input_error>([&] { tok.decode({-1}); }, 502, {"token -1"});

    CHECK(tok.token_to_id("<|x|>") == 266);
    CHECK(tok.token_to_id("\xC4\xA0the") == 258);
    CHECK(tok.token_to_id("a") == 97);
    expect_error<xlens::input_error>([&] { tok.token_to_id("no-such-piece"); }, 511, {"'no-such-piece'", path});
    expect_error<xlens::input_error>([&] { tok.token_to_id(" the"); }, 511, {"' the'"});  // raw, not in the alphabet
}

TEST_CASE("tokenizer: encode options and ill-formed UTF-8") {
    test::scratch s("tokenizer", "options");
    const xlens::tokenizer tok = xlens::read_hf_tokenizer(write_tokenizer_json(s, tiny_tokenizer_json()));

    // parse_special off: a special token's text is tokenized as text. Expected: HF with
    // tokenizer.encode_special_tokens = True; a non-special added token (<mask>) is still matched,
    // as in HF and in llama.cpp (parse_special=false only skips control tokens).
    const xlens::encode_options literal{true, false, false};
    CHECK(tok.encode("hello<|x|>the", literal) == ids{265, 257, 259, 111, 60, 124, 120, 124, 62, 116, 257});
    CHECK(tok.encode("a <mask> b", literal) == ids{265, 97, 267, 98});

    // Ill-formed UTF-8 is repaired to U+FFFD, as Python's errors="replace" does before HF sees the text.
    // Expected: HF encode("a\ufffdb").ids.
    CHECK(tok.encode("a\xFF" "b") == ids{265, 97, 239, 191, 189, 98});
    CHECK(tok.encode("a\xFF" "b") == tok.encode("a\xEF\xBF\xBD" "b"));
    CHECK(tok.encode("<|x|>\xE2\x82") == tok.encode("<|x|>\xEF\xBF\xBD"));
    const xlens::encode_options strict{true, true, true};
    CHECK(tok.encode("a\xC3\xA9", strict) == ids{265, 97, 195, 169});
    expect_error<xlens::input_error>([&] { tok.encode("a\xFF" "b", strict); }, 510, {"offset 1", "255"});
    expect_error<xlens::input_error>([&] { tok.encode("ok\xE2\x82", strict); }, 510, {"offset 2"});
}

TEST_CASE("tokenizer: merges written as 'left right' strings read like pairs") {
    nlohmann::json j = tiny_tokenizer_json();
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& [l, r] : tiny_merges) merges.push_back(l + " " + r);
    j["model"]["merges"] = merges;
    test::scratch s("tokenizer", "string_merges");
    const xlens::tokenizer tok = xlens::load_tokenizer(write_tokenizer_json(s, j));
    CHECK(tok.encode("hello the world") == ids{265, 257, 259, 111, 258, 263, 264, 108, 100});
    CHECK_FALSE(tok.bos().has_value());  // no tokenizer_config.json beside it
    CHECK(tok.stop_tokens() == ids{268});  // <|endoftext|> is known as an end token
}

// ---- files xlens refuses ------------------------------------------------------------------------

TEST_CASE("tokenizer files: unsupported parts are config_error 314 naming them") {
    nlohmann::json wordpiece = tiny_tokenizer_json();
    wordpiece["model"] = {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", {{"[UNK]", 0}, {"a", 1}}}};
    expect_bad_tokenizer_json<xlens::config_error>(wordpiece, 314, {"WordPiece"});

    nlohmann::json metaspace = tiny_tokenizer_json();  // SentencePiece style (test_sentencepiece.cpp), but no byte fallback
    metaspace["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}};
    expect_bad_tokenizer_json<xlens::config_error>(metaspace, 314, {"without ByteLevel in a model without byte_fallback"});

    nlohmann::json nested = tiny_tokenizer_json();
    nested["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}};
    expect_bad_tokenizer_json<xlens::config_error>(nested, 314, {"Whitespace"});

    nlohmann::json lowercase = tiny_tokenizer_json();
    lowercase["normalizer"] = {{"type", "Lowercase"}};
    expect_bad_tokenizer_json<xlens::config_error>(lowercase, 314, {"Lowercase"});

    nlohmann::json dropout = tiny_tokenizer_json();
    dropout["model"]["dropout"] = 0.1;
    expect_bad_tokenizer_json<xlens::config_error>(dropout, 314, {"dropout"});
    nlohmann::json gap = tiny_tokenizer_json();  // ids must be 0..N-1: a gap would be a token spelled ""
    gap["model"]["vocab"]["Q"] = 5000;
    expect_bad_tokenizer_json<xlens::config_error>(gap, 313, {"vocabulary id 5000", "beyond"});
    nlohmann::json huge = tiny_tokenizer_json();  // a 60-byte file must not allocate gigabytes
    huge["model"]["vocab"] = {{"a", 67108864}};
    expect_bad_tokenizer_json<xlens::config_error>(huge, 313, {"67108864"});
    nlohmann::json fractional = tiny_tokenizer_json();
    fractional["model"]["vocab"]["Q"] = 1e20;
    expect_bad_tokenizer_json<xlens::config_error>(fractional, 313, {"not an integer"});
    nlohmann::json no_bytes = tiny_tokenizer_json();  // without ByteLevel or byte fallback, unknown characters would vanish
    no_bytes["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", true}};
    expect_bad_tokenizer_json<xlens::config_error>(no_bytes, 314, {"without ByteLevel in a model without byte_fallback"});
    nlohmann::json decoder = tiny_tokenizer_json();
    decoder["decoder"] = {{"type", "WordPiece"}};
    expect_bad_tokenizer_json<xlens::config_error>(decoder, 314, {"decoder 'WordPiece'"});
    nlohmann::json one_byte = tiny_tokenizer_json();  // \C could end a match inside a character
    one_byte["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", "a\\C"}}},
                                  {"behavior", "Isolated"}, {"invert", false}}, {{"type", "ByteLevel"}, {"use_regex", false}}}}};
    expect_bad_tokenizer_json<xlens::config_error>(one_byte, 311, {"a\\C"});
    nlohmann::json fallback = tiny_tokenizer_json();  // SentencePiece's decoder on a byte-level pre-tokenizer
    fallback["model"]["byte_fallback"] = true;
    fallback["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
    expect_bad_tokenizer_json<xlens::config_error>(fallback, 314, {"decoder 'Sequence'"});

    nlohmann::json processor = tiny_tokenizer_json();
    processor["post_processor"] = {{"type", "BertProcessing"}};
    expect_bad_tokenizer_json<xlens::config_error>(processor, 314, {"BertProcessing"});
}

TEST_CASE("tokenizer files: malformed files are clear errors") {
    nlohmann::json single = tiny_tokenizer_json();
    single["model"]["merges"] = {"\xC4\xA0 t", "ab"};
    expect_bad_tokenizer_json<xlens::config_error>(single, 312, {"merge 1", "'ab'"});

    nlohmann::json unknown = tiny_tokenizer_json();
    unknown["model"]["merges"].push_back({"q", "zz"});
    expect_bad_tokenizer_json<xlens::config_error>(unknown, 312, {"merge 9", "'zz'"});

    nlohmann::json negative = tiny_tokenizer_json();
    negative["added_tokens"].push_back(added_token_json(-3, "<|neg|>", true));
    expect_bad_tokenizer_json<xlens::config_error>(negative, 313, {"<|neg|>", "negative"});

    nlohmann::json bad_vocab_id = tiny_tokenizer_json();
    bad_vocab_id["model"]["vocab"]["zzz"] = -1;
    expect_bad_tokenizer_json<xlens::config_error>(bad_vocab_id, 313, {"'zzz'"});

    nlohmann::json bad_template = tiny_tokenizer_json();
    bad_template["post_processor"]["special_tokens"]["<|bos|>"]["ids"] = {100000};
    expect_bad_tokenizer_json<xlens::config_error>(bad_template, 313, {"template id 100000"});

    nlohmann::json no_model = tiny_tokenizer_json();
    no_model.erase("model");
    expect_bad_tokenizer_json<xlens::config_error>(no_model, 304, {"model"});

    nlohmann::json wrong_type = tiny_tokenizer_json();
    wrong_type["model"]["vocab"] = {{"a", "zero"}};
    expect_bad_tokenizer_json<xlens::config_error>(wrong_type, 313, {"'a'", "\"zero\"", "not an integer"});

    test::scratch s("tokenizer", "files");
    const std::string full = tiny_tokenizer_json().dump();
    const std::string truncated = s.file("truncated.json");
    test::write_bytes(truncated, full.substr(0, full.size() / 2));
    expect_error<xlens::format_error>([&] { xlens::load_tokenizer(truncated); }, 205, {truncated, "invalid JSON"});
    const std::string garbage = s.file("tokenizer.json");
    test::write_bytes(garbage, "\x89PNG\r\n\x1A\n");
    expect_error<xlens::format_error>([&] { xlens::load_tokenizer(s.dir.string()); }, 205, {garbage});

    const std::string missing = s.file("missing/tokenizer.json");
    expect_error<xlens::io_error>([&] { xlens::load_tokenizer(missing); }, 105, {missing});
    expect_error<xlens::io_error>([&] { xlens::read_hf_tokenizer(missing); }, 104, {missing});
    test::scratch empty("tokenizer", "empty");
    expect_error<xlens::io_error>([&] { xlens::load_tokenizer(empty.dir.string()); }, 105,
                                  {empty.dir.string(), "tokenizer.json"});
    const std::string weights = empty.file("model.safetensors");
    test::write_bytes(weights, "");
    expect_error<xlens::io_error>([&] { xlens::load_tokenizer(weights); }, 105, {"tokenizer.json"});
}

TEST_CASE("tokenizer: an added token with a negative id is config_error 313") {
    xlens::tokenizer_spec spec;
    spec.source = "hand-made";
    spec.model = bpe_model({"a", "b"}, {});
    spec.added.push_back({-1, "<s>", true});
    expect_error<xlens::config_error>([&] { xlens::tokenizer t(spec); }, 313, {"hand-made", "'<s>'", "negative"});
    spec.added = {{5, "", true}};
    expect_error<xlens::config_error>([&] { xlens::tokenizer t(spec); }, 313, {"added token 5", "empty"});
    spec.added.clear();
    spec.eos = 7;
    expect_error<xlens::config_error>([&] { xlens::tokenizer t(spec); }, 313, {"EOS id 7"});
}

// ---- GGUF ---------------------------------------------------------------------------------------

TEST_CASE("tokenizer: SmolLM2's GGUF tokenizer ($XLENS_MODEL_GGUF)") {
    const char* env = std::getenv("XLENS_MODEL_GGUF");
    if (env == nullptr || *env == '\0' || !fs::exists(env)) {
        MESSAGE("skipped: set XLENS_MODEL_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf to test a real GGUF tokenizer");
        return;
    }
    const xlens::tokenizer tok = xlens::load_tokenizer(env);
    // Expected ids: transformers' tokenizer for HuggingFaceTB/SmolLM2-135M-Instruct.
    CHECK(tok.encode("The Eiffel Tower is in") == ids{504, 414, 46682, 18669, 314, 281});
    CHECK(tok.encode("<|im_start|>") == ids{1});
    CHECK(tok.decode(ids{504, 414, 46682, 18669, 314, 281}) == "The Eiffel Tower is in");
    CHECK(tok.eos() == std::optional<token_id>(2));
    const auto& stop = tok.stop_tokens();
    CHECK(std::find(stop.begin(), stop.end(), 2) != stop.end());
    CHECK(tok.chat_template().find("<|im_start|>") != std::string::npos);
    CHECK(tok.token_to_id("<|im_end|>") == 2);
    CHECK(tok.is_special(1));
}
