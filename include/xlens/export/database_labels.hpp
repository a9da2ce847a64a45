// xlens/export/database_labels.hpp — analysis results stored beside the weights they describe.
//
// The label tables of a weight database (neuron_tokens, head_roles, rules with rule_triggers and
// rule_tokens; docs/database.md) hold what analyses found, keyed like the weight rows, so plain SQL
// can join "what this neuron writes" with "what its output vector is". Each writer replaces the
// rows it owns, so writing the same labels twice leaves one copy.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "xlens/analysis/neuron_values.hpp"
#include "xlens/analysis/ov_circuits.hpp"
#include "xlens/analysis/rules.hpp"
#include "xlens/io/sqlite.hpp"

namespace xlens {

/// neuron_tokens: each neuron's k most promoted and suppressed tokens (analysis/neuron_values.hpp).
inline void write_neuron_tokens(io::sqlite::database& sql, const model& m, std::size_t k) {
    neuron_value_options options;
    options.k = k;
    const auto table = neuron_values(m, options);
    sql.exec("DELETE FROM neuron_tokens");
    auto insert = sql.prepare("INSERT INTO neuron_tokens (layer, neuron, relation, rank, token, score) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    for (std::size_t i = 0; i < table.layers.size(); ++i)
        for (std::size_t n = 0; n < table.d_mlp; ++n) {
            const auto& e = table.neurons[i * table.d_mlp + n];
            auto put = [&](const char* relation, const std::vector<token_score>& list) {
                for (std::size_t r = 0; r < list.size(); ++r) {
                    insert.bind(1, static_cast<std::int64_t>(table.layers[i])).bind(2, static_cast<std::int64_t>(n));
                    insert.bind(3, std::string(relation)).bind(4, static_cast<std::int64_t>(r));
                    insert.bind(5, static_cast<std::int64_t>(list[r].token)).bind(6, static_cast<double>(list[r].score));
                    insert.step();
                    insert.reset();
                }
            };
            put("promotes", e.promoted);
            put("suppresses", e.suppressed);
        }
}

/// head_roles: each head's OV copying score (analysis/ov_circuits.hpp) as role 'ov_copying'.
inline void write_head_copying(io::sqlite::database& sql, const model& m) {
    sql.exec("DELETE FROM head_roles WHERE role = 'ov_copying'");
    auto insert = sql.prepare("INSERT INTO head_roles (layer, head, role, score, source) VALUES (?1, ?2, 'ov_copying', ?3, ?4)");
    for (const auto& s : ov_copying_scores(m)) {
        insert.bind(1, static_cast<std::int64_t>(s.layer)).bind(2, static_cast<std::int64_t>(s.head)).bind(3, s.score);
        insert.bind(4, std::string("weights: eigenvalues of the OV circuit, sum Re / sum |.|"));
        insert.step();
        insert.reset();
    }
}

/// rules, rule_triggers, rule_tokens: a rule set (analysis/rules.hpp) for this model's vocabulary.
/// Throws input_error 558 if the rules were made for another vocabulary size.
inline void write_rules(io::sqlite::database& sql, const rule_set& rules, const model& m) {
    if (rules.d_vocab != m.config().d_vocab)
        throw input_error(558, "the rules are for a vocabulary of " + std::to_string(rules.d_vocab) + " tokens, the model has " +
                                   std::to_string(m.config().d_vocab));
    sql.exec("DELETE FROM rule_tokens; DELETE FROM rule_triggers; DELETE FROM rules;");
    auto rule = sql.prepare(
        "INSERT INTO rules (id, kind, layer, neuron, label, typical_activation, typical_scaled_activation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    auto trigger = sql.prepare(
        "INSERT INTO rule_triggers (rule, tokens, text, count, activation, scaled_activation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    auto token = sql.prepare("INSERT OR REPLACE INTO rule_tokens (rule, token, logit_bias) VALUES (?1, ?2, ?3)");
    for (std::size_t i = 0; i < rules.rules.size(); ++i) {
        const auto& r = rules.rules[i];
        const auto id = static_cast<std::int64_t>(i);
        rule.bind(1, id).bind(2, std::string(rule_kind_name(r.kind))).bind(5, r.label());
        if (r.kind == rule_kind::neuron) {
            rule.bind(3, r.layer).bind(4, r.neuron);
            rule.bind(6, static_cast<double>(r.typical_activation)).bind(7, static_cast<double>(r.typical_scaled_activation));
        } else {
            rule.bind_null(3).bind_null(4).bind_null(6).bind_null(7);
        }
        rule.step();
        rule.reset();
        for (const auto& t : r.triggers) {
            trigger.bind(1, id).bind(2, nlohmann::json(t.tokens).dump()).bind(3, t.text).bind(4, static_cast<std::int64_t>(t.count));
            trigger.bind(5, static_cast<double>(t.activation)).bind(6, static_cast<double>(t.scaled_activation));
            trigger.step();
            trigger.reset();
        }
        for (const auto* list : {&r.promoted, &r.suppressed})
            for (const auto& b : *list) {
                token.bind(1, id).bind(2, static_cast<std::int64_t>(b.token)).bind(3, static_cast<double>(b.bias));
                token.step();
                token.reset();
            }
    }
}

}  // namespace xlens
