// xlens/blocks/quantized_matmul.hpp — y = x Wᵀ for a W kept in its stored type (F16, BF16, F32
// read through a row order, or any ggml block type), dequantised on the fly in float32.
//
// Two regimes, as in llama.cpp:
//   - a few rows of x (decode, a patched run resumed near the end): memory-bound, so each weight row
//     is read once, block by block, each block dequantised into registers/L1 and dotted with every
//     row of x at once (fused dequantise-and-dot); rows of W are spread over the kernel threads.
//   - many rows (prefill): compute-bound, so tiles of W are dequantised into a cache-sized float32
//     buffer and multiplied by sgemm, which is far faster at that than any loop here.
// Every weight value is exactly gguf-py's dequantised value; only the order of the float32 sums
// differs from the dequantise-everything path (see docs/correctness.md for the measured deviation).
//
// The per-type block layouts and decoders live in io/quant_blocks_32.hpp and io/quant_blocks_k.hpp;
// this file only knows "decode a block of B values", so it never branches on a type's layout. The
// fused kernel is compiled twice, plainly and for AVX2+FMA (GCC/Clang function targets), and the
// AVX2 one is chosen at run time where the processor has it: the library is header-only and cannot
// rely on its users building with -march=native.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "xlens/blocks/parallel.hpp"
#include "xlens/blocks/quantized_kernels_avx2.hpp"
#include "xlens/io/quants.hpp"
#include "xlens/model/weights.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define XLENS_X86_DISPATCH 1
#define XLENS_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define XLENS_X86_DISPATCH 0
#define XLENS_TARGET_AVX2
#endif
#if defined(__GNUC__) || defined(__clang__)
#define XLENS_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define XLENS_ALWAYS_INLINE inline
#endif

