// logit_lens — when, layer by layer, does the model come to its answer?
//
//   logit_lens MODEL ["The Eiffel Tower is in the city of"] [" Paris"]
//
// The residual stream after each block has the same shape as the last one, so it can be read the same
// way: final norm, then unembedding. xlens::logit_lens does that at every layer and position. This
// program follows the answer token at the last position: its rank and probability as the layers add
// up, and the token the model would have said had it stopped there.
#include <cstdio>
#include <string>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: logit_lens MODEL [PROMPT] [ANSWER]\n");
        return 2;
    }
    const std::string prompt = argc > 2 ? argv[2] : "The Eiffel Tower is in the city of";
    const std::string answer = argc > 3 ? argv[3] : " Paris";
    try {
        auto model = xlens::model::load(argv[1]);
        auto tok = xlens::load_tokenizer(argv[1]);
        auto tokens = tok.encode(prompt);

        xlens::lens_options options;
        options.target = xlens::single_token(tok, answer);  // refuses an answer that is several tokens
        options.top_k = 3;
        xlens::lens_result lens = xlens::logit_lens(model, tokens, options, &tok);

        const std::size_t last = tokens.size() - 1;
        std::printf("%s|%s  — the answer's rank by layer, at the last position\n\n", prompt.c_str(), answer.c_str());
        std::printf("%-11s %8s %9s   %s\n", "layer", "rank", "p", "the model would say");
        for (std::size_t layer = 0; layer < lens.layers.size(); ++layer) {
            const auto& target = lens.target_cells[layer][last];
            const auto& best = lens.top[layer][last][0];
            std::printf("%-11s %8zu %9.5f   '%s' (p = %.3f)\n", lens.layers[layer].c_str(), target.rank, target.prob,
                        best.text.c_str(), best.prob);
        }
        // The last row is no approximation: it is the model's own output distribution.
        const auto& final_cell = lens.target_cells.back()[last];
        std::printf("\nfinal: '%s' ranks %zu with p = %.4f\n", answer.c_str(), final_cell.rank, final_cell.prob);
        return 0;
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "logit_lens: %s\n", e.what());
        return 1;
    }
}
