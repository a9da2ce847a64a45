// tools/cli/neuron_commands.hpp — `xlens neurons`, `xlens rules`, `xlens rules-predict`, `xlens edit`.
//
// Long harvests show progress (rate, ETA) on stderr and can be interrupted: with --checkpoint FILE
// the state is saved every 30 s, on Ctrl-C / SIGTERM and once complete, and the same command
// resumes from it. The neuron tables and rules.json are written only when complete, and atomically
// (FILE.tmp, then renamed).
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <xlens/analysis/interventions.hpp>
#include <xlens/analysis/neuron_harvest.hpp>
#include <xlens/analysis/neuron_values.hpp>
#include <xlens/analysis/rule_engine.hpp>
#include <xlens/analysis/rules.hpp>
#include <xlens/io/file_writer.hpp>
#include <xlens/io/json.hpp>
#include <xlens/model/random_init.hpp>
#include <xlens/text/corpus.hpp>
#include <xlens/text/tokenizer_files.hpp>

#include "cli/analysis_commands.hpp"
#include "cli/arguments.hpp"
#include "cli/text_commands.hpp"

namespace cli {

/// Set by SIGINT / SIGTERM; long loops check it between steps.
inline std::atomic<bool>& interrupted() {
    static std::atomic<bool> flag{false};
    return flag;
}

/// A stop requested by a signal: exit status 130, after saving what can be resumed.
struct interrupted_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// While alive, SIGINT and SIGTERM only raise interrupted(); afterwards they stop the process again.
class interrupts_caught {
public:
    interrupts_caught() {
        auto on_signal = [](int) { interrupted().store(true); };
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
    }
    ~interrupts_caught() {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        // A signal that arrived after the last check still stops the process (unless it is what
        // is unwinding the stack now: that one is reported by the caller).
        if (interrupted().exchange(false) && std::uncaught_exceptions() == 0) std::raise(SIGINT);
    }
    interrupts_caught(const interrupts_caught&) = delete;
    interrupts_caught& operator=(const interrupts_caught&) = delete;
};

/// "what  done/total  rate/s  ETA m:ss" on stderr: redrawn in place on a terminal, every 10% otherwise.
class progress_line {
public:
    progress_line(std::string what, std::size_t total, std::size_t done = 0)
        : what_(std::move(what)), total_(total), start_done_(done), tty_(::isatty(2) != 0),
          start_(std::chrono::steady_clock::now()) {}
    void update(std::size_t done) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const double rate = seconds > 0 ? static_cast<double>(done - start_done_) / seconds : 0;
        const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
        const std::size_t decile = total_ ? done * 10 / total_ : 10;
        if (!tty_ && decile == last_decile_ && done != total_) return;
        last_decile_ = decile;
        std::fprintf(stderr, "%s%s %zu/%zu  %.1f/s  ETA %d:%02d%s", tty_ ? "\r" : "", what_.c_str(), done, total_, rate,
                     static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, tty_ ? "   " : "\n");
        if (tty_ && done == total_) std::fprintf(stderr, "\n");
    }

private:
    std::string what_;
    std::size_t total_, start_done_;
    bool tty_;
    std::chrono::steady_clock::time_point start_;
    std::size_t last_decile_ = 11;
};

