// xlens/io/quants.hpp — turning stored weights (plain floats or ggml blocks) into float32.
//
// The reference for every number here is the Python `gguf` package (gguf.quants.dequantize), which
// is what transformers uses when it loads a GGUF. xlens must reproduce it bit for bit, so the forward
// pass from a GGUF can be compared with the reference at tight tolerances. gguf-py computes in
// float32 numpy with one rounding per operation, and so must we:
//
//   type   block  bytes  value of element e of a block
//   Q8_0     32     34   q[e] * d                               (d: f16, q: int8)
//   Q4_0     32     18   d * (nibble(e) - 8)                    (low nibbles are e < 16, high ones e >= 16)
//   Q4_1     32     20   (d * nibble(e)) + m                    (d, m: f16)
//   Q4_K    256    144   (d*sc[s]) * nibble(e) - (dmin*mn[s])   (s = e / 32: eight 6-bit scale/min pairs)
//   Q6_K    256    210   (d*sc[e/16]) * (q6(e) - 32)            (sc: int8, q6 = 4 low bits | 2 high bits << 4)
//
// gguf-py rounds every product to float32 before it is used. For these types every intermediate
// product happens to be exact in float32 (an f16 scale has 11 significant bits; quants and sub-block
// scales at most 8), so only the last operation rounds, and a fused multiply-add or a reassociated
// product would give the same bits today. We do not rely on that: a compiler may fuse (-march=native
// with GCC's default -ffp-contract=fast, clang's `on`) or reassociate (d*sc)*q (-ffast-math), and a
// future block type may have wider scales. So detail::keep_rounded() forces intermediate products
// through memory, which no such transformation can see through, and every formula keeps gguf-py's
// order of operations whatever the operands.
//
// Errors (format_error; the ids continue the GGUF reader's 2xx list, see io/gguf.hpp):
//   245  the type has no float32 conversion (integer or unsupported types)
//   246  the element count is not a whole number of blocks
//   247  a tensor_ref's byte size does not match its shape and dtype
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "xlens/error.hpp"
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

/// Makes the compiler forget what it knows about dst[0..n): values computed before must be rounded
/// and stored as float32, and are reloaded after, so no FMA or reassociation can span the call.
inline void keep_rounded(float* dst, std::size_t n) {
#if defined(__GNUC__) || defined(__clang__)
    (void)n;
    // The pointer escapes into an empty asm that claims to touch memory: an optimisation barrier
    // that costs one store and one load per value and still lets the loops around it vectorise.
    asm volatile("" : : "r"(dst) : "memory");
#else
    volatile float* v = dst;  // other compilers: a volatile round trip has the same effect, slower
    for (std::size_t i = 0; i < n; ++i) v[i] = v[i];  // cppcheck-suppress selfAssignment ; the point
#endif
}

/// Q8_0 block [34 bytes] → 32 floats.
inline void dequant_block_q8_0(const std::uint8_t* b, float* y) {
    const float d = f16_to_f32(load_le<std::uint16_t>(b));
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<std::int8_t>(b[2 + j])) * d;
}

/// Q4_0 block [18 bytes] → 32 floats.
inline void dequant_block_q4_0(const std::uint8_t* b, float* y) {
    const float d = f16_to_f32(load_le<std::uint16_t>(b));
    const std::uint8_t* qs = b + 2;  // [16]: element j in the low nibble, element j + 16 in the high one
    for (int j = 0; j < 16; ++j) {
        y[j] = d * static_cast<float>(static_cast<int>(qs[j] & 0x0F) - 8);
        y[j + 16] = d * static_cast<float>(static_cast<int>(qs[j] >> 4) - 8);
    }
}

/// Q4_1 block [20 bytes] → 32 floats.
inline void dequant_block_q4_1(const std::uint8_t* b, float* y) {
    const float d = f16_to_f32(load_le<std::uint16_t>(b));
    const float m = f16_to_f32(load_le<std::uint16_t>(b + 2));
    const std::uint8_t* qs = b + 4;  // [16], nibble order as Q4_0
    for (int j = 0; j < 16; ++j) {
        y[j] = d * static_cast<float>(qs[j] & 0x0F);
        y[j + 16] = d * static_cast<float>(qs[j] >> 4);
    }
    keep_rounded(y, 32);
    for (int j = 0; j < 32; ++j) y[j] = y[j] + m;
}

