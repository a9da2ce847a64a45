// xlens/model/database_layout.hpp — where each checkpoint tensor lives in a weight database.
//
// A weight database (docs/database.md) stores a model in rows researchers think in: a token's
// embedding, a head's Q/K/V/O slices, a neuron's input, gate and output vectors. Each such vector is
// a BLOB holding the checkpoint's own bytes, in the checkpoint's dtype, so the tensors can be put
// back together bit for bit. This header is the one description of that mapping: the exporter
// gathers with it and the reader scatters with it, so the two cannot drift apart.
//
// A placement says which rows of a table one tensor fills: the tensor is seen as a matrix
// [rows, cols] (a vector is [n, 1]); one of its axes indexes "features" (a neuron's vector, a head's
// d_head vectors, a bias element); a table row ("unit": a token, a head, a neuron) takes `per_unit`
// features, and its BLOB is those feature vectors one after another.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/io/tensor_ref.hpp"
#include "xlens/model/architecture.hpp"
#include "xlens/model/config.hpp"

namespace xlens::db {

/// Bumped whenever a table or a placement changes meaning; readers refuse other versions (234).
inline constexpr int schema_version = 1;
/// SQLite's PRAGMA application_id for xlens weight databases ("xLNS").
inline constexpr std::int32_t application_id = 0x784c4e53;
/// Raw tensors are split into BLOBs of at most this many bytes (SQLite's default BLOB cap is 1 GB).
inline constexpr std::uint64_t raw_chunk_bytes = 64ull << 20;

/// One BLOB column of a semantic table, and what fills it in the forward pass's terms.
struct vector_column {
    const char* table;
    const char* column;
    const char* dtype_column;  // the column recording the BLOB's element type for this row
    role source_role;          // the canonical weight it is a slice of
    const char* norm = "";     // norms rows only: "ln1", "ln2", "ln_final", "ln1_post", "ln2_post", "q_norm", "k_norm"
};

/// Every vector column of the schema, in the order the exporter writes them.
inline const std::vector<vector_column>& vector_columns() {
    static const std::vector<vector_column> all = {
        {"tokens", "embedding", "embedding_dtype", role::embed},
        {"tokens", "unembedding", "unembedding_dtype", role::unembed},
        {"tokens", "unembedding_bias", "unembedding_dtype", role::unembed_b},
        {"positions", "embedding", "dtype", role::pos_embed},
        {"heads", "w_q", "dtype", role::q_w},
        {"heads", "w_o", "dtype", role::o_w},
        {"heads", "b_q", "bias_dtype", role::q_b},
        {"kv_heads", "w_k", "dtype", role::k_w},
        {"kv_heads", "w_v", "dtype", role::v_w},
        {"kv_heads", "b_k", "bias_dtype", role::k_b},
        {"kv_heads", "b_v", "bias_dtype", role::v_b},
        {"neurons", "w_in", "dtype", role::mlp_in_w},
        {"neurons", "w_gate", "dtype", role::mlp_gate_w},
        {"neurons", "w_out", "dtype", role::mlp_out_w},
        {"neurons", "b_in", "bias_dtype", role::mlp_in_b},
        {"neurons", "b_gate", "bias_dtype", role::mlp_gate_b},
        {"layer_biases", "b_o", "dtype", role::o_b},
        {"layer_biases", "b_out", "dtype", role::mlp_out_b},
        {"norms", "weight", "dtype", role::ln1_w, "ln1"},
        {"norms", "bias", "bias_dtype", role::ln1_b, "ln1"},
        {"norms", "weight", "dtype", role::ln2_w, "ln2"},
        {"norms", "bias", "bias_dtype", role::ln2_b, "ln2"},
        {"norms", "weight", "dtype", role::ln_final_w, "ln_final"},
        {"norms", "bias", "bias_dtype", role::ln_final_b, "ln_final"},
        {"norms", "weight", "dtype", role::ln1_post_w, "ln1_post"},
        {"norms", "weight", "dtype", role::ln2_post_w, "ln2_post"},
        {"norms", "weight", "dtype", role::q_norm_w, "q_norm"},
        {"norms", "weight", "dtype", role::k_norm_w, "k_norm"},
    };
    return all;
}

/// Whether a role has one tensor per layer (everything but the embeddings, final norm and unembedding).
inline bool per_layer(role r) {
    return !(r == role::embed || r == role::pos_embed || r == role::ln_final_w || r == role::ln_final_b ||
             r == role::unembed || r == role::unembed_b);
}

/// Which rows of which table one tensor (or one third of a fused q/k/v tensor) fills.
struct placement {
    const vector_column* column = nullptr;
    std::int64_t layer = -1;     // -1 for tables without layers
    std::uint64_t rows = 0, cols = 0;
    int axis = 0;                // 0: rows are the features; 1: columns are
    std::uint64_t units = 0;     // table rows filled
    std::uint64_t per_unit = 0;  // features per table row
    std::function<std::uint64_t(std::uint64_t unit, std::uint64_t k)> feature;

