// xlens/io/gguf.hpp — reading GGUF files (llama.cpp's single-file model format), versions 2 and 3.
//
// Layout (all integers little-endian):
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count × { string key | u32 value_type | value }          string = u64 length + UTF-8 bytes
//   tensor_count × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32) | tensor data, each tensor at data_start + offset
// ne[] lists dimensions innermost first; tensor_ref::shape is reversed to row-major, outermost first.
//
// The whole header is validated before the constructor returns, so every tensor_ref handed out
// points at bytes that exist. Counts and lengths are bounded by the bytes left in the file before
// anything is allocated: a 100-byte file cannot make the reader reserve memory for 2^60 strings.
//
// Errors. format_error messages start with the file path and name the key, tensor or field:
//   210, 215-219 reading fields and metadata values (truncation, lengths, value types), see
//                io/gguf_value.hpp
//   211  bad magic (not a GGUF file)
//   212  unsupported version (1, big-endian, or newer than 3)
//   213  tensor count larger than the file could hold
//   214  metadata key count larger than the file could hold
//   220  duplicate metadata key
//   221  general.alignment is not a UINT32
//   222  general.alignment is zero or not a power of two
//   223  tensor n_dims outside 1..4
//   224  tensor dimension zero or above 2^63 - 1
//   225  tensor element count or byte size overflows 64 bits
//   226  unknown ggml tensor type id
//   227  ggml tensor type known but not readable by xlens (e.g. IQ2_XS, TQ1_0)
//   228  tensor row length (ne[0]) not a multiple of its type's block size
//   229  tensor offset not a multiple of the alignment
//   230  tensor data extends past the end of the file
//   231  two tensors' data overlap
//   232  duplicate tensor name
//   240  metadata key missing (typed getters, value())
//   241  metadata key holds a different type than the getter asks for
//   242  metadata integer out of range for the getter's type
//   245-247 dequantisation, see io/quants.hpp
// weights_error 401: at() asked for a tensor the file does not hold.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/io/gguf_value.hpp"
#include "xlens/io/mapped_file.hpp"
#include "xlens/io/quants.hpp"
#include "xlens/io/tensor_ref.hpp"

namespace xlens::io {

/// A GGUF file opened for reading: metadata parsed, tensors described, data mapped (not read).
/// Move-only (a moved-from object may only be destroyed or assigned to). Immutable after
/// construction, so one gguf_file can be shared by threads.
class gguf_file {
public:
    /// Maps and validates `path`. Throws io_error 1xx, format_error 2xx (see the list above).
    explicit gguf_file(const std::string& path);
    /// Validates bytes already mapped or in memory (see mapped_file::from_memory); same errors.
    explicit gguf_file(mapped_file bytes);

    /// The path the file was opened with.
    const std::string& path() const { return *path_; }
    /// The format version, 2 or 3.
    std::uint32_t version() const { return version_; }
    /// Alignment of the data section and of every tensor offset, in bytes.
    std::uint64_t alignment() const { return alignment_; }
    /// File offset of the data section (tensor offsets are relative to it).
    std::uint64_t data_offset() const { return data_offset_; }
    /// The underlying mapping (e.g. to find a tensor's byte offset in the file).
    const mapped_file& mapping() const { return map_; }

    /// Every tensor, in file order; data points into the mapping, shape is row-major.
    const std::vector<tensor_ref>& tensors() const { return tensors_; }
    /// The tensor called `name`, or nullptr.
    const tensor_ref* find(std::string_view name) const;
    /// The tensor called `name`; throws weights_error 401 naming it and the file.
    const tensor_ref& at(std::string_view name) const;

    /// Metadata keys, in file order.
    std::vector<std::string> keys() const;
    /// Whether the metadata holds `key`.
    bool has(std::string_view key) const { return kv_index_.find(key) != kv_index_.end(); }
    /// The value stored under `key`, or nullptr.
    const gguf_value* find_value(std::string_view key) const;
    /// The value stored under `key`; throws format_error 240 if absent.
    const gguf_value& value(std::string_view key) const;

