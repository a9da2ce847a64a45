// xlens/io/safetensors.hpp — memory-mapped safetensors files, sharded checkpoints, and a writer.
//
// Layout (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the
// data section, whose offsets are relative to its first byte. The whole header is validated in the
// constructor, before any view exists, so code that holds a safetensors_file can trust every
// tensor_ref in it: a known dtype, a shape whose byte size is exactly its span, spans that tile the
// data section with no gaps or overlaps and end at the end of the file.
//
// Error ids (format_error unless noted; every message starts with the file path):
//   250 file shorter than the 8-byte length field        268 two tensors' spans overlap
//   251 header length runs past the end of the file      269 gap before a tensor (bytes no tensor indexes)
//   252 header length above the 100 MB cap               270 trailing bytes after the last tensor
//   253 header (or index) is not valid JSON              271 __metadata__ is not an object
//   254 JSON nested deeper than 64 levels                272 a __metadata__ value is not a string
//   255 a key appears twice in one JSON object           275 index.json lacks a weight_map of strings
//   256 header is not a JSON object                      276 weight_map names an unsafe shard path
//   257 a tensor entry is not an object                  277 weight_map names a shard that does not exist
//   258 a tensor entry lacks or adds a field             278 a weight_map tensor is not in its shard
//   259 dtype is not a string                            279 a tensor is stored in two shards
//   260 unknown dtype (e.g. F8_E4M3)                     280 index.json above the 100 MB cap
//   261 shape is not an array of non-negative integers   281 folder holds no safetensors weights
//   262 rank above 8                                     285 pickled PyTorch checkpoint refused
//   263 data_offsets is not [begin, end] of integers     286 write_safetensors given an invalid tensor list
//   264 data_offsets begin > end
//   265 element count x dtype size overflows 64 bits     io_error 110-112 when writing: see
//   266 byte span != elements x dtype size                io/file_writer.hpp
//   267 span reaches beyond the data section            weights_error 401: no tensor of that name
//                                                       weights_error 402-404: see io/tensor_view.hpp
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/error.hpp"
#include "xlens/io/file_writer.hpp"
#include "xlens/io/mapped_file.hpp"
#include "xlens/io/tensor_ref.hpp"
#include "xlens/io/tensor_view.hpp"

namespace xlens::io {

/// One tensor for write_safetensors: `data` points at elements(shape) values of `type`, row-major.
struct tensor_to_write {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::uint64_t> shape;
    const void* data = nullptr;
};

/// A validated, memory-mapped .safetensors file. Move-only; tensor_refs and views stay valid
/// across moves (the mapping and the path string never change address) until destruction.
class safetensors_file {
public:
    /// Maps and validates `path`. Throws io_error 101-103 (cannot open/map), format_error 250-272/285.
    explicit safetensors_file(const std::string& path);
    /// Validates bytes already mapped or in memory (see mapped_file::from_memory); same errors.
    explicit safetensors_file(mapped_file bytes);

    const std::string& path() const { return *path_; }
    /// Every tensor, in the order of its bytes in the file.
    const std::vector<tensor_ref>& tensors() const { return tensors_; }
    /// The tensor called `name`, or nullptr.
    const tensor_ref* find(std::string_view name) const;
    /// The tensor called `name`; throws weights_error 401 naming it and the file.
    const tensor_ref& at(std::string_view name) const;
    /// The optional "__metadata__" string map (empty if the file has none).
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    /// The underlying mapping (e.g. to check that a view points inside it).
    const mapped_file& mapping() const { return map_; }
    /// Zero-copy view of tensor `name`; throws weights_error 401-404 (see io/tensor_view.hpp).
    template <class T, std::size_t N>
    tensor_view<T, N> view(std::string_view name) const { return io::view<T, N>(at(name)); }

private:
    std::unique_ptr<std::string> path_;  // on the heap: tensor_ref::file points at it
    mapped_file map_;
    std::vector<tensor_ref> tensors_;
    std::map<std::string, std::size_t, std::less<>> by_name_;
    std::map<std::string, std::string> metadata_;
};

/// All tensors of a checkpoint that is one .safetensors file or several shards with an index.
/// Move-only; keeps every shard mapped for as long as it lives.
class safetensors_checkpoint {
public:
    /// Opens a .safetensors file, a model.safetensors.index.json, or a folder holding either
    /// (model.safetensors preferred). Throws format_error 250-285, io_error 101-103.
    static safetensors_checkpoint open(const std::string& path);
    /// A checkpoint made of shards already opened (e.g. rebuilt in memory from a weight database).
    /// `origin` names it in messages. Throws format_error 279 if two shards hold the same tensor.
    static safetensors_checkpoint from_shards(const std::string& origin, std::vector<std::unique_ptr<safetensors_file>> shards) {
        safetensors_checkpoint ck;
        ck.origin_ = origin;
        for (auto& s : shards) ck.add_shard(std::move(s));
        return ck;
    }