/// FNV-1a over everything that decides a harvest's result, so a checkpoint is only resumed by the same run.
inline std::string harvest_fingerprint(const xlens::model& m, const std::vector<std::vector<xlens::token_id>>& windows,
                                       const xlens::harvest_options& o) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::uint64_t v) {
        for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ (v & 0xff)) * 1099511628211ull;
    };
    for (char ch : m.source()) mix(static_cast<unsigned char>(ch));
    mix(o.k);
    mix(o.skip_first);
    for (auto L : o.layers) mix(L);
    for (const auto& w : windows) {
        mix(w.size());
        for (auto t : w) mix(static_cast<std::uint64_t>(t));
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

inline void save_checkpoint(const xlens::neuron_harvester& h, const std::string& path, const std::string& fingerprint) {
    const std::string text = h.state(fingerprint).dump() + "\n";
    xlens::io::detail::write_file_atomically(path, {{text.data(), text.size()}});
}

/// Harvests `windows` into a fresh harvester, resuming from `checkpoint` if it exists. The
/// checkpoint stays until the caller has written its output (finish_checkpoint).
inline xlens::neuron_harvester harvest(const xlens::model& m, const std::vector<std::vector<xlens::token_id>>& windows,
                                       const xlens::harvest_options& options, const std::string& checkpoint,
                                       const std::string& label) {
    xlens::neuron_harvester h(m, options);
    const std::string fingerprint = harvest_fingerprint(m, windows, h.options());
    if (!checkpoint.empty() && std::filesystem::exists(checkpoint)) {
        h.restore(xlens::io::read_json_file(checkpoint, std::size_t(1) << 30), fingerprint);
        std::cerr << "xlens: resuming the harvest from " << checkpoint << " at window " << h.windows() << " of "
                  << windows.size() << "\n";
    }
    interrupts_caught guard;
    progress_line bar(label, windows.size(), h.windows());
    auto last_save = std::chrono::steady_clock::now();
    while (true) {
        if (interrupted().load()) {
            if (checkpoint.empty())
                throw interrupted_error("interrupted after " + std::to_string(h.windows()) + " of " + std::to_string(windows.size()) +
                                        " windows; nothing was written (give --checkpoint FILE to make a run resumable)");
            save_checkpoint(h, checkpoint, fingerprint);
            throw interrupted_error("interrupted after " + std::to_string(h.windows()) + " of " + std::to_string(windows.size()) +
                                    " windows; the state is in " + checkpoint + ": run the same command again to resume");
        }
        if (h.windows() == windows.size()) break;
        h.add(windows[h.windows()]);
        bar.update(h.windows());
        if (!checkpoint.empty() && std::chrono::steady_clock::now() - last_save > std::chrono::seconds(30)) {
            save_checkpoint(h, checkpoint, fingerprint);
            last_save = std::chrono::steady_clock::now();
        }
    }
    // Complete: saved, so an interruption in what follows (rules, fidelity) does not cost the harvest.
    if (!checkpoint.empty()) save_checkpoint(h, checkpoint, fingerprint);
    return h;
}

/// The output is written: a rerun starts afresh.
inline void finish_checkpoint(const std::string& checkpoint) {
    if (!checkpoint.empty()) std::filesystem::remove(checkpoint);
}

/// The corpus windows a harvest runs over, each after the tokenizer's BOS (if it has one).
inline std::vector<std::vector<xlens::token_id>> harvest_windows(const arguments& a, const xlens::model& m, const xlens::tokenizer& tok,
                                                                 const std::string& text, std::size_t default_count,
                                                                 const char* count_option = "windows") {
    std::vector<xlens::token_id> prefix;
    if (tok.bos()) prefix.push_back(*tok.bos());
    const std::size_t fit = m.config().n_ctx - prefix.size();
    const std::size_t length = std::min(number_option<std::size_t>(a, "length", 64), fit);
    const std::size_t count = number_option<std::size_t>(a, count_option, default_count);
    if (count == 0) throw usage_error(std::string("--") + count_option + " must be at least 1");
    return xlens::corpus_windows(tok, text, length, count, prefix);
}

inline std::string seconds_since(std::chrono::steady_clock::time_point t0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", elapsed_seconds(t0));
    return buf;
}

/// "' Paris' +1.23, ' France' +0.98" for a token list.
inline std::string score_list(const std::vector<xlens::token_score>& list, const xlens::tokenizer* tok, std::size_t n) {
    std::string s;
    char buf[32];
    for (std::size_t i = 0; i < std::min(n, list.size()); ++i) {
        std::snprintf(buf, sizeof buf, " %+.2f", static_cast<double>(list[i].score));
        s += (i ? ", " : "") + shown(tok ? tok->token_text(list[i].token) : "id:" + std::to_string(list[i].token), 12) + buf;
    }
    return s;
}

/// A harvested context as text, the firing token in [[ ]]: "…the Eiffel[[ Tower]]".
inline std::string context_text(const std::vector<xlens::token_id>& w, std::size_t pos, const xlens::tokenizer& tok, std::size_t before = 8) {
    const std::size_t from = pos > before ? pos - before : 0;
    std::string s = from > 0 ? "…" : "";
    for (std::size_t t = from; t < pos; ++t) s += tok.token_text(w[t]);
    return s + "[[" + tok.token_text(w[pos]) + "]]";
}

inline nlohmann::json scores_json(const std::vector<xlens::token_score>& list, const xlens::tokenizer* tok) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : list)
        out.push_back({{"token", e.token}, {"text", tok ? tok->token_text(e.token) : ""}, {"score", e.score}});
    return out;
}

