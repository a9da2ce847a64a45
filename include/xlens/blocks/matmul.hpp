// xlens/blocks/matmul.hpp — the one place xlens calls BLAS.
//
// Goes through xtensor-blas's cxxblas layer rather than <cblas.h>: xtensor-blas 0.20 declares its
// own CBLAS prototypes, and including both in one translation unit does not compile.
#pragma once

#include <cstddef>

#include <xtensor-blas/xblas.hpp>

#include "xlens/blocks/hook_points.hpp"
#include "xlens/model/weights.hpp"

// OpenBLAS's thread-count controls, weak so that linking another BLAS still works (they are then null).
extern "C" {
__attribute__((weak)) void openblas_set_num_threads(int);
__attribute__((weak)) int openblas_get_num_threads(void);
}

namespace xlens::blocks {

/// While alive, OpenBLAS runs every call on the calling thread: for callers that spread many small,
/// independent matmuls over threads themselves (activation patching), where OpenBLAS's own threads
/// would only contend with them. Process-wide, as OpenBLAS's setting is; a no-op with other BLAS.
class single_threaded_blas {
public:
    single_threaded_blas() {
        if (openblas_get_num_threads && openblas_set_num_threads) {
            previous_ = openblas_get_num_threads();
            if (previous_ > 1) openblas_set_num_threads(1);
        }
    }
    ~single_threaded_blas() {
        if (previous_ > 1) openblas_set_num_threads(previous_);
    }
    single_threaded_blas(const single_threaded_blas&) = delete;
    single_threaded_blas& operator=(const single_threaded_blas&) = delete;

private:
    int previous_ = 0;
};

/// C[M, N] = alpha · A[M, K] · op(B) + beta · C, row-major; op(B) = Bᵀ when `b_transposed`
/// (B stored [N, K]) else B (stored [K, N]). Leading dimensions allow strided head slices.
inline void gemm(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                 std::size_t ldb, bool b_transposed, float* C, std::size_t ldc, float alpha = 1.0f, float beta = 0.0f) {
    using index = xt::blas_index_t;
    cxxblas::gemm<index>(cxxblas::RowMajor, cxxblas::NoTrans, b_transposed ? cxxblas::Trans : cxxblas::NoTrans,
                         static_cast<index>(M), static_cast<index>(N), static_cast<index>(K), alpha, A,
                         static_cast<index>(lda), B, static_cast<index>(ldb), beta, C, static_cast<index>(ldc));
}

/// y[d_out] = W x for W stored [d_out, d_in] (or Wᵀ x for W stored [d_in, d_out]).
inline void gemv(const linear_weight& l, const float* x, float* y) {
    using index = xt::blas_index_t;
    const auto rows = static_cast<index>(l.w.shape[0]), cols = static_cast<index>(l.w.shape[1]);
    cxxblas::gemv<index>(cxxblas::RowMajor, l.in_by_out ? cxxblas::Trans : cxxblas::NoTrans, rows, cols, 1.0f,
                         l.w.data, cols, x, 1, 0.0f, y, 1);
}

/// y[d_in] = Wᵀ x for x [d_out]: what a direction in the output space reads back in the input space.
inline void gemv_transposed(const linear_weight& l, const float* x, float* y) {
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
    // A few rows (a decode step, a patched run resumed near the end) are bandwidth-bound: OpenBLAS's
    // gemv streams W about 2.5× faster than its gemm does with M = 1, and up to 4 rows one gemv each
    // (W stays in cache after the first) still beats gemm's packing.
    if (T <= small_rows)
        for (std::size_t t = 0; t < T; ++t) gemv(l, x.data() + t * d_in, y.data() + t * d_out);
    else gemm(T, d_out, d_in, x.data(), d_in, l.w.data, l.in_by_out ? d_out : d_in, !l.in_by_out, y.data(), d_out);
    if (!l.b.empty())
        for (std::size_t t = 0; t < T; ++t) {
            float* row = y.data() + t * d_out;
            for (std::size_t j = 0; j < d_out; ++j) row[j] += l.b.data[j];
        }
    return y;
}

}  // namespace xlens::blocks
