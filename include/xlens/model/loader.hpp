// xlens/model/loader.hpp — from checkpoint tensors to canonical weights (definition of model::load).
//
// The loader walks the family's role table, finds each tensor, checks its shape against the config,
// and hands the forward pass its weights without copying them where it can: a float32 view into the
// mapped file for aligned float32; for matrices in any other type (F16, BF16, ggml blocks) the
// stored bytes themselves, dequantised inside each matmul; rows that must be read in another order
// (llama.cpp's permuted Q/K rows, GPT-NeoX's interleaved q/k/v) as a row order over those bytes.
// Owned float32 copies remain for vectors (norm gains, biases), transposed Conv1D matrices in half
// precision, and everything under load_options::dequantize. Every such step is written to
// model::load_notes().
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>

#include "xlens/io/gguf.hpp"
#include "xlens/io/gguf_value.hpp"
#include "xlens/io/json.hpp"
#include "xlens/io/quants.hpp"
#include "xlens/io/safetensors.hpp"
#include "xlens/model/architecture.hpp"
#include "xlens/model/config_reader.hpp"
#include "xlens/model/database_reader.hpp"
#include "xlens/model/model.hpp"

namespace xlens {
namespace detail {

inline std::string shape_string(const std::vector<std::size_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

inline std::vector<std::size_t> to_size_shape(const std::vector<std::uint64_t>& s) {
    return std::vector<std::size_t>(s.begin(), s.end());
}

/// Fills model_weights from a list of tensors according to one family table.
class weight_builder {
public:
    weight_builder(model::state& st, const family& fam, const std::vector<io::tensor_ref>& tensors, bool from_gguf,
                   bool dequantize_all)
        : st_(st), fam_(fam), table_(from_gguf ? fam.gguf_tensors : fam.hf_tensors), gguf_(from_gguf),
          dequantize_all_(dequantize_all), qkv_(fam.qkv_in(from_gguf)), in_by_out_(fam.in_by_out_in(from_gguf)) {
        for (const auto& t : tensors) by_name_[t.name] = &t;
    }

    void build() {
        const auto& c = st_.config;
        const std::size_t d = c.d_model, H = c.attn.n_heads, KV = c.attn.n_kv_heads, dh = c.attn.d_head;
        auto& w = st_.weights;
        w.embed = required(role::embed, 0, {c.d_vocab, d}, true);
        if (c.attn.positions == position_kind::learned) w.pos_embed = required(role::pos_embed, 0, {c.n_ctx, d});
        // One layer at a time: a config claiming 33 million layers fails at the first missing tensor
        // instead of allocating them all first.
        for (std::size_t L = 0; L < c.n_layers; ++L) {
            auto& lw = w.layers.emplace_back();
            if (c.pre_norms) {
                lw.ln1 = norm(role::ln1_w, role::ln1_b, L);
                lw.ln2 = norm(role::ln2_w, role::ln2_b, L);
            }
            if (c.post_norms) {
                lw.ln1_post = gain(role::ln1_post_w, L, d);
                lw.ln2_post = gain(role::ln2_post_w, L, d);
            }
            if (c.attn.qk_norm != qk_norm_kind::none) {
                const bool whole = c.attn.qk_norm == qk_norm_kind::whole;
                lw.attn.q_norm = gain(role::q_norm_w, L, whole ? H * dh : dh);
                lw.attn.k_norm = gain(role::k_norm_w, L, whole ? KV * dh : dh);
            }
            if (qkv_ == qkv_layout::separate) {
                lw.attn.q = linear(role::q_w, role::q_b, L, H * dh, d, c.attn.qkv_bias);
                lw.attn.k = linear(role::k_w, role::k_b, L, KV * dh, d, c.attn.qkv_bias);
                lw.attn.v = linear(role::v_w, role::v_b, L, KV * dh, d, c.attn.qkv_bias);
                if (gguf_ && fam_.gguf_qk_permuted) {
                    lw.attn.q.w = unpermute_rotary_rows(lw.attn.q.w, H, dh);
                    lw.attn.k.w = unpermute_rotary_rows(lw.attn.k.w, KV, dh);
                    if (!lw.attn.q.b.empty()) lw.attn.q.b = unpermute_rotary_rows(lw.attn.q.b, H, dh);
                    if (!lw.attn.k.b.empty()) lw.attn.k.b = unpermute_rotary_rows(lw.attn.k.b, KV, dh);
                }
            } else {
                split_fused_qkv(lw.attn, L);
            }
            lw.attn.o = linear(role::o_w, role::o_b, L, d, H * dh, c.attn.o_bias);
            if (fam_.gate_up_fused) {
                split_fused_gate_up(lw.mlp, L);
            } else {
                lw.mlp.in = linear(role::mlp_in_w, role::mlp_in_b, L, c.mlp.d_mlp, d, c.mlp.bias);
                if (c.mlp.gated) lw.mlp.gate = linear(role::mlp_gate_w, role::mlp_gate_b, L, c.mlp.d_mlp, d, c.mlp.bias);
            }
            lw.mlp.out = linear(role::mlp_out_w, role::mlp_out_b, L, d, c.mlp.d_mlp, c.mlp.bias);
        }
        w.ln_final = norm(role::ln_final_w, role::ln_final_b, 0);
        if (c.tied_embeddings) {
            w.unembed.w = w.embed;
            if (find(role::unembed, 0)) note("tied embeddings: the unembedding reuses the token embedding; the checkpoint's separate unembedding tensor is ignored, as transformers does");
        } else {
            w.unembed.w = required(role::unembed, 0, {c.d_vocab, d}, true);
        }
        if (find(role::unembed_b, 0)) w.unembed.b = required(role::unembed_b, 0, {c.d_vocab});
        if (fam_.norm_gain_offset != 0.0f && !gguf_)
            note("norm gains: the checkpoint stores w and the gain is 1 + w; every gain is an owned float32 copy holding "
                 "1 + w, as TransformerLens folds it");
        if (gguf_ && fam_.gguf_qk_permuted)
            note("GGUF Q/K rows: undid llama.cpp's rotary row permutation in every layer (pairs (2i, 2i+1) → (i, i + d_head/2))");
        // Rope factors are read into the config (config_reader.hpp), not into weights.
        for (const char* name : {"rope_freqs.weight", "rope_factors_short.weight", "rope_factors_long.weight"})
            if (by_name_.count(name)) used_.insert(name);
        report_unused();
    }

private:
    const io::tensor_ref* find(role r, std::size_t layer) const {
        auto name = tensor_name(table_, r, layer);
        if (name.empty()) return nullptr;
        auto it = by_name_.find(name);
        return it == by_name_.end() ? nullptr : it->second;
    }

    /// The tensor playing `r`, checked against `shape`; a matrix may stay in its stored type when `may_stay_stored`.
    weight required(role r, std::size_t layer, const std::vector<std::size_t>& shape, bool may_stay_stored = false) {
        const auto* t = find(r, layer);
        if (!t) {
            auto name = tensor_name(table_, r, layer);
            throw weights_error(402, st_.source + ": missing tensor '" + (name.empty() ? std::string("?") : name) +
                                         "' required by the " + fam_.name + " architecture");
        }
        return as_weight(*t, shape, may_stay_stored && !dequantize_all_ && shape.size() == 2);
    }

    /// Zero-copy when the bytes already are aligned float32, or when the weight may stay in its
    /// stored type; an owned float32 copy otherwise.
    weight as_weight(const io::tensor_ref& t, const std::vector<std::size_t>& shape, bool stay_stored) {
        used_.insert(t.name);
        if (to_size_shape(t.shape) != shape)
            throw weights_error(403, t.where() + " has shape " + shape_string(to_size_shape(t.shape)) + ", expected " +
                                         shape_string(shape) + " from the config");
        if (!io::is_float_convertible(t.type))
            throw weights_error(404, t.where() + " has dtype " + io::dtype_name(t.type) + ", which xlens cannot convert to float32");
        bool aligned = reinterpret_cast<std::uintptr_t>(t.data) % alignof(float) == 0;
        // cppcheck-suppress invalidPointerCast ; the bytes are little-endian IEEE float32, checked aligned
        if (t.type == io::dtype::f32 && aligned) return {reinterpret_cast<const float*>(t.data), shape};
        if (stay_stored) {
            kept_[io::dtype_name(t.type)] += 1;
            weight w;
            w.shape = shape;
            w.type = t.type;
            w.stored = t.data;
            return w;
        }
        converted_[io::dtype_name(t.type)] += 1;
        float* out = allocate(t.elements());
        io::dequantize(t.type, t.data, t.elements(), out);
        return {out, shape};
    }

    norm_weight norm(role w_role, role b_role, std::size_t layer) {
        const std::size_t d = st_.config.d_model;
        norm_weight n = gain(w_role, layer, d);
        if (st_.config.norm.kind == norm_kind::layer_norm) n.b = required(b_role, layer, {d});
        return n;
    }

    /// A norm's gain [size]; with the family's offset (Gemma's 1 + w) applied, into an owned copy.
    norm_weight gain(role w_role, std::size_t layer, std::size_t size) {
        weight g = required(w_role, layer, {size});
        const float offset = gguf_ ? 0.0f : fam_.norm_gain_offset;  // llama.cpp's converter stores 1 + w already
        if (offset == 0.0f) return {g, {}};
        float* out = allocate(size);
        for (std::size_t i = 0; i < size; ++i) out[i] = offset + g.data[i];
        return {{out, {size}}, {}};
    }

    linear_weight linear(role w_role, role b_role, std::size_t layer, std::size_t d_out, std::size_t d_in, bool bias) {
        linear_weight l;
        l.in_by_out = in_by_out_;
        // A transposed (Conv1D) matrix is read by columns, which no block layout allows: float32 only.
        l.w = required(w_role, layer, l.in_by_out ? std::vector<std::size_t>{d_in, d_out} : std::vector<std::size_t>{d_out, d_in},
                       !l.in_by_out);
        if (bias) l.b = required(b_role, layer, {d_out});
        return l;
    }

    /// GPT-2 and Phi-3 keep [q | k | v] side by side; GPT-NeoX interleaves them per head. Both become three projections.
    void split_fused_qkv(attention_weight& a, std::size_t L) {
        const auto& c = st_.config;
        const std::size_t H = c.attn.n_heads, KV = c.attn.n_kv_heads, dh = c.attn.d_head;
        if (qkv_ == qkv_layout::fused_per_head && KV != H)
            throw config_error(307, st_.source + ": q/k/v interleaved per head with grouped-query attention is not supported");
        const std::size_t widths[3] = {H * dh, KV * dh, KV * dh};
        auto source_feature = [&](std::size_t part, std::size_t i) { return fused_qkv_row(qkv_, H, KV, dh, part, i); };
        linear_weight* parts[3] = {&a.q, &a.k, &a.v};
        const char* how = split_fused_rows(role::qkv_w, c.attn.qkv_bias ? role::qkv_b : std::optional<role>{}, L, widths, parts, source_feature);
        if (L == 0) note(std::string("fused q/k/v (") + (qkv_ == qkv_layout::fused_blocks ? "[q|k|v] blocks" : "interleaved per head") +
                         ") split into separate projections (" + how + ")");
    }

    /// Phi-3's gate_up_proj: rows [gate | up], each d_mlp long.
    void split_fused_gate_up(mlp_weight& m, std::size_t L) {
        const std::size_t n = st_.config.mlp.d_mlp;
        const std::size_t widths[2] = {n, n};
        linear_weight* parts[2] = {&m.gate, &m.in};
        const char* how = split_fused_rows(role::mlp_gate_up_w, std::nullopt, L, widths, parts,
                                           [n](std::size_t part, std::size_t i) { return part * n + i; });
        if (L == 0) note(std::string("fused [gate | up] split into the gate and up projections (") + how + ")");
    }

    /// Splits the fused matrix playing `w_role` (and its bias) into N projections of `widths[p]`
    /// outputs, output i of part p being feature source_feature(p, i) of the fused tensor. A matrix
    /// kept stored is read in place through a row order; a float32 one is copied. Returns which, for the load notes.
    template <std::size_t N, class Source>
    const char* split_fused_rows(role w_role, std::optional<role> b_role, std::size_t L, const std::size_t (&widths)[N],
                          linear_weight* (&parts)[N], Source source_feature) {
        const std::size_t d = st_.config.d_model;
        std::size_t width = 0;
        for (std::size_t wd : widths) width += wd;
        const bool by_out = in_by_out_;
        weight w = required(w_role, L, by_out ? std::vector<std::size_t>{d, width} : std::vector<std::size_t>{width, d}, !by_out);
        weight b = b_role ? required(*b_role, L, {width}) : weight{};
        for (std::size_t part = 0; part < N; ++part) {
            const std::size_t n = widths[part];
            auto& out = *parts[part];
            if (!b.empty()) {
                float* pb = allocate(n);
                for (std::size_t i = 0; i < n; ++i) pb[i] = b.data[source_feature(part, i)];
                out.b = {pb, {n}};
            }
            if (!w.in_float32()) {  // kept stored: each projection reads its rows of the fused matrix in place
                std::uint32_t* order = allocate_order(n);
                for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(source_feature(part, i));
                out.in_by_out = false;
                out.w = w;
                out.w.shape = {n, d};
                out.w.row_order = order;
                continue;
            }
            float* pw = allocate(n * d);
            for (std::size_t i = 0; i < n; ++i) {
                const std::size_t src = source_feature(part, i);
                for (std::size_t j = 0; j < d; ++j) {
                    if (by_out) pw[j * n + i] = w.data[j * width + src];  // stays [d_in, d_out]
                    else pw[i * d + j] = w.data[src * d + j];
                }
            }
            out.in_by_out = by_out;
            out.w = {pw, by_out ? std::vector<std::size_t>{d, n} : std::vector<std::size_t>{n, d}};
        }
        return w.in_float32() ? "copies; values unchanged" : "read in place through row orders";
    }

    /// Row r of head h in llama.cpp's order holds HF row (r % 2)·dh/2 + r/2; put rows back in HF order:
    /// a row order over the stored bytes for a weight kept stored, a float32 copy otherwise.
    weight unpermute_rotary_rows(const weight& w, std::size_t heads, std::size_t dh) {
        const std::size_t half = dh / 2;
        if (!w.in_float32()) {
            std::uint32_t* order = allocate_order(heads * dh);
            for (std::size_t h = 0; h < heads; ++h)
                for (std::size_t r = 0; r < dh; ++r) order[h * dh + (r % 2) * half + r / 2] = static_cast<std::uint32_t>(h * dh + r);
            weight out = w;
            out.row_order = order;
            return out;
        }
        std::size_t cols = w.shape.size() == 2 ? w.shape[1] : 1;
        float* out = allocate(heads * dh * cols);
        for (std::size_t h = 0; h < heads; ++h)
            for (std::size_t r = 0; r < dh; ++r) {
                std::size_t hf_row = (r % 2) * half + r / 2;
                std::memcpy(out + (h * dh + hf_row) * cols, w.data + (h * dh + r) * cols, cols * sizeof(float));
            }
        return {out, w.shape};
    }

    float* allocate(std::uint64_t n) {
        st_.owned.emplace_back(new float[static_cast<std::size_t>(n)]);
        return st_.owned.back().get();
    }

    std::uint32_t* allocate_order(std::size_t n) {
        st_.row_orders.emplace_back(new std::uint32_t[n]);
        return st_.row_orders.back().get();
    }

    void note(std::string s) { st_.notes.push_back(std::move(s)); }

    void report_unused() {
        std::vector<std::string> unused;
        for (const auto& [name, t] : by_name_)
            if (!used_.count(name)) unused.push_back(name);
        std::sort(unused.begin(), unused.end());
        for (const auto& [type, n] : kept_)
            note("kept " + std::to_string(n) + " " + type + " matrices in their stored type (read in place, dequantised inside each matmul)");
        for (const auto& [type, n] : converted_)
            note("converted " + std::to_string(n) + " " + type + " tensor(s) to float32 (owned copies)");
        if (!unused.empty()) {
            std::string list;
            for (std::size_t i = 0; i < unused.size() && i < 8; ++i) list += (i ? ", " : "") + unused[i];
            if (unused.size() > 8) list += ", …";
            note(std::to_string(unused.size()) + " checkpoint tensor(s) not used by the forward pass: " + list);
        }
    }

    model::state& st_;
    const family& fam_;
    const std::vector<std::pair<role, const char*>>& table_;
    bool gguf_;
    bool dequantize_all_;
    qkv_layout qkv_;
    bool in_by_out_;
    std::unordered_map<std::string, const io::tensor_ref*> by_name_;
    std::set<std::string> used_;
    std::map<std::string, std::size_t> converted_, kept_;
};

inline void fill_inventory(model::state& st, const std::vector<io::tensor_ref>& tensors) {
    for (const auto& t : tensors)
        st.inventory.push_back({t.name, io::dtype_name(t.type), t.shape, t.nbytes, t.file ? *t.file : std::string()});
}

inline void check_all_finite(const model::state& st) {
    auto check = [&](const weight& w, const std::string& what) {
        if (w.empty()) return;
        std::vector<float> row(w.row_length());
        for (std::size_t r = 0; r < w.rows(); ++r) {
            w.read_rows(r, 1, row.data());  // dequantised row by row: no float32 copy of the whole weight
            for (std::size_t i = 0; i < row.size(); ++i)
                if (!std::isfinite(row[i]))
                    throw weights_error(405, st.source + ": " + what + (w.in_float32() ? "" : std::string(" (") + io::dtype_name(w.type) + ")") +
                                                 " holds a non-finite value at flat index " + std::to_string(r * row.size() + i));
        }
    };
    const auto& w = st.weights;
    check(w.embed, "the token embedding");
    check(w.pos_embed, "the position embedding");
    check(w.ln_final.w, "the final norm's gain");
    check(w.ln_final.b, "the final norm's bias");
    check(w.unembed.w, "the unembedding");
    check(w.unembed.b, "the unembedding bias");
    const char* names[] = {"q", "k", "v", "o", "mlp in", "mlp gate", "mlp out"};
    for (std::size_t L = 0; L < w.layers.size(); ++L) {
        const auto& l = w.layers[L];
        auto tag = "layer " + std::to_string(L) + " ";
        const linear_weight* linears[] = {&l.attn.q, &l.attn.k, &l.attn.v, &l.attn.o, &l.mlp.in, &l.mlp.gate, &l.mlp.out};
        for (std::size_t i = 0; i < 7; ++i) {
            check(linears[i]->w, tag + names[i] + " weight");
            check(linears[i]->b, tag + names[i] + " bias");
        }
        check(l.ln1.w, tag + "ln1 gain");
        check(l.ln1.b, tag + "ln1 bias");
        check(l.ln2.w, tag + "ln2 gain");
        check(l.ln2.b, tag + "ln2 bias");
        check(l.ln1_post.w, tag + "ln1_post gain");
        check(l.ln2_post.w, tag + "ln2_post gain");
        check(l.attn.q_norm.w, tag + "q_norm gain");
        check(l.attn.k_norm.w, tag + "k_norm gain");
    }
}

inline std::shared_ptr<model::state> safetensors_model_from(const std::string& source, const nlohmann::json& config,
                                                          const std::string& config_where,
                                                          const std::shared_ptr<io::safetensors_checkpoint>& checkpoint,
                                                          const load_options& options) {
    auto st = std::make_shared<model::state>();
    st->source = source;
    st->format = "safetensors";
    const auto& fam = family_for_hf_config(config, config_where);
    st->config = config_from_hf(config, fam, config_where);
    st->keep_alive.push_back(checkpoint);
    fill_inventory(*st, checkpoint->tensors());
    weight_builder(*st, fam, checkpoint->tensors(), false, options.dequantize).build();
    return st;
}

inline std::shared_ptr<model::state> load_safetensors_model(const std::string& path, const std::filesystem::path& config_path,
                                                           const load_options& options) {
    if (!std::filesystem::exists(config_path))
        throw io_error(105, path + ": no config.json beside the weights (looked for '" + config_path.string() + "')");
    auto json = io::read_json_file(config_path.string());
    auto checkpoint = std::make_shared<io::safetensors_checkpoint>(io::safetensors_checkpoint::open(path));
    return safetensors_model_from(path, json, config_path.string(), checkpoint, options);
}

inline std::shared_ptr<model::state> gguf_model_from(const std::string& source, const std::shared_ptr<io::gguf_file>& file,
                                                     const load_options& options) {
    auto st = std::make_shared<model::state>();
    st->source = source;
    st->format = "gguf";
    st->keep_alive.push_back(file);
    const std::string& path = file->path();
    if (!file->has("general.architecture")) throw config_error(303, path + ": missing GGUF metadata 'general.architecture'");
    const auto& fam = family_for_gguf(file->get_string("general.architecture"), path);
    st->config = config_from_gguf(*file, fam);
    const std::string ffn_key = std::string(fam.gguf_architecture) + ".feed_forward_length";
    if (file->has(ffn_key) && file->get_uint(ffn_key) != st->config.mlp.d_mlp)
        st->notes.push_back("'" + ffn_key + "' says " + std::to_string(file->get_uint(ffn_key)) + "; the MLP tensors are " +
                            std::to_string(st->config.mlp.d_mlp) + " wide, which is used");
    for (const char* key : {"general.name", "general.architecture", "general.file_type", "tokenizer.ggml.model"})
        if (const io::gguf_value* v = file->find_value(key))  // strings unquoted; to_string would quote them
            st->metadata.emplace_back(key, v->type == io::gguf_type::string ? std::get<std::string>(v->data)
                                                                            : io::to_string(*v));
    fill_inventory(*st, file->tensors());
    weight_builder(*st, fam, file->tensors(), true, options.dequantize).build();
    return st;
}

inline std::shared_ptr<model::state> load_gguf_model(const std::string& path, const load_options& options) {
    return gguf_model_from(path, std::make_shared<io::gguf_file>(path), options);
}

/// The source files of a weight database, rebuilt in memory and opened as if read from disk; each
/// tensor and file is checked against the SHA-256 recorded at export, so the weights are the source's.
inline std::shared_ptr<model::state> load_database_model(const std::string& path, const load_options& options) {
    auto db = weight_database::open(path);
    std::shared_ptr<model::state> st;
    auto in_memory = [&](const std::string& name) { return io::mapped_file::from_memory(path + ":" + name, db.file_bytes(name)); };
    if (db.source_format() == "gguf") {
        for (const auto& f : db.files())
            if (f.kind == "weights") st = gguf_model_from(path, std::make_shared<io::gguf_file>(in_memory(f.name)), options);
    } else {
        std::vector<std::unique_ptr<io::safetensors_file>> shards;
        for (const auto& f : db.files())
            if (f.kind == "weights") shards.push_back(std::make_unique<io::safetensors_file>(in_memory(f.name)));
        if (!db.has_file("config.json"))
            throw format_error(237, path + ": table 'source_files' has no config.json, which a safetensors model needs");
        const auto config = db.file_bytes("config.json");
        const std::string where = path + ":config.json";
        st = safetensors_model_from(path, io::parse_json(std::string(config.begin(), config.end()), where), where,
                                    std::make_shared<io::safetensors_checkpoint>(
                                        io::safetensors_checkpoint::from_shards(path, std::move(shards))),
                                    options);
    }
    if (!st) throw format_error(237, path + ": table 'source_files' lists no weights file");
    st->notes.insert(st->notes.begin(), "rebuilt in memory from the weight database (source format " + db.source_format() +
                                            "); every tensor matched the SHA-256 recorded at export");
    return st;
}

}  // namespace detail

inline model model::load(const std::string& path, const load_options& options) {
    namespace fs = std::filesystem;
    io::refuse_pickle(path);
    fs::path p(path);
    if (!fs::exists(p)) throw io_error(105, "'" + path + "': no such file or folder");
    std::shared_ptr<state> st;
    auto ends_with = [&](const std::string& suffix) {
        return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (fs::is_directory(p)) {
        st = detail::load_safetensors_model(path, p / "config.json", options);
    } else if (detail::is_sqlite_file(path)) {
        st = detail::load_database_model(path, options);
    } else if (ends_with(".gguf")) {
        st = detail::load_gguf_model(path, options);
    } else if (ends_with(".safetensors") || ends_with(".safetensors.index.json")) {
        st = detail::load_safetensors_model(path, p.parent_path() / "config.json", options);
    } else {
        throw io_error(106, "'" + path + "': not a model (expected a folder, a .safetensors, a .safetensors.index.json, a .gguf file or an xlens weight database)");
    }
    if (options.check_finite) detail::check_all_finite(*st);
    return model(std::move(st));
}

}  // namespace xlens
