// libFuzzer target: the safetensors reader (8-byte length, JSON header, tensor table, data bounds),
// then what is read lazily from an opened file: every span's bytes, the float32 conversion of every
// float tensor and an in-place view of every F32 matrix. Any input must either open or throw an
// xlens::error; anything else (a crash, a sanitizer report, another exception type) is a bug.
#include <cstdint>
#include <vector>

#include <xlens/io/quants.hpp>
#include <xlens/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        xlens::io::safetensors_file file(
            xlens::io::mapped_file::from_memory("fuzz.safetensors", std::vector<std::uint8_t>(data, data + size)));
        std::uint64_t checksum = 0;
        for (const auto& t : file.tensors()) {
            checksum += t.elements() + (file.find(t.name) == &t ? 1 : 0);
            if (t.nbytes) checksum += t.data[0] + t.data[t.nbytes - 1];  // the span must lie inside the file
            if (xlens::io::is_float_convertible(t.type))  // at most 2x the file's bytes (F16/BF16), as floats
                for (float v : xlens::io::to_f32(t)) checksum += static_cast<std::uint64_t>(v == v);
            if (t.type == xlens::io::dtype::f32 && t.shape.size() == 2) {
                try {  // throws weights_error 412 when the header's length leaves the data unaligned
                    auto v = file.view<float, 2>(t.name);
                    checksum += v.size();
                } catch (const xlens::error&) {
                }
            }
        }
        for (const auto& [key, value] : file.metadata()) checksum += key.size() + value.size();
        volatile std::uint64_t sink = checksum;
        (void)sink;
    } catch (const xlens::error&) {
    }
    return 0;
}
