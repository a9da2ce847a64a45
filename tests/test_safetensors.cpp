// Tests for xlens/io/safetensors.hpp and io/tensor_view.hpp: files written by the Python safetensors
// library (tools/reference/make_safetensors_fixtures.py), round trips through write_safetensors, and
// malformed files built byte by byte, each of which must be refused with its own error id.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "test_data.hpp"
#include "xlens/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
using namespace xlens::io;

/// Path of a Python-written fixture; fails the test with the command that creates it if absent.
std::string fixture(const std::string& relative) { return test::fixture(relative, test::make_safetensors_fixtures); }

/// A safetensors file image: length field (the header's own size unless `length` overrides it),
/// header, then `data` bytes.
std::string st_bytes(const std::string& header, std::size_t data_bytes = 0, std::uint64_t length = UINT64_MAX) {
    const std::uint64_t n = length == UINT64_MAX ? header.size() : length;
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + header + std::string(data_bytes, '\x01');
}

using test::expect_error;

/// Writes `bytes` as bad.safetensors and expects error `id` naming the file and `parts`.
void expect_bad(const std::string& bytes, int id, std::initializer_list<std::string> parts) {
    test::scratch s("st", "bad" + std::to_string(id));
    const std::string path = s.file("bad.safetensors");
    test::write_bytes(path, bytes);
    expect_error<xlens::format_error>([&] { safetensors_file f(path); }, id, {path});
    expect_error<xlens::format_error>([&] { safetensors_file f(path); }, id, parts);
}

const std::string f32x2 = R"({"dtype":"F32","shape":[2],"data_offsets":)";

bool inside(const void* p, const mapped_file& m) {
    auto* b = static_cast<const std::uint8_t*>(p);
    return b >= m.data() && b < m.data() + m.size();
}

}  // namespace

TEST_CASE("safetensors: every dtype written by the Python library reads back exactly, zero-copy") {
    const safetensors_file f(fixture("all_dtypes.safetensors"));
    REQUIRE(f.tensors().size() == 13);
    CHECK(f.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"note", "xlens fixture"}});
    for (std::size_t i = 1; i < f.tensors().size(); ++i) CHECK(f.tensors()[i - 1].data <= f.tensors()[i].data);

    auto a = f.view<float, 2>("f32_2d");
    CHECK(a.shape()[0] == 3);
    CHECK(a.shape()[1] == 4);
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 4; ++j) CHECK(a(i, j) == static_cast<float>(i * 4 + j) * 0.25f - 1.0f);
    CHECK(inside(a.data(), f.mapping()));
    CHECK(static_cast<const void*>(a.data()) == f.at("f32_2d").data);

    auto c = f.view<float, 3>("f32_3d");
    CHECK(c(1, 2, 3) == 23.0f);
    CHECK(inside(c.data(), f.mapping()));
    CHECK(f.view<float, 0>("f32_scalar")() == 3.5f);
    auto empty = f.view<float, 2>("f32_empty");
    CHECK(empty.size() == 0);
    CHECK(empty.shape()[1] == 4);

    auto d = f.view<double, 1>("f64");
    for (std::size_t i = 0; i < 5; ++i) CHECK(d(i) == static_cast<double>(i) / 4.0);
    auto h = f.view<std::uint16_t, 1>("f16");
    for (std::size_t i = 0; i < 6; ++i) CHECK(f16_to_f32(h(i)) == static_cast<float>(i) * 0.5f - 1.0f);
    auto b = f.view<std::uint16_t, 2>("bf16");
    for (std::size_t i = 0; i < 6; ++i) CHECK(bf16_to_f32(b(i / 3, i % 3)) == static_cast<float>(i) - 2.5f);
    CHECK(f.at("bf16").type == dtype::bf16);

    auto i64 = f.view<std::int64_t, 1>("i64");
    CHECK(i64(0) == -3);
    CHECK(i64(2) == (std::int64_t{1} << 40));
    CHECK(f.view<std::int32_t, 1>("i32")(2) == (1 << 30));
    CHECK(f.view<std::int16_t, 1>("i16")(0) == -300);
    CHECK(f.view<std::int8_t, 1>("i8")(0) == -128);
    auto u8 = f.view<std::uint8_t, 1>("u8");
    CHECK(u8(4) == 200);
    auto flags = f.view<std::uint8_t, 1>("bool");
    CHECK(std::vector<int>(flags.begin(), flags.end()) == std::vector<int>{1, 0, 1, 1});
    CHECK(f.at("bool").type == dtype::boolean);
}

