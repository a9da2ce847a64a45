// xlens/export/sql_functions.hpp — vector maths inside SQL, and the documented example queries.
//
//   auto db = xlens::weight_database::open("smollm2.db");
//   xlens::define_vector_functions(db.sql());
//   auto q = db.sql().prepare("SELECT vec_norm(w_out, dtype) FROM neurons WHERE layer = 3");
//
// Plain SQL cannot take a dot product of two BLOBs, so "which neurons write ' Paris'" needs help.
// These scalar functions read a BLOB together with its dtype column ('F32', 'F16', 'BF16', 'F64'),
// compute in double precision, and return a number or a new F32 BLOB. They exist on connections
// that registered them (xlens query does); the label tables answer the common questions without them.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "xlens/io/sqlite.hpp"
#include "xlens/io/tensor_ref.hpp"
#include "xlens/model/database_layout.hpp"

namespace xlens {

/// Registers on `sql`: vec_dot(a, a_dtype, b, b_dtype), vec_cosine(a, a_dtype, b, b_dtype),
/// vec_norm(a, dtype), vec_len(a, dtype), vec_at(a, dtype, i), vec_mul(a, a_dtype, b, b_dtype)
/// (elementwise, F32 BLOB), vec_center(a, dtype) (minus its mean, F32 BLOB), vec_json(a, dtype)
/// (a JSON array). A wrong dtype, a BLOB whose length is not a whole number of elements, or two
/// vectors of different lengths make the statement fail with a message saying which.
inline void define_vector_functions(io::sqlite::database& sql);

/// A documented example query: docs/database.md shows each one with its measured time.
struct example_query {
    const char* name;
    const char* question;
    const char* sql;
};

/// The example queries of docs/database.md (a test checks the page shows them verbatim).
inline const std::vector<example_query>& example_queries() {
    static const std::vector<example_query> all = {
        {"neurons_promoting_token", "The 20 neurons in layers 10-20 whose output most promotes ' Paris'",
         "WITH direction AS (\n"
         "  SELECT vec_mul(ifnull(u.unembedding, u.embedding), ifnull(u.unembedding_dtype, u.embedding_dtype),\n"
         "                 n.weight, n.dtype) AS v\n"
         "  FROM tokens u, norms n WHERE u.text = ' Paris' AND n.name = 'ln_final')\n"
         "SELECT layer, neuron, vec_dot(w_out, dtype, direction.v, 'F32') AS logit_per_unit\n"
         "FROM neurons, direction WHERE layer BETWEEN 10 AND 20\n"
         "ORDER BY logit_per_unit DESC LIMIT 20;"},
        {"copying_heads", "The 10 heads whose OV circuit copies tokens most (label table, plain SQL)",
         "SELECT layer, head, round(score, 3) AS copying FROM head_roles\n"
         "WHERE role = 'ov_copying' ORDER BY score DESC LIMIT 10;"},
        {"neuron_top_tokens", "What neuron L24 N917 writes (label table, plain SQL)",
         "SELECT relation, rank, t.text, round(score, 3) AS score\n"
         "FROM neuron_tokens JOIN tokens t ON t.id = token\n"
         "WHERE layer = 24 AND neuron = 917 ORDER BY relation, rank;"},
        {"neurons_listing_token", "Neurons that list ' than' among the tokens they promote most (index lookup)",
         "SELECT layer, neuron, rank, round(score, 3) AS score\n"
         "FROM neuron_tokens WHERE relation = 'promotes'\n"
         "  AND token = (SELECT id FROM tokens WHERE text = ' than')\n"
         "ORDER BY score DESC LIMIT 10;"},
        {"nearest_embeddings", "The 10 tokens whose embedding is nearest ' Paris' (cosine, a full scan)",
         "WITH p AS (SELECT embedding AS v, embedding_dtype AS t FROM tokens WHERE text = ' Paris')\n"
         "SELECT id, text, round(vec_cosine(embedding, embedding_dtype, p.v, p.t), 3) AS cosine\n"
         "FROM tokens, p ORDER BY cosine DESC LIMIT 10;"},
        {"largest_output_vectors", "Per layer, the neuron with the longest output vector",
         "SELECT layer, neuron, max(len) AS norm FROM (\n"
         "  SELECT layer, neuron, vec_norm(w_out, dtype) AS len FROM neurons)\n"
         "GROUP BY layer ORDER BY layer;"},
        {"storage", "How the tensors are stored (plain SQL)",
         "SELECT storage, dtype, count(*) AS tensors, sum(nbytes) AS bytes\n"
         "FROM tensors GROUP BY storage, dtype;"},
    };
    return all;
}

// ==== implementation ==============================================================================

namespace detail {

/// A BLOB argument read as doubles, whatever its stored dtype.
inline std::vector<double> vector_argument(sqlite3_value* blob, sqlite3_value* dtype, const char* fn) {
    const auto* name = reinterpret_cast<const char*>(sqlite3_value_text(dtype));
    io::dtype t;
    if (name == nullptr || !db::dtype_from_name(name, t) || !db::keeps_own_bytes(t))
        throw std::runtime_error(std::string(fn) + ": dtype '" + (name ? name : "NULL") + "' is not F32, F16, BF16 or F64");
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_value_blob(blob));
    const auto n = static_cast<std::size_t>(sqlite3_value_bytes(blob));
    const std::size_t esize = io::traits(t).block_bytes;
    if (n % esize != 0)
        throw std::runtime_error(std::string(fn) + ": a BLOB of " + std::to_string(n) + " bytes is not a whole number of " + name + " values");
    std::vector<double> out(n / esize);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::uint8_t* e = p + i * esize;
        switch (t) {
            case io::dtype::f32: out[i] = io::load_le<float>(e); break;
            case io::dtype::f64: out[i] = io::load_le<double>(e); break;
            case io::dtype::f16: out[i] = io::f16_to_f32(io::load_le<std::uint16_t>(e)); break;
            default: out[i] = io::bf16_to_f32(io::load_le<std::uint16_t>(e)); break;
        }
    }
    return out;
}

