// xlens/io/npy.hpp — NumPy .npy files, so activations and logits move to and from Python unchanged.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a version byte pair, a little-endian header
// length (2 bytes in v1.0, 4 in v2.0/v3.0), an ASCII Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and ended by '\n'
// so the data starts 64-byte aligned, then the raw C-order values. xlens writes v1.0 (v2.0 when the
// header does not fit 65535 bytes) and reads v1.0-v3.0, little-endian plain types, C order only.
//
// Error ids (format_error; every message starts with the file path):
//   290 shorter than the preamble, or no "\x93NUMPY" magic    295 fortran_order is True
//   291 unsupported format version                            296 shape has too many dims or overflows
//   292 header length runs past the end of the file           297 payload size != shape x item size
//   293 header is not the expected dict literal               298 write_npy given no data for a non-empty shape
//   294 descr is not a supported dtype (e.g. '>f4', '<c8')
//   io_error 110-112 when writing (see io/file_writer.hpp)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "xlens/error.hpp"
#include "xlens/io/file_writer.hpp"  // detail::write_file_atomically
#include "xlens/io/mapped_file.hpp"
#include "xlens/io/tensor_ref.hpp"
#include "xlens/io/tensor_view.hpp"  // detail::always_false

namespace xlens::io {

/// The contents of a .npy file, with every value converted to float32.
struct npy_array {
    dtype type = dtype::f32;              // element type stored in the file
    std::vector<std::uint64_t> shape;     // C order, outermost first; empty for a 0-d array
    std::vector<float> data;              // elements() values
    std::vector<std::int64_t> integers;   // exact values for integer and bool files (floats would round
                                          // ids above 2^24); empty for floating-point files

    std::uint64_t elements() const {
        std::uint64_t n = 1;
        for (auto d : shape) n *= d;  // read_npy checked the product
        return n;
    }
    /// A copy of the values as an xt::xarray<float> of `shape`.
    xt::xarray<float> to_xarray() const {
        std::vector<std::size_t> s(shape.begin(), shape.end());
        xt::xarray<float> a(s);
        std::copy(data.begin(), data.end(), a.data());
        return a;
    }
};

/// Writes `data` (elements(shape) values of T, C order) as .npy. T is float, double, int8/16/32/64_t
/// or uint8_t. Throws format_error 298 (null data), io_error 110-112 naming the path.
template <class T>
void write_npy(const std::string& path, const T* data, const std::vector<std::uint64_t>& shape);

/// Writes an xtensor expression (evaluated in row-major order) as .npy; see write_npy above.
template <class E>
void write_npy(const std::string& path, const xt::xexpression<E>& expression);

/// Reads and validates a .npy file. Throws io_error 101-103, format_error 290-297 naming the file.
npy_array read_npy(const std::string& path);

// ==== implementation ==============================================================================

namespace detail {

inline constexpr std::size_t npy_max_rank = 64;  // numpy's own NPY_MAXDIMS

/// The descr numpy writes for T on a little-endian host.
template <class T>
constexpr const char* npy_descr() {
    if constexpr (std::is_same_v<T, float>) return "<f4";
    else if constexpr (std::is_same_v<T, double>) return "<f8";
    else if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
    else if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
    else if constexpr (std::is_same_v<T, std::int16_t>) return "<i2";
    else if constexpr (std::is_same_v<T, std::int8_t>) return "|i1";
    else if constexpr (std::is_same_v<T, std::uint8_t>) return "|u1";
    else static_assert(always_false<T>, "write_npy supports float, double, int64_t, int32_t, int16_t, int8_t, uint8_t");
}

/// Preamble + padded header for an array of `descr` and `shape`. `version` 0 picks v1.0 when the
/// header fits its 2-byte length, else v2.0; tests pass 2 to exercise the v2.0 layout.
inline std::string npy_header(const std::string& descr, const std::vector<std::uint64_t>& shape, int version = 0) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
    dict += shape.size() == 1 ? ",), }" : "), }";
    if (version == 0) version = dict.size() + 1 + 10 + 63 <= 65535 ? 1 : 2;
    const std::size_t prefix = version == 1 ? 10 : 12;
    dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
    dict += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(version);
    out += '\0';
    for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
    return out + dict;
}

/// Writes a prepared header and payload, atomically.
inline void write_npy_bytes(const std::string& path, const std::string& header, const void* data,
                            std::uint64_t nbytes) {
    if (nbytes > 0 && data == nullptr) throw format_error(298, path + ": write_npy given no data for a non-empty shape");
    write_file_atomically(path, {{header.data(), header.size()}, {data, static_cast<std::size_t>(nbytes)}});
}

/// A cursor over the header dict literal; every failure is format_error 293 quoting the header.
struct npy_dict_reader {
    const char* p;
    const char* end;
    const std::string& path;
    std::string text;

    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(293, path + ": npy header " + text.substr(0, 200) + " is malformed: " + what);
    }
    void skip_space() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    }
    bool take(char c) {
        skip_space();
        if (p < end && *p == c) return ++p, true;
        return false;
    }
    void expect(char c) {
        if (!take(c)) fail(std::string("expected '") + c + "'");
    }
    std::string quoted() {
        skip_space();
        if (p >= end || (*p != '\'' && *p != '"')) fail("expected a quoted string");
        const char q = *p++;
        const char* start = p;
        while (p < end && *p != q) ++p;
        if (p >= end) fail("unterminated string");
        return std::string(start, p++);
    }
    bool boolean() {
        skip_space();
        for (auto [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
            const std::size_t n = std::strlen(word);
            if (static_cast<std::size_t>(end - p) >= n && std::memcmp(p, word, n) == 0) return p += n, value;
        }
        fail("fortran_order is not True or False");
    }
    std::vector<std::uint64_t> tuple() {
        expect('(');
        std::vector<std::uint64_t> dims;
        while (!take(')')) {
            skip_space();
            if (p >= end || *p < '0' || *p > '9') fail("shape holds something other than non-negative integers");
            std::uint64_t v = 0;
            for (; p < end && *p >= '0' && *p <= '9'; ++p) {
                if (v > (UINT64_MAX - 9) / 10) throw format_error(296, path + ": a shape dimension overflows 64 bits");
                v = v * 10 + static_cast<std::uint64_t>(*p - '0');
            }
            if (p < end && *p == 'L') ++p;  // Python 2 numpy wrote longs as 3L
            dims.push_back(v);
            if (dims.size() > npy_max_rank)
                throw format_error(296, path + ": shape has more than " + std::to_string(npy_max_rank) + " dimensions");
            if (!take(',')) {
                expect(')');
                break;
            }
        }
        return dims;
    }
};

