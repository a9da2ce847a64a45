// xlens_bench — speed of opening SmolLM2-135M and running it (prefill, cached prefill, decode,
// generate, an activation-patching sweep, head scoring), and the machine's memory bandwidth (a copy, a
// read-only stream) that bounds decode.
//
//   build/benchmarks/xlens_bench                                  # everything, console table
//   build/benchmarks/xlens_bench --benchmark_filter=decode        # one group
//   build/benchmarks/xlens_bench --benchmark_format=json          # what compare_transformers.py reads
//
// Inputs (environment overrides the paths compiled in from the build tree):
//   XLENS_BENCH_MODEL    the GGUF checkpoint (default build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf)
//   XLENS_BENCH_F32_DIR  the same model as an f32 Hugging Face folder, for BM_open_safetensors
//                        (default build/cache/models/smollm2-f32; compare_transformers.py writes it)
//   OPENBLAS_NUM_THREADS the threads every matmul uses; printed first, and recorded in the JSON context
//
// Times are wall-clock (UseRealTime): OpenBLAS works on its own threads, so the calling thread's CPU
// time would undercount. Token ids are (i · 7919) mod d_vocab, the same sequence
// compare_transformers.py feeds transformers, so both sides do identical work.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <xlens/run/generate.hpp>
#include <xlens/xlens.hpp>

#include "bench_common.hpp"


namespace {

constexpr std::size_t prompt_tokens = 128;
constexpr std::size_t generate_prompt_tokens = 16;  // BM_generate: prompt = the first 16 bench token ids
constexpr std::size_t generate_new_tokens = 64;     // greedy, no stop tokens, so always all 64

std::vector<xlens::token_id> bench_tokens(const xlens::model& m, std::size_t n, std::size_t first = 0) {
    std::vector<xlens::token_id> ids(n);
    for (std::size_t i = 0; i < n; ++i)
        ids[i] = static_cast<xlens::token_id>(((first + i) * 7919) % m.config().d_vocab);
    return ids;
}

/// Bytes of weights one decode step must stream: every projection of every layer (q, k, v, o, gate,
/// up, down), and the unembedding (d_vocab × d_model: every logit is needed to choose the next token).
/// Left out as small next to those ~540 MB: the one embedding row looked up (2.3 KB), the norm gains,
/// and the KV cache attention reads (2 · n_layers · T · n_kv_heads · d_head floats, for SmolLM2-135M
/// 46 KB per position: 5.9 MB at T = 128, at most 3.7 MB in BM_generate's 80 positions, ~1% of the
/// weights, and small enough to stay in the 32 MB L3).
std::vector<const xlens::linear_weight*> decode_matrices(const xlens::model& m) {
    std::vector<const xlens::linear_weight*> out;
    const auto& w = m.weights();
    for (const auto& l : w.layers)
        for (const auto* lin : {&l.attn.q, &l.attn.k, &l.attn.v, &l.attn.o, &l.mlp.gate, &l.mlp.in, &l.mlp.out})
            if (!lin->w.empty()) out.push_back(lin);
    out.push_back(&w.unembed);
    return out;
}

double decode_weight_bytes(const xlens::model& m) {
    double bytes = 0;
    for (const auto* lin : decode_matrices(m)) bytes += static_cast<double>(lin->w.size() * sizeof(float));
    return bytes;
}

void set_token_counters(benchmark::State& state, std::size_t tokens_per_iteration) {
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * tokens_per_iteration));
    state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens_per_iteration),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

// ---- opening a model -----------------------------------------------------------------------------

/// The f32 safetensors folder: config parse, header parse, mmap, and the zero-copy weight table.
/// Unmapping is left out of the timing: the bar is about how soon a model is usable.
/// Times model::load(path) per iteration; returns the largest resident-memory growth one load caused.
double time_loads(benchmark::State& state, const std::string& path) {
    double growth = 0;
    for (auto _ : state) {
        const double before = rss_bytes();
        std::optional<xlens::model> m;
        try {
            m.emplace(xlens::model::load(path));
        } catch (const std::exception& e) {
            state.SkipWithError(e.what());
            break;
        }
        benchmark::DoNotOptimize(m->weights().embed.data);
        state.PauseTiming();
        growth = std::max(growth, rss_bytes() - before);
        m.reset();
        state.ResumeTiming();
    }
    return growth;
}

