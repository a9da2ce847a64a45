// xlens/io/quant_rounding.hpp — keep_rounded(): the barrier that keeps gguf-py's order of operations.
//
// gguf-py (the reference for every dequantised value) computes in float32 numpy with one rounding
// per operation. A compiler may fuse a product into a following add (-march=native with GCC's
// default -ffp-contract=fast, clang's `on`) or reassociate (d·sc)·q (-ffast-math), which would change
// the last bit. Storing intermediate products and hiding them behind an empty asm that "touches
// memory" forbids both and still lets the loops around it vectorise.
#pragma once

#include <cstddef>

namespace xlens::io::detail {

/// Makes the compiler forget what it knows about dst[0..n): values computed before must be rounded
/// and stored as float32, and are reloaded after, so no FMA or reassociation can span the call.
inline void keep_rounded(float* dst, std::size_t n) {
#if defined(__GNUC__) || defined(__clang__)
    (void)n;
    asm volatile("" : : "r"(dst) : "memory");
#else
    volatile float* v = dst;  // other compilers: a volatile round trip has the same effect, slower
    for (std::size_t i = 0; i < n; ++i) v[i] = v[i];  // cppcheck-suppress selfAssignment ; the point
#endif
}

}  // namespace xlens::io::detail
