// xlens/io/gguf_value.hpp — GGUF metadata values: the value types, how one is parsed from a file,
// and how it is shown. io/gguf.hpp builds the file reader on top of this.
//
// A value is stored as a u32 type id followed by its body (all integers little-endian):
//   scalar: the number (1, 2, 4 or 8 bytes), or a bool byte (0 or 1)
//   string: u64 length + UTF-8 bytes
//   array:  u32 element type | u64 count | count × element body (arrays may nest)
// Every read goes through detail::gguf_cursor, which bounds-checks it against the bytes left in the
// file; counts and lengths are checked against those bytes before anything is allocated.
//
// Errors. format_error messages start with the file path and name the key or field:
//   210  file ends in the middle of a field (truncated)
//   215  string length beyond the end of the file
//   216  array length beyond the end of the file
//   217  unknown metadata value type id
//   218  arrays nested deeper than detail::gguf_max_array_depth
//   219  bool value other than 0 or 1
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/io/tensor_ref.hpp"  // load_le

namespace xlens::io {

/// Metadata value types, numbered as in the file.
enum class gguf_type : std::uint32_t {
    uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, boolean = 7,
    string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12,
};

/// "UINT32", "STRING", ... as gguf-py names the types.
inline const char* gguf_type_name(gguf_type t);

/// One metadata value. Scalars and array elements are widened to one carrier per kind without loss:
/// unsigned integers to uint64, signed to int64, floats to double, so `type` keeps the stored width.
struct gguf_value {
    using array_of_values = std::vector<gguf_value>;  // arrays of arrays
    using storage = std::variant<std::uint64_t, std::int64_t, double, bool, std::string,
                                 std::vector<std::uint64_t>, std::vector<std::int64_t>, std::vector<double>,
                                 std::vector<bool>, std::vector<std::string>, array_of_values>;

    gguf_type type = gguf_type::uint8;          // as stored; gguf_type::array for arrays
    gguf_type element_type = gguf_type::uint8;  // arrays: the elements' type; scalars: == type
    storage data;

    /// Whether this is an array (then `data` holds one of the vector alternatives).
    bool is_array() const { return type == gguf_type::array; }
    /// Number of elements of an array; 1 for a scalar.
    std::uint64_t size() const;
};

/// Human-readable value, arrays cut after `max_items` elements: used by `xlens info`.
inline std::string to_string(const gguf_value& v, std::size_t max_items = 8);

// ==== implementation ==============================================================================

inline const char* gguf_type_name(gguf_type t) {
    static const char* const names[] = {"UINT8", "INT8",  "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                        "BOOL",  "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    const auto i = static_cast<std::uint32_t>(t);
    return i < 13 ? names[i] : "?";
}

inline std::uint64_t gguf_value::size() const {
    if (!is_array()) return 1;
    return std::visit(
        [](const auto& x) -> std::uint64_t {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) return 1;
            else return x.size();
        },
        data);
}

namespace detail {

/// Deepest nesting of arrays inside arrays a file may use (real files use 1; this bounds recursion).
constexpr int gguf_max_array_depth = 8;

/// Whether `t` is an unsigned integer type (values are carried as uint64; signed as int64; floats as double).
inline bool gguf_is_unsigned(gguf_type t) {
    return t == gguf_type::uint8 || t == gguf_type::uint16 || t == gguf_type::uint32 || t == gguf_type::uint64;
}
/// Whether `t` is a signed integer type.
inline bool gguf_is_signed(gguf_type t) {
    return t == gguf_type::int8 || t == gguf_type::int16 || t == gguf_type::int32 || t == gguf_type::int64;
}
/// Whether `t` is a floating-point type.
inline bool gguf_is_float(gguf_type t) { return t == gguf_type::float32 || t == gguf_type::float64; }

/// Fewest bytes one value of type `t` occupies in a file: bounds claimed counts before allocating.
inline std::uint64_t gguf_min_size(gguf_type t) {
    switch (t) {
        case gguf_type::uint8: case gguf_type::int8: case gguf_type::boolean: return 1;
        case gguf_type::uint16: case gguf_type::int16: return 2;
        case gguf_type::uint32: case gguf_type::int32: case gguf_type::float32: return 4;
        case gguf_type::string: return 8;                              // the length
        case gguf_type::array: return 12;                              // element type + count
        default: return 8;
    }
}

/// Reads the file front to back; every read is bounds-checked and failures name the file and field.
class gguf_cursor {
public:
    gguf_cursor(const std::uint8_t* data, std::uint64_t size, const std::string& path)
        : data_(data), size_(size), path_(path) {}

