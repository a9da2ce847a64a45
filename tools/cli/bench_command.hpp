// tools/cli/bench_command.hpp — `xlens bench`: prefill and decode speed and peak memory, reported the
// way llama.cpp's llama-bench reports them (pp = prompt processing, tg = text generation), so the two
// can be run side by side on one file (benchmarks/compare_llamacpp.py).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <nlohmann/json.hpp>
#include <xlens/run/forward.hpp>
#include <xlens/xlens.hpp>

#include "arguments.hpp"

namespace cli {

/// Peak resident memory of this process so far, in bytes (Linux reports ru_maxrss in KiB).
inline double peak_rss_bytes() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) * 1024.0;
}

/// The most common stored type among a model's matrices, weighted by bytes, e.g. "Q4_K" or "F32".
inline std::string dominant_weight_type(const xlens::model& m) {
    std::map<std::string, double> bytes;
    for (const auto& t : m.inventory()) bytes[t.dtype] += static_cast<double>(t.bytes);
    std::string best = "?";
    double most = -1;
    for (const auto& [type, b] : bytes)
        if (b > most) {
            most = b;
            best = type;
        }
    return best;
}

struct speed {
    double mean = 0, stddev = 0;  // tokens per second over the repetitions
};

inline speed summarise(const std::vector<double>& rates) {
    speed s;
    for (double r : rates) s.mean += r;
    s.mean /= static_cast<double>(rates.size());
    for (double r : rates) s.stddev += (r - s.mean) * (r - s.mean);
    s.stddev = rates.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(rates.size() - 1)) : 0.0;
    return s;
}

inline int cmd_bench(const arguments& a) {
    auto number = [&](const char* name, long fallback) {
        const std::string v = a.get(name);
        if (v.empty()) return fallback;
        try {
            return std::stol(v);
        } catch (const std::logic_error&) {
            throw usage_error(std::string("--") + name + ": '" + v + "' is not a number");
        }
    };
    const long prompt = number("p", 128), generated = number("n", 64), repetitions = number("r", 3);
    if (prompt < 0 || generated < 0 || repetitions < 1 || (prompt == 0 && generated == 0))
        throw usage_error("bench needs -p ≥ 0, -n ≥ 0 (not both 0) and -r ≥ 1");
    const auto open_start = std::chrono::steady_clock::now();
    auto m = load_model(a);
    const double open_seconds = elapsed_seconds(open_start);
    const auto& c = m.config();
    if (static_cast<std::size_t>(std::max(prompt, generated)) > c.n_ctx)
        throw usage_error("bench: -p and -n must fit the model's context of " + std::to_string(c.n_ctx) + " tokens");
    // Token ids (i · 7919) mod d_vocab, as benchmarks/bench_forward.cpp and the transformers comparison use.
    auto tokens = [&](std::size_t n) {
        std::vector<xlens::token_id> ids(n);
        for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<xlens::token_id>((i * 7919) % c.d_vocab);
        return ids;
    };
    std::vector<double> pp, tg;
    (void)xlens::forward(m, tokens(std::min<std::size_t>(8, c.n_ctx)));  // warm-up: pages and threads
    for (long r = 0; r < repetitions; ++r) {
        if (prompt > 0) {
            const auto ids = tokens(static_cast<std::size_t>(prompt));
            const auto t0 = std::chrono::steady_clock::now();
            (void)xlens::forward(m, ids);
            pp.push_back(static_cast<double>(prompt) / elapsed_seconds(t0));
        }
        if (generated > 0) {  // as llama-bench's tg: one token at a time into an empty KV cache
            const auto ids = tokens(static_cast<std::size_t>(generated));
            xlens::kv_cache kv = xlens::make_kv_cache(m);
            xlens::run_options step;
            step.kv = &kv;
            const auto t0 = std::chrono::steady_clock::now();
            for (auto id : ids) (void)xlens::forward(m, {id}, step);
            tg.push_back(static_cast<double>(generated) / elapsed_seconds(t0));
        }
    }
    const double file_bytes = std::filesystem::is_regular_file(m.source())
                                  ? static_cast<double>(std::filesystem::file_size(m.source()))
                                  : 0.0;
    const std::size_t threads = xlens::blocks::num_threads();
    const std::string type = a.has("dequantize") ? dominant_weight_type(m) + " (dequantised to F32)" : dominant_weight_type(m);
    nlohmann::json out = {{"model", m.source()}, {"architecture", c.architecture}, {"type", type},
                          {"file_bytes", file_bytes}, {"threads", threads}, {"open_seconds", open_seconds},
                          {"peak_rss_bytes", peak_rss_bytes()}, {"repetitions", repetitions}};
    auto add = [&](const char* name, long n, const std::vector<double>& rates) {
        if (rates.empty()) return;
        const speed s = summarise(rates);
        out[name] = {{"tokens", n}, {"tokens_per_second", s.mean}, {"stddev", s.stddev}};
    };
    add("pp", prompt, pp);
    add("tg", generated, tg);
    if (a.has("json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    char line[256];
    std::cout << "| model | type | size | threads | test | t/s |\n|---|---|---|---|---|---|\n";
    auto row = [&](const char* test, long n, const std::vector<double>& rates) {
        if (rates.empty()) return;
        const speed s = summarise(rates);
        std::snprintf(line, sizeof line, "| %s | %s | %.1f MiB | %zu | %s%ld | %.2f ± %.2f |\n", c.architecture.c_str(),
                      type.c_str(), file_bytes / 1048576.0, threads, test, n, s.mean, s.stddev);
        std::cout << line;
    };
    row("pp", prompt, pp);
    row("tg", generated, tg);
    std::snprintf(line, sizeof line, "peak RSS %.1f MiB (file %.1f MiB); opened in %.3f s\n", peak_rss_bytes() / 1048576.0,
                  file_bytes / 1048576.0, open_seconds);
    std::cout << line;
    return 0;
}

}  // namespace cli
