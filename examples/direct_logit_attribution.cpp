// direct_logit_attribution — the receipt for a word choice, and a check of what it claims.
//
//   direct_logit_attribution MODEL ["The Eiffel Tower is in the city of"] [" Paris"] [" London"]
//
// The final residual stream is a sum of what every component wrote: the embedding, each attention
// head, each MLP, the biases. Freeze the final norm's scale at the value the run computed and the
// logit difference answer − other splits exactly into one share per component. The receipt lists
// the largest shares; their total must equal the model's logit difference.
//
// A direct share is not the whole effect: later layers also read what a head wrote. The program
// then zero-ablates the head with the largest share (a hook on its hook_z) and reruns, to compare
// the direct claim with the total effect of removing it.
#include <cmath>
#include <cstdio>
#include <string>

#include <xtensor/xview.hpp>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc < 2 || argc > 5) {
        std::fprintf(stderr, "usage: direct_logit_attribution MODEL [PROMPT] [ANSWER] [OTHER]\n");
        return 2;
    }
    const std::string prompt = argc > 2 ? argv[2] : "The Eiffel Tower is in the city of";
    const std::string answer = argc > 3 ? argv[3] : " Paris";
    const std::string other = argc > 4 ? argv[4] : " London";
    try {
        auto model = xlens::model::load(argv[1]);
        auto tok = xlens::load_tokenizer(argv[1]);
        auto tokens = tok.encode(prompt);

        xlens::attribution_options options;
        options.target = xlens::single_token(tok, answer);
        options.versus = xlens::single_token(tok, other);
        xlens::attribution_result receipt = xlens::direct_logit_attribution(model, tokens, options);

        std::printf("logit('%s') - logit('%s') after \"%s\"\n\n", answer.c_str(), other.c_str(), prompt.c_str());
        const auto ranked = receipt.ranked();
        for (std::size_t i = 0; i < 10 && i < ranked.size(); ++i)
            std::printf("  %-14s %+8.3f\n", ranked[i].label.c_str(), ranked[i].value);
        std::printf("  %-14s %+8.3f  (all %zu components)\n  %-14s %+8.3f  (the model's own logits)\n", "total",
                    receipt.total, receipt.components.size(), "model", receipt.model_value);

        // Zero the biggest head's z at every position and measure the change in the logit difference.
        const xlens::attribution_component* head = nullptr;
        for (const auto& c : ranked)
            if (c.kind == xlens::component_kind::head) { head = &c; break; }
        if (!head) return 0;
        xlens::hook_set hooks;
        auto ablate = hooks.add("blocks." + std::to_string(head->layer) + ".attn.hook_z",
                                [h = head->head](xlens::activation& z, xlens::hook_point) { xt::view(z, xt::all(), h, xt::all()) = 0.0f; });
        auto logits = xlens::run_with_hooks(model, tokens, hooks);
        const std::size_t last = tokens.size() - 1;
        const double ablated = logits(last, options.target) - logits(last, *options.versus);
        std::printf("\nzero-ablating %s: logit difference %.3f -> %.3f (total effect %+.3f; direct share %+.3f)\n",
                    head->label.c_str(), receipt.model_value, ablated, receipt.model_value - ablated, head->value);
        return std::fabs(receipt.total - receipt.model_value) < 1e-3 ? 0 : 1;
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "direct_logit_attribution: %s\n", e.what());
        return 1;
    }
}
