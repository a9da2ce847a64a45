// inspect_model — open a model, run one prompt with every hook cached, and read the run.
//
//   inspect_model MODEL [--tokens 504,414,46682,18669,314,281]
//
// Prints, for the last position: the residual stream's norm after every block, what the model would
// predict if it stopped at each block (a small logit lens: final norm + unembedding applied to the
// cached residual), the final top-5 next tokens, and the head that attends most strongly away from
// the first token. Token strings come from the GGUF's own vocabulary when MODEL is a .gguf.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include <xlens/xlens.hpp>

namespace {

// GPT-2 style byte-level vocabularies spell byte b as a printable code point; map it back.
std::string decode_byte_level(const std::string& token) {
    std::vector<int> byte_of(324, -1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        byte_of[printable ? b : next++] = b;
    }
    std::string out;
    for (std::size_t i = 0; i < token.size();) {  // decode UTF-8 code points of the token text
        unsigned char c = static_cast<unsigned char>(token[i]);
        int cp = c, len = 1;
        if (c >= 0xC0 && c < 0xE0 && i + 1 < token.size()) cp = ((c & 0x1F) << 6) | (token[i + 1] & 0x3F), len = 2;
        else if (c >= 0xE0 && i + 2 < token.size()) cp = ((c & 0x0F) << 12) | ((token[i + 1] & 0x3F) << 6) | (token[i + 2] & 0x3F), len = 3;
        out += (cp < 324 && byte_of[cp] >= 0) ? static_cast<char>(byte_of[cp]) : '?';
        i += len;
    }
    return out;
}

std::vector<std::string> vocabulary(const std::string& path) {
    if (path.size() < 5 || path.substr(path.size() - 5) != ".gguf") return {};
    xlens::io::gguf_file f(path);
    if (!f.has("tokenizer.ggml.tokens")) return {};
    auto tokens = f.get_string_array("tokenizer.ggml.tokens");
    for (auto& t : tokens) t = decode_byte_level(t);
    return tokens;
}

std::string text_of(const std::vector<std::string>& vocab, std::size_t id) {
    return id < vocab.size() ? "'" + vocab[id] + "'" : "#" + std::to_string(id);
}

/// Softmax of one row of logits, returned as probabilities.
std::vector<float> softmax(const float* logits, std::size_t n) {
    float max = *std::max_element(logits, logits + n);
    std::vector<float> p(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += p[i] = std::exp(logits[i] - max);
    for (auto& v : p) v = static_cast<float>(v / sum);
    return p;
}

std::size_t argmax(const float* x, std::size_t n) { return static_cast<std::size_t>(std::max_element(x, x + n) - x); }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: inspect_model MODEL [--tokens 1,2,3]\n");
        return 2;
    }
    std::string path = argv[1];
    // SmolLM2's tokenizer turns "The Eiffel Tower is in" into these ids (checked against HF tokenizers).
    std::vector<xlens::token_id> tokens = {504, 414, 46682, 18669, 314, 281};
    if (argc == 4 && std::string(argv[2]) == "--tokens") {
        tokens.clear();
        std::stringstream ss(argv[3]);
        for (std::string item; std::getline(ss, item, ',');) tokens.push_back(std::stoi(item));
    }
    try {
        auto model = xlens::model::load(path);
        const auto& c = model.config();
        auto vocab = vocabulary(path);
        std::printf("%s: %s, %zu layers, d_model %zu, %zu heads (%zu kv), vocab %zu\n", path.c_str(), c.architecture.c_str(),
                    c.n_layers, c.d_model, c.attn.n_heads, c.attn.n_kv_heads, c.d_vocab);
        std::printf("prompt:");
        for (auto t : tokens) std::printf(" %s", text_of(vocab, static_cast<std::size_t>(t)).c_str());
        std::printf("\n\n");

        auto [logits, cache] = xlens::run_with_cache(model, tokens);
        const std::size_t T = tokens.size(), last = T - 1, V = c.d_vocab;

        std::printf("%-6s %10s   %-20s\n", "block", "|resid|", "logit lens top-1 (last position)");
        for (std::size_t L = 0; L < c.n_layers; ++L) {
            const auto& resid = cache.at({xlens::hook_kind::resid_post, static_cast<int>(L)});
            xlens::activation row = xt::view(resid, xt::range(last, last + 1), xt::all());
            double norm = 0;
            for (float v : row) norm += double(v) * v;
            // What the model would say if the residual stream went straight to the unembedding here.
            auto lens = xlens::blocks::unembed(
                xlens::blocks::norm(row, model.weights().ln_final, c.norm, xlens::hook_context(), {}), model.weights().unembed);
            auto p = softmax(lens.data(), V);
            auto top = argmax(lens.data(), V);
            std::printf("%-6zu %10.2f   %-20s %.3f\n", L, std::sqrt(norm), text_of(vocab, top).c_str(), p[top]);
        }

        auto p = softmax(logits.data() + last * V, V);
        std::vector<std::size_t> order(V);
        for (std::size_t i = 0; i < V; ++i) order[i] = i;
        std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](auto a, auto b) { return p[a] > p[b]; });
        std::printf("\nnext token:\n");
        for (int i = 0; i < 5; ++i)
            std::printf("  %-16s p=%.4f  logit=%.4f\n", text_of(vocab, order[i]).c_str(), p[order[i]], logits(last, order[i]));

        // The head whose last-position attention puts the most mass on one non-first token.
        float best = -1;
        std::size_t best_layer = 0, best_head = 0, best_key = 0;
        for (std::size_t L = 0; L < c.n_layers; ++L) {
            const auto& pattern = cache.at({xlens::hook_kind::pattern, static_cast<int>(L)});
            for (std::size_t h = 0; h < c.attn.n_heads; ++h)
                for (std::size_t k = 1; k < T; ++k)
                    if (pattern(h, last, k) > best) best = pattern(h, last, k), best_layer = L, best_head = h, best_key = k;
        }
        std::printf("\nstrongest non-first-token attention from the last position: L%zu H%zu → %s (%.2f)\n", best_layer,
                    best_head, text_of(vocab, static_cast<std::size_t>(tokens[best_key])).c_str(), best);
        std::printf("cached %zu activations, %.1f MiB\n", cache.size(), cache.bytes() / 1048576.0);
    } catch (const xlens::error& e) {
        std::fprintf(stderr, "inspect_model: %s\n", e.what());
        return 1;
    }
    return 0;
}
