// xlens/model/database_reader.hpp — reading a weight database back: tensors, source files, checks.
//
//   auto db = xlens::weight_database::open("smollm2.db");      // read-only
//   auto bytes = db.tensor_bytes(db.tensors()[0]);              // rebuilt from the semantic rows
//   auto m = xlens::model::load("smollm2.db");                  // the forward pass, from the database alone
//
// Every tensor is rebuilt from the rows it was spread over (or its raw chunks) and checked against the
// SHA-256 the exporter recorded from the source; every source file is rebuilt byte for byte and checked
// the same way. A database that is not an xlens export, comes from another schema version, was left
// incomplete, or holds a BLOB of the wrong length is refused with a message naming the table and row.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xlens/error.hpp"
#include "xlens/io/sha256.hpp"
#include "xlens/io/sqlite.hpp"
#include "xlens/model/database_layout.hpp"

namespace xlens {

/// One row of the tensors table: a tensor of the source checkpoint, as the exporter found it.
struct stored_tensor {
    std::int64_t id = 0;
    std::string name, dtype_name, file, sha256, storage, role_name;
    io::dtype type = io::dtype::f32;
    std::vector<std::uint64_t> shape;
    std::uint64_t byte_offset = 0, nbytes = 0;
    std::int64_t layer = -1;
};

/// One row of the source_files table.
struct stored_file {
    std::string name, kind, sha256;
    std::uint64_t size = 0;
};

/// A weight database opened read-only. Move-only; the connection closes with it.
class weight_database {
public:
    /// Opens `path` read-only and checks it is a complete xlens export of this schema version.
    /// Throws io_error 120/124 (cannot open, not SQLite or damaged), format_error 233 (not an xlens
    /// weight database), 234 (another schema version), 235 (an export that never finished).
    static weight_database open(const std::string& path) { return open(path, false); }
    /// As open(), but also an export still being checked (`complete` = 0): what the exporter uses.
    static weight_database open_unfinished(const std::string& path) { return open(path, true); }

    const std::string& path() const { return sql_.path(); }
    /// The connection, for queries (read-only: a write throws io_error 123).
    io::sqlite::database& sql() { return sql_; }
    const io::sqlite::database& sql() const { return sql_; }

    /// "safetensors" or "gguf".
    const std::string& source_format() const { return source_format_; }
    /// The family name (model_config::architecture).
    const std::string& architecture() const { return architecture_; }
    /// Sizes and layout the placements need.
    const db::layout_facts& facts() const { return facts_; }

    /// Every tensor, in source order (read and checked once, when the database is opened).
    const std::vector<stored_tensor>& tensors() const { return tensors_; }
    /// Every source file (weights, index, config, tokenizer files).
    const std::vector<stored_file>& files() const { return files_; }
    /// The bytes of `t`, rebuilt and checked against its recorded SHA-256 (format_error 237 if they differ).
    std::vector<std::uint8_t> tensor_bytes(const stored_tensor& t) const;
    /// The bytes of source file `name`, rebuilt exactly and checked against its SHA-256 (237).
    std::vector<std::uint8_t> file_bytes(const std::string& name) const;
    /// Whether the source had a file called `name` (e.g. "tokenizer.json").
    bool has_file(const std::string& name) const;

private:
    explicit weight_database(io::sqlite::database sql) : sql_(std::move(sql)) {}
    static weight_database open(const std::string& path, bool unfinished) {
        weight_database db(io::sqlite::database::open(path, io::sqlite::open_mode::read_only));
        db.check_schema();
        db.check_header(unfinished);
        db.files_ = db.read_files();  // read and checked once; every rebuild works from this view
        db.tensors_ = db.read_tensors();
        return db;
    }
    void check_schema();
    std::vector<stored_file> read_files() const;
    std::vector<stored_tensor> read_tensors() const;
    void check_header(bool unfinished);
    [[noreturn]] void fail(int id, const std::string& what) const { throw format_error(id, path() + ": " + what); }
    std::vector<std::uint8_t> rebuild(const stored_tensor& t) const;
    void scatter_semantic(const stored_tensor& t, std::uint8_t* out) const;
    void copy_raw(const stored_tensor& t, std::uint8_t* out) const;

    io::sqlite::database sql_;
    std::uint64_t database_bytes_ = 0;
    std::vector<stored_file> files_;
    std::vector<stored_tensor> tensors_;
    std::string source_format_, architecture_;
    db::layout_facts facts_;
};

namespace detail {

/// A file is a weight database when it starts with SQLite's 16-byte signature.
inline bool is_sqlite_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char head[16] = {};
    return in.read(head, 16) && std::memcmp(head, "SQLite format 3\0", 16) == 0;
}

}  // namespace detail

