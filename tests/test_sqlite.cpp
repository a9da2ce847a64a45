// Tests for xlens/io/sqlite.hpp: handles are released (no statement outlives its scope, the
// connection really closes), every failure class reaches the caller as its own io_error id, and
// values of every SQLite type survive a bind / column round trip.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include "test_data.hpp"
#include "xlens/io/sqlite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace xlens::io::sqlite;
using test::expect_error;

std::int64_t count_rows(const database& db, const std::string& table) {
    auto s = db.prepare("SELECT count(*) FROM " + table);
    REQUIRE(s.step());
    return s.column_int64(0);
}

/// A database at `path` with table t(b) of `rows` random 1 KB blobs.
void make_filled(const std::string& path, int rows) {
    auto db = database::open(path, open_mode::create);
    db.exec("CREATE TABLE t(b BLOB)");
    transaction tx(db);
    auto ins = db.prepare("INSERT INTO t(b) VALUES (randomblob(1024))");
    for (int i = 0; i < rows; ++i) {
        CHECK_FALSE(ins.step());
        ins.reset();
    }
    tx.commit();
}

}  // namespace

TEST_CASE("sqlite: statements are finalised and the connection closes") {
    test::scratch s("sqlite", "finalise");
    const std::string path = s.file("a.db");
    {  // warm up SQLite's process-wide state (page cache, VFS, mutexes) before measuring
        auto db = database::open(path, open_mode::create);
        db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)");
    }
    const sqlite3_int64 before = sqlite3_memory_used();
    {
        auto db = database::open(path, open_mode::read_write);
        CHECK(sqlite3_next_stmt(db.handle(), nullptr) == nullptr);
        {
            auto st = db.prepare("SELECT x FROM t ORDER BY x");
            CHECK(sqlite3_next_stmt(db.handle(), nullptr) == st.handle());
            REQUIRE(st.step());  // left mid-result: the destructor must finalise an active statement
            CHECK(st.column_int64(0) == 1);
        }
        CHECK(sqlite3_next_stmt(db.handle(), nullptr) == nullptr);
        {
            auto st = db.prepare("SELECT x FROM t");
            statement moved(std::move(st));
            statement assigned = db.prepare("SELECT 1");
            assigned = std::move(moved);  // finalises "SELECT 1", takes the other
            CHECK(st.handle() == nullptr);
            CHECK(assigned.sql() == "SELECT x FROM t");
            CHECK(assigned.step());
            CHECK(sqlite3_next_stmt(db.handle(), nullptr) == assigned.handle());
            CHECK(sqlite3_next_stmt(db.handle(), assigned.handle()) == nullptr);  // "SELECT 1" is gone
        }
        CHECK(sqlite3_next_stmt(db.handle(), nullptr) == nullptr);
        database other = std::move(db);
        CHECK(db.handle() == nullptr);
        CHECK(count_rows(other, "t") == 2);
        database third;
        third = std::move(other);
        CHECK(third.path() == path);
    }
    // sqlite3_close frees every byte of the connection only if it succeeded (no statement alive);
    // under ASan a double close would be caught here too.
    CHECK(sqlite3_memory_used() == before);
}

TEST_CASE("sqlite: a statement alive at close is visible as a leak (the check above can fail)") {
    test::scratch s("sqlite", "leakcheck");
    const std::string path = s.file("a.db");
    { auto warm = database::open(path, open_mode::create); }
    const sqlite3_int64 before = sqlite3_memory_used();
    statement survivor;
    sqlite3* raw = nullptr;
    {
        auto db = database::open(path, open_mode::read_write);
        raw = db.handle();
        survivor = db.prepare("SELECT 1");
    }  // sqlite3_close fails: the connection stays allocated
    CHECK(sqlite3_memory_used() > before);
    survivor = statement();  // finalise, then close the connection the destructor could not
    CHECK(sqlite3_close(raw) == SQLITE_OK);
    CHECK(sqlite3_memory_used() == before);
}

