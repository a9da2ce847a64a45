// xlens/blocks/quantized_kernels_avx2.hpp — AVX2 + FMA dot products of one stored weight row with
// up to four rows of x, for the types decode spends its time on (F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, IQ4_NL, Q4_K, Q5_K, Q6_K). Other types use the portable decode-then-dot kernel.
//
// Each block's quants are unpacked straight into registers as small integers (exact in float32),
// and a block's scale and minimum are applied once per block, not once per value:
//   Σ_e (d·q_e + m)·x_e = d·Σ q_e·x_e + m·Σ x_e,
// partial sums of every 256 values then added in float64 across the row: the same sum as over gguf-py's
// dequantised values up to float32 rounding within a block (checked against the
// dequantise-everything path in tests/test_quantized_matmul.cpp). Compiled with function target
// attributes, so the library needs no -mavx2 from its users; quantized_matmul.hpp picks these only
// where the processor has AVX2, FMA and F16C.
#pragma once

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "xlens/io/quant_blocks_32.hpp"
#include "xlens/io/quant_blocks_k.hpp"

#define XLENS_AVX2 __attribute__((target("avx2,fma,f16c"), always_inline)) inline

namespace xlens::blocks::avx2 {

XLENS_AVX2 float half(const std::uint8_t* p) {
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/// A row's running sum: each block's float32 partial sums (8 lanes) added in float64, so a long
/// row's sum is as exact as its blocks' (the dequantise-everything path sums in float32 throughout).
struct row_sum {
    __m256d low, high;
};
XLENS_AVX2 row_sum zero_sum() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
XLENS_AVX2 void add_partial(row_sum& s, __m256 p) {
    s.low = _mm256_add_pd(s.low, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
    s.high = _mm256_add_pd(s.high, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
}
XLENS_AVX2 float total(const row_sum& s) {
    const __m256d v = _mm256_add_pd(s.low, s.high);
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    t = _mm_add_sd(t, _mm_unpackhi_pd(t, t));
    return static_cast<float>(_mm_cvtsd_f64(t));
}

/// 8 bytes (zero-extended) as 8 floats.
XLENS_AVX2 __m256 u8_to_ps(__m128i b) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)); }
XLENS_AVX2 __m256 i8_to_ps(__m128i b) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)); }

/// The 32 4-bit values of 16 bytes in ggml's 32-block order (low nibbles 0-15, high 16-31) as bytes.
XLENS_AVX2 void nibbles32(const std::uint8_t* qs, __m128i& low, __m128i& high) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i mask = _mm_set1_epi8(0x0F);
    low = _mm_and_si128(b, mask);
    high = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
}

/// Four groups of 8 floats from 32 bytes held as two 16-byte halves.
XLENS_AVX2 void bytes32_to_ps(__m128i low, __m128i high, bool is_signed, __m256 q[4]) {
    if (is_signed) {
        q[0] = i8_to_ps(low), q[1] = i8_to_ps(_mm_srli_si128(low, 8));
        q[2] = i8_to_ps(high), q[3] = i8_to_ps(_mm_srli_si128(high, 8));
    } else {
        q[0] = u8_to_ps(low), q[1] = u8_to_ps(_mm_srli_si128(low, 8));
        q[2] = u8_to_ps(high), q[3] = u8_to_ps(_mm_srli_si128(high, 8));
    }
}

/// Bits e0 … e0 + 15 of a 32-bit mask as bytes holding 0 or 16 (the fifth bit of Q5 quants).
XLENS_AVX2 __m128i fifth_bits16(std::uint32_t qh, int e0) {
    const std::uint32_t bits = (qh >> e0) & 0xFFFFu;
    const __m128i spread = _mm_shuffle_epi8(_mm_set1_epi16(static_cast<short>(bits)),
                                            _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    const __m128i select = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(spread, select), select), _mm_set1_epi8(16));
}

/// Σ q[k] · x[8k … 8k+7] for 32 values.
XLENS_AVX2 __m256 dot32(const __m256 q[4], const float* x) {
    __m256 a = _mm256_mul_ps(q[0], _mm256_loadu_ps(x));
    __m256 b = _mm256_mul_ps(q[1], _mm256_loadu_ps(x + 8));
    a = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(x + 16), a);
    b = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(x + 24), b);
    return _mm256_add_ps(a, b);
}