    /// Every tensor: shard by shard in files() order, each shard in byte order.
    const std::vector<tensor_ref>& tensors() const { return tensors_; }
    /// The tensor called `name`, or nullptr.
    const tensor_ref* find(std::string_view name) const;
    /// The tensor called `name`; throws weights_error 401 naming it and the checkpoint.
    const tensor_ref& at(std::string_view name) const;
    /// Paths of the mapped safetensors files (one, or the shards sorted by name).
    const std::vector<std::string>& files() const { return files_; }
    /// The opened files, in files() order.
    const std::vector<std::unique_ptr<safetensors_file>>& shards() const { return shards_; }
    /// Zero-copy view of tensor `name`; throws weights_error 401-404.
    template <class T, std::size_t N>
    tensor_view<T, N> view(std::string_view name) const { return io::view<T, N>(at(name)); }

private:
    safetensors_checkpoint() = default;
    void add_shard(std::unique_ptr<safetensors_file> shard);

    std::string origin_;  // what open() was given, for error messages
    std::vector<std::unique_ptr<safetensors_file>> shards_;
    std::vector<std::string> files_;
    std::vector<tensor_ref> tensors_;
    std::map<std::string, std::size_t, std::less<>> by_name_;
};

/// Throws format_error 285 with conversion instructions if `path` is a pickled PyTorch checkpoint
/// (.bin/.pt/.pth/.ckpt), or a folder whose only weights are pytorch_model.bin*. Otherwise returns.
void refuse_pickle(const std::string& path);

/// Writes `tensors` (in the given order) and `metadata` as a safetensors file. The bytes go to
/// "path.tmp", which is renamed over `path` only when complete. Throws format_error 286 (duplicate,
/// empty or reserved name, non-safetensors dtype, null data), io_error 110-112 naming the path.
/// Note: tensors are not reordered, so put wider dtypes first if readers need aligned views.
void write_safetensors(const std::string& path, const std::vector<tensor_to_write>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// ==== implementation ==============================================================================

namespace detail {

using json = nlohmann::json;

inline constexpr std::uint64_t max_header_bytes = 100'000'000;  // the Python library's cap
inline constexpr std::size_t max_json_depth = 64;              // a header needs 3
inline constexpr std::size_t max_rank = 8;

/// Parses `what` (a header or an index) as JSON, refusing nesting deeper than max_json_depth
/// (254) before the parser recurses into it, and duplicate keys (255), which nlohmann would
/// silently resolve to the last one. Other syntax errors are 253 with nlohmann's byte position.
inline json parse_json_strict(const char* first, const char* last, const std::string& path,
                              const std::string& what) {
    std::vector<std::set<std::string>> open;  // keys seen, one set per open object or array
    auto callback = [&](int, json::parse_event_t event, json& parsed) -> bool {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (open.size() >= max_json_depth)
                    throw format_error(254, path + ": " + what + " nests JSON deeper than " +
                                                std::to_string(max_json_depth) + " levels");
                open.emplace_back();
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                open.pop_back();
                break;
            case json::parse_event_t::key: {
                const auto& key = parsed.get_ref<const std::string&>();
                if (!open.back().insert(key).second)
                    throw format_error(255, path + ": " + what + " has the key '" + key +
                                                "' twice in one object (duplicate tensor name or field)");
                break;
            }
            default:
                break;
        }
        return true;
    };
    try {
        return json::parse(first, last, callback);
    } catch (const json::exception& e) {
        throw format_error(253, path + ": " + what + " is not valid JSON: " + e.what());
    }
}

/// The dtype a safetensors header spells `s`, or false if xlens does not read it.
inline bool parse_st_dtype(const std::string& s, dtype& out) {
    static const std::pair<const char*, dtype> known[] = {
        {"F64", dtype::f64}, {"F32", dtype::f32}, {"F16", dtype::f16}, {"BF16", dtype::bf16}, {"I64", dtype::i64},
        {"I32", dtype::i32}, {"I16", dtype::i16}, {"I8", dtype::i8},   {"U8", dtype::u8},     {"BOOL", dtype::boolean}};
    for (const auto& [name, t] : known)
        if (s == name) return out = t, true;
    return false;
}

inline bool is_safetensors_dtype(dtype t) { return t <= dtype::boolean; }  // the non-block types

/// a * b, or format_error `id` saying `what` overflows.
inline std::uint64_t mul_or_throw(std::uint64_t a, std::uint64_t b, int id, const std::string& what) {
    if (a != 0 && b > UINT64_MAX / a) throw format_error(id, what + ": element count x dtype size overflows 64 bits");
    return a * b;
}

/// Whether the first bytes are a PyTorch zip archive or a protocol-2+ pickle: such a file fed to
/// the safetensors reader deserves the conversion hint rather than "header length too large".
inline bool looks_like_pickle(const std::uint8_t* p, std::size_t size) {
    if (size >= 4 && std::memcmp(p, "PK\x03\x04", 4) == 0) return true;
    return size >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5;
}

[[noreturn]] inline void throw_pickle(const std::string& file, const std::string& folder) {
    const std::string dir = folder.empty() ? "." : folder;
    throw format_error(
        285, file + " is a pickled PyTorch checkpoint; xlens will not unpickle it, because loading a pickle can "
                    "execute arbitrary code. Convert it to safetensors once, in Python: python -c \"from transformers "
                    "import AutoModelForCausalLM as M; M.from_pretrained('" + dir + "').save_pretrained('" + dir +
                    "-safetensors', safe_serialization=True)\" (for a bare state dict: python -c \"import torch, "
                    "safetensors.torch as s; s.save_file(torch.load('" + file + "', weights_only=True), 'model."
                    "safetensors')\"), then open the .safetensors output");
}

/// Reads one header entry into `t` (name, dtype, shape, nbytes) and its data_offsets.
inline void parse_entry(const std::string& path, const std::string& name, const json& e, tensor_ref& t,
                        std::uint64_t& begin, std::uint64_t& end) {
    const std::string at = path + ": tensor '" + name + "'";
    if (!e.is_object()) throw format_error(257, at + " is described by " + std::string(e.type_name()) + ", not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!e.contains(field)) throw format_error(258, at + " has no '" + field + "' field");
    for (const auto& item : e.items())
        if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
            throw format_error(258, at + " has an unknown field '" + item.key() + "'");

    const json& d = e["dtype"];
    if (!d.is_string()) throw format_error(259, at + ": dtype is " + d.dump() + ", not a string");
    if (!parse_st_dtype(d.get_ref<const std::string&>(), t.type))
        throw format_error(260, at + " has dtype '" + d.get<std::string>() +
                                    "', which xlens does not read (known: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");

    const json& s = e["shape"];
    if (!s.is_array()) throw format_error(261, at + ": shape is " + s.dump() + ", not an array");
    if (s.size() > max_rank)
        throw format_error(262, at + " has rank " + std::to_string(s.size()) + ", above the limit of " +
                                    std::to_string(max_rank));
    std::uint64_t elements = 1;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!s[i].is_number_unsigned())
            throw format_error(261, at + ": shape[" + std::to_string(i) + "] is " + s[i].dump() +
                                        ", not a non-negative integer");
        t.shape.push_back(s[i].get<std::uint64_t>());
        elements = mul_or_throw(elements, t.shape.back(), 265, at);
    }
    t.nbytes = mul_or_throw(elements, traits(t.type).block_bytes, 265, at);

    const json& o = e["data_offsets"];
    if (!o.is_array() || o.size() != 2 || !o[0].is_number_unsigned() || !o[1].is_number_unsigned())
        throw format_error(263, at + ": data_offsets is " + o.dump() + ", not [begin, end] of non-negative integers");
    begin = o[0].get<std::uint64_t>();
    end = o[1].get<std::uint64_t>();
    if (begin > end)
        throw format_error(264, at + ": data_offsets begin " + std::to_string(begin) + " is after end " +
                                    std::to_string(end));
    if (end - begin != t.nbytes)
        throw format_error(266, at + ": data_offsets span " + std::to_string(end - begin) + " bytes, but shape " +
                                    s.dump() + " of " + dtype_name(t.type) + " needs " + std::to_string(t.nbytes));
}

inline std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace detail

// ---- safetensors_file ----------------------------------------------------------------------------

inline safetensors_file::safetensors_file(const std::string& path) : safetensors_file(mapped_file(path)) {}

inline safetensors_file::safetensors_file(mapped_file bytes)
    : path_(std::make_unique<std::string>(bytes.path())), map_(std::move(bytes)) {
    const std::string& path = *path_;
    const std::uint8_t* p = map_.data();
    const std::uint64_t size = map_.size();
    if (size < 8) {
        if (detail::looks_like_pickle(p, size)) detail::throw_pickle(path, std::filesystem::path(path).parent_path());
        throw format_error(250, path + ": file is " + std::to_string(size) +
                                    " bytes, too short for the 8-byte safetensors header length");
    }
    const std::uint64_t n = load_le<std::uint64_t>(p);
    if (n > size - 8) {
        if (detail::looks_like_pickle(p, size)) detail::throw_pickle(path, std::filesystem::path(path).parent_path());
        throw format_error(251, path + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                                    std::to_string(size - 8) + " bytes follow the length field); truncated or not safetensors");
    }
    if (n > detail::max_header_bytes)
        throw format_error(252, path + ": header length " + std::to_string(n) + " is above the cap of " +
                                    std::to_string(detail::max_header_bytes) + " bytes");

    const auto* text = reinterpret_cast<const char*>(p + 8);
    const detail::json header = detail::parse_json_strict(text, text + n, path, "header");
    if (!header.is_object())
        throw format_error(256, path + ": header is a JSON " + std::string(header.type_name()) + ", not an object");

    struct span {
        std::uint64_t begin, end;
        std::size_t index;
    };
    std::vector<span> spans;
    std::vector<tensor_ref> refs;
    for (const auto& item : header.items()) {
        if (item.key() == "__metadata__") {
            if (!item.value().is_object())
                throw format_error(271, path + ": __metadata__ is " + std::string(item.value().type_name()) +
                                            ", not an object of strings");
            for (const auto& m : item.value().items()) {
                if (!m.value().is_string())
                    throw format_error(272, path + ": __metadata__ field '" + m.key() + "' is " + m.value().dump() +
                                                ", not a string");
                metadata_.emplace(m.key(), m.value().get<std::string>());
            }
            continue;
        }
        tensor_ref t;
        t.name = item.key();
        t.file = path_.get();
        span s{0, 0, refs.size()};
        detail::parse_entry(path, t.name, item.value(), t, s.begin, s.end);
        spans.push_back(s);
        refs.push_back(std::move(t));
    }

    // The spec requires the spans to tile the data section exactly: sorted by offset, each starting
    // where the previous ended. Zero-byte tensors may share an offset; ties keep a stable name order.
    const std::uint64_t data_size = size - 8 - n;
    std::sort(spans.begin(), spans.end(), [&](const span& a, const span& b) {
        if (a.begin != b.begin) return a.begin < b.begin;
        if (a.end != b.end) return a.end < b.end;
        return refs[a.index].name < refs[b.index].name;
    });
    std::uint64_t expected = 0;
    const tensor_ref* previous = nullptr;
    for (const span& s : spans) {
        const tensor_ref& t = refs[s.index];
        const std::string range = "[" + std::to_string(s.begin) + ", " + std::to_string(s.end) + ")";
        if (s.end > data_size)
            throw format_error(267, path + ": tensor '" + t.name + "' bytes " + range + " reach beyond the " +
                                        std::to_string(data_size) + "-byte data section (file truncated?)");
        if (s.begin < expected)
            throw format_error(268, path + ": tensor '" + t.name + "' bytes " + range + " overlap tensor '" +
                                        previous->name + "', which ends at " + std::to_string(expected));
        if (s.begin > expected)
            throw format_error(269, path + ": " + std::to_string(s.begin - expected) + " bytes at offset " +
                                        std::to_string(expected) + " belong to no tensor: gap between " +
                                        (previous ? "tensor '" + previous->name + "'" : std::string("the header")) +
                                        " and tensor '" + t.name + "'");
        expected = s.end;
        previous = &t;
    }
    if (expected != data_size)
        throw format_error(270, path + ": " + std::to_string(data_size - expected) + " trailing bytes after " +
                                    (previous ? "the last tensor '" + previous->name + "'" : std::string("the header")) +
                                    " belong to no tensor");

    const std::uint8_t* data = p + 8 + n;  // within the mapping: every span was checked above
    tensors_.reserve(refs.size());
    for (const span& s : spans) {
        tensor_ref& t = refs[s.index];
        t.data = data + s.begin;
        by_name_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }
}

inline const tensor_ref* safetensors_file::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

inline const tensor_ref& safetensors_file::at(std::string_view name) const {
    if (const tensor_ref* t = find(name)) return *t;
    throw weights_error(401, "no tensor '" + std::string(name) + "' in '" + path() + "' (" +
                                 std::to_string(tensors_.size()) + " tensors)");
}

// ---- safetensors_checkpoint ----------------------------------------------------------------------

inline void safetensors_checkpoint::add_shard(std::unique_ptr<safetensors_file> shard) {
    for (const tensor_ref& t : shard->tensors()) {
        auto [it, fresh] = by_name_.emplace(t.name, tensors_.size());
        if (!fresh)
            throw format_error(279, origin_ + ": tensor '" + t.name + "' is stored in both '" +
                                        *tensors_[it->second].file + "' and '" + shard->path() + "'");
        tensors_.push_back(t);
    }
    files_.push_back(shard->path());
    shards_.push_back(std::move(shard));
}

inline safetensors_checkpoint safetensors_checkpoint::open(const std::string& path) {
    namespace fs = std::filesystem;
    refuse_pickle(path);
    safetensors_checkpoint ck;
    ck.origin_ = path;
    fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
        if (fs::exists(p / "model.safetensors", ec)) {
            p /= "model.safetensors";
        } else if (fs::exists(p / "model.safetensors.index.json", ec)) {
            p /= "model.safetensors.index.json";
        } else {
            throw format_error(281, path + ": folder holds neither model.safetensors nor model.safetensors.index.json");
        }
    }
    const std::string file = p.string();
    const std::string suffix = ".index.json";
    if (file.size() < suffix.size() || file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
        ck.add_shard(std::make_unique<safetensors_file>(file));
        return ck;
    }