inline void same_length(const std::vector<double>& a, const std::vector<double>& b, const char* fn) {
    if (a.size() != b.size())
        throw std::runtime_error(std::string(fn) + ": vectors of " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                                 " elements");
}

inline void result_f32(io::sqlite::function_context& ctx, const std::vector<double>& v) {
    std::vector<float> f(v.size());
    constexpr double largest = std::numeric_limits<float>::max();
    for (std::size_t i = 0; i < v.size(); ++i)  // beyond float's range the conversion is undefined: saturate to ±inf
        f[i] = v[i] > largest ? std::numeric_limits<float>::infinity()
               : v[i] < -largest ? -std::numeric_limits<float>::infinity() : static_cast<float>(v[i]);
    ctx.result_blob(f.data(), f.size() * sizeof(float));
}

}  // namespace detail

inline void define_vector_functions(io::sqlite::database& sql) {
    using ctx_t = io::sqlite::function_context;
    using detail::vector_argument;
    sql.define_function("vec_dot", 4, [](ctx_t& ctx, int, sqlite3_value** v) {
        auto a = vector_argument(v[0], v[1], "vec_dot"), b = vector_argument(v[2], v[3], "vec_dot");
        detail::same_length(a, b, "vec_dot");
        double s = 0;
        for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
        ctx.result_double(s);
    });
    sql.define_function("vec_cosine", 4, [](ctx_t& ctx, int, sqlite3_value** v) {
        auto a = vector_argument(v[0], v[1], "vec_cosine"), b = vector_argument(v[2], v[3], "vec_cosine");
        detail::same_length(a, b, "vec_cosine");
        double ab = 0, aa = 0, bb = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }
        if (aa == 0 || bb == 0) ctx.result_null();
        else ctx.result_double(ab / std::sqrt(aa * bb));
    });
    sql.define_function("vec_norm", 2, [](ctx_t& ctx, int, sqlite3_value** v) {
        double s = 0;
        for (double x : vector_argument(v[0], v[1], "vec_norm")) s += x * x;
        ctx.result_double(std::sqrt(s));
    });
    sql.define_function("vec_len", 2, [](ctx_t& ctx, int, sqlite3_value** v) {
        ctx.result_int64(static_cast<std::int64_t>(vector_argument(v[0], v[1], "vec_len").size()));
    });
    sql.define_function("vec_at", 3, [](ctx_t& ctx, int, sqlite3_value** v) {
        auto a = vector_argument(v[0], v[1], "vec_at");
        const auto i = sqlite3_value_int64(v[2]);
        if (i < 0 || static_cast<std::uint64_t>(i) >= a.size())
            throw std::runtime_error("vec_at: index " + std::to_string(i) + " outside a vector of " + std::to_string(a.size()));
        ctx.result_double(a[static_cast<std::size_t>(i)]);
    });
    sql.define_function("vec_mul", 4, [](ctx_t& ctx, int, sqlite3_value** v) {
        auto a = vector_argument(v[0], v[1], "vec_mul"), b = vector_argument(v[2], v[3], "vec_mul");
        detail::same_length(a, b, "vec_mul");
        for (std::size_t i = 0; i < a.size(); ++i) a[i] *= b[i];
        detail::result_f32(ctx, a);
    });
    sql.define_function("vec_center", 2, [](ctx_t& ctx, int, sqlite3_value** v) {
        auto a = vector_argument(v[0], v[1], "vec_center");
        double mean = 0;
        for (double x : a) mean += x;
        if (!a.empty()) mean /= static_cast<double>(a.size());
        for (double& x : a) x -= mean;
        detail::result_f32(ctx, a);
    });
    sql.define_function("vec_json", 2, [](ctx_t& ctx, int, sqlite3_value** v) {
        std::string out = "[";
        char buf[32];
        for (double x : vector_argument(v[0], v[1], "vec_json")) {
            if (std::isfinite(x)) std::snprintf(buf, sizeof buf, "%.9g", x);
            else std::snprintf(buf, sizeof buf, "null");  // JSON has no NaN or infinity
            out += (out.size() > 1 ? "," : "") + std::string(buf);
        }
        ctx.result_text(out + "]");
    });
}

}  // namespace xlens