inline int cmd_neurons(const arguments& a) {
    const bool corpus = a.has("corpus");
    auto tok = tokenizer_for(a, corpus);
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto m = cli::load_model(a);
    const auto& c = m.config();
    xlens::neuron_value_options vo;
    vo.k = number_option<std::size_t>(a, "k", 10);
    vo.layers = index_list(a, "layers");
    std::optional<xlens::intervention> one;
    if (a.has("neuron")) {
        auto parsed = xlens::parse_interventions(a.get("neuron"));
        if (parsed.size() != 1 || parsed[0].what != xlens::intervention::target::neuron || parsed[0].scale != 0)
            throw usage_error("--neuron takes one neuron, written L<layer>N<index>, e.g. L12N403");
        one = parsed[0];
        xlens::detail::check_layer(c, one->layer);
        if (one->index >= c.mlp.d_mlp)
            throw xlens::input_error(551, "neuron " + std::to_string(one->index) + " is out of range: layers have " +
                                              std::to_string(c.mlp.d_mlp) + " neurons");
        vo.layers = {one->layer};
    }
    auto t0 = std::chrono::steady_clock::now();
    const xlens::neuron_value_table values = xlens::neuron_values(m, vo);
    std::cerr << "xlens: value side of " << values.neurons.size() << " neurons in " << seconds_since(t0) << "\n";

    std::optional<xlens::neuron_harvester> keys;
    std::vector<std::vector<xlens::token_id>> windows;
    if (corpus) {
        windows = harvest_windows(a, m, *t, xlens::read_corpus(a.get("corpus")), 200);
        xlens::harvest_options ho;
        ho.k = number_option<std::size_t>(a, "contexts", 8);
        ho.layers = values.layers;
        keys = harvest(m, windows, ho, a.get("checkpoint"), "harvest");
    }

    auto neuron_json = [&](std::size_t L, std::size_t n) {
        const auto& v = values.at(L, n);
        nlohmann::json j = {{"neuron", n}, {"mean_score", v.mean_score}, {"promoted", scores_json(v.promoted, t)},
                            {"suppressed", scores_json(v.suppressed, t)}};
        if (keys) {
            auto act = keys->activity(L, n);
            j["activation_mean"] = act.mean;
            j["scaled_activation_mean"] = act.mean_scaled;
            j["frequency"] = act.frequency;
            j["activation_max"] = act.max;
            nlohmann::json contexts = nlohmann::json::array();
            for (const auto& ctx : act.top) {
                const auto& w = windows[ctx.window];
                contexts.push_back({{"window", ctx.window}, {"position", ctx.position}, {"activation", ctx.activation},
                                    {"token", w[ctx.position]}, {"text", context_text(w, ctx.position, *t)}});
            }
            j["contexts"] = std::move(contexts);
        }
        return j;
    };
    auto print_neuron = [&](std::size_t L, std::size_t n) {
        const auto& v = values.at(L, n);
        std::cout << "L" << L << " N" << n << "\n  promotes   " << score_list(v.promoted, t, 6) << "\n  suppresses "
                  << score_list(v.suppressed, t, 6) << "\n";
        if (keys) {
            auto act = keys->activity(L, n);
            std::printf("  fires on (mean %.3f, active %.1f%% of positions):\n", act.mean, 100 * act.frequency);
            for (std::size_t i = 0; i < std::min<std::size_t>(act.top.size(), 5); ++i)
                std::printf("    %7.3f  %s\n", static_cast<double>(act.top[i].activation),
                            shown(context_text(windows[act.top[i].window], act.top[i].position, *t), 200).c_str());
        }
    };

    if (one) {
        print_neuron(one->layer, one->index);
    } else {
        // Per layer, the neurons whose strongest promoted token scores highest: the most decisive writers.
        const std::size_t show = number_option<std::size_t>(a, "show", 2);
        for (auto L : values.layers) {
            std::vector<std::size_t> order(values.d_mlp);
            for (std::size_t n = 0; n < order.size(); ++n) order[n] = n;
            std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
                return values.at(L, x).promoted[0].score - values.at(L, x).mean_score >
                       values.at(L, y).promoted[0].score - values.at(L, y).mean_score;
            });
            for (std::size_t i = 0; i < std::min(show, order.size()); ++i) print_neuron(L, order[i]);
        }
    }
    if (a.has("json")) {
        nlohmann::json out = {{"model", m.source()}, {"k", values.k}, {"d_mlp", values.d_mlp},
                              {"score", "(gamma * centre(W_out[:, n])) . W_U[:, t]: per unit of activation, before the final norm's 1/scale"}};
        if (keys) out["corpus"] = {{"source", a.get("corpus")}, {"windows", keys->windows()}, {"positions", keys->positions()}};
        nlohmann::json layers = nlohmann::json::array();
        for (auto L : values.layers) {
            nlohmann::json neurons = nlohmann::json::array();
            if (one) neurons.push_back(neuron_json(L, one->index));
            else
                for (std::size_t n = 0; n < values.d_mlp; ++n) neurons.push_back(neuron_json(L, n));
            layers.push_back({{"layer", L}, {"neurons", std::move(neurons)}});
        }
        out["layers"] = std::move(layers);
        const std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        xlens::io::detail::write_file_atomically(a.get("json"), {{text.data(), text.size()}});
        std::cerr << "xlens: wrote " << a.get("json") << "\n";
    }
    finish_checkpoint(a.get("checkpoint"));
    return 0;
}

