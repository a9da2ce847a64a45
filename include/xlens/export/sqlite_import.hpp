// xlens/export/sqlite_import.hpp — from a weight database back to files.
//
//   xlens::import_safetensors("smollm2.db", "back/model.safetensors");  // every tensor, bytes identical
//   xlens::restore_source_files("smollm2.db", "restored/");              // the source files, byte for byte
//
// Each tensor is rebuilt from its rows and checked against the SHA-256 recorded from the source
// before anything is written, and files are written through .tmp + rename, so an import either
// produces a faithful file or none.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/io/file_writer.hpp"
#include "xlens/io/json.hpp"
#include "xlens/io/safetensors.hpp"
#include "xlens/model/database_reader.hpp"

namespace xlens {

struct import_report {
    std::size_t tensors = 0;
    std::uint64_t tensor_bytes = 0;
    std::vector<std::string> files;  // every file written, weights first
};

/// Writes every tensor of the database at `db_path` into one safetensors file (source order, the
/// source's names and dtypes, its `__metadata__` when it had one) and the source's config and
/// tokenizer files beside it. Throws input_error 561 for a tensor safetensors cannot hold (GGUF
/// blocks: use restore_source_files), 562 if a file beside it exists with other content.
inline import_report import_safetensors(const std::string& db_path, const std::string& out_path);

/// Writes the source's files (weights, index, config and tokenizer files) into `folder`, each
/// byte-identical to the original and checked against its SHA-256. Throws 562 like import_safetensors.
inline import_report restore_source_files(const std::string& db_path, const std::string& folder);

// ==== implementation ==============================================================================

namespace detail {

inline void make_folder(const std::string& folder) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw io_error(110, "cannot create the folder '" + folder + "': " + ec.message());
}

/// Writes `bytes` as `path` unless the same bytes are already there; other content is refused.
inline void write_companion(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(path, ec)) {
        io::mapped_file existing(path);
        if (existing.size() == bytes.size() && (bytes.empty() || std::memcmp(existing.data(), bytes.data(), bytes.size()) == 0)) return;
        throw input_error(562, "'" + path + "' already exists with other content; remove it or write elsewhere");
    }
    io::detail::write_file_atomically(path, {{bytes.data(), bytes.size()}});
}

/// The `__metadata__` of a safetensors source, read from its header bytes in file_bytes.
inline std::map<std::string, std::string> source_metadata(const weight_database& db, const std::string& file) {
    auto q = db.sql().prepare("SELECT bytes FROM file_bytes WHERE file = ?1 AND offset = 0");
    q.bind(1, file);
    if (!q.step()) return {};
    const auto head = q.column_blob(0);
    if (head.size() < 8) return {};
    const auto n = io::load_le<std::uint64_t>(reinterpret_cast<const std::uint8_t*>(head.data()));
    if (n > head.size() - 8) return {};
    const auto header = io::parse_json(std::string(head.substr(8, static_cast<std::size_t>(n))), db.path() + ":" + file);
    std::map<std::string, std::string> out;
    if (header.contains("__metadata__") && header["__metadata__"].is_object())
        for (const auto& [k, v] : header["__metadata__"].items())
            if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

}  // namespace detail

inline import_report import_safetensors(const std::string& db_path, const std::string& out_path) {
    namespace fs = std::filesystem;
    auto db = weight_database::open(db_path);
    const auto& tensors = db.tensors();
    for (const auto& t : tensors)
        if (!io::detail::is_safetensors_dtype(t.type))
            throw input_error(561, db_path + ": tensor '" + t.name + "' is " + t.dtype_name +
                                       ", which safetensors cannot hold; restore the source file itself with "
                                       "`xlens import DB --files DIR`");
    import_report report;
    std::vector<std::vector<std::uint8_t>> bytes;
    std::vector<io::tensor_to_write> out;
    bytes.reserve(tensors.size());
    for (const auto& t : tensors) {
        bytes.push_back(db.tensor_bytes(t));
        out.push_back({t.name, t.type, t.shape, bytes.back().data()});
        report.tensor_bytes += t.nbytes;
    }
    report.tensors = tensors.size();
    std::map<std::string, std::string> metadata = {{"format", "pt"}};
    for (const auto& f : db.files())
        if (f.kind == "weights") {
            auto m = detail::source_metadata(db, f.name);
            if (!m.empty()) metadata = m;
            break;
        }
    const fs::path folder = fs::path(out_path).parent_path();
    if (!folder.empty()) detail::make_folder(folder.string());
    io::write_safetensors(out_path, out, metadata);
    report.files.push_back(out_path);
    for (const auto& f : db.files())
        if (f.kind == "config" || f.kind == "tokenizer") {
            const std::string path = (folder / f.name).string();
            detail::write_companion(path, db.file_bytes(f.name));
            report.files.push_back(path);
        }
    return report;
}

inline import_report restore_source_files(const std::string& db_path, const std::string& folder) {
    namespace fs = std::filesystem;
    auto db = weight_database::open(db_path);
    detail::make_folder(folder);
    import_report report;
    for (const auto& f : db.files()) {
        const std::string path = (fs::path(folder) / f.name).string();
        detail::write_companion(path, db.file_bytes(f.name));
        report.files.push_back(path);
    }
    for (const auto& t : db.tensors()) {
        ++report.tensors;
        report.tensor_bytes += t.nbytes;
    }
    return report;
}

}  // namespace xlens
