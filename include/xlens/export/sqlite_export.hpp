// xlens/export/sqlite_export.hpp — a model as a static SQLite database, lossless and queryable.
//
//   xlens::export_sqlite("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2.db");
//   auto m = xlens::model::load("smollm2.db");   // the same logits as the GGUF's
//
// Rows are the units researchers think in (tokens, heads, neurons, norms; docs/database.md). Vectors
// are BLOBs in the checkpoint's own dtype, spread over rows by model/database_layout.hpp, so every
// tensor can be put back together bit for bit. Tensors whose bytes cannot be cut into rows (GGUF
// quantised blocks: 32 or 256 values share a scale, so a column such as a neuron's output vector
// cannot be cut out of them) are kept raw in tensor_chunks, and their rows hold the dequantised
// float32 view, marked by the row's dtype column ("F32") and the tensors table (storage 'raw').
//
// Crash safety: the database is written to OUT.tmp, which only this export may hold (an exclusive
// lock on it; a second writer gets io_error 125), is rebuilt and checked against every recorded
// SHA-256, marked complete, then fsynced and renamed to OUT. A killed export leaves at most OUT.tmp,
// whose `complete` flag is 0 unless it was killed after every check had passed. Re-running
// replaces OUT with the same bytes.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "xlens/export/database_labels.hpp"
#include "xlens/io/sha256.hpp"
#include "xlens/io/sqlite.hpp"
#include "xlens/model/database_layout.hpp"
#include "xlens/model/database_reader.hpp"
#include "xlens/model/model.hpp"
#include "xlens/text/tokenizer_files.hpp"
#include "xlens/version.hpp"