/// Rules of one kind set only (the ablation rows of the fidelity table).
inline xlens::rule_set rules_of_kinds(const xlens::rule_set& all, std::initializer_list<xlens::rule_kind> kinds) {
    xlens::rule_set out = all;
    out.rules.clear();
    for (const auto& r : all.rules)
        if (std::find(kinds.begin(), kinds.end(), r.kind) != kinds.end()) out.rules.push_back(r);
    return out;
}

/// Value tables, harvest and rules for `m` over `windows`.
inline xlens::rule_set make_rules(const arguments& a, const xlens::model& m, const xlens::tokenizer& tok,
                                  const std::vector<std::vector<xlens::token_id>>& windows, const std::string& checkpoint,
                                  const std::string& label) {
    xlens::rule_options ro;
    ro.tokens = number_option<std::size_t>(a, "tokens", 10);
    ro.trigger_length = number_option<std::size_t>(a, "trigger-length", 1);
    ro.prior_tokens = number_option<std::size_t>(a, "prior-tokens", 0);
    ro.min_bias = number_option<double>(a, "min-bias", 0.1);
    ro.min_count = number_option<std::size_t>(a, "min-count", 1);
    ro.direct_all_tokens = a.has("direct-all");
    xlens::neuron_value_options vo;
    vo.k = ro.tokens;
    vo.layers = index_list(a, "layers");
    auto t0 = std::chrono::steady_clock::now();
    const auto values = xlens::neuron_values(m, vo);
    std::cerr << "xlens: " << label << ": value side of " << values.neurons.size() << " neurons in " << seconds_since(t0) << "\n";
    xlens::harvest_options ho;
    ho.k = number_option<std::size_t>(a, "contexts", 8);
    ho.layers = values.layers;
    const auto keys = harvest(m, windows, ho, checkpoint, label + ": harvest");
    t0 = std::chrono::steady_clock::now();
    auto rules = xlens::build_rules(m, values, keys, windows, &tok, ro);
    std::cerr << "xlens: " << label << ": " << rules.rules.size() << " rules in " << seconds_since(t0) << "\n";
    return rules;
}

