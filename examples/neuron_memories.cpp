// neuron_memories — FFN neurons as key-value memories: find the neurons that write " Paris" after
// "The Eiffel Tower is in the city of", read what each writes (its value, from the weights alone),
// then switch them off or turn them up and watch P(" Paris") move.
//
//   build/examples/neuron_memories build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
#include <cstdio>
#include <string>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL\n", argv[0]);
        return 2;
    }
    try {
        auto model = xlens::model::load(argv[1]);
        auto tok = xlens::load_tokenizer(argv[1]);
        const auto tokens = tok.encode("The Eiffel Tower is in the city of");
        const xlens::token_id paris = xlens::single_token(tok, " Paris");

        // Keys met values: which neurons, at the last position, push the " Paris" logit up most.
        const auto top = xlens::neuron_contributions(model, tokens, paris);
        std::printf("neurons writing ' Paris' at the last position:\n");
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& n = top[i];
            xlens::neuron_value_options o;
            o.k = 5;
            o.layers = {n.layer};
            const auto table = xlens::neuron_values(model, o);
            const auto& value = table.at(n.layer, n.neuron);
            // The neuron adds activation × value: with a negative activation (gated MLPs allow it) the
            // tokens it pushes up are those its value vector scores lowest.
            const auto& pushed = n.activation >= 0 ? value.promoted : value.suppressed;
            std::string tokens_pushed;
            for (const auto& t : pushed) tokens_pushed += "'" + tok.token_text(t.token) + "' ";
            std::printf("  L%zu N%zu  activation %+.2f  adds %+.3f to the logit; at this sign it pushes up %s\n", n.layer,
                        n.neuron, static_cast<double>(n.activation), n.logit, tokens_pushed.c_str());
        }

        // Edits are hooks on blocks.L.mlp.hook_post: scale 0 ablates, 2 doubles.
        const std::string first = "L" + std::to_string(top[0].layer) + "N" + std::to_string(top[0].neuron);
        std::string three;
        for (std::size_t i = 0; i < 3; ++i) three += (i ? "," : "") + ("L" + std::to_string(top[i].layer) + "N" + std::to_string(top[i].neuron));
        for (const auto& [what, spec] : {std::pair<std::string, std::string>{"ablate " + first, first},
                                         {"ablate the top 3", three},
                                         {"double " + first, first + "=2"}}) {
            const auto e = xlens::measure_edit(model, tokens, paris, xlens::parse_interventions(spec), {}, &tok);
            std::printf("%s: P(' Paris') %.3f -> %.3f (rank %zu -> %zu)\n", what.c_str(), e.before.prob, e.after.prob,
                        e.before.rank, e.after.rank);
        }
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