    // Typed getters. Throw format_error 240 (missing), 241 (other type), 242 (out of range).
    // Any integer width converts when the value fits; floats are FLOAT32 or FLOAT64 only.
    /// Unsigned value of an integer key.
    std::uint64_t get_uint(std::string_view key) const;
    /// Signed value of an integer key.
    std::int64_t get_int(std::string_view key) const;
    /// Value of a FLOAT32/FLOAT64 key (FLOAT32 converts exactly).
    double get_float(std::string_view key) const;
    /// Value of a STRING key.
    std::string get_string(std::string_view key) const;
    /// Value of a BOOL key.
    bool get_bool(std::string_view key) const;
    /// Elements of an ARRAY of STRING.
    std::vector<std::string> get_string_array(std::string_view key) const;
    /// Elements of an ARRAY of any integer type.
    std::vector<std::int64_t> get_int_array(std::string_view key) const;
    /// Elements of an ARRAY of FLOAT32/FLOAT64.
    std::vector<double> get_float_array(std::string_view key) const;

    // As above, but `fallback` when the key is absent (a present key of the wrong type still throws).
    /// get_uint, or `fallback` if `key` is absent.
    std::uint64_t get_uint(std::string_view key, std::uint64_t fallback) const {
        return has(key) ? get_uint(key) : fallback;
    }
    /// get_int, or `fallback` if `key` is absent.
    std::int64_t get_int(std::string_view key, std::int64_t fallback) const {
        return has(key) ? get_int(key) : fallback;
    }
    /// get_float, or `fallback` if `key` is absent.
    double get_float(std::string_view key, double fallback) const { return has(key) ? get_float(key) : fallback; }
    /// get_string, or `fallback` if `key` is absent.
    std::string get_string(std::string_view key, const std::string& fallback) const {
        return has(key) ? get_string(key) : fallback;
    }
    /// get_bool, or `fallback` if `key` is absent.
    bool get_bool(std::string_view key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }

private:
    /// Reads and validates the whole header; fills every member below.
    void parse();
    /// Throws format_error `id`: "<path>: metadata key '<key>' <what>".
    [[noreturn]] void key_error(int id, std::string_view key, const std::string& what) const;

