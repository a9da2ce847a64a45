// xlens_bench_database — SmolLM2-135M as an SQLite weight database: export, import and loading, each
// against a plain copy of the same bytes (read, write, fsync, rename) in the same run, and the
// latency of every documented example query (docs/database.md).
//
//   build/benchmarks/xlens_bench_database
//
// Inputs: XLENS_BENCH_MODEL (the GGUF), XLENS_BENCH_F32_DIR (the f32 safetensors folder that
// benchmarks/compare_transformers.py writes; skipped when absent), XLENS_BENCH_TMP (where databases
// are written; default the system temp folder), OPENBLAS_NUM_THREADS (printed first).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

#include <xlens/export/sql_functions.hpp>
#include <xlens/export/sqlite_export.hpp>
#include <xlens/export/sqlite_import.hpp>
#include <xlens/io/file_writer.hpp>

#include "bench_common.hpp"

namespace {

namespace fs = std::filesystem;
using seconds = std::chrono::duration<double>;
using clock_type = std::chrono::steady_clock;

std::string work_dir() {
    const fs::path dir = env_or("XLENS_BENCH_TMP", (fs::temp_directory_path() / "xlens_bench_database").c_str());
    fs::create_directories(dir);
    return dir.string();
}

template <class F>
double timed(F&& f) {
    const auto start = clock_type::now();
    f();
    return seconds(clock_type::now() - start).count();
}

/// The plain copy every step is measured against: read `from`, write it to `to`, fsync, rename.
double plain_copy(const std::string& from, const std::string& to) {
    return timed([&] {
        xlens::io::mapped_file in(from);
        xlens::io::detail::write_file_atomically(to, {{in.data(), in.size()}});
    });
}

std::uint64_t files_size(const std::string& path) {
    if (!fs::is_directory(path)) return fs::file_size(path);
    std::uint64_t n = 0;
    for (const auto& e : fs::directory_iterator(path)) n += fs::file_size(e.path());
    return n;
}

/// Export `model` and copy the finished database's bytes; then import and copy the source's bytes.
void export_and_import(benchmark::State& state, const std::string& model, const std::string& name, bool as_safetensors) {
    if (!fs::exists(model)) {
        state.SkipWithError(("no model at " + model).c_str());
        return;
    }
    const std::string dir = work_dir(), db = dir + "/" + name + ".db";
    double export_s = 0, export_copy_s = 0, import_s = 0, import_copy_s = 0, load_s = 0, source_load_s = 0;
    xlens::export_report report;
    for (auto _ : state) {
        export_s += timed([&] { report = xlens::export_sqlite(model, db); });
        export_copy_s += plain_copy(db, dir + "/" + name + "_copy.db");
        const std::string back = dir + "/" + name + "_back";
        fs::remove_all(back);
        import_s += timed([&] {
            if (as_safetensors) xlens::import_safetensors(db, back + "/model.safetensors");
            else xlens::restore_source_files(db, back);
        });
        import_copy_s += timed([&] {
            fs::remove_all(back + "_copy");
            fs::create_directories(back + "_copy");
            for (const auto& f : xlens::weight_database::open(db).files())
                plain_copy(((fs::is_directory(model) ? fs::path(model) : fs::path(model).parent_path()) / f.name).string(), back + "_copy/" + f.name);
        });
        load_s += timed([&] { benchmark::DoNotOptimize(xlens::model::load(db).weights().embed.data); });
        source_load_s += timed([&] { benchmark::DoNotOptimize(xlens::model::load(model).weights().embed.data); });
    }
    const double n = static_cast<double>(state.iterations());
    const double db_mb = static_cast<double>(report.database_bytes) / 1e6, source_mb = static_cast<double>(files_size(model)) / 1e6;
    state.counters["source_MB"] = source_mb;
    state.counters["database_MB"] = db_mb;
    state.counters["rows"] = static_cast<double>(report.rows);
    state.counters["export_s"] = export_s / n;
    state.counters["export_rows_per_s"] = static_cast<double>(report.rows) / (export_s / n);
    state.counters["export_MB_per_s"] = db_mb / (export_s / n);
    state.counters["copy_database_bytes_s"] = export_copy_s / n;
    state.counters["export_ratio_to_copy"] = export_s / export_copy_s;
    state.counters["import_s"] = import_s / n;
    state.counters["import_MB_per_s"] = source_mb / (import_s / n);
    state.counters["copy_source_bytes_s"] = import_copy_s / n;
    state.counters["import_ratio_to_copy"] = import_s / import_copy_s;
    state.counters["load_from_db_s"] = load_s / n;
    state.counters["load_from_source_s"] = source_load_s / n;
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_gguf_export_import(benchmark::State& state) { export_and_import(state, gguf_path(), "smollm2_q4_1", false); }
BENCHMARK(BM_gguf_export_import)->Iterations(2)->Unit(benchmark::kSecond)->UseRealTime();

void BM_safetensors_export_import(benchmark::State& state) { export_and_import(state, f32_dir(), "smollm2_f32", true); }
BENCHMARK(BM_safetensors_export_import)->Iterations(2)->Unit(benchmark::kSecond)->UseRealTime();

/// Each documented example query on the GGUF export (with its label tables), best of 5 runs.
void BM_example_queries(benchmark::State& state) {
    const std::string db_path = work_dir() + "/smollm2_labelled.db";
    if (!fs::exists(db_path)) {
        xlens::export_options o;
        o.neuron_tokens = 10;
        o.head_copying = true;
        xlens::export_sqlite(gguf_path(), db_path, o);
    }
    auto db = xlens::weight_database::open(db_path);
    xlens::define_vector_functions(db.sql());
    for (auto _ : state) {
        for (const auto& e : xlens::example_queries()) {
            double best = 1e9;
            for (int i = 0; i < 5; ++i)
                best = std::min(best, timed([&] {
                           auto q = db.sql().prepare(e.sql);
                           while (q.step()) {
                           }
                       }));
            state.counters[std::string(e.name) + "_ms"] = best * 1e3;
        }
    }
}
BENCHMARK(BM_example_queries)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    return run_benchmarks(argc, argv, "; f32 folder: " + f32_dir() + "; databases in " + work_dir());
}
