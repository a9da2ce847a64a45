// Uses the installed package: loads a model folder given on the command line, tokenizes a text with
// its tokenizer.json (PCRE2 must come along through find_package), and prints the top-1 next token.
#include <cstdio>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    auto model = xlens::model::load(argv[1]);
    auto tok = xlens::load_tokenizer(argv[1]);
    auto ids = tok.encode("Hello, world");
    auto logits = xlens::run(model, ids);
    xlens::token_id best = xlens::argmax(logits.data() + (ids.size() - 1) * logits.shape()[1], logits.shape()[1]);
    std::printf("xlens %s: %s, %zu tokens, top-1 next = %d %s\n", XLENS_VERSION_STRING, model.config().architecture.c_str(),
                ids.size(), best, tok.token_text(best).c_str());
    return logits.shape()[0] == ids.size() ? 0 : 1;
}
