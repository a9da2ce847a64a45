// Tests for xlens/io/npy.hpp: files written by numpy (tools/reference/make_safetensors_fixtures.py),
// files we write for numpy to read back (`--check`), and malformed files built byte by byte.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xmanipulation.hpp>

#include "test_data.hpp"
#include "xlens/io/npy.hpp"

namespace {

namespace fs = std::filesystem;
using namespace xlens::io;

/// Path of a numpy-written fixture; fails the test with the command that creates it if absent.
std::string npy_fixture(const std::string& relative) { return test::fixture(relative, test::make_safetensors_fixtures); }

/// Where C++-written files go for `make_safetensors_fixtures.py --check DIR`.
std::string npy_output(const std::string& name) {
    return (fs::path(npy_fixture("npy/f32_2d.npy")).parent_path().parent_path() / name).string();
}

/// A v1.0 file image with the given dict text (padded like numpy) and `payload` bytes.
std::string npy_bytes(const std::string& dict, std::size_t payload) {
    std::string header = dict;
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    return out + header + std::string(payload, '\0');
}

/// Writes `bytes`, expects read_npy to throw format_error `id` naming the file and every part.
void expect_bad_npy(const std::string& bytes, int id, std::initializer_list<std::string> parts) {
    test::scratch s("npy");
    const std::string path = s.file("bad.npy");
    test::write_bytes(path, bytes);
    try {
        read_npy(path);
    } catch (const xlens::format_error& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(e.id() == id, what);
        CHECK_MESSAGE(what.find(path) != std::string::npos, what);
        for (const auto& part : parts) CHECK_MESSAGE(what.find(part) != std::string::npos, what << "\n  lacks: " << part);
        return;
    }
    FAIL("expected npy error " << id << " was not thrown");
}

}  // namespace

TEST_CASE("npy: files written by numpy read back exactly") {
    const npy_array a = read_npy(npy_fixture("npy/f32_2d.npy"));
    CHECK(a.type == dtype::f32);
    CHECK(a.shape == std::vector<std::uint64_t>{3, 4});
    for (std::size_t i = 0; i < 12; ++i) CHECK(a.data[i] == static_cast<float>(i) * 0.25f - 1.0f);
    CHECK(a.integers.empty());
    const xt::xarray<float> x = a.to_xarray();
    CHECK(x(2, 3) == 1.75f);

    const npy_array d = read_npy(npy_fixture("npy/f64_1d.npy"));
    CHECK(d.type == dtype::f64);
    CHECK(d.data == std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f, 1.0f});
    const npy_array h = read_npy(npy_fixture("npy/f16_1d.npy"));
    CHECK(h.type == dtype::f16);
    CHECK(h.data == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f});

    const npy_array i32 = read_npy(npy_fixture("npy/i32_2d.npy"));
    CHECK(i32.type == dtype::i32);
    CHECK(i32.shape == std::vector<std::uint64_t>{2, 3});
    CHECK(i32.integers == std::vector<std::int64_t>{-3, -2, -1, 0, 1, 2});
    CHECK(i32.data[0] == -3.0f);
    const npy_array i64 = read_npy(npy_fixture("npy/i64_1d.npy"));
    CHECK(i64.integers == std::vector<std::int64_t>{-3, 0, std::int64_t{1} << 40, 7});
    CHECK(read_npy(npy_fixture("npy/u8_1d.npy")).integers == std::vector<std::int64_t>{0, 50, 100, 150, 200});
    const npy_array b = read_npy(npy_fixture("npy/bool_1d.npy"));
    CHECK(b.type == dtype::boolean);
    CHECK(b.integers == std::vector<std::int64_t>{1, 0, 1});

    const npy_array scalar = read_npy(npy_fixture("npy/f32_scalar.npy"));
    CHECK(scalar.shape.empty());
    CHECK(scalar.data == std::vector<float>{3.5f});
    const npy_array empty = read_npy(npy_fixture("npy/f32_empty.npy"));
    CHECK(empty.shape == std::vector<std::uint64_t>{0, 3});
    CHECK(empty.data.empty());
    CHECK(read_npy(npy_fixture("npy/f32_v2.npy")).data == std::vector<float>{0, 1, 2, 3});

    const std::string fortran = npy_fixture("npy/f32_fortran.npy");
    CHECK_THROWS_WITH_AS(read_npy(fortran), doctest::Contains("fortran_order is True"), xlens::format_error);
    CHECK_THROWS_WITH_AS(read_npy(npy_fixture("npy/f32_bigendian.npy")), doctest::Contains("'>f4'"), xlens::format_error);
}