/// Item size and xlens dtype for a descr, or 0 if unsupported. One-byte types carry no byte order.
inline std::size_t npy_parse_descr(const std::string& descr, dtype& type) {
    if (descr.size() != 3) return 0;
    const char order = descr[0];
    const std::string kind = descr.substr(1);
    static const struct { const char* kind; dtype type; std::size_t size; } known[] = {
        {"f4", dtype::f32, 4}, {"f8", dtype::f64, 8}, {"f2", dtype::f16, 2}, {"i8", dtype::i64, 8},
        {"i4", dtype::i32, 4}, {"i2", dtype::i16, 2}, {"i1", dtype::i8, 1},  {"u1", dtype::u8, 1},
        {"b1", dtype::boolean, 1}};
    for (const auto& k : known) {
        if (kind != k.kind) continue;
        const bool order_ok = k.size == 1 ? (order == '|' || order == '<' || order == '>' || order == '=') : order == '<';
        if (!order_ok) return 0;
        type = k.type;
        return k.size;
    }
    return 0;
}

}  // namespace detail

template <class T>
void write_npy(const std::string& path, const T* data, const std::vector<std::uint64_t>& shape) {
    std::uint64_t n = sizeof(T);
    for (auto d : shape) n = xlens::detail::checked_mul(n, d, path);
    detail::write_npy_bytes(path, detail::npy_header(detail::npy_descr<T>(), shape), data, n);
}

template <class E>
void write_npy(const std::string& path, const xt::xexpression<E>& expression) {
    using T = std::decay_t<typename E::value_type>;
    const xt::xarray<T, xt::layout_type::row_major> a = expression.derived_cast();  // C order, contiguous
    write_npy(path, a.data(), std::vector<std::uint64_t>(a.shape().begin(), a.shape().end()));
}

