// Tests for xlens/blocks/quantized_matmul.hpp (and the AVX2 kernels under it): linear() over weights
// kept in their stored type against a float64 product of the same weights dequantised by
// io::dequantize (itself checked bit for bit against gguf-py in test_quants.cpp), for every type, for
// the fused decode kernels (1-4 rows of x) and the tiled prefill path, with rows read through a row
// order, and on one and two kernel threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "xlens/blocks/matmul.hpp"
#include "xlens/io/quants.hpp"
#include "xlens/model/weights.hpp"

using xlens::io::dtype;

namespace {

/// Byte offsets of the f16 scale fields in one block of each type (random bytes there could be NaN).
std::vector<std::size_t> scale_fields(dtype t) {
    switch (t) {
        case dtype::q4_1: case dtype::q5_1: case dtype::q4_k: case dtype::q5_k: return {0, 2};
        case dtype::q6_k: return {208};
        case dtype::q2_k: return {80, 82};
        case dtype::q3_k: return {108};
        default: return {0};
    }
}

/// Random stored bytes for a [rows, cols] weight of type t, every value finite.
std::vector<std::uint8_t> random_weight_bytes(dtype t, std::size_t rows, std::size_t cols, std::mt19937& rng) {
    const auto tr = xlens::io::traits(t);
    std::vector<std::uint8_t> bytes(rows * cols / tr.block_elements * tr.block_bytes);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() & 0xFF);
    if (t == dtype::f32) {  // values in [-1, 1]
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (std::size_t i = 0; i < rows * cols; ++i) {
            const float v = u(rng);
            std::memcpy(bytes.data() + 4 * i, &v, 4);
        }
    } else if (t == dtype::f16 || t == dtype::bf16) {  // keep exponents small: clear the top exponent bits
        for (std::size_t i = 1; i < bytes.size(); i += 2) bytes[i] &= t == dtype::f16 ? 0xB7 : 0xBE;
    } else {
        const std::uint16_t scales[] = {0x2E66, 0x1E00, 0xAA00, 0x3000, 0x0200};  // 0.1, 6e-3, -0.05, 0.125, subnormal
        for (std::size_t b = 0; b < bytes.size(); b += tr.block_bytes)
            for (std::size_t off : scale_fields(t)) {
                const std::uint16_t s = scales[rng() % 5];
                bytes[b + off] = static_cast<std::uint8_t>(s & 0xFF);
                bytes[b + off + 1] = static_cast<std::uint8_t>(s >> 8);
            }
    }
    return bytes;
}

/// Checks linear(x, W) against Σ_k w[i][k]·x[t][k] in float64 within 1e-5 of Σ_k |w·x| (float32 sums).
void check_product(const xlens::weight& w, std::size_t T, std::mt19937& rng) {
    const std::size_t rows = w.rows(), cols = w.row_length();
    const std::vector<float> values = w.to_f32();  // logical rows, dequantised
    xlens::activation x = xlens::activation::from_shape({T, cols});
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    xlens::linear_weight l;
    l.w = w;
    const auto y = xlens::blocks::linear(x, l);
    REQUIRE(y.shape()[0] == T);
    REQUIRE(y.shape()[1] == rows);
    double worst = 0;
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < rows; ++i) {
            double exact = 0, magnitude = 0;
            for (std::size_t k = 0; k < cols; ++k) {
                const double p = static_cast<double>(values[i * cols + k]) * x.data()[t * cols + k];
                exact += p;
                magnitude += std::abs(p);
            }
            worst = std::max(worst, std::abs(y.data()[t * rows + i] - exact) / std::max(magnitude, 1e-30));
        }
    CAPTURE(xlens::io::dtype_name(w.type));
    CAPTURE(T);
    CHECK(worst <= 1e-5);
}

}  // namespace

TEST_CASE("quantized matmul: every stored type, fused and tiled, in order and through a row order") {
    std::mt19937 rng(7);
    const dtype types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1,
                           dtype::q8_0, dtype::iq4_nl, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k,
                           dtype::q6_k, dtype::iq4_xs};
    for (int threads : {1, 2}) {
        xlens::blocks::set_num_threads(threads);
        for (dtype t : types) {
            const std::size_t rows = 37, cols = 512;  // rows not a multiple of any task or tile size
            const auto bytes = random_weight_bytes(t, rows, cols, rng);
            xlens::weight w;
            w.shape = {rows, cols};
            w.type = t;
            w.stored = bytes.data();
            for (std::size_t T : {1, 2, 3, 4, 5, 9}) check_product(w, T, rng);
            std::vector<std::uint32_t> reversed(rows);
            for (std::size_t i = 0; i < rows; ++i) reversed[i] = static_cast<std::uint32_t>(rows - 1 - i);
            w.row_order = reversed.data();
            const auto row0 = w.row(0);
            std::vector<float> last(cols);
            xlens::io::dequantize(t, bytes.data() + (rows - 1) * w.row_bytes(), cols, last.data());
            CHECK(row0 == last);  // logical row 0 is stored row 36
            for (std::size_t T : {1, 7}) check_product(w, T, rng);
        }
    }
    xlens::blocks::set_num_threads(2);
}

TEST_CASE("quantized matmul: plain types with rows that are not a multiple of 32") {
    std::mt19937 rng(11);
    for (dtype t : {dtype::f16, dtype::bf16, dtype::f32}) {
        const std::size_t rows = 5, cols = 40;
        const auto bytes = random_weight_bytes(t, rows, cols, rng);
        xlens::weight w;
        w.shape = {rows, cols};
        w.type = t;
        w.stored = bytes.data();
        for (std::size_t T : {1, 4, 6}) check_product(w, T, rng);
    }
}

TEST_CASE("quantized matmul: a stored weight's view() refuses, dequantized() copies") {
    std::mt19937 rng(3);
    const auto bytes = random_weight_bytes(dtype::q4_k, 2, 256, rng);
    xlens::weight w;
    w.shape = {2, 256};
    w.type = dtype::q4_k;
    w.stored = bytes.data();
    CHECK_FALSE(w.in_float32());
    CHECK(w.size() == 512);
    try {
        (void)w.view();
        FAIL("view() of a Q4_K weight must throw");
    } catch (const xlens::weights_error& e) {
        CHECK(e.id() == 406);
        CHECK(std::string(e.what()).find("Q4_K") != std::string::npos);
    }
    const auto copy = w.dequantized();
    std::vector<float> expected(512);
    xlens::io::dequantize(dtype::q4_k, bytes.data(), 512, expected.data());
    REQUIRE(copy.size() == 512);
    CHECK(std::equal(expected.begin(), expected.end(), copy.data()));
    CHECK(copy.shape()[0] == 2);
    // gemv_transposed (Wᵀ u) over a stored weight equals the float64 product of its values
    xlens::linear_weight l;
    l.w = w;
    const float u[2] = {0.5f, -2.0f};
    std::vector<float> back(256);
    xlens::blocks::gemv_transposed(l, u, back.data());
    for (std::size_t k = 0; k < 256; ++k)
        CHECK(back[k] == doctest::Approx(0.5 * expected[k] - 2.0 * expected[256 + k]).epsilon(1e-6));
}