    mapped_file index(file);
    if (index.size() > detail::max_header_bytes)
        throw format_error(280, file + ": index is " + std::to_string(index.size()) + " bytes, above the cap of " +
                                    std::to_string(detail::max_header_bytes));
    const auto* text = reinterpret_cast<const char*>(index.data());
    const detail::json j = detail::parse_json_strict(text, text + index.size(), file, "index");
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object() || j["weight_map"].empty())
        throw format_error(275, file + ": index has no non-empty 'weight_map' object");

    std::map<std::string, std::vector<std::string>> wanted;  // shard file name -> tensor names
    for (const auto& item : j["weight_map"].items()) {
        if (!item.value().is_string())
            throw format_error(275, file + ": weight_map entry for tensor '" + item.key() + "' is " +
                                        item.value().dump() + ", not a file name");
        const std::string& shard = item.value().get_ref<const std::string&>();
        // Shards must sit beside the index: a name with a separator could reach any file on disk.
        if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
            shard.find('\\') != std::string::npos || shard.find('\0') != std::string::npos)
            throw format_error(276, file + ": weight_map puts tensor '" + item.key() + "' in '" + shard +
                                        "', which is not a plain file name beside the index");
        wanted[shard].push_back(item.key());
    }
    const fs::path dir = fs::path(file).parent_path();
    for (const auto& [shard, names] : wanted) {
        const fs::path shard_path = dir / shard;
        if (!fs::is_regular_file(shard_path, ec))
            throw format_error(277, file + ": weight_map puts tensor '" + names.front() + "' in '" + shard +
                                        "', which does not exist in '" + (dir.empty() ? "." : dir.string()) + "'");
        auto opened = std::make_unique<safetensors_file>(shard_path.string());
        for (const std::string& name : names)
            if (opened->find(name) == nullptr)
                throw format_error(278, file + ": weight_map puts tensor '" + name + "' in '" + shard +
                                            "', but that shard has no such tensor");
        ck.add_shard(std::move(opened));
    }
    return ck;
}