inline int cmd_rules(const arguments& a) {
    auto tok = xlens::load_tokenizer(a.model);
    auto m = cli::load_model(a);
    const std::string out_path = a.require("out");
    const double held_out = number_option<double>(a, "held-out", 0.1);
    auto [learn_text, test_text] = xlens::split_held_out(xlens::read_corpus(a.require("corpus")), held_out);
    const auto windows = harvest_windows(a, m, tok, learn_text, 200);
    const auto test_windows = harvest_windows(a, m, tok, test_text, 20, "eval-windows");

    xlens::rule_set rules = make_rules(a, m, tok, windows, a.get("checkpoint"), "trained");
    rules.corpus["source"] = a.get("corpus");
    rules.corpus["held_out_share"] = held_out;
    const xlens::rule_engine all(rules), prior_direct(rules_of_kinds(rules, {xlens::rule_kind::prior, xlens::rule_kind::direct})),
        prior_neurons(rules_of_kinds(rules, {xlens::rule_kind::prior, xlens::rule_kind::neuron})),
        prior(rules_of_kinds(rules, {xlens::rule_kind::prior}));
    std::vector<std::pair<std::string, xlens::next_token_predictor>> predictors = {
        {"rules (prior + direct + neurons)", xlens::rules_predictor(all)},
        {"rules: prior + direct", xlens::rules_predictor(prior_direct)},
        {"rules: prior + neurons", xlens::rules_predictor(prior_neurons)},
        {"rules: prior only", xlens::rules_predictor(prior)},
        {"unigram (harvest corpus)", xlens::unigram_predictor(windows, m.config().d_vocab)},
    };
    std::optional<xlens::rule_engine> untrained_engine;
    std::optional<xlens::model> untrained;
    if (a.has("compare-random-init")) {
        untrained = xlens::random_init_like(m, number_option<std::uint64_t>(a, "seed", 0));
        const std::string checkpoint = a.has("checkpoint") ? a.get("checkpoint") + ".random-init" : "";
        untrained_engine.emplace(make_rules(a, *untrained, tok, windows, checkpoint, "random-init"));
        predictors.push_back({"random-init model's rules", xlens::rules_predictor(*untrained_engine)});
    }
    auto t0 = std::chrono::steady_clock::now();
    auto table = xlens::measure_fidelity(m, test_windows, predictors);
    nlohmann::json fidelity = {{"against", m.source()}, {"held_out_windows", test_windows.size()}, {"rows", xlens::to_json(table)}};
    if (untrained) {
        auto own = xlens::measure_fidelity(*untrained, test_windows, {{"random-init rules vs the random-init model", predictors.back().second}});
        fidelity["random_init_self"] = xlens::to_json(own);
        table.push_back(own[0]);
    }
    std::cerr << "xlens: fidelity on " << table[0].positions << " held-out positions in " << seconds_since(t0) << "\n";
    rules.fidelity = fidelity;
    xlens::save_rules(rules, out_path);
    finish_checkpoint(a.get("checkpoint"));
    if (untrained && a.has("checkpoint")) finish_checkpoint(a.get("checkpoint") + ".random-init");
    std::cerr << "xlens: wrote " << out_path << "\n";

    std::printf("fidelity to %s on %zu held-out positions (%zu windows)\n", m.source().c_str(), table[0].positions, test_windows.size());
    std::printf("  %-44s %8s %8s %10s\n", "predictor", "top-1", "top-5", "KL (nats)");
    for (const auto& r : table) std::printf("  %-44s %7.1f%% %7.1f%% %10.3f\n", r.name.c_str(), 100 * r.top1, 100 * r.top5, r.kl);
    return 0;
}