TEST_CASE("npy: files we write have numpy's layout and read back; numpy checks them with --check") {
    std::vector<float> f32(24);
    for (std::size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(i) * 0.5f;
    const std::string f32_path = npy_output("cpp_written_f32.npy");
    write_npy(f32_path, f32.data(), {2, 3, 4});
    CHECK_FALSE(fs::exists(f32_path + ".tmp"));
    const npy_array a = read_npy(f32_path);
    CHECK(a.shape == std::vector<std::uint64_t>{2, 3, 4});
    CHECK(a.data == f32);
    CHECK(fs::file_size(f32_path) == 128 + 24 * 4);  // header padded so the data is 64-byte aligned

    const std::int64_t i64[3] = {-5, 0, std::int64_t{1} << 40};
    write_npy(npy_output("cpp_written_i64.npy"), i64, {3});
    CHECK(read_npy(npy_output("cpp_written_i64.npy")).integers == std::vector<std::int64_t>(i64, i64 + 3));
    const std::int32_t i32[6] = {-2, -1, 0, 1, 2, 3};
    write_npy(npy_output("cpp_written_i32.npy"), i32, {3, 2});
    const npy_array r32 = read_npy(npy_output("cpp_written_i32.npy"));
    CHECK(r32.type == dtype::i32);
    CHECK(r32.shape == std::vector<std::uint64_t>{3, 2});

    // Format 2.0 is only chosen for >64 KB headers, which real shapes never need; force it here.
    const float v2[4] = {0.5f, 1.5f, 2.5f, 3.5f};
    const std::string v2_path = npy_output("cpp_written_v2.npy");
    const std::string header = detail::npy_header("<f4", {4}, 2);
    CHECK(header[6] == 2);
    CHECK(header.size() % 64 == 0);
    detail::write_npy_bytes(v2_path, header, v2, sizeof v2);
    CHECK(read_npy(v2_path).data == std::vector<float>(v2, v2 + 4));

    // An xtensor expression: a transposed view must be written in its logical (row-major) order.
    const xt::xarray<double> m = {{1.5, 3.5}, {2.5, 4.5}};
    write_npy(npy_output("cpp_written_xarray.npy"), xt::transpose(m));
    const npy_array t = read_npy(npy_output("cpp_written_xarray.npy"));
    CHECK(t.type == dtype::f64);
    CHECK(t.data == std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f});

    test::scratch s("npy");
    const float scalar = 7.0f;
    write_npy(s.file("scalar.npy"), &scalar, {});
    CHECK(read_npy(s.file("scalar.npy")).data == std::vector<float>{7.0f});
    write_npy<float>(s.file("empty.npy"), nullptr, {0, 5});
    CHECK(read_npy(s.file("empty.npy")).shape == std::vector<std::uint64_t>{0, 5});
    const xt::xarray<float> single = {42.0f};
    write_npy(s.file("one.npy"), single);
    CHECK(read_npy(s.file("one.npy")).shape == std::vector<std::uint64_t>{1});
    CHECK_THROWS_WITH_AS(write_npy<float>(s.file("null.npy"), nullptr, {2}), doctest::Contains("[xlens.format_error.298]"),
                         xlens::format_error);
    CHECK_THROWS_AS(write_npy(s.file("no/dir/x.npy"), &scalar, {}), xlens::io_error);
}

TEST_CASE("npy: malformed files are refused with ids 290-297 naming the file") {
    const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    expect_bad_npy("\x93NUMPY", 290, {"magic"});
    expect_bad_npy(std::string("PK\x03\x04 not numpy at all"), 290, {"not a .npy"});
    std::string v4 = npy_bytes(ok, 8);
    v4[6] = 4;
    expect_bad_npy(v4, 291, {"version 4.0"});
    std::string long_header = npy_bytes(ok, 8);
    long_header[9] = '\x7f';
    expect_bad_npy(long_header, 292, {"past the end"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False}", 8), 293, {"'shape'"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8), 293, {"'x'"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8), 293, {"twice"});
    expect_bad_npy(npy_bytes(ok + " trailing", 8), 293, {"after the closing brace"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", 8), 293, {"True or False"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 8), 293, {"non-negative"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8), 293, {"malformed"});
    expect_bad_npy(npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", 16), 294, {"'<c8'"});
    expect_bad_npy(npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8), 294, {"structured"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", 8), 295, {"fortran_order"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 8), 296,
                   {"overflows"});
    expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", 8), 296,
                   {"overflows"});
    expect_bad_npy(npy_bytes(ok, 12), 297, {"12-byte payload"});
    expect_bad_npy(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}", 8), 297, {"'<f8'"});
    // Python 2 era files wrote longs with an L suffix and double quotes are legal Python too.
    test::scratch s("npy");
    test::write_bytes(s.file("py2.npy"), npy_bytes("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}", 8));
    CHECK(read_npy(s.file("py2.npy")).shape == std::vector<std::uint64_t>{2});
}

TEST_CASE("npy: truncation at every byte is an xlens::error, never a crash") {
    test::scratch s("npy");
    const float v[3] = {1, 2, 3};
    const std::string good = s.file("good.npy");
    write_npy(good, v, {3});
    std::ifstream in(good, std::ios::binary);
    const std::string full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(full.size() == 128 + 12);  // numpy pads a 1-D header to 128 bytes too
    const std::string cut = s.file("cut.npy");
    for (std::size_t k = 0; k < full.size(); ++k) {
        CAPTURE(k);
        test::write_bytes(cut, full.substr(0, k));
        CHECK_THROWS_AS(read_npy(cut), xlens::error);
    }
}
