// Tests for xlens/io/gguf.hpp: the gguf-py fixture (metadata of every type, shapes), hand-built
// malformed files (each refused with its id, the path and the field in the message), truncation at
// every byte, random corruption, and the real SmolLM2 GGUF when it is present.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "test_data.hpp"
#include "xlens/io/gguf.hpp"

using xlens::io::dtype;
using xlens::io::gguf_file;
using xlens::io::gguf_type;

namespace {

using bytes = std::vector<std::uint8_t>;

/// Whole contents of a file; empty if it cannot be read.
bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// The fixture file gguf/`name`, or a failed test saying how to make it.
std::string fixture_path(const std::string& name) { return test::fixture("gguf/" + name, test::make_gguf_fixtures); }

/// A file in /tmp holding given bytes, removed when the object dies.
struct temp_file {
    std::string path;
    explicit temp_file(const bytes& b) {
        static int counter = 0;
        path = "/tmp/xlens_gguf_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".gguf";
        write(b);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file() { std::remove(path.c_str()); }
    /// Replaces the contents.
    void write(const bytes& b) const {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
};

/// Appends GGUF fields in file encoding.
struct builder {
    bytes b;
    /// Appends a little-endian integer or float.
    template <class T>
    builder& num(T v) {
        std::uint8_t raw[sizeof(T)];
        std::memcpy(raw, &v, sizeof(T));
        b.insert(b.end(), raw, raw + sizeof(T));
        return *this;
    }
    builder& u8(std::uint8_t v) { return num(v); }
    builder& u32(std::uint32_t v) { return num(v); }
    builder& u64(std::uint64_t v) { return num(v); }
    /// Appends a length-prefixed string.
    builder& str(const std::string& s) {
        u64(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    /// magic, version, tensor count, kv count.
    builder& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
        b.insert(b.end(), {'G', 'G', 'U', 'F'});
        return u32(version).u64(n_tensors).u64(n_kv);
    }
    /// A UINT32 metadata entry.
    builder& kv_u32(const std::string& key, std::uint32_t v) { return str(key).u32(4).u32(v); }
    /// A STRING metadata entry.
    builder& kv_str(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
    /// A tensor info; `ne` innermost first, as in the file.
    builder& tensor(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset) {
        str(name).u32(static_cast<std::uint32_t>(ne.size()));
        for (auto d : ne) u64(d);
        return u32(type).u64(offset);
    }
    /// Zero bytes up to a multiple of `align`.
    builder& pad(std::size_t align) {
        while (b.size() % align != 0) b.push_back(0);
        return *this;
    }
    /// `n` bytes of `fill`.
    builder& fill(std::size_t n, std::uint8_t v = 0) {
        b.insert(b.end(), n, v);
        return *this;
    }
};

constexpr std::uint32_t t_f32 = 0, t_q8_0 = 8;

/// A valid file whose last byte is tensor data: 2 keys, "a" F32 [2, 4] at 0, "b" Q8_0 [32] at 32.
bytes small_valid() {
    builder f;
    f.header(2, 2).kv_str("general.architecture", "llama");
    f.str("test.arr").u32(9).u32(2).u64(3).num<std::uint16_t>(1).num<std::uint16_t>(2).num<std::uint16_t>(3);
    f.tensor("a", {4, 2}, t_f32, 0).tensor("b", {32}, t_q8_0, 32).pad(32);
    for (int i = 0; i < 8; ++i) f.num(static_cast<float>(i));
    f.num<std::uint16_t>(0x3C00).fill(32, 1);
    return f.b;
}

/// A one-tensor file with the given tensor info fields, and `data` bytes after the aligned header.
bytes one_tensor(std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset, std::size_t data,
                 const std::string& name = "w") {
    builder f;
    f.header(1, 0).tensor(name, std::move(ne), type, offset).pad(32).fill(data);
    return f.b;
}

/// Checks that opening `b` throws format_error `id`, with the path first and every needle in the message.
void check_refused(const bytes& b, int id, std::initializer_list<const char*> needles) {
    temp_file f(b);
    try {
        gguf_file g(f.path);
        FAIL_CHECK("accepted a file that should fail with id " << id);
    } catch (const xlens::format_error& e) {
        const std::string m = e.what();
        CAPTURE(m);
        CHECK(e.id() == id);
        CHECK(m.find("] " + f.path + ": ") != std::string::npos);
        for (const char* n : needles)
            CHECK_MESSAGE(m.find(n) != std::string::npos, "missing '" << std::string(n) << "'");
    }
}

/// Opens `b`; true if it opened, false if it threw an xlens::error (anything else fails the test).
bool opens(const temp_file& f) {
    try {
        gguf_file g(f.path);
        for (const auto& t : g.tensors())  // touching every byte proves the spans are inside the mapping
            if (xlens::io::is_float_convertible(t.type)) (void)xlens::io::to_f32(t);
        return true;
    } catch (const xlens::error&) {
        return false;
    }
}

}  // namespace

// ---- the gguf-py fixture ---------------------------------------------------------------------------

TEST_CASE("gguf: fixture metadata of every value type") {
    gguf_file g(fixture_path("fixture.gguf"));
    CHECK(g.version() == 3);
    CHECK(g.alignment() == 32);
    CHECK(g.data_offset() % 32 == 0);
    CHECK(g.get_string("general.architecture") == "xlens-test");
    CHECK(g.get_uint("test.u8") == 200);
    CHECK(g.get_int("test.i8") == -100);
    CHECK(g.get_uint("test.u16") == 60000);
    CHECK(g.get_int("test.i16") == -30000);
    CHECK(g.get_uint("test.u32") == 4000000000u);
    CHECK(g.get_int("test.i32") == -2000000000);
    CHECK(g.get_float("test.f32") == static_cast<double>(0.1f));
    CHECK(g.get_uint("test.u64") == (std::uint64_t{1} << 63) + 5);
    CHECK(g.get_int("test.i64") == -(std::int64_t{1} << 62) - 3);
    CHECK(g.get_float("test.f64") == 3.141592653589793);
    CHECK(g.get_bool("test.bool_true"));
    CHECK_FALSE(g.get_bool("test.bool_false"));
    CHECK(g.get_string("test.string") == "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
    CHECK(g.get_string("test.empty_string").empty());
    CHECK(g.get_int_array("test.arr_u8") == std::vector<std::int64_t>{1, 2, 255});
    CHECK(g.get_int_array("test.arr_i16") == std::vector<std::int64_t>{-5, 0, 5});
    CHECK(g.get_int_array("test.arr_u32") == std::vector<std::int64_t>{7, 4000000000});
    CHECK(g.get_int_array("test.arr_i32") == std::vector<std::int64_t>{-1, 0, 7});
    CHECK(g.get_int_array("test.arr_i64") == std::vector<std::int64_t>{INT64_MIN, INT64_MAX});
    CHECK(std::get<std::vector<std::uint64_t>>(g.value("test.arr_u64").data) == std::vector<std::uint64_t>{UINT64_MAX});
    CHECK(g.get_float_array("test.arr_f32") == std::vector<double>{0.5, -1.25, static_cast<double>(0.1f)});
    CHECK(g.get_float_array("test.arr_f64") == std::vector<double>{0.1, -2.5e300});
    CHECK(std::get<std::vector<bool>>(g.value("test.arr_bool").data) == std::vector<bool>{true, false, true});
    CHECK(g.get_string_array("test.arr_str") == std::vector<std::string>{"a", "", "\xc3\xbcn\xc3\xaf", "tab\there"});
    const auto& nested = g.value("test.arr_nested");
    CHECK(nested.is_array());
    CHECK(nested.element_type == gguf_type::array);
    CHECK(nested.size() == 2);
    CHECK(xlens::io::to_string(nested) == "[[1, 2], [3]]");
    CHECK(g.value("test.u16").type == gguf_type::uint16);
    CHECK(g.value("test.arr_f32").element_type == gguf_type::float32);
    CHECK(xlens::io::to_string(g.value("test.f32")) == "0.100000001");
    CHECK(xlens::io::to_string(g.value("test.arr_str"), 2) == "[\"a\", \"\", ... (4 items)]");
    const auto keys = g.keys();
    REQUIRE(keys.size() == 27);
    CHECK(keys.front() == "general.architecture");
    CHECK(keys.back() == "llama.block_count");
}

TEST_CASE("gguf: fixture tensor shapes are row-major, data inside the file and aligned") {
    gguf_file g(fixture_path("fixture.gguf"));
    struct expect {
        const char* name;
        dtype type;
        std::vector<std::uint64_t> shape;
    };
    const expect want[] = {
        {"f32.matrix", dtype::f32, {4, 8}},          {"f16.cube", dtype::f16, {2, 3, 16}},
        {"bf16.vector", dtype::bf16, {64}},          {"f64.matrix", dtype::f64, {3, 5}},
        {"i32.vector", dtype::i32, {7}},             {"i8.vector", dtype::i8, {5}},
        {"q8_0.4x64", dtype::q8_0, {4, 64}},         {"q4_0.2x2x96", dtype::q4_0, {2, 2, 96}},
        {"q4_1.5x32", dtype::q4_1, {5, 32}},         {"q4_k.3x512", dtype::q4_k, {3, 512}},
        {"q6_k.2x256", dtype::q6_k, {2, 256}},       {"q5_0.3x64", dtype::q5_0, {3, 64}},
        {"q5_1.2x96", dtype::q5_1, {2, 96}},         {"q2_k.2x512", dtype::q2_k, {2, 512}},
        {"q3_k.3x256", dtype::q3_k, {3, 256}},       {"q5_k.2x512", dtype::q5_k, {2, 512}},
        {"iq4_nl.4x32", dtype::iq4_nl, {4, 32}},     {"iq4_xs.2x512", dtype::iq4_xs, {2, 512}},
    };
    REQUIRE(g.tensors().size() == std::size(want));
    const bytes whole = read_file(g.path());
    for (std::size_t i = 0; i < std::size(want); ++i) {
        const auto& t = g.tensors()[i];
        CAPTURE(t.name);
        CHECK(t.name == want[i].name);
        CHECK(t.type == want[i].type);
        CHECK(t.shape == want[i].shape);
        CHECK(t.nbytes == xlens::io::byte_size(t.type, t.elements(), t.name));
        CHECK(t.file == &g.path());
        CHECK(g.find(t.name) == &t);
        // Same bytes as the file at that place: the mapping and the offsets agree (gguf-py puts the
        // first tensor at offset 0 of the data section).
        const std::uint64_t at = g.data_offset() + static_cast<std::uint64_t>(t.data - g.tensors()[0].data);
        CHECK(at % 32 == 0);
        REQUIRE(at + t.nbytes <= whole.size());
        CHECK(std::memcmp(t.data, whole.data() + at, t.nbytes) == 0);
    }
    const auto& i32 = g.at("i32.vector");
    CHECK_THROWS_AS(xlens::io::to_f32(i32), xlens::format_error);
    CHECK(g.find("nope") == nullptr);
}

TEST_CASE("gguf: general.alignment = 64 is honoured") {
    gguf_file g(fixture_path("fixture_align64.gguf"));
    CHECK(g.alignment() == 64);
    CHECK(g.get_uint("general.alignment") == 64);
    CHECK(g.data_offset() % 64 == 0);
    REQUIRE(g.tensors().size() == 2);
    const auto* base = g.tensors()[0].data - g.data_offset();
    for (const auto& t : g.tensors()) CHECK((t.data - base) % 64 == 0);
}

TEST_CASE("gguf: version 2 files read like version 3") {
    bytes b = read_file(fixture_path("fixture.gguf"));
    b[4] = 2;
    temp_file f(b);
    gguf_file g(f.path);
    CHECK(g.version() == 2);
    CHECK(g.tensors().size() == 18);
}

TEST_CASE("gguf: getters refuse missing keys, other types and out-of-range values") {
    gguf_file g(fixture_path("fixture.gguf"));
    auto expect_error = [&](auto&& call, int id, const char* key) {
        try {
            call();
            FAIL_CHECK("no error for " << std::string(key));
        } catch (const xlens::format_error& e) {
            const std::string m = e.what();
            CHECK(e.id() == id);
            CHECK(m.find(g.path()) != std::string::npos);
            CHECK(m.find(std::string("'") + key + "'") != std::string::npos);
        }
    };
    expect_error([&] { (void)g.get_uint("no.such.key"); }, 240, "no.such.key");
    expect_error([&] { (void)g.value("no.such.key"); }, 240, "no.such.key");
    expect_error([&] { (void)g.get_string("test.u32"); }, 241, "test.u32");
    expect_error([&] { (void)g.get_float("test.u32"); }, 241, "test.u32");
    expect_error([&] { (void)g.get_uint("test.string"); }, 241, "test.string");
    expect_error([&] { (void)g.get_bool("test.u8"); }, 241, "test.u8");
    expect_error([&] { (void)g.get_string_array("test.arr_i32"); }, 241, "test.arr_i32");
    expect_error([&] { (void)g.get_int_array("test.arr_str"); }, 241, "test.arr_str");
    expect_error([&] { (void)g.get_float_array("test.f32"); }, 241, "test.f32");
    expect_error([&] { (void)g.get_uint("test.i8"); }, 242, "test.i8");
    expect_error([&] { (void)g.get_int("test.u64"); }, 242, "test.u64");
    expect_error([&] { (void)g.get_int_array("test.arr_u64"); }, 242, "test.arr_u64");
    expect_error([&] { (void)g.get_uint("test.string", 7); }, 241, "test.string");  // present: no fallback
    CHECK(g.get_uint("no.such.key", 7) == 7);
    CHECK(g.get_int("no.such.key", -7) == -7);
    CHECK(g.get_float("no.such.key", 0.5) == 0.5);
    CHECK(g.get_string("no.such.key", "x") == "x");
    CHECK(g.get_bool("no.such.key", true));
    CHECK(g.get_uint("test.u16", 1) == 60000);  // present
    CHECK(g.get_int("llama.block_count") == 30);
}

TEST_CASE("gguf: moving a gguf_file keeps tensor views and their file pointer valid") {
    gguf_file a(fixture_path("fixture.gguf"));
    const auto* data = a.at("q4_1.5x32").data;
    gguf_file b(std::move(a));
    CHECK(b.at("q4_1.5x32").data == data);
    CHECK(b.at("q4_1.5x32").file == &b.path());
    CHECK(b.at("q4_1.5x32").where().find("fixture.gguf") != std::string::npos);
    try {
        (void)b.at("blk.0.missing.weight");
        FAIL_CHECK("missing tensor found");
    } catch (const xlens::weights_error& e) {
        CHECK(e.id() == 401);
        CHECK(std::string(e.what()).find("blk.0.missing.weight") != std::string::npos);
        CHECK(std::string(e.what()).find(b.path()) != std::string::npos);
    }
}

// ---- malformed files -------------------------------------------------------------------------------

TEST_CASE("gguf: the hand-built small file is valid") {
    temp_file f(small_valid());
    gguf_file g(f.path);
    REQUIRE(g.tensors().size() == 2);
    CHECK(g.at("a").shape == std::vector<std::uint64_t>{2, 4});
    CHECK(xlens::io::to_f32(g.at("a"))[7] == 7.0f);
    CHECK(xlens::io::to_f32(g.at("b"))[0] == 1.0f);
    CHECK(g.get_int_array("test.arr") == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("gguf: truncation at every byte is refused") {
    const bytes full = small_valid();
    temp_file f(full);
    for (std::size_t n = 0; n < full.size(); ++n) {
        f.write(bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
        CAPTURE(n);
        CHECK_THROWS_AS(gguf_file(f.path), xlens::error);
    }
}

TEST_CASE("gguf: truncation of the gguf-py fixture at every byte before its last tensor's end") {
    const std::string path = fixture_path("fixture.gguf");
    const bytes full = read_file(path);
    // gguf-py pads after the last tensor; cuts in that padding leave a valid file. (Its first tensor
    // sits at offset 0 of the data section, which locates the others.)
    std::size_t end = 0;
    {
        gguf_file g(path);
        for (const auto& t : g.tensors())
            end = std::max(end, static_cast<std::size_t>(g.data_offset() + t.nbytes +
                                                         static_cast<std::uint64_t>(t.data - g.tensors()[0].data)));
    }
    temp_file f(full);
    int refused = 0;
    for (std::size_t n = 0; n < end; ++n) {
        f.write(bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
        refused += opens(f) ? 0 : 1;
    }
    CHECK(refused == static_cast<int>(end));
}

TEST_CASE("gguf: random corruption never crashes") {
    std::mt19937 rng(1234);
    for (const bytes& base : {small_valid(), read_file(fixture_path("fixture.gguf"))}) {
        temp_file f(base);
        for (int round = 0; round < 400; ++round) {
            bytes b = base;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int k = 0; k < flips; ++k) {
                // Mostly the header, where the structure is; sometimes anywhere.
                const std::size_t span = rng() % 4 == 0 ? b.size() : std::min<std::size_t>(b.size(), 1200);
                b[rng() % span] = static_cast<std::uint8_t>(rng());
            }
            f.write(b);
            (void)opens(f);  // either answer is fine; ASan/UBSan and the absence of other exceptions are the test
        }
    }
}

TEST_CASE("gguf: header errors") {
    check_refused({}, 210, {"magic", "truncated"});
    check_refused({'G', 'G', 'U', 'X', 3, 0, 0, 0}, 211, {"not a GGUF file", "47 47 55 58"});
    check_refused(builder().header(0, 0, 1).b, 212, {"version 1"});
    check_refused(builder().header(0, 0, 0x03000000u).b, 212, {"big-endian"});
    check_refused(builder().header(0, 0, 4).b, 212, {"version 4"});
    check_refused(builder().header(std::uint64_t{1} << 60, 0).b, 213, {"tensor count", "1152921504606846976"});
    check_refused(builder().header(0, std::uint64_t{1} << 60).fill(64).b, 214, {"metadata key count"});
    check_refused(builder().header(3, 0).fill(80).b, 213, {"tensor count 3"});  // 80 bytes hold 2 tensor infos
}

TEST_CASE("gguf: metadata errors") {
    check_refused(builder().header(0, 1).u64(std::uint64_t{1} << 60).fill(16).b, 215, {"metadata entry #0", "key"});
    check_refused(builder().header(0, 1).str("k.str").u32(8).u64(100).fill(10).b, 215, {"'k.str'", "100"});
    // An array claiming 2^60 strings must fail before anything is allocated for them.
    check_refused(builder().header(0, 1).str("k.strings").u32(9).u32(8).u64(std::uint64_t{1} << 60).fill(32).b, 216,
                  {"'k.strings'", "array length"});
    check_refused(builder().header(0, 1).str("k.u8s").u32(9).u32(0).u64(17).fill(16).b, 216, {"'k.u8s'"});
    check_refused(builder().header(0, 1).str("k.odd").u32(13).fill(8).b, 217, {"'k.odd'", "value type id 13"});
    check_refused(builder().header(0, 1).str("k.arr").u32(9).u32(99).u64(1).fill(8).b, 217, {"'k.arr'", "99"});
    builder deep;
    deep.header(0, 1).str("k.deep").u32(9);
    for (int i = 0; i < 20; ++i) deep.u32(9).u64(1);
    check_refused(deep.u32(0).u64(1).u8(0).b, 218, {"'k.deep'", "nested"});
    check_refused(builder().header(0, 1).str("k.flag").u32(7).u8(2).b, 219, {"'k.flag'", "bool"});
    check_refused(builder().header(0, 2).kv_u32("k.same", 1).kv_u32("k.same", 2).b, 220, {"'k.same'", "twice"});
    check_refused(builder().header(0, 1).str("general.alignment").u32(10).u64(32).b, 221,
                  {"general.alignment", "UINT64"});
    check_refused(builder().header(0, 1).kv_u32("general.alignment", 0).b, 222, {"general.alignment", "is 0"});
    check_refused(builder().header(0, 1).kv_u32("general.alignment", 48).b, 222, {"general.alignment", "48"});
}

TEST_CASE("gguf: tensor info errors") {
    check_refused(one_tensor({32, 1, 1, 1, 1}, t_f32, 0, 128), 223, {"tensor 'w'", "n_dims is 5"});
    check_refused(one_tensor({}, t_f32, 0, 128), 223, {"tensor 'w'", "n_dims is 0"});
    check_refused(one_tensor({4, 0}, t_f32, 0, 128), 224, {"tensor 'w'", "ne[1] is 0"});
    check_refused(one_tensor({std::uint64_t{1} << 63}, t_f32, 0, 128), 224, {"tensor 'w'", "ne[0]"});
    check_refused(one_tensor({std::uint64_t{1} << 32, std::uint64_t{1} << 32}, t_f32, 0, 128), 225,
                  {"tensor 'w'", "element count"});
    check_refused(one_tensor({std::uint64_t{1} << 62}, t_f32, 0, 128), 225, {"tensor 'w'", "byte size"});
    check_refused(one_tensor({32}, 99, 0, 128, "blk.0.odd"), 226, {"tensor 'blk.0.odd'", "ggml type 99"});
    check_refused(one_tensor({256}, 17, 0, 256), 227, {"tensor 'w'", "IQ2_XS"});
    check_refused(one_tensor({33}, t_q8_0, 0, 128), 228, {"tensor 'w'", "ne[0] = 33", "32"});
    check_refused(one_tensor({4}, t_f32, 4, 128), 229, {"tensor 'w'", "offset 4"});
    check_refused(one_tensor({16}, t_f32, 32, 64), 230, {"tensor 'w'", "past the end"});
    check_refused(one_tensor({16}, t_f32, 0, 63), 230, {"tensor 'w'", "past the end"});
    check_refused(one_tensor({16}, t_f32, std::uint64_t{1} << 63, 64), 230, {"tensor 'w'"});
    check_refused(one_tensor({16}, t_f32, UINT64_MAX - 31, 64), 230, {"tensor 'w'"});
    builder overlap;
    overlap.header(2, 0).tensor("x", {16}, t_f32, 0).tensor("y", {8}, t_f32, 32).pad(32).fill(64);
    check_refused(overlap.b, 231, {"'y'", "overlaps", "'x'"});
    builder twice;
    twice.header(2, 0).tensor("x", {8}, t_f32, 0).tensor("x", {8}, t_f32, 32).pad(32).fill(64);
    check_refused(twice.b, 232, {"tensor 'x'", "twice"});
    builder bad_name;
    bad_name.header(1, 0).u64(std::uint64_t{1} << 40).fill(40);
    check_refused(bad_name.b, 215, {"tensor info #0", "name"});
}

// ---- the real model ----------------------------------------------------------------------------------

TEST_CASE("gguf: SmolLM2-135M-Instruct Q4_1 opens with the expected inventory") {
    std::vector<std::string> candidates;  // $XLENS_CACHE (tools/setup.sh), then the checkout's default cache
    if (const char* cache = std::getenv("XLENS_CACHE"); cache != nullptr && *cache != '\0')
        candidates.push_back(std::string(cache) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf");
#ifdef XLENS_SOURCE_DIR
    candidates.push_back(XLENS_SOURCE_DIR "/build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
#endif
    std::string path, looked;
    for (const auto& c : candidates) {
        looked += " '" + c + "'";
        if (path.empty() && std::ifstream(c)) path = c;
    }
    if (path.empty()) {
        MESSAGE("skipped: SmolLM2-135M-Instruct.Q4_1.gguf not found (tools/setup.sh fetches it); looked at"
                << (looked.empty() ? std::string(" nothing: set XLENS_CACHE") : looked));
        return;
    }
    gguf_file g(path);
    CHECK(g.version() == 3);
    CHECK(g.tensors().size() == 272);
    int q4_1 = 0, q8_0 = 0, f32 = 0;
    for (const auto& t : g.tensors()) {
        q4_1 += t.type == dtype::q4_1;
        q8_0 += t.type == dtype::q8_0;
        f32 += t.type == dtype::f32;
    }
    CHECK(q4_1 == 210);
    CHECK(q8_0 == 1);
    CHECK(f32 == 61);
    CHECK(g.at("token_embd.weight").type == dtype::q8_0);
    CHECK(g.at("token_embd.weight").shape == std::vector<std::uint64_t>{49152, 576});
    CHECK(g.at("blk.0.ffn_down.weight").shape == std::vector<std::uint64_t>{576, 1536});
    CHECK(g.at("blk.0.attn_norm.weight").shape == std::vector<std::uint64_t>{576});
    CHECK(g.get_string("general.architecture") == "llama");
    CHECK(g.get_uint("llama.block_count") == 30);
    CHECK(g.get_uint("llama.embedding_length") == 576);
    CHECK(g.get_uint("llama.attention.head_count") == 9);
    CHECK(g.get_uint("llama.attention.head_count_kv") == 3);
    CHECK(g.get_float("llama.rope.freq_base") == 100000.0);
    CHECK(g.get_float("llama.attention.layer_norm_rms_epsilon") == static_cast<double>(1e-5f));
    CHECK(g.get_string_array("tokenizer.ggml.tokens").size() == 49152);
    CHECK(g.get_string_array("tokenizer.ggml.merges").size() == 48900);
    CHECK(g.get_int_array("tokenizer.ggml.token_type").size() == 49152);

    // gguf-py's values for a few real tensors, if the fixture script was given --model.
    const std::string dir = test::data_dir() + "/gguf";
    for (const char* name :
         {"blk.0.attn_q.weight", "blk.29.ffn_down.weight", "output_norm.weight", "token_embd.weight"}) {
        const std::string tensor = name;
        CAPTURE(tensor);
        const bytes want = read_file(dir + "/model." + tensor + ".f32");
        if (want.empty())
            FAIL("gguf-py's values for " << tensor << " missing in " << dir << ": run the fixture script with --model "
                                         << path << "; " << test::make_gguf_fixtures);
        const auto got = xlens::io::to_f32(g.at(name));
        REQUIRE(want.size() <= got.size() * 4);  // token_embd: only its first rows are stored
        CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
    }
}
