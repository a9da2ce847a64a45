// xlens/io/sqlite.hpp — a small RAII wrapper over the SQLite C API.
//
// Activation stores and weight databases are SQLite files. The C API reports failures as integer
// codes that are easy to drop and leaks handles on every early return; this wrapper owns each handle,
// turns every failed call into an xlens::io_error naming the file and the SQL, and sorts the codes
// into the few cases a user can act on: cannot open (120), busy (121), bad SQL (122), read-only (123),
// not a database or damaged (124). Codes are sorted by their primary part (code & 0xff).
//
// Threading: connections open in the library's default threading mode (no NOMUTEX/FULLMUTEX flag;
// Debian builds serialized). sqlite3_errmsg is per connection, so use one database, with its
// statements, from one thread at a time, or the error messages may belong to another thread's call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <sqlite3.h>

#include "xlens/error.hpp"

namespace xlens::io::sqlite {

enum class open_mode { read_only, read_write, create };  ///< create = read_write, creating a missing file

namespace detail {

/// The SQL for an error message: at most 200 bytes, not cut inside a UTF-8 sequence.
inline std::string sql_excerpt(const std::string& sql) {
    if (sql.size() <= 200) return sql;
    std::size_t n = 200;
    while (n > 0 && (static_cast<unsigned char>(sql[n]) & 0xC0) == 0x80) --n;
    return sql.substr(0, n) + "...";
}

/// Throws the io_error for result code `rc` of a call on `db` (may be null) that ran `sql` on `path`;
/// `context` (e.g. "parameter 2: ") precedes SQLite's message. Call it before any other call on `db`,
/// which would replace sqlite3_errmsg.
[[noreturn]] inline void fail(int rc, sqlite3* db, const std::string& path, const std::string& sql,
                              const std::string& context = "") {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const std::string detail = context + msg + " (" + sqlite3_errstr(rc) + ", code " + std::to_string(rc) + ")";
    const std::string in_sql = sql.empty() ? "" : "; SQL: " + sql_excerpt(sql);
    switch (rc & 0xff) {
    case SQLITE_BUSY: case SQLITE_LOCKED:
        throw io_error(121, "the SQLite database '" + path + "' is locked: another connection or process is writing " +
                                "it; retry when it has finished, or set a busy timeout (" + detail + ")" + in_sql);
    case SQLITE_READONLY:
        throw io_error(123, "cannot write to the SQLite database '" + path + "': it was opened read-only (or its file " +
                                "is write-protected): " + detail + in_sql);
    case SQLITE_NOTADB: case SQLITE_CORRUPT:
        throw io_error(124, "'" + path + "' is not an SQLite database, or it is damaged (e.g. truncated): " + detail +
                                in_sql);
    default:
        throw io_error(122, "SQL error on the SQLite database '" + path + "': " + detail + in_sql);
    }
}

}  // namespace detail

/// Where a user-defined SQL function puts its result. Setting none yields SQL NULL.
class function_context {
public:
    explicit function_context(sqlite3_context* c) noexcept : raw(c) {}
    void result_double(double v) { sqlite3_result_double(raw, v); }
    void result_int64(std::int64_t v) { sqlite3_result_int64(raw, v); }
    void result_text(const std::string& s) { sqlite3_result_text64(raw, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8); }
    /// A zero-length blob stays a (non-NULL) empty BLOB, as with statement::bind_blob.
    void result_blob(const void* data, std::size_t n) {
        if (n == 0) sqlite3_result_zeroblob(raw, 0);  // a null pointer would make the result NULL
        else sqlite3_result_blob64(raw, data, n, SQLITE_TRANSIENT);
    }
    void result_null() { sqlite3_result_null(raw); }
    sqlite3_context* raw;  ///< for results the methods above do not cover
};

/// One prepared SQL statement. Move-only; finalised by the destructor. Must be destroyed before its
/// database, whose sqlite3_close fails (and leaks the connection) while a statement is alive.
class statement {
public:
    statement() = default;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    statement(statement&& o) noexcept { swap(o); }
    statement& operator=(statement&& o) noexcept {
        if (this != &o) {
            sqlite3_finalize(stmt_);
            stmt_ = nullptr;
            swap(o);
        }
        return *this;
    }
    ~statement() { sqlite3_finalize(stmt_); }

