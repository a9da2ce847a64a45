// Tests for xlens/io/quants.hpp: hand-built blocks whose values are known exactly, and the fixture
// written by tools/reference/make_gguf_fixtures.py, whose expected values come from gguf-py and must
// match bit for bit.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "test_data.hpp"
#include "xlens/io/gguf.hpp"
#include "xlens/io/quants.hpp"

using xlens::io::dtype;

namespace {

/// Bits of a float, so NaNs compare too.
std::uint32_t bits_of(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

/// Appends a little-endian u16.
void put_u16(std::vector<std::uint8_t>& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v & 0xff));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}

/// Decodes `n` values of `t` from `bytes`.
std::vector<float> decode(dtype t, const std::vector<std::uint8_t>& bytes, std::uint64_t n) {
    std::vector<float> out(n);
    xlens::io::dequantize(t, bytes.data(), n, out.data());
    return out;
}

/// Contents of a raw float32 file; empty if it cannot be read.
std::vector<float> read_f32_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return {};
    const auto size = static_cast<std::size_t>(in.tellg());
    std::vector<float> v(size / 4);
    in.seekg(0);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
    return v;
}

}  // namespace

TEST_CASE("quants: Q4_1 block with d = 0.5, m = -1") {
    std::vector<std::uint8_t> b;
    put_u16(b, 0x3800);  // d = 0.5
    put_u16(b, 0xBC00);  // m = -1
    for (int j = 0; j < 16; ++j) b.push_back(static_cast<std::uint8_t>(j | ((15 - j) << 4)));
    auto y = decode(dtype::q4_1, b, 32);
    for (int j = 0; j < 16; ++j) {
        CHECK(y[j] == 0.5f * j - 1.0f);              // low nibbles: elements 0..15
        CHECK(y[16 + j] == 0.5f * (15 - j) - 1.0f);  // high nibbles: elements 16..31
    }
}

TEST_CASE("quants: Q4_0 block with d = 2 subtracts 8 from each nibble") {
    std::vector<std::uint8_t> b;
    put_u16(b, 0x4000);  // d = 2
    for (int j = 0; j < 16; ++j) b.push_back(static_cast<std::uint8_t>(((j * 3) & 15) | (j << 4)));
    auto y = decode(dtype::q4_0, b, 32);
    for (int j = 0; j < 16; ++j) {
        CHECK(y[j] == 2.0f * static_cast<float>(((j * 3) & 15) - 8));
        CHECK(y[16 + j] == 2.0f * static_cast<float>(j - 8));
    }
}

TEST_CASE("quants: Q8_0 block with d = 0.25 reads signed bytes") {
    std::vector<std::uint8_t> b;
    put_u16(b, 0x3400);  // 0.25
    const int q[4] = {-128, -1, 0, 127};
    for (int j = 0; j < 32; ++j) b.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(q[j % 4])));
    auto y = decode(dtype::q8_0, b, 32);
    for (int j = 0; j < 32; ++j) CHECK(y[j] == 0.25f * static_cast<float>(q[j % 4]));
}