TEST_CASE("sqlite: SQL errors name the SQL, the file and SQLite's message") {
    test::scratch s("sqlite", "sqlerr");
    const std::string path = s.file("a.db");
    auto db = database::open(path, open_mode::create);
    expect_error<xlens::io_error>([&] { db.prepare("SELEC x FROM t"); }, 122, {"SELEC x FROM t", "syntax error", path});
    expect_error<xlens::io_error>([&] { db.prepare("SELECT x FROM nowhere"); }, 122, {"no such table: nowhere", path});
    expect_error<xlens::io_error>([&] { db.exec("CREATE TABLE 1(x)"); }, 122, {"CREATE TABLE 1(x)", "syntax error"});
    expect_error<xlens::io_error>([&] { db.prepare("  -- only a comment"); }, 122, {"no SQL statement"});
    expect_error<xlens::io_error>([&] { db.prepare("SELECT 1; SELECT 2"); }, 122, {"one SQL statement", "SELECT 2"});
    CHECK_NOTHROW(db.prepare("SELECT 1; -- trailing comment"));
    CHECK(sqlite3_next_stmt(db.handle(), nullptr) == nullptr);  // failed prepares left nothing behind

    const std::string long_sql = "SELECT " + std::string(300, '1') + " FROM nowhere";
    try {
        db.prepare(long_sql);
        FAIL("no error");
    } catch (const xlens::io_error& e) {
        CHECK(std::string(e.what()).find(long_sql.substr(0, 200) + "...") != std::string::npos);
        CHECK(std::string(e.what()).find(long_sql) == std::string::npos);
    }

    db.exec("CREATE TABLE u(x UNIQUE)");
    auto ins = db.prepare("INSERT INTO u VALUES (?)");
    ins.bind(1, 7);
    CHECK_FALSE(ins.step());
    ins.reset();
    ins.bind(1, 7);
    expect_error<xlens::io_error>([&] { ins.step(); }, 122, {"UNIQUE", "INSERT INTO u VALUES (?)", path});
    ins.reset();  // the statement is reusable after an error
    ins.bind(1, 8);
    CHECK_FALSE(ins.step());
    CHECK(count_rows(db, "u") == 2);
    expect_error<xlens::io_error>([&] { ins.bind(5, 1); }, 122, {"parameter 5"});
    auto sel = db.prepare("SELECT x FROM u");
    REQUIRE(sel.step());
    expect_error<xlens::io_error>([&] { sel.column_int64(1); }, 122, {"column 1 out of range"});
}

TEST_CASE("sqlite: scalar functions, and their exceptions become SQL errors") {
    test::scratch s("sqlite", "func");
    auto db = database::open(s.file("a.db"), open_mode::create);
    db.define_function("twice", 1, [](function_context& c, int argc, sqlite3_value** argv) {
        REQUIRE(argc == 1);
        c.result_int64(2 * sqlite3_value_int64(argv[0]));
    });
    db.define_function("greet", -1, [](function_context& c, int argc, sqlite3_value** argv) {
        std::string out = "hi";
        for (int i = 0; i < argc; ++i) out += std::string(" ") + reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
        c.result_text(out);
    });
    db.define_function("explode", 1, [](function_context&, int, sqlite3_value**) { throw std::runtime_error("boom"); });
    db.define_function("nil", 0, [](function_context&, int, sqlite3_value**) {});

    auto st = db.prepare("SELECT twice(21), greet('a', 'b'), nil()");
    REQUIRE(st.step());
    CHECK(st.column_int64(0) == 42);
    CHECK(st.column_text(1) == "hi a b");
    CHECK(st.column_is_null(2));

    auto bad = db.prepare("SELECT explode(1)");
    expect_error<xlens::io_error>([&] { bad.step(); }, 122, {"boom", "SELECT explode(1)"});
    expect_error<xlens::io_error>([&] { db.prepare("SELECT twice(1, 2)"); }, 122, {"twice"});
    expect_error<xlens::io_error>([&] { db.define_function("bad", 1000, {}); }, 122, {"bad"});
}