XLENS_AVX2 __m256 sum32(const float* x) {
    return _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
                         _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
}

/// The quants of one 32-value block as floats, with the block's d and m (value = d·q + m).
struct q32 {
    __m256 q[4];
    float d, m;
    bool has_min;
};

XLENS_AVX2 q32 load_q4_0(const std::uint8_t* b) {
    q32 r;
    __m128i lo, hi;
    nibbles32(b + 2, lo, hi);
    const __m128i eight = _mm_set1_epi8(8);
    bytes32_to_ps(_mm_sub_epi8(lo, eight), _mm_sub_epi8(hi, eight), true, r.q);
    r.d = half(b), r.m = 0, r.has_min = false;
    return r;
}
XLENS_AVX2 q32 load_q4_1(const std::uint8_t* b) {
    q32 r;
    __m128i lo, hi;
    nibbles32(b + 4, lo, hi);
    bytes32_to_ps(lo, hi, false, r.q);
    r.d = half(b), r.m = half(b + 2), r.has_min = true;
    return r;
}
XLENS_AVX2 q32 load_q5_0(const std::uint8_t* b) {
    q32 r;
    std::uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    __m128i lo, hi;
    nibbles32(b + 6, lo, hi);
    const __m128i sixteen = _mm_set1_epi8(16);
    lo = _mm_sub_epi8(_mm_or_si128(lo, fifth_bits16(qh, 0)), sixteen);
    hi = _mm_sub_epi8(_mm_or_si128(hi, fifth_bits16(qh, 16)), sixteen);
    bytes32_to_ps(lo, hi, true, r.q);
    r.d = half(b), r.m = 0, r.has_min = false;
    return r;
}
XLENS_AVX2 q32 load_q5_1(const std::uint8_t* b) {
    q32 r;
    std::uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    __m128i lo, hi;
    nibbles32(b + 8, lo, hi);
    bytes32_to_ps(_mm_or_si128(lo, fifth_bits16(qh, 0)), _mm_or_si128(hi, fifth_bits16(qh, 16)), false, r.q);
    r.d = half(b), r.m = half(b + 2), r.has_min = true;
    return r;
}
XLENS_AVX2 q32 load_q8_0(const std::uint8_t* b) {
    q32 r;
    bytes32_to_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)),
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18)), true, r.q);
    r.d = half(b), r.m = 0, r.has_min = false;
    return r;
}
XLENS_AVX2 q32 load_iq4_nl(const std::uint8_t* b) {
    q32 r;
    __m128i lo, hi;
    nibbles32(b + 2, lo, hi);
    const __m128i levels = _mm_loadu_si128(reinterpret_cast<const __m128i*>(io::detail::iq4_values));
    bytes32_to_ps(_mm_shuffle_epi8(levels, lo), _mm_shuffle_epi8(levels, hi), true, r.q);
    r.d = half(b), r.m = 0, r.has_min = false;
    return r;
}

/// out[t · ldo] = row · x_t for a row of 32-value blocks of one type, T rows of x.
template <int T, q32 (*Load)(const std::uint8_t*), std::size_t Bytes>
__attribute__((target("avx2,fma,f16c"))) void dot_blocks32(const std::uint8_t* row, std::size_t n, const float* x,
                                                           std::size_t ldx, float* out, std::size_t ldo) {
    row_sum acc[T];
    __m256 part[T];  // eight blocks (256 values) summed in float32, then added in float64
    for (int t = 0; t < T; ++t) acc[t] = zero_sum(), part[t] = _mm256_setzero_ps();
    for (std::size_t b = 0, k = 0; k < n; ++b, k += 32) {
        const q32 blk = Load(row + b * Bytes);
        const __m256 d = _mm256_set1_ps(blk.d), m = _mm256_set1_ps(blk.m);
        const bool flush = (b % 8) == 7 || k + 32 == n;
        for (int t = 0; t < T; ++t) {
            const float* xt = x + static_cast<std::size_t>(t) * ldx + k;
            part[t] = _mm256_fmadd_ps(d, dot32(blk.q, xt), part[t]);
            if (blk.has_min) part[t] = _mm256_fmadd_ps(m, sum32(xt), part[t]);
            if (flush) {
                add_partial(acc[t], part[t]);
                part[t] = _mm256_setzero_ps();
            }
        }
    }
    for (int t = 0; t < T; ++t) out[static_cast<std::size_t>(t) * ldo] = total(acc[t]);
}

