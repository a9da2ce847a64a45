// tools/cli/database_commands.hpp — xlens export, import and query: a model as an SQLite database.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include <xlens/export/sql_functions.hpp>
#include <xlens/export/sqlite_export.hpp>
#include <xlens/export/sqlite_import.hpp>
#include <xlens/model/database_reader.hpp>

#include "cli/arguments.hpp"
#include "cli/text_commands.hpp"

namespace cli {

inline int cmd_export(const arguments& a) {
    const std::string out = a.require("sqlite");
    xlens::export_options options;
    options.neuron_tokens = number_option<std::size_t>(a, "neuron-tokens", 0);
    options.head_copying = a.has("head-copying");
    options.rules_path = a.get("rules");
    options.verify = !a.has("no-verify");
    const auto start = std::chrono::steady_clock::now();
    const auto r = xlens::export_sqlite(a.model, out, options);
    std::printf("%s: %zu tensors kept in their own bytes, %zu raw (their rows hold a float32 view); %llu rows\n", out.c_str(),
                r.tensors_semantic, r.tensors_raw, static_cast<unsigned long long>(r.rows));
    std::printf("source %.1f MB -> database %.1f MB in %.2f s%s\n", static_cast<double>(r.source_bytes) / 1e6,
                static_cast<double>(r.database_bytes) / 1e6, elapsed_seconds(start),
                options.verify ? "; every source file rebuilt from it and matched its SHA-256" : "");
    return 0;
}

inline int cmd_import(const arguments& a) {
    if (a.has("safetensors") == a.has("files")) throw usage_error("import needs exactly one of --safetensors FILE or --files DIR");
    const auto start = std::chrono::steady_clock::now();
    const auto r = a.has("safetensors") ? xlens::import_safetensors(a.model, a.require("safetensors"))
                                        : xlens::restore_source_files(a.model, a.require("files"));
    std::printf("%zu tensors (%.1f MB), each matching the SHA-256 recorded from the source, in %.2f s:\n", r.tensors,
                static_cast<double>(r.tensor_bytes) / 1e6, elapsed_seconds(start));
    for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
    return 0;
}

/// Prints a statement's rows as tab-separated text (BLOBs as their size) or as JSON records.
inline std::size_t print_rows(xlens::io::sqlite::statement& q, bool json, std::ostream& out) {
    nlohmann::json records = nlohmann::json::array();
    std::size_t rows = 0;
    const int n = q.column_count();
    if (!json) {
        for (int i = 0; i < n; ++i) out << (i ? "\t" : "") << sqlite3_column_name(q.handle(), i);
        out << "\n";
    }
    while (q.step()) {
        ++rows;
        nlohmann::json record = nlohmann::json::object();
        for (int i = 0; i < n; ++i) {
            const std::string name = sqlite3_column_name(q.handle(), i);
            const int type = q.column_type(i);
            nlohmann::json v;
            std::string text;
            if (type == SQLITE_INTEGER) v = q.column_int64(i), text = std::to_string(q.column_int64(i));
            else if (type == SQLITE_FLOAT) v = q.column_double(i), text = v.dump();
            else if (type == SQLITE_TEXT) v = q.column_text(i), text = q.column_text(i);
            else if (type == SQLITE_BLOB) v = "<BLOB " + std::to_string(q.column_blob(i).size()) + " bytes>", text = v.get<std::string>();
            else text = "NULL";
            record[name] = v;
            if (!json) out << (i ? "\t" : "") << text;
        }
        if (json) records.push_back(record);
        else out << "\n";
    }
    if (json) out << records.dump(1) << "\n";
    return rows;
}

inline int cmd_query(const arguments& a) {
    auto db = xlens::weight_database::open(a.model);
    xlens::define_vector_functions(db.sql());
    const bool json = a.has("json");
    if (a.has("examples")) {
        for (const auto& e : xlens::example_queries()) {
            std::cout << "-- " << e.name << ": " << e.question << "\n" << e.sql << "\n";
            const auto start = std::chrono::steady_clock::now();
            auto q = db.sql().prepare(e.sql);
            std::ostringstream rows_text;
            const auto rows = print_rows(q, json, rows_text);
            const double ms = elapsed_seconds(start) * 1e3;
            std::cout << rows_text.str() << "-- " << rows << " rows in " << ms << " ms\n\n";
        }
        return 0;
    }
    if (!a.has("sql")) throw usage_error("query needs --sql 'SELECT ...' or --examples");
    auto q = db.sql().prepare(a.get("sql"));
    // The connection is read-only, but VACUUM INTO and ATTACH can still write other files.
    if (!sqlite3_stmt_readonly(q.handle()))
        throw xlens::io_error(123, a.model + ": xlens query runs only statements that read (this one writes): " + a.get("sql"));
    print_rows(q, json, std::cout);
    return 0;
}

}  // namespace cli