TEST_CASE("safetensors: views refuse the wrong type, rank or alignment, naming tensor and file") {
    const std::string path = fixture("all_dtypes.safetensors");
    const safetensors_file f(path);
    expect_error<xlens::weights_error>([&] { f.view<double, 2>("f32_2d"); }, 410, {"f32_2d", path, "double", "F32"});
    expect_error<xlens::weights_error>([&] { f.view<float, 1>("bf16"); }, 410, {"bf16", "float (F32)", "BF16"});
    expect_error<xlens::weights_error>([&] { f.view<float, 3>("f32_2d"); }, 411, {"f32_2d", path, "rank 3", "rank is 2"});
    expect_error<xlens::weights_error>([&] { f.at("missing.weight"); }, 401, {"missing.weight", path});
    CHECK(f.find("missing.weight") == nullptr);

    test::scratch s("st", "align");
    const std::uint8_t bytes[3] = {1, 2, 3};
    const float values[2] = {1.0f, 2.0f};
    write_safetensors(s.file("odd.safetensors"), {{"bytes", dtype::u8, {3}, bytes}, {"w", dtype::f32, {2}, values}});
    const safetensors_file odd(s.file("odd.safetensors"));
    expect_error<xlens::weights_error>([&] { odd.view<float, 1>("w"); }, 412, {"'w'", "aligned"});
}

TEST_CASE("safetensors: a moved file keeps its tensor_refs and views valid") {
    safetensors_file original(fixture("all_dtypes.safetensors"));
    const tensor_ref* before = &original.at("f32_3d");
    const std::string* file = before->file;
    safetensors_file moved(std::move(original));
    const tensor_ref& after = moved.at("f32_3d");
    CHECK(&after == before);
    CHECK(after.file == file);
    CHECK(*after.file == moved.path());
    CHECK(moved.view<float, 3>("f32_3d")(0, 1, 2) == 6.0f);
}

TEST_CASE("safetensors: sharded checkpoint from a folder, an index and a single file") {
    const std::string dir = fixture("sharded/model.safetensors.index.json");
    for (const std::string& path : {fs::path(dir).parent_path().string(), dir}) {
        CAPTURE(path);
        const auto ck = safetensors_checkpoint::open(path);
        REQUIRE(ck.files().size() == 2);
        CHECK(fs::path(ck.files()[0]).filename() == "model-00001-of-00002.safetensors");
        CHECK(ck.tensors().size() == 4);
        const tensor_ref& l1 = ck.at("layers.1.weight");
        CHECK(*l1.file == ck.files()[1]);
        CHECK(l1.shape == std::vector<std::uint64_t>{3, 2});
        CHECK(ck.view<float, 2>("layers.1.weight")(2, 1) == 205.0f);
        CHECK(ck.view<float, 2>("embed.weight")(3, 0) == 6.0f);
        CHECK(ck.find("nope") == nullptr);
        expect_error<xlens::weights_error>([&] { ck.at("nope"); }, 401, {"'nope'", path});
    }
    auto single = safetensors_checkpoint::open(fixture("all_dtypes.safetensors"));
    CHECK(single.files().size() == 1);
    CHECK(single.tensors().size() == 13);
    const auto moved = std::move(single);
    CHECK(moved.view<float, 0>("f32_scalar")() == 3.5f);

    test::scratch s("st", "folder");
    fs::copy_file(fixture("all_dtypes.safetensors"), s.dir / "model.safetensors");
    CHECK(safetensors_checkpoint::open(s.dir.string()).at("i64").shape == std::vector<std::uint64_t>{4});
}