inline const tensor_ref* safetensors_checkpoint::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

inline const tensor_ref& safetensors_checkpoint::at(std::string_view name) const {
    if (const tensor_ref* t = find(name)) return *t;
    throw weights_error(401, "no tensor '" + std::string(name) + "' in '" + origin_ + "' (" +
                                 std::to_string(tensors_.size()) + " tensors in " + std::to_string(files_.size()) +
                                 " file(s))");
}

// ---- free functions ------------------------------------------------------------------------------

inline void refuse_pickle(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    const std::string ext = detail::lower(p.extension().string());
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt") detail::throw_pickle(path, p.parent_path());
    std::error_code ec;
    if (!fs::is_directory(p, ec)) return;
    if (fs::exists(p / "model.safetensors", ec) || fs::exists(p / "model.safetensors.index.json", ec)) return;
    for (const char* name : {"pytorch_model.bin", "pytorch_model.bin.index.json"})
        if (fs::exists(p / name, ec)) detail::throw_pickle((p / name).string(), path);
}

inline void write_safetensors(const std::string& path, const std::vector<tensor_to_write>& tensors,
                              const std::map<std::string, std::string>& metadata) {
    // ordered_json keeps the header in the caller's order, which is also the byte order.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string_view> names;
    std::vector<std::pair<const void*, std::size_t>> pieces;
    std::uint64_t offset = 0;
    for (const tensor_to_write& t : tensors) {
        const std::string at = path + ": tensor '" + t.name + "'";
        if (t.name.empty() || t.name == "__metadata__")
            throw format_error(286, at + ": the name is empty or reserved");
        if (!names.insert(t.name).second) throw format_error(286, at + " is given twice");
        if (!detail::is_safetensors_dtype(t.type))
            throw format_error(286, at + ": safetensors cannot store dtype " + dtype_name(t.type));
        if (t.shape.size() > detail::max_rank)
            throw format_error(286, at + ": rank " + std::to_string(t.shape.size()) + " is above the limit of 8");
        std::uint64_t n = 1;
        for (auto d : t.shape) n = detail::mul_or_throw(n, d, 286, at);
        n = detail::mul_or_throw(n, traits(t.type).block_bytes, 286, at);
        if (n > 0 && t.data == nullptr) throw format_error(286, at + " has no data");
        if (offset + n < offset) throw format_error(286, at + ": file size overflows 64 bits");
        header[t.name] = {{"dtype", dtype_name(t.type)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
        pieces.emplace_back(t.data, static_cast<std::size_t>(n));
        offset += n;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::ordered_json::exception& e) {
        throw format_error(286, path + ": a tensor name or metadata string is not valid UTF-8: " + e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // like the Python library: the data section starts 8-aligned
    if (text.size() > detail::max_header_bytes)
        throw format_error(286, path + ": header of " + std::to_string(text.size()) + " bytes is above the cap");
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(text.size()) >> (8 * i));
    pieces.insert(pieces.begin(), {{length, 8}, {text.data(), text.size()}});
    detail::write_file_atomically(path, pieces);
}

}  // namespace xlens::io
