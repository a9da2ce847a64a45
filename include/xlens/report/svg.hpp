// xlens/report/svg.hpp — the shared minimum of xlens's standalone SVG figures (lens_svg.hpp,
// attribution_svg.hpp, patching_svg.hpp).
//
//   std::string out = xlens::svg::open_document(360, 80, "Logit lens");  // XML declaration, <svg>, heading
//   out += xlens::svg::text(12, 50, xlens::svg::token_display(" Paris\n"), "class=\"tok\"");  // "␣Paris↵"
//   out += xlens::svg::close_document();
//
// A figure is one SVG 1.1 document with an inline <style>: no script, nothing fetched (fonts,
// images), so it opens on its own, embeds in a page or a paper, and passes an XML parser. All text
// goes through escape(), which also turns invalid UTF-8 and characters XML 1.0 forbids into visible
// stand-ins. Nothing can measure text when the file is written, so widths are estimated from
// character counts (tokens in monospace) and token labels are clipped to the room they get.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "xlens/text/utf8.hpp"

namespace xlens::svg {

/// Estimated advance of one character as a fraction of the font size: a monospace column (DejaVu
/// Sans Mono: 0.60), and an average proportional character, bold included. Both err on the roomy side.
inline constexpr double mono_char_width = 0.62, prose_char_width = 0.55;

namespace detail {

/// A control character as Python writes it, "\x01": plain ASCII, so every font can show it (common
/// fonts such as DejaVu lack the Control Pictures U+2400–U+2421).
inline std::string control_escape(char32_t c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
    return buf;
}

/// Calls f on each code point of `s`, after replacing ill-formed UTF-8 with U+FFFD.
template <class F>
void for_each_code_point(std::string_view s, F f) {
    const std::string valid = xlens::text::repair_utf8(s);
    for (std::size_t i = 0; i < valid.size();) f(xlens::text::next_code_point(valid, i));
}

/// East Asian wide and emoji ranges, which take two columns in a monospace font.
inline bool is_wide(char32_t c) {
    return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
           (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1FAFF) || (c >= 0x20000 && c <= 0x3FFFD);
}

}  // namespace detail

/// `text` as XML character data, safe in element content and in quoted attributes: `<>&"'` escaped;
/// ill-formed UTF-8 → U+FFFD; C0 controls, which XML 1.0 forbids even as references, → their
/// hex as visible text (backslash, x, two digits);
/// U+FFFE/U+FFFF → U+FFFD; tab, newline and CR kept, as references.
inline std::string escape(std::string_view text) {
    std::string out;
    detail::for_each_code_point(text, [&](char32_t c) {
        switch (c) {
            case '<': out += "&lt;"; return;
            case '>': out += "&gt;"; return;
            case '&': out += "&amp;"; return;
            case '"': out += "&quot;"; return;
            case '\'': out += "&#39;"; return;
            case '\t': out += "&#9;"; return;
            case '\n': out += "&#10;"; return;
            case '\r': out += "&#13;"; return;
        }
        if (c < 0x20) out += detail::control_escape(c);
        else xlens::text::append_utf8(out, c == 0xFFFE || c == 0xFFFF ? 0xFFFD : c);
    });
    return out;
}

/// A token's text made readable on one line: ' ' → '␣' (unless `spaces_visible` is false, e.g. inside
/// quotes), newline → '↵', tab → '→', other controls (C0, DEL, C1) → their hex as visible text
/// (backslash, x, two digits), empty → '∅'.
/// The result is valid UTF-8 but not yet escaped.
inline std::string token_display(std::string_view text, bool spaces_visible = true) {
    if (text.empty()) return "∅";
    std::string out;
    detail::for_each_code_point(text, [&](char32_t c) {
        if (c == ' ' && spaces_visible) out += "␣";
        else if (c == '\n') out += "↵";
        else if (c == '\t') out += "→";
        else if (c < 0x20 || (c >= 0x7F && c < 0xA0)) out += detail::control_escape(c);
        else xlens::text::append_utf8(out, c);
    });
    return out;
}

/// A token for a label: token_display(text), or "#id" when there is no text (no tokenizer).
inline std::string token_label(std::string_view text, long long id) {
    return text.empty() ? "#" + std::to_string(id) : token_display(text);
}

/// A token in running text: quoted, so spaces need no stand-in ("\" Paris\""), or "#id" without text.
inline std::string token_quoted(std::string_view text, long long id) {
    return text.empty() ? "#" + std::to_string(id) : "\"" + token_display(text, false) + "\"";
}

/// Monospace columns `text` takes (wide characters count two).
inline std::size_t display_width(std::string_view text) {
    std::size_t columns = 0;
    detail::for_each_code_point(text, [&](char32_t c) { columns += detail::is_wide(c) ? 2 : 1; });
    return columns;
}

/// Estimated width in pixels of `text` at `font_size`, in the monospace or the proportional font.
inline double text_width(std::string_view text, double font_size, bool monospace) {
    return static_cast<double>(display_width(text)) * (monospace ? mono_char_width : prose_char_width) * font_size;
}

/// `text` cut to at most `columns` columns, ending in '…' when something was cut.
inline std::string clip(std::string_view text, std::size_t columns) {
    if (display_width(text) <= columns) return xlens::text::repair_utf8(text);
    std::string out;
    std::size_t used = 0;
    detail::for_each_code_point(text, [&](char32_t c) {
        const std::size_t w = detail::is_wide(c) ? 2 : 1;
        if (used + w + 1 > columns) { used = columns; return; }  // room is left for the '…'
        used += w;
        xlens::text::append_utf8(out, c);
    });
    return columns == 0 ? std::string() : out + "…";
}

/// `value` with `digits` significant digits for labels ("0.523", "-12.3", "1e-05"); "n/a" when not
/// finite. A locale's decimal comma is turned back into a point.
inline std::string number(double value, int digits = 3) {
    if (!std::isfinite(value)) return "n/a";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, value);
    std::string out = buf;
    std::replace(out.begin(), out.end(), ',', '.');
    return out == "-0" ? "0" : out;
}

