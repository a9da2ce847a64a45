// libFuzzer target: the safetensors reader (8-byte length, JSON header, tensor table, data bounds).
// Any input must either open or throw an xlens::error; anything else (a crash, a sanitizer report,
// another exception type) is a bug.
#include <cstdint>
#include <vector>

#include <xlens/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        xlens::io::safetensors_file file(
            xlens::io::mapped_file::from_memory("fuzz.safetensors", std::vector<std::uint8_t>(data, data + size)));
        std::uint64_t checksum = 0;
        for (const auto& t : file.tensors()) {
            checksum += t.elements() + (file.find(t.name) == &t ? 1 : 0);
            if (t.nbytes) checksum += t.data[0] + t.data[t.nbytes - 1];  // the span must lie inside the file
        }
        for (const auto& [key, value] : file.metadata()) checksum += key.size() + value.size();
        volatile std::uint64_t sink = checksum;
        (void)sink;
    } catch (const xlens::error&) {
    }
    return 0;
}
