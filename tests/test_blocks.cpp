// Block-level arithmetic checked against the C library, independently of any model.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include <xlens/blocks/mlp.hpp>
#include <xlens/blocks/rotary.hpp>

TEST_CASE("activations match their definitions") {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> dist(-30.0f, 30.0f);
    for (int i = 0; i < 20000; ++i) {
        const float x = i < 10 ? static_cast<float>(i - 5) : dist(rng);
        const double xd = x;
        using xlens::activation_kind;
        using xlens::blocks::activate;
        CHECK(activate(activation_kind::silu, x) == doctest::Approx(xd / (1.0 + std::exp(-xd))).epsilon(1e-6).scale(1e-30));
        const double tanh_form = 0.5 * xd * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (xd + 0.044715 * xd * xd * xd)));
        CHECK(std::abs(activate(activation_kind::gelu_tanh, x) - tanh_form) <= 1e-6 * std::max(1.0, std::abs(xd)));
        // 1 + erf(x/√2) cancels for negative x in float, as in PyTorch's own formula: bound the error absolutely.
        const double erf_form = 0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0)));
        CHECK(std::abs(activate(activation_kind::gelu, x) - erf_form) <= 1e-6 * std::max(1.0, std::abs(xd)));
        CHECK(activate(activation_kind::relu, x) == (x > 0 ? x : 0.0f));
    }
    std::vector<float> in = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f}, out(in.size());
    for (auto kind : {xlens::activation_kind::gelu, xlens::activation_kind::gelu_tanh, xlens::activation_kind::silu, xlens::activation_kind::relu}) {
        xlens::blocks::activate(kind, in.data(), out.data(), in.size());
        for (std::size_t i = 0; i < in.size(); ++i) CHECK(out[i] == xlens::blocks::activate(kind, in[i]));
    }
}

TEST_CASE("rotary frequencies follow theta^(-2i/d) and rotation preserves each pair's norm") {
    xlens::rotary_config r;
    r.theta = 10000.0;
    r.rotary_dim = 8;
    auto inv = xlens::blocks::rotary_inverse_frequencies(r);
    REQUIRE(inv.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) CHECK(inv[i] == doctest::Approx(std::pow(10000.0, -2.0 * i / 8.0)).epsilon(1e-6));
    r.scaling = "linear";
    r.factor = 4.0;
    auto scaled = xlens::blocks::rotary_inverse_frequencies(r);
    for (std::size_t i = 0; i < 4; ++i) CHECK(scaled[i] == doctest::Approx(inv[i] / 4.0).epsilon(1e-6));
    auto table = xlens::blocks::make_rotary_table(r, 5, 3);
    xlens::activation x = xt::ones<float>({3, 1, 10});
    xlens::blocks::apply_rotary(x, table);
    for (std::size_t t = 0; t < 3; ++t) {
        for (std::size_t i = 0; i < 4; ++i) CHECK(x(t, 0, i) * x(t, 0, i) + x(t, 0, i + 4) * x(t, 0, i + 4) == doctest::Approx(2.0));
        CHECK(x(t, 0, 8) == 1.0f);  // beyond rotary_dim: untouched
        CHECK(x(t, 0, 9) == 1.0f);
    }
}

TEST_CASE("LongRoPE: short factors up to the pretraining length, long ones past it, cos and sin scaled by the attention factor") {
    xlens::rotary_config r;
    r.theta = 10000.0;
    r.rotary_dim = 4;
    r.scaling = "longrope";
    r.original_max_positions = 8;
    r.frequency_factors = {1.0f, 2.0f};
    r.long_frequency_factors = {4.0f, 8.0f};
    r.attention_factor = 1.25;
    const double base[2] = {1.0, std::pow(10000.0, -2.0 / 4.0)};
    auto short_inv = xlens::blocks::rotary_inverse_frequencies(r, 8);  // 8 positions: not past the length
    auto long_inv = xlens::blocks::rotary_inverse_frequencies(r, 9);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(short_inv[i] == doctest::Approx(base[i] / r.frequency_factors[i]).epsilon(1e-6));
        CHECK(long_inv[i] == doctest::Approx(base[i] / r.long_frequency_factors[i]).epsilon(1e-6));
    }
    // The table for positions 6..8 is a 9-position sequence: long factors.
    auto table = xlens::blocks::make_rotary_table(r, 6, 3);
    for (std::size_t t = 0; t < 3; ++t)
        for (std::size_t i = 0; i < 2; ++i) {
            const double angle = static_cast<double>(6 + t) * base[i] / r.long_frequency_factors[i];
            CHECK(table.cos[t * 2 + i] == doctest::Approx(1.25 * std::cos(angle)).epsilon(1e-5));
            CHECK(table.sin[t * 2 + i] == doctest::Approx(1.25 * std::sin(angle)).epsilon(1e-5));
        }
    CHECK(xlens::blocks::make_rotary_table(r, 0, 8).cos[7 * 2 + 1] ==
          doctest::Approx(1.25 * std::cos(7.0 * base[1] / 2.0)).epsilon(1e-5));
}
