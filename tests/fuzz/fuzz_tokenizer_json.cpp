// libFuzzer target: tokenizer.json → a tokenizer, then encode and decode a short text with it.
// Any input must either read or throw an xlens::error.
#include <cstdint>
#include <string>

#include <xlens/io/json.hpp>
#include <xlens/text/tokenizer_files.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto json = xlens::io::parse_json(std::string(reinterpret_cast<const char*>(data), size), "tokenizer.json");
        auto tok = xlens::read_hf_tokenizer(json, xlens::hf_tokenizer_sidecars{}, "tokenizer.json");
        auto ids = tok.encode("Hello, world! 123 été <|endoftext|>");
        volatile std::size_t sink = ids.size() + tok.decode(ids).size();
        (void)sink;
    } catch (const xlens::error&) {
    }
    return 0;
}