namespace xlens {

struct export_options {
    /// Each neuron's k most promoted and suppressed tokens into neuron_tokens (0: leave it empty).
    std::size_t neuron_tokens = 0;
    /// Each head's OV-circuit copying score into head_roles (role 'ov_copying').
    bool head_copying = false;
    /// A rules.json written by `xlens rules`, stored in rules / rule_triggers / rule_tokens.
    std::string rules_path;
    /// Rebuild every source file from the finished database and check its SHA-256 before the rename.
    bool verify = true;
};

struct export_report {
    std::size_t tensors_semantic = 0;  // kept in their own bytes in the semantic tables
    std::size_t tensors_raw = 0;       // kept raw in tensor_chunks (their rows hold a float32 view)
    std::uint64_t rows = 0;            // semantic rows written
    std::uint64_t source_bytes = 0;    // bytes of the source files
    std::uint64_t database_bytes = 0;  // size of the finished database
};

/// Writes `model_path` (anything model::load reads, except a database) as a weight database at `out_path`.
/// Throws io_error 125 (another export is writing out_path), 110-112 (file system), 12x (SQLite), and
/// the loader's errors for the model.
inline export_report export_sqlite(const std::string& model_path, const std::string& out_path, const export_options& options = {});

/// xlens's own reading of a configuration, as stored in model.config_json.
inline nlohmann::json config_to_json(const model_config& c);

// ==== implementation ==============================================================================

inline nlohmann::json config_to_json(const model_config& c) {
    const auto& r = c.attn.rotary;
    return {{"architecture", c.architecture}, {"d_model", c.d_model}, {"n_layers", c.n_layers}, {"d_vocab", c.d_vocab},
            {"n_ctx", c.n_ctx},
            {"norm", {{"kind", c.norm.kind == norm_kind::rms_norm ? "rms_norm" : "layer_norm"}, {"eps", c.norm.eps}}},
            {"attn", {{"n_heads", c.attn.n_heads}, {"n_kv_heads", c.attn.n_kv_heads}, {"d_head", c.attn.d_head},
                      {"qkv_bias", c.attn.qkv_bias}, {"o_bias", c.attn.o_bias},
                      {"positions", c.attn.positions == position_kind::rotary ? "rotary" : "learned"},
                      {"rotary", {{"theta", r.theta}, {"rotary_dim", r.rotary_dim}, {"scaling", r.scaling}, {"factor", r.factor},
                                  {"low_freq_factor", r.low_freq_factor}, {"high_freq_factor", r.high_freq_factor},
                                  {"original_max_positions", r.original_max_positions}}},
                      {"sliding_window", c.attn.sliding_window}}},
            {"mlp", {{"d_mlp", c.mlp.d_mlp}, {"gated", c.mlp.gated}, {"activation", activation_name(c.mlp.activation)}, {"bias", c.mlp.bias}}},
            {"parallel_residual", c.parallel_residual}, {"tied_embeddings", c.tied_embeddings}};
}

namespace detail {

/// The canonical float32 weight playing `r` in `layer` (empty if the model has none).
inline const weight& canonical_weight(const model_weights& w, role r, std::size_t layer) {
    static const weight none;
    if (!db::per_layer(r)) {
        switch (r) {
            case role::embed: return w.embed;
            case role::pos_embed: return w.pos_embed;
            case role::unembed: return w.unembed.w;
            case role::unembed_b: return w.unembed.b;
            case role::ln_final_w: return w.ln_final.w;
            case role::ln_final_b: return w.ln_final.b;
            default: return none;
        }
    }
    const auto& l = w.layers.at(layer);
    switch (r) {
        case role::ln1_w: return l.ln1.w;
        case role::ln1_b: return l.ln1.b;
        case role::ln2_w: return l.ln2.w;
        case role::ln2_b: return l.ln2.b;
        case role::q_w: return l.attn.q.w;
        case role::q_b: return l.attn.q.b;
        case role::k_w: return l.attn.k.w;
        case role::k_b: return l.attn.k.b;
        case role::v_w: return l.attn.v.w;
        case role::v_b: return l.attn.v.b;
        case role::o_w: return l.attn.o.w;
        case role::o_b: return l.attn.o.b;
        case role::mlp_in_w: return l.mlp.in.w;
        case role::mlp_in_b: return l.mlp.in.b;
        case role::mlp_gate_w: return l.mlp.gate.w;
        case role::mlp_gate_b: return l.mlp.gate.b;
        case role::mlp_out_w: return l.mlp.out.w;
        case role::mlp_out_b: return l.mlp.out.b;
        case role::ln1_post_w: return l.ln1_post.w;
        case role::ln2_post_w: return l.ln2_post.w;
        case role::q_norm_w: return l.attn.q_norm.w;
        case role::k_norm_w: return l.attn.k_norm.w;
        default: return none;
    }
}

/// Holds OUT.tmp for one export: an exclusive flock, so a second writer fails at once instead of
/// interleaving pages with the first. flock and SQLite's fcntl locks do not interact on Linux's
/// local file systems (on NFS flock is built on fcntl, and this lock is not one to rely on).
class export_lock {
public:
    explicit export_lock(const std::string& out_path) : tmp_(out_path + ".tmp"), out_(out_path) {
        std::error_code ec;
        if (std::filesystem::is_directory(out_, ec)) throw io_error(110, "cannot write '" + out_ + "': it is a folder");
        fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd_ < 0) throw io_error(110, "cannot create '" + tmp_ + "' to write '" + out_ + "': " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) busy();
        // The file locked must still be the one named OUT.tmp: another export may have renamed it to
        // OUT between our open and our flock, and that finished file must not be truncated.
        struct stat held {}, named {};
        if (::fstat(fd_, &held) != 0 || ::stat(tmp_.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
            held.st_dev != named.st_dev)
            busy();
        // What a killed export left is garbage: start from an empty file (same inode, lock kept).
        if (::ftruncate(fd_, 0) != 0) fail(111, "truncate");
        for (const char* suffix : {"-journal", "-wal", "-shm"}) std::remove((tmp_ + suffix).c_str());
    }
    export_lock(const export_lock&) = delete;
    export_lock& operator=(const export_lock&) = delete;
    ~export_lock() {
        if (fd_ < 0) return;
        if (!renamed_) std::remove(tmp_.c_str());  // before the lock goes: no one else can hold it yet
        ::close(fd_);
    }
    const std::string& tmp() const { return tmp_; }
    /// fsyncs the finished file, renames it over the output, and fsyncs the folder. A journal left
    /// beside the old OUT (by a writer killed mid-transaction) is removed first: SQLite would
    /// otherwise roll the old file's pages into the new one on the next read-write open.
    void commit() {
        if (::fsync(fd_) != 0) fail(111, "flush");
        for (const char* suffix : {"-journal", "-wal", "-shm"}) std::remove((out_ + suffix).c_str());
        if (std::rename(tmp_.c_str(), out_.c_str()) != 0) fail(112, "rename '" + tmp_ + "' to");
        renamed_ = true;
        auto dir = std::filesystem::path(out_).parent_path();
        int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            const int rc = ::fsync(dfd);
            ::close(dfd);
            if (rc != 0) fail(111, "flush the folder of");
        }
    }

private:
    [[noreturn]] void busy() {
        ::close(fd_);
        fd_ = -1;
        throw io_error(125, "another process is exporting to '" + out_ + "' (it holds '" + tmp_ +
                                "'); wait for it to finish, or choose another output");
    }
    [[noreturn]] void fail(int id, const std::string& doing) {
        const std::string why = std::strerror(errno);
        if (!renamed_) std::remove(tmp_.c_str());
        ::close(fd_);
        fd_ = -1;
        throw io_error(id, "cannot " + doing + " '" + out_ + "': " + why);
    }
    std::string tmp_, out_;
    int fd_ = -1;
    bool renamed_ = false;
};

/// One checkpoint tensor as the exporter sees it.
struct export_tensor {
    const io::tensor_ref* ref = nullptr;
    std::string file;               // source file name (no folder)
    std::uint64_t byte_offset = 0;  // in that file
    bool known = false;
    role r = role::embed;
    std::size_t layer = 0;
    std::vector<db::placement> places;
    bool semantic = false;
};

/// What fills one vector column of one row group: the source bytes, their dtype and the placement.
struct column_filler {
    const std::uint8_t* data = nullptr;
    io::dtype type = io::dtype::f32;
    db::placement place;
};

/// The source files of a model: weights (mapped by their readers) and the small files beside them.
struct export_source {
    struct weights_file {
        std::string name;                     // no folder
        const io::mapped_file* map;
        const std::vector<io::tensor_ref>* tensors;  // the ones it holds, pointing into `map`
    };
    std::vector<weights_file> weights;
    std::vector<std::pair<std::string, std::string>> companions;          // file name, kind
    std::filesystem::path folder;
    std::shared_ptr<io::gguf_file> gguf;
    std::shared_ptr<io::safetensors_checkpoint> checkpoint;
};

inline export_source open_export_source(const std::string& path, const std::string& format) {
    namespace fs = std::filesystem;
    export_source src;
    fs::path p(path);
    src.folder = fs::is_directory(p) ? p : p.parent_path();
    if (format == "gguf") {
        src.gguf = std::make_shared<io::gguf_file>(path);
        src.weights.push_back({p.filename().string(), &src.gguf->mapping(), &src.gguf->tensors()});
        return src;
    }
    src.checkpoint = std::make_shared<io::safetensors_checkpoint>(io::safetensors_checkpoint::open(path));
    for (const auto& shard : src.checkpoint->shards())
        src.weights.push_back({fs::path(shard->path()).filename().string(), &shard->mapping(), &shard->tensors()});
    if (src.weights.size() > 1) src.companions.emplace_back("model.safetensors.index.json", "index");
    for (const char* name : {"config.json", "generation_config.json"}) src.companions.emplace_back(name, "config");
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                             "added_tokens.json"})
        src.companions.emplace_back(name, "tokenizer");
    std::vector<std::pair<std::string, std::string>> present;
    for (const auto& c : src.companions)
        if (fs::is_regular_file(src.folder / c.first)) present.push_back(c);
    src.companions = present;
    return src;
}