TEST_CASE("sqlite: read-only databases refuse writes; a missing file cannot be opened") {
    test::scratch s("sqlite", "ro");
    const std::string path = s.file("a.db");
    {
        auto db = database::open(path, open_mode::create);
        db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    }
    auto ro = database::open(path, open_mode::read_only);
    CHECK(count_rows(ro, "t") == 1);
    auto ins = ro.prepare("INSERT INTO t VALUES (2)");
    expect_error<xlens::io_error>([&] { ins.step(); }, 123, {"read-only", path});
    expect_error<xlens::io_error>([&] { ro.exec("DELETE FROM t"); }, 123, {"read-only", path});
    CHECK(count_rows(ro, "t") == 1);

    const std::string missing = s.file("missing.db");
    expect_error<xlens::io_error>([&] { database::open(missing, open_mode::read_only); }, 120, {missing, "does not exist"});
    expect_error<xlens::io_error>([&] { database::open(missing, open_mode::read_write); }, 120, {missing, "does not exist"});
    CHECK_FALSE(fs::exists(missing));
    const std::string nowhere = s.file("no/such/dir/a.db");
    expect_error<xlens::io_error>([&] { database::open(nowhere, open_mode::create); }, 120, {nowhere, "does not exist"});
    auto created = database::open(missing, open_mode::create);
    CHECK(fs::exists(missing));
    // open()'s header probe must not create the database: a new file still takes its page size
    created.exec("PRAGMA page_size = 65536; CREATE TABLE t(x)");
    auto ps = created.prepare("PRAGMA page_size");
    REQUIRE(ps.step());
    CHECK(ps.column_int64(0) == 65536);
}

TEST_CASE("sqlite: a writer holding the lock makes another writer fail with 121") {
    test::scratch s("sqlite", "busy");
    const std::string path = s.file("a.db");
    auto a = database::open(path, open_mode::create);
    a.exec("CREATE TABLE t(x)");
    auto b = database::open(path, open_mode::read_write);
    b.busy_timeout(0);
    {
        transaction ta(a);
        a.exec("INSERT INTO t VALUES (1)");
        expect_error<xlens::io_error>([&] { b.exec("BEGIN IMMEDIATE"); }, 121, {path, "another connection", "retry"});
        expect_error<xlens::io_error>([&] { transaction tb(b); }, 121, {path});
        auto ins = b.prepare("INSERT INTO t VALUES (2)");
        expect_error<xlens::io_error>([&] { ins.step(); }, 121, {path});
        CHECK(count_rows(b, "t") == 0);  // readers still read, and do not see the open transaction
    }  // ta rolls back and releases the lock
    CHECK(count_rows(a, "t") == 0);
    transaction tb(b);
    b.exec("INSERT INTO t VALUES (2)");
    tb.commit();
    CHECK(count_rows(a, "t") == 1);
}

