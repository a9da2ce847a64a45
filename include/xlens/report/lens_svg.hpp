// xlens/report/lens_svg.hpp — the logit-lens grid (analysis/logit_lens.hpp) as a standalone SVG figure.
//
//   xlens::lens_options o;  o.target = xlens::single_token(tok, " Paris");
//   auto grid = xlens::logit_lens(model, tokens, o, &tok);
//   std::ofstream("lens.svg") << xlens::lens_svg(grid);
//
// Layout, as in the tuned-lens plots and xlens's probe page: one row per layer with the residual
// stream flowing upwards — 0_pre at the bottom, final_post (the model's own output) at the top — and
// one column per position, labelled at the bottom by its input token. Each cell shows the top-1
// token of that layer's lens, shaded by its probability (white 0 → dark blue 1); with a target, the
// target's rank in small text, and an orange outline where the target is the top-1 token. Hovering a
// cell shows its top-k tokens with probabilities and logits, and the target's probability and rank.
// Without a tokenizer (empty texts) tokens are shown by id, as "#17".
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "xlens/analysis/logit_lens.hpp"
#include "xlens/report/svg.hpp"

namespace xlens {

/// Renders a logit-lens grid as a complete SVG document (UTF-8), sized to its content.
///
/// @param r       the grid from logit_lens(); its target (if any) is named in the title and ranked
///                in every cell.
/// @return        the SVG text, ready to write to a .svg file.
/// @exceptions    none of its own (std::bad_alloc aside); rows or cells missing from `r` are drawn
///                as grey "n/a" cells, and NaN probabilities as grey.
/// @complexity    linear in layers × positions × top_k.
/// @usage       `std::ofstream("lens.svg") << xlens::lens_svg(xlens::logit_lens(model, tokens, o, &tok));`
inline std::string lens_svg(const lens_result& r);

// ==== implementation ================================================================================

inline std::string lens_svg(const lens_result& r) {
    constexpr double margin = 12, cell_w = 86, token_font = 12, label_font = 12;
    const bool ranked = r.target.has_value();
    const double cell_h = ranked ? 34 : 24;
    const std::size_t rows = r.layers.size(), columns = r.tokens.size();
    const std::size_t cell_columns = static_cast<std::size_t>((cell_w - 8) / (svg::mono_char_width * token_font));

    double label_w = svg::text_width("position", 10, false);
    for (const auto& name : r.layers) label_w = std::max(label_w, svg::text_width(name, label_font, false));
    const double grid_x = margin + label_w + 10;
    const double grid_w = cell_w * static_cast<double>(columns), grid_h = cell_h * static_cast<double>(rows);

    auto cell_at = [&](std::size_t l, std::size_t t) -> const std::vector<token_probability>* {
        return l < r.top.size() && t < r.top[l].size() && !r.top[l][t].empty() ? &r.top[l][t] : nullptr;
    };
    auto target_at = [&](std::size_t l, std::size_t t) -> const token_probability* {
        return l < r.target_cells.size() && t < r.target_cells[l].size() ? &r.target_cells[l][t] : nullptr;
    };
    auto input_token = [&](std::size_t t) {
        return t < r.token_texts.size() ? r.token_texts[t] : std::string();
    };

    std::string target_name;
    if (ranked) {
        const token_probability* first = target_at(0, 0);
        target_name = svg::token_quoted(first ? first->text : std::string(), *r.target);
        if (first && !first->text.empty()) target_name += " (#" + std::to_string(*r.target) + ")";
    }
    const std::string title = "Logit lens" + (ranked ? ", target " + target_name : std::string());
    std::vector<std::string> lines = {
        "Rows: layers, 0_pre at the bottom up to final_post (the model's output). Columns: positions.",
        std::string("Each cell: the top-1 token of that layer's lens, shaded by its probability; norm ") +
            (r.norm == lens_norm::recompute ? "recomputed per layer." : "frozen at the final layer's scale.")};
    if (ranked) lines.push_back("Small text: the target's rank there (1 = top, outlined in orange).");

    const double grid_y = 42 + 16 * static_cast<double>(lines.size()) + 14;
    const double legend_y = grid_y + grid_h + 44;
    double width = std::max({grid_x + grid_w + margin, svg::text_width(title, 15, false) + 2 * margin, margin + 360.0});
    for (const auto& line : lines) width = std::max(width, svg::text_width(line, 12, false) + 2 * margin);
    const double height = legend_y + 36;

    std::string out = svg::open_document(width, height, title);
    for (std::size_t i = 0; i < lines.size(); ++i) out += svg::text(margin, 42 + 16 * static_cast<double>(i), lines[i], "class=\"muted\"");
    out += svg::text(grid_x - 8, grid_y - 4, "layer", "class=\"small muted\" text-anchor=\"end\"");

    for (std::size_t l = 0; l < rows; ++l) {
        const double y = grid_y + cell_h * static_cast<double>(rows - 1 - l);  // final_post on top
        out += svg::text(grid_x - 8, y + cell_h / 2 + 4, r.layers[l], "text-anchor=\"end\"");
        for (std::size_t t = 0; t < columns; ++t) {
            const double x = grid_x + cell_w * static_cast<double>(t);
            const auto* top = cell_at(l, t);
            const token_probability* target = ranked ? target_at(l, t) : nullptr;
            const svg::rgb fill = top ? svg::sequential(top->front().prob) : svg::missing_colour;

            std::string tip = "layer " + r.layers[l] + ", position " + std::to_string(t) + " " +
                              svg::token_quoted(input_token(t), r.tokens[t]);
            if (top)
                for (const auto& p : *top)
                    tip += "\n" + std::to_string(p.rank) + ". " + svg::token_quoted(p.text, p.id) +
                           "  p = " + svg::number(p.prob) + ", logit " + svg::number(p.logit);
            if (target)
                tip += "\ntarget " + target_name + ": rank " + std::to_string(target->rank) + ", p = " +
                       svg::number(target->prob) + ", logit " + svg::number(target->logit);

            out += "<g>\n<title>" + svg::escape(tip) + "</title>\n";
            out += "<rect class=\"cell\" x=\"" + svg::px(x) + "\" y=\"" + svg::px(y) + "\" width=\"" + svg::px(cell_w) +
                   "\" height=\"" + svg::px(cell_h) + "\" fill=\"" + svg::hex(fill) + "\" stroke=\"#ffffff\"/>\n";
            const std::string ink = std::string("fill=\"") + svg::ink_on(fill) + "\"";
            const std::string shown = top ? svg::token_label(top->front().text, top->front().id) : "n/a";
            out += svg::text(x + cell_w / 2, y + (ranked ? 15 : 16), svg::clip(shown, cell_columns),
                             "class=\"tok\" text-anchor=\"middle\" " + ink);
            if (target) {
                out += svg::text(x + cell_w - 4, y + cell_h - 5, "rank " + std::to_string(target->rank),
                                 "class=\"small rank\" text-anchor=\"end\" " + ink);
                if (target->rank == 1)
                    out += "<rect x=\"" + svg::px(x + 1.5) + "\" y=\"" + svg::px(y + 1.5) + "\" width=\"" + svg::px(cell_w - 3) +
                           "\" height=\"" + svg::px(cell_h - 3) + "\" fill=\"none\" stroke=\"#e8590c\" stroke-width=\"2\"/>\n";
            }
            out += "</g>\n";
        }
    }

    // Input tokens under the columns: the token read at that position, and the position's index.
    for (std::size_t t = 0; t < columns; ++t) {
        const double x = grid_x + cell_w * (static_cast<double>(t) + 0.5);
        out += svg::text(x, grid_y + grid_h + 16, svg::clip(svg::token_label(input_token(t), r.tokens[t]), cell_columns),
                         "class=\"tok\" text-anchor=\"middle\"");
        out += svg::text(x, grid_y + grid_h + 30, std::to_string(t), "class=\"small muted\" text-anchor=\"middle\"");
    }
    out += svg::text(grid_x - 8, grid_y + grid_h + 16, "input", "class=\"small muted\" text-anchor=\"end\"");
    out += svg::text(grid_x - 8, grid_y + grid_h + 30, "position", "class=\"small muted\" text-anchor=\"end\"");

    out += svg::colour_bar(margin, legend_y, 200, [](double p) { return svg::sequential(p); }, "0", "0.5", "1",
                           "probability of the top-1 token");
    return out + svg::close_document();
}

}  // namespace xlens