// ==== implementation ==============================================================================

/// The file's tables, indexes and views must be exactly the ones schema_sql() creates: a view or
/// trigger in place of a table could make a read run forever or return anything.
inline void weight_database::check_schema() {
    auto app = sql_.prepare("PRAGMA application_id");
    app.step();
    if (app.column_int64(0) != db::application_id)
        fail(233, "not an xlens weight database (SQLite application_id is " + std::to_string(app.column_int64(0)) +
                      "; xlens exports carry " + std::to_string(db::application_id) + "); make one with `xlens export MODEL --sqlite OUT.db`");
    auto objects = [](const io::sqlite::database& sql) {
        std::map<std::string, std::string> out;
        auto q = sql.prepare("SELECT type, name, ifnull(sql, '') FROM sqlite_schema");
        while (q.step()) out[q.column_text(1)] = q.column_text(0) + ": " + q.column_text(2);
        return out;
    };
    auto reference = io::sqlite::database::open(":memory:", io::sqlite::open_mode::create);
    reference.exec(db::schema_sql());
    const auto expected = objects(reference), found = objects(sql_);
    for (const auto& [name, definition] : expected) {
        auto it = found.find(name);
        if (it != found.end() && it->second != definition)
            fail(233, "'" + name + "' is not defined as xlens defines it (" + it->second.substr(0, 80) + "...)");
    }
    for (const auto& [name, definition] : expected)
        if (!found.count(name)) fail(233, "not an xlens weight database of this version (no '" + name + "')");
    for (const auto& [name, definition] : found)
        if (!expected.count(name)) fail(233, "'" + name + "' is not part of an xlens weight database");
}

inline void weight_database::check_header(bool unfinished) {
    auto q = sql_.prepare(
        "SELECT schema_version, complete, architecture, source_format, d_model, d_vocab, n_ctx, d_mlp, n_heads, "
        "n_kv_heads, d_head, tied_embeddings FROM model WHERE id = 1");
    if (!q.step()) fail(233, "table 'model' has no row");
    const auto version = q.column_int64(0);
    if (version != db::schema_version)
        fail(234, "table 'model' row 1: schema_version is " + std::to_string(version) + ", but this xlens reads version " +
                      std::to_string(db::schema_version) + "; export the model again with this version");
    if (q.column_int64(1) != 1 && !unfinished)
        fail(235, "table 'model' row 1: complete is 0 — the export that wrote this file never finished; export again");
    architecture_ = q.column_text(2);
    source_format_ = q.column_text(3);
    const family* fam = nullptr;
    for (const auto& f : families())
        if (architecture_ == f.name) fam = &f;
    if (fam == nullptr) fail(238, "table 'model' row 1: architecture '" + architecture_ + "' is not one xlens knows");
    if (source_format_ != "gguf" && source_format_ != "safetensors")
        fail(238, "table 'model' row 1: source_format '" + source_format_ + "' is neither 'gguf' nor 'safetensors'");
    auto size = [&](int col, const char* name) {
        const auto v = q.column_int64(col);
        if (v < 0 || v > (std::int64_t(1) << 31)) fail(238, std::string("table 'model' row 1: ") + name + " is " + std::to_string(v));
        return static_cast<std::uint64_t>(v);
    };
    facts_.d_model = size(4, "d_model");
    facts_.d_vocab = size(5, "d_vocab");
    facts_.n_ctx = size(6, "n_ctx");
    facts_.d_mlp = size(7, "d_mlp");
    facts_.n_heads = size(8, "n_heads");
    facts_.n_kv_heads = size(9, "n_kv_heads");
    facts_.d_head = size(10, "d_head");
    facts_.tied_embeddings = q.column_int64(11) != 0;
    facts_.in_by_out = fam->in_by_out_in(source_format_ == "gguf");
    facts_.qkv = fam->qkv_in(source_format_ == "gguf");
    facts_.qk_permuted = source_format_ == "gguf" && fam->gguf_qk_permuted;
    facts_.qk_norm_whole = fam->qk_norm == qk_norm_kind::whole;
    // The placements index with these; a crafted row must not turn into a division by zero or an
    // index past a head.
    if (facts_.d_model == 0 || facts_.n_heads == 0 || facts_.n_kv_heads == 0 || facts_.d_head == 0 ||
        facts_.n_heads % facts_.n_kv_heads != 0 || (facts_.qk_permuted && facts_.d_head % 2 != 0))
        fail(238, "table 'model' row 1: sizes that cannot describe a model (d_model " + std::to_string(facts_.d_model) +
                      ", n_heads " + std::to_string(facts_.n_heads) + ", n_kv_heads " + std::to_string(facts_.n_kv_heads) +
                      ", d_head " + std::to_string(facts_.d_head) + ")");
    std::error_code ec;
    database_bytes_ = std::filesystem::file_size(sql_.path(), ec);
    if (ec) throw io_error(120, "cannot read the size of '" + path() + "': " + ec.message());
}

