// activation_patching — which activations carry the difference between two prompts?
//
//   activation_patching MODEL
//
// Indirect-object identification: after "When John and Mary went to the store, John gave a drink
// to", the answer is " Mary". Swap the second name and the answer flips to " John". Run the corrupted
// prompt, copy in one activation from the clean run, and see how much of the clean answer comes
// back: 1 means all of it, 0 none. Sweeping every layer and position of the residual stream shows
// where the name information lives and when it moves to the last position.
#include <algorithm>
#include <cstdio>
#include <string>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: activation_patching MODEL\n");
        return 2;
    }
    try {
        auto model = xlens::model::load(argv[1]);
        auto tok = xlens::load_tokenizer(argv[1]);
        auto clean = tok.encode("When John and Mary went to the store, John gave a drink to");
        auto corrupted = tok.encode("When John and Mary went to the store, Mary gave a drink to");

        xlens::patching_options options;
        options.answer = xlens::single_token(tok, " Mary");
        options.wrong = xlens::single_token(tok, " John");
        options.target = xlens::patch_target::resid_pre;
        xlens::patching_result r = xlens::activation_patching(model, clean, corrupted, options);

        std::printf("logit difference ' Mary' - ' John': clean %.3f, corrupted %.3f\n", r.clean_metric, r.corrupted_metric);
        std::printf("restored by patching resid_pre (rows: layers; columns: positions that differ or follow)\n\n");
        std::size_t first_diff = 0;
        while (clean[first_diff] == corrupted[first_diff]) ++first_diff;
        std::printf("%6s", "");
        for (std::size_t t = first_diff; t < clean.size(); ++t) std::printf(" %7.7s", tok.token_text(clean[t]).c_str());
        std::printf("\n");
        for (std::size_t layer = 0; layer < r.values.shape()[0]; layer += 3) {
            std::printf("L%-5zu", layer);
            for (std::size_t t = first_diff; t < clean.size(); ++t) std::printf(" %7.2f", r.values(layer, t));
            std::printf("\n");
        }

        // Any function of the run can be the metric: here, the probability of the clean answer.
        xlens::patching_options by_head = options;
        by_head.target = xlens::patch_target::head;
        by_head.normalise = false;
        by_head.metric = [&](const xlens::run_outcome& run) {
            xlens::activation logits = run.logits_at(run.positions() - 1);  // [1, d_vocab]: the last position only
            auto p = xlens::softmax(logits.data(), logits.size());
            return p[static_cast<std::size_t>(options.answer)];
        };
        xlens::patching_result heads = xlens::activation_patching(model, clean, corrupted, by_head);
        std::size_t best = static_cast<std::size_t>(std::max_element(heads.values.begin(), heads.values.end()) - heads.values.begin());
        const std::size_t H = heads.values.shape()[1];
        std::printf("\nP(' Mary'): clean %.3f, corrupted %.3f; patching one head's output at every position\n"
                    "raises it most for L%zuH%zu: %.3f (%zu patched runs in %.2f s)\n",
                    heads.clean_metric, heads.corrupted_metric, best / H, best % H, heads.values.data()[best], heads.runs,
                    heads.seconds);
        return 0;
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "activation_patching: %s\n", e.what());
        return 1;
    }
}