void BM_open_safetensors(benchmark::State& state) {
    const std::string dir = f32_dir();
    if (!std::filesystem::exists(std::filesystem::path(dir) / "config.json")) {
        state.SkipWithError(("no f32 safetensors folder at " + dir +
                             "; create it with: build/cache/venv/bin/python benchmarks/compare_transformers.py "
                             "--make-f32-only (or set XLENS_BENCH_F32_DIR)").c_str());
        return;
    }
    double file_bytes = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".safetensors") file_bytes += static_cast<double>(entry.file_size());
    const double growth = time_loads(state, dir);
    state.counters["file_MB"] = file_bytes / 1e6;
    state.counters["rss_growth_MB"] = growth / 1e6;  // should be ~0: nothing but headers is touched
}

/// The Q4_1 GGUF: includes dequantising every tensor to owned f32 (~540 MB written), so this is
/// a conversion benchmark, not the "open" bar.
void BM_open_gguf_with_dequant(benchmark::State& state) {
    const std::string path = gguf_path();
    const double growth = time_loads(state, path);
    state.counters["file_MB"] = std::filesystem::exists(path) ? static_cast<double>(std::filesystem::file_size(path)) / 1e6 : 0;
    state.counters["rss_growth_MB"] = growth / 1e6;
}

// ---- prefill ---------------------------------------------------------------------------------------

void BM_prefill(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto T = static_cast<std::size_t>(state.range(0));
    const auto tokens = bench_tokens(*m, T);
    benchmark::DoNotOptimize(xlens::run(*m, tokens).data());  // first touch of weights and allocator arenas
    for (auto _ : state) {
        auto logits = xlens::run(*m, tokens);
        benchmark::DoNotOptimize(logits.data());
    }
    set_token_counters(state, T);
}

/// Every hook point recorded, as run_with_cache(m, tokens) does by default; a fresh cache per run,
/// as a user calling run_with_cache in a loop gets.
void BM_prefill_cache_all(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto T = static_cast<std::size_t>(state.range(0));
    const auto tokens = bench_tokens(*m, T);
    auto warm = xlens::run_with_cache(*m, tokens, xlens::hook_filter::all());
    const double cache_bytes = static_cast<double>(warm.cache.bytes());
    const double hooks = static_cast<double>(warm.cache.size());
    warm = {};
    for (auto _ : state) {
        auto out = xlens::run_with_cache(*m, tokens, xlens::hook_filter::all());
        benchmark::DoNotOptimize(out.logits.data());
    }
    set_token_counters(state, T);
    state.counters["cache_MB"] = cache_bytes / 1e6;
    state.counters["hook_points"] = hooks;
}

/// Same as BM_prefill_cache_all but one activation_cache is reused across runs, which separates
/// the cost of fresh allocations (page faults on ~200 MB) from the cost of the copies themselves.
void BM_prefill_cache_all_reused(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto T = static_cast<std::size_t>(state.range(0));
    const auto tokens = bench_tokens(*m, T);
    xlens::activation_cache cache;  // refilled in place by every run, as a sweep over prompts would use it
    benchmark::DoNotOptimize(xlens::run_with_cache(*m, tokens, cache).data());
    for (auto _ : state) {
        auto logits = xlens::run_with_cache(*m, tokens, cache);
        benchmark::DoNotOptimize(logits.data());
    }
    set_token_counters(state, T);
}

/// Only the residual stream (resid_post of every layer): what most analyses actually need.
void BM_prefill_cache_resid(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto T = static_cast<std::size_t>(state.range(0));
    const auto tokens = bench_tokens(*m, T);
    const auto filter = xlens::hook_filter::suffix("hook_resid_post");
    benchmark::DoNotOptimize(xlens::run_with_cache(*m, tokens, filter).logits.data());
    for (auto _ : state) {
        auto out = xlens::run_with_cache(*m, tokens, filter);
        benchmark::DoNotOptimize(out.logits.data());
    }
    set_token_counters(state, T);
}

// ---- decode ----------------------------------------------------------------------------------------