namespace xlens::blocks {

/// Rows of x one pass of the fused dequantise-and-dot kernel serves.
inline constexpr std::size_t fused_rows = 4;
/// Rows of x up to which a matmul runs the fused kernel (in passes of fused_rows) rather than
/// dequantised tiles + sgemm: below it, dequantising every weight costs more than the extra passes.
inline constexpr std::size_t fused_rows_max = 16;

namespace detail {

/// Decodes one block (or, for plain types, a run of `block` values) into float32.
using block_decoder = void (*)(const std::uint8_t*, float*);

/// Plain element types, decoded 32 values at a time like a block type.
inline void decode_run_f32(const std::uint8_t* src, float* y) { std::memcpy(y, src, 32 * sizeof(float)); }
inline void decode_run_f16(const std::uint8_t* src, float* y) {
    for (int e = 0; e < 32; ++e) y[e] = io::f16_to_f32(io::load_le<std::uint16_t>(src + 2 * e));
}
inline void decode_run_bf16(const std::uint8_t* src, float* y) {
    for (int e = 0; e < 32; ++e) y[e] = io::bf16_to_f32(io::load_le<std::uint16_t>(src + 2 * e));
}

/// Values one kernel step decodes for `t`: a block, or for plain types a run of 32 values.
inline std::size_t run_values(io::dtype t) {
    const auto tr = io::traits(t);
    return tr.block_elements > 1 ? tr.block_elements : 32;
}

/// out[t · ldo] = Σ_k W[k] · x[t · ldx + k] for t < T ≤ fused_rows, W one stored row of n values
/// (a whole number of runs). Sixteen partial sums per row of x, so they stay in vector registers.
template <block_decoder Decode, std::size_t Values, std::size_t Bytes>
XLENS_ALWAYS_INLINE void fused_dot_fixed(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx,
                                         std::size_t T, float* out, std::size_t ldo) {
    alignas(64) float w[Values];
    float acc[fused_rows][16] = {};
    const std::size_t runs = n / Values;
    for (std::size_t b = 0; b < runs; ++b) {
        Decode(row + b * Bytes, w);
        for (std::size_t t = 0; t < T; ++t) {
            const float* xt = x + t * ldx + b * Values;
            for (std::size_t j = 0; j < Values; j += 16)
                for (std::size_t l = 0; l < 16; ++l) acc[t][l] += w[j + l] * xt[j + l];
        }
    }
    for (std::size_t t = 0; t < T; ++t) {
        float s = 0.0f;
        for (std::size_t l = 0; l < 16; ++l) s += acc[t][l];
        out[t * ldo] = s;
    }
}

/// The fused kernel for one type, instantiated with its decoder inlined (the decoder's loops then
/// vectorise together with the dot product).
template <block_decoder Decode, std::size_t Values, std::size_t Bytes>
struct fused_kernel {
    static void plain(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx, std::size_t T, float* out,
                      std::size_t ldo) {
        fused_dot_fixed<Decode, Values, Bytes>(row, n, x, ldx, T, out, ldo);
    }
#if XLENS_X86_DISPATCH
    XLENS_TARGET_AVX2 static void avx2(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx,
                                       std::size_t T, float* out, std::size_t ldo) {
        fused_dot_fixed<Decode, Values, Bytes>(row, n, x, ldx, T, out, ldo);
    }
#endif
};

using fused_fn = void (*)(const std::uint8_t*, std::size_t, const float*, std::size_t, std::size_t, float*, std::size_t);

inline bool cpu_has_avx2() {
#if XLENS_X86_DISPATCH
    // Every processor with AVX2 and FMA has F16C (Intel since Ivy Bridge, AMD since Piledriver);
    // Clang 14's __builtin_cpu_supports does not know the name "f16c", so it is not asked.
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
#else
    return false;
#endif
}

#if XLENS_X86_DISPATCH
/// One AVX2 kernel, its row count T (1 … fused_rows) chosen at run time.
#define XLENS_AVX2_BY_ROWS(name, ...)                                                                        \
    struct name {                                                                                          \
        static void run(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx, std::size_t T, \
                        float* out, std::size_t ldo) {                                                     \
            switch (T) {                                                                                   \
                case 1: return avx2::__VA_ARGS__<1>(row, n, x, ldx, out, ldo);                             \
                case 2: return avx2::__VA_ARGS__<2>(row, n, x, ldx, out, ldo);                             \
                case 3: return avx2::__VA_ARGS__<3>(row, n, x, ldx, out, ldo);                             \
                default: return avx2::__VA_ARGS__<4>(row, n, x, ldx, out, ldo);                            \
            }                                                                                              \
        }                                                                                                  \
    }
template <avx2::q32 (*Load)(const std::uint8_t*), std::size_t Bytes>
struct avx2_blocks32 {
    static void run(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx, std::size_t T, float* out,
                    std::size_t ldo) {
        switch (T) {
            case 1: return avx2::dot_blocks32<1, Load, Bytes>(row, n, x, ldx, out, ldo);
            case 2: return avx2::dot_blocks32<2, Load, Bytes>(row, n, x, ldx, out, ldo);
            case 3: return avx2::dot_blocks32<3, Load, Bytes>(row, n, x, ldx, out, ldo);
            default: return avx2::dot_blocks32<4, Load, Bytes>(row, n, x, ldx, out, ldo);
        }
    }
};
template <int Kind>
struct avx2_plain {
    static void run(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx, std::size_t T, float* out,
                    std::size_t ldo) {
        switch (T) {
            case 1: return avx2::dot_plain<1, Kind>(row, n, x, ldx, out, ldo);
            case 2: return avx2::dot_plain<2, Kind>(row, n, x, ldx, out, ldo);
            case 3: return avx2::dot_plain<3, Kind>(row, n, x, ldx, out, ldo);
            default: return avx2::dot_plain<4, Kind>(row, n, x, ldx, out, ldo);
        }
    }
};
template <bool Five>
struct avx2_q45_k {
    static void run(const std::uint8_t* row, std::size_t n, const float* x, std::size_t ldx, std::size_t T, float* out,
                    std::size_t ldo) {
        switch (T) {
            case 1: return avx2::dot_q45_k<1, Five>(row, n, x, ldx, out, ldo);
            case 2: return avx2::dot_q45_k<2, Five>(row, n, x, ldx, out, ldo);
            case 3: return avx2::dot_q45_k<3, Five>(row, n, x, ldx, out, ldo);
            default: return avx2::dot_q45_k<4, Five>(row, n, x, ldx, out, ldo);
        }
    }
};
XLENS_AVX2_BY_ROWS(avx2_q6_k, dot_q6_k);
#undef XLENS_AVX2_BY_ROWS

/// The hand-written AVX2 kernel for `t`, or null where only the portable one exists.
inline fused_fn avx2_kernel_for(io::dtype t) {
    using io::dtype;
    switch (t) {
        case dtype::f32: return avx2_plain<0>::run;
        case dtype::f16: return avx2_plain<1>::run;
        case dtype::bf16: return avx2_plain<2>::run;
        case dtype::q4_0: return avx2_blocks32<avx2::load_q4_0, 18>::run;
        case dtype::q4_1: return avx2_blocks32<avx2::load_q4_1, 20>::run;
        case dtype::q5_0: return avx2_blocks32<avx2::load_q5_0, 22>::run;
        case dtype::q5_1: return avx2_blocks32<avx2::load_q5_1, 24>::run;
        case dtype::q8_0: return avx2_blocks32<avx2::load_q8_0, 34>::run;
        case dtype::iq4_nl: return avx2_blocks32<avx2::load_iq4_nl, 18>::run;
        case dtype::q4_k: return avx2_q45_k<false>::run;
        case dtype::q5_k: return avx2_q45_k<true>::run;
        case dtype::q6_k: return avx2_q6_k::run;
        default: return nullptr;
    }
}
#endif

/// The fused kernel for `t`, for this processor: a hand-written AVX2 one where there is one, else
/// the decode-then-dot kernel (itself compiled for AVX2 where the processor has it).
inline fused_fn fused_kernel_for(io::dtype t) {
    using io::dtype;
    namespace q = io::detail;
#if XLENS_X86_DISPATCH
    if (cpu_has_avx2())
        if (fused_fn k = avx2_kernel_for(t)) return k;
#define XLENS_PICK(D, V, B) return cpu_has_avx2() ? fused_kernel<D, V, B>::avx2 : fused_kernel<D, V, B>::plain
#else
#define XLENS_PICK(D, V, B) return fused_kernel<D, V, B>::plain
#endif
    switch (t) {
        case dtype::f32: XLENS_PICK(decode_run_f32, 32, 128);
        case dtype::f16: XLENS_PICK(decode_run_f16, 32, 64);
        case dtype::bf16: XLENS_PICK(decode_run_bf16, 32, 64);
        case dtype::q4_0: XLENS_PICK(q::dequant_block_q4_0, 32, 18);
        case dtype::q4_1: XLENS_PICK(q::dequant_block_q4_1, 32, 20);
        case dtype::q5_0: XLENS_PICK(q::dequant_block_q5_0, 32, 22);
        case dtype::q5_1: XLENS_PICK(q::dequant_block_q5_1, 32, 24);
        case dtype::q8_0: XLENS_PICK(q::dequant_block_q8_0, 32, 34);
        case dtype::iq4_nl: XLENS_PICK(q::dequant_block_iq4_nl, 32, 18);
        case dtype::q2_k: XLENS_PICK(q::dequant_block_q2_k, 256, 84);
        case dtype::q3_k: XLENS_PICK(q::dequant_block_q3_k, 256, 110);
        case dtype::q4_k: XLENS_PICK(q::dequant_block_q4_k, 256, 144);
        case dtype::q5_k: XLENS_PICK(q::dequant_block_q5_k, 256, 176);
        case dtype::q6_k: XLENS_PICK(q::dequant_block_q6_k, 256, 210);
        case dtype::iq4_xs: XLENS_PICK(q::dequant_block_iq4_xs, 256, 136);
        default: return nullptr;
    }
#undef XLENS_PICK
}

/// A stored row's dot products with T rows of x, tails of plain types (rows not a multiple of 32) included.
inline void dot_stored_row(fused_fn kernel, const weight& W, std::size_t i, const float* x, std::size_t ldx, std::size_t T,
                           float* out, std::size_t ldo) {
    const std::size_t n = W.row_length();
    const std::uint8_t* row = W.stored_row(i);
    const std::size_t run = run_values(W.type);
    const std::size_t whole = n / run * run;
    kernel(row, whole, x, ldx, T, out, ldo);
    if (whole == n) return;
    // Only plain types have tails (a block type's rows are whole blocks, checked by the readers).
    std::vector<float> tail(n - whole);
    io::dequantize(W.type, row + io::byte_size(W.type, whole, "a weight row"), n - whole, tail.data());
    for (std::size_t t = 0; t < T; ++t) {
        float s = 0.0f;
        for (std::size_t k = 0; k < tail.size(); ++k) s += tail[k] * x[t * ldx + whole + k];
        out[t * ldo] += s;
    }
}

}  // namespace detail

namespace detail {

/// Rows of W as float32 for a prefill tile: weight::read_rows, with F16/BF16 converted 8 at a time
/// by AVX2/F16C where the processor has them (the portable conversion goes one value at a time).
inline void read_tile_rows(const weight& W, std::size_t first, std::size_t count, float* dst) {
#if XLENS_X86_DISPATCH
    const std::size_t n = W.row_length();
    if ((W.type == io::dtype::f16 || W.type == io::dtype::bf16) && !W.in_float32() && n % 8 == 0 && cpu_has_avx2()) {
        for (std::size_t i = 0; i < count; ++i) {
            if (W.type == io::dtype::f16) avx2::halves_to_f32<1>(W.stored_row(first + i), n, dst + i * n);
            else avx2::halves_to_f32<2>(W.stored_row(first + i), n, dst + i * n);
        }
        return;
    }
#endif
    W.read_rows(first, count, dst);
}

}  // namespace detail

/// Logical rows of W per float32 tile for the prefill path: about 1 MiB of floats, at least 16 rows.
inline std::size_t tile_rows(const weight& W) {
    const std::size_t bytes_per_row = std::max<std::size_t>(1, W.row_length() * sizeof(float));
    return std::min(W.rows(), std::max<std::size_t>(16, (std::size_t{1} << 20) / bytes_per_row / 16 * 16));
}

/// Calls fn(first_row, rows, tile) for consecutive tiles of W's logical rows, each dequantised into
/// a float32 buffer [rows, row_length()] (the dequantisation spread over the kernel threads).
template <class Fn>
inline void for_each_f32_tile(const weight& W, Fn fn) {
    const std::size_t R = tile_rows(W), n = W.row_length();
    std::vector<float> tile(R * n);
    for (std::size_t r0 = 0; r0 < W.rows(); r0 += R) {
        const std::size_t rows = std::min(R, W.rows() - r0);
        constexpr std::size_t per_task = 8;
        parallel_for((rows + per_task - 1) / per_task, [&](std::size_t task) {
            const std::size_t a = task * per_task, b = std::min(rows, a + per_task);
            detail::read_tile_rows(W, r0 + a, b - a, tile.data() + a * n);
        });
        fn(r0, rows, static_cast<const float*>(tile.data()));
    }
}

/// y[T, d_out] = x[T, d_in] · Wᵀ for W [d_out, d_in] not held as float32 (see weight::in_float32).
/// `gemm` is blocks::gemm, passed in so this header stays free of BLAS.
template <class Gemm>
inline void stored_matmul(const float* x, std::size_t T, const weight& W, float* y, Gemm gemm) {
    const std::size_t d_out = W.rows(), d_in = W.row_length();
    if (T <= fused_rows_max) {
        const detail::fused_fn kernel = detail::fused_kernel_for(W.type);
        constexpr std::size_t rows_per_task = 16;
        parallel_for((d_out + rows_per_task - 1) / rows_per_task, [&](std::size_t task) {
            const std::size_t a = task * rows_per_task, b = std::min(d_out, a + rows_per_task);
            for (std::size_t t0 = 0; t0 < T; t0 += fused_rows) {  // each weight row stays in L1 across passes
                const std::size_t rows = std::min(fused_rows, T - t0);
                for (std::size_t i = a; i < b; ++i)
                    detail::dot_stored_row(kernel, W, i, x + t0 * d_in, d_in, rows, y + t0 * d_out + i, d_out);
            }
        });
        return;
    }
    for_each_f32_tile(W, [&](std::size_t r0, std::size_t rows, const float* tile) {
        gemm(T, rows, d_in, x, d_in, tile, d_in, true, y + r0, d_out);
    });
}

}  // namespace xlens::blocks
