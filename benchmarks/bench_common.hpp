// benchmarks/bench_common.hpp — what every xlens benchmark program shares: the model path, the
// shared model, resident memory, and OpenBLAS's identity.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <xlens/model/model.hpp>

// Declared here rather than through <cblas.h>: that header's prototypes clash with the ones
// xtensor-blas declares, and xlens headers include the latter.
extern "C" char* openblas_get_corename(void);
extern "C" int openblas_get_num_threads(void);
extern "C" char* openblas_get_config(void);

inline std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string(fallback);
}

inline std::string gguf_path() { return env_or("XLENS_BENCH_MODEL", XLENS_BENCH_DEFAULT_MODEL); }
inline std::string f32_dir() { return env_or("XLENS_BENCH_F32_DIR", XLENS_BENCH_DEFAULT_F32_DIR); }

/// Resident set size in bytes, to show that opening a model maps rather than reads.
inline double rss_bytes() {
    long pages_total = 0, pages_resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

/// The GGUF model, loaded once for every run benchmark: loading dequantises ~540 MB, which would
/// otherwise dominate the setup of each benchmark (Google Benchmark calls a function several times).
inline const xlens::model* shared_model(benchmark::State& state) {
    static std::optional<xlens::model> model;
    static std::string failure;
    if (!model && failure.empty()) {
        try {
            model.emplace(xlens::model::load(gguf_path()));
        } catch (const std::exception& e) {
            failure = std::string("cannot load the benchmark model (set XLENS_BENCH_MODEL or run tools/setup.sh): ") + e.what();
        }
    }
    if (!model) state.SkipWithError(failure.c_str());
    return model ? &*model : nullptr;
}

/// The process's peak resident memory so far, in MiB.
inline double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// Prints (on stderr, so JSON output stays clean) and records OpenBLAS's core and thread count.
inline int report_openblas() {
    const std::string core = openblas_get_corename() ? openblas_get_corename() : "?";
    const std::string config = openblas_get_config() ? openblas_get_config() : "?";
    const int threads = openblas_get_num_threads();
    std::fprintf(stderr, "OpenBLAS: core %s, %d thread(s) [%s]\n", core.c_str(), threads, config.c_str());
    benchmark::AddCustomContext("openblas_core", core);
    benchmark::AddCustomContext("openblas_threads", std::to_string(threads));
    benchmark::AddCustomContext("openblas_config", config);
    return threads;
}

/// The main() of a benchmark program with no set-up of its own: OpenBLAS and the model named on
/// stderr (stdout stays clean for --benchmark_format=json) and in the JSON context, then every benchmark.
inline int run_benchmarks(int argc, char** argv, const std::string& also = "") {
    report_openblas();
    std::fprintf(stderr, "model: %s%s\n", gguf_path().c_str(), also.c_str());
    benchmark::AddCustomContext("xlens_model", gguf_path());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