    /// Elements of one feature vector (the length of the axis that is not the feature axis).
    std::uint64_t vector_length() const { return axis == 0 ? cols : rows; }
    /// Bytes of one table row's BLOB for elements of `type`.
    std::uint64_t blob_bytes(io::dtype type) const { return per_unit * vector_length() * io::traits(type).block_bytes; }
    /// Bytes of the whole [rows, cols] tensor in a plain (unblocked) dtype; overflow throws, naming `what`.
    std::uint64_t matrix_bytes(io::dtype type, const std::string& what) const {
        return xlens::detail::checked_mul(xlens::detail::checked_mul(rows, cols, what), io::traits(type).block_bytes, what);
    }
};

/// What a placement needs to know about the model: sizes and how the checkpoint lays weights out.
struct layout_facts {
    std::uint64_t d_model = 0, d_vocab = 0, n_ctx = 0, d_mlp = 0, n_heads = 0, n_kv_heads = 0, d_head = 0;
    bool tied_embeddings = false;
    bool in_by_out = false;      // GPT-2's Conv1D: linear weights stored [in, out]
    qkv_layout qkv = qkv_layout::separate;
    bool qk_permuted = false;    // a GGUF of a family whose Q/K rows llama.cpp permuted
    bool qk_norm_whole = false;  // q/k norms span the whole projection (OLMo 2), not one head