inline std::vector<stored_tensor> weight_database::read_tensors() const {
    std::vector<stored_tensor> out;
    std::map<std::string, std::uint64_t> file_sizes;
    for (const auto& f : files()) file_sizes[f.name] = f.size;
    auto q = sql_.prepare("SELECT id, name, dtype, shape, file, byte_offset, nbytes, sha256, storage, role, layer FROM tensors ORDER BY id");
    while (q.step()) {
        stored_tensor t;
        t.id = q.column_int64(0);
        t.name = q.column_text(1);
        t.dtype_name = q.column_text(2);
        const std::string row = "table 'tensors' row " + std::to_string(t.id) + " ('" + t.name + "')";
        if (!db::dtype_from_name(t.dtype_name, t.type)) fail(238, row + ": unknown dtype '" + t.dtype_name + "'");
        try {
            auto shape = nlohmann::json::parse(q.column_text(3));
            if (!shape.is_array()) throw nlohmann::json::type_error::create(302, "not an array", nullptr);
            for (const auto& d : shape)
                if (!d.is_number_unsigned()) throw nlohmann::json::type_error::create(302, "not a size", nullptr);
            t.shape = shape.get<std::vector<std::uint64_t>>();
        } catch (const nlohmann::json::exception&) {
            fail(238, row + ": shape '" + q.column_text(3) + "' is not a JSON list of sizes");
        }
        t.file = q.column_text(4);
        const auto offset = q.column_int64(5), nbytes = q.column_int64(6);
        if (offset < 0 || nbytes < 0) fail(238, row + ": negative byte_offset or nbytes");
        t.byte_offset = static_cast<std::uint64_t>(offset);
        t.nbytes = static_cast<std::uint64_t>(nbytes);
        std::uint64_t elements = 1;
        for (auto d : t.shape) elements = xlens::detail::checked_mul(elements, d, row);
        if (io::byte_size(t.type, elements, row) != t.nbytes)
            fail(236, row + ": nbytes " + std::to_string(t.nbytes) + " disagrees with its dtype " + t.dtype_name +
                          " × shape " + q.column_text(3) + " (" + std::to_string(io::byte_size(t.type, elements, row)) + " bytes)");
        const auto file = file_sizes.find(t.file);
        if (file == file_sizes.end()) fail(238, row + ": file '" + t.file + "' is not in table 'source_files'");
        if (xlens::detail::checked_add(t.byte_offset, t.nbytes, row) > file->second)
            fail(236, row + ": bytes [" + std::to_string(t.byte_offset) + ", +" + std::to_string(t.nbytes) + ") lie outside '" +
                          t.file + "' (" + std::to_string(file->second) + " bytes)");
        t.sha256 = q.column_text(7);
        t.storage = q.column_text(8);
        if (t.storage != "semantic" && t.storage != "raw") fail(238, row + ": storage '" + t.storage + "' is neither 'semantic' nor 'raw'");
        t.role_name = q.column_is_null(9) ? "" : q.column_text(9);
        t.layer = q.column_is_null(10) ? -1 : q.column_int64(10);
        out.push_back(std::move(t));
    }
    // No two tensors share bytes of a file or a semantic home: rebuilding is then bounded by the
    // database's own size, however its rows were edited.
    std::vector<const stored_tensor*> by_place;
    std::set<std::pair<std::string, std::int64_t>> homes;
    for (const auto& t : out) {
        by_place.push_back(&t);
        if (t.storage == "semantic" && !homes.insert({t.role_name, t.layer}).second)
            fail(238, "table 'tensors' row " + std::to_string(t.id) + " ('" + t.name + "'): a second tensor with role " +
                          t.role_name + " in layer " + std::to_string(t.layer));
    }
    std::sort(by_place.begin(), by_place.end(), [](const stored_tensor* a, const stored_tensor* b) {
        return std::tie(a->file, a->byte_offset) < std::tie(b->file, b->byte_offset);
    });
    for (std::size_t i = 1; i < by_place.size(); ++i) {
        const auto &a = *by_place[i - 1], &b = *by_place[i];
        if (a.file == b.file && a.byte_offset + a.nbytes > b.byte_offset)
            fail(238, "table 'tensors' rows " + std::to_string(a.id) + " and " + std::to_string(b.id) + " overlap in '" + a.file + "'");
    }
    return out;
}

