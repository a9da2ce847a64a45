// xlens/report/attribution_svg.hpp — a direct logit attribution (analysis/direct_logit_attribution.hpp)
// as a standalone SVG bar chart.
//
//   auto receipt = xlens::direct_logit_attribution(model, tokens, o);  // o.target " Paris", o.versus " London"
//   std::vector<std::string> texts;  for (auto id : tokens) texts.push_back(tok.token_text(id));
//   std::ofstream("dla.svg") << xlens::attribution_svg(receipt, 20, texts, " Paris", " London");
//
// One horizontal bar per component, the top_n largest |value| first (attribution_result::ranked()),
// from a vertical zero axis: red to the right for parts that raise the logit (difference), blue to
// the left for parts that lower it, each labelled with its value. The components not shown are
// summed into one grey "other" bar, so the bars add up to the total. A footer compares the sum of all
// components with the model's own logit (difference). The axis sits where the largest negative and
// positive bars leave it, so a chart of mostly positive parts spends its width on them.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "xlens/analysis/direct_logit_attribution.hpp"
#include "xlens/report/svg.hpp"

namespace xlens {

/// Renders a direct logit attribution as a complete SVG document (UTF-8), sized to its content.
///
/// @param r            the attribution from direct_logit_attribution().
/// @param top_n        how many components get their own bar; the rest are summed into one "other" bar.
/// @param token_texts  the texts of r.tokens, to name the position's token; by id ("#9") when empty.
/// @param target_text  the target token's text for the title; by id when empty.
/// @param versus_text  the other token's text when the target is a logit difference; by id when empty.
/// @return             the SVG text, ready to write to a .svg file.
/// @exceptions         none of its own (std::bad_alloc aside); NaN values get no bar and read "n/a".
/// @complexity         O(n log n) in the number of components (the ranking).
/// @usage            `std::ofstream("dla.svg") << xlens::attribution_svg(receipt, 20, texts, " Paris", " London");`
inline std::string attribution_svg(const attribution_result& r, std::size_t top_n = 20,
                                   const std::vector<std::string>& token_texts = {}, const std::string& target_text = "",
                                   const std::string& versus_text = "");

// ==== implementation ================================================================================

namespace detail {

inline std::string signed_number(double value, int digits = 3) {
    return (value > 0 && std::isfinite(value) ? "+" : "") + svg::number(value, digits);
}

}  // namespace detail

inline std::string attribution_svg(const attribution_result& r, std::size_t top_n, const std::vector<std::string>& token_texts,
                                   const std::string& target_text, const std::string& versus_text) {
    constexpr double margin = 12, row_h = 20, bar_h = 14, plot_w = 440, value_room = 60, font = 12;

    struct bar {
        std::string label, tip;
        double value;
        bool other;
    };
    const std::vector<attribution_component> ranked = r.ranked();
    const std::size_t shown = std::min(top_n, ranked.size());
    std::vector<bar> bars;
    for (std::size_t i = 0; i < shown; ++i)
        bars.push_back({ranked[i].label, ranked[i].label + " (" + component_kind_name(ranked[i].kind) + "): " +
                                             detail::signed_number(ranked[i].value, 7), ranked[i].value, false});
    if (shown < ranked.size()) {
        double rest = 0;
        for (std::size_t i = shown; i < ranked.size(); ++i) rest += ranked[i].value;
        const std::string n = std::to_string(ranked.size() - shown);
        bars.push_back({"other (" + n + ")", "the other " + n + " components, summed: " + detail::signed_number(rest, 7),
                        rest, true});
    }

    // Where the zero axis goes: the plot's width is shared in proportion to the largest bar on each side.
    double lowest = 0, highest = 0;
    for (const auto& b : bars) {
        if (!std::isfinite(b.value)) continue;
        lowest = std::min(lowest, b.value);
        highest = std::max(highest, b.value);
    }
    if (!(highest - lowest > 0)) {  // nothing to scale: the axis in the middle
        lowest = -1;
        highest = 1;
    }
    const double scale = plot_w / (highest - lowest);

    const std::string logit = "logit(" + svg::token_quoted(target_text, r.target) + ")" +
                              (r.versus ? " − logit(" + svg::token_quoted(versus_text, *r.versus) + ")" : "");
    const std::string at_token = r.position < r.tokens.size()
        ? " (" + svg::token_quoted(r.position < token_texts.size() ? token_texts[r.position] : "", r.tokens[r.position]) + ")"
        : "";
    const std::string title = logit + " at position " + std::to_string(r.position) + at_token;
    const std::string subtitle = "Direct logit attribution: the " + std::to_string(shown) + " largest of " +
                                 std::to_string(ranked.size()) + " components by |value|; red raises it, blue lowers it.";
    const std::string what = r.versus ? "model logit difference" : "model logit";
    const std::string footer1 = "sum of all " + std::to_string(r.components.size()) + " components = " +
                                svg::number(r.total, 6) + ", " + what + " = " + svg::number(r.model_value, 6);
    const std::string footer2 = "final norm scale frozen at its value in the run: " + svg::number(r.final_scale, 6) +
                                (shown < ranked.size() ? "; grey: the components not shown, summed" : "");

    double label_w = 0;
    for (const auto& b : bars) label_w = std::max(label_w, svg::text_width(b.label, font, false));
    const double axis_x = margin + label_w + 10 + value_room + (0 - lowest) * scale;
    const double bars_y = 62;
    const double footer_y = bars_y + row_h * static_cast<double>(bars.size()) + 22;
    const double width = std::max({margin + label_w + 10 + 2 * value_room + plot_w + margin, svg::text_width(title, 15, false) + 2 * margin,
                                   svg::text_width(subtitle, font, false) + 2 * margin, svg::text_width(footer1, font, false) + 2 * margin,
                                   svg::text_width(footer2, font, false) + 2 * margin});
    const double height = footer_y + 34;

    std::string out = svg::open_document(width, height, title);
    out += svg::text(margin, 42, subtitle, "class=\"muted\"");
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const bar& b = bars[i];
        const double y = bars_y + row_h * static_cast<double>(i);
        const double v = std::isfinite(b.value) ? b.value : 0;
        const double x = v < 0 ? axis_x + v * scale : axis_x, w = std::fabs(v) * scale;
        const svg::rgb fill = b.other ? svg::rgb{154, 160, 166} : svg::diverging(v < 0 ? -1 : 1, 1);
        out += "<g>\n<title>" + svg::escape(b.tip) + "</title>\n";
        out += svg::text(margin + label_w, y + bar_h - 2, b.label, b.other ? "class=\"muted\" text-anchor=\"end\"" : "text-anchor=\"end\"");
        out += std::string("<rect class=\"") + (b.other ? "bar other" : "bar") + "\" x=\"" + svg::px(x) + "\" y=\"" + svg::px(y) +
               "\" width=\"" + svg::px(w) + "\" height=\"" + svg::px(bar_h) + "\" fill=\"" + svg::hex(fill) + "\"/>\n";
        out += svg::text(v < 0 ? x - 4 : x + w + 4, y + bar_h - 3, detail::signed_number(b.value),
                         v < 0 ? "class=\"small\" text-anchor=\"end\"" : "class=\"small\"");
        out += "</g>\n";
    }
    out += "<line x1=\"" + svg::px(axis_x) + "\" y1=\"" + svg::px(bars_y - 4) + "\" x2=\"" + svg::px(axis_x) + "\" y2=\"" +
           svg::px(footer_y - 16) + "\" stroke=\"#1d2330\"/>\n";
    out += svg::text(axis_x, footer_y - 4, "0", "class=\"small muted\" text-anchor=\"middle\"");
    out += svg::text(margin, footer_y + 8, footer1);
    out += svg::text(margin, footer_y + 24, footer2, "class=\"muted\"");
    return out + svg::close_document();
}

}  // namespace xlens
