// Weight databases: export, read back, forward from the database, idempotence, locking, bad input.
// The byte-level round trip of every family against the safetensors library is in
// tools/reference/check_database.py; these tests cover the properties and the error paths.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <xlens/analysis/neuron_values.hpp>
#include <xlens/export/sql_functions.hpp>
#include <xlens/export/sqlite_export.hpp>
#include <xlens/export/sqlite_import.hpp>
#include <xlens/io/sha256.hpp>
#include <xlens/run/forward.hpp>

#include "test_data.hpp"
#include "tiny_model.hpp"

namespace fs = std::filesystem;

namespace {

std::string file_sha256(const std::string& path) {
    xlens::io::mapped_file f(path);
    return xlens::io::sha256_hex(f.data(), f.size());
}

/// A fresh export of a tiny model of `family`, as a path.
std::string exported(const std::string& family, const std::string& name) {
    const std::string out = test::temp_dir("db") + "/" + name + ".db";
    xlens::export_sqlite(test::tiny_model(family), out);
    return out;
}

/// Runs `sql` on a writable copy of `db` and returns the copy's path.
std::string tampered(const std::string& db, const std::string& name, const std::string& sql) {
    const std::string copy = test::temp_dir("db") + "/" + name + ".db";
    fs::copy_file(db, copy, fs::copy_options::overwrite_existing);
    auto w = xlens::io::sqlite::database::open(copy, xlens::io::sqlite::open_mode::read_write);
    w.exec(sql);
    return copy;
}

/// Rebuilds every file of the database, as model loading and import do.
void rebuild_all(const std::string& path) {
    auto db = xlens::weight_database::open(path);
    for (const auto& f : db.files()) db.file_bytes(f.name);
}

}  // namespace

TEST_CASE("database: every tensor and file comes back byte for byte, and the forward pass is identical") {
    for (const char* family : {"llama", "gpt2", "gpt_neox", "qwen2"}) {
        CAPTURE(family);
        const std::string source = test::tiny_model(family);
        const std::string path = test::temp_dir("db") + "/" + family + ".db";
        const auto report = xlens::export_sqlite(source, path);
        CHECK(report.tensors_raw == 0);
        CHECK_FALSE(fs::exists(path + ".tmp"));

        auto db = xlens::weight_database::open(path);
        auto checkpoint = xlens::io::safetensors_checkpoint::open(source);
        CHECK(db.tensors().size() == checkpoint.tensors().size());
        for (const auto& t : db.tensors()) {
            const auto& ref = checkpoint.at(t.name);
            const auto bytes = db.tensor_bytes(t);
            REQUIRE(bytes.size() == ref.nbytes);
            CHECK(std::memcmp(bytes.data(), ref.data, ref.nbytes) == 0);
            CHECK(t.storage == "semantic");
        }
        const auto rebuilt = db.file_bytes("model.safetensors");
        xlens::io::mapped_file original(source + "/model.safetensors");
        REQUIRE(rebuilt.size() == original.size());
        CHECK(std::memcmp(rebuilt.data(), original.data(), original.size()) == 0);

        const std::vector<xlens::token_id> tokens = {1, 7, 3, 52, 0, 7};
        const auto a = xlens::forward(xlens::model::load(source), tokens);
        const auto b = xlens::forward(xlens::model::load(path), tokens);
        CHECK(xt::amax(xt::abs(a - b))() == 0.0f);

        const std::string back = test::temp_dir("db_import_" + std::string(family)) + "/model.safetensors";
        xlens::import_safetensors(path, back);
        auto again = xlens::io::safetensors_checkpoint::open(back);
        for (const auto& ref : checkpoint.tensors()) {
            const auto& t = again.at(ref.name);
            CHECK(t.type == ref.type);
            CHECK(t.shape == ref.shape);
            CHECK(std::memcmp(t.data, ref.data, ref.nbytes) == 0);
        }
    }
}

