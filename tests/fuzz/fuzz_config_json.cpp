// libFuzzer target: config.json → the model family and its config (the JSON parser's limits included).
// Any input must either read or throw an xlens::error.
#include <cstdint>
#include <string>

#include <xlens/io/json.hpp>
#include <xlens/model/config_reader.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto json = xlens::io::parse_json(std::string(reinterpret_cast<const char*>(data), size), "config.json");
        const auto& family = xlens::family_for_hf_config(json, "config.json");
        auto config = xlens::config_from_hf(json, family, "config.json");
        volatile std::size_t sink = config.n_layers + config.d_model + config.d_vocab;
        (void)sink;
    } catch (const xlens::error&) {
    }
    return 0;
}