/// One token after a 128-token prompt, with the KV cache. Each iteration starts from the same
/// 128-token cache (copied back while the timer is paused), so every step costs the same.
void BM_decode_step(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto prompt = bench_tokens(*m, prompt_tokens);
    const std::vector<xlens::token_id> next = bench_tokens(*m, 1, prompt_tokens);
    xlens::kv_cache prefilled = xlens::make_kv_cache(*m);
    xlens::run_options step;
    step.kv = &prefilled;
    xlens::forward(*m, prompt, step);
    xlens::kv_cache kv = prefilled;
    step.kv = &kv;
    benchmark::DoNotOptimize(xlens::forward(*m, next, step).data());
    for (auto _ : state) {
        state.PauseTiming();
        kv = prefilled;  // keeps kv's grown capacity, so the timed append does not reallocate
        state.ResumeTiming();
        auto logits = xlens::forward(*m, next, step);
        benchmark::DoNotOptimize(logits.data());
    }
    set_token_counters(state, 1);
    state.counters["weight_bytes/s"] = benchmark::Counter(decode_weight_bytes(*m), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["weight_MB"] = decode_weight_bytes(*m) / 1e6;
}

/// The same next token without a KV cache: the whole 129-token sequence again. For reference only.
void BM_decode_step_no_cache(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto tokens = bench_tokens(*m, prompt_tokens + 1);
    for (auto _ : state) {
        auto logits = xlens::run(*m, tokens);
        benchmark::DoNotOptimize(logits.data());
    }
    set_token_counters(state, 1);
}

/// xlens::generate: a 16-token prompt, then 64 new tokens, greedy, no stop tokens (so the budget
/// always ends it), with a fresh KV cache per call, as a user calling generate() gets.
/// What is measured, per call, from wall-clock timestamps:
///   prefill_ms  start of generate() → the callback for the first new token (the 16-token forward pass
///               plus the first argmax);
///   tokens/s    decode only: the 63 tokens after the first, divided by the time from the first
///               token's callback to generate() returning (63 single-token forward passes with the KV
///               cache, each followed by an argmax over the vocabulary and the callback);
///   e2e_tokens/s  64 new tokens / the whole call (prefill included).
/// compare_transformers.py times transformers' model.generate the same way (a streamer timestamps
/// the first new token).
void BM_generate(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    using clock = std::chrono::steady_clock;
    const auto prompt = bench_tokens(*m, generate_prompt_tokens);
    xlens::generate_options options;
    options.max_new_tokens = generate_new_tokens;  // sampling: greedy by default; stop_tokens: none
    clock::time_point first_token;
    std::size_t produced = 0;
    const xlens::token_callback on_token = [&](xlens::token_id) {
        if (produced++ == 0) first_token = clock::now();
        return true;
    };
    {  // first touch of the weights and the allocator arenas
        xlens::generate_options warm = options;
        warm.max_new_tokens = 4;
        benchmark::DoNotOptimize(xlens::generate(*m, prompt, warm).tokens.data());
    }
    double prefill_s = 0, decode_s = 0, decode_tokens = 0;
    for (auto _ : state) {
        produced = 0;
        const auto start = clock::now();
        auto out = xlens::generate(*m, prompt, options, on_token);
        const auto end = clock::now();
        benchmark::DoNotOptimize(out.tokens.data());
        if (out.tokens.size() != generate_new_tokens) {
            state.SkipWithError(("generate stopped early (" + std::string(xlens::to_string(out.reason)) + ")").c_str());
            break;
        }
        prefill_s += std::chrono::duration<double>(first_token - start).count();
        decode_s += std::chrono::duration<double>(end - first_token).count();
        decode_tokens += static_cast<double>(out.tokens.size() - 1);
    }
    if (state.iterations() == 0 || decode_s <= 0) return;
    const double iterations = static_cast<double>(state.iterations());
    state.counters["tokens/s"] = decode_tokens / decode_s;
    state.counters["prefill_ms"] = prefill_s / iterations * 1e3;
    state.counters["e2e_tokens/s"] =
        benchmark::Counter(static_cast<double>(generate_new_tokens), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["prompt_tokens"] = static_cast<double>(generate_prompt_tokens);
    state.counters["new_tokens"] = static_cast<double>(generate_new_tokens);
    state.counters["weight_MB"] = decode_weight_bytes(*m) / 1e6;
}

// ---- the memory-bandwidth bound of decode ------------------------------------------------------------

/// One sgemv per weight matrix a decode step reads: the fastest OpenBLAS can stream those bytes on
/// this machine, i.e. the bandwidth bound for decode tokens/s that xlens is measured against.
void BM_decode_bound_gemv(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto matrices = decode_matrices(*m);
    std::size_t widest = 0;
    for (const auto* lin : matrices) widest = std::max({widest, lin->w.shape[0], lin->w.shape[1]});
    std::vector<float> x(widest, 0.5f), y(widest);
    using index = xt::blas_index_t;
    for (auto _ : state) {
        for (const auto* lin : matrices) {
            const auto rows = static_cast<index>(lin->w.shape[0]), cols = static_cast<index>(lin->w.shape[1]);
            cxxblas::gemv<index>(cxxblas::RowMajor, cxxblas::NoTrans, rows, cols, 1.0f, lin->w.data, cols, x.data(),
                                 index(1), 0.0f, y.data(), index(1));
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["tokens/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["weight_bytes/s"] = benchmark::Counter(decode_weight_bytes(*m), benchmark::Counter::kIsIterationInvariantRate);
}

/// The same matrices through blocks::linear with T = 1, which is what a decode step calls: sgemm
/// with M = 1. The gap to BM_decode_bound_gemv is what routing T = 1 to gemv would recover.
void BM_decode_linear_T1(benchmark::State& state) {
    const auto* m = shared_model(state);
    if (!m) return;
    const auto matrices = decode_matrices(*m);
    xlens::activation x = xlens::activation::from_shape({1, m->config().d_model});
    xlens::activation x_mlp = xlens::activation::from_shape({1, m->config().mlp.d_mlp});
    std::fill(x.begin(), x.end(), 0.5f);
    std::fill(x_mlp.begin(), x_mlp.end(), 0.5f);
    for (auto _ : state) {
        for (const auto* lin : matrices) {
            auto y = xlens::blocks::linear(lin->d_in() == m->config().d_model ? x : x_mlp, *lin);
            benchmark::DoNotOptimize(y.data());
        }
    }
    state.counters["tokens/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["weight_bytes/s"] = benchmark::Counter(decode_weight_bytes(*m), benchmark::Counter::kIsIterationInvariantRate);
}

/// memcpy of a 256 MiB (268 MB) float buffer into another (both far larger than the 32 MB L3), split over
/// state.range(0) threads, each copying its own contiguous share. Counters:
///   copied_bytes/s   bytes copied per second: the rate the source is read (and the target written).
///   traffic_bytes/s  2 × copied_bytes/s: a copy moves each byte twice, one read and one write (glibc
///                    copies buffers this large with non-temporal stores, so there is no third,
///                    read-for-ownership pass over the target).
///   decode_bound_tokens/s  traffic_bytes/s / decode_weight_bytes(): the decode tokens/s at which
///                    streaming the weights once per token (every projection + the unembedding; see
///                    decode_matrices) would use the whole memory bandwidth. Present when the model loads.
/// The bound uses the traffic, not the copied bytes: reads and writes share one bus, and a decode step
/// reads its weights and writes next to nothing, so it can use all of it. BM_read_bandwidth checks this:
/// on the development VM a read-only stream reaches ~2 × copied_bytes/s (43.7 vs 21.8 GB/s), and decode
/// itself already runs at about twice copied_bytes/s / weight bytes.
/// Both buffers are written before timing, so no page fault is timed. Threads are started per
/// iteration (~0.1 ms against ~10+ ms of copying).
void BM_copy_bandwidth(benchmark::State& state) {
    constexpr std::size_t bytes = std::size_t(256) << 20;
    const auto threads = static_cast<std::size_t>(state.range(0));
    std::unique_ptr<float[]> src(new float[bytes / sizeof(float)]), dst(new float[bytes / sizeof(float)]);
    std::fill_n(src.get(), bytes / sizeof(float), 1.0f);
    std::fill_n(dst.get(), bytes / sizeof(float), 0.0f);
    auto* from = reinterpret_cast<const char*>(src.get());
    auto* to = reinterpret_cast<char*>(dst.get());
    const std::size_t share = bytes / threads;
    for (auto _ : state) {
        if (threads == 1) {
            std::memcpy(to, from, bytes);
        } else {
            std::vector<std::thread> pool;
            for (std::size_t t = 0; t < threads; ++t) {
                const std::size_t begin = t * share, n = t + 1 == threads ? bytes - begin : share;
                pool.emplace_back([=] { std::memcpy(to + begin, from + begin, n); });
            }
            for (auto& th : pool) th.join();
        }
        benchmark::DoNotOptimize(dst.get());
        benchmark::ClobberMemory();
    }
    const double copied = static_cast<double>(bytes), traffic = 2 * copied;  // one read + one write per byte
    state.counters["copied_bytes/s"] = benchmark::Counter(copied, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["traffic_bytes/s"] = benchmark::Counter(traffic, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["threads"] = static_cast<double>(threads);
    if (const auto* m = shared_model(state)) {
        const double weight_bytes = decode_weight_bytes(*m);
        state.counters["weight_MB"] = weight_bytes / 1e6;
        state.counters["decode_bound_tokens/s"] =
            benchmark::Counter(traffic / weight_bytes, benchmark::Counter::kIsIterationInvariantRate);
    }
}

/// Reads 256 MiB and writes nothing (an OR over 64-bit words, which the compiler vectorises even
/// without -ffast-math), split over state.range(0) threads: the cross-check of BM_copy_bandwidth's
/// traffic_bytes/s, which the decode bound is computed from. Counter read_bytes/s; decode_bound_tokens/s
/// = read_bytes/s / decode_weight_bytes(). Context only. (OpenBLAS's sgemv, BM_decode_bound_gemv,
/// streams the same weights faster still on this VM: this loop is plain SSE2 with no prefetching.)
void BM_read_bandwidth(benchmark::State& state) {
    constexpr std::size_t bytes = std::size_t(256) << 20, words = bytes / sizeof(std::uint64_t);
    const auto threads = static_cast<std::size_t>(state.range(0));
    std::unique_ptr<std::uint64_t[]> src(new std::uint64_t[words]);
    for (std::size_t i = 0; i < words; ++i) src[i] = i;
    const std::uint64_t* data = src.get();
    std::vector<std::uint64_t> partial(threads * 8);  // one cache line apart, so the threads share none
    const std::size_t share = words / threads;
    auto reduce = [&](std::size_t t) {
        const std::size_t begin = t * share, end = t + 1 == threads ? words : begin + share;
        std::uint64_t acc = 0;
        for (std::size_t i = begin; i < end; ++i) acc |= data[i];
        partial[t * 8] = acc;
    };
    for (auto _ : state) {
        if (threads == 1) {
            reduce(0);
        } else {
            std::vector<std::thread> pool;
            for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(reduce, t);
            for (auto& th : pool) th.join();
        }
        benchmark::DoNotOptimize(partial.data());
        benchmark::ClobberMemory();
    }
    state.counters["read_bytes/s"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["threads"] = static_cast<double>(threads);
    if (const auto* m = shared_model(state)) {
        const double weight_bytes = decode_weight_bytes(*m);
        state.counters["weight_MB"] = weight_bytes / 1e6;
        state.counters["decode_bound_tokens/s"] =
            benchmark::Counter(static_cast<double>(bytes) / weight_bytes, benchmark::Counter::kIsIterationInvariantRate);
    }
}

/// Best and worst repetition, beside Google Benchmark's mean/median/stddev/cv. Applied to times and
/// counters alike: for a rate counter (tokens/s) "max" is the best repetition, for a time the worst.
void add_min_max(benchmark::internal::Benchmark* b) {
    b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
    b->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

}  // namespace

BENCHMARK(BM_open_safetensors)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_open_gguf_with_dequant)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prefill)->Arg(prompt_tokens)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prefill_cache_all)->Arg(prompt_tokens)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prefill_cache_all_reused)->Arg(prompt_tokens)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prefill_cache_resid)->Arg(prompt_tokens)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode_step)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode_step_no_cache)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode_bound_gemv)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode_linear_T1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_generate)->Unit(benchmark::kMillisecond)->UseRealTime()->Apply(add_min_max);
// ---- analyses ------------------------------------------------------------------------------------

