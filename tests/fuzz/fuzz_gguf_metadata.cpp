// libFuzzer target: the GGUF reader (header, metadata values, tensor table), and what is built from
// its metadata: the model config, the tokenizer (then used on a short text, and its chat template
// rendered) and the weights
// (every float or quantised tensor dequantised, then the model's weights built). Any input must
// either load or throw an xlens::error.
#include <cstdint>
#include <memory>
#include <vector>

#include <xlens/io/gguf.hpp>
#include <xlens/model/loader.hpp>
#include <xlens/text/chat_template.hpp>
#include <xlens/text/tokenizer_files.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::shared_ptr<xlens::io::gguf_file> file;
    try {
        file = std::make_shared<xlens::io::gguf_file>(
            xlens::io::mapped_file::from_memory("fuzz.gguf", std::vector<std::uint8_t>(data, data + size)));
    } catch (const xlens::error&) {
        return 0;
    }
    std::uint64_t checksum = 0;
    for (const auto& key : file->keys()) checksum += xlens::io::to_string(*file->find_value(key)).size();
    for (const auto& t : file->tensors()) {
        if (t.nbytes) checksum += t.data[0] + t.data[t.nbytes - 1];
        try {  // dequantised: at most ~8x the file's bytes (Q4_0: 18 bytes -> 32 floats)
            if (xlens::io::is_float_convertible(t.type))
                for (float v : xlens::io::to_f32(t)) checksum += static_cast<std::uint64_t>(v == v);
        } catch (const xlens::error&) {
        }
    }
    try {
        auto tok = xlens::read_gguf_tokenizer(*file);
        const auto ids = tok.encode("Hello, world! 123 été");
        for (auto id : ids) checksum += static_cast<std::uint64_t>(id);
        checksum += tok.decode(ids).size() + tok.decode({0}).size();
        if (!tok.chat_template().empty()) {
            try {
                checksum += xlens::apply_chat_template(tok, {{"user", "Hi"}}).size();
            } catch (const xlens::error&) {
            }
        }
    } catch (const xlens::error&) {
    }
    try {
        auto model = xlens::model(xlens::detail::gguf_model_from("fuzz.gguf", file, xlens::load_options{}));
        checksum += model.config().n_layers;
    } catch (const xlens::error&) {
    }
    volatile std::uint64_t sink = checksum;
    (void)sink;
    return 0;
}
