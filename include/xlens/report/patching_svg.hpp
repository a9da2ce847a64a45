// xlens/report/patching_svg.hpp — an activation-patching sweep (analysis/activation_patching.hpp) as a
// standalone SVG heatmap.
//
//   auto r = xlens::activation_patching(model, clean, corrupted, o);
//   std::vector<std::string> texts;  for (auto id : clean) texts.push_back(tok.token_text(id));
//   std::ofstream("patching.svg") << xlens::patching_svg(r, texts);
//
// Rows and columns follow r.axes: [layer, position] → layers × positions, [layer, head] → layers ×
// heads, [layer, head, position] → one row per head ("L3H2") × positions. Layer 0 is the top row, as
// in TransformerLens's and ARENA's patching plots (the logit-lens figure instead stacks layers upwards,
// as the residual stream flows). Columns of positions are labelled by `token_texts` (the clean
// prompt's, by convention), positions where the two prompts differ in orange. Cells are coloured on a
// diverging scale, blue negative, white 0, red positive, symmetric around 0 and ending at the largest
// |value| — at least 1 for normalised results, so 1 (the clean run's metric) is always full red. Small
// grids print each value in its cell; every cell has a tooltip with its value.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "xlens/analysis/activation_patching.hpp"
#include "xlens/report/svg.hpp"

