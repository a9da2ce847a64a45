// Built with ThreadSanitizer: one loaded model (and tokenizer) shared by several threads, each running
// its own prompts with its own hooks, caches and KV caches, including generation and a threaded
// activation-patching sweep. Every result must equal, bit for bit, the same work done on one thread,
// and TSan must report no data race (it aborts the process if it does).
//   xlens_thread_test MODEL...        (a folder, a .gguf or a .db; a tokenizer is used when there is one)
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <xlens/xlens.hpp>

namespace {

struct job_result {
    xlens::activation logits;         // with a head-scaling hook and a reading hook
    xlens::activation resid_post;     // from the activation cache
    double read_hook_sum = 0;         // what the reading hook saw
    std::vector<xlens::token_id> generated;
    bool operator==(const job_result& o) const {
        auto same = [](const xlens::activation& a, const xlens::activation& b) {
            return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
        };
        return same(logits, o.logits) && same(resid_post, o.resid_post) && read_hook_sum == o.read_hook_sum &&
               generated == o.generated;
    }
};

job_result run_job(const xlens::model& m, const std::vector<xlens::token_id>& tokens, std::size_t head) {
    const auto& c = m.config();
    const std::string last = "blocks." + std::to_string(c.n_layers - 1);
    job_result r;
    xlens::hook_set hooks;
    auto scale_head = hooks.add("blocks.0.attn.hook_z", [head](xlens::activation& z, xlens::hook_point) {
        xt::view(z, xt::all(), head, xt::all()) *= 0.5f;
    });
    auto read = hooks.add(xlens::hook_filter::suffix("hook_mlp_out"), [&r](xlens::activation& a, xlens::hook_point) {
        for (float v : a) r.read_hook_sum += std::fabs(v);
    });
    xlens::activation_cache cache;
    xlens::run_options o;
    o.hooks = &hooks;
    o.cache = &cache;
    o.cache_filter = xlens::hook_filter::names({last + ".hook_resid_post"});
    r.logits = xlens::forward(m, tokens, o);
    r.resid_post = cache[last + ".hook_resid_post"];
    xlens::generate_options g;
    g.max_new_tokens = 4;
    r.generated = xlens::generate(m, tokens, g).tokens;  // its own KV cache
    return r;
}

int check_model(const std::string& path, std::size_t n_threads, std::size_t rounds, bool dequantize) {
    xlens::load_options options;
    options.dequantize = dequantize;
    auto m = xlens::model::load(path, options);
    const auto& c = m.config();
    std::optional<xlens::tokenizer> tok;
    try {
        tok.emplace(xlens::load_tokenizer(path));
    } catch (const xlens::error&) {
    }
    const std::vector<std::string> texts = {"The Eiffel Tower is in the city of", "One, two, three,",
                                            "Water boils at a temperature of", "The capital of Italy is",
                                            "In 1492, Columbus"};
    std::vector<std::vector<xlens::token_id>> prompts;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        if (tok) {
            prompts.push_back(tok->encode(texts[i]));
        } else {
            std::vector<xlens::token_id> p;
            for (std::size_t j = 0; j < 3 + 2 * i; ++j) p.push_back(static_cast<xlens::token_id>((7 * i + 3 * j + 1) % c.d_vocab));
            prompts.push_back(p);
        }
    }

    // The same work on one thread first: the expected results.
    std::vector<job_result> expected;
    for (std::size_t i = 0; i < prompts.size(); ++i) expected.push_back(run_job(m, prompts[i], i % c.attn.n_heads));

    std::atomic<int> mismatches{0}, runs{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < n_threads; ++t)
        threads.emplace_back([&, t] {
            for (std::size_t round = 0; round < rounds; ++round)
                for (std::size_t k = 0; k < prompts.size(); ++k) {
                    std::size_t i = (k + t) % prompts.size();  // threads walk the prompts in different orders
                    if (tok && tok->encode(texts[i]) != prompts[i]) ++mismatches;  // the shared tokenizer too
                    if (!(run_job(m, prompts[i], i % c.attn.n_heads) == expected[i])) ++mismatches;
                    ++runs;
                }
        });
    for (auto& th : threads) th.join();

    // Activation patching runs its sweep on its own threads; equal to the single-threaded sweep.
    xlens::patching_options po;
    po.answer = 1;
    po.wrong = 2;
    po.threads = 1;
    auto corrupted = prompts[0];
    corrupted[0] = prompts[1][0];
    auto single = xlens::activation_patching(m, prompts[0], corrupted, po);
    po.threads = n_threads;
    auto threaded = xlens::activation_patching(m, prompts[0], corrupted, po);
    bool patching_equal = single.values.shape() == threaded.values.shape() &&
                          std::memcmp(single.values.data(), threaded.values.data(), single.values.size() * sizeof(double)) == 0;
    if (!patching_equal) ++mismatches;

    std::printf("%s: %zu threads x %zu rounds, %d runs (hooks, cache, generation%s), patching sweep of %zu runs: %d mismatches\n",
                path.c_str(), n_threads, rounds, runs.load(), tok ? ", tokenizer" : "", single.runs, mismatches.load());
    return mismatches.load();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s [--dequantize] MODEL...  (--dequantize: the models after it in float32)\n", argv[0]);
        return 2;
    }
    // Models with weights kept in a stored type run xlens's own matmul kernels and kernel threads,
    // which TSan instruments (OpenBLAS it does not): a tiny F16 model checks them; the real model's
    // 262-run patching sweep through instrumented kernels would take minutes, so it can be given
    // after --dequantize.
    xlens::blocks::set_kernel_threads(2);  // the kernel thread pool, under TSan too (OpenBLAS stays at 1)
    int failures = 0;
    bool dequantize = false;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--dequantize") {
            dequantize = true;
            continue;
        }
        failures += check_model(argv[i], /*threads*/ 4, /*rounds*/ 2, dequantize);
    }
    std::printf("%s\n", failures ? "FAILED: results differ from single-threaded runs" : "all results equal single-threaded runs");
    return failures ? 1 : 0;
}
