// inspect_model — open a model, run one prompt with every hook cached, and read the run.
//
//   inspect_model MODEL ["The Eiffel Tower is in"]
//
// Prints, for the last position: the residual stream's norm after every block, what the model would
// predict if it stopped at each block (the logit lens: final norm + unembedding applied to the cached
// residual), the final top-5 next tokens, and the head that attends most strongly away from the
// first token. The tokenizer is the model's own (GGUF metadata or tokenizer.json).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include <xlens/xlens.hpp>

namespace {

/// A token's text as a short quoted literal for the table.
std::string shown(const xlens::tokenizer& tok, xlens::token_id id) { return "'" + tok.token_text(id) + "'"; }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: inspect_model MODEL [PROMPT]\n");
        return 2;
    }
    const std::string path = argv[1];
    const std::string prompt = argc == 3 ? argv[2] : "The Eiffel Tower is in";
    try {
        auto model = xlens::model::load(path);
        auto tok = xlens::load_tokenizer(path);
        const auto& c = model.config();
        const std::vector<xlens::token_id> tokens = tok.encode(prompt);
        std::printf("%s: %s, %zu layers, d_model %zu, %zu heads (%zu kv), vocab %zu\n", path.c_str(), c.architecture.c_str(),
                    c.n_layers, c.d_model, c.attn.n_heads, c.attn.n_kv_heads, c.d_vocab);
        std::printf("prompt:");
        for (auto t : tokens) std::printf(" %s", shown(tok, t).c_str());
        std::printf("\n\n");

        auto [logits, cache] = xlens::run_with_cache(model, tokens);
        const std::size_t T = tokens.size(), last = T - 1, V = c.d_vocab;

        std::printf("%-6s %10s   %-20s\n", "block", "|resid|", "logit lens top-1 (last position)");
        for (std::size_t L = 0; L < c.n_layers; ++L) {
            const auto& resid = cache.at({xlens::hook_kind::resid_post, static_cast<int>(L)});  // [T, d_model]
            xlens::activation row = xt::view(resid, xt::range(last, last + 1), xt::all());     // [1, d_model]
            auto lens = xlens::logit_lens(model, row);                                          // [1, d_vocab]
            auto p = xlens::softmax(lens.data(), V);
            auto top = xlens::argmax(lens.data(), V);
            std::printf("%-6zu %10.2f   %-20s %.3f\n", L, std::sqrt(xt::sum(row * row)()), shown(tok, top).c_str(), p[top]);
        }

        const float* final_row = logits.data() + last * V;
        auto p = xlens::softmax(final_row, V);
        std::vector<xlens::token_id> order(V);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](auto a, auto b) { return p[a] > p[b]; });
        std::printf("\nnext token:\n");
        for (int i = 0; i < 5; ++i)
            std::printf("  %-16s p=%.4f  logit=%.4f\n", shown(tok, order[i]).c_str(), p[order[i]], final_row[order[i]]);

        // The head whose last-position attention puts the most mass on one non-first token.
        float best = -1;
        std::size_t best_layer = 0, best_head = 0, best_key = 0;
        for (std::size_t L = 0; L < c.n_layers; ++L) {
            const auto& pattern = cache.at({xlens::hook_kind::pattern, static_cast<int>(L)});  // [heads, T, T]
            for (std::size_t h = 0; h < c.attn.n_heads; ++h)
                for (std::size_t k = 1; k < T; ++k)
                    if (pattern(h, last, k) > best) best = pattern(h, last, k), best_layer = L, best_head = h, best_key = k;
        }
        std::printf("\nstrongest non-first-token attention from the last position: L%zu H%zu → %s (%.2f)\n", best_layer,
                    best_head, shown(tok, tokens[best_key]).c_str(), best);
        std::printf("cached %zu activations, %.1f MiB\n", cache.size(), cache.bytes() / 1048576.0);
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "inspect_model: %s\n", e.what());
        return 1;
    }
    return 0;
}