inline std::vector<stored_file> weight_database::read_files() const {
    std::vector<stored_file> out;
    std::uint64_t total = 0;
    auto q = sql_.prepare("SELECT name, kind, size, sha256 FROM source_files ORDER BY rowid");
    while (q.step()) {
        const auto size = q.column_int64(2);
        const std::string name = q.column_text(0);
        // Every byte of a source file is stored in the database, so none can be larger than it.
        if (size < 0 || static_cast<std::uint64_t>(size) > database_bytes_)
            fail(238, "table 'source_files' row '" + name + "': size " + std::to_string(size) +
                          " cannot fit in the database's " + std::to_string(database_bytes_) + " bytes");
        // Names become paths when files are restored: nothing that could reach outside the folder.
        if (name.empty() || name == "." || name == ".." || name.find_first_of(std::string("/\\\0", 3)) != std::string::npos)
            fail(238, "table 'source_files' row '" + name + "': not a plain file name");
        total += static_cast<std::uint64_t>(size);
        if (total > database_bytes_)
            fail(238, "table 'source_files': the files add up to more bytes than the database's " + std::to_string(database_bytes_));
        out.push_back({q.column_text(0), q.column_text(1), q.column_text(3), static_cast<std::uint64_t>(size)});
    }
    return out;
}

inline bool weight_database::has_file(const std::string& name) const {
    auto q = sql_.prepare("SELECT 1 FROM source_files WHERE name = ?1");
    q.bind(1, name);
    return q.step();
}

inline void weight_database::scatter_semantic(const stored_tensor& t, std::uint8_t* out) const {
    role r;
    const std::string row = "table 'tensors' row " + std::to_string(t.id) + " ('" + t.name + "')";
    if (!db::role_from_name(t.role_name, r)) fail(238, row + ": storage 'semantic' but role '" + t.role_name + "' is unknown");
    if (!db::keeps_own_bytes(t.type)) fail(238, row + ": storage 'semantic' for dtype " + t.dtype_name);
    if (db::per_layer(r) && t.layer < 0) fail(238, row + ": role " + t.role_name + " needs a layer");
    const auto places = db::placements(r, static_cast<std::size_t>(std::max<std::int64_t>(t.layer, 0)), facts_);
    if (places.empty()) fail(238, row + ": role " + t.role_name + " has no semantic table in this model");
    const std::size_t esize = io::traits(t.type).block_bytes;
    for (const auto& p : places) {
        if (p.matrix_bytes(t.type, row) != t.nbytes)
            fail(236, row + ": " + std::to_string(t.nbytes) + " bytes cannot be the [" + std::to_string(p.rows) + ", " +
                          std::to_string(p.cols) + "] matrix its role needs");
        const std::string table = p.column->table, unit = db::unit_column(table), norm = p.column->norm;
        std::string sql = "SELECT " + (unit.empty() ? std::string("0") : unit) + ", " + p.column->dtype_column + ", " +
                          p.column->column + " FROM " + table + " WHERE 1";
        if (p.layer >= 0) sql += " AND layer = ?1";
        if (!norm.empty()) sql += p.layer >= 0 ? " AND name = ?2" : " AND name = ?2 AND layer IS NULL";
        if (!unit.empty()) sql += " ORDER BY " + unit;
        auto q = sql_.prepare(sql);
        if (p.layer >= 0) q.bind(1, p.layer);
        if (!norm.empty()) q.bind(2, norm);
        const std::uint64_t expected = p.blob_bytes(t.type);
        std::uint64_t u = 0;
        for (; q.step(); ++u) {
            const std::string where = db::describe_row(table, p.layer, u, norm);
            if (u >= p.units || q.column_int64(0) != static_cast<std::int64_t>(u))
                fail(237, where + ": rows are missing or extra (found " + unit + " " + std::to_string(q.column_int64(0)) + ")");
            if (q.column_is_null(1) || q.column_text(1) != t.dtype_name)
                fail(236, where + ": " + p.column->dtype_column + " is '" + (q.column_is_null(1) ? "NULL" : q.column_text(1)) +
                              "', but tensor '" + t.name + "' is " + t.dtype_name);
            const auto blob = q.column_blob(2);
            if (blob.size() != expected)
                fail(236, where + ": " + p.column->column + " holds " + std::to_string(blob.size()) + " bytes, expected " +
                              std::to_string(expected) + " (" + std::to_string(p.per_unit * p.vector_length()) + " × " +
                              t.dtype_name + ")");
            db::scatter(p, out, esize, u, reinterpret_cast<const std::uint8_t*>(blob.data()));
        }
        if (u != p.units)
            fail(237, "table '" + table + "' has " + std::to_string(u) + " rows for tensor '" + t.name + "', expected " +
                          std::to_string(p.units));
    }
}