    std::unique_ptr<const std::string> path_;  // heap-held: tensor_ref::file points here across moves
    mapped_file map_;
    std::uint32_t version_ = 0;
    std::uint64_t alignment_ = 32;  // the format's default, unless general.alignment says otherwise
    std::uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, gguf_value>> kv_;
    std::map<std::string, std::size_t, std::less<>> kv_index_;
    std::vector<tensor_ref> tensors_;
    std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

// ==== implementation ==============================================================================

namespace detail {

/// ggml tensor type ids: name, and the dtype when xlens reads the type.
struct ggml_type_entry {
    std::uint32_t id;
    const char* name;
    bool supported;
    dtype type;
};

/// The entry for ggml type `id`, or nullptr if the id is unknown.
inline const ggml_type_entry* ggml_type_lookup(std::uint32_t id) {
    static const ggml_type_entry table[] = {
        {0, "F32", true, dtype::f32},       {1, "F16", true, dtype::f16},       {2, "Q4_0", true, dtype::q4_0},
        {3, "Q4_1", true, dtype::q4_1},     {6, "Q5_0", true, dtype::q5_0},     {7, "Q5_1", true, dtype::q5_1},
        {8, "Q8_0", true, dtype::q8_0},     {9, "Q8_1", false, dtype::f32},     {10, "Q2_K", true, dtype::q2_k},
        {11, "Q3_K", true, dtype::q3_k},    {12, "Q4_K", true, dtype::q4_k},    {13, "Q5_K", true, dtype::q5_k},
        {14, "Q6_K", true, dtype::q6_k},    {15, "Q8_K", false, dtype::f32},    {16, "IQ2_XXS", false, dtype::f32},
        {17, "IQ2_XS", false, dtype::f32},  {18, "IQ3_XXS", false, dtype::f32}, {19, "IQ1_S", false, dtype::f32},
        {20, "IQ4_NL", true, dtype::iq4_nl},  {21, "IQ3_S", false, dtype::f32},   {22, "IQ2_S", false, dtype::f32},
        {23, "IQ4_XS", true, dtype::iq4_xs},  {24, "I8", true, dtype::i8},        {25, "I16", true, dtype::i16},
        {26, "I32", true, dtype::i32},      {27, "I64", true, dtype::i64},      {28, "F64", true, dtype::f64},
        {29, "IQ1_M", false, dtype::f32},   {30, "BF16", true, dtype::bf16},    {34, "TQ1_0", false, dtype::f32},
        {35, "TQ2_0", false, dtype::f32},   {39, "MXFP4", false, dtype::f32},
    };
    for (const auto& e : table)
        if (e.id == id) return &e;
    return nullptr;
}

/// A tensor info as read, before its offset is checked against the data section.
struct gguf_tensor_info {
    std::string name;
    std::vector<std::uint64_t> ne;  // innermost first, as in the file
    dtype type = dtype::f32;
    std::uint64_t offset = 0;       // relative to the data section
    std::uint64_t nbytes = 0;
};

/// Reads and checks one tensor info (all but where its data lies); errors name the tensor.
inline gguf_tensor_info gguf_read_tensor_info(gguf_cursor& c, std::uint64_t index) {
    gguf_tensor_info ti;
    ti.name = c.read_string("name", "tensor info #" + std::to_string(index));
    const std::string owner = "tensor '" + ti.name + "'";
    const auto n_dims = c.read<std::uint32_t>("n_dims", owner);
    if (n_dims < 1 || n_dims > 4)
        c.fail(223, owner + ": n_dims is " + std::to_string(n_dims) + ", expected 1 to 4");
    std::uint64_t elements = 1;
    for (std::uint32_t k = 0; k < n_dims; ++k) {
        const auto d = c.read<std::uint64_t>("dimension", owner);
        if (d == 0 || d > static_cast<std::uint64_t>(INT64_MAX))
            c.fail(224, owner + ": dimension ne[" + std::to_string(k) + "] is " + std::to_string(d) +
                            ", expected 1 to 2^63-1");
        if (elements > UINT64_MAX / d) c.fail(225, owner + ": element count overflows 64 bits");
        elements *= d;
        ti.ne.push_back(d);
    }
    const auto type_id = c.read<std::uint32_t>("ggml type", owner);
    const ggml_type_entry* e = ggml_type_lookup(type_id);
    if (e == nullptr) c.fail(226, owner + ": unknown ggml type " + std::to_string(type_id));
    if (!e->supported)
        c.fail(227, owner + ": ggml type " + std::to_string(type_id) + " (" + e->name +
                        ") is not supported by xlens (F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, I8-I64)");
    ti.type = e->type;
    const auto tr = traits(ti.type);
    if (ti.ne[0] % tr.block_elements != 0)
        c.fail(228, owner + ": row length ne[0] = " + std::to_string(ti.ne[0]) + " is not a multiple of the " +
                        tr.name + " block size " + std::to_string(tr.block_elements));
    const std::uint64_t blocks = elements / tr.block_elements;
    if (blocks > UINT64_MAX / tr.block_bytes) c.fail(225, owner + ": byte size overflows 64 bits");
    ti.nbytes = blocks * tr.block_bytes;
    ti.offset = c.read<std::uint64_t>("offset", owner);
    return ti;
}

}  // namespace detail

inline gguf_file::gguf_file(const std::string& path) : gguf_file(mapped_file(path)) {}

inline gguf_file::gguf_file(mapped_file bytes)
    : path_(std::make_unique<const std::string>(bytes.path())), map_(std::move(bytes)) {
    parse();
}

inline void gguf_file::parse() {
    detail::gguf_cursor c(map_.data(), map_.size(), *path_);
    const std::string header = "header";

    // ---- header ----
    const std::uint8_t* magic = c.take(4, "magic", header);
    if (std::memcmp(magic, "GGUF", 4) != 0) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", magic[0], magic[1], magic[2], magic[3]);
        c.fail(211, std::string("not a GGUF file: magic bytes are ") + hex + ", expected 47 47 55 46 (\"GGUF\")");
    }
    version_ = c.read<std::uint32_t>("version", header);
    if (version_ != 2 && version_ != 3) {
        const std::uint32_t swapped = ((version_ & 0xffu) << 24) | ((version_ & 0xff00u) << 8) |
                                      ((version_ >> 8) & 0xff00u) | (version_ >> 24);
        if (swapped == 2 || swapped == 3) c.fail(212, "big-endian GGUF files are not supported");
        c.fail(212, "GGUF version " + std::to_string(version_) +
                        " is not supported (xlens reads versions 2 and 3; convert version 1 files again)");
    }
    const auto n_tensors = c.read<std::uint64_t>("tensor count", header);
    const auto n_kv = c.read<std::uint64_t>("metadata key count", header);
    // Smallest possible entries: a key 8+4+1 bytes (empty name, UINT8); a tensor info 8+4+8+4+8 (1 dim).
    constexpr std::uint64_t min_kv = 13, min_tensor = 32;
    if (n_kv > c.remaining() / min_kv)
        c.fail(214, "header: metadata key count " + std::to_string(n_kv) + " cannot fit in the " +
                        std::to_string(c.remaining()) + " bytes left in the file");
    if (n_tensors > (c.remaining() - n_kv * min_kv) / min_tensor)
        c.fail(213, "header: tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                        std::to_string(c.remaining()) + " bytes left in the file");

    // ---- metadata ----
    kv_.reserve(static_cast<std::size_t>(n_kv));
    for (std::uint64_t i = 0; i < n_kv; ++i) {
        std::string key = c.read_string("key", "metadata entry #" + std::to_string(i));
        const std::string owner = "metadata key '" + key + "'";
        if (kv_index_.count(key) != 0) c.fail(220, owner + " appears twice");
        const auto t = detail::gguf_checked_type(c, c.read<std::uint32_t>("value type", owner), owner);
        gguf_value v = detail::gguf_read_value(c, t, 0, owner);
        kv_index_.emplace(key, kv_.size());
        kv_.emplace_back(std::move(key), std::move(v));
    }
    if (const gguf_value* a = find_value("general.alignment")) {
        if (a->type != gguf_type::uint32)
            c.fail(221, std::string("metadata key 'general.alignment' is ") + gguf_type_name(a->type) +
                            ", expected UINT32");
        alignment_ = std::get<std::uint64_t>(a->data);
        if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
            c.fail(222, "metadata key 'general.alignment' is " + std::to_string(alignment_) +
                            ", expected a nonzero power of two");
    }

    // ---- tensor infos ----
    std::vector<detail::gguf_tensor_info> infos;
    infos.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
        infos.push_back(detail::gguf_read_tensor_info(c, i));
        const std::string& name = infos.back().name;
        if (!tensor_index_.emplace(name, infos.size() - 1).second)
            c.fail(232, "tensor '" + name + "' appears twice");
    }