TEST_CASE("safetensors: write_safetensors round-trips bytes, pads the header, and Python can read it") {
    const float f32[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    const double f64[2] = {0.1, -2.0};
    const std::uint16_t f16[4] = {0x0000, 0x3800, 0x3c00, 0x3e00};  // 0, 0.5, 1, 1.5
    const std::int64_t i64[3] = {-5, 0, std::int64_t{1} << 40};
    const std::int32_t i32[4] = {-1, 0, 1, 2};
    const std::uint8_t u8[3] = {0, 127, 255};
    const std::uint8_t flags[3] = {1, 0, 1};
    const float scalar = 2.25f;
    // Widest first, so every tensor stays aligned for views; names as the --check mode expects.
    const std::vector<tensor_to_write> tensors = {
        {"f64", dtype::f64, {2}, f64},      {"i64", dtype::i64, {3}, i64},     {"f32", dtype::f32, {2, 3}, f32},
        {"i32", dtype::i32, {2, 2}, i32},   {"scalar", dtype::f32, {}, &scalar}, {"empty", dtype::f32, {0, 2}, nullptr},
        {"f16", dtype::f16, {4}, f16},      {"u8", dtype::u8, {3}, u8},        {"bool", dtype::boolean, {3}, flags}};
    const std::map<std::string, std::string> metadata = {{"writer", "xlens"}, {"purpose", "round trip"}};

    // Into the fixture folder: `make_safetensors_fixtures.py --check DIR` loads it with safetensors.numpy.
    const std::string path = (fs::path(fixture("all_dtypes.safetensors")).parent_path() / "cpp_written.safetensors").string();
    write_safetensors(path, tensors, metadata);
    CHECK_FALSE(fs::exists(path + ".tmp"));

    const safetensors_file f(path);
    CHECK(f.metadata() == metadata);
    REQUIRE(f.tensors().size() == tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const tensor_ref& t = f.tensors()[i];
        CHECK(t.name == tensors[i].name);  // given order is byte order
        CHECK(t.type == tensors[i].type);
        CHECK(t.shape == tensors[i].shape);
        if (t.nbytes > 0) CHECK(std::memcmp(t.data, tensors[i].data, t.nbytes) == 0);
    }
    CHECK(xlens::io::load_le<std::uint64_t>(f.mapping().data()) % 8 == 0);
    CHECK(f.view<float, 2>("f32")(1, 2) == 1.5f);

    // Header-only file: no tensors, no metadata.
    test::scratch s("st", "write");
    write_safetensors(s.file("empty.safetensors"), {});
    CHECK(safetensors_file(s.file("empty.safetensors")).tensors().empty());
}

TEST_CASE("safetensors: write_safetensors refuses bad input and reports I/O failures") {
    test::scratch s("st", "writefail");
    const float v[2] = {1, 2};
    const std::string p = s.file("out.safetensors");
    expect_error<xlens::format_error>([&] { write_safetensors(p, {{"a", dtype::f32, {2}, v}, {"a", dtype::f32, {2}, v}}); },
                                      286, {"'a'", "twice"});
    expect_error<xlens::format_error>([&] { write_safetensors(p, {{"q", dtype::q4_0, {32}, v}}); }, 286, {"Q4_0"});
    expect_error<xlens::format_error>([&] { write_safetensors(p, {{"n", dtype::f32, {2}, nullptr}}); }, 286, {"'n'", "no data"});
    expect_error<xlens::format_error>([&] { write_safetensors(p, {{"__metadata__", dtype::f32, {2}, v}}); }, 286, {"reserved"});
    CHECK_FALSE(fs::exists(p));
    const std::string nowhere = s.file("no/such/dir/out.safetensors");
    expect_error<xlens::io_error>([&] { write_safetensors(nowhere, {{"a", dtype::f32, {2}, v}}); }, 110, {nowhere});
    // Renaming over a non-empty directory fails after the data is written: the .tmp must not linger.
    fs::create_directories(s.dir / "taken" / "inner");
    const std::string taken = s.file("taken");
    expect_error<xlens::io_error>([&] { write_safetensors(taken, {{"a", dtype::f32, {2}, v}}); }, 112, {taken});
    CHECK_FALSE(fs::exists(taken + ".tmp"));
}

TEST_CASE("safetensors: truncation at every byte is an xlens::error, never a crash") {
    const std::string header = R"({"__metadata__":{"k":"v"},"a":)" + f32x2 + R"([0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})";
    const std::string full = st_bytes(header, 11);
    test::scratch s("st", "trunc");
    const std::string path = s.file("t.safetensors");
    test::write_bytes(path, full);
    CHECK(safetensors_file(path).tensors().size() == 2);
    for (std::size_t k = 0; k < full.size(); ++k) {
        CAPTURE(k);
        test::write_bytes(path, full.substr(0, k));
        CHECK_THROWS_AS(safetensors_file{path}, xlens::error);
    }
}

TEST_CASE("safetensors: malformed headers are refused with distinct ids naming the file and field") {
    const std::string ok_a = R"("a":)" + f32x2 + "[0,8]}";
    expect_bad("short", 250, {"too short"});
    expect_bad(st_bytes("{}", 0, 1000), 251, {"header length 1000", "past the end"});
    expect_bad(st_bytes("{}", 0, std::uint64_t{1} << 63), 251, {"9223372036854775808"});
    expect_bad(st_bytes("{not json"), 253, {"not valid JSON"});
    expect_bad(st_bytes(""), 253, {"not valid JSON"});
    expect_bad(st_bytes("[1,2]"), 256, {"not an object"});
    expect_bad(st_bytes(std::string(100000, '[')), 254, {"deeper than 64"});
    expect_bad(st_bytes("{" + ok_a + "," + ok_a + "}", 8), 255, {"'a'", "twice"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8), 255, {"'dtype'"});
    expect_bad(st_bytes(R"({"a":3})"), 257, {"'a'", "not an object"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", 8), 258, {"'a'", "data_offsets"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8), 258, {"'a'", "'extra'"});
    expect_bad(st_bytes(R"({"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", 8), 259, {"'a'", "dtype"});
    expect_bad(st_bytes(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2), 260, {"'w'", "F8_E4M3"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), 261, {"'a'", "shape[0]", "-2"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8), 261, {"'a'", "shape[0]"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", 8), 261, {"'a'", "not an array"});
    expect_bad(st_bytes(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", 1), 262, {"'a'", "rank 9"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), 263, {"'a'", "data_offsets"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", 8), 263, {"'a'"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8), 264, {"'a'", "begin 8"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,8]}})", 8),
               265, {"'a'", "overflows"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})", 8), 265, {"'a'"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), 266, {"'a'", "needs 12"});
    expect_bad(st_bytes("{" + ok_a + "}", 4), 267, {"'a'", "beyond"});
    expect_bad(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})", 8),
               266, {"'a'"});
    expect_bad(st_bytes(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[1000,1008]}})", 8), 267, {"'a'", "beyond"});
    expect_bad(st_bytes("{" + ok_a + R"(,"b":)" + f32x2 + "[4,12]}}", 12), 268, {"'a'", "'b'", "overlap"});
    expect_bad(st_bytes("{" + ok_a + R"(,"b":)" + f32x2 + "[12,20]}}", 20), 269, {"'a'", "'b'", "gap"});
    expect_bad(st_bytes(R"({"a":)" + f32x2 + "[4,12]}}", 12), 269, {"'a'", "the header"});
    expect_bad(st_bytes("{" + ok_a + "}", 12), 270, {"'a'", "4 trailing bytes"});
    expect_bad(st_bytes("{}", 3), 270, {"3 trailing bytes"});
    expect_bad(st_bytes(R"({"__metadata__":[1]})"), 271, {"__metadata__"});
    expect_bad(st_bytes(R"({"__metadata__":{"n":3}})"), 272, {"__metadata__", "'n'"});
}

TEST_CASE("safetensors: the header-length cap applies even when the file is that large") {
    test::scratch s("st", "cap");
    const std::string path = s.file("big.safetensors");
    const std::uint64_t n = 100'000'001;
    test::write_bytes(path, st_bytes("{}", 0, n));
    fs::resize_file(path, 8 + n);  // sparse: no 100 MB written to disk
    expect_error<xlens::format_error>([&] { safetensors_file f(path); }, 252, {path, "cap"});
}

TEST_CASE("safetensors: pickled PyTorch checkpoints are refused with the conversion command") {
    test::scratch s("st", "pickle");
    const std::string bin = s.file("pytorch_model.bin");
    test::write_bytes(bin, std::string("\x80\x02}q\x00.", 6));
    for (const std::string& p : {bin, s.file("model.pt"), s.file("x.PTH"), s.file("last.ckpt")})
        expect_error<xlens::format_error>([&] { refuse_pickle(p); }, 285,
                                          {p, "pickled PyTorch", "arbitrary code", "safe_serialization=True", "save_pretrained"});
    expect_error<xlens::format_error>([&] { safetensors_checkpoint::open(bin); }, 285, {bin});
    expect_error<xlens::format_error>([&] { safetensors_checkpoint::open(s.dir.string()); }, 285,
                                      {"pytorch_model.bin", "from_pretrained('" + s.dir.string() + "')"});
    // A zip-format torch.save renamed to .safetensors still gets the hint instead of "bad length".
    const std::string zip = s.file("renamed.safetensors");
    test::write_bytes(zip, std::string("PK\x03\x04", 4) + std::string(60, '\0'));
    expect_error<xlens::format_error>([&] { safetensors_file f(zip); }, 285, {zip, "pickled"});
    CHECK_NOTHROW(refuse_pickle(s.file("model.safetensors")));
    fs::remove(bin);
    expect_error<xlens::format_error>([&] { safetensors_checkpoint::open(s.dir.string()); }, 281, {s.dir.string()});
}

TEST_CASE("safetensors: index.json shard names are checked against the folder and the shards") {
    test::scratch s("st", "index");
    const float v[2] = {1, 2};
    write_safetensors(s.file("s1.safetensors"), {{"w", dtype::f32, {2}, v}});
    write_safetensors(s.file("s2.safetensors"), {{"w", dtype::f32, {2}, v}, {"x", dtype::f32, {2}, v}});
    const std::string index = s.file("model.safetensors.index.json");
    auto with_map = [&](const std::string& map) {
        test::write_bytes(index, R"({"metadata":{"total_size":8},"weight_map":)" + map + "}");
    };
    auto open = [&] { return safetensors_checkpoint::open(index); };

    with_map(R"({"w":"s1.safetensors"})");
    CHECK(open().tensors().size() == 1);
    CHECK(safetensors_checkpoint::open(s.dir.string()).files().size() == 1);  // folder finds the index

    with_map(R"({"w":"missing.safetensors"})");
    expect_error<xlens::format_error>(open, 277, {index, "'w'", "missing.safetensors", "does not exist"});
    with_map(R"({"w":"../etc/passwd"})");
    expect_error<xlens::format_error>(open, 276, {index, "../etc/passwd"});
    with_map(R"({"w":"/etc/passwd"})");
    expect_error<xlens::format_error>(open, 276, {"/etc/passwd"});
    with_map(R"({"w":"s1.safetensors","y":"s1.safetensors"})");
    expect_error<xlens::format_error>(open, 278, {index, "'y'", "s1.safetensors"});
    with_map(R"({"w":"s1.safetensors","x":"s2.safetensors"})");
    expect_error<xlens::format_error>(open, 279, {"'w'", "s1.safetensors", "s2.safetensors"});
    with_map(R"({"w":"s1.safetensors","w":"s2.safetensors"})");
    expect_error<xlens::format_error>(open, 255, {index, "'w'"});
    with_map(R"({"w":3})");
    expect_error<xlens::format_error>(open, 275, {"'w'"});
    test::write_bytes(index, R"({"metadata":{}})");
    expect_error<xlens::format_error>(open, 275, {index, "weight_map"});
    test::write_bytes(index, "{");
    expect_error<xlens::format_error>(open, 253, {index});
}