/// The indirect-object pair compare_patching.py gives TransformerLens (14 tokens each for SmolLM2).
const char* patching_clean = "When John and Mary went to the store, John gave a drink to";
const char* patching_corrupt = "When John and Mary went to the store, Mary gave a drink to";

/// Activation patching of resid_pre over every layer × position (denoising, normalised logit
/// difference ' Mary' − ' John'), on range(0) threads; range(1) = 1 reruns every patched prompt from
/// the embedding instead of resuming at the patched block.
void BM_patching_resid_pre(benchmark::State& state) {
    const xlens::model* m = shared_model(state);
    if (!m) return;
    auto tok = xlens::load_tokenizer(gguf_path());
    xlens::patching_options o;
    o.answer = xlens::single_token(tok, " Mary");
    o.wrong = xlens::single_token(tok, " John");
    o.threads = static_cast<std::size_t>(state.range(0));
    if (state.range(1)) o.method = xlens::patching_method::full_rerun;
    const auto clean = tok.encode(patching_clean), corrupted = tok.encode(patching_corrupt);
    std::size_t runs = 0;
    for (auto _ : state) runs = xlens::activation_patching(*m, clean, corrupted, o).runs;
    state.counters["patched_runs"] = static_cast<double>(runs);
    state.counters["cells"] = static_cast<double>(m->config().n_layers * clean.size());
}
BENCHMARK(BM_patching_resid_pre)->ArgNames({"threads", "full_rerun"})->Args({1, 0})->Args({2, 0})->Args({1, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

/// Scoring every head on 100 sequences of 128 tokens (patterns streamed through a hook, nothing
/// cached) against bare forward passes over the same tokens, timed in the same run: the counter
/// "ratio_to_forward" (bar: ≤ 1.5), the resident memory the scoring added ("rss_growth_MiB",
/// sampled after every sequence) and the process's peak ("peak_rss_MiB").
void BM_head_scoring(benchmark::State& state) {
    const xlens::model* m = shared_model(state);
    if (!m) return;
    std::vector<std::vector<xlens::token_id>> sequences;
    for (std::size_t i = 0; i < 100; ++i) sequences.push_back(bench_tokens(*m, 128, i * 128));
    using clock = std::chrono::steady_clock;
    double bare = 0, scoring = 0, growth = 0;
    for (auto _ : state) {
        auto start = clock::now();
        for (const auto& s : sequences) benchmark::DoNotOptimize(xlens::run(*m, s));
        bare += std::chrono::duration<double>(clock::now() - start).count();
        const double before = rss_bytes();
        start = clock::now();
        xlens::head_scorer scorer(*m);
        for (const auto& s : sequences) {
            scorer.add(s);
            growth = std::max(growth, rss_bytes() - before);
        }
        benchmark::DoNotOptimize(scorer.result());
        scoring += std::chrono::duration<double>(clock::now() - start).count();
    }
    state.counters["bare_forward_s"] = bare / static_cast<double>(state.iterations());
    state.counters["scoring_s"] = scoring / static_cast<double>(state.iterations());
    state.counters["ratio_to_forward"] = scoring / bare;
    state.counters["rss_growth_MiB"] = growth / (1024.0 * 1024.0);
    state.counters["peak_rss_MiB"] = peak_rss_mib();  // the process's peak so far, the dequantised model included
}
BENCHMARK(BM_head_scoring)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

// BM_copy_bandwidth and BM_read_bandwidth are registered in main, once OpenBLAS's thread count is known.

int main(int argc, char** argv) {
    // On stderr, so --benchmark_format=json keeps stdout pure JSON for compare_transformers.py.
    const int threads = report_openblas();
    std::fprintf(stderr, "model: %s\nf32 folder: %s\n", gguf_path().c_str(), f32_dir().c_str());
    benchmark::AddCustomContext("xlens_model", gguf_path());
    benchmark::AddCustomContext("xlens_f32_dir", f32_dir());
    benchmark::AddCustomContext("xlens_prompt_tokens", std::to_string(prompt_tokens));
    benchmark::AddCustomContext("xlens_generate_prompt_tokens", std::to_string(generate_prompt_tokens));
    benchmark::AddCustomContext("xlens_generate_new_tokens", std::to_string(generate_new_tokens));
    // With 1 thread and with OpenBLAS's thread count (the threads a decode step streams its weights
    // on); compare_transformers.py takes the bound from the latter.
    for (const int t : threads > 1 ? std::vector<int>{1, threads} : std::vector<int>{1})
        for (const auto& [name, fn] : {std::pair{"BM_copy_bandwidth", &BM_copy_bandwidth}, std::pair{"BM_read_bandwidth", &BM_read_bandwidth}})
            add_min_max(benchmark::RegisterBenchmark(name, fn)->Arg(t)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