TEST_CASE("database: a second export is byte-identical, replaces the first, and waits for no one") {
    const std::string source = test::tiny_model("llama");
    const std::string path = test::temp_dir("db") + "/twice.db";
    xlens::export_sqlite(source, path);
    const std::string first = file_sha256(path);
    {  // damage the first export, and leave a stale journal beside it as a killed writer would
        auto w = xlens::io::sqlite::database::open(path, xlens::io::sqlite::open_mode::read_write);
        w.exec("UPDATE tokens SET embedding = zeroblob(96) WHERE id = 3");
    }
    test::write_bytes(path + "-journal", std::string(600, 'j'));
    REQUIRE(file_sha256(path) != first);
    xlens::export_sqlite(source, path);
    CHECK(file_sha256(path) == first);
    CHECK_FALSE(fs::exists(path + "-journal"));
    rebuild_all(path);

    // The output must not be a file of the model itself.
    test::expect_error([&] { xlens::export_sqlite(source, source + "/model.safetensors"); }, 563, {"is a file of the model being exported"});
    test::expect_error([&] { xlens::export_sqlite(source, source + "/config.json"); }, 563, {"is a file of the model being exported"});

    // Another writer holding the output: refused at once, and the finished file is untouched.
    xlens::detail::export_lock held(path);
    test::expect_error([&] { xlens::export_sqlite(source, path); }, 125, {"another process is exporting to", path});
    CHECK(file_sha256(path) == first);
}

TEST_CASE("database: opened read-only; a writer on the same file is told it is locked") {
    const std::string path = exported("llama", "readonly");
    auto db = xlens::weight_database::open(path);
    test::expect_error([&] { db.sql().exec("DELETE FROM neurons"); }, 123, {"read-only"});
    CHECK(db.tensors().size() > 0);

    auto a = xlens::io::sqlite::database::open(path, xlens::io::sqlite::open_mode::read_write);
    auto b = xlens::io::sqlite::database::open(path, xlens::io::sqlite::open_mode::read_write);
    a.exec("BEGIN IMMEDIATE");
    test::expect_error([&] { b.exec("BEGIN IMMEDIATE"); }, 121, {"locked", path});
    a.exec("ROLLBACK");
    rebuild_all(path);  // nothing was changed
}

TEST_CASE("database: bad input names the table and the row") {
    const std::string path = exported("llama", "bad_input");
    const std::string prefix = test::temp_dir("db") + "/";

    test::expect_error([&] { xlens::weight_database::open(tampered(path, "v99", "UPDATE model SET schema_version = 99")); },
                       234, {"table 'model' row 1: schema_version is 99", "reads version 1"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "incomplete", "UPDATE model SET complete = 0")); },
                       235, {"never finished"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "foreign", "PRAGMA application_id = 7")); }, 233,
                       {"not an xlens weight database"});
    {
        auto other = xlens::io::sqlite::database::open(prefix + "plain.db", xlens::io::sqlite::open_mode::create);
        other.exec("CREATE TABLE IF NOT EXISTS t (x)");
    }
    test::expect_error([&] { xlens::weight_database::open(prefix + "plain.db"); }, 233, {"not an xlens weight database"});
    test::expect_error([&] { xlens::model::load(prefix + "missing.db"); }, 105, {"no such file"});

    // A BLOB shorter than dtype × shape, in a semantic row and in the tensors table itself.
    test::expect_error([&] { rebuild_all(tampered(path, "short_blob", "UPDATE neurons SET w_out = substr(w_out, 1, 10) WHERE layer = 1 AND neuron = 5")); },
                       236, {"neurons row (layer 1, neuron 5): w_out holds 10 bytes, expected 96 (24 × F32)"});
    test::expect_error([&] { rebuild_all(tampered(path, "wrong_dtype", "UPDATE heads SET dtype = 'F16' WHERE layer = 0 AND head = 2")); },
                       236, {"heads row (layer 0, head 2): dtype is 'F16'", "is F32"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "nbytes", "UPDATE tensors SET nbytes = 12 WHERE id = 3")).tensors(); },
                       236, {"table 'tensors' row 3", "disagrees with its dtype F32"});
    // Same length, one value changed: the SHA-256 recorded at export catches it.
    test::expect_error([&] { rebuild_all(tampered(path, "flipped", "UPDATE tokens SET embedding = zeroblob(96) WHERE id = 4")); },
                       237, {"tensor 'model.embed_tokens.weight'", "does not match the SHA-256"});
    test::expect_error([&] { rebuild_all(tampered(path, "missing_row", "DELETE FROM kv_heads WHERE layer = 1 AND kv_head = 1")); },
                       237, {"table 'kv_heads' has 1 rows", "expected 2"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "evil_name", "UPDATE source_files SET name = '../evil' WHERE kind = 'config'")).files(); },
                       238, {"not a plain file name"});

    test::expect_error([&] { xlens::weight_database::open(tampered(path, "view", "DROP TABLE tensors; CREATE VIEW tensors AS SELECT 1 AS id")); },
                       233, {"'tensors' is not defined as xlens defines it"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "trigger", "CREATE TRIGGER t AFTER INSERT ON rules BEGIN SELECT 1; END")); },
                       233, {"'t' is not part of an xlens weight database"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "overlap", "UPDATE tensors SET byte_offset = (SELECT byte_offset FROM tensors WHERE id = 1) WHERE id = 2")).tensors(); },
                       238, {"overlap in 'model.safetensors'"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "no_kv", "UPDATE model SET n_kv_heads = 0")); }, 238,
                       {"sizes that cannot describe a model"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "huge_file", "UPDATE source_files SET size = 1000000000000 WHERE kind = 'weights'")).tensors(); },
                       238, {"size 1000000000000 cannot fit in the database"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "other_file", "UPDATE tensors SET file = 'elsewhere.safetensors' WHERE id = 2")).tensors(); },
                       238, {"table 'tensors' row 2", "file 'elsewhere.safetensors' is not in table 'source_files'"});
    test::expect_error([&] { xlens::weight_database::open(tampered(path, "past_end", "UPDATE tensors SET byte_offset = 100000000 WHERE id = 2")).tensors(); },
                       236, {"table 'tensors' row 2", "lie outside 'model.safetensors'"});

    // A truncated file: SQLite reports it damaged, at open or when the missing pages are read.
    const std::string truncated = prefix + "truncated.db";
    fs::copy_file(path, truncated, fs::copy_options::overwrite_existing);
    fs::resize_file(truncated, fs::file_size(path) / 2);
    test::expect_error([&] { rebuild_all(truncated); }, 124, {truncated, "damaged"});
}