    // ---- data placement: aligned, inside the file, no overlaps ----
    data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;  // pos <= size and alignment < 2^32
    const std::uint64_t file_size = map_.size();
    for (const auto& ti : infos) {
        const std::string owner = "tensor '" + ti.name + "'";
        if (ti.offset % alignment_ != 0)
            c.fail(229, owner + ": offset " + std::to_string(ti.offset) + " is not a multiple of the alignment " +
                            std::to_string(alignment_));
        if (ti.offset > file_size || ti.nbytes > file_size || data_offset_ + ti.offset > file_size - ti.nbytes)
            c.fail(230, owner + ": data [" + std::to_string(ti.offset) + ", +" + std::to_string(ti.nbytes) +
                            " bytes) after the data section at " + std::to_string(data_offset_) +
                            " extends past the end of the file (" + std::to_string(file_size) + " bytes)");
    }
    std::vector<std::size_t> order(infos.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return infos[a].offset < infos[b].offset; });
    for (std::size_t k = 1; k < order.size(); ++k) {
        const auto& prev = infos[order[k - 1]];
        const auto& cur = infos[order[k]];
        if (prev.offset + prev.nbytes > cur.offset)  // both ends are inside the file: no overflow
            c.fail(231, "tensor '" + cur.name + "' (offset " + std::to_string(cur.offset) + ") overlaps tensor '" +
                            prev.name + "' (offset " + std::to_string(prev.offset) + ", " +
                            std::to_string(prev.nbytes) + " bytes)");
    }

    // ---- hand out views: only now is every tensor known to be sound ----
    tensors_.reserve(infos.size());
    for (auto& ti : infos) {
        tensor_ref r;
        r.name = std::move(ti.name);
        r.type = ti.type;
        r.shape.assign(ti.ne.rbegin(), ti.ne.rend());  // GGUF ne is innermost first
        r.data = map_.data() + data_offset_ + ti.offset;
        r.nbytes = ti.nbytes;
        r.file = path_.get();
        tensors_.push_back(std::move(r));
    }
}