    // Parameter indices start at 1. An integer type other than int / int64_t (e.g. std::size_t) is
    // ambiguous on purpose: cast it, so a value above INT64_MAX cannot wrap unseen.
    statement& bind(int index, std::int64_t v) { return check_bind(sqlite3_bind_int64(stmt_, index, v), index); }
    /// So that literals like bind(1, 42) are not ambiguous between int64 and double.
    statement& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
    statement& bind(int index, double v) { return check_bind(sqlite3_bind_double(stmt_, index, v), index); }
    /// Binds text of exactly s.size() bytes (embedded NULs kept), copied by SQLite.
    statement& bind(int index, const std::string& s) {
        return check_bind(sqlite3_bind_text64(stmt_, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
    }
    /// Binds a copy of n bytes. n == 0 binds an empty BLOB, not NULL (SQLite would bind NULL for a null
    /// pointer), so it reads back with column_type SQLITE_BLOB and an empty column_blob.
    statement& bind_blob(int index, const void* data, std::size_t n) { return blob(index, data, n, SQLITE_TRANSIENT); }
    /// bind_blob without the copy, for bulk inserts: `data` must stay valid and unchanged until the
    /// statement is reset, re-bound or destroyed (step() reads it).
    statement& bind_blob_static(int index, const void* data, std::size_t n) { return blob(index, data, n, SQLITE_STATIC); }
    statement& bind_null(int index) { return check_bind(sqlite3_bind_null(stmt_, index), index); }

    /// Runs to the next row: true if a row is ready, false when the statement is done. On an error the
    /// statement is reset (releasing its locks) and the error thrown.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        try {
            detail::fail(rc, sqlite3_db_handle(stmt_), path_, sql_);
        } catch (...) {
            sqlite3_reset(stmt_);  // after fail() has read the message; reset repeats the error code
            throw;
        }
    }
    /// Rewinds and clears all bindings, ready for reuse. Does not throw: step() already reported any error.
    void reset() noexcept {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    // Columns of the current row, indexed from 0. An index out of range throws io_error 122.
    int column_count() const noexcept { return sqlite3_column_count(stmt_); }
    /// SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL.
    int column_type(int i) const { return sqlite3_column_type(stmt_, col(i)); }
    bool column_is_null(int i) const { return column_type(i) == SQLITE_NULL; }
    std::int64_t column_int64(int i) const { return sqlite3_column_int64(stmt_, col(i)); }
    double column_double(int i) const { return sqlite3_column_double(stmt_, col(i)); }
    /// The text with its exact length (embedded NULs kept); "" for NULL.
    std::string column_text(int i) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col(i)));
        const int n = sqlite3_column_bytes(stmt_, i);  // after the text call, which may convert the value
        if (p == nullptr) return check_no_value(), std::string();
        return std::string(p, static_cast<std::size_t>(n));
    }
    /// The bytes of the value, empty for NULL and empty BLOBs. Valid until the next step/reset, and
    /// until column_text reads the same column (a conversion may move the bytes).
    std::string_view column_blob(int i) const {
        const void* p = sqlite3_column_blob(stmt_, col(i));
        const int n = sqlite3_column_bytes(stmt_, i);
        if (p == nullptr) return check_no_value(), std::string_view();
        return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
    }

    const std::string& sql() const noexcept { return sql_; }
    sqlite3_stmt* handle() const noexcept { return stmt_; }