inline npy_array read_npy(const std::string& path) {
    const mapped_file file(path);
    const std::uint8_t* p = file.data();
    const std::size_t size = file.size();
    if (size < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
        throw format_error(290, path + ": not a .npy file (no \\x93NUMPY magic in the first 10 bytes)");
    const int major = p[6], minor = p[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        throw format_error(291, path + ": npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                                    " is not supported (1.0, 2.0, 3.0 are)");
    const std::size_t prefix = major == 1 ? 10 : 12;
    if (size < prefix) throw format_error(290, path + ": file ends inside the npy preamble");
    const std::uint64_t header_len = major == 1 ? load_le<std::uint16_t>(p + 8) : load_le<std::uint32_t>(p + 8);
    if (header_len > size - prefix)
        throw format_error(292, path + ": npy header length " + std::to_string(header_len) + " runs past the end of the file");

    const char* text = reinterpret_cast<const char*>(p + prefix);
    detail::npy_dict_reader r{text, text + header_len, path, std::string(text, header_len)};
    std::string descr;
    bool fortran = false, have_descr = false, have_fortran = false, have_shape = false;
    std::vector<std::uint64_t> shape;
    r.expect('{');
    while (!r.take('}')) {
        const std::string key = r.quoted();
        r.expect(':');
        bool* seen = key == "descr" ? &have_descr : key == "fortran_order" ? &have_fortran : key == "shape" ? &have_shape : nullptr;
        if (seen == nullptr) r.fail("unknown key '" + key + "'");
        if (*seen) r.fail("key '" + key + "' appears twice");
        *seen = true;
        if (key == "descr") {
            r.skip_space();
            if (r.p < r.end && *r.p != '\'' && *r.p != '"')
                throw format_error(294, path + ": npy descr is not a plain type string (structured arrays are not supported)");
            descr = r.quoted();
        } else if (key == "fortran_order") {
            fortran = r.boolean();
        } else {
            shape = r.tuple();
        }
        if (!r.take(',')) {
            r.expect('}');
            break;
        }
    }
    r.skip_space();
    if (r.p != r.end) r.fail("unexpected text after the closing brace");
    if (!have_descr || !have_fortran || !have_shape) r.fail("it needs the keys 'descr', 'fortran_order' and 'shape'");

    npy_array out;
    const std::size_t item = detail::npy_parse_descr(descr, out.type);
    if (item == 0)
        throw format_error(294, path + ": npy descr '" + descr + "' is not supported (little-endian f2/f4/f8, "
                                       "i1/i2/i4/i8, u1, b1 are)");
    if (fortran)
        throw format_error(295, path + ": fortran_order is True; save a C-order array (np.ascontiguousarray)");
    std::uint64_t n = 1;
    for (auto d : shape) {
        if (d != 0 && n > UINT64_MAX / d) throw format_error(296, path + ": npy shape element count overflows 64 bits");
        n *= d;
    }
    const std::uint64_t payload = size - prefix - header_len;
    if (n > UINT64_MAX / item || n * item != payload)
        throw format_error(297, path + ": npy shape of " + std::to_string(n) + " '" + descr + "' values does not match the " +
                                    std::to_string(payload) + "-byte payload");
    out.shape = std::move(shape);

    const std::uint8_t* d = p + prefix + header_len;
    out.data.resize(n);
    const bool integral = out.type != dtype::f32 && out.type != dtype::f64 && out.type != dtype::f16;
    if (integral) out.integers.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint8_t* v = d + i * item;
        switch (out.type) {
            case dtype::f32: out.data[i] = load_le<float>(v); break;
            case dtype::f64: out.data[i] = static_cast<float>(load_le<double>(v)); break;
            case dtype::f16: out.data[i] = f16_to_f32(load_le<std::uint16_t>(v)); break;
            case dtype::i64: out.integers[i] = load_le<std::int64_t>(v); break;
            case dtype::i32: out.integers[i] = load_le<std::int32_t>(v); break;
            case dtype::i16: out.integers[i] = load_le<std::int16_t>(v); break;
            case dtype::i8: out.integers[i] = static_cast<std::int8_t>(*v); break;  // NOLINT(bugprone-signed-char-misuse): i8 is signed
            default: out.integers[i] = *v; break;  // u8, bool
        }
        if (integral) out.data[i] = static_cast<float>(out.integers[i]);
    }
    return out;
}

}  // namespace xlens::io