TEST_CASE("sqlite: files that are not databases, or are truncated, are refused with 124") {
    test::scratch s("sqlite", "notadb");
    const std::string junk = s.file("junk.db");
    std::mt19937 rng(12345);
    std::string bytes(8192, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
    test::write_bytes(junk, bytes);
    expect_error<xlens::io_error>([&] { database::open(junk, open_mode::read_only); }, 124,
                                  {junk, "not an SQLite database"});
    expect_error<xlens::io_error>([&] { database::open(junk, open_mode::read_write); }, 124, {junk});

    const std::string cut = s.file("cut.db");
    make_filled(cut, 200);
    const auto full = fs::file_size(cut);
    REQUIRE(full >= 64 * 1024);
    { CHECK(count_rows(database::open(cut, open_mode::read_only), "t") == 200); }  // intact before the cut
    fs::resize_file(cut, full / 2);
    expect_error<xlens::io_error>(
        [&] {
            auto db = database::open(cut, open_mode::read_only);  // 124 here, or at the latest on the full scan
            auto st = db.prepare("SELECT sum(length(b)) FROM t");
            while (st.step()) {
            }
        },
        124, {cut, "damaged"});
}

TEST_CASE("sqlite: transactions roll back on scope exit and keep rows on commit") {
    test::scratch s("sqlite", "tx");
    auto db = database::open(s.file("a.db"), open_mode::create);
    db.exec("CREATE TABLE t(x)");
    {
        transaction tx(db);
        db.exec("INSERT INTO t VALUES (1), (2)");
        CHECK(count_rows(db, "t") == 2);
    }
    CHECK(count_rows(db, "t") == 0);
    CHECK(sqlite3_get_autocommit(db.handle()) != 0);
    {
        transaction tx(db, false);
        db.exec("INSERT INTO t VALUES (3)");
        tx.commit();
    }
    CHECK(count_rows(db, "t") == 1);
    {
        transaction tx(db);
        expect_error<xlens::io_error>([&] { transaction inner(db); }, 122, {"within a transaction"});
        db.exec("ROLLBACK");  // ended behind the guard's back: its destructor must not fail
    }
    CHECK(sqlite3_get_autocommit(db.handle()) != 0);
    try {  // an exception unwinding through the scope rolls back too
        transaction tx(db);
        db.exec("INSERT INTO t VALUES (4)");
        db.exec("INSERT INTO nowhere VALUES (5)");
        tx.commit();
    } catch (const xlens::io_error& e) {
        CHECK(e.id() == 122);
    }
    CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("sqlite: bind and column round trips of every type") {
    test::scratch s("sqlite", "types");
    auto db = database::open(s.file("a.db"), open_mode::create);
    db.exec("CREATE TABLE v(k INTEGER PRIMARY KEY, x)");  // x has no type: values are stored as bound
    auto ins = db.prepare("INSERT INTO v(k, x) VALUES (?, ?)");
    const std::string nul_text("a\0b\xc3\xa9", 5);
    std::string all_bytes;
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
    const std::string stable = "zero copy";

    int k = 0;
    auto row = [&](auto&& bind_x) {
        ins.bind(1, ++k);
        bind_x();
        CHECK_FALSE(ins.step());
        CHECK(db.last_insert_rowid() == k);
        ins.reset();
    };
    row([&] { ins.bind(2, INT64_MIN); });
    row([&] { ins.bind(2, INT64_MAX); });
    row([&] { ins.bind(2, -42); });
    row([&] { ins.bind(2, 0.1); });
    row([&] { ins.bind(2, -1.5e300); });
    row([&] { ins.bind(2, nul_text); });
    row([&] { ins.bind(2, std::string()); });
    row([&] { ins.bind_blob(2, all_bytes.data(), all_bytes.size()); });
    row([&] { ins.bind_blob(2, nullptr, 0); });  // empty blob: stays a BLOB, not NULL
    row([&] { ins.bind_blob_static(2, stable.data(), stable.size()); });
    row([] {});  // reset() cleared the blob bound before: an unbound parameter is NULL
    row([&] { ins.bind_null(2); });

    auto sel = db.prepare("SELECT x, typeof(x) FROM v ORDER BY k");
    CHECK(sel.column_count() == 2);
    auto next = [&](int type) {
        REQUIRE(sel.step());
        CHECK(sel.column_type(0) == type);
        CHECK(sel.column_is_null(0) == (type == SQLITE_NULL));
    };
    next(SQLITE_INTEGER);
    CHECK(sel.column_int64(0) == INT64_MIN);
    next(SQLITE_INTEGER);
    CHECK(sel.column_int64(0) == INT64_MAX);
    next(SQLITE_INTEGER);
    CHECK(sel.column_int64(0) == -42);
    next(SQLITE_FLOAT);
    CHECK(sel.column_double(0) == 0.1);
    next(SQLITE_FLOAT);
    CHECK(sel.column_double(0) == -1.5e300);
    next(SQLITE_TEXT);
    CHECK(sel.column_text(0) == nul_text);
    next(SQLITE_TEXT);
    CHECK(sel.column_text(0).empty());
    next(SQLITE_BLOB);
    CHECK(sel.column_blob(0) == all_bytes);
    next(SQLITE_BLOB);
    CHECK(sel.column_blob(0).empty());
    CHECK(sel.column_text(1) == "blob");
    next(SQLITE_BLOB);
    CHECK(sel.column_blob(0) == stable);
    next(SQLITE_NULL);
    CHECK(sel.column_blob(0).empty());
    CHECK(sel.column_text(0).empty());
    next(SQLITE_NULL);
    CHECK_FALSE(sel.step());
}