private:
    friend class database;
    statement(sqlite3_stmt* s, std::string sql, std::string path)
        : stmt_(s), sql_(std::move(sql)), path_(std::move(path)) {}

    void swap(statement& o) noexcept {
        std::swap(stmt_, o.stmt_);
        std::swap(sql_, o.sql_);
        std::swap(path_, o.path_);
    }
    statement& check_bind(int rc, int index) {
        if (rc != SQLITE_OK)
            detail::fail(rc, sqlite3_db_handle(stmt_), path_, sql_, "parameter " + std::to_string(index) + ": ");
        return *this;
    }
    statement& blob(int index, const void* data, std::size_t n, sqlite3_destructor_type how) {
        if (n == 0) return check_bind(sqlite3_bind_zeroblob(stmt_, index, 0), index);
        return check_bind(sqlite3_bind_blob64(stmt_, index, data, n, how), index);
    }
    int col(int i) const {
        if (i < 0 || i >= sqlite3_column_count(stmt_))
            throw io_error(122, "column " + std::to_string(i) + " out of range (the statement has " +
                                    std::to_string(sqlite3_column_count(stmt_)) + ") on '" + path_ +
                                    "'; SQL: " + detail::sql_excerpt(sql_));
        return i;
    }
    /// A null column pointer means NULL or an empty value, unless SQLite ran out of memory converting it.
    void check_no_value() const {
        sqlite3* db = sqlite3_db_handle(stmt_);
        if (db != nullptr && sqlite3_errcode(db) == SQLITE_NOMEM) detail::fail(SQLITE_NOMEM, db, path_, sql_);
    }

    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_;
    std::string path_;  // a copy: the database may be moved while the statement lives
};

/// One connection. Move-only; closed with sqlite3_close (not _v2) by the destructor, so a statement
/// left alive makes the close fail and the connection leak where a leak checker sees it, rather than
/// being hidden as a zombie connection. A default-constructed or moved-from database is closed.
class database {
public:
    /// Signature of a user-defined SQL function; see define_function.
    using function = std::function<void(function_context&, int argc, sqlite3_value** argv)>;

    database() = default;
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    database(database&& o) noexcept { swap(o); }
    database& operator=(database&& o) noexcept {
        if (this != &o) {
            sqlite3_close(db_);
            db_ = nullptr;
            swap(o);
        }
        return *this;
    }
    ~database() { sqlite3_close(db_); }

    /// Opens `path` with extended result codes on, and reads its header at once so that a file that is
    /// not a database, or is truncated, is refused here (124) rather than at the first query.
    /// Throws io_error 120 when it cannot be opened (e.g. read_only / read_write on a missing file).
    static database open(const std::string& path, open_mode mode) {
        const int flags = mode == open_mode::read_only    ? SQLITE_OPEN_READONLY
                          : mode == open_mode::read_write ? SQLITE_OPEN_READWRITE
                                                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        database d;
        d.path_ = path;
        const int rc = sqlite3_open_v2(path.c_str(), &d.db_, flags, nullptr);  // gives a handle even on failure
        if (d.db_ == nullptr) throw io_error(120, "cannot open the SQLite database '" + path + "': out of memory");
        sqlite3_extended_result_codes(d.db_, 1);
        if (rc != SQLITE_OK) throw io_error(120, open_failure(d.db_, path, mode));
        // The probe reads page 1. BUSY is left to the first real query: the caller has had no chance
        // to set a busy timeout yet, and a writer's commit makes the header briefly unreadable.
        const int probe = sqlite3_exec(d.db_, "PRAGMA schema_version", nullptr, nullptr, nullptr);
        switch (probe & 0xff) {
        case SQLITE_OK: case SQLITE_BUSY: case SQLITE_LOCKED: break;
        case SQLITE_NOTADB: case SQLITE_CORRUPT: detail::fail(probe, d.db_, path, "");
        default:
            throw io_error(120, "cannot open the SQLite database '" + path + "': " + sqlite3_errmsg(d.db_) + " (" +
                                    sqlite3_errstr(probe) + ")");
        }
        return d;
    }

    const std::string& path() const noexcept { return path_; }
    sqlite3* handle() const noexcept { return db_; }

