// xlens — command-line front end over the library's public API.
//
//   xlens info MODEL [--json]
//   xlens forward MODEL --tokens 1,2,3 --npy LOGITS.npy [--cache CACHE.safetensors] [--cache-npy DIR]
//                       [--cache-filter NAME_PREFIX[,NAME_PREFIX...]]
//   xlens dequantize MODEL.gguf --safetensors OUT.safetensors
//   xlens --version
//
// MODEL is a Hugging Face folder, a .safetensors file with config.json beside it, or a .gguf file.
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xlens/xlens.hpp>

namespace {

const char* usage = R"(usage:
  xlens info MODEL [--json]
      architecture, config, load notes, parameter counts per component, every tensor
  xlens forward MODEL --tokens 1,2,3 --npy LOGITS.npy [--cache CACHE.safetensors]
                [--cache-npy DIR] [--cache-filter PREFIX[,PREFIX...]]
      final logits [T, vocab] float32 to .npy; optionally every hook activation (TransformerLens names)
  xlens dequantize MODEL.gguf --safetensors OUT.safetensors
      every GGUF tensor as float32, in the file's own layout (no Q/K re-ordering)
  xlens --version

MODEL: a Hugging Face folder, a .safetensors file with config.json beside it, or a .gguf file.
)";

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Options after the subcommand and its positional MODEL: "--name value" pairs and bare flags.
struct arguments {
    std::string model;
    std::map<std::string, std::string> options;

    std::string get(const std::string& name, const std::string& fallback = "") const {
        auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
    std::string require(const std::string& name) const {
        auto it = options.find(name);
        if (it == options.end() || it->second.empty()) throw usage_error("missing --" + name);
        return it->second;
    }
    bool has(const std::string& name) const { return options.count(name) != 0; }
};

arguments parse(int argc, char** argv, const std::vector<std::string>& flags, const std::vector<std::string>& valued) {
    arguments a;
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0) {
            std::string name = s.substr(2);
            if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
                a.options[name] = "1";
            } else if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
                if (i + 1 >= argc) throw usage_error("--" + name + " needs a value");
                a.options[name] = argv[++i];
            } else {
                throw usage_error("unknown option " + s);
            }
        } else if (a.model.empty()) {
            a.model = s;
        } else {
            throw usage_error("unexpected argument '" + s + "'");
        }
    }
    if (a.model.empty()) throw usage_error("missing MODEL");
    return a;
}

std::vector<xlens::token_id> parse_tokens(const std::string& text) {
    std::vector<xlens::token_id> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            std::size_t used = 0;
            long long v = std::stoll(item, &used);
            if (used != item.size() || v < INT32_MIN || v > INT32_MAX) throw std::invalid_argument(item);
            out.push_back(static_cast<xlens::token_id>(v));
        } catch (const std::logic_error&) {
            throw usage_error("--tokens: '" + item + "' is not an integer token id");
        }
    }
    return out;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

nlohmann::json config_json(const xlens::model_config& c) {
    return {
        {"architecture", c.architecture}, {"d_model", c.d_model}, {"n_layers", c.n_layers},
        {"d_vocab", c.d_vocab}, {"n_ctx", c.n_ctx},
        {"norm", c.norm.kind == xlens::norm_kind::rms_norm ? "rms_norm" : "layer_norm"}, {"norm_eps", c.norm.eps},
        {"n_heads", c.attn.n_heads}, {"n_kv_heads", c.attn.n_kv_heads}, {"d_head", c.attn.d_head},
        {"qkv_bias", c.attn.qkv_bias}, {"o_bias", c.attn.o_bias},
        {"positions", c.attn.positions == xlens::position_kind::rotary ? "rotary" : "learned"},
        {"rotary_dim", c.attn.rotary.rotary_dim}, {"rope_theta", c.attn.rotary.theta},
        {"rope_scaling", c.attn.rotary.scaling}, {"sliding_window", c.attn.sliding_window},
        {"d_mlp", c.mlp.d_mlp}, {"gated_mlp", c.mlp.gated}, {"activation", xlens::activation_name(c.mlp.activation)},
        {"mlp_bias", c.mlp.bias}, {"parallel_residual", c.parallel_residual}, {"tied_embeddings", c.tied_embeddings},
    };
}

