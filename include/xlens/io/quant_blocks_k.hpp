// xlens/io/quant_blocks_k.hpp — the ggml "K" block types of 256 values (and IQ4_XS, laid out the
// same way): one packed struct and one dequantise routine per type, each bit-identical to
// gguf.quants.dequantize (gguf-py). A block is split into sub-blocks that share a scale (and for
// the "_K with min" types a minimum), both quantised against the block's f16 d (and dmin):
//
//   type    bytes  sub-blocks         value of element e
//   Q2_K      84   16 × 16, 4+4 bits  (d·sc[s]) · q2(e) − (dmin·mn[s])          s = e / 16
//   Q3_K     110   16 × 16, 6 bits    (d·(sc[s] − 32)) · (q2(e) − 4·!hbit(e))
//   Q4_K     144    8 × 32, 6+6 bits  (d·sc[s]) · q4(e) − (dmin·mn[s])          s = e / 32
//   Q5_K     176    8 × 32, 6+6 bits  (d·sc[s]) · (q4(e) | hbit(e) << 4) − (dmin·mn[s])
//   Q6_K     210   16 × 16, int8      (d·sc[s]) · (q6(e) − 32)
//   IQ4_XS   136    8 × 32, 6 bits    (d·(sc[s] − 32)) · kvalues[q4(e)]
//
// Parenthesised products are rounded to float32 before the next operation, as numpy does.
#pragma once

#include <cstdint>

#include "xlens/io/quant_blocks_32.hpp"
#include "xlens/io/quant_rounding.hpp"
#include "xlens/io/tensor_ref.hpp"

namespace xlens::io::detail {

struct block_q2_k {
    std::uint8_t scales[16];  // per sub-block: scale in the low nibble, min in the high one
    std::uint8_t qs[64];      // 2-bit quants, four per byte
    std::uint16_t d, dmin;
};
struct block_q3_k {
    std::uint8_t hmask[32];   // the third bit of each quant, inverted (a set bit means "no -4")
    std::uint8_t qs[64];      // low 2 bits
    std::uint8_t scales[12];  // 16 six-bit scales, biased by 32
    std::uint16_t d;
};
struct block_q4_k {
    std::uint16_t d, dmin;
    std::uint8_t scales[12];  // 8 six-bit scales and 8 six-bit mins (see scale_min_k4)
    std::uint8_t qs[128];
};
struct block_q5_k {
    std::uint16_t d, dmin;
    std::uint8_t scales[12];  // as Q4_K
    std::uint8_t qh[32];      // fifth bits: bit i of qh[j] for element 32·i + j
    std::uint8_t qs[128];
};
struct block_q6_k {
    std::uint8_t ql[128];     // low 4 bits
    std::uint8_t qh[64];      // high 2 bits
    std::int8_t scales[16];
    std::uint16_t d;
};
struct block_iq4_xs {
    std::uint16_t d;
    std::uint16_t scales_h;   // top 2 bits of the 8 scales
    std::uint8_t scales_l[4]; // low 4 bits of the 8 scales
    std::uint8_t qs[128];     // 16 bytes per sub-block: low nibbles elements 0-15, high 16-31
};
static_assert(sizeof(block_q2_k) == 84 && sizeof(block_q3_k) == 110 && sizeof(block_q4_k) == 144 &&
                  sizeof(block_q5_k) == 176 && sizeof(block_q6_k) == 210 && sizeof(block_iq4_xs) == 136,
              "ggml K block sizes");

/// Q4_K/Q5_K's 12 bytes of packed scales and mins: sub-blocks 0-3 keep theirs in the low 6 bits of
/// bytes 0-3 and 4-7; sub-blocks 4-7 take their low 4 bits from bytes 8-11 (scale low nibble, min
/// high nibble) and their top 2 bits from the spare top bits of bytes 0-3 (scale) and 4-7 (min).
inline void scale_min_k4(const std::uint8_t* s, unsigned sc[8], unsigned mn[8]) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = s[j] & 0x3Fu;
        mn[j] = s[j + 4] & 0x3Fu;
        sc[j + 4] = (s[j + 8] & 0x0Fu) | ((s[j] >> 2) & 0x30u);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30u);
    }
}

/// Q4_K/Q5_K's eight sub-block scales d·sc[s] and offsets dmin·mn[s], each product rounded to float32.
inline void k4_scales(std::uint16_t d_bits, std::uint16_t dmin_bits, const std::uint8_t* packed, float scale[8], float offset[8]) {
    const float d = f16_to_f32(d_bits), dmin = f16_to_f32(dmin_bits);
    unsigned sc[8], mn[8];
    scale_min_k4(packed, sc, mn);
    for (int s = 0; s < 8; ++s) {
        scale[s] = d * static_cast<float>(sc[s]);
        offset[s] = dmin * static_cast<float>(mn[s]);
    }
    keep_rounded(scale, 8);
    keep_rounded(offset, 8);
}

/// (scale[s] · q) − offset[s] over 256 values in sub-blocks of `sub`, the products rounded first;
/// q already written to y as floats.
inline void scale_then_offset(float* y, const float* scale, const float* offset, int sub) {
    for (int e = 0; e < 256; ++e) y[e] = scale[e / sub] * y[e];
    keep_rounded(y, 256);
    for (int e = 0; e < 256; ++e) y[e] = y[e] - offset[e / sub];
}