/// Q4_K block [144 bytes] → 256 floats, in 8 sub-blocks of 32 with their own scale and min.
inline void dequant_block_q4_k(const std::uint8_t* b, float* y) {
    const float d = f16_to_f32(load_le<std::uint16_t>(b));
    const float dmin = f16_to_f32(load_le<std::uint16_t>(b + 2));
    const std::uint8_t* s = b + 4;  // [12]: 8 six-bit scales and 8 six-bit mins
    const std::uint8_t* qs = b + 16;  // [128]
    // Sub-blocks 0-3 keep their scale and min in the low 6 bits of bytes 0-3 and 4-7; sub-blocks 4-7
    // take their low 4 bits from bytes 8-11 (scale low nibble, min high nibble) and their top 2 bits
    // from the spare top bits of bytes 0-3 (scale) and 4-7 (min).
    float scale[8], offset[8];
    for (int j = 0; j < 4; ++j) {
        const unsigned sc_lo = s[j] & 0x3Fu, mn_lo = s[j + 4] & 0x3Fu;
        const unsigned sc_hi = (s[j + 8] & 0x0Fu) | ((s[j] >> 2) & 0x30u);
        const unsigned mn_hi = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30u);
        scale[j] = d * static_cast<float>(sc_lo);
        scale[j + 4] = d * static_cast<float>(sc_hi);
        offset[j] = dmin * static_cast<float>(mn_lo);
        offset[j + 4] = dmin * static_cast<float>(mn_hi);
    }
    keep_rounded(scale, 8);
    keep_rounded(offset, 8);
    // Each 32 bytes of qs feed two sub-blocks: low nibbles the even one, high nibbles the odd one.
    for (int k = 0; k < 4; ++k) {
        const std::uint8_t* q = qs + 32 * k;
        float* lo = y + 64 * k;
        float* hi = lo + 32;
        for (int j = 0; j < 32; ++j) {
            lo[j] = scale[2 * k] * static_cast<float>(q[j] & 0x0F);
            hi[j] = scale[2 * k + 1] * static_cast<float>(q[j] >> 4);
        }
    }
    keep_rounded(y, 256);
    for (int e = 0; e < 256; ++e) y[e] = y[e] - offset[e / 32];
}

/// Q6_K block [210 bytes] → 256 floats, in 16 groups of 16 sharing an int8 scale.
inline void dequant_block_q6_k(const std::uint8_t* b, float* y) {
    const std::uint8_t* ql = b;         // [128] low 4 bits
    const std::uint8_t* qh = b + 128;   // [64]  high 2 bits
    const std::uint8_t* sc = b + 192;   // [16]  int8 scales
    const float d = f16_to_f32(load_le<std::uint16_t>(b + 208));
    float scale[16];
    for (int i = 0; i < 16; ++i) scale[i] = d * static_cast<float>(static_cast<std::int8_t>(sc[i]));
    keep_rounded(scale, 16);
    // Each half of the block (128 values) uses 64 ql bytes and 32 qh bytes. Within a half, quarter t
    // (32 values) takes nibble t/2 of ql bytes 32*(t%2)..+32, and bit pair t of the 32 qh bytes.
    for (int h = 0; h < 2; ++h) {
        for (int t = 0; t < 4; ++t) {
            const std::uint8_t* l = ql + 64 * h + 32 * (t % 2);
            const std::uint8_t* hb = qh + 32 * h;
            const int base = 128 * h + 32 * t;
            for (int j = 0; j < 32; ++j) {
                const int lo = (l[j] >> (4 * (t / 2))) & 0x0F;
                const int hi = (hb[j] >> (2 * t)) & 0x03;
                const int q = (lo | (hi << 4)) - 32;
                y[base + j] = scale[(base + j) / 16] * static_cast<float>(q);
            }
        }
    }
}

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
