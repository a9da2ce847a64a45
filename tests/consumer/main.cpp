// Uses the installed package: loads a model folder given on the command line and prints its top-1 token.
#include <cstdio>

#include <xlens/xlens.hpp>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    auto model = xlens::model::load(argv[1]);
    auto logits = xlens::run(model, {1, 2, 3});
    std::size_t best = 0;
    for (std::size_t i = 1; i < logits.shape()[1]; ++i)
        if (logits(2, i) > logits(2, best)) best = i;
    std::printf("xlens %s: %s, top-1 after [1, 2, 3] = %zu\n", XLENS_VERSION_STRING, model.config().architecture.c_str(), best);
    return logits.shape()[0] == 3 ? 0 : 1;
}