inline std::string read_whole_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw io_error(104, "cannot read '" + p.string() + "'");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Decides which tensors keep their own bytes in the semantic tables. A row group (one table's rows
/// of one layer sharing a dtype column) must be all one dtype, so if any tensor feeding it cannot
/// keep its bytes (quantised, or another dtype than its neighbours), the whole group becomes a
/// float32 view and its tensors are kept raw.
inline void choose_storage(std::vector<export_tensor>& tensors) {
    for (auto& t : tensors) t.semantic = t.known && !t.places.empty() && db::keeps_own_bytes(t.ref->type);
    auto group_of = [](const db::placement& p) {
        return std::string(p.column->table) + "/" + std::to_string(p.layer) + "/" + p.column->norm + "/" + p.column->dtype_column;
    };
    for (bool changed = true; changed;) {
        changed = false;
        std::map<std::string, std::vector<export_tensor*>> groups;
        for (auto& t : tensors)
            for (const auto& p : t.places) groups[group_of(p)].push_back(&t);
        for (auto& [key, members] : groups) {
            bool uniform = true;
            for (auto* t : members) uniform = uniform && t->semantic && t->ref->type == members.front()->ref->type;
            if (uniform) continue;
            for (auto* t : members)
                if (t->semantic) {
                    t->semantic = false;
                    changed = true;
                }
        }
    }
}

/// Writes the rows of every semantic table from the fillers chosen for each (column, layer).
class row_writer {
public:
    row_writer(io::sqlite::database& sql, const model& m, const tokenizer* tok) : sql_(sql), model_(m), tok_(tok) {}

    void add(const db::placement& p, const std::uint8_t* data, io::dtype type) {
        fillers_[{p.column->table, p.layer, p.column->norm}][p.column] = {data, type, p};
    }

    /// Inserts every row; returns how many.
    std::uint64_t write() {
        std::uint64_t rows = 0;
        for (const auto& [group, columns] : fillers_) rows += write_group(std::get<0>(group), std::get<1>(group), std::get<2>(group), columns);
        return rows;
    }

private:
    using group_key = std::tuple<std::string, std::int64_t, std::string>;
    using column_map = std::map<const db::vector_column*, column_filler>;

    std::uint64_t write_group(const std::string& table, std::int64_t layer, const std::string& norm, const column_map& columns) {
        const std::string unit = db::unit_column(table);
        std::vector<std::string> names;
        if (layer >= 0 || table == "norms") names.push_back("layer");
        if (!unit.empty()) names.push_back(unit);
        if (table == "norms") names.push_back("name");
        if (table == "heads") names.push_back("kv_head");
        if (table == "tokens") {
            names.push_back("text");
            names.push_back("bytes");
        }
        std::vector<std::pair<std::string, std::string>> dtypes;  // dtype column, value
        for (const auto& c : db::vector_columns())
            if (c.table == table && (norm.empty() || c.norm == norm)) {
                auto it = columns.find(&c);
                if (it == columns.end()) continue;
                bool seen = false;
                for (const auto& d : dtypes) seen = seen || d.first == c.dtype_column;
                if (!seen) dtypes.emplace_back(c.dtype_column, io::dtype_name(it->second.type));
            }
        for (const auto& d : dtypes) names.push_back(d.first);
        std::vector<const column_filler*> blobs;
        for (const auto& [column, filler] : columns) {
            names.push_back(column->column);
            blobs.push_back(&filler);
        }
        std::string sql = "INSERT INTO " + table + " (", values;
        for (std::size_t i = 0; i < names.size(); ++i) {
            sql += (i ? ", " : "") + names[i];
            values += (i ? ", ?" : "?") + std::to_string(i + 1);
        }
        auto insert = sql_.prepare(sql + ") VALUES (" + values + ")");
        const std::uint64_t units = blobs.front()->place.units;
        std::vector<std::vector<std::uint8_t>> scratch(blobs.size());
        const auto& c = model_.config();
        const std::uint64_t group_size = c.attn.n_heads / c.attn.n_kv_heads;
        for (std::uint64_t u = 0; u < units; ++u) {
            int i = 1;
            if (layer >= 0) insert.bind(i++, layer);
            else if (table == "norms") insert.bind_null(i++);
            if (!unit.empty()) insert.bind(i++, static_cast<std::int64_t>(u));
            if (table == "norms") insert.bind(i++, norm);
            if (table == "heads") insert.bind(i++, static_cast<std::int64_t>(u / group_size));
            if (table == "tokens") bind_token_text(insert, i, u);
            for (const auto& d : dtypes) insert.bind(i++, d.second);
            for (std::size_t b = 0; b < blobs.size(); ++b) {
                const auto& f = *blobs[b];
                if (f.place.units != units)
                    throw std::logic_error("xlens: placements of one " + table + " row group disagree on the row count");
                scratch[b].resize(static_cast<std::size_t>(f.place.blob_bytes(f.type)));
                db::gather(f.place, f.data, io::traits(f.type).block_bytes, u, scratch[b].data());
                insert.bind_blob_static(i++, scratch[b].data(), scratch[b].size());
            }
            insert.step();
            insert.reset();
        }
        return units;
    }

    void bind_token_text(io::sqlite::statement& insert, int& i, std::uint64_t u) {
        if (tok_ == nullptr || u >= tok_->vocab_size()) {
            insert.bind_null(i++);
            insert.bind_null(i++);
            return;
        }
        const auto id = static_cast<token_id>(u);
        insert.bind(i++, tok_->token_text(id));
        const std::string bytes = tok_->decode_bytes({id});
        insert.bind_blob(i++, bytes.data(), bytes.size());
    }

    io::sqlite::database& sql_;
    const model& model_;
    const tokenizer* tok_;
    std::map<group_key, column_map> fillers_;
};

/// Writes every table of the database at `path` (the export's .tmp) in one transaction. Statements
/// die before their connection, and the connection before the caller checks the file.
inline void write_database(const std::string& path, const std::string& model_path, const model& m, const export_source& src,
                           const tokenizer* tok, const export_options& options, export_report& report) {
    namespace fs = std::filesystem;
    const auto& c = m.config();
    const family* fam = nullptr;
    for (const auto& f : families())
        if (c.architecture == f.name) fam = &f;
    const bool from_gguf = m.format() == "gguf";
    auto sql = io::sqlite::database::open(path, io::sqlite::open_mode::create);
    // One writer, a file nobody reads until the rename: no journal, no syncs until the end.
    sql.exec("PRAGMA page_size = 65536; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
             "PRAGMA locking_mode = EXCLUSIVE; PRAGMA application_id = " + std::to_string(db::application_id) +
             "; PRAGMA user_version = " + std::to_string(db::schema_version) + ";");
    // One transaction for the whole export, never rolled back: with the journal off a rollback could
    // leave anything behind, and a failed export's .tmp is deleted by the lock anyway.
    sql.exec("BEGIN");
    sql.exec(db::schema_sql());

    {
        auto q = sql.prepare(
            "INSERT INTO model (id, schema_version, architecture, source_format, source, config_json, d_model, n_layers, "
            "n_heads, n_kv_heads, d_head, d_mlp, d_vocab, n_ctx, norm, tied_embeddings, xlens_version, complete) "
            "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 0)");
        q.bind(1, db::schema_version).bind(2, c.architecture).bind(3, m.format()).bind(4, fs::path(model_path).filename().string());
        q.bind(5, config_to_json(c).dump());
        std::int64_t sizes[] = {static_cast<std::int64_t>(c.d_model), static_cast<std::int64_t>(c.n_layers),
                                static_cast<std::int64_t>(c.attn.n_heads), static_cast<std::int64_t>(c.attn.n_kv_heads),
                                static_cast<std::int64_t>(c.attn.d_head), static_cast<std::int64_t>(c.mlp.d_mlp),
                                static_cast<std::int64_t>(c.d_vocab), static_cast<std::int64_t>(c.n_ctx)};
        for (int i = 0; i < 8; ++i) q.bind(6 + i, sizes[i]);
        q.bind(14, std::string(c.norm.kind == norm_kind::rms_norm ? "rms_norm" : "layer_norm"));
        q.bind(15, c.tied_embeddings ? 1 : 0).bind(16, std::string(XLENS_VERSION_STRING));
        q.step();
    }

    // Source files: each weights file's bytes outside its tensors, and the small files beside it whole.
    auto add_file = [&](const std::string& name, const std::string& kind, const std::uint8_t* data, std::uint64_t size) {
        auto q = sql.prepare("INSERT INTO source_files (name, kind, size, sha256) VALUES (?1, ?2, ?3, ?4)");
        q.bind(1, name).bind(2, kind).bind(3, static_cast<std::int64_t>(size)).bind(4, io::sha256_hex(data, size));
        q.step();
        report.source_bytes += size;
    };
    auto segment = sql.prepare("INSERT INTO file_bytes (file, offset, bytes) VALUES (?1, ?2, ?3)");
    auto add_segment = [&](const std::string& file, std::uint64_t offset, const std::uint8_t* data, std::uint64_t n) {
        segment.bind(1, file).bind(2, static_cast<std::int64_t>(offset)).bind_blob_static(3, data, n);
        segment.step();
        segment.reset();
    };
    std::vector<export_tensor> tensors;
    for (const auto& [name, map, held] : src.weights) {
        add_file(name, "weights", map->data(), map->size());
        std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
        for (const auto& t : *held) {
            export_tensor et;
            et.ref = &t;
            et.file = name;
            et.byte_offset = static_cast<std::uint64_t>(t.data - map->data());
            spans.emplace_back(et.byte_offset, et.byte_offset + t.nbytes);
            tensors.push_back(std::move(et));
        }
        std::sort(spans.begin(), spans.end());
        std::uint64_t at = 0;
        for (const auto& [begin, end] : spans) {
            if (begin > at) add_segment(name, at, map->data() + at, begin - at);
            at = std::max(at, end);
        }
        if (at < map->size()) add_segment(name, at, map->data() + at, map->size() - at);
    }
    for (const auto& [name, kind] : src.companions) {
        const std::string bytes = read_whole_file(src.folder / name);
        const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
        add_file(name, kind, data, bytes.size());
        add_segment(name, 0, data, bytes.size());
    }

    // Which role each tensor plays, and where its values go.
    const auto facts = db::layout_facts::of(c, *fam, from_gguf);
    const auto& table = from_gguf ? fam->gguf_tensors : fam->hf_tensors;
    std::map<std::string, std::pair<role, std::size_t>> roles;
    for (const auto& [r, pattern] : table) {
        (void)pattern;
        for (std::size_t L = 0; L < (db::per_layer(r) ? c.n_layers : 1); ++L) roles[tensor_name(table, r, L)] = {r, L};
    }
    for (auto& t : tensors) {
        auto it = roles.find(t.ref->name);
        if (it == roles.end()) continue;
        t.known = true;
        t.r = it->second.first;
        t.layer = it->second.second;
        t.places = db::placements(t.r, t.layer, facts);
        const bool misshapen = db::keeps_own_bytes(t.ref->type) &&
                               std::any_of(t.places.begin(), t.places.end(), [&](const db::placement& p) {
                                   return p.matrix_bytes(t.ref->type, t.ref->where()) != t.ref->nbytes;
                               });
        if (misshapen) t.places.clear();  // not the shape the role needs: keep it raw rather than guess
    }
    choose_storage(tensors);

    row_writer rows(sql, m, tok);
    std::deque<std::vector<float>> dequantized;  // float32 rows of raw (block-quantised) tensors, alive until rows.write()
    {
        auto insert = sql.prepare(
            "INSERT INTO tensors (id, name, dtype, shape, file, byte_offset, nbytes, sha256, role, layer, storage, semantic) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
        auto chunk = sql.prepare("INSERT INTO tensor_chunks (tensor, chunk, bytes) VALUES (?1, ?2, ?3)");
        std::int64_t id = 0;
        for (const auto& t : tensors) {
            const auto& ref = *t.ref;
            std::string semantic;
            for (const auto& p : t.places) semantic += (semantic.empty() ? "" : ", ") + std::string(p.column->table) + "." + p.column->column;
            insert.bind(1, id).bind(2, ref.name).bind(3, std::string(io::dtype_name(ref.type)));
            insert.bind(4, nlohmann::json(ref.shape).dump()).bind(5, t.file).bind(6, static_cast<std::int64_t>(t.byte_offset));
            insert.bind(7, static_cast<std::int64_t>(ref.nbytes)).bind(8, io::sha256_hex(ref.data, ref.nbytes));
            if (t.known) insert.bind(9, std::string(db::role_name(t.r)));
            else insert.bind_null(9);
            if (t.known && db::per_layer(t.r)) insert.bind(10, static_cast<std::int64_t>(t.layer));
            else insert.bind_null(10);
            insert.bind(11, std::string(t.semantic ? "semantic" : "raw"));
            if (semantic.empty()) insert.bind_null(12);
            else insert.bind(12, semantic);
            insert.step();
            insert.reset();
            if (t.semantic) {
                ++report.tensors_semantic;
                for (const auto& p : t.places) rows.add(p, ref.data, ref.type);
            } else {
                ++report.tensors_raw;
                for (std::uint64_t at = 0, n = 0; at < ref.nbytes || n == 0; at += db::raw_chunk_bytes, ++n) {
                    chunk.bind(1, id).bind(2, static_cast<std::int64_t>(n));
                    chunk.bind_blob_static(3, ref.data + at, std::min(db::raw_chunk_bytes, ref.nbytes - at));
                    chunk.step();
                    chunk.reset();
                }
                // Its rows hold the loader's float32 weights, in the canonical (HF) layout.
                for (const auto& p : t.places) {
                    const auto canonical = db::placements(p.column->source_role, t.layer, facts.canonical());
                    const weight& w = canonical_weight(m.weights(), p.column->source_role, t.layer);
                    if (canonical.empty() || w.empty()) continue;
                    const float* values = w.data;
                    if (!w.in_float32()) {  // kept in its ggml type: the rows are its dequantised values
                        dequantized.push_back(w.to_f32());
                        values = dequantized.back().data();
                    }
                    rows.add(canonical.front(), reinterpret_cast<const std::uint8_t*>(values), io::dtype::f32);
                }
            }
            ++id;
        }
    }
    report.rows = rows.write();

    if (options.neuron_tokens > 0) write_neuron_tokens(sql, m, options.neuron_tokens);
    if (options.head_copying) write_head_copying(sql, m);
    if (!options.rules_path.empty()) write_rules(sql, load_rules(options.rules_path), m);

    sql.exec("COMMIT");
}

}  // namespace detail

inline export_report export_sqlite(const std::string& model_path, const std::string& out_path, const export_options& options) {
    namespace fs = std::filesystem;
    if (detail::is_sqlite_file(model_path))
        throw input_error(560, "'" + model_path + "' is already a weight database; export the model it came from");
    const model m = model::load(model_path);
    detail::export_source src = detail::open_export_source(model_path, m.format());
    std::error_code ec;
    auto is_output = [&](const fs::path& p) { return fs::exists(out_path, ec) && fs::equivalent(out_path, p, ec); };
    bool clobbers = is_output(model_path);
    for (const auto& w : src.weights) clobbers = clobbers || is_output(src.folder / w.name);
    for (const auto& companion : src.companions) clobbers = clobbers || is_output(src.folder / companion.first);
    if (clobbers) throw input_error(563, "'" + out_path + "' is a file of the model being exported; write the database elsewhere");
    std::optional<tokenizer> tok;
    try {
        tok = load_tokenizer(model_path);
    } catch (const error&) {
        // A model without a tokenizer still exports; tokens.text and tokens.bytes stay NULL.
    }

    detail::export_lock lock(out_path);
    export_report report;
    detail::write_database(lock.tmp(), model_path, m, src, tok ? &*tok : nullptr, options, report);
    // Checked while still marked incomplete, so a kill before the end never leaves a file that
    // says it is complete; then the flag, in its own transaction, is the last write.
    if (options.verify) {
        auto check = weight_database::open_unfinished(lock.tmp());
        for (const auto& f : check.files()) check.file_bytes(f.name);
    }
    {
        auto sql = io::sqlite::database::open(lock.tmp(), io::sqlite::open_mode::read_write);
        sql.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; UPDATE model SET complete = 1 WHERE id = 1");
    }
    report.database_bytes = fs::file_size(lock.tmp());
    lock.commit();
    return report;
}

}  // namespace xlens