TEST_CASE("database: a tensor kept raw is rebuilt from its chunks, and a short chunk is named") {
    const std::string path = exported("gpt2", "raw");
    auto db = xlens::weight_database::open(path);
    const auto t = db.tensors().front();
    const auto bytes = db.tensor_bytes(t);
    const std::string copy = tampered(path, "raw_ok", "UPDATE tensors SET storage = 'raw' WHERE id = " + std::to_string(t.id));
    {
        auto w = xlens::io::sqlite::database::open(copy, xlens::io::sqlite::open_mode::read_write);
        auto q = w.prepare("INSERT INTO tensor_chunks (tensor, chunk, bytes) VALUES (?1, 0, ?2), (?1, 1, ?3)");
        const std::size_t half = bytes.size() / 2;
        q.bind(1, t.id).bind_blob(2, bytes.data(), half).bind_blob(3, bytes.data() + half, bytes.size() - half);
        q.step();
    }
    rebuild_all(copy);
    test::expect_error([&] { rebuild_all(tampered(copy, "raw_short", "UPDATE tensor_chunks SET bytes = substr(bytes, 1, 8) WHERE chunk = 1")); },
                       236, {"table 'tensor_chunks' rows of tensor " + std::to_string(t.id), "need " + std::to_string(bytes.size())});
    test::expect_error([&] { rebuild_all(tampered(copy, "raw_gap", "DELETE FROM tensor_chunks WHERE chunk = 0")); }, 237,
                       {"table 'tensor_chunks' row (tensor " + std::to_string(t.id), "chunk 0 is missing"});
}