namespace xlens {

/// Renders an activation-patching result as a complete SVG document (UTF-8), sized to its content.
///
/// @param r            the sweep from activation_patching(); values of 2 or 3 dimensions, rows labelled
///                     by r.layers and r.heads (the layers and heads patched) when they match its shape.
/// @param token_texts  texts of the positions' tokens (usually the clean prompt's); positions are
///                     labelled by clean token id ("#9") when it has fewer entries than positions.
/// @return             the SVG text, ready to write to a .svg file.
/// @exceptions         none of its own (std::bad_alloc aside); NaN values are grey and read "n/a";
///                     values of another rank give a figure with a note and no cells.
/// @complexity         linear in the number of values.
/// @usage            `std::ofstream("patching.svg") << xlens::patching_svg(r, texts);`
inline std::string patching_svg(const patching_result& r, const std::vector<std::string>& token_texts = {});

// ==== implementation ================================================================================

inline std::string patching_svg(const patching_result& r, const std::vector<std::string>& token_texts) {
    constexpr double margin = 12, font = 12;
    const std::size_t dims = r.values.dimension();
    const bool by_head = dims == 2 && (r.axes.size() == 2 ? r.axes[1] == "head" : r.target == patch_target::head);
    const bool drawable = dims == 2 || dims == 3;
    const std::size_t layers = drawable ? r.values.shape()[0] : 0;
    const std::size_t heads = dims == 3 ? r.values.shape()[1] : by_head && drawable ? r.values.shape()[1] : 1;
    const std::size_t rows = dims == 3 ? layers * heads : layers;
    const std::size_t columns = !drawable ? 0 : dims == 3 ? r.values.shape()[2] : r.values.shape()[1];

    // The layer (head) an index stands for: r.layers (r.heads) when a sweep patched only some of them.
    auto layer_at = [&](std::size_t i) { return r.layers.size() == layers ? r.layers[i] : i; };
    auto head_at = [&](std::size_t j) { return r.heads.size() == heads ? r.heads[j] : j; };
    auto row_label = [&](std::size_t i) {
        return dims == 3 ? "L" + std::to_string(layer_at(i / heads)) + "H" + std::to_string(head_at(i % heads))
                         : "L" + std::to_string(layer_at(i));
    };
    auto differs = [&](std::size_t t) {
        return !by_head && t < r.clean_tokens.size() && t < r.corrupted_tokens.size() && r.clean_tokens[t] != r.corrupted_tokens[t];
    };
    auto position_token = [&](std::size_t t, bool quoted) {  // by its text, else by its clean token id
        const std::string text = token_texts.size() >= columns ? token_texts[t] : std::string();
        const long long id = t < r.clean_tokens.size() ? r.clean_tokens[t] : -1;
        return quoted ? svg::token_quoted(text, id) : svg::token_label(text, id);
    };
    auto column_label = [&](std::size_t t) { return by_head ? "H" + std::to_string(head_at(t)) : position_token(t, false); };

    // The scale's end: the largest finite |value|, at least 1 when normalised (1 = the clean run).
    double max_abs = 0;
    for (double v : r.values)
        if (std::isfinite(v)) max_abs = std::max(max_abs, std::fabs(v));
    if (r.normalised) max_abs = std::max(max_abs, 1.0);
    if (!(max_abs > 0)) max_abs = 1;

    // Cell size: columns wide enough for their labels (within limits); short rows when there are many.
    const double cell_h = rows > 40 ? 14 : 22;
    double cell_w = by_head ? 40 : 34;
    for (std::size_t t = 0; t < columns && !by_head; ++t)
        cell_w = std::max(cell_w, std::min(80.0, svg::text_width(column_label(t), 11, true) + 8));
    const std::size_t label_columns = static_cast<std::size_t>((cell_w - 4) / (svg::mono_char_width * 11));
    const bool numbers_in_cells = cell_h >= 20 && rows * columns <= 600;

    const std::string target = patch_target_name(r.target);
    const bool denoising = r.direction == patch_direction::denoising;
    const std::string title = "Activation patching: " + target + ", " + (denoising ? "denoising" : "noising");
    const std::string line1 = denoising ? "Each cell: the corrupted prompt run with one clean activation patched in."
                                        : "Each cell: the clean prompt run with one corrupted activation patched in.";
    const std::string line2 = "Metric on the clean prompt " + svg::number(r.clean_metric, 4) + ", on the corrupted prompt " +
                              svg::number(r.corrupted_metric, 4) + ".";
    const std::string line3 = r.normalised ? "Shown normalised, (m − corrupted) / (clean − corrupted): 1 = the clean run, 0 = the corrupted run."
                                           : "Shown as the metric itself.";

    double label_w = 0;
    for (std::size_t i = 0; i < rows; ++i) label_w = std::max(label_w, svg::text_width(row_label(i), font, false));
    const double grid_x = margin + std::max(label_w, svg::text_width(dims == 3 ? "layer, head" : "position", 10, false)) + 10;
    const double grid_y = 104;
    const double grid_w = cell_w * static_cast<double>(columns), grid_h = cell_h * static_cast<double>(rows);
    const double legend_y = grid_y + grid_h + (by_head ? 30 : 44);
    const double width = std::max({grid_x + grid_w + margin, svg::text_width(title, 15, false) + 2 * margin,
                                   svg::text_width(line1, font, false) + 2 * margin, svg::text_width(line2, font, false) + 2 * margin,
                                   svg::text_width(line3, font, false) + 2 * margin,
                                   margin + 380.0});
    const double height = legend_y + 36;

    std::string out = svg::open_document(width, height, title);
    out += svg::text(margin, 42, line1, "class=\"muted\"");
    out += svg::text(margin, 58, line2, "class=\"muted\"");
    out += svg::text(margin, 74, line3, "class=\"muted\"");
    if (!drawable) out += svg::text(margin, grid_y, "nothing to draw: values have " + std::to_string(dims) + " dimensions, not 2 or 3");
    out += svg::text(grid_x - 6, grid_y - 6, dims == 3 ? "layer, head" : "layer", "class=\"small muted\" text-anchor=\"end\"");
    out += svg::text(grid_x - 6, grid_y + grid_h + 16, by_head ? "head" : "input", "class=\"small muted\" text-anchor=\"end\"");
    if (!by_head) out += svg::text(grid_x - 6, grid_y + grid_h + 30, "position", "class=\"small muted\" text-anchor=\"end\"");

    for (std::size_t i = 0; i < rows; ++i) {
        const double y = grid_y + cell_h * static_cast<double>(i);
        out += svg::text(grid_x - 6, y + cell_h / 2 + 4, row_label(i), cell_h < 20 ? "class=\"small\" text-anchor=\"end\"" : "text-anchor=\"end\"");
        for (std::size_t t = 0; t < columns; ++t) {
            const double x = grid_x + cell_w * static_cast<double>(t);
            const double v = r.values.data()[i * columns + t];  // row-major: [layer][head] rows, then columns
            const svg::rgb fill = svg::diverging(v, max_abs);
            std::string tip = row_label(i) + (by_head ? "H" + std::to_string(head_at(t))
                                                      : ", position " + std::to_string(t) + " " + position_token(t, true));
            if (differs(t))
                tip += " (prompts differ: clean #" + std::to_string(r.clean_tokens[t]) + ", corrupted #" +
                       std::to_string(r.corrupted_tokens[t]) + ")";
            tip += ": " + svg::number(v, 6);
            out += "<g>\n<title>" + svg::escape(tip) + "</title>\n";
            out += "<rect class=\"cell\" x=\"" + svg::px(x) + "\" y=\"" + svg::px(y) + "\" width=\"" + svg::px(cell_w) +
                   "\" height=\"" + svg::px(cell_h) + "\" fill=\"" + svg::hex(fill) + "\" stroke=\"#ffffff\"/>\n";
            // Two decimals (three digits from 1 to 10); values that round to 0 stay blank, so the others stand out.
            const double rounded = std::round(v * 100) / 100;
            const std::string shown = std::fabs(v) < 10 ? svg::number(rounded, 2 + (std::fabs(v) >= 1)) : svg::number(v, 3);
            if (numbers_in_cells && rounded != 0 && svg::text_width(shown, 10, false) <= cell_w - 4)
                out += svg::text(x + cell_w / 2, y + cell_h / 2 + 3.5, shown,
                                 std::string("class=\"small\" text-anchor=\"middle\" fill=\"") + svg::ink_on(fill) + "\"");
            out += "</g>\n";
        }
    }

    // An outline, since cells near 0 are as white as the page.
    out += "<rect x=\"" + svg::px(grid_x) + "\" y=\"" + svg::px(grid_y) + "\" width=\"" + svg::px(grid_w) + "\" height=\"" +
           svg::px(grid_h) + "\" fill=\"none\" stroke=\"#d5dae2\"/>\n";
    // One row per head: a rule between layers, so the rows group by layer.
    for (std::size_t l = 1; dims == 3 && l < layers; ++l) {
        const double y = grid_y + cell_h * static_cast<double>(l * heads);
        out += "<line x1=\"" + svg::px(grid_x - 40) + "\" y1=\"" + svg::px(y) + "\" x2=\"" + svg::px(grid_x + grid_w) + "\" y2=\"" +
               svg::px(y) + "\" stroke=\"#8a93a3\"/>\n";
    }

    // Column labels under the grid: heads, or positions (token text, then index).
    for (std::size_t t = 0; t < columns; ++t) {
        const double x = grid_x + cell_w * (static_cast<double>(t) + 0.5);
        if (by_head) {
            out += svg::text(x, grid_y + grid_h + 16, column_label(t), "text-anchor=\"middle\"");
            continue;
        }
        const std::string colour = differs(t) ? " style=\"fill: #c2410c; font-weight: bold\"" : "";
        out += svg::text(x, grid_y + grid_h + 16, svg::clip(column_label(t), label_columns),
                         "class=\"tok\" font-size=\"11\" text-anchor=\"middle\"" + colour);
        out += svg::text(x, grid_y + grid_h + 30, std::to_string(t), "class=\"small muted\" text-anchor=\"middle\"" + colour);
    }

    const std::string end = svg::number(max_abs, 3);
    out += svg::colour_bar(margin, legend_y, 200, [&](double s) { return svg::diverging((2 * s - 1) * max_abs, max_abs); },
                           "-" + end, "0", "+" + end,
                           by_head ? "patched value" : "patched value; orange positions: the prompts differ there");
    return out + svg::close_document();
}

}  // namespace xlens