    /// Runs one or more ';'-separated statements, discarding any rows.
    void exec(const std::string& sql) {
        require_open(sql);
        const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) detail::fail(rc, db_, path_, sql);
    }

    /// Compiles exactly one statement: empty SQL, or SQL holding a second statement (which would be
    /// silently ignored), throws io_error 122; use exec() for scripts.
    statement prepare(const std::string& sql) const {
        require_open(sql);
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1), 0, &raw, &tail);
        if (rc != SQLITE_OK) detail::fail(rc, db_, path_, sql);
        statement s(raw, sql, path_);  // owns raw from here on
        if (raw == nullptr) throw io_error(122, "no SQL statement to prepare on '" + path_ + "': '" + detail::sql_excerpt(sql) + "'");
        if (tail != nullptr && *tail != '\0') {  // only comments or whitespace may follow
            sqlite3_stmt* next = nullptr;
            const int rc2 = sqlite3_prepare_v3(db_, tail, -1, 0, &next, nullptr);
            sqlite3_finalize(next);
            if (rc2 != SQLITE_OK || next != nullptr)
                throw io_error(122, "prepare() takes one SQL statement, but the SQL for '" + path_ +
                                        "' holds more (use exec() for several); SQL: " + detail::sql_excerpt(sql));
        }
        return s;
    }

    std::int64_t last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

    /// How long a statement waits for another connection's lock before failing with io_error 121.
    void busy_timeout(int milliseconds) {
        require_open("");
        const int rc = sqlite3_busy_timeout(db_, milliseconds);
        if (rc != SQLITE_OK) detail::fail(rc, db_, path_, "");
    }

    /// Registers a deterministic scalar SQL function `name` of `n_args` arguments (-1: any number).
    /// `fn` reads argv with sqlite3_value_* and sets the result through the context (none set: NULL).
    /// An exception from fn becomes an SQL error whose message is e.what(), so the step() running it
    /// throws io_error 122 containing that text (an xlens::error's own id is not kept).
    void define_function(const std::string& name, int n_args, function fn) {
        require_open("");
        auto owned = std::make_unique<function>(std::move(fn));
        // SQLite owns the copy from here: it calls destroy when the function is replaced, when the
        // connection closes, and also when registration fails.
        const int rc = sqlite3_create_function_v2(db_, name.c_str(), n_args, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                                  owned.release(), &call, nullptr, nullptr, &destroy);
        if (rc != SQLITE_OK) detail::fail(rc, db_, path_, "define function " + name);
    }

private:
    void swap(database& o) noexcept {
        std::swap(db_, o.db_);
        std::swap(path_, o.path_);
    }
    void require_open(const std::string& sql) const {
        if (db_ == nullptr) throw io_error(122, "the database is not open (moved from or never opened); SQL: " +
                                                    detail::sql_excerpt(sql));
    }
    static std::string open_failure(sqlite3* db, const std::string& path, open_mode mode) {
        const std::string head = "cannot open the SQLite database '" + path + "': ";
        std::error_code ec;
        if ((sqlite3_extended_errcode(db) & 0xff) == SQLITE_CANTOPEN && !path.empty()) {
            if (mode != open_mode::create && !std::filesystem::exists(path, ec)) return head + "the file does not exist";
            const auto parent = std::filesystem::path(path).parent_path();
            if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
                return head + "its folder '" + parent.string() + "' does not exist";
        }
        return head + sqlite3_errmsg(db) + " (" + sqlite3_errstr(sqlite3_extended_errcode(db)) + ")";
    }
    // C callbacks: nothing may propagate out of them into SQLite's C frames.
    static void call(sqlite3_context* c, int argc, sqlite3_value** argv) noexcept {
        function_context ctx(c);
        try {
            (*static_cast<function*>(sqlite3_user_data(c)))(ctx, argc, argv);
        } catch (const std::bad_alloc&) { sqlite3_result_error_nomem(c);
        } catch (const std::exception& e) { sqlite3_result_error(c, e.what(), -1);
        } catch (...) { sqlite3_result_error(c, "unknown C++ exception in an SQL function", -1); }
    }
    static void destroy(void* p) noexcept { delete static_cast<function*>(p); }

    sqlite3* db_ = nullptr;
    std::string path_;
};

/// A transaction on one database: BEGIN IMMEDIATE (or DEFERRED) in the constructor, ROLLBACK in the
/// destructor unless commit() succeeded. BEGIN IMMEDIATE takes the write lock at once, so a busy
/// database fails here (121) and not halfway through the writes. Transactions do not nest.
class transaction {
public:
    explicit transaction(database& db, bool immediate = true) : db_(db) {
        db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    /// Commits. If COMMIT fails (e.g. busy, 121), the transaction stays open and the destructor rolls it back.
    void commit() { db_.exec("COMMIT"); done_ = true; }

    /// Never throws. Skips the ROLLBACK when SQLite already rolled back on its own after an error.
    ~transaction() {
        if (!done_ && db_.handle() != nullptr && sqlite3_get_autocommit(db_.handle()) == 0)
            sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

private:
    database& db_;
    bool done_ = false;
};

}  // namespace xlens::io::sqlite
