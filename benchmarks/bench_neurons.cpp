// xlens_bench_neurons — FFN neuron analyses on SmolLM2-135M: the value side of every neuron (30 × 1536
// output vectors against 49152 tokens) against the bare matmuls of the same FLOPs, and the key-side
// harvest against bare forward passes over the same windows. Each benchmark times both in one run and
// reports the ratio (bar for the value side: ≤ 1.5) and the process's peak memory.
//
//   build/benchmarks/xlens_bench_neurons
//
// Inputs: XLENS_BENCH_MODEL (the GGUF; default build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf),
// OPENBLAS_NUM_THREADS (printed first).
#include <chrono>
#include <vector>

#include <benchmark/benchmark.h>

#include <xlens/analysis/neuron_harvest.hpp>
#include <xlens/analysis/neuron_values.hpp>
#include <xlens/blocks/matmul.hpp>

#include "bench_common.hpp"

namespace {

using seconds = std::chrono::duration<double>;
using clock_type = std::chrono::steady_clock;

/// The gemms neuron_values runs (each layer's [d_mlp, d_model] rows against every 4096-token block of
/// the unembedding) and nothing else: the floor the streamed top-k is measured against.
double matmul_only(const xlens::model& m) {
    const auto& c = m.config();
    const auto& U = m.weights().unembed;
    const std::size_t n = c.mlp.d_mlp, d = c.d_model, V = c.d_vocab, block = 4096;
    std::vector<float> rows(n * d, 0.5f), scores(n * block);
    const auto start = clock_type::now();
    for (std::size_t L = 0; L < c.n_layers; ++L)
        for (std::size_t v0 = 0; v0 < V; v0 += block) {
            const std::size_t vb = std::min(block, V - v0);
            xlens::blocks::gemm(n, vb, d, rows.data(), d, U.w.data + v0 * d, d, true, scores.data(), vb);
            benchmark::DoNotOptimize(scores.data());
        }
    return seconds(clock_type::now() - start).count();
}

void BM_neuron_values(benchmark::State& state) {
    const xlens::model* m = shared_model(state);
    if (!m) return;
    const auto& c = m->config();
    double bare = 0, full = 0, growth = 0;
    for (auto _ : state) {
        bare += matmul_only(*m);
        const double before = rss_bytes();
        const auto start = clock_type::now();
        xlens::neuron_value_options o;
        o.k = 10;
        auto table = xlens::neuron_values(*m, o);
        full += seconds(clock_type::now() - start).count();
        growth = std::max(growth, rss_bytes() - before);
        benchmark::DoNotOptimize(table.neurons.data());
    }
    const double iterations = static_cast<double>(state.iterations());
    const double flops = 2.0 * static_cast<double>(c.n_layers * c.mlp.d_mlp) * static_cast<double>(c.d_model) * static_cast<double>(c.d_vocab);
    state.counters["neurons"] = static_cast<double>(c.n_layers * c.mlp.d_mlp);
    state.counters["matmul_only_s"] = bare / iterations;
    state.counters["neuron_values_s"] = full / iterations;
    state.counters["ratio_to_matmul"] = full / bare;
    state.counters["GFLOP/s"] = flops / (full / iterations) / 1e9;
    state.counters["rss_growth_MiB"] = growth / (1024.0 * 1024.0);
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_neuron_values)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

/// Harvesting 20 windows of 64 tokens (every neuron's top 8 contexts, means, frequencies, final-norm
/// scale and mean logits) against bare forward passes over the same windows.
void BM_neuron_harvest(benchmark::State& state) {
    const xlens::model* m = shared_model(state);
    if (!m) return;
    const std::size_t V = m->config().d_vocab;
    std::vector<std::vector<xlens::token_id>> windows(20);
    for (std::size_t w = 0; w < windows.size(); ++w)
        for (std::size_t t = 0; t < 64; ++t) windows[w].push_back(static_cast<xlens::token_id>(((w * 64 + t) * 7919) % V));
    double bare = 0, harvest = 0;
    for (auto _ : state) {
        auto start = clock_type::now();
        for (const auto& w : windows) benchmark::DoNotOptimize(xlens::run(*m, w));
        bare += seconds(clock_type::now() - start).count();
        start = clock_type::now();
        xlens::neuron_harvester h(*m, {8});
        for (const auto& w : windows) h.add(w);
        harvest += seconds(clock_type::now() - start).count();
        benchmark::DoNotOptimize(h.positions());
    }
    const double iterations = static_cast<double>(state.iterations());
    state.counters["bare_forward_s"] = bare / iterations;
    state.counters["harvest_s"] = harvest / iterations;
    state.counters["ratio_to_forward"] = harvest / bare;
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_neuron_harvest)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
