// xlens/blocks/matmul.hpp — the one place xlens calls BLAS, and the one `linear` every block uses,
// whatever type its weight is stored in (float32 through BLAS; anything else through the
// dequantising kernels of blocks/quantized_matmul.hpp).
//
// Goes through xtensor-blas's cxxblas layer rather than <cblas.h>: xtensor-blas 0.20 declares its
// own CBLAS prototypes, and including both in one translation unit does not compile.
#pragma once

#include <cstddef>

#include <xtensor-blas/xblas.hpp>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/parallel.hpp"
#include "xlens/blocks/quantized_matmul.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

/// C[M, N] = alpha · A[M, K] · op(B) + beta · C, row-major; op(B) = Bᵀ when `b_transposed`
/// (B stored [N, K]) else B (stored [K, N]). Leading dimensions allow strided head slices.
inline void gemm(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                 std::size_t ldb, bool b_transposed, float* C, std::size_t ldc, float alpha = 1.0f, float beta = 0.0f) {
    using index = xt::blas_index_t;
    cxxblas::gemm<index>(cxxblas::RowMajor, cxxblas::NoTrans, b_transposed ? cxxblas::Trans : cxxblas::NoTrans,
                         static_cast<index>(M), static_cast<index>(N), static_cast<index>(K), alpha, A,
                         static_cast<index>(lda), B, static_cast<index>(ldb), beta, C, static_cast<index>(ldc));
}

/// y[d_out] = W x for W stored [d_out, d_in] (or Wᵀ x for W stored [d_in, d_out]); float32 W only.
inline void gemv(const linear_weight& l, const float* x, float* y) {
    using index = xt::blas_index_t;
    const auto rows = static_cast<index>(l.w.shape[0]), cols = static_cast<index>(l.w.shape[1]);
    cxxblas::gemv<index>(cxxblas::RowMajor, l.in_by_out ? cxxblas::Trans : cxxblas::NoTrans, rows, cols, 1.0f,
                         l.w.data, cols, x, 1, 0.0f, y, 1);
}

/// y[d_in] = Wᵀ x for x [d_out]: what a direction in the output space reads back in the input space.
inline void gemv_transposed(const linear_weight& l, const float* x, float* y) {
    if (!l.w.in_float32()) {  // Σ_i x[i] · W[i, :], one dequantised tile of rows at a time
        const std::size_t d_in = l.w.row_length();
        std::fill(y, y + d_in, 0.0f);
        for_each_f32_tile(l.w, [&](std::size_t r0, std::size_t rows, const float* tile) {
            for (std::size_t i = 0; i < rows; ++i) {
                const float xi = x[r0 + i];
                const float* w = tile + i * d_in;
                for (std::size_t k = 0; k < d_in; ++k) y[k] += xi * w[k];
            }
        });
        return;
    }
    using index = xt::blas_index_t;
    const auto rows = static_cast<index>(l.w.shape[0]), cols = static_cast<index>(l.w.shape[1]);
    cxxblas::gemv<index>(cxxblas::RowMajor, l.in_by_out ? cxxblas::NoTrans : cxxblas::Trans, rows, cols, 1.0f,
                         l.w.data, cols, x, 1, 0.0f, y, 1);
}

inline constexpr std::size_t small_rows = 4;

/// y[T, d_out] = x[T, d_in] · Wᵀ + b, for either stored orientation of W.
inline activation linear(const activation& x, const linear_weight& l) {
    const std::size_t T = x.shape()[0], d_in = l.d_in(), d_out = l.d_out();
    activation y = activation::from_shape({T, d_out});
    if (T == 0) return y;
    if (!l.w.in_float32()) {
        stored_matmul(x.data(), T, l.w, y.data(), [](auto... args) { gemm(args...); });
    } else if (T <= small_rows) {
        // A few rows (a decode step, a patched run resumed near the end) are bandwidth-bound: OpenBLAS's
        // gemv streams W about 2.5× faster than its gemm does with M = 1, and up to 4 rows one gemv
        // each (W stays in cache after the first) still beats gemm's packing.
        for (std::size_t t = 0; t < T; ++t) gemv(l, x.data() + t * d_in, y.data() + t * d_out);
    } else {
        gemm(T, d_out, d_in, x.data(), d_in, l.w.data, l.in_by_out ? d_out : d_in, !l.in_by_out, y.data(), d_out);
    }
    if (!l.b.empty())
        for (std::size_t t = 0; t < T; ++t) {
            float* row = y.data() + t * d_out;
            for (std::size_t j = 0; j < d_out; ++j) row[j] += l.b.data[j];
        }
    return y;
}

}  // namespace xlens::blocks
