// xlens/io/json.hpp — reading small JSON files (config.json, index files) defensively.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "xlens/error.hpp"

namespace xlens::io {

/// Parses JSON text, refusing nesting deeper than `max_depth` (a hostile "[[[[…" must not exhaust
/// the stack) and duplicate object keys (nlohmann would silently keep the last one).
/// `where` names the source in messages. Throws format_error 205 (syntax), 206 (depth), 207 (duplicate key).
inline nlohmann::json parse_json(const std::string& text, const std::string& where, int max_depth = 64) {
    int depth = 0;
    bool too_deep = false;
    std::string duplicate;
    std::vector<std::unordered_set<std::string>> keys_seen;  // one key set per open object (a vocabulary has ~10⁵)
    auto callback = [&](int d, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using ev = nlohmann::json::parse_event_t;
        if (event == ev::object_start || event == ev::array_start) {
            depth = d + 1;
            if (depth > max_depth) too_deep = true;
            if (event == ev::object_start) keys_seen.emplace_back();
        } else if (event == ev::object_end) {
            if (!keys_seen.empty()) keys_seen.pop_back();
        } else if (event == ev::key && !keys_seen.empty()) {
            const auto& k = parsed.get_ref<const std::string&>();
            if (!keys_seen.back().insert(k).second && duplicate.empty()) duplicate = k;
        }
        return !too_deep;  // stop building once too deep; the result is discarded below
    };
    nlohmann::json result;
    try {
        result = nlohmann::json::parse(text, callback);
    } catch (const nlohmann::json::exception& e) {
        if (too_deep) throw format_error(206, where + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
        throw format_error(205, where + ": invalid JSON: " + e.what());
    }
    if (too_deep) throw format_error(206, where + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
    if (!duplicate.empty()) throw format_error(207, where + ": duplicate key '" + duplicate + "'");
    return result;
}

/// Reads and parses a JSON file (at most `max_bytes`). Throws io_error 104 if unreadable or too large.
inline nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes = 64u << 20) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(104, "cannot read '" + path + "'");
    in.seekg(0, std::ios::end);
    auto size = static_cast<std::size_t>(in.tellg());
    if (size > max_bytes) throw io_error(104, "'" + path + "' is larger than " + std::to_string(max_bytes) + " bytes");
    in.seekg(0);
    std::string text(size, '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    return parse_json(text, path);
}

}  // namespace xlens::io