    /// Bytes consumed so far.
    std::uint64_t pos() const { return pos_; }
    /// Bytes left after the cursor.
    std::uint64_t remaining() const { return size_ - pos_; }

    /// Throws format_error `id` with the file path in front of `message`.
    [[noreturn]] void fail(int id, const std::string& message) const {
        throw format_error(id, path_ + ": " + message);
    }

    /// The next `n` bytes; format_error 210 naming `owner` and `field` if the file ends first.
    const std::uint8_t* take(std::uint64_t n, const char* field, const std::string& owner) {
        if (n > remaining())
            fail(210, "truncated: " + owner + ": " + field + " needs " + std::to_string(n) + " bytes at offset " +
                          std::to_string(pos_) + ", but the file has " + std::to_string(remaining()) + " left");
        const std::uint8_t* p = data_ + pos_;
        pos_ += n;
        return p;
    }

    /// The next little-endian T.
    template <class T>
    T read(const char* field, const std::string& owner) {
        return load_le<T>(take(sizeof(T), field, owner));
    }

    /// A length-prefixed string; format_error 215 if the length runs past the end of the file.
    std::string read_string(const char* field, const std::string& owner) {
        const auto len = read<std::uint64_t>(field, owner);
        if (len > remaining())
            fail(215, owner + ": " + field + " claims " + std::to_string(len) + " bytes, but the file has " +
                          std::to_string(remaining()) + " left at offset " + std::to_string(pos_));
        const auto* p = take(len, field, owner);
        return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
    }

private:
    const std::uint8_t* data_;
    std::uint64_t size_;
    std::uint64_t pos_ = 0;
    const std::string& path_;
};

/// Checks a value type id read from the file; format_error 217 if it is unknown.
inline gguf_type gguf_checked_type(gguf_cursor& c, std::uint32_t id, const std::string& owner) {
    if (id > static_cast<std::uint32_t>(gguf_type::float64))
        c.fail(217, owner + ": unknown value type id " + std::to_string(id));
    return static_cast<gguf_type>(id);
}

/// `count` fixed-size numbers of file type T, widened to Out.
template <class T, class Out>
inline std::vector<Out> gguf_read_numbers(gguf_cursor& c, std::uint64_t count, const std::string& owner) {
    const std::uint8_t* p = c.take(count * sizeof(T), "array data", owner);  // count was bounded by the caller
    std::vector<Out> out(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<Out>(load_le<T>(p + i * sizeof(T)));  // NOLINT(bugprone-signed-char-misuse): INT8 values are signed
    return out;
}

/// A bool byte, which the format defines as exactly 0 or 1.
inline bool gguf_read_bool(gguf_cursor& c, const std::string& owner) {
    const auto b = c.read<std::uint8_t>("bool value", owner);
    if (b > 1) c.fail(219, owner + ": bool value is " + std::to_string(b) + ", not 0 or 1");
    return b == 1;
}

/// An array body (element type, count, elements) at nesting `depth` (0 for a top-level array).
inline gguf_value gguf_read_array(gguf_cursor& c, int depth, const std::string& owner) {
    gguf_value v;
    v.type = gguf_type::array;
    const gguf_type et = gguf_checked_type(c, c.read<std::uint32_t>("array element type", owner), owner);
    v.element_type = et;
    if (et == gguf_type::array && depth + 1 >= gguf_max_array_depth)
        c.fail(218, owner + ": arrays nested deeper than " + std::to_string(gguf_max_array_depth) + " levels");
    const auto n = c.read<std::uint64_t>("array length", owner);
    if (n > c.remaining() / gguf_min_size(et))
        c.fail(216, owner + ": array length " + std::to_string(n) + " of " + gguf_type_name(et) +
                        " cannot fit in the " + std::to_string(c.remaining()) + " bytes left in the file");
    switch (et) {
        case gguf_type::uint8: v.data = gguf_read_numbers<std::uint8_t, std::uint64_t>(c, n, owner); break;
        case gguf_type::uint16: v.data = gguf_read_numbers<std::uint16_t, std::uint64_t>(c, n, owner); break;
        case gguf_type::uint32: v.data = gguf_read_numbers<std::uint32_t, std::uint64_t>(c, n, owner); break;
        case gguf_type::uint64: v.data = gguf_read_numbers<std::uint64_t, std::uint64_t>(c, n, owner); break;
        case gguf_type::int8: v.data = gguf_read_numbers<std::int8_t, std::int64_t>(c, n, owner); break;
        case gguf_type::int16: v.data = gguf_read_numbers<std::int16_t, std::int64_t>(c, n, owner); break;
        case gguf_type::int32: v.data = gguf_read_numbers<std::int32_t, std::int64_t>(c, n, owner); break;
        case gguf_type::int64: v.data = gguf_read_numbers<std::int64_t, std::int64_t>(c, n, owner); break;
        case gguf_type::float32: v.data = gguf_read_numbers<float, double>(c, n, owner); break;
        case gguf_type::float64: v.data = gguf_read_numbers<double, double>(c, n, owner); break;
        case gguf_type::boolean: {
            std::vector<bool> out(static_cast<std::size_t>(n));
            for (std::size_t i = 0; i < out.size(); ++i) out[i] = gguf_read_bool(c, owner);
            v.data = std::move(out);
            break;
        }
        case gguf_type::string: {
            std::vector<std::string> out(static_cast<std::size_t>(n));
            for (auto& s : out) s = c.read_string("string element", owner);
            v.data = std::move(out);
            break;
        }
        case gguf_type::array: {
            gguf_value::array_of_values out(static_cast<std::size_t>(n));
            for (auto& e : out) e = gguf_read_array(c, depth + 1, owner);
            v.data = std::move(out);
            break;
        }
    }
    return v;
}

/// One value of type `t` (the type id has already been read).
inline gguf_value gguf_read_value(gguf_cursor& c, gguf_type t, int depth, const std::string& owner) {
    if (t == gguf_type::array) return gguf_read_array(c, depth, owner);
    gguf_value v;
    v.type = v.element_type = t;
    switch (t) {
        case gguf_type::uint8: v.data = std::uint64_t{c.read<std::uint8_t>("value", owner)}; break;
        case gguf_type::uint16: v.data = std::uint64_t{c.read<std::uint16_t>("value", owner)}; break;
        case gguf_type::uint32: v.data = std::uint64_t{c.read<std::uint32_t>("value", owner)}; break;
        case gguf_type::uint64: v.data = c.read<std::uint64_t>("value", owner); break;
        case gguf_type::int8: v.data = std::int64_t{c.read<std::int8_t>("value", owner)}; break;
        case gguf_type::int16: v.data = std::int64_t{c.read<std::int16_t>("value", owner)}; break;
        case gguf_type::int32: v.data = std::int64_t{c.read<std::int32_t>("value", owner)}; break;
        case gguf_type::int64: v.data = c.read<std::int64_t>("value", owner); break;
        case gguf_type::float32: v.data = double{c.read<float>("value", owner)}; break;
        case gguf_type::float64: v.data = c.read<double>("value", owner); break;
        case gguf_type::boolean: v.data = gguf_read_bool(c, owner); break;
        case gguf_type::string: v.data = c.read_string("string value", owner); break;
        case gguf_type::array: break;  // handled above
    }
    return v;
}

/// "a UINT32" or "an ARRAY of STRING": what a key holds, for type-mismatch messages.
inline std::string gguf_describe_type(const gguf_value& v) {
    if (v.is_array()) return std::string("an ARRAY of ") + gguf_type_name(v.element_type);
    return std::string("a ") + gguf_type_name(v.type);
}

}  // namespace detail

inline std::string to_string(const gguf_value& v, std::size_t max_items) {
    auto one = [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        char buf[32];
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return "\"" + x + "\"";
        else if constexpr (std::is_same_v<T, gguf_value>) return to_string(x, max_items);
        else if constexpr (std::is_same_v<T, double>)  // shortest width that round-trips the stored type
            return std::snprintf(buf, sizeof buf, v.element_type == gguf_type::float32 ? "%.9g" : "%.17g", x), buf;
        else return std::to_string(x);
    };
    return std::visit([&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
            return one(x);
        } else {
            std::string out = "[";
            for (std::size_t i = 0; i < x.size() && i < max_items; ++i)
                out += (i ? ", " : "") + one(static_cast<typename T::value_type>(x[i]));
            return out + (x.size() > max_items ? ", ... (" + std::to_string(x.size()) + " items)]" : "]");
        }
    }, v.data);
}

}  // namespace xlens::io
