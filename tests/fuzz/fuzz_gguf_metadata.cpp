// libFuzzer target: the GGUF reader (header, metadata values, tensor table), and what is built from
// its metadata: the model config, the tokenizer (then used on a short text) and the weights
// (dequantised). Any input must either load or throw an xlens::error.
#include <cstdint>
#include <memory>
#include <vector>

#include <xlens/io/gguf.hpp>
#include <xlens/model/loader.hpp>
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
    for (const auto& t : file->tensors())
        if (t.nbytes) checksum += t.data[0] + t.data[t.nbytes - 1];
    try {
        auto tok = xlens::read_gguf_tokenizer(*file);
        for (auto id : tok.encode("Hello, world! 123 été")) checksum += static_cast<std::uint64_t>(id);
        checksum += tok.decode({0}).size();
    } catch (const xlens::error&) {
    }
    try {
        auto model = xlens::model(xlens::detail::gguf_model_from("fuzz.gguf", file));
        checksum += model.config().n_layers;
    } catch (const xlens::error&) {
    }
    volatile std::uint64_t sink = checksum;
    (void)sink;
    return 0;
}