TEST_CASE("quants: Q4_K block with packed 6-bit scales and mins") {
    // 6-bit values chosen to use the top bits that sub-blocks 4-7 store in bytes 0-7.
    const int sc[8] = {1, 63, 17, 32, 48, 5, 63, 40};
    const int mn[8] = {0, 7, 62, 33, 16, 63, 1, 50};
    std::vector<std::uint8_t> b;
    put_u16(b, 0x3C00);  // d = 1
    put_u16(b, 0x3800);  // dmin = 0.5
    std::uint8_t s[12];
    for (int j = 0; j < 4; ++j) {
        s[j] = static_cast<std::uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = static_cast<std::uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
    b.insert(b.end(), s, s + 12);
    auto q = [](int e) { return (e * 7 + e / 32) % 16; };
    for (int k = 0; k < 4; ++k)        // 32 bytes per pair of sub-blocks
        for (int j = 0; j < 32; ++j) b.push_back(static_cast<std::uint8_t>(q(64 * k + j) | (q(64 * k + 32 + j) << 4)));
    REQUIRE(b.size() == 144);
    auto y = decode(dtype::q4_k, b, 256);
    for (int e = 0; e < 256; ++e) {  // all exact: small integers and halves
        CAPTURE(e);
        CHECK(y[e] == static_cast<float>(sc[e / 32] * q(e)) - 0.5f * static_cast<float>(mn[e / 32]));
    }
}

TEST_CASE("quants: Q6_K block with 6-bit quants and int8 scales") {
    auto q = [](int e) { return (e * 5 + 3 + e / 64) % 64; };  // 0..63, stored biased by 32
    auto sc = [](int i) { return i * 9 - 70; };                // -70..65
    std::vector<std::uint8_t> b(210, 0);
    for (int e = 0; e < 256; ++e) {
        const int h = e / 128, t = (e % 128) / 32, j = e % 32;
        b[64 * h + 32 * (t % 2) + j] |= static_cast<std::uint8_t>((q(e) & 15) << (4 * (t / 2)));
        b[128 + 32 * h + j] |= static_cast<std::uint8_t>((q(e) >> 4) << (2 * t));
    }
    for (int i = 0; i < 16; ++i) b[192 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(sc(i)));
    b[208] = 0x00;
    b[209] = 0x38;  // d = 0.5
    auto y = decode(dtype::q6_k, b, 256);
    for (int e = 0; e < 256; ++e) {
        CAPTURE(e);
        CHECK(y[e] == 0.5f * static_cast<float>(sc(e / 16) * (q(e) - 32)));
    }
}

TEST_CASE("quants: F16, BF16 and F64 conversions, special values included") {
    std::vector<std::uint8_t> h;
    const std::uint16_t halves[] = {0x3C00, 0x0001, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x03FF};
    for (auto v : halves) put_u16(h, v);
    auto f = decode(dtype::f16, h, 8);
    // numpy keeps NaN payloads (0x7C01 -> 0x7F802000, not quieted); gguf-py inherits that.
    const std::uint32_t want[] = {0x3F800000, 0x33800000, 0x80000000, 0x7F800000,
                                  0xFF800000, 0x7FC00000, 0x7F802000, 0x387FC000};
    for (int i = 0; i < 8; ++i) CHECK(bits_of(f[i]) == want[i]);

    std::vector<std::uint8_t> bf;
    for (std::uint16_t v : {0x3F80, 0xC000, 0x7F81}) put_u16(bf, v);
    auto g = decode(dtype::bf16, bf, 3);
    CHECK(g[0] == 1.0f);
    CHECK(g[1] == -2.0f);
    CHECK(bits_of(g[2]) == 0x7F810000u);

    std::vector<std::uint8_t> d(3 * 8);
    const double dv[] = {0.1, 1e300, -3.5};
    std::memcpy(d.data(), dv, sizeof dv);
    auto k = decode(dtype::f64, d, 3);
    CHECK(k[0] == 0.1f);
    CHECK(bits_of(k[1]) == 0x7F800000u);  // overflow rounds to +inf
    CHECK(k[2] == -3.5f);
}

TEST_CASE("quants: refusals name the type and the tensor") {
    std::vector<std::uint8_t> b(64, 0);
    float out[64];
    try {
        xlens::io::dequantize(dtype::i32, b.data(), 4, out);
        FAIL("I32 converted");
    } catch (const xlens::format_error& e) {
        CHECK(e.id() == 245);
        CHECK(std::string(e.what()).find("I32") != std::string::npos);
    }
    try {
        xlens::io::dequantize(dtype::q4_0, b.data(), 33, out);
        FAIL("partial block converted");
    } catch (const xlens::format_error& e) {
        CHECK(e.id() == 246);
        CHECK(std::string(e.what()).find("Q4_0") != std::string::npos);
    }
    const std::string file = "weights.gguf";
    xlens::io::tensor_ref r;
    r.name = "blk.0.ffn_up.weight";
    r.type = dtype::q8_0;
    r.shape = {2, 32};
    r.data = b.data();
    r.nbytes = 34;  // needs 68
    r.file = &file;
    try {
        (void)xlens::io::to_f32(r);
        FAIL("short tensor converted");
    } catch (const xlens::format_error& e) {
        const std::string m = e.what();
        CHECK(e.id() == 247);
        CHECK(m.find("blk.0.ffn_up.weight") != std::string::npos);
        CHECK(m.find("weights.gguf") != std::string::npos);
    }
    r.type = dtype::i8;
    CHECK_THROWS_AS(xlens::io::to_f32(r), xlens::format_error);
}

TEST_CASE("quants: every fixture tensor equals gguf.quants.dequantize bit for bit") {
    const std::string dir = test::data_dir() + "/gguf";
    for (const char* file : {"fixture.gguf", "fixture_align64.gguf"}) {
        const std::string path = test::fixture(std::string("gguf/") + file, test::make_gguf_fixtures);
        xlens::io::gguf_file g(path);
        int compared = 0;
        for (const auto& t : g.tensors()) {
            if (!xlens::io::is_float_convertible(t.type)) continue;
            CAPTURE(t.name);
            const auto expected = read_f32_file(dir + "/" + t.name + ".f32");
            REQUIRE_MESSAGE(!expected.empty(), "expected values missing for " << t.name << "; " << test::make_gguf_fixtures);
            const auto got = xlens::io::to_f32(t);
            REQUIRE(got.size() == expected.size());
            CHECK(std::memcmp(got.data(), expected.data(), got.size() * 4) == 0);
            for (std::size_t i = 0; i < got.size(); ++i)  // first differing element, if any, for the log
                if (bits_of(got[i]) != bits_of(expected[i])) {
                    FAIL_CHECK(t.name << "[" << i << "]: " << got[i] << " != " << expected[i]);
                    break;
                }
            ++compared;
        }
        CHECK(compared == (std::string(file) == "fixture.gguf" ? 16 : 2));
    }
}
