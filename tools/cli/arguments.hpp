// tools/cli/arguments.hpp — the command line's option parsing, shared by every subcommand.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <xlens/blocks/parallel.hpp>
#include <xlens/model/model.hpp>
#include <xlens/token_id.hpp>

namespace cli {

/// Seconds since `start`, for the timings commands print.
inline double elapsed_seconds(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// A mistake in the command line: reported with the usage text, exit status 2.
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

/// Options every command that opens a model takes.
inline const std::vector<std::string> model_flags = {"dequantize"};
inline const std::vector<std::string> model_valued = {"threads"};

inline arguments parse(int argc, char** argv, std::vector<std::string> flags, std::vector<std::string> valued) {
    flags.insert(flags.end(), model_flags.begin(), model_flags.end());
    valued.insert(valued.end(), model_valued.begin(), model_valued.end());
    arguments a;
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        bool short_option = s.size() == 2 && s[0] == '-' && s[1] != '-';  // -n
        if (s.rfind("--", 0) == 0 || short_option) {
            std::string name = s.substr(short_option ? 1 : 2);
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

/// Opens the command's MODEL with the shared options: --dequantize (every weight to float32 at
/// load, the old path) and --threads N (xlens's kernels and OpenBLAS).
inline xlens::model load_model(const arguments& a) {
    if (a.has("threads")) {
        int n = 0;
        try {
            n = std::stoi(a.get("threads"));
        } catch (const std::logic_error&) {
        }
        if (n < 1) throw usage_error("--threads: '" + a.get("threads") + "' is not a positive number of threads");
        xlens::blocks::set_num_threads(n);
    }
    xlens::load_options options;
    options.dequantize = a.has("dequantize");
    return xlens::model::load(a.model, options);
}

/// "1,2,3" as token ids.
inline std::vector<xlens::token_id> parse_tokens(const std::string& text) {
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

}  // namespace cli