/// A coordinate or length, rounded to a tenth of a pixel and written without the locale; 0 for NaN or
/// infinity, so a bad value can misplace one element but never make the document invalid.
inline std::string px(double value) {
    if (!std::isfinite(value)) value = 0;
    const long long tenths = std::llround(std::clamp(value, -1e9, 1e9) * 10);
    const long long whole = std::llabs(tenths) / 10, tenth = std::llabs(tenths) % 10;
    return (tenths < 0 ? "-" : "") + std::to_string(whole) + (tenth ? "." + std::to_string(tenth) : "");
}

struct rgb { double r, g, b; };  // each 0–255

inline std::string hex(rgb c) {
    auto channel = [](double v) { return static_cast<int>(std::lround(std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 255.0))); };
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", channel(c.r), channel(c.g), channel(c.b));
    return buf;
}

/// The colour of values that are not numbers.
inline constexpr rgb missing_colour{200, 200, 200};

/// Linear interpolation through `n` evenly spaced stops, t in [0, 1].
inline rgb ramp(const rgb* stops, std::size_t n, double t) {
    const double at = std::clamp(t, 0.0, 1.0) * static_cast<double>(n - 1);
    const std::size_t i = std::min(static_cast<std::size_t>(at), n - 2);
    const double f = at - static_cast<double>(i);
    const rgb a = stops[i], b = stops[i + 1];
    return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

/// Sequential scale for probabilities: 0 white, 1 dark blue (ColorBrewer Blues); grey for NaN.
inline rgb sequential(double p) {
    static const rgb blues[] = {{255, 255, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    return std::isnan(p) ? missing_colour : ramp(blues, 5, p);
}

/// Diverging scale: −max_abs blue, 0 white, +max_abs red (ColorBrewer RdBu), clamped beyond;
/// grey for NaN. A max_abs that is not a positive finite number counts as 1.
inline rgb diverging(double value, double max_abs) {
    static const rgb rdbu[] = {{33, 102, 172}, {146, 197, 222}, {255, 255, 255}, {244, 165, 130}, {178, 24, 43}};
    if (std::isnan(value)) return missing_colour;
    if (!(max_abs > 0) || !std::isfinite(max_abs)) max_abs = 1;
    return ramp(rdbu, 5, 0.5 + 0.5 * std::clamp(value / max_abs, -1.0, 1.0));
}

/// Text colour readable on `background`: white on dark colours, near-black otherwise.
inline const char* ink_on(rgb background) {
    const double luma = 0.2126 * background.r + 0.7152 * background.g + 0.0722 * background.b;
    return luma < 140 ? "#ffffff" : "#1d2330";
}

/// `<text>` at (x, y) with `content` escaped; `attributes` are written as given (trusted constants).
inline std::string text(double x, double y, std::string_view content, const std::string& attributes = "") {
    return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"" + (attributes.empty() ? "" : " " + attributes) + ">" +
           escape(content) + "</text>\n";
}

/// A horizontal colour bar at (x, y), `width` × 10, `colour(t)` for t from 0 (left) to 1 (right),
/// with labels under its ends and middle and a caption to its right.
template <class Colour>
std::string colour_bar(double x, double y, double width, Colour colour, std::string_view left,
                       std::string_view middle, std::string_view right, std::string_view caption) {
    constexpr int swatches = 40;  // stepped rather than a <linearGradient>, which needs a document-unique id
    std::string out = "<g class=\"legend\">\n";
    for (int i = 0; i < swatches; ++i)
        out += "<rect x=\"" + px(x + width * i / swatches) + "\" y=\"" + px(y) + "\" width=\"" + px(width / swatches + 0.5) +
               "\" height=\"10\" fill=\"" + hex(colour((i + 0.5) / swatches)) + "\"/>\n";
    out += "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(width) + "\" height=\"10\" fill=\"none\" stroke=\"#aab\"/>\n";
    out += text(x, y + 23, left, "class=\"small muted\" text-anchor=\"start\"");
    out += text(x + width / 2, y + 23, middle, "class=\"small muted\" text-anchor=\"middle\"");
    out += text(x + width, y + 23, right, "class=\"small muted\" text-anchor=\"end\"");
    out += text(x + width + 10, y + 9, caption, "class=\"muted\"");
    return out + "</g>\n";
}

/// The XML declaration, `<svg>` of the given size, a `<title>`, the shared style, a white background
/// and `title` as the visible heading (baseline y = 22). Font and text colour are attributes of the
/// root, inherited, so an element's own fill="…" or font-size="…" attribute overrides them (a CSS
/// rule for `text` would override the element's attributes instead).
inline std::string open_document(double width, double height, std::string_view title) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
           px(width) + "\" height=\"" + px(height) + "\" viewBox=\"0 0 " + px(width) + " " + px(height) +
           "\"\n     font-family='system-ui, \"DejaVu Sans\", \"Helvetica Neue\", Arial, sans-serif' font-size=\"12\" fill=\"#1d2330\">\n"
           "<title>" + escape(title) + "</title>\n" + R"(<style>
.tok { font-family: "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; }
.title { font-size: 15px; font-weight: bold; }
.muted { fill: #687080; }
.small { font-size: 10px; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
)" + text(12, 22, title, "class=\"title\"");
}

inline std::string close_document() { return "</svg>\n"; }

}  // namespace xlens::svg