TEST_CASE("database: vector functions compute in SQL what the weights say") {
    const std::string source = test::tiny_model("gpt2");
    const std::string path = test::temp_dir("db") + "/functions.db";
    xlens::export_options options;
    options.neuron_tokens = 3;
    xlens::export_sqlite(source, path, options);
    const auto m = xlens::model::load(source);
    const auto& w = m.weights();
    const std::size_t d = m.config().d_model, d_mlp = m.config().mlp.d_mlp;
    auto db = xlens::weight_database::open(path);
    xlens::define_vector_functions(db.sql());

    // Logit effect per unit of activation of neuron (1, n) on token 11: (γ ⊙ W_out[:, n]) · W_U[11],
    // from GPT-2's Conv1D weights (c_proj stored [d_mlp, d], so a neuron's output vector is a row).
    auto q = db.sql().prepare(
        "SELECT neuron, vec_dot(w_out, n.dtype, vec_mul(t.embedding, t.embedding_dtype, f.weight, f.dtype), 'F32'), "
        "vec_len(w_out, n.dtype), vec_at(w_out, n.dtype, 2) "
        "FROM neurons n, tokens t, norms f WHERE n.layer = 1 AND t.id = 11 AND f.name = 'ln_final' ORDER BY neuron");
    std::size_t rows = 0;
    while (q.step()) {
        const auto n = static_cast<std::size_t>(q.column_int64(0));
        double expected = 0;
        for (std::size_t i = 0; i < d; ++i)
            expected += static_cast<double>(w.layers[1].mlp.out.w.data[n * d + i]) * w.ln_final.w.data[i] * w.unembed.w.data[11 * d + i];
        CHECK(q.column_double(1) == doctest::Approx(expected).epsilon(1e-5));
        CHECK(q.column_int64(2) == static_cast<std::int64_t>(d));
        CHECK(q.column_double(3) == static_cast<double>(w.layers[1].mlp.out.w.data[n * d + 2]));
        ++rows;
    }
    CHECK(rows == d_mlp);

    test::expect_error([&] { db.sql().prepare("SELECT vec_norm(w_out, 'Q4_1') FROM neurons").step(); }, 122,
                       {"vec_norm: dtype 'Q4_1' is not F32, F16, BF16 or F64"});
    test::expect_error([&] { db.sql().prepare("SELECT vec_dot(w_in, dtype, x'00000000', 'F32') FROM neurons").step(); }, 122,
                       {"vec_dot: vectors of 24 and 1 elements"});
    test::expect_error([&] { db.sql().prepare("SELECT vec_norm(x'000000', 'F32')").step(); }, 122,
                       {"3 bytes is not a whole number of F32 values"});
    auto half = db.sql().prepare("SELECT vec_json(x'003c00c0', 'F16'), vec_json(x'803f', 'BF16'), vec_norm(vec_center(x'0000803f00000040', 'F32'), 'F32')");
    REQUIRE(half.step());
    CHECK(half.column_text(0) == "[1,-2]");
    CHECK(half.column_text(1) == "[1]");
    CHECK(half.column_double(2) == doctest::Approx(std::sqrt(0.5)));

    // neuron_tokens holds analysis/neuron_values.hpp's answer.
    xlens::neuron_value_options vo;
    vo.k = 3;
    const auto values = xlens::neuron_values(m, vo);
    auto labels = db.sql().prepare(
        "SELECT token, score FROM neuron_tokens WHERE layer = ?1 AND neuron = ?2 AND relation = 'promotes' ORDER BY rank");
    for (std::size_t L = 0; L < m.config().n_layers; ++L)
        for (std::size_t n = 0; n < d_mlp; n += 7) {
            labels.bind(1, static_cast<std::int64_t>(L)).bind(2, static_cast<std::int64_t>(n));
            for (const auto& e : values.at(L, n).promoted) {
                REQUIRE(labels.step());
                CHECK(labels.column_int64(0) == e.token);
                CHECK(labels.column_double(1) == doctest::Approx(e.score));
            }
            CHECK_FALSE(labels.step());
            labels.reset();
        }
}

TEST_CASE("database: the documented example queries are the ones docs/database.md shows") {
    std::ifstream in(std::string(XLENS_SOURCE_DIR) + "/docs/database.md");
    const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(!page.empty());
    for (const auto& e : xlens::example_queries()) {
        CAPTURE(e.name);
        CHECK(page.find(e.sql) != std::string::npos);
    }
    // And they run (on a tiny model their answers are small, but every function and table exists).
    auto db = xlens::weight_database::open(exported("llama", "examples"));
    xlens::define_vector_functions(db.sql());
    for (const auto& e : xlens::example_queries()) {
        auto q = db.sql().prepare(e.sql);
        while (q.step()) {
        }
    }
}