    static layout_facts of(const model_config& c, const family& fam, bool from_gguf) {
        layout_facts f;
        f.d_model = c.d_model;
        f.d_vocab = c.d_vocab;
        f.n_ctx = c.n_ctx;
        f.d_mlp = c.mlp.d_mlp;
        f.n_heads = c.attn.n_heads;
        f.n_kv_heads = c.attn.n_kv_heads;
        f.d_head = c.attn.d_head;
        f.tied_embeddings = c.tied_embeddings;
        f.in_by_out = fam.in_by_out_in(from_gguf);
        f.qkv = fam.qkv_in(from_gguf);
        f.qk_permuted = from_gguf && fam.gguf_qk_permuted;
        f.qk_norm_whole = fam.qk_norm == qk_norm_kind::whole;
        return f;
    }
    /// The layout of the canonical float32 weights the loader builds (model::weights()).
    layout_facts canonical() const {
        layout_facts f = *this;
        f.qkv = qkv_layout::separate;
        f.qk_permuted = false;
        return f;
    }
};

namespace detail {

inline const vector_column& column_for(role r) {
    for (const auto& c : vector_columns())
        if (c.source_role == r) return c;
    throw std::logic_error("xlens: no database column for a role");
}

}  // namespace detail

/// The placements of the tensor that plays `r` in `layer`: one, three for a fused q/k/v tensor, two for a fused [gate | up];
/// none when the role has no semantic home (an unembedding the model ties to its embedding).
inline std::vector<placement> placements(role r, std::size_t layer, const layout_facts& f) {
    const std::uint64_t d = f.d_model, H = f.n_heads, KV = f.n_kv_heads, dh = f.d_head, half = f.d_head / 2;
    const auto L = per_layer(r) ? static_cast<std::int64_t>(layer) : -1;
    const bool by_out = f.in_by_out;
    // llama.cpp stores row 2i+j of each head's Q/K where HF has row j·d_head/2 + i.
    auto head_rows = [=](bool permuted) {
        return [=](std::uint64_t h, std::uint64_t k) { return h * dh + (permuted ? 2 * (k % half) + k / half : k); };
    };
    auto one = [&](role target, std::uint64_t rows, std::uint64_t cols, int axis, std::uint64_t units, std::uint64_t per,
                   std::function<std::uint64_t(std::uint64_t, std::uint64_t)> feature) {
        return placement{&detail::column_for(target), L, rows, cols, axis, units, per, std::move(feature)};
    };
    auto single = [](std::uint64_t u, std::uint64_t) { return u; };
    auto whole = [](std::uint64_t, std::uint64_t k) { return k; };
    switch (r) {
        case role::embed: return {one(r, f.d_vocab, d, 0, f.d_vocab, 1, single)};
        case role::unembed:
            if (f.tied_embeddings) return {};
            return {one(r, f.d_vocab, d, 0, f.d_vocab, 1, single)};
        case role::unembed_b: return {one(r, f.d_vocab, 1, 0, f.d_vocab, 1, single)};
        case role::pos_embed: return {one(r, f.n_ctx, d, 0, f.n_ctx, 1, single)};
        case role::ln1_w: case role::ln1_b: case role::ln2_w: case role::ln2_b:
        case role::ln_final_w: case role::ln_final_b:
        case role::o_b: case role::mlp_out_b: case role::ln1_post_w: case role::ln2_post_w:
            return {one(r, d, 1, 0, 1, d, whole)};
        case role::q_norm_w: case role::k_norm_w: {
            const std::uint64_t n = f.qk_norm_whole ? (r == role::q_norm_w ? H : KV) * dh : dh;
            return {one(r, n, 1, 0, 1, n, whole)};
        }
        case role::q_w: return {by_out ? one(r, d, H * dh, 1, H, dh, head_rows(f.qk_permuted)) : one(r, H * dh, d, 0, H, dh, head_rows(f.qk_permuted))};
        case role::k_w: return {by_out ? one(r, d, KV * dh, 1, KV, dh, head_rows(f.qk_permuted)) : one(r, KV * dh, d, 0, KV, dh, head_rows(f.qk_permuted))};
        case role::v_w: return {by_out ? one(r, d, KV * dh, 1, KV, dh, head_rows(false)) : one(r, KV * dh, d, 0, KV, dh, head_rows(false))};
        case role::q_b: return {one(r, H * dh, 1, 0, H, dh, head_rows(f.qk_permuted))};
        case role::k_b: return {one(r, KV * dh, 1, 0, KV, dh, head_rows(f.qk_permuted))};
        case role::v_b: return {one(r, KV * dh, 1, 0, KV, dh, head_rows(false))};
        case role::o_w: return {by_out ? one(r, H * dh, d, 0, H, dh, head_rows(false)) : one(r, d, H * dh, 1, H, dh, head_rows(false))};
        case role::qkv_w: case role::qkv_b: {
            // Source feature of feature k of head h of part p (0 q, 1 k, 2 v), by the loader's rule.
            const qkv_layout layout = f.qkv;
            const std::uint64_t width = (H + 2 * KV) * dh;
            auto fused = [=](std::uint64_t part) {
                return [=](std::uint64_t h, std::uint64_t k) { return fused_qkv_row(layout, H, KV, dh, part, h * dh + k); };
            };
            const bool bias = r == role::qkv_b;
            const role parts[3] = {bias ? role::q_b : role::q_w, bias ? role::k_b : role::k_w, bias ? role::v_b : role::v_w};
            std::vector<placement> out;
            for (std::uint64_t p = 0; p < 3; ++p) {
                const std::uint64_t heads = p == 0 ? H : KV;
                if (bias) out.push_back(one(parts[p], width, 1, 0, heads, dh, fused(p)));
                else if (by_out) out.push_back(one(parts[p], d, width, 1, heads, dh, fused(p)));
                else out.push_back(one(parts[p], width, d, 0, heads, dh, fused(p)));
            }
            return out;
        }
        case role::mlp_gate_up_w: {  // Phi-3: rows [gate | up]
            const std::uint64_t n = f.d_mlp;
            return {one(role::mlp_gate_w, 2 * n, d, 0, n, 1, single),
                    one(role::mlp_in_w, 2 * n, d, 0, n, 1, [n](std::uint64_t u, std::uint64_t) { return n + u; })};
        }
        case role::mlp_in_w: case role::mlp_gate_w:
            return {by_out ? one(r, d, f.d_mlp, 1, f.d_mlp, 1, single) : one(r, f.d_mlp, d, 0, f.d_mlp, 1, single)};
        case role::mlp_in_b: case role::mlp_gate_b: return {one(r, f.d_mlp, 1, 0, f.d_mlp, 1, single)};
        case role::mlp_out_w:
            return {by_out ? one(r, f.d_mlp, d, 0, f.d_mlp, 1, single) : one(r, d, f.d_mlp, 1, f.d_mlp, 1, single)};
    }
    return {};
}

/// Copies unit `u`'s feature vectors out of `tensor` (elements of `esize` bytes) into `blob`
/// (placement::blob_bytes long). Gathering whole elements keeps every bit, whatever the dtype.
inline void gather(const placement& p, const std::uint8_t* tensor, std::size_t esize, std::uint64_t u, std::uint8_t* blob) {
    const std::uint64_t n = p.vector_length();
    for (std::uint64_t k = 0; k < p.per_unit; ++k, blob += n * esize) {
        const std::uint64_t feat = p.feature(u, k);
        if (p.axis == 0) {
            std::memcpy(blob, tensor + feat * p.cols * esize, n * esize);
        } else {
            for (std::uint64_t i = 0; i < n; ++i) std::memcpy(blob + i * esize, tensor + (i * p.cols + feat) * esize, esize);
        }
    }
}

/// The inverse of gather: writes unit `u`'s BLOB back where it came from in `tensor`.
inline void scatter(const placement& p, std::uint8_t* tensor, std::size_t esize, std::uint64_t u, const std::uint8_t* blob) {
    const std::uint64_t n = p.vector_length();
    for (std::uint64_t k = 0; k < p.per_unit; ++k, blob += n * esize) {
        const std::uint64_t feat = p.feature(u, k);
        if (p.axis == 0) {
            std::memcpy(tensor + feat * p.cols * esize, blob, n * esize);
        } else {
            for (std::uint64_t i = 0; i < n; ++i) std::memcpy(tensor + (i * p.cols + feat) * esize, blob + i * esize, esize);
        }
    }
}

/// The dtype spelled `name` as tensors.dtype records it ("F32", "Q4_1", ...); false if unknown.
inline bool dtype_from_name(const std::string& name, io::dtype& out) {
    for (int i = 0; i <= static_cast<int>(io::dtype::last); ++i)
        if (name == io::dtype_name(static_cast<io::dtype>(i))) {
            out = static_cast<io::dtype>(i);
            return true;
        }
    return false;
}

/// How tensors.role spells each role.
inline const char* role_name(role r) {
    static const char* names[] = {"embed", "pos_embed", "ln_final_w", "ln_final_b", "unembed", "unembed_b",
                                  "ln1_w", "ln1_b", "q_w", "q_b", "k_w", "k_b", "v_w", "v_b", "qkv_w", "qkv_b", "o_w", "o_b",
                                  "ln2_w", "ln2_b", "mlp_in_w", "mlp_in_b", "mlp_gate_w", "mlp_gate_b", "mlp_out_w", "mlp_out_b",
                                  "ln1_post_w", "ln2_post_w", "q_norm_w", "k_norm_w", "mlp_gate_up_w"};
    static_assert(sizeof(names) / sizeof(names[0]) == static_cast<std::size_t>(role::mlp_gate_up_w) + 1, "a role without a name");
    return names[static_cast<int>(r)];
}

inline bool role_from_name(const std::string& name, role& out) {
    for (int i = 0; i <= static_cast<int>(role::mlp_gate_up_w); ++i)
        if (name == role_name(static_cast<role>(i))) {
            out = static_cast<role>(i);
            return true;
        }
    return false;
}

/// Element types the semantic tables keep in their own bytes; anything else (GGUF blocks, integers)
/// is stored raw, with a float32 view in the semantic tables.
inline bool keeps_own_bytes(io::dtype t) {
    return t == io::dtype::f32 || t == io::dtype::f16 || t == io::dtype::bf16 || t == io::dtype::f64;
}

/// The tables, views and indexes of a weight database (docs/database.md draws them).
inline const char* schema_sql() {
    return R"sql(
CREATE TABLE model (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    architecture TEXT NOT NULL,
    source_format TEXT NOT NULL CHECK (source_format IN ('safetensors', 'gguf')),
    source TEXT NOT NULL,
    config_json TEXT NOT NULL,
    d_model INTEGER NOT NULL, n_layers INTEGER NOT NULL, n_heads INTEGER NOT NULL, n_kv_heads INTEGER NOT NULL,
    d_head INTEGER NOT NULL, d_mlp INTEGER NOT NULL, d_vocab INTEGER NOT NULL, n_ctx INTEGER NOT NULL,
    norm TEXT NOT NULL, tied_embeddings INTEGER NOT NULL,
    xlens_version TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE source_files (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('weights', 'index', 'config', 'tokenizer')),
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE file_bytes (
    file TEXT NOT NULL REFERENCES source_files(name),
    offset INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (file, offset)
);
CREATE TABLE tensors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dtype TEXT NOT NULL,
    shape TEXT NOT NULL,
    file TEXT NOT NULL REFERENCES source_files(name),
    byte_offset INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    role TEXT,
    layer INTEGER,
    storage TEXT NOT NULL CHECK (storage IN ('semantic', 'raw')),
    semantic TEXT
);
CREATE TABLE tensor_chunks (
    tensor INTEGER NOT NULL REFERENCES tensors(id),
    chunk INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (tensor, chunk)
);
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    text TEXT,
    bytes BLOB,
    embedding_dtype TEXT, embedding BLOB,
    unembedding_dtype TEXT, unembedding BLOB, unembedding_bias BLOB
);
CREATE INDEX tokens_by_text ON tokens(text);
CREATE TABLE positions (position INTEGER PRIMARY KEY, dtype TEXT, embedding BLOB);
CREATE TABLE heads (
    layer INTEGER NOT NULL, head INTEGER NOT NULL, kv_head INTEGER NOT NULL,
    dtype TEXT, w_q BLOB, w_o BLOB, bias_dtype TEXT, b_q BLOB,
    PRIMARY KEY (layer, head)
);
CREATE TABLE kv_heads (
    layer INTEGER NOT NULL, kv_head INTEGER NOT NULL,
    dtype TEXT, w_k BLOB, w_v BLOB, bias_dtype TEXT, b_k BLOB, b_v BLOB,
    PRIMARY KEY (layer, kv_head)
);
CREATE TABLE neurons (
    layer INTEGER NOT NULL, neuron INTEGER NOT NULL,
    dtype TEXT, w_in BLOB, w_gate BLOB, w_out BLOB, bias_dtype TEXT, b_in BLOB, b_gate BLOB,
    PRIMARY KEY (layer, neuron)
);
CREATE TABLE layer_biases (layer INTEGER PRIMARY KEY, dtype TEXT, b_o BLOB, b_out BLOB);
CREATE TABLE norms (
    layer INTEGER, name TEXT NOT NULL CHECK (name IN ('ln1', 'ln2', 'ln_final', 'ln1_post', 'ln2_post', 'q_norm', 'k_norm')),
    dtype TEXT, weight BLOB, bias_dtype TEXT, bias BLOB
);
CREATE UNIQUE INDEX norms_by_name ON norms(name, ifnull(layer, -1));
CREATE VIEW head_weights AS
    SELECT h.layer, h.head, h.kv_head, h.dtype, h.w_q, k.w_k, k.w_v, h.w_o, h.bias_dtype, h.b_q, k.b_k, k.b_v
    FROM heads h JOIN kv_heads k ON k.layer = h.layer AND k.kv_head = h.kv_head;
CREATE TABLE neuron_tokens (
    layer INTEGER NOT NULL, neuron INTEGER NOT NULL,
    relation TEXT NOT NULL CHECK (relation IN ('promotes', 'suppresses')),
    rank INTEGER NOT NULL, token INTEGER NOT NULL REFERENCES tokens(id), score REAL NOT NULL,
    PRIMARY KEY (layer, neuron, relation, rank)
);
CREATE INDEX neuron_tokens_by_token ON neuron_tokens(token, relation, score);
CREATE TABLE head_roles (
    layer INTEGER NOT NULL, head INTEGER NOT NULL, role TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (layer, head, role)
);
CREATE INDEX head_roles_by_role ON head_roles(role, score);
CREATE TABLE rules (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('prior', 'direct', 'neuron')),
    layer INTEGER, neuron INTEGER, label TEXT NOT NULL, typical_activation REAL, typical_scaled_activation REAL
);
CREATE TABLE rule_triggers (
    rule INTEGER NOT NULL REFERENCES rules(id), tokens TEXT NOT NULL, text TEXT, count INTEGER NOT NULL,
    activation REAL, scaled_activation REAL
);
CREATE INDEX rule_triggers_by_rule ON rule_triggers(rule);
CREATE TABLE rule_tokens (
    rule INTEGER NOT NULL REFERENCES rules(id), token INTEGER NOT NULL REFERENCES tokens(id), logit_bias REAL NOT NULL,
    PRIMARY KEY (rule, token)
);
CREATE INDEX rule_tokens_by_token ON rule_tokens(token, logit_bias);
)sql";
}

/// The column naming a table's rows within a layer (empty: one row per layer).
inline std::string unit_column(const std::string& table) {
    if (table == "tokens") return "id";
    if (table == "positions") return "position";
    if (table == "heads") return "head";
    if (table == "kv_heads") return "kv_head";
    if (table == "neurons") return "neuron";
    return "";  // norms and layer_biases: one row per layer
}

/// "neurons row (layer 3, neuron 17)" — how error messages name a row.
inline std::string describe_row(const std::string& table, std::int64_t layer, std::uint64_t u, const std::string& norm) {
    std::string s = table + " row (";
    std::string sep;
    if (!norm.empty()) {
        s += "name '" + norm + "'";
        sep = ", ";
    }
    if (layer >= 0) {
        s += sep + "layer " + std::to_string(layer);
        sep = ", ";
    }
    const std::string unit = unit_column(table);
    if (!unit.empty()) s += sep + unit + " " + std::to_string(u);
    return s + ")";
}

}  // namespace xlens::db