/// Q4_K / Q5_K: eight sub-blocks of 32 with 6-bit scales and mins; `five` adds Q5_K's fifth bits.
template <int T, bool Five>
__attribute__((target("avx2,fma,f16c"))) void dot_q45_k(const std::uint8_t* row, std::size_t n, const float* x,
                                                        std::size_t ldx, float* out, std::size_t ldo) {
    constexpr std::size_t bytes = Five ? 176 : 144;
    row_sum acc[T];
    for (int t = 0; t < T; ++t) acc[t] = zero_sum();
    for (std::size_t b = 0, k = 0; k < n; ++b, k += 256) {
        const std::uint8_t* blk = row + b * bytes;
        const float d = half(blk), dmin = half(blk + 2);
        unsigned sc[8], mn[8];
        io::detail::scale_min_k4(blk + 4, sc, mn);
        const std::uint8_t* qh = blk + 16;
        const std::uint8_t* qs = blk + (Five ? 48 : 16);
        for (int pair = 0; pair < 4; ++pair) {
            const __m256i bytes32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * pair));
            const __m256i mask = _mm256_set1_epi8(0x0F);
            __m256i lo = _mm256_and_si256(bytes32, mask);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes32, 4), mask);
            if (Five) {  // bit 2·pair (low) and 2·pair + 1 (high) of qh[j], as 16
                const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
                const __m256i lo_bit = _mm256_set1_epi8(static_cast<char>(1 << (2 * pair)));
                const __m256i hi_bit = _mm256_set1_epi8(static_cast<char>(1 << (2 * pair + 1)));
                const __m256i sixteen = _mm256_set1_epi8(16);
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, lo_bit), lo_bit), sixteen));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, hi_bit), hi_bit), sixteen));
            }
            __m256 ql[4], qhi[4];
            bytes32_to_ps(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1), false, ql);
            bytes32_to_ps(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1), false, qhi);
            const int s0 = 2 * pair, s1 = 2 * pair + 1;
            const __m256 scale0 = _mm256_set1_ps(d * static_cast<float>(sc[s0])), min0 = _mm256_set1_ps(dmin * static_cast<float>(mn[s0]));
            const __m256 scale1 = _mm256_set1_ps(d * static_cast<float>(sc[s1])), min1 = _mm256_set1_ps(dmin * static_cast<float>(mn[s1]));
            for (int t = 0; t < T; ++t) {
                const float* xt = x + static_cast<std::size_t>(t) * ldx + k + 64 * static_cast<std::size_t>(pair);
                __m256 p = _mm256_mul_ps(scale0, dot32(ql, xt));
                p = _mm256_fnmadd_ps(min0, sum32(xt), p);
                p = _mm256_fmadd_ps(scale1, dot32(qhi, xt + 32), p);
                p = _mm256_fnmadd_ps(min1, sum32(xt + 32), p);
                add_partial(acc[t], p);
            }
        }
    }
    for (int t = 0; t < T; ++t) out[static_cast<std::size_t>(t) * ldo] = total(acc[t]);
}