inline const tensor_ref* gguf_file::find(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

inline const tensor_ref& gguf_file::at(std::string_view name) const {
    if (const tensor_ref* r = find(name)) return *r;
    throw weights_error(401, "tensor '" + std::string(name) + "' not found in '" + path() + "' (" +
                                 std::to_string(tensors_.size()) + " tensors)");
}

inline std::vector<std::string> gguf_file::keys() const {
    std::vector<std::string> out;
    out.reserve(kv_.size());
    for (const auto& kv : kv_) out.push_back(kv.first);
    return out;
}

inline const gguf_value* gguf_file::find_value(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

inline void gguf_file::key_error(int id, std::string_view key, const std::string& what) const {
    throw format_error(id, path() + ": metadata key '" + std::string(key) + "' " + what);
}

inline const gguf_value& gguf_file::value(std::string_view key) const {
    if (const gguf_value* v = find_value(key)) return *v;
    key_error(240, key, "is missing");
}


inline std::uint64_t gguf_file::get_uint(std::string_view key) const {
    const gguf_value& v = value(key);
    if (!v.is_array() && detail::gguf_is_unsigned(v.type)) return std::get<std::uint64_t>(v.data);
    if (!v.is_array() && detail::gguf_is_signed(v.type)) {
        const auto i = std::get<std::int64_t>(v.data);
        if (i < 0) key_error(242, key, "is " + std::to_string(i) + ", expected a nonnegative integer");
        return static_cast<std::uint64_t>(i);
    }
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected an integer");
}

inline std::int64_t gguf_file::get_int(std::string_view key) const {
    const gguf_value& v = value(key);
    if (!v.is_array() && detail::gguf_is_signed(v.type)) return std::get<std::int64_t>(v.data);
    if (!v.is_array() && detail::gguf_is_unsigned(v.type)) {
        const auto u = std::get<std::uint64_t>(v.data);
        if (u > static_cast<std::uint64_t>(INT64_MAX))
            key_error(242, key, "is " + std::to_string(u) + ", beyond int64");
        return static_cast<std::int64_t>(u);
    }
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected an integer");
}

inline double gguf_file::get_float(std::string_view key) const {
    const gguf_value& v = value(key);
    if (!v.is_array() && detail::gguf_is_float(v.type)) return std::get<double>(v.data);
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected FLOAT32 or FLOAT64");
}

inline std::string gguf_file::get_string(std::string_view key) const {
    const gguf_value& v = value(key);
    if (v.type == gguf_type::string) return std::get<std::string>(v.data);
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected a STRING");
}

inline bool gguf_file::get_bool(std::string_view key) const {
    const gguf_value& v = value(key);
    if (v.type == gguf_type::boolean) return std::get<bool>(v.data);
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected a BOOL");
}

inline std::vector<std::string> gguf_file::get_string_array(std::string_view key) const {
    const gguf_value& v = value(key);
    if (v.is_array() && v.element_type == gguf_type::string) return std::get<std::vector<std::string>>(v.data);
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected an ARRAY of STRING");
}

inline std::vector<std::int64_t> gguf_file::get_int_array(std::string_view key) const {
    const gguf_value& v = value(key);
    if (v.is_array() && detail::gguf_is_signed(v.element_type)) return std::get<std::vector<std::int64_t>>(v.data);
    if (v.is_array() && detail::gguf_is_unsigned(v.element_type)) {
        const auto& u = std::get<std::vector<std::uint64_t>>(v.data);
        std::vector<std::int64_t> out(u.size());
        for (std::size_t i = 0; i < u.size(); ++i) {
            if (u[i] > static_cast<std::uint64_t>(INT64_MAX))
                key_error(242, key, "element " + std::to_string(i) + " is " + std::to_string(u[i]) + ", beyond int64");
            out[i] = static_cast<std::int64_t>(u[i]);
        }
        return out;
    }
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected an ARRAY of integers");
}

inline std::vector<double> gguf_file::get_float_array(std::string_view key) const {
    const gguf_value& v = value(key);
    if (v.is_array() && detail::gguf_is_float(v.element_type)) return std::get<std::vector<double>>(v.data);
    key_error(241, key, "holds " + detail::gguf_describe_type(v) + ", expected an ARRAY of FLOAT32 or FLOAT64");
}

}  // namespace xlens::io
