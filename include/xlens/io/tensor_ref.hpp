// xlens/io/tensor_ref.hpp — what every weight reader hands out: a named, typed span of mapped bytes.
//
// safetensors and GGUF describe tensors differently (GGUF lists dimensions innermost first); both
// readers translate to this one description, with the shape row-major, outermost dimension first,
// exactly as PyTorch and NumPy would report it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "xlens/error.hpp"

namespace xlens::io {

/// Element types of the formats xlens reads. Block-quantised GGUF types pack `block_elements`
/// values into `block_bytes` bytes; plain types have block_elements == 1.
enum class dtype : std::uint8_t {
    f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean,
    q4_0, q4_1, q8_0, q4_k, q6_k,
    // appended, so the numbers of the types above (and the dtype names a database records) stay put
    q5_0, q5_1, q2_k, q3_k, q5_k, iq4_nl, iq4_xs,
    last = iq4_xs,  // for loops over every dtype
};

struct dtype_traits {
    const char* name;            // as safetensors spells it ("F32"), or as GGUF does ("Q4_1")
    std::uint32_t block_elements;
    std::uint32_t block_bytes;
};

inline dtype_traits traits(dtype t) {
    switch (t) {
        case dtype::f64: return {"F64", 1, 8};
        case dtype::f32: return {"F32", 1, 4};
        case dtype::f16: return {"F16", 1, 2};
        case dtype::bf16: return {"BF16", 1, 2};
        case dtype::i64: return {"I64", 1, 8};
        case dtype::i32: return {"I32", 1, 4};
        case dtype::i16: return {"I16", 1, 2};
        case dtype::i8: return {"I8", 1, 1};
        case dtype::u8: return {"U8", 1, 1};
        case dtype::boolean: return {"BOOL", 1, 1};
        case dtype::q4_0: return {"Q4_0", 32, 18};     // f16 scale + 16 bytes of nibbles
        case dtype::q4_1: return {"Q4_1", 32, 20};     // f16 scale, f16 min + 16 bytes of nibbles
        case dtype::q8_0: return {"Q8_0", 32, 34};     // f16 scale + 32 int8
        case dtype::q4_k: return {"Q4_K", 256, 144};   // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
        case dtype::q6_k: return {"Q6_K", 256, 210};   // 128 low nibbles, 64 high 2-bit, 16 int8 scales, f16 d
        case dtype::q5_0: return {"Q5_0", 32, 22};     // f16 scale, 32 fifth bits, 16 bytes of nibbles
        case dtype::q5_1: return {"Q5_1", 32, 24};     // f16 scale, f16 min, 32 fifth bits, nibbles
        case dtype::q2_k: return {"Q2_K", 256, 84};    // 16 scale/min bytes, 64 bytes of 2-bit quants, f16 d, dmin
        case dtype::q3_k: return {"Q3_K", 256, 110};   // 32 bytes high-bit mask, 64 of 2-bit quants, 12 of scales, f16 d
        case dtype::q5_k: return {"Q5_K", 256, 176};   // as Q4_K plus 32 bytes of fifth bits
        case dtype::iq4_nl: return {"IQ4_NL", 32, 18}; // f16 scale + 16 bytes of indices into a 16-level grid
        case dtype::iq4_xs: return {"IQ4_XS", 256, 136}; // f16 d, 8 six-bit scales, 128 bytes of grid indices
    }
    return {"?", 1, 1};
}

inline const char* dtype_name(dtype t) { return traits(t).name; }

/// Whether values of this type can be turned into float32 by xlens (see io/quants.hpp).
inline bool is_float_convertible(dtype t) {
    switch (t) {
        case dtype::i64: case dtype::i32: case dtype::i16: case dtype::i8: case dtype::u8: case dtype::boolean:
            return false;
        default: return true;
    }
}

/// One tensor inside a mapped file. Non-owning: valid while the reader that produced it lives.
struct tensor_ref {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::uint64_t> shape;   // row-major, outermost first
    const std::uint8_t* data = nullptr; // first byte, inside the mapping
    std::uint64_t nbytes = 0;
    const std::string* file = nullptr;  // path of the file it lives in, for error messages

    std::uint64_t elements() const {
        std::uint64_t n = 1;
        for (auto d : shape) n *= d;  // readers have checked this product does not overflow
        return n;
    }
    /// "'model.layers.0.mlp.up_proj.weight' in 'model.safetensors'" — used in error messages.
    std::string where() const { return "tensor '" + name + "' in '" + (file ? *file : std::string("?")) + "'"; }
};

/// Bytes that `elements` values of `t` occupy; throws if the count is not a whole number of blocks.
inline std::uint64_t byte_size(dtype t, std::uint64_t elements, const std::string& what) {
    auto tr = traits(t);
    if (elements % tr.block_elements != 0)
        throw format_error(202, what + ": " + std::to_string(elements) + " elements is not a multiple of the " +
                                    tr.name + " block size " + std::to_string(tr.block_elements));
    return xlens::detail::checked_mul(elements / tr.block_elements, tr.block_bytes, what);
}

// ---- half-precision conversions (exact: every f16 and bf16 value is representable in f32) -----------

inline float bf16_to_f32(std::uint16_t h) {
    std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline float f16_to_f32(std::uint16_t h) {
    std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1fu;
    std::uint32_t mantissa = h & 0x3ffu;
    std::uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exponent = 127 - 15 + 1;
            while ((mantissa & 0x400u) == 0) {
                mantissa <<= 1;
                --exponent;
            }
            mantissa &= 0x3ffu;
            bits = sign | (exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

/// Reads a little-endian value of type T from unaligned memory.
template <class T>
inline T load_le(const std::uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;  // xlens targets little-endian hosts (static_assert in io/quants.hpp)
}

}  // namespace xlens::io