int cmd_info(const arguments& a) {
    auto m = xlens::model::load(a.model);
    auto counts = xlens::parameter_counts(m);
    if (a.has("json")) {
        nlohmann::json j;
        j["source"] = m.source();
        j["format"] = m.format();
        j["config"] = config_json(m.config());
        for (const auto& [k, v] : m.metadata()) j["metadata"][k] = v;
        j["load_notes"] = m.load_notes();
        for (const auto& [k, v] : counts) j["parameters"][k] = v;
        for (const auto& t : m.inventory())
            j["tensors"].push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"bytes", t.bytes}});
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << "model     " << m.source() << " (" << m.format() << ")\n";
    for (const auto& [k, v] : m.metadata()) std::cout << "  " << k << ": " << v << "\n";
    std::cout << "config\n";
    auto config = config_json(m.config());
    for (const auto& [k, v] : config.items()) std::cout << "  " << k << ": " << v.dump() << "\n";
    std::cout << "parameters\n";
    for (const auto& [k, v] : counts) std::printf("  %-20s %14llu\n", k.c_str(), static_cast<unsigned long long>(v));
    if (!m.load_notes().empty()) std::cout << "load notes\n";
    for (const auto& n : m.load_notes()) std::cout << "  - " << n << "\n";
    std::cout << "tensors (" << m.inventory().size() << ")\n";
    std::uint64_t total = 0;
    for (const auto& t : m.inventory()) {
        std::printf("  %-56s %-5s %-16s %12llu\n", t.name.c_str(), t.dtype.c_str(), shape_text(t.shape).c_str(),
                    static_cast<unsigned long long>(t.bytes));
        total += t.bytes;
    }
    std::printf("  %-56s %-5s %-16s %12llu\n", "total bytes", "", "", static_cast<unsigned long long>(total));
    return 0;
}

int cmd_forward(const arguments& a) {
    if (a.has("prompt"))
        throw usage_error("--prompt needs the text tokenizer, which this version does not have yet; pass --tokens");
    auto tokens = parse_tokens(a.require("tokens"));
    auto out = a.require("npy");
    auto m = xlens::model::load(a.model);
    bool want_cache = a.has("cache") || a.has("cache-npy");
    xlens::activation_cache cache;
    xlens::run_options options;
    if (want_cache) {
        options.cache = &cache;
        if (a.has("cache-filter")) {
            std::vector<std::string> prefixes;
            std::stringstream ss(a.get("cache-filter"));
            for (std::string p; std::getline(ss, p, ',');) prefixes.push_back(p);
            options.cache_filter = xlens::hook_filter::prefixes(prefixes);
        }
    }
    auto logits = xlens::forward(m, tokens, options);
    xlens::io::write_npy(out, logits.data(), {logits.shape()[0], logits.shape()[1]});
    if (a.has("cache")) cache.save_safetensors(a.get("cache"));
    if (a.has("cache-npy")) cache.save_npy(a.get("cache-npy"));
    std::cerr << "xlens: " << tokens.size() << " tokens → logits " << logits.shape()[0] << "×" << logits.shape()[1]
              << " in " << out;
    if (want_cache) std::cerr << "; cached " << cache.size() << " activations (" << cache.bytes() / 1024 << " KiB)";
    std::cerr << "\n";
    return 0;
}

int cmd_dequantize(const arguments& a) {
    auto out = a.require("safetensors");
    xlens::io::gguf_file file(a.model);
    std::vector<std::vector<float>> buffers;
    std::vector<xlens::io::tensor_to_write> tensors;
    buffers.reserve(file.tensors().size());
    for (const auto& t : file.tensors()) {
        buffers.push_back(xlens::io::to_f32(t));
        tensors.push_back({t.name, xlens::io::dtype::f32, t.shape, buffers.back().data()});
    }
    xlens::io::write_safetensors(out, tensors, {{"source", a.model}, {"producer", "xlens dequantize"}});
    std::cerr << "xlens: wrote " << tensors.size() << " float32 tensors to " << out << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << usage;
        return argc < 2 ? 2 : 0;
    }
    std::string command = argv[1];
    if (command == "--version") {
        std::cout << "xlens " << XLENS_VERSION_STRING << "\n";
        return 0;
    }
    try {
        if (command == "info") return cmd_info(parse(argc, argv, {"json"}, {}));
        if (command == "forward")
            return cmd_forward(parse(argc, argv, {}, {"tokens", "prompt", "npy", "cache", "cache-npy", "cache-filter"}));
        if (command == "dequantize") return cmd_dequantize(parse(argc, argv, {}, {"safetensors"}));
        throw usage_error("unknown command '" + command + "'");
    } catch (const usage_error& e) {
        std::cerr << "xlens: " << e.what() << "\n\n" << usage;
        return 2;
    } catch (const xlens::error& e) {
        std::cerr << "xlens: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "xlens: unexpected error: " << e.what() << "\n";
        return 1;
    }
}