inline int cmd_rules_predict(const arguments& a) {
    const xlens::rule_engine engine(xlens::load_rules(a.model));
    const auto& rules = engine.rules();
    std::optional<xlens::tokenizer> tok;
    if (a.has("prompt")) {
        // Only the tokenizer is read from the model the rules came from; the transformer is not run.
        const auto& recorded = rules.model.contains("source") ? rules.model["source"] : nlohmann::json();
        const std::string source = a.get("model", recorded.is_string() ? recorded.get<std::string>() : "");
        if (source.empty()) throw usage_error("--prompt needs the model's tokenizer: give --model MODEL");
        tok = xlens::load_tokenizer(source);
    }
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto tokens = prompt_argument(a, "prompt", "tokens", t);
    const auto p = engine.predict(tokens);
    const std::size_t top = number_option<std::size_t>(a, "top", 5);
    if (top == 0) throw xlens::input_error(550, "--top must be at least 1");
    auto name = [&](xlens::token_id id) { return t ? shown(t->token_text(id), 16) : "id:" + std::to_string(id); };
    auto probabilities = xlens::softmax(p.logits.data(), p.logits.size());
    std::printf("%zu rules fired on the last token %s\n", p.fired.size(), name(tokens.back()).c_str());
    nlohmann::json out = {{"fired", p.fired.size()}, {"top", nlohmann::json::array()}};
    for (const auto& s : p.top(top)) {
        std::printf("  %-20s logit %+7.3f  p %.4f\n", name(s.token).c_str(), static_cast<double>(s.score),
                    probabilities[static_cast<std::size_t>(s.token)]);
        nlohmann::json receipt = nlohmann::json::array();
        const auto lines = engine.receipt(p, s.token);
        const std::size_t shown_lines = std::min<std::size_t>(lines.size(), 8);
        double rest = 0;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const auto& line = lines[i];
            if (a.has("receipt") && i < shown_lines)
                std::printf("      %+8.3f  %-22s%s\n", line.added, line.label.c_str(),
                            line.trigger.empty() ? "" : (" on " + shown(line.trigger, 20)).c_str());
            if (i >= shown_lines) rest += line.added;
            receipt.push_back({{"rule", line.rule}, {"label", line.label}, {"trigger", line.trigger}, {"added", line.added}});
        }
        if (a.has("receipt") && lines.size() > shown_lines)
            std::printf("      %+8.3f  (%zu more rules; --json lists them all)\n", rest, lines.size() - shown_lines);
        out["top"].push_back({{"token", s.token}, {"text", t ? t->token_text(s.token) : ""}, {"logit", s.score},
                              {"probability", probabilities[static_cast<std::size_t>(s.token)]}, {"receipt", std::move(receipt)}});
    }
    if (a.has("json")) write_json_file(a.get("json"), out);
    return 0;
}

inline int cmd_edit(const arguments& a) {
    auto tok = tokenizer_for(a, needs_tokenizer(a, {"prompt"}, {"target"}));
    const xlens::tokenizer* t = tok ? &*tok : nullptr;
    auto m = cli::load_model(a);
    auto tokens = prompt_argument(a, "prompt", "tokens", t);
    const auto target = token_argument(a, "target", t);
    const auto edits = xlens::parse_interventions(a.require("edit"));
    std::optional<std::size_t> position;
    if (a.has("position")) position = number_option<std::size_t>(a, "position", 0);
    const auto e = xlens::measure_edit(m, tokens, target, edits, position, t);
    std::string labels;
    for (const auto& x : edits) labels += (labels.empty() ? "" : ", ") + std::string(x.scale == 0 ? "ablate " : "scale ") + x.label();
    const std::string name = t ? shown(t->token_text(target), 20) : "id:" + std::to_string(target);
    std::printf("%s: P(%s) %.4f → %.4f (rank %zu → %zu) at position %zu\n", labels.c_str(), name.c_str(), e.before.prob,
                e.after.prob, e.before.rank, e.after.rank, e.position);
    return 0;
}

}  // namespace cli