// Quants are unpacked in the order the bytes hold them: a 256-value block keeps 128 values per
// 32 (2-bit) or 64 (4-bit) bytes, the shifts walking the bit positions; element e = 128·half +
// 32·shift + j for 2-bit quants, 64·pair + 32·nibble + j for 4-bit ones.

inline void dequant_block_q2_k(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q2_k>(src);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    float scale[16], offset[16];
    for (int s = 0; s < 16; ++s) {
        scale[s] = d * static_cast<float>(b.scales[s] & 0x0F);
        offset[s] = dmin * static_cast<float>(b.scales[s] >> 4);
    }
    keep_rounded(scale, 16);
    keep_rounded(offset, 16);
    for (int half = 0; half < 2; ++half)
        for (int shift = 0; shift < 4; ++shift)
            for (int j = 0; j < 32; ++j) y[128 * half + 32 * shift + j] = static_cast<float>((b.qs[32 * half + j] >> (2 * shift)) & 3);
    scale_then_offset(y, scale, offset, 16);
}

inline void dequant_block_q3_k(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q3_k>(src);
    const float d = f16_to_f32(b.d);
    float scale[16];
    for (int s = 0; s < 16; ++s) {  // low 4 bits from bytes 0-7 (nibble s / 8), top 2 from bytes 8-11
        const int low = (b.scales[s % 8] >> (4 * (s / 8))) & 0x0F;
        const int high = (b.scales[8 + s % 4] >> (2 * (s / 4))) & 0x03;
        scale[s] = d * static_cast<float>((low | (high << 4)) - 32);
    }
    keep_rounded(scale, 16);
    for (int half = 0; half < 2; ++half)
        for (int shift = 0; shift < 4; ++shift)
            for (int j = 0; j < 32; ++j) {
                const int e = 128 * half + 32 * shift + j, bit = e / 32;  // hmask: bit e / 32 of byte e % 32
                const int q = ((b.qs[32 * half + j] >> (2 * shift)) & 3) - (((b.hmask[j] >> bit) & 1) ? 0 : 4);
                y[e] = scale[e / 16] * static_cast<float>(q);
            }
}

inline void dequant_block_q4_k(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q4_k>(src);
    float scale[8], offset[8];
    k4_scales(b.d, b.dmin, b.scales, scale, offset);
    for (int pair = 0; pair < 4; ++pair)
        for (int j = 0; j < 32; ++j) {
            y[64 * pair + j] = static_cast<float>(b.qs[32 * pair + j] & 0x0F);
            y[64 * pair + 32 + j] = static_cast<float>(b.qs[32 * pair + j] >> 4);
        }
    scale_then_offset(y, scale, offset, 32);
}

inline void dequant_block_q5_k(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q5_k>(src);
    float scale[8], offset[8];
    k4_scales(b.d, b.dmin, b.scales, scale, offset);
    for (int pair = 0; pair < 4; ++pair)  // fifth bit of element 32·sub + j: bit sub of qh[j]
        for (int j = 0; j < 32; ++j) {
            y[64 * pair + j] = static_cast<float>((b.qs[32 * pair + j] & 0x0F) | (((b.qh[j] >> (2 * pair)) & 1) << 4));
            y[64 * pair + 32 + j] = static_cast<float>((b.qs[32 * pair + j] >> 4) | (((b.qh[j] >> (2 * pair + 1)) & 1) << 4));
        }
    scale_then_offset(y, scale, offset, 32);
}

inline void dequant_block_q6_k(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q6_k>(src);
    const float d = f16_to_f32(b.d);
    float scale[16];
    for (int s = 0; s < 16; ++s) scale[s] = d * static_cast<float>(b.scales[s]);
    keep_rounded(scale, 16);
    // Each half of the block (128 values) uses 64 ql bytes and 32 qh bytes. Within a half, quarter t
    // (32 values) takes nibble t/2 of ql bytes 32·(t%2) … +32, and bit pair t of the 32 qh bytes.
    for (int h = 0; h < 2; ++h)
        for (int t = 0; t < 4; ++t)
            for (int j = 0; j < 32; ++j) {
                const int lo = (b.ql[64 * h + 32 * (t % 2) + j] >> (4 * (t / 2))) & 0x0F;
                const int hi = (b.qh[32 * h + j] >> (2 * t)) & 0x03;
                const int e = 128 * h + 32 * t + j;
                y[e] = scale[e / 16] * static_cast<float>((lo | (hi << 4)) - 32);
            }
}

inline void dequant_block_iq4_xs(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_iq4_xs>(src);
    const float d = f16_to_f32(b.d);
    float scale[8];
    for (int s = 0; s < 8; ++s) {
        const int low = (b.scales_l[s / 2] >> (4 * (s % 2))) & 0x0F;
        const int high = (b.scales_h >> (2 * s)) & 0x03;
        scale[s] = d * static_cast<float>((low | (high << 4)) - 32);
    }
    keep_rounded(scale, 8);
    for (int s = 0; s < 8; ++s)
        for (int j = 0; j < 16; ++j) {
            y[32 * s + j] = scale[s] * static_cast<float>(iq4_values[b.qs[16 * s + j] & 0x0F]);
            y[32 * s + 16 + j] = scale[s] * static_cast<float>(iq4_values[b.qs[16 * s + j] >> 4]);
        }
}

}  // namespace xlens::io::detail
