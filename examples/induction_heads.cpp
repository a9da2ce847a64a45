// induction_heads — find the heads that complete repeated patterns, and look at one.
//
//   induction_heads MODEL
//
// An induction head, at a token it has seen before, attends to whatever followed that token last
// time (and its output predicts it again). Repeated random tokens make the behaviour easy to
// measure: in the second copy every token has an earlier occurrence, and nothing but copying can
// predict what comes next. The program scores every head on 10 such sequences, lists the five most
// induction-like, and draws the best one's attention pattern on a short repeated sequence in the
// terminal: the bright off-diagonal stripe one step right of the earlier copy is the signature.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: induction_heads MODEL\n");
        return 2;
    }
    try {
        auto model = xlens::model::load(argv[1]);
        const auto& c = model.config();

        xlens::head_scorer scorer(model);
        for (const auto& sequence : xlens::repeated_random_tokens(model, 10, 24, /*seed=*/1)) scorer.add(sequence);
        xlens::head_scores scores = scorer.result();

        std::vector<std::pair<double, std::size_t>> ranked;  // (score, layer · heads + head)
        for (std::size_t layer = 0; layer < c.n_layers; ++layer)
            for (std::size_t head = 0; head < c.attn.n_heads; ++head)
                ranked.push_back({scores.induction_attainable(layer, head), layer * c.attn.n_heads + head});
        std::sort(ranked.rbegin(), ranked.rend());
        std::printf("most induction-like heads (share of the attainable induction attention):\n");
        for (std::size_t i = 0; i < 5 && i < ranked.size(); ++i)
            std::printf("  L%zuH%zu  %.3f   (previous-token score %.3f)\n", ranked[i].second / c.attn.n_heads,
                        ranked[i].second % c.attn.n_heads, ranked[i].first,
                        scores.at(xlens::head_feature::previous_token, ranked[i].second / c.attn.n_heads,
                                  ranked[i].second % c.attn.n_heads));

        // The best head's pattern on 8 random tokens repeated: rows are queries, columns keys.
        const std::size_t layer = ranked[0].second / c.attn.n_heads, head = ranked[0].second % c.attn.n_heads;
        auto tokens = xlens::repeated_random_tokens(model, 1, 8, /*seed=*/7).front();
        auto [logits, cache] = xlens::run_with_cache(model, tokens, xlens::hook_filter::suffix("hook_pattern"));
        const auto& pattern = cache.at({xlens::hook_kind::pattern, static_cast<int>(layer)});
        const char* shades[] = {" ", "░", "▒", "▓", "█"};
        std::printf("\nL%zuH%zu on 8 random tokens repeated (query rows, key columns; █ = most attention):\n", layer, head);
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::printf("  %2zu ", i);
            for (std::size_t j = 0; j <= i; ++j)
                std::printf("%s", shades[std::min<int>(4, static_cast<int>(pattern(head, i, j) * 5))]);
            std::printf("\n");
        }
        return 0;
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "induction_heads: %s\n", e.what());
        return 1;
    }
}
