// libFuzzer target: tokenizer.json → a tokenizer, then encode and decode short texts with it (special
// tokens parsed or not, ill-formed UTF-8 repaired), look up its special tokens and render its chat
// template. The files beside tokenizer.json (tokenizer_config.json, generation_config.json,
// config.json) are read from an optional top-level "__sidecars__" object of the same input, so they
// are fuzzed too. Any input must either work or throw an xlens::error.
#include <cstdint>
#include <string>

#include <xlens/io/json.hpp>
#include <xlens/text/chat_template.hpp>
#include <xlens/text/tokenizer_files.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto json = xlens::io::parse_json(std::string(reinterpret_cast<const char*>(data), size), "tokenizer.json");
        xlens::hf_tokenizer_sidecars sidecars;
        if (json.is_object() && json.contains("__sidecars__") && json["__sidecars__"].is_object()) {
            const auto& s = json["__sidecars__"];
            if (s.contains("tokenizer_config")) sidecars.tokenizer_config = s["tokenizer_config"];
            if (s.contains("generation_config")) sidecars.generation_config = s["generation_config"];
            if (s.contains("config")) sidecars.config = s["config"];
        }
        auto tok = xlens::read_hf_tokenizer(json, sidecars, "tokenizer.json");
        std::size_t checksum = tok.vocab_size();
        auto ids = tok.encode("Hello, world! 123 été <|endoftext|>");
        checksum += ids.size() + tok.decode(ids).size() + tok.decode(ids, true).size();
        xlens::encode_options plain;
        plain.add_special_tokens = false;
        plain.parse_special = false;
        checksum += tok.encode("<s>\xff\xc3 x</s>\n\t  ", plain).size();  // ill-formed UTF-8: repaired
        for (auto id : tok.stop_tokens()) checksum += tok.token_text(id).size() + tok.is_special(id);
        if (tok.bos()) checksum += tok.token_text(*tok.bos()).size();
        if (!tok.chat_template().empty()) {
            try {
                checksum += xlens::apply_chat_template(tok, {{"user", "Hi"}}).size();
            } catch (const xlens::error&) {
            }
        }
        volatile std::size_t sink = checksum;
        (void)sink;
    } catch (const xlens::error&) {
    }
    return 0;
}
