// xlens/io/quant_blocks_32.hpp — the ggml block types of 32 values: one packed struct and one
// dequantise routine per type, each bit-identical to gguf.quants.dequantize (gguf-py).
//
//   type    bytes  layout                                   value of element e (0 ≤ e < 32)
//   Q4_0      18   d | qs[16]                               d · (nib(e) − 8)
//   Q4_1      20   d | m | qs[16]                           (d · nib(e)) + m
//   Q5_0      22   d | qh[4] | qs[16]                       d · ((nib(e) | bit(e) << 4) − 16)
//   Q5_1      24   d | m | qh[4] | qs[16]                   (d · (nib(e) | bit(e) << 4)) + m
//   Q8_0      34   d | qs[32] (int8)                        qs[e] · d
//   IQ4_NL    18   d | qs[16]                               d · kvalues[nib(e)]   (a non-linear 4-bit grid)
//
// d and m are f16. nib(e) is the low nibble of qs[e] for e < 16 and the high nibble of qs[e − 16]
// otherwise; bit(e) is bit e of the little-endian u32 qh. Blocks are copied out of the file with
// memcpy (a mapped GGUF guarantees no alignment beyond its `general.alignment`, which may be 1).
// See io/quants.hpp for why products are pinned with keep_rounded().
#pragma once

#include <cstdint>
#include <cstring>

#include "xlens/io/quant_rounding.hpp"
#include "xlens/io/tensor_ref.hpp"

namespace xlens::io::detail {

struct block_q4_0 {
    std::uint16_t d;       // f16 scale
    std::uint8_t qs[16];   // element j in the low nibble of qs[j], element j + 16 in its high nibble
};
struct block_q4_1 {
    std::uint16_t d, m;    // f16 scale and minimum
    std::uint8_t qs[16];
};
struct block_q5_0 {
    std::uint16_t d;
    std::uint8_t qh[4];    // fifth bits, bit e for element e
    std::uint8_t qs[16];
};
struct block_q5_1 {
    std::uint16_t d, m;
    std::uint8_t qh[4];
    std::uint8_t qs[16];
};
struct block_q8_0 {
    std::uint16_t d;
    std::int8_t qs[32];
};
struct block_iq4_nl {
    std::uint16_t d;
    std::uint8_t qs[16];   // nibble order as Q4_0, each an index into iq4_values
};
static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
                  sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_iq4_nl) == 18,
              "ggml block sizes");

/// The 16 levels of IQ4_NL and IQ4_XS (llama.cpp's kvalues_iq4nl).
inline constexpr std::int8_t iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};

template <class Block>
inline Block load_block(const std::uint8_t* src) {
    Block b;
    std::memcpy(&b, src, sizeof b);
    return b;
}

// The loops below run over the 16 bytes once for the low nibbles (elements 0-15) and once for the
// high ones (16-31): branch-free, so they vectorise.

inline void dequant_block_q4_0(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q4_0>(src);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) y[j] = d * static_cast<float>(static_cast<int>(b.qs[j] & 0x0F) - 8);
    for (int j = 0; j < 16; ++j) y[j + 16] = d * static_cast<float>(static_cast<int>(b.qs[j] >> 4) - 8);
}

inline void dequant_block_q4_1(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q4_1>(src);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    for (int j = 0; j < 16; ++j) y[j] = d * static_cast<float>(b.qs[j] & 0x0F);
    for (int j = 0; j < 16; ++j) y[j + 16] = d * static_cast<float>(b.qs[j] >> 4);
    keep_rounded(y, 32);
    for (int e = 0; e < 32; ++e) y[e] = y[e] + m;
}

inline void dequant_block_q5_0(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q5_0>(src);
    const float d = f16_to_f32(b.d);
    const std::uint32_t qh = load_le<std::uint32_t>(b.qh);
    for (int j = 0; j < 16; ++j) y[j] = d * static_cast<float>(static_cast<int>((b.qs[j] & 0x0F) | (((qh >> j) & 1u) << 4)) - 16);
    for (int j = 0; j < 16; ++j)
        y[j + 16] = d * static_cast<float>(static_cast<int>((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16);
}

inline void dequant_block_q5_1(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q5_1>(src);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    const std::uint32_t qh = load_le<std::uint32_t>(b.qh);
    for (int j = 0; j < 16; ++j) y[j] = d * static_cast<float>((b.qs[j] & 0x0F) | (((qh >> j) & 1u) << 4));
    for (int j = 0; j < 16; ++j) y[j + 16] = d * static_cast<float>((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
    keep_rounded(y, 32);
    for (int e = 0; e < 32; ++e) y[e] = y[e] + m;
}

inline void dequant_block_q8_0(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_q8_0>(src);
    const float d = f16_to_f32(b.d);
    for (int e = 0; e < 32; ++e) y[e] = static_cast<float>(b.qs[e]) * d;
}

inline void dequant_block_iq4_nl(const std::uint8_t* src, float* y) {
    const auto b = load_block<block_iq4_nl>(src);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) y[j] = d * static_cast<float>(iq4_values[b.qs[j] & 0x0F]);
    for (int j = 0; j < 16; ++j) y[j + 16] = d * static_cast<float>(iq4_values[b.qs[j] >> 4]);
}

}  // namespace xlens::io::detail
