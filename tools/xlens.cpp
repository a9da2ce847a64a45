// xlens — command-line front end over the library's public API.
//
//   xlens info MODEL [--json]
//   xlens forward MODEL --tokens 1,2,3 --npy LOGITS.npy [--cache CACHE.safetensors] [--cache-npy DIR]
//                       [--cache-filter NAME_PREFIX[,NAME_PREFIX...]]
//   xlens tokenize | generate | probe MODEL --prompt TEXT ...
//   xlens lens | attribute MODEL --prompt TEXT ...;  xlens patch MODEL --clean TEXT --corrupt TEXT ...
//   xlens heads MODEL [--corpus FILE] ...
//   xlens neurons | rules | edit MODEL ...;  xlens rules-predict RULES.json --prompt TEXT
//   xlens bench MODEL [-p 128] [-n 64];  xlens dequantize MODEL.gguf --safetensors OUT.safetensors
//   xlens --version
// (the usage text below lists every option)
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

#include "cli/analysis_commands.hpp"
#include "cli/arguments.hpp"
#include "cli/bench_command.hpp"
#include "cli/database_commands.hpp"
#include "cli/head_commands.hpp"
#include "cli/neuron_commands.hpp"
#include "cli/text_commands.hpp"

namespace {

using cli::arguments;
using cli::parse;
using cli::parse_tokens;
using cli::usage_error;

const char* usage = R"(usage:
  xlens info MODEL [--json]
      architecture, config, load notes, parameter counts per component, every tensor
  xlens forward MODEL (--tokens 1,2,3 | --prompt TEXT) --npy LOGITS.npy [--cache CACHE.safetensors]
                [--cache-npy DIR] [--cache-filter PREFIX[,PREFIX...]]
      final logits [T, vocab] float32 to .npy; optionally every hook activation (TransformerLens names)
  xlens tokenize MODEL (--prompt TEXT | --file PATH) [--json] [--no-special] [--split-special]
  xlens tokenize MODEL --batch RECORDS [--decoded OUT]
      token ids and pieces; --no-special: no BOS/EOS; --split-special: "<|im_start|>" in the text is
      plain text; --batch: one line of ids per record (u32 little-endian length + bytes)
  xlens generate MODEL --prompt TEXT [-n N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
                [--chat] [--json] [--ignore-eos]
      streams N (default 32) new tokens; temperature 0 (default) is greedy; stops at EOS/end of turn
      unless --ignore-eos;
      --chat wraps the prompt in the model's chat template (ChatML)
  xlens probe MODEL --prompt TEXT [-n N and the sampling options above] [--top K]
                [--json OUT.json] [--html OUT.html]
      per position and generated token: residual norms, logit lens per layer, attention per head,
      top-K candidates, the chosen token's probability and rank; prints a table
  xlens lens MODEL (--prompt TEXT | --tokens 1,2,3) [--target TOKEN] [--top K] [--frozen-scale]
                [--json OUT.json] [--npy OUT.npy] [--svg OUT.svg]
      logit lens: every layer's residual stream (resid_pre of each block, final resid_post) through the
      final norm and unembedding at every position; top-K tokens, the target's probability and rank;
      --npy: all lens logits [layers, T, vocab]; --frozen-scale: divide by the final layer's norm scale
  xlens attribute MODEL (--prompt TEXT | --tokens 1,2,3) --target TOKEN [--versus TOKEN]
                [--position P] [--top N] [--json OUT.json] [--npy OUT.npy] [--svg OUT.svg]
      direct logit attribution: the logit (or the difference with --versus) at position P (default:
      last) split into embedding, every head, every MLP and bias; prints a receipt that must sum
  xlens patch MODEL (--clean TEXT | --clean-tokens 1,2,3) (--corrupt TEXT | --corrupt-tokens 1,2,3)
                --answer TOKEN --wrong TOKEN [--target resid_pre|attn_out|mlp_out|head|head_by_position]
                [--direction denoising|noising] [--layers 0,3-7] [--heads 0-2] [--raw] [--threads N]
                [--brute-force]
                [--json OUT.json] [--npy OUT.npy] [--svg OUT.svg]
      activation patching, metric logit(answer) - logit(wrong) at the last position, normalised so
      clean = 1 and corrupted = 0 (--raw: not normalised); --brute-force: rerun every patched prompt
      from the embedding instead of resuming at the patched block (for checking); --layers, --heads:
      patch only these (ascending indices and ranges)
  xlens heads MODEL [--corpus FILE [--sequences N] [--seq-len T]] [--random-repeats N] [--repeat-length L]
                [--k K] [--method kmeans|ward] [--threshold X] [--window K] [--seed S] [--prompt TEXT]
                [--json OUT.json] [--html OUT.html]
      attention-head roles: every head scored (previous-token, induction, duplicate-token, first-token,
      self, local, mean distance, entropy; induction and duplicate-token on N random sequences of L
      tokens repeated twice, the rest on the corpus when given), clustered (k by silhouette unless
      --k), each head and cluster named; prints a layer x head map; --html: roles table, map, the
      selected head's pattern on --prompt (default: a random repeat), PCA scatter
  xlens neurons MODEL [--layers 0,3-7] [--k K] [--neuron LxNy] [--show N] [--json OUT.json]
                [--corpus FILE [--windows N] [--length T] [--contexts K] [--checkpoint STATE.json]]
      FFN neurons as key-value memories: each neuron's output vector through the final norm's gain
      and the unembedding (top-K promoted and suppressed tokens); with --corpus, the contexts that
      make it fire most (top --contexts per neuron), its mean activation and how often it is active
  xlens rules MODEL --corpus FILE --out RULES.json [--held-out 0.1] [--windows N] [--eval-windows N]
                [--length T] [--tokens K] [--contexts K] [--trigger-length 1|2] [--layers ...]
                [--min-bias B] [--min-count N] [--direct-all] [--compare-random-init [--seed S]]
                [--checkpoint STATE.json]
      readable rules (prior, direct path, one per neuron) harvested from the corpus minus its last
      --held-out share; prints and stores their fidelity to the model on that held-out text, with a
      unigram baseline and (--compare-random-init) the same pipeline on an untrained model;
      --min-bias: leave out neuron rules moving no logit by this much (0.1); --min-count: leave out
      triggers seen at fewer corpus positions (1); --direct-all: direct rules for every token, not
      only the corpus's
  xlens rules-predict RULES.json (--prompt TEXT [--model MODEL] | --tokens 1,2,3) [--top K] [--receipt]
                [--json OUT.json]
      next-token prediction from the rules alone (the model is not run; its tokenizer is read for
      --prompt); --receipt: which rules fired and what each added to every listed token
  xlens edit MODEL (--prompt TEXT | --tokens 1,2,3) --target TOKEN --edit L12N403,L3H2=0.5 [--position P]
      ablate (or scale, =S) neurons and heads in a run; prints the target's probability before → after
  xlens bench MODEL [-p 128] [-n 64] [-r 3] [--threads N] [--json]
      speed as llama-bench reports it: prompt processing (pp: -p tokens in one forward pass) and text
      generation (tg: -n tokens one at a time with a KV cache) in tokens/s, and the peak resident memory
  xlens dequantize MODEL.gguf --safetensors OUT.safetensors
      every GGUF tensor as float32, in the file's own layout (no Q/K re-ordering)
  xlens export MODEL --sqlite OUT.db [--neuron-tokens K] [--head-copying] [--rules RULES.json] [--no-verify]
      the model as an SQLite database (docs/database.md): tokens, heads, neurons, norms as rows, vectors
      in the checkpoint's own bytes; written to OUT.db.tmp, rebuilt and checked against every source
      SHA-256, then renamed; --neuron-tokens: each neuron's top-K promoted and suppressed tokens;
      --head-copying: each head's OV copying score; --rules: a rules.json from xlens rules
  xlens import DB (--safetensors OUT.safetensors | --files DIR)
      every tensor back, bytes identical to the source's (config and tokenizer files beside it), or
      (--files) the source's files themselves, byte for byte
  xlens query DB (--sql 'SELECT ...' | --examples) [--json]
      read-only SQL with the vector functions (vec_dot, vec_cosine, vec_norm, vec_mul, vec_center, ...);
      --examples: run the documented example queries and time each
  xlens --version

MODEL: a Hugging Face folder, a .safetensors file with config.json beside it, a .gguf file, or a
database written by xlens export. Every command that opens a MODEL also takes --threads N (xlens's
kernels and OpenBLAS; default: OpenBLAS's count) and --dequantize (every weight converted to float32 at
load; by default matrices stay in their stored type, e.g. Q4_K, and are dequantised inside each matmul).
TOKEN: text that is exactly one token (e.g. " Paris", with its leading space), or id:N.
)";

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
    auto m = cli::load_model(a);
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
    if (a.has("prompt") == a.has("tokens")) throw usage_error("give either --tokens or --prompt");
    auto tokens = a.has("tokens") ? parse_tokens(a.get("tokens")) : xlens::load_tokenizer(a.model).encode(a.get("prompt"));
    auto out = a.require("npy");
    auto m = cli::load_model(a);
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
        if (command == "tokenize")
            return cli::cmd_tokenize(parse(argc, argv, {"json", "no-special", "split-special"},
                                           {"prompt", "file", "batch", "decoded"}));
        if (command == "generate")
            return cli::cmd_generate(parse(argc, argv, {"chat", "json", "ignore-eos"},
                                           {"prompt", "file", "n", "temperature", "top-k", "top-p", "seed"}));
        if (command == "probe")
            return cli::cmd_probe(parse(argc, argv, {"chat"}, {"prompt", "file", "n", "temperature", "top-k", "top-p",
                                                               "seed", "top", "json", "html"}));
        if (command == "lens")
            return cli::cmd_lens(parse(argc, argv, {"frozen-scale"}, {"prompt", "tokens", "target", "top", "json", "npy", "svg"}));
        if (command == "attribute")
            return cli::cmd_attribute(parse(argc, argv, {}, {"prompt", "tokens", "target", "versus", "position", "top",
                                                             "json", "npy", "svg"}));
        if (command == "patch")
            return cli::cmd_patch(parse(argc, argv, {"raw", "brute-force"},
                                        {"clean", "clean-tokens", "corrupt", "corrupt-tokens", "answer", "wrong", "target",
                                         "direction", "layers", "heads", "threads", "json", "npy", "svg"}));
        if (command == "heads")
            return cli::cmd_heads(parse(argc, argv, {}, {"corpus", "sequences", "seq-len", "random-repeats", "repeat-length",
                                                         "k", "method", "threshold", "window", "seed", "prompt", "json",
                                                         "html"}));
        if (command == "neurons")
            return cli::cmd_neurons(parse(argc, argv, {}, {"layers", "k", "neuron", "show", "json", "corpus", "windows",
                                                           "length", "contexts", "checkpoint"}));
        if (command == "rules")
            return cli::cmd_rules(parse(argc, argv, {"compare-random-init", "direct-all"},
                                        {"corpus", "out", "held-out", "windows", "eval-windows", "length", "tokens", "contexts",
                                         "trigger-length", "prior-tokens", "min-bias", "min-count", "layers", "seed", "checkpoint"}));
        if (command == "rules-predict")
            return cli::cmd_rules_predict(parse(argc, argv, {"receipt"}, {"prompt", "tokens", "model", "top", "json"}));
        if (command == "edit")
            return cli::cmd_edit(parse(argc, argv, {}, {"prompt", "tokens", "target", "edit", "position"}));
        if (command == "bench") return cli::cmd_bench(parse(argc, argv, {"json"}, {"p", "n", "r"}));
        if (command == "dequantize") return cmd_dequantize(parse(argc, argv, {}, {"safetensors"}));
        if (command == "export")
            return cli::cmd_export(parse(argc, argv, {"head-copying", "no-verify"}, {"sqlite", "neuron-tokens", "rules"}));
        if (command == "import") return cli::cmd_import(parse(argc, argv, {}, {"safetensors", "files"}));
        if (command == "query") return cli::cmd_query(parse(argc, argv, {"examples", "json"}, {"sql"}));
        throw usage_error("unknown command '" + command + "'");
    } catch (const cli::interrupted_error& e) {
        std::cerr << "xlens: " << e.what() << "\n";
        return 130;
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