/// Q6_K: sixteen groups of 16 with int8 scales; quants 4 low bits | 2 high bits, minus 32.
template <int T>
__attribute__((target("avx2,fma,f16c"))) void dot_q6_k(const std::uint8_t* row, std::size_t n, const float* x,
                                                       std::size_t ldx, float* out, std::size_t ldo) {
    row_sum acc[T];
    for (int t = 0; t < T; ++t) acc[t] = zero_sum();
    for (std::size_t b = 0, k = 0; k < n; ++b, k += 256) {
        const std::uint8_t* blk = row + b * 210;
        const std::uint8_t* ql = blk;
        const std::uint8_t* qhb = blk + 128;
        const auto* sc = reinterpret_cast<const std::int8_t*>(blk + 192);
        const float d = half(blk + 208);
        __m256 part[T];
        for (int t = 0; t < T; ++t) part[t] = _mm256_setzero_ps();
        for (int h = 0; h < 2; ++h) {
            const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qhb + 32 * h));
            for (int quarter = 0; quarter < 4; ++quarter) {
                const __m256i low_bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h + 32 * (quarter % 2)));
                const __m256i lo = _mm256_and_si256(quarter < 2 ? low_bytes : _mm256_srli_epi16(low_bytes, 4), _mm256_set1_epi8(0x0F));
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(high, 2 * quarter), _mm256_set1_epi8(0x03));
                const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), _mm256_set1_epi8(32));
                __m256 v[4];
                bytes32_to_ps(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1), true, v);
                const int g = 8 * h + 2 * quarter;  // the two groups of 16 these 32 values belong to
                const __m256 s0 = _mm256_set1_ps(d * static_cast<float>(sc[g])), s1 = _mm256_set1_ps(d * static_cast<float>(sc[g + 1]));
                for (int t = 0; t < T; ++t) {
                    const float* xt = x + static_cast<std::size_t>(t) * ldx + k + 128 * static_cast<std::size_t>(h) + 32 * static_cast<std::size_t>(quarter);
                    const __m256 first = _mm256_fmadd_ps(v[1], _mm256_loadu_ps(xt + 8), _mm256_mul_ps(v[0], _mm256_loadu_ps(xt)));
                    const __m256 second = _mm256_fmadd_ps(v[3], _mm256_loadu_ps(xt + 24), _mm256_mul_ps(v[2], _mm256_loadu_ps(xt + 16)));
                    part[t] = _mm256_fmadd_ps(s1, second, _mm256_fmadd_ps(s0, first, part[t]));
                }
            }
        }
        for (int t = 0; t < T; ++t) add_partial(acc[t], part[t]);
    }
    for (int t = 0; t < T; ++t) out[static_cast<std::size_t>(t) * ldo] = total(acc[t]);
}

/// Plain types: F32 (read through a row order), F16 (F16C) and BF16, 8 values at a time (n % 8 == 0).
template <int T, int Kind>  // Kind 0 F32, 1 F16, 2 BF16
__attribute__((target("avx2,fma,f16c"))) void dot_plain(const std::uint8_t* row, std::size_t n, const float* x,
                                                        std::size_t ldx, float* out, std::size_t ldo) {
    row_sum acc[T];
    for (int t = 0; t < T; ++t) acc[t] = zero_sum();
    __m256 part[T];
    for (int t = 0; t < T; ++t) part[t] = _mm256_setzero_ps();
    for (std::size_t k = 0; k < n; k += 8) {
        __m256 w;
        if (Kind == 0) {
            w = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 4 * k)));  // unaligned bytes
        } else if (Kind == 1) {
            w = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
        } else {
            const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
            w = _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
        }
        for (int t = 0; t < T; ++t)
            part[t] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + static_cast<std::size_t>(t) * ldx + k), part[t]);
        if (k % 256 == 248 || k + 8 == n)  // every 256 values, into the float64 sum
            for (int t = 0; t < T; ++t) {
                add_partial(acc[t], part[t]);
                part[t] = _mm256_setzero_ps();
            }
    }
    for (int t = 0; t < T; ++t) out[static_cast<std::size_t>(t) * ldo] = total(acc[t]);
}

/// n F16 (Kind 1) or BF16 (Kind 2) values to float32 (n % 8 == 0), for the prefill tiles. F16C's
/// conversion is exact, as the portable one; only a signalling NaN may come out quieted.
template <int Kind>
__attribute__((target("avx2,fma,f16c"))) void halves_to_f32(const std::uint8_t* src, std::size_t n, float* dst) {
    for (std::size_t k = 0; k < n; k += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * k));
        const __m256 v = Kind == 1 ? _mm256_cvtph_ps(h) : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        _mm256_storeu_ps(dst + k, v);
    }
}

}  // namespace xlens::blocks::avx2

#undef XLENS_AVX2

#endif
