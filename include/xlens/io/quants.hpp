// xlens/io/quants.hpp — turning stored weights (plain floats or ggml blocks) into float32.
//
// The reference for every number here is the Python `gguf` package (gguf.quants.dequantize), which
// is what transformers uses when it loads a GGUF. xlens reproduces it bit for bit, so the forward
// pass from a GGUF can be compared with the reference at tight tolerances. The block layouts and
// their formulas live one struct and one routine per type in io/quant_blocks_32.hpp (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, IQ4_NL) and io/quant_blocks_k.hpp (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS); this
// header dispatches on the type and converts whole tensors or rows.
//
// Errors (format_error; the ids continue the GGUF reader's 2xx list, see io/gguf.hpp):
//   245  the type has no float32 conversion (integer types)
//   246  the element count is not a whole number of blocks
//   247  a tensor_ref's byte size does not match its shape and dtype
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/io/quant_blocks_32.hpp"
#include "xlens/io/quant_blocks_k.hpp"
#include "xlens/io/tensor_ref.hpp"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "xlens reads little-endian files by reinterpreting bytes; big-endian hosts are not supported");
#endif

namespace xlens::io {

/// Converts `elements` values of type `t` at `src` (byte_size(t, elements) bytes) to float32 at `dst`.
/// Bit-identical to gguf.quants.dequantize (F64: numpy's astype(float32)). Throws format_error 245, 246.
inline void dequantize(dtype t, const std::uint8_t* src, std::uint64_t elements, float* dst);

/// The tensor's values as float32, row-major in the tensor's shape. Throws format_error 245, 247.
inline std::vector<float> to_f32(const tensor_ref& r);

/// As to_f32(r), writing r.elements() floats to `dst`.
inline void to_f32(const tensor_ref& r, float* dst);

// ==== implementation ==============================================================================

namespace detail {

/// Runs a block decoder over `elements / block` consecutive blocks.
template <class Decode>
inline void dequant_blocks(const std::uint8_t* src, std::uint64_t elements, float* dst, dtype t,
                           Decode decode) {
    const auto tr = traits(t);
    const std::uint64_t blocks = elements / tr.block_elements;
    for (std::uint64_t i = 0; i < blocks; ++i) decode(src + i * tr.block_bytes, dst + i * tr.block_elements);
}

}  // namespace detail

inline void dequantize(dtype t, const std::uint8_t* src, std::uint64_t elements, float* dst) {
    if (!is_float_convertible(t))
        throw format_error(245, std::string("cannot convert ") + dtype_name(t) + " values to float32");
    const auto tr = traits(t);
    if (elements % tr.block_elements != 0)
        throw format_error(246, std::to_string(elements) + " " + tr.name + " values are not a whole number of " +
                                    std::to_string(tr.block_elements) + "-value blocks");
    switch (t) {
        case dtype::f32:
            if (elements != 0) std::memcpy(dst, src, elements * 4);
            return;
        case dtype::f16:
            for (std::uint64_t i = 0; i < elements; ++i) dst[i] = f16_to_f32(load_le<std::uint16_t>(src + 2 * i));
            return;
        case dtype::bf16:
            for (std::uint64_t i = 0; i < elements; ++i) dst[i] = bf16_to_f32(load_le<std::uint16_t>(src + 2 * i));
            return;
        case dtype::f64:  // round to nearest, as numpy's astype(float32)
            for (std::uint64_t i = 0; i < elements; ++i) dst[i] = static_cast<float>(load_le<double>(src + 8 * i));
            return;
        case dtype::q8_0: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q8_0);
        case dtype::q4_0: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q4_0);
        case dtype::q4_1: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q4_1);
        case dtype::q4_k: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q4_k);
        case dtype::q6_k: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q6_k);
        case dtype::q5_0: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q5_0);
        case dtype::q5_1: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q5_1);
        case dtype::q2_k: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q2_k);
        case dtype::q3_k: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q3_k);
        case dtype::q5_k: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_q5_k);
        case dtype::iq4_nl: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_iq4_nl);
        case dtype::iq4_xs: return detail::dequant_blocks(src, elements, dst, t, detail::dequant_block_iq4_xs);
        default: break;
    }
    throw format_error(245, std::string("cannot convert ") + dtype_name(t) + " values to float32");
}

namespace detail {

/// r's element count, once r is known to be convertible and its byte span to match its shape.
inline std::uint64_t checked_f32_elements(const tensor_ref& r) {
    if (!is_float_convertible(r.type))
        throw format_error(245, r.where() + ": cannot convert " + dtype_name(r.type) + " values to float32");
    const std::uint64_t n = r.elements();
    const std::uint64_t expected = byte_size(r.type, n, r.where());
    if (expected != r.nbytes)
        throw format_error(247, r.where() + ": holds " + std::to_string(r.nbytes) + " bytes, but " +
                                    std::to_string(n) + " " + dtype_name(r.type) + " values need " +
                                    std::to_string(expected));
    return n;
}

}  // namespace detail

inline void to_f32(const tensor_ref& r, float* dst) {
    dequantize(r.type, r.data, detail::checked_f32_elements(r), dst);
}

inline std::vector<float> to_f32(const tensor_ref& r) {
    const std::uint64_t n = detail::checked_f32_elements(r);  // before allocating what the header claims
    std::vector<float> out(static_cast<std::size_t>(n));
    dequantize(r.type, r.data, n, out.data());
    return out;
}

}  // namespace xlens::io