inline void weight_database::copy_raw(const stored_tensor& t, std::uint8_t* out) const {
    auto q = sql_.prepare("SELECT chunk, bytes FROM tensor_chunks WHERE tensor = ?1 ORDER BY chunk");
    q.bind(1, t.id);
    std::uint64_t at = 0;
    for (std::int64_t expected_chunk = 0; q.step(); ++expected_chunk) {
        const std::string where = "table 'tensor_chunks' row (tensor " + std::to_string(t.id) + " '" + t.name + "', chunk " +
                                  std::to_string(q.column_int64(0)) + ")";
        if (q.column_int64(0) != expected_chunk) fail(237, where + ": chunk " + std::to_string(expected_chunk) + " is missing");
        const auto blob = q.column_blob(1);
        if (blob.size() > t.nbytes - at)
            fail(236, where + ": the chunks hold more than the tensor's " + std::to_string(t.nbytes) + " bytes (dtype " +
                          t.dtype_name + ")");
        if (!blob.empty()) std::memcpy(out + at, blob.data(), blob.size());
        at += blob.size();
    }
    if (at != t.nbytes)
        fail(236, "table 'tensor_chunks' rows of tensor " + std::to_string(t.id) + " ('" + t.name + "') hold " + std::to_string(at) +
                      " bytes; its dtype " + t.dtype_name + " and shape need " + std::to_string(t.nbytes));
}

inline std::vector<std::uint8_t> weight_database::rebuild(const stored_tensor& t) const {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(t.nbytes));
    if (t.storage == "semantic") scatter_semantic(t, out.data());
    else copy_raw(t, out.data());
    return out;
}

inline std::vector<std::uint8_t> weight_database::tensor_bytes(const stored_tensor& t) const {
    auto out = rebuild(t);
    if (io::sha256_hex(out.data(), out.size()) != t.sha256)
        fail(237, "tensor '" + t.name + "' (table 'tensors' row " + std::to_string(t.id) +
                      ") rebuilt from the database does not match the SHA-256 recorded from the source");
    return out;
}

inline std::vector<std::uint8_t> weight_database::file_bytes(const std::string& name) const {
    stored_file file;
    bool found = false;
    for (const auto& f : files_)
        if (f.name == name) {
            file = f;
            found = true;
        }
    if (!found) fail(237, "no source file '" + name + "' in table 'source_files'");
    std::vector<std::uint8_t> out(static_cast<std::size_t>(file.size));
    auto put = [&](std::uint64_t offset, const void* data, std::uint64_t n, const std::string& what) {
        if (offset > file.size || n > file.size - offset)
            fail(236, what + ": bytes [" + std::to_string(offset) + ", +" + std::to_string(n) + ") lie outside '" + name +
                          "' (" + std::to_string(file.size) + " bytes)");
        if (n) std::memcpy(out.data() + offset, data, static_cast<std::size_t>(n));
    };
    auto q = sql_.prepare("SELECT offset, bytes FROM file_bytes WHERE file = ?1 ORDER BY offset");
    q.bind(1, name);
    while (q.step()) {
        const auto blob = q.column_blob(1);
        const auto offset = q.column_int64(0);
        const std::string where = "table 'file_bytes' row ('" + name + "', offset " + std::to_string(offset) + ")";
        if (offset < 0) fail(238, where + ": negative offset");
        put(static_cast<std::uint64_t>(offset), blob.data(), blob.size(), where);
    }
    // The file's hash covers its tensors; only when it differs are they hashed one by one, to name the culprit.
    const auto& all = tensors_;
    for (const auto& t : all)
        if (t.file == name) {
            auto bytes = rebuild(t);
            put(t.byte_offset, bytes.data(), bytes.size(), "table 'tensors' row " + std::to_string(t.id) + " ('" + t.name + "')");
        }
    if (io::sha256_hex(out.data(), out.size()) != file.sha256) {
        for (const auto& t : all)
            if (t.file == name) tensor_bytes(t);
        fail(237, "source file '" + name + "' rebuilt from the database does not match the SHA-256 recorded from the source");
    }
    return out;
}

}  // namespace xlens
